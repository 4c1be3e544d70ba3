"""Sessions: create, list, read (with every city's local time and the agenda), rank candidate
slots, schedule; the session's outbox; a shareable link to its time grid."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from coordinator.api.auth import (
    DbDep,
    Organizer,
    Principal,
    Viewer,
    check_network,
    in_db,
    require_key_or_link,
)
from coordinator.api.problems import FieldProblem
from coordinator.api.v1.cache import SessionPages
from coordinator.api.v1.common import (
    MAX_ID,
    READ_ERRORS,
    WRITE_ERRORS,
    Id,
    Note,
    PageDep,
    PageOf,
    Slug,
    Text300,
    Text500,
    ZoneName,
    id_query,
    iso_z,
    local_span,
    utc_instant,
)
from coordinator.invites import InviteParseError, parse_reply
from coordinator.models import Session
from coordinator.scheduling.comfort import score_interval
from coordinator.services import directory, invitations, keys, planning
from coordinator.services import sessions as service

router = APIRouter(tags=["sessions"])

Status = Literal["draft", "scheduled", "cancelled"]


# --- shapes -------------------------------------------------------------------------------------


class SessionIn(BaseModel):
    group_id: int = Field(ge=1, le=MAX_ID)
    title: Text300
    title_ja: Text300 | None = None
    zone: ZoneName | None = Field(
        None, description="The zone of window_start/window_end when they carry no offset."
    )
    window_start: datetime = Field(
        description="When the session may start at the earliest: with an offset, or local "
        "time in `zone`.",
        examples=["2023-10-03T00:00:00+09:00"],
    )
    window_end: datetime = Field(examples=["2023-10-04T00:00:00+09:00"])
    duration_minutes: int = Field(ge=1, le=1440)
    meeting_url: Text500 | None = None
    note: Note | None = None


class StartIn(BaseModel):
    zone: ZoneName | None = Field(None, description="The zone of `start` if it has no offset.")
    start: datetime = Field(
        description="The start: with an offset (`2023-10-03T11:00Z`, `…T20:00+09:00`), or local "
        "time in `zone`.",
        examples=["2023-10-03T11:00:00Z"],
    )


class SessionSummary(BaseModel):
    id: int
    group_id: int
    group: str
    title: str
    title_ja: str | None
    status: str
    sequence: int
    published_at: str | None
    start_utc: str | None
    end_utc: str | None
    duration_minutes: int
    window_start: str
    window_end: str


class CityTimeOut(BaseModel):
    city_id: int
    city: str
    city_ja: str | None
    role: str
    zone: str
    local_start: str | None = Field(description="Local start with its offset (null: no start).")
    local_end: str | None
    utc_offset: str | None
    comfort: str | None = Field(description="working, early, evening or night.")
    notes: list[str]


class AgendaItemOut(BaseModel):
    id: int
    position: int
    city_id: int
    city: str
    city_ja: str | None
    body: str
    body_ja: str | None
    title: str
    title_ja: str | None
    presenter_id: int | None
    presenter: str | None


class SessionOut(SessionSummary):
    network: str
    group_ja: str | None
    meeting_url: str | None
    note: str | None
    cities: list[CityTimeOut]
    agenda: list[AgendaItemOut]
    links: dict[str, str]


class SlotCityOut(BaseModel):
    city: str
    zone: str
    local_start: str
    local_end: str
    utc_offset: str
    comfort: str
    notes: list[str]


class CandidateOut(BaseModel):
    rank: int
    start_utc: str
    end_utc: str
    cost: float
    cities: list[SlotCityOut]


class CandidatesOut(BaseModel):
    session_id: int
    considered: int
    warnings: list[str]
    candidates: list[CandidateOut]


class OutboxRowOut(BaseModel):
    id: int
    kind: str
    recipient: str
    status: str
    due_at: str
    attempts: int
    sent_at: str | None
    last_error: str | None


class SessionOutboxOut(PageOf[OutboxRowOut]):
    counts: dict[str, dict[str, int]]


class LinkOut(BaseModel):
    url: str | None
    token: str
    expires_at: str | None


# --- helpers ------------------------------------------------------------------------------------


def summary(s: Session) -> dict:
    return {
        "id": s.id,
        "group_id": s.group_id,
        "group": s.group.name,
        "title": s.title,
        "title_ja": s.title_ja,
        "status": s.status,
        "sequence": s.sequence,
        "published_at": iso_z(s.published_at),
        "start_utc": iso_z(s.start_utc),
        "end_utc": iso_z(s.end_utc),
        "duration_minutes": s.duration_minutes,
        "window_start": iso_z(s.window_start),
        "window_end": iso_z(s.window_end),
    }


@lru_cache(maxsize=65_536)
def _comfort(
    zone: str, country: str, subdivision: str | None, start: datetime, end: datetime
) -> tuple[str, tuple[str, ...]]:
    scored = score_interval(start, end, zone, country=country, subdivision=subdivision)
    return scored.comfort, scored.notes


def detail(view: service.SessionView, base: str) -> dict:
    """The session as ``GET /api/v1/sessions/{id}`` shows it (conversions cached per zone)."""
    s = view.session
    start, end = s.start_utc, view.end_utc
    cities = []
    for city in view.cities:
        span = local_span(city.zone, start, end) if start is not None else None
        comfort, notes = (
            _comfort(city.zone, city.country, city.subdivision, start, end)
            if span is not None
            else (None, ())
        )
        cities.append(
            {
                "city_id": city.id,
                "city": city.name,
                "city_ja": city.name_ja,
                "role": city.role,
                "zone": city.zone,
                "local_start": span[0] if span else None,
                "local_end": span[1] if span else None,
                "utc_offset": span[2] if span else None,
                "comfort": comfort,
                "notes": list(notes),
            }
        )
    agenda = [
        {
            "id": p.id,
            "position": p.position,
            "city_id": p.city_id,
            "city": p.city_name,
            "city_ja": p.city_name_ja,
            "body": p.body,
            "body_ja": p.body_ja,
            "title": p.title,
            "title_ja": p.title_ja,
            "presenter_id": p.presenter_id,
            "presenter": p.presenter,
        }
        for p in view.agenda
    ]
    own = f"{base}/api/v1/sessions/{s.id}"
    return {
        "id": s.id,
        "group_id": s.group_id,
        "group": s.group_name,
        "title": s.title,
        "title_ja": s.title_ja,
        "status": s.status,
        "sequence": s.sequence,
        "published_at": iso_z(s.published_at),
        "start_utc": iso_z(start),
        "end_utc": iso_z(end),
        "duration_minutes": s.duration_minutes,
        "window_start": iso_z(s.window_start),
        "window_end": iso_z(s.window_end),
        "network": s.network_slug,
        "group_ja": s.group_name_ja,
        "meeting_url": s.meeting_url or s.network_meeting_url,
        "note": s.note,
        "cities": cities,
        "agenda": agenda,
        "links": {
            "self": own,
            "candidates": f"{own}/candidates",
            "presentations": f"{base}/api/v1/presentations?session={s.id}",
            "grid": f"{base}/sessions/{s.id}/grid",
        },
    }


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _session_response(db, session_id: int, who, request: Request) -> JSONResponse:
    view = service.session_view(db, session_id, who.network_filter())
    return JSONResponse(detail(view, base_url(request)))


# --- routes -------------------------------------------------------------------------------------


@router.get("/sessions", response_model=PageOf[SessionSummary], responses=READ_ERRORS)
def list_sessions(
    db: DbDep,
    who: Viewer,
    page: PageDep,
    network: Annotated[Slug | None, Query(description="A network's slug.")] = None,
    group: id_query("Only this working group's sessions.") = None,
    city: id_query("Only sessions of groups this city belongs to.") = None,
    status: Status | None = None,
    from_: Annotated[
        datetime | None,
        Query(alias="from", description="Sessions starting at or after (drafts: window)."),
    ] = None,
    to: Annotated[datetime | None, Query(description="Sessions starting before.")] = None,
    zone: Annotated[ZoneName | None, Query(description="Zone of from/to without offset.")] = None,
):
    """Sessions by start time (drafts by their window), filterable by network, working group,
    city, status and a date range."""
    start = utc_instant(from_, zone, "query.from", "query.zone") if from_ else None
    end = utc_instant(to, zone, "query.to", "query.zone") if to else None
    scope = directory.network_id_of_slug(db, network, who.network_filter())
    rows, total = service.list_sessions(
        db,
        scope,
        group_id=group,
        city_id=city,
        status=status,
        start=start,
        end=end,
        page=page,
    )
    return PageOf[SessionSummary](
        items=[SessionSummary(**summary(s)) for s in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("/sessions", response_model=SessionOut, status_code=201, responses=WRITE_ERRORS)
def create_session(body: SessionIn, db: DbDep, who: Organizer, request: Request):
    """Create a draft session of a working group, to be planned within its window."""
    start = utc_instant(body.window_start, body.zone, "body.window_start", "body.zone")
    end = utc_instant(body.window_end, body.zone, "body.window_end", "body.zone")
    session = service.create_session(
        db,
        who.network_filter(),
        group_id=body.group_id,
        title=body.title,
        title_ja=body.title_ja,
        window_start=start,
        window_end=end,
        duration_minutes=body.duration_minutes,
        meeting_url=body.meeting_url,
        note=body.note,
    )
    response = _session_response(db, session.id, who, request)
    response.status_code = 201
    return response


@router.get("/sessions/{session_id}", response_model=SessionOut, responses=READ_ERRORS)
async def get_session(session_id: Id, who: Viewer, request: Request):
    """The session: its start in UTC, every city's local time and comfort, and the agenda."""
    pages: SessionPages = request.app.state.session_pages
    base = base_url(request)
    network_id, body = await pages.page(session_id, base, lambda: in_db(_render, session_id, base))
    check_network(who, network_id, f"session with id {session_id}")
    return Response(body, media_type="application/json")


