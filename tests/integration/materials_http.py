"""A real server for the materials HTTP tests: ``uvicorn coordinator.api:app`` in a subprocess
on a loopback socket, over a fresh database of the configured kind (SQLite, or PostgreSQL when
``COORDINATOR_DATABASE_URL`` is set) holding committed data, a storage root of its own, a small
upload limit and the settable clock shared with the test process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from coordinator import clock
from coordinator.config import get_settings
from coordinator.db import make_engine
from coordinator.models import UploadToken
from coordinator.services import materials
from coordinator.services.planning import schedule_session
from tests.conftest import ROOT, new_database

LIMIT = 2 * 1024 * 1024
ADMIN_TOKEN = "test-admin-token"
NOW = datetime(2023, 9, 14, 9, 0, tzinfo=UTC)
START = datetime(2023, 10, 3, 11, 0, tzinfo=UTC)
DEADLINE = START - timedelta(hours=48)


@dataclass
class Seeded:
    session_id: int
    presentations: list[int]
    tokens: list[str]


@dataclass
class Server:
    url: str
    host: str
    port: int
    database_url: str
    folder: Path
    process: subprocess.Popen

    @property
    def storage_root(self) -> Path:
        return self.folder / "storage"

    @property
    def log_path(self) -> Path:
        return self.folder / "server.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stored_files(self) -> list[Path]:
        """Every file under the storage root, temporary ones included."""
        if not self.storage_root.exists():
            return []
        return sorted(p for p in self.storage_root.rglob("*") if p.is_file())

    def seed(self, languages=("en", "ja", "en")) -> Seeded:
        """A new scheduled session (start :data:`START`) with one presentation per language,
        committed; its upload tokens."""
        from tests import factories

        engine = make_engine(self.database_url)
        try:
            with OrmSession(engine, expire_on_commit=False) as db:
                factories.bind(db)
                try:
                    session = factories.SessionFactory(
                        window_start=START - timedelta(hours=6),
                        window_end=START + timedelta(hours=6),
                        title="Flood and Drought — kickoff",
                    )
                    ids = []
                    for i, language in enumerate(languages, start=1):
                        zone = "Asia/Tokyo" if language == "ja" else "Europe/Amsterdam"
                        city = factories.CityFactory(
                            network=session.group.network, zone=zone, name_ja=f"都市{i}"
                        )
                        factories.MembershipFactory(group=session.group, city=city)
                        presenter = factories.DelegateFactory(city=city, language=language)
                        ids.append(
                            factories.PresentationFactory(
                                session=session,
                                position=i,
                                city=city,
                                presenter=presenter,
                                title=f"Talk {i}",
                                title_ja=f"発表{i}",
                            ).id
                        )
                    db.commit()
                finally:
                    factories.bind(None)
                schedule_session(db, session.id, START)
                rows = {
                    r.presentation_id: r
                    for r in db.scalars(
                        select(UploadToken).where(UploadToken.presentation_id.in_(ids))
                    )
                }
                return Seeded(session.id, ids, [materials.raw_token(rows[i]) for i in ids])
        finally:
            engine.dispose()

    def db(self):
        return _Db(self.database_url)


class _Db:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)

    def __enter__(self) -> OrmSession:
        self.session = OrmSession(self.engine, expire_on_commit=False)
        return self.session

    def __exit__(self, *exc) -> None:
        self.session.close()
        self.engine.dispose()


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@contextlib.contextmanager
def running_server(folder: Path, **settings: str) -> Iterator[Server]:
    """The server, with the clock file set for this process too (restored afterwards);
    ``settings`` are extra environment variables."""
    previous_clock = os.environ.get(clock.ENV)
    os.environ[clock.ENV] = str(folder / "clock.json")
    clock.set_now(NOW)
    with new_database(folder) as database_url:
        sock = listening_socket()
        env = {
            **os.environ,
            "COORDINATOR_DATABASE_URL": database_url,
            "COORDINATOR_VAR_DIR": str(folder / "var"),
            "COORDINATOR_STORAGE_ROOT": str(folder / "storage"),
            "COORDINATOR_MAX_UPLOAD_BYTES": str(LIMIT),
            "COORDINATOR_ADMIN_TOKEN": ADMIN_TOKEN,
            "COORDINATOR_SECRET_KEY": get_settings().secret_key,
            clock.ENV: str(folder / "clock.json"),
            **settings,
        }
        log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "coordinator.api:app", "--fd", str(sock.fileno()),
             "--log-level", "info"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, pass_fds=[sock.fileno()],
        )  # fmt: skip
        host, port = sock.getsockname()
        sock.close()
        server = Server(f"http://{host}:{port}", host, port, database_url, folder, process)
        try:
            wait_until_up(server)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
            clock.reset()
            if previous_clock is None:
                os.environ.pop(clock.ENV, None)
            else:
                os.environ[clock.ENV] = previous_clock


def wait_until_up(server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{server.log()[-3000:]}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection((server.host, server.port), timeout=1) as conn,
        ):
            conn.sendall(b"GET /upload/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            if conn.recv(12).startswith(b"HTTP/1.1"):
                return
        time.sleep(0.1)
    raise TimeoutError(f"the server did not answer:\n{server.log()[-3000:]}")


def raw_request(server: Server, head: bytes, body: bytes = b"") -> bytes:
    """Send ``head`` (request line and headers, without the blank line) and ``body`` on a new
    connection; the whole answer (the server closes after it)."""
    with socket.create_connection((server.host, server.port), timeout=30) as conn:
        conn.sendall(head + b"\r\n\r\n" + body)
        chunks = []
        while True:
            try:
                data = conn.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
            if b"\r\n\r\n" in b"".join(chunks) and _complete(b"".join(chunks)):
                break
        return b"".join(chunks)


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])
