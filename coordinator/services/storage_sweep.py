"""Cleaning the store of uploaded files: ``coordinator materials sweep``.

Two kinds of leftovers, both only when older than ``--older-than`` hours (younger ones may
belong to an upload in progress in another process):

- temporary files of uploads cut off by a crash (``.incoming/*.part``);
- stored files that no version refers to: a file is stored before its version row is
  committed, so a crash or a lost race in between leaves the file alone in the store.

A file stored again (identical content uploaded anew) counts as just written, and each file's
age is checked once more right before it is deleted, so an upload being recorded while the
sweep runs keeps its file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from coordinator.db import Db
from coordinator.errors import UserError
from coordinator.models import Submission
from coordinator.submissions.storage import Storage, get_storage

MIN_HOURS = 1.0


@dataclass
class SweepReport:
    temporary: int = 0
    unreferenced: list[tuple[str, int]] = field(default_factory=list)  # key, size

    @property
    def unreferenced_bytes(self) -> int:
        return sum(size for _, size in self.unreferenced)


def sweep_storage(
    db: Db, *, older_than_hours: float = 6.0, dry_run: bool = False, storage: Storage | None = None
) -> SweepReport:
    """Remove (or, with ``dry_run``, only list) what the store holds for nobody."""
    if not older_than_hours >= MIN_HOURS:
        raise UserError(
            f"--older-than: {older_than_hours:g} hours is too recent (at least {MIN_HOURS:g}): "
            "younger files may belong to an upload being recorded"
        )
    storage = storage or get_storage()
    seconds = older_than_hours * 3600
    report = SweepReport()
    # Candidates first, then what refers to them: a version committed in between is seen.
    candidates = list(storage.stored(seconds))
    referenced = set(db.scalars(select(Submission.storage_key).distinct()))
    for key, size in candidates:
        if key in referenced:
            continue
        if dry_run or storage.delete_if_older(key, seconds):
            report.unreferenced.append((key, size))
    report.temporary = storage.sweep_incoming(seconds, dry_run=dry_run)
    return report
