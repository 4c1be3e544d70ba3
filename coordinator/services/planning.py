"""Use cases for finding times: rank slots for cities or a stored session, fix a start.

Who counts: every city of the session's working group (presenting members with weight 1,
observers with weight :data:`OBSERVER_WEIGHT`); a delegate whose own zone differs from the
city's is scored where the delegate actually is, in place of (or besides) the city.
"""

from __future__ import annotations

import difflib
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import select

from coordinator import timezones
from coordinator.db import Db, unit_of_work
from coordinator.errors import NotFound, UserError
from coordinator.models import City, Network, Session, WorkingGroup
from coordinator.scheduling import Participant, SlotSearch, find_slots

OBSERVER_WEIGHT = 0.5
MAX_WINDOW = timedelta(days=366)


@lru_cache(maxsize=1)
def _country_of_zone() -> dict[str, str]:
    return {
        zone: country for country, zones in timezones.zones_by_country().items() for zone in zones
    }


def zone_country(zone: str) -> str | None:
    """The country a zone belongs to (for its weekends and holidays), if it has one."""
    return _country_of_zone().get(zone)


def city_participants(city: City, weight: float = 1.0) -> list[Participant]:
    """The city, plus its delegates who are elsewhere (their own zone overrides the city's)."""
    own_zones = sorted({d.zone for d in city.delegates if d.zone and d.zone != city.zone})
    at_home = not city.delegates or any(not d.zone or d.zone == city.zone for d in city.delegates)
    people = []
    if at_home:
        people.append(Participant(city.name, city.zone, city.country, city.subdivision, weight))
    for zone in own_zones:
        away = [d.name for d in city.delegates if d.zone == zone]
        label = f"{city.name} ({', '.join(away)})"
        people.append(Participant(label, zone, zone_country(zone), None, weight))
    return people


def group_participants(group: WorkingGroup) -> list[Participant]:
    people: list[Participant] = []
    for membership in group.memberships:
        weight = 1.0 if membership.role == "member" else OBSERVER_WEIGHT
        people.extend(city_participants(membership.city, weight))
    return people


def resolve_city(db: Db, text: str, network: Network | None = None) -> City | str:
    """A network city by English or Japanese name or alias (case-insensitive), else an IANA
    zone name (returned as a string). Unknown → a UserError with the closest matches."""
    query = select(City)
    if network is not None:
        query = query.where(City.network_id == network.id)
    cities = list(db.scalars(query))
    wanted = text.strip().casefold()
    for city in cities:
        names = [city.name, city.name_ja or "", *(city.aliases or [])]
        if wanted in {n.casefold() for n in names if n}:
            return city
    try:
        return timezones.canonical_zone(text)
    except timezones.UnknownZoneError:
        pass
    names = [n for c in cities for n in [c.name, c.name_ja, *(c.aliases or [])] if n]
    matches = difflib.get_close_matches(text, names, n=3, cutoff=0.6)
    if not matches:
        tails = {z.rsplit("/", 1)[-1].lower(): z for z in timezones.all_zones()}
        matches = [
            tails[t] for t in difflib.get_close_matches(text.lower(), list(tails), n=3, cutoff=0.7)
        ]
    hint = f"; did you mean {', '.join(matches)}?" if matches else ""
    raise UserError(f"--city: unknown city or zone {text!r}{hint}")


def get_group(db: Db, name: str, network: Network | None = None) -> WorkingGroup:
    query = select(WorkingGroup)
    if network is not None:
        query = query.where(WorkingGroup.network_id == network.id)
    groups = list(db.scalars(query))
    for group in groups:
        if name.strip().casefold() in {group.name.casefold(), (group.name_ja or "").casefold()}:
            return group
    matches = difflib.get_close_matches(name, [g.name for g in groups], n=3, cutoff=0.4)
    hint = f"; did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
    raise UserError(f"--group: unknown working group {name!r}{hint}")


