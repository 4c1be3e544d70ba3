"""Publishing, rescheduling and cancelling sessions; replies; feeds; the outbox export.

Every test runs in the rolled-back test transaction on the configured database (SQLite or
PostgreSQL), with the shared clock set to two weeks before the kickoff. Calendars are read back
with two independent parsers (icalendar and vobject), emails with the standard library.
"""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr

import pytest
import vobject
from icalendar import Calendar
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from coordinator import clock
from coordinator.errors import UserError
from coordinator.invites import imip
from coordinator.models import Attendance, OutboxMessage, Session
from coordinator.outbox import message_id_for, render
from coordinator.services import invitations
from coordinator.services.invitations import (
    cancel_session,
    delegate_feed,
    export_outbox,
    group_feed,
    import_replies,
    message_key,
    publish_session,
    reschedule_session,
    session_details,
    session_feed,
)
from coordinator.services.network import import_network
from coordinator.services.planning import schedule_session
from tests.conftest import KICKOFF
from tests.factories import (
    CityFactory,
    DelegateFactory,
    MembershipFactory,
    NetworkFactory,
    PresentationFactory,
    SessionFactory,
    WorkingGroupFactory,
)

NOW = datetime(2023, 9, 14, 0, 0, tzinfo=UTC)
START = datetime(2023, 10, 3, 11, 0, tzinfo=UTC)
HANAKO = "山田 花子"
TITLE_JA = "自然災害への適応 ワーキンググループ全体会"


@pytest.fixture(autouse=True)
def demo_clock(monkeypatch, tmp_path):
    """The shared clock, settable, at two weeks before the kickoff."""
    monkeypatch.setenv(clock.ENV, str(tmp_path / "clock.json"))
    clock.set_now(NOW)
    yield clock.set_now
    clock.reset()


@pytest.fixture
def session(db):
    """A scheduled session of a two-city group: a Japanese-speaking delegate in Tokyo, one in
    Tokyo who is in Paris, one in New South Wales; the organizer (a delegate too) in Tokyo."""
    network = NetworkFactory(organizer_email="secretariat@example.org")
    group = WorkingGroupFactory(
        network=network, name="Flood and Drought", name_ja="自然災害への適応"
    )
    tokyo = CityFactory(network=network, name="Tokyo", name_ja="東京", zone="Asia/Tokyo")
    nsw = CityFactory(
        network=network,
        name="New South Wales",
        name_ja="ニューサウスウェールズ州",
        country="AU",
        zone="Australia/Sydney",
    )
    MembershipFactory(group=group, city=tokyo, role="member")
    MembershipFactory(group=group, city=nsw, role="observer")
    DelegateFactory(city=tokyo, name="Yuki Tanaka", email="secretariat@example.org", language="ja")
    DelegateFactory(city=tokyo, name=HANAKO, email="hanako@example.org", language="ja")
    DelegateFactory(city=tokyo, name="Ryo Yoshida", email="ryo@example.org", zone="Europe/Paris")
    DelegateFactory(city=nsw, name="Olivia Bennett", email="olivia@example.org")
    s = SessionFactory(
        group=group,
        title="Flood and Drought — working group kickoff",
        title_ja=TITLE_JA,
        status="scheduled",
        start_utc=START,
    )
    PresentationFactory(
        session=s,
        position=1,
        city=tokyo,
        body="Bureau of Construction",
        body_ja="建設局",
        title="Urban flood control",
        title_ja="都市型水害対策",
    )
    db.commit()  # (a savepoint) so that a service's rollback keeps the fixture
    db.expire_all()
    return db.get(Session, s.id)


