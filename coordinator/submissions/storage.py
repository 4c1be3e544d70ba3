"""Content-addressed storage of uploaded files.

A file is stored once under a key derived from its SHA-256 (``sha256/ab/cd/abcd…``); its name
never becomes a path. Writing goes through an :class:`Incoming` file: the body is streamed in
chunks (constant memory) to a temporary file under the storage root (``.incoming/``, same file
system), hashed on the way, limited in size while it arrives; :meth:`Incoming.finish` fsyncs it,
and :meth:`FileSystemStorage.commit` renames it into place atomically (then fsyncs the
directory). Identical content is stored once: committing a file whose key exists discards the
new copy. A reader therefore sees a complete file or none; an upload cut off half way leaves
nothing once :meth:`Incoming.abort` ran, and a crash leaves at most a ``.part`` file in
``.incoming/``, which :meth:`FileSystemStorage.sweep_incoming` removes.

:class:`Storage` is the interface the services use; :class:`FileSystemStorage` is the default
backend (``COORDINATOR_STORAGE_ROOT``, by default ``./var/storage/``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from coordinator.config import get_settings
from coordinator.submissions.types import HEAD_BYTES

WRITEBACK_BYTES = 8 * 1024 * 1024  # how often a file being received is pushed towards the disk
_fadvise = getattr(os, "posix_fadvise", None)  # Linux and most Unixes; not macOS

INCOMING = ".incoming"
_KEY = re.compile(r"sha256/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})")


class TooLarge(Exception):
    """The file passed the size limit while it was arriving."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"over the limit of {limit} bytes")
        self.limit = limit


def is_key(key: str) -> bool:
    """A key this store makes: ``sha256/ab/cd/abcd…`` (the folders are the hash's start)."""
    match = _KEY.fullmatch(key)
    return match is not None and match.group(3)[:4] == match.group(1) + match.group(2)


