"""Benchmark delivery end to end against the broker's own baseline, in the same run.

    python bench/dispatch.py [--messages 20000] [--batch 500]

Needs Redis on 127.0.0.1:6379 (``COORDINATOR_BROKER_URL`` if set; a private key prefix is used
and deleted afterwards) and PostgreSQL (``COORDINATOR_DATABASE_URL``, else
postgresql://postgres@127.0.0.1:5432/test; a database of its own is created and dropped) or,
when PostgreSQL does not answer, a SQLite file. Two real ``celery worker`` processes
(concurrency 1 each) and one ``celery beat``; an aiosmtpd server on loopback.

1. Baseline: N no-op Celery tasks, one per message, published to the same Redis and run by
   the same two workers; timed from the first publish until the queue is empty and nothing
   is unacknowledged.
2. Reminders: N due reminder rows (40 sessions); timed from the moment they become due (the
   shared clock is moved) until all N are ``sent`` — claimed by the beat's dispatch in
   batches, taken, rendered (English and Japanese, each recipient's zone), sent over SMTP
   (one connection per batch) and marked sent.

Prints both rates and, last, ``ratio: N.NN`` = reminders per second / no-op tasks per second
(goal: >= 1.0, delivering a reminder costs no more than an empty task, because work is batched).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from celery import Celery  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session as OrmSession  # noqa: E402

from coordinator import clock  # noqa: E402
from coordinator.config import normalize_database_url  # noqa: E402
from coordinator.db import make_engine  # noqa: E402
from coordinator.mail_catcher import free_port  # noqa: E402
from coordinator.migrate import upgrade  # noqa: E402
from coordinator.models import (  # noqa: E402
    City,
    Delegate,
    GroupMembership,
    Network,
    OutboxMessage,
    Session,
    WorkingGroup,
)
from coordinator.outbox import message_id_for  # noqa: E402
from coordinator.reminders.planning import reminder_key  # noqa: E402
from workers.celery_app import broker_options  # noqa: E402
from workers.processes import CeleryProcess  # noqa: E402

SESSIONS = 40
OFFSET = "PT1H"


def database(tmp: Path) -> tuple[str, callable]:
    """A fresh database URL and a function that removes it."""
    base = os.environ.get("COORDINATOR_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    if base.startswith("postgres"):
        base = normalize_database_url(base)
        admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                name = f"coordinator_bench_{uuid.uuid4().hex[:10]}"
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # PostgreSQL not answering: fall back to a SQLite file
            print(f"PostgreSQL unavailable ({type(exc).__name__}); using a SQLite file")
            admin.dispose()
        else:
            url = make_url(base).set(database=name).render_as_string(hide_password=False)

            def drop() -> None:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()

            return url, drop
    return f"sqlite:///{tmp / 'bench.sqlite3'}", lambda: None


def seed(engine, messages: int, start: datetime) -> None:
    """SESSIONS sessions at ``start``, one city of delegates each; one due reminder apiece."""
    per_session = -(-messages // SESSIONS)
    with OrmSession(bind=engine, expire_on_commit=False) as db:
        network = Network(
            slug="bench",
            name="Bench",
            organizer_name="Secretariat",
            organizer_email="secretariat@example.org",
            meeting_url="https://meet.example.org/bench",
            reminder_offsets=[OFFSET],
        )
        db.add(network)
        db.flush()
        sessions, made = [], 0
        zones = ["Asia/Tokyo", "Europe/Amsterdam", "America/Denver", "Pacific/Auckland"]
        for i in range(SESSIONS):
            city = City(network=network, name=f"City {i}", country="JP", zone=zones[i % 4])
            group = WorkingGroup(network=network, name=f"Group {i}")
            db.add_all([city, group])
            db.flush()
            db.add(GroupMembership(group=group, city=city, role="member"))
            session = Session(
                group=group,
                title=f"Session {i}",
                title_ja=f"会議 {i}",
                window_start=start - timedelta(days=1),
                window_end=start + timedelta(days=1),
                start_utc=start,
                duration_minutes=90,
                status="scheduled",
                uid=f"bench-{i}@bench.coordinator",
            )
            db.add(session)
            count = min(per_session, messages - made)
            made += count
            delegates = [
                Delegate(
                    network_id=network.id,
                    city=city,
                    name=f"Delegate {i}-{n}",
                    email=f"d{i}-{n}@example.org",
                    language="ja" if n % 3 == 0 else "en",
                )
                for n in range(count)
            ]
            db.add_all(delegates)
            db.flush()
            sessions.append((session, delegates))
        rows = [
            {
                "kind": "reminder",
                "idempotency_key": (key := reminder_key(s, d.id, OFFSET, start)),
                "message_id": message_id_for(key),
                "session_id": s.id,
                "delegate_id": d.id,
                "recipient": d.email,
                "payload": {"offset": OFFSET, "start_utc": start.isoformat()},
                "status": "pending",
                "due_at": start - timedelta(hours=1),
                "attempts": 0,
            }
            for s, delegates in sessions
            for d in delegates
        ]
        db.commit()
    with engine.begin() as connection:
        for chunk in range(0, len(rows), 5000):
            connection.execute(insert(OutboxMessage), rows[chunk : chunk + 5000])


def wait(condition, timeout: float, what: str, processes) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for p in processes:
            if not p.alive():
                raise SystemExit(f"{p.name} died:\n{p.log()[-3000:]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    n = args.messages

    broker_url = os.environ.get("COORDINATOR_BROKER_URL", "redis://127.0.0.1:6379/0")
    if not broker_url.startswith("redis://"):
        raise SystemExit("bench/dispatch.py measures the Redis broker: set a redis:// URL")
    prefix = f"coordinator-bench-{uuid.uuid4().hex[:8]}:"
    tmp = Path(tempfile.mkdtemp(prefix="coordinator-bench-"))
    db_url, drop_database = database(tmp)
    engine = make_engine(db_url)
    client = redis.Redis.from_url(broker_url)
    smtp_port = free_port()
    catcher = subprocess.Popen(
        [sys.executable, "-m", "coordinator.mail_catcher", "--port", str(smtp_port), "--no-store",
         "--count-file", str(tmp / "received.txt")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:  # until the SMTP server listens
        try:
            socket.create_connection(("127.0.0.1", smtp_port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or catcher.poll() is not None:
                raise SystemExit("the SMTP server did not start") from None
            time.sleep(0.1)
    clock_file = tmp / "clock.json"
    os.environ[clock.ENV] = str(clock_file)
    env = {
        "COORDINATOR_DATABASE_URL": db_url,
        "COORDINATOR_BROKER_URL": broker_url,
        "COORDINATOR_BROKER_KEY_PREFIX": prefix,
        "COORDINATOR_VAR_DIR": str(tmp / "var"),
        "COORDINATOR_SMTP_PORT": str(smtp_port),
        clock.ENV: str(clock_file),
        "COORDINATOR_OUTBOX_BATCH_SIZE": str(args.batch),
        "COORDINATOR_OUTBOX_MAX_IN_FLIGHT_BATCHES": "8",
        "COORDINATOR_OUTBOX_LEASE_SECONDS": "300",
        "COORDINATOR_OUTBOX_DISPATCH_INTERVAL": "0.25",
        "COORDINATOR_OUTBOX_COMMIT_EVERY": "250",
    }
    processes: list[CeleryProcess] = []
    try:
        upgrade(engine)
        now = datetime.now(UTC)
        start = now + timedelta(days=2)
        seed(engine, n, start)
        print(f"database: {engine.dialect.name}; broker: Redis {broker_url} (prefix {prefix})")
        print(f"{n} reminders in {SESSIONS} sessions; batches of {args.batch}; 2 workers x 1")

        for name in ("bench-worker-1", "bench-worker-2"):
            processes.append(
                CeleryProcess(
                    "worker",
                    name=name,
                    env=env,
                    log_dir=tmp,
                    args=["--concurrency", "1", "--loglevel", "WARNING"],
                ).start()
            )
        processes.append(CeleryProcess("beat", name="bench-beat", env=env, log_dir=tmp).start())
        for p in processes:
            p.wait_ready()

        # 1. The broker's baseline: one no-op task per message.
        app = Celery("bench", broker=broker_url)
        app.conf.broker_transport_options = broker_options(broker_url, prefix)
        app.conf.task_serializer = "json"

        def drained() -> bool:
            return client.llen(f"{prefix}celery") == 0 and client.hlen(f"{prefix}unacked") == 0

        began = time.perf_counter()
        with app.producer_or_acquire() as producer:
            for i in range(n):
                app.send_task("coordinator.noop", args=[[i]], producer=producer)
        wait(drained, 600, "the no-op tasks", processes)
        noop_seconds = time.perf_counter() - began
        noop_rate = n / noop_seconds

        # 2. Reminders, end to end: due now on the shared clock.
        def sent() -> int:
            with engine.connect() as connection:
                return connection.execute(
                    select(func.count()).where(OutboxMessage.status == "sent")
                ).scalar_one()

        began = time.perf_counter()
        clock.set_now(start - timedelta(minutes=30))
        wait(lambda: sent() == n, 900, "the reminders", processes)
        reminder_seconds = time.perf_counter() - began
        reminder_rate = n / reminder_seconds
        catcher.terminate()
        catcher.wait(timeout=30)
        counted = (tmp / "received.txt").read_text().split()
        received, distinct = int(counted[1]), int(counted[3])
        with engine.connect() as connection:
            not_sent = connection.execute(
                select(func.count()).where(OutboxMessage.status != "sent")
            ).scalar_one()

        print(f"no-op tasks: {n} in {noop_seconds:.2f}s = {noop_rate:,.0f} tasks/s")
        print(
            f"reminders:   {n} in {reminder_seconds:.2f}s = {reminder_rate:,.0f} messages/s "
            f"(SMTP server received {received}, {distinct} distinct Message-IDs; "
            f"{not_sent} not sent)"
        )
        print(f"ratio: {reminder_rate / noop_rate:.2f}")
    finally:
        for p in reversed(processes):
            p.stop(timeout=10)
        if catcher.poll() is None:
            catcher.terminate()
            catcher.wait(timeout=30)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
        engine.dispose()
        drop_database()


if __name__ == "__main__":
    main()
