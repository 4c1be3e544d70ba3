"""Running the HTTP API as a process of its own: ``uvicorn coordinator.api:app`` with the
installation's settings (database, broker, var directory), logging to ``var/log/api.log``.

``coordinator serve`` runs one beside the worker, beat and the mail catcher; it is stopped
gently (SIGTERM: uvicorn finishes the requests in flight), then killed if it lingers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from coordinator.config import get_settings

ROOT = Path(__file__).resolve().parent.parent.parent


class ApiProcess:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
        settings = get_settings()
        self.host, self.port, self.workers = host, port, workers
        var = settings.var_dir.resolve()
        self.log_path = var / "log" / "api.log"
        self.env = {
            **os.environ,
            "COORDINATOR_VAR_DIR": str(var),
            "COORDINATOR_DATABASE_URL": settings.resolved_database_url,
            "COORDINATOR_BROKER_URL": settings.resolved_broker_url,
        }
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "coordinator.api:app",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--proxy-headers",
        ]

    def start(self, timeout: float = 60.0) -> ApiProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps writing to it
        self.process = subprocess.Popen(
            self.command(),
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches it through serve, not twice
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the API stopped at start:\n{self.log()[-2000:]}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/api/v1", timeout=2) as answer,
            ):
                if answer.status == 200:
                    return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the API did not answer in {timeout:.0f} s:\n{self.log()}")
            time.sleep(0.2)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
