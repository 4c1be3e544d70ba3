"""Session packs: one zip with every presentation's current materials.

Inside, in agenda order, each current submission as ``NN-city-title.ext`` (``NN`` the position,
``city`` and ``title`` as ASCII slugs, ``ext`` from the detected type, never from the uploaded
name), then ``manifest.json`` (session; per presentation: presenter, city, version, size,
SHA-256, type, upload time, or ``null`` when nothing was submitted) and the session's calendar
``<session>.ics`` (METHOD:PUBLISH, from :mod:`coordinator.invites.ical`).

The zip is written with constant memory (members copied in chunks, stored: slides, videos and
images are compressed already) to a temporary file in the packs directory, fsynced, and renamed
over the previous pack of the session: a reader downloads a complete pack or the previous one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from coordinator.submissions.names import slug
from coordinator.submissions.storage import Storage
from coordinator.submissions.types import by_code

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class PackItem:
    """One presentation of the agenda, and its current submission if there is one."""

    position: int
    presentation_id: int
    city: str
    title: str
    body: str
    presenter: str | None
    presenter_email: str | None
    version: int | None = None
    size: int | None = None
    sha256: str | None = None
    file_type: str | None = None
    original_filename: str | None = None
    uploaded_at: datetime | None = None
    late: bool = False
    storage_key: str | None = None

    @property
    def submitted(self) -> bool:
        return self.storage_key is not None

    def member_name(self) -> str | None:
        if not self.submitted:
            return None
        extension = by_code(self.file_type).extension if self.file_type else ""
        parts = [f"{self.position:02d}", slug(self.city, 30) or "city", slug(self.title, 60)]
        name = "-".join(p for p in parts if p) or f"presentation-{self.presentation_id}"
        return name + extension

    def manifest(self) -> dict:
        return {
            "position": self.position,
            "presentation_id": self.presentation_id,
            "city": self.city,
            "body": self.body,
            "title": self.title,
            "presenter": self.presenter,
            "presenter_email": self.presenter_email,
            "file": self.member_name(),
            "version": self.version,
            "size": self.size,
            "sha256": self.sha256,
            "type": self.file_type,
            "original_filename": self.original_filename,
            "uploaded_at": _iso(self.uploaded_at),
            "late": self.late if self.submitted else None,
        }


@dataclass(frozen=True)
class PackFile:
    path: Path
    sha256: str
    size: int
    submitted: int
    missing: int


def _iso(instant: datetime | None) -> str | None:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ") if instant else None


def fingerprint(items: Iterable[PackItem]) -> str:
    """What a pack holds: the current version of each presentation (same → same pack)."""
    text = "|".join(f"{i.presentation_id}:{i.version}:{i.sha256}" for i in items)
    return hashlib.sha256(text.encode()).hexdigest()


def _zip_time(instant: datetime | None) -> tuple[int, int, int, int, int, int]:
    if instant is None or instant.year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    return instant.timetuple()[:6]


def write_pack(
    target: Path,
    items: list[PackItem],
    *,
    storage: Storage,
    session_info: dict,
    calendar_name: str,
    calendar: bytes | None,
) -> PackFile:
    """Write the pack to ``target`` atomically (see the module doc)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with zipfile.ZipFile(temporary, "w", allowZip64=True) as archive:
            for item in items:
                name = item.member_name()
                if name is None:
                    continue
                info = zipfile.ZipInfo(name, date_time=_zip_time(item.uploaded_at))
                info.compress_type = zipfile.ZIP_STORED
                info.external_attr = 0o644 << 16
                info.file_size = item.size or 0
                with (
                    storage.open(item.storage_key) as source,
                    archive.open(info, "w", force_zip64=(item.size or 0) > 2**31) as sink,
                ):
                    shutil.copyfileobj(source, sink, CHUNK)
            manifest = {
                "session": session_info,
                "presentations": [item.manifest() for item in items],
            }
            info = zipfile.ZipInfo("manifest.json", date_time=_zip_time(None))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
            if calendar is not None:
                info = zipfile.ZipInfo(calendar_name, date_time=_zip_time(None))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, calendar)
        digest = hashlib.sha256()
        with open(temporary, "rb+") as file:
            for block in iter(lambda: file.read(CHUNK), b""):
                digest.update(block)
            os.fsync(file.fileno())
        size = temporary.stat().st_size
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    submitted = sum(1 for i in items if i.submitted)
    return PackFile(target, digest.hexdigest(), size, submitted, len(items) - submitted)
