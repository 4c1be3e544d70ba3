"""Invites: iCalendar (iTIP) objects, iMIP emails and localized texts for sessions.

Pure: no database, no SMTP, no Celery, no clock except the Date header's default. The service
layer freezes a session into a :class:`SessionSnapshot` and calls:

* :func:`build_request`, :func:`build_cancel`, :func:`build_feed` — calendar bytes (UTC times,
  see :mod:`coordinator.invites.ical` for why);
* :func:`build_message` — an invitation, update or cancellation email (iMIP) for one recipient;
* :func:`build_reminder_message` — a reminder email;
* :func:`compose_message` — the wrapper every other kind of message should use;
* :func:`parse_reply` — attendees' answers from an .ics or an .eml.
"""

from coordinator.invites.ical import (
    InviteParseError,
    build_cancel,
    build_feed,
    build_request,
    parse_reply,
)
from coordinator.invites.imip import build_message
from coordinator.invites.snapshot import (
    AgendaItem,
    Attendee,
    Person,
    PlaceTime,
    Reply,
    SessionSnapshot,
    snapshot_from_dict,
    snapshot_to_dict,
)
from coordinator.invites.texts import Body, BodyBuilder, build_reminder_message, compose_message

__all__ = [
    "AgendaItem",
    "Attendee",
    "Body",
    "BodyBuilder",
    "InviteParseError",
    "Person",
    "PlaceTime",
    "Reply",
    "SessionSnapshot",
    "build_cancel",
    "build_feed",
    "build_message",
    "build_reminder_message",
    "build_request",
    "compose_message",
    "parse_reply",
    "snapshot_from_dict",
    "snapshot_to_dict",
]
