"""Every error the HTTP application answers is an RFC 9457 problem document
(``application/problem+json``: ``type``, ``title``, ``status``, ``detail``, ``instance``).

:func:`install` registers app-level handlers, so routes of every router (the API's, the upload
pages', FastAPI's own 404/405/422) answer the same way:

- FastAPI's request validation → 422 (400 for a body that is not JSON at all), with ``errors``
  naming each field by its path (``body.start_utc``, ``query.limit``);
- :class:`coordinator.errors.UserError` from services → its ``status_code`` (422, 404, 409), the
  message as ``detail`` and its details as ``errors``;
- Starlette's HTTP errors (unknown route 404, 405 with ``Allow``, 401 with
  ``WWW-Authenticate``, 429 with ``Retry-After``…) keep their headers;
- a request body over the limit → 413 (:class:`BodyLimitMiddleware`);
- database integrity errors → 409; the database being down → 503; anything else → 500 without
  a traceback (logged).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coordinator.errors import Conflict, NotFound, UserError

log = logging.getLogger("coordinator.api")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "/problems/"

# slug -> (title, explanation) for the documented problem types (served at /problems/{slug}).
PROBLEM_TYPES: dict[str, tuple[str, str]] = {
    "validation": (
        "Invalid request",
        "One or more fields are missing or invalid; `errors` lists each field by its path "
        "(`body.start_utc`, `query.limit`) with what was wrong. Nothing was written.",
    ),
    "malformed-body": (
        "Malformed request body",
        "The body is not well-formed JSON (or not the declared format). Nothing was written.",
    ),
    "user-error": (
        "Request cannot be carried out",
        "The request was well-formed but the action cannot be done as asked; `detail` says why. "
        "Nothing was written.",
    ),
    "not-found": ("Not found", "No such resource, or it is not visible to your credentials."),
    "conflict": (
        "Conflict",
        "The request conflicts with the current state (a duplicate name, a resource still in use).",
    ),
    "unauthenticated": (
        "Authentication required",
        "Send an API key as `Authorization: Bearer ck_…`, or the token of a link you were given.",
    ),
    "forbidden": ("Forbidden", "Your credentials do not allow this action."),
    "rate-limited": (
        "Too many failed authentications",
        "Too many requests with wrong credentials came from your address; wait `Retry-After` "
        "seconds.",
    ),
    "body-too-large": ("Request body too large", "The request body exceeds the size limit."),
    "unavailable": ("Service unavailable", "A service the application needs is not answering."),
    "internal": ("Internal error", "An unexpected error; it has been logged."),
}


class FieldError(BaseModel):
    field: str = Field(description="Where: `body.start_utc`, `query.limit`, `path.session_id`.")
    message: str
    type: str | None = None


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI reference naming the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(None, description="The request path that had the problem.")
    errors: list[FieldError] | None = None


class FieldProblem(UserError):
    """A user error about one field of the request (e.g. a time that cannot be read), answered
    like a validation error: 422 with ``errors: [{field, message}]``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.field_message = message


def problem(
    status: int,
    *,
    slug: str | None = None,
    kind: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    if slug is not None:
        kind, title = TYPE_BASE + slug, PROBLEM_TYPES[slug][0]
    elif kind is not None:
        title = _phrase(status)
    else:
        kind, title = "about:blank", _phrase(status)
    body: dict[str, Any] = {"type": kind, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _field_path(loc: tuple | list) -> str:
    return ".".join(str(part) for part in loc) if loc else "body"


def _slug_for_status(status: int) -> str | None:
    return {
        401: "unauthenticated",
        403: "forbidden",
        404: "not-found",
        409: "conflict",
        413: "body-too-large",
        429: "rate-limited",
        503: "unavailable",
    }.get(status)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else None
    if detail == _phrase(exc.status_code):
        detail = None
    return problem(
        exc.status_code,
        slug=_slug_for_status(exc.status_code),
        detail=detail,
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
    )


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        reason = (first.get("ctx") or {}).get("error", "not valid JSON")
        return problem(
            400,
            slug="malformed-body",
            detail=f"the body is not valid JSON: {reason}",
            instance=request.url.path,
        )
    fields = [
        {
            "field": _field_path(e.get("loc", ())),
            "message": str(e.get("msg", "invalid")).removeprefix("Value error, "),
            "type": e.get("type"),
        }
        for e in errors
    ]
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:3])
    return problem(422, slug="validation", detail=summary, instance=request.url.path, errors=fields)


