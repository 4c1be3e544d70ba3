"""Presenters' materials: calls for materials, uploads, versions, chasers and session packs.

One function per thing a user (or a worker) does; each writes in one transaction.

- :func:`plan_materials` — inside the transaction that schedules, moves or cancels a session
  (:func:`coordinator.services.planning.schedule_session` calls it): for each presentation with a
  presenter, an upload link (:class:`~coordinator.models.UploadToken`, kept while the presenter
  stays the same), a ``call_for_materials`` outbox row due now, ``chaser`` rows 7 and 2 days
  before the deadline (``COORDINATOR_MATERIALS_CHASERS``) unless something was submitted, and
  the session pack's build at the deadline plus grace. Calling it again for the same deadline
  changes nothing; a new deadline drops what was pending for the old one and plans anew (the
  presenter is told the new deadline); a cancelled session's pending messages are dropped.
- :func:`authorize_upload` → :class:`UploadGrant`, or :class:`UploadRefused` (403 wrong link,
  410 expired / deadline passed / session cancelled).
- :func:`record_submission` — a received, synced file becomes the next version (identical to the
  current version: recognised, no new version), with a ``receipt`` to the presenter; pending
  chasers of the presentation are dropped.
- :func:`build_pack` (on demand) and :func:`dispatch_due_packs` / :func:`build_claimed_pack`
  (the workers, at the deadline).
- :func:`session_materials`, :func:`versions`, :func:`set_late_submissions`, :func:`set_deadline`.

Deadline: the session's ``materials_deadline`` if the organizer set one, else
``COORDINATOR_MATERIALS_DEADLINE_BEFORE`` (48 h) before the start. Uploads are accepted until
the deadline; an upload that started before it may finish within ``COORDINATOR_MATERIALS_GRACE``
(15 minutes); links stop working after that, unless the organizer opened late submissions for
the presentation.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import anyio
from sqlalchemy import Engine, and_, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session as OrmSession

from coordinator import clock, timezones
from coordinator.config import get_settings
from coordinator.db import Db, unit_of_work
from coordinator.errors import NotFound, UserError
from coordinator.models import (
    Delegate,
    OutboxMessage,
    Presentation,
    Session,
    SessionPack,
    Submission,
    UploadToken,
)
from coordinator.outbox import add_message
from coordinator.submissions import packs, tokens
from coordinator.submissions.receive import Received, Rejected, receive
from coordinator.submissions.storage import Storage, get_storage

CALL = "call_for_materials"
RECEIPT = "receipt"
CHASER = "chaser"
PLANNED_KINDS = (CALL, CHASER)
T = TypeVar("T")


class UploadRefused(UserError):
    """An upload link that cannot be used (now): 403 or 410, with the deadline when it
    matters."""

    def __init__(
        self, status: int, code: str, message: str, *, deadline: datetime | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status
        self.code = code
        self.deadline = deadline


# --- deadlines ------------------------------------------------------------------------------------


def materials_deadline(session: Session) -> datetime | None:
    """When the session's materials are due (None while it has no start)."""
    if session.materials_deadline is not None:
        return session.materials_deadline
    if session.start_utc is None:
        return None
    return session.start_utc - get_settings().materials_deadline_before


def describe_instant(instant: datetime, zone: str | None = None) -> str:
    """``2023-09-26 11:00 UTC`` and, for a zone, `` (20:00 UTC+09:00 in Asia/Tokyo)``."""
    text = f"{instant.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if zone and zone not in ("UTC", timezones.UNKNOWN_ZONE):
        local = timezones.to_local(instant, zone)
        offset = timezones.format_offset(timezones.utc_offset(instant, zone))
        text += f" ({local:%Y-%m-%d %H:%M} UTC{offset} in {zone})"
    return text


def presenter_zone(presentation: Presentation) -> str:
    presenter = presentation.presenter
    zone = presenter.effective_zone if presenter is not None else presentation.city.zone
    return "UTC" if not zone or zone == timezones.UNKNOWN_ZONE else zone


