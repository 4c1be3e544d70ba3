"""How the outbox is worked through: batch size, lease, retries, dispatch interval.

From the environment (``COORDINATOR_OUTBOX_*``); the defaults suit production, tests and the demo
shorten the lease and the backoff.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OutboxSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COORDINATOR_OUTBOX_", extra="ignore")

    # Rows per delivery task (one SMTP connection each).
    batch_size: int = Field(default=200, ge=1, le=5000)
    # How long a claim holds a row; a row whose lease expired is claimed again. Longer than the
    # task time limit, so that only a dead worker's rows are taken over.
    lease_seconds: float = Field(default=600.0, gt=0)
    # Claimed-but-not-delivered rows allowed at once, in batches (bounds the broker's queue).
    max_in_flight_batches: int = Field(default=8, ge=1)
    # Seconds between two runs of the periodic dispatch (celery beat).
    dispatch_interval: float = Field(default=5.0, gt=0)
    # Temporary failures (connection errors, 4xx): exponential backoff with jitter, then give up.
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    max_attempts: int = Field(default=15, ge=1)
    # Commit delivered rows as "sent" at least every this many messages.
    commit_every: int = Field(default=50, ge=1)


@lru_cache
def get_outbox_settings() -> OutboxSettings:
    return OutboxSettings()
