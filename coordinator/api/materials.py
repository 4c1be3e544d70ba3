"""Presenters' uploads and organizers' downloads.

``POST /presentations/{id}/materials`` — a presenter's upload, with the token of their link as
``?token=`` or ``Authorization: Bearer``; the body is a ``multipart/form-data`` form with one
file, or the raw file (its name in ``X-Filename``, ``Content-Disposition`` or ``?filename=``).
The body is read from the request stream as it arrives (never spooled by the framework), checked
while it arrives and stored only when complete: see :mod:`coordinator.submissions.receive`.
Answers: 201 with the new version (200 when identical to the current version), else a problem
document: 401 no token, 403 wrong link, 410 expired or deadline passed (with ``deadline``), 413
over the limit (with ``limit``), 415 not an accepted type (with ``detected_type``), 422 empty or
malformed. Nothing is stored for any of them; a client that goes away leaves nothing either.

Organizer routes (``Authorization: Bearer`` with ``COORDINATOR_ADMIN_TOKEN``, or an API key of
an admin, or of an organizer or viewer of the session's network):

- ``GET /presentations/{id}/materials`` — the versions;
- ``GET /presentations/{id}/materials/{version}`` — one version's file (``current`` for the
  latest);
- ``GET /sessions/{id}/materials`` — who has submitted what;
- ``GET /sessions/{id}/pack`` — the session pack (built now if missing or stale).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from coordinator import clock
from coordinator.api.errors import problem
from coordinator.api.v1.common import Id
from coordinator.config import get_settings
from coordinator.db import Db, session_scope
from coordinator.errors import UserError
from coordinator.services import materials
from coordinator.submissions import types
from coordinator.submissions.names import content_disposition
from coordinator.submissions.receive import FORM_OVERHEAD, Rejected, is_form, receive, too_large
from coordinator.submissions.storage import Storage, get_storage

router = APIRouter(tags=["materials"])
T = TypeVar("T")


def iso(instant: datetime | None) -> str | None:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if instant else None


async def in_db(function: Callable[[Db], T]) -> T:
    """Run ``function`` with a database session in a worker thread (the loop stays free)."""

    def run() -> T:
        with session_scope() as db:
            return function(db)

    return await run_in_threadpool(run)


# --- errors --------------------------------------------------------------------------------------


class Failure(Exception):
    """An answer other than success, as (status, code, message, extra)."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    @classmethod
    def of(cls, exc: Exception) -> Failure:
        if isinstance(exc, Failure):
            return exc
        if isinstance(exc, Rejected):
            return cls(exc.status, exc.code, exc.message, **exc.extra)
        if isinstance(exc, materials.UploadRefused):
            return cls(exc.status_code, exc.code, exc.message, deadline=iso(exc.deadline))
        if isinstance(exc, UserError):
            return cls(exc.status_code, getattr(exc, "code", "user-error"), exc.message)
        raise TypeError(exc)  # pragma: no cover

    def response(self) -> JSONResponse:
        headers = {"Connection": "close"} if self.status in (413, 415) else None
        if self.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return problem(self.status, self.code, self.message, headers=headers, **self.extra)


# --- the upload --------------------------------------------------------------------------------------


def token_of(request: Request) -> str | None:
    """The upload token: ``?token=`` or ``Authorization: Bearer <token>``."""
    token = request.query_params.get("token")
    if token:
        return token
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def raw_filename(request: Request) -> str | None:
    """The name a raw body came with: ``?filename=``, ``X-Filename`` (percent-encoded UTF-8
    allowed) or ``Content-Disposition``."""
    from coordinator.submissions.receive import disposition_filename

    name = request.query_params.get("filename")
    if name:
        return name
    header = request.headers.get("x-filename")
    if header:
        return unquote(header)
    disposition = request.headers.get("content-disposition")
    return disposition_filename(disposition) if disposition else None


