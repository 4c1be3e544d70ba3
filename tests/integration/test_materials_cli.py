"""The materials commands, for real, in a subprocess against a fresh database: status, upload
on a presenter's behalf, versions, the link, late uploads, the deadline, the pack; mistakes exit
2 with one line."""

from __future__ import annotations

import json
import os
import time
import zipfile
from datetime import UTC, datetime

import pytest

from coordinator import clock
from coordinator.submissions import samples
from coordinator.submissions.storage import FileSystemStorage
from tests.conftest import KICKOFF


@pytest.fixture
def cli(run_cli, tmp_path, monkeypatch):
    clock_file = tmp_path / "clock.json"
    monkeypatch.setenv(clock.ENV, str(clock_file))
    clock.set_now(datetime(2023, 9, 14, 9, 0, tzinfo=UTC))

    def run(*args):
        return run_cli(*args, env={clock.ENV: str(clock_file)})

    assert run("network", "import", str(KICKOFF)).returncode == 0
    scheduled = run("sessions", "schedule", "1", "--at", "2023-09-28T11:00Z")
    assert scheduled.returncode == 0, scheduled.stderr
    run.tmp_path = tmp_path
    return run


def test_status_upload_versions_and_pack(cli):
    status = json.loads(cli("sessions", "status", "1", "--json").stdout)
    assert status["deadline"] == "2023-09-26T11:00:00Z" and status["submitted"] == 0
    first = status["presentations"][0]
    pid = first["presentation_id"]
    assert first["presenter"] == "rotterdam.1@example.org" and not first["submitted"]
    deck = cli.tmp_path / "Rotterdam deck.pptx"
    deck.write_bytes(samples.ooxml("pptx"))
    uploaded = cli("materials", "upload", str(pid), str(deck))
    assert uploaded.returncode == 0, uploaded.stderr
    assert "version 1 (new version)" in uploaded.stdout and "pptx" in uploaded.stdout
    listed = json.loads(cli("materials", "list", str(pid), "--json").stdout)
    assert [(v["version"], v["filename"], v["channel"]) for v in listed] == [
        (1, "Rotterdam deck.pptx", "organizer")
    ]
    table = cli("sessions", "status", "1").stdout
    assert "1 of 6 submitted" in table and "submitted" in table and "missing" in table
    out_dir = cli.tmp_path / "packs"
    packed = cli("sessions", "pack", "1", "--out", str(out_dir))
    assert packed.returncode == 0 and "1 submitted, 5 missing" in packed.stdout
    (path,) = out_dir.glob("*.zip")
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist()[0].startswith("01-rotterdam-")
        assert "manifest.json" in archive.namelist()
    again = cli("sessions", "pack", "1", "--out", str(out_dir))
    assert "(unchanged)" in again.stdout
    copy = cli.tmp_path / "copy.pptx"
    got = cli("materials", "get", str(pid), "--out", str(copy))
    assert got.returncode == 0 and copy.read_bytes() == deck.read_bytes()


def test_link_late_uploads_and_deadline(cli):
    status = json.loads(cli("sessions", "status", "1", "--json").stdout)
    pid = status["presentations"][1]["presentation_id"]
    link = cli("materials", "link", str(pid)).stdout.strip()
    assert link.startswith("http://127.0.0.1:8000/upload/") and f"/upload/{pid}.upload." in link
    assert cli("materials", "link", str(pid)).stdout.strip() == link  # the same link again
    opened = cli("materials", "open-late", str(pid))
    assert opened.returncode == 0 and "accepts late uploads" in opened.stdout
    status = json.loads(cli("sessions", "status", "1", "--json").stdout)
    assert status["presentations"][1]["late_submissions"] is True
    moved = cli("sessions", "deadline", "1", "--at", "2023-09-25T12:00Z")
    assert moved.returncode == 0 and "2023-09-25 12:00 UTC" in moved.stdout
    assert json.loads(cli("sessions", "status", "1", "--json").stdout)["deadline"] == (
        "2023-09-25T12:00:00Z"
    )


MISTAKES = [
    (("sessions", "status", "99"), "no session with id 99"),
    (("materials", "list", "999"), "no presentation with id 999"),
    (("sessions", "deadline", "1", "--at", "2023-10-30T00:00Z"), "not before the session's start"),
    (("sessions", "deadline", "1"), "either --at"),
    (("materials", "get", "1"), "no materials yet"),
]


def test_mistakes_exit_2_with_one_line(cli):
    for args, needle in MISTAKES:
        result = cli(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and needle in result.stderr, args
    notes = cli.tmp_path / "notes.pdf"
    notes.write_text("not a pdf at all")
    result = cli("materials", "upload", "1", str(notes))
    assert result.returncode == 2 and "plain text" in result.stderr
    assert json.loads(cli("materials", "list", "1", "--json").stdout) == []


def test_sweep_lists_then_removes_files_no_version_refers_to(cli):
    storage = FileSystemStorage(cli.tmp_path / "var" / "storage")
    with storage.incoming(10**6) as incoming:
        incoming.write(samples.pdf(["left by a crash"]))
        incoming.finish()
        orphan = storage.commit(incoming)
    then = time.time() - 7 * 3600
    os.utime(storage.local_path(orphan), (then, then))

    refused = cli("materials", "sweep", "--older-than", "0")
    assert refused.returncode == 2 and "--older-than" in refused.stderr
    assert refused.stderr.count("\n") == 1 and storage.exists(orphan)
    listed = cli("materials", "sweep", "--dry-run")
    assert listed.returncode == 0, listed.stderr
    assert orphan in listed.stdout and "1 unreferenced stored files" in listed.stdout
    assert "would be removed" in listed.stdout and storage.exists(orphan)
    swept = cli("materials", "sweep")
    assert swept.returncode == 0 and "1 unreferenced stored files" in swept.stdout
    assert not storage.exists(orphan)
    again = cli("materials", "sweep")
    assert "0 unreferenced stored files (0 bytes) and 0 stale temporary files removed" in (
        again.stdout
    )
