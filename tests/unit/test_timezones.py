"""coordinator.timezones, cross-checked against the standard library's zoneinfo.

The reference zones are built with ``zoneinfo.ZoneInfo.from_file`` from the very TZif files
pytz reads (``timezones.open_zone_file``): the operating system's zoneinfo database is often
another tzdata release, and a release difference is not a bug in our code.  What is compared
is two independent readers of the same data: pytz's (plus our offset tables) and CPython's.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator import timezones
from coordinator.timezones import (
    UNKNOWN_ZONE,
    AmbiguousLocalTimeError,
    NonexistentLocalTimeError,
    Transition,
    UnknownZoneError,
    canonical_zone,
    format_offset,
    is_valid_zone,
    offsets_at,
    parse_instant,
    to_local,
    to_utc,
    transitions,
    utc_offset,
)

ZONES = sorted(timezones.all_zones())
START_2020 = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())
END_2030 = int(datetime(2031, 1, 1, tzinfo=UTC).timestamp())


@cache
def reference(zone: str) -> zoneinfo.ZoneInfo:
    with timezones.open_zone_file(zone) as f:
        return zoneinfo.ZoneInfo.from_file(f, key=zone)


def ref_offset(zone: str, epoch: int) -> int:
    instant = datetime.fromtimestamp(epoch, UTC).astimezone(reference(zone))
    return int(instant.utcoffset().total_seconds())


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_every_pytz_zone_is_known_to_the_reference():
    assert len(ZONES) > 500
    for zone in ZONES:
        reference(zone)  # raises if zoneinfo cannot read it


# --------------------------------------------------------------------------------------------
# property tests against zoneinfo, 2020-2030


@settings(max_examples=400, deadline=None)
@given(zone=st.sampled_from(ZONES), epoch=st.integers(START_2020, END_2030))
def test_to_local_and_utc_offset_match_zoneinfo(zone, epoch):
    instant = datetime.fromtimestamp(epoch, UTC)
    local = to_local(instant, zone)
    expected = instant.astimezone(reference(zone))
    assert local == instant
    assert local.replace(tzinfo=None) == expected.replace(tzinfo=None)
    assert local.utcoffset() == expected.utcoffset()
    assert utc_offset(instant, zone) == expected.utcoffset()


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    epochs=st.lists(st.integers(START_2020, END_2030), min_size=1, max_size=40),
)
def test_offsets_at_matches_zoneinfo(zone, epochs):
    got = offsets_at(zone, np.array(epochs, dtype=np.int64))
    assert got.dtype == np.int64
    assert got.tolist() == [ref_offset(zone, e) for e in epochs]


@settings(max_examples=200, deadline=None)
@given(zone=st.sampled_from(ZONES), epoch=st.integers(START_2020, END_2030))
def test_to_utc_round_trips_local_wall_time(zone, epoch):
    instant = datetime.fromtimestamp(epoch, UTC)
    wall = to_local(instant, zone).replace(tzinfo=None)
    try:
        back = to_utc(wall, zone)
    except AmbiguousLocalTimeError:
        # Either reading is the instant we started from.
        readings = {to_utc(wall, zone, is_dst=True), to_utc(wall, zone, is_dst=False)}
        assert instant in readings
    else:
        assert back == instant
        assert back.tzinfo is UTC


def test_every_zone_daily_2020_2030_matches_zoneinfo():
    """Every zone, every day at 12:00Z: offsets_at (vectorised) against zoneinfo."""
    days = np.arange(START_2020 + 12 * 3600, END_2030, 86_400, dtype=np.int64)
    instants = [datetime.fromtimestamp(int(e), UTC) for e in days]
    for zone in ZONES:
        ref = reference(zone)
        expected = [int(i.astimezone(ref).utcoffset().total_seconds()) for i in instants]
        assert offsets_at(zone, days).tolist() == expected, zone


def _reference_transitions(zone: str) -> list[tuple[int, int, int]]:
    """Offset changes of the reference in 2020-2030, found by a daily scan and bisection."""
    found = []
    grid = range(START_2020, END_2030 + 1, 86_400)
    previous_epoch = grid[0]
    previous = ref_offset(zone, previous_epoch)
    for epoch in grid[1:]:
        offset = ref_offset(zone, epoch)
        if offset != previous:
            lo, hi = previous_epoch, epoch  # offset(lo) == previous, offset(hi) != previous
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if ref_offset(zone, mid) == previous:
                    lo = mid
                else:
                    hi = mid
            found.append((hi, previous, ref_offset(zone, hi)))
        previous_epoch, previous = epoch, offset
    return found


def test_every_transition_2020_2030_matches_zoneinfo():
    """Every zone x every clock change in 2020-2030: same instants, same offsets, and the
    second before and the instant of each change convert like zoneinfo does."""
    start, end = utc(2020, 1, 1), utc(2031, 1, 1)
    count = 0
    for zone in ZONES:
        ours = transitions(zone, start, end)
        as_tuples = [
            (
                int(t.at_utc.timestamp()),
                int(t.offset_before.total_seconds()),
                int(t.offset_after.total_seconds()),
            )
            for t in ours
        ]
        if ours:  # zones without changes: the daily test above shows the reference agrees
            assert as_tuples == _reference_transitions(zone), zone
        for t in ours:
            count += 1
            before = t.at_utc - timedelta(seconds=1)
            assert utc_offset(before, zone) == t.offset_before, (zone, t)
            assert utc_offset(t.at_utc, zone) == t.offset_after, (zone, t)
            for instant in (before, t.at_utc):
                expected = instant.astimezone(reference(zone))
                assert to_local(instant, zone).replace(tzinfo=None) == expected.replace(tzinfo=None)
            epochs = np.array([before.timestamp(), t.at_utc.timestamp()], dtype=np.int64)
            assert offsets_at(zone, epochs).tolist() == [
                int(t.offset_before.total_seconds()),
                int(t.offset_after.total_seconds()),
            ]
    assert count > 1000  # hundreds of zones still change clocks twice a year


# --------------------------------------------------------------------------------------------
# the G-NETS kickoff window, by hand


@pytest.mark.parametrize(
    ("zone", "instant", "offset"),
    [
        ("Australia/Sydney", utc(2023, 9, 30, 15, 59, 59), "+10:00"),
        ("Australia/Sydney", utc(2023, 9, 30, 16, 0), "+11:00"),  # 2023-10-01 03:00 local
        ("Australia/Sydney", utc(2023, 10, 3, 7, 0), "+11:00"),
        ("Australia/Brisbane", utc(2023, 9, 28, 7, 0), "+10:00"),
        ("Australia/Brisbane", utc(2023, 10, 3, 7, 0), "+10:00"),
        ("Pacific/Auckland", utc(2023, 9, 23, 13, 59, 59), "+12:00"),
        ("Pacific/Auckland", utc(2023, 9, 23, 14, 0), "+13:00"),  # 2023-09-24 03:00 local
        ("Africa/Cairo", utc(2023, 10, 3, 7, 0), "+03:00"),
        ("Africa/Cairo", utc(2023, 10, 26, 20, 59, 59), "+03:00"),
        ("Africa/Cairo", utc(2023, 10, 26, 21, 0), "+02:00"),  # summer time ended 27 Oct
        ("Asia/Amman", utc(2023, 1, 15, 12, 0), "+03:00"),
        ("Asia/Amman", utc(2023, 10, 3, 7, 0), "+03:00"),
        ("Asia/Amman", utc(2024, 1, 15, 12, 0), "+03:00"),
        ("America/Denver", utc(2023, 10, 3, 7, 0), "-06:00"),
        ("America/Denver", utc(2023, 12, 3, 7, 0), "-07:00"),
        ("Asia/Tokyo", utc(2023, 10, 3, 7, 0), "+09:00"),
        ("Europe/Amsterdam", utc(2023, 10, 3, 7, 0), "+02:00"),
        ("Asia/Kathmandu", utc(2023, 10, 3, 7, 0), "+05:45"),
        ("America/Sao_Paulo", utc(2023, 10, 3, 7, 0), "-03:00"),
    ],
)
def test_kickoff_window_offsets(zone, instant, offset):
    assert format_offset(utc_offset(instant, zone)) == offset
    assert format_offset(to_local(instant, zone).utcoffset()) == offset
    epoch = np.array([int(instant.timestamp())], dtype=np.int64)
    assert format_offset(timedelta(seconds=int(offsets_at(zone, epoch)[0]))) == offset


def test_sydney_and_brisbane_part_ways_on_1_october_2023():
    changes = transitions("Australia/Sydney", utc(2023, 9, 25), utc(2023, 10, 9))
    assert changes == [Transition(utc(2023, 9, 30, 16), timedelta(hours=10), timedelta(hours=11))]
    assert transitions("Australia/Brisbane", utc(2023, 9, 25), utc(2023, 10, 9)) == []
    auckland = transitions("Pacific/Auckland", utc(2023, 9, 1), utc(2023, 10, 1))
    assert [(t.at_utc, t.offset_after) for t in auckland] == [
        (utc(2023, 9, 23, 14), timedelta(hours=13))
    ]
    assert transitions("Asia/Amman", utc(2022, 11, 1), utc(2024, 11, 1)) == []


def test_transitions_window_is_half_open():
    at = utc(2023, 9, 30, 16)
    assert len(transitions("Australia/Sydney", at, at + timedelta(hours=1))) == 1
    assert transitions("Australia/Sydney", at - timedelta(hours=1), at) == []


def test_sydney_spring_forward_gap():
    with pytest.raises(NonexistentLocalTimeError) as caught:
        to_utc(datetime(2023, 10, 1, 2, 30), "Australia/Sydney")
    message = str(caught.value)
    assert "Australia/Sydney" in message and "2023-10-01 02:30" in message
    assert "+10:00" in message and "+11:00" in message
    assert isinstance(caught.value, ValueError)
    assert to_utc(datetime(2023, 10, 1, 1, 59), "Australia/Sydney") == utc(2023, 9, 30, 15, 59)
    assert to_utc(datetime(2023, 10, 1, 3, 0), "Australia/Sydney") == utc(2023, 9, 30, 16, 0)
    # Brisbane has no gap.
    assert to_utc(datetime(2023, 10, 1, 2, 30), "Australia/Brisbane") == utc(2023, 9, 30, 16, 30)


def test_northern_autumn_is_ambiguous():
    with pytest.raises(AmbiguousLocalTimeError) as caught:
        to_utc(datetime(2023, 10, 29, 2, 30), "Europe/Amsterdam")
    message = str(caught.value)
    assert "Europe/Amsterdam" in message and "2023-10-29 02:30" in message
    assert "+02:00" in message and "+01:00" in message
    summer = to_utc(datetime(2023, 10, 29, 2, 30), "Europe/Amsterdam", is_dst=True)
    winter = to_utc(datetime(2023, 10, 29, 2, 30), "Europe/Amsterdam", is_dst=False)
    assert (summer, winter) == (utc(2023, 10, 29, 0, 30), utc(2023, 10, 29, 1, 30))


def test_northern_spring_is_nonexistent():
    with pytest.raises(NonexistentLocalTimeError) as caught:
        to_utc(datetime(2024, 3, 10, 2, 30), "America/Denver")
    assert "America/Denver" in str(caught.value)
    assert "-07:00" in str(caught.value) and "-06:00" in str(caught.value)


def test_southern_autumn_is_ambiguous():
    with pytest.raises(AmbiguousLocalTimeError) as caught:
        to_utc(datetime(2024, 4, 7, 2, 30), "Australia/Sydney")
    assert "+11:00" in str(caught.value) and "+10:00" in str(caught.value)
    assert to_utc(datetime(2024, 4, 7, 2, 30), "Australia/Sydney", is_dst=True) == utc(
        2024, 4, 6, 15, 30
    )


def test_to_utc_refuses_aware_and_to_local_refuses_naive():
    with pytest.raises(ValueError, match="already has a time zone"):
        to_utc(utc(2023, 10, 3, 7), "Asia/Tokyo")
    with pytest.raises(ValueError, match="no time zone"):
        to_local(datetime(2023, 10, 3, 7), "Asia/Tokyo")


def test_to_local_is_pytz_localized_not_lmt():
    local = to_local(utc(2023, 10, 3, 7), "Asia/Tokyo")
    assert local.isoformat() == "2023-10-03T16:00:00+09:00"
    assert local.tzname() == "JST"


# --------------------------------------------------------------------------------------------
# zone names


def test_zone_names():
    assert UNKNOWN_ZONE == "unknown"
    assert is_valid_zone("Asia/Tokyo")
    assert not is_valid_zone("unknown")
    assert not is_valid_zone("asia/tokyo")
    assert not is_valid_zone("Asia/Tokio")
    assert canonical_zone("Asia/Tokyo") == "Asia/Tokyo"
    assert canonical_zone("  europe/amsterdam ") == "Europe/Amsterdam"


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("Asia/Tokio", "Asia/Tokyo"), ("Amerca/Denver", "America/Denver"), ("Tokyo", "Asia/Tokyo")],
)
def test_unknown_zone_suggests_close_matches(name, suggestion):
    with pytest.raises(UnknownZoneError) as caught:
        canonical_zone(name)
    assert repr(name) in str(caught.value)
    assert suggestion in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_unknown_placeholder_is_not_a_zone():
    with pytest.raises(UnknownZoneError, match="placeholder"):
        canonical_zone("unknown")
    with pytest.raises(UnknownZoneError):
        to_local(utc(2023, 1, 1), "unknown")


# --------------------------------------------------------------------------------------------
# offsets, tables, parsing


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (timedelta(hours=9), "+09:00"),
        (timedelta(hours=-6), "-06:00"),
        (timedelta(hours=5, minutes=45), "+05:45"),
        (timedelta(hours=-9, minutes=-30), "-09:30"),
        (timedelta(0), "+00:00"),
        (timedelta(minutes=19, seconds=32), "+00:19:32"),
    ],
)
def test_format_offset(offset, text):
    assert format_offset(offset) == text


def test_static_zones_have_constant_offsets():
    epochs = np.array([0, START_2020, END_2030, 2**40], dtype=np.int64)
    assert offsets_at("UTC", epochs).tolist() == [0] * 4
    assert offsets_at("Etc/GMT+5", epochs).tolist() == [-5 * 3600] * 4
    assert offsets_at("Asia/Tokyo", epochs[1:]).tolist() == [9 * 3600] * 3


def test_offsets_at_keeps_shape_and_agrees_with_utc_offset_after_2037():
    """pytz's tables end in 2037: after that both paths keep the last offset, consistently."""
    instants = [utc(2038, 7, 1), utc(2040, 1, 1), utc(2045, 7, 1)]
    epochs = np.array([[int(i.timestamp()) for i in instants]], dtype=np.int64)
    for zone in ("Europe/Amsterdam", "Australia/Sydney", "America/Denver", "Asia/Tokyo"):
        got = offsets_at(zone, epochs)
        assert got.shape == (1, 3)
        assert got[0].tolist() == [int(utc_offset(i, zone).total_seconds()) for i in instants]
    assert timezones.rules_end("Europe/Amsterdam").year == 2037
    assert timezones.rules_end("Asia/Tokyo") is None
    assert timezones.rules_end("Asia/Amman") is None


