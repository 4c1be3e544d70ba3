"""Shared pieces of the v1 routers: field types, pagination, reading times, writing times."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Path, Query
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from coordinator import timezones
from coordinator.api.problems import FieldProblem, problem_responses
from coordinator.services.directory import Page

T = TypeVar("T")

MAX_ID = 2**31 - 1
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL


def text(max_length: int, min_length: int = 1):
    """A trimmed string of ``min_length``..``max_length`` characters (no NUL)."""
    return Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=NO_NUL
        ),
    ]


Name = text(200)
Text16 = text(16)
Text200 = text(200)
Text300 = text(300)
Text500 = text(500)
Note = text(5000)


def _known_zone(value: str) -> str:
    if value.lower() == timezones.UNKNOWN_ZONE:
        return timezones.UNKNOWN_ZONE
    return _real_zone(value)


def _real_zone(value: str) -> str:
    try:
        return timezones.canonical_zone(value)
    except timezones.UnknownZoneError as exc:
        raise ValueError(str(exc)) from None


_ZONE_TEXT = StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=NO_NUL)
CityZone = Annotated[
    str,
    _ZONE_TEXT,
    AfterValidator(_known_zone),
    Field(description="An IANA time zone (`Asia/Tokyo`), or `unknown`.", examples=["Asia/Tokyo"]),
]
ZoneName = Annotated[
    str,
    _ZONE_TEXT,
    AfterValidator(_real_zone),
    Field(description="An IANA time zone, e.g. `Asia/Tokyo`.", examples=["Asia/Tokyo"]),
]

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Slug = Annotated[str, StringConstraints(max_length=64, pattern=NO_NUL)]


def refuse_nulls(changes: dict, *required: str) -> dict:
    """A PATCH may leave a required field out, not set it to null."""
    for name in required:
        if name in changes and changes[name] is None:
            raise FieldProblem(f"body.{name}", "may not be null")
    return changes


def id_query(description: str):
    return Annotated[int | None, Query(ge=1, le=MAX_ID, description=description)]


class PageOf(BaseModel, Generic[T]):
    """One page of a list: ``items`` from ``offset``, at most ``limit``, of ``total``."""

    items: list[T]
    total: int
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID, description="Items to skip.")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(page_params)]

READ_ERRORS = problem_responses(400, 401, 403, 404, 422, 429)
WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422, 429)


# --- times in requests --------------------------------------------------------------------------

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def resolve_zone(zone: str | None, field: str) -> str | None:
    if zone is None:
        return None
    try:
        return timezones.canonical_zone(zone)
    except timezones.UnknownZoneError as exc:
        raise FieldProblem(field, str(exc)) from None


def utc_instant(value: datetime, zone: str | None, field: str, zone_field: str) -> datetime:
    """A request's time as an aware UTC instant: with an offset as given; without one, as wall
    time in ``zone`` (a time the clocks skipped or repeated there is refused)."""
    if value.tzinfo is None or value.utcoffset() is None:
        name = resolve_zone(zone, zone_field)
        if name is None:
            raise FieldProblem(
                field, "give an offset (2023-10-03T11:00Z, …+09:00) or a zone for a local time"
            )
        if not EARLIEST.replace(tzinfo=None) <= value <= LATEST.replace(tzinfo=None):
            raise FieldProblem(field, "must be between the years 1900 and 2200")
        try:
            return timezones.to_utc(value, name)
        except ValueError as exc:  # nonexistent or ambiguous wall time
            raise FieldProblem(field, str(exc)) from None
    try:
        instant = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise FieldProblem(field, "must be between the years 1900 and 2200") from None
    if not EARLIEST <= instant <= LATEST:
        raise FieldProblem(field, "must be between the years 1900 and 2200")
    return instant


# --- times in responses -------------------------------------------------------------------------


def iso_z(instant: datetime | None) -> str | None:
    if instant is None:
        return None
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=65_536)
def local_span(zone: str, start: datetime, end: datetime) -> tuple[str, str, str] | None:
    """``(local_start, local_end, utc_offset)`` in ISO 8601 for a span in ``zone`` (cached:
    many cities share a zone, and the same session is read again and again); ``None`` for a
    zone that is not known."""
    if zone == timezones.UNKNOWN_ZONE:
        return None
    local_start = timezones.to_local(start, zone)
    local_end = timezones.to_local(end, zone)
    offset = local_start.utcoffset()
    assert offset is not None
    return (
        local_start.isoformat(timespec="seconds"),
        local_end.isoformat(timespec="seconds"),
        timezones.format_offset(offset),
    )