# --- upload links -----------------------------------------------------------------------------------


def ensure_token(db: Db, presentation: Presentation, now: datetime | None = None) -> UploadToken:
    """The presentation's active upload link for its presenter (made, or replaced when the
    presenter changed: the old link stops working)."""
    now = now or clock.now()
    active = db.scalar(
        select(UploadToken)
        .where(
            UploadToken.presentation_id == presentation.id,
            UploadToken.purpose == "upload",
            UploadToken.revoked_at.is_(None),
        )
        .order_by(UploadToken.id.desc())
        .limit(1)
    )
    if active is not None and active.delegate_id == presentation.presenter_id:
        return active
    if active is not None:
        active.revoked_at = now
    nonce = tokens.new_nonce()
    raw = tokens.make(presentation.id, "upload", nonce)
    row = UploadToken(
        presentation_id=presentation.id,
        delegate_id=presentation.presenter_id,
        purpose="upload",
        nonce=nonce,
        token_hash=tokens.token_hash(raw),
        created_at=now,
    )
    db.add(row)
    db.flush()
    return row


def raw_token(row: UploadToken) -> str:
    return tokens.make(row.presentation_id, row.purpose, row.nonce)


def upload_url(token: str) -> str:
    return f"{get_settings().base_url.rstrip('/')}/upload/{token}"


def upload_link(db: Db, presentation_id: int) -> str:
    """The presenter's current upload link (for the organizer to pass on), made if needed."""
    with unit_of_work(db):
        presentation = get_presentation(db, presentation_id)
        if presentation.presenter is None:
            raise UserError(f"presentation {presentation_id} has no presenter")
        return upload_url(raw_token(ensure_token(db, presentation)))


# --- planning --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaterialsPlan:
    calls: int  # calls for materials added (or revived) for the current deadline
    chasers: int  # chasers added (or revived)
    kept: int  # messages already planned (or sent) for the current deadline
    skipped: int  # presentations without a presenter, or whose deadline has passed
    dropped: int  # pending messages of an earlier deadline, or of a cancelled session
    deadline: datetime | None = None


def _revive(row: OutboxMessage, due: datetime, payload: dict) -> None:
    row.status = "pending"
    row.due_at = due
    row.payload = payload
    row.attempts = 0
    row.last_error = None
    row.lease_until = None
    row.claimed_by = None


def _stamp(instant: datetime) -> str:
    return f"{instant.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def call_key(presentation_id: int, delegate_id: int, deadline: datetime) -> str:
    return f"materials:call:{presentation_id}:{delegate_id}:{_stamp(deadline)}"


def chaser_key(presentation_id: int, delegate_id: int, offset: timedelta, deadline: datetime):
    seconds = int(offset.total_seconds())
    return f"materials:chaser:{presentation_id}:{delegate_id}:{seconds}s:{_stamp(deadline)}"


def has_submission(db: Db, presentation_id: int) -> bool:
    query = select(Submission.id).where(Submission.presentation_id == presentation_id).limit(1)
    return db.scalar(query) is not None


def _sent_call_before(db: Db, presentation_id: int, key: str) -> bool:
    return (
        db.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.kind == CALL,
                OutboxMessage.status == "sent",
                OutboxMessage.idempotency_key.like(f"materials:call:{presentation_id}:%"),
                OutboxMessage.idempotency_key != key,
            )
            .limit(1)
        )
        is not None
    )


