"""The materials part of ``make demo``: presenters upload through the real HTTP API, some do
not, the workers send receipts and chase the missing ones, and the session packs are built.

:func:`upload_samples` serves ``coordinator.api:app`` with uvicorn on a loopback port in a thread
of this process and, for most kickoff presentations, posts a small PDF or PNG made in code with
the presenter's own upload link (a few replace theirs with a second version, one sends the same
file twice, one tries an executable); a few presentations get nothing, so that their presenters
are chased. :func:`report_packs` runs after the workers went through the deadlines: it lists
the packs the workers built under ``./var/packs/`` (and builds, on demand, any whose turn had
not come when the workers stopped).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from datetime import UTC

import httpx
from rich.console import Console
from sqlalchemy import select

from coordinator import clock
from coordinator.config import get_settings
from coordinator.db import Db
from coordinator.models import Session, SessionPack
from coordinator.services import materials
from coordinator.submissions import samples
from coordinator.submissions.receive import human_size

# Presentations left without materials (their presenters get the chasers): by city and session.
MISSING = {
    ("Montreal", "Women's Empowerment"),
    ("Thinadhoo", "Flood and Drought"),
    ("Airai State", "Water Management"),
    ("Brasília", "Public-Private Partnership"),
    ("Tirana", "Green Building"),
}


class ApiThread:
    """``coordinator.api:app`` under uvicorn on 127.0.0.1 (a free port), in a thread."""

    def __init__(self) -> None:
        import uvicorn

        from coordinator.api import app

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ApiThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        with contextlib.suppress(OSError):
            self.socket.close()


def _is_missing(presentation) -> bool:
    title = presentation.session.group.name
    return any(city == presentation.city.name and name in title for city, name in MISSING)


def upload_samples(db: Db, out: Console, sessions: list[Session]) -> Counter:
    """Upload sample materials for most presentations of ``sessions`` through the HTTP API."""
    counts: Counter = Counter()
    plan = []
    for session in sessions:
        if session.status != "scheduled":
            continue
        for presentation in session.presentations:
            if presentation.presenter is None:
                continue
            link = materials.upload_link(db, presentation.id)
            plan.append((session, presentation, link.rsplit("/", 1)[1]))
    earlier = {p.id for _, p, _ in plan if materials.current_version(db, p.id) is not None}
    db.rollback()
    with ApiThread() as api, httpx.Client(base_url=api.url, timeout=60) as client:
        out.print(
            f"\n[bold]Materials[/]: presenters upload through the HTTP API at {api.url} "
            f"(clock {clock.now():%Y-%m-%d %H:%M}Z; deadlines 48 h before each session)"
        )
        per_session: dict[int, list[str]] = {}
        for i, (session, presentation, token) in enumerate(plan):
            missing = per_session.setdefault(session.id, [])
            if _is_missing(presentation):
                missing.append(presentation.city.name)
                continue
            if presentation.id in earlier:
                counts["earlier"] += 1  # uploaded by an earlier run of the demo
                continue
            title = f"{presentation.city.name}: {presentation.title}"
            if i % 4 == 3:
                data, name = samples.png(320, 180), f"{presentation.city.name} chart.png"
            else:
                data, name = samples.pdf([title[:60], presentation.body[:60]]), f"{title[:40]}.pdf"
            headers = {"Authorization": f"Bearer {token}"}
            url = f"/presentations/{presentation.id}/materials"
            answer = client.post(url, headers=headers, files={"file": (name, data)})
            counts["duplicate" if answer.status_code == 200 else answer.status_code] += 1
            if i % 9 == 1:  # a replacement: version 2
                data = samples.pdf([title[:60], "revised"])
                answer = client.post(url, headers=headers, files={"file": ("revised.pdf", data)})
                counts["duplicate" if answer.status_code == 200 else answer.status_code] += 1
        first_session, first, token = next(p for p in plan if not _is_missing(p[1]))
        url = f"/presentations/{first.id}/materials"
        again = client.post(url, headers={"Authorization": f"Bearer {token}"},
                            files={"file": ("again.pdf", _current_bytes(db, first.id))})  # fmt: skip
        refused = [
            client.post(
                url,
                headers={"Authorization": f"Bearer {token}"},
                files={"file": ("setup.pdf", b"MZ" + bytes(5000))},
            ),  # fmt: skip
            client.post(
                f"/presentations/{plan[-1][1].id}/materials",
                headers={"Authorization": f"Bearer {token}"},
                content=b"%PDF-1.4",
            ),  # fmt: skip
        ]
    db.rollback()
    new_versions = counts[201]
    for session in sessions:
        if session.id not in per_session:
            continue
        missing = per_session[session.id]
        total = sum(1 for p in plan if p[0].id == session.id)
        note = f" (missing: {', '.join(missing)})" if missing else ""
        out.print(f"  {session.title}: {total - len(missing)} of {total} uploaded{note}")
    if counts["earlier"]:
        out.print(f"  {counts['earlier']} presentations already had materials from an earlier run")
    out.print(
        f"  {new_versions} new versions stored; the same file sent again was recognised "
        f"(HTTP {again.status_code}, version {again.json().get('version')}, nothing stored twice)"
    )
    for answer in refused:
        body = answer.json()
        out.print(f"  refused as it should be: HTTP {answer.status_code} {body.get('detail')}")
    return counts


def _current_bytes(db: Db, presentation_id: int) -> bytes:
    from coordinator.submissions.storage import get_storage

    db.rollback()  # see what the API has just written

    submission = materials.get_version(db, presentation_id)
    with get_storage().open(submission.storage_key) as file:
        return file.read()


def report_packs(db: Db, out: Console, sessions: list[Session]) -> None:
    """The session packs under ``./var/packs/``: built by the workers at each deadline (plus
    grace); any the workers had not reached when they stopped is built now."""
    db.rollback()  # a fresh look: the workers wrote meanwhile
    grace = int(get_settings().materials_grace.total_seconds() // 60)
    out.print(
        f"\n[bold]Session packs[/] under {get_settings().packs_dir}/ (each built once its "
        f"deadline and {grace} min of grace had passed):"
    )
    for session in sessions:
        if session.status != "scheduled":
            continue
        pack = db.scalar(select(SessionPack).where(SessionPack.session_id == session.id))
        by = "by a worker"
        if pack is None or pack.status != "built" or not pack.path:
            materials.build_pack(db, session.id)
            pack = db.scalar(select(SessionPack).where(SessionPack.session_id == session.id))
            by = "now, on demand (the workers had stopped before its turn)"
        deadline = materials.materials_deadline(session)
        out.print(
            f"  {session.group.name}: {pack.submitted} of {pack.submitted + pack.missing} "
            f"presentations, {human_size(pack.size)}; deadline {deadline.astimezone(UTC):%m-%d %H:%M}Z, "
            f"built {pack.built_at:%m-%d %H:%M}Z {by}\n    {pack.path.rsplit('/', 1)[-1]}"
        )