def _render(db, session_id: int, base: str) -> tuple[int, bytes]:
    view = service.session_view(db, session_id, None)
    data = json.dumps(detail(view, base), ensure_ascii=False, separators=(",", ":"))
    return view.session.network_id, data.encode("utf-8")


@router.get(
    "/sessions/{session_id}/candidates", response_model=CandidatesOut, responses=READ_ERRORS
)
def session_candidates(
    session_id: Id,
    db: DbDep,
    who: Viewer,
    step: Annotated[
        int, Query(ge=1, le=60, description="Minutes between starts (divides 60).")
    ] = 15,
    top: Annotated[int, Query(ge=1, le=50)] = 10,
):
    """The best slots in the session's window for its group's cities, best first, with each
    city's local time, comfort and notes (weekends, holidays, clock changes)."""
    service.get_session(db, session_id, who.network_filter())
    result = planning.plan_session(db, session_id, step_minutes=step, top=top)
    return CandidatesOut(
        session_id=session_id,
        considered=result.considered,
        warnings=list(result.warnings),
        candidates=[candidate_out(rank, c) for rank, c in enumerate(result.candidates, 1)],
    )


def candidate_out(rank: int, c) -> CandidateOut:
    return CandidateOut(
        rank=rank,
        start_utc=iso_z(c.start_utc),
        end_utc=iso_z(c.end_utc),
        cost=round(c.cost, 2),
        cities=[
            SlotCityOut(
                city=t.city,
                zone=t.zone,
                local_start=t.local_start.isoformat(timespec="seconds"),
                local_end=t.local_end.isoformat(timespec="seconds"),
                utc_offset=t.utc_offset,
                comfort=t.comfort,
                notes=list(t.notes),
            )
            for t in c.cities
        ],
    )


