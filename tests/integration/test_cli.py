"""The real ``coordinator`` command, in a subprocess, against a fresh database."""

from __future__ import annotations

import json

import pytest

from tests.conftest import KICKOFF


def assert_one_line_error(result, *needles):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def kickoff_cli(run_cli):
    result = run_cli("network", "import", str(KICKOFF))
    assert result.returncode == 0, result.stderr
    return run_cli


def test_import_twice_then_show(kickoff_cli):
    again = kickoff_cli("network", "import", str(KICKOFF))
    assert again.returncode == 0 and "nothing changed" in again.stdout
    shown = kickoff_cli("network", "show", "--json")
    data = json.loads(shown.stdout)
    assert set(data) == {"cities", "groups", "sessions", "presentations", "delegates"}
    assert len(data["cities"]) == 47 and len(data["groups"]) == 5
    assert len(data["sessions"]) == 5 and len(data["presentations"]) == 32


def test_a_bad_file_exits_2_listing_every_error(run_cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "network: {name: X, organizer: {name: A, email: a@example.org}}\n"
        "cities:\n  - {name: Tokyo, country: JP, zone: Asia/Tokio}\n"
        "groups:\n  - {name: G, members: [Tokyo, Osaka]}\n",
        encoding="utf-8",
    )
    result = run_cli("network", "import", str(bad))
    assert result.returncode == 2
    assert "2 errors; nothing was imported" in result.stderr
    assert "line 3: cities[0].zone" in result.stderr and "Asia/Tokyo" in result.stderr
    assert "line 5: groups[0].members[1]" in result.stderr and "Osaka" in result.stderr
    assert "Traceback" not in result.stderr
    shown = run_cli("network", "show", "--json")
    assert shown.returncode == 2 and "no network imported yet" in shown.stderr


def test_sessions_list_json(kickoff_cli):
    rows = json.loads(kickoff_cli("sessions", "list", "--json").stdout)
    assert [set(r) for r in rows] == [
        {"id", "title", "group", "start_utc", "duration_minutes", "status"}
    ] * 5
    assert rows[0]["group"] == "Women's Empowerment"


def test_slots_json_shape_and_values(kickoff_cli):
    result = kickoff_cli(
        "slots",
        "--city",
        "Tokyo",
        "--city",
        "ロッテルダム",
        "--city",
        "america/denver",
        "--from",
        "2023-10-03",
        "--to",
        "2023-10-04",
        "--duration",
        "60",
        "--top",
        "3",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data["candidates"]) == 3
    first = data["candidates"][0]
    assert set(first) == {"start_utc", "end_utc", "cost", "cities"}
    names = [c["city"] for c in first["cities"]]
    assert names[0] == "Tokyo" and "Rotterdam" in names and names[-1] == "America/Denver"
    # A Tokyo delegate based in Paris is scored where they are, besides the city.
    away = [c for c in first["cities"] if c["city"].startswith("Tokyo (")]
    assert [c["zone"] for c in away] == ["Europe/Paris"]
    city = first["cities"][0]
    assert set(city) == {
        "city",
        "zone",
        "local_start",
        "local_end",
        "utc_offset",
        "comfort",
        "notes",
    }
    assert city["utc_offset"] == "+09:00"
    assert first["cities"][-1]["utc_offset"] == "-06:00"
    costs = [c["cost"] for c in data["candidates"]]
    assert costs == sorted(costs)


def test_slots_table_output(kickoff_cli):
    result = kickoff_cli(
        "slots",
        "--group",
        "Flood and Drought",
        "--from",
        "2023-10-03",
        "--to",
        "2023-10-04",
        "--duration",
        "120",
        "--top",
        "2",
    )
    assert result.returncode == 0, result.stderr
    assert "start (UTC)" in result.stdout and "2023-10-0" in result.stdout


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--city", "Tokio"], ["Tokio", "Tokyo"]),
        (["--city", "Tokyo", "--step", "7"], ["--step"]),
        (["--city", "Tokyo", "--duration", "0"], ["--duration"]),
        (["--city", "Tokyo", "--duration", "1500"], ["--duration"]),
        (["--city", "Tokyo", "--from", "2023-10-05"], ["--from", "--to"]),
        (["--city", "Tokyo", "--to", "2025-01-01"], ["366"]),
        (["--city", "Tokyo", "--from", "yesterday"], ["--from"]),
        (["--group", "Nope"], ["--group", "Nope"]),
    ],
)
def test_slots_bad_input(kickoff_cli, args, needles):
    base = {"--from": "2023-10-03", "--to": "2023-10-04", "--duration": "60"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    merged = [*args]
    for option, value in base.items():
        if option not in given:
            merged += [option, value]
    assert_one_line_error(kickoff_cli("slots", *merged), *needles)


def test_plan_and_schedule_a_stored_session(kickoff_cli):
    rows = json.loads(kickoff_cli("sessions", "list", "--json").stdout)
    flood = next(r for r in rows if r["group"] == "Flood and Drought")
    plan = json.loads(
        kickoff_cli("sessions", "plan", str(flood["id"]), "--top", "1", "--json").stdout
    )
    best = plan["candidates"][0]
    assert len(best["cities"]) >= 32  # 7 members and 25 observers, some delegates elsewhere
    done = kickoff_cli("sessions", "schedule", str(flood["id"]), "--at", best["start_utc"])
    assert done.returncode == 0, done.stderr
    rows = json.loads(kickoff_cli("sessions", "list", "--json").stdout)
    flood = next(r for r in rows if r["id"] == flood["id"])
    assert flood["status"] == "scheduled" and flood["start_utc"] == best["start_utc"]
    outside = kickoff_cli("sessions", "schedule", str(flood["id"]), "--at", "2024-01-01T00:00Z")
    assert_one_line_error(outside, "--at", "window")
    missing = kickoff_cli("sessions", "schedule", "999", "--at", "2023-10-03T01:00Z")
    assert_one_line_error(missing, "999")
