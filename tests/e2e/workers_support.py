"""Helpers for the tests that run real workers: a private broker per test, seeded sessions,
waiting with deadlines, and reading what the SMTP server received."""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session as OrmSession

from coordinator.models import (
    City,
    Delegate,
    GroupMembership,
    Network,
    OutboxMessage,
    Session,
    WorkingGroup,
)
from coordinator.reminders import plan_reminders

OM = OutboxMessage
REDIS_URL = os.environ.get("COORDINATOR_BROKER_URL", "")
ON_REDIS = REDIS_URL.startswith("redis://")


def broker_for(tmp_path: Path) -> tuple[str, str | None]:
    """The broker of this test: a private key prefix on the configured Redis, else a SQLite
    file of its own for the SQLAlchemy transport."""
    if ON_REDIS:
        return REDIS_URL, f"coordinator-test-{uuid.uuid4().hex[:10]}:"
    return f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}", None


def delete_redis_prefix(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    except redis.exceptions.ConnectionError:
        pass
    finally:
        client.close()


def wait_for(
    condition: Callable[[], object],
    *,
    timeout: float,
    what: str,
    check: Callable[[], None] | None = None,
):
    """Poll ``condition`` until it is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if check is not None:
            check()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Seeded:
    session_id: int
    start: datetime
    delegates: int


def seed_session(
    engine: Engine,
    *,
    delegates: int,
    start: datetime,
    offsets: list[str],
    plan_at: datetime,
    name: str = "seed",
) -> Seeded:
    """A network with one city of ``delegates`` delegates (English and Japanese) in a group,
    one session at ``start`` with these reminder offsets, reminders planned at ``plan_at``."""
    with OrmSession(bind=engine, expire_on_commit=False) as db:
        network = Network(
            slug=f"net-{name}",
            name=f"Network {name}",
            organizer_name="Secretariat",
            organizer_email="secretariat@example.org",
            meeting_url="https://meet.example.org/x",
            reminder_offsets=offsets,
        )
        city = City(network=network, name=f"City {name}", country="JP", zone="Asia/Tokyo")
        group = WorkingGroup(network=network, name=f"Group {name}")
        db.add_all([network, city, group])
        db.flush()
        db.add(GroupMembership(group=group, city=city, role="member"))
        db.add_all(
            Delegate(
                network_id=network.id,
                city=city,
                name=f"Delegate {i}",
                email=f"d{i}.{name}@example.org",
                language="ja" if i % 3 == 0 else "en",
            )
            for i in range(delegates)
        )
        session = Session(
            group=group,
            title=f"Session {name}",
            window_start=start - timedelta(days=1),
            window_end=start + timedelta(days=1),
            start_utc=start,
            duration_minutes=90,
            status="scheduled",
            uid=f"{name}-{uuid.uuid4().hex[:8]}@test.coordinator",
        )
        db.add(session)
        db.flush()
        plan_reminders(db, session, now=plan_at)
        db.commit()
        return Seeded(session.id, start, delegates)


def rows(engine: Engine, *conditions) -> list[OutboxMessage]:
    with OrmSession(bind=engine) as db:
        return list(db.scalars(select(OM).where(*conditions).order_by(OM.id)))


def counts(engine: Engine) -> Counter:
    with engine.connect() as connection:
        return Counter(
            dict(connection.execute(select(OM.status, func.count()).group_by(OM.status)).all())
        )


def received_ids(catcher) -> Counter:
    return Counter(item.message_id for item in catcher.snapshot())


def utcnow() -> datetime:
    return datetime.now(UTC)
