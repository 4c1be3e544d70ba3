"""Invitations: what a session's attendees are told when it is published, moved or cancelled,
what they answer, and the calendars they can subscribe to.

Use cases, one transaction each (``unit_of_work``):

* :func:`publish_session` — one ``invite`` outbox row per recipient (METHOD:REQUEST);
* :func:`reschedule_session` — a change of start, duration or meeting link on a published
  session bumps SEQUENCE and writes one ``update`` row per recipient (METHOD:REQUEST, same UID);
  a change that does not matter to attendees (the note) bumps nothing and sends nothing;
* :func:`cancel_session` — SEQUENCE + 1, status ``cancelled``, one ``cancel`` row per recipient
  (METHOD:CANCEL, STATUS:CANCELLED), pending reminders and invitations dropped;
* :func:`import_replies` — attendees' iTIP REPLYs (an .ics or an .eml) recorded as
  :class:`~coordinator.models.Attendance`, all or nothing per file;
* :func:`session_feed`, :func:`delegate_feed`, :func:`group_feed`, :func:`city_feed` —
  METHOD:PUBLISH calendars (cancelled sessions stay, marked STATUS:CANCELLED);
* :func:`session_details` — a session as ``coordinator sessions show`` prints it;
* :func:`export_outbox` — outbox rows written as ``.eml`` files (nothing is marked sent).

Rules
-----
*Who.* The recipients of every session message are
:func:`~coordinator.services.recipients.session_recipients` (the reminders use the same rule),
except the organizer's own address, which sends the invitations. A delegate whose address cannot
be used is named in the result and skipped; the others still get their message, and the
calendar's ATTENDEE list leaves the skipped delegate out.

*Idempotency.* A row's key is ``request:<UID>:<SEQUENCE>:<address>`` for an invite or update and
``cancel:<UID>:<SEQUENCE>:<address>`` for a cancellation: retrying an action (or publishing again
after a reschedule) writes nothing twice; the Message-ID follows from the key.

*Stale rows.* The transaction that bumps SEQUENCE also drops the session's pending ``invite`` and
``update`` rows and writes the rows of the new SEQUENCE. A row that a worker had claimed just
before and renders afterwards finds the session at a newer SEQUENCE (or cancelled): the renderer
returns ``None`` and delivery drops it, because the row of the current SEQUENCE, a complete
REQUEST or CANCEL, says everything. Nothing is ever rendered at a SEQUENCE other than its own.

*Rendering.* Renderers build the email at delivery from the session as it is then (a note fixed
after publishing shows) with the DTSTAMP of the action that wrote the row. A batch of one
action's rows shares one snapshot (cached per database session), so the calendar is built once
per (session, SEQUENCE, METHOD, language) and reused for every recipient.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage
from hashlib import sha256
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from coordinator import clock, timezones
from coordinator.db import Db, unit_of_work
from coordinator.errors import NotFound, UserError
from coordinator.invites import InviteParseError, SessionSnapshot, build_feed, parse_reply
from coordinator.invites.imip import build_message
from coordinator.invites.texts import place_time_line
from coordinator.models import (
    Attendance,
    City,
    Delegate,
    GroupMembership,
    OutboxMessage,
    Session,
    WorkingGroup,
)
from coordinator.outbox import add_message, drop_pending, render, renderer
from coordinator.reminders import drop_reminders, plan_reminders
from coordinator.services.planning import check_start, get_group, get_session
from coordinator.services.recipients import session_recipients
from coordinator.services.snapshots import person_for, session_snapshot

INVITATION_KINDS = ("invite", "update", "cancel")
REQUEST_KINDS = ("invite", "update")
ANSWERS = ("ACCEPTED", "TENTATIVE", "DECLINED", "NEEDS-ACTION")

_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Skipped:
    """A recipient left out: who, and why."""

    name: str
    email: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>: {self.reason}"


@dataclass
class SendReport:
    """What an action wrote: rows created (``written``), rows that already existed from an
    earlier attempt (``existing``), recipients skipped, pending messages it superseded."""

    session_id: int
    title: str
    sequence: int
    kind: str | None
    written: int = 0
    existing: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    dropped: int = 0
    changes: list[str] = field(default_factory=list)
    already: bool = False

    @property
    def sent_nothing(self) -> bool:
        return self.written == 0


# --- addresses and keys ------------------------------------------------------------------------


def unusable_address(delegate: Delegate) -> str | None:
    """Why a delegate cannot be written to, or ``None`` when the address can be used."""
    email = (delegate.email or "").strip()
    if not email.isascii() or not _ADDRESS.fullmatch(email):
        return f"{email!r} is not a usable email address"
    try:
        person_for(delegate)
    except ValueError as exc:
        return str(exc)
    return None


def invited_delegates(session: Session) -> list[Delegate]:
    """The delegates who are sent ``session``'s invitations (see :func:`_addressable`)."""
    return _addressable(session)[0]


