"""Planning reminders: outbox rows of kind ``reminder``, one per recipient and offset.

- :func:`plan_reminders` — called in the transaction that schedules or moves a session: drops the
  session's pending reminders and plans one per recipient (see
  :func:`coordinator.services.recipients.session_recipients`) and offset for the session's current
  start. Sent reminders are left as they are; a moment that has already passed is skipped (no
  "in 7 days" two days before). Calling it again for the same start changes nothing.
- :func:`drop_reminders` — called when a session is cancelled: no reminder goes out for it.

Offsets are ISO 8601 durations before the start: the session's ``reminder_offsets`` if set,
else its network's; by default 7 days, 1 day and 1 hour. The renderer re-checks at delivery that
the session still starts when the reminder was planned for, so a reminder claimed by a worker
just before the session moved is dropped, not sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from coordinator import clock
from coordinator.db import Db
from coordinator.errors import UserError
from coordinator.models import OutboxMessage, Session
from coordinator.outbox import add_message, drop_pending
from coordinator.services.network_file import parse_iso_duration
from coordinator.services.recipients import session_recipients

KIND = "reminder"
DEFAULT_OFFSETS = ("P7D", "P1D", "PT1H")


@dataclass(frozen=True)
class ReminderPlan:
    planned: int  # rows added (or revived) for the current start
    kept: int  # rows already planned for the current start
    skipped: int  # recipient × offset whose moment had passed
    dropped: int  # pending rows of an earlier start (or of a cancelled session)


def reminder_offsets(session: Session) -> list[tuple[str, timedelta]]:
    """The session's offsets (its own, else its network's), largest first, each once."""
    if session.reminder_offsets is not None:
        texts, owner = session.reminder_offsets, f"session {session.id}"
    else:
        network = session.group.network
        texts = network.reminder_offsets if network.reminder_offsets is not None else []
        owner = f"network {network.slug!r}"
    offsets: dict[timedelta, str] = {}
    for text in texts:
        try:
            delta = parse_iso_duration(str(text))
        except ValueError as exc:
            raise UserError(f"reminder_offsets of {owner}: {exc}") from None
        if delta <= timedelta(0):
            raise UserError(f"reminder_offsets of {owner}: {text!r} is not a positive duration")
        offsets.setdefault(delta, str(text))
    return [(offsets[d], d) for d in sorted(offsets, reverse=True)]


def reminder_key(session: Session, delegate_id: int, offset: str, start: datetime) -> str:
    return f"reminder:{session.uid}:{delegate_id}:{offset}:{start:%Y%m%dT%H%M%SZ}"


def plan_reminders(db: Db, session: Session, *, now: datetime | None = None) -> ReminderPlan:
    """(Re)plan ``session``'s reminders for its current start, inside the caller's transaction."""
    if session.status != "scheduled" or session.start_utc is None:
        return ReminderPlan(0, 0, 0, drop_reminders(db, session))
    offsets = reminder_offsets(session)
    now = now or clock.now()
    start = session.start_utc
    recipients = session_recipients(session)
    db.flush()
    wanted = {
        reminder_key(session, delegate.id, text, start): (delegate, text, start - delta)
        for text, delta in offsets
        for delegate in recipients
    }
    # Pending reminders of another start, offset or recipient are no longer wanted.
    dropped = 0
    for row in db.scalars(
        select(OutboxMessage).where(
            OutboxMessage.session_id == session.id,
            OutboxMessage.kind == KIND,
            OutboxMessage.status == "pending",
        )
    ):
        if row.idempotency_key not in wanted:
            row.status = "dropped"
            dropped += 1
    planned = kept = skipped = 0
    for key, (delegate, text, due) in wanted.items():
        existing = db.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
        if existing is not None and existing.status != "dropped":
            kept += 1  # already planned (or sent) for this very moment
            continue
        if due <= now:
            skipped += 1  # its moment passed before it was planned: no late "in 7 days"
            continue
        if existing is not None:
            _revive(existing, due)  # moved away and back: the same reminder, same Message-ID
        else:
            add_message(
                db,
                kind=KIND,
                key=key,
                recipient=delegate.email,
                due_at=due,
                session_id=session.id,
                delegate_id=delegate.id,
                payload={"offset": text, "start_utc": start.isoformat()},
            )
        planned += 1
    db.flush()
    return ReminderPlan(planned, kept, skipped, dropped)


def _revive(row: OutboxMessage, due: datetime) -> None:
    row.status = "pending"
    row.due_at = due
    row.attempts = 0
    row.last_error = None
    row.lease_until = None
    row.claimed_by = None


def drop_reminders(db: Db, session: Session) -> int:
    """Drop ``session``'s pending reminders (cancelled, or no longer scheduled)."""
    db.flush()
    count = drop_pending(db, session_id=session.id, kinds=[KIND])
    # The update bypassed the identity map: reload the rows of this session that it holds.
    for obj in list(db.identity_map.values()):
        if isinstance(obj, OutboxMessage) and obj.kind == KIND and obj.session_id == session.id:
            db.expire(obj)
    return count
