"""Who is calling, and what they may do.

Credentials come as ``Authorization: Bearer …`` (or ``X-API-Key``), or for links as a
``?token=`` query parameter:

- an **API key** ``ck_…`` (see :mod:`coordinator.services.keys`): ``viewer`` reads its network,
  ``organizer`` reads and writes its network, ``admin`` does everything in every network and
  manages keys;
- a **link token** bound to one purpose and one resource, with an expiry: a presenter's
  ``upload`` link (a presentation; the submissions' stored, revocable token, valid until the
  materials deadline), a delegate's ``feed``/``rsvp`` link or a session's ``grid`` link
  (signed, see :mod:`coordinator.services.keys`). A link only opens the routes of its purpose,
  for its resource.

Resources of another network are answered 404, as if they did not exist. Failed
authentications are rate-limited per client address with an in-process token bucket: when a
client's bucket is empty every authenticated request from it gets 429 with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import bindparam, select

from coordinator.db import Db, new_session, session_scope
from coordinator.errors import NotFound, UserError
from coordinator.models import City, Delegate, Presentation, Session, WorkingGroup
from coordinator.services import keys, materials
from coordinator.submissions import tokens as upload_tokens

ROLE_RANK = {"viewer": 1, "organizer": 2, "admin": 3}
T = TypeVar("T")


class ApiSettings(BaseSettings):
    """``COORDINATOR_API_*``: limits of the HTTP API."""

    model_config = SettingsConfigDict(env_prefix="COORDINATOR_API_", extra="ignore")

    auth_burst: int = 10
    """Failed authentications a client may make before it is refused (429)."""
    auth_refill_seconds: float = 6.0
    """One more failed attempt is allowed every this many seconds."""
    body_limit: int = 1_048_576
    """Largest JSON request body accepted, in bytes (413 above)."""
    key_cache_seconds: float = 2.0
    """How long a verified API key is trusted without asking the database again (revoking
    a key through the API takes effect at once in that process; elsewhere within this)."""
    session_cache_seconds: float = 2.0
    """How long a rendered ``GET /api/v1/sessions/{id}`` may be served again. Any change this
    process makes to sessions, agendas, groups, cities or delegates drops it at once; a
    change made by another process (the CLI, another API worker) shows within this."""


# --- rate limiting of failed authentications ----------------------------------------------------


class FailureLimiter:
    """A token bucket per client address; only failed authentications take tokens."""

    def __init__(self, burst: int, refill_seconds: float, max_clients: int = 10_000) -> None:
        self.burst = max(1, burst)
        self.refill = max(refill_seconds, 1e-6)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _level(self, client: str, now: float) -> float:
        tokens, then = self._buckets.get(client, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - then) / self.refill)

    def retry_after(self, client: str) -> int | None:
        """Seconds to wait if ``client`` has no attempt left, else ``None``."""
        with self._lock:
            if client not in self._buckets:
                return None
            level = self._level(client, time.monotonic())
        if level >= 1.0:
            return None
        return max(1, math.ceil((1.0 - level) * self.refill))

    def failed(self, client: str) -> None:
        with self._lock:
            now = time.monotonic()
            level = self._level(client, now)
            self._buckets[client] = (max(0.0, level - 1.0), now)
            self._buckets.move_to_end(client)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)


# --- principals ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    kind: str  # "key", "link" or "anonymous"
    role: str | None = None  # for keys
    network_id: int | None = None  # for keys bound to a network
    key_id: int | None = None
    link: keys.Link | None = None

    @property
    def rank(self) -> int:
        return ROLE_RANK.get(self.role or "", 0)

    def sees_network(self, network_id: int) -> bool:
        """True if this key may see the network (admins see all)."""
        return self.kind == "key" and (self.network_id is None or self.network_id == network_id)

    def network_filter(self) -> int | None:
        """The network id queries must be limited to (``None``: every network)."""
        return self.network_id


ANONYMOUS = Principal("anonymous")


class KeyCache:
    """Verified keys for a short while (the benchmarked read should not pay a query for it)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, keys.KeyIdentity]] = {}
        self._lock = threading.Lock()

    def get(self, secret: str) -> keys.KeyIdentity | None:
        if self.ttl <= 0:
            return None
        entry = self._entries.get(_fingerprint(secret))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, secret: str, identity: keys.KeyIdentity) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[_fingerprint(secret)] = (time.monotonic() + self.ttl, identity)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


async def get_db() -> AsyncIterator[Db]:
    """A database session for the request. Opening one costs nothing until it is used; it is
    closed afterwards (in a worker thread if it holds a connection)."""
    db = new_session()
    try:
        yield db
    finally:
        if db.in_transaction():
            await run_in_threadpool(db.close)
        else:
            db.close()


DbDep = Annotated[Db, Depends(get_db)]


def _with_db(function: Callable[..., T], *args) -> T:
    with session_scope() as db:
        return function(db, *args)


async def in_db(function: Callable[..., T], *args) -> T:
    """``function(db, *args)`` in a worker thread with a database session of its own, closed
    (its connection back in the pool) as soon as it returns."""
    return await run_in_threadpool(_with_db, function, *args)


