"""The slot finder: hand-computed rankings, DST, calendars, arguments, and find_slots ==
rank_naive on random inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coordinator import timezones
from coordinator.scheduling.comfort import ComfortModel
from coordinator.scheduling.slots import (
    Candidate,
    CityTime,
    Participant,
    SlotSearch,
    find_slots,
    rank_naive,
)

HOUR = timedelta(hours=1)
TOKYO = Participant("Tokyo", "Asia/Tokyo", "JP")
ROTTERDAM = Participant("Rotterdam", "Europe/Amsterdam", "NL")
SYDNEY = Participant("New South Wales", "Australia/Sydney", "AU", "NSW")
BRISBANE = Participant("Brisbane", "Australia/Brisbane", "AU", "QLD")
AUCKLAND = Participant("Auckland", "Pacific/Auckland", "NZ", "AUK")
TEL_AVIV = Participant("Tel Aviv", "Asia/Jerusalem", "IL")
KICKOFF = Path(__file__).resolve().parents[2] / "coordinator" / "data" / "gnets-2023-kickoff.yaml"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def only(participants, start: datetime, duration: timedelta = HOUR, **kwargs) -> Candidate:
    """The single candidate of a window exactly as long as the meeting."""
    search = find_slots(participants, start, start + duration, duration, **kwargs)
    assert search.considered == 1
    return search.candidates[0]


def city(candidate: Candidate, name: str) -> CityTime:
    return next(c for c in candidate.cities if c.city == name)


# --------------------------------------------------------------------------------------------
# by hand


def test_tokyo_and_rotterdam_on_3_october_2023():
    search = find_slots([TOKYO, ROTTERDAM], utc(2023, 10, 3), utc(2023, 10, 4), HOUR)
    assert search.considered == 93  # 00:00Z .. 23:00Z every 15 minutes
    assert search.warnings == ()
    # Working hours overlap from 06:00Z (15:00 Tokyo, 08:00 Rotterdam) to 09:00Z: nine free
    # one-hour starts, ranked earliest first; then 08:15Z (Tokyo 17:15-18:15: 0.25 h x 1).
    starts = [c.start_utc for c in search.candidates]
    assert starts[:9] == [utc(2023, 10, 3, 6) + i * timedelta(minutes=15) for i in range(9)]
    assert [c.cost for c in search.candidates[:9]] == [0.0] * 9
    assert (starts[9], search.candidates[9].cost) == (utc(2023, 10, 3, 8, 15), 0.25)

    seven = next(c for c in search.candidates if c.start_utc == utc(2023, 10, 3, 7))
    assert seven.end_utc == utc(2023, 10, 3, 8)
    assert seven.cities == (
        CityTime(
            city="Tokyo",
            zone="Asia/Tokyo",
            local_start=timezones.to_local(utc(2023, 10, 3, 7), "Asia/Tokyo"),
            local_end=timezones.to_local(utc(2023, 10, 3, 8), "Asia/Tokyo"),
            utc_offset="+09:00",
            comfort="working",
            notes=(),
            cost=0.0,
        ),
        CityTime(
            city="Rotterdam",
            zone="Europe/Amsterdam",
            local_start=timezones.to_local(utc(2023, 10, 3, 7), "Europe/Amsterdam"),
            local_end=timezones.to_local(utc(2023, 10, 3, 8), "Europe/Amsterdam"),
            utc_offset="+02:00",
            comfort="working",
            notes=(),
            cost=0.0,
        ),
    )
    assert city(seven, "Tokyo").local_start.strftime("%H:%M") == "16:00"
    assert city(seven, "Rotterdam").local_start.strftime("%H:%M") == "09:00"


def test_costs_add_up_with_weights():
    # 2023-10-03 12:00Z: Tokyo 21:00-22:00 (evening, 1), Rotterdam 14:00 (working, 0),
    # Denver 06:00-07:00 (early, 2).
    denver = Participant("Denver", "America/Denver", "US", "CO", weight=0.5)
    candidate = only([TOKYO, ROTTERDAM, denver], utc(2023, 10, 3, 12))
    assert [(c.city, c.comfort, c.cost) for c in candidate.cities] == [
        ("Tokyo", "evening", 1.0),
        ("Rotterdam", "working", 0.0),
        ("Denver", "early", 2.0),
    ]
    assert candidate.cost == 1.0 + 0.5 * 2.0
    assert city(candidate, "Denver").utc_offset == "-06:00"


def test_ties_are_broken_by_earliest_start():
    search = find_slots(
        [Participant("Reykjavik", "Atlantic/Reykjavik", "IS")],
        utc(2023, 10, 2, 7, 55),  # Monday; first start on the 30-minute grid is 08:00Z
        utc(2023, 10, 4),
        HOUR,
        step_minutes=30,
        top=5,
    )
    assert [c.start_utc for c in search.candidates] == [
        utc(2023, 10, 2, 8),
        utc(2023, 10, 2, 8, 30),
        utc(2023, 10, 2, 9),
        utc(2023, 10, 2, 9, 30),
        utc(2023, 10, 2, 10),
    ]
    assert {c.cost for c in search.candidates} == {0.0}
    assert search.considered == (48 - 8) * 2 - 1  # 08:00Z on the 2nd .. 23:00Z on the 3rd


def test_window_given_in_another_offset_is_read_as_an_instant():
    tokyo_time = timezone(timedelta(hours=9))
    search = find_slots(
        [TOKYO],
        datetime(2023, 10, 3, 16, 0, tzinfo=tokyo_time),
        datetime(2023, 10, 3, 17, 0, tzinfo=tokyo_time),
        HOUR,
    )
    assert search.candidates[0].start_utc == utc(2023, 10, 3, 7)
    assert search.candidates[0].start_utc.utcoffset() == timedelta(0)


# --------------------------------------------------------------------------------------------
# clock changes in the kickoff window


def test_sydney_moves_to_plus_11_on_1_october_2023_brisbane_does_not():
    before = only([SYDNEY, BRISBANE], utc(2023, 9, 28, 3))
    after = only([SYDNEY, BRISBANE], utc(2023, 10, 3, 3))
    assert city(before, "New South Wales").utc_offset == "+10:00"
    assert city(after, "New South Wales").utc_offset == "+11:00"
    assert city(before, "Brisbane").utc_offset == "+10:00"
    assert city(after, "Brisbane").utc_offset == "+10:00"
    assert city(before, "New South Wales").local_start.strftime("%H:%M") == "13:00"
    assert city(after, "New South Wales").local_start.strftime("%H:%M") == "14:00"
    assert city(after, "Brisbane").local_start.strftime("%H:%M") == "13:00"


def test_auckland_is_plus_13_after_24_september_2023():
    assert city(only([AUCKLAND], utc(2023, 9, 20, 3)), "Auckland").utc_offset == "+12:00"
    assert city(only([AUCKLAND], utc(2023, 9, 28, 3)), "Auckland").utc_offset == "+13:00"


def test_meeting_across_the_sydney_change_is_priced_in_real_time():
    # 15:30Z-16:30Z on 30 September: 01:30 (+10) to 03:30 (+11) on Sunday 1 October.
    candidate = only([SYDNEY], utc(2023, 9, 30, 15, 30))
    sydney = city(candidate, "New South Wales")
    assert sydney.notes == ("clock change: +10:00 -> +11:00", "weekend")
    assert sydney.comfort == "night"
    assert candidate.cost == 10.0 + 20.0
    assert rank_naive([SYDNEY], candidate.start_utc, candidate.end_utc, HOUR).candidates == (
        candidate,
    )


# --------------------------------------------------------------------------------------------
# weekends and holidays


def test_friday_is_weekend_in_israel_saturday_in_tokyo():
    friday = only([TEL_AVIV, TOKYO], utc(2023, 10, 13, 6))  # 09:00 Tel Aviv, 15:00 Tokyo
    assert city(friday, "Tel Aviv").notes == ("weekend",)
    assert city(friday, "Tokyo").notes == ()
    assert friday.cost == 20.0
    saturday = only([TEL_AVIV, TOKYO], utc(2023, 10, 14, 6))
    assert city(saturday, "Tokyo").notes == ("weekend",)
    assert city(saturday, "Tel Aviv").notes == ("weekend",)
    sunday = only([TEL_AVIV, TOKYO], utc(2023, 10, 15, 6))
    assert city(sunday, "Tel Aviv").notes == ()
    assert city(sunday, "Tokyo").notes == ("weekend",)


def test_japanese_holidays_are_flagged():
    sports_day = only([TOKYO, ROTTERDAM], utc(2023, 10, 9, 7))
    assert city(sports_day, "Tokyo").notes == ("holiday: Sports Day",)
    assert city(sports_day, "Rotterdam").notes == ()
    assert sports_day.cost == 30.0
    aged = only([TOKYO], utc(2023, 9, 18, 2))
    assert city(aged, "Tokyo").notes == ("holiday: Respect for the Aged Day",)


def test_holidays_push_a_slot_down_the_ranking():
    # Monday 9 October (Sports Day in Japan) vs Tuesday 10 October, same UTC hour.
    search = find_slots([TOKYO, ROTTERDAM], utc(2023, 10, 9), utc(2023, 10, 11), HOUR, top=20)
    days = {c.start_utc.day for c in search.candidates[:9]}
    assert days == {10}


def test_custom_model_is_used():
    model = ComfortModel(weekend_penalty=0.0)
    saturday = only([TOKYO], utc(2023, 10, 14, 6), model=model)
    assert saturday.cost == 0.0
    assert city(saturday, "Tokyo").notes == ("weekend",)


# --------------------------------------------------------------------------------------------
# warnings


def test_unknown_zone_is_left_out_and_named():
    airai = Participant("Airai", timezones.UNKNOWN_ZONE, "PW")
    laamu = Participant("Laamu", "unknown", "MV")
    search = find_slots([TOKYO, airai, laamu], utc(2023, 10, 3, 7), utc(2023, 10, 3, 8), HOUR)
    assert search.warnings == (
        "time zone unknown for Airai, Laamu: left out of scoring (give a zone to include them)",
    )
    assert [c.city for c in search.candidates[0].cities] == ["Tokyo"]


def test_only_unknown_zones():
    search = find_slots(
        [Participant("Airai", "unknown")], utc(2023, 10, 3), utc(2023, 10, 3, 2), HOUR
    )
    assert "no participant has a known time zone: every slot costs 0" in search.warnings
    assert [c.cost for c in search.candidates] == [0.0] * 5


def test_calendar_warnings():
    search = find_slots(
        [
            Participant("Nowhere", "Asia/Tokyo", "XX"),
            Participant("Drifter", "Asia/Tokyo"),
            Participant("Atlantis", "Asia/Tokyo", "JP", "Atlantis"),
        ],
        utc(2023, 10, 3),
        utc(2023, 10, 3, 2),
        HOUR,
    )
    assert search.warnings == (
        "no country for Drifter: Saturday-Sunday weekend and no public holidays assumed",
        "no holiday calendar for XX (Nowhere)",
        "no holiday calendar for JP-Atlantis; national holidays only (Atlantis)",
    )


def test_warning_after_2037():
    search = find_slots([ROTTERDAM, TOKYO], utc(2038, 3, 1), utc(2038, 3, 2), HOUR)
    assert any("Europe/Amsterdam" in w and "2037" in w for w in search.warnings)
    assert not any("Asia/Tokyo" in w for w in search.warnings)


def test_no_start_on_the_grid():
    search = find_slots([TOKYO], utc(2023, 10, 3, 7, 5), utc(2023, 10, 3, 8, 10), HOUR)
    assert search.considered == 0
    assert search.candidates == ()
    assert "no start on the 15-minute UTC grid" in search.warnings[0]


def test_json_form():
    data = only([TOKYO], utc(2023, 10, 3, 7)).to_dict()
    assert data == {
        "start_utc": "2023-10-03T07:00:00+00:00",
        "end_utc": "2023-10-03T08:00:00+00:00",
        "cost": 0.0,
        "cities": [
            {
                "city": "Tokyo",
                "zone": "Asia/Tokyo",
                "local_start": "2023-10-03T16:00:00+09:00",
                "local_end": "2023-10-03T17:00:00+09:00",
                "utc_offset": "+09:00",
                "comfort": "working",
                "notes": [],
                "cost": 0.0,
            }
        ],
    }


# --------------------------------------------------------------------------------------------
# arguments


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration": timedelta(0)}, "--duration must be positive"),
        ({"duration": -HOUR}, "--duration must be positive"),
        ({"duration": timedelta(hours=24, minutes=1)}, "--duration must be at most 24 hours"),
        ({"duration": timedelta(minutes=30, seconds=1)}, "--duration must be a whole number"),
        ({"duration": 60}, "--duration"),
        ({"duration": timedelta(days=3)}, "--duration"),
        ({"step_minutes": 7}, "--step"),
        ({"step_minutes": 0}, "--step"),
        ({"step_minutes": 90}, "--step"),
        ({"step_minutes": 15.0}, "--step"),
        ({"step_minutes": True}, "--step"),
        ({"top": 0}, "--top"),
        ({"window_end": utc(2023, 10, 3)}, "--from .* must be before --to"),
        ({"window_end": utc(2023, 10, 2)}, "--from .* must be before --to"),
        ({"window_end": utc(2024, 10, 3, 0, 1)}, "--from/--to window"),
        ({"window_start": datetime(2023, 10, 3)}, "--from 2023-10-03T00:00:00 has no time zone"),
        ({"window_end": datetime(2023, 10, 4)}, "--to 2023-10-04T00:00:00 has no time zone"),
        ({"window_end": utc(2023, 10, 3, 0, 30)}, "--duration .* longer than the --from/--to"),
        ({"participants": []}, "no participants"),
        ({"participants": [Participant("Tokyo", "Asia/Tokyo", weight=-1)]}, "'Tokyo': weight"),
    ],
)
@pytest.mark.parametrize("finder", [find_slots, rank_naive])
def test_argument_errors(finder, kwargs, message):
    arguments = {
        "participants": [TOKYO],
        "window_start": utc(2023, 10, 3),
        "window_end": utc(2023, 10, 4),
        "duration": HOUR,
    }
    arguments.update(kwargs)
    options = {k: arguments.pop(k) for k in ("step_minutes", "top") if k in arguments}
    with pytest.raises(ValueError, match=message):
        finder(
            arguments["participants"],
            arguments["window_start"],
            arguments["window_end"],
            arguments["duration"],
            **options,
        )


def test_a_window_of_366_days_is_allowed():
    search = find_slots([TOKYO], utc(2023, 1, 1), utc(2024, 1, 2), timedelta(hours=24), top=1)
    assert search.considered == 365 * 96 + 1


def test_invalid_zone_names_the_participant():
    with pytest.raises(timezones.UnknownZoneError) as caught:
        find_slots([Participant("Tokyo", "Asia/Tokio")], utc(2023, 10, 3), utc(2023, 10, 4), HOUR)
    assert "'Tokyo'" in str(caught.value) and "Asia/Tokyo" in str(caught.value)


def test_zone_spelling_is_forgiven():
    candidate = only([Participant("Tokyo", "asia/tokyo")], utc(2023, 10, 3, 7))
    assert candidate.cities[0].zone == "Asia/Tokyo"


# --------------------------------------------------------------------------------------------
# find_slots == rank_naive


def assert_same(fast: SlotSearch, naive: SlotSearch) -> None:
    assert fast.considered == naive.considered
    assert fast.warnings == naive.warnings
    assert [c.start_utc for c in fast.candidates] == [c.start_utc for c in naive.candidates]
    for a, b in zip(fast.candidates, naive.candidates, strict=True):
        assert a.end_utc == b.end_utc
        assert abs(a.cost - b.cost) <= 1e-9
        assert a.cities == b.cities


ZONES = sorted(timezones.all_zones())
COUNTRY_OF = {z: c for c, zs in sorted(timezones.zones_by_country().items()) for z in zs}
INTERESTING = [
    "Australia/Sydney",
    "Australia/Brisbane",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Africa/Cairo",
    "Asia/Amman",
    "America/Denver",
    "America/Havana",
    "America/Santiago",
    "Europe/Amsterdam",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Asia/Jerusalem",
    "Asia/Dubai",
    "Indian/Maldives",
    "Pacific/Palau",
    "America/St_Johns",
    "Asia/Tehran",
]


@st.composite
def participant_sets(draw):
    count = draw(st.integers(1, 5))
    people = []
    for i in range(count):
        zone = draw(st.one_of(st.sampled_from(INTERESTING), st.sampled_from(ZONES)))
        country = draw(st.sampled_from(["zone", "zone", None, "XX", "IL", "AE"]))
        country = COUNTRY_OF.get(zone) if country == "zone" else country
        weight = draw(st.sampled_from([1.0, 1.0, 0.5, 0.25, 2.0, 0.0]))
        people.append(Participant(f"P{i}", zone, country, weight=weight))
    if draw(st.booleans()) and count > 1:
        people.append(people[0])  # the same city twice
    return people


@st.composite
def windows(draw, people):
    year = draw(st.integers(2020, 2030))
    moments = [
        t.at_utc
        for p in people
        for t in timezones.transitions(p.zone, utc(year, 1, 1), utc(year + 1, 1, 1))
    ]
    if moments and draw(st.booleans()):
        anchor = draw(st.sampled_from(moments))  # around a clock change
        start = anchor - timedelta(minutes=draw(st.integers(0, 36 * 60)))
    else:
        start = utc(year, 1, 1) + timedelta(minutes=draw(st.integers(0, 365 * 24 * 60)))
    start += timedelta(seconds=draw(st.sampled_from([0, 0, 1, 59])))
    length = timedelta(minutes=draw(st.integers(60, 48 * 60)))
    return start, start + length


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_find_slots_ranks_like_rank_naive(data):
    people = data.draw(participant_sets())
    start, end = data.draw(windows(people))
    duration = timedelta(
        minutes=data.draw(st.sampled_from([15, 30, 60, 90, 120, 45, 24 * 60, 5, 1]))
    )
    if duration > end - start:
        duration = end - start - timedelta(seconds=(end - start).seconds % 60)
    step = data.draw(st.sampled_from([15, 30, 60, 20, 5]))
    top = data.draw(st.sampled_from([1, 10, 10_000]))
    fast = find_slots(people, start, end, duration, step_minutes=step, top=top)
    naive = rank_naive(people, start, end, duration, step_minutes=step, top=top)
    assert_same(fast, naive)


@pytest.mark.skipif(not KICKOFF.exists(), reason="kickoff fixture not present")
def test_kickoff_network_ranks_like_rank_naive_over_the_sydney_change():
    cities = yaml.safe_load(KICKOFF.read_text(encoding="utf-8"))["cities"]
    people = [
        Participant(
            c["name"],
            c.get("zone") or timezones.UNKNOWN_ZONE,
            c.get("country"),
            None if c.get("subdivision") is None else str(c["subdivision"]),
        )
        for c in cities
    ]
    assert len(people) == 47
    start, end = utc(2023, 9, 30, 6), utc(2023, 10, 1, 6)
    fast = find_slots(people, start, end, HOUR, top=100)
    naive = rank_naive(people, start, end, HOUR, top=100)
    assert_same(fast, naive)
    assert fast.considered == 93
    costs = np.array([c.cost for c in fast.candidates])
    assert np.all(np.diff(costs) >= -1e-9)  # best first
