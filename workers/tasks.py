"""Thin tasks: they take row ids (and a claim token), re-check the rows' state in the database,
and call :mod:`coordinator.reminders.delivery`. No business logic lives here.
"""

from __future__ import annotations

import logging

from coordinator.db import get_engine
from coordinator.reminders import delivery
from workers.celery_app import app

log = logging.getLogger(__name__)


@app.task(name="coordinator.dispatch_due")
def dispatch_due() -> int:
    """Periodic (celery beat): claim due outbox rows in batches, then enqueue one
    :func:`deliver` per batch, each after its claim committed."""
    handed = delivery.dispatch_due(get_engine(), lambda ids, token: deliver.delay(ids, token))
    if handed:
        log.info("dispatched %d outbox rows", handed)
    return handed


@app.task(name="coordinator.deliver")
def deliver(ids: list[int], claim: str) -> dict:
    """Deliver the rows among ``ids`` still claimed with ``claim`` (others are left alone)."""
    result = delivery.deliver_batch(get_engine(), [int(i) for i in ids], str(claim))
    log.info("delivered batch: %s", result.as_dict())
    return result.as_dict()


@app.task(name="coordinator.noop")
def noop(ids: list[int]) -> None:
    """Does nothing: the broker's baseline in ``bench/dispatch.py``."""
    return None
