"""The delivery half of ``make demo``: real workers deliver the kickoff's messages while the
clock runs through the reminder moments.

:func:`use_demo_clock` makes the shared clock settable (``var/clock.json``) and sets it two
weeks before the first kickoff session, so that scheduling and publishing happen "before" the
2023 sessions. :func:`deliver_with_workers` starts a :class:`LocalStack` (a real Celery worker
and beat on the configured broker, an aiosmtpd catcher on 127.0.0.1 storing under
``var/mail/``), waits until what is due is delivered, then moves the clock to each next due
message in turn, and prints what was delivered per kind and per language. It stops everything
it started, also on error or Ctrl-C.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, func, select

from coordinator import clock
from coordinator.config import get_settings
from coordinator.models import Delegate, OutboxMessage
from coordinator.services.local_stack import LocalStack, wait_until_settled

OM = OutboxMessage
DEMO_CLOCK_START = datetime(2023, 9, 14, 0, 0, tzinfo=UTC)
LANGUAGES = {"en": "English", "ja": "日本語"}


def use_demo_clock(start: datetime = DEMO_CLOCK_START) -> None:
    """Make the clock settable for this process and the workers it starts, and set it."""
    if not clock.is_settable():
        path = (get_settings().var_dir / "clock.json").resolve()
        os.environ[clock.ENV] = str(path)
    clock.set_now(start)


def _next_due(engine: Engine) -> datetime | None:
    with engine.connect() as connection:
        value = connection.execute(
            select(func.min(OM.due_at)).where(OM.status == "pending")
        ).scalar_one()
    if value is not None and value.tzinfo is None:  # min() loses the column type on SQLite
        value = value.replace(tzinfo=UTC)
    return value


def _sent_ids(engine: Engine) -> set[int]:
    with engine.connect() as connection:
        return set(connection.execute(select(OM.id).where(OM.status == "sent")).scalars())


def _describe(engine: Engine, ids: set[int]) -> Counter:
    if not ids:
        return Counter()
    with engine.connect() as connection:
        rows = connection.execute(
            select(OM.id, OM.kind, Delegate.language)
            .outerjoin(Delegate, Delegate.id == OM.delegate_id)
            .where(OM.status == "sent")
        ).all()
    return Counter((kind, language or "—") for id_, kind, language in rows if id_ in ids)


def deliver_with_workers(engine: Engine, out: Console) -> Counter:
    """Run the workers through every due moment; returns the deliveries per (kind, language)."""
    before = _sent_ids(engine)
    stack = LocalStack(
        concurrency=2,
        dispatch_interval=1.0,
        extra_env={
            clock.ENV: os.environ.get(clock.ENV, ""),
            "COORDINATOR_OUTBOX_RETRY_BASE_SECONDS": "2",
            "COORDINATOR_OUTBOX_RETRY_MAX_SECONDS": "30",
        },
    )
    out.print(
        f"\n[bold]Delivery[/]: starting a Celery worker and beat on "
        f"{get_settings().resolved_broker_url.split('://')[0]} and an SMTP catcher on 127.0.0.1"
    )
    with stack:
        out.print(
            f"  worker pid {stack.processes[0].pid}, beat pid {stack.processes[1].pid}, "
            f"SMTP 127.0.0.1:{stack.catcher.port}, logs under {stack.log_dir}/"
        )
        seen = set(before)
        moment = clock.now()
        while True:
            wait_until_settled(engine, moment, check=stack.check_alive)
            now_sent = _sent_ids(engine)
            fresh = now_sent - seen
            seen = now_sent
            if fresh:
                kinds = _describe(engine, fresh)
                parts = ", ".join(
                    f"{n} {kind}"
                    for kind, n in sorted(Counter(k for k, _ in kinds.elements()).items())
                )
                out.print(f"  clock {moment:%Y-%m-%d %H:%M}Z: delivered {parts}")
            following = _next_due(engine)
            if following is None:
                break
            moment = max(following, clock.now()) + timedelta(seconds=1)
            clock.set_now(moment)
        received = stack.catcher.count()
    delivered = _describe(engine, _sent_ids(engine) - before)
    _print_summary(out, delivered, received, stack)
    return delivered


def _print_summary(out: Console, delivered: Counter, received: int, stack: LocalStack) -> None:
    languages = sorted({language for _, language in delivered}, key=lambda x: (x != "en", x))
    table = Table(title="Delivered by the workers in this run, per kind and language")
    table.add_column("kind")
    for language in languages:
        table.add_column(LANGUAGES.get(language, language), justify="right")
    table.add_column("total", justify="right")
    for kind in sorted({kind for kind, _ in delivered}):
        counts = [delivered[(kind, language)] for language in languages]
        table.add_row(kind, *map(str, counts), str(sum(counts)))
    totals = [sum(n for (_, lang), n in delivered.items() if lang == lg) for lg in languages]
    table.add_row("[bold]all[/]", *(f"[bold]{n}[/]" for n in totals), f"[bold]{sum(totals)}[/]")
    out.print(table)
    out.print(
        f"The SMTP catcher received {received} messages in this run; they are under "
        f"{stack.mail_dir}/ (one .eml file each). Worker and beat stopped."
    )