def test_transition_table_is_read_only_and_sorted():
    moments, offsets = timezones.transition_table("Europe/Amsterdam")
    assert len(offsets) == len(moments) + 1
    assert np.all(np.diff(moments) > 0)
    assert np.all(offsets[1:] != offsets[:-1])
    with pytest.raises(ValueError):
        moments[0] = 0


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("2023-10-03T11:00Z", "UTC", utc(2023, 10, 3, 11)),
        ("2023-10-03T11:00:00+00:00", "UTC", utc(2023, 10, 3, 11)),
        ("2023-10-03 20:00+09:00", "UTC", utc(2023, 10, 3, 11)),
        ("2023-10-03t11:00z", "UTC", utc(2023, 10, 3, 11)),
        ("  2023-10-03T11:00Z ", "UTC", utc(2023, 10, 3, 11)),
        ("2023-10-03T20:00", "Asia/Tokyo", utc(2023, 10, 3, 11)),
        ("2023-10-03T20:00", "UTC", utc(2023, 10, 3, 20)),
        ("2023-10-03 09:00", "Europe/Amsterdam", utc(2023, 10, 3, 7)),
        ("2023-10-03T01:00-06:00", "Asia/Tokyo", utc(2023, 10, 3, 7)),
    ],
)
def test_parse_instant(text, zone, expected):
    parsed = parse_instant(text, zone)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


def test_parse_instant_reports_nonexistent_and_ambiguous_local_times():
    with pytest.raises(NonexistentLocalTimeError):
        parse_instant("2023-10-01T02:30", "Australia/Sydney")
    with pytest.raises(AmbiguousLocalTimeError):
        parse_instant("2023-10-29 02:30", "Europe/Amsterdam")


@pytest.mark.parametrize("text", ["", "   ", "tomorrow", "2023-13-03T11:00Z", "2023-10-03T25:00"])
def test_parse_instant_rejects_garbage(text):
    with pytest.raises(ValueError, match="2023-10-03T11:00Z"):
        parse_instant(text)


def test_utc_now_is_aware_utc():
    now = timezones.utc_now()
    assert now.utcoffset() == timedelta(0)
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


def test_no_other_module_imports_pytz():
    """timezones.py is the only door to pytz."""
    package = Path(timezones.__file__).parent
    offenders = [
        str(path.relative_to(package.parent))
        for path in package.rglob("*.py")
        if path.name != "timezones.py" or path.parent != package
        if re.search(r"^\s*(import pytz|from pytz\b)", path.read_text(encoding="utf-8"), re.M)
    ]
    assert offenders == []
