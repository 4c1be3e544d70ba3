"""Time zones: the one place where Coordinator touches pytz.

Every instant the system stores is an aware UTC ``datetime``; local wall time exists only at
the edges (input parsing, display, invite text).  This module converts between the two, and
it is the only module allowed to import :mod:`pytz`.  The rules it follows:

* Local wall time is attached to a zone with ``tz.localize(naive, is_dst=None)`` and
  converted with ``astimezone``/``tz.normalize``; a pytz zone is never passed as
  ``tzinfo=`` (that silently picks the zone's first, historic, offset).
* A local time that does not exist (the clocks jumped over it) or that exists twice (the
  clocks went back over it) is reported with :class:`NonexistentLocalTimeError` or
  :class:`AmbiguousLocalTimeError`, never silently shifted.
* ``"unknown"`` (:data:`UNKNOWN_ZONE`) is how the rest of the system records a city or
  delegate whose zone nobody has told us yet.  It is *not* a zone: nothing here guesses one.

The vectorised :func:`offsets_at` is the engine of the slot finder: it answers "what is the
UTC offset of this zone at each of these instants" for a NumPy array of epoch seconds with a
single ``numpy.searchsorted`` over pytz's own transition table, so it agrees with
:func:`to_local` by construction.

Limitation inherited from pytz: its transition tables stop in 2037.  For a zone that still
changes its clocks, pytz (and therefore :func:`to_local`, :func:`utc_offset` and
:func:`offsets_at` alike, consistently) keeps the offset of the last tabulated transition
forever after.  :func:`rules_end` tells callers where a zone's table ends so they can warn.
"""

from __future__ import annotations

import bisect
import difflib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from typing import IO

import numpy as np
import pytz

__all__ = [
    "UNKNOWN_ZONE",
    "TZDATA_VERSION",
    "AmbiguousLocalTimeError",
    "NonexistentLocalTimeError",
    "Transition",
    "UnknownZoneError",
    "all_zones",
    "canonical_zone",
    "format_offset",
    "is_valid_zone",
    "offsets_at",
    "open_zone_file",
    "parse_instant",
    "rules_end",
    "to_local",
    "to_utc",
    "transition_table",
    "transitions",
    "utc_now",
    "utc_offset",
    "zones_by_country",
]

UNKNOWN_ZONE = "unknown"
"""Placeholder recorded for a city or delegate whose zone is not known.  Never a real zone."""

TZDATA_VERSION: str = pytz.OLSON_VERSION
"""Release of the IANA time zone database that pytz ships (e.g. ``"2024a"``)."""

_EPOCH = datetime(1970, 1, 1)  # naive UTC, like pytz's transition times
_SECOND = timedelta(seconds=1)


class UnknownZoneError(ValueError):
    """The name is not an IANA time zone known to pytz."""


class NonexistentLocalTimeError(ValueError):
    """The local wall time was skipped when the clocks went forward."""


class AmbiguousLocalTimeError(ValueError):
    """The local wall time happened twice when the clocks went back."""


@dataclass(frozen=True)
class Transition:
    """A change of a zone's UTC offset, at an instant."""

    at_utc: datetime
    offset_before: timedelta
    offset_after: timedelta


# --------------------------------------------------------------------------------------------
# zone names


def all_zones() -> frozenset[str]:
    """Every zone name pytz knows (canonical spelling)."""
    # Not frozenset(pytz.all_timezones_set): that lazy set is empty until first queried.
    return frozenset(name for name in pytz.all_timezones)


def zones_by_country() -> dict[str, tuple[str, ...]]:
    """ISO 3166 alpha-2 country code -> the zones used in that country (from zone.tab)."""
    return {code: tuple(pytz.country_timezones[code]) for code in pytz.country_timezones}


def is_valid_zone(name: str) -> bool:
    """True if ``name`` is exactly a zone pytz knows.  ``"unknown"`` is not valid here."""
    return isinstance(name, str) and name in pytz.all_timezones_set