def check_key(key: str) -> str:
    """``key`` itself if it is one of the store's own, else :class:`ValueError` (a name made
    elsewhere never reaches the disk or the bucket)."""
    if not is_key(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


def key_for(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class Incoming:
    """A file being received: written to a temporary file, hashed and measured on the way."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.size = 0
        self.head = b""
        self._hash = hashlib.sha256()
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._digest: str | None = None
        self._written = self._writeback_from = self._dropped_to = 0

    def accept(self, data: bytes | memoryview) -> None:
        """Count a chunk that is about to be written (and keep the first bytes, for type
        detection); raises :class:`TooLarge`, having counted nothing, past the limit."""
        n = len(data)
        if self.size + n > self.max_bytes:
            raise TooLarge(self.max_bytes)
        if len(self.head) < HEAD_BYTES:
            self.head += bytes(data[: HEAD_BYTES - len(self.head)])
        self.size += n

    def store(self, block: bytes | memoryview) -> None:
        """Hash and append a block of accepted bytes, in order. Hashing and writing release the
        GIL, so the receiver runs this in a worker thread while the next block arrives; one
        contiguous block per call keeps the thread from waiting for the GIL between pieces.

        Every ``WRITEBACK_BYTES`` it starts writing the new bytes to disk and drops from the
        page cache those whose writing it started the time before: the final fsync has little
        left to wait for, and a 200 MB upload neither fills the page cache nor pushes out what
        is in it (an upload is not read again soon)."""
        if self._fd is None:
            raise RuntimeError("the file is closed")
        self._hash.update(block)
        view = memoryview(block)
        while view:
            view = view[os.write(self._fd, view) :]
        self._written += len(block)
        if self._written - self._writeback_from >= WRITEBACK_BYTES:
            self._write_back()

    def _write_back(self) -> None:
        if _fadvise is not None:
            # POSIX_FADV_DONTNEED: Linux starts writing back the dirty pages of the range and
            # drops its clean ones (those written back since the previous call). It is advice:
            # durability still comes from the fsync in finish().
            _fadvise(self._fd, self._dropped_to, 0, os.POSIX_FADV_DONTNEED)
        self._dropped_to, self._writeback_from = self._writeback_from, self._written

    def write(self, data: bytes | memoryview) -> None:
        """Append a chunk: counted, hashed, written; raises :class:`TooLarge` (having written
        nothing of it) past the limit."""
        if not len(data):
            return
        self.accept(data)
        self.store(data)

    @property
    def sha256(self) -> str:
        if self._digest is None:
            raise RuntimeError("the file is not finished")
        return self._digest

    def finish(self) -> str:
        """Flush the file to disk (fsync) and close it; returns its SHA-256."""
        if self._fd is None:
            raise RuntimeError("the file was aborted")
        os.fsync(self._fd)
        if _fadvise is not None:
            _fadvise(self._fd, 0, 0, os.POSIX_FADV_DONTNEED)  # written and synced: drop it
        os.close(self._fd)
        self._fd = None
        self._digest = self._hash.hexdigest()
        return self._digest

    def open(self) -> BinaryIO:
        """The received bytes, for inspection before the file is committed."""
        return open(self.path, "rb")  # noqa: SIM115 - the caller closes it

    def abort(self) -> None:
        """Drop the file: nothing of it remains."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> Incoming:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # Whatever happened, no temporary file outlives the block (once committed, the file
        # has been renamed away and there is nothing left to remove).
        self.abort()


class Storage(Protocol):
    """Where materials live. Keys are opaque strings made by the storage from the content."""

    def incoming(self, max_bytes: int) -> Incoming: ...

    def commit(self, incoming: Incoming) -> str: ...

    def open(self, key: str) -> BinaryIO: ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def local_path(self, key: str) -> Path | None: ...

    def delete(self, key: str) -> None: ...

    def stored(self, older_than: float) -> Iterator[tuple[str, int]]: ...

    def delete_if_older(self, key: str, older_than: float) -> bool: ...

    def sweep_incoming(self, older_than: float = 6 * 3600, *, dry_run: bool = False) -> int: ...


class FileSystemStorage:
    """Files under ``root``: ``root/sha256/ab/cd/<sha256>``, temporary files in
    ``root/.incoming/``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.incoming_dir = self.root / INCOMING

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def incoming(self, max_bytes: int) -> Incoming:
        self.incoming_dir.mkdir(parents=True, exist_ok=True)
        return Incoming(self.incoming_dir / f"{uuid.uuid4().hex}.part", max_bytes)

    def commit(self, incoming: Incoming) -> str:
        """Move a finished file into place under its content's key (atomic rename, then the
        directory is synced); identical content already there is kept and the copy dropped."""
        key = key_for(incoming.sha256)
        target = self._path(key)
        if target.exists():
            incoming.abort()
            # Just used again: a sweep running now must not take it for an old orphan.
            with contextlib.suppress(FileNotFoundError):
                os.utime(target)
            return key
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(incoming.path, 0o444)  # stored files are never modified
        os.replace(incoming.path, target)
        _fsync_dir(target.parent)
        return key

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")  # noqa: SIM115 - the caller closes it

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def stored(self, older_than: float) -> Iterator[tuple[str, int]]:
        """Keys and sizes of the stored files last written (or stored again) more than
        ``older_than`` seconds ago."""
        limit = time.time() - older_than
        base = self.root / "sha256"
        if not base.is_dir():
            return
        for path in sorted(base.glob("??/??/*")):
            key = path.relative_to(self.root).as_posix()
            if not is_key(key):
                continue  # not the store's own (left alone)
            with contextlib.suppress(FileNotFoundError):
                stat = path.stat()
                if stat.st_mtime < limit:
                    yield key, stat.st_size

    def delete_if_older(self, key: str, older_than: float) -> bool:
        """Delete a stored file unless it was written or stored again in the last
        ``older_than`` seconds; True if it was deleted."""
        path = self._path(key)
        try:
            if path.stat().st_mtime >= time.time() - older_than:
                return False
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def incoming_files(self) -> list[Path]:
        if not self.incoming_dir.is_dir():
            return []
        return sorted(self.incoming_dir.iterdir())

    def sweep_incoming(self, older_than: float = 6 * 3600, *, dry_run: bool = False) -> int:
        """Remove (``dry_run``: count) temporary files left by a crash, older than
        ``older_than`` seconds (younger ones may belong to an upload in progress in another
        process)."""
        removed = 0
        limit = time.time() - older_than
        for path in self.incoming_files():
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < limit:
                    if not dry_run:
                        path.unlink()
                    removed += 1
        return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def get_storage() -> Storage:
    """The configured storage: the file system under ``COORDINATOR_STORAGE_ROOT``, or with
    ``COORDINATOR_STORAGE_BACKEND=s3`` the bucket ``COORDINATOR_S3_BUCKET``
    (:class:`coordinator.submissions.s3.S3Storage`)."""
    settings = get_settings()
    if settings.storage_backend == "s3":
        from coordinator.errors import UserError
        from coordinator.submissions.s3 import S3Storage

        if not settings.s3_bucket:
            raise UserError(
                "COORDINATOR_STORAGE_BACKEND=s3 needs a bucket: set COORDINATOR_S3_BUCKET"
            )
        return S3Storage(
            settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            incoming_root=settings.s3_incoming_dir,
        )
    return FileSystemStorage(settings.resolved_storage_root)