def _wanted(db: Db, session: Session, deadline: datetime, now: datetime):
    """``{key: (kind, presenter, due, payload)}`` for the current deadline, and how many
    presentations were skipped."""
    wanted: dict[str, tuple[str, Delegate, datetime, dict]] = {}
    skipped = 0
    for presentation in session.presentations:
        presenter = presentation.presenter
        if presenter is None or deadline <= now:
            skipped += 1
            continue
        token = ensure_token(db, presentation, now)
        payload = {
            "presentation_id": presentation.id,
            "token_id": token.id,
            "deadline": deadline.isoformat(),
        }
        key = call_key(presentation.id, presenter.id, deadline)
        call_payload = (
            {**payload, "update": True} if _sent_call_before(db, presentation.id, key) else payload
        )
        wanted[key] = (CALL, presenter, now, call_payload)
        if has_submission(db, presentation.id):
            continue
        for offset in get_settings().materials_chasers:
            due = deadline - offset
            if due > now:
                key = chaser_key(presentation.id, presenter.id, offset, deadline)
                chaser_payload = {**payload, "offset_seconds": int(offset.total_seconds())}
                wanted[key] = (CHASER, presenter, due, chaser_payload)
    return wanted, skipped


def plan_materials(db: Db, session: Session, *, now: datetime | None = None) -> MaterialsPlan:
    """(Re)plan ``session``'s calls for materials, chasers and pack (see the module doc), in
    the caller's transaction. Pending messages that are still wanted are left alone."""
    now = now or clock.now()
    db.flush()
    deadline = materials_deadline(session)
    if session.status != "scheduled" or deadline is None:
        wanted, skipped = {}, 0
    else:
        wanted, skipped = _wanted(db, session, deadline, now)
    dropped = 0
    for row in db.scalars(
        select(OutboxMessage).where(
            OutboxMessage.session_id == session.id,
            OutboxMessage.kind.in_(PLANNED_KINDS),
            OutboxMessage.status == "pending",
        )
    ):
        if row.idempotency_key not in wanted:
            row.status = "dropped"
            dropped += 1
    calls = chasers = kept = 0
    for key, (kind, presenter, due, payload) in wanted.items():
        existing = db.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
        if existing is not None and existing.status != "dropped":
            kept += 1  # already planned (or sent) for this deadline
            continue
        if existing is not None:
            _revive(existing, due, payload)  # the same message again, same Message-ID
        else:
            add_message(
                db,
                kind=kind,
                key=key,
                recipient=presenter.email,
                due_at=due,
                session_id=session.id,
                delegate_id=presenter.id,
                payload=payload,
            )
        if kind == CALL:
            calls += 1
        else:
            chasers += 1
    _plan_pack(
        db,
        session,
        None
        if deadline is None or session.status != "scheduled"
        else deadline + get_settings().materials_grace,
    )
    db.flush()
    return MaterialsPlan(calls, chasers, kept, skipped, dropped, deadline)


def _plan_pack(db: Db, session: Session, due: datetime | None) -> None:
    pack = db.scalar(select(SessionPack).where(SessionPack.session_id == session.id))
    if due is None:
        if pack is not None and pack.status in ("pending", "claimed"):
            pack.status = "dropped"
        return
    if pack is None:
        db.add(SessionPack(session_id=session.id, status="pending", due_at=due, attempts=0))
        return
    if pack.due_at != due or pack.status == "dropped":
        pack.due_at = due
        pack.status = "pending"
        pack.lease_until = None
        pack.claimed_by = None


# --- uploads -----------------------------------------------------------------------------------------


def get_presentation(db: Db, presentation_id: int) -> Presentation:
    presentation = db.get(Presentation, presentation_id)
    if presentation is None:
        raise NotFound(f"no presentation with id {presentation_id}")
    return presentation


@dataclass(frozen=True)
class UploadGrant:
    """Who may upload what, until when (plain data: it crosses threads)."""

    presentation_id: int
    session_id: int
    token_id: int | None
    delegate_id: int | None
    deadline: datetime
    late: bool
    zone: str
    language: str

    def check_open(self, now: datetime) -> None:
        """Refuse an upload that starts after the deadline (unless late ones are open)."""
        if not self.late and now > self.deadline:
            raise UploadRefused(
                410,
                "deadline-passed",
                f"the deadline for these materials has passed: it was "
                f"{describe_instant(self.deadline, self.zone)}",
                deadline=self.deadline,
            )

    def check_finish(self, now: datetime) -> None:
        """Refuse an upload that finishes after the grace period (unless late ones are open)."""
        if not self.late and now > self.deadline + get_settings().materials_grace:
            raise UploadRefused(
                410,
                "deadline-passed",
                f"the upload finished after the deadline "
                f"{describe_instant(self.deadline, self.zone)} and its grace period",
                deadline=self.deadline,
            )


