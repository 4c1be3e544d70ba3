"""Working groups and their member and observer cities."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

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
    Text200,
    id_query,
    refuse_nulls,
)
from coordinator.models import WorkingGroup
from coordinator.services import directory

router = APIRouter(tags=["working groups"])

CityIds = Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Field(max_length=500)]


class GroupIn(BaseModel):
    network: Slug | None = Field(None, description="The network's slug (keys that see several).")
    name: Name
    name_ja: Text200 | None = None
    theme: Text200 | None = None
    theme_ja: Text200 | None = None
    members: CityIds = Field(default_factory=list, description="Presenting cities (ids).")
    observers: CityIds = Field(default_factory=list, description="Observer cities (ids).")


class GroupPatch(BaseModel):
    name: Name | None = None
    name_ja: Text200 | None = None
    theme: Text200 | None = None
    theme_ja: Text200 | None = None
    members: CityIds | None = None
    observers: CityIds | None = None


class MemberOut(BaseModel):
    city_id: int
    city: str
    city_ja: str | None
    role: str


class GroupOut(BaseModel):
    id: int
    network: str
    name: str
    name_ja: str | None
    theme: str | None
    theme_ja: str | None
    cities: list[MemberOut]


def group_out(g: WorkingGroup) -> GroupOut:
    return GroupOut(
        id=g.id,
        network=g.network.slug,
        name=g.name,
        name_ja=g.name_ja,
        theme=g.theme,
        theme_ja=g.theme_ja,
        cities=[
            MemberOut(city_id=m.city_id, city=m.city.name, city_ja=m.city.name_ja, role=m.role)
            for m in g.memberships
        ],
    )


@router.get("/groups", response_model=PageOf[GroupOut], responses=READ_ERRORS)
def list_groups(
    db: DbDep,
    who: Viewer,
    page: PageDep,
    network: Annotated[Slug | None, Query(description="A network's slug.")] = None,
    city: id_query("Only the groups this city belongs to.") = None,
):
    """Working groups, filterable by network and city."""
    scope = directory.network_id_of_slug(db, network, who.network_filter())
    rows, total = directory.list_groups(db, scope, city_id=city, page=page)
    return PageOf[GroupOut](
        items=[group_out(g) for g in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.post("/groups", response_model=GroupOut, status_code=201, responses=WRITE_ERRORS)
def create_group(body: GroupIn, db: DbDep, who: Organizer):
    network = directory.network_for_write(db, who.network_filter(), body.network)
    values = body.model_dump(exclude={"network", "members", "observers"})
    group = directory.create_group(db, network, values, body.members, body.observers)
    return group_out(group)


@router.get("/groups/{group_id}", response_model=GroupOut, responses=READ_ERRORS)
def get_group(group_id: Id, db: DbDep, who: Viewer):
    return group_out(directory.get_group(db, group_id, who.network_filter()))


@router.patch("/groups/{group_id}", response_model=GroupOut, responses=WRITE_ERRORS)
def update_group(group_id: Id, body: GroupPatch, db: DbDep, who: Organizer):
    changes = refuse_nulls(body.model_dump(exclude_unset=True), "name", "members", "observers")
    members, observers = changes.pop("members", None), changes.pop("observers", None)
    group = directory.update_group(db, group_id, who.network_filter(), changes, members, observers)
    return group_out(group)


@router.delete("/groups/{group_id}", status_code=204, responses=WRITE_ERRORS)
def delete_group(group_id: Id, db: DbDep, who: Organizer) -> Response:
    directory.delete_group(db, group_id, who.network_filter())
    return Response(status_code=204)
