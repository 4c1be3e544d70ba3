"""coordinator.invites.imip and .texts: iMIP message structure, localized bodies in the
recipient's zone, escaping, reminders, the generic wrapper, and byte-exactness of the fast
serializer. Golden files: see tests/unit/test_ical.py (COORDINATOR_UPDATE_GOLDEN=1)."""

from __future__ import annotations

import email
import email.policy
import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.message import EmailMessage
from io import BytesIO
from pathlib import Path

import pytest
import vobject
from icalendar import Calendar

from coordinator.invites import (
    Person,
    SessionSnapshot,
    build_cancel,
    build_message,
    build_reminder_message,
    build_request,
    compose_message,
    snapshot_from_dict,
)
from coordinator.invites.texts import (
    BodyBuilder,
    greeting,
    language_of,
    relative_phrase,
    session_details,
)

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
UPDATE = os.environ.get("COORDINATOR_UPDATE_GOLDEN") == "1"
DATE = datetime(2023, 9, 15, 0, 0, tzinfo=UTC)
MESSAGE_ID = "<3f1c9a0e5b7d4c2a8e6f1b3d5a7c9e0f@coordinator.example.org>"


def kickoff() -> SessionSnapshot:
    data = json.loads((GOLDEN / "flood-and-drought.json").read_text("utf-8"))
    return snapshot_from_dict(data)


def attendee(s: SessionSnapshot, email_address: str) -> Person:
    return next(a.person for a in s.attendees if a.person.email == email_address)


HANAKO = "tokyo.construction@example.org"  # 山田 花子, ja, Asia/Tokyo
CHRIS = "denver.1@example.org"  # Chris Miller, en, America/Denver
TOM = "auckland.1@example.org"  # Tom Hughes, en, Pacific/Auckland


def parse(message: EmailMessage) -> EmailMessage:
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)


def stdlib_bytes(message: EmailMessage) -> bytes:
    fp = BytesIO()
    BytesGenerator(fp, mangle_from_=False, policy=message.policy).flatten(message)
    return fp.getvalue()


def invite(kind: str = "invite", who: str = HANAKO, s: SessionSnapshot | None = None):
    s = s or kickoff()
    if kind == "update":
        s = replace(
            s,
            sequence=1,
            start_utc=s.start_utc + timedelta(hours=1),
            end_utc=s.end_utc + timedelta(hours=1),
        )
    if kind == "cancel":
        s = replace(s, sequence=2, status="cancelled")
    return s, build_message(s, attendee(s, who), kind=kind, message_id=MESSAGE_ID, date=DATE)


def part(message: EmailMessage, content_type: str) -> EmailMessage:
    found = [p for p in message.walk() if p.get_content_type() == content_type]
    assert len(found) == 1, content_type
    return found[0]


# --- structure -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "method"), [("invite", "REQUEST"), ("update", "REQUEST"), ("cancel", "CANCEL")]
)
def test_structure(kind: str, method: str) -> None:
    s, built = invite(kind)
    m = parse(built)
    assert not m.defects and all(not p.defects for p in m.walk())
    assert m.get_content_type() == "multipart/mixed"
    alternative, attachment = m.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    calendar = part(m, "text/calendar")
    assert calendar["Content-Type"].params["method"] == method
    assert calendar.get_content_charset() == "utf-8"
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "invite.ics"
    inline = calendar.get_payload(decode=True)
    assert inline == attachment.get_payload(decode=True)
    expected = (
        build_cancel(s, language="ja") if method == "CANCEL" else build_request(s, language="ja")
    )
    assert inline == expected
    cal = Calendar.from_ical(inline)
    assert str(cal["method"]) == method
    assert vobject.readOne(inline.decode("utf-8")).method.value == method


def test_headers() -> None:
    s, built = invite()
    m = parse(built)
    assert m["Message-ID"] == MESSAGE_ID
    assert m["From"].addresses[0].addr_spec == s.organizer.email
    assert m["From"].addresses[0].display_name == s.organizer.name
    assert m["Reply-To"] == m["From"]
    assert m["To"].addresses[0].display_name == "山田 花子"
    assert m["To"].addresses[0].addr_spec == HANAKO
    assert m["Subject"] == "招待: 自然災害への適応 ワーキンググループ全体会"
    assert m["Date"].datetime == DATE
    assert m["MIME-Version"] == "1.0"
    assert m["Content-Class"] == "urn:content-classes:calendarmessage"
    assert m["Content-Language"] == "ja"
    organizer = Calendar.from_ical(part(m, "text/calendar").get_payload(decode=True)).walk(
        "VEVENT"
    )[0]["organizer"]
    assert str(organizer).lower() == f"mailto:{m['From'].addresses[0].addr_spec}".lower()


