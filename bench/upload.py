"""Upload throughput and server memory: a 200 MB file through the running API, against a plain
copy of the same file on the same disk, in the same run.

Starts ``uvicorn coordinator.api:app`` on loopback (a fresh SQLite database and storage under a
temporary directory on the disk of ``--dir``), schedules a one-presentation session, makes a
200 MB file (a PDF header followed by random bytes), then:

- **copy**: ``shutil.copyfile`` of the file to a new file in the same directory, then fsync —
  what storing it costs at the least;
- **upload**: ``POST /presentations/{id}/materials`` with the presenter's token, the file sent
  as the raw body (``--form``: as a multipart form) by a client in this process, with
  ``sendfile(2)`` so that it costs next to no CPU and the run measures the server; the server
  streams it to storage, hashing it (SHA-256), fsyncs and records the version.

Both are timed from the first byte read to the durable file (best of ``--runs``). While the upload
runs, the server's ``VmRSS`` is sampled from ``/proc/PID/status`` (and ``VmHWM`` read after);
the growth is over the server's resident size just before the upload. Prints both throughputs,
the RSS growth, and last ``ratio: N.NN`` (upload ÷ copy). Goals: ratio ≥ 0.5, growth < 64 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1_000_000
CHUNK = 1024 * 1024


async def drain(scope, receive, send) -> None:
    """A bare ASGI app that reads a request body and throws it away: the ceiling of receiving
    over loopback HTTP with this server, for reference (``uvicorn upload:drain``)."""
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def proc_status(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` field in bytes (``VmRSS``, ``VmHWM``)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def make_file(path: Path, size: int) -> None:
    from coordinator.submissions import samples

    head = samples.pdf("benchmark")
    with open(path, "wb") as file:
        file.write(head)
        left = size - len(head)
        block = os.urandom(CHUNK)
        while left > 0:
            file.write(block[: min(CHUNK, left)])
            left -= CHUNK


def copy_once(source: Path, directory: Path) -> float:
    target = directory / f"copy-{time.monotonic_ns()}.bin"
    start = time.perf_counter()
    shutil.copyfile(source, target)
    with open(target, "rb+") as file:
        os.fsync(file.fileno())
    elapsed = time.perf_counter() - start
    target.unlink()
    return elapsed


def seed(database_url: str) -> tuple[int, str]:
    """A network with one scheduled session and one presentation; its upload token."""
    from sqlalchemy.orm import Session as OrmSession

    from coordinator.db import make_engine
    from coordinator.migrate import upgrade
    from coordinator.models import City, Delegate, Network, Presentation, Session, WorkingGroup
    from coordinator.services.materials import ensure_token, raw_token

    engine = make_engine(database_url)
    upgrade(engine)
    with OrmSession(engine) as db:
        network = Network(slug="bench", name="Bench", organizer_name="Sec",
                          organizer_email="sec@example.org", reminder_offsets=[])  # fmt: skip
        city = City(network=network, name="Tokyo", country="JP", zone="Asia/Tokyo", aliases=[])
        db.add_all([network, city])
        db.flush()
        presenter = Delegate(network_id=network.id, city=city, name="Presenter",
                             email="presenter@example.org", language="en", role="presenter")  # fmt: skip
        group = WorkingGroup(network=network, name="Bench group")
        start = datetime(2100, 1, 10, 9, 0, tzinfo=UTC)
        session = Session(group=group, title="Bench session", window_start=start,
                          window_end=start.replace(hour=18), start_utc=start,
                          duration_minutes=60, status="scheduled", uid="bench@coordinator")  # fmt: skip
        presentation = Presentation(session=session, position=1, city=city, body="Bureau",
                                    title="Bench", presenter=presenter)  # fmt: skip
        db.add_all([network, city, presenter, group, session, presentation])
        db.flush()
        token = raw_token(ensure_token(db, presentation))
        db.commit()
        return presentation.id, token


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def upload_once(port: int, presentation_id: int, token: str, path: Path, form: bool) -> float:
    size = path.stat().st_size
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    boundary = "----coordinatorbench"
    head = tail = b""
    headers = {"Authorization": f"Bearer {token}"}
    if form:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="bench.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    else:
        headers["Content-Type"] = "application/pdf"
        headers["X-Filename"] = "bench.pdf"
    headers["Content-Length"] = str(len(head) + size + len(tail))
    start = time.perf_counter()
    connection.putrequest("POST", f"/presentations/{presentation_id}/materials")
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    connection.send(head)
    with open(path, "rb") as file:
        # sendfile(2): the client costs next to no CPU, so the run measures the server.
        connection.sock.sendfile(file)
    connection.send(tail)
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    connection.close()
    if response.status not in (200, 201):
        raise RuntimeError(f"upload answered {response.status}: {body[:500]!r}")
    return elapsed


def start_server(app: str, env: dict, *, app_dir: Path = ROOT) -> tuple[subprocess.Popen, int]:
    sock = free_socket()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--app-dir", str(app_dir), "--fd",
         str(sock.fileno()), "--log-level", "warning", "--no-access-log"],
        env=env, cwd=ROOT, pass_fds=[sock.fileno()],
    )  # fmt: skip
    port = sock.getsockname()[1]
    sock.close()
    deadline = time.monotonic() + 30
    while True:
        # Any answer means the server is up (here, an invalid upload link: 403).
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/upload/not-a-token")
            connection.getresponse().read()
            return process, port
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(f"{app} did not start")
        time.sleep(0.1)


def stop(process: subprocess.Popen | None) -> None:
    if process is None:
        return
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    if process.poll() is None:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=200, help="MB (10^6 bytes)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--form", action="store_true", help="send a multipart form")
    parser.add_argument("--dir", type=Path, default=ROOT / "var", help="on the disk to test")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-upload-", dir=args.dir))
    server = bare = None
    try:
        source = work / "source.bin"
        make_file(source, args.size * MB)
        database_url = f"sqlite:///{work / 'bench.sqlite3'}"
        presentation_id, token = seed(database_url)
        env = {
            **os.environ,
            "COORDINATOR_DATABASE_URL": database_url,
            "COORDINATOR_VAR_DIR": str(work / "var"),
            "COORDINATOR_STORAGE_ROOT": str(work / "storage"),
            "COORDINATOR_MAX_UPLOAD_BYTES": str((args.size + 10) * MB),
        }
        env.pop("COORDINATOR_CLOCK_FILE", None)
        server, port = start_server("coordinator.api:app", env)
        bare, bare_port = start_server("upload:drain", env, app_dir=ROOT / "bench")

        copies, uploads, drains, growth = [], [], [], 0
        for run in range(args.runs):
            copies.append(copy_once(source, work))
            drains.append(upload_once(bare_port, presentation_id, token, source, args.form))
            # Each run uploads different content (a new version, not recognised as identical).
            with open(source, "r+b") as file:
                file.seek(args.size * MB - 8)
                file.write(run.to_bytes(8, "big"))
            baseline = proc_status(server.pid, "VmRSS")
            peak = [baseline]
            running = threading.Event()
            running.set()

            def sample(peak=peak, running=running) -> None:
                while running.is_set():
                    with contextlib.suppress(OSError, KeyError):
                        peak[0] = max(peak[0], proc_status(server.pid, "VmRSS"))
                    time.sleep(0.005)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            try:
                uploads.append(upload_once(port, presentation_id, token, source, args.form))
            finally:
                running.clear()
                sampler.join()
            growth = max(growth, peak[0] - baseline)
        hwm = proc_status(server.pid, "VmHWM")
        size_mb = args.size * MB / 1e6
        copy_rate = size_mb / min(copies)
        upload_rate = size_mb / min(uploads)
        body = "multipart form" if args.form else "raw body"
        print(
            f"file: {args.size} MB on {work.parent}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
        )
        print(f"reference, loopback HTTP into a bare ASGI app: {size_mb / min(drains):8.1f} MB/s")
        print(
            f"copy (shutil.copyfile + fsync):                {copy_rate:8.1f} MB/s  best of {args.runs}"
        )
        print(
            f"upload ({body}, SHA-256, fsync, version row): {upload_rate:8.1f} MB/s  best of {args.runs}"
        )
        print(
            f"server RSS growth during upload: {growth / 2**20:.1f} MiB (VmHWM {hwm / 2**20:.1f} MiB)"
        )
        print(f"ratio: {upload_rate / copy_rate:.2f}")
    finally:
        stop(server)
        stop(bare)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