def _grant(presentation: Presentation, token: UploadToken | None) -> UploadGrant:
    session = presentation.session
    deadline = materials_deadline(session)
    if session.status == "cancelled":
        raise UploadRefused(410, "session-cancelled", "the session was cancelled")
    if deadline is None:
        raise UploadRefused(410, "not-scheduled", "the session has no date yet")
    presenter = presentation.presenter
    return UploadGrant(
        presentation_id=presentation.id,
        session_id=session.id,
        token_id=token.id if token is not None else None,
        delegate_id=token.delegate_id if token is not None else presentation.presenter_id,
        deadline=deadline,
        late=presentation.late_submissions,
        zone=presenter_zone(presentation),
        language=(presenter.language if presenter is not None else None) or "en",
    )


def authorize_upload(
    db: Db, token: str | None, *, presentation_id: int | None = None, now: datetime | None = None
) -> UploadGrant:
    """The grant of a presenter's upload link (for ``presentation_id`` when given), or
    :class:`UploadRefused`: 401 without a token, 403 for a wrong, withdrawn or other
    presentation's link, 410 once it expired (deadline + grace) or its session was cancelled."""
    now = now or clock.now()
    if not token:
        raise UploadRefused(401, "no-token", "an upload link's token is needed")
    claims = tokens.read(token)
    if claims is None:
        raise UploadRefused(403, "invalid-token", "this upload link is not valid")
    if presentation_id is not None and claims.presentation_id != presentation_id:
        raise UploadRefused(403, "invalid-token", "this upload link is for another presentation")
    row = db.scalar(select(UploadToken).where(UploadToken.token_hash == tokens.token_hash(token)))
    if row is None or row.presentation_id != claims.presentation_id:
        raise UploadRefused(403, "invalid-token", "this upload link is not valid")
    if row.revoked_at is not None:
        raise UploadRefused(
            403,
            "token-replaced",
            "this upload link was replaced by a newer one: use the link in the latest message",
        )
    grant = _grant(row.presentation, row)
    if not grant.late and now > grant.deadline + get_settings().materials_grace:
        raise UploadRefused(
            410,
            "link-expired",
            f"this upload link has expired: the deadline was "
            f"{describe_instant(grant.deadline, grant.zone)}",
            deadline=grant.deadline,
        )
    return grant


def organizer_grant(db: Db, presentation_id: int) -> UploadGrant:
    """An organizer uploading on the presenter's behalf: no link, no deadline check."""
    grant = _grant(get_presentation(db, presentation_id), None)
    return UploadGrant(**{**grant.__dict__, "late": True})


@dataclass(frozen=True)
class Recorded:
    submission_id: int
    presentation_id: int
    version: int
    sha256: str
    size: int
    file_type: str
    filename: str
    uploaded_at: datetime
    late: bool
    duplicate: bool  # the same content as the current version: no new version


def _lock_presentation(db: Db, presentation_id: int) -> None:
    if db.get_bind().dialect.name == "postgresql":
        db.execute(
            select(Presentation.id).where(Presentation.id == presentation_id).with_for_update()
        )


def _recorded(submission: Submission, duplicate: bool) -> Recorded:
    return Recorded(
        submission_id=submission.id,
        presentation_id=submission.presentation_id,
        version=submission.version,
        sha256=submission.sha256,
        size=submission.size,
        file_type=submission.file_type,
        filename=submission.original_filename,
        uploaded_at=submission.uploaded_at,
        late=submission.late,
        duplicate=duplicate,
    )