def _addressable(session: Session) -> tuple[list[Delegate], list[Skipped]]:
    """The recipients an invitation message goes to, and those skipped for their address. The
    organizer's own address gets none: it sends them (a REQUEST to its own ORGANIZER is shown by
    Outlook and Gmail as "you are the organizer", not as an invitation)."""
    organizer = session.group.network.organizer_email.strip().casefold()
    usable: list[Delegate] = []
    skipped: list[Skipped] = []
    for delegate in session_recipients(session):
        if delegate.email.strip().casefold() == organizer:
            continue
        reason = unusable_address(delegate)
        if reason is None:
            usable.append(delegate)
        else:
            skipped.append(Skipped(delegate.name, delegate.email, reason))
    return usable, skipped


def message_key(kind: str, uid: str, sequence: int, address: str) -> str:
    """The idempotency key of one recipient's invitation message (see the module doc)."""
    family = "cancel" if kind == "cancel" else "request"
    key = f"{family}:{uid}:{sequence}:{address.strip().casefold()}"
    if len(key) <= 200:
        return key
    return f"{family}:{sha256(key.encode('utf-8')).hexdigest()}"


def _stamp() -> datetime:
    return clock.now().replace(microsecond=0)


def _write_rows(db: Db, session: Session, kind: str, report: SendReport) -> None:
    """One ``kind`` row per usable recipient at the session's current SEQUENCE, due now."""
    recipients, skipped = _addressable(session)
    report.skipped = skipped
    now = _stamp()
    for delegate in recipients:
        _, created = add_message(
            db,
            kind=kind,
            key=message_key(kind, session.uid, session.sequence, delegate.email),
            recipient=delegate.email,
            due_at=now,
            session_id=session.id,
            delegate_id=delegate.id,
            payload={"sequence": session.sequence, "dtstamp": now.isoformat()},
        )
        if created:
            report.written += 1
        else:
            report.existing += 1
    db.flush()


def _drop_pending_requests(db: Db, session: Session) -> int:
    """Drop the session's not-yet-sent invites and updates (superseded by a newer SEQUENCE)."""
    db.flush()
    count = drop_pending(db, session_id=session.id, kinds=REQUEST_KINDS)
    # The bulk update bypassed the identity map: reload the rows of this session it holds.
    for obj in list(db.identity_map.values()):
        if (
            isinstance(obj, OutboxMessage)
            and obj.kind in REQUEST_KINDS
            and obj.session_id == session.id
        ):
            db.expire(obj)
    return count


def _when(instant: datetime) -> str:
    return f"{instant:%Y-%m-%d %H:%M}Z"


def _label(session: Session) -> str:
    return f"session {session.id} {session.title!r}"


# --- publish -------------------------------------------------------------------------------------