@router.post("/sessions/{session_id}/schedule", response_model=SessionOut, responses=WRITE_ERRORS)
def schedule_session(session_id: Id, body: StartIn, db: DbDep, who: Organizer, request: Request):
    """Fix a draft session's start (inside its window). A published session is moved with
    `reschedule`, which tells the delegates."""
    service.get_session(db, session_id, who.network_filter())
    start = utc_instant(body.start, body.zone, "body.start", "body.zone")
    planning.schedule_session(db, session_id, start)
    return _session_response(db, session_id, who, request)


@router.get("/sessions/{session_id}/outbox", response_model=SessionOutboxOut, responses=READ_ERRORS)
def session_outbox(session_id: Id, db: DbDep, who: Organizer, page: PageDep):
    """The messages this session caused (invites, updates, reminders…), by due time, with
    counts per kind and state."""
    rows, total = service.session_outbox(db, session_id, who.network_filter(), page=page)
    return SessionOutboxOut(
        items=[
            OutboxRowOut(
                id=r.id,
                kind=r.kind,
                recipient=r.recipient,
                status=r.status,
                due_at=iso_z(r.due_at),
                attempts=r.attempts,
                sent_at=iso_z(r.sent_at),
                last_error=r.last_error,
            )
            for r in rows
        ],
        total=total,
        limit=page.limit,
        offset=page.offset,
        counts=service.outbox_counts(db, session_id),
    )


