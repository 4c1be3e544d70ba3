"""Claiming and delivering outbox rows against the configured database and a real SMTP server
(aiosmtpd on loopback), in this process: claims, leases, rendering as of delivery, outcomes."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session as OrmSession

from coordinator.config import Settings
from coordinator.db import make_engine
from coordinator.mail_catcher import MailCatcher
from coordinator.models import OutboxMessage, Session
from coordinator.reminders import claim, delivery, plan_reminders
from coordinator.reminders.settings import OutboxSettings
from tests.e2e.workers_support import counts, rows, seed_session, utcnow

OM = OutboxMessage
LEASE = timedelta(seconds=60)


@pytest.fixture
def engine(fresh_database_url):
    engine = make_engine(fresh_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def catcher():
    with MailCatcher() as running:
        yield running


def due_reminders(engine, n: int, name: str = "d"):
    """``n`` reminders due at the returned instant (the session starts 30 minutes later)."""
    now = utcnow()
    start = now + timedelta(hours=2)
    seeded = seed_session(
        engine, delegates=n, start=start, offsets=["PT1H"], plan_at=now, name=name
    )
    return seeded, start - timedelta(minutes=30)


def settings(**values) -> OutboxSettings:
    return OutboxSettings(**{"retry_base_seconds": 10, "retry_max_seconds": 60, **values})


def test_claims_never_overlap_and_an_expired_lease_is_claimed_again(engine):
    _, due = due_reminders(engine, 50)
    first = claim.claim_due(engine, limit=30, token="a", lease=LEASE, now=due)
    second = claim.claim_due(engine, limit=30, token="b", lease=LEASE, now=due)
    assert len(first) == 30 and len(second) == 20 and not set(first) & set(second)
    assert claim.claim_due(engine, limit=30, token="c", lease=LEASE, now=due) == []

    later = due + LEASE + timedelta(seconds=1)  # both leases ran out: their workers died
    again = claim.claim_due(engine, limit=100, token="d", lease=LEASE, now=later)
    assert sorted(again) == sorted(first + second)
    # The dead workers' tasks, if they ever run, find nothing to take; the new claim does.
    assert claim.take(engine, first, token="a", worker="w-a", lease=LEASE, now=later) == []
    assert claim.take(engine, again, token="d", worker="w-d", lease=LEASE, now=later) == again


def test_concurrent_claimers_share_the_rows_without_overlap(engine):
    _, due = due_reminders(engine, 400)
    got: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def claimer(name: str) -> None:
        mine = got.setdefault(name, [])
        try:
            while ids := claim.claim_due(engine, limit=7, token=name, lease=LEASE, now=due):
                mine.extend(ids)
        except BaseException as exc:  # reported below: a claimer must never fail
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)
    everything = [i for ids in got.values() for i in ids]
    assert len(everything) == len(set(everything)) == 400
    assert {r.claimed_by for r in rows(engine)} <= set(got)


def test_a_batch_is_rendered_sent_with_its_message_ids_and_marked(engine, catcher):
    _, due = due_reminders(engine, 12)
    batches: list[tuple[list[int], str]] = []
    assert delivery.dispatch_due(engine, lambda i, t: batches.append((i, t)), now=due) == 12
    app = Settings(smtp_port=catcher.port)
    for ids, token in batches:
        result = delivery.deliver_batch(engine, ids, token, settings=settings(), app_settings=app)
        assert result.sent == len(ids)
    sent = rows(engine)
    assert {r.status for r in sent} == {"sent"} and all(r.attempts == 1 for r in sent)
    assert sorted(m.message_id for m in catcher.snapshot()) == sorted(r.message_id for r in sent)
    assert {m.recipients[0] for m in catcher.snapshot()} == {r.recipient for r in sent}
    # The same task delivered twice by the broker: nothing to take, nothing resent.
    ids, token = batches[0]
    again = delivery.deliver_batch(engine, ids, token, settings=settings(), app_settings=app)
    assert again.taken == 0 and catcher.count() == 12


def test_a_reminder_claimed_just_before_its_session_moved_is_dropped_not_sent(engine, catcher):
    seeded, due = due_reminders(engine, 5)
    ids = claim.claim_due(engine, limit=10, token="t", lease=LEASE, now=due)
    with OrmSession(bind=engine, expire_on_commit=False) as db:
        session = db.get(Session, seeded.session_id)
        session.start_utc = session.start_utc + timedelta(days=2)
        plan_reminders(db, session, now=due)
        db.commit()
    result = delivery.deliver_batch(
        engine, ids, "t", settings=settings(), app_settings=Settings(smtp_port=catcher.port)
    )
    assert result.dropped == 5 and result.sent == 0 and catcher.count() == 0
    assert counts(engine) == {"dropped": 5, "pending": 5}  # the new start's reminders wait


def test_a_5xx_fails_for_good_with_the_servers_reason_and_the_rest_is_sent(engine, catcher):
    seeded, due = due_reminders(engine, 4)
    with OrmSession(bind=engine) as db:
        victim = db.get(OM, rows(engine)[1].id)
        victim.recipient = "bounce-me@example.org"
        db.commit()
    ids = claim.claim_due(engine, limit=10, token="t", lease=LEASE, now=due)
    result = delivery.deliver_batch(
        engine, ids, "t", settings=settings(), app_settings=Settings(smtp_port=catcher.port)
    )
    assert (result.sent, result.failed) == (3, 1)
    failed = rows(engine, OM.status == "failed")
    assert [r.recipient for r in failed] == ["bounce-me@example.org"]
    assert failed[0].last_error.startswith("550 5.1.1")


def test_a_4xx_backs_off_and_gives_up_after_max_attempts(engine, catcher):
    _, due = due_reminders(engine, 3)
    catcher.refuse_with = "451 4.7.1 Try again later"
    app = Settings(smtp_port=catcher.port)
    ids = claim.claim_due(engine, limit=10, token="t", lease=LEASE, now=due)
    before = utcnow()
    result = delivery.deliver_batch(engine, ids, "t", settings=settings(), app_settings=app)
    assert result.retried == 3 and catcher.count() == 0
    for row in rows(engine):
        assert (row.status, row.attempts) == ("pending", 1)
        assert row.last_error == "451 4.7.1 Try again later"
        assert before + timedelta(seconds=4) <= row.due_at <= utcnow() + timedelta(seconds=11)

    later = utcnow() + timedelta(minutes=5)
    ids = claim.claim_due(engine, limit=10, token="u", lease=LEASE, now=later)
    result = delivery.deliver_batch(
        engine, ids, "u", settings=settings(max_attempts=2), app_settings=app
    )
    assert result.failed == 3
    assert {r.last_error for r in rows(engine)} == {
        "gave up after 2 attempts: 451 4.7.1 Try again later"
    }


def test_no_server_sends_the_whole_batch_back_to_wait(engine):
    _, due = due_reminders(engine, 6)
    ids = claim.claim_due(engine, limit=10, token="t", lease=LEASE, now=due)
    closed = Settings(smtp_port=MailCatcher().port)  # nothing listens there
    result = delivery.deliver_batch(engine, ids, "t", settings=settings(), app_settings=closed)
    assert result.retried == 6
    assert all(r.status == "pending" and "cannot connect" in r.last_error for r in rows(engine))