def _credential(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return header.strip() or None
    value = request.headers.get("x-api-key") or request.query_params.get("token")
    return value.strip() if value and value.strip() else None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _unauthenticated(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": 'Bearer realm="api"'})


async def authenticate(request: Request) -> Principal:
    """The caller (anonymous when no credential is sent). A wrong credential is 401, and
    counts against the client's allowance of failures (429 when it is used up)."""
    known = getattr(request.state, "principal", None)
    if known is not None:  # already authenticated for this request
        return known
    principal = await _authenticate(request)
    request.state.principal = principal
    return principal


async def _authenticate(request: Request) -> Principal:
    secret = _credential(request)
    if secret is None:
        return ANONYMOUS
    state = request.app.state
    limiter: FailureLimiter = state.auth_limiter
    client = client_address(request)
    wait = limiter.retry_after(client)
    if wait is not None:
        raise HTTPException(
            429,
            detail=f"too many failed authentications from {client}; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    if secret.startswith(keys.KEY_PREFIX + "_"):
        cache: KeyCache = state.key_cache
        identity = cache.get(secret)
        if identity is None:
            identity = await in_db(keys.verify_key, secret)
            if identity is not None:
                cache.put(secret, identity)
        if identity is not None:
            return Principal("key", identity.role, identity.network_id, identity.id)
    elif upload_tokens.read(secret) is not None:
        link = await in_db(_upload_link, secret)
        if link is not None:
            return Principal("link", link=link)
    else:
        link = keys.verify_link(secret)
        if link is not None:
            return Principal("link", link=link)
    limiter.failed(client)
    raise _unauthenticated("the credential is not valid (unknown, revoked or expired)")


def _upload_link(db: Db, token: str) -> keys.Link | None:
    """A presenter's upload link as a link principal (if it is current)."""
    try:
        grant = materials.authorize_upload(db, token)
    except UserError:
        return None
    return keys.Link("upload", "presentation", grant.presentation_id, grant.deadline)


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def check_role(principal: Principal, role: str) -> Principal:
    """The principal if it is an API key of at least ``role``; else 401 or 403."""
    if principal.kind == "anonymous":
        raise _unauthenticated("this needs an API key: Authorization: Bearer ck_…")
    if principal.kind != "key" or principal.rank < ROLE_RANK[role]:
        raise HTTPException(403, detail=f"this needs an API key with the {role} role")
    return principal


def require(role: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: an API key of at least ``role``."""
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")

    async def dependency(principal: PrincipalDep) -> Principal:
        return check_role(principal, role)

    return dependency


def require_key_or_link(role: str, purpose: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: an API key of at least ``role``, or a link for ``purpose`` (the route
    checks the link's resource with :func:`check_link`)."""

    async def dependency(principal: PrincipalDep) -> Principal:
        if principal.kind == "link":
            if principal.link is None or principal.link.purpose != purpose:
                raise HTTPException(403, detail=f"this link is not for {purpose}")
            return principal
        if principal.kind == "anonymous":
            raise _unauthenticated(f"this needs an API key or a {purpose} link")
        return check_role(principal, role)

    return dependency


def check_link(principal: Principal, resource: str, resource_id: int) -> None:
    """A link principal may only act on the resource its link names."""
    if principal.kind == "link":
        link = principal.link
        if link is None or link.resource != resource or link.resource_id != resource_id:
            raise HTTPException(403, detail=f"this link is not for {resource} {resource_id}")


def check_network(principal: Principal, network_id: int, what: str) -> None:
    """Resources of another network do not exist for a key bound to a network (404)."""
    if principal.kind == "key" and not principal.sees_network(network_id):
        raise NotFound(f"no {what}")


# Path parameters naming a resource -> how to find the network it belongs to.
_NETWORK_OF = {
    "city_id": lambda: select(City.network_id).where(City.id == bindparam("id")),
    "delegate_id": lambda: select(Delegate.network_id).where(Delegate.id == bindparam("id")),
    "group_id": lambda: select(WorkingGroup.network_id).where(WorkingGroup.id == bindparam("id")),
    "session_id": lambda: (
        select(WorkingGroup.network_id)
        .join(Session, Session.group_id == WorkingGroup.id)
        .where(Session.id == bindparam("id"))
    ),
    "presentation_id": lambda: (
        select(WorkingGroup.network_id)
        .join(Session, Session.group_id == WorkingGroup.id)
        .join(Presentation, Presentation.session_id == Session.id)
        .where(Presentation.id == bindparam("id"))
    ),
}
_NETWORK_QUERIES = {name: build() for name, build in _NETWORK_OF.items()}
_ID = re.compile(r"[0-9]{1,10}")  # ASCII digits only ("¹".isdigit() is true)


class OwnerCache:
    """Which network a resource belongs to (it never changes), remembered for a while."""

    def __init__(self, ttl: float = 60.0, size: int = 100_000) -> None:
        self.ttl, self.size = ttl, size
        self._entries: dict[tuple[str, int], tuple[float, int | None]] = {}

    def get(self, key: tuple[str, int]) -> tuple[bool, int | None]:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, key: tuple[str, int], owner: int | None) -> None:
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, owner)


_owners = OwnerCache()


def _owner(db: Db, name: str, value: int) -> int | None:
    return db.scalar(_NETWORK_QUERIES[name], {"id": value})


async def network_scope(request: Request) -> None:
    """A router dependency: for a key bound to a network, a resource of another network named
    in the path does not exist (404), before anything else about the request is looked at."""
    named = [
        (name, int(value))
        for name, value in request.path_params.items()
        if name in _NETWORK_QUERIES and _ID.fullmatch(str(value)) and int(value) <= 2**31 - 1
    ]
    if not named:
        return
    principal = await authenticate(request)
    if principal.kind != "key" or principal.network_id is None:
        return
    for name, value in named:
        known, owner = _owners.get((name, value))
        if not known:
            owner = await in_db(_owner, name, value)
            if owner is not None:  # a missing resource may appear: not remembered
                _owners.put((name, value), owner)
        if owner is not None and owner != principal.network_id:
            raise NotFound(f"no such resource: {request.url.path}")


Viewer = Annotated[Principal, Depends(require("viewer"))]
Organizer = Annotated[Principal, Depends(require("organizer"))]
Admin = Annotated[Principal, Depends(require("admin"))]
