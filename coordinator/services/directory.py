"""Use cases for the network's directory, one function per action: list, create, change and
remove cities, delegates and working groups (the API's CRUD; the network file's import stays
in :mod:`coordinator.services.network`).

Every function takes ``network_id``: the network the caller is limited to (``None`` for every
network). A resource of another network is reported as not found. Lists return
``(rows, total)`` for one page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from coordinator import timezones
from coordinator.db import Db, unit_of_work
from coordinator.errors import Conflict, NotFound, UserError
from coordinator.models import (
    City,
    Delegate,
    GroupMembership,
    Network,
    Presentation,
    WorkingGroup,
)


@dataclass(frozen=True)
class Page:
    limit: int = 50
    offset: int = 0


def paged(db: Db, query: Select, page: Page) -> tuple[list[Any], int]:
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(db.scalars(query.limit(page.limit).offset(page.offset)))
    return rows, total


def _scoped(query: Select, column, network_id: int | None) -> Select:
    return query if network_id is None else query.where(column == network_id)


def network_for_write(db: Db, network_id: int | None, slug: str | None) -> Network:
    """The network a new resource goes to: the caller's own, or the one named by ``slug``
    (needed when the caller may write to several and there is more than one)."""
    if network_id is not None:
        network = db.get(Network, network_id)
        if network is None or (slug and slug != network.slug):
            raise NotFound(f"network: no network {slug!r}")
        return network
    if slug:
        network = db.scalar(select(Network).where(Network.slug == slug))
        if network is None:
            raise NotFound(f"network: no network {slug!r}")
        return network
    networks = list(db.scalars(select(Network).order_by(Network.id).limit(2)))
    if len(networks) == 1:
        return networks[0]
    if not networks:
        raise UserError("network: no network yet; import a network file first")
    raise UserError("network: several networks share this installation; name one (its slug)")


def list_networks(db: Db, network_id: int | None) -> list[Network]:
    return list(db.scalars(_scoped(select(Network).order_by(Network.id), Network.id, network_id)))


def network_id_of_slug(db: Db, slug: str | None, network_id: int | None) -> int | None:
    """Narrow a list to the network ``slug`` (unknown or foreign slugs match nothing)."""
    if not slug:
        return network_id
    found = db.scalar(select(Network.id).where(Network.slug == slug))
    if found is None or (network_id is not None and found != network_id):
        return -1
    return found


def _zone(value: str, field: str = "zone") -> str:
    if value.strip().lower() == timezones.UNKNOWN_ZONE:
        return timezones.UNKNOWN_ZONE
    try:
        return timezones.canonical_zone(value)
    except timezones.UnknownZoneError as exc:
        raise UserError(f"{field}: {exc}") from None


# --- cities -------------------------------------------------------------------------------------


def get_city(db: Db, city_id: int, network_id: int | None) -> City:
    city = db.get(City, city_id)
    if city is None or (network_id is not None and city.network_id != network_id):
        raise NotFound(f"no city with id {city_id}")
    return city


def list_cities(
    db: Db,
    network_id: int | None,
    *,
    group_id: int | None = None,
    q: str | None = None,
    page: Page = Page(),
) -> tuple[list[City], int]:
    query = _scoped(select(City), City.network_id, network_id).options(selectinload(City.network))
    if group_id is not None:
        query = query.where(
            City.id.in_(select(GroupMembership.city_id).where(GroupMembership.group_id == group_id))
        )
    if q:
        like = f"%{q.strip().lower()}%"
        query = query.where(or_(func.lower(City.name).like(like), City.name_ja.like(f"%{q}%")))
    return paged(db, query.order_by(City.id), page)


def _check_city_name(db: Db, network_id: int, name: str, exclude: int | None = None) -> None:
    query = select(City.id).where(City.network_id == network_id, City.name == name)
    if exclude is not None:
        query = query.where(City.id != exclude)
    if db.scalar(query) is not None:
        raise Conflict(f"name: the network already has a city named {name!r}")


def create_city(db: Db, network: Network, values: dict[str, Any]) -> City:
    with unit_of_work(db):
        values = {**values, "zone": _zone(values["zone"])}
        values["country"] = values["country"].upper()
        _check_city_name(db, network.id, values["name"])
        city = City(network_id=network.id, **values)
        db.add(city)
        db.flush()
        return city


def update_city(db: Db, city_id: int, network_id: int | None, changes: dict[str, Any]) -> City:
    with unit_of_work(db):
        city = get_city(db, city_id, network_id)
        if "zone" in changes:
            changes["zone"] = _zone(changes["zone"])
        if "country" in changes:
            changes["country"] = changes["country"].upper()
        if "name" in changes:
            _check_city_name(db, city.network_id, changes["name"], exclude=city.id)
        for name, value in changes.items():
            setattr(city, name, value)
        db.flush()
        return city


def delete_city(db: Db, city_id: int, network_id: int | None) -> None:
    with unit_of_work(db):
        city = get_city(db, city_id, network_id)
        presenting = db.scalar(
            select(func.count()).select_from(Presentation).where(Presentation.city_id == city.id)
        )
        if presenting:
            raise Conflict(
                f"city {city.name!r} presents in {presenting} session(s); "
                "remove those presentations first"
            )
        db.delete(city)


# --- delegates ----------------------------------------------------------------------------------


def get_delegate(db: Db, delegate_id: int, network_id: int | None) -> Delegate:
    delegate = db.get(Delegate, delegate_id)
    if delegate is None or (network_id is not None and delegate.network_id != network_id):
        raise NotFound(f"no delegate with id {delegate_id}")
    return delegate


def list_delegates(
    db: Db,
    network_id: int | None,
    *,
    city_id: int | None = None,
    group_id: int | None = None,
    role: str | None = None,
    page: Page = Page(),
) -> tuple[list[Delegate], int]:
    query = _scoped(select(Delegate), Delegate.network_id, network_id).options(
        selectinload(Delegate.city).selectinload(City.network)
    )
    if city_id is not None:
        query = query.where(Delegate.city_id == city_id)
    if group_id is not None:
        query = query.where(
            Delegate.city_id.in_(
                select(GroupMembership.city_id).where(GroupMembership.group_id == group_id)
            )
        )
    if role:
        query = query.where(Delegate.role == role)
    return paged(db, query.order_by(Delegate.id), page)


def _check_email(db: Db, network_id: int, email: str, exclude: int | None = None) -> None:
    query = select(Delegate.id).where(Delegate.network_id == network_id, Delegate.email == email)
    if exclude is not None:
        query = query.where(Delegate.id != exclude)
    if db.scalar(query) is not None:
        raise Conflict(f"email: the network already has a delegate with {email!r}")


def _delegate_values(db: Db, network_id: int | None, values: dict[str, Any]) -> dict[str, Any]:
    if "city_id" in values:
        values["city_id"] = get_city(db, values["city_id"], network_id).id
    if values.get("email"):
        values["email"] = values["email"].strip().lower()
    if values.get("zone"):
        values["zone"] = _zone(values["zone"])
    return values


def create_delegate(db: Db, network_id: int | None, values: dict[str, Any]) -> Delegate:
    with unit_of_work(db):
        values = _delegate_values(db, network_id, dict(values))
        city = db.get(City, values["city_id"])
        assert city is not None
        _check_email(db, city.network_id, values["email"])
        delegate = Delegate(network_id=city.network_id, **values)
        db.add(delegate)
        db.flush()
        return delegate


def update_delegate(
    db: Db, delegate_id: int, network_id: int | None, changes: dict[str, Any]
) -> Delegate:
    with unit_of_work(db):
        delegate = get_delegate(db, delegate_id, network_id)
        changes = _delegate_values(db, delegate.network_id, dict(changes))
        if "email" in changes:
            _check_email(db, delegate.network_id, changes["email"], exclude=delegate.id)
        for name, value in changes.items():
            setattr(delegate, name, value)
        db.flush()
        db.refresh(delegate)
        return delegate


def delete_delegate(db: Db, delegate_id: int, network_id: int | None) -> None:
    with unit_of_work(db):
        db.delete(get_delegate(db, delegate_id, network_id))


# --- working groups -----------------------------------------------------------------------------


def get_group(db: Db, group_id: int, network_id: int | None) -> WorkingGroup:
    group = db.get(WorkingGroup, group_id)
    if group is None or (network_id is not None and group.network_id != network_id):
        raise NotFound(f"no working group with id {group_id}")
    return group


def list_groups(
    db: Db, network_id: int | None, *, city_id: int | None = None, page: Page = Page()
) -> tuple[list[WorkingGroup], int]:
    query = _scoped(select(WorkingGroup), WorkingGroup.network_id, network_id).options(
        selectinload(WorkingGroup.network),
        selectinload(WorkingGroup.memberships).selectinload(GroupMembership.city),
    )
    if city_id is not None:
        query = query.where(
            WorkingGroup.id.in_(
                select(GroupMembership.group_id).where(GroupMembership.city_id == city_id)
            )
        )
    return paged(db, query.order_by(WorkingGroup.id), page)


def _check_group_name(db: Db, network_id: int, name: str, exclude: int | None = None) -> None:
    query = select(WorkingGroup.id).where(
        WorkingGroup.network_id == network_id, WorkingGroup.name == name
    )
    if exclude is not None:
        query = query.where(WorkingGroup.id != exclude)
    if db.scalar(query) is not None:
        raise Conflict(f"name: the network already has a working group named {name!r}")


def _set_members(db: Db, group: WorkingGroup, members: list[int], observers: list[int]) -> None:
    overlap = set(members) & set(observers)
    if overlap:
        raise UserError(f"members/observers: city {sorted(overlap)[0]} is listed as both")
    wanted = [(c, "member") for c in dict.fromkeys(members)] + [
        (c, "observer") for c in dict.fromkeys(observers)
    ]
    cities = {}
    for city_id, _role in wanted:
        city = db.get(City, city_id)
        if city is None or city.network_id != group.network_id:
            raise UserError(f"members: no city with id {city_id} in this network")
        cities[city_id] = city
    group.memberships.clear()
    db.flush()
    group.memberships.extend(
        GroupMembership(city=cities[city_id], role=role) for city_id, role in wanted
    )


def create_group(
    db: Db,
    network: Network,
    values: dict[str, Any],
    members: list[int],
    observers: list[int],
) -> WorkingGroup:
    with unit_of_work(db):
        _check_group_name(db, network.id, values["name"])
        group = WorkingGroup(network_id=network.id, **values)
        db.add(group)
        db.flush()
        _set_members(db, group, members, observers)
        db.flush()
        return group


def update_group(
    db: Db,
    group_id: int,
    network_id: int | None,
    changes: dict[str, Any],
    members: list[int] | None = None,
    observers: list[int] | None = None,
) -> WorkingGroup:
    with unit_of_work(db):
        group = get_group(db, group_id, network_id)
        if "name" in changes:
            _check_group_name(db, group.network_id, changes["name"], exclude=group.id)
        for name, value in changes.items():
            setattr(group, name, value)
        if members is not None or observers is not None:
            current_members = [m.city_id for m in group.memberships if m.role == "member"]
            current_observers = [m.city_id for m in group.memberships if m.role == "observer"]
            _set_members(
                db,
                group,
                current_members if members is None else members,
                current_observers if observers is None else observers,
            )
        db.flush()
        return group


def delete_group(db: Db, group_id: int, network_id: int | None) -> None:
    with unit_of_work(db):
        group = get_group(db, group_id, network_id)
        if group.sessions:
            raise Conflict(
                f"working group {group.name!r} has {len(group.sessions)} session(s); "
                "it cannot be removed"
            )
        db.delete(group)
