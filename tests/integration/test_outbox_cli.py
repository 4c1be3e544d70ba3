"""``coordinator outbox status|retry`` run as the real command against a fresh database."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session as OrmSession

from coordinator.db import make_engine
from coordinator.models import OutboxMessage
from tests.e2e.workers_support import rows, seed_session, utcnow


@pytest.fixture
def outbox(run_cli):
    """Four reminders: one sent, two failed (one with a server's 5xx), one pending."""
    engine = make_engine(run_cli.database_url)
    now = utcnow()
    seed_session(engine, delegates=4, start=now + timedelta(days=3), offsets=["P1D"], plan_at=now)
    with OrmSession(bind=engine) as db:
        ids = [r.id for r in rows(engine)]
        for row_id, status, error in [
            (ids[0], "sent", None),
            (ids[1], "failed", "550 5.1.1 <d1@example.org>: mailbox unavailable"),
            (ids[2], "failed", "gave up after 15 attempts: 451 4.3.0 Try again later"),
        ]:
            row = db.get(OutboxMessage, row_id)
            row.status, row.last_error, row.attempts = status, error, 1
        db.commit()
    yield engine, ids
    engine.dispose()


def test_status_counts_per_state_and_shows_the_failures_with_their_reason(run_cli, outbox):
    result = run_cli("outbox", "status")
    assert result.returncode == 0, result.stderr
    assert "550 5.1.1 <d1@example.org>: mailbox unavailable" in result.stdout
    assert "gave up after 15 attempts" in result.stdout
    data = json.loads(run_cli("outbox", "status", "--json").stdout)
    assert data["by_kind"]["reminder"] == {
        "pending": 1, "claimed": 0, "sent": 1, "failed": 2, "dropped": 0
    }  # fmt: skip
    assert [f["id"] for f in data["failures"]] == outbox[1][1:3]


def test_retry_failed_requeues_them_due_now_with_the_same_message_id(run_cli, outbox):
    engine, ids = outbox
    before = {r.id: r.message_id for r in rows(engine)}
    result = run_cli("outbox", "retry", "--failed")
    assert result.returncode == 0, result.stderr
    assert "2 messages requeued" in result.stdout
    after = {r.id: r for r in rows(engine)}
    for row_id in ids[1:3]:
        row = after[row_id]
        assert (row.status, row.attempts, row.last_error) == ("pending", 0, None)
        assert row.due_at <= utcnow() and row.message_id == before[row_id]


def test_retry_one_message_by_id(run_cli, outbox):
    _, ids = outbox
    assert "1 message requeued" in run_cli("outbox", "retry", str(ids[1])).stdout
    assert rows(outbox[0], OutboxMessage.id == ids[1])[0].status == "pending"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "give a message ID or --failed"),
        (("7", "--failed"), "give a message ID or --failed"),
        (("9999",), "no outbox message with id 9999"),
        (("FIRST",), "was already sent"),
        (("LAST",), "is already pending"),
    ],
)
def test_bad_retries_exit_2_with_one_line_and_change_nothing(run_cli, outbox, args, needle):
    engine, ids = outbox
    args = tuple({"FIRST": str(ids[0]), "LAST": str(ids[3])}.get(a, a) for a in args)
    before = [(r.id, r.status, r.due_at, r.attempts) for r in rows(engine)]
    result = run_cli("outbox", "retry", *args)
    assert result.returncode == 2
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert [(r.id, r.status, r.due_at, r.attempts) for r in rows(engine)] == before


def test_serve_with_its_smtp_port_taken_exits_2_with_one_line(run_cli, tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("serve", env={"COORDINATOR_SMTP_PORT": str(port)})
    assert result.returncode == 2
    assert result.stderr.startswith("error: COORDINATOR_SMTP_PORT: the mail catcher cannot listen")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "var" / "log" / "worker.log").exists()  # no worker was started
