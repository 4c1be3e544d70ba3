"""Use cases for sessions and their agendas as the API offers them: create a session, list
sessions and presentations, read one session with everything it shows in one round of queries,
follow a session's outbox, and serve calendar feeds. (Finding and fixing times is in
:mod:`coordinator.services.planning`; publishing, moving and cancelling in the invitations
service.)

``network_id`` limits every function to one network (``None``: every network); a resource of
another network is reported as not found.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from coordinator.db import Db, unit_of_work
from coordinator.errors import NotFound, UserError
from coordinator.models import (
    City,
    Delegate,
    FeedToken,
    GroupMembership,
    Network,
    OutboxMessage,
    Presentation,
    Session,
    WorkingGroup,
)
from coordinator.services.directory import Page, get_group, paged
from coordinator.services.planning import MAX_WINDOW


def _session_query(network_id: int | None):
    query = select(Session).join(Session.group)
    if network_id is not None:
        query = query.where(WorkingGroup.network_id == network_id)
    return query


def get_session(db: Db, session_id: int, network_id: int | None) -> Session:
    session = db.get(Session, session_id)
    if session is None or (network_id is not None and session.group.network_id != network_id):
        raise NotFound(f"no session with id {session_id}")
    return session


@dataclass(frozen=True)
class SessionView:
    """A session as its page shows it, read with three queries into plain rows (no ORM
    objects): the session with its group and network, the group's cities in order, and the
    agenda in order with each presentation's city and presenter."""

    session: Any  # a Row: the session's columns, group_name, group_name_ja, network_id, …
    cities: list[Any]  # Rows: role, id, name, name_ja, zone, country, subdivision
    agenda: list[Any]  # Rows: the presentation's columns, city_name, city_name_ja, presenter

    @property
    def end_utc(self) -> datetime | None:
        start = self.session.start_utc
        return None if start is None else start + timedelta(minutes=self.session.duration_minutes)


def session_view(db: Db, session_id: int, network_id: int | None) -> SessionView:
    query = (
        select(
            Session.id,
            Session.group_id,
            Session.title,
            Session.title_ja,
            Session.status,
            Session.sequence,
            Session.published_at,
            Session.start_utc,
            Session.duration_minutes,
            Session.window_start,
            Session.window_end,
            Session.meeting_url,
            Session.note,
            WorkingGroup.name.label("group_name"),
            WorkingGroup.name_ja.label("group_name_ja"),
            WorkingGroup.network_id,
            Network.slug.label("network_slug"),
            Network.meeting_url.label("network_meeting_url"),
        )
        .join(WorkingGroup, WorkingGroup.id == Session.group_id)
        .join(Network, Network.id == WorkingGroup.network_id)
        .where(Session.id == session_id)
    )
    if network_id is not None:
        query = query.where(WorkingGroup.network_id == network_id)
    row = db.execute(query).first()
    if row is None:
        raise NotFound(f"no session with id {session_id}")
    cities = db.execute(
        select(
            GroupMembership.role,
            City.id,
            City.name,
            City.name_ja,
            City.zone,
            City.country,
            City.subdivision,
        )
        .join(City, City.id == GroupMembership.city_id)
        .where(GroupMembership.group_id == row.group_id)
        .order_by(GroupMembership.id)
    ).all()
    agenda = db.execute(
        select(
            Presentation.id,
            Presentation.position,
            Presentation.city_id,
            City.name.label("city_name"),
            City.name_ja.label("city_name_ja"),
            Presentation.body,
            Presentation.body_ja,
            Presentation.title,
            Presentation.title_ja,
            Presentation.presenter_id,
            Delegate.name.label("presenter"),
        )
        .join(City, City.id == Presentation.city_id)
        .outerjoin(Delegate, Delegate.id == Presentation.presenter_id)
        .where(Presentation.session_id == session_id)
        .order_by(Presentation.position)
    ).all()
    return SessionView(row, cities, agenda)


def list_sessions(
    db: Db,
    network_id: int | None,
    *,
    group_id: int | None = None,
    city_id: int | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    page: Page = Page(),
) -> tuple[list[Session], int]:
    """Sessions by start (drafts by their window). ``start``/``end``: sessions that start in
    ``[start, end)``, and drafts whose window overlaps it."""
    query = _session_query(network_id).options(selectinload(Session.group))
    if group_id is not None:
        query = query.where(Session.group_id == group_id)
    if city_id is not None:
        query = query.where(
            Session.group_id.in_(
                select(GroupMembership.group_id).where(GroupMembership.city_id == city_id)
            )
        )
    if status:
        query = query.where(Session.status == status)
    if start is not None:
        query = query.where(
            or_(
                and_(Session.start_utc.is_(None), Session.window_end > start),
                Session.start_utc >= start,
            )
        )
    if end is not None:
        query = query.where(func.coalesce(Session.start_utc, Session.window_start) < end)
    order = (func.coalesce(Session.start_utc, Session.window_start), Session.id)
    return paged(db, query.order_by(*order), page)


