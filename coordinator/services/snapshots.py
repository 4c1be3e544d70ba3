"""Freezing a session as it is now into the pure invites package's inputs.

:func:`session_snapshot` reads a :class:`~coordinator.models.Session` (its group, agenda, cities,
delegates and network) into a :class:`~coordinator.invites.snapshot.SessionSnapshot`;
:func:`person_for` turns a delegate into the :class:`~coordinator.invites.snapshot.Person` a
message is addressed to (their own zone, else their city's; UTC when the zone is unknown).
Used by the reminder renderer at delivery, so a reminder shows the session as it is then.
"""

from __future__ import annotations

from datetime import datetime

from coordinator import clock
from coordinator.invites.snapshot import (
    AgendaItem,
    Attendee,
    Person,
    PlaceTime,
    SessionSnapshot,
)
from coordinator.models import Delegate, Session
from coordinator.timezones import UNKNOWN_ZONE

_SNAPSHOT_STATUS = {"scheduled": "scheduled", "cancelled": "cancelled"}


def _zone(zone: str | None) -> str:
    return "UTC" if not zone or zone == UNKNOWN_ZONE else zone


def person_for(delegate: Delegate) -> Person:
    """The delegate as a message's recipient; raises ValueError for an unusable address."""
    city = delegate.city
    return Person(
        name=delegate.name,
        email=delegate.email,
        language=delegate.language or "en",
        zone=_zone(delegate.effective_zone),
        city=city.name if city else None,
        city_ja=city.name_ja if city else None,
    )


def session_snapshot(session: Session, *, dtstamp: datetime | None = None) -> SessionSnapshot:
    """``session`` as the invites package sees it (it must have a start)."""
    if session.start_utc is None or session.end_utc is None:
        raise ValueError(f"session {session.id} has no start: nothing to describe")
    group = session.group
    network = group.network
    agenda = tuple(
        AgendaItem(
            position=p.position,
            city=p.city.name,
            city_ja=p.city.name_ja,
            body=p.body,
            body_ja=p.body_ja,
            title=p.title,
            title_ja=p.title_ja,
            presenter=p.presenter.name if p.presenter else None,
        )
        for p in session.presentations
    )
    places = tuple(
        PlaceTime(city=m.city.name, city_ja=m.city.name_ja, zone=m.city.zone)
        for m in group.memberships
        if m.city.zone != UNKNOWN_ZONE
    )
    attendees = []
    for membership in group.memberships:
        role = "REQ-PARTICIPANT" if membership.role == "member" else "OPT-PARTICIPANT"
        for delegate in membership.city.delegates:
            try:
                attendees.append(Attendee(person_for(delegate), role=role))
            except ValueError:
                continue  # an unusable address: that delegate is skipped, not the session
    return SessionSnapshot(
        uid=session.uid,
        sequence=session.sequence,
        title=session.title,
        title_ja=session.title_ja,
        group=group.name,
        group_ja=group.name_ja,
        start_utc=session.start_utc,
        end_utc=session.end_utc,
        status=_SNAPSHOT_STATUS.get(session.status, "scheduled"),
        meeting_url=session.meeting_url or network.meeting_url,
        note=session.note,
        agenda=agenda,
        places=places,
        organizer=Person(name=network.organizer_name, email=network.organizer_email),
        attendees=tuple(attendees),
        dtstamp=(dtstamp or session.published_at or clock.now()).replace(microsecond=0),
    )
