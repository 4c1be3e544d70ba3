"""Version 1 of the HTTP API (``/api/v1``) and what it needs from the application.

:func:`install` adds to the FastAPI application: the v1 routers, ``/healthz``, the time grid
pages, problem documents for every error (:mod:`coordinator.api.problems`), the limit on JSON
bodies, and the state authentication keeps (the failed-authentication limiter, the key cache).
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

from coordinator.api import grid, problems
from coordinator.api.auth import ApiSettings, FailureLimiter, KeyCache, network_scope
from coordinator.api.v1 import (
    admin,
    cache,
    cities,
    delegates,
    feeds,
    groups,
    meta,
    networks,
    presentations,
    sessions,
)

PREFIX = "/api/v1"
ROUTERS = (
    meta,
    networks,
    cities,
    delegates,
    groups,
    sessions,
    presentations,
    feeds,
    admin,
)


def install(app: FastAPI, settings: ApiSettings | None = None) -> None:
    settings = settings or ApiSettings()
    app.state.auth_limiter = FailureLimiter(settings.auth_burst, settings.auth_refill_seconds)
    app.state.key_cache = KeyCache(settings.key_cache_seconds)
    app.state.session_pages = cache.SessionPages(settings.session_cache_seconds)
    cache.watch()
    scoped = [Depends(network_scope)]
    for module in ROUTERS:
        app.include_router(module.router, prefix=PREFIX, dependencies=scoped)
    app.include_router(meta.root)
    app.include_router(grid.router, dependencies=scoped)
    problems.install(app, body_limit=settings.body_limit)
    _problem_documents_in_schema(app)


def _problem_documents_in_schema(app: FastAPI) -> None:
    """Error answers are ``application/problem+json`` in the OpenAPI schema too: every error
    response of every operation is a :class:`~coordinator.api.problems.Problem`, and any other
    4xx an operation may give (a body over the limit, too many failed authentications…) is
    documented by a ``4XX`` entry."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        shapes = problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, shape in shapes.pop("$defs", {}).items():
            components.setdefault(name, shape)
        components["Problem"] = shapes
        content = {problems.PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.setdefault("responses", {})
                for status, response in responses.items():
                    if status[0] in "45":
                        response["content"] = dict(content)
                responses.setdefault(
                    "4XX", {"description": "A problem document", "content": dict(content)}
                )
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