def publish_session(db: Db, session_id: int) -> SendReport:
    """Send the invitations: one ``invite`` row per recipient, ``published_at`` set.

    Refused (:class:`UserError`, nothing written) for a session without a start, cancelled,
    starting in the past (by :func:`coordinator.clock.now`) or without any attendee who can be
    written to. Publishing again is a retry: it writes only what is missing (e.g. for a delegate
    added since), at the current SEQUENCE.
    """
    with unit_of_work(db):
        session = get_session(db, session_id)
        if session.status == "cancelled":
            raise UserError(f"{_label(session)} is cancelled; it cannot be published")
        if session.start_utc is None or session.status != "scheduled":
            raise UserError(
                f"{_label(session)} has no start: schedule it first "
                f"(coordinator sessions schedule {session.id} --at …)"
            )
        now = clock.now()
        if session.start_utc <= now:
            raise UserError(
                f"{_label(session)} starts {_when(session.start_utc)}, which is in the past "
                f"(now {_when(now)}); reschedule it before publishing"
            )
        recipients, skipped = _addressable(session)
        if not recipients:
            who = f" (skipped: {'; '.join(map(str, skipped))})" if skipped else ""
            raise UserError(
                f"{_label(session)} has no attendees: no delegate of the cities of working group "
                f"{session.group.name!r} has a usable email address{who}"
            )
        already = session.is_published
        if not already:
            session.published_at = now.replace(microsecond=0)
        report = SendReport(session.id, session.title, session.sequence, "invite", already=already)
        # A retry after a reschedule finds the updates of the current SEQUENCE under the same
        # keys; only a recipient with no message of this SEQUENCE yet gets an invitation.
        _write_rows(db, session, "invite", report)
        plan_reminders(db, session)
        return report


# --- reschedule ------------------------------------------------------------------------------------


def _effective_link(session: Session) -> str | None:
    return session.meeting_url or session.group.network.meeting_url


def reschedule_session(
    db: Db,
    session_id: int,
    *,
    start: datetime | None = None,
    duration: int | None = None,
    meeting_url: str | None = None,
    note: str | None = None,
) -> SendReport:
    """Change a session's start, duration, meeting link (``""`` = the network's) or note.

    On a published session a change of start, duration or effective link matters to attendees:
    SEQUENCE + 1, the pending invites and updates of the older SEQUENCE dropped, one ``update``
    row per recipient, reminders re-planned for the new start. A new note alone is shown from
    then on (messages render the session as it is at delivery) but bumps nothing and sends
    nothing. Giving the values the session already has changes nothing (a retry).

    On an unpublished session the fields are just changed (a start schedules it, as
    ``schedule_session`` does); nothing is sent.
    """
    with unit_of_work(db):
        session = get_session(db, session_id)
        if session.status == "cancelled":
            raise UserError(f"{_label(session)} is cancelled; it cannot be changed")
        if duration is not None and not 0 < duration <= 24 * 60:
            raise UserError(f"--duration: {duration} minutes is not between 1 and 1440")
        if meeting_url is not None:
            meeting_url = meeting_url.strip()
            if meeting_url and not _URL.fullmatch(meeting_url):
                raise UserError(f"--link: {meeting_url!r} is not an http(s):// address")
        if start is not None and start.tzinfo is None:
            raise UserError("--at: give a UTC instant or an offset, e.g. 2023-10-03T11:00Z")
        new_start = start if start is not None else session.start_utc
        new_duration = duration if duration is not None else session.duration_minutes
        if start is not None or (duration is not None and new_start is not None):
            check_start(session, new_start, new_duration)

        network_link = session.group.network.meeting_url
        new_link = (meeting_url or None) if meeting_url is not None else session.meeting_url
        changes: list[str] = []
        if start is not None and start != session.start_utc:
            old = _when(session.start_utc) if session.start_utc else "unscheduled"
            changes.append(f"start {old} → {_when(start)}")
        if duration is not None and duration != session.duration_minutes:
            changes.append(f"duration {session.duration_minutes} → {duration} min")
        if (new_link or network_link) != _effective_link(session):
            changes.append(f"link → {new_link or network_link or 'none'}")
        material = bool(changes)
        if note is not None and (note or None) != session.note:
            changes.append("note changed")

        if session.is_published and material:
            now = clock.now()
            if start is not None and start != session.start_utc and start <= now:
                raise UserError(f"--at: {_when(start)} is in the past (now {_when(now)})")
            if session.end_utc is not None and session.end_utc <= now:
                raise UserError(f"{_label(session)} took place already; it cannot be moved")

        if start is not None:
            session.start_utc = start
            session.status = "scheduled"
        if duration is not None:
            session.duration_minutes = duration
        if meeting_url is not None:
            session.meeting_url = new_link
        if note is not None:
            session.note = note or None

        report = SendReport(session.id, session.title, session.sequence, None, changes=changes)
        if session.is_published and material:
            session.sequence += 1
            report.sequence = session.sequence
            report.kind = "update"
            report.dropped = _drop_pending_requests(db, session)
            _write_rows(db, session, "update", report)
        if material or start is not None:
            from coordinator.services.materials import plan_materials

            plan_reminders(db, session)  # (re)plans for the current start; idempotent
            plan_materials(db, session)  # calls for materials and chasers: the new deadline
        db.flush()
        return report


