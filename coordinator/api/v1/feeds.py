"""Calendar feeds (iCalendar, subscribable as ``webcal://``) per delegate, city and working
group, each behind an unguessable token that can be rotated; and delegate links."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from coordinator.api.auth import (
    DbDep,
    Organizer,
    Principal,
    check_link,
    require_key_or_link,
)
from coordinator.api.problems import problem_responses
from coordinator.api.v1.common import WRITE_ERRORS, Id, iso_z
from coordinator.api.v1.sessions import LinkOut, base_url
from coordinator.errors import NotFound
from coordinator.services import directory, invitations, keys
from coordinator.services import sessions as service

router = APIRouter(tags=["calendar feeds"])

CALENDAR = "text/calendar; charset=utf-8"


class FeedOut(BaseModel):
    scope: str
    subject_id: int
    url: str = Field(description="The feed over HTTPS/HTTP; the previous address stops working.")
    webcal_url: str = Field(description="The same feed for calendar apps (`webcal://`).")


def feed_out(request: Request, scope: str, subject_id: int, token: str) -> FeedOut:
    url = f"{base_url(request)}/api/v1/feeds/{token}.ics"
    webcal = "webcal://" + url.split("://", 1)[1]
    return FeedOut(scope=scope, subject_id=subject_id, url=url, webcal_url=webcal)


FeedKeyOrLink = Annotated[Principal, Depends(require_key_or_link("organizer", "feed"))]


@router.post("/delegates/{delegate_id}/feed", response_model=FeedOut, responses=WRITE_ERRORS)
def rotate_delegate_feed(delegate_id: Id, db: DbDep, who: FeedKeyOrLink, request: Request):
    """Issue the delegate's feed address, replacing the previous one (which stops working).
    Open to organizers, and to the delegate with their `feed` link."""
    check_link(who, "delegate", delegate_id)
    directory.get_delegate(db, delegate_id, who.network_filter())
    token = keys.issue_feed_token(db, "delegate", delegate_id)
    return feed_out(request, "delegate", delegate_id, token)


@router.post("/cities/{city_id}/feed", response_model=FeedOut, responses=WRITE_ERRORS)
def rotate_city_feed(city_id: Id, db: DbDep, who: Organizer, request: Request):
    """Issue the city's feed address (every session of its groups), replacing the previous."""
    directory.get_city(db, city_id, who.network_filter())
    return feed_out(request, "city", city_id, keys.issue_feed_token(db, "city", city_id))


@router.post("/groups/{group_id}/feed", response_model=FeedOut, responses=WRITE_ERRORS)
def rotate_group_feed(group_id: Id, db: DbDep, who: Organizer, request: Request):
    """Issue the working group's feed address, replacing the previous."""
    directory.get_group(db, group_id, who.network_filter())
    return feed_out(request, "group", group_id, keys.issue_feed_token(db, "group", group_id))


@router.get(
    "/feeds/{token}.ics",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {"schema": {"type": "string"}}}},
        **problem_responses(404, 429),
    },
)
def calendar_feed(
    token: Annotated[str, Path(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")], db: DbDep
) -> Response:
    """A calendar feed (METHOD:PUBLISH): the published sessions, cancelled ones marked
    cancelled. The token is the credential; subscribe with the `webcal://` address."""
    feed = keys.find_feed(db, token)
    if feed is None:
        raise NotFound("no such feed (the address may have been replaced)")
    name, language, sessions = service.feed_sessions(db, feed)
    data = invitations.feed_calendar(sessions, name, language)
    return Response(
        data,
        media_type=CALENDAR,
        headers={
            "Content-Disposition": 'inline; filename="coordinator.ics"',
            "Cache-Control": "private, max-age=300",
        },
    )


class DelegateLinkIn(BaseModel):
    purpose: Literal["feed", "rsvp"] = Field(
        description="`feed`: rotate their own feed address; `rsvp`: answer invites."
    )
    expires_in_days: int = Field(30, ge=1, le=366)


@router.post(
    "/delegates/{delegate_id}/links",
    response_model=LinkOut,
    status_code=201,
    responses=WRITE_ERRORS,
)
def delegate_link(delegate_id: Id, body: DelegateLinkIn, db: DbDep, who: Organizer):
    """A signed link for one delegate and one purpose, with an expiry (nothing is stored)."""
    directory.get_delegate(db, delegate_id, who.network_filter())
    token, expires = keys.sign_link(
        body.purpose, "delegate", delegate_id, expires_in=timedelta(days=body.expires_in_days)
    )
    return LinkOut(url=None, token=token, expires_at=iso_z(expires))
