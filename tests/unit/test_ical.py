"""coordinator.invites.ical: calendars checked with two independent parsers (icalendar and
vobject), golden files, DST-straddling sessions, escaping, feeds and reply parsing.

Golden files live in tests/golden/. After an intended change of the output, regenerate them with

    COORDINATOR_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_ical.py tests/unit/test_imip.py

and review the diff before committing.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import vobject
from icalendar import Calendar, Event, vCalAddress

from coordinator import timezones
from coordinator.invites import (
    InviteParseError,
    PlaceTime,
    Reply,
    SessionSnapshot,
    build_cancel,
    build_feed,
    build_request,
    parse_reply,
    snapshot_from_dict,
    snapshot_to_dict,
)
from coordinator.invites.ical import description

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
UPDATE = os.environ.get("COORDINATOR_UPDATE_GOLDEN") == "1"


def kickoff() -> SessionSnapshot:
    """Flood and Drought, 2023-10-03 20:00–22:00 Tokyo (11:00–13:00 UTC), sequence 0."""
    data = json.loads((GOLDEN / "flood-and-drought.json").read_text("utf-8"))
    return snapshot_from_dict(data)


def moved(s: SessionSnapshot) -> SessionSnapshot:
    """The update: one hour later, sequence 1."""
    hour = timedelta(hours=1)
    return replace(s, sequence=1, start_utc=s.start_utc + hour, end_utc=s.end_utc + hour)


def cancelled(s: SessionSnapshot) -> SessionSnapshot:
    return replace(moved(s), sequence=2, status="cancelled")


def assert_golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_bytes(data)
    assert path.exists(), f"{path} is missing; run with COORDINATOR_UPDATE_GOLDEN=1 to create it"
    assert data == path.read_bytes(), f"{name} differs from the golden file (see module docstring)"


# --- two independent readers ---------------------------------------------------------------------


def read_icalendar(data: bytes) -> dict:
    cal = Calendar.from_ical(data)
    events = cal.walk("VEVENT")
    return {
        "method": str(cal.get("method")) if cal.get("method") else None,
        "events": [
            {
                "uid": str(e["uid"]),
                "sequence": int(e["sequence"]),
                "start": e.decoded("dtstart"),
                "end": e.decoded("dtend"),
                "stamp": e.decoded("dtstamp"),
                "summary": str(e["summary"]),
                "description": str(e["description"]),
                "status": str(e["status"]),
                "organizer": str(e["organizer"]),
                "organizer_cn": str(e["organizer"].params.get("CN")),
                "attendees": [
                    (str(a), str(a.params["CN"]), dict(a.params))
                    for a in (
                        e.get("attendee")
                        if isinstance(e.get("attendee"), list)
                        else [e["attendee"]]
                        if e.get("attendee")
                        else []
                    )
                ],
                "alarms": [str(a["trigger"].to_ical(), "ascii") for a in e.walk("VALARM")],
                "url": str(e.get("url")) if e.get("url") else None,
                "location": str(e.get("location")) if e.get("location") else None,
            }
            for e in events
        ],
    }


def read_vobject(data: bytes) -> dict:
    cal = vobject.readOne(data.decode("utf-8"))
    events = cal.contents.get("vevent", [])

    def value(e, name):
        return e.contents[name][0].value if name in e.contents else None

    return {
        "method": cal.method.value if "method" in cal.contents else None,
        "events": [
            {
                "uid": value(e, "uid"),
                "sequence": int(value(e, "sequence")),
                "start": value(e, "dtstart"),
                "end": value(e, "dtend"),
                "stamp": value(e, "dtstamp"),
                "summary": value(e, "summary"),
                "description": value(e, "description"),
                "status": value(e, "status"),
                "organizer": value(e, "organizer"),
                "organizer_cn": e.organizer.params["CN"][0],
                "attendees": [
                    (a.value, a.params["CN"][0], {k: v[0] for k, v in a.params.items()})
                    for a in e.contents.get("attendee", [])
                ],
                "alarms": [value(a, "trigger") for a in e.contents.get("valarm", [])],
                "url": value(e, "url"),
                "location": value(e, "location"),
            }
            for e in events
        ],
    }


def both(data: bytes) -> list[dict]:
    return [read_icalendar(data), read_vobject(data)]


def as_utc(value: datetime) -> datetime:
    assert isinstance(value, datetime) and value.tzinfo is not None, value
    return value.astimezone(UTC)


def check_event(parsed: dict, s: SessionSnapshot, method: str, *, language: str = "en") -> dict:
    assert parsed["method"] == method
    assert len(parsed["events"]) == 1
    e = parsed["events"][0]
    assert e["uid"] == s.uid
    assert e["sequence"] == s.sequence
    assert as_utc(e["start"]) == s.start_utc
    assert as_utc(e["end"]) == s.end_utc
    assert as_utc(e["stamp"]) == s.dtstamp
    assert e["summary"] == (s.title_ja if language == "ja" and s.title_ja else s.title)
    assert e["description"] == description(s, language)
    assert e["organizer"] == f"mailto:{s.organizer.email}"
    assert e["organizer_cn"] == s.organizer.name.replace('"', "'")
    assert e["url"] == s.meeting_url
    assert e["location"] == s.meeting_url
    return e


# --- REQUEST / update / CANCEL -------------------------------------------------------------------


@pytest.mark.parametrize("reader", [read_icalendar, read_vobject], ids=["icalendar", "vobject"])
def test_request_parses_with_both_readers(reader) -> None:
    s = kickoff()
    e = check_event(reader(build_request(s)), s, "REQUEST")
    assert e["status"] == "CONFIRMED"
    assert len(e["attendees"]) == len(s.attendees)
    for (address, cn, params), a in zip(e["attendees"], s.attendees, strict=True):
        assert address == f"mailto:{a.person.email}"
        assert cn == a.person.name.replace('"', "'")
        assert params["ROLE"] == a.role
        assert params["PARTSTAT"] == "NEEDS-ACTION"
        assert params["RSVP"] == "TRUE"
        assert params["CUTYPE"] == "INDIVIDUAL"
    assert [str(x) for x in e["alarms"]] in (["-PT15M"], ["-1 day, 23:45:00"])


def test_request_header_properties() -> None:
    data = build_request(kickoff())
    lines = data.decode("utf-8").split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR"
    for line in ("VERSION:2.0", "CALSCALE:GREGORIAN", "METHOD:REQUEST"):
        assert line in lines
    assert any(line.startswith("PRODID:-//Coordinator//") for line in lines)
    assert "BEGIN:VALARM" in lines and "ACTION:DISPLAY" in lines and "TRIGGER:-PT15M" in lines
    assert data.endswith(b"END:VCALENDAR\r\n")


@pytest.mark.parametrize("minutes", [0, 10, 60])
def test_alarm_minutes(minutes: int) -> None:
    data = build_request(replace(kickoff(), alarm_minutes=minutes))
    alarm = Calendar.from_ical(data).walk("VALARM")[0]
    assert alarm.decoded("trigger") == -timedelta(minutes=minutes)


def test_update_keeps_uid_and_moves() -> None:
    s, u = kickoff(), moved(kickoff())
    for parsed in both(build_request(u)):
        e = check_event(parsed, u, "REQUEST")
        assert e["uid"] == s.uid and e["sequence"] == 1
        assert as_utc(e["start"]) == datetime(2023, 10, 3, 12, tzinfo=UTC)


def test_cancel() -> None:
    c = cancelled(kickoff())
    data = build_cancel(c)
    for parsed in both(data):
        e = check_event(parsed, c, "CANCEL")
        assert e["status"] == "CANCELLED"
        assert e["sequence"] == 2
        assert len(e["attendees"]) == len(c.attendees)
        assert e["alarms"] == []
    assert "This session has been cancelled." in description(c)
    assert "Join:" not in description(c)


def test_cancel_uses_the_sequence_as_given() -> None:
    s = replace(kickoff(), sequence=7)
    assert Calendar.from_ical(build_cancel(s)).walk("VEVENT")[0]["sequence"] == 7


def test_request_refuses_a_cancelled_session() -> None:
    with pytest.raises(ValueError, match="cancelled"):
        build_request(cancelled(kickoff()))


def test_times_are_utc_without_timezones() -> None:
    for data in (build_request(kickoff()), build_cancel(cancelled(kickoff()))):
        assert b"TZID" not in data and b"VTIMEZONE" not in data
        assert b"DTSTART:20231003T1" in data and b"Z\r\n" in data


def test_same_snapshot_same_bytes() -> None:
    assert build_request(kickoff()) == build_request(kickoff())


# --- golden files --------------------------------------------------------------------------------


def test_golden_request() -> None:
    assert_golden("flood-and-drought-request.ics", build_request(kickoff()))


def test_golden_update() -> None:
    assert_golden("flood-and-drought-update.ics", build_request(moved(kickoff())))


def test_golden_cancel() -> None:
    assert_golden("flood-and-drought-cancel.ics", build_cancel(cancelled(kickoff())))


def test_golden_request_japanese() -> None:
    assert_golden("flood-and-drought-request.ja.ics", build_request(kickoff(), language="ja"))


def test_description_content() -> None:
    text = description(kickoff())
    assert text.startswith("Join: https://meet.example.org/gnets?room=flood-and-drought&pwd=a,b;c")
    agenda = text.split("\n\nAgenda\n")[1].split("\n\n")[0].split("\n")
    assert [line.split(" — ")[0] for line in agenda] == [
        "1. Tokyo",
        "2. Taipei",
        "3. Jakarta",
        "4. Rotterdam",
        "5. Brisbane",
        "6. Nairobi",
        "7. Thinadhoo",
    ]
    assert agenda[0].startswith(
        "1. Tokyo — Tokyo Metropolitan Government, Bureau of Construction: Urban flood control"
    )
    for line in (
        "Tokyo: Tue 3 Oct 20:00–22:00 (UTC+09:00)",
        "Denver: Tue 3 Oct 05:00–07:00 (UTC\u221206:00)",
        "Auckland: Wed 4 Oct 00:00–02:00 (UTC+13:00)",
        "New South Wales: Tue 3 Oct 22:00 – Wed 4 Oct 00:00 (UTC+11:00)",
        "Brisbane: Tue 3 Oct 21:00–23:00 (UTC+10:00)",
        "Delhi: Tue 3 Oct 16:30–18:30 (UTC+05:30)",
        "Cairo: Tue 3 Oct 14:00–16:00 (UTC+03:00)",
        "Amman: Tue 3 Oct 14:00–16:00 (UTC+03:00)",
    ):
        assert f"\n{line}\n" in text, line
    assert text.count("(UTC") == 47


def test_description_japanese() -> None:
    text = description(kickoff(), "ja")
    assert "議題\n1. 東京 — 東京都(建設局)：都市型水害対策(広域調節池)" in text
    assert "\nオークランド: 10月4日(水) 00:00～02:00 (UTC+13:00)\n" in text


# --- DST in the kickoff window -------------------------------------------------------------------

# (zone, local wall time, expected UTC offset): both sides of each change.
DST_CASES = [
    ("Australia/Sydney", datetime(2023, 9, 30, 9, 0), timedelta(hours=10)),
    ("Australia/Sydney", datetime(2023, 10, 2, 9, 0), timedelta(hours=11)),
    ("Australia/Brisbane", datetime(2023, 9, 30, 9, 0), timedelta(hours=10)),
    ("Australia/Brisbane", datetime(2023, 10, 2, 9, 0), timedelta(hours=10)),
    ("Pacific/Auckland", datetime(2023, 9, 23, 9, 0), timedelta(hours=12)),
    ("Pacific/Auckland", datetime(2023, 9, 25, 9, 0), timedelta(hours=13)),
    ("Europe/Amsterdam", datetime(2023, 10, 28, 9, 0), timedelta(hours=2)),
    ("Europe/Amsterdam", datetime(2023, 10, 30, 9, 0), timedelta(hours=1)),
]


@pytest.mark.parametrize(("zone", "wall", "offset"), DST_CASES, ids=lambda v: str(v))
def test_utc_instant_survives_dst(zone: str, wall: datetime, offset: timedelta) -> None:
    start = timezones.to_utc(wall, zone)
    assert start == (wall - offset).replace(tzinfo=UTC)
    s = replace(
        kickoff(),
        start_utc=start,
        end_utc=start + timedelta(hours=2),
        places=(PlaceTime("Here", "ここ", zone), PlaceTime("Tokyo", "東京", "Asia/Tokyo")),
    )
    for data in (build_request(s), build_cancel(replace(s, status="cancelled"))):
        for parsed in both(data):
            e = parsed["events"][0]
            assert as_utc(e["start"]) == s.start_utc
            assert as_utc(e["end"]) == s.end_utc
    sign = "+" if offset >= timedelta(0) else "\u2212"
    hours = int(offset.total_seconds()) // 3600
    assert f"Here: {wall:%a} {wall.day} {wall:%b} 09:00–11:00 (UTC{sign}{hours:02d}:00)" in (
        description(s)
    )


def test_dst_change_during_a_session_shows_both_offsets() -> None:
    # Amsterdam falls back at 01:00 UTC on 2023-10-29: 02:30 CEST (00:30Z) to 02:30 CET (01:30Z).
    s = replace(
        kickoff(),
        start_utc=datetime(2023, 10, 29, 0, 30, tzinfo=UTC),
        end_utc=datetime(2023, 10, 29, 1, 30, tzinfo=UTC),
        places=(PlaceTime("Rotterdam", None, "Europe/Amsterdam"),),
    )
    assert "Rotterdam: Sun 29 Oct 02:30–02:30 (UTC+02:00 → UTC+01:00)" in description(s)


# --- escaping and Japanese -----------------------------------------------------------------------

TRICKY = 'Flood, drought; and "rain"\nsecond line \\ backslash'
LONG_JA = (
    "自然災害への適応ワーキンググループ全体会：洪水・干ばつ対策に関する各都市の取組紹介と意見交換"
)


def tricky() -> SessionSnapshot:
    s = kickoff()
    return replace(
        s,
        title=TRICKY,
        title_ja=LONG_JA,
        note="a,b;c\\d\n日本語の備考、句読点。" * 3,
        organizer=replace(s.organizer, name='Secretariat, "G-NETS"; 事務局'),
    )


@pytest.mark.parametrize("language", ["en", "ja"])
def test_text_round_trips_in_both_readers(language: str) -> None:
    s = tricky()
    data = build_request(s, language=language)
    for parsed in both(data):
        e = check_event(parsed, s, "REQUEST", language=language)
        assert e["summary"] == (LONG_JA if language == "ja" else TRICKY)
    assert Calendar.from_ical(data).walk("VEVENT")[0]["organizer"].params["CN"] == (
        "Secretariat, 'G-NETS'; 事務局"
    )


def test_escaping_on_the_wire() -> None:
    data = build_request(tricky())
    unfolded = data.replace(b"\r\n ", b"").decode("utf-8")
    assert 'SUMMARY:Flood\\, drought\\; and "rain"\\nsecond line \\\\ backslash\r\n' in unfolded


def test_folding_never_splits_a_character() -> None:
    data = build_request(tricky(), language="ja")
    assert data.count(b"\r\n ") > 10
    for line in data.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode("utf-8")  # each physical line is valid UTF-8 on its own


# --- feed ----------------------------------------------------------------------------------------


def test_feed_keeps_cancelled_sessions() -> None:
    s = kickoff()
    other = replace(
        s,
        uid="session-water-management-2023-10-03@coordinator.example.org",
        title="Water Management — working group kickoff",
        start_utc=s.start_utc - timedelta(hours=3),
        end_utc=s.end_utc - timedelta(hours=3),
    )
    gone = replace(cancelled(s), uid="session-gone@coordinator.example.org")
    data = build_feed([s, gone, other], "G-NETS — 山田 花子")
    assert b"X-WR-CALNAME:G-NETS \xe2\x80\x94 " in data
    cal = Calendar.from_ical(data)
    assert str(cal["method"]) == "PUBLISH"
    assert str(cal["x-wr-calname"]) == "G-NETS — 山田 花子"
    events = cal.walk("VEVENT")
    assert [str(e["uid"]) for e in events] == [other.uid, s.uid, gone.uid]
    assert [str(e["status"]) for e in events] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert all("attendee" not in e for e in events)
    v = vobject.readOne(data.decode("utf-8"))
    assert [e.status.value for e in v.vevent_list] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert [as_utc(e.dtstart.value) for e in v.vevent_list] == [
        other.start_utc,
        s.start_utc,
        gone.start_utc,
    ]


def test_empty_feed() -> None:
    cal = Calendar.from_ical(build_feed([], "Empty"))
    assert str(cal["method"]) == "PUBLISH" and cal.walk("VEVENT") == []


# --- snapshots -----------------------------------------------------------------------------------


def test_snapshot_json_round_trip() -> None:
    s = kickoff()
    assert snapshot_from_dict(json.loads(json.dumps(snapshot_to_dict(s)))) == s


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"start_utc": datetime(2023, 10, 3, 11)}, "start_utc"),
        ({"end_utc": datetime(2023, 10, 3, 10, tzinfo=UTC)}, "end_utc"),
        ({"status": "postponed"}, "status"),
        ({"uid": ""}, "uid"),
        ({"sequence": -1}, "sequence"),
        ({"agenda": []}, "agenda"),
    ],
)
def test_snapshot_validation(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(kickoff(), **change)


# --- replies -------------------------------------------------------------------------------------


def reply_ics(
    partstat: str | None = "ACCEPTED",
    *,
    method: str | None = "REPLY",
    uid: str | None = "session-flood-and-drought-2023-10-03@coordinator.example.org",
    attendee: str | None = "MAILTO:Taipei.1@Example.ORG",
    sequence: int = 1,
) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN")
    cal.add("version", "2.0")
    if method:
        cal.add("method", method)
    event = Event()
    if uid:
        event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", datetime(2023, 9, 20, 8, 30, tzinfo=UTC))
    event.add("dtstart", datetime(2023, 10, 3, 11, tzinfo=UTC))
    if attendee:
        address = vCalAddress(attendee)
        address.params["CN"] = "Lin Mei-hua"
        if partstat is not None:
            address.params["PARTSTAT"] = partstat
        event.add("attendee", address)
    event.add("organizer", vCalAddress("mailto:secretariat@example.org"))
    cal.add_component(event)
    return cal.to_ical()


def reply_email(ics: bytes, *, attach_only: bool = False) -> bytes:
    message = EmailMessage()
    message["From"] = "Lin Mei-hua <taipei.1@example.org>"
    message["To"] = "secretariat@example.org"
    message["Subject"] = "Accepted: Flood and Drought — working group kickoff"
    message.set_content("Lin Mei-hua has accepted this invitation.")
    if attach_only:
        message.add_attachment(ics, maintype="application", subtype="ics", filename="invite.ics")
    else:
        message.add_alternative(
            ics, maintype="text", subtype="calendar", params={"method": "REPLY", "charset": "utf-8"}
        )
    return message.as_bytes()


EXPECTED = Reply(
    uid="session-flood-and-drought-2023-10-03@coordinator.example.org",
    sequence=1,
    attendee_email="taipei.1@example.org",
    partstat="ACCEPTED",
    dtstamp=datetime(2023, 9, 20, 8, 30, tzinfo=UTC),
)


def test_reply_from_ics() -> None:
    assert parse_reply(reply_ics()) == [EXPECTED]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ACCEPTED", "ACCEPTED"),
        ("declined", "DECLINED"),
        ("Tentative", "TENTATIVE"),
        ("DELEGATED", "DELEGATED"),
        ("NEEDS-ACTION", "NEEDS-ACTION"),
        (None, "NEEDS-ACTION"),
    ],
)
def test_reply_partstat_normalized(given: str | None, expected: str) -> None:
    assert parse_reply(reply_ics(given))[0].partstat == expected


def test_reply_from_email() -> None:
    assert parse_reply(reply_email(reply_ics("DECLINED"))) == [
        replace(EXPECTED, partstat="DECLINED")
    ]


def test_reply_from_email_attachment() -> None:
    assert parse_reply(reply_email(reply_ics(), attach_only=True)) == [EXPECTED]


def test_reply_hand_written_ics_with_crlf_and_folding() -> None:
    ics = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n"
        b"METHOD:REPLY\r\nBEGIN:VEVENT\r\nDTSTART:20231003T110000Z\r\n"
        b"DTSTAMP:20230921T010203Z\r\nORGANIZER;CN=Secretariat:mailto:secretariat@example.org\r\n"
        b"UID:session-flood-and-drought-2023-10-03@coordinator.example.org\r\n"
        b"ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=TENTATIVE;CN=\xe5\xb1\xb1\xe7"
        b"\x94\xb0 \xe8\x8a\xb1\xe5\xad\x90;X-NUM-GUESTS=0:\r\n mailto:tokyo.construction@exam"
        b"ple.org\r\nSEQUENCE:0\r\nSTATUS:CONFIRMED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert parse_reply(ics) == [
        Reply(
            uid="session-flood-and-drought-2023-10-03@coordinator.example.org",
            sequence=0,
            attendee_email="tokyo.construction@example.org",
            partstat="TENTATIVE",
            dtstamp=datetime(2023, 9, 21, 1, 2, 3, tzinfo=UTC),
        )
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"hello, this is not a calendar", "not iCalendar"),
        (b"BEGIN:VCALENDAR\r\nthis is broken", "not valid iCalendar"),
        (reply_ics(method="REQUEST"), "METHOD is REQUEST"),
        (reply_ics(method=None), "METHOD is missing"),
        (reply_ics(uid=None), "no UID"),
        (reply_ics(attendee=None), "no ATTENDEE"),
        (reply_ics("MAYBE"), "unknown PARTSTAT 'MAYBE'"),
        (reply_ics(attendee="urn:uuid:123"), "not an email address"),
        (reply_email(reply_ics(method="CANCEL")), "METHOD is CANCEL"),
        (
            b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nJust text.\r\n",
            "no text/calendar part",
        ),
    ],
    ids=[
        "empty",
        "not-ical",
        "broken",
        "request",
        "no-method",
        "no-uid",
        "no-attendee",
        "bad-partstat",
        "not-mailto",
        "email-cancel",
        "email-no-calendar",
    ],
)
def test_reply_errors(data: bytes, message: str) -> None:
    with pytest.raises(InviteParseError, match=message):
        parse_reply(data)


def test_reply_error_is_a_value_error() -> None:
    assert issubclass(InviteParseError, ValueError)
