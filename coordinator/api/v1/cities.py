"""Cities of a network."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from coordinator.api.auth import DbDep, Organizer, Viewer
from coordinator.api.v1.common import (
    NO_NUL,
    READ_ERRORS,
    WRITE_ERRORS,
    CityZone,
    Id,
    Name,
    PageDep,
    PageOf,
    Slug,
    Text16,
    Text200,
    id_query,
    refuse_nulls,
)
from coordinator.models import City
from coordinator.services import directory

router = APIRouter(tags=["cities"])

Country = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2.")]


class CityIn(BaseModel):
    network: Slug | None = Field(
        None, description="The network's slug (needed only by keys that see several)."
    )
    name: Name
    name_ja: Text200 | None = None
    aliases: list[Text200] = Field(default_factory=list, max_length=20)
    country: Country
    subdivision: Text16 | None = None
    zone: CityZone


class CityPatch(BaseModel):
    name: Name | None = None
    name_ja: Text200 | None = None
    aliases: list[Text200] | None = Field(None, max_length=20)
    country: Country | None = None
    subdivision: Text16 | None = None
    zone: CityZone | None = None


class CityOut(BaseModel):
    id: int
    network: str
    name: str
    name_ja: str | None
    aliases: list[str]
    country: str
    subdivision: str | None
    zone: str


def city_out(city: City) -> CityOut:
    return CityOut(
        id=city.id,
        network=city.network.slug,
        name=city.name,
        name_ja=city.name_ja,
        aliases=list(city.aliases or []),
        country=city.country,
        subdivision=city.subdivision,
        zone=city.zone,
    )


@router.get("/cities", response_model=PageOf[CityOut], responses=READ_ERRORS)
def list_cities(
    db: DbDep,
    who: Viewer,
    page: PageDep,
    network: Annotated[Slug | None, Query(description="A network's slug.")] = None,
    group: id_query("Only the cities of this working group.") = None,
    q: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
):
    """Cities, filterable by network, working group and name (English or Japanese)."""
    scope = directory.network_id_of_slug(db, network, who.network_filter())
    rows, total = directory.list_cities(db, scope, group_id=group, q=q, page=page)
    return PageOf[CityOut](
        items=[city_out(c) for c in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.post("/cities", response_model=CityOut, status_code=201, responses=WRITE_ERRORS)
def create_city(body: CityIn, db: DbDep, who: Organizer):
    network = directory.network_for_write(db, who.network_filter(), body.network)
    values = body.model_dump(exclude={"network"})
    return city_out(directory.create_city(db, network, values))


@router.get("/cities/{city_id}", response_model=CityOut, responses=READ_ERRORS)
def get_city(city_id: Id, db: DbDep, who: Viewer):
    return city_out(directory.get_city(db, city_id, who.network_filter()))


@router.patch("/cities/{city_id}", response_model=CityOut, responses=WRITE_ERRORS)
def update_city(city_id: Id, body: CityPatch, db: DbDep, who: Organizer):
    changes = refuse_nulls(
        body.model_dump(exclude_unset=True), "name", "country", "zone", "aliases"
    )
    return city_out(directory.update_city(db, city_id, who.network_filter(), changes))


@router.delete("/cities/{city_id}", status_code=204, responses=WRITE_ERRORS)
def delete_city(city_id: Id, db: DbDep, who: Organizer) -> Response:
    directory.delete_city(db, city_id, who.network_filter())
    return Response(status_code=204)
