"""Rendered session pages, kept briefly: ``GET /api/v1/sessions/{id}`` is what every
organizer's and delegate's screen polls, and its answer changes only when the session, its
agenda, its group or the group's cities change.

Every ORM write in this process to one of those tables (a flush, or a bulk UPDATE/DELETE
through the ORM) moves a process-wide *generation* on, at the flush and again at the commit; a
page is served from the cache only while its generation is current and it is younger than the
time to live (``COORDINATOR_API_SESSION_CACHE_SECONDS``, 0 turns the cache off). A page renders
the data as of the generation read *before* loading it, so a write that commits meanwhile leaves
it stale-marked at once. Writes by other processes show within the time to live.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session as OrmSession

from coordinator.models import (
    City,
    Delegate,
    GroupMembership,
    Network,
    Presentation,
    Session,
    WorkingGroup,
)

WATCHED = (Network, City, Delegate, WorkingGroup, GroupMembership, Session, Presentation)
_TOUCHED = "coordinator.api.session_pages.touched"

_counter = itertools.count(1)
_generation = 0
_lock = threading.Lock()
_watching = False


def generation() -> int:
    return _generation


def bump() -> None:
    global _generation
    with _lock:
        _generation = next(_counter)


def _after_flush(session: OrmSession, _context) -> None:
    if any(isinstance(obj, WATCHED) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info[_TOUCHED] = True
        bump()


def _after_commit(session: OrmSession) -> None:
    if session.info.pop(_TOUCHED, False):
        bump()


def _after_rollback(session: OrmSession) -> None:
    session.info.pop(_TOUCHED, None)


def _orm_execute(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and any(
        isinstance(mapper.class_, type) and issubclass(mapper.class_, WATCHED)
        for mapper in state.all_mappers
    ):
        state.session.info[_TOUCHED] = True
        bump()


def watch() -> None:
    """Listen to every ORM session of this process (once)."""
    global _watching
    with _lock:
        if _watching:
            return
        _watching = True
    event.listen(OrmSession, "after_flush", _after_flush)
    event.listen(OrmSession, "after_commit", _after_commit)
    event.listen(OrmSession, "after_soft_rollback", lambda s, _t: _after_rollback(s))
    event.listen(OrmSession, "do_orm_execute", _orm_execute)


class SessionPages:
    """``(session id, base URL)`` → the rendered page and the network it belongs to."""

    def __init__(self, ttl: float, size: int = 2_000) -> None:
        self.ttl, self.size = ttl, size
        self._pages: dict[tuple[int, str], tuple[int, float, int, bytes]] = {}
        self._rendering: dict[tuple[int, str, int], asyncio.Future] = {}

    async def page(
        self, session_id: int, base: str, render: Callable[[], Awaitable[tuple[int, bytes]]]
    ) -> tuple[int, bytes]:
        """The cached page, or a new rendering; requests that miss together share one. With
        the cache off every request renders its own."""
        if self.ttl <= 0:
            return await render()
        page = self.get(session_id, base)
        if page is not None:
            return page
        made_at = _generation
        key = (session_id, base, made_at)
        pending = self._rendering.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self._rendering[key] = future
        try:
            page = await render()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            self._rendering.pop(key, None)
        future.set_result(page)
        self.put(session_id, base, made_at, *page)
        return page

    def get(self, session_id: int, base: str) -> tuple[int, bytes] | None:
        if self.ttl <= 0:
            return None
        page = self._pages.get((session_id, base))
        if page is None:
            return None
        made_at_generation, expires, network_id, body = page
        if made_at_generation != _generation or expires < time.monotonic():
            return None
        return network_id, body

    def put(self, session_id: int, base: str, made_at: int, network_id: int, body: bytes) -> None:
        if self.ttl <= 0 or made_at != _generation:
            return
        if len(self._pages) >= self.size:
            self._pages.clear()
        self._pages[(session_id, base)] = (made_at, time.monotonic() + self.ttl, network_id, body)
