"""Use cases for planning a whole series of sessions at once (the planner is pure:
:mod:`coordinator.scheduling.series`).

What is planned:

* stored sessions (``--session ID``…, or every draft session of the network when none is
  named): drafts are placed in their windows, scheduled sessions stay where they are;
* or a recurring series of a working group (``--group NAME --every week|2weeks|month
  --count N --from DATE``): occurrence ``k`` may start anywhere in the organizer-local day
  of its date (or within ``--between HH:MM-HH:MM`` of it); its draft sessions are created
  only with ``--apply``.

Every other scheduled, not cancelled session of the network whose time falls near the
planned windows comes along as *fixed*, so that the plan cannot double-book a presenting
city against a session already in the calendar.

Who counts: the group's presenting members (and any city presenting in the session) are
hard, they are never in two sessions at once and hard limits bind them; observers are priced
at :data:`coordinator.services.planning.OBSERVER_WEIGHT` and do not block (see the planner's
docstring).  The organizer's zone, which sets the day for ``--max-per-day`` and the clock of
``--keep local``, is the zone of the network's organizer delegate (Tokyo for G-NETS), else UTC.

``--apply`` writes every start in one transaction through the normal scheduling path
(:func:`coordinator.services.planning.schedule_session`): that function commits its own unit
of work, so it runs here on a session in savepoint mode bound to this transaction's
connection, and either every start is written or none is.
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from coordinator import timezones
from coordinator.db import Db
from coordinator.errors import NotFound, UserError
from coordinator.models import Delegate, Network, Session, WorkingGroup
from coordinator.scheduling.series import (
    Attendee,
    SeriesInfeasible,
    SeriesPlan,
    SeriesRules,
    SeriesSession,
    plan_series,
)
from coordinator.services.network import get_network
from coordinator.services.planning import (
    OBSERVER_WEIGHT,
    city_participants,
    get_group,
    schedule_session,
)

EVERY = ("week", "2weeks", "month")
MAX_COUNT = 120
DEFAULT_DURATION = 120
CONTEXT_MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class RecurringSeries:
    """``--group NAME --every … --count N --from DATE [--duration MIN] [--between …]``."""

    group: str
    every: str
    count: int
    first: date
    duration_minutes: int | None = None
    between: tuple[str, str] | None = None
    """Organizer-local hours each occurrence may use, e.g. ``("07:00", "23:00")``."""


@dataclass
class SeriesOutcome:
    plan: SeriesPlan
    organizer_zone: str
    session_ids: dict[str, int | None]
    """Plan key -> stored session id (None: an occurrence not created, without --apply)."""
    applied: bool = False
    created: list[int] = field(default_factory=list)
    scheduled: list[int] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# reading the options


def parse_between(text: str | None) -> tuple[str, str] | None:
    """``"07:00-23:00"`` -> ``("07:00", "23:00")``; None stays None."""
    if text is None:
        return None
    start, sep, end = text.partition("-")
    if not sep:
        raise UserError(f"--between: {text!r} is not a range like 07:00-23:00")
    for part in (start, end):
        _minutes_of(part.strip(), "--between")
    return start.strip(), end.strip()


def _minutes_of(text: str, option: str) -> int:
    hours, sep, minutes = text.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise UserError(f"{option}: {text!r} is not a time of day like 05:00")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > 24 * 60:
        raise UserError(f"{option}: {text!r} is not a time of day between 00:00 and 24:00")
    return value


def organizer_zone(db: Db, network: Network) -> str:
    """Zone of the network's organizer (its organizer delegate's zone), else UTC."""
    organizer = db.scalar(
        select(Delegate)
        .where(Delegate.network_id == network.id, Delegate.role == "organizer")
        .order_by(Delegate.id)
        .limit(1)
    )
    if organizer is not None:
        zone = organizer.effective_zone
        if timezones.is_valid_zone(zone):
            return zone
    return "UTC"


def add_months(day: date, months: int) -> date:
    """Same day of the month ``months`` later, clamped to the month's last day."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def occurrence_dates(every: str, count: int, first: date) -> list[date]:
    if every not in EVERY:
        raise UserError(f"--every: {every!r} is not one of {', '.join(EVERY)}")
    if count < 1:
        raise UserError(f"--count: {count} occurrences; give at least 1")
    if count > MAX_COUNT:
        raise UserError(f"--count: {count} occurrences; at most {MAX_COUNT}")
    if every == "month":
        return [add_months(first, k) for k in range(count)]
    days = 7 if every == "week" else 14
    return [first + timedelta(days=days * k) for k in range(count)]


# --------------------------------------------------------------------------------------------
# building the planner's input