async def _user_error(request: Request, exc: UserError) -> JSONResponse:
    if isinstance(exc, FieldProblem):
        return problem(
            422,
            slug="validation",
            detail=exc.message,
            instance=request.url.path,
            errors=[{"field": exc.field, "message": exc.field_message, "type": "value_error"}],
        )
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:  # a service's own kind of refusal (an upload's)
        return problem(
            exc.status_code,
            detail=exc.message,
            instance=request.url.path,
            kind=TYPE_BASE + code,
            code=code,
            **_extras(exc),
        )
    slug = (
        "not-found"
        if isinstance(exc, NotFound)
        else "conflict"
        if isinstance(exc, Conflict)
        else _slug_for_status(exc.status_code) or "user-error"
    )
    errors = [{"field": "body", "message": d, "type": "value_error"} for d in exc.details]
    return problem(
        exc.status_code,
        slug=slug,
        detail=exc.message,
        instance=request.url.path,
        errors=errors or None,
    )


def _extras(exc: UserError) -> dict[str, Any]:
    deadline = getattr(exc, "deadline", None)
    extra = dict(getattr(exc, "extra", None) or {})
    if deadline is not None:
        extra["deadline"] = deadline.isoformat()
    if exc.details:
        extra["errors"] = [{"field": "body", "message": d} for d in exc.details]
    return extra


async def _integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
    log.info("integrity error on %s: %s", request.url.path, exc.orig)
    return problem(
        409,
        slug="conflict",
        detail="the change conflicts with existing data (a duplicate, or a resource in use)",
        instance=request.url.path,
    )


async def _data_error(request: Request, exc: DataError) -> JSONResponse:
    log.info("data error on %s: %s", request.url.path, exc.orig)
    return problem(
        422,
        slug="validation",
        detail="a value does not fit the database (a number out of range, text too long)",
        instance=request.url.path,
    )


async def _database_down(request: Request, exc: OperationalError) -> JSONResponse:
    log.error("database error on %s: %s", request.url.path, exc.orig)
    return problem(
        503,
        slug="unavailable",
        detail="the database is not answering",
        instance=request.url.path,
        headers={"Retry-After": "5"},
    )


async def _busy(request: Request, exc: PoolTimeout) -> JSONResponse:
    log.warning("no database connection free for %s: %s", request.url.path, exc)
    return problem(
        503,
        slug="unavailable",
        detail="the server is too busy to reach the database right now",
        instance=request.url.path,
        headers={"Retry-After": "2"},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(500, slug="internal", instance=request.url.path)


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with 413 before the application reads them.

    Applies to paths starting with one of ``prefixes`` (the JSON API); the upload routes, which
    stream and check their own limits, are left alone. A declared ``Content-Length`` over the
    limit is refused at once; a chunked body is read up to the limit and then replayed.
    """

    def __init__(self, app: ASGIApp, *, limit: int, prefixes: tuple[str, ...] = ("/api/",)):
        self.app = app
        self.limit = limit
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
        if declared is not None and declared > self.limit:
            await self._refuse(scope, receive, send)
            return
        if declared is not None and declared <= self.limit:
            await self.app(scope, receive, send)
            return
        # No length declared: buffer up to the limit, then replay.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        await self.app(
            scope, _replay([{"type": "http.request", "body": body, "more_body": False}]), send
        )

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            slug="body-too-large",
            detail=f"the request body is over {self.limit} bytes",
            instance=scope["path"],
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _replay(messages: list[Message]) -> Receive:
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        return {"type": "http.disconnect"}

    return receive


def install(app: FastAPI, *, body_limit: int) -> None:
    """Make every error of ``app`` a problem document, and limit JSON request bodies."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(UserError, _user_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(PoolTimeout, _busy)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(BodyLimitMiddleware, limit=body_limit)


# For the OpenAPI schema: every operation documents its error answers as problem documents.
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "model": Problem,
            "description": _phrase(status),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
