"""The reminder renderer: an outbox row of kind ``reminder`` → the email, as of delivery.

The text is built by the pure :func:`coordinator.invites.texts.build_reminder_message` from the
session *as it is now* (title, join link, agenda) in the recipient's language and zone. ``None``
(drop it) when the reminder is no longer wanted: the session was cancelled, unscheduled or moved
away from the start it was planned for (its replacement is another row), it has already
started, or the delegate is gone.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage

from coordinator import clock
from coordinator.db import Db
from coordinator.invites.texts import build_reminder_message
from coordinator.models import OutboxMessage, Session
from coordinator.outbox import renderer
from coordinator.reminders.planning import KIND
from coordinator.services.network_file import parse_iso_duration
from coordinator.services.snapshots import person_for, session_snapshot

_CACHE = "coordinator.reminders.snapshots"


def _snapshot(db: Db, session: Session):
    """One snapshot per session per database session (a delivery batch renders it once)."""
    cache = db.info.setdefault(_CACHE, {})
    key = (session.id, session.sequence, session.start_utc)
    snapshot = cache.get(key)
    if snapshot is None:
        snapshot = cache[key] = session_snapshot(session)
    return snapshot


@renderer(KIND)
def render_reminder(db: Db, row: OutboxMessage) -> EmailMessage | None:
    session = row.session  # loaded with the batch (and held by it, so loaded once)
    if session is None or session.status != "scheduled" or session.start_utc is None:
        return None
    planned = datetime.fromisoformat(row.payload["start_utc"])
    if session.start_utc != planned:
        return None
    now = clock.now()
    if now >= session.start_utc:
        return None
    delegate = row.delegate
    if delegate is None:
        return None
    return build_reminder_message(
        _snapshot(db, session),
        person_for(delegate),
        offset=parse_iso_duration(row.payload["offset"]),
        message_id=row.message_id,
        date=now,
    )
