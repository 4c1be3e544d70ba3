"""Materials end to end on the S3 backend (``COORDINATOR_STORAGE_BACKEND=s3``): files uploaded
through the service land in the bucket, the session pack is built from there, and the sweep
keeps what versions refer to. S3 is a service outside this machine: moto's S3 server on the
loopback interface stands in for it (fixtures in tests/conftest.py)."""

from __future__ import annotations

import hashlib
import os
import zipfile
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from coordinator.config import get_settings
from coordinator.models import Submission
from coordinator.services import materials
from coordinator.services.planning import schedule_session
from coordinator.services.storage_sweep import sweep_storage
from coordinator.submissions import samples
from coordinator.submissions.s3 import S3Storage, make_client
from coordinator.submissions.storage import get_storage
from tests.integration.materials_http import ADMIN_TOKEN, running_server
from tests.integration.materials_support import (  # noqa: F401 - settable_clock is autouse
    START,
    make_session,
    settable_clock,
    token_of,
)
from tests.storage_support import age, objects, store


@pytest.fixture
def s3_settings(request, tmp_path, monkeypatch):
    endpoint, bucket = (request.getfixturevalue(name) for name in ("s3_endpoint", "s3_bucket"))
    monkeypatch.setenv("COORDINATOR_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("COORDINATOR_STORAGE_BACKEND", "s3")
    monkeypatch.setenv("COORDINATOR_S3_BUCKET", bucket)
    monkeypatch.setenv("COORDINATOR_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("COORDINATOR_S3_PREFIX", "materials/")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_uploads_go_to_the_bucket_and_the_pack_holds_their_exact_bytes(s3_settings, db, tmp_path):
    storage = get_storage()
    assert isinstance(storage, S3Storage)
    session, (en, ja) = make_session(db)
    schedule_session(db, session.id, START)
    # past boto3's multipart threshold (8 MiB): the upload goes to the bucket in parts
    slides = samples.pdf(["Tokyo"]) + os.urandom(9 * 2**20 + 17)
    deck = samples.ooxml("pptx")
    (tmp_path / "slides.pdf").write_bytes(slides)
    (tmp_path / "deck.pptx").write_bytes(deck)

    by_presenter = materials.submit_file(
        db, ja.id, tmp_path / "slides.pdf", token=token_of(db, ja), storage=storage
    )
    by_organizer = materials.submit_file(db, en.id, tmp_path / "deck.pptx", storage=storage)
    assert (by_presenter.version, by_organizer.version) == (1, 1)
    keys = sorted(db.scalars(select(Submission.storage_key)))
    assert objects(storage) == sorted("materials/" + key for key in keys)
    assert storage.incoming_files() == []
    assert {storage.size(key) for key in keys} == {len(slides), len(deck)}

    result = materials.build_pack(db, session.id, out_dir=tmp_path / "packs", storage=storage)
    assert (result.submitted, result.missing, result.rebuilt) == (2, 0, True)
    with zipfile.ZipFile(result.path) as archive:
        names = archive.namelist()
        assert names[:2] == ["01-city-1-talk-1.pptx", "02-city-2-talk-2.pdf"]
        assert archive.read(names[0]) == deck
        assert archive.read(names[1]) == slides
    assert materials.get_version(db, ja.id).sha256 == hashlib.sha256(slides).hexdigest()

    # The sweep keeps what versions refer to, however old, and removes an old orphan.
    orphan = store(storage, b"%PDF-1.4 orphan")
    for key in [*keys, orphan]:
        age(storage, key, 3 * 3600)
    report = sweep_storage(db, older_than_hours=2, storage=storage)
    assert report.unreferenced == [(orphan, 15)]
    assert objects(storage) == sorted("materials/" + key for key in keys)


def test_over_http_an_upload_lands_in_the_bucket_and_downloads_with_its_headers(
    s3_endpoint, s3_bucket, tmp_path
):
    """A real server (uvicorn, another process) configured for S3: the upload streams to the
    bucket, the organizer's download streams back from it with name, hash and no-store."""
    slides = samples.pdf(["Rotterdam"]) + os.urandom(300_000)
    with running_server(
        tmp_path,
        COORDINATOR_STORAGE_BACKEND="s3",
        COORDINATOR_S3_BUCKET=s3_bucket,
        COORDINATOR_S3_ENDPOINT_URL=s3_endpoint,
        COORDINATOR_S3_PREFIX="materials",
    ) as server:
        seeded = server.seed()
        pid, token = seeded.presentations[0], seeded.tokens[0]
        with httpx.Client(base_url=server.url, timeout=60) as client:
            sent = client.post(
                f"/presentations/{pid}/materials",
                content=slides,
                headers={"Authorization": f"Bearer {token}", "X-Filename": quote("東京 資料.pdf")},
            )
            assert sent.status_code == 201, sent.text
            digest = hashlib.sha256(slides).hexdigest()
            assert sent.json()["sha256"] == digest
            stored = objects_in(s3_endpoint, s3_bucket)
            assert stored == [f"materials/sha256/{digest[:2]}/{digest[2:4]}/{digest}"]
            got = client.get(
                f"/presentations/{pid}/materials/current",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
        log = server.log()
    assert got.status_code == 200 and got.content == slides
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-length"] == str(len(slides))
    assert got.headers["x-content-sha256"] == digest
    assert got.headers["cache-control"] == "private, no-store"
    assert "filename*=UTF-8''%E6%9D%B1%E4%BA%AC" in got.headers["content-disposition"]
    assert not (tmp_path / "storage").exists()  # nothing went to the file system store
    assert "Traceback" not in log, log[-3000:]


def objects_in(endpoint: str, bucket: str) -> list[str]:
    pages = make_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]
