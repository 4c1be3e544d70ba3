"""The frozen inputs of the invites package.

The service layer reads a session, its agenda, its cities and its delegates from the database and
freezes them into a :class:`SessionSnapshot`; everything in :mod:`coordinator.invites` is a pure
function of snapshots (no database, no clock, no network). Snapshots are immutable and hashable, so
a renderer can cache what it derived from one.

Every instant is an aware UTC ``datetime`` (the design's "one clock"); local wall time is derived
only for display, through :mod:`coordinator.timezones`.

:func:`snapshot_from_dict` turns the plain JSON shape (as used by test fixtures and benchmarks)
into a snapshot; it is the inverse of :func:`snapshot_to_dict`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

ROLES = frozenset({"CHAIR", "REQ-PARTICIPANT", "OPT-PARTICIPANT", "NON-PARTICIPANT"})
PARTSTATS = frozenset({"NEEDS-ACTION", "ACCEPTED", "DECLINED", "TENTATIVE", "DELEGATED"})
STATUSES = frozenset({"scheduled", "cancelled"})


def _require_utc(name: str, value: datetime | None) -> None:
    if value is None:
        return
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() != timedelta(0):
        raise ValueError(f"{name} must be an aware UTC datetime, got {value.isoformat()}")


@dataclass(frozen=True)
class Person:
    """A delegate, presenter or the organizer: who receives or sends a message."""

    name: str
    email: str
    language: str = "en"
    zone: str = "UTC"
    city: str | None = None
    city_ja: str | None = None

    def __post_init__(self) -> None:
        if "@" not in self.email or any(c in self.email for c in ' \t\r\n<>,;:"'):
            raise ValueError(f"email: not a plain address: {self.email!r}")
        if any(c in self.name for c in "\r\n"):
            raise ValueError(f"name: must be one line: {self.name!r}")


@dataclass(frozen=True)
class AgendaItem:
    """One presentation: the city, the presenting body and its topic, in English and Japanese."""

    position: int
    city: str
    city_ja: str | None
    body: str
    body_ja: str | None
    title: str
    title_ja: str | None
    presenter: str | None = None


@dataclass(frozen=True)
class PlaceTime:
    """A participating city and its zone, for the list of local times."""

    city: str
    city_ja: str | None
    zone: str


@dataclass(frozen=True)
class Attendee:
    person: Person
    role: str = "REQ-PARTICIPANT"
    partstat: str = "NEEDS-ACTION"

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role: unknown {self.role!r}, expected one of {sorted(ROLES)}")
        if self.partstat not in PARTSTATS:
            raise ValueError(
                f"partstat: unknown {self.partstat!r}, expected one of {sorted(PARTSTATS)}"
            )


@dataclass(frozen=True)
class SessionSnapshot:
    """Everything an invite, update, cancellation or reminder says about one session."""

    uid: str
    sequence: int
    title: str
    title_ja: str | None
    group: str
    group_ja: str | None
    start_utc: datetime
    end_utc: datetime
    status: str
    meeting_url: str | None
    note: str | None
    agenda: tuple[AgendaItem, ...]
    places: tuple[PlaceTime, ...]
    organizer: Person
    attendees: tuple[Attendee, ...]
    dtstamp: datetime
    alarm_minutes: int = 15

    def __post_init__(self) -> None:
        if not self.uid or any(c.isspace() for c in self.uid):
            raise ValueError(f"uid: must be non-empty without spaces, got {self.uid!r}")
        if self.sequence < 0:
            raise ValueError(f"sequence: must be >= 0, got {self.sequence}")
        _require_utc("start_utc", self.start_utc)
        _require_utc("end_utc", self.end_utc)
        _require_utc("dtstamp", self.dtstamp)
        if self.end_utc <= self.start_utc:
            raise ValueError(
                f"end_utc: {self.end_utc.isoformat()} is not after "
                f"start_utc {self.start_utc.isoformat()}"
            )
        if self.status not in STATUSES:
            raise ValueError(f"status: unknown {self.status!r}, expected one of {sorted(STATUSES)}")
        if self.alarm_minutes < 0:
            raise ValueError(f"alarm_minutes: must be >= 0, got {self.alarm_minutes}")
        for name in ("agenda", "places", "attendees"):
            if not isinstance(getattr(self, name), tuple):
                raise ValueError(f"{name}: must be a tuple (snapshots are immutable)")

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"


@dataclass(frozen=True)
class Reply:
    """An attendee's answer (iTIP REPLY) as parsed from a calendar or an email."""

    uid: str
    sequence: int
    attendee_email: str
    partstat: str
    dtstamp: datetime | None = field(default=None)


def _parse_instant(name: str, text: str) -> datetime:
    value = datetime.fromisoformat(text)
    _require_utc(name, value)
    return value


def snapshot_from_dict(data: dict[str, Any]) -> SessionSnapshot:
    """Build a snapshot from its plain JSON shape (instants as ISO 8601 strings with offset 0)."""
    d = dict(data)
    d["start_utc"] = _parse_instant("start_utc", d["start_utc"])
    d["end_utc"] = _parse_instant("end_utc", d["end_utc"])
    d["dtstamp"] = _parse_instant("dtstamp", d["dtstamp"])
    d["agenda"] = tuple(AgendaItem(**a) for a in d.get("agenda", ()))
    d["places"] = tuple(PlaceTime(**p) for p in d.get("places", ()))
    d["organizer"] = Person(**d["organizer"])
    d["attendees"] = tuple(
        Attendee(**{**a, "person": Person(**a["person"])}) for a in d.get("attendees", ())
    )
    return SessionSnapshot(**d)


def snapshot_to_dict(s: SessionSnapshot) -> dict[str, Any]:
    """The plain JSON shape of a snapshot (see :func:`snapshot_from_dict`)."""
    d = asdict(s)
    for key in ("start_utc", "end_utc", "dtstamp"):
        d[key] = d[key].isoformat()
    for key in ("agenda", "places", "attendees"):
        d[key] = list(d[key])
    return d
