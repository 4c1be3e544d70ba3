"""The network file (YAML): its schema, and validation that reports every error with its place.

Pure: parsing and checking only, no database. ``load_network_file`` returns a checked
:class:`NetworkFile` or raises :class:`NetworkFileError` listing every problem found, each as
``line N: path: message``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from coordinator import timezones
from coordinator.errors import UserError

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


class NetworkFileError(UserError):
    def __init__(self, source: str, errors: list[str]) -> None:
        noun = "error" if len(errors) == 1 else "errors"
        super().__init__(f"{source}: {len(errors)} {noun}; nothing was imported", details=errors)


def parse_iso_duration(text: str) -> timedelta:
    """``P7D``, ``P1D``, ``PT1H``, ``PT30M``, ``P1DT12H`` → timedelta."""
    match = ISO_DURATION.match(text or "")
    if not match or text in ("P", "PT"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as P7D or PT1H")
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Organizer(_Model):
    name: Text
    email: Text


class NetworkInfo(_Model):
    name: Text
    name_ja: str | None = None
    slug: str | None = None
    organizer: Organizer
    reminder_offsets: list[str] = Field(default_factory=lambda: ["P7D", "P1D", "PT1H"])
    meeting_url: str | None = None

    @field_validator("reminder_offsets")
    @classmethod
    def _offsets(cls, value: list[str]) -> list[str]:
        for item in value:
            parse_iso_duration(item)
        return value

    @property
    def key(self) -> str:
        return self.slug or re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "network"


class CityEntry(_Model):
    name: Text
    name_ja: str | None = None
    aliases: list[str] = Field(default_factory=list)
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    subdivision: str | None = None
    zone: Text

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value == timezones.UNKNOWN_ZONE:
            return value
        return timezones.canonical_zone(value)


class GroupEntry(_Model):
    name: Text
    name_ja: str | None = None
    theme: str | None = None
    theme_ja: str | None = None
    members: list[Text] = Field(min_length=1)
    observers: list[Text] = Field(default_factory=list)


class PresentationEntry(_Model):
    city: Text
    body: Text
    body_ja: str | None = None
    title: Text
    title_ja: str | None = None
    presenter: str | None = None


class SessionEntry(_Model):
    group: Text
    title: Text
    title_ja: str | None = None
    uid: str | None = None
    date: _dt.date | None = None  # the field name shadows the type inside the class
    window_start: datetime
    window_end: datetime
    duration_minutes: int = Field(gt=0, le=1440)
    meeting_url: str | None = None
    reminder_offsets: list[str] | None = None
    presentations: list[PresentationEntry] = Field(default_factory=list)

    @field_validator("window_start", "window_end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give a UTC offset, e.g. 2023-10-03T00:00:00+09:00")
        return value.astimezone(UTC)

    def stable_uid(self, network_key: str) -> str:
        if self.uid:
            return self.uid
        digest = hashlib.sha1(f"{network_key}|{self.group}|{self.title}".encode()).hexdigest()
        return f"{digest[:20]}@{network_key}.coordinator"


class DelegateEntry(_Model):
    name: Text
    email: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, to_lower=True, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
        ),
    ]
    city: Text
    language: Literal["en", "ja"] = "en"
    role: Literal["organizer", "presenter", "delegate"] = "delegate"
    zone: str | None = None

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else timezones.canonical_zone(value)


class NetworkFile(_Model):
    network: NetworkInfo
    cities: list[CityEntry] = Field(min_length=1)
    groups: list[GroupEntry] = Field(default_factory=list)
    sessions: list[SessionEntry] = Field(default_factory=list)
    delegates: list[DelegateEntry] = Field(default_factory=list)


def _line_index(node: yaml.Node | None, path: tuple = (), out: dict | None = None) -> dict:
    """Map each path in the document to the line (1-based) where its value starts."""
    out = {} if out is None else out
    if node is None:
        return out
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*path, key.value)] = key.start_mark.line + 1
            _line_index(value, (*path, key.value), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            _line_index(value, (*path, i), out)
    return out


def _format_path(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def _place(lines: dict, path: tuple) -> str:
    probe = tuple(path)
    while probe and probe not in lines:
        probe = probe[:-1]
    line = lines.get(probe)
    where = _format_path(tuple(path))
    return f"line {line}: {where}" if line else where


def load_network_file(text: str, source: str = "network file") -> NetworkFile:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise NetworkFileError(source, [f"{where}malformed YAML: {problem}"]) from None
    if not isinstance(raw, dict):
        raise NetworkFileError(source, ["(document): expected a mapping with network, cities, …"])
    lines = _line_index(node)
    errors: list[str] = []
    try:
        doc = NetworkFile.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(
                p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))
            )
            message = err["msg"].removeprefix("Value error, ")
            value = err.get("input")
            shown = f" (got {value!r})" if isinstance(value, str | int | float) else ""
            errors.append(f"{_place(lines, loc)}: {message}{shown}")
        doc = _valid_entries(raw)
    if doc is not None:
        declared = {
            key: {
                str(item.get(field, "")).strip().casefold()
                for item in raw.get(key) or []
                if isinstance(item, dict)
            }
            for key, field in (("cities", "name"), ("delegates", "email"), ("groups", "name"))
        }
        errors += [
            f"{_place(lines, path)}: {message}" for path, message in _cross_check(doc, declared)
        ]
    if errors:
        raise NetworkFileError(source, errors)
    assert doc is not None
    return doc


def _valid_entries(raw: dict) -> NetworkFile | None:
    """The entries that are valid on their own, so that references can still be checked and
    every error reported at once. None when the document's shape is too broken for that."""
    lists = {
        "cities": CityEntry,
        "groups": GroupEntry,
        "sessions": SessionEntry,
        "delegates": DelegateEntry,
    }
    kept: dict[str, list] = {}
    for key, model in lists.items():
        items = raw.get(key) or []
        if not isinstance(items, list):
            return None
        kept[key] = []
        for item in items:
            try:
                kept[key].append(model.model_validate(item))
            except ValidationError:
                continue
    return NetworkFile.model_construct(network=None, **kept)


