"""Renderers of the materials messages: outbox rows of kind ``call_for_materials``,
``receipt`` and ``chaser`` → the email, built at delivery from the database as it is then.

Each is in the presenter's language and zone, composed with
:func:`coordinator.invites.texts.compose_message` (text and HTML). ``None`` (dropped) when the
message is no longer wanted:

- a call for materials or a chaser whose session is no longer scheduled, whose deadline changed
  since it was planned (its replacement is another row) or has passed, or whose presenter is no
  longer the presentation's presenter;
- a chaser whose presentation has received something by now;
- a receipt whose submission is gone.

The upload link in a call or a chaser is made again from the stored nonce and the secret key
(:func:`coordinator.services.materials.raw_token`): the same link on every retry.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage

from coordinator import clock
from coordinator.config import get_settings
from coordinator.db import Db
from coordinator.invites.snapshot import Person
from coordinator.invites.texts import (
    BodyBuilder,
    compose_message,
    format_when,
    greeting,
    pick,
    relative_phrase,
)
from coordinator.models import OutboxMessage, Presentation, Session, Submission, UploadToken
from coordinator.outbox import renderer
from coordinator.services import materials
from coordinator.services.snapshots import person_for
from coordinator.submissions import texts, types
from coordinator.submissions.receive import human_size
from coordinator.submissions.texts import format_instant, format_short, language_of, t


def _sender(session: Session) -> Person:
    network = session.group.network
    return Person(name=network.organizer_name, email=network.organizer_email)


def _compose(
    row: OutboxMessage, session: Session, person: Person, language: str, subject: str, b
) -> EmailMessage:
    """The email: from the network's organizer, the greeting, then ``b``'s blocks, with the
    row's Message-ID."""
    return compose_message(
        sender=_sender(session),
        recipient=person,
        subject=subject,
        opening=greeting(person.name, language),
        body=b.build(),
        message_id=row.message_id,
        language=language,
        date=clock.now(),
    )


def _session_name(session: Session, language: str) -> str:
    group = session.group
    return texts.session_name(session.title, session.title_ja, group.name, group.name_ja, language)


def _presentation_line(presentation: Presentation, language: str) -> str:
    city = pick(presentation.city.name, presentation.city.name_ja, language)
    body = pick(presentation.body, presentation.body_ja, language)
    title = pick(presentation.title, presentation.title_ja, language)
    sep = texts.label_sep(language)
    return f"{presentation.position}. {city} — {body}{sep}{title}"


def _accepted(language: str) -> str:
    return t(
        language,
        "accepted",
        types=texts.accepted_types(language),
        limit=human_size(get_settings().max_upload_bytes),
    )


def _planned_still_wanted(db: Db, row: OutboxMessage):
    """(session, presentation, deadline, token) if a call or chaser is still wanted, else
    None."""
    session = db.get(Session, row.session_id) if row.session_id is not None else None
    if session is None or session.status != "scheduled" or session.start_utc is None:
        return None
    presentation = db.get(Presentation, row.payload["presentation_id"])
    if presentation is None or presentation.session_id != session.id:
        return None
    deadline = materials.materials_deadline(session)
    if deadline is None or deadline != datetime.fromisoformat(row.payload["deadline"]):
        return None
    if clock.now() >= deadline:
        return None
    delegate = row.delegate
    if delegate is None or presentation.presenter_id != delegate.id:
        return None
    token = db.get(UploadToken, row.payload["token_id"])
    if token is None or token.revoked_at is not None:
        return None
    return session, presentation, deadline, token


def _link_blocks(
    b: BodyBuilder, session, presentation, deadline, token, person: Person, language: str
):
    b.field(t(language, "label.presentation"), _presentation_line(presentation, language))
    when = format_when(session.start_utc, session.end_utc, person.zone, language)
    b.field(t(language, "label.when"), when)
    b.field(t(language, "label.deadline"), format_instant(deadline, person.zone, language))
    b.link(t(language, "label.upload"), materials.upload_url(materials.raw_token(token)))
    b.field(t(language, "label.accepted"), _accepted(language))
    b.paragraph(t(language, "note.replace"))
    b.paragraph(t(language, "note.personal"))


@renderer(materials.CALL)
def render_call(db: Db, row: OutboxMessage) -> EmailMessage | None:
    wanted = _planned_still_wanted(db, row)
    if wanted is None:
        return None
    session, presentation, deadline, token = wanted
    person = person_for(row.delegate)
    language = language_of(person.language)
    name = _session_name(session, language)
    kind = "call_update" if row.payload.get("update") else "call"
    subject = t(
        language,
        f"subject.{kind}",
        session=name,
        deadline=format_short(deadline, person.zone, language),
    )
    b = BodyBuilder(language)
    b.paragraph(
        t(
            language,
            f"lead.{kind}",
            session=name,
            deadline=format_instant(deadline, person.zone, language),
        )
    )
    _link_blocks(b, session, presentation, deadline, token, person, language)
    return _compose(row, session, person, language, subject, b)


@renderer(materials.CHASER)
def render_chaser(db: Db, row: OutboxMessage) -> EmailMessage | None:
    wanted = _planned_still_wanted(db, row)
    if wanted is None:
        return None
    session, presentation, deadline, token = wanted
    if materials.has_submission(db, presentation.id):
        return None
    person = person_for(row.delegate)
    language = language_of(person.language)
    name = _session_name(session, language)
    relative = relative_phrase(deadline - clock.now(), language)
    if "offset_seconds" in row.payload:
        relative = relative_phrase(timedelta(seconds=row.payload["offset_seconds"]), language)
    b = BodyBuilder(language)
    b.paragraph(
        t(
            language,
            "lead.chaser",
            session=name,
            relative=relative,
            deadline=format_instant(deadline, person.zone, language),
        )
    )
    _link_blocks(b, session, presentation, deadline, token, person, language)
    return _compose(
        row,
        session,
        person,
        language,
        t(language, "subject.chaser", session=name, relative=relative),
        b,
    )


@renderer(materials.RECEIPT)
def render_receipt(db: Db, row: OutboxMessage) -> EmailMessage | None:
    submission = db.get(Submission, row.payload["submission_id"])
    if submission is None or row.delegate is None:
        return None
    presentation = submission.presentation
    session = presentation.session
    person = person_for(row.delegate)
    language = language_of(person.language)
    name = _session_name(session, language)
    file_type = types.by_code(submission.file_type)
    b = BodyBuilder(language)
    b.paragraph(t(language, "lead.receipt", session=name))
    b.field(t(language, "label.presentation"), _presentation_line(presentation, language))
    b.field(t(language, "label.file"), f"{submission.original_filename} ({file_type.label})")
    b.field(t(language, "label.size"), f"{human_size(submission.size)} ({submission.size} bytes)")
    b.field(t(language, "label.sha256"), submission.sha256)
    b.field(t(language, "label.version"), str(submission.version))
    b.field(
        t(language, "label.received"), format_instant(submission.uploaded_at, person.zone, language)
    )
    if submission.late:
        b.paragraph(t(language, "note.late"))
    deadline = materials.materials_deadline(session)
    if deadline is not None and session.status == "scheduled":
        b.field(t(language, "label.deadline"), format_instant(deadline, person.zone, language))
        b.paragraph(t(language, "note.replace"))
    subject = t(
        language,
        "subject.receipt",
        filename=submission.original_filename,
        version=submission.version,
        session=name,
    )
    return _compose(row, session, person, language, subject, b)
