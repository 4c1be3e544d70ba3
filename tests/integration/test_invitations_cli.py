"""The invitation commands, for real: ``coordinator sessions publish|schedule|cancel|show``,
``coordinator rsvp import``, ``coordinator ics`` and ``coordinator outbox export``, each in a
subprocess against a fresh database, with the shared clock set before the kickoff."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import UTC, datetime
from email.utils import parseaddr

import pytest
import vobject
from icalendar import Calendar

from coordinator import clock
from tests.conftest import KICKOFF
from tests.integration.test_cli import assert_one_line_error

NOW = datetime(2023, 9, 14, 0, 0, tzinfo=UTC)

SMALL_NETWORK = """\
network:
  name: 東京テスト
  slug: tokyo-test
  organizer: {name: 事務局, email: secretariat@example.org}
  meeting_url: https://meet.example.org/test
cities:
  - {name: Tokyo, name_ja: 東京, country: JP, zone: Asia/Tokyo}
  - {name: Denver, name_ja: デンバー, country: US, subdivision: CO, zone: America/Denver}
groups:
  - {name: Water, name_ja: 水資源の持続可能な利用, members: [Tokyo], observers: [Denver]}
sessions:
  - group: Water
    title: Water kickoff
    title_ja: 水資源の持続可能な利用 ワーキンググループ全体会
    window_start: "2023-10-03T00:00:00+09:00"
    window_end: "2023-10-04T00:00:00+09:00"
    duration_minutes: 90
    presentations:
      - {city: Tokyo, body: Bureau of Waterworks, body_ja: 水道局, title: Leakage control, title_ja: 漏水防止対策}
delegates:
  - {name: 事務局, email: secretariat@example.org, city: Tokyo, language: ja, role: organizer}
  - {name: 山田 花子, email: hanako@example.org, city: Tokyo, language: ja}
  - {name: Alex Miller, email: alex@example.org, city: Denver, language: en}