# --- cancel ----------------------------------------------------------------------------------------


def cancel_session(db: Db, session_id: int) -> SendReport:
    """Cancel a session: status ``cancelled``, pending reminders dropped; if it was published,
    SEQUENCE + 1, its pending invites and updates dropped and one ``cancel`` row per recipient.
    Cancelling a cancelled session again changes nothing (``already``)."""
    with unit_of_work(db):
        session = get_session(db, session_id)
        report = SendReport(session.id, session.title, session.sequence, None)
        if session.status == "cancelled":
            report.already = True
            return report
        now = clock.now()
        if session.is_published and session.end_utc is not None and session.end_utc <= now:
            raise UserError(f"{_label(session)} took place already; it cannot be cancelled")
        session.status = "cancelled"
        report.dropped = drop_reminders(db, session)
        from coordinator.services.materials import plan_materials

        plan_materials(db, session)  # no call for materials, chaser or pack for it any more
        if session.is_published:
            session.sequence += 1
            report.sequence = session.sequence
            report.kind = "cancel"
            report.dropped += _drop_pending_requests(db, session)
            _write_rows(db, session, "cancel", report)
        db.flush()
        return report


# --- renderers -------------------------------------------------------------------------------------

_SNAPSHOTS = "coordinator.invitations.snapshots"


def invitation_snapshot(db: Db, session: Session, dtstamp: datetime) -> SessionSnapshot:
    """The session as its invitations show it (attendees: the usable recipients), one object per
    state and DTSTAMP per database session, so that a batch builds each calendar once."""
    cache = db.info.setdefault(_SNAPSHOTS, {})
    key = (
        session.id,
        session.sequence,
        session.status,
        session.start_utc,
        session.duration_minutes,
        session.meeting_url,
        session.note,
        session.title,
        session.title_ja,
        dtstamp,
    )
    snapshot = cache.get(key)
    if snapshot is None:
        snapshot = session_snapshot(session, dtstamp=dtstamp)
        usable, _ = _addressable(session)
        wanted = {d.email.strip().casefold() for d in usable}
        attendees = tuple(
            a for a in snapshot.attendees if a.person.email.strip().casefold() in wanted
        )
        if attendees != snapshot.attendees:
            snapshot = replace(snapshot, attendees=attendees)
        cache[key] = snapshot
    return snapshot


@renderer("invite")
@renderer("update")
@renderer("cancel")
def render_invitation(db: Db, row: OutboxMessage) -> EmailMessage | None:
    """The invitation, update or cancellation of ``row``, as of now; ``None`` when superseded
    (the session is at another SEQUENCE, or cancelled for a REQUEST) or its delegate is gone."""
    session = db.get(Session, row.session_id) if row.session_id is not None else None
    if session is None or session.start_utc is None or not session.is_published:
        return None
    if int(row.payload.get("sequence", -1)) != session.sequence:
        return None
    wanted_status = "cancelled" if row.kind == "cancel" else "scheduled"
    if session.status != wanted_status:
        return None
    delegate = row.delegate
    if delegate is None:
        return None
    stamp = row.payload.get("dtstamp")
    dtstamp = datetime.fromisoformat(stamp) if stamp else session.published_at
    recipient = replace(person_for(delegate), email=row.recipient)
    return build_message(
        invitation_snapshot(db, session, dtstamp),
        recipient,
        kind=row.kind,
        message_id=row.message_id,
        date=clock.now(),
    )


# --- replies -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedReply:
    session_id: int
    session_title: str
    name: str
    email: str
    partstat: str
    previous: str | None


@dataclass
class ReplyImport:
    source: str
    recorded: list[RecordedReply] = field(default_factory=list)
    unchanged: int = 0


