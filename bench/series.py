"""Benchmark the series planner (CP-SAT) against a greedy planner, in the same run.

    python bench/series.py [--workers N] [--time-limit S]

The five working groups of the G-NETS 2023 kickoff (``coordinator/data/gnets-2023-kickoff.yaml``:
47 cities, presenting members at weight 1, the 25 observers of every group at weight 0.5)
each meet monthly, twelve times, from their kickoff date: 60 two-hour sessions, each free to
start at any 15-minute step of its Tokyo calendar day, at most two sessions a Tokyo day,
members never in two sessions at once.

Printed: the solver's wall time and status (proven optimal, or the gap to its bound), the
best plan without fairness, and a greedy plan (one session at a time, the cheapest start that
keeps the constraints with those already placed), each with its discomfort, fairness term,
total and maximum per-city share of night sessions.  Every plan is priced with the same
objective (discomfort + fairness).  The last line is ``ratio: N.NN`` = greedy total / solver
total (higher is better).
"""

from __future__ import annotations

import argparse
import calendar
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coordinator import timezones  # noqa: E402
from coordinator.scheduling.series import (  # noqa: E402
    Attendee,
    SeriesRules,
    SeriesSession,
    SolvedPlan,
    greedy_plan,
    plan_series,
)
from coordinator.scheduling.slots import Participant  # noqa: E402

FIXTURE = ROOT / "coordinator" / "data" / "gnets-2023-kickoff.yaml"
ORGANIZER_ZONE = "Asia/Tokyo"
COUNT = 12
DURATION = 120
OBSERVER_WEIGHT = 0.5


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def series_sessions() -> list[SeriesSession]:
    data = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    cities = {c["name"]: c for c in data["cities"]}

    def participant(name: str, weight: float) -> Participant:
        c = cities[name]
        subdivision = None if c.get("subdivision") is None else str(c["subdivision"])
        return Participant(name, c["zone"], c.get("country"), subdivision, weight)

    first_date = {s["group"]: date.fromisoformat(str(s["date"])) for s in data["sessions"]}
    sessions = []
    for group in data["groups"]:
        attendees = tuple(
            [Attendee(participant(n, 1.0), presenting=True) for n in group["members"]]
            + [
                Attendee(participant(n, OBSERVER_WEIGHT), presenting=False)
                for n in group["observers"]
            ]
        )
        for k in range(COUNT):
            day = add_months(first_date[group["name"]], k)
            start = timezones.to_utc(datetime.combine(day, datetime.min.time()), ORGANIZER_ZONE)
            sessions.append(
                SeriesSession(
                    key=f"{group['name']} #{k + 1}",
                    title=f"{group['name']} #{k + 1}",
                    duration_minutes=DURATION,
                    window_start=start,
                    window_end=start + timedelta(days=1),
                    attendees=attendees,
                    series=group["name"],
                )
            )
    return sessions


def describe(label: str, plan: SolvedPlan) -> None:
    worst = max(plan.burdens, key=lambda b: (b.night_share, b.name))
    print(
        f"{label:<22} discomfort {plan.discomfort:9.2f}  fairness {plan.fairness:9.2f}  "
        f"total {plan.total:9.2f}  max night share {plan.max_night_share:5.1%} ({worst.name})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    sessions = series_sessions()
    rules = SeriesRules(
        step_minutes=15,
        max_per_day=2,
        day_zone=ORGANIZER_ZONE,
        organizer_zone=ORGANIZER_ZONE,
        time_limit=args.time_limit,
        workers=args.workers,
        seed=args.seed,
    )
    cities = {a.participant.name for s in sessions for a in s.attendees}
    print(
        f"{len(sessions)} sessions ({len({s.series for s in sessions})} groups x {COUNT} monthly), "
        f"{len(cities)} cities, {rules.step_minutes}-minute step, {args.workers} workers"
    )

    began = time.perf_counter()
    plan = plan_series(sessions, rules)
    total_time = time.perf_counter() - began
    fair = plan.fair
    print(f"candidate starts: {plan.candidates}")
    if plan.unfair is not None:
        print(
            f"without fairness: {plan.unfair.status} in {plan.unfair.wall_time:.2f} s "
            f"(gap {plan.unfair.gap:.2%})"
        )
    proof = "proven optimal" if fair.status == "OPTIMAL" else f"gap to bound {fair.gap:.2%}"
    print(
        f"solver: {fair.status} in {fair.wall_time:.2f} s ({proof}; objective "
        f"{fair.solver_objective:.2f}, bound {fair.bound:.2f}); whole run with pricing "
        f"{total_time:.2f} s"
    )

    began = time.perf_counter()
    greedy = greedy_plan(sessions, rules)
    print(f"greedy: {time.perf_counter() - began:.2f} s")

    describe("solver (fair)", fair)
    if plan.unfair is not None:
        describe("solver, no fairness", plan.unfair)
    describe("greedy", greedy)
    half = greedy.max_night_share / 2
    verdict = "met" if fair.max_night_share <= half + 1e-9 else "NOT met"
    print(
        f"max per-city night share: solver {fair.max_night_share:.1%} vs greedy "
        f"{greedy.max_night_share:.1%} (goal <= half of greedy: {verdict})"
    )
    print(f"ratio: {greedy.total / fair.total:.2f}")


if __name__ == "__main__":
    main()
