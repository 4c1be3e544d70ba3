"""The API's front door, the health check and the documentation of problem types."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel
from sqlalchemy import create_engine, text

from coordinator.api.problems import PROBLEM_JSON, PROBLEM_TYPES, problem, problem_responses
from coordinator.config import get_settings
from coordinator.db import get_engine

router = APIRouter(tags=["meta"])
root = APIRouter(tags=["meta"])


class IndexOut(BaseModel):
    name: str
    version: str
    openapi: str
    docs: str


@router.get("", response_model=IndexOut)
async def index():
    """Where things are. (Also the benchmark's trivial endpoint.)"""
    return IndexOut(name="coordinator", version="1", openapi="/openapi.json", docs="/docs")


class Check(BaseModel):
    ok: bool
    ms: float
    error: str | None = None


class HealthOut(BaseModel):
    status: str
    checks: dict[str, Check]


def _timed(check) -> Check:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # any failure means "down"; the reason is reported
        return Check(ok=False, ms=_ms(started), error=f"{type(exc).__name__}: {exc}"[:300])
    return Check(ok=True, ms=_ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _database() -> None:
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))


@lru_cache(maxsize=4)
def _broker_engine(url: str):
    return create_engine(url, connect_args={"timeout": 2})


def _broker() -> None:
    url = get_settings().resolved_broker_url
    if url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    elif url.startswith("sqla+"):
        with _broker_engine(url[len("sqla+") :]).connect() as connection:
            connection.execute(text("SELECT 1"))
    else:
        from kombu import Connection

        with Connection(url, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1, timeout=2)


@root.get(
    "/healthz",
    response_model=HealthOut,
    responses={503: {"description": "The database or the broker is down (a problem document)."}},
)
def healthz():
    """The database and the broker, each checked now: 200 when both answer, 503 if not."""
    checks = {"database": _timed(_database), "broker": _timed(_broker)}
    data = {name: c.model_dump() for name, c in checks.items()}
    if all(c.ok for c in checks.values()):
        return JSONResponse({"status": "ok", "checks": data})
    down = ", ".join(name for name, c in checks.items() if not c.ok)
    return problem(
        503,
        slug="unavailable",
        detail=f"not answering: {down}",
        instance="/healthz",
        status_text="down",
        checks=data,
        headers={"Retry-After": "5"},
    )


@root.get(
    "/problems/{slug}",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}, **problem_responses(404)},
)
def problem_type(slug: Annotated[str, Path(max_length=40, pattern=r"^[a-z-]+$")]):
    """What a problem `type` means."""
    if slug not in PROBLEM_TYPES:
        return JSONResponse(
            {"type": "about:blank", "title": "Not Found", "status": 404},
            status_code=404,
            media_type=PROBLEM_JSON,
        )
    title, explanation = PROBLEM_TYPES[slug]
    return HTMLResponse(
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
        f"<h1>{title}</h1><p>{explanation}</p></html>"
    )
