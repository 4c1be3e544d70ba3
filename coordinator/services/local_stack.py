"""A local installation in one command: a Celery worker, celery beat and a mail catcher.

:class:`LocalStack` starts them (the worker and beat as real ``celery`` processes against the
configured database and broker, the catcher as an aiosmtpd server on 127.0.0.1 that stores what
it receives under ``var/mail/``) and stops everything it started. ``coordinator serve`` runs one
until Ctrl-C; ``make demo`` runs one while it moves the clock through the reminder moments.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine, func, or_, select

from coordinator.config import get_settings
from coordinator.errors import UserError
from coordinator.mail_catcher import MailCatcher
from coordinator.models import OutboxMessage
from workers.processes import CeleryProcess

OM = OutboxMessage


class LocalStack:
    def __init__(
        self,
        *,
        var_dir: Path | None = None,
        smtp_port: int | None = None,
        concurrency: int = 2,
        dispatch_interval: float | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        settings = get_settings()
        self.var_dir = (var_dir or settings.var_dir).resolve()
        self.mail_dir = self.var_dir / "mail"
        self.log_dir = self.var_dir / "log"
        self.catcher = MailCatcher(self.mail_dir, port=smtp_port)
        env = {
            "COORDINATOR_VAR_DIR": str(self.var_dir),
            "COORDINATOR_DATABASE_URL": settings.resolved_database_url,
            "COORDINATOR_BROKER_URL": settings.resolved_broker_url,
            "COORDINATOR_SMTP_HOST": self.catcher.host,
            "COORDINATOR_SMTP_PORT": str(self.catcher.port),
            "COORDINATOR_SMTP_STARTTLS": "false",
            "COORDINATOR_SMTP_SSL": "false",
            **(extra_env or {}),
        }
        if dispatch_interval is not None:
            env["COORDINATOR_OUTBOX_DISPATCH_INTERVAL"] = str(dispatch_interval)
        self.processes = [
            CeleryProcess(
                "worker",
                name="worker",
                env=env,
                log_dir=self.log_dir,
                args=["--concurrency", str(concurrency)],
            ),
            CeleryProcess("beat", name="beat", env=env, log_dir=self.log_dir),
        ]

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> LocalStack:
        try:
            try:
                self.catcher.start()
            except OSError as exc:
                raise UserError(
                    f"COORDINATOR_SMTP_PORT: the mail catcher cannot listen on "
                    f"{self.catcher.host}:{self.catcher.port}: {exc.strerror or exc}"
                ) from None
            for process in self.processes:
                process.start()
            for process in self.processes:
                process.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.catcher.stop()

    def check_alive(self) -> None:
        for process in self.processes:
            if not process.alive():
                raise RuntimeError(f"{process.name} stopped:\n{process.log()[-2000:]}")


def unsettled(engine: Engine, now: datetime) -> int:
    """Rows that are due by ``now`` and not yet delivered (pending or claimed)."""
    with engine.connect() as connection:
        return connection.execute(
            select(func.count())
            .select_from(OM)
            .where(
                or_(
                    (OM.status == "pending") & (OM.due_at <= now),
                    OM.status == "claimed",
                )
            )
        ).scalar_one()


def wait_until_settled(
    engine: Engine,
    now: datetime,
    *,
    timeout: float = 180.0,
    check: Callable[[], None] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = unsettled(engine, now)
        if left == 0:
            return
        if check is not None:
            check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{left} outbox messages still undelivered after {timeout:.0f}s")
        time.sleep(0.2)


def serve_forever(out: Console, *, concurrency: int = 2) -> None:
    settings = get_settings()
    stack = LocalStack(smtp_port=settings.smtp_port, concurrency=concurrency)
    stopping = threading.Event()

    def _stop(_signum, _frame) -> None:
        stopping.set()

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        with stack:
            out.print(
                f"worker, beat and mail catcher running (pid {os.getpid()}): "
                f"SMTP on {stack.catcher.host}:{stack.catcher.port}, mail under {stack.mail_dir}/, "
                f"logs under {stack.log_dir}/; Ctrl-C stops"
            )
            while not stopping.wait(1.0):
                stack.check_alive()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    out.print(f"stopped; {stack.catcher.count()} messages received this run")


__all__ = ["LocalStack", "serve_forever", "unsettled", "wait_until_settled"]