@router.post(
    "/sessions/{session_id}/grid-link",
    response_model=LinkOut,
    status_code=201,
    responses=WRITE_ERRORS,
)
def session_grid_link(session_id: Id, db: DbDep, who: Viewer, request: Request):
    """A link to the session's time grid that opens without a key (valid 30 days)."""
    service.get_session(db, session_id, who.network_filter())
    token, expires = keys.sign_link("grid", "session", session_id, expires_in=timedelta(days=30))
    return LinkOut(
        url=f"{base_url(request)}/sessions/{session_id}/grid?token={token}",
        token=token,
        expires_at=iso_z(expires),
    )


# --- publishing, moving, cancelling; answers ----------------------------------------------------


class RescheduleIn(BaseModel):
    zone: ZoneName | None = Field(None, description="The zone of `start` if it has no offset.")
    start: datetime | None = Field(None, description="The new start (any offset, or in `zone`).")
    duration_minutes: int | None = Field(None, ge=1, le=1440)
    meeting_url: Text500 | None = Field(None, description='"" falls back to the network\'s.')
    note: Note | None = None


class SkippedOut(BaseModel):
    name: str
    email: str
    reason: str


class ReportOut(BaseModel):
    kind: str | None = Field(description="invite, update or cancel; null when nothing was sent.")
    sequence: int
    written: int = Field(description="Messages written to the outbox by this request.")
    existing: int = Field(description="Messages already written by an earlier attempt.")
    skipped: list[SkippedOut]
    dropped: int = Field(description="Pending messages this change superseded.")
    changes: list[str]
    already: bool


class ActionOut(BaseModel):
    report: ReportOut
    session: SessionOut


def _action(db, session_id: int, who, request: Request, report) -> JSONResponse:
    data = {
        "report": ReportOut(
            kind=report.kind,
            sequence=report.sequence,
            written=report.written,
            existing=report.existing,
            skipped=[
                SkippedOut(name=s.name, email=s.email, reason=s.reason) for s in report.skipped
            ],
            dropped=report.dropped,
            changes=list(report.changes),
            already=report.already,
        ).model_dump(),
        "session": detail(
            service.session_view(db, session_id, who.network_filter()), base_url(request)
        ),
    }
    return JSONResponse(data)


@router.post("/sessions/{session_id}/publish", response_model=ActionOut, responses=WRITE_ERRORS)
def publish_session(session_id: Id, db: DbDep, who: Organizer, request: Request):
    """Send the invitations (one per delegate of the group's cities, through the outbox).
    Publishing again only writes what is missing."""
    service.get_session(db, session_id, who.network_filter())
    report = invitations.publish_session(db, session_id)
    return _action(db, session_id, who, request, report)