def check_window(start: datetime, end: datetime, duration_minutes: int, step_minutes: int) -> None:
    if duration_minutes <= 0 or duration_minutes > 24 * 60:
        raise UserError(f"--duration: {duration_minutes} minutes is not between 1 and 1440")
    if step_minutes <= 0 or 60 % step_minutes != 0:
        raise UserError(
            f"--step: {step_minutes} minutes does not divide an hour (use 5, 10, 15, 20, 30, 60…)"
        )
    if start >= end:
        raise UserError(f"--from {start:%Y-%m-%d %H:%M}Z is not before --to {end:%Y-%m-%d %H:%M}Z")
    if end - start > MAX_WINDOW:
        raise UserError(f"--from/--to: the window is {(end - start).days} days; at most 366")
    if end - start < timedelta(minutes=duration_minutes):
        raise UserError("--from/--to: the window is shorter than --duration")


def rank_slots(
    db: Db,
    *,
    cities: list[str],
    group: str | None,
    start: datetime,
    end: datetime,
    duration_minutes: int,
    step_minutes: int = 15,
    top: int = 10,
) -> SlotSearch:
    check_window(start, end, duration_minutes, step_minutes)
    people: list[Participant] = []
    if group:
        people.extend(group_participants(get_group(db, group)))
    for text in cities:
        found = resolve_city(db, text)
        if isinstance(found, City):
            people.extend(city_participants(found))
        else:
            people.append(Participant(found, found, zone_country(found), None, 1.0))
    if not people:
        raise UserError("--city: give at least one --city or a --group")
    return _find(people, start, end, duration_minutes, step_minutes, top)


def _find(people, start, end, duration_minutes, step_minutes, top) -> SlotSearch:
    unique = list(dict.fromkeys(people))
    try:
        return find_slots(
            unique,
            start,
            end,
            timedelta(minutes=duration_minutes),
            step_minutes=step_minutes,
            top=top,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None


def get_session(db: Db, session_id: int) -> Session:
    session = db.get(Session, session_id)
    if session is None:
        raise NotFound(f"no session with id {session_id}")
    return session


def plan_session(db: Db, session_id: int, *, step_minutes: int = 15, top: int = 10) -> SlotSearch:
    session = get_session(db, session_id)
    people = group_participants(session.group)
    if not people:
        raise UserError(f"session {session_id}: its group {session.group.name!r} has no cities")
    return _find(
        people,
        session.window_start,
        session.window_end,
        session.duration_minutes,
        step_minutes,
        top,
    )


def check_start(session: Session, start: datetime, duration_minutes: int | None = None) -> None:
    """A start (and duration) the session can take: an aware instant inside its window."""
    if start.tzinfo is None:
        raise UserError("--at: give a UTC instant or an offset, e.g. 2023-10-03T11:00Z")
    end = start + timedelta(minutes=duration_minutes or session.duration_minutes)
    if start < session.window_start or end > session.window_end:
        raise UserError(
            f"--at: {start:%Y-%m-%d %H:%M}Z–{end:%H:%M}Z is outside the session's window "
            f"{session.window_start:%Y-%m-%d %H:%M}Z–{session.window_end:%Y-%m-%d %H:%M}Z"
        )


def schedule_session(db: Db, session_id: int, start: datetime) -> Session:
    """Fix a draft session's start. Moving a published session is a reschedule that sends its
    attendees an update: it goes to :func:`coordinator.services.invitations.reschedule_session`."""
    session = get_session(db, session_id)
    if session.is_published and session.status != "cancelled":
        from coordinator.services.invitations import reschedule_session

        reschedule_session(db, session_id, start=start)
        return session
    with unit_of_work(db):
        session = get_session(db, session_id)
        if session.status == "cancelled":
            raise UserError(f"session {session_id} is cancelled; it cannot be scheduled")
        check_start(session, start)
        session.start_utc = start
        session.status = "scheduled"
        from coordinator.reminders import plan_reminders
        from coordinator.services.materials import plan_materials

        plan_reminders(db, session)  # (re)plans for this start; skips past moments
        plan_materials(db, session)  # calls for materials, chasers, the pack at the deadline
        return session


def evaluate_slot(people: list[Participant], start: datetime, duration_minutes: int) -> SlotSearch:
    """Score one fixed slot (local times, comfort and notes per participant)."""
    end = start + timedelta(minutes=duration_minutes)
    return _find(people, start, end, duration_minutes, 1, 1)