def import_replies(db: Db, path: str | Path) -> ReplyImport:
    """Record the answers of an iTIP REPLY given as an ``.ics`` or an ``.eml``.

    All or nothing: a reply for an unknown UID, an unpublished or cancelled session, someone who
    is not among the session's recipients, a SEQUENCE other than the session's current one (an
    answer to an outdated version), or one older than the answer already recorded refuses the
    whole file with a :class:`UserError` naming the problem, and nothing is recorded.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"FILE: {path} does not exist") from None
    except OSError as exc:
        raise UserError(f"FILE: cannot read {path}: {exc.strerror or exc}") from None
    try:
        replies = parse_reply(data)
    except InviteParseError as exc:
        raise UserError(f"{path.name}: {exc}") from None

    result = ReplyImport(source=str(path))
    with unit_of_work(db):
        problems: list[str] = []
        planned: dict[tuple[int, int], tuple[Session, Delegate, str, int, datetime]] = {}
        now = clock.now().replace(microsecond=0)
        for reply in replies:
            session = db.scalar(select(Session).where(Session.uid == reply.uid))
            if session is None:
                problems.append(f"UID {reply.uid!r}: no session has this UID")
                continue
            if not session.is_published:
                problems.append(f"{_label(session)} has not been published")
                continue
            if session.status == "cancelled":
                problems.append(f"{_label(session)} is cancelled")
                continue
            if reply.sequence < session.sequence:
                problems.append(
                    f"{reply.attendee_email}: the reply answers SEQUENCE {reply.sequence} of "
                    f"{_label(session)}, which has changed since (SEQUENCE {session.sequence}); "
                    "an answer to an older version is not recorded"
                )
                continue
            if reply.sequence > session.sequence:
                problems.append(
                    f"{reply.attendee_email}: SEQUENCE {reply.sequence} is newer than "
                    f"{_label(session)}'s ({session.sequence})"
                )
                continue
            invited, _ = _addressable(session)
            by_address = {d.email.strip().casefold(): d for d in invited}
            delegate = by_address.get(reply.attendee_email.casefold())
            if delegate is None:
                problems.append(f"{reply.attendee_email} is not an attendee of {_label(session)}")
                continue
            replied_at = reply.dtstamp.replace(microsecond=0) if reply.dtstamp else now
            current = db.scalar(
                select(Attendance).where(
                    Attendance.session_id == session.id, Attendance.delegate_id == delegate.id
                )
            )
            if current is not None and (current.sequence, current.replied_at) > (
                reply.sequence,
                replied_at,
            ):
                problems.append(
                    f"{reply.attendee_email}: this reply ({_when(replied_at)}) is older than the "
                    f"answer recorded for {_label(session)} ({_when(current.replied_at)})"
                )
                continue
            planned[(session.id, delegate.id)] = (
                session,
                delegate,
                reply.partstat,
                reply.sequence,
                replied_at,
            )
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise UserError(
                f"{path.name}: {problems[0]}{more}; nothing was recorded",
                details=problems[1:],
            )
        for session, delegate, partstat, sequence, replied_at in planned.values():
            current = db.scalar(
                select(Attendance).where(
                    Attendance.session_id == session.id, Attendance.delegate_id == delegate.id
                )
            )
            previous = current.partstat if current is not None else None
            if current is None:
                db.add(
                    Attendance(
                        session_id=session.id,
                        delegate_id=delegate.id,
                        partstat=partstat,
                        sequence=sequence,
                        replied_at=replied_at,
                    )
                )
            elif (current.partstat, current.sequence, current.replied_at) == (
                partstat,
                sequence,
                replied_at,
            ):
                result.unchanged += 1
                continue
            else:
                current.partstat = partstat
                current.sequence = sequence
                current.replied_at = replied_at
            result.recorded.append(
                RecordedReply(
                    session.id, session.title, delegate.name, delegate.email, partstat, previous
                )
            )
        db.flush()
    return result


def attendance(db: Db, session: Session) -> dict:
    """Counts per answer and one entry per invited delegate. An answer given to an older SEQUENCE (the
    session changed since) is shown with that SEQUENCE but counts as NEEDS-ACTION: the update
    asked everyone to answer again."""
    answers = {
        a.delegate_id: a
        for a in db.scalars(select(Attendance).where(Attendance.session_id == session.id))
    }
    counts = Counter({answer: 0 for answer in ANSWERS})
    people = []
    invited, _ = _addressable(session)
    for delegate in invited:
        answer = answers.get(delegate.id)
        current = answer is not None and answer.sequence == session.sequence
        partstat = answer.partstat if answer is not None else "NEEDS-ACTION"
        counts[partstat if current else "NEEDS-ACTION"] += 1
        people.append(
            {
                "name": delegate.name,
                "email": delegate.email,
                "city": delegate.city.name,
                "partstat": partstat,
                "sequence": answer.sequence if answer is not None else None,
                "replied_at": answer.replied_at if answer is not None else None,
                "current": current or answer is None,
            }
        )
    return {"counts": dict(counts), "delegates": people}


# --- feeds -------------------------------------------------------------------------------------------


def feed_calendar(sessions: Iterable[Session], name: str, language: str = "en") -> bytes:
    """A METHOD:PUBLISH calendar of the published sessions among ``sessions``."""
    stamp = _stamp()
    snapshots = [
        session_snapshot(s, dtstamp=stamp)
        for s in sessions
        if s.is_published and s.start_utc is not None
    ]
    return build_feed(snapshots, name, language=language)


def _language(language: str) -> str:
    if language not in ("en", "ja"):
        raise UserError(f"--language: {language!r} is not supported (en, ja)")
    return language


def _published(db: Db, *conditions) -> list[Session]:
    query = (
        select(Session)
        .where(Session.published_at.is_not(None), Session.start_utc.is_not(None), *conditions)
        .order_by(Session.start_utc, Session.id)
    )
    return list(db.scalars(query))


def session_feed(db: Db, session_id: int, *, language: str = "en") -> bytes:
    """One published session as a METHOD:PUBLISH calendar (cancelled: STATUS:CANCELLED)."""
    session = get_session(db, session_id)
    if not session.is_published:
        raise UserError(f"--session: {_label(session)} has not been published")
    title = session.title_ja if language == "ja" and session.title_ja else session.title
    return feed_calendar([session], title, _language(language))


def group_feed(db: Db, name: str, *, language: str = "en") -> bytes:
    """Every published session of a working group (by English or Japanese name)."""
    group = get_group(db, name)
    label = group.name_ja if language == "ja" and group.name_ja else group.name
    sessions = _published(db, Session.group_id == group.id)
    return feed_calendar(sessions, f"{group.network.name}: {label}", _language(language))


def _sessions_of_city(db: Db, city_id: int) -> list[Session]:
    groups = select(GroupMembership.group_id).where(GroupMembership.city_id == city_id)
    return _published(db, Session.group_id.in_(groups))


def delegate_feed(db: Db, email: str) -> bytes:
    """The published sessions of every working group the delegate's city belongs to, in the
    delegate's language."""
    wanted = email.strip().casefold()
    delegate = next(
        (d for d in db.scalars(select(Delegate)) if d.email.strip().casefold() == wanted), None
    )
    if delegate is None:
        raise UserError(f"--delegate: no delegate with the address {email!r}")
    network = delegate.city.network
    return feed_calendar(
        _sessions_of_city(db, delegate.city_id),
        f"{network.name}: {delegate.name}",
        delegate.language if delegate.language in ("en", "ja") else "en",
    )


