"""``coordinator series plan``: the real command against a fresh database, and ``--apply``
writing every start in one transaction."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from coordinator.errors import UserError
from coordinator.models import Session
from coordinator.scheduling.series import SeriesRules
from coordinator.services import series as series_service
from coordinator.services.network import import_network
from coordinator.services.series import RecurringSeries, kickoff_check, plan_sessions
from tests.conftest import KICKOFF

FAST = ("--time-limit", "5")


@pytest.fixture
def kickoff_cli(run_cli):
    result = run_cli("network", "import", str(KICKOFF))
    assert result.returncode == 0, result.stderr
    return run_cli


def stored(run) -> list[dict]:
    result = run("sessions", "list", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_one_line_error(result, *needles):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def intervals(plan: dict) -> list[tuple[datetime, datetime]]:
    return [
        (datetime.fromisoformat(s["start_utc"]), datetime.fromisoformat(s["end_utc"]))
        for s in plan["sessions"]
    ]


def test_planning_the_kickoff_jointly_never_double_books_tokyo_and_writes_nothing(kickoff_cli):
    before = stored(kickoff_cli)
    result = kickoff_cli("series", "plan", "--json", *FAST)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)

    assert plan["status"] == "OPTIMAL" and plan["gap"] == 0
    assert len(plan["sessions"]) == 5 and not plan["applied"]
    # Tokyo presents in all five: no two of them may overlap.
    spans = sorted(intervals(plan))
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))
    by_city = {b["city"]: b for b in plan["burdens"]}
    assert by_city["Tokyo"]["fair"]["sessions"] == 5
    assert by_city["Rotterdam"]["fair"]["sessions"] == 4
    assert plan["totals"]["without_fairness"]["max_night_share"] == 1.0
    assert plan["totals"]["fair"]["max_night_share"] < 1.0
    assert stored(kickoff_cli) == before  # a dry run writes nothing


def test_table_output_shows_plan_fairness_comparison_and_status(kickoff_cli):
    result = kickoff_cli("series", "plan", *FAST)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Series plan: 5 sessions" in out
    assert "Who carries the inconvenient hours" in out
    assert "without fairness" in out
    assert "total discomfort:" in out and "OPTIMAL (proven)" in out
    assert "nothing written: add --apply" in out


def test_apply_writes_every_start_of_the_plan(kickoff_cli):
    result = kickoff_cli("series", "plan", "--json", "--apply", *FAST)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["applied"] and len(plan["scheduled"]) == 5

    rows = {r["id"]: r for r in stored(kickoff_cli)}
    for s in plan["sessions"]:
        row = rows[s["session_id"]]
        assert row["status"] == "scheduled"
        assert datetime.fromisoformat(row["start_utc"].replace("Z", "+00:00")) == (
            datetime.fromisoformat(s["start_utc"])
        )
    # Now scheduled, they stay fixed: there are no drafts left to plan.
    again = kickoff_cli("series", "plan", *FAST)
    assert_one_line_error(again, "no draft sessions to plan")


def test_a_recurring_series_is_created_only_with_apply(kickoff_cli):
    args = (
        "series",
        "plan",
        "--group",
        "water management",
        "--every",
        "month",
        "--count",
        "4",
        "--from",
        "2023-11-06",
        "--duration",
        "90",
        "--json",
        *FAST,
    )
    dry = kickoff_cli(*args)
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert [s["session_id"] for s in plan["sessions"]] == [None] * 4
    assert len(stored(kickoff_cli)) == 5

    applied = json.loads(kickoff_cli(*args, "--apply").stdout)
    assert len(applied["created"]) == 4 and applied["scheduled"] == applied["created"]
    rows = [r for r in stored(kickoff_cli) if r["id"] in applied["created"]]
    assert len(rows) == 4 and {r["status"] for r in rows} == {"scheduled"}
    assert {r["duration_minutes"] for r in rows} == {90}

    twice = kickoff_cli(*args, "--apply")
    assert_one_line_error(twice, "--apply", "already has a series session")
    assert len(stored(kickoff_cli)) == 9


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (
            (
                "--group",
                "Flood and Draught",
                "--every",
                "week",
                "--count",
                "3",
                "--from",
                "2023-11-01",
            ),
            ("--group", "Flood and Draught", "did you mean"),
        ),
        (
            (
                "--group",
                "Flood and Drought",
                "--every",
                "week",
                "--count",
                "0",
                "--from",
                "2023-11-01",
            ),
            ("--count", "at least 1"),
        ),
        (
            (
                "--group",
                "Flood and Drought",
                "--every",
                "fortnight",
                "--count",
                "3",
                "--from",
                "2023-11-01",
            ),
            ("--every", "fortnight"),
        ),
        (
            (
                "--group",
                "Flood and Drought",
                "--every",
                "week",
                "--count",
                "3",
                "--from",
                "2023-11-01",
                "--between",
                "10:00-11:00",
                "--duration",
                "90",
            ),
            ("--duration", "90 minutes", "--between 10:00-11:00"),
        ),
        (
            ("--group", "Flood and Drought", "--every", "week", "--from", "2023-11-01"),
            ("--group", "--count"),
        ),
        (
            (
                "--session",
                "999",
            ),
            ("--session", "999"),
        ),
        (
            (
                "--count",
                "3",
            ),
            ("--count", "only with --group"),
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(kickoff_cli, args, needles):
    before = stored(kickoff_cli)
    result = kickoff_cli("series", "plan", "--apply", *args, *FAST)
    assert_one_line_error(result, *needles)
    assert stored(kickoff_cli) == before


def test_an_impossible_hard_limit_exits_2_naming_cities_and_sessions(kickoff_cli):
    before = stored(kickoff_cli)
    # Presenting members alone can all be kept out of 00:00-07:00; everyone cannot.
    result = kickoff_cli(
        "series", "plan", "--apply", "--no-night-before", "07:00", "--hard-for", "everyone", *FAST
    )
    assert result.returncode == 2, result.stdout
    assert "Traceback" not in result.stderr
    first, *details = result.stderr.strip().splitlines()
    assert first.startswith("error: hard limits cannot be met")
    assert details, result.stderr
    assert len(details) == 5
    assert any("Water Management" in d and "Auckland" in d for d in details)
    assert any("Green Building" in d and "Tokyo" in d for d in details)
    assert all("no local time in 00:00-07:00" in d for d in details)
    assert stored(kickoff_cli) == before


def test_constraints_in_conflict_are_named(kickoff_cli):
    # Two kickoff sessions share 2023-10-03 (Tokyo's day) and two 2023-10-04.
    result = kickoff_cli(
        "series", "plan", "--apply", "--max-per-day", "1", "--day-zone", "Asia/Tokyo", *FAST
    )
    assert result.returncode == 2, result.stdout
    assert "cannot be planned together" in result.stderr
    # One day is enough to explain it (a minimal set): either Tokyo day will do.
    conflicts = result.stderr.strip().splitlines()[1:]
    assert len(conflicts) == 1
    assert conflicts[0].strip().startswith("at most 1 session(s) on 2023-10-0")
    assert "(Asia/Tokyo)" in conflicts[0] and "working group kickoff" in conflicts[0]
    assert {r["status"] for r in stored(kickoff_cli)} == {"draft"}


# --------------------------------------------------------------------------------------------
# the service, inside the test's rolled-back transaction


@pytest.fixture
def kickoff(db):
    import_network(db, KICKOFF)
    db.commit()
    return db


def test_apply_is_one_transaction(kickoff, monkeypatch):
    real = series_service.schedule_session
    calls = []

    def fails_on_the_third(db, session_id, start):
        calls.append(session_id)
        if len(calls) == 3:
            raise UserError("simulated failure")
        return real(db, session_id, start)

    monkeypatch.setattr(series_service, "schedule_session", fails_on_the_third)
    with pytest.raises(UserError, match="simulated failure"):
        plan_sessions(kickoff, rules=SeriesRules(time_limit=5.0), apply=True)

    assert len(calls) == 3
    kickoff.expire_all()
    sessions = list(kickoff.scalars(select(Session)))
    assert [s.start_utc for s in sessions] == [None] * 5
    assert {s.status for s in sessions} == {"draft"}


def test_apply_creates_and_schedules_a_series_in_one_go(kickoff):
    outcome = plan_sessions(
        kickoff,
        recurring=RecurringSeries(
            "Green Building and Green Transportation", "2weeks", 3, datetime(2023, 11, 6).date()
        ),
        rules=SeriesRules(time_limit=5.0),
        apply=True,
    )
    kickoff.expire_all()
    created = [kickoff.get(Session, i) for i in outcome.created]
    assert [s.status for s in created] == ["scheduled"] * 3
    assert [s.start_utc for s in created] == [s.start_utc for s in outcome.plan.fair.sessions]
    days = [s.window_start for s in created]
    assert days[1] - days[0] == timedelta(days=14)


def test_kickoff_check_never_double_books_tokyo_or_rotterdam(kickoff):
    check = kickoff_check(kickoff)

    assert len(check.presenters["Tokyo"]) == 5
    assert len(check.presenters["Rotterdam"]) == 4
    assert check.double_booked["Tokyo"] == [] and check.double_booked["Rotterdam"] == []
    for city in ("Tokyo", "Rotterdam"):
        spans = sorted((start, end) for _, start, end in check.presenters[city])
        assert all(
            a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False)
        )
    # What the check guards against: each session at its own best slot double-books Tokyo.
    assert check.independent_clashes["Tokyo"]
    # No presenting city is asked to present between midnight and 06:00 local time.
    for planned in check.outcome.plan.fair.sessions:
        presenting = {
            city
            for city, spans in check.presenters.items()
            if any(t == planned.title for t, _, _ in spans)
        }
        assert all(planned.comfort[city] != "night" for city in presenting), planned
    # Nothing was written.
    assert {s.start_utc for s in kickoff.scalars(select(Session))} == {None}


def test_scheduled_sessions_stay_fixed_unless_replanned(kickoff):
    from coordinator.services.planning import schedule_session

    flood, water = (
        kickoff.scalar(select(Session).where(Session.title.startswith(name)))
        for name in ("Flood and Drought", "Water Management")
    )
    clash = datetime.fromisoformat("2023-10-03T06:00:00+00:00")
    schedule_session(kickoff, flood.id, clash)
    schedule_session(kickoff, water.id, clash)  # Tokyo presents in both: double-booked

    with pytest.raises(UserError) as caught:
        plan_sessions(kickoff, session_ids=[flood.id, water.id], rules=SeriesRules(time_limit=5.0))
    assert any(
        "Tokyo" in line and "fixed at 2023-10-03 06:00Z" in line for line in caught.value.details
    ), caught.value.details

    outcome = plan_sessions(
        kickoff,
        session_ids=[flood.id, water.id],
        rules=SeriesRules(time_limit=5.0),
        replan=True,
        apply=True,
    )
    kickoff.expire_all()
    a, b = kickoff.get(Session, flood.id), kickoff.get(Session, water.id)
    assert a.end_utc <= b.start_utc or b.end_utc <= a.start_utc
    assert len(outcome.scheduled) in (1, 2)  # one may keep its start; the other moves


def test_the_demo_step_prints_the_kickoff_check(kickoff):
    from rich.console import Console

    from coordinator.services.demo import print_kickoff_check

    console = Console(record=True, width=200)
    print_kickoff_check(kickoff, console)
    text = console.export_text()

    assert "Kickoff check: the 5 sessions planned jointly" in text
    assert "no presenting city double-booked" in text
    assert "Tokyo in 5" in text and "Rotterdam in 4" in text
