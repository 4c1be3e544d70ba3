"""The content-addressed store, streamed reception of a body (multipart or raw), display
names and upload tokens."""

from __future__ import annotations

import hashlib
import os
import time
import uuid

import anyio
import pytest

from coordinator.config import get_settings
from coordinator.errors import UserError
from coordinator.submissions import names, samples, tokens
from coordinator.submissions.receive import Rejected, disposition_filename, receive
from coordinator.submissions.s3 import S3Storage
from coordinator.submissions.storage import FileSystemStorage, TooLarge, get_storage, key_for
from tests.storage_support import age, assert_nothing_left, files_under, objects, store

PDF = samples.pdf(["Hello"]) + bytes(10_000)


@pytest.fixture(params=["filesystem", "s3"])
def storage(request, tmp_path):
    if request.param == "filesystem":
        return FileSystemStorage(tmp_path / "storage")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return S3Storage(
        bucket, prefix="materials", endpoint_url=endpoint, incoming_root=tmp_path / "s3-incoming"
    )


@pytest.fixture
def s3_storage(s3_endpoint, s3_bucket, tmp_path) -> S3Storage:
    return S3Storage(s3_bucket, endpoint_url=s3_endpoint, incoming_root=tmp_path / "s3-incoming")


# --- storage ------------------------------------------------------------------------------------


def test_a_committed_file_is_stored_under_its_hash(storage):
    with storage.incoming(10**6) as incoming:
        incoming.write(PDF[:100])
        incoming.write(memoryview(PDF)[100:])
        digest = incoming.finish()
        key = storage.commit(incoming)
    assert digest == hashlib.sha256(PDF).hexdigest()
    assert key == key_for(digest) == f"sha256/{digest[:2]}/{digest[2:4]}/{digest}"
    with storage.open(key) as file:
        assert file.read() == PDF
    assert storage.exists(key)
    assert storage.size(key) == len(PDF)
    assert list(storage.stored(older_than=-3600)) == [(key, len(PDF))]
    assert storage.incoming_files() == []


def test_a_stored_file_is_read_only_on_the_file_system(tmp_path):
    storage = FileSystemStorage(tmp_path / "storage")
    key = store(storage, PDF)
    assert not os.access(storage.local_path(key), os.W_OK) or os.geteuid() == 0
    assert oct(storage.local_path(key).stat().st_mode & 0o777) == oct(0o444)


def test_identical_content_is_stored_once(storage):
    keys = [store(storage, PDF) for _ in range(2)]
    assert keys[0] == keys[1]
    assert list(storage.stored(older_than=-3600)) == [(keys[0], len(PDF))]
    if isinstance(storage, FileSystemStorage):
        assert len([p for p in files_under(storage.root) if p.startswith("sha256/")]) == 1
    assert storage.incoming_files() == []


def test_storing_again_makes_a_file_young(storage):
    key = store(storage, PDF)
    age(storage, key, 2 * 3600)
    assert list(storage.stored(older_than=3600)) == [(key, len(PDF))]
    assert store(storage, PDF) == key
    assert list(storage.stored(older_than=3600)) == []
    assert not storage.delete_if_older(key, 3600)
    with storage.open(key) as file:
        assert file.read() == PDF


def test_only_files_older_than_the_limit_are_listed_and_deleted(storage):
    old, young = store(storage, PDF), store(storage, b"young" * 100)
    age(storage, old, 2 * 3600)
    assert list(storage.stored(older_than=3600)) == [(old, len(PDF))]
    assert sorted(storage.stored(older_than=-60)) == sorted([(old, len(PDF)), (young, 500)])
    assert not storage.delete_if_older(young, 3600)
    assert storage.delete_if_older(old, 3600)
    assert not storage.exists(old) and storage.exists(young)
    assert not storage.delete_if_older(old, 3600)  # gone: nothing to delete
    assert storage.delete_if_older(young, -60)
    assert list(storage.stored(older_than=-60)) == []


def test_a_missing_file_cannot_be_read(storage):
    key = key_for(hashlib.sha256(b"never stored").hexdigest())
    assert not storage.exists(key)
    with pytest.raises(FileNotFoundError):
        storage.open(key)
    with pytest.raises(FileNotFoundError):
        storage.size(key)
    storage.delete(key)  # nothing to delete: no error
    assert not storage.delete_if_older(key, -60)


def test_a_deleted_file_is_gone(storage):
    key = store(storage, PDF)
    storage.delete(key)
    assert not storage.exists(key)
    assert_nothing_left(storage)


