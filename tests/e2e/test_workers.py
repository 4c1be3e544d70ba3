"""Nothing lost, nothing twice — proven with real parts: real ``celery worker`` and ``celery
beat`` processes, the configured database (a fresh one per test), the configured broker (Redis
with a private key prefix in the PostgreSQL pass, the SQLAlchemy transport on a SQLite file
otherwise) and a real aiosmtpd server on loopback. Every wait is bounded; nothing is mocked.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from coordinator import clock
from coordinator.db import make_engine, unit_of_work
from coordinator.mail_catcher import MailCatcher
from coordinator.models import OutboxMessage, Session
from coordinator.reminders import drop_reminders
from coordinator.services.planning import schedule_session
from tests.e2e.workers_support import (
    ON_REDIS,
    broker_for,
    counts,
    delete_redis_prefix,
    received_ids,
    rows,
    seed_session,
    utcnow,
    wait_for,
)
from workers.processes import CeleryProcess

OM = OutboxMessage
pytestmark = pytest.mark.slow


class Stack:
    """The processes of one test, all stopped by the fixture's finalizer."""

    def __init__(self, env: dict[str, str], tmp_path, catcher: MailCatcher, engine) -> None:
        self.env = env
        self.tmp_path = tmp_path
        self.catcher = catcher
        self.engine = engine
        self.processes: list[CeleryProcess] = []

    def _start(self, role: str, name: str, args: list[str]) -> CeleryProcess:
        process = CeleryProcess(
            role, name=name, env=self.env, log_dir=self.tmp_path / "log", args=args
        )
        self.processes.append(process)
        process.start()
        process.wait_ready()
        return process

    def worker(self, name: str, concurrency: int = 1) -> CeleryProcess:
        return self._start("worker", name, ["--concurrency", str(concurrency)])

    def beat(self, name: str) -> CeleryProcess:
        return self._start("beat", name, [])

    def check(self) -> None:
        """Fail at once if a process that should run died (with its log) or a message failed."""
        for process in self.processes:
            started = process.process is not None and process.process.returncode is None
            if started and not process.alive():  # died by itself (not killed by the test)
                raise AssertionError(f"{process.name} died:\n{process.log()[-3000:]}")
        failed = rows(self.engine, OM.status == "failed")
        if failed:
            raise AssertionError(f"{len(failed)} messages failed, e.g.: {failed[0].last_error}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop(timeout=10)


@pytest.fixture
def stack(fresh_database_url, tmp_path, monkeypatch):
    broker_url, prefix = broker_for(tmp_path)
    catcher = MailCatcher().start()
    clock_file = tmp_path / "clock.json"
    monkeypatch.setenv(clock.ENV, str(clock_file))
    env = {
        "COORDINATOR_DATABASE_URL": fresh_database_url,
        "COORDINATOR_BROKER_URL": broker_url,
        "COORDINATOR_VAR_DIR": str(tmp_path / "var"),
        "COORDINATOR_SMTP_HOST": "127.0.0.1",
        "COORDINATOR_SMTP_PORT": str(catcher.port),
        "COORDINATOR_SMTP_TIMEOUT": "5",
        clock.ENV: str(clock_file),
        "COORDINATOR_OUTBOX_BATCH_SIZE": "100",
        "COORDINATOR_OUTBOX_LEASE_SECONDS": "15",
        "COORDINATOR_OUTBOX_DISPATCH_INTERVAL": "1",
        "COORDINATOR_OUTBOX_RETRY_BASE_SECONDS": "0.3",
        "COORDINATOR_OUTBOX_RETRY_MAX_SECONDS": "1.5",
        "COORDINATOR_OUTBOX_MAX_ATTEMPTS": "100",
        "COORDINATOR_OUTBOX_COMMIT_EVERY": "20",
    }
    if prefix:
        env["COORDINATOR_BROKER_KEY_PREFIX"] = prefix
    engine = make_engine(fresh_database_url)
    running = Stack(env, tmp_path, catcher, engine)
    try:
        yield running
    finally:
        running.stop()
        catcher.stop()
        engine.dispose()
        if prefix:
            delete_redis_prefix(broker_url, prefix)


def all_due(stack: Stack, count: int, *, name: str, offsets=("PT1H",), now: bool = True):
    """``count`` reminders of one session, all due now on the shared clock (or, with
    ``now=False``, once :func:`make_due` is called)."""
    planned_at = utcnow()
    start = planned_at + timedelta(hours=2)
    seeded = seed_session(
        stack.engine,
        delegates=count,
        start=start,
        offsets=list(offsets),
        plan_at=planned_at,
        name=name,
    )
    if now:
        make_due(seeded)
    assert counts(stack.engine)["pending"] == count * len(offsets)
    return seeded


def make_due(seeded) -> None:
    clock.set_now(seeded.start - timedelta(minutes=30))


def assert_each_delivered(stack: Stack, *, allowed_duplicates: set[str]) -> None:
    expected = {r.message_id for r in rows(stack.engine)}
    received = received_ids(stack.catcher)
    assert set(received) == expected, "some messages were lost (or unknown ones arrived)"
    duplicates = {m for m, n in received.items() if n > 1}
    assert duplicates <= allowed_duplicates, f"{len(duplicates - allowed_duplicates)} duplicates"


def test_a_worker_killed_mid_batch_loses_nothing(stack):
    all_due(stack, 2000, name="kill")
    stack.beat("beat")
    first = stack.worker("first")
    wait_for(
        lambda: stack.catcher.count() >= 300, timeout=90, what="300 deliveries", check=stack.check
    )
    first.kill()  # SIGKILL to the worker and its pool, in the middle of the run
    in_flight = {r.message_id for r in rows(stack.engine, OM.status == "claimed")}
    at_kill = counts(stack.engine)
    assert at_kill["sent"] < 2000 and in_flight, "the kill came too late to prove anything"

    stack.worker("second")
    wait_for(
        lambda: counts(stack.engine)["sent"] == 2000,
        timeout=120,
        what="every message delivered after the kill",
        check=stack.check,
    )
    assert_each_delivered(stack, allowed_duplicates=in_flight)
    # A retried message is the same message: one Message-ID per row, whatever was resent.
    assert len({r.message_id for r in rows(stack.engine)}) == 2000


@pytest.mark.skipif(not ON_REDIS, reason="restarts the Redis broker: PostgreSQL + Redis pass")
def test_a_redis_restart_mid_run_loses_nothing(stack):
    if shutil.which("redis-cli") is None or shutil.which("redis-server") is None:
        pytest.fail("redis-cli and redis-server are needed for the Redis pass")
    all_due(stack, 1000, name="redis")
    stack.beat("beat")
    stack.worker("worker")
    wait_for(
        lambda: stack.catcher.count() >= 200, timeout=90, what="200 deliveries", check=stack.check
    )

    subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], capture_output=True)
    in_flight = {r.message_id for r in rows(stack.engine, OM.status == "claimed")}

    def redis_answers() -> bool:
        ping = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True, text=True
        )
        return ping.stdout.strip() == "PONG"

    wait_for(lambda: not redis_answers(), timeout=20, what="Redis to stop")
    assert counts(stack.engine)["sent"] < 1000, "Redis stopped after the run: proves nothing"
    subprocess.run(["mkdir", "-p", "/var/lib/redis", "/var/log/redis"], check=True)
    subprocess.run(
        [
            "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
            "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
            "--logfile", "/var/log/redis/ci.log",
        ],
        check=True,
    )  # fmt: skip
    wait_for(redis_answers, timeout=30, what="Redis to come back")
    wait_for(
        lambda: counts(stack.engine)["sent"] == 1000,
        timeout=120,
        what="every message delivered after the Redis restart",
        check=stack.check,
    )
    assert_each_delivered(stack, allowed_duplicates=in_flight)


