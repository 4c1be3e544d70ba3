"""The slot finder: rank every candidate start of a meeting by what it costs the participants.

Candidates start at every ``step_minutes`` on the UTC clock from ``window_start`` (rounded
up to the step) for as long as ``start + duration <= window_end``.  A candidate's cost is
``sum(weight x cost)`` over the participants, each participant's cost coming from the
comfort model (:mod:`coordinator.scheduling.comfort`).  Candidates are ranked by cost;
costs equal to within 1e-9 points are a tie (so that float summation order cannot reorder
equal costs), broken by the earliest start.

Two implementations give the same ranking:

* :func:`find_slots` is the one to use.  It groups participants that share a zone, country
  and subdivision, prices every candidate start of a group at once with NumPy
  (:func:`comfort.score_starts`), and builds the per-city detail only for the ``top``
  candidates.
* :func:`rank_naive` is the straightforward method, a Python loop converting every
  candidate for every participant with pytz (:func:`comfort.score_interval`).  It is the
  test oracle and the benchmark's baseline.

Participants whose zone is ``"unknown"`` are left out of scoring and named in a warning:
their zone is never guessed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from coordinator import timezones
from coordinator.scheduling.comfort import (
    DEFAULT_MODEL,
    ComfortModel,
    LocalComfort,
    calendar_note,
    score_interval,
    score_starts,
)

__all__ = [
    "MAX_DURATION",
    "MAX_WINDOW",
    "Candidate",
    "CityTime",
    "Participant",
    "SlotSearch",
    "find_slots",
    "rank_naive",
]

MAX_DURATION = timedelta(hours=24)
MAX_WINDOW = timedelta(days=366)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Participant:
    name: str
    """City name (or delegate), shown in results."""
    zone: str
    """IANA zone, or ``"unknown"``."""
    country: str | None = None
    """ISO 3166-1 alpha-2 code, for weekends and public holidays."""
    subdivision: str | None = None
    """Subdivision code as the ``holidays`` package spells it (e.g. ``"NSW"``)."""
    weight: float = 1.0
    """How much this participant's cost counts (observers can count less)."""


@dataclass(frozen=True)
class CityTime:
    """One participant's view of a candidate.  ``cost`` is theirs, before weighting."""

    city: str
    zone: str
    local_start: datetime
    local_end: datetime
    utc_offset: str
    comfort: str
    notes: tuple[str, ...]
    cost: float


@dataclass(frozen=True)
class Candidate:
    """A candidate slot.  ``cost`` is exact; round it (2 decimals) only to display it."""

    start_utc: datetime
    end_utc: datetime
    cost: float
    cities: tuple[CityTime, ...]

    def to_dict(self) -> dict:
        """JSON-ready form (ISO 8601 times, cost rounded to 2 decimals)."""
        return {
            "start_utc": self.start_utc.isoformat(),
            "end_utc": self.end_utc.isoformat(),
            "cost": round(self.cost, 2),
            "cities": [
                {
                    "city": c.city,
                    "zone": c.zone,
                    "local_start": c.local_start.isoformat(),
                    "local_end": c.local_end.isoformat(),
                    "utc_offset": c.utc_offset,
                    "comfort": c.comfort,
                    "notes": list(c.notes),
                    "cost": round(c.cost, 2),
                }
                for c in self.cities
            ],
        }


@dataclass(frozen=True)
class SlotSearch:
    candidates: tuple[Candidate, ...]
    """Best first, at most ``top``."""
    warnings: tuple[str, ...]
    considered: int
    """How many candidate starts were priced."""


# --------------------------------------------------------------------------------------------
# validation and preparation, shared by both implementations


@dataclass(frozen=True)
class _Scored:
    participant: Participant
    zone: str  # canonical
    country: str | None
    subdivision: str | None

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        return (self.zone, self.country, self.subdivision)


@dataclass(frozen=True)
class _Plan:
    scored: tuple[_Scored, ...]
    first_start: int  # epoch seconds
    count: int
    step: int  # seconds
    duration: int  # seconds
    warnings: tuple[str, ...]

    def starts(self) -> np.ndarray:
        return self.first_start + self.step * np.arange(self.count, dtype=np.int64)


def _instant(value: datetime, option: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{option} must be a date and time, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{option} {value.isoformat()} has no time zone; give it with Z or an offset"
        )
    return value.astimezone(UTC)