def rows(db, session_id: int, kind: str | None = None, status: str | None = None):
    query = select(OutboxMessage).where(OutboxMessage.session_id == session_id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    if status:
        query = query.where(OutboxMessage.status == status)
    return list(db.scalars(query.order_by(OutboxMessage.id)))


def calendar_of(message: EmailMessage) -> bytes:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    parts = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1
    data = parts[0].get_payload(decode=True)
    method = Calendar.from_ical(data)["method"]
    assert parts[0].get_param("method") == method  # the MIME method= equals METHOD
    return data


def event_of(data: bytes):
    """(icalendar VEVENT, vobject VEVENT) of a one-event calendar."""
    cal = Calendar.from_ical(data)
    (event,) = cal.walk("VEVENT")
    other = vobject.readOne(data.decode("utf-8"))
    return cal, event, other.vevent


def message_for(db, session_id: int, address: str, kind: str) -> EmailMessage:
    (row,) = [r for r in rows(db, session_id, kind, "pending") if r.recipient == address]
    message = render(db, row)
    assert message is not None
    return message


# --- publish ---------------------------------------------------------------------------------


def test_publish_writes_one_invite_per_recipient(db, session):
    report = publish_session(db, session.id)
    invites = rows(db, session.id, "invite")
    # the organizer's own address gets no invitation: it sends them
    assert sorted(r.recipient for r in invites) == [
        "hanako@example.org",
        "olivia@example.org",
        "ryo@example.org",
    ]
    assert report.written == 3 and report.skipped == [] and not report.already
    assert {r.payload["sequence"] for r in invites} == {0}
    assert all(r.status == "pending" and r.due_at <= clock.now() for r in invites)
    assert len({r.idempotency_key for r in invites}) == len({r.message_id for r in invites}) == 3
    assert session.published_at is not None and session.sequence == 0
    # reminders are planned for the published session (7 days, 1 day, 1 hour before)
    assert len(rows(db, session.id, "reminder", "pending")) == 3 * 4


def test_a_failed_publish_writes_nothing(db, session):
    """The rows and published_at are one transaction: a failure in the middle leaves neither."""
    taken = message_id_for(message_key("invite", session.uid, 0, "ryo@example.org"))
    db.add(
        OutboxMessage(
            kind="receipt",
            idempotency_key="unrelated",
            message_id=taken,
            recipient="someone@example.org",
            due_at=NOW,
            payload={},
            status="sent",
            attempts=1,
        )
    )
    db.commit()
    with pytest.raises(IntegrityError):
        publish_session(db, session.id)
    assert rows(db, session.id, "invite") == []
    assert db.get(Session, session.id).published_at is None


def test_publishing_again_writes_nothing_twice(db, session):
    first = publish_session(db, session.id)
    again = publish_session(db, session.id)
    assert (first.written, again.written, again.existing) == (3, 0, 3) and again.already
    assert len(rows(db, session.id, "invite")) == 3
    # a delegate added since gets the one invitation that is missing
    DelegateFactory(city=session.group.memberships[1].city, name="Liam", email="liam@example.org")
    db.flush()
    db.expire_all()
    later = publish_session(db, session.id)
    assert later.written == 1
    assert sorted(r.recipient for r in rows(db, session.id, "invite"))[1] == "liam@example.org"


def test_an_invalid_address_is_named_and_skipped(db, session):
    tokyo = session.group.memberships[0].city
    DelegateFactory(city=tokyo, name="佐藤 健", email="ken sato@example.org", language="ja")
    DelegateFactory(city=tokyo, name="Bad Domain", email="bad@@example.org")
    db.flush()
    db.expire_all()
    report = publish_session(db, session.id)
    assert sorted(p.name for p in report.skipped) == ["Bad Domain", "佐藤 健"]
    assert all("not a usable email address" in p.reason for p in report.skipped)
    assert report.written == 3
    data = calendar_of(message_for(db, session.id, "olivia@example.org", "invite"))
    _, event, _ = event_of(data)
    attendees = [str(a) for a in event.get("attendee")]
    assert "mailto:hanako@example.org" in attendees
    assert not any("sato" in a or "bad@" in a for a in attendees)


@pytest.mark.parametrize(
    "change, needle",
    [
        ("no start", "has no start"),
        ("no attendees", "has no attendees"),
        ("past", "in the past"),
        ("cancelled", "is cancelled"),
    ],
)
def test_publish_refuses_bad_sessions_and_writes_nothing(db, session, demo_clock, change, needle):
    if change == "no start":
        session.status, session.start_utc = "draft", None
    elif change == "no attendees":
        for membership in session.group.memberships:
            for delegate in membership.city.delegates:
                if delegate.email != "secretariat@example.org":
                    delegate.email = f"broken {delegate.id}@example.org"
    elif change == "past":
        demo_clock(START + timedelta(minutes=1))
    else:
        session.status = "cancelled"
    db.commit()
    db.expire_all()
    with pytest.raises(UserError, match=needle) as error:
        publish_session(db, session.id)
    assert "\n" not in error.value.message
    assert rows(db, session.id) == []
    assert db.get(Session, session.id).published_at is None


# --- reschedule ------------------------------------------------------------------------------


def test_reschedule_bumps_sequence_and_sends_updates_with_the_same_uid(db, session):
    publish_session(db, session.id)
    new_start = START + timedelta(hours=1)
    report = reschedule_session(db, session.id, start=new_start)
    assert (report.kind, report.sequence, report.written, report.dropped) == ("update", 1, 3, 3)
    assert session.sequence == 1 and session.start_utc == new_start
    assert {r.status for r in rows(db, session.id, "invite")} == {"dropped"}
    updates = rows(db, session.id, "update", "pending")
    assert len(updates) == 3 and {r.payload["sequence"] for r in updates} == {1}
    # reminders follow the new start
    reminders = rows(db, session.id, "reminder", "pending")
    assert reminders and {r.payload["start_utc"] for r in reminders} == {new_start.isoformat()}
    cal, event, vevent = event_of(
        calendar_of(message_for(db, session.id, "ryo@example.org", "update"))
    )
    assert str(cal["method"]) == "REQUEST"
    assert str(event["uid"]) == session.uid == vevent.uid.value
    assert int(event["sequence"]) == 1 == int(vevent.sequence.value)
    assert event.decoded("dtstart") == new_start == vevent.dtstart.value
    # a retry of the same reschedule changes nothing
    again = reschedule_session(db, session.id, start=new_start)
    assert again.kind is None and again.written == 0 and session.sequence == 1
    assert len(rows(db, session.id, "update")) == 3


@pytest.mark.parametrize(
    "change",
    [{"duration": 90}, {"meeting_url": "https://meet.example.org/other"}],
)
def test_duration_and_link_changes_are_updates(db, session, change):
    publish_session(db, session.id)
    report = reschedule_session(db, session.id, **change)
    assert report.kind == "update" and session.sequence == 1
    _, event, _ = event_of(calendar_of(message_for(db, session.id, "olivia@example.org", "update")))
    if "duration" in change:
        assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(minutes=90)
    else:
        assert str(event["location"]) == change["meeting_url"]


def test_a_note_does_not_matter_to_calendars(db, session):
    publish_session(db, session.id)
    report = reschedule_session(db, session.id, note="Slides in English or 日本語, please")
    assert report.kind is None and report.written == 0 and report.changes == ["note changed"]
    assert session.sequence == 0
    assert rows(db, session.id, "update") == []
    assert {r.status for r in rows(db, session.id, "invite")} == {"pending"}
    # the invitation, rendered at delivery, shows the corrected note
    _, event, _ = event_of(calendar_of(message_for(db, session.id, "olivia@example.org", "invite")))
    assert "Slides in English or 日本語, please" in str(event["description"])
    assert int(event["sequence"]) == 0


def test_scheduling_a_published_session_is_a_reschedule(db, session):
    publish_session(db, session.id)
    schedule_session(db, session.id, START + timedelta(minutes=30))
    assert session.sequence == 1 and len(rows(db, session.id, "update")) == 3


def test_reschedule_refuses_the_past_and_the_window(db, session, demo_clock):
    publish_session(db, session.id)
    with pytest.raises(UserError, match="outside the session's window"):
        reschedule_session(db, session.id, start=START + timedelta(days=3))
    demo_clock(START - timedelta(hours=2))
    with pytest.raises(UserError, match="in the past"):
        reschedule_session(db, session.id, start=START - timedelta(hours=3))
    assert session.sequence == 0 and rows(db, session.id, "update") == []


def test_a_claimed_invite_of_an_older_sequence_is_dropped_at_delivery(db, session):
    """A worker claimed an invitation just before the reschedule: rendered afterwards it is
    superseded (the update of the new SEQUENCE says everything) and delivery drops it."""
    publish_session(db, session.id)
    claimed = rows(db, session.id, "invite")[0]
    claimed.status = "claimed"
    db.commit()
    reschedule_session(db, session.id, start=START + timedelta(hours=1))
    db.refresh(claimed)
    assert claimed.status == "claimed"
    assert render(db, claimed) is None
    assert len(rows(db, session.id, "update")) == 3


# --- cancel ----------------------------------------------------------------------------------


def test_cancel_sends_cancel_and_drops_what_is_pending(db, session):
    publish_session(db, session.id)
    report = cancel_session(db, session.id)
    assert (report.kind, report.sequence, report.written) == ("cancel", 1, 3)
    assert session.status == "cancelled" and session.sequence == 1
    assert rows(db, session.id, "reminder", "pending") == []
    assert rows(db, session.id, "invite", "pending") == []
    assert report.dropped == 3 + 3 * 4  # the invitations and the reminders not sent yet
    cancels = rows(db, session.id, "cancel", "pending")
    assert len(cancels) == 3
    cal, event, vevent = event_of(
        calendar_of(message_for(db, session.id, "ryo@example.org", "cancel"))
    )
    assert str(cal["method"]) == "CANCEL"
    assert str(event["status"]) == "CANCELLED" == vevent.status.value
    assert str(event["uid"]) == session.uid and int(event["sequence"]) == 1
    again = cancel_session(db, session.id)
    assert again.already and again.written == 0
    assert len(rows(db, session.id, "cancel")) == 3
    with pytest.raises(UserError, match="is cancelled"):
        reschedule_session(db, session.id, start=START)


def test_cancelling_an_unpublished_session_sends_nothing(db, session):
    report = cancel_session(db, session.id)
    assert report.kind is None and session.status == "cancelled" and session.sequence == 0
    assert rows(db, session.id, "cancel") == []


# --- rendering -------------------------------------------------------------------------------


def test_japanese_names_and_titles_survive_rendering(db, session):
    publish_session(db, session.id)
    message = message_for(db, session.id, "hanako@example.org", "invite")
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert parseaddr(str(parsed["To"])) == (HANAKO, "hanako@example.org")
    assert TITLE_JA in str(parsed["Subject"])
    text = parsed.get_body(("plain",)).get_content()
    assert HANAKO in text and "都市型水害対策" in text
    _, event, vevent = event_of(calendar_of(message))
    assert str(event["summary"]) == TITLE_JA == vevent.summary.value
    names = {a.params.get("CN") for a in event.get("attendee")}
    assert HANAKO in names


def test_the_calendar_is_built_once_per_language_not_per_recipient(db, monkeypatch, tmp_path):
    import_network(db, KICKOFF)
    flood = db.scalar(select(Session).where(Session.title.like("Flood%")))
    schedule_session(db, flood.id, START)
    publish_session(db, flood.id)
    built = []
    original = imip.build_calendar

    def counting(s, kind, language="en"):
        built.append((s.sequence, kind, language))
        return original(s, kind, language)

    monkeypatch.setattr(imip, "build_calendar", counting)
    report = export_outbox(db, tmp_path, kinds=["invite"])
    assert report.by_kind["invite"] >= 40
    assert sorted(built) == [(0, "invite", "en"), (0, "invite", "ja")]


# --- replies ---------------------------------------------------------------------------------


def reply(uid: str, sequence: int, address: str, partstat: str, stamp: str) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nMETHOD:REPLY\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nSEQUENCE:{sequence}\r\nDTSTAMP:{stamp}\r\n"
        f"ATTENDEE;PARTSTAT={partstat}:mailto:{address}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def reply_email(calendar: bytes) -> bytes:
    message = EmailMessage()
    message["From"] = f"{HANAKO} <hanako@example.org>"
    message["To"] = "secretariat@example.org"
    message["Subject"] = "承諾: " + TITLE_JA
    message.set_content("承諾しました。")
    message.add_alternative(
        calendar, maintype="text", subtype="calendar", params={"method": "REPLY"}
    )
    return message.as_bytes()


def answers(db, session_id: int) -> dict[str, tuple[str, int]]:
    found = db.scalars(select(Attendance).where(Attendance.session_id == session_id))
    return {a.delegate.email: (a.partstat, a.sequence) for a in found}


def test_replies_are_recorded_from_ics_and_eml(db, session, tmp_path):
    publish_session(db, session.id)
    ics = tmp_path / "reply.ics"
    ics.write_bytes(reply(session.uid, 0, "olivia@example.org", "TENTATIVE", "20230915T010000Z"))
    eml = tmp_path / "reply.eml"
    eml.write_bytes(
        reply_email(reply(session.uid, 0, "HANAKO@example.org", "ACCEPTED", "20230915T020000Z"))
    )
    first = import_replies(db, ics)
    second = import_replies(db, eml)
    assert [(r.name, r.partstat) for r in first.recorded + second.recorded] == [
        ("Olivia Bennett", "TENTATIVE"),
        (HANAKO, "ACCEPTED"),
    ]
    assert answers(db, session.id) == {
        "olivia@example.org": ("TENTATIVE", 0),
        "hanako@example.org": ("ACCEPTED", 0),
    }
    # a later answer replaces the earlier one; the same file again changes nothing
    ics.write_bytes(reply(session.uid, 0, "olivia@example.org", "DECLINED", "20230916T000000Z"))
    changed = import_replies(db, ics)
    assert [(r.partstat, r.previous) for r in changed.recorded] == [("DECLINED", "TENTATIVE")]
    assert import_replies(db, ics).unchanged == 1
    counts = session_details(db, session.id)["attendance"]["counts"]
    assert counts == {"ACCEPTED": 1, "TENTATIVE": 0, "DECLINED": 1, "NEEDS-ACTION": 1}


@pytest.mark.parametrize(
    "uid, sequence, address, stamp, needle",
    [
        ("nobody@example.org", 0, "olivia@example.org", "20230915T000000Z", "no session has"),
        (None, 1, "stranger@example.org", "20230915T000000Z", "is not an attendee"),
        (None, 1, "secretariat@example.org", "20230915T000000Z", "is not an attendee"),
        (None, 5, "olivia@example.org", "20230915T000000Z", "newer than"),
        (None, 1, "olivia@example.org", "20230914T000000Z", "older than the answer recorded"),
    ],
)
def test_bad_replies_are_refused_and_change_nothing(
    db, session, tmp_path, uid, sequence, address, stamp, needle
):
    publish_session(db, session.id)
    reschedule_session(db, session.id, start=START + timedelta(hours=1))
    path = tmp_path / "reply.ics"
    path.write_bytes(reply(session.uid, 1, "olivia@example.org", "ACCEPTED", "20230915T120000Z"))
    import_replies(db, path)
    before = answers(db, session.id)
    # the bad reply travels with a good one: all or nothing
    good = reply(session.uid, 1, "hanako@example.org", "ACCEPTED", "20230915T120000Z")
    bad = reply(uid or session.uid, sequence, address, "DECLINED", stamp)
    path.write_bytes(good.replace(b"END:VCALENDAR\r\n", b"") + bad.split(b"METHOD:REPLY\r\n")[1])
    with pytest.raises(UserError, match=needle) as error:
        import_replies(db, path)
    assert "nothing was recorded" in error.value.message
    assert answers(db, session.id) == before == {"olivia@example.org": ("ACCEPTED", 1)}


def test_an_answer_to_an_older_sequence_is_refused(db, session, tmp_path):
    publish_session(db, session.id)
    path = tmp_path / "reply.ics"
    path.write_bytes(reply(session.uid, 0, "olivia@example.org", "ACCEPTED", "20230915T000000Z"))
    import_replies(db, path)
    reschedule_session(db, session.id, start=START + timedelta(hours=1))
    path.write_bytes(reply(session.uid, 0, "ryo@example.org", "ACCEPTED", "20230915T000000Z"))
    with pytest.raises(UserError, match="SEQUENCE 0 .* has changed since"):
        import_replies(db, path)
    attendance = session_details(db, session.id)["attendance"]
    # the answer given to SEQUENCE 0 is kept but no longer counts: the update asked again
    assert attendance["counts"]["ACCEPTED"] == 0 and attendance["counts"]["NEEDS-ACTION"] == 3
    (olivia,) = [p for p in attendance["delegates"] if p["email"] == "olivia@example.org"]
    assert (olivia["partstat"], olivia["sequence"], olivia["current"]) == ("ACCEPTED", 0, False)


def test_a_reply_that_is_not_a_reply_is_refused(db, session, tmp_path):
    publish_session(db, session.id)
    path = tmp_path / "invite.ics"
    path.write_bytes(
        reply(session.uid, 0, "olivia@example.org", "ACCEPTED", "20230915T000000Z").replace(
            b"METHOD:REPLY", b"METHOD:REQUEST"
        )
    )
    with pytest.raises(UserError, match="only REPLY is accepted"):
        import_replies(db, path)
    with pytest.raises(UserError, match="does not exist"):
        import_replies(db, tmp_path / "missing.ics")
    assert answers(db, session.id) == {}


# --- feeds -----------------------------------------------------------------------------------


def test_feeds_keep_cancelled_sessions_as_cancelled(db, session):
    group = session.group
    other = SessionFactory(
        group=group,
        title="Second meeting",
        status="scheduled",
        start_utc=START + timedelta(hours=2),
    )
    unpublished = SessionFactory(
        group=group, title="Not yet", status="scheduled", start_utc=START + timedelta(hours=1)
    )
    db.flush()
    publish_session(db, session.id)
    publish_session(db, other.id)
    cancel_session(db, other.id)
    data = group_feed(db, "自然災害への適応")
    cal = Calendar.from_ical(data)
    assert str(cal["method"]) == "PUBLISH"
    events = {str(e["summary"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {session.title, "Second meeting"}
    assert str(events["Second meeting"]["status"]) == "CANCELLED"
    assert int(events["Second meeting"]["sequence"]) == 1
    assert str(events[session.title]["status"]) == "CONFIRMED"
    parsed = vobject.readOne(data.decode("utf-8"))
    assert sorted(e.status.value for e in parsed.vevent_list) == ["CANCELLED", "CONFIRMED"]
    assert unpublished.title not in data.decode("utf-8")
    # a delegate's feed: their groups' sessions, in their language
    mine = Calendar.from_ical(delegate_feed(db, "HANAKO@example.org"))
    assert {str(e["summary"]) for e in mine.walk("VEVENT")} == {TITLE_JA, "Second meeting"}
    one = Calendar.from_ical(session_feed(db, other.id))
    (event,) = one.walk("VEVENT")
    assert str(event["status"]) == "CANCELLED"
    with pytest.raises(UserError, match="has not been published"):
        session_feed(db, unpublished.id)
    with pytest.raises(UserError, match="no delegate"):
        delegate_feed(db, "nobody@example.org")


# --- export and the kickoff ------------------------------------------------------------------


def test_export_writes_parseable_messages_at_the_stored_start(db, tmp_path):
    """Two kickoff sessions on either side of New South Wales's change to summer time: every
    exported message carries a calendar whose UTC start is the stored one (also after a
    reschedule), and each city's local time is on the right side of its clock change."""
    import_network(db, KICKOFF)
    sessions = {s.group.name: s for s in db.scalars(select(Session))}
    women = sessions["Women's Empowerment"]
    green = sessions["Green Building and Green Transportation"]
    schedule_session(db, women.id, datetime(2023, 9, 28, 8, 0, tzinfo=UTC))
    schedule_session(db, green.id, datetime(2023, 10, 4, 8, 0, tzinfo=UTC))
    for s in (women, green):
        publish_session(db, s.id)
    reschedule_session(db, green.id, start=datetime(2023, 10, 4, 9, 0, tzinfo=UTC))

    report = export_outbox(db, tmp_path / "outbox", kinds=["invite", "update"])
    invited = (
        db.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind.in_(["invite", "update"]), OutboxMessage.status == "pending")
        )
        or 0
    )
    assert len(report.files) == invited == report.by_kind["invite"] + report.by_kind["update"]
    assert report.by_kind["update"] > 0
    stored = {s.uid: s.start_utc for s in (women, green)}
    for path in report.files:
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert parsed["Message-ID"] and parsed["From"] and parsed["To"]
        (part,) = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
        data = part.get_payload(decode=True)
        _, event, vevent = event_of(data)
        uid = str(event["uid"])
        assert event.decoded("dtstart") == stored[uid] == vevent.dtstart.value.astimezone(UTC)
    # nothing was marked sent
    statuses = db.scalars(select(OutboxMessage.status).where(OutboxMessage.kind == "invite"))
    assert set(statuses) <= {"pending", "dropped"}

    def local_line(s, city):
        cal = Calendar.from_ical(session_feed(db, s.id))
        (event,) = cal.walk("VEVENT")
        lines = str(event["description"]).splitlines()
        return next(line for line in lines if line.startswith(f"{city}:"))

    # New South Wales moves to UTC+11 on 1 October, New Zealand moved on 24 September
    assert local_line(women, "New South Wales").endswith("18:00–20:00 (UTC+10:00)")
    assert local_line(women, "Auckland").endswith("21:00–23:00 (UTC+13:00)")
    assert local_line(green, "Auckland").endswith("22:00 – Thu 5 Oct 00:00 (UTC+13:00)")


def test_session_details_show_local_times_agenda_and_attendance(db, session):
    publish_session(db, session.id)
    data = session_details(db, session.id)
    assert data["uid"] == session.uid and data["sequence"] == 0
    assert [t["city"] for t in data["local_times"]] == ["Tokyo", "New South Wales"]
    tokyo = data["local_times"][0]
    assert tokyo["utc_offset"] == "+09:00" and "20:00" in tokyo["local"]
    assert data["agenda"][0]["title_ja"] == "都市型水害対策"
    people = {p["name"]: p["partstat"] for p in data["attendance"]["delegates"]}
    assert people == {
        HANAKO: "NEEDS-ACTION",
        "Ryo Yoshida": "NEEDS-ACTION",
        "Olivia Bennett": "NEEDS-ACTION",
    }
    assert data["messages"]["invite"] == {"pending": 3}


def test_renderers_are_registered_for_every_invitation_kind():
    from coordinator import outbox

    # delivery imports this module lazily to find the renderers of these kinds
    assert "coordinator.services.invitations" in outbox.RENDERER_MODULES
    for kind in ("invite", "update", "cancel"):
        assert outbox._RENDERERS[kind] is invitations.render_invitation
