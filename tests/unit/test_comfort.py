"""The comfort model: hand-computed cases, calendars, and the vectorised scorer == scalar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator import timezones
from coordinator.scheduling import comfort
from coordinator.scheduling.comfort import (
    DEFAULT_BANDS,
    DEFAULT_MODEL,
    Band,
    ComfortModel,
    score_interval,
    score_starts,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: str, *args: int) -> datetime:
    return timezones.to_utc(datetime(*args), zone)


def score(zone, start, minutes, country=None, subdivision=None, model=DEFAULT_MODEL):
    return score_interval(
        start,
        start + timedelta(minutes=minutes),
        zone,
        country=country,
        subdivision=subdivision,
        model=model,
    )


# --------------------------------------------------------------------------------------------
# the model


def test_default_bands():
    assert [(b.label, b.start, b.end, b.rate) for b in DEFAULT_BANDS] == [
        ("night", 0, 360, 10.0),
        ("early", 360, 480, 2.0),
        ("working", 480, 1080, 0.0),
        ("evening", 1080, 1320, 1.0),
        ("evening", 1320, 1440, 4.0),
    ]
    assert DEFAULT_MODEL.weekend_penalty == 20.0
    assert DEFAULT_MODEL.holiday_penalty == 30.0
    assert Band.between("22:00", "24:00", 4, "evening") == Band("evening", 1320, 1440, 4)


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        ((), "at least one band"),
        ((Band("working", 0, 1000, 0), Band("night", 1000, 1400, 1)), "24:00"),
        ((Band("working", 0, 700, 0), Band("night", 720, 1440, 1)), "without gaps"),
        ((Band("lunch", 0, 1440, 0),), "not one of"),
        ((Band("night", 0, 1440, -1),), "rate"),
        ((Band("night", 0, 1440, float("nan")),), "rate"),
    ],
)
def test_model_validation(bands, message):
    with pytest.raises(ValueError, match=message):
        ComfortModel(bands=bands)


def test_penalty_validation():
    with pytest.raises(ValueError, match="weekend_penalty"):
        ComfortModel(weekend_penalty=-1)
    with pytest.raises(ValueError, match="holiday_penalty"):
        ComfortModel(holiday_penalty=float("inf"))


# --------------------------------------------------------------------------------------------
# clock bands, by hand


def test_tokyo_afternoon_is_free_working_time():
    result = score("Asia/Tokyo", utc(2023, 10, 3, 7), 60, "JP")
    assert result.local_start.isoformat() == "2023-10-03T16:00:00+09:00"
    assert result.local_end.isoformat() == "2023-10-03T17:00:00+09:00"
    assert result.utc_offset == timedelta(hours=9)
    assert (result.comfort, result.cost, result.notes) == ("working", 0.0, ())


@pytest.mark.parametrize(
    ("hour", "minute", "minutes", "cost", "label"),
    [
        (16, 0, 60, 0.0, "working"),
        (21, 30, 60, 2.5, "evening"),  # 0.5 h x 1 + 0.5 h x 4 (late evening, labelled evening)
        (18, 0, 240, 4.0, "evening"),
        (22, 0, 120, 8.0, "evening"),  # 22:00-24:00 is still "evening"
        (23, 0, 120, 14.0, "night"),  # 1 h x 4 + 1 h x 10, across midnight
        (5, 30, 60, 6.0, "night"),  # 0.5 h x 10 + 0.5 h x 2
        (7, 0, 90, 2.0, "early"),  # 1 h x 2 + 0.5 h x 0
        (17, 45, 30, 0.25, "evening"),
        (0, 0, 24 * 60, 60 + 4 + 4 + 8, "night"),  # a whole day
        (8, 0, 1, 0.0, "working"),
    ],
)
def test_bands_weighted_by_minutes(hour, minute, minutes, cost, label):
    # Tuesday 2023-10-03 in Tokyo; no weekend, no holiday (Wednesday 4th neither).
    result = score("Asia/Tokyo", local("Asia/Tokyo", 2023, 10, 3, hour, minute), minutes, "JP")
    assert result.cost == pytest.approx(cost, abs=1e-12)
    assert result.comfort == label
    assert result.notes == ()


def test_custom_model():
    model = ComfortModel(
        bands=(
            Band.between("00:00", "09:00", 3, "night"),
            Band.between("09:00", "17:00", 0, "working"),
            Band.between("17:00", "24:00", 1, "evening"),
        ),
        weekend_penalty=5,
        holiday_penalty=7,
    )
    start = local("Asia/Tokyo", 2023, 10, 7, 8, 0)  # Saturday
    result = score("Asia/Tokyo", start, 120, "JP", model=model)
    assert result.cost == 3 + 5
    assert result.comfort == "night"


# --------------------------------------------------------------------------------------------
# weekends and holidays


@pytest.mark.parametrize(
    ("zone", "country", "day", "weekend"),
    [
        ("Asia/Jerusalem", "IL", 13, True),  # Friday 2023-10-13
        ("Asia/Jerusalem", "IL", 14, True),  # Saturday
        ("Asia/Jerusalem", "IL", 15, False),  # Sunday is a working day
        ("Asia/Tokyo", "JP", 13, False),
        ("Asia/Tokyo", "JP", 14, True),
        ("Asia/Tokyo", "JP", 15, True),
        ("Asia/Amman", "JO", 13, True),
        ("Africa/Cairo", "EG", 13, True),
        ("Asia/Baghdad", "IQ", 13, True),
        ("Indian/Maldives", "MV", 13, True),
        ("Indian/Maldives", "MV", 15, False),
        ("Asia/Dubai", "AE", 13, False),  # Saturday-Sunday since 2022
        ("Asia/Dubai", "AE", 15, True),
        ("Pacific/Palau", "PW", 14, True),
        ("Asia/Tokyo", None, 14, True),  # no country: Saturday-Sunday
        ("Asia/Tokyo", "XX", 14, True),  # unknown country: Saturday-Sunday
        ("Asia/Tokyo", "XX", 13, False),
    ],
)
def test_local_weekends(zone, country, day, weekend):
    result = score(zone, local(zone, 2023, 10, day, 11, 0), 60, country)
    assert ("weekend" in result.notes) is weekend
    assert result.cost == (20.0 if weekend else 0.0)


def test_uae_weekend_was_friday_saturday_before_2022():
    friday_2021 = local("Asia/Dubai", 2021, 10, 8, 11, 0)
    assert "weekend" in score("Asia/Dubai", friday_2021, 60, "AE").notes
    sunday_2021 = local("Asia/Dubai", 2021, 10, 10, 11, 0)
    assert "weekend" not in score("Asia/Dubai", sunday_2021, 60, "AE").notes


def test_weekend_judged_on_every_local_date_touched():
    # Friday 23:30 - Saturday 00:30 in Tokyo touches Saturday.
    late = score("Asia/Tokyo", local("Asia/Tokyo", 2023, 10, 6, 23, 30), 60, "JP")
    assert "weekend" in late.notes
    assert late.cost == 0.5 * 4 + 0.5 * 10 + 20
    # Friday 23:00 - 24:00 ends at midnight: Saturday is not touched.
    ending = score("Asia/Tokyo", local("Asia/Tokyo", 2023, 10, 6, 23, 0), 60, "JP")
    assert "weekend" not in ending.notes
    assert ending.cost == 4.0
    # The weekend penalty is paid once, even when both days are touched.
    both = score("Asia/Tokyo", local("Asia/Tokyo", 2023, 10, 7, 23, 30), 60, "JP")
    assert both.cost == 0.5 * 4 + 0.5 * 10 + 20


def test_japanese_holidays():
    sports = score("Asia/Tokyo", local("Asia/Tokyo", 2023, 10, 9, 10, 0), 60, "JP")
    assert sports.notes == ("holiday: Sports Day",)
    assert sports.cost == 30.0
    aged = score("Asia/Tokyo", local("Asia/Tokyo", 2023, 9, 18, 10, 0), 60, "JP")
    assert aged.notes == ("holiday: Respect for the Aged Day",)
    # Same UTC instant, Rotterdam: an ordinary Monday morning at 03:00 - night, no holiday.
    rotterdam = score("Europe/Amsterdam", local("Asia/Tokyo", 2023, 10, 9, 10, 0), 60, "NL")
    assert rotterdam.notes == ()
    assert rotterdam.comfort == "night"


def test_holiday_on_a_weekend_pays_both():
    # 2023-09-30 (Saturday) is Sukkot in Israel.
    result = score("Asia/Jerusalem", local("Asia/Jerusalem", 2023, 9, 30, 11, 0), 60, "IL")
    assert result.notes == ("weekend", "holiday: Sukkot")
    assert result.cost == 50.0


def test_subdivision_holidays():
    monday = local("Australia/Sydney", 2023, 10, 2, 11, 0)
    nsw = score("Australia/Sydney", monday, 60, "AU", "NSW")
    assert nsw.notes == ("holiday: Labor Day",)
    western = score("Australia/Perth", local("Australia/Perth", 2023, 10, 2, 11, 0), 60, "AU", "WA")
    assert western.notes == ()


def test_missing_calendars_are_noted():
    unknown = score("Asia/Tokyo", local("Asia/Tokyo", 2023, 10, 3, 11, 0), 60, "XX")
    assert unknown.notes == ("no holiday calendar for XX",)
    assert unknown.cost == 0.0
    bad_subdivision = score(
        "Asia/Tokyo", local("Asia/Tokyo", 2023, 10, 9, 11, 0), 60, "JP", "Atlantis"
    )
    assert bad_subdivision.notes == (
        "holiday: Sports Day",
        "no holiday calendar for JP-Atlantis; national holidays only",
    )
    assert comfort.calendar_note("xx", None, 2023) == "no holiday calendar for XX"
    assert comfort.calendar_note("JP", None, 2023) is None


# --------------------------------------------------------------------------------------------
# clock changes during the meeting


def test_spring_forward_during_meeting_is_not_charged_for_the_skipped_hour():
    # Sydney 2023-10-01 02:00 +10:00 -> 03:00 +11:00 (16:00Z), a Sunday.
    result = score("Australia/Sydney", utc(2023, 9, 30, 15, 30), 60, "AU", "NSW")
    assert result.local_start.isoformat() == "2023-10-01T01:30:00+10:00"
    assert result.local_end.isoformat() == "2023-10-01T03:30:00+11:00"
    assert result.notes == ("clock change: +10:00 -> +11:00", "weekend")
    assert result.cost == 10.0 + 20.0  # one real hour of night


def test_fall_back_during_meeting_charges_the_repeated_hour():
    # Amsterdam 2023-10-29 03:00 +02:00 -> 02:00 +01:00 (01:00Z), a Sunday.
    result = score("Europe/Amsterdam", utc(2023, 10, 29, 0, 30), 60, "NL")
    assert result.local_start.isoformat() == "2023-10-29T02:30:00+02:00"
    assert result.local_end.isoformat() == "2023-10-29T02:30:00+01:00"
    assert result.cost == 10.0 + 20.0
    assert result.comfort == "night"


def test_invalid_interval():
    with pytest.raises(ValueError, match="end after it starts"):
        score_interval(utc(2023, 1, 1), utc(2023, 1, 1), "UTC")
    with pytest.raises(ValueError, match="positive"):
        score_starts(np.array([0]), 0, "UTC")


# --------------------------------------------------------------------------------------------
# the vectorised scorer equals the scalar one, to the bit


def _scalar(starts, duration, zone, country=None, subdivision=None, model=DEFAULT_MODEL):
    return [
        score_interval(
            datetime.fromtimestamp(int(s), UTC),
            datetime.fromtimestamp(int(s) + duration, UTC),
            zone,
            country=country,
            subdivision=subdivision,
            model=model,
        ).cost
        for s in starts
    ]


@pytest.mark.parametrize(
    ("zone", "country", "subdivision", "change"),
    [
        ("Australia/Sydney", "AU", "NSW", utc(2023, 9, 30, 16)),
        ("Australia/Sydney", "AU", "NSW", utc(2024, 4, 6, 16)),
        ("Pacific/Auckland", "NZ", "AUK", utc(2023, 9, 23, 14)),
        ("Europe/Amsterdam", "NL", None, utc(2023, 10, 29, 1)),
        ("America/Denver", "US", "CO", utc(2024, 3, 10, 9)),
        ("Africa/Cairo", "EG", None, utc(2023, 10, 26, 21)),
        ("America/Havana", "CU", None, utc(2023, 3, 12, 5)),  # clocks jump at midnight
        ("Australia/Lord_Howe", "AU", "NSW", utc(2023, 9, 30, 15, 30)),  # 30-minute change
        ("Asia/Tokyo", "JP", None, utc(2023, 10, 8, 15)),  # no change at all
        # Goose Bay fell back from Sunday 00:01 to Saturday 23:01: the two pieces of a meeting
        # lie on different local dates.  Hong Kong rests on Sunday only, Israel on Fri-Sat.
        ("America/Goose_Bay", "HK", None, utc(2005, 10, 30, 3, 1)),
        ("America/Goose_Bay", "IL", None, utc(2005, 10, 30, 3, 1)),
    ],
)
@pytest.mark.parametrize("minutes", [15, 60, 90, 24 * 60])
def test_vectorised_equals_scalar_around_clock_changes(zone, country, subdivision, change, minutes):
    first = int(change.timestamp()) - minutes * 60 - 3600
    at = int(change.timestamp())
    starts = np.union1d(
        np.arange(first, at + 3600, 300, dtype=np.int64), at + np.array([-60, -30, -1])
    )
    fast = score_starts(starts, minutes * 60, zone, country=country, subdivision=subdivision)
    assert fast.tolist() == _scalar(starts, minutes * 60, zone, country, subdivision)


ZONES = sorted(timezones.all_zones())
COUNTRY_OF = {z: c for c, zs in sorted(timezones.zones_by_country().items()) for z in zs}
MODELS = [
    DEFAULT_MODEL,
    ComfortModel(
        bands=(
            Band.between("00:00", "07:00", 8.5, "night"),
            Band.between("07:00", "09:30", 1.25, "early"),
            Band.between("09:30", "17:00", 0, "working"),
            Band.between("17:00", "21:15", 0.5, "evening"),
            Band.between("21:15", "23:59", 3, "evening"),
            Band.between("23:59", "24:00", 8.5, "night"),
        ),
        weekend_penalty=12.5,
        holiday_penalty=0.25,
    ),
]


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    first=st.integers(int(utc(2020, 1, 1).timestamp()), int(utc(2030, 12, 31).timestamp())),
    step=st.sampled_from([60, 900, 3600, 86_400 + 17]),
    count=st.integers(1, 30),
    duration=st.one_of(st.integers(1, 86_400), st.sampled_from([900, 3600, 5400, 86_400])),
    country=st.sampled_from(["zone", None, "XX", "IL", "AE", "JP"]),
    model=st.sampled_from(MODELS),
)
def test_vectorised_equals_scalar(zone, first, step, count, duration, country, model):
    starts = first + step * np.arange(count, dtype=np.int64)
    country = COUNTRY_OF.get(zone) if country == "zone" else country
    fast = score_starts(starts, duration, zone, country=country, model=model)
    assert fast.tolist() == _scalar(starts, duration, zone, country, None, model)


def test_meetings_spanning_two_clock_changes_use_the_scalar_path(monkeypatch):
    """No real zone changes twice within 24 hours; make one up to exercise the fallback."""
    moments = np.array([1000 * 60, 1060 * 60], dtype=np.int64)
    offsets = np.array([0, 3600, 0], dtype=np.int64)
    monkeypatch.setattr(comfort.timezones, "transition_table", lambda zone: (moments, offsets))
    calls = []

    def fake(start, end, zone, **kwargs):
        calls.append((start, end))
        return comfort.LocalComfort(start, end, timedelta(0), "night", (), 123.0)

    monkeypatch.setattr(comfort, "score_interval", fake)
    starts = np.array([990 * 60, 1030 * 60], dtype=np.int64)
    costs = score_starts(starts, 120 * 60, "UTC")
    assert costs[0] == 123.0  # spans both changes
    assert costs[1] != 123.0  # spans one
    assert calls == [
        (datetime.fromtimestamp(990 * 60, UTC), datetime.fromtimestamp(1110 * 60, UTC))
    ]