def test_past_the_limit_nothing_of_the_chunk_is_written_and_nothing_remains(storage):
    with pytest.raises(TooLarge), storage.incoming(1000) as incoming:
        incoming.write(b"x" * 600)
        incoming.write(b"x" * 600)
    assert incoming.size == 600
    assert_nothing_left(storage)


def test_an_abandoned_file_leaves_nothing(storage):
    with storage.incoming(10**6) as incoming:
        incoming.write(PDF)
    assert_nothing_left(storage)


def test_sweep_removes_only_old_temporary_files(storage):
    storage.incoming_dir.mkdir(parents=True)
    old = storage.incoming_dir / "old.part"
    young = storage.incoming_dir / "young.part"
    old.write_bytes(b"x")
    young.write_bytes(b"y")
    past = time.time() - 7 * 3600
    os.utime(old, (past, past))
    assert storage.sweep_incoming(older_than=6 * 3600, dry_run=True) == 1
    assert storage.incoming_files() == [old, young]
    assert storage.sweep_incoming(older_than=6 * 3600) == 1
    assert storage.incoming_files() == [young]


def test_keys_that_are_not_the_stores_own_are_refused(storage):
    for key in ("../../etc/passwd", "sha256/aa/bb/" + "a" * 64, "sha256/aa/aa/" + "a" * 63):
        for method in (storage.open, storage.exists, storage.size, storage.delete):
            with pytest.raises(ValueError):
                method(key)
        with pytest.raises(ValueError):
            storage.delete_if_older(key, -60)


# --- storage: S3 --------------------------------------------------------------------------------


def test_s3_identical_content_is_one_object(s3_storage):
    keys = {store(s3_storage, PDF) for _ in range(3)}
    assert objects(s3_storage) == sorted(keys)
    assert len(keys) == 1
    assert s3_storage.local_path(keys.pop()) is None


def test_s3_objects_are_named_under_the_prefix_and_others_left_alone(s3_storage):
    storage = S3Storage(
        s3_storage.bucket,
        prefix="/site/materials/",
        client=s3_storage.client,
        incoming_root=s3_storage.incoming_dir.parent,
    )
    key = store(storage, PDF)
    for other in ("site/materials/sha256/notes.txt", "site/other/" + key, key):
        storage.client.put_object(Bucket=storage.bucket, Key=other, Body=b"not ours")
    assert "site/materials/" + key in objects(storage)
    assert list(storage.stored(older_than=-60)) == [(key, len(PDF))]
    with storage.open(key) as file:
        assert file.read() == PDF


def test_s3_an_oversized_or_aborted_upload_leaves_no_object_and_no_temporary_file(s3_storage):
    with pytest.raises(TooLarge), s3_storage.incoming(1000) as incoming:
        incoming.write(b"x" * 1001)
    with s3_storage.incoming(10**6) as incoming:
        incoming.write(PDF)
        incoming.abort()
    assert_nothing_left(s3_storage)


def test_s3_a_failed_upload_leaves_no_temporary_file(s3_storage, tmp_path):
    storage = S3Storage(
        f"missing-{uuid.uuid4().hex}",
        client=s3_storage.client,
        incoming_root=tmp_path / "elsewhere",
    )
    with storage.incoming(10**6) as incoming:
        incoming.write(PDF)
        incoming.finish()
        with pytest.raises(Exception, match="NoSuchBucket"):
            storage.commit(incoming)
        assert not incoming.path.exists()
    assert storage.incoming_files() == []


def test_s3_a_large_file_goes_up_in_parts_and_comes_back_intact(s3_storage):
    content = os.urandom(20 * 2**20 + 12_345)  # past boto3's 8 MiB multipart threshold
    key = store(s3_storage, content)
    head = s3_storage.client.head_object(Bucket=s3_storage.bucket, Key=key)
    assert head["ETag"].endswith('-3"')  # three parts
    assert s3_storage.size(key) == len(content)
    file = s3_storage.open(key)
    chunks = list(file)  # how a streamed HTTP response reads it
    assert [len(c) for c in chunks[:-1]] == [2**20] * 20 and b"".join(chunks) == content
    assert file.closed
    with s3_storage.open(key) as file:
        assert file.read(10) == content[:10] and file.read() == content[10:]
    assert s3_storage.incoming_files() == []


def test_s3_open_of_a_missing_key_is_file_not_found(s3_storage):
    with pytest.raises(FileNotFoundError):
        s3_storage.open(key_for("0" * 64))


def test_s3_backend_without_a_bucket_is_refused_by_name(monkeypatch, settings_from_env):
    monkeypatch.setenv("COORDINATOR_STORAGE_BACKEND", "s3")
    monkeypatch.delenv("COORDINATOR_S3_BUCKET", raising=False)
    with pytest.raises(UserError, match="COORDINATOR_S3_BUCKET"):
        get_storage()


