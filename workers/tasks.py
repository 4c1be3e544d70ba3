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


@app.task(name="coordinator.dispatch_due_packs")
def dispatch_due_packs() -> int:
    """Periodic (celery beat): claim the session packs due (their materials deadline plus
    grace has passed, or a late submission made a built pack stale) and enqueue one
    :func:`build_pack` each, after the claim committed."""
    from coordinator.services import materials

    handed = materials.dispatch_due_packs(get_engine(), lambda i, t: build_pack.delay(i, t))
    if handed:
        log.info("dispatched %d session packs", handed)
    return handed


# A pack copies every current file of a session: it may take longer than a delivery batch.
@app.task(name="coordinator.build_pack", time_limit=1800, soft_time_limit=1700)
def build_pack(pack_id: int, claim: str) -> dict | None:
    """Build the session pack ``pack_id`` if it is still claimed with ``claim``."""
    from coordinator.services import materials

    result = materials.build_claimed_pack(get_engine(), int(pack_id), str(claim))
    if result is None:
        return None
    log.info("built %s: %d submitted, %d missing", result.path, result.submitted, result.missing)
    return {"path": str(result.path), "submitted": result.submitted, "missing": result.missing}