def in_transaction(db: Db, work: Callable[[], T], *, attempts: int = 5) -> T:
    """Run ``work`` in one transaction, again (after a short pause) when it lost a race: a
    concurrent upload took the same version number, or, on SQLite, another connection
    committed between this transaction's first read and its first write (SQLite then refuses
    the write at once, "database is locked", whatever the busy timeout)."""
    for attempt in range(attempts):
        try:
            with unit_of_work(db):
                return work()
        except (IntegrityError, OperationalError):
            if attempt == attempts - 1:
                raise
            db.expire_all()
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def record_submission(
    db: Db,
    grant: UploadGrant,
    received: Received,
    *,
    storage: Storage | None = None,
    channel: str = "link",
    now: datetime | None = None,
) -> Recorded:
    """Make a received file (finished, synced) the presentation's next version: the file is
    committed to storage first, then the row and the receipt in one transaction."""
    storage = storage or get_storage()
    now = now or clock.now()
    if channel == "link":
        grant.check_finish(now)
    incoming = received.incoming
    sha256 = incoming.sha256
    key = storage.commit(incoming)
    return in_transaction(db, lambda: _record(db, grant, received, key, sha256, channel, now))


def _record(db, grant, received, key, sha256, channel, now) -> Recorded:
    _lock_presentation(db, grant.presentation_id)
    presentation = get_presentation(db, grant.presentation_id)
    current = current_version(db, presentation.id)
    if current is not None and current.sha256 == sha256:
        return _recorded(current, True)
    late = now > grant.deadline
    submission = Submission(
        presentation_id=presentation.id,
        version=(current.version + 1) if current is not None else 1,
        sha256=sha256,
        size=received.incoming.size,
        file_type=received.file_type.code,
        original_filename=received.filename,
        storage_key=key,
        uploaded_at=now,
        uploaded_by_id=grant.delegate_id,
        channel=channel,
        late=late,
    )
    db.add(submission)
    db.flush()
    recipient = db.get(Delegate, grant.delegate_id) if grant.delegate_id else None
    if recipient is not None:
        add_message(
            db,
            kind=RECEIPT,
            key=f"materials:receipt:{submission.id}",
            recipient=recipient.email,
            due_at=now,
            session_id=presentation.session_id,
            delegate_id=recipient.id,
            payload={"submission_id": submission.id, "presentation_id": presentation.id},
        )
    # Nothing to chase any more.
    db.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.kind == CHASER,
            OutboxMessage.status == "pending",
            OutboxMessage.idempotency_key.like(f"materials:chaser:{presentation.id}:%"),
        )
        .values(status="dropped")
        .execution_options(synchronize_session=False)
    )
    # A submission after the pack was built makes it stale: build it again.
    pack = db.scalar(select(SessionPack).where(SessionPack.session_id == presentation.session_id))
    if pack is not None and pack.status == "built":
        pack.status = "pending"
        pack.due_at = now
    return _recorded(submission, False)


async def _file_chunks(path: Path, size: int = 1024 * 1024) -> AsyncIterator[bytes]:
    with open(path, "rb") as file:
        while chunk := file.read(size):
            yield chunk


def submit_file(
    db: Db,
    presentation_id: int,
    path: Path,
    *,
    filename: str | None = None,
    token: str | None = None,
    storage: Storage | None = None,
) -> Recorded:
    """Upload a file from disk through the same checks as the HTTP upload: with a presenter's
    ``token`` as the presenter would, else as the organizer (no deadline)."""
    storage = storage or get_storage()
    with unit_of_work(db):  # ends the read transaction: the upload may take long
        if token is not None:
            grant = authorize_upload(db, token, presentation_id=presentation_id)
            grant.check_open(clock.now())
            channel = "link"
        else:
            grant = organizer_grant(db, presentation_id)
            channel = "organizer"
    if not path.is_file():
        raise UserError(f"FILE: {path} is not a readable file")

    async def run() -> Received:
        return await receive(
            _file_chunks(path),
            storage=storage,
            max_bytes=get_settings().max_upload_bytes,
            content_type="application/octet-stream",
            filename=filename or path.name,
        )

    try:
        received = anyio.run(run)
    except Rejected as exc:
        raise UserError(f"FILE: {exc.message}") from None
    with received.incoming:
        return record_submission(db, grant, received, storage=storage, channel=channel)


