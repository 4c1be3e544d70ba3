"""The API under load: ``GET /api/v1/sessions/{id}`` for a 47-city session against a trivial
endpoint of the same application (``GET /api/v1``), in the same run.

Starts ``uvicorn coordinator.api:app`` on loopback over a fresh database (SQLite under a
temporary directory; PostgreSQL when ``COORDINATOR_DATABASE_URL`` is set, in a new database)
with the G-NETS kickoff imported, plus a plenary session of all 47 cities (22 presenting, 25
observing) carrying the 32 kickoff presentations as its agenda, scheduled. Then, for each
endpoint, ``--connections`` keep-alive connections (asyncio, HTTP/1.1, the organizer's API key)
send requests back to back for ``--seconds`` in total, in rounds that alternate the two
endpoints (so that both see the same machine), after a warm-up; prints requests per second and
p50/p99 latency for both, then the session endpoint again on a server with the page cache off
(``COORDINATOR_API_SESSION_CACHE_SECONDS=0``: every request loads and renders the session), and
last ``ratio: N.NN`` (session ÷ trivial, in requests per second, default settings).
Goals: ratio ≥ 0.5 and p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KICKOFF = ROOT / "coordinator" / "data" / "gnets-2023-kickoff.yaml"


@contextlib.contextmanager
def database(folder: Path) -> Iterator[str]:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from coordinator.config import normalize_database_url
    from coordinator.db import make_engine
    from coordinator.migrate import upgrade

    base = os.environ.get("COORDINATOR_DATABASE_URL")
    if not base:
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
        upgrade(make_engine(url))
        yield url
        return
    name = f"coordinator_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(normalize_database_url(base)).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_database_url(base)).set(database=name)
    url = url.render_as_string(hide_password=False)
    upgrade(make_engine(url))
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def seed(url: str) -> tuple[int, str]:
    """The kickoff, a 47-city plenary with the kickoff's agenda, and an organizer key."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session as OrmSession

    from coordinator.db import make_engine
    from coordinator.models import City, GroupMembership, Presentation, Session, WorkingGroup
    from coordinator.services.keys import create_key
    from coordinator.services.network import import_network

    engine = make_engine(url)
    with OrmSession(engine, expire_on_commit=False) as db:
        import_network(db, KICKOFF)
        cities = list(db.scalars(select(City).order_by(City.id)))
        talks = list(db.scalars(select(Presentation).order_by(Presentation.id)))
        presenting = {p.city_id for p in talks}
        group = WorkingGroup(
            network_id=cities[0].network_id, name="Plenary", name_ja="全体会", theme="All"
        )
        group.memberships = [
            GroupMembership(city=c, role="member" if c.id in presenting else "observer")
            for c in cities
        ]
        db.add(group)
        start = datetime(2023, 10, 5, 11, 0, tzinfo=UTC)
        session = Session(
            group=group,
            title="G-NETS plenary",
            title_ja="G-NETS 全体会",
            window_start=datetime(2023, 10, 5, tzinfo=UTC),
            window_end=datetime(2023, 10, 6, tzinfo=UTC),
            start_utc=start,
            duration_minutes=180,
            status="scheduled",
            uid="plenary@bench.coordinator",
            sequence=0,
        )
        session.presentations = [
            Presentation(
                position=i,
                city_id=p.city_id,
                body=p.body,
                body_ja=p.body_ja,
                title=p.title,
                title_ja=p.title_ja,
                presenter_id=p.presenter_id,
            )
            for i, p in enumerate(talks, start=1)
        ]
        db.add(session)
        db.commit()
        assert len(group.memberships) == 47 and len(session.presentations) == len(talks)
        key = create_key(db, role="organizer").secret
        return session.id, key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(url: str, folder: Path, **settings: str) -> Iterator[int]:
    port = free_port()
    env = {
        **os.environ,
        "COORDINATOR_DATABASE_URL": url,
        "COORDINATOR_VAR_DIR": str(folder / "var"),
        **settings,
    }
    log = open(folder / "api.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
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
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit((folder / "api.log").read_text(errors="replace")[-3000:])
            time.sleep(0.1)
        try:
            yield port
        except BaseException:
            print((folder / "api.log").read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


# --- the load: keep-alive HTTP/1.1 connections, one request at a time each ----------------------


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _connection(port, request, stop_at, record, failures) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            status, _ = await _response(reader)
            if status != 200:
                failures.append(status)
            record.append(time.perf_counter() - started)
    finally:
        writer.close()


async def load(port: int, path: str, key: str, connections: int, seconds: float) -> list[float]:
    """Latencies of ``connections`` connections sending requests for ``seconds``."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {key}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    failures: list[int] = []
    stop_at = time.perf_counter() + seconds
    await asyncio.gather(
        *(_connection(port, request, stop_at, latencies, failures) for _ in range(connections))
    )
    if failures:
        raise SystemExit(f"{path}: {len(failures)} failed requests (e.g. {failures[0]})")
    return latencies


def measure(port: int, paths: dict[str, str], key: str, args) -> dict[str, dict]:
    """Interleaved rounds (a round of each path in turn), so that both see the same machine."""
    for path in paths.values():  # warm-up
        asyncio.run(load(port, path, key, args.connections, 1.0))
    latencies: dict[str, list[float]] = {name: [] for name in paths}
    elapsed: dict[str, float] = dict.fromkeys(paths, 0.0)
    for _ in range(args.rounds):
        for name, path in paths.items():
            started = time.perf_counter()
            latencies[name] += asyncio.run(
                load(port, path, key, args.connections, args.seconds / args.rounds)
            )
            elapsed[name] += time.perf_counter() - started
    results = {}
    for name, values in latencies.items():
        ordered = sorted(values)
        results[name] = {
            "requests": len(ordered),
            "rps": len(ordered) / elapsed[name],
            "p50": statistics.median(ordered) * 1000,
            "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        }
    return results


def show(name: str, path: str, r: dict) -> None:
    print(
        f"{name:18} GET {path:22} {r['rps']:8.1f} req/s  "
        f"p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms  ({r['requests']} requests)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="per endpoint")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coordinator-bench-api-") as tmp:
        folder = Path(tmp)
        with database(folder) as url:
            session_id, key = seed(url)
            paths = {"trivial": "/api/v1", "session": f"/api/v1/sessions/{session_id}"}
            with server(url, folder) as port:
                import httpx

                probe = httpx.get(
                    f"http://127.0.0.1:{port}{paths['session']}",
                    headers={"Authorization": f"Bearer {key}"},
                )
                assert probe.status_code == 200, probe.text
                body = probe.json()
                print(
                    f"session {session_id}: {len(body['cities'])} cities, "
                    f"{len(body['agenda'])} agenda items, {len(probe.content)} bytes; "
                    f"{args.connections} connections, {args.seconds:.0f} s per endpoint "
                    f"in {args.rounds} interleaved rounds"
                )
                results = measure(port, paths, key, args)
            # The same session with the page cache off: every request loads and renders it.
            with server(url, folder, COORDINATOR_API_SESSION_CACHE_SECONDS="0") as port:
                uncached = measure(port, {"session": paths["session"]}, key, args)["session"]
    show("trivial", paths["trivial"], results["trivial"])
    show("session", paths["session"], results["session"])
    show("session (no cache)", paths["session"], uncached)
    ratio = results["session"]["rps"] / results["trivial"]["rps"]
    print(f"ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
