"""The Celery application, configured from ``coordinator.config``.

Embedded default: Celery's SQLAlchemy transport on a SQLite file under ``./var/``; production:
Redis (or RabbitMQ) from ``COORDINATOR_BROKER_URL``. Every task derives from
:class:`CoordinatorTask`: JSON arguments (row ids only), acknowledged after it ran
(``acks_late``), given back to the broker when its worker process dies
(``reject_on_worker_lost``), one message prefetched at a time, bounded by time limits, no
results stored. The outbox table, not the broker, is the source of truth: nothing is scheduled
days ahead in the broker (no ETA tasks); celery beat runs :func:`workers.tasks.dispatch_due`
every ``COORDINATOR_OUTBOX_DISPATCH_INTERVAL`` seconds.

    celery -A workers.celery_app worker      (or: coordinator worker)
    celery -A workers.celery_app beat        (or: coordinator beat)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery import Celery, Task
from celery.signals import beat_init, worker_init, worker_process_init, worker_ready

from coordinator.config import get_settings
from coordinator.reminders.settings import get_outbox_settings

TIME_LIMIT = 300
SOFT_TIME_LIMIT = 240
EMBEDDED_POLLING_INTERVAL = 0.1


class CoordinatorTask(Task):
    """The one task base class: the delivery guarantees every task needs."""

    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True
    time_limit = TIME_LIMIT
    soft_time_limit = SOFT_TIME_LIMIT
    serializer = "json"
    typing = True


def broker_options(url: str, prefix: str | None = None) -> dict:
    """Transport options: on Redis a visibility timeout longer than any task, and the key prefix
    from ``COORDINATOR_BROKER_KEY_PREFIX`` (several installations or tests on one Redis)."""
    options: dict = {}
    if url.startswith(("redis://", "rediss://", "sentinel://")):
        options["visibility_timeout"] = 3 * TIME_LIMIT
        prefix = prefix if prefix is not None else os.environ.get("COORDINATOR_BROKER_KEY_PREFIX")
        if prefix:
            options["global_keyprefix"] = prefix
    return options


def make_app() -> Celery:
    settings = get_settings()
    outbox = get_outbox_settings()
    url = settings.resolved_broker_url
    if url.startswith("sqla+sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqla+"):
        # The SQLAlchemy transport polls its table, once a second by default, and hands every
        # transport option to create_engine(), so its interval is set on the class.
        from kombu.transport import sqlalchemy as embedded_transport

        embedded_transport.Transport.polling_interval = EMBEDDED_POLLING_INTERVAL
    app = Celery("coordinator", broker=url, include=["workers.tasks"], task_cls=CoordinatorTask)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=TIME_LIMIT,
        task_soft_time_limit=SOFT_TIME_LIMIT,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_transport_options=broker_options(url),
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        timezone="UTC",
        enable_utc=True,
        beat_schedule={
            "dispatch-due-outbox-rows": {
                "task": "coordinator.dispatch_due",
                "schedule": outbox.dispatch_interval,
                # A tick that waited longer than a few intervals is stale: a newer one follows.
                "options": {"expires": max(3 * outbox.dispatch_interval, 10.0)},
            },
            # Session packs whose materials deadline (plus grace) has passed.
            "dispatch-due-session-packs": {
                "task": "coordinator.dispatch_due_packs",
                "schedule": outbox.dispatch_interval,
                "options": {"expires": max(3 * outbox.dispatch_interval, 10.0)},
            },
        },
    )
    return app


def prepare_embedded_broker(celery_app: Celery, attempts: int = 20) -> bool:
    """Create the SQLAlchemy transport's tables and the default queue's row, once, safely.

    kombu creates both on first use under a lock that holds within one process only, so a
    worker and a beat starting together on a fresh broker file can both insert the queue row
    and one of them dies on ``UNIQUE constraint failed: kombu_queue.name``. Each process runs
    this at start (``worker_init``, ``beat_init``): whoever loses the race retries and finds
    the row. Returns False when the broker is not the embedded one (nothing to do).
    """
    if not str(celery_app.conf.broker_url).startswith("sqla+"):
        return False
    from sqlalchemy.exc import IntegrityError, OperationalError

    for attempt in range(1, attempts + 1):
        try:
            with celery_app.connection_for_write() as connection:
                connection.default_channel._new_queue(celery_app.conf.task_default_queue)
            return True
        except (IntegrityError, OperationalError):
            if attempt == attempts:
                raise
            time.sleep(0.05 * attempt)
    return True


app = make_app()


@worker_init.connect
@beat_init.connect
def _prepare_broker(sender=None, **_kwargs) -> None:
    prepare_embedded_broker(app)


@worker_process_init.connect
def _fresh_connections_after_fork(**_kwargs) -> None:
    """A forked pool process must not share the parent's database connections."""
    from coordinator.db import get_engine

    if get_engine.cache_info().currsize:
        get_engine().dispose(close=False)


@worker_ready.connect
def _announce_ready(**_kwargs) -> None:
    """Write ``COORDINATOR_WORKER_READY_FILE`` when set, so that whoever started the worker
    knows it consumes, whatever its log level."""
    path = os.environ.get("COORDINATOR_WORKER_READY_FILE")
    if path:
        Path(path).write_text(str(os.getpid()), encoding="utf-8")
