"""iCalendar (RFC 5545) scheduling objects (iTIP, RFC 5546) for sessions, and reply parsing.

Time representation
-------------------
Every DTSTART, DTEND and DTSTAMP is written in UTC (``20231003T110000Z``); no TZID and no
VTIMEZONE is ever emitted. Every client converts a UTC time to its viewer's zone, so a delegate
in Sydney and one in Denver both see the session at the right local time, whichever side of a
DST change it falls on. The alternatives have known traps:

* a TZID without its VTIMEZONE is floating (or guessed) time in several clients;
* the VTIMEZONE that icalendar's ``add_missing_timezones()`` writes is a long RDATE list, which
  Outlook mishandles (it wants one STANDARD and one DAYLIGHT rule per zone);
* the session is held in one instant for 47 cities; no single zone is "the" session's zone.

What a TZID would add (a recurring series keeping its wall time across DST) does not apply: each
session is a single instance. Local wall times are shown in text only: DESCRIPTION lists the
session's time in every participating city, computed for that instant in that zone with
:mod:`coordinator.timezones`.

Identity: UID never changes for a session; SEQUENCE is the snapshot's (the service bumps it on
every significant change, including cancellation); DTSTAMP is the snapshot's, so the same
snapshot always yields the same bytes.

Text: icalendar escapes commas, semicolons, backslashes and newlines and folds lines at 75
octets without splitting a UTF-8 character; output is UTF-8 with CRLF line ends.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from icalendar import Alarm, Calendar, Event, vCalAddress, vText

from coordinator.invites import texts
from coordinator.invites.snapshot import Person, Reply, SessionSnapshot

PRODID = "-//Coordinator//Coordinator invites 1.0//EN"
PARTSTATS = ("ACCEPTED", "DECLINED", "TENTATIVE", "NEEDS-ACTION", "DELEGATED")


class InviteParseError(ValueError):
    """A reply that cannot be used; the message says why."""


# --- building ------------------------------------------------------------------------------------


def _calendar(method: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    return cal


def common_name(name: str) -> str:
    """CN parameter text: a parameter value cannot hold a double quote, and RFC 6868's ``^'``
    escape is not understood everywhere (vobject, older Outlook), so ``"`` becomes ``'``."""
    return name.replace('"', "'")


