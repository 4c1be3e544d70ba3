"""How much a meeting costs one participant, judged on their local clock and calendar.

The comfort model
=================

A meeting occupies an interval of real time.  For one participant (a city, or a delegate
away from home) that interval is laid onto their *local wall clock* and *local calendar*,
and priced in points:

1. **Clock bands.**  The local day is cut into bands, each with a rate in points per hour
   and a label.  The defaults (:data:`DEFAULT_BANDS`):

   ============  ============  ==========  ==========
   local time    band          rate (/h)   label
   ============  ============  ==========  ==========
   00:00–06:00   night         10          night
   06:00–08:00   early morning 2           early
   08:00–18:00   working day   0           working
   18:00–22:00   evening       1           evening
   22:00–24:00   late evening  4           evening
   ============  ============  ==========  ==========

   The meeting pays ``rate x hours`` for the time it spends in each band, to the second,
   so a one-hour call from 21:30 to 22:30 costs ``0.5 x 1 + 0.5 x 4 = 2.5``.

   Late evening is *labelled* "evening" (the clock has not reached midnight; delegates are
   at home and awake) but *priced* at 4/h, between early morning and night.  The labels
   answer "what part of the day is this for them"; the rates answer "how bad is it".

2. **The label** of a meeting (``comfort``) is the label of the worst band it touches, i.e.
   the band with the highest rate it spends any time in (ties: night > early > evening >
   working).  It is always one of ``"working"``, ``"early"``, ``"evening"``, ``"night"``.

3. **Weekends.**  If any local date the meeting touches is a weekend day *in that
   participant's country* the meeting pays ``weekend_penalty`` (default 20) once, and gets
   the note ``"weekend"``.  Weekend days come from the ``holidays`` package
   (``HolidayBase.is_weekend``, which follows each country's ``weekend`` attribute and its
   dated changes: Israel, Jordan, Egypt, Iraq and the Maldives rest on Friday–Saturday, the
   UAE on Saturday–Sunday since 2022 but Friday–Saturday before).  Countries the package
   does not know, and participants without a country, get Saturday–Sunday.

4. **Public holidays.**  If any local date touched is a public holiday of the participant's
   country (and subdivision, when given) the meeting pays ``holiday_penalty`` (default 30)
   once, with one note ``"holiday: <name>"`` per holiday.  A country the package has no
   calendar for has no holidays and the note ``"no holiday calendar for XX"``; an
   unsupported subdivision falls back to the national calendar with the note
   ``"no holiday calendar for XX-SUB; national holidays only"``.

   A date is *touched* when the meeting spends a positive amount of time on it: a meeting
   that ends exactly at local midnight does not touch the next day.

5. **Clock changes during the meeting** are handled exactly: the meeting is split at the
   transition and each piece is laid on the wall clock with its own offset (the skipped
   hour of a spring-forward is never charged; the repeated hour of a fall-back is charged
   twice, because the participant sits through it twice).  Such meetings get a note
   ``"clock change: +10:00 -> +11:00"``.

All points are computed in "rate x seconds" and divided by 3600 once, so with integral (or
binary-fraction) rates the scalar :func:`score_interval` and the vectorised
:func:`score_starts` agree to the last bit.

Everything here is pure: no database, no I/O; holiday calendars are built in memory by the
``holidays`` package and cached per (country, subdivision, year).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import holidays
import numpy as np

from coordinator import timezones

__all__ = [
    "DEFAULT_BANDS",
    "DEFAULT_MODEL",
    "EARLY",
    "EVENING",
    "LABELS",
    "NIGHT",
    "WORKING",
    "Band",
    "ComfortModel",
    "LocalComfort",
    "calendar_note",
    "score_interval",
    "score_starts",
]

WORKING = "working"
EARLY = "early"
EVENING = "evening"
NIGHT = "night"
LABELS = (WORKING, EVENING, EARLY, NIGHT)
"""The four comfort labels, from least to most severe (the tie-break order)."""

_DAY = 86_400
_EPOCH_DATE = date(1970, 1, 1)


@dataclass(frozen=True)
class Band:
    """A stretch of the local day, ``[start, end)`` in minutes after local midnight."""

    label: str
    start: int
    end: int
    rate: float
    """Points per hour spent in the band."""

    @classmethod
    def between(cls, start: str, end: str, rate: float, label: str) -> Band:
        """``Band.between("22:00", "24:00", 4, "evening")``."""
        return cls(label=label, start=_minutes(start), end=_minutes(end), rate=rate)


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes or 0)


DEFAULT_BANDS: tuple[Band, ...] = (
    Band.between("00:00", "06:00", 10.0, NIGHT),
    Band.between("06:00", "08:00", 2.0, EARLY),
    Band.between("08:00", "18:00", 0.0, WORKING),
    Band.between("18:00", "22:00", 1.0, EVENING),
    Band.between("22:00", "24:00", 4.0, EVENING),  # late evening
)


@dataclass(frozen=True)
class ComfortModel:
    """Rates and penalties of the comfort model (see the module docstring)."""

    bands: tuple[Band, ...] = DEFAULT_BANDS
    weekend_penalty: float = 20.0
    holiday_penalty: float = 30.0

    def __post_init__(self) -> None:
        bands = tuple(self.bands)
        object.__setattr__(self, "bands", bands)
        if not bands:
            raise ValueError("comfort model needs at least one band")
        expected = 0
        for band in bands:
            if band.label not in LABELS:
                raise ValueError(f"band label {band.label!r} is not one of {', '.join(LABELS)}")
            if band.start != expected or band.end <= band.start:
                raise ValueError(
                    "bands must cover the local day from 00:00 to 24:00 in order, without "
                    f"gaps or overlaps; band {band} starts at minute {band.start}, "
                    f"expected {expected}"
                )
            if not (math.isfinite(band.rate) and band.rate >= 0):
                raise ValueError(f"band rate must be a finite number >= 0, got {band.rate!r}")
            expected = band.end
        if expected != 24 * 60:
            raise ValueError(f"bands must end at 24:00 (minute 1440), last ends at {expected}")
        for name in ("weekend_penalty", "holiday_penalty"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


DEFAULT_MODEL = ComfortModel()


@dataclass(frozen=True)
class LocalComfort:
    """One participant's view of one meeting interval."""

    local_start: datetime
    local_end: datetime
    utc_offset: timedelta
    """Offset at the start of the meeting."""
    comfort: str
    notes: tuple[str, ...]
    cost: float