def test_s3_backend_is_a_setting_away(
    s3_endpoint, s3_bucket, tmp_path, monkeypatch, settings_from_env
):
    monkeypatch.setenv("COORDINATOR_VAR_DIR", str(tmp_path / "var"))
    assert isinstance(get_storage(), FileSystemStorage)
    get_settings.cache_clear()
    monkeypatch.setenv("COORDINATOR_STORAGE_BACKEND", "s3")
    monkeypatch.setenv("COORDINATOR_S3_BUCKET", s3_bucket)
    monkeypatch.setenv("COORDINATOR_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("COORDINATOR_S3_PREFIX", "coordinator")
    storage = get_storage()
    assert isinstance(storage, S3Storage)
    assert storage.incoming_dir == (tmp_path / "var" / "s3-incoming" / ".incoming").resolve()
    key = store(storage, PDF)
    assert objects(storage) == ["coordinator/" + key]
    with get_storage().open(key) as file:
        assert file.read() == PDF


# --- reception -----------------------------------------------------------------------------------


async def chunked(data: bytes, size: int):
    for i in range(0, len(data), size):
        yield data[i : i + size]


def form(parts: list[tuple[str, str | None, bytes]], boundary: str = "XyZ-boundary-1") -> bytes:
    out = b""
    for name, filename, body in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += (
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + body + b"\r\n"
        )
    return out + f"--{boundary}--\r\n".encode()


FORM_TYPE = "multipart/form-data; boundary=XyZ-boundary-1"


def run_receive(storage, data, *, content_type=FORM_TYPE, chunk=7, limit=10**6, filename=None):
    async def go():
        return await receive(
            chunked(data, chunk),
            storage=storage,
            max_bytes=limit,
            content_type=content_type,
            filename=filename,
        )

    return anyio.run(go)


@pytest.mark.parametrize("chunk", [1, 7, 4096, 10**6])
def test_a_form_is_parsed_whatever_the_chunking(storage, chunk):
    body = form([("note", None, b"hello"), ("file", "資料.pdf", PDF)])
    received = run_receive(storage, body, chunk=chunk)
    with received.incoming:
        assert received.file_type.code == "pdf"
        assert received.filename == "資料.pdf"
        assert received.incoming.size == len(PDF)
        assert received.incoming.sha256 == hashlib.sha256(PDF).hexdigest()
        assert received.incoming.path.read_bytes() == PDF
    assert storage.incoming_files() == []


@pytest.mark.parametrize("chunk", [65_537, 9 * 2**20 + 1])
@pytest.mark.parametrize("as_form", [False, True])
def test_a_large_body_crosses_batches_and_writeback_points_intact(storage, chunk, as_form):
    """Over 20 MB in uneven chunks (some larger than a batch buffer): many batches through the
    worker thread, several write-back points, and the file is byte for byte what was sent."""
    content = samples.pdf(["big"]) + os.urandom(20 * 2**20 + 12_345)
    body = form([("file", "big.pdf", content)]) if as_form else content
    received = run_receive(
        storage,
        body,
        content_type=FORM_TYPE if as_form else "application/pdf",
        chunk=chunk,
        limit=len(content),
        filename="big.pdf",
    )
    with received.incoming:
        assert received.incoming.size == len(content)
        assert received.incoming.sha256 == hashlib.sha256(content).hexdigest()
        assert received.incoming.path.read_bytes() == content
    assert storage.incoming_files() == []


def test_a_raw_body_takes_the_name_it_came_with(storage):
    received = run_receive(
        storage, samples.png(), content_type="image/png", filename="../../etc/passwd\x00.png"
    )
    with received.incoming:
        assert received.file_type.code == "png"
        assert received.filename == "passwd.png"


@pytest.mark.parametrize(
    "body, content_type, status, code",
    [
        (form([("file", "a.pdf", b"")]), FORM_TYPE, 422, "empty-file"),
        (b"", "application/pdf", 422, "empty-file"),
        (form([("note", None, b"x")]), FORM_TYPE, 422, "no-file"),
        (form([("file", "a.pdf", PDF), ("file", "b.pdf", PDF)]), FORM_TYPE, 422, "several-files"),
        (form([("file", "a.pdf", PDF)])[:-40], FORM_TYPE, 422, "malformed-form"),
        (b"garbage", FORM_TYPE, 422, "malformed-form"),
        (form([("file", "a.pdf", PDF)]), "multipart/form-data", 422, "malformed-form"),
        (form([("file", "slides.pdf", b"MZ" + bytes(9000))]), FORM_TYPE, 415, "unsupported-type"),
        (samples.ooxml("pptm"), "application/octet-stream", 415, "unsupported-type"),
        (form([("file", "a.pdf", PDF * 200)]), FORM_TYPE, 413, "too-large"),
        (
            form([("note", None, b"n" * 70_000), ("file", "a.pdf", PDF)]),
            FORM_TYPE,
            413,
            "field-too-large",
        ),
    ],
)
def test_bad_bodies_are_rejected_and_leave_nothing(storage, body, content_type, status, code):
    with pytest.raises(Rejected) as caught:
        run_receive(storage, body, content_type=content_type, chunk=1000)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert_nothing_left(storage)


def test_a_wrong_type_is_refused_before_the_rest_arrives(storage):
    seen = []

    async def endless():
        yield b"MZ" + bytes(8190)
        while True:
            seen.append(1)
            yield bytes(8192)
            if len(seen) > 100:
                raise AssertionError("read on after the head showed an executable")

    async def go():
        await receive(endless(), storage=storage, max_bytes=10**9, content_type="x/y")

    with pytest.raises(Rejected) as caught:
        anyio.run(go)
    assert (
        caught.value.status == 415 and caught.value.extra["detected_type"] == "Windows executable"
    )
    assert len(seen) == 0
    assert_nothing_left(storage)


def test_the_limit_is_named_in_the_refusal(storage):
    with pytest.raises(Rejected) as caught:
        run_receive(storage, PDF, content_type="application/pdf", limit=5000)
    assert caught.value.status == 413
    assert caught.value.extra["limit"] == 5000
    assert "5000 bytes" in caught.value.message


def test_a_client_that_goes_away_leaves_nothing(storage):
    class Gone(Exception):
        pass

    async def cut_off():
        yield PDF[:5000]
        raise Gone

    async def go():
        await receive(cut_off(), storage=storage, max_bytes=10**6, content_type="application/pdf")

    with pytest.raises(Gone):
        anyio.run(go)
    assert_nothing_left(storage)


@pytest.mark.parametrize(
    "value, expected",
    [
        ('form-data; name="file"; filename="slides.pdf"', "slides.pdf"),
        ("attachment; filename*=UTF-8''%E8%B3%87%E6%96%99.pdf", "資料.pdf"),
        ("attachment; filename=\"fallback.pdf\"; filename*=UTF-8''%C3%A9t%C3%A9.pdf", "été.pdf"),
        ('form-data; name="file"; filename="a \\"quoted\\" name.pdf"', 'a "quoted" name.pdf'),
        ('form-data; name="file"', None),
    ],
)
def test_file_names_in_content_disposition(value, expected):
    assert disposition_filename(value) == expected


# --- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\slides.pptx", "slides.pptx"),
        ("evil\u202etxt.exe", "eviltxt.exe"),
        ("line\r\nbreak\x00.pdf", "line break.pdf"),
        ("  ..hidden.pdf ", "hidden.pdf"),
        ("東京都 建設局 資料.pdf", "東京都 建設局 資料.pdf"),
        ("", "upload.pdf"),
        ("../", "upload.pdf"),
    ],
)
def test_display_names_are_harmless(raw, shown):
    assert names.display_name(raw, ".pdf") == shown


