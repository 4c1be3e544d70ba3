"""Benchmark the slot finder against the straightforward baseline, in the same run.

    python bench/slots.py

1. The 47 cities of the G-NETS 2023 kickoff (``coordinator/data/gnets-2023-kickoff.yaml``),
   every 15-minute start of a one-hour meeting over 14 days from 2023-09-25T00:00Z:
   ``find_slots`` (NumPy) and ``rank_naive`` (a pytz conversion per city and candidate in a
   Python loop) must give identical rankings; both times are printed.
2. 1,000 synthetic cities cycling through every pytz zone (with a country from zone.tab
   where there is one) over 30 days, with ``find_slots``.

The last line is ``speedup: N.Nx`` (naive time / fast time on the 47-city case).  Fast times
are the best of a few repetitions; the first, cold repetition (holiday calendars and zone
tables not yet cached) is printed as well.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coordinator import timezones  # noqa: E402
from coordinator.scheduling.slots import Participant, find_slots, rank_naive  # noqa: E402

FIXTURE = ROOT / "coordinator" / "data" / "gnets-2023-kickoff.yaml"
START = datetime(2023, 9, 25, tzinfo=UTC)
DURATION = timedelta(hours=1)
REPEATS = 5


def kickoff_cities() -> list[Participant]:
    data = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    return [
        Participant(
            name=city["name"],
            zone=city.get("zone") or timezones.UNKNOWN_ZONE,
            country=city.get("country"),
            subdivision=None if city.get("subdivision") is None else str(city["subdivision"]),
        )
        for city in data["cities"]
    ]


def synthetic_cities(count: int) -> list[Participant]:
    country_of: dict[str, str] = {}
    for country, zones in sorted(timezones.zones_by_country().items()):
        for zone in zones:
            country_of.setdefault(zone, country)
    zones = sorted(timezones.all_zones())
    return [
        Participant(
            name=f"City {i + 1}",
            zone=zones[i % len(zones)],
            country=country_of.get(zones[i % len(zones)]),
        )
        for i in range(count)
    ]


def timed(fn, repeats: int):
    """(result, best seconds, first seconds)."""
    times = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return result, min(times), times[0]


def assert_same(fast, naive) -> None:
    """Identical rankings: same starts in the same order, same costs, same city details."""
    assert fast.considered == naive.considered and fast.warnings == naive.warnings
    assert len(fast.candidates) == len(naive.candidates)
    for a, b in zip(fast.candidates, naive.candidates, strict=True):
        assert a.start_utc == b.start_utc, f"rankings differ: {a.start_utc} vs {b.start_utc}"
        assert abs(a.cost - b.cost) <= 1e-9, f"costs differ at {a.start_utc}: {a.cost} {b.cost}"
        assert a.cities == b.cities, f"city details differ at {a.start_utc}"


def main() -> None:
    cities = kickoff_cities()
    end = START + timedelta(days=14)

    def fast(top=10):
        return find_slots(cities, START, end, DURATION, step_minutes=15, top=top)

    def naive(top=10):
        return rank_naive(cities, START, end, DURATION, step_minutes=15, top=top)

    # Timed: both rank every candidate and detail the best 10 (the naive method details
    # every candidate on its way, that is what makes it the straightforward one).
    fast_result, fast_best, fast_cold = timed(fast, REPEATS)
    naive_result, naive_time, _ = timed(naive, 1)
    assert_same(fast_result, naive_result)
    # Untimed: the complete rankings, every candidate with every city's detail.
    considered = fast_result.considered
    fast_result = fast(considered)
    assert_same(fast_result, naive(considered))
    assert len(fast_result.candidates) == considered
    scored = sum(1 for c in cities if c.zone != timezones.UNKNOWN_ZONE)
    print(
        f"{len(cities)} kickoff cities ({scored} with a known zone), 14 days, "
        f"{considered} candidates, rankings identical"
    )
    for warning in fast_result.warnings:
        print(f"  warning: {warning}")
    best = fast_result.candidates[0]
    print(f"  best: {best.start_utc:%Y-%m-%d %H:%MZ} cost {best.cost:.2f}")
    print(
        f"find_slots: {fast_best * 1000:.1f} ms (best of {REPEATS}; cold {fast_cold * 1000:.1f} ms)"
    )
    print(f"rank_naive: {naive_time * 1000:.1f} ms")

    many = synthetic_cities(1000)
    month_end = START + timedelta(days=30)

    def big():
        return find_slots(many, START, month_end, DURATION, step_minutes=15, top=10)

    big_result, big_best, big_cold = timed(big, 3)
    print(
        f"1,000 cities over 30 days ({big_result.considered} candidates): find_slots "
        f"{big_best * 1000:.1f} ms (best of 3; cold {big_cold * 1000:.1f} ms)"
    )
    print(f"speedup: {naive_time / fast_best:.1f}x")


if __name__ == "__main__":
    main()