def create_session(
    db: Db,
    network_id: int | None,
    *,
    group_id: int,
    title: str,
    title_ja: str | None,
    window_start: datetime,
    window_end: datetime,
    duration_minutes: int,
    meeting_url: str | None = None,
    note: str | None = None,
) -> Session:
    """A draft session of a working group, to be planned within its window."""
    with unit_of_work(db):
        group = get_group(db, group_id, network_id)
        if window_end <= window_start:
            raise UserError("window_end: must be after window_start")
        if window_end - window_start > MAX_WINDOW:
            raise UserError(
                f"window_end: the window is {(window_end - window_start).days} days; at most 366"
            )
        if timedelta(minutes=duration_minutes) > window_end - window_start:
            raise UserError("duration_minutes: longer than the window")
        session = Session(
            group_id=group.id,
            title=title,
            title_ja=title_ja,
            window_start=window_start,
            window_end=window_end,
            duration_minutes=duration_minutes,
            status="draft",
            sequence=0,
            uid=f"{uuid.uuid4().hex}@{group.network.slug}.coordinator",
            meeting_url=meeting_url,
            note=note,
        )
        db.add(session)
        db.flush()
        return session


# --- presentations ------------------------------------------------------------------------------


def list_presentations(
    db: Db,
    network_id: int | None,
    *,
    session_id: int | None = None,
    city_id: int | None = None,
    group_id: int | None = None,
    page: Page = Page(),
) -> tuple[list[Presentation], int]:
    query = (
        select(Presentation)
        .join(Presentation.session)
        .join(Session.group)
        .options(selectinload(Presentation.city), selectinload(Presentation.presenter))
    )
    if network_id is not None:
        query = query.where(WorkingGroup.network_id == network_id)
    if session_id is not None:
        query = query.where(Presentation.session_id == session_id)
    if city_id is not None:
        query = query.where(Presentation.city_id == city_id)
    if group_id is not None:
        query = query.where(Session.group_id == group_id)
    return paged(db, query.order_by(Presentation.session_id, Presentation.position), page)


def get_presentation(db: Db, presentation_id: int, network_id: int | None) -> Presentation:
    presentation = db.get(Presentation, presentation_id)
    if presentation is None or (
        network_id is not None and presentation.session.group.network_id != network_id
    ):
        raise NotFound(f"no presentation with id {presentation_id}")
    return presentation


# --- a session's outbox -------------------------------------------------------------------------


def session_outbox(
    db: Db, session_id: int, network_id: int | None, *, page: Page = Page()
) -> tuple[list[OutboxMessage], int]:
    get_session(db, session_id, network_id)
    query = select(OutboxMessage).where(OutboxMessage.session_id == session_id)
    return paged(db, query.order_by(OutboxMessage.due_at, OutboxMessage.id), page)


def outbox_counts(db: Db, session_id: int) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for kind, status, n in db.execute(
        select(OutboxMessage.kind, OutboxMessage.status, func.count())
        .where(OutboxMessage.session_id == session_id)
        .group_by(OutboxMessage.kind, OutboxMessage.status)
    ):
        counts.setdefault(kind, {})[status] = n
    return counts


# --- calendar feeds -----------------------------------------------------------------------------


def feed_sessions(db: Db, feed: FeedToken) -> tuple[str, str, list[Session]]:
    """``(name, language, sessions)`` of a feed: the sessions of the delegate's city's groups,
    the city's groups, or the group, that a calendar shows (published, with a start; cancelled
    ones kept so that clients remove them), loaded for
    :func:`coordinator.services.invitations.feed_calendar`."""
    language = "en"
    if feed.delegate_id is not None:
        delegate = db.get(Delegate, feed.delegate_id)
        assert delegate is not None
        city_id, language = delegate.city_id, delegate.language or "en"
        name = f"{delegate.city.network.name}: {delegate.name}"
        groups = select(GroupMembership.group_id).where(GroupMembership.city_id == city_id)
    elif feed.city_id is not None:
        city = db.get(City, feed.city_id)
        assert city is not None
        name = f"{city.network.name}: {city.name}"
        groups = select(GroupMembership.group_id).where(GroupMembership.city_id == city.id)
    else:
        group = db.get(WorkingGroup, feed.group_id)
        assert group is not None
        name = f"{group.network.name}: {group.name}"
        groups = select(WorkingGroup.id).where(WorkingGroup.id == group.id)
    sessions = list(
        db.scalars(
            select(Session)
            .where(
                Session.group_id.in_(groups),
                Session.published_at.is_not(None),
                Session.start_utc.is_not(None),
            )
            .order_by(Session.start_utc, Session.id)
            .options(
                selectinload(Session.group).selectinload(WorkingGroup.network),
                selectinload(Session.group)
                .selectinload(WorkingGroup.memberships)
                .selectinload(GroupMembership.city)
                .selectinload(City.delegates),
                selectinload(Session.presentations).selectinload(Presentation.city),
                selectinload(Session.presentations).selectinload(Presentation.presenter),
            )
        )
    )
    return name, language, sessions
