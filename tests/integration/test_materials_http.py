"""Uploads and downloads through a real uvicorn server on loopback: every bad input answers
4xx with a problem document (never 500) and stores nothing; a cut-off upload leaves no version
and no partial file; the upload page works as plain HTML."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import time
import zipfile
from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from coordinator import clock
from coordinator.models import Submission
from coordinator.services import materials
from coordinator.submissions import samples
from tests.integration.materials_http import (
    ADMIN_TOKEN,
    DEADLINE,
    LIMIT,
    NOW,
    raw_request,
    running_server,
    status_of,
)

PDF = samples.pdf(["Flood control in Tokyo", "Version 1"])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("materials-http")) as server:
        yield server
        log = server.log()
    assert "Traceback" not in log, log[-5000:]
    assert " 500 " not in log


@pytest.fixture(autouse=True)
def clock_at_start(server):
    clock.set_now(NOW)


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def upload(client, presentation_id, token, data=PDF, name="slides.pdf", *, bearer=False):
    if bearer:
        return client.post(
            f"/presentations/{presentation_id}/materials",
            content=data,
            headers={"Authorization": f"Bearer {token}", "X-Filename": quote(name)},
        )
    return client.post(
        f"/presentations/{presentation_id}/materials",
        params={"token": token},
        files={"file": (name, data, "application/octet-stream")},
    )


def versions(server, presentation_id) -> list[Submission]:
    with server.db() as db:
        return list(
            db.scalars(
                select(Submission)
                .where(Submission.presentation_id == presentation_id)
                .order_by(Submission.version)
            )
        )


def wait_for(condition, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def incoming(server):
    return [p for p in server.stored_files() if ".incoming" in p.parts]


def problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["detail"]
    return body


# --- uploads ---------------------------------------------------------------------------------------


def test_a_form_upload_then_a_raw_one_then_the_same_again(server, client):
    seeded = server.seed()
    pid, token = seeded.presentations[0], seeded.tokens[0]
    first = upload(client, pid, token)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["version"], body["type"], body["size"], body["duplicate"]) == (
        1,
        "pdf",
        len(PDF),
        False,
    )
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    stored = (
        server.storage_root / "sha256" / body["sha256"][:2] / body["sha256"][2:4] / body["sha256"]
    )
    assert stored.read_bytes() == PDF
    png = samples.png(200, 100)
    second = upload(client, pid, token, png, "chart.png", bearer=True)
    assert second.status_code == 201 and second.json()["version"] == 2
    again = upload(client, pid, token, png, "chart-copy.png", bearer=True)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert [v.version for v in versions(server, pid)] == [1, 2]
    assert incoming(server) == []


def test_file_names_are_kept_for_display_and_never_used_as_paths(server, client):
    seeded = server.seed()
    pid, token = seeded.presentations[1], seeded.tokens[1]
    japanese = upload(client, pid, token, name="東京都建設局 資料.pdf")
    assert japanese.json()["filename"] == "東京都建設局 資料.pdf"
    traversal = upload(client, pid, token, samples.png(), name="../../etc/passwd", bearer=True)
    assert traversal.status_code == 201 and traversal.json()["filename"] == "passwd"
    control = upload(client, pid, token, samples.jpeg(), name="a\x07b\u202ec\r\nd.jpg", bearer=True)
    assert control.status_code == 201 and control.json()["filename"] == "abc d.jpg"
    for path in server.stored_files():
        assert path.is_relative_to(server.storage_root)
        assert path.parent.parent.parent.name == "sha256"


def test_the_link_is_checked(server, client):
    seeded = server.seed()
    pid, token = seeded.presentations[0], seeded.tokens[0]
    body = problem(client.post(f"/presentations/{pid}/materials", content=PDF), 401)
    assert body["code"] == "no-token"
    problem(upload(client, pid, "1.upload.nonsense"), 403)
    problem(upload(client, pid, token[:-2] + "xx"), 403)
    other = problem(upload(client, seeded.presentations[1], token), 403)
    assert "another presentation" in other["detail"]
    assert versions(server, pid) == []


def test_after_the_deadline_and_after_the_grace_period(server, client):
    seeded = server.seed()
    pid, token = seeded.presentations[0], seeded.tokens[0]
    clock.set_now(DEADLINE + timedelta(minutes=5))
    passed = problem(upload(client, pid, token), 410)
    assert passed["code"] == "deadline-passed" and passed["deadline"] == "2023-10-01T11:00:00Z"
    assert "2023-10-01 11:00 UTC" in passed["detail"]
    clock.set_now(DEADLINE + timedelta(hours=1))
    expired = problem(upload(client, pid, token), 410)
    assert expired["code"] == "link-expired" and expired["deadline"] == "2023-10-01T11:00:00Z"
    assert versions(server, pid) == []
    # the organizer opens late submissions for this presentation
    with server.db() as db:
        materials.set_late_submissions(db, pid, True)
    late = upload(client, pid, token)
    assert late.status_code == 201 and late.json()["late"] is True


def test_over_the_declared_limit_nothing_is_read_or_stored(server):
    seeded = server.seed()
    pid, token = seeded.presentations[0], seeded.tokens[0]
    head = (
        f"POST /presentations/{pid}/materials?token={token} HTTP/1.1\r\nHost: t\r\n"
        f"Content-Type: application/pdf\r\nContent-Length: {LIMIT + 1}"
    ).encode()
    response = raw_request(server, head)  # the body is never sent: the answer comes first
    assert status_of(response) == 413
    body = json.loads(response.partition(b"\r\n\r\n")[2])
    assert body["limit"] == LIMIT and "2 MiB" in body["detail"]
    assert versions(server, pid) == [] and incoming(server) == []


def test_over_the_limit_while_streaming_nothing_is_stored(server, client):
    seeded = server.seed()
    pid, token = seeded.presentations[0], seeded.tokens[0]

    def chunks():
        yield PDF
        for _ in range(LIMIT // 65536 + 2):
            yield b"\0" * 65536

    try:  # no Content-Length: chunked, so the limit is met while the body arrives
        response = client.post(
            f"/presentations/{pid}/materials", params={"token": token}, content=chunks()
        )
    except httpx.HTTPError:
        response = None  # the server may close before the client finished sending
    if response is not None:
        body = problem(response, 413)
        assert body["limit"] == LIMIT
    assert versions(server, pid) == []
    assert incoming(server) == []


@pytest.mark.parametrize(
    "data, detected",
    [
        (b"MZ\x90\x00" + bytes(10_000), "Windows executable"),
        (samples.ooxml("pptm"), "macro-enabled PowerPoint presentation (PPTM)"),
        (samples.plain_zip(), "ZIP archive"),
        ("プレーンテキスト".encode() * 100, "plain text"),
    ],
)
def test_a_type_not_accepted_is_named(server, client, data, detected):
    seeded = server.seed()
    pid, token = seeded.presentations[0], seeded.tokens[0]
    body = problem(upload(client, pid, token, data, name="slides.pdf"), 415)
    assert body["detected_type"] == detected and detected in body["detail"]
    assert versions(server, pid) == [] and incoming(server) == []


def test_an_empty_file_and_a_malformed_form(server, client):
    seeded = server.seed()
    pid, token = seeded.presentations[0], seeded.tokens[0]
    assert problem(upload(client, pid, token, b""), 422)["code"] == "empty-file"
    assert problem(upload(client, pid, token, b"", bearer=True), 422)["code"] == "empty-file"
    broken = client.post(
        f"/presentations/{pid}/materials",
        params={"token": token},
        content=b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert problem(broken, 422)["code"] == "malformed-form"
    no_boundary = client.post(
        f"/presentations/{pid}/materials",
        params={"token": token},
        content=b"x",
        headers={"Content-Type": "multipart/form-data"},
    )
    problem(no_boundary, 422)
    assert problem(client.post("/presentations/abc/materials", params={"token": token}), 422)
    assert versions(server, pid) == [] and incoming(server) == []


def test_an_upload_cut_off_half_way_leaves_nothing(server, client):
    seeded = server.seed()
    pid, token = seeded.presentations[2], seeded.tokens[2]
    assert upload(client, pid, token).status_code == 201
    big = samples.pdf("second version") + bytes(LIMIT // 2)
    for body_type in ("application/pdf", "multipart/form-data; boundary=cut"):
        prefix = b""
        if body_type.startswith("multipart"):
            prefix = (
                b'--cut\r\nContent-Disposition: form-data; name="file"; filename="v2.pdf"\r\n\r\n'
            )
        head = (
            f"POST /presentations/{pid}/materials?token={token} HTTP/1.1\r\nHost: t\r\n"
            f"Content-Type: {body_type}\r\nContent-Length: {len(prefix) + len(big) + 100}"
        ).encode()
        with socket.create_connection((server.host, server.port)) as conn:
            conn.sendall(head + b"\r\n\r\n" + prefix + big[: len(big) // 2])
            # The server is receiving: its temporary file exists. Then the client hangs up.
            wait_for(lambda: incoming(server), "a temporary file while receiving")
        wait_for(lambda: not incoming(server), "the temporary file to be removed")
    assert [v.version for v in versions(server, pid)] == [1]
    current = client.get(
        f"/presentations/{pid}/materials/current",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert current.content == PDF


# --- organizers ------------------------------------------------------------------------------------


def test_organizer_lists_downloads_and_gets_the_pack(server, client):
    seeded = server.seed()
    pid, token = seeded.presentations[0], seeded.tokens[0]
    upload(client, pid, token, PDF, "v1.pdf")
    deck = samples.ooxml("pptx")
    upload(client, pid, token, deck, "v2.pptx")
    url = f"/presentations/{pid}/materials"
    problem(client.get(url), 401)
    problem(client.get(url, headers={"Authorization": "Bearer wrong"}), 403)
    problem(client.get(url, headers={"Authorization": f"Bearer {token}"}), 403)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    listed = client.get(url, headers=admin).json()
    assert listed["current_version"] == 2
    assert [v["filename"] for v in listed["versions"]] == ["v1.pdf", "v2.pptx"]
    one = client.get(f"{url}/1", headers=admin)
    assert one.content == PDF and one.headers["content-type"] == "application/pdf"
    assert one.headers["x-content-sha256"] == hashlib.sha256(PDF).hexdigest()
    assert "filename*=UTF-8''v1.pdf" in one.headers["content-disposition"]
    assert client.get(f"{url}/current", headers=admin).content == deck
    problem(client.get(f"{url}/9", headers=admin), 404)
    status = client.get(f"/sessions/{seeded.session_id}/materials", headers=admin).json()
    assert status["submitted"] == 1 and status["deadline"] == "2023-10-01T11:00:00Z"
    assert [p["submitted"] for p in status["presentations"]] == [True, False, False]
    pack = client.get(f"/sessions/{seeded.session_id}/pack", headers=admin)
    assert pack.status_code == 200 and pack.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(pack.content)) as archive:
        names = archive.namelist()
        assert names[0].startswith("01-") and names[0].endswith("-talk-1.pptx")
        assert archive.read(names[0]) == deck
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["presentations"][0]["version"] == 2
    assert [p["file"] for p in manifest["presentations"][1:]] == [None, None]
    problem(client.get("/sessions/999999/pack", headers=admin), 404)


# --- the upload page ---------------------------------------------------------------------------------


def test_the_upload_page_and_its_form(server, client):
    seeded = server.seed()
    token = seeded.tokens[1]  # a presenter in Tokyo, in Japanese
    page = client.get(f"/upload/{token}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    html = page.text
    assert '<html lang="ja">' in html
    assert "2023年10月1日日曜日 20:00" in html  # the deadline in Tokyo
    assert "まだ提出されていません" in html
    assert f'action="/upload/{token}"' in html and 'enctype="multipart/form-data"' in html
    receipt = client.post(f"/upload/{token}", files={"file": ("資料.pdf", PDF, "application/pdf")})
    assert receipt.status_code == 200 and "受け付けました" in receipt.text
    assert hashlib.sha256(PDF).hexdigest() in receipt.text and "資料.pdf" in receipt.text
    again = client.get(f"/upload/{token}")
    assert "第1版: 資料.pdf" in again.text
    refused = client.post(f"/upload/{token}", files={"file": ("x.pdf", b"MZ" + bytes(5000))})
    assert refused.status_code == 415 and "Windows executable" in refused.text
    assert refused.headers["content-type"].startswith("text/html")
    invalid = client.get("/upload/not-a-token")
    assert invalid.status_code == 403 and "text/html" in invalid.headers["content-type"]
    clock.set_now(DEADLINE + timedelta(minutes=5))
    closed = client.get(f"/upload/{token}")
    assert closed.status_code == 200 and 'id="closed"' in closed.text and "<form" not in closed.text
    clock.set_now(DEADLINE + timedelta(hours=2))
    assert client.get(f"/upload/{token}").status_code == 410