def _attendees(group: WorkingGroup, session: Session | None = None) -> tuple[Attendee, ...]:
    presenting_cities = {p.city_id for p in session.presentations} if session else set()
    attendees: list[Attendee] = []
    seen: set[int] = set()
    for membership in group.memberships:
        city = membership.city
        seen.add(city.id)
        presenting = membership.role == "member" or city.id in presenting_cities
        weight = 1.0 if presenting else OBSERVER_WEIGHT
        for participant in city_participants(city, weight):
            attendees.append(Attendee(participant, presenting=presenting, city=city.name))
    if session is not None:
        for presentation in session.presentations:
            city = presentation.city
            if city.id in seen:
                continue
            seen.add(city.id)
            for participant in city_participants(city, 1.0):
                attendees.append(Attendee(participant, presenting=True, city=city.name))
    return tuple(attendees)


def _stored(session: Session, *, fixed: bool) -> SeriesSession:
    return SeriesSession(
        key=str(session.id),
        title=f"#{session.id} {session.title}",
        duration_minutes=session.duration_minutes,
        window_start=session.window_start,
        window_end=session.window_end,
        attendees=_attendees(session.group, session),
        fixed_start=session.start_utc if fixed else None,
        series=session.group.name,
    )


def _planned_stored(db: Db, network: Network, ids: Sequence[int]) -> list[Session]:
    if ids:
        found = []
        for session_id in dict.fromkeys(ids):
            session = db.get(Session, session_id)
            if session is None or session.group.network_id != network.id:
                raise NotFound(f"--session: no session with id {session_id}")
            if session.status == "cancelled":
                raise UserError(f"--session: session {session_id} is cancelled")
            found.append(session)
        return found
    drafts = list(
        db.scalars(
            select(Session)
            .join(WorkingGroup)
            .where(WorkingGroup.network_id == network.id, Session.status == "draft")
            .order_by(Session.window_start, Session.id)
        )
    )
    if not drafts:
        raise UserError("no draft sessions to plan: name them with --session or plan a --group")
    return drafts


def _context(
    db: Db, network: Network, span: tuple[datetime, datetime], exclude: set[int]
) -> list[Session]:
    """Scheduled sessions near the planned windows: they stay, and must not be collided with."""
    start, end = span[0] - CONTEXT_MARGIN, span[1] + CONTEXT_MARGIN
    rows = db.scalars(
        select(Session)
        .join(WorkingGroup)
        .where(
            WorkingGroup.network_id == network.id,
            Session.status == "scheduled",
            Session.start_utc.is_not(None),
            Session.start_utc < end,
            Session.start_utc >= start - timedelta(days=1),
        )
        .order_by(Session.start_utc, Session.id)
    )
    return [s for s in rows if s.id not in exclude and s.end_utc is not None and s.end_utc > start]


def _local_instant(day: date, minutes: int, zone: str, option: str) -> datetime:
    wall = datetime.combine(day, datetime.min.time()) + timedelta(minutes=minutes)
    try:
        return timezones.to_utc(wall, zone)
    except ValueError as error:
        raise UserError(f"{option}: {error}") from None


def _stable_uid(network: Network, group: WorkingGroup, day: date) -> str:
    digest = hashlib.sha1(f"{network.slug}|{group.name}|series|{day}".encode()).hexdigest()
    return f"{digest[:20]}@{network.slug}.coordinator"


@dataclass
class _Occurrence:
    key: str
    day: date
    index: int
    count: int
    group: WorkingGroup
    duration: int
    window_start: datetime
    window_end: datetime
    uid: str

    @property
    def title(self) -> str:
        return f"{self.group.name} — session {self.index}/{self.count} ({self.day:%Y-%m-%d})"

    @property
    def title_ja(self) -> str | None:
        if not self.group.name_ja:
            return None
        return f"{self.group.name_ja} 第{self.index}回（{self.day:%Y-%m-%d}）"


def _occurrences(
    db: Db, network: Network, series: RecurringSeries, zone: str
) -> tuple[WorkingGroup, list[_Occurrence]]:
    group = get_group(db, series.group, network)
    if not group.memberships:
        raise UserError(f"--group: working group {group.name!r} has no cities")
    dates = occurrence_dates(series.every, series.count, series.first)
    duration = series.duration_minutes
    if duration is None:
        latest = db.scalar(
            select(Session)
            .where(Session.group_id == group.id)
            .order_by(Session.window_start.desc())
            .limit(1)
        )
        duration = latest.duration_minutes if latest is not None else DEFAULT_DURATION
    if not 1 <= duration <= 24 * 60:
        raise UserError(f"--duration: {duration} minutes is not between 1 and 1440")
    lo, hi = 0, 24 * 60
    if series.between is not None:
        lo = _minutes_of(series.between[0], "--between")
        hi = _minutes_of(series.between[1], "--between")
        if hi <= lo:
            hi += 24 * 60
    if hi - lo < duration:
        interval = (
            f"--between {series.between[0]}-{series.between[1]} ({hi - lo} minutes)"
            if series.between
            else f"a day ({hi - lo} minutes)"
        )
        raise UserError(f"--duration: {duration} minutes do not fit in {interval}")
    occurrences = []
    for k, day in enumerate(dates, start=1):
        occurrences.append(
            _Occurrence(
                key=f"{group.name} {k}/{len(dates)}",
                day=day,
                index=k,
                count=len(dates),
                group=group,
                duration=duration,
                window_start=_local_instant(day, lo, zone, "--from"),
                window_end=_local_instant(day, hi, zone, "--from"),
                uid=_stable_uid(network, group, day),
            )
        )
    return group, occurrences