def _address(person: Person, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    if person.name:
        address.params["CN"] = vText(common_name(person.name))
    for key, value in params.items():
        address.params[key.upper()] = value
    return address


def description(s: SessionSnapshot, language: str = "en") -> str:
    """DESCRIPTION: join link, the agenda in order, the local time in every participating city."""
    blocks: list[str] = []
    if s.cancelled:
        blocks.append(texts.t(language, "description.cancelled"))
    sep = texts.t(language, "label.sep")
    if s.meeting_url and not s.cancelled:
        blocks.append(f"{texts.t(language, 'label.join')}{sep}{s.meeting_url}")
    agenda = texts.agenda_lines(s, language)
    if agenda:
        blocks.append("\n".join([texts.t(language, "label.agenda"), *agenda]))
    places = texts.place_time_lines(s, language)
    if places:
        blocks.append("\n".join([texts.t(language, "label.local_times"), *places]))
    if s.note:
        blocks.append(f"{texts.t(language, 'label.note')}{sep}{s.note}")
    return "\n\n".join(blocks)


def _event(
    s: SessionSnapshot, *, language: str, attendees: bool, alarm: bool, cancelled: bool
) -> Event:
    event = Event()
    event.add("uid", s.uid)
    event.add("sequence", s.sequence)
    event.add("dtstamp", s.dtstamp.astimezone(UTC))
    event.add("dtstart", s.start_utc.astimezone(UTC))
    event.add("dtend", s.end_utc.astimezone(UTC))
    event.add("summary", texts.session_title(s, language))
    event.add("description", description(s, language))
    if s.meeting_url:
        event.add("location", s.meeting_url)
        event.add("url", s.meeting_url)
    event.add("organizer", _address(s.organizer))
    if attendees:
        for a in s.attendees:
            event.add(
                "attendee",
                _address(
                    a.person,
                    cutype="INDIVIDUAL",
                    role=a.role,
                    partstat="NEEDS-ACTION",
                    rsvp="TRUE",
                ),
            )
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    if alarm and not cancelled:
        valarm = Alarm()
        valarm.add("action", "DISPLAY")
        valarm.add("description", texts.session_title(s, language))
        valarm.add("trigger", timedelta(minutes=-s.alarm_minutes))
        event.add_component(valarm)
    return event


def build_request(s: SessionSnapshot, *, language: str = "en") -> bytes:
    """METHOD:REQUEST for an invitation or an update (same UID, the snapshot's SEQUENCE)."""
    if s.cancelled:
        raise ValueError(f"session {s.uid} is cancelled: send build_cancel(), not a REQUEST")
    cal = _calendar("REQUEST")
    cal.add_component(_event(s, language=language, attendees=True, alarm=True, cancelled=False))
    return cal.to_ical()


def build_cancel(s: SessionSnapshot, *, language: str = "en") -> bytes:
    """METHOD:CANCEL with STATUS:CANCELLED (same UID; the SEQUENCE as given, already bumped)."""
    cal = _calendar("CANCEL")
    cal.add_component(_event(s, language=language, attendees=True, alarm=False, cancelled=True))
    return cal.to_ical()


def build_feed(snapshots: Iterable[SessionSnapshot], name: str, *, language: str = "en") -> bytes:
    """A subscribable METHOD:PUBLISH calendar: every session, cancelled ones kept with
    STATUS:CANCELLED (a feed that drops an event leaves it in some clients forever)."""
    cal = _calendar("PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("name", name)
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    for s in sorted(snapshots, key=lambda x: (x.start_utc, x.uid)):
        cal.add_component(
            _event(s, language=language, attendees=False, alarm=True, cancelled=s.cancelled)
        )
    return cal.to_ical()


# --- parsing replies -----------------------------------------------------------------------------


def _looks_like_ical(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:15].upper() == b"BEGIN:VCALENDAR"


def _calendar_from_email(data: bytes) -> bytes:
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not message.keys():
        raise InviteParseError("not iCalendar data and not an email (no headers found)")
    candidates = []
    for part in message.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = (part.get_filename() or "").lower()
        if ctype in ("text/calendar", "application/ics") or filename.endswith(".ics"):
            candidates.append(part)
    if not candidates:
        raise InviteParseError("the email has no text/calendar part")
    replies = [
        p for p in candidates if str(p.get_param("method", "", "content-type")).upper() == "REPLY"
    ]
    payload = (replies or candidates)[0].get_payload(decode=True)
    if not payload:
        raise InviteParseError("the email's text/calendar part is empty")
    return payload


def _utc(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def normalize_email(value: str) -> str:
    text = str(value).strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return text.strip().lower()


def parse_reply(data: bytes) -> list[Reply]:
    """The answers in an iTIP REPLY, given as an .ics or as a whole email (.eml).

    Raises :class:`InviteParseError` for anything else: not iCalendar, METHOD other than REPLY,
    no VEVENT, no UID, no ATTENDEE, an unknown PARTSTAT.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, bytes | bytearray) or not data.strip():
        raise InviteParseError("empty input: expected an .ics or an email with a calendar")
    data = bytes(data)
    raw = data if _looks_like_ical(data) else _calendar_from_email(data)
    if not _looks_like_ical(raw):
        raise InviteParseError("not iCalendar data: it does not start with BEGIN:VCALENDAR")
    try:
        cal = Calendar.from_ical(raw)
    except Exception as exc:  # icalendar raises ValueError and friends
        raise InviteParseError(f"not valid iCalendar data: {exc}") from None
    if isinstance(cal, list):
        cal = cal[0]
    method = str(cal.get("method", "")).strip().upper()
    if method != "REPLY":
        shown = method or "missing"
        raise InviteParseError(f"METHOD is {shown}; only REPLY is accepted")
    events = cal.walk("VEVENT")
    if not events:
        raise InviteParseError("the REPLY has no VEVENT")
    replies: list[Reply] = []
    for event in events:
        uid = str(event.get("uid", "")).strip()
        if not uid:
            raise InviteParseError("the REPLY's VEVENT has no UID")
        try:
            sequence = int(event.get("sequence", 0))
        except (TypeError, ValueError):
            raise InviteParseError(f"SEQUENCE is not a number: {event.get('sequence')!r}") from None
        attendees = event.get("attendee")
        if attendees is None:
            raise InviteParseError(f"the REPLY for {uid} has no ATTENDEE")
        if not isinstance(attendees, list):
            attendees = [attendees]
        stamp = None
        if "dtstamp" in event:
            try:
                stamp = _utc(event.decoded("dtstamp"))
            except Exception:
                stamp = None
        for attendee in attendees:
            address = normalize_email(attendee)
            if "@" not in address:
                raise InviteParseError(f"ATTENDEE is not an email address: {str(attendee)!r}")
            params = getattr(attendee, "params", {})
            partstat = str(params.get("PARTSTAT", "NEEDS-ACTION")).strip().upper()
            if partstat not in PARTSTATS:
                raise InviteParseError(
                    f"unknown PARTSTAT {partstat!r} for {address}; expected one of "
                    + ", ".join(PARTSTATS)
                )
            replies.append(Reply(uid, sequence, address, partstat, stamp))
    return replies
