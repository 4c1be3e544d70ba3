"""Starting and stopping real ``celery worker`` and ``celery beat`` processes.

Used by ``coordinator serve``, ``make demo``, the tests and the benchmarks: each process runs
``python -m celery -A workers.celery_app …`` in its own process group with the given
environment, logs to a file, and is stopped gently (SIGTERM: a worker finishes its task) or
killed (SIGKILL to the whole group, as a crashed machine would).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class CeleryProcess:
    def __init__(
        self,
        role: str,
        *,
        name: str,
        env: dict[str, str] | None = None,
        log_dir: Path,
        args: list[str] | None = None,
    ) -> None:
        if role not in ("worker", "beat"):
            raise ValueError(f"role: {role!r} is neither worker nor beat")
        self.role = role
        self.name = name
        self.env = {**os.environ, **(env or {})}
        self.log_path = Path(log_dir) / f"{name}.log"
        self.args = list(args or [])
        self.process: subprocess.Popen | None = None
        self.ready_file = Path(log_dir) / f"{name}.ready"
        if role == "worker":
            self.env["COORDINATOR_WORKER_READY_FILE"] = str(self.ready_file)

    def command(self) -> list[str]:
        base = [sys.executable, "-m", "celery", "-A", "workers.celery_app", self.role]
        if self.role == "worker":
            base += [
                "--hostname",
                f"{self.name}@%h",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ]
        else:
            var = self.log_path.parent
            base += [
                "--loglevel",
                "INFO",
                "--schedule",
                str(var / f"{self.name}-schedule"),
                "--pidfile",
                str(var / f"{self.name}.pid"),
            ]
        return base + self.args

    def start(self) -> CeleryProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.ready_file.unlink(missing_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        try:
            self.process = subprocess.Popen(
                self.command(),
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the worker consumes (its ready file) or the beat started its scheduler."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.role == "worker" and self.ready_file.exists():
                return
            if self.role == "beat" and "beat: Starting" in self.log():
                return
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early:\n{self.log()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout:.0f}s:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group (the worker and its pool), like a crash."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (warm shutdown), then SIGKILL the group if it is still there."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.kill(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # leftovers of the pool, if any
        if self.process.poll() is None:
            self.process.wait(timeout=30)
