"""What an operator does with the outbox: see where messages are, requeue failed ones.

- :func:`outbox_status` — counts per kind and state, the next due message, and the failures
  with the server's reason;
- :func:`retry_messages` — one message by id, or every failed one, back to ``pending`` and due
  now (attempts reset; the Message-ID stays the same).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select, update

from coordinator import clock
from coordinator.db import Db, unit_of_work
from coordinator.errors import NotFound, UserError
from coordinator.models import OutboxMessage
from coordinator.models.outbox import OUTBOX_STATES

OM = OutboxMessage


def outbox_status(db: Db, *, failures: int = 20) -> dict:
    now = clock.now()
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTBOX_STATES, 0))
    for kind, status, n in db.execute(
        select(OM.kind, OM.status, func.count()).group_by(OM.kind, OM.status)
    ):
        counts[kind][status] = n
    totals = dict.fromkeys(OUTBOX_STATES, 0)
    for per_state in counts.values():
        for status, n in per_state.items():
            totals[status] += n
    due_now = db.scalar(
        select(func.count()).select_from(OM).where(OM.status == "pending", OM.due_at <= now)
    )
    expired = db.scalar(
        select(func.count()).select_from(OM).where(OM.status == "claimed", OM.lease_until <= now)
    )
    next_due: datetime | None = db.scalar(
        select(func.min(OM.due_at)).where(OM.status == "pending", OM.due_at > now)
    )
    if next_due is not None and next_due.tzinfo is None:  # func.min bypasses the column type
        next_due = OM.__table__.c.due_at.type.process_result_value(next_due, db.bind.dialect)
    failed = db.scalars(
        select(OM).where(OM.status == "failed").order_by(OM.id).limit(failures)
    ).all()
    retrying = db.scalar(
        select(func.count()).select_from(OM).where(OM.status == "pending", OM.attempts > 0)
    )
    return {
        "now": now,
        "by_kind": {kind: dict(v) for kind, v in sorted(counts.items())},
        "totals": totals,
        "due_now": due_now or 0,
        "expired_leases": expired or 0,
        "retrying": retrying or 0,
        "next_due": next_due,
        "failures": [
            {
                "id": row.id,
                "kind": row.kind,
                "recipient": row.recipient,
                "attempts": row.attempts,
                "last_error": row.last_error,
            }
            for row in failed
        ],
    }


def retry_messages(db: Db, *, message_id: int | None = None, failed: bool = False) -> int:
    """Requeue one message (``message_id``) or all failed ones; returns how many."""
    if (message_id is None) == (not failed):
        raise UserError("give a message ID or --failed (not both)")
    now = clock.now()
    with unit_of_work(db):
        if failed:
            result = db.execute(
                update(OM)
                .where(OM.status == "failed")
                .values(
                    status="pending",
                    due_at=now,
                    attempts=0,
                    last_error=None,
                    lease_until=None,
                    claimed_by=None,
                )
                .execution_options(synchronize_session=False)
            )
            return result.rowcount or 0
        row = db.get(OM, message_id)
        if row is None:
            raise NotFound(f"ID: no outbox message with id {message_id}")
        if row.status == "sent":
            raise UserError(f"ID: message {message_id} was already sent; it is not sent twice")
        if row.status == "dropped":
            raise UserError(f"ID: message {message_id} was dropped (no longer wanted)")
        if row.status == "claimed" and row.lease_until is not None and row.lease_until > now:
            raise UserError(f"ID: message {message_id} is being delivered right now")
        if row.status == "pending" and row.attempts == 0:
            raise UserError(
                f"ID: message {message_id} is already pending, due {row.due_at:%Y-%m-%d %H:%M}Z"
            )
        row.status = "pending"
        row.due_at = min(row.due_at, now)
        row.attempts = 0
        row.last_error = None
        row.lease_until = None
        row.claimed_by = None
        return 1
