"""Reminders and the delivery of every outbox row.

- :mod:`.planning` — :func:`plan_reminders` (schedule / move) and :func:`drop_reminders` (cancel),
  called inside the service's transaction;
- :mod:`.render` — the ``reminder`` renderer, as of delivery;
- :mod:`.claim` — atomic claims with a lease (``SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE``
  on SQLite);
- :mod:`.delivery` — the periodic dispatch and the batch delivery the workers run.
"""

from coordinator.reminders.planning import (
    DEFAULT_OFFSETS,
    KIND,
    ReminderPlan,
    drop_reminders,
    plan_reminders,
    reminder_offsets,
)

__all__ = [
    "DEFAULT_OFFSETS",
    "KIND",
    "ReminderPlan",
    "drop_reminders",
    "plan_reminders",
    "reminder_offsets",
]