@lru_cache(maxsize=1)
def _zones_by_lowercase() -> dict[str, str]:
    return {name.lower(): name for name in pytz.all_timezones}


def canonical_zone(name: str) -> str:
    """Return the canonical spelling of a zone name, or raise :class:`UnknownZoneError`.

    Surrounding blanks and letter case are forgiven (``" asia/tokyo"`` -> ``"Asia/Tokyo"``);
    anything else is an error whose message names the zone and suggests close matches.
    ``"unknown"`` is rejected too: check for :data:`UNKNOWN_ZONE` before calling this.
    """
    if not isinstance(name, str):
        raise UnknownZoneError(f"time zone must be a string, got {name!r}")
    cleaned = name.strip()
    if cleaned in pytz.all_timezones_set:
        return cleaned
    found = _zones_by_lowercase().get(cleaned.lower())
    if found is not None:
        return found
    if cleaned.lower() == UNKNOWN_ZONE:
        raise UnknownZoneError(
            f"time zone {name!r} is the placeholder for a zone nobody has given yet, not a zone"
        )
    lowered = _zones_by_lowercase()
    close = difflib.get_close_matches(cleaned.lower(), list(lowered), n=3, cutoff=0.6)
    if not close:
        # Try the last component alone ("Tokio" -> "Asia/Tokyo").
        tail = cleaned.rsplit("/", 1)[-1].lower()
        tails: dict[str, list[str]] = {}
        for low, canonical in lowered.items():
            tails.setdefault(low.rsplit("/", 1)[-1], []).append(canonical)
        for match in difflib.get_close_matches(tail, list(tails), n=3, cutoff=0.7):
            close.extend(low.lower() for low in tails[match])
    suggestion = ""
    if close:
        names = ", ".join(lowered[c] for c in dict.fromkeys(close))
        suggestion = f"; did you mean {names}?"
    raise UnknownZoneError(f"unknown time zone {name!r}{suggestion}")


@cache
def _tz(zone: str) -> pytz.BaseTzInfo:
    return pytz.timezone(canonical_zone(zone))


def open_zone_file(zone: str) -> IO[bytes]:
    """Open the compiled TZif file pytz reads ``zone`` from (binary).

    Lets tests cross-check against the standard library's ``zoneinfo`` on the very same
    tzdata release (``zoneinfo.ZoneInfo.from_file(open_zone_file(z))``): the operating
    system's copy of the database is often a different release.
    """
    return pytz.open_resource(canonical_zone(zone))


# --------------------------------------------------------------------------------------------
# conversions


def utc_now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


def _require_aware(instant: datetime, what: str) -> None:
    if not isinstance(instant, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(instant).__name__}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(
            f"{what} {instant.isoformat()} has no time zone; expected an aware instant"
        )


def to_local(instant: datetime, zone: str) -> datetime:
    """The aware local ``datetime`` in ``zone`` for an aware instant."""
    _require_aware(instant, "instant")
    # astimezone() runs pytz's fromutc(), which picks the right offset; no normalize needed.
    return instant.astimezone(_tz(zone))


def utc_offset(instant: datetime, zone: str) -> timedelta:
    """UTC offset of ``zone`` at ``instant`` (aware)."""
    offset = to_local(instant, zone).utcoffset()
    assert offset is not None
    return offset