def test_wire_form_is_ascii_with_short_lines() -> None:
    data = invite()[1].as_bytes()
    data.decode("ascii")
    lines = data.split(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in lines) <= 78


@pytest.mark.parametrize(
    ("kind", "who", "subject"),
    [
        ("invite", CHRIS, "Invitation: Flood and Drought — working group kickoff"),
        ("update", CHRIS, "Updated: Flood and Drought — working group kickoff"),
        ("cancel", CHRIS, "Cancelled: Flood and Drought — working group kickoff"),
        ("invite", HANAKO, "招待: 自然災害への適応 ワーキンググループ全体会"),
        ("update", HANAKO, "更新: 自然災害への適応 ワーキンググループ全体会"),
        ("cancel", HANAKO, "中止: 自然災害への適応 ワーキンググループ全体会"),
    ],
)
def test_localized_subjects(kind: str, who: str, subject: str) -> None:
    assert parse(invite(kind, who)[1])["Subject"] == subject


def test_same_message_id_and_date_give_the_same_bytes() -> None:
    first = invite()[1].as_bytes()
    again = invite()[1].as_bytes()
    assert first == again
    assert parse(invite()[1])["Message-ID"] == MESSAGE_ID


def test_fast_serializer_equals_the_standard_generator() -> None:
    for kind in ("invite", "update", "cancel"):
        for who in (HANAKO, CHRIS):
            message = invite(kind, who)[1]
            assert message.as_bytes() == stdlib_bytes(message)
            assert bytes(message) == message.as_bytes()


def test_a_changed_message_still_serializes_like_the_standard_generator() -> None:
    message = invite("invite", CHRIS)[1]
    message["X-Note"] = "再送・resent"
    del message["Date"]
    message["Date"] = datetime(2023, 9, 16, 9, 30, tzinfo=UTC)
    message.preamble = "This is a MIME message."
    assert message.as_bytes() == stdlib_bytes(message)
    m = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert m["X-Note"] == "再送・resent" and m["Date"].datetime.day == 16


def test_message_id_without_brackets_is_bracketed() -> None:
    s = kickoff()
    m = build_message(s, s.organizer, kind="invite", message_id="abc.1@example.org", date=DATE)
    assert m["Message-ID"] == "<abc.1@example.org>"


@pytest.mark.parametrize("bad", ["", "no-at-sign", "<two words@example.org>", "<a@b>\r\nX: y"])
def test_bad_message_id(bad: str) -> None:
    s = kickoff()
    with pytest.raises(ValueError, match="message_id"):
        build_message(s, s.organizer, kind="invite", message_id=bad)


def test_kind_checks() -> None:
    s = kickoff()
    r = attendee(s, CHRIS)
    with pytest.raises(ValueError, match="kind"):
        build_message(s, r, kind="reminder", message_id=MESSAGE_ID)
    with pytest.raises(ValueError, match="METHOD is REQUEST"):
        build_message(s, r, kind="cancel", message_id=MESSAGE_ID, ical=build_request(s))
    with pytest.raises(ValueError, match="cancelled"):
        build_message(replace(s, status="cancelled"), r, kind="update", message_id=MESSAGE_ID)


def test_given_calendar_is_carried_as_is() -> None:
    s = kickoff()
    ical = build_request(s)  # English calendar, even for a Japanese reader
    m = parse(
        build_message(s, attendee(s, HANAKO), kind="invite", message_id=MESSAGE_ID, ical=ical)
    )
    assert part(m, "text/calendar").get_payload(decode=True) == ical
    assert part(m, "application/ics").get_payload(decode=True) == ical


def test_long_non_ascii_name_is_encoded_and_folded() -> None:
    s = kickoff()
    name = "山田 花子（東京都建設局 河川部 計画課 国際連携担当 課長補佐）" * 2
    r = replace(attendee(s, HANAKO), name=name)
    m = build_message(s, r, kind="invite", message_id=MESSAGE_ID, date=DATE)
    data = m.as_bytes()
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    # RFC 2047: blanks between adjacent encoded words are not part of the text. (The default
    # policy's address parser keeps them, so decode with the RFC-faithful legacy decoder.)
    raw = email.message_from_bytes(data, policy=email.policy.compat32)["To"]
    assert str(make_header(decode_header(raw))) == f"{name} <{HANAKO}>"
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert parsed["To"].addresses[0].addr_spec == HANAKO
    assert parsed.get_body(("plain",)).get_content().startswith(f"{name} 様")