"""


@pytest.fixture
def cli(run_cli, tmp_path, monkeypatch):
    """``run_cli`` with the settable clock at two weeks before the kickoff."""
    monkeypatch.setenv(clock.ENV, str(tmp_path / "clock.json"))
    clock.set_now(NOW)
    yield run_cli
    clock.reset()


def ok(result):
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


def session_id(cli, group: str) -> int:
    rows = json.loads(ok(cli("sessions", "list", "--json")))
    return next(r["id"] for r in rows if r["group"] == group)


def test_publish_reschedule_show_and_cancel_the_kickoff(cli):
    ok(cli("network", "import", str(KICKOFF)))
    flood = str(session_id(cli, "Flood and Drought"))
    assert_one_line_error(cli("sessions", "publish", flood), "has no start", "schedule")
    ok(cli("sessions", "schedule", flood, "--at", "2023-10-03T11:00Z"))

    published = ok(cli("sessions", "publish", flood))
    invited = int(re.search(r"published: (\d+) invitations written", published).group(1))
    assert invited >= 40  # every delegate of 7 members and 25 observers, not the organizer
    again = ok(cli("sessions", "publish", flood))
    assert "already published: 0 invitations written" in again

    moved = ok(cli("sessions", "schedule", flood, "--at", "2023-10-03T12:00Z"))
    assert "rescheduled (start 2023-10-03 11:00Z → 2023-10-03 12:00Z): SEQUENCE 1" in moved
    assert f"{invited} updates written" in moved
    noted = ok(cli("sessions", "schedule", flood, "--note", "Slides: 10 minutes each"))
    assert "SEQUENCE stays 1 and nothing is sent" in noted

    data = json.loads(ok(cli("sessions", "show", flood, "--json")))
    assert (data["sequence"], data["start_utc"], data["note"]) == (
        1,
        "2023-10-03T12:00:00Z",
        "Slides: 10 minutes each",
    )
    assert data["attendance"]["counts"]["NEEDS-ACTION"] == invited
    assert data["messages"]["update"] == {"pending": invited}
    assert data["messages"]["invite"] == {"dropped": invited}
    nsw = {t["city"]: t for t in data["local_times"]}["Brisbane"]
    assert nsw["utc_offset"] == "+10:00" and "22:00" in nsw["local"]
    text = ok(cli("sessions", "show", flood))
    assert "自然災害への適応" in text and "Local time in each city" in text
    assert f"attendance: 0 accepted · 0 tentative · 0 declined · {invited} needs-action" in text

    cancelled = ok(cli("sessions", "cancel", flood))
    assert f"cancelled: SEQUENCE 2, {invited} cancellations written" in cancelled
    assert "already cancelled" in ok(cli("sessions", "cancel", flood))
    feed = Calendar.from_ical(ok(cli("ics", "--session", flood)))
    (event,) = feed.walk("VEVENT")
    assert (str(event["status"]), int(event["sequence"])) == ("CANCELLED", 2)
    assert_one_line_error(
        cli("sessions", "schedule", flood, "--at", "2023-10-03T13:00Z"), "is cancelled"
    )


def test_bad_input_exits_2_with_one_line(cli):
    ok(cli("network", "import", str(KICKOFF)))
    water = str(session_id(cli, "Water Management"))
    assert_one_line_error(cli("sessions", "publish", "999"), "no session with id 999")
    assert_one_line_error(cli("sessions", "schedule", water), "give --at, --duration")
    assert_one_line_error(cli("sessions", "schedule", water, "--duration", "0"), "--duration")
    assert_one_line_error(cli("sessions", "schedule", water, "--link", "meet.example"), "--link")
    ok(cli("sessions", "schedule", water, "--at", "2023-10-03T06:00Z"))
    clock.set_now(datetime(2023, 10, 3, 6, 30, tzinfo=UTC))
    assert_one_line_error(cli("sessions", "publish", water), "in the past")
    assert_one_line_error(cli("ics"), "exactly one of")
    assert_one_line_error(cli("ics", "--group", "Nope"), "--group", "Nope")
    assert_one_line_error(cli("ics", "--session", water), "has not been published")
    assert_one_line_error(cli("rsvp", "import", "missing.ics"), "does not exist")
    status = json.loads(ok(cli("outbox", "status", "--json")))
    assert "invite" not in status["by_kind"]


def test_japanese_names_and_titles_through_every_step(cli, tmp_path):
    network = tmp_path / "small.yaml"
    network.write_text(SMALL_NETWORK, encoding="utf-8")
    ok(cli("network", "import", str(network)))
    water = str(session_id(cli, "Water"))
    ok(cli("sessions", "schedule", water, "--at", "2023-10-03T11:00Z"))
    assert "2 invitations written" in ok(cli("sessions", "publish", water))

    exported = ok(cli("outbox", "export", "outbox"))
    counts = re.search(r"(\d+) messages written to outbox/ \(2 invite, (\d+) reminder\)", exported)
    assert counts and int(counts.group(1)) == 2 + int(counts.group(2))
    files = sorted((tmp_path / "outbox").glob("*-invite-*.eml"))
    assert sorted(f.name.split("-", 2)[2] for f in files) == [
        "alex@example.org.eml",
        "hanako@example.org.eml",
    ]
    hanako = next(f for f in files if "hanako" in f.name)
    message = email.message_from_bytes(hanako.read_bytes(), policy=email.policy.default)
    assert parseaddr(str(message["To"])) == ("山田 花子", "hanako@example.org")
    assert parseaddr(str(message["From"])) == ("事務局", "secretariat@example.org")
    assert "水資源の持続可能な利用 ワーキンググループ全体会" in str(message["Subject"])
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    data = part.get_payload(decode=True)
    event = Calendar.from_ical(data).walk("VEVENT")[0]
    other = vobject.readOne(data.decode("utf-8")).vevent
    assert str(event["summary"]) == "水資源の持続可能な利用 ワーキンググループ全体会"
    assert other.summary.value == str(event["summary"])
    assert event.decoded("dtstart") == datetime(2023, 10, 3, 11, 0, tzinfo=UTC)
    assert other.dtstart.value == event.decoded("dtstart")
    assert "漏水防止対策" in str(event["description"])
    # the export marked nothing sent
    status = json.loads(ok(cli("outbox", "status", "--json")))
    assert status["by_kind"]["invite"]["pending"] == 2 and status["totals"]["sent"] == 0

    reply = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n"
        f"UID:{event['uid']}\r\nSEQUENCE:0\r\nDTSTAMP:20230915T000000Z\r\n"
        'ATTENDEE;CN="山田 花子";PARTSTAT=ACCEPTED:mailto:hanako@example.org\r\n'
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    (tmp_path / "reply.ics").write_text(reply, encoding="utf-8")
    recorded = ok(cli("rsvp", "import", "reply.ics"))
    assert "山田 花子 <hanako@example.org>: ACCEPTED" in recorded
    shown = json.loads(ok(cli("sessions", "show", water, "--json")))
    assert {p["name"]: p["partstat"] for p in shown["attendance"]["delegates"]} == {
        "山田 花子": "ACCEPTED",
        "Alex Miller": "NEEDS-ACTION",
    }
    # an answer to an older SEQUENCE is refused after a reschedule, and changes nothing
    ok(cli("sessions", "schedule", water, "--at", "2023-10-03T12:00Z"))
    assert_one_line_error(cli("rsvp", "import", "reply.ics"), "SEQUENCE 0", "nothing was recorded")

    mine = Calendar.from_ical(ok(cli("ics", "--delegate", "hanako@example.org")))
    assert [str(e["summary"]) for e in mine.walk("VEVENT")] == [
        "水資源の持続可能な利用 ワーキンググループ全体会"
    ]
    group = Calendar.from_ical(ok(cli("ics", "--group", "水資源の持続可能な利用")))
    (event,) = group.walk("VEVENT")
    assert int(event["sequence"]) == 1
    assert event.decoded("dtstart") == datetime(2023, 10, 3, 12, 0, tzinfo=UTC)
