"""Helpers for the storage tests on both backends (the file system and S3)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

from coordinator.submissions.s3 import S3Storage
from coordinator.submissions.storage import FileSystemStorage


def files_under(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def objects(storage: S3Storage) -> list[str]:
    """Every object in the bucket, the store's own or not."""
    pages = storage.client.get_paginator("list_objects_v2").paginate(Bucket=storage.bucket)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def assert_nothing_left(storage) -> None:
    """No stored file and no temporary file: on the file system nothing at all under the root;
    on S3 no object in the bucket and nothing in the local temporary directory."""
    if isinstance(storage, FileSystemStorage):
        assert files_under(storage.root) == []
    else:
        assert objects(storage) == []
        assert files_under(storage.incoming_dir.parent) == []
    assert list(storage.stored(older_than=-3600)) == []
    assert storage.incoming_files() == []


def store(storage, data: bytes) -> str:
    with storage.incoming(10**8) as incoming:
        incoming.write(data)
        incoming.finish()
        return storage.commit(incoming)


def age(storage, key: str, seconds: float) -> None:
    """Make a stored file look written ``seconds`` ago."""
    past = time.time() - seconds
    if isinstance(storage, FileSystemStorage):
        os.utime(storage.local_path(key), (past, past))
        return
    # moto keeps its objects in this process: its LastModified is set directly (S3 itself has
    # no way to backdate an object).
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    bucket = s3_backends[DEFAULT_ACCOUNT_ID]["global"].buckets[storage.bucket]
    bucket.keys[storage.prefix + key].last_modified = datetime.fromtimestamp(past, UTC).replace(
        tzinfo=None
    )
