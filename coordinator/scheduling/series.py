"""Plan a whole series of sessions at once: no double-booking, hard limits, shared night burden.

The slot finder (:mod:`coordinator.scheduling.slots`) ranks the starts of *one* session.  A
programme of sessions needs more: a city presenting in several working groups must never be
in two sessions at once, the secretariat wants at most ``K`` sessions a day and some rest
between them, and over a series the inconvenient hours should rotate instead of falling on
the same cities every time.  This module fixes all start times together with OR-Tools CP-SAT.

Model
=====

* **Candidates.**  Every session ``s`` may start at every ``step`` minutes on the UTC clock
  (the slot finder's grid) from its window start (rounded up) while it still ends inside its
  window.  A session with a ``fixed_start`` has exactly that one candidate: it stays.  One
  Boolean ``x[s, t]`` per candidate; exactly one is true per session.
* **Prices.**  ``cost[s, t] = sum(weight x comfort cost)`` over the session's participants,
  computed for all candidates at once with the comfort model's vectorised evaluator
  (:func:`coordinator.scheduling.comfort.score_starts`), exactly what the slot finder
  charges.  The comfort label of each participant for each candidate (working, early,
  evening, night: the worst band touched) and the weekend/holiday flags come from the same
  evaluator, run with one-band models.
* **Who cannot be in two places.**  Presenting members (``Attendee.presenting``) are hard:
  two sessions sharing one never overlap.  Observers are *soft* by default: they cost
  discomfort at their (lower) weight but do not block, because in practice every observer
  may follow every group (the kickoff lists all 25 observers in all five groups), so making
  them hard would forbid any two sessions to overlap; ``observers="hard"`` does exactly that
  when wanted.  The identity that cannot be doubled is ``Attendee.city`` (a city, or a
  delegate), so a delegate scored away from home still blocks their city.  Non-overlap is
  written as "at most one running session of the group at each candidate start", which is
  exact on a common grid (two intervals overlap iff the later start lies in the earlier).
* **Per day and gap.**  ``max_per_day`` counts sessions by the calendar date of their start
  in ``day_zone`` (the organizer's zone: the secretariat's working day).  ``min_gap_minutes``
  keeps *any* two sessions that far apart (0: no two sessions overlap at all).
* **Hard limits** bind the presenting members (or everyone with ``binding="everyone"``):
  ``quiet`` local hours (e.g. 00:00-05:00) a meeting may not touch, a ``max_cost`` for one
  person and one session, and ``weekends="exclude"`` (no local weekend day or public
  holiday).  A session no start can satisfy is reported with a minimal set of cities that
  cannot be satisfied together; a set of sessions that cannot be planned together is
  reported with a minimal set of constraints in conflict (CP-SAT assumptions, then
  deletion), never with a silent relaxation.
* **Series clock.**  Occurrences of one series (``SeriesSession.series``) either rotate
  freely (``keep="rotate"``, the default: that is how night hours can take turns), or all
  keep one UTC time of day (``keep="utc"``) or one organizer-local wall time
  (``keep="local"``).  Either way the plan lists, per series, whose local times move across
  clock changes, by how much and from which date (:func:`coordinator.timezones.transitions`).

Objective
=========

``discomfort + fairness``.  Discomfort is the sum of session costs.  Fairness looks at each
person (every scored participant with a known zone and a positive weight; observers are
included and counted *unweighted*, because losing sleep is the same for an observer) and
their burden ``u`` = 2 per night session + 1 per early-morning session, over the ``n``
sessions they attend::

    fairness = fairness_weight x sum over people of u**2 / n
             + share_weight x N x max over people (n >= 2) of nights / n

where ``N`` is the number of sessions planned.  The convex first term makes the marginal
price of one more night grow with the share of a person's sessions already at night, so bad
hours go to whoever has had fewest; the second caps the worst-off person (the convex term
alone lets two antipodal cities such as Denver and Auckland keep ~45 % of nights on the
benchmark).  The square is linearised exactly on the integers (one tangent per value of
``u``) and the maximum with one bound per person, so the LP relaxation stays tight.  The
"best plan without fairness" is the same model minimising discomfort only; both plans are
reported side by side, each priced with both terms.

Determinism
===========

CP-SAT runs with a fixed ``random_seed`` on one worker by default, with the full LP
relaxation (``linearization_level=2``): on the benchmark (60 sessions, 47 cities) that
proves optimality in a few seconds on one core, whereas two workers in CP-SAT's
deterministic parallel mode (``interleave_search``, used whenever ``workers > 1``) did not
close the gap within 10 s.  A run that ends on proven optimality or on
``deterministic_limit`` is reproducible; a run cut by the wall-clock ``time_limit`` returns
the best plan found so far (status ``FEASIBLE`` with its gap), which on a slower machine
may be a different, equally valid plan.

Everything here is pure: no database, no I/O.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import numpy as np
from ortools.sat.python import cp_model

from coordinator import timezones
from coordinator.scheduling.comfort import (
    DEFAULT_MODEL,
    EARLY,
    LABELS,
    NIGHT,
    Band,
    ComfortModel,
    score_starts,
)
from coordinator.scheduling.slots import Participant

__all__ = [
    "Attendee",
    "Burden",
    "ClockChange",
    "PlannedSession",
    "SeriesInfeasible",
    "SeriesPlan",
    "SeriesRules",
    "SeriesSession",
    "SolvedPlan",
    "greedy_plan",
    "plan_series",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = 86_400
_SCALE = 100  # objective integers are hundredths of a comfort point
_PER_MILLE = 1000
_UNITS = {NIGHT: 2, EARLY: 1}  # burden units per session, by comfort label
_LABEL_INDEX = {label: i for i, label in enumerate(LABELS)}
_NIGHT_CODE = _LABEL_INDEX[NIGHT]
_EARLY_CODE = _LABEL_INDEX[EARLY]


# --------------------------------------------------------------------------------------------
# inputs


@dataclass(frozen=True)
class Attendee:
    """Someone in a session: who is scored (zone, calendar, weight) and who cannot be doubled."""

    participant: Participant
    presenting: bool = True
    """A presenting member (hard constraints apply) or an observer (priced only)."""
    city: str | None = None
    """The identity that cannot be in two sessions at once; defaults to the participant's
    name.  A delegate scored away from home keeps their city here."""

    @property
    def key(self) -> str:
        return self.city or self.participant.name


@dataclass(frozen=True)
class SeriesSession:
    """One session to place (or already placed, with ``fixed_start``)."""

    key: str
    """Unique in the set (a session id, or a label for a draft occurrence)."""
    title: str
    duration_minutes: int
    window_start: datetime
    window_end: datetime
    attendees: tuple[Attendee, ...]
    fixed_start: datetime | None = None
    series: str | None = None
    """The recurring series this is an occurrence of (e.g. the working group)."""


@dataclass(frozen=True)
class SeriesRules:
    """Constraints, objective weights and solver settings."""

    step_minutes: int = 15
    max_per_day: int | None = None
    min_gap_minutes: int | None = None
    day_zone: str = "UTC"
    """Whose calendar day ``max_per_day`` counts in (the organizer's zone)."""
    organizer_zone: str = "UTC"
    """The wall clock ``keep="local"`` keeps."""
    keep: Literal["rotate", "utc", "local"] = "rotate"
    weekends: Literal["penalise", "exclude"] = "penalise"
    quiet: tuple[str, str] | None = None
    """Local hours no bound participant may be in a meeting, e.g. ``("00:00", "05:00")``."""
    max_cost: float | None = None
    """Highest comfort cost one bound participant may pay for one session."""
    binding: Literal["members", "everyone"] = "members"
    observers: Literal["soft", "hard"] = "soft"
    fairness_weight: float = 5.0
    """Points per unit of ``u**2 / sessions`` (see the module docstring)."""
    share_weight: float = 160.0
    """Points per session-equivalent of the worst night share: the term is
    ``share_weight x sessions in the plan x worst night share`` (module docstring)."""
    compare_unfair: bool = True
    """Also solve without fairness, for the comparison table."""
    time_limit: float = 10.0
    """Wall-clock seconds per solve; the best plan so far is returned at the limit."""
    deterministic_limit: float | None = None
    seed: int = 0
    workers: int = 1
    model: ComfortModel = DEFAULT_MODEL


# --------------------------------------------------------------------------------------------
# outputs


class SeriesInfeasible(ValueError):
    """No plan satisfies the constraints.  ``conflicts`` names them, one line each."""

    def __init__(self, message: str, conflicts: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.conflicts = tuple(conflicts)

    def __str__(self) -> str:
        return "\n".join([self.message, *(f"  {c}" for c in self.conflicts)])


@dataclass(frozen=True)
class PlannedSession:
    key: str
    title: str
    series: str | None
    start_utc: datetime
    end_utc: datetime
    fixed: bool
    cost: float
    comfort: dict[str, str]
    """Participant name -> comfort label at this start."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Burden:
    """How one person fared over the plan: sessions by comfort label."""

    name: str
    sessions: int
    working: int = 0
    early: int = 0
    evening: int = 0
    night: int = 0

    @property
    def night_share(self) -> float:
        return self.night / self.sessions if self.sessions else 0.0

    @property
    def units(self) -> int:
        return _UNITS[NIGHT] * self.night + _UNITS[EARLY] * self.early


@dataclass(frozen=True)
class SolvedPlan:
    sessions: tuple[PlannedSession, ...]
    status: str
    """``OPTIMAL``, ``FEASIBLE`` (stopped at a limit) or ``GREEDY``."""
    discomfort: float
    fairness: float
    """The fairness term (points), whether or not it was minimised."""
    bound: float | None
    """Best proven lower bound of the objective minimised (None for a greedy plan)."""
    solver_objective: float | None
    """The objective as the solver counted it (hundredths rounded), against ``bound``."""
    wall_time: float
    burdens: tuple[Burden, ...]
    fair: bool
    """Whether the fairness term was part of the objective."""

    @property
    def objective(self) -> float:
        return self.discomfort + self.fairness if self.fair else self.discomfort

    @property
    def total(self) -> float:
        """Discomfort plus fairness: the yardstick all plans are compared with."""
        return self.discomfort + self.fairness

    @property
    def gap(self) -> float | None:
        if self.bound is None or self.solver_objective is None:
            return None
        if self.solver_objective <= 1e-9:
            return 0.0
        return max(0.0, (self.solver_objective - self.bound) / self.solver_objective)

    @property
    def max_night_share(self) -> float:
        return max((b.night_share for b in self.burdens), default=0.0)

    def start_of(self, key: str) -> datetime:
        return next(s.start_utc for s in self.sessions if s.key == key)


@dataclass(frozen=True)
class ClockChange:
    """Local times that move inside a series, because clocks changed between two occurrences."""

    series: str
    cities: tuple[str, ...]
    """The participants whose local time moves (or whose offset changes, when rotating)."""
    zones: tuple[str, ...]
    """The zones whose clocks changed: the cities' own, or the organizer's under
    ``keep="local"``."""
    changed_on: date
    """Local date of the clock change."""
    offset_before: str
    offset_after: str
    first_session: str
    """Title of the first occurrence after the change."""
    first_start: datetime
    move: timedelta | None
    """How far the cities' local time of the series moves (None when the series rotates:
    every occurrence has its own time anyway)."""

    def text(self) -> str:
        who = ", ".join(self.cities)
        day = f"{self.first_start:%Y-%m-%d}"
        first = self.first_session if day in self.first_session else f"{self.first_session} ({day})"
        change = (
            f"clocks in {', '.join(self.zones)} change {self.offset_before} -> "
            f"{self.offset_after} on {self.changed_on:%Y-%m-%d}"
        )
        if self.move is None:
            return (
                f"{self.series}: {who}: {change}; from {first} on they are at "
                f"UTC{self.offset_after}"
            )
        return (
            f"{self.series}: {who}: local time moves {_signed(self.move)} from {first} on "
            f"({change})"
        )

    def to_dict(self) -> dict:
        return {
            "series": self.series,
            "cities": list(self.cities),
            "zones": list(self.zones),
            "changed_on": self.changed_on.isoformat(),
            "offset_before": self.offset_before,
            "offset_after": self.offset_after,
            "first_session": self.first_session,
            "first_start_utc": self.first_start.isoformat(),
            "move_minutes": None if self.move is None else int(self.move.total_seconds() // 60),
            "text": self.text(),
        }


@dataclass(frozen=True)
class SeriesPlan:
    fair: SolvedPlan
    unfair: SolvedPlan | None
    clock_changes: tuple[ClockChange, ...]
    warnings: tuple[str, ...]
    rules: SeriesRules
    candidates: int
    """Candidate starts considered, over all sessions."""


# --------------------------------------------------------------------------------------------
# preparation: candidates, prices, labels, hard limits


@dataclass
class _Prepared:
    sessions: list[SeriesSession]
    starts: list[np.ndarray]  # all candidate starts in the window (epoch seconds)
    allowed: list[np.ndarray]  # bool: passes every hard limit (fixed: the one start)
    cost: list[np.ndarray]  # weighted cost per candidate
    codes: list[dict[int, np.ndarray]]  # person index -> label code per candidate
    fails: list[dict[str, np.ndarray]]  # bound attendee key -> bool "violates" per candidate
    why: list[dict[str, set[str]]]  # bound attendee key -> which limits it ever violates
    people: list[str]  # fairness identities (participant names)
    attended: list[int]  # sessions per person
    day: list[np.ndarray]  # day number (in day_zone) per candidate
    clock: list[np.ndarray]  # series clock minute of day per candidate
    warnings: list[str]
    rules: SeriesRules
    fixed: list[bool] = field(default_factory=list)


def _epoch(instant: datetime) -> int:
    return int((instant - _EPOCH) // timedelta(seconds=1))


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(int(epoch), UTC)


def _signed(delta: timedelta) -> str:
    total = int(delta.total_seconds()) // 60
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total), 60)
    return f"{sign}{hours}:{minutes:02d}"


def _minutes(text: str, what: str) -> int:
    try:
        hours, minutes = text.strip().split(":")
        value = int(hours) * 60 + int(minutes)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a time of day like 05:00") from None
    if not 0 <= value <= 24 * 60 or not 0 <= int(minutes) < 60:
        raise ValueError(f"{what}: {text!r} is not a time of day between 00:00 and 24:00")
    return value


def _aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be an aware instant, got {value!r}")
    return value.astimezone(UTC)


def _check_rules(rules: SeriesRules) -> None:
    step = rules.step_minutes
    if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= 60 or 60 % step:
        raise ValueError(f"--step must be a number of minutes dividing 60, got {step!r}")
    if rules.max_per_day is not None and rules.max_per_day < 1:
        raise ValueError(f"--max-per-day must be at least 1, got {rules.max_per_day}")
    if rules.min_gap_minutes is not None and rules.min_gap_minutes < 0:
        raise ValueError(f"--min-gap must be 0 or more minutes, got {rules.min_gap_minutes}")
    for what, zone in (("--day-zone", rules.day_zone), ("--organizer-zone", rules.organizer_zone)):
        if not timezones.is_valid_zone(zone):
            raise ValueError(f"{what}: {zone!r} is not a time zone")
    if rules.keep not in ("rotate", "utc", "local"):
        raise ValueError(f"--keep must be rotate, utc or local, got {rules.keep!r}")
    if rules.weekends not in ("penalise", "exclude"):
        raise ValueError(f"--weekends must be penalise or exclude, got {rules.weekends!r}")
    if rules.binding not in ("members", "everyone"):
        raise ValueError(f"hard limits bind members or everyone, got {rules.binding!r}")
    if rules.observers not in ("soft", "hard"):
        raise ValueError(f"observers are soft or hard, got {rules.observers!r}")
    if rules.quiet is not None:
        start = _minutes(rules.quiet[0], "quiet hours start")
        end = _minutes(rules.quiet[1], "quiet hours end")
        if start == end:
            raise ValueError(f"quiet hours {rules.quiet[0]}-{rules.quiet[1]} are empty")
    if rules.max_cost is not None and not (math.isfinite(rules.max_cost) and rules.max_cost >= 0):
        raise ValueError(f"--max-cost must be a number >= 0, got {rules.max_cost!r}")
    for name in ("fairness_weight", "share_weight"):
        value = getattr(rules, name)
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name.replace('_', ' ')} must be >= 0, got {value!r}")
    if not rules.time_limit > 0:
        raise ValueError(f"--time-limit must be positive, got {rules.time_limit!r}")
    if rules.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {rules.workers!r}")


def _quiet_model(quiet: tuple[str, str]) -> ComfortModel:
    """A comfort model costing 1/h inside the quiet hours, 0 outside, no calendar penalties."""
    start, end = _minutes(quiet[0], "quiet"), _minutes(quiet[1], "quiet")
    inside = [(start, end)] if start < end else [(0, end), (start, 24 * 60)]
    cuts = sorted({0, 24 * 60, *(m for pair in inside for m in pair)})
    bands = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        rate = 1.0 if any(lo <= a and b <= hi for lo, hi in inside) else 0.0
        bands.append(Band(NIGHT if rate else LABELS[0], a, b, rate))
    return ComfortModel(bands=tuple(bands), weekend_penalty=0.0, holiday_penalty=0.0)


def _band_models(model: ComfortModel) -> list[tuple[int, ComfortModel]]:
    """``(label code, one-band model)`` per band, least severe first (the comfort model's
    tie-break: highest rate, then label order)."""
    order = sorted(
        range(len(model.bands)),
        key=lambda i: (model.bands[i].rate, _LABEL_INDEX[model.bands[i].label]),
    )
    result = []
    for i in order:
        bands = tuple(replace(b, rate=1.0 if j == i else 0.0) for j, b in enumerate(model.bands))
        one = ComfortModel(bands=bands, weekend_penalty=0.0, holiday_penalty=0.0)
        result.append((_LABEL_INDEX[model.bands[i].label], one))
    return result


_CALENDAR_MODEL = ComfortModel(
    bands=(Band(LABELS[0], 0, 24 * 60, 0.0),), weekend_penalty=1.0, holiday_penalty=2.0
)


def _grid(session: SeriesSession, step: int) -> np.ndarray:
    start = _epoch(session.window_start)
    end = _epoch(session.window_end)
    first = -(-start // step) * step
    last = end - session.duration_minutes * 60
    if last < first:
        return np.zeros(0, dtype=np.int64)
    return np.arange(first, last + 1, step, dtype=np.int64)


def _prepare(sessions: Sequence[SeriesSession], rules: SeriesRules) -> _Prepared:
    _check_rules(rules)
    sessions = list(sessions)
    if not sessions:
        raise ValueError("no sessions to plan")
    keys = [s.key for s in sessions]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise ValueError(f"session keys must be unique; repeated: {', '.join(duplicated)}")
    step = rules.step_minutes * 60
    warnings: list[str] = []

    starts: list[np.ndarray] = []
    fixed: list[bool] = []
    for s in sessions:
        if not isinstance(s.duration_minutes, int) or not 1 <= s.duration_minutes <= 24 * 60:
            raise ValueError(
                f"session {s.title!r}: duration must be 1 to 1440 minutes, got {s.duration_minutes!r}"
            )
        ws = _aware(s.window_start, f"session {s.title!r}: window start")
        we = _aware(s.window_end, f"session {s.title!r}: window end")
        if s.fixed_start is not None:
            starts.append(np.array([_epoch(_aware(s.fixed_start, "fixed start"))], dtype=np.int64))
            fixed.append(True)
            continue
        if we - ws < timedelta(minutes=s.duration_minutes):
            raise ValueError(
                f"session {s.title!r}: its window {ws:%Y-%m-%d %H:%M}Z-{we:%Y-%m-%d %H:%M}Z is "
                f"shorter than its duration ({s.duration_minutes} minutes)"
            )
        grid = _grid(s, step)
        if grid.size == 0:
            raise ValueError(
                f"session {s.title!r}: no start on the {rules.step_minutes}-minute grid fits "
                "in its window"
            )
        starts.append(grid)
        fixed.append(False)

    # People: every scored participant with a known zone.
    people: list[str] = []
    person_index: dict[str, int] = {}
    unknown: set[str] = set()
    canonical: dict[str, str] = {}
    for s in sessions:
        for a in s.attendees:
            p = a.participant
            if not isinstance(p.weight, int | float) or not math.isfinite(p.weight) or p.weight < 0:
                raise ValueError(f"participant {p.name!r}: weight must be >= 0, got {p.weight!r}")
            if p.zone is None or str(p.zone).strip().lower() == timezones.UNKNOWN_ZONE:
                unknown.add(p.name)
                continue
            try:
                canonical[p.zone] = timezones.canonical_zone(p.zone)
            except timezones.UnknownZoneError as error:
                raise ValueError(f"participant {p.name!r}: {error}") from None
            if p.weight > 0 and p.name not in person_index:
                person_index[p.name] = len(people)
                people.append(p.name)
    if unknown:
        warnings.append(
            f"time zone unknown for {', '.join(sorted(unknown))}: left out of scoring "
            "(they still cannot be in two sessions at once)"
        )

    # Batch the evaluator: one call per (calendar key, duration) over all sessions' starts.
    def batched(keyed: dict[tuple, list[int]], model_for) -> dict[tuple[tuple, int], np.ndarray]:
        out: dict[tuple[tuple, int], np.ndarray] = {}
        for key, members in keyed.items():
            zone, country, subdivision, duration = key
            joined = np.concatenate([starts[i] for i in members])
            values = score_starts(
                joined,
                duration * 60,
                zone,
                country=country,
                subdivision=subdivision,
                model=model_for,
            )
            offset = 0
            for i in members:
                n = starts[i].size
                out[(key, i)] = values[offset : offset + n]
                offset += n
        return out

    def calendar_key(p: Participant, duration: int) -> tuple:
        country = p.country.strip().upper() if p.country and p.country.strip() else None
        subdivision = str(p.subdivision).strip() if country and p.subdivision else None
        return (canonical[p.zone], country, subdivision, duration)

    by_calendar: dict[tuple, list[int]] = defaultdict(list)
    by_zone: dict[tuple, list[int]] = defaultdict(list)
    for i, s in enumerate(sessions):
        for a in s.attendees:
            if a.participant.name in unknown:
                continue
            ck = calendar_key(a.participant, s.duration_minutes)
            if i not in by_calendar[ck]:
                by_calendar[ck].append(i)
            zk = (ck[0], None, None, s.duration_minutes)
            if i not in by_zone[zk]:
                by_zone[zk].append(i)

    prices = batched(by_calendar, rules.model)
    label_codes: dict[tuple[tuple, int], np.ndarray] = {}
    for code, one in _band_models(rules.model):
        touched = batched(by_zone, one)
        for k, values in touched.items():
            current = label_codes.setdefault(k, np.zeros(values.shape, dtype=np.int8))
            current[values > 0] = code
    quiet = batched(by_zone, _quiet_model(rules.quiet)) if rules.quiet else {}
    calendar = batched(by_calendar, _CALENDAR_MODEL) if rules.weekends == "exclude" else {}

    costs: list[np.ndarray] = []
    codes: list[dict[int, np.ndarray]] = []
    allowed: list[np.ndarray] = []
    fails: list[dict[str, np.ndarray]] = []
    why: list[dict[str, set[str]]] = []
    attended = [0] * len(people)
    for i, s in enumerate(sessions):
        n = starts[i].size
        total = np.zeros(n, dtype=np.float64)
        session_codes: dict[int, np.ndarray] = {}
        session_fails: dict[str, np.ndarray] = {}
        session_why: dict[str, set[str]] = {}
        for a in s.attendees:
            p = a.participant
            if p.name in unknown:
                continue
            ck = calendar_key(p, s.duration_minutes)
            zk = (ck[0], None, None, s.duration_minutes)
            own = prices[(ck, i)]
            total += p.weight * own
            if p.name in person_index and person_index[p.name] not in session_codes:
                session_codes[person_index[p.name]] = label_codes[(zk, i)]
            if rules.binding == "members" and not a.presenting:
                continue
            bad = np.zeros(n, dtype=bool)
            reasons = session_why.setdefault(a.key, set())
            if rules.quiet:
                hit = quiet[(zk, i)] > 0
                if hit.any():
                    reasons.add(f"no local time in {rules.quiet[0]}-{rules.quiet[1]}")
                bad |= hit
            if rules.max_cost is not None:
                hit = own > rules.max_cost + 1e-9
                if hit.any():
                    reasons.add(f"comfort cost at most {rules.max_cost:g}")
                bad |= hit
            if rules.weekends == "exclude":
                hit = calendar[(ck, i)] > 0
                if hit.any():
                    reasons.add("no local weekend or public holiday")
                bad |= hit
            previous = session_fails.get(a.key)
            session_fails[a.key] = bad if previous is None else (previous | bad)
        for person in session_codes:
            attended[person] += 1
        ok = np.ones(n, dtype=bool)
        if not fixed[i]:
            for bad in session_fails.values():
                ok &= ~bad
        elif any(bad[0] for bad in session_fails.values()):
            names = sorted(k for k, bad in session_fails.items() if bad[0])
            warnings.append(
                f"session {s.title!r} is fixed at {_at(starts[i][0]):%Y-%m-%d %H:%M}Z although "
                f"it breaks the hard limits for {', '.join(names)}; it stays"
            )
        costs.append(total)
        codes.append(session_codes)
        allowed.append(ok)
        fails.append(session_fails)
        why.append(session_why)

    # Days (in day_zone) and series clock (UTC or organizer-local minute of the day).
    day: list[np.ndarray] = []
    clock: list[np.ndarray] = []
    for i in range(len(sessions)):
        local = starts[i] + timezones.offsets_at(rules.day_zone, starts[i])
        day.append(np.floor_divide(local, _DAY))
        if rules.keep == "local":
            wall = starts[i] + timezones.offsets_at(rules.organizer_zone, starts[i])
        else:
            wall = starts[i]
        clock.append(np.mod(wall, _DAY) // 60)

    return _Prepared(
        sessions=sessions,
        starts=starts,
        allowed=allowed,
        cost=costs,
        codes=codes,
        fails=fails,
        why=why,
        people=people,
        attended=attended,
        day=day,
        clock=clock,
        warnings=warnings,
        rules=rules,
        fixed=fixed,
    )


# --------------------------------------------------------------------------------------------
# feasibility of each session alone


def _window_text(s: SeriesSession) -> str:
    ws, we = s.window_start.astimezone(UTC), s.window_end.astimezone(UTC)
    return f"{ws:%Y-%m-%d %H:%M}Z-{we:%Y-%m-%d %H:%M}Z"


def _check_sessions_alone(prep: _Prepared) -> None:
    problems: list[str] = []
    for i, s in enumerate(prep.sessions):
        if prep.fixed[i] or prep.allowed[i].any():
            continue
        fails = prep.fails[i]
        # Deletion: a minimal set of bound people who cannot all be satisfied together.
        chosen = sorted(k for k, bad in fails.items() if bad.any())
        for name in list(chosen):
            rest = [k for k in chosen if k != name]
            ok = np.ones(prep.starts[i].size, dtype=bool)
            for k in rest:
                ok &= ~fails[k]
            if not ok.any():
                chosen = rest
        limits = sorted({reason for k in chosen for reason in prep.why[i].get(k, ())})
        who = chosen[0] if len(chosen) == 1 else ", ".join(chosen[:-1]) + " and " + chosen[-1]
        alone = " alone" if len(chosen) == 1 else " together"
        problems.append(
            f"session {s.title!r} (window {_window_text(s)}): no start satisfies "
            f"{who}{alone} ({'; '.join(limits)})"
        )
    if problems:
        raise SeriesInfeasible(
            f"hard limits cannot be met for {len(problems)} session(s); relax the limits or "
            "widen the windows",
            problems,
        )


# --------------------------------------------------------------------------------------------
# the CP-SAT model


@dataclass
class _Built:
    model: cp_model.CpModel
    x: list[dict[int, cp_model.IntVar]]  # session -> candidate index -> literal
    discomfort: cp_model.LinearExpr
    fairness: cp_model.LinearExpr | None
    assumptions: dict[int, str]  # literal index -> what it stands for (diagnosis only)
    literals: list[cp_model.IntVar]


def _conflict_groups(
    prep: _Prepared, *, dedupe: bool = True
) -> list[tuple[tuple[str, ...], tuple[int, ...]]]:
    """``(who, sessions)``: the sessions each hard attendee is in (two or more), one entry per
    distinct set with everyone who is in exactly those sessions.  With ``dedupe`` a set
    contained in a larger one is dropped (the larger constraint implies it)."""
    sessions_of: dict[str, set[int]] = defaultdict(set)
    for i, s in enumerate(prep.sessions):
        for a in s.attendees:
            if a.presenting or prep.rules.observers == "hard":
                sessions_of[a.key].add(i)
    by_set: dict[frozenset[int], list[str]] = defaultdict(list)
    for who, found in sessions_of.items():
        if len(found) >= 2:
            by_set[frozenset(found)].append(who)
    sets = sorted(by_set, key=lambda f: (-len(f), sorted(f)))
    kept: list[frozenset[int]] = []
    for candidate in sets:
        if not dedupe or not any(candidate <= bigger for bigger in kept):
            kept.append(candidate)
    return [(tuple(sorted(by_set[found])), tuple(sorted(found))) for found in kept]


def _session_name(prep: _Prepared, i: int) -> str:
    s = prep.sessions[i]
    if prep.fixed[i]:
        return f"{s.title!r} (fixed at {_at(int(prep.starts[i][0])):%Y-%m-%d %H:%M}Z)"
    return f"{s.title!r} (window {_window_text(s)})"


def _no_overlap(
    model: cp_model.CpModel,
    prep: _Prepared,
    x: list[dict[int, cp_model.IntVar]],
    members: Sequence[int],
    extra_seconds: int,
    enforce_for: Callable[[list[int]], cp_model.IntVar | None],
) -> None:
    """At most one of ``members`` running at each candidate start (with ``extra`` seconds of
    rest after each).  Sessions whose possible spans cannot meet are left apart; each
    cluster of sessions that can is enforced by ``enforce_for(cluster)`` (None: always)."""
    spans = []
    for i in members:
        idx = np.array(sorted(x[i]), dtype=np.int64)
        if idx.size == 0:
            continue
        s_starts = prep.starts[i][idx]
        length = prep.sessions[i].duration_minutes * 60 + extra_seconds
        spans.append((int(s_starts[0]), int(s_starts[-1]) + length, i, idx, s_starts, length))
    spans.sort()
    # Components of sessions whose possible spans overlap; only they can conflict.
    components: list[list[tuple]] = []
    reach = None
    for span in spans:
        if reach is None or span[0] >= reach:
            components.append([span])
            reach = span[1]
        else:
            components[-1].append(span)
            reach = max(reach, span[1])
    for component in components:
        if len(component) < 2:
            continue
        enforce = enforce_for(sorted(c[2] for c in component))
        points = np.unique(np.concatenate([c[4] for c in component]))
        seen: set[tuple] = set()
        for tau in points.tolist():
            literals = []
            owners = 0
            for _, _, i, idx, s_starts, length in component:
                lo = int(np.searchsorted(s_starts, tau - length, side="right"))
                hi = int(np.searchsorted(s_starts, tau, side="right"))
                if hi > lo:
                    owners += 1
                    literals.extend(x[i][int(j)] for j in idx[lo:hi])
            if owners < 2:
                continue
            signature = tuple(sorted(lit.Index() for lit in literals))
            if signature in seen:
                continue
            seen.add(signature)
            if enforce is None:
                model.AddAtMostOne(literals)
            else:
                model.Add(sum(literals) <= 1).OnlyEnforceIf(enforce)


def _build(prep: _Prepared, *, fair: bool, diagnose: bool = False) -> _Built:
    rules = prep.rules
    model = cp_model.CpModel()
    assumptions: dict[int, str] = {}
    literals: list[cp_model.IntVar] = []

    def assumption(text: str) -> cp_model.IntVar | None:
        if not diagnose:
            return None
        lit = model.NewBoolVar(text)
        assumptions[lit.Index()] = text
        literals.append(lit)
        return lit

    x: list[dict[int, cp_model.IntVar]] = []
    for i in range(len(prep.sessions)):
        usable = np.ones_like(prep.allowed[i]) if diagnose else prep.allowed[i]
        x_i = {int(j): model.NewBoolVar(f"x{i}_{j}") for j in np.flatnonzero(usable)}
        model.AddExactlyOne(x_i.values())
        x.append(x_i)
        if diagnose and not prep.allowed[i].all():
            limit = assumption(
                f"hard limits for session {_session_name(prep, i)}: {_limit_text(prep, i)}"
            )
            for j, lit in x_i.items():
                if not prep.allowed[i][j]:
                    model.AddImplication(limit, lit.Not())

    def titles(cluster: list[int]) -> str:
        return ", ".join(_session_name(prep, i) for i in cluster)

    for who, members in _conflict_groups(prep, dedupe=not diagnose):
        names = ", ".join(who[:4]) + (f" and {len(who) - 4} more" if len(who) > 4 else "")
        verb = "is" if len(who) == 1 else "are"
        _no_overlap(
            model,
            prep,
            x,
            members,
            0,
            lambda cluster, names=names, verb=verb: assumption(
                f"{names} {verb} in {titles(cluster)}: never two at once"
            ),
        )
    if rules.min_gap_minutes is not None:
        gap = rules.min_gap_minutes
        _no_overlap(
            model,
            prep,
            x,
            range(len(prep.sessions)),
            gap * 60,
            lambda cluster: assumption(
                f"at least {gap} minutes between any two of {titles(cluster)}"
                if gap
                else f"no two of {titles(cluster)} at once (--min-gap 0)"
            ),
        )
    if rules.max_per_day is not None:
        per_day: dict[int, list[cp_model.IntVar]] = defaultdict(list)
        sessions_on: dict[int, set[int]] = defaultdict(set)
        for i, x_i in enumerate(x):
            for j, lit in x_i.items():
                d = int(prep.day[i][j])
                per_day[d].append(lit)
                sessions_on[d].add(i)
        for d in sorted(per_day):
            if len(sessions_on[d]) <= rules.max_per_day:
                continue
            when = date(1970, 1, 1) + timedelta(days=d)
            lit = assumption(
                f"at most {rules.max_per_day} session(s) on {when:%Y-%m-%d} ({rules.day_zone}), "
                f"a day open to {titles(sorted(sessions_on[d]))}"
            )
            constraint = model.Add(sum(per_day[d]) <= rules.max_per_day)
            if lit is not None:
                constraint.OnlyEnforceIf(lit)
    if rules.keep in ("utc", "local"):
        by_series: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(prep.sessions):
            if s.series is not None:
                by_series[s.series].append(i)
        clock_name = "UTC" if rules.keep == "utc" else f"{rules.organizer_zone} wall-clock"
        for name, members in sorted(by_series.items()):
            if len(members) < 2:
                continue
            lit = assumption(f"series {name!r} keeps one {clock_name} time")
            minutes = sorted({int(prep.clock[i][j]) for i in members for j in x[i]})
            y = {m: model.NewBoolVar(f"clock_{name}_{m}") for m in minutes}
            model.AddExactlyOne(y.values())
            for i in members:
                for j, lit_x in x[i].items():
                    implication = model.AddImplication(lit_x, y[int(prep.clock[i][j])])
                    if lit is not None:
                        implication.OnlyEnforceIf(lit)
    discomfort = cp_model.LinearExpr.WeightedSum(
        [lit for i, x_i in enumerate(x) for lit in x_i.values()],
        [int(round(prep.cost[i][j] * _SCALE)) for i, x_i in enumerate(x) for j in x_i],
    )
    fairness = _fairness(model, prep, x) if fair else None
    objective = discomfort + fairness if fairness is not None else discomfort
    model.Minimize(objective)
    return _Built(model, x, discomfort, fairness, assumptions, literals)


def _limit_text(prep: _Prepared, i: int) -> str:
    reasons = sorted({r for k, rs in prep.why[i].items() for r in rs})
    return "; ".join(reasons)


def _fairness_units(prep: _Prepared, i: int, person: int) -> np.ndarray:
    codes = prep.codes[i][person]
    return np.where(
        codes == _NIGHT_CODE, _UNITS[NIGHT], np.where(codes == _EARLY_CODE, _UNITS[EARLY], 0)
    )


def _fairness_groups(prep: _Prepared) -> list[tuple[list[int], int]]:
    """People with identical burden in every plan (same sessions, same labels) share one
    variable: ``(people, multiplicity)`` with the representative first."""
    groups: dict[tuple, list[int]] = {}
    for person in range(len(prep.people)):
        signature = tuple(
            (i, _fairness_units(prep, i, person).tobytes())
            for i in range(len(prep.sessions))
            if person in prep.codes[i]
        )
        groups.setdefault(signature, []).append(person)
    return [(members, len(members)) for members in groups.values()]


def _fairness(
    model: cp_model.CpModel, prep: _Prepared, x: list[dict[int, cp_model.IntVar]]
) -> cp_model.LinearExpr | None:
    weight = int(round(prep.rules.fairness_weight * _SCALE))
    if not prep.people:
        return None
    terms = []
    for members, multiplicity in _fairness_groups(prep):
        person = members[0]
        lits, coefs = [], []
        for i, x_i in enumerate(x):
            if person not in prep.codes[i]:
                continue
            units = _fairness_units(prep, i, person)
            for j, lit in x_i.items():
                if units[j]:
                    lits.append(lit)
                    coefs.append(int(units[j]))
        n = prep.attended[person]
        if not lits or n == 0:
            continue
        # Highest burden reachable: the worst candidate of each session.
        top = sum(
            int(max(_fairness_units(prep, i, person)[j] for j in x_i))
            for i, x_i in enumerate(x)
            if person in prep.codes[i] and x_i
        )
        if top == 0 or weight == 0:
            continue
        u = model.NewIntVar(0, top, f"u_{person}")
        model.Add(u == cp_model.LinearExpr.WeightedSum(lits, coefs))
        # penalty * n >= weight * u^2, linearised with tangents at every integer k:
        # u^2 >= (2k + 1) u - k(k + 1).
        penalty = model.NewIntVar(0, (weight * top * top) // n + 1, f"pen_{person}")
        for k in range(top):
            model.Add(penalty * n >= weight * ((2 * k + 1) * u - k * (k + 1)))
        terms.append((penalty, multiplicity))
    share_weight = int(round(prep.rules.share_weight * len(prep.sessions) * _SCALE / _PER_MILLE))
    if share_weight:
        worst = model.NewIntVar(0, _PER_MILLE, "worst_night_share")
        for members, _ in _fairness_groups(prep):
            person = members[0]
            n = prep.attended[person]
            if n < 2:
                continue
            lits = [
                lit
                for i, x_i in enumerate(x)
                if person in prep.codes[i]
                for j, lit in x_i.items()
                if prep.codes[i][person][j] == _NIGHT_CODE
            ]
            if lits:
                model.Add(worst * n >= _PER_MILLE * sum(lits))
        terms.append((worst, share_weight))
    if not terms:
        return None
    return cp_model.LinearExpr.WeightedSum([t for t, _ in terms], [m for _, m in terms])


def _parameters(rules: SeriesRules, time_limit: float | None = None) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    parameters = solver.parameters
    parameters.random_seed = rules.seed
    parameters.num_workers = rules.workers
    # One worker is deterministic; several are made so by interleaving their search.
    parameters.interleave_search = rules.workers > 1
    # The full LP relaxation (with the fairness tangents) is what closes the gap here.
    parameters.linearization_level = 2
    parameters.max_time_in_seconds = time_limit if time_limit is not None else rules.time_limit
    if rules.deterministic_limit is not None:
        parameters.max_deterministic_time = rules.deterministic_limit
    return solver


# --------------------------------------------------------------------------------------------
# evaluating a choice (shared by the solver's plans and the greedy baseline)


def _fairness_value(prep: _Prepared, burdens: Sequence[Burden]) -> float:
    """The fairness term of a plan, as the solver prices it (module docstring)."""
    w = prep.rules.fairness_weight
    convex = sum(w * b.units * b.units / b.sessions for b in burdens if b.sessions > 0)
    worst = max((b.night_share for b in burdens if b.sessions >= 2), default=0.0)
    return convex + prep.rules.share_weight * len(prep.sessions) * worst


def _evaluate(
    prep: _Prepared,
    choice: Sequence[int],
    *,
    status: str,
    bound: float | None,
    wall_time: float,
    fair: bool,
    solver_objective: float | None = None,
) -> SolvedPlan:
    counts = [[0, 0, 0, 0] for _ in prep.people]
    planned = []
    discomfort = 0.0
    for i, j in enumerate(choice):
        s = prep.sessions[i]
        start = _at(int(prep.starts[i][j]))
        comfort: dict[str, str] = {}
        for person, codes in prep.codes[i].items():
            code = int(codes[j])
            counts[person][code] += 1
            comfort[prep.people[person]] = LABELS[code]
        cost = float(prep.cost[i][j])
        discomfort += cost
        planned.append(
            PlannedSession(
                key=s.key,
                title=s.title,
                series=s.series,
                start_utc=start,
                end_utc=start + timedelta(minutes=s.duration_minutes),
                fixed=prep.fixed[i],
                cost=cost,
                comfort=comfort,
            )
        )
    burdens = tuple(
        Burden(
            name=name,
            sessions=prep.attended[p],
            working=counts[p][_LABEL_INDEX["working"]],
            early=counts[p][_LABEL_INDEX["early"]],
            evening=counts[p][_LABEL_INDEX["evening"]],
            night=counts[p][_LABEL_INDEX["night"]],
        )
        for p, name in enumerate(prep.people)
    )
    fairness = _fairness_value(prep, burdens)
    return SolvedPlan(
        sessions=tuple(planned),
        status=status,
        discomfort=discomfort,
        fairness=fairness,
        bound=bound,
        solver_objective=solver_objective,
        wall_time=wall_time,
        burdens=burdens,
        fair=fair,
    )


# --------------------------------------------------------------------------------------------
# solving


_STATUS = {cp_model.OPTIMAL: "OPTIMAL", cp_model.FEASIBLE: "FEASIBLE"}


def _solve(
    prep: _Prepared, *, fair: bool, hint: Sequence[int] | None = None
) -> tuple[SolvedPlan, list[int]] | None:
    """Solve: the plan and the chosen candidate per session; ``None`` if proven infeasible;
    :class:`SeriesInfeasible` if nothing was found in time."""
    built = _build(prep, fair=fair)
    if hint is not None:
        for i, j in enumerate(hint):
            for k, lit in built.x[i].items():
                built.model.AddHint(lit, k == j)
    solver = _parameters(prep.rules)
    began = time.perf_counter()
    status = solver.Solve(built.model)
    elapsed = time.perf_counter() - began
    if status == cp_model.INFEASIBLE:
        return None
    if status not in _STATUS:
        raise SeriesInfeasible(
            f"no plan found within the time limit ({prep.rules.time_limit:g} s) and none "
            "proven impossible; allow more time (--time-limit)"
        )
    choice = [next(j for j, lit in x_i.items() if solver.BooleanValue(lit)) for x_i in built.x]
    plan = _evaluate(
        prep,
        choice,
        status=_STATUS[status],
        bound=solver.BestObjectiveBound() / _SCALE,
        wall_time=elapsed,
        fair=fair,
        solver_objective=solver.ObjectiveValue() / _SCALE,
    )
    return plan, choice


def _diagnose(prep: _Prepared) -> list[str]:
    """A minimal set of constraints that cannot hold together (CP-SAT assumptions, then
    deletion)."""
    built = _build(prep, fair=False, diagnose=True)
    model = built.model
    remaining = list(built.literals)

    def infeasible(subset: list[cp_model.IntVar]) -> bool:
        model.ClearAssumptions()
        model.AddAssumptions(subset)
        solver = _parameters(prep.rules, time_limit=min(prep.rules.time_limit, 5.0))
        solver.parameters.num_workers = 1
        solver.parameters.interleave_search = False
        solver.parameters.linearization_level = 1
        status = solver.Solve(model)
        if status == cp_model.INFEASIBLE:
            core = set(solver.SufficientAssumptionsForInfeasibility())
            if core:
                subset[:] = [lit for lit in subset if lit.Index() in core]
            return True
        return False

    if not infeasible(remaining):
        return ["the constraints only conflict within the time limit; allow more time"]
    budget = time.perf_counter() + max(2.0, prep.rules.time_limit)
    for lit in list(remaining):
        if time.perf_counter() > budget or lit not in remaining:
            continue
        trial = [other for other in remaining if other is not lit]
        if infeasible(trial):
            remaining = trial
    return [built.assumptions[lit.Index()] for lit in remaining]


def plan_series(sessions: Sequence[SeriesSession], rules: SeriesRules | None = None) -> SeriesPlan:
    """Fix every start of ``sessions`` together (see the module docstring).

    Raises ``ValueError`` for bad input (naming the option or session), and
    :class:`SeriesInfeasible` (a ``ValueError`` too) when the constraints cannot all hold,
    with the sessions, cities and constraints in conflict.
    """
    rules = rules or SeriesRules()
    prep = _prepare(sessions, rules)
    _check_sessions_alone(prep)

    unfair = None
    unfair_choice = None
    fair_wanted = (rules.fairness_weight > 0 or rules.share_weight > 0) and bool(prep.people)
    if rules.compare_unfair or not fair_wanted:
        solved = _solve(prep, fair=False)
        if solved is None:
            _raise_infeasible(prep)
        unfair, unfair_choice = solved
    if fair_wanted:
        solved = _solve(prep, fair=True, hint=unfair_choice)
        if solved is None:
            _raise_infeasible(prep)
        fair, _ = solved
    else:
        fair = unfair
    assert fair is not None
    fair = _with_notes(prep, fair)
    if unfair is not None and unfair is not fair:
        unfair = _with_notes(prep, unfair)
    changes = clock_changes(fair, prep.sessions, rules)
    return SeriesPlan(
        fair=fair,
        unfair=unfair if (unfair is not fair) else None,
        clock_changes=tuple(changes),
        warnings=tuple(prep.warnings),
        rules=rules,
        candidates=int(sum(int(a.sum()) for a in prep.allowed)),
    )


def _raise_infeasible(prep: _Prepared):
    conflicts = _diagnose(prep)
    raise SeriesInfeasible(
        f"the {len(prep.sessions)} sessions cannot be planned together: these constraints "
        "are in conflict",
        conflicts,
    )


def _with_notes(prep: _Prepared, plan: SolvedPlan) -> SolvedPlan:
    """Weekend and holiday notes for each placed session (from the comfort model)."""
    notes_by_key: dict[str, tuple[str, ...]] = {}
    calendar = ComfortModel(bands=_CALENDAR_MODEL.bands, weekend_penalty=1.0, holiday_penalty=2.0)
    for planned, s in zip(plan.sessions, prep.sessions, strict=True):
        found: dict[str, list[str]] = {"weekend": [], "holiday": []}
        start = np.array([_epoch(planned.start_utc)], dtype=np.int64)
        for a in s.attendees:
            p = a.participant
            if p.zone is None or p.zone.strip().lower() == timezones.UNKNOWN_ZONE:
                continue
            flag = int(
                score_starts(
                    start,
                    s.duration_minutes * 60,
                    p.zone,
                    country=p.country,
                    subdivision=p.subdivision,
                    model=calendar,
                )[0]
            )
            if flag & 1 and p.name not in found["weekend"]:
                found["weekend"].append(p.name)
            if flag & 2 and p.name not in found["holiday"]:
                found["holiday"].append(p.name)
        notes = []
        if found["weekend"]:
            notes.append("weekend for " + ", ".join(found["weekend"]))
        if found["holiday"]:
            notes.append("public holiday for " + ", ".join(found["holiday"]))
        notes_by_key[planned.key] = tuple(notes)
    return replace(
        plan, sessions=tuple(replace(p, notes=notes_by_key[p.key]) for p in plan.sessions)
    )


# --------------------------------------------------------------------------------------------
# the greedy baseline


def greedy_plan(sessions: Sequence[SeriesSession], rules: SeriesRules | None = None) -> SolvedPlan:
    """One session at a time, in order of window start: the cheapest start that keeps every
    hard constraint with the sessions already placed.  The benchmark's baseline; raises
    :class:`SeriesInfeasible` when it paints itself into a corner."""
    rules = rules or SeriesRules()
    prep = _prepare(sessions, rules)
    _check_sessions_alone(prep)
    began = time.perf_counter()
    hard: dict[int, set[str]] = defaultdict(set)
    for i, s in enumerate(prep.sessions):
        for a in s.attendees:
            if a.presenting or rules.observers == "hard":
                hard[i].add(a.key)
    gap = rules.min_gap_minutes
    placed: dict[int, int] = {}
    per_day: dict[int, int] = defaultdict(int)
    series_clock: dict[str, int] = {}
    order = sorted(
        range(len(prep.sessions)),
        key=lambda i: (not prep.fixed[i], int(prep.starts[i][0]), i),
    )
    for i in order:
        s = prep.sessions[i]
        length = s.duration_minutes * 60
        best = None
        for j in np.argsort(prep.cost[i], kind="stable").tolist():
            if not prep.allowed[i][j]:
                continue
            start = int(prep.starts[i][j])
            if rules.max_per_day is not None and per_day[int(prep.day[i][j])] >= rules.max_per_day:
                continue
            if (
                rules.keep in ("utc", "local")
                and s.series in series_clock
                and series_clock[s.series] != int(prep.clock[i][j])
            ):
                continue
            clash = False
            for k, other in placed.items():
                other_start = int(prep.starts[k][other])
                other_length = prep.sessions[k].duration_minutes * 60
                shared = hard[i] & hard[k]
                rest = gap * 60 if gap is not None else None
                if shared or rest is not None:
                    pad = rest or 0
                    if (
                        start < other_start + other_length + pad
                        and other_start < start + length + pad
                    ):
                        clash = True
                        break
            if not clash:
                best = j
                break
        if best is None:
            raise SeriesInfeasible(
                f"the greedy plan found no start for {s.title!r} after placing "
                f"{len(placed)} session(s)"
            )
        placed[i] = best
        per_day[int(prep.day[i][best])] += 1
        if s.series is not None:
            series_clock.setdefault(s.series, int(prep.clock[i][best]))
    choice = [placed[i] for i in range(len(prep.sessions))]
    return _evaluate(
        prep, choice, status="GREEDY", bound=None, wall_time=time.perf_counter() - began, fair=False
    )


# --------------------------------------------------------------------------------------------
# clock changes across a series


def clock_changes(
    plan: SolvedPlan, sessions: Iterable[SeriesSession], rules: SeriesRules
) -> list[ClockChange]:
    """Whose local time moves inside each series of ``plan``, by how much, from when.

    Between two consecutive occurrences of a series, with ``keep="utc"`` a participant's
    local time moves by the change of their own UTC offset; with ``keep="local"`` by the
    change of their offset minus the organizer's (so cities without summer time move when
    the organizer's clocks change); with ``keep="rotate"`` every change of a participant's
    offset is listed (times rotate anyway; the note says from when the new offset applies).
    Clock changes come from :func:`coordinator.timezones.transitions`.
    """
    by_key = {s.key: s for s in sessions}
    series: dict[str, list[tuple[datetime, SeriesSession]]] = defaultdict(list)
    for planned in plan.sessions:
        s = by_key[planned.key]
        if s.series is not None:
            series[s.series].append((planned.start_utc, s))
    changes: list[ClockChange] = []
    for name in sorted(series):
        occurrences = sorted(series[name], key=lambda pair: (pair[0], pair[1].key))
        grouped: dict[tuple, tuple[list[str], list[str]]] = {}
        for (a_start, _), (b_start, b) in zip(occurrences, occurrences[1:], strict=False):
            org_delta = timedelta(0)
            if rules.keep == "local":
                org_delta = timezones.utc_offset(
                    b_start, rules.organizer_zone
                ) - timezones.utc_offset(a_start, rules.organizer_zone)
            names_in: dict[str, list[str]] = defaultdict(list)
            for attendee in b.attendees:
                p = attendee.participant
                if p.zone is None or p.zone.strip().lower() == timezones.UNKNOWN_ZONE:
                    continue
                zone = timezones.canonical_zone(p.zone)
                if p.name not in names_in[zone]:
                    names_in[zone].append(p.name)
            for zone, names in names_in.items():
                own = timezones.transitions(zone, a_start, b_start)
                if rules.keep == "rotate":
                    move = None
                    cause_zone, cause = zone, own
                else:
                    delta = timezones.utc_offset(b_start, zone) - timezones.utc_offset(
                        a_start, zone
                    )
                    move = delta - org_delta
                    if move == timedelta(0):
                        continue
                    cause_zone, cause = zone, own
                    if not own:
                        cause_zone = rules.organizer_zone
                        cause = timezones.transitions(cause_zone, a_start, b_start)
                if not cause:
                    continue
                first, last = cause[0], cause[-1]
                key = (
                    b_start,
                    b.key,
                    timezones.to_local(first.at_utc, cause_zone).date(),
                    timezones.format_offset(first.offset_before),
                    timezones.format_offset(last.offset_after),
                    move,
                )
                cities, zones = grouped.setdefault(key, ([], []))
                cities.extend(n for n in names if n not in cities)
                if cause_zone not in zones:
                    zones.append(cause_zone)
        for key, (cities, zones) in grouped.items():
            b_start, b_key, changed_on, before, after, move = key
            changes.append(
                ClockChange(
                    series=name,
                    cities=tuple(cities),
                    zones=tuple(sorted(zones)),
                    changed_on=changed_on,
                    offset_before=before,
                    offset_after=after,
                    first_session=by_key[b_key].title,
                    first_start=b_start,
                    move=move,
                )
            )
    changes.sort(key=lambda c: (c.series, c.first_start, c.changed_on, c.zones, c.cities))
    return changes