# --- organizer views ----------------------------------------------------------------------------


def versions(db: Db, presentation_id: int) -> list[Submission]:
    get_presentation(db, presentation_id)
    return list(
        db.scalars(
            select(Submission)
            .where(Submission.presentation_id == presentation_id)
            .order_by(Submission.version)
        )
    )


def current_version(db: Db, presentation_id: int) -> Submission | None:
    return db.scalar(
        select(Submission)
        .where(Submission.presentation_id == presentation_id)
        .order_by(Submission.version.desc())
        .limit(1)
    )


def get_version(db: Db, presentation_id: int, version: int | None = None) -> Submission:
    """A version of a presentation's materials (the current one when ``version`` is None)."""
    get_presentation(db, presentation_id)
    query = select(Submission).where(Submission.presentation_id == presentation_id)
    if version is None:
        query = query.order_by(Submission.version.desc()).limit(1)
    else:
        query = query.where(Submission.version == version)
    submission = db.scalar(query)
    if submission is None:
        what = "no materials yet" if version is None else f"no version {version}"
        raise NotFound(f"presentation {presentation_id}: {what}")
    return submission


def current_submissions(db: Db, session_id: int) -> dict[int, tuple[Submission, int]]:
    """For each presentation of the session with materials: its current version and how many
    versions it has."""
    latest = (
        select(
            Submission.presentation_id,
            func.max(Submission.version).label("version"),
            func.count().label("count"),
        )
        .join(Presentation, Presentation.id == Submission.presentation_id)
        .where(Presentation.session_id == session_id)
        .group_by(Submission.presentation_id)
        .subquery()
    )
    rows = db.execute(
        select(Submission, latest.c.count).join(
            latest,
            and_(
                Submission.presentation_id == latest.c.presentation_id,
                Submission.version == latest.c.version,
            ),
        )
    ).all()
    return {s.presentation_id: (s, count) for s, count in rows}


@dataclass(frozen=True)
class PresentationMaterials:
    presentation: Presentation
    current: Submission | None
    versions: int


@dataclass(frozen=True)
class SessionMaterials:
    session: Session
    deadline: datetime | None
    presentations: list[PresentationMaterials]
    pack: SessionPack | None

    @property
    def submitted(self) -> int:
        return sum(1 for p in self.presentations if p.current is not None)


def session_materials(db: Db, session_id: int) -> SessionMaterials:
    session = db.get(Session, session_id)
    if session is None:
        raise NotFound(f"no session with id {session_id}")
    current = current_submissions(db, session_id)
    rows = [
        PresentationMaterials(p, *(current.get(p.id) or (None, 0))) for p in session.presentations
    ]
    pack = db.scalar(select(SessionPack).where(SessionPack.session_id == session_id))
    return SessionMaterials(session, materials_deadline(session), rows, pack)


def set_late_submissions(db: Db, presentation_id: int, open_: bool) -> Presentation:
    with unit_of_work(db):
        presentation = get_presentation(db, presentation_id)
        presentation.late_submissions = open_
        return presentation


def set_deadline(db: Db, session_id: int, deadline: datetime | None) -> MaterialsPlan:
    """Set (or, with None, reset to the default) a session's materials deadline and re-plan."""
    with unit_of_work(db):
        session = db.get(Session, session_id)
        if session is None:
            raise NotFound(f"no session with id {session_id}")
        if deadline is not None:
            if deadline.tzinfo is None:
                raise UserError("--at: give a UTC instant or an offset, e.g. 2023-09-26T11:00Z")
            if session.start_utc is not None and deadline >= session.start_utc:
                raise UserError(
                    f"--at: {describe_instant(deadline)} is not before the session's start "
                    f"{describe_instant(session.start_utc)}"
                )
        session.materials_deadline = deadline
        return plan_materials(db, session)


