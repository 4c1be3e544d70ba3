"""iMIP (RFC 6047): invitations, updates and cancellations as emails.

Structure of every message (what Gmail, Outlook and Apple Mail all act on)::

    multipart/mixed
      multipart/alternative
        text/plain; charset="utf-8"                       the recipient's language and time
        text/html; charset="utf-8"                        the same, HTML-escaped
        text/calendar; charset="utf-8"; method=REQUEST    the iTIP object (method = its METHOD)
      application/ics; name="invite.ics"                  the same object as an attachment

From and Reply-To are the organizer (Gmail updates an event in place only when ORGANIZER is
the sender), To is the recipient, ``Content-Class: urn:content-classes:calendarmessage`` for
Outlook, Message-ID exactly the one given (a retry is recognisably the same message).

Cost: a batch of one session's messages derives everything that does not depend on the
recipient once — the calendar bytes per (session, sequence, method, language), its base64, the
subject and the body per (language, zone) — so per recipient only the greeting, To, Date and
Message-ID are new.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage

from coordinator.invites import ical, texts
from coordinator.invites.snapshot import Person, SessionSnapshot

KINDS = {"invite": "REQUEST", "update": "REQUEST", "cancel": "CANCEL"}


def method_of(kind: str) -> str:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"kind: unknown {kind!r}, expected one of {sorted(KINDS)}") from None


def build_calendar(s: SessionSnapshot, kind: str, language: str = "en") -> bytes:
    """The calendar an iMIP message of ``kind`` carries (REQUEST or CANCEL)."""
    if method_of(kind) == "CANCEL":
        return ical.build_cancel(s, language=language)
    return ical.build_request(s, language=language)


def _calendar_for(s: SessionSnapshot, kind: str, language: str) -> texts.CalendarPart:
    method = method_of(kind)

    def make() -> texts.CalendarPart:
        return texts.calendar_part(build_calendar(s, kind, language))

    return texts.memo.get(s, ("calendar", method, language), make)


def _texts_for(s: SessionSnapshot, kind: str, language: str, zone: str) -> tuple[str, texts.Body]:
    """(encoded Subject, body after the greeting) for every reader of ``language`` in ``zone``."""

    def make() -> tuple[str, texts.Body]:
        title = texts.session_title(s, language)
        subject = texts.t(language, f"subject.{kind}", title=title)
        lead = texts.BodyBuilder(language)
        lead.paragraph(texts.t(language, f"lead.{kind}", session=texts.session_label(s, language)))
        details = texts.session_details(s, language, zone, join_link=kind != "cancel")
        footer = texts.BodyBuilder(language).paragraph(texts.t(language, f"footer.{kind}"))
        body = lead.build() + details + footer.build()
        return texts.encode_text_header("Subject", subject), body

    return texts.memo.get(s, ("imip", kind, language, zone), make)


def build_message(
    s: SessionSnapshot,
    recipient: Person,
    *,
    kind: str,
    message_id: str,
    ical: bytes | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """One recipient's invitation ("invite"), update ("update") or cancellation ("cancel").

    ``ical`` is the calendar to carry (e.g. the bytes stored with the outbox row); by default it
    is built from ``s`` in the recipient's language (cached for the batch). Its METHOD must be
    the kind's (REQUEST, REQUEST, CANCEL). ``date`` defaults to now.
    """
    method = method_of(kind)
    if method == "REQUEST" and s.cancelled:
        raise ValueError(f"session {s.uid} is cancelled: send kind='cancel'")
    language = texts.language_of(recipient.language)
    if ical is None:
        calendar = _calendar_for(s, kind, language)
    else:
        calendar = texts.calendar_part(ical)
        if calendar.method != method:
            raise ValueError(
                f"ical: METHOD is {calendar.method} but a {kind!r} message needs {method}"
            )
    subject, rest = _texts_for(s, kind, language, recipient.zone)
    return texts.compose_message(
        sender=s.organizer,
        recipient=recipient,
        subject="",
        encoded_subject=subject,
        opening=texts.greeting(recipient.name, language),
        body=rest,
        message_id=message_id,
        language=language,
        calendar=calendar,
        date=date,
    )