def test_non_ascii_address_is_refused() -> None:
    s = kickoff()
    r = Person(name="Jürgen", email="jürgen@example.org")
    with pytest.raises(ValueError, match="non-ASCII"):
        build_message(s, r, kind="invite", message_id=MESSAGE_ID)


# --- bodies --------------------------------------------------------------------------------------


def bodies(message: EmailMessage) -> tuple[str, str]:
    m = parse(message)
    return m.get_body(("plain",)).get_content(), m.get_body(("html",)).get_content()


def test_english_body_in_denver_time() -> None:
    text, html = bodies(invite("invite", CHRIS)[1])
    assert text.startswith("Dear Chris Miller,")
    assert "You are invited to Flood and Drought — working group kickoff." in text
    assert (
        "When: Tuesday, October 3, 2023, 5:00\u202fAM – 7:00\u202fAM Mountain Daylight Time "
        "(UTC\u221206:00)" in text
    )
    assert "Join: https://meet.example.org/gnets?room=flood-and-drought&pwd=a,b;c" in text
    assert "\n1. Tokyo — Tokyo Metropolitan Government, Bureau of Construction: " in text
    assert "\n7. Thinadhoo — Thinadhoo City Council: Flood mitigation project" in text
    assert "\nDenver: Tue 3 Oct 05:00–07:00 (UTC\u221206:00)" in text
    assert "Note: Ten minutes per presentation" in text
    assert "Accept or Decline" in text
    assert '<a href="https://meet.example.org/gnets?room=flood-and-drought&amp;pwd=a,b;c">' in html
    assert "Mountain Daylight Time" in html
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html


def test_japanese_body_in_tokyo_time() -> None:
    text, html = bodies(invite("invite", HANAKO)[1])
    assert text.startswith("山田 花子 様")
    assert "日時：2023年10月3日火曜日 20:00～22:00 日本標準時（UTC+09:00）" in text
    assert "参加リンク：https://meet.example.org/gnets" in text
    assert "\n1. 東京 — 東京都(建設局)：都市型水害対策(広域調節池)" in text
    assert "\nデンバー: 10月3日(火) 05:00～07:00 (UTC\u221206:00)" in text
    assert '<html lang="ja">' in html and "日本標準時" in html


def test_next_day_in_auckland() -> None:
    text, _ = bodies(invite("invite", TOM)[1])
    assert (
        "When: Wednesday, October 4, 2023, 12:00\u202fAM – 2:00\u202fAM "
        "New Zealand Daylight Time (UTC+13:00)" in text
    )


def test_unknown_zones() -> None:
    s = kickoff()
    s = replace(s, places=(*s.places[:2], replace(s.places[2], zone="unknown")))
    r = replace(attendee(s, CHRIS), zone="unknown")
    text, _ = bodies(build_message(s, r, kind="invite", message_id=MESSAGE_ID, date=DATE))
    assert (
        "When: Tuesday, October 3, 2023, 11:00\u202fAM – 1:00\u202fPM "
        "Coordinated Universal Time (UTC+00:00)" in text
    )
    assert "\nAmsterdam: time zone not known yet\n" in text


def test_update_and_cancel_bodies() -> None:
    text, _ = bodies(invite("update", CHRIS)[1])
    assert "has been updated" in text and "6:00\u202fAM – 8:00\u202fAM" in text
    text, _ = bodies(invite("cancel", HANAKO)[1])
    assert "中止になりました" in text
    assert "参加リンク" not in text


def test_html_escapes_user_text() -> None:
    s = replace(
        kickoff(),
        title="<script>alert(1)</script> & co",
        note='<img src=x onerror="alert(1)">',
        meeting_url="javascript:alert(1)",
    )
    text, html = bodies(build_message(s, attendee(s, CHRIS), kind="invite", message_id=MESSAGE_ID))
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert 'href="javascript' not in html
    assert "<script>alert(1)</script> & co" in text


def test_greeting_padding_is_invisible() -> None:
    text, html = bodies(invite("invite", CHRIS)[1])
    first = text.split("\n", 1)[0]
    assert first.rstrip() == "Dear Chris Miller,"
    assert "<p>Dear Chris Miller,</p>" in html


def test_language_tags() -> None:
    assert language_of("ja-JP") == "ja" and language_of("JA") == "ja"
    assert language_of("fr") == "en" and language_of(None) == "en"


# --- reminders -----------------------------------------------------------------------------------


EN_TITLE = "Flood and Drought — working group kickoff"
JA_TITLE = "自然災害への適応 ワーキンググループ全体会"