# --- session packs ------------------------------------------------------------------------------


def pack_items(db: Db, session: Session) -> list[packs.PackItem]:
    current = current_submissions(db, session.id)
    items = []
    for p in session.presentations:
        submission = current.get(p.id, (None, 0))[0]
        base = {
            "position": p.position,
            "presentation_id": p.id,
            "city": p.city.name,
            "title": p.title,
            "body": p.body,
            "presenter": p.presenter.name if p.presenter else None,
            "presenter_email": p.presenter.email if p.presenter else None,
        }
        if submission is not None:
            base.update(
                version=submission.version,
                size=submission.size,
                sha256=submission.sha256,
                file_type=submission.file_type,
                original_filename=submission.original_filename,
                uploaded_at=submission.uploaded_at,
                late=submission.late,
                storage_key=submission.storage_key,
            )
        items.append(packs.PackItem(**base))
    return items


def pack_path(session: Session, out_dir: Path | None = None) -> Path:
    directory = out_dir or get_settings().packs_dir
    from coordinator.submissions.names import slug

    return directory / f"session-{session.id}-{slug(session.title, 50) or 'pack'}.zip"


def _calendar(session: Session) -> bytes | None:
    if session.start_utc is None:
        return None
    from coordinator.invites.ical import build_feed
    from coordinator.services.snapshots import session_snapshot

    return build_feed([session_snapshot(session)], session.title)


@dataclass(frozen=True)
class PackResult:
    path: Path
    sha256: str
    size: int
    submitted: int
    missing: int
    rebuilt: bool  # False: the existing pack already held the current versions


def build_pack(
    db: Db,
    session_id: int,
    *,
    out_dir: Path | None = None,
    storage: Storage | None = None,
    force: bool = False,
) -> PackResult:
    """Build (or reuse, when nothing changed) the session's pack; records it on the session's
    pack row."""
    storage = storage or get_storage()
    # Read what the pack holds (one short transaction) ...
    with unit_of_work(db):
        session = db.get(Session, session_id)
        if session is None:
            raise NotFound(f"no session with id {session_id}")
        items = pack_items(db, session)
        fingerprint = packs.fingerprint(items)
        target = pack_path(session, out_dir)
        pack = db.scalar(select(SessionPack).where(SessionPack.session_id == session.id))
        if (
            not force
            and pack is not None
            and pack.fingerprint == fingerprint
            and pack.path == str(target)
            and target.is_file()
            and pack.size == target.stat().st_size
        ):
            return PackResult(target, pack.sha256, pack.size, pack.submitted, pack.missing, False)
        deadline = materials_deadline(session)
        info = {
            "id": session.id,
            "uid": session.uid,
            "title": session.title,
            "title_ja": session.title_ja,
            "group": session.group.name,
            "status": session.status,
            "start_utc": _z(session.start_utc),
            "end_utc": _z(session.end_utc),
            "materials_deadline": _z(deadline),
            "presentations": len(items),
            "submitted": sum(1 for i in items if i.submitted),
        }
        calendar = _calendar(session)
    # ... write the zip outside any transaction (it may take a while) ...
    written = packs.write_pack(
        target,
        items,
        storage=storage,
        session_info=info,
        calendar_name=f"session-{session_id}.ics",
        calendar=calendar,
    )

    # ... and record it (another short transaction).
    def record() -> None:
        pack = db.scalar(select(SessionPack).where(SessionPack.session_id == session_id))
        if pack is None:
            pack = SessionPack(
                session_id=session_id,
                status="pending",
                due_at=(deadline or clock.now()) + get_settings().materials_grace,
                attempts=0,
            )
            db.add(pack)
        pack.built_at = clock.now()
        pack.path = str(target)
        pack.sha256 = written.sha256
        pack.size = written.size
        pack.fingerprint = fingerprint
        pack.submitted = written.submitted
        pack.missing = written.missing

    in_transaction(db, record)
    return PackResult(
        target, written.sha256, written.size, written.submitted, written.missing, True
    )