# --------------------------------------------------------------------------------------------
# the use case


def plan_sessions(
    db: Db,
    *,
    session_ids: Sequence[int] = (),
    recurring: RecurringSeries | None = None,
    rules: SeriesRules | None = None,
    organizer: str | None = None,
    day_zone: str | None = None,
    replan: bool = False,
    apply: bool = False,
) -> SeriesOutcome:
    """Plan stored sessions or a recurring series together; with ``apply``, write them.

    ``rules`` carries the constraints and solver settings; its ``organizer_zone`` and
    ``day_zone`` are filled from ``organizer``/``day_zone`` or from the network's organizer.
    Scheduled sessions stay where they are, unless named in ``session_ids`` with ``replan``:
    then they move too, and applying the plan reschedules them through the normal path
    (a published session's delegates get an update).
    Bad input and impossible constraints raise :class:`UserError` (nothing written).
    """
    network = get_network(db)
    zone = organizer or organizer_zone(db, network)
    if not timezones.is_valid_zone(zone):
        raise UserError(f"--organizer-zone: {zone!r} is not a time zone")
    days_in = day_zone or zone
    if not timezones.is_valid_zone(days_in):
        raise UserError(f"--day-zone: {days_in!r} is not a time zone")
    base = rules or SeriesRules()
    rules = replace(base, organizer_zone=zone, day_zone=days_in)
    if recurring is not None and session_ids:
        raise UserError("--session and --group: plan stored sessions or a new series, not both")
    if replan and not session_ids:
        raise UserError("--replan: name the scheduled sessions to move with --session")

    inputs: list[SeriesSession] = []
    ids: dict[str, int | None] = {}
    occurrences: list[_Occurrence] = []
    if recurring is not None:
        group, occurrences = _occurrences(db, network, recurring, zone)
        existing = {
            s.uid: s.id
            for s in db.scalars(
                select(Session).where(Session.uid.in_([o.uid for o in occurrences]))
            )
        }
        if existing and apply:
            clash = next(o for o in occurrences if o.uid in existing)
            raise UserError(
                f"--apply: {group.name!r} already has a series session on {clash.day:%Y-%m-%d} "
                f"(id {existing[clash.uid]}); plan stored drafts with --session instead"
            )
        attendees = _attendees(group)
        for o in occurrences:
            inputs.append(
                SeriesSession(
                    key=o.key,
                    title=o.title,
                    duration_minutes=o.duration,
                    window_start=o.window_start,
                    window_end=o.window_end,
                    attendees=attendees,
                    series=group.name,
                )
            )
            ids[o.key] = None
        planned_ids: set[int] = set()
    else:
        stored = _planned_stored(db, network, session_ids)
        for session in stored:
            fixed = session.status == "scheduled" and not replan
            inputs.append(_stored(session, fixed=fixed))
            ids[str(session.id)] = session.id
        planned_ids = {s.id for s in stored}
    span = (
        min(s.window_start if s.fixed_start is None else s.fixed_start for s in inputs),
        max(s.window_end if s.fixed_start is None else s.fixed_start for s in inputs),
    )
    for session in _context(db, network, span, planned_ids):
        inputs.append(_stored(session, fixed=True))
        ids[str(session.id)] = session.id

    try:
        plan = plan_series(inputs, rules)
    except SeriesInfeasible as error:
        raise UserError(error.message, details=list(error.conflicts)) from None
    except ValueError as error:
        raise UserError(str(error)) from None

    outcome = SeriesOutcome(plan=plan, organizer_zone=zone, session_ids=ids)
    if apply:
        _apply(db, outcome, occurrences)
    return outcome