def test_long_names_keep_their_extension():
    shown = names.display_name("a" * 500 + ".pptx")
    assert len(shown) <= names.MAX_LENGTH and shown.endswith(".pptx")


def test_download_header_has_an_ascii_fallback_and_the_utf8_name():
    header = names.content_disposition('資料 "final".pdf')
    assert header.startswith('attachment; filename="')
    assert "filename*=UTF-8''%E8%B3%87%E6%96%99%20%22final%22.pdf" in header
    assert header.isascii()


# --- tokens ---------------------------------------------------------------------------------------


def test_a_token_is_bound_to_its_presentation_and_signature():
    nonce = tokens.new_nonce()
    token = tokens.make(42, "upload", nonce, secret_key="k1")
    claims = tokens.read(token, secret_key="k1")
    assert claims == tokens.TokenClaims(42, "upload", nonce)
    # another key, another presentation id, a flipped character, junk: refused
    assert tokens.read(token, secret_key="k2") is None
    assert tokens.read(token.replace("42.", "43.", 1), secret_key="k1") is None
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert tokens.read(tampered, secret_key="k1") is None
    assert tokens.read("x" * 500, secret_key="k1") is None
    assert tokens.read("", secret_key="k1") is None
    # the same inputs make the same token (a retried message carries the same link)
    assert tokens.make(42, "upload", nonce, secret_key="k1") == token
    assert len(tokens.token_hash(token)) == 64