# --------------------------------------------------------------------------------------------
# holiday calendars


def _normalise(country: str | None, subdivision: str | None) -> tuple[str | None, str | None]:
    country = country.strip().upper() if country and country.strip() else None
    subdivision = str(subdivision).strip() if subdivision not in (None, "") else None
    return country, (subdivision if country else None)


@lru_cache(maxsize=4096)
def _year_calendar(
    country: str | None, subdivision: str | None, year: int
) -> tuple[holidays.HolidayBase | None, dict[date, str], str | None]:
    """``(holidays calendar or None, {date: holiday name}, note or None)`` for one year."""
    if country is None:
        return None, {}, None
    note = None
    try:
        calendar = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError:
        if subdivision is None:
            return None, {}, f"no holiday calendar for {country}"
        try:
            calendar = holidays.country_holidays(country, years=year)
        except NotImplementedError:
            return None, {}, f"no holiday calendar for {country}"
        note = f"no holiday calendar for {country}-{subdivision}; national holidays only"
    names = {day: str(name) for day, name in calendar.items() if day.year == year}
    return calendar, names, note


@lru_cache(maxsize=16384)
def _month_flags(
    country: str | None, subdivision: str | None, year: int, month: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weekend and holiday flags for each day of one month (read-only bool arrays)."""
    calendar, names, _ = _year_calendar(country, subdivision, year)
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    days = [first + timedelta(days=i) for i in range((following - first).days)]
    if calendar is None:
        weekend = np.array([d.weekday() >= 5 for d in days], dtype=bool)
    else:
        # Per date: some countries changed their weekend on a given day (UAE 2022, ...).
        weekend = np.array([calendar.is_weekend(d) for d in days], dtype=bool)
    holiday = np.array([d in names for d in days], dtype=bool)
    weekend.setflags(write=False)
    holiday.setflags(write=False)
    return weekend, holiday


def calendar_note(country: str | None, subdivision: str | None, year: int) -> str | None:
    """The note a participant's calendar carries (e.g. ``"no holiday calendar for XX"``)."""
    return _year_calendar(*_normalise(country, subdivision), year)[2]


def _day_flags(
    country: str | None, subdivision: str | None, first_day: int, last_day: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weekend and holiday flags for epoch days ``first_day..last_day`` inclusive."""
    first = _EPOCH_DATE + timedelta(days=first_day)
    last = _EPOCH_DATE + timedelta(days=last_day)
    months = [
        (year, month)
        for year in range(first.year, last.year + 1)
        for month in range(1, 13)
        if (first.year, first.month) <= (year, month) <= (last.year, last.month)
    ]
    flags = [_month_flags(country, subdivision, y, m) for y, m in months]
    skip = first.day - 1
    count = last_day - first_day + 1
    if len(flags) == 1:
        weekend, holiday = flags[0]
    else:
        weekend = np.concatenate([f[0] for f in flags])
        holiday = np.concatenate([f[1] for f in flags])
    return weekend[skip : skip + count], holiday[skip : skip + count]


# --------------------------------------------------------------------------------------------
# the scalar scorer: one participant, one interval


_SECOND = timedelta(seconds=1)
_ONE_DAY = timedelta(days=1)


def _band_spans(model: ComfortModel) -> tuple[tuple[Band, timedelta, timedelta], ...]:
    spans = model.__dict__.get("_spans")
    if spans is None:
        spans = tuple(
            (band, timedelta(minutes=band.start), timedelta(minutes=band.end))
            for band in model.bands
        )
        object.__setattr__(model, "_spans", spans)  # derived data; not a field
    return spans


def _worse(a: Band, b: Band) -> Band:
    return max(a, b, key=lambda band: (band.rate, LABELS.index(band.label)))


def score_interval(
    start_utc: datetime,
    end_utc: datetime,
    zone: str,
    *,
    country: str | None = None,
    subdivision: str | None = None,
    model: ComfortModel = DEFAULT_MODEL,
) -> LocalComfort:
    """Score the meeting ``[start_utc, end_utc)`` for a participant in ``zone``.

    Straightforward and exact: converts with :mod:`coordinator.timezones` (pytz), splits the
    meeting at any clock change, and walks the local days and bands it covers.
    """
    if end_utc <= start_utc:
        raise ValueError(f"meeting must end after it starts: {start_utc} .. {end_utc}")
    country, subdivision = _normalise(country, subdivision)
    local_start = timezones.to_local(start_utc, zone)
    local_end = timezones.to_local(end_utc, zone)
    # Clock changes while the meeting runs (one exactly at its start is already in effect).
    changes = [t for t in timezones.transitions(zone, start_utc, end_utc) if t.at_utc > start_utc]
    notes: list[str] = [
        "clock change: "
        f"{timezones.format_offset(t.offset_before)} -> {timezones.format_offset(t.offset_after)}"
        for t in changes
    ]

    # Pieces of constant offset, as naive local wall-clock intervals.
    pieces: list[tuple[datetime, datetime]] = []
    wall = local_start.replace(tzinfo=None)
    previous = start_utc
    for change in changes:
        pieces.append((wall, wall + (change.at_utc - previous)))
        wall = timezones.to_local(change.at_utc, zone).replace(tzinfo=None)
        previous = change.at_utc
    pieces.append((wall, wall + (end_utc - previous)))

    rate_seconds = 0.0
    worst: Band | None = None
    touched: set[date] = set()
    for wall_a, wall_b in pieces:
        midnight = datetime.combine(wall_a.date(), datetime.min.time())
        while midnight < wall_b:
            touched.add(midnight.date())
            for band, band_start, band_end in _band_spans(model):
                lo = max(wall_a, midnight + band_start)
                hi = min(wall_b, midnight + band_end)
                if hi > lo:
                    rate_seconds += (hi - lo) // _SECOND * band.rate
                    worst = band if worst is None else _worse(worst, band)
            midnight += _ONE_DAY

    cost = rate_seconds / 3600
    weekend = False
    holiday_names: list[str] = []
    calendar_notes: list[str] = []
    for day in sorted(touched):
        calendar, names, note = _year_calendar(country, subdivision, day.year)
        weekend = weekend or (day.weekday() >= 5 if calendar is None else calendar.is_weekend(day))
        name = names.get(day)
        if name is not None and name not in holiday_names:
            holiday_names.append(name)
        if note and note not in calendar_notes:
            calendar_notes.append(note)
    if weekend:
        cost += model.weekend_penalty
        notes.append("weekend")
    if holiday_names:
        cost += model.holiday_penalty
        notes.extend(f"holiday: {name}" for name in holiday_names)
    notes.extend(calendar_notes)

    offset = local_start.utcoffset()
    assert offset is not None and worst is not None
    return LocalComfort(
        local_start=local_start,
        local_end=local_end,
        utc_offset=offset,
        comfort=worst.label,
        notes=tuple(notes),
        cost=cost,
    )


# --------------------------------------------------------------------------------------------
# the vectorised scorer: one participant (or a group sharing zone and calendar), many starts


def _tables(model: ComfortModel) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-minute rate, cumulative rate-seconds at each minute of the day, and a day's total."""
    tables = model.__dict__.get("_tables")
    if tables is None:
        tables = _build_tables(model)
        object.__setattr__(model, "_tables", tables)  # derived data; not a field
    return tables


def _build_tables(model: ComfortModel) -> tuple[np.ndarray, np.ndarray, float]:
    rate = np.empty(24 * 60, dtype=np.float64)
    for band in model.bands:
        rate[band.start : band.end] = band.rate
    cumulative = np.zeros(24 * 60 + 1, dtype=np.float64)
    np.cumsum(rate * 60.0, out=cumulative[1:])
    return rate, cumulative, float(cumulative[-1])


def _wall_cost(a: np.ndarray, b: np.ndarray, model: ComfortModel) -> np.ndarray:
    """Rate-seconds of local wall-clock intervals ``[a, b)`` (local epoch seconds)."""
    rate, cumulative, per_day = _tables(model)
    day_a, sec_a = np.divmod(a, _DAY)
    day_b, sec_b = np.divmod(b, _DAY)
    min_a, rem_a = np.divmod(sec_a, 60)
    min_b, rem_b = np.divmod(sec_b, 60)
    within_a = cumulative[min_a] + rate[min_a] * rem_a
    within_b = cumulative[min_b] + rate[min_b] * rem_b
    return (day_b - day_a) * per_day + (within_b - within_a)


def score_starts(
    starts: np.ndarray,
    duration_seconds: int,
    zone: str,
    *,
    country: str | None = None,
    subdivision: str | None = None,
    model: ComfortModel = DEFAULT_MODEL,
) -> np.ndarray:
    """Costs (float64) of meetings of ``duration_seconds`` starting at each of ``starts``.

    ``starts`` are epoch seconds (int64, UTC).  Element ``i`` equals
    ``score_interval(start_i, start_i + duration, zone, ...).cost``: local times come from
    :func:`coordinator.timezones.transition_table` (the table behind ``offsets_at``) at the
    start and just before the end; a meeting crossing one clock change is split at it; the
    (practically nonexistent) meetings crossing two or more are handed to
    :func:`score_interval`.
    """
    country, subdivision = _normalise(country, subdivision)
    starts = np.asarray(starts, dtype=np.int64)
    duration = int(duration_seconds)
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration} seconds")
    if starts.size == 0:
        return np.zeros(0, dtype=np.float64)
    ends = starts + duration
    moments, offsets = timezones.transition_table(zone)
    at_start = np.searchsorted(moments, starts, side="right")  # offset index at the start
    before_end = np.searchsorted(moments, ends, side="left")  # offset index just before the end
    changes = before_end - at_start  # clock changes strictly inside the meeting
    off_start = offsets[at_start]
    off_end = offsets[before_end]
    local_start = starts + off_start
    local_end = ends + off_end

    rate_seconds = _wall_cost(local_start, local_end, model)
    low = local_start
    high = local_end
    one = changes == 1
    if one.any():
        # Split at the change T: [ls, T + o1) and [T + o2, le).
        moment = moments[np.minimum(at_start, moments.size - 1)]
        wall_old = moment + off_start  # T on the old clock
        wall_new = moment + off_end  # T on the new clock
        fix = _wall_cost(wall_new, wall_old, model)
        rate_seconds = np.where(one, rate_seconds + fix, rate_seconds)
        low = np.where(one, np.minimum(local_start, wall_new), local_start)
        high = np.where(one, np.maximum(wall_old, local_end), local_end)

    cost = rate_seconds / 3600

    first_day = np.floor_divide(low, _DAY)
    last_day = np.floor_divide(high - 1, _DAY)
    base, top = int(first_day.min()), int(last_day.max())
    weekend_days, holiday_days = _day_flags(country, subdivision, base, top)
    weekend = np.zeros(starts.shape, dtype=bool)
    holiday = np.zeros(starts.shape, dtype=bool)
    for k in range(int((last_day - first_day).max()) + 1):
        day = first_day + k
        valid = day <= last_day
        index = np.minimum(day, top) - base
        weekend |= valid & weekend_days[index]
        holiday |= valid & holiday_days[index]
    cost = np.where(weekend, cost + model.weekend_penalty, cost)
    cost = np.where(holiday, cost + model.holiday_penalty, cost)

    many = np.flatnonzero(changes >= 2)
    for i in many.tolist():
        start = datetime.fromtimestamp(int(starts[i]), UTC)
        cost[i] = score_interval(
            start,
            start + timedelta(seconds=duration),
            zone,
            country=country,
            subdivision=subdivision,
            model=model,
        ).cost
    return cost