async def authorize(token: str | None, presentation_id: int | None) -> materials.UploadGrant:
    def check(db: Db) -> materials.UploadGrant:
        grant = materials.authorize_upload(db, token, presentation_id=presentation_id)
        grant.check_open(clock.now())
        return grant

    return await in_db(check)


async def receive_upload(
    request: Request, grant: materials.UploadGrant, storage: Storage | None = None
) -> materials.Recorded:
    """Stream the request's file to storage and record it (raises :class:`Failure`,
    :class:`Rejected`, :class:`~coordinator.services.materials.UploadRefused` or
    :class:`ClientDisconnect`)."""
    storage = storage or get_storage()
    limit = get_settings().max_upload_bytes
    content_type = request.headers.get("content-type")
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise Failure(400, "bad-length", "Content-Length is not a number") from None
        if length > limit + (FORM_OVERHEAD if is_form(content_type) else 0):
            raise too_large(limit)
        if length == 0:
            raise Rejected(422, "empty-file", "the file is empty")
    received = await receive(
        request.stream(),
        storage=storage,
        max_bytes=limit,
        content_type=content_type,
        filename=None if is_form(content_type) else raw_filename(request),
    )
    with received.incoming:
        return await in_db(
            lambda db: materials.record_submission(db, grant, received, storage=storage)
        )


def recorded_json(recorded: materials.Recorded) -> dict:
    file_type = types.by_code(recorded.file_type)
    return {
        "presentation_id": recorded.presentation_id,
        "version": recorded.version,
        "current": True,
        "duplicate": recorded.duplicate,
        "filename": recorded.filename,
        "size": recorded.size,
        "sha256": recorded.sha256,
        "type": recorded.file_type,
        "type_label": file_type.label,
        "media_type": file_type.mime,
        "uploaded_at": iso(recorded.uploaded_at),
        "late": recorded.late,
    }


@router.post(
    "/presentations/{presentation_id}/materials",
    status_code=201,
    summary="Upload materials for a presentation (a presenter's link)",
    responses={
        200: {"description": "Identical to the current version: nothing changed"},
        401: {"description": "No token"},
        403: {"description": "Not a valid link for this presentation"},
        410: {"description": "The link expired, or the deadline passed"},
        413: {"description": "Over the size limit"},
        415: {"description": "Not an accepted type"},
        422: {"description": "Empty file or malformed form"},
    },
)
async def upload_materials(presentation_id: Id, request: Request) -> Response:
    try:
        grant = await authorize(token_of(request), presentation_id)
        recorded = await receive_upload(request, grant)
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is listening; nothing was stored
    except (Failure, Rejected, UserError) as exc:
        return Failure.of(exc).response()
    return JSONResponse(recorded_json(recorded), status_code=200 if recorded.duplicate else 201)


# --- organizers ------------------------------------------------------------------------------------


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def check_organizer(db: Db, request: Request, network_id: int) -> None:
    """``COORDINATOR_ADMIN_TOKEN``, an admin API key, or a key of this network; else
    401/403."""
    secret = _bearer(request)
    if secret is None:
        raise Failure(401, "unauthenticated", "organizer access needs Authorization: Bearer")
    admin = get_settings().admin_token
    if admin and hmac.compare_digest(secret.encode(), admin.encode()):
        return
    from coordinator.services.keys import verify_key

    identity = verify_key(db, secret)
    if identity is None:
        raise Failure(403, "forbidden", "these credentials are not valid")
    if identity.role != "admin" and identity.network_id != network_id:
        raise Failure(403, "forbidden", "these credentials do not cover this network")


async def organizer(request: Request, load: Callable[[Db], tuple[int, T]]) -> T:
    """Load what a route needs and check the caller may see it (one database session)."""

    def run(db: Db) -> T:
        network_id, value = load(db)
        check_organizer(db, request, network_id)
        return value

    return await in_db(run)


def _version_json(s) -> dict:
    return {
        "version": s.version,
        "filename": s.original_filename,
        "size": s.size,
        "sha256": s.sha256,
        "type": s.file_type,
        "uploaded_at": iso(s.uploaded_at),
        "uploaded_by": s.uploaded_by.email if s.uploaded_by else None,
        "channel": s.channel,
        "late": s.late,
    }