@pytest.mark.parametrize(
    ("offset", "language", "subject"),
    [
        (timedelta(days=7), "en", f"Reminder: {EN_TITLE} starts in 7 days"),
        (timedelta(days=1), "en", f"Reminder: {EN_TITLE} starts tomorrow"),
        (timedelta(hours=1), "en", f"Reminder: {EN_TITLE} starts in 1 hour"),
        (timedelta(days=7), "ja", f"リマインダー: {JA_TITLE}（7日後に開始）"),
        (timedelta(days=1), "ja", f"リマインダー: {JA_TITLE}（明日に開始）"),
        (timedelta(hours=1), "ja", f"リマインダー: {JA_TITLE}（1時間後に開始）"),
    ],
)
def test_reminder_subjects(offset: timedelta, language: str, subject: str) -> None:
    s = kickoff()
    who = HANAKO if language == "ja" else CHRIS
    m = build_reminder_message(s, attendee(s, who), offset=offset, message_id=MESSAGE_ID, date=DATE)
    assert parse(m)["Subject"] == subject


def test_reminder_message() -> None:
    s = kickoff()
    built = build_reminder_message(
        s, attendee(s, CHRIS), offset=timedelta(hours=1), message_id=MESSAGE_ID, date=DATE
    )
    assert built.as_bytes() == stdlib_bytes(built)
    m = parse(built)
    assert m.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in m.iter_parts()] == ["text/plain", "text/html"]
    assert "Content-Class" not in m
    assert m["Message-ID"] == MESSAGE_ID and m["From"].addresses[0].addr_spec == s.organizer.email
    text, html = bodies(built)
    assert text.startswith("Dear Chris Miller,")
    assert "starts in 1 hour." in text
    assert "5:00\u202fAM – 7:00\u202fAM Mountain Daylight Time" in text
    assert "Join: https://meet.example.org/gnets" in text
    assert "\n1. Tokyo — " in text and "Agenda" in html


def test_reminder_refuses_cancelled_sessions() -> None:
    s = replace(kickoff(), status="cancelled")
    with pytest.raises(ValueError, match="cancelled"):
        build_reminder_message(s, s.organizer, offset=timedelta(days=1), message_id=MESSAGE_ID)


@pytest.mark.parametrize(
    ("offset", "en", "ja"),
    [
        (timedelta(days=7), "in 7 days", "7日後"),
        (timedelta(days=1), "tomorrow", "明日"),
        (timedelta(hours=36), "in 36 hours", "36時間後"),
        (timedelta(hours=1), "in 1 hour", "1時間後"),
        (timedelta(minutes=15), "in 15 minutes", "15分後"),
    ],
)
def test_relative_phrases(offset: timedelta, en: str, ja: str) -> None:
    assert relative_phrase(offset, "en") == en
    assert relative_phrase(offset, "ja") == ja


# --- the generic wrapper, as another kind of message would use it --------------------------------


def test_compose_message_for_another_kind() -> None:
    s = kickoff()
    presenter = attendee(s, HANAKO)
    body = (
        BodyBuilder("ja")
        .paragraph("発表資料をアップロードしてください。")
        .link("アップロード", "https://coordinator.example.org/u/abc?t=1&x=<2>")
        .field("締切", "2023年10月1日")
        .build()
    ) + session_details(s, "ja", presenter.zone, join_link=False)
    built = compose_message(
        sender=s.organizer,
        recipient=presenter,
        subject="資料のお願い: 自然災害への適応",
        opening=greeting(presenter.name, "ja"),
        body=body,
        message_id="<materials-1@coordinator.example.org>",
        language="ja",
        headers={"Auto-Submitted": "auto-generated", "X-Coordinator-Kind": "call-for-materials"},
        date=DATE,
    )
    assert built.as_bytes() == stdlib_bytes(built)
    m = parse(built)
    assert m["Subject"] == "資料のお願い: 自然災害への適応"
    assert m["Auto-Submitted"] == "auto-generated"
    assert m["X-Coordinator-Kind"] == "call-for-materials"
    text, html = bodies(built)
    assert text.startswith("山田 花子 様")
    assert "アップロード：https://coordinator.example.org/u/abc?t=1&x=<2>" in text
    assert 'href="https://coordinator.example.org/u/abc?t=1&amp;x=&lt;2&gt;"' in html
    assert "参加リンク" not in text and "日時：" in text


# --- golden --------------------------------------------------------------------------------------


def test_golden_invite_message() -> None:
    data = invite("invite", HANAKO)[1].as_bytes()
    path = GOLDEN / "flood-and-drought-invite.ja.eml"
    if UPDATE:
        path.write_bytes(data)
    assert path.exists(), f"{path} is missing; run with COORDINATOR_UPDATE_GOLDEN=1"
    assert data == path.read_bytes()