def test_smtp_refusing_then_absent_then_back_delivers_everything_once(stack):
    all_due(stack, 150, name="smtp")
    stack.catcher.refuse_with = "451 4.3.0 Greylisted, try again later"
    stack.beat("beat")
    stack.worker("worker")

    def all_refused_once() -> bool:
        return all(r.attempts >= 1 and "451" in (r.last_error or "") for r in rows(stack.engine))

    wait_for(all_refused_once, timeout=60, what="every message refused with 451", check=stack.check)
    assert stack.catcher.count() == 0

    stack.catcher.refuse_with = None
    stack.catcher.stop()  # now absent: connection refused

    def connection_failed() -> bool:
        return any("connect" in (r.last_error or "") for r in rows(stack.engine))

    wait_for(connection_failed, timeout=60, what="a failed connection", check=stack.check)
    assert stack.catcher.count() == 0
    stack.catcher.start()  # back, on the same port

    wait_for(
        lambda: counts(stack.engine)["sent"] == 150,
        timeout=60,
        what="every message delivered once the server is back",
        check=stack.check,
    )
    assert_each_delivered(stack, allowed_duplicates=set())
    final = rows(stack.engine)
    assert all(r.attempts >= 2 and r.last_error is None for r in final)  # refused, then sent
    assert any(r.attempts >= 3 for r in final)  # refused, no server, then sent
    assert counts(stack.engine)["failed"] == 0