def _plan(
    participants: Iterable[Participant],
    window_start: datetime,
    window_end: datetime,
    duration: timedelta,
    step_minutes: int,
    top: int,
) -> _Plan:
    participants = list(participants)
    if not isinstance(duration, timedelta):
        raise ValueError(f"--duration must be a length of time, got {duration!r}")
    if duration <= timedelta(0):
        raise ValueError(f"--duration must be positive, got {duration}")
    if duration > MAX_DURATION:
        raise ValueError(f"--duration must be at most 24 hours, got {duration}")
    if duration % timedelta(minutes=1):
        raise ValueError(f"--duration must be a whole number of minutes, got {duration}")
    if (
        isinstance(step_minutes, bool)
        or not isinstance(step_minutes, int)
        or not 1 <= step_minutes <= 60
        or 60 % step_minutes
    ):
        raise ValueError(
            "--step must be a number of minutes dividing 60 "
            f"(1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60), got {step_minutes!r}"
        )
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"--top must be a whole number >= 1, got {top!r}")
    start = _instant(window_start, "--from")
    end = _instant(window_end, "--to")
    if start >= end:
        raise ValueError(f"--from ({start.isoformat()}) must be before --to ({end.isoformat()})")
    if end - start > MAX_WINDOW:
        raise ValueError(
            f"--from/--to window is {end - start}; it may span at most {MAX_WINDOW.days} days"
        )
    if duration > end - start:
        raise ValueError(
            f"--duration {duration} is longer than the --from/--to window ({end - start})"
        )
    if not participants:
        raise ValueError("no participants to schedule")

    warnings: list[str] = []
    unknown: list[str] = []
    no_country: list[str] = []
    scored: list[_Scored] = []
    for p in participants:
        if not isinstance(p.weight, int | float) or not math.isfinite(p.weight) or p.weight < 0:
            raise ValueError(f"participant {p.name!r}: weight must be >= 0, got {p.weight!r}")
        if p.zone is None or str(p.zone).strip().lower() == timezones.UNKNOWN_ZONE:
            unknown.append(p.name)
            continue
        try:
            zone = timezones.canonical_zone(p.zone)
        except timezones.UnknownZoneError as error:
            raise timezones.UnknownZoneError(f"participant {p.name!r}: {error}") from None
        country = p.country.strip().upper() if p.country and p.country.strip() else None
        subdivision = str(p.subdivision).strip() if country and p.subdivision else None
        if country is None:
            no_country.append(p.name)
        scored.append(_Scored(p, zone, country, subdivision))
    if unknown:
        warnings.append(
            f"time zone unknown for {', '.join(unknown)}: left out of scoring "
            "(give a zone to include them)"
        )
    if not scored:
        warnings.append("no participant has a known time zone: every slot costs 0")
    if no_country:
        warnings.append(
            f"no country for {', '.join(no_country)}: "
            "Saturday-Sunday weekend and no public holidays assumed"
        )

    # Calendars the holidays package lacks.
    missing: dict[str, list[str]] = {}
    for s in scored:
        for year in range((start - timedelta(days=2)).year, (end + timedelta(days=2)).year + 1):
            note = calendar_note(s.country, s.subdivision, year)
            if note:
                missing.setdefault(note, [])
                if s.participant.name not in missing[note]:
                    missing[note].append(s.participant.name)
    warnings.extend(f"{note} ({', '.join(names)})" for note, names in missing.items())

    # pytz's tables end in 2037.
    beyond: dict[datetime, list[str]] = {}
    for zone in dict.fromkeys(s.zone for s in scored):
        last = timezones.rules_end(zone)
        if last is not None and end > last:
            beyond.setdefault(last, []).append(zone)
    for last, zones in beyond.items():
        warnings.append(
            f"clock changes after {last:%Y-%m-%d} are not known for {', '.join(zones)} "
            "(the time zone tables end in 2037); their last offset is assumed"
        )

    step = step_minutes * 60
    start_us = (start - _EPOCH) // _MICROSECOND
    end_us = (end - _EPOCH) // _MICROSECOND
    step_us = step * 1_000_000
    first_us = -(-start_us // step_us) * step_us
    last_us = end_us - duration // _MICROSECOND
    count = 0 if last_us < first_us else (last_us - first_us) // step_us + 1
    if count == 0:
        warnings.append(
            f"no start on the {step_minutes}-minute UTC grid fits a {duration} meeting "
            "between --from and --to"
        )
    return _Plan(
        scored=tuple(scored),
        first_start=first_us // 1_000_000,
        count=int(count),
        step=step,
        duration=int(duration.total_seconds()),
        warnings=tuple(warnings),
    )


def _tie_key(cost: float) -> int:
    """Costs within 1e-9 points are a tie (same rounding in both implementations)."""
    return int(round(cost * 1e9))


def _city_time(scored: _Scored, comfort: LocalComfort) -> CityTime:
    return CityTime(
        city=scored.participant.name,
        zone=scored.zone,
        local_start=comfort.local_start,
        local_end=comfort.local_end,
        utc_offset=timezones.format_offset(comfort.utc_offset),
        comfort=comfort.comfort,
        notes=comfort.notes,
        cost=comfort.cost,
    )


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


# --------------------------------------------------------------------------------------------
# the fast slot finder


def find_slots(
    participants: Sequence[Participant],
    window_start: datetime,
    window_end: datetime,
    duration: timedelta,
    *,
    step_minutes: int = 15,
    top: int = 10,
    model: ComfortModel = DEFAULT_MODEL,
) -> SlotSearch:
    """The ``top`` cheapest candidate slots (vectorised; see the module docstring).

    Raises ``ValueError`` naming the offending option (``--duration``, ``--step``,
    ``--from``/``--to``, ``--top``) for bad arguments, and
    :class:`coordinator.timezones.UnknownZoneError` naming the participant for a zone that
    is neither valid nor ``"unknown"``.
    """
    plan = _plan(participants, window_start, window_end, duration, step_minutes, top)
    starts = plan.starts()
    totals = np.zeros(plan.count, dtype=np.float64)
    groups: dict[tuple[str, str | None, str | None], float] = {}
    for s in plan.scored:
        groups[s.key] = groups.get(s.key, 0.0) + float(s.participant.weight)
    if plan.count:
        for (zone, country, subdivision), weight in groups.items():
            if weight == 0:
                continue
            costs = score_starts(
                starts,
                plan.duration,
                zone,
                country=country,
                subdivision=subdivision,
                model=model,
            )
            totals += weight * costs

    keys = np.rint(totals * 1e9)
    order = np.lexsort((starts, keys))[:top]

    candidates: list[Candidate] = []
    length = timedelta(seconds=plan.duration)
    for i in order.tolist():
        start = _at(int(starts[i]))
        end = start + length
        details: dict[tuple[str, str | None, str | None], LocalComfort] = {}
        cities = []
        for s in plan.scored:
            if s.key not in details:
                details[s.key] = score_interval(
                    start, end, s.zone, country=s.country, subdivision=s.subdivision, model=model
                )
            cities.append(_city_time(s, details[s.key]))
        candidates.append(Candidate(start, end, float(totals[i]), tuple(cities)))
    return SlotSearch(tuple(candidates), plan.warnings, plan.count)


# --------------------------------------------------------------------------------------------
# the straightforward baseline


def rank_naive(
    participants: Sequence[Participant],
    window_start: datetime,
    window_end: datetime,
    duration: timedelta,
    *,
    step_minutes: int = 15,
    top: int = 10,
    model: ComfortModel = DEFAULT_MODEL,
) -> SlotSearch:
    """Same contract as :func:`find_slots`, computed the obvious way: for every candidate and
    every participant, convert with pytz and score with :func:`comfort.score_interval`."""
    plan = _plan(participants, window_start, window_end, duration, step_minutes, top)
    step = timedelta(seconds=plan.step)
    length = timedelta(seconds=plan.duration)
    ranked: list[tuple[int, datetime, float, tuple[CityTime, ...]]] = []
    start = _at(plan.first_start)
    for _ in range(plan.count):
        end = start + length
        total = 0.0
        cities = []
        for s in plan.scored:
            comfort = score_interval(
                start, end, s.zone, country=s.country, subdivision=s.subdivision, model=model
            )
            total += s.participant.weight * comfort.cost
            cities.append(_city_time(s, comfort))
        ranked.append((_tie_key(total), start, total, tuple(cities)))
        start += step
    ranked.sort(key=lambda row: (row[0], row[1]))
    candidates = tuple(
        Candidate(start, start + length, total, cities) for _, start, total, cities in ranked[:top]
    )
    return SlotSearch(candidates, plan.warnings, plan.count)