def city_feed(db: Db, city_id: int, *, language: str = "en") -> bytes:
    """The published sessions of every working group a city belongs to."""
    city = db.get(City, city_id)
    if city is None:
        raise NotFound(f"no city with id {city_id}")
    label = city.name_ja if language == "ja" and city.name_ja else city.name
    return feed_calendar(
        _sessions_of_city(db, city.id), f"{city.network.name}: {label}", _language(language)
    )


# --- details -----------------------------------------------------------------------------------------


def session_details(db: Db, session_id: int) -> dict:
    """Everything ``coordinator sessions show`` prints: identity, times (UTC and the local time
    in every city of the group), agenda, attendance, and the session's messages per state."""
    session = get_session(db, session_id)
    group: WorkingGroup = session.group
    local_times = []
    if session.start_utc is not None:
        for membership in group.memberships:
            city = membership.city
            line = place_time_line(city.name, city.zone, session.start_utc, session.end_utc, "en")
            offset = (
                None
                if city.zone == timezones.UNKNOWN_ZONE
                else timezones.format_offset(timezones.utc_offset(session.start_utc, city.zone))
            )
            local_times.append(
                {
                    "city": city.name,
                    "city_ja": city.name_ja,
                    "role": membership.role,
                    "zone": city.zone,
                    "utc_offset": offset,
                    "local": line.split(": ", 1)[1] if ": " in line else line,
                }
            )
    messages: dict[str, Counter] = {}
    for kind, status in db.execute(
        select(OutboxMessage.kind, OutboxMessage.status).where(
            OutboxMessage.session_id == session.id
        )
    ):
        messages.setdefault(kind, Counter())[status] += 1
    return {
        "id": session.id,
        "uid": session.uid,
        "sequence": session.sequence,
        "title": session.title,
        "title_ja": session.title_ja,
        "group": group.name,
        "group_ja": group.name_ja,
        "status": session.status,
        "published_at": session.published_at,
        "start_utc": session.start_utc,
        "end_utc": session.end_utc,
        "duration_minutes": session.duration_minutes,
        "meeting_url": _effective_link(session),
        "note": session.note,
        "agenda": [
            {
                "position": p.position,
                "city": p.city.name,
                "city_ja": p.city.name_ja,
                "body": p.body,
                "body_ja": p.body_ja,
                "title": p.title,
                "title_ja": p.title_ja,
                "presenter": p.presenter.name if p.presenter else None,
            }
            for p in session.presentations
        ],
        "local_times": local_times,
        "attendance": attendance(db, session),
        "messages": {kind: dict(c) for kind, c in sorted(messages.items())},
    }


