"""Uploaded materials in an S3-compatible object store (``COORDINATOR_STORAGE_BACKEND=s3``).

The same content-addressed keys as :class:`~coordinator.submissions.storage.FileSystemStorage`
(``sha256/ab/cd/abcd…``), as object names under ``COORDINATOR_S3_PREFIX`` in
``COORDINATOR_S3_BUCKET``. AWS S3, or MinIO, Ceph and the like through
``COORDINATOR_S3_ENDPOINT_URL``; credentials come from boto3's usual chain
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``~/.aws``, an instance role, …).

A body is received exactly as for the file system: streamed into a local temporary
:class:`~coordinator.submissions.storage.Incoming` file (under ``<var_dir>/s3-incoming/``),
hashed and measured on the way. :meth:`S3Storage.commit` then uploads the finished file
(multipart past 8 MiB, with a SHA-256 checksum that the store verifies) and removes it, whatever
happened: a reader sees a complete object or none, and nothing is left behind locally but what a
crash leaves, which :meth:`S3Storage.sweep_incoming` removes. Identical content is stored once;
storing it again refreshes the object's age (it is copied onto itself), as on the file system,
so that a sweep running meanwhile does not take it for an old orphan.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

from coordinator.submissions.storage import (
    FileSystemStorage,
    Incoming,
    check_key,
    is_key,
    key_for,
)

CHUNK = 1024 * 1024  # what iterating over an opened object yields at a time
COPY_LIMIT = 5 * 1024**3  # the largest object one CopyObject request copies
_MISSING = {"404", "NoSuchKey", "NotFound"}


def _is_missing(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and str(exc.response.get("Error", {}).get("Code")) in (
        _MISSING
    )


def normalize_prefix(prefix: str) -> str:
    """``"a/b"``, ``"/a/b/"`` → ``"a/b/"``; empty stays empty."""
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


@lru_cache(maxsize=8)
def make_client(endpoint_url: str | None = None, region: str | None = None) -> Any:
    """An S3 client (thread-safe, kept: creating one costs tens of milliseconds). A custom
    endpoint (MinIO, Ceph, …) is addressed path-style: ``<endpoint>/<bucket>/<key>``."""
    import boto3
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": "path"} if endpoint_url else {},
        retries={"mode": "standard", "max_attempts": 5},
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=region, config=config
    )


class S3Object(io.RawIOBase):
    """An object being read: ``read``, ``readinto``, a context manager, and iteration in
    chunks of 1 MiB (which closes it at the end, for a streamed HTTP response)."""

    def __init__(self, body: Any) -> None:
        self._body = body  # botocore's StreamingBody: checks the length it got at the end

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        self._checkClosed()
        return self._body.read(None if size is None or size < 0 else size)

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        n = len(data)
        memoryview(buffer).cast("B")[:n] = data
        return n

    def __iter__(self) -> Iterator[bytes]:  # type: ignore[override]
        self._checkClosed()
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        try:
            while chunk := self.read(CHUNK):
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Storage:
    """Objects ``<prefix>sha256/ab/cd/<sha256>`` in ``bucket``; temporary files of uploads in
    ``incoming_root/.incoming/`` on the local disk."""

    def __init__(
        self,
        bucket: str,
        *,
        incoming_root: Path,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = normalize_prefix(prefix)
        self.client = client if client is not None else make_client(endpoint_url, region)
        # Receiving is the file system's: same temporary files, same sweep of crash leftovers.
        self._local = FileSystemStorage(incoming_root)
        self.incoming_dir = self._local.incoming_dir

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _head(self, key: str) -> dict | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except Exception as exc:
            if _is_missing(exc):
                return None
            raise

    def incoming(self, max_bytes: int) -> Incoming:
        return self._local.incoming(max_bytes)

    def commit(self, incoming: Incoming) -> str:
        """Upload a finished file under its content's key (identical content already there is
        kept, its age refreshed, and the copy dropped); the local file is gone afterwards."""
        try:
            key = key_for(incoming.sha256)
            head = self._head(key)
            if head is not None and self._refresh(key, head):
                return key
            self.client.upload_file(
                str(incoming.path),
                self.bucket,
                self._name(key),
                ExtraArgs={
                    "ContentType": "application/octet-stream",
                    "ChecksumAlgorithm": "SHA256",
                },
            )
            return key
        finally:
            incoming.abort()

    def _refresh(self, key: str, head: dict) -> bool:
        """Copy the object onto itself (its LastModified becomes now); False if it vanished
        since it was seen (a sweep deleted it): then it is uploaded anew."""
        name = self._name(key)
        source = {"Bucket": self.bucket, "Key": name}
        args = {"MetadataDirective": "REPLACE", "ContentType": "application/octet-stream"}
        try:
            if head.get("ContentLength", 0) <= COPY_LIMIT:
                self.client.copy_object(Bucket=self.bucket, Key=name, CopySource=source, **args)
            else:  # pragma: no cover - over 5 GiB: a multipart copy
                self.client.copy(source, self.bucket, name, ExtraArgs=args)
        except Exception as exc:
            if _is_missing(exc):
                return False
            raise
        return True

    def open(self, key: str) -> BinaryIO:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
        except Exception as exc:
            if _is_missing(exc):
                raise FileNotFoundError(f"no stored file {key}") from None
            raise
        return S3Object(response["Body"])  # type: ignore[return-value]

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(f"no stored file {key}")
        return int(head["ContentLength"])

    def local_path(self, key: str) -> Path | None:
        check_key(key)
        return None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def stored(self, older_than: float) -> Iterator[tuple[str, int]]:
        """Keys and sizes of the stored objects last written (or stored again) more than
        ``older_than`` seconds ago; objects under the prefix that are not the store's own are
        left alone."""
        limit = time.time() - older_than
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + "sha256/"
        )
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix) :]
                if is_key(key) and item["LastModified"].timestamp() < limit:
                    yield key, int(item["Size"])

    def delete_if_older(self, key: str, older_than: float) -> bool:
        """Delete a stored object unless it was written or stored again in the last
        ``older_than`` seconds; True if it was deleted."""
        head = self._head(key)
        if head is None or head["LastModified"].timestamp() >= time.time() - older_than:
            return False
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        return True

    def incoming_files(self) -> list[Path]:
        return self._local.incoming_files()

    def sweep_incoming(self, older_than: float = 6 * 3600, *, dry_run: bool = False) -> int:
        """Remove (``dry_run``: count) local temporary files left by a crash, older than
        ``older_than`` seconds."""
        return self._local.sweep_incoming(older_than, dry_run=dry_run)