def _cross_check(doc: NetworkFile, declared: dict[str, set[str]]) -> list[tuple[tuple, str]]:
    """References and uniqueness that one entry alone cannot check. ``declared`` holds the
    names given in the file even for entries that are invalid themselves (already reported),
    so that one mistake is not reported again at every reference."""
    problems: list[tuple[tuple, str]] = []
    cities: dict[str, int] = {}
    for i, city in enumerate(doc.cities):
        if city.name.casefold() in cities:
            problems.append((("cities", i, "name"), f"duplicate city {city.name!r}"))
        cities[city.name.casefold()] = i

    def known(name: str) -> bool:
        return name.casefold() in cities or name.casefold() in declared["cities"]

    emails: dict[str, int] = {}
    delegate_city: dict[str, str] = {}
    for i, delegate in enumerate(doc.delegates):
        if delegate.email in emails:
            problems.append(
                (
                    ("delegates", i, "email"),
                    f"duplicate email {delegate.email!r} (also delegates[{emails[delegate.email]}])",
                )
            )
        emails.setdefault(delegate.email, i)
        delegate_city[delegate.email] = delegate.city.casefold()
        if not known(delegate.city):
            problems.append((("delegates", i, "city"), f"city {delegate.city!r} is not defined"))

    groups: set[str] = set()
    for i, group in enumerate(doc.groups):
        if group.name.casefold() in groups:
            problems.append((("groups", i, "name"), f"duplicate group {group.name!r}"))
        groups.add(group.name.casefold())
        seen: set[str] = set()
        for field in ("members", "observers"):
            for j, name in enumerate(getattr(group, field)):
                if not known(name):
                    problems.append((("groups", i, field, j), f"city {name!r} is not defined"))
                elif name.casefold() in seen:
                    problems.append((("groups", i, field, j), f"city {name!r} is listed twice"))
                seen.add(name.casefold())

    titles: set[tuple[str, str]] = set()
    for i, session in enumerate(doc.sessions):
        if session.group.casefold() not in groups | declared["groups"]:
            problems.append((("sessions", i, "group"), f"group {session.group!r} is not defined"))
        key = (session.group.casefold(), session.title)
        if key in titles:
            problems.append((("sessions", i, "title"), f"duplicate session {session.title!r}"))
        titles.add(key)
        if session.window_end <= session.window_start:
            problems.append(
                (("sessions", i, "window_end"), "window_end must be after window_start")
            )
        elif session.window_end - session.window_start < timedelta(
            minutes=session.duration_minutes
        ):
            problems.append(
                (("sessions", i, "window_end"), "the window is shorter than the duration")
            )
        for offset in session.reminder_offsets or []:
            try:
                parse_iso_duration(offset)
            except ValueError as exc:
                problems.append((("sessions", i, "reminder_offsets"), str(exc)))
        for j, item in enumerate(session.presentations):
            place = ("sessions", i, "presentations", j)
            if not known(item.city):
                problems.append(((*place, "city"), f"city {item.city!r} is not defined"))
            if item.presenter is not None:
                email = item.presenter.strip().lower()
                if email not in emails and email in declared["delegates"]:
                    continue
                if email not in emails:
                    problems.append(
                        ((*place, "presenter"), f"presenter {item.presenter!r} is not a delegate")
                    )
                elif delegate_city[email] != item.city.casefold():
                    problems.append(
                        (
                            (*place, "presenter"),
                            f"presenter {item.presenter!r} is not a delegate of {item.city!r}",
                        )
                    )
    return problems