def _network_of_presentation(db: Db, presentation_id: int) -> int:
    return materials.get_presentation(db, presentation_id).session.group.network_id


@router.get("/presentations/{presentation_id}/materials", summary="Versions (organizer)")
async def list_materials(presentation_id: Id, request: Request) -> Response:
    def load(db: Db):
        network_id = _network_of_presentation(db, presentation_id)
        rows = materials.versions(db, presentation_id)
        current = rows[-1].version if rows else None
        return network_id, {
            "presentation_id": presentation_id,
            "current_version": current,
            "versions": [_version_json(s) for s in rows],
        }

    try:
        return JSONResponse(await organizer(request, load))
    except (Failure, UserError) as exc:
        return Failure.of(exc).response()


@router.get(
    "/presentations/{presentation_id}/materials/{version}",
    summary="Download one version (organizer); 'current' for the latest",
)
async def download_version(presentation_id: Id, version: str, request: Request) -> Response:
    def load(db: Db):
        network_id = _network_of_presentation(db, presentation_id)
        if version == "current":
            number = None
        elif version.isdigit():
            number = int(version)
        else:
            raise Failure(422, "validation", "version: a number or 'current'")
        s = materials.get_version(db, presentation_id, number)
        return network_id, (s.storage_key, s.original_filename, s.file_type, s.sha256)

    try:
        key, filename, file_type, sha256 = await organizer(request, load)
    except (Failure, UserError) as exc:
        return Failure.of(exc).response()
    storage = get_storage()
    path = storage.local_path(key)
    headers = {
        "Content-Disposition": content_disposition(filename),
        "X-Content-SHA256": sha256,
        "Cache-Control": "private, no-store",
    }
    if path is not None:
        return FileResponse(path, media_type=types.by_code(file_type).mime, headers=headers)
    # A store without local files (S3): streamed from it, with the same headers.
    headers["Content-Length"] = str(await run_in_threadpool(storage.size, key))
    body = await run_in_threadpool(storage.open, key)
    return StreamingResponse(body, media_type=types.by_code(file_type).mime, headers=headers)


@router.get("/sessions/{session_id}/materials", summary="Who has submitted (organizer)")
async def session_status(session_id: Id, request: Request) -> Response:
    def load(db: Db):
        status = materials.session_materials(db, session_id)
        rows = []
        for row in status.presentations:
            p = row.presentation
            rows.append(
                {
                    "presentation_id": p.id,
                    "position": p.position,
                    "city": p.city.name,
                    "title": p.title,
                    "presenter": p.presenter.email if p.presenter else None,
                    "submitted": row.current is not None,
                    "versions": row.versions,
                    "current": _version_json(row.current) if row.current else None,
                    "late_submissions": p.late_submissions,
                }
            )
        return status.session.group.network_id, {
            "session_id": session_id,
            "deadline": iso(status.deadline),
            "submitted": status.submitted,
            "presentations": rows,
        }

    try:
        return JSONResponse(await organizer(request, load))
    except (Failure, UserError) as exc:
        return Failure.of(exc).response()


@router.get("/sessions/{session_id}/pack", summary="The session pack (organizer)")
async def download_pack(session_id: Id, request: Request) -> Response:
    def build(db: Db) -> materials.PackResult:
        from coordinator.services.planning import get_session

        session = get_session(db, session_id)
        check_organizer(db, request, session.group.network_id)  # before any work
        return materials.build_pack(db, session_id)

    try:
        result = await in_db(build)
    except (Failure, UserError) as exc:
        return Failure.of(exc).response()
    return FileResponse(
        result.path,
        media_type="application/zip",
        headers={
            "Content-Disposition": content_disposition(result.path.name),
            "X-Content-SHA256": result.sha256,
            "Cache-Control": "private, no-store",
        },
    )
