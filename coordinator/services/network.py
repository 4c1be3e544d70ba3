"""Use cases for the network: import it from a file, show it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from coordinator.db import Db, unit_of_work
from coordinator.errors import NotFound, UserError
from coordinator.models import (
    City,
    Delegate,
    GroupMembership,
    Network,
    Presentation,
    Session,
    WorkingGroup,
)
from coordinator.services.network_file import NetworkFile, load_network_file


@dataclass
class ImportReport:
    network: str
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return bool(+self.created or +self.updated)


def _sync(obj: Any, values: dict[str, Any], report: ImportReport, kind: str) -> None:
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    if changed:
        report.updated[kind] += 1


def import_network(db: Db, path: str | Path) -> ImportReport:
    """Import a network file: idempotent (a second import changes nothing) and all-or-nothing."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}") from None
    doc = load_network_file(text, source=str(path))
    with unit_of_work(db):
        return _apply(db, doc)


def _apply(db: Db, doc: NetworkFile) -> ImportReport:
    info = doc.network
    report = ImportReport(network=info.name)
    network = db.scalar(select(Network).where(Network.slug == info.key))
    values = {
        "name": info.name,
        "name_ja": info.name_ja,
        "organizer_name": info.organizer.name,
        "organizer_email": info.organizer.email.lower(),
        "meeting_url": info.meeting_url,
        "reminder_offsets": list(info.reminder_offsets),
    }
    if network is None:
        network = Network(slug=info.key, **values)
        db.add(network)
        db.flush()
        report.created["network"] += 1
    else:
        _sync(network, values, report, "network")

    cities = {
        c.name.casefold(): c for c in db.scalars(select(City).where(City.network_id == network.id))
    }
    for entry in doc.cities:
        values = {
            "name": entry.name,
            "name_ja": entry.name_ja,
            "aliases": list(entry.aliases),
            "country": entry.country,
            "subdivision": entry.subdivision,
            "zone": entry.zone,
        }
        city = cities.get(entry.name.casefold())
        if city is None:
            city = cities[entry.name.casefold()] = City(network=network, **values)
            db.add(city)
            report.created["cities"] += 1
        else:
            _sync(city, values, report, "cities")
    db.flush()

    delegates = {
        d.email: d for d in db.scalars(select(Delegate).where(Delegate.network_id == network.id))
    }
    for entry in doc.delegates:
        values = {
            "name": entry.name,
            "city_id": cities[entry.city.casefold()].id,
            "language": entry.language,
            "role": entry.role,
            "zone": entry.zone,
        }
        delegate = delegates.get(entry.email)
        if delegate is None:
            delegates[entry.email] = Delegate(network_id=network.id, email=entry.email, **values)
            db.add(delegates[entry.email])
            report.created["delegates"] += 1
        else:
            _sync(delegate, values, report, "delegates")
    db.flush()

    groups = {
        g.name.casefold(): g
        for g in db.scalars(select(WorkingGroup).where(WorkingGroup.network_id == network.id))
    }
    for entry in doc.groups:
        values = {
            "name": entry.name,
            "name_ja": entry.name_ja,
            "theme": entry.theme,
            "theme_ja": entry.theme_ja,
        }
        group = groups.get(entry.name.casefold())
        if group is None:
            group = groups[entry.name.casefold()] = WorkingGroup(network=network, **values)
            db.add(group)
            report.created["groups"] += 1
        else:
            _sync(group, values, report, "groups")
        wanted = [(name, "member") for name in entry.members] + [
            (name, "observer") for name in entry.observers
        ]
        current = {(m.city.name.casefold(), m.role) for m in group.memberships}
        if current != {(name.casefold(), role) for name, role in wanted}:
            if group.memberships:
                report.updated["memberships"] += 1
            else:
                report.created["memberships"] += len(wanted)
            group.memberships.clear()
            db.flush()
            group.memberships.extend(
                GroupMembership(city=cities[name.casefold()], role=role) for name, role in wanted
            )
    db.flush()

    for entry in doc.sessions:
        group = groups[entry.group.casefold()]
        uid = entry.stable_uid(network.slug)
        session = db.scalar(select(Session).where(Session.uid == uid))
        values = {
            "group_id": group.id,
            "title": entry.title,
            "title_ja": entry.title_ja,
            "window_start": entry.window_start,
            "window_end": entry.window_end,
            "duration_minutes": entry.duration_minutes,
            "meeting_url": entry.meeting_url,
            "reminder_offsets": entry.reminder_offsets,
        }
        if session is None:
            session = Session(uid=uid, status="draft", sequence=0, **values)
            db.add(session)
            report.created["sessions"] += 1
        else:
            _sync(session, values, report, "sessions")
        wanted = [
            {
                "position": position,
                "city_id": cities[p.city.casefold()].id,
                "body": p.body,
                "body_ja": p.body_ja,
                "title": p.title,
                "title_ja": p.title_ja,
                "presenter_id": delegates[p.presenter.strip().lower()].id if p.presenter else None,
            }
            for position, p in enumerate(entry.presentations, start=1)
        ]
        existing = {p.position: p for p in session.presentations}
        for values in wanted:
            current = existing.pop(values["position"], None)
            if current is None:
                session.presentations.append(Presentation(**values))
                report.created["presentations"] += 1
            else:
                _sync(current, values, report, "presentations")
        for stale in existing.values():
            session.presentations.remove(stale)
            report.updated["presentations"] += 1
        db.flush()
    return report


