"""Who receives a session's messages (invites, updates, cancellations, reminders).

One rule, used by every kind of message so that they always go to the same people: the
delegates of every city of the session's working group, presenting members and observers alike,
in the group's order of cities, then by delegate id; each address once.
"""

from __future__ import annotations

from coordinator.models import Delegate, Session


def session_recipients(session: Session) -> list[Delegate]:
    """The delegates who receive ``session``'s invites and reminders (see the module doc)."""
    seen: set[str] = set()
    people: list[Delegate] = []
    for membership in session.group.memberships:
        for delegate in membership.city.delegates:
            address = delegate.email.strip().casefold()
            if address in seen:
                continue
            seen.add(address)
            people.append(delegate)
    return people