@router.post("/sessions/{session_id}/reschedule", response_model=ActionOut, responses=WRITE_ERRORS)
def reschedule_session(
    session_id: Id, body: RescheduleIn, db: DbDep, who: Organizer, request: Request
):
    """Move a session (start, duration, meeting link) or change its note. On a published
    session a move sends every delegate an update (SEQUENCE + 1)."""
    service.get_session(db, session_id, who.network_filter())
    start = (
        utc_instant(body.start, body.zone, "body.start", "body.zone")
        if body.start is not None
        else None
    )
    report = invitations.reschedule_session(
        db,
        session_id,
        start=start,
        duration=body.duration_minutes,
        meeting_url=body.meeting_url,
        note=body.note,
    )
    return _action(db, session_id, who, request, report)


@router.post("/sessions/{session_id}/cancel", response_model=ActionOut, responses=WRITE_ERRORS)
def cancel_session(session_id: Id, db: DbDep, who: Organizer, request: Request):
    """Cancel a session; if it was published every delegate gets a cancellation."""
    service.get_session(db, session_id, who.network_filter())
    report = invitations.cancel_session(db, session_id)
    return _action(db, session_id, who, request, report)


class AnswerOut(BaseModel):
    name: str
    email: str
    city: str
    partstat: str
    sequence: int | None
    replied_at: str | None
    current: bool


class AttendanceOut(BaseModel):
    session_id: int
    sequence: int
    counts: dict[str, int]
    delegates: list[AnswerOut]


@router.get(
    "/sessions/{session_id}/attendance", response_model=AttendanceOut, responses=READ_ERRORS
)
def session_attendance(session_id: Id, db: DbDep, who: Viewer):
    """Who answered what (ACCEPTED, TENTATIVE, DECLINED, NEEDS-ACTION); an answer to an older
    version of the session counts as NEEDS-ACTION."""
    session = service.get_session(db, session_id, who.network_filter())
    data = invitations.attendance(db, session)
    return AttendanceOut(
        session_id=session.id,
        sequence=session.sequence,
        counts=data["counts"],
        delegates=[
            AnswerOut(**{**d, "replied_at": iso_z(d["replied_at"])}) for d in data["delegates"]
        ],
    )


class RecordedOut(BaseModel):
    name: str
    email: str
    partstat: str
    previous: str | None


class RepliesOut(BaseModel):
    recorded: list[RecordedOut]
    unchanged: int


RsvpKeyOrLink = Annotated[Principal, Depends(require_key_or_link("organizer", "rsvp"))]


@router.post(
    "/sessions/{session_id}/replies",
    response_model=RepliesOut,
    responses=WRITE_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/calendar": {"schema": {"type": "string"}},
                "message/rfc822": {"schema": {"type": "string"}},
            },
        }
    },
)
async def post_replies(session_id: Id, request: Request, db: DbDep, who: RsvpKeyOrLink):
    """Record an attendee's iTIP REPLY (an .ics with METHOD:REPLY, or the whole email) for this
    session. A delegate's `rsvp` link may only answer for that delegate. All or nothing."""
    data = await request.body()
    return await run_in_threadpool(_record_replies, db, session_id, who, data)


def _record_replies(db, session_id: int, who: Principal, data: bytes) -> RepliesOut:
    session = service.get_session(db, session_id, None)
    if who.kind == "key":
        service.get_session(db, session_id, who.network_filter())
    try:
        replies = parse_reply(data)
    except InviteParseError as exc:
        raise FieldProblem("body", str(exc)) from None
    for reply in replies:
        if reply.uid != session.uid:
            raise FieldProblem("body", f"UID {reply.uid!r} is not this session's")
    if who.kind == "link":
        assert who.link is not None
        delegate = directory.get_delegate(db, who.link.resource_id, None)
        if delegate.network_id != session.group.network_id or any(
            r.attendee_email.strip().casefold() != delegate.email.strip().casefold()
            for r in replies
        ):
            raise HTTPException(403, detail="this link answers only for its own delegate")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "reply.ics"
        path.write_bytes(data)
        result = invitations.import_replies(db, path)
    return RepliesOut(
        recorded=[
            RecordedOut(name=r.name, email=r.email, partstat=r.partstat, previous=r.previous)
            for r in result.recorded
        ],
        unchanged=result.unchanged,
    )