# --- export ------------------------------------------------------------------------------------------


@dataclass
class ExportReport:
    directory: Path
    files: list[Path] = field(default_factory=list)
    by_kind: Counter = field(default_factory=Counter)
    by_status: Counter = field(default_factory=Counter)
    not_wanted: int = 0

    def sample(self, kind: str | None = None) -> Path | None:
        for path in self.files:
            if kind is None or f"-{kind}-" in path.name:
                return path
        return self.files[0] if self.files else None


_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


def eml_name(row: OutboxMessage) -> str:
    """``000123-invite-tokyo.1@example.org.eml``: sortable, one per row."""
    return f"{row.id:06d}-{row.kind}-{_UNSAFE.sub('_', row.recipient)[:80]}.eml"


def export_outbox(
    db: Db,
    directory: str | Path,
    *,
    statuses: Iterable[str] = ("pending",),
    kinds: Iterable[str] | None = None,
) -> ExportReport:
    """Write each outbox row in ``statuses`` (default: pending) as an ``.eml`` file, rendered
    exactly as delivery would render it now (:func:`coordinator.outbox.render`). Rows that are
    no longer wanted (render gives ``None``) are counted, not written. Nothing in the database
    changes: the rows are not marked sent."""
    target = Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"DIR: cannot create {target}: {exc.strerror or exc}") from None
    if not target.is_dir():
        raise UserError(f"DIR: {target} is not a directory")
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status.in_(list(statuses)))
        .options(selectinload(OutboxMessage.delegate).selectinload(Delegate.city))
        .order_by(OutboxMessage.session_id, OutboxMessage.id)
    )
    if kinds is not None:
        query = query.where(OutboxMessage.kind.in_(list(kinds)))
    report = ExportReport(directory=target)
    for row in db.scalars(query):
        message = render(db, row)
        if message is None:
            report.not_wanted += 1
            continue
        if message["Message-ID"] != row.message_id:
            del message["Message-ID"]
            message["Message-ID"] = row.message_id
        path = target / eml_name(row)
        path.write_bytes(message.as_bytes())
        report.files.append(path)
        report.by_kind[row.kind] += 1
        report.by_status[row.status] += 1
    report.files.sort()
    return report