def test_two_workers_and_two_beats_deliver_each_message_once(stack):
    seeded = all_due(stack, 1000, name="pair", now=False)
    for name in ("beat-1", "beat-2"):
        stack.beat(name)
    workers = [stack.worker("worker-1"), stack.worker("worker-2")]
    make_due(seeded)  # only now, so that both workers are there from the start
    wait_for(
        lambda: counts(stack.engine)["sent"] == 1000,
        timeout=120,
        what="every message delivered",
        check=stack.check,
    )
    assert_each_delivered(stack, allowed_duplicates=set())
    # Both beats ticked and both workers delivered: the claims, not luck, kept them apart.
    beats = [p for p in stack.processes if p.role == "beat"]
    assert all("Sending due task" in beat.log() for beat in beats)
    delivered_by = {r.claimed_by.split(":")[2] for r in rows(stack.engine)}
    assert len(delivered_by) >= 2, f"one worker did everything: {delivered_by}"
    assert all(w.alive() for w in workers)


def test_a_moved_session_is_reminded_for_its_new_time_and_a_cancelled_one_not_at_all(stack):
    now = utcnow()
    start = now + timedelta(days=3)
    moved = seed_session(
        stack.engine, delegates=40, start=start, offsets=["P1D", "PT1H"], plan_at=now, name="moved"
    )
    cancelled = seed_session(
        stack.engine, delegates=30, start=start, offsets=["P1D", "PT1H"], plan_at=now, name="off"
    )
    new_start = start + timedelta(hours=12)
    with OrmSession(bind=stack.engine, expire_on_commit=False) as db:
        schedule_session(db, moved.session_id, new_start)  # the real service: re-plans
        with unit_of_work(db):
            session = db.get(Session, cancelled.session_id)
            session.status = "cancelled"
            drop_reminders(db, session)
    stack.beat("beat")
    stack.worker("worker")
    clock.set_now(new_start - timedelta(minutes=30))  # past both moments of both starts

    wanted = rows(stack.engine, OM.session_id == moved.session_id, OM.status != "dropped")
    assert len(wanted) == 80
    assert {r.payload["start_utc"] for r in wanted} == {new_start.isoformat()}
    wait_for(
        lambda: counts(stack.engine)["sent"] == 80 and counts(stack.engine)["pending"] == 0,
        timeout=60,
        what="the moved session's reminders",
        check=stack.check,
    )
    received = received_ids(stack.catcher)
    assert set(received) == {r.message_id for r in wanted}
    assert all(n == 1 for n in received.values())
    with OrmSession(bind=stack.engine) as db:
        off = db.scalars(select(OM).where(OM.session_id == cancelled.session_id)).all()
        old = db.scalars(
            select(OM).where(OM.session_id == moved.session_id, OM.status == "dropped")
        ).all()
    assert off and {r.status for r in off} == {"dropped"}
    assert len(old) == 80 and {r.payload["start_utc"] for r in old} == {start.isoformat()}


def test_a_rolled_back_transaction_leaves_no_outbox_row_and_no_task(stack):
    from celery import Celery

    from coordinator.reminders import delivery, plan_reminders
    from workers.celery_app import broker_options

    url = stack.env["COORDINATOR_BROKER_URL"]
    app = Celery("probe", broker=url)
    app.conf.broker_transport_options = broker_options(
        url, stack.env.get("COORDINATOR_BROKER_KEY_PREFIX", "")
    )

    def enqueue(ids: list[int], token: str) -> None:
        app.send_task("coordinator.deliver", args=[ids, token])

    def queued() -> int:
        with app.connection_for_read() as connection:
            return connection.default_channel.queue_declare(queue="celery").message_count

    now = utcnow()
    start = now + timedelta(hours=2)
    seeded = seed_session(stack.engine, delegates=25, start=start, offsets=[], plan_at=now)
    with OrmSession(bind=stack.engine, expire_on_commit=False) as db:
        session = db.get(Session, seeded.session_id)
        session.reminder_offsets = ["PT1H"]
        with pytest.raises(RuntimeError, match="changed my mind"), unit_of_work(db):
            assert plan_reminders(db, session, now=now).planned == 25  # written, in the tx
            raise RuntimeError("changed my mind")
    clock.set_now(start - timedelta(minutes=30))  # what it planned would be due now
    assert rows(stack.engine) == []
    assert delivery.dispatch_due(stack.engine, enqueue) == 0
    assert queued() == 0

    # The same change committed: its rows exist and a dispatch hands them to the broker, so
    # the two measurements above could have seen them.
    with OrmSession(bind=stack.engine, expire_on_commit=False) as db, unit_of_work(db):
        session = db.get(Session, seeded.session_id)
        session.reminder_offsets = ["PT1H"]
        plan_reminders(db, session, now=now)
    assert len(rows(stack.engine)) == 25
    assert delivery.dispatch_due(stack.engine, enqueue) == 25
    assert queued() >= 1
