"""The FastAPI application: routers, error answers, startup housekeeping."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from coordinator.api.errors import problem
from coordinator.errors import UserError

log = logging.getLogger("coordinator.api")


@asynccontextmanager
async def lifespan(_app: FastAPI):
    # Temporary files of uploads cut off by a crash of an earlier server process.
    from coordinator.submissions.storage import get_storage

    removed = get_storage().sweep_incoming()
    if removed:
        log.info("removed %d stale temporary upload files", removed)
    yield


def create_app() -> FastAPI:
    from coordinator.api import access_log, materials, upload_page

    access_log.install()

    app = FastAPI(
        title="Coordinator",
        summary="Times, invites, reminders and materials for a network of cities.",
        lifespan=lifespan,
    )
    app.include_router(materials.router)
    app.include_router(upload_page.router)

    @app.exception_handler(UserError)
    async def _user_error(request: Request, exc: UserError):
        return problem(exc.status_code, getattr(exc, "code", "user-error"), exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        fields = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:3])
        return problem(422, "validation", detail, errors=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return problem(exc.status_code, "http", str(exc.detail), headers=exc.headers)

    # The HTTP API (/api/v1), /healthz, the time grid, problem documents for every error.
    from coordinator.api.v1 import install

    install(app)
    return app
