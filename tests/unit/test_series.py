"""The series planner (pure): small cases whose answer can be checked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from coordinator import timezones
from coordinator.scheduling.series import (
    Attendee,
    SeriesInfeasible,
    SeriesRules,
    SeriesSession,
    greedy_plan,
    plan_series,
)
from coordinator.scheduling.slots import Participant

TOKYO = Participant("Tokyo", "Asia/Tokyo", "JP")
ROTTERDAM = Participant("Rotterdam", "Europe/Amsterdam", "NL")
DENVER = Participant("Denver", "America/Denver", "US", "CO")
LONDON = Participant("London", "Europe/London", "GB", "ENG")
DHAKA = Participant("Dhaka", "Asia/Dhaka", "BD")
AUCKLAND = Participant("Auckland", "Pacific/Auckland", "NZ", "AUK")
SYDNEY = Participant("New South Wales", "Australia/Sydney", "AU", "NSW")
TEL_AVIV = Participant("Tel Aviv", "Asia/Jerusalem", "IL")

# Tuesday 2023-10-03, a working day in every country used here.
DAY = datetime(2023, 10, 3, tzinfo=UTC)
FAST = SeriesRules(time_limit=5.0)


def session(
    key: str,
    *members: Participant,
    observers: tuple[Participant, ...] = (),
    start: datetime = DAY,
    days: int = 1,
    minutes: int = 120,
    fixed: datetime | None = None,
    series: str | None = None,
) -> SeriesSession:
    attendees = tuple(Attendee(p) for p in members) + tuple(
        Attendee(p, presenting=False) for p in observers
    )
    return SeriesSession(
        key=key,
        title=key,
        duration_minutes=minutes,
        window_start=start,
        window_end=start + timedelta(days=days),
        attendees=attendees,
        fixed_start=fixed,
        series=series,
    )


def overlap(plan, a: str, b: str) -> bool:
    one = next(s for s in plan.sessions if s.key == a)
    two = next(s for s in plan.sessions if s.key == b)
    return one.start_utc < two.end_utc and two.start_utc < one.end_utc


# --------------------------------------------------------------------------------------------
# constraints


def test_a_presenting_city_is_never_in_two_sessions_at_once():
    # Same people, same window: alone, both sessions would take the same best slot.
    a = session("A", TOKYO, ROTTERDAM)
    b = session("B", TOKYO, ROTTERDAM)
    alone = plan_series([a], FAST).fair.start_of("A")
    assert plan_series([b], FAST).fair.start_of("B") == alone

    plan = plan_series([a, b], FAST)

    assert not overlap(plan.fair, "A", "B")
    assert not overlap(plan.unfair, "A", "B")
    assert alone in {plan.fair.start_of("A"), plan.fair.start_of("B")}


def test_observers_do_not_block_unless_asked():
    a = session("A", ROTTERDAM, observers=(TOKYO,))
    b = session("B", Participant("Amsterdam", "Europe/Amsterdam", "NL"), observers=(TOKYO,))
    soft = plan_series([a, b], FAST).fair
    assert soft.start_of("A") == soft.start_of("B")  # the same best slot: Tokyo only watches

    hard = plan_series([a, b], SeriesRules(time_limit=5.0, observers="hard")).fair
    assert not overlap(hard, "A", "B")


def test_at_most_k_sessions_per_day_in_the_organizers_day():
    # Three sessions without a city in common, over Friday to Sunday in Tokyo: alone, each
    # takes Friday (the weekend costs more); one a day spreads them over the three days.
    friday = timezones.to_utc(datetime(2023, 10, 6), "Asia/Tokyo")
    cities = [Participant(name, "Asia/Tokyo", "JP") for name in ("Tokyo", "Osaka", "Sapporo")]
    sessions = [session(c.name, c, start=friday, days=3) for c in cities]

    def local_days(plan):
        return sorted(timezones.to_local(s.start_utc, "Asia/Tokyo").date() for s in plan.sessions)

    assert local_days(plan_series(sessions, FAST).fair) == [date(2023, 10, 6)] * 3

    rules = SeriesRules(time_limit=5.0, max_per_day=1, day_zone="Asia/Tokyo")
    plan = plan_series(sessions, rules).fair

    assert local_days(plan) == [date(2023, 10, 6), date(2023, 10, 7), date(2023, 10, 8)]


def test_too_many_sessions_for_the_days_names_the_days():
    start = timezones.to_utc(datetime(2023, 10, 3), "Asia/Tokyo")
    sessions = [session(k, TOKYO, start=start, days=2) for k in ("A", "B", "C")]

    with pytest.raises(SeriesInfeasible) as caught:
        plan_series(sessions, SeriesRules(time_limit=5.0, max_per_day=1, day_zone="Asia/Tokyo"))

    text = str(caught.value)
    assert "at most 1 session(s) on 2023-10-03 (Asia/Tokyo)" in text
    assert "at most 1 session(s) on 2023-10-04 (Asia/Tokyo)" in text


def test_minimum_gap_between_any_two_sessions():
    # No city in common, so only the gap keeps them apart.
    a = session("A", TOKYO, minutes=60)
    b = session("B", Participant("Osaka", "Asia/Tokyo", "JP"), minutes=60)
    together = plan_series([a, b], FAST).fair
    assert together.start_of("A") == together.start_of("B")

    plan = plan_series([a, b], SeriesRules(time_limit=5.0, min_gap_minutes=45)).fair

    first, second = sorted(s.start_utc for s in plan.sessions)
    assert second - first >= timedelta(minutes=60 + 45)


def test_fixed_sessions_stay_and_the_others_move_around_them():
    best = plan_series([session("B", TOKYO, ROTTERDAM)], FAST).fair.start_of("B")
    fixed = session("A", TOKYO, fixed=best + timedelta(minutes=30))

    plan = plan_series([fixed, session("B", TOKYO, ROTTERDAM)], FAST).fair

    assert plan.start_of("A") == best + timedelta(minutes=30)
    assert next(s for s in plan.sessions if s.key == "A").fixed
    assert plan.start_of("B") != best
    assert not overlap(plan, "A", "B")


# --------------------------------------------------------------------------------------------
# hard limits


QUIET = SeriesRules(time_limit=5.0, quiet=("00:00", "07:00"))


def test_hard_limit_met_when_it_can_be():
    # A 2-hour meeting keeping Tokyo, Rotterdam and Denver out of 00:00-07:00 can only start
    # at 13:00Z on 2023-10-03: 22:00-24:00 in Tokyo, 15:00 in Rotterdam, 07:00 in Denver.
    plan = plan_series([session("A", TOKYO, ROTTERDAM, DENVER)], QUIET).fair

    assert plan.start_of("A") == datetime(2023, 10, 3, 13, 0, tzinfo=UTC)
    free = plan_series([session("A", TOKYO, ROTTERDAM, DENVER)], FAST).fair
    assert free.start_of("A") != plan.start_of("A")  # the limit really changed the answer


def test_hard_limit_that_cannot_be_met_names_the_cities_and_the_session():
    # Any three of the four are possible; all four are not (13:00Z, the only start for the
    # first three, is 02:00 in Auckland).
    sessions = [session("Water", TOKYO, ROTTERDAM, DENVER, AUCKLAND)]

    with pytest.raises(SeriesInfeasible) as caught:
        plan_series(sessions, QUIET)

    error = caught.value
    assert len(error.conflicts) == 1
    assert "session 'Water'" in error.conflicts[0]
    assert "Auckland, Denver, Rotterdam and Tokyo together" in error.conflicts[0]
    assert "no local time in 00:00-07:00" in error.conflicts[0]


def test_hard_limits_bind_members_not_observers_by_default():
    sessions = [session("A", TOKYO, ROTTERDAM, DENVER, observers=(AUCKLAND,))]
    plan = plan_series(sessions, QUIET).fair
    assert plan.start_of("A") == datetime(2023, 10, 3, 13, 0, tzinfo=UTC)

    with pytest.raises(SeriesInfeasible):
        plan_series(
            sessions, SeriesRules(time_limit=5.0, quiet=("00:00", "07:00"), binding="everyone")
        )


def test_sessions_possible_alone_but_not_together_name_the_constraints_in_conflict():
    # Each can only start at 13:00Z (see above) and Tokyo presents in both.
    a = session("A", TOKYO, ROTTERDAM, DENVER)
    b = session("B", TOKYO, ROTTERDAM, DENVER)

    with pytest.raises(SeriesInfeasible) as caught:
        plan_series([a, b], QUIET)

    conflicts = caught.value.conflicts
    assert any(
        "Denver, Rotterdam, Tokyo are in 'A'" in c and "never two at once" in c for c in conflicts
    )
    assert any(c.startswith("hard limits for session 'A'") for c in conflicts)
    assert any(c.startswith("hard limits for session 'B'") for c in conflicts)


def test_weekends_excluded_or_penalised():
    # Friday 00:00Z to Monday 00:00Z: Friday and Saturday are the weekend in Israel, Saturday
    # and Sunday in Japan, so no day is free for both.
    friday = datetime(2023, 10, 6, tzinfo=UTC)
    sessions = [session("A", TOKYO, TEL_AVIV, start=friday, days=3, minutes=60)]

    with pytest.raises(SeriesInfeasible) as caught:
        plan_series(sessions, SeriesRules(time_limit=5.0, weekends="exclude"))
    assert "Tel Aviv and Tokyo together (no local weekend or public holiday)" in str(caught.value)

    plan = plan_series(sessions, FAST).fair
    assert any("weekend" in note for note in plan.sessions[0].notes)

    # With Monday in the window, exclusion picks a start that is a weekday for both.
    longer = [session("A", TOKYO, TEL_AVIV, start=friday, days=4, minutes=60)]
    start = plan_series(longer, SeriesRules(time_limit=5.0, weekends="exclude")).fair.start_of("A")
    assert timezones.to_local(start, "Asia/Tokyo").weekday() < 5
    assert timezones.to_local(start, "Asia/Jerusalem").weekday() not in (4, 5)


# --------------------------------------------------------------------------------------------
# fairness


def weekly(count: int, *members: Participant, minutes: int = 120) -> list[SeriesSession]:
    first = datetime(2024, 1, 10, tzinfo=UTC)  # a Wednesday
    return [
        session(
            f"S{k + 1}",
            *members,
            start=first + timedelta(weeks=k),
            minutes=minutes,
            series="WG",
        )
        for k in range(count)
    ]


def test_fairness_rotates_the_night_burden_over_a_series():
    # Four cities about six hours apart: every 2-hour slot keeps one of them up at night.
    sessions = weekly(12, DENVER, LONDON, DHAKA, AUCKLAND)

    plan = plan_series(sessions, FAST)

    unfair = {b.name: b.night for b in plan.unfair.burdens}
    fair = {b.name: b.night for b in plan.fair.burdens}
    assert max(unfair.values()) == 12  # the cheapest slot, every week, on the same city
    assert max(fair.values()) <= 4
    assert sum(1 for n in fair.values() if n) >= 3
    assert plan.fair.max_night_share <= plan.unfair.max_night_share / 2
    assert plan.fair.discomfort >= plan.unfair.discomfort
    assert plan.fair.total < plan.unfair.total
    assert plan.fair.status == "OPTIMAL"


def test_greedy_baseline_keeps_the_hard_constraints_but_not_the_rotation():
    sessions = weekly(6, DENVER, LONDON, DHAKA, AUCKLAND)
    sessions += [session("X", DENVER, start=s.window_start, series="other") for s in sessions[:1]]

    greedy = greedy_plan(sessions, FAST)

    assert greedy.status == "GREEDY"
    assert not overlap(greedy, "S1", "X")
    assert max(b.night for b in greedy.burdens) == 6


def test_same_input_and_seed_give_the_same_plan():
    sessions = weekly(12, DENVER, LONDON, DHAKA, AUCKLAND)
    sessions.append(session("Extra", TOKYO, ROTTERDAM, start=datetime(2024, 1, 10, tzinfo=UTC)))
    rules = SeriesRules(time_limit=5.0, seed=7, max_per_day=2)

    first = plan_series(sessions, rules)
    second = plan_series(sessions, rules)

    assert [s.start_utc for s in first.fair.sessions] == [s.start_utc for s in second.fair.sessions]
    assert first.fair.burdens == second.fair.burdens
    assert first.fair.discomfort == second.fair.discomfort
    parallel = SeriesRules(time_limit=5.0, seed=7, max_per_day=2, workers=2)
    assert [s.start_utc for s in plan_series(sessions, parallel).fair.sessions] == [
        s.start_utc for s in plan_series(sessions, parallel).fair.sessions
    ]


# --------------------------------------------------------------------------------------------
# clock changes across a series


def dst_series() -> list[SeriesSession]:
    # Wednesdays from 2023-09-20 to 2023-11-08: New South Wales goes to UTC+11 on
    # 2023-10-01, Europe back to UTC+1 on 2023-10-29; Tokyo never changes.
    first = datetime(2023, 9, 20, tzinfo=UTC)
    return [
        session(
            f"W{k + 1}",
            SYDNEY,
            ROTTERDAM,
            TOKYO,
            start=first + timedelta(weeks=k),
            minutes=60,
            series="Water",
        )
        for k in range(8)
    ]


def test_series_kept_in_utc_says_whose_local_time_moves_and_when():
    plan = plan_series(dst_series(), SeriesRules(time_limit=5.0, keep="utc"))

    assert len({s.start_utc.time() for s in plan.fair.sessions}) == 1
    changes = {c.cities: c for c in plan.clock_changes}
    assert set(changes) == {("New South Wales",), ("Rotterdam",)}
    sydney = changes[("New South Wales",)]
    assert sydney.move == timedelta(hours=1)
    assert sydney.changed_on == date(2023, 10, 1)
    assert sydney.first_session == "W3"  # 2023-10-04, the first Wednesday after the change
    assert (sydney.offset_before, sydney.offset_after) == ("+10:00", "+11:00")
    europe = changes[("Rotterdam",)]
    assert europe.move == timedelta(hours=-1)
    assert europe.changed_on == date(2023, 10, 29)
    assert europe.first_session == "W7"  # 2023-11-01
    assert "local time moves -1:00 from W7 (2023-11-01) on" in europe.text()


def test_series_kept_in_organizer_time_moves_the_cities_without_summer_time():
    rules = SeriesRules(time_limit=5.0, keep="local", organizer_zone="Europe/Amsterdam")
    plan = plan_series(dst_series(), rules)

    local = {timezones.to_local(s.start_utc, "Europe/Amsterdam").time() for s in plan.fair.sessions}
    assert len(local) == 1
    moves = {(c.cities, c.first_session): c for c in plan.clock_changes}
    # Rotterdam keeps its time; Tokyo moves when the organizer's clocks go back; New South
    # Wales moves twice: its own change, then the organizer's.
    assert not any("Rotterdam" in c.cities for c in plan.clock_changes)
    assert set(moves) == {(("New South Wales",), "W3"), (("New South Wales", "Tokyo"), "W7")}
    own = moves[(("New South Wales",), "W3")]
    assert (own.move, own.zones, own.changed_on) == (
        timedelta(hours=1),
        ("Australia/Sydney",),
        date(2023, 10, 1),
    )
    organizer = moves[(("New South Wales", "Tokyo"), "W7")]
    assert (organizer.move, organizer.zones, organizer.changed_on) == (
        timedelta(hours=1),
        ("Europe/Amsterdam",),
        date(2023, 10, 29),
    )


def test_rotating_series_lists_each_clock_change_once():
    plan = plan_series(dst_series(), FAST)

    texts = [c.text() for c in plan.clock_changes]
    assert len(texts) == 2
    assert all(c.move is None for c in plan.clock_changes)
    assert any("New South Wales" in t and "+10:00 -> +11:00 on 2023-10-01" in t for t in texts)
    assert any("Rotterdam" in t and "+02:00 -> +01:00 on 2023-10-29" in t for t in texts)


# --------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"minutes": 120, "days": 0}, "shorter than its duration"),
        ({"minutes": 0}, "duration must be 1 to 1440 minutes"),
    ],
)
def test_bad_sessions_are_refused_with_their_name(change, message):
    start = DAY
    days = change.get("days", 1)
    bad = SeriesSession(
        key="Bad",
        title="Bad",
        duration_minutes=change["minutes"],
        window_start=start,
        window_end=start + timedelta(days=days, minutes=90 if days == 0 else 0),
        attendees=(Attendee(TOKYO),),
    )
    with pytest.raises(ValueError, match=message) as caught:
        plan_series([bad], FAST)
    assert "'Bad'" in str(caught.value)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (SeriesRules(step_minutes=7), "--step"),
        (SeriesRules(max_per_day=0), "--max-per-day"),
        (SeriesRules(day_zone="Mars/Olympus"), "--day-zone"),
        (SeriesRules(quiet=("05:00", "05:00")), "empty"),
        (SeriesRules(quiet=("25:00", "05:00")), "time of day"),
    ],
)
def test_bad_rules_are_refused(rules, message):
    with pytest.raises(ValueError, match=message):
        plan_series([session("A", TOKYO)], rules)


def test_duplicate_keys_are_refused():
    with pytest.raises(ValueError, match="repeated: A"):
        plan_series([session("A", TOKYO), session("A", ROTTERDAM)], FAST)
