"""Claiming due outbox rows, atomically, so that each is worked on by one worker at a time.

A claim sets ``status='claimed'``, a ``claimed_by`` token and ``lease_until``. Claimable rows are
pending rows whose ``due_at`` has come and claimed rows whose lease expired (their worker died
or their task was lost by the broker). Concurrent claimers never get the same row:

- PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED`` inside the ``UPDATE … RETURNING``, so claimers
  skip each other's rows instead of waiting; the pending query walks the
  ``(status, due_at)`` index.
- SQLite: the claim runs in ``BEGIN IMMEDIATE`` (the database's write lock), so claims are
  serialized and each sees the previous one's result.

A delivery task then *takes* its rows (:func:`take`): only those still claimed with the token it
was handed, renewing the lease in its own name. A duplicate or late task (a broker that
redelivered it, a lease that expired and was claimed again) finds nothing to take.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, func, select, update

from coordinator import clock
from coordinator.models import OutboxMessage

OM = OutboxMessage


def new_token(role: str = "claim") -> str:
    """A unique claim token that also says who claimed: ``role:host:pid:random``."""
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _write_transaction(engine: Engine) -> Connection:
    connection = engine.connect()
    if connection.dialect.name == "sqlite":
        connection.info["sqlite_begin"] = "BEGIN IMMEDIATE"
    return connection


def _claim_statement(condition, order, limit: int, *, postgres: bool, token: str, lease_until):
    chosen = select(OM.id).where(condition).order_by(order).limit(limit)
    if postgres:
        chosen = chosen.with_for_update(skip_locked=True)
    return (
        update(OM)
        .where(OM.id.in_(chosen))
        .values(status="claimed", claimed_by=token, lease_until=lease_until)
        .returning(OM.id)
    )


def claim_on(
    connection: Connection, *, limit: int, token: str, now: datetime, lease: timedelta
) -> list[int]:
    """Claim up to ``limit`` due rows on an open transaction; returns their ids."""
    postgres = connection.dialect.name == "postgresql"
    lease_until = now + lease
    ids: list[int] = []
    # Expired leases first (they are the oldest work), then due pending rows by due time.
    for condition, order in (
        (and_(OM.status == "claimed", OM.lease_until <= now), OM.lease_until),
        (and_(OM.status == "pending", OM.due_at <= now), OM.due_at),
    ):
        room = limit - len(ids)
        if room <= 0:
            break
        statement = _claim_statement(
            condition, order, room, postgres=postgres, token=token, lease_until=lease_until
        )
        ids.extend(connection.execute(statement).scalars().all())
    return sorted(ids)


def claim_due(
    engine: Engine,
    *,
    limit: int,
    token: str,
    lease: timedelta,
    now: datetime | None = None,
) -> list[int]:
    """Claim up to ``limit`` due rows in one committed transaction; returns their ids.

    A cheap read first: when nothing is due (most ticks), no write lock is taken, so an idle
    worker never competes with the services' transactions for SQLite's single writer."""
    now = now or clock.now()
    if not anything_due(engine, now):
        return []
    with _write_transaction(engine) as connection, connection.begin():
        return claim_on(connection, limit=limit, token=token, now=now, lease=lease)


def anything_due(engine: Engine, now: datetime) -> bool:
    with engine.connect() as connection:
        for condition in (
            and_(OM.status == "pending", OM.due_at <= now),
            and_(OM.status == "claimed", OM.lease_until <= now),
        ):
            if connection.execute(select(OM.id).where(condition).limit(1)).first():
                return True
    return False


def in_flight(engine: Engine, *, now: datetime | None = None) -> int:
    """Rows claimed under a lease that has not expired (being delivered or queued)."""
    now = now or clock.now()
    with engine.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(OM).where(OM.status == "claimed", OM.lease_until > now)
        ).scalar_one()


def take(
    engine: Engine,
    ids: list[int],
    *,
    token: str,
    worker: str,
    lease: timedelta,
    now: datetime | None = None,
) -> list[int]:
    """Take the rows among ``ids`` still claimed with ``token``: renew their lease for
    ``worker``; returns the ids taken (the others were delivered or claimed again meanwhile)."""
    if not ids:
        return []
    now = now or clock.now()
    with _write_transaction(engine) as connection, connection.begin():
        taken = connection.execute(
            update(OM)
            .where(OM.id.in_(ids), OM.status == "claimed", OM.claimed_by == token)
            .values(claimed_by=worker, lease_until=now + lease)
            .returning(OM.id)
        )
        return sorted(taken.scalars().all())


def release(engine: Engine, *, token: str) -> int:
    """Give back rows claimed with ``token`` that could not be handed to a worker."""
    with _write_transaction(engine) as connection, connection.begin():
        result = connection.execute(
            update(OM)
            .where(OM.status == "claimed", OM.claimed_by == token)
            .values(status="pending", claimed_by=None, lease_until=None)
        )
        return result.rowcount or 0
