"""The Celery application, configured from ``coordinator.config``.

Embedded default: Celery's SQLAlchemy transport on a SQLite file under ``./var/``; production:
Redis (or RabbitMQ) from ``COORDINATOR_BROKER_URL``. Tasks take row ids only (JSON).
"""

from __future__ import annotations

from celery import Celery

from coordinator.config import get_settings


def make_app() -> Celery:
    settings = get_settings()
    if settings.resolved_broker_url.startswith("sqla+sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    app = Celery("coordinator", broker=settings.resolved_broker_url, include=[])
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=300,
        task_soft_time_limit=240,
        broker_connection_retry_on_startup=True,
        timezone="UTC",
        enable_utc=True,
    )
    return app


app = make_app()
