"""A real API server for the HTTP tests: ``uvicorn coordinator.api:app`` in a subprocess on a
free loopback port, over a fresh database of the configured kind (SQLite, or PostgreSQL when
``COORDINATOR_DATABASE_URL`` is set) holding committed data: the G-NETS kickoff (network A), a
small second network (B), and API keys of every role (the database comes from
``tests.conftest.new_database``, the helper behind ``fresh_database_url``, here per module). The shared clock is set to two weeks
before the kickoff, so its sessions lie in the future for the server too.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import MetaData, func, select

from coordinator.db import make_engine
from tests.conftest import KICKOFF, ROOT, new_database  # behind fresh_database_url

CLOCK_START = datetime(2023, 9, 14, 9, 0, tzinfo=UTC)

NETWORK_B = """\
network:
  name: Other Network
  slug: other
  organizer: {name: Other Secretariat, email: other@example.org}
cities:
  - {name: Lisbon, country: PT, zone: Europe/Lisbon}
  - {name: Osaka, name_ja: 大阪, country: JP, zone: Asia/Tokyo}
groups:
  - {name: Harbours, members: [Lisbon, Osaka]}
delegates:
  - {name: Ana, email: ana@lisbon.example, city: Lisbon}
  - {name: Ken, email: ken@osaka.example, city: Osaka, language: ja}
sessions:
  - group: Harbours
    title: Harbours kickoff
    window_start: "2023-10-10T00:00:00Z"
    window_end: "2023-10-11T00:00:00Z"
    duration_minutes: 60
    presentations:
      - {city: Osaka, body: Port Authority, title: Quays, presenter: ken@osaka.example}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Api:
    """A running server and what the tests know about its data."""

    url: str
    database_url: str
    env: dict[str, str]
    keys: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def client(self, key: str | None = None, **headers: str) -> httpx.Client:
        if key is not None:
            headers["Authorization"] = f"Bearer {self.keys.get(key, key)}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def counts(self) -> dict[str, int]:
        """Rows per table, straight from the database (to prove nothing was written)."""
        engine = make_engine(self.database_url)
        try:
            meta = MetaData()
            meta.reflect(engine)
            with engine.connect() as connection:
                return {
                    name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                    for name, table in meta.tables.items()
                    if name != "alembic_version"
                }
        finally:
            engine.dispose()

    def log(self) -> str:
        path = Path(self.env["COORDINATOR_VAR_DIR"]) / "api.log"
        return path.read_text(errors="replace") if path.exists() else ""


def seed(database_url: str, folder: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Committed data: the kickoff (network A), network B, keys of every role."""
    from sqlalchemy import select as sql_select
    from sqlalchemy.orm import Session as OrmSession

    from coordinator.models import City, Delegate, Network, Presentation, Session, WorkingGroup
    from coordinator.services.keys import create_key, sign_link
    from coordinator.services.network import import_network

    other = folder / "other.yaml"
    other.write_text(NETWORK_B, encoding="utf-8")
    engine = make_engine(database_url)
    keys: dict[str, str] = {}
    ids: dict[str, int] = {}
    try:
        with OrmSession(engine, expire_on_commit=False) as db:
            import_network(db, KICKOFF)
            import_network(db, other)
            keys["admin"] = create_key(db, role="admin", name="tests").secret
            for role in ("organizer", "viewer"):
                keys[role] = create_key(db, role=role, network="g-nets").secret
                keys[f"{role}_b"] = create_key(db, role=role, network="other").secret
            a = db.scalar(sql_select(Network).where(Network.slug == "g-nets"))
            b = db.scalar(sql_select(Network).where(Network.slug == "other"))
            ids["network_a"], ids["network_b"] = a.id, b.id
            for tag, network in (("a", a), ("b", b)):
                city = db.scalar(
                    sql_select(City).where(City.network_id == network.id).order_by(City.id)
                )
                group = db.scalar(
                    sql_select(WorkingGroup)
                    .where(WorkingGroup.network_id == network.id)
                    .order_by(WorkingGroup.id)
                )
                session = db.scalar(
                    sql_select(Session).where(Session.group_id == group.id).order_by(Session.id)
                )
                delegate = db.scalar(
                    sql_select(Delegate)
                    .where(Delegate.network_id == network.id)
                    .order_by(Delegate.id)
                )
                presentation = db.scalar(
                    sql_select(Presentation)
                    .where(Presentation.session_id == session.id)
                    .order_by(Presentation.position)
                )
                ids.update(
                    {
                        f"city_{tag}": city.id,
                        f"group_{tag}": group.id,
                        f"session_{tag}": session.id,
                        f"delegate_{tag}": delegate.id,
                        f"presentation_{tag}": presentation.id,
                    }
                )
            from datetime import timedelta

            for tag in ("a", "b"):
                for purpose in ("feed", "rsvp"):
                    token, _ = sign_link(
                        purpose, "delegate", ids[f"delegate_{tag}"], expires_in=timedelta(days=5)
                    )
                    keys[f"{purpose}_link_{tag}"] = token
                token, _ = sign_link(
                    "grid", "session", ids[f"session_{tag}"], expires_in=timedelta(days=5)
                )
                keys[f"grid_link_{tag}"] = token
    finally:
        engine.dispose()
    return keys, ids


def start_server(api: Api, timeout: float = 60.0) -> None:
    port = int(api.url.rsplit(":", 1)[1])
    log = open(Path(api.env["COORDINATOR_VAR_DIR"]) / "api.log", "ab")  # noqa: SIM115
    api.process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "coordinator.api:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ],
        env=api.env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    while True:
        if api.process.poll() is not None:
            raise RuntimeError(f"the API server exited:\n{api.log()[-3000:]}")
        try:
            if httpx.get(f"{api.url}/api/v1", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_server(api)
            raise RuntimeError(f"the API server did not start:\n{api.log()[-3000:]}")
        time.sleep(0.1)


def stop_server(api: Api) -> None:
    if api.process is not None and api.process.poll() is None:
        api.process.terminate()
        try:
            api.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            api.process.kill()
            api.process.wait()


@contextlib.contextmanager
def running_api(folder: Path, **settings: str) -> Iterator[Api]:
    """A seeded database and a server over it; ``settings`` are extra environment variables."""
    folder.mkdir(parents=True, exist_ok=True)
    var = folder / "var"
    var.mkdir(exist_ok=True)
    clock_file = folder / "clock.json"
    previous = os.environ.get("COORDINATOR_CLOCK_FILE")
    os.environ["COORDINATOR_CLOCK_FILE"] = str(clock_file)
    try:
        from coordinator import clock

        clock.set_now(CLOCK_START)
        with new_database(folder) as database_url:
            keys, ids = seed(database_url, folder)
            env = {
                **os.environ,
                "COORDINATOR_DATABASE_URL": database_url,
                "COORDINATOR_VAR_DIR": str(var),
                "COORDINATOR_CLOCK_FILE": str(clock_file),
                "COORDINATOR_API_AUTH_BURST": "100000",
                "COORDINATOR_API_KEY_CACHE_SECONDS": "0",  # revocation is tested
                **settings,
            }
            api = Api(f"http://127.0.0.1:{free_port()}", database_url, env, keys, ids)
            start_server(api)
            try:
                yield api
            finally:
                stop_server(api)
    finally:
        if previous is None:
            os.environ.pop("COORDINATOR_CLOCK_FILE", None)
        else:
            os.environ["COORDINATOR_CLOCK_FILE"] = previous


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Iterator[Api]:
    """A server per test module (modules change data; each starts from the same seed)."""
    with running_api(tmp_path_factory.mktemp("api")) as server:
        yield server
