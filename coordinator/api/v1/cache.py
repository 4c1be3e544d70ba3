"""Rendered session pages, kept briefly: ``GET /api/v1/sessions/{id}`` is what every
organizer's and delegate's screen polls, and its answer changes only when the session, its
agenda, its group or the group's cities change.

Every ORM write in this process to one of those tables (a flush, or a bulk UPDATE/DELETE
through the ORM) moves a process-wide *generation* on, at the flush and again at the commit; a
page is served from the cache only while its generation is current and it is younger than the
time to live (``COORDINATOR_API_SESSION_CACHE_SECONDS``, 0 turns the cache off); an older page
of the current generation is served while one request renders it again. A page renders the data
as of the generation read *before* loading it, so a write that commits meanwhile leaves it
stale-marked at once. Writes by other processes show within about the time to live.
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
        self._background: set[asyncio.Future] = set()

    async def page(
        self, session_id: int, base: str, render: Callable[[], Awaitable[tuple[int, bytes]]]
    ) -> tuple[int, bytes]:
        """The cached page, or a new rendering; requests that miss together share one. A page
        that is only older than the time to live (no write since) is served once more while
        one request renders it again in the background. With the cache off every request
        renders its own."""
        if self.ttl <= 0:
            return await render()
        entry = self._pages.get((session_id, base))
        if entry is not None and entry[0] == _generation:
            if entry[1] < time.monotonic():
                self._refresh(session_id, base, render)
            return entry[2], entry[3]
        return await self._render_once(session_id, base, render)

    def _refresh(self, session_id: int, base: str, render) -> None:
        if (session_id, base, _generation) in self._rendering:
            return
        task = asyncio.ensure_future(self._render_once(session_id, base, render))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # retrieved

    async def _render_once(self, session_id: int, base: str, render) -> tuple[int, bytes]:
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

    def put(self, session_id: int, base: str, made_at: int, network_id: int, body: bytes) -> None:
        if self.ttl <= 0 or made_at != _generation:
            return
        if len(self._pages) >= self.size:
            self._pages.clear()
        self._pages[(session_id, base)] = (made_at, time.monotonic() + self.ttl, network_id, body)