def format_offset(offset: timedelta) -> str:
    """``timedelta(hours=9)`` -> ``"+09:00"``; ``-6 h`` -> ``"-06:00"``; ``5:45`` -> ``"+05:45"``.

    Seconds are appended only when present (historic local mean times): ``"+00:19:32"``.
    """
    total = int(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    hours, rest = divmod(abs(total), 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}"
    return f"{text}:{seconds:02d}" if seconds else text


def _local_text(local: datetime) -> str:
    return local.isoformat(sep=" ", timespec="minutes" if not local.second else "seconds")


def to_utc(local: datetime, zone: str, *, is_dst: bool | None = None) -> datetime:
    """Aware UTC instant for a naive local wall time in ``zone``.

    With ``is_dst=None`` (the default) a wall time the clocks skipped raises
    :class:`NonexistentLocalTimeError` and one they passed twice raises
    :class:`AmbiguousLocalTimeError`; pass ``is_dst=True``/``False`` only when the user has
    said which one they meant.
    """
    if not isinstance(local, datetime):
        raise TypeError(f"local time must be a datetime, got {type(local).__name__}")
    if local.tzinfo is not None:
        raise ValueError(
            f"local time {local.isoformat()} already has a time zone; to_utc() takes naive "
            "wall time (use astimezone for aware instants)"
        )
    tz = _tz(zone)
    name = canonical_zone(zone)
    try:
        aware = tz.localize(local, is_dst=is_dst)
    except pytz.NonExistentTimeError:
        before, after = _offsets_around_local(name, local, gap=True)
        raise NonexistentLocalTimeError(
            f"{_local_text(local)} does not exist in {name}: the clocks jumped from "
            f"UTC{format_offset(before)} to UTC{format_offset(after)} over it"
        ) from None
    except pytz.AmbiguousTimeError:
        first, second = _offsets_around_local(name, local, gap=False)
        raise AmbiguousLocalTimeError(
            f"{_local_text(local)} is ambiguous in {name}: it happens twice, at "
            f"UTC{format_offset(first)} and again at UTC{format_offset(second)}"
        ) from None
    return aware.astimezone(UTC)


def _offsets_around_local(zone: str, local: datetime, *, gap: bool) -> tuple[timedelta, timedelta]:
    """Offsets before and after the transition that makes ``local`` nonexistent or ambiguous."""
    moments, offsets = transition_table(zone)
    wall = (local - _EPOCH) // _SECOND
    for i, at in enumerate(moments.tolist()):
        before, after = int(offsets[i]), int(offsets[i + 1])
        low, high = sorted((at + before, at + after))
        if low <= wall < high and (after > before) == gap:
            return timedelta(seconds=before), timedelta(seconds=after)
    # pytz said so, but our compressed table disagrees (should not happen): fall back on
    # the two readings pytz offers.
    tz = _tz(zone)
    a = tz.localize(local, is_dst=True).utcoffset()
    b = tz.localize(local, is_dst=False).utcoffset()
    assert a is not None and b is not None
    return (min(a, b), max(a, b)) if gap else (max(a, b), min(a, b))


# --------------------------------------------------------------------------------------------
# transitions and the vectorised offset engine


@cache
def transition_table(zone: str) -> tuple[np.ndarray, np.ndarray]:
    """``(moments, offsets)`` describing every change of ``zone``'s UTC offset.

    ``moments`` is a sorted int64 array of the epoch seconds (UTC) at which the offset
    changes; ``offsets`` (int64 seconds) has one more element: ``offsets[i]`` applies from
    ``moments[i - 1]`` (inclusive) up to ``moments[i]`` (exclusive), ``offsets[0]`` before
    the first change and ``offsets[-1]`` after the last.  Built from pytz's
    ``_utc_transition_times``/``_transition_info`` with entries that only rename the zone or
    flip its DST flag dropped.  Arrays are read-only; the table ends where pytz's does.
    """
    tz = _tz(zone)
    times = getattr(tz, "_utc_transition_times", None)
    infos = getattr(tz, "_transition_info", None)
    if not times or not infos:  # StaticTzInfo, UTC
        offset = tz.utcoffset(datetime(2000, 1, 1))
        moments = np.zeros(0, dtype=np.int64)
        offsets = np.array([int(offset.total_seconds()) if offset else 0], dtype=np.int64)
    else:
        moment_list: list[int] = []
        offset_list = [int(infos[0][0].total_seconds())]
        # times[0] is datetime.min-ish, standing for "since forever".
        for when, info in zip(times[1:], infos[1:], strict=True):
            seconds = int(info[0].total_seconds())
            if seconds == offset_list[-1]:
                continue
            moment_list.append((when - _EPOCH) // _SECOND)
            offset_list.append(seconds)
        moments = np.array(moment_list, dtype=np.int64)
        offsets = np.array(offset_list, dtype=np.int64)
    moments.setflags(write=False)
    offsets.setflags(write=False)
    return moments, offsets


def offsets_at(zone: str, epoch_seconds: np.ndarray) -> np.ndarray:
    """UTC offsets (int64 seconds) of ``zone`` at each instant of ``epoch_seconds`` (int64).

    Vectorised: one ``numpy.searchsorted`` over :func:`transition_table`.  Agrees with
    :func:`utc_offset` for every instant, including after 2037 where both keep pytz's last
    tabulated offset (see the module docstring and :func:`rules_end`).
    """
    moments, offsets = transition_table(zone)
    epochs = np.asarray(epoch_seconds, dtype=np.int64)
    if moments.size == 0:
        return np.full(epochs.shape, offsets[0], dtype=np.int64)
    return offsets[np.searchsorted(moments, epochs, side="right")]


def transitions(zone: str, start_utc: datetime, end_utc: datetime) -> list[Transition]:
    """Changes of ``zone``'s UTC offset at instants in ``[start_utc, end_utc)``."""
    _require_aware(start_utc, "start")
    _require_aware(end_utc, "end")
    moments, offsets = _transition_lists(zone)
    lo = bisect.bisect_left(moments, _epoch_ceil(start_utc))
    hi = bisect.bisect_left(moments, _epoch_ceil(end_utc))
    return [
        Transition(
            at_utc=datetime.fromtimestamp(moments[i], UTC),
            offset_before=timedelta(seconds=offsets[i]),
            offset_after=timedelta(seconds=offsets[i + 1]),
        )
        for i in range(lo, hi)
    ]


@cache
def _transition_lists(zone: str) -> tuple[list[int], list[int]]:
    """:func:`transition_table` as Python lists, for scalar look-ups with bisect."""
    moments, offsets = transition_table(zone)
    return moments.tolist(), offsets.tolist()


def rules_end(zone: str) -> datetime | None:
    """Instant of the last tabulated change, if ``zone`` still changed clocks in 2037.

    After that instant pytz (and this module) keep the last offset, which is wrong for a
    zone with ongoing daylight-saving rules.  ``None`` for zones whose clocks stopped
    changing well before the end of the table: their offset really is constant afterwards.
    """
    moments, _ = transition_table(zone)
    if moments.size == 0:
        return None
    last = datetime.fromtimestamp(int(moments[-1]), UTC)
    return last if last.year >= 2037 else None


def _epoch_ceil(instant: datetime) -> int:
    """Epoch seconds of ``instant``, rounded up to a whole second."""
    return -((datetime(1970, 1, 1, tzinfo=UTC) - instant) // _SECOND)


# --------------------------------------------------------------------------------------------
# parsing


def parse_instant(text: str, default_zone: str = "UTC") -> datetime:
    """Read an instant typed by a person or sent by a client; return it aware, in UTC.

    Accepts ISO 8601 with ``T`` or a blank between date and time, with ``Z`` or an offset
    (``2023-10-03T11:00Z``, ``2023-10-03T11:00:00+00:00``, ``2023-10-03 20:00+09:00``), or
    without one (``2023-10-03T20:00``): then it is wall time in ``default_zone``, and a
    nonexistent or ambiguous wall time raises rather than being shifted.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a date and time as text, got {text!r}")
    cleaned = text.strip()
    example = "e.g. 2023-10-03T11:00Z, 2023-10-03 20:00+09:00 or 2023-10-03T20:00"
    if not cleaned:
        raise ValueError(f"empty date and time; expected {example}")
    candidate = cleaned
    if candidate[-1] in "zZ":
        candidate = candidate[:-1] + "+00:00"
    if len(candidate) >= 11 and candidate[10] in "tT ":
        candidate = candidate[:10] + "T" + candidate[11:]
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a date and time; expected {example}") from None
    if parsed.tzinfo is None:
        return to_utc(parsed, default_zone)
    return parsed.astimezone(UTC)
