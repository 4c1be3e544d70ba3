"""Delegates of the network's cities."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, StringConstraints

from coordinator.api.auth import DbDep, Organizer, Viewer
from coordinator.api.v1.common import (
    MAX_ID,
    READ_ERRORS,
    WRITE_ERRORS,
    Id,
    Name,
    PageDep,
    PageOf,
    Slug,
    ZoneName,
    id_query,
    refuse_nulls,
)
from coordinator.models import Delegate
from coordinator.services import directory

router = APIRouter(tags=["delegates"])

Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^@\s\x00]+@[^@\s\x00]+$"),
]
Language = Literal["en", "ja"]
Role = Literal["organizer", "presenter", "delegate"]


class DelegateIn(BaseModel):
    city_id: int = Field(ge=1, le=MAX_ID)
    name: Name
    email: Email
    language: Language = "en"
    role: Role = "delegate"
    zone: ZoneName | None = Field(None, description="Where the delegate is, if not in the city.")


class DelegatePatch(BaseModel):
    city_id: int | None = Field(None, ge=1, le=MAX_ID)
    name: Name | None = None
    email: Email | None = None
    language: Language | None = None
    role: Role | None = None
    zone: ZoneName | None = None


class DelegateOut(BaseModel):
    id: int
    network: str
    city_id: int
    city: str
    name: str
    email: str
    language: str
    role: str
    zone: str | None = Field(description="The delegate's own zone, when it is not the city's.")
    effective_zone: str


def delegate_out(d: Delegate) -> DelegateOut:
    return DelegateOut(
        id=d.id,
        network=d.city.network.slug,
        city_id=d.city_id,
        city=d.city.name,
        name=d.name,
        email=d.email,
        language=d.language,
        role=d.role,
        zone=d.zone,
        effective_zone=d.effective_zone,
    )


@router.get("/delegates", response_model=PageOf[DelegateOut], responses=READ_ERRORS)
def list_delegates(
    db: DbDep,
    who: Viewer,
    page: PageDep,
    network: Annotated[Slug | None, Query(description="A network's slug.")] = None,
    city: id_query("Only the delegates of this city.") = None,
    group: id_query("Only the delegates of this working group's cities.") = None,
    role: Role | None = None,
):
    """Delegates, filterable by network, city, working group and role."""
    scope = directory.network_id_of_slug(db, network, who.network_filter())
    rows, total = directory.list_delegates(
        db, scope, city_id=city, group_id=group, role=role, page=page
    )
    return PageOf[DelegateOut](
        items=[delegate_out(d) for d in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.post("/delegates", response_model=DelegateOut, status_code=201, responses=WRITE_ERRORS)
def create_delegate(body: DelegateIn, db: DbDep, who: Organizer):
    return delegate_out(directory.create_delegate(db, who.network_filter(), body.model_dump()))


@router.get("/delegates/{delegate_id}", response_model=DelegateOut, responses=READ_ERRORS)
def get_delegate(delegate_id: Id, db: DbDep, who: Viewer):
    return delegate_out(directory.get_delegate(db, delegate_id, who.network_filter()))


@router.patch("/delegates/{delegate_id}", response_model=DelegateOut, responses=WRITE_ERRORS)
def update_delegate(delegate_id: Id, body: DelegatePatch, db: DbDep, who: Organizer):
    changes = refuse_nulls(
        body.model_dump(exclude_unset=True), "city_id", "name", "email", "language", "role"
    )
    return delegate_out(directory.update_delegate(db, delegate_id, who.network_filter(), changes))


@router.delete("/delegates/{delegate_id}", status_code=204, responses=WRITE_ERRORS)
def delete_delegate(delegate_id: Id, db: DbDep, who: Organizer) -> Response:
    directory.delete_delegate(db, delegate_id, who.network_filter())
    return Response(status_code=204)