@contextmanager
def single_transaction(db: Db) -> Iterator[Db]:
    """One transaction around several use cases that each commit their own unit of work.

    They get a session bound to ``db``'s connection in ``create_savepoint`` mode, so each of
    their commits only releases a savepoint; ``db`` commits everything at the end, or rolls
    everything back if anything failed.
    """
    connection = db.connection()
    inner = OrmSession(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield inner
        inner.flush()
    except BaseException:
        inner.close()
        db.rollback()
        raise
    inner.close()
    db.commit()
    db.expire_all()


def _apply(db: Db, outcome: SeriesOutcome, occurrences: list[_Occurrence]) -> None:
    by_key = {o.key: o for o in occurrences}
    with single_transaction(db) as tx:
        for planned in outcome.plan.fair.sessions:
            if planned.fixed:
                continue
            session_id = outcome.session_ids.get(planned.key)
            if session_id is not None:
                current = tx.get(Session, session_id)
                if current is not None and current.start_utc == planned.start_utc:
                    continue  # already there: nothing to write, no update to send
            else:
                o = by_key[planned.key]
                session = Session(
                    group_id=o.group.id,
                    title=o.title,
                    title_ja=o.title_ja,
                    window_start=o.window_start,
                    window_end=o.window_end,
                    duration_minutes=o.duration,
                    status="draft",
                    uid=o.uid,
                    sequence=0,
                )
                tx.add(session)
                tx.flush()
                session_id = session.id
                outcome.session_ids[planned.key] = session_id
                outcome.created.append(session_id)
            schedule_session(tx, session_id, planned.start_utc)
            outcome.scheduled.append(session_id)
    outcome.applied = True


# --------------------------------------------------------------------------------------------
# the kickoff check (part of `make demo`)


@dataclass
class KickoffCheck:
    outcome: SeriesOutcome
    presenters: dict[str, list[tuple[str, datetime, datetime]]]
    """City -> (session title, start, end) in the joint plan."""
    double_booked: dict[str, list[tuple[str, str]]]
    """City -> overlapping pairs of session titles in the joint plan (must be empty)."""
    independent_clashes: dict[str, list[tuple[str, str]]]
    """The same, when each session simply takes its own best slot."""


KICKOFF_CITIES = ("Tokyo", "Rotterdam")


def kickoff_check(db: Db, *, time_limit: float = 5.0) -> KickoffCheck:
    """Plan the kickoff's five sessions jointly over their own dates, ignoring any start they
    already have, and check that no presenting city (Tokyo, Rotterdam…) is double-booked.
    Writes nothing."""
    network = get_network(db)
    zone = organizer_zone(db, network)
    sessions = list(
        db.scalars(
            select(Session)
            .join(WorkingGroup)
            .where(WorkingGroup.network_id == network.id, Session.status != "cancelled")
            .order_by(Session.window_start, Session.id)
        )
    )
    inputs = [_stored(s, fixed=False) for s in sessions]
    # Presenting cities are never asked to present between midnight and 06:00 local time;
    # fairness then rotates what inconvenience remains.
    rules = SeriesRules(
        organizer_zone=zone,
        day_zone=zone,
        time_limit=time_limit,
        compare_unfair=True,
        quiet=("00:00", "06:00"),
    )
    try:
        plan = plan_series(inputs, rules)
    except SeriesInfeasible as error:
        raise UserError(error.message, details=list(error.conflicts)) from None
    outcome = SeriesOutcome(
        plan=plan, organizer_zone=zone, session_ids={str(s.id): s.id for s in sessions}
    )
    independent_starts = {s.key: _best_alone(inputs, s.key, rules) for s in inputs}
    presenters: dict[str, list[tuple[str, datetime, datetime]]] = {}
    double: dict[str, list[tuple[str, str]]] = {}
    alone: dict[str, list[tuple[str, str]]] = {}
    for city in sorted({a.key for s in inputs for a in s.attendees if a.presenting}):
        mine = [s for s in inputs if any(a.presenting and a.key == city for a in s.attendees)]
        if len(mine) < 2:
            continue
        placed = [(s.title, plan.fair.start_of(s.key), s.duration_minutes) for s in mine]
        presenters[city] = [
            (title, start, start + timedelta(minutes=d)) for title, start, d in placed
        ]
        double[city] = _overlaps(placed)
        alone[city] = _overlaps(
            [(s.title, independent_starts[s.key], s.duration_minutes) for s in mine]
        )
    return KickoffCheck(outcome, presenters, double, alone)


def _best_alone(inputs: list[SeriesSession], key: str, rules: SeriesRules) -> datetime:
    """The session's own best start, as if it were the only one (the slot finder's answer)."""
    only = [s for s in inputs if s.key == key]
    alone = replace(rules, compare_unfair=False, fairness_weight=0.0, share_weight=0.0)
    return plan_series(only, alone).fair.start_of(key)


def _overlaps(placed: list[tuple[str, datetime, int]]) -> list[tuple[str, str]]:
    found = []
    for i, (a, a_start, a_len) in enumerate(placed):
        for b, b_start, b_len in placed[i + 1 :]:
            a_end = a_start + timedelta(minutes=a_len)
            b_end = b_start + timedelta(minutes=b_len)
            if a_start < b_end and b_start < a_end:
                found.append((a, b))
    return found


def utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")
