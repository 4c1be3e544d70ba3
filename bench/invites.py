"""Benchmark: complete iMIP invitations (``as_bytes()``) for 10,000 delegates of one session.

    .venv/bin/python bench/invites.py [--recipients N] [--baseline N] [--attendees N]

The session is the Flood and Drought kickoff of tests/golden/flood-and-drought.json (7 agenda
items, 47 cities) with ``--attendees`` ATTENDEE lines; the recipients mix English and Japanese
readers over ~30 zones.

* fast: ``coordinator.invites.build_message(...).as_bytes()`` per recipient — the calendar for
  (session, sequence, method, language) is built once, subject and body once per
  (language, zone); per recipient only greeting, To, Date and Message-ID are new.
* baseline, the straightforward way: per recipient a new icalendar ``Calendar`` with DTSTART/DTEND
  in the recipient's zone (TZID), ``add_missing_timezones()``, ``to_ical()``, the body rendered
  afresh, and the same message wrapping (``compose_message``) and ``as_bytes()``. It runs on the
  first ``--baseline`` recipients only (it is slow) and its rate is per message.

Rates are messages per CPU second of this single-threaded process (one core; wall time is printed
too). Prints both rates and, as the last line, ``speedup: N.Nx`` (fast rate / baseline rate).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import gc
import json
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from icalendar import Alarm, Calendar, Event, vCalAddress, vText  # noqa: E402

from coordinator import timezones  # noqa: E402
from coordinator.invites import imip, texts  # noqa: E402
from coordinator.invites.snapshot import Attendee, Person, snapshot_from_dict  # noqa: E402

FIXTURE = ROOT / "tests" / "golden" / "flood-and-drought.json"
GIVEN = ["Hana", "Ken", "Anouk", "Mei-hua", "Siti", "Wanjiru", "Aminath", "Tom", "Chris", "Lea"]
FAMILY = ["Yamada", "Sato", "de Vries", "Lin", "Rahmawati", "Kamau", "Shareef", "Hughes", "Miller"]
GIVEN_JA = ["花子", "健", "美咲", "大輔", "陽菜"]
FAMILY_JA = ["山田", "佐藤", "鈴木", "高橋", "田中"]


def make_recipients(places, n: int) -> list[Person]:
    zones = list(dict.fromkeys(p.zone for p in places))[:30]
    cities = {p.zone: p for p in reversed(places)}
    people = []
    for i in range(n):
        zone = zones[i % len(zones)]
        place = cities[zone]
        if i % 3 == 0:
            name = f"{FAMILY_JA[i % 5]} {GIVEN_JA[(i // 5) % 5]}"
            language = "ja"
        else:
            name = f"{GIVEN[i % 10]} {FAMILY[(i // 10) % 9]}"
            language = "en"
        people.append(
            Person(
                name=name,
                email=f"delegate{i}@example.org",
                language=language,
                zone=zone,
                city=place.city,
                city_ja=place.city_ja,
            )
        )
    return people


class Sink:
    """Counts the messages (as a mail queue would take them) and keeps the first and last."""

    def __init__(self) -> None:
        self.count = 0
        self.octets = 0
        self.first: bytes | None = None
        self.last = b""

    def add(self, data: bytes) -> None:
        if self.first is None:
            self.first = data
        self.last = data
        self.count += 1
        self.octets += len(data)


def fast(s, recipients) -> Sink:
    sink = Sink()
    for i, r in enumerate(recipients):
        message = imip.build_message(
            s, r, kind="invite", message_id=f"<invite-{i}.{s.sequence}@coordinator.example.org>"
        )
        sink.add(message.as_bytes())
    return sink


def _address(person: Person, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["CN"] = vText(person.name)
    for key, value in params.items():
        address.params[key.upper()] = value
    return address


def naive_calendar(s, recipient: Person, language: str) -> bytes:
    """What one would write first: a calendar per recipient, in the recipient's zone."""
    cal = Calendar()
    cal.add("prodid", "-//Coordinator//naive//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "REQUEST")
    event = Event()
    event.add("uid", s.uid)
    event.add("sequence", s.sequence)
    event.add("dtstamp", s.dtstamp)
    event.add("dtstart", timezones.to_local(s.start_utc, recipient.zone))
    event.add("dtend", timezones.to_local(s.end_utc, recipient.zone))
    event.add("summary", texts.session_title(s, language))
    lines = texts.agenda_lines(s, language) + texts.place_time_lines(s, language)
    event.add("description", "\n".join(lines))
    event.add("location", s.meeting_url)
    event.add("url", s.meeting_url)
    event.add("organizer", _address(s.organizer))
    for a in s.attendees:
        event.add(
            "attendee",
            _address(
                a.person, role=a.role, partstat="NEEDS-ACTION", rsvp="TRUE", cutype="INDIVIDUAL"
            ),
        )
    event.add("status", "CONFIRMED")
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", texts.session_title(s, language))
    alarm.add("trigger", timedelta(minutes=-s.alarm_minutes))
    event.add_component(alarm)
    cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()


def baseline(s, recipients) -> Sink:
    sink = Sink()
    for i, r in enumerate(recipients):
        language = texts.language_of(r.language)
        calendar = naive_calendar(s, r, language)
        title = texts.session_title(s, language)
        lead = texts.BodyBuilder(language).paragraph(
            texts.t(language, "lead.invite", session=texts.session_label(s, language))
        )
        body = (
            texts.greeting(r.name, language)
            + lead.build()
            + texts.session_details(s, language, r.zone)
            + texts.BodyBuilder(language).paragraph(texts.t(language, "footer.invite")).build()
        )
        message = texts.compose_message(
            sender=s.organizer,
            recipient=r,
            subject=texts.t(language, "subject.invite", title=title),
            body=body,
            message_id=f"<naive-{i}.{s.sequence}@coordinator.example.org>",
            language=language,
            calendar=calendar,
        )
        sink.add(message.as_bytes())
    return sink


def timed(fn, *args) -> tuple[float, float, Sink]:
    """(CPU seconds of this single-threaded process, wall seconds, result). Rates use CPU time:
    "messages per second on one core", unaffected by other processes on a busy machine."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn(*args)
    return time.process_time() - cpu, time.perf_counter() - wall, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=300, help="recipients for the baseline")
    parser.add_argument("--attendees", type=int, default=150, help="ATTENDEE lines in the invite")
    args = parser.parse_args()

    s = snapshot_from_dict(json.loads(FIXTURE.read_text("utf-8")))
    recipients = make_recipients(s.places, args.recipients)
    attendees = tuple(Attendee(p) for p in recipients[: args.attendees])
    s = replace(s, attendees=attendees)
    zones = len({r.zone for r in recipients})
    ja = sum(r.language == "ja" for r in recipients)
    print(
        f"session: {len(s.agenda)} agenda items, {len(s.places)} places, "
        f"{len(s.attendees)} attendees; recipients: {len(recipients)} "
        f"({ja} ja, {len(recipients) - ja} en) in {zones} zones"
    )

    fast_seconds, fast_wall, fast_out = timed(fast, s, recipients)
    fast_rate = fast_out.count / fast_seconds
    print(
        f"fast:     {fast_out.count} messages in {fast_seconds:.2f} s CPU ({fast_wall:.2f} s wall)"
        f" = {fast_rate:,.0f} messages/s (average {fast_out.octets / fast_out.count / 1024:.1f} KiB)"
    )

    sample = recipients[: args.baseline]
    base_seconds, base_wall, base_out = timed(baseline, s, sample)
    base_rate = base_out.count / base_seconds
    print(
        f"baseline: {base_out.count} messages in {base_seconds:.2f} s CPU ({base_wall:.2f} s wall)"
        f" = {base_rate:,.1f} messages/s (average {base_out.octets / base_out.count / 1024:.1f} KiB;"
        " a calendar per recipient with TZID + add_missing_timezones)"
    )

    # Both must be valid iMIP messages.
    for data in (fast_out.first, fast_out.last, base_out.first):
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert message.get_content_type() == "multipart/mixed", message.get_content_type()
        assert any(p.get_content_type() == "text/calendar" for p in message.walk())

    print(f"speedup: {fast_rate / base_rate:.1f}x")


if __name__ == "__main__":
    main()