def _z(instant: datetime | None) -> str | None:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if instant else None


def _claimer() -> str:
    return f"pack:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _write_connection(engine: Engine):
    connection = engine.connect()
    if connection.dialect.name == "sqlite":
        connection.info["sqlite_begin"] = "BEGIN IMMEDIATE"
    return connection


PACK_LEASE = timedelta(hours=1)  # longer than the build task's time limit


def claim_due_packs(
    engine: Engine, *, limit: int = 20, now: datetime | None = None
) -> list[tuple[int, str]]:
    """Claim packs due by now (and packs whose claim expired): ``[(pack id, claim token)]``."""
    now = now or clock.now()
    token = _claimer()
    with _write_connection(engine) as connection, connection.begin():
        chosen = (
            select(SessionPack.id)
            .where(
                (SessionPack.status == "pending") & (SessionPack.due_at <= now)
                | (SessionPack.status == "claimed") & (SessionPack.lease_until <= now)
            )
            .order_by(SessionPack.due_at)
            .limit(limit)
        )
        if connection.dialect.name == "postgresql":
            chosen = chosen.with_for_update(skip_locked=True)
        ids = (
            connection.execute(
                update(SessionPack)
                .where(SessionPack.id.in_(chosen))
                .values(status="claimed", claimed_by=token, lease_until=now + PACK_LEASE)
                .returning(SessionPack.id)
            )
            .scalars()
            .all()
        )
    return [(pack_id, token) for pack_id in sorted(ids)]


def dispatch_due_packs(engine: Engine, enqueue: Callable[[int, str], None]) -> int:
    """Claim due packs and hand each (id, claim) to ``enqueue`` (the build task)."""
    claimed = claim_due_packs(engine)
    for pack_id, token in claimed:
        try:
            enqueue(pack_id, token)
        except Exception:
            with _write_connection(engine) as connection, connection.begin():
                connection.execute(
                    update(SessionPack)
                    .where(SessionPack.id == pack_id, SessionPack.claimed_by == token)
                    .values(status="pending", claimed_by=None, lease_until=None)
                )
            raise
    return len(claimed)


def build_claimed_pack(engine: Engine, pack_id: int, token: str) -> PackResult | None:
    """Build the pack ``pack_id`` if it is still claimed with ``token`` (a duplicate or late
    task finds nothing to do); marks it built, or pending again with the error."""
    with OrmSession(bind=engine, expire_on_commit=False) as db:
        pack = db.get(SessionPack, pack_id)
        if pack is None or pack.status != "claimed" or pack.claimed_by != token:
            return None
        session_id = pack.session_id
        db.rollback()
        try:
            result = build_pack(db, session_id)
        except Exception as exc:
            db.rollback()
            error = f"{type(exc).__name__}: {exc}"[:2000]
            in_transaction(db, lambda: _release(db, pack_id, token, error))
            raise
        in_transaction(db, lambda: _release(db, pack_id, token, None))
        return result


def _release(db: Db, pack_id: int, token: str, error: str | None) -> None:
    """After a build: built, or pending again (later, with the error) if it failed."""
    pack = db.get(SessionPack, pack_id)
    if pack is None or pack.claimed_by != token:
        return
    pack.attempts += 1
    pack.claimed_by = None
    pack.lease_until = None
    pack.last_error = error
    if error is None:
        pack.status = "built"
    else:
        pack.status = "pending"
        pack.due_at = clock.now() + timedelta(minutes=min(60, 2**pack.attempts))