def get_network(db: Db, slug: str | None = None) -> Network:
    query = select(Network).order_by(Network.id)
    if slug:
        query = query.where(Network.slug == slug)
    network = db.scalar(query.limit(1))
    if network is None:
        raise NotFound(
            f"no network {slug!r}"
            if slug
            else "no network imported yet: run `coordinator network import FILE`"
        )
    return network


def network_overview(db: Db, slug: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """The network as plain data: the lists ``cities``, ``groups``, ``sessions``,
    ``presentations`` and ``delegates``."""
    network = get_network(db, slug)
    cities = list(network.cities)
    groups = list(network.groups)
    sessions = [s for g in groups for s in g.sessions]
    sessions.sort(key=lambda s: (s.window_start, s.id))
    delegates = list(
        db.scalars(select(Delegate).where(Delegate.network_id == network.id).order_by(Delegate.id))
    )
    return {
        "network": [
            {"name": network.name, "slug": network.slug, "organizer": network.organizer_email}
        ],
        "cities": [
            {
                "id": c.id,
                "name": c.name,
                "name_ja": c.name_ja,
                "aliases": list(c.aliases or []),
                "country": c.country,
                "subdivision": c.subdivision,
                "zone": c.zone,
            }
            for c in cities
        ],
        "groups": [
            {
                "id": g.id,
                "name": g.name,
                "name_ja": g.name_ja,
                "theme": g.theme,
                "members": [m.city.name for m in g.memberships if m.role == "member"],
                "observers": [m.city.name for m in g.memberships if m.role == "observer"],
            }
            for g in groups
        ],
        "sessions": [session_summary(s) for s in sessions],
        "presentations": [
            {
                "id": p.id,
                "session_id": s.id,
                "position": p.position,
                "city": p.city.name,
                "body": p.body,
                "title": p.title,
                "title_ja": p.title_ja,
                "presenter": p.presenter.email if p.presenter else None,
            }
            for s in sessions
            for p in s.presentations
        ],
        "delegates": [
            {
                "id": d.id,
                "name": d.name,
                "email": d.email,
                "city": d.city.name,
                "language": d.language,
                "role": d.role,
                "zone": d.effective_zone,
            }
            for d in delegates
        ],
    }


def session_summary(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "title": session.title,
        "group": session.group.name,
        "start_utc": _iso_z(session.start_utc),
        "duration_minutes": session.duration_minutes,
        "status": session.status,
    }


def _iso_z(instant) -> str | None:
    return None if instant is None else instant.strftime("%Y-%m-%dT%H:%M:%SZ")
