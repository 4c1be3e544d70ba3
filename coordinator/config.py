"""Settings from the environment (``COORDINATOR_*``), with embedded defaults under ``./var/``.

Embedded default: a SQLite database and Celery's SQLAlchemy transport on a SQLite file, both
under ``./var/``, so one machine with nothing installed runs the whole product. Production sets
``COORDINATOR_DATABASE_URL`` (PostgreSQL) and ``COORDINATOR_BROKER_URL`` (Redis or RabbitMQ).
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COORDINATOR_", extra="ignore")

    var_dir: Path = Field(default=Path("var"))
    database_url: str | None = None
    broker_url: str | None = None

    organizer_email: str = "secretariat@example.org"
    organizer_name: str = "G-NETS Secretariat"
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = "dev-only-change-me"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout: float = 10.0

    # Presenters' materials (coordinator.submissions, coordinator.services.materials).
    # Where uploaded files live, content-addressed: "filesystem" (under storage_root) or "s3"
    # (an S3-compatible bucket; credentials from boto3's usual chain, AWS_ACCESS_KEY_ID etc.).
    storage_backend: Literal["filesystem", "s3"] = "filesystem"
    # The file system backend's directory (default: <var_dir>/storage).
    storage_root: Path | None = None
    # The S3 backend: the bucket (required), an endpoint for MinIO, Ceph, … (default: AWS), the
    # region (default: boto3's), and a prefix for the object names (e.g. "coordinator/").
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_prefix: str = ""
    # Largest accepted upload, in bytes (default 200 MiB); checked while the body streams in.
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    # Default deadline for materials: this long before the session starts (ISO 8601 or seconds).
    materials_deadline_before: timedelta = timedelta(hours=48)
    # Uploads that started before the deadline may finish this long after it; upload links stay
    # valid until the deadline plus this, and the session pack is built then.
    materials_grace: timedelta = timedelta(minutes=15)
    # Chasers to presenters with nothing submitted, this long before the deadline.
    materials_chasers: tuple[timedelta, ...] = (timedelta(days=7), timedelta(days=2))
    # Organizer access to the HTTP API's downloads (``Authorization: Bearer <token>``); unset
    # means only API keys (coordinator keys create) open organizer routes.
    admin_token: str | None = None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite:///{(self.var_dir / 'coordinator.sqlite3').resolve()}"

    @property
    def resolved_broker_url(self) -> str:
        if self.broker_url:
            return self.broker_url
        return f"sqla+sqlite:///{(self.var_dir / 'broker.sqlite3').resolve()}"

    @property
    def resolved_storage_root(self) -> Path:
        return (self.storage_root or self.var_dir / "storage").resolve()

    @property
    def s3_incoming_dir(self) -> Path:
        """Where the S3 backend receives uploads before sending them to the bucket."""
        return (self.var_dir / "s3-incoming").resolve()

    @property
    def packs_dir(self) -> Path:
        return (self.var_dir / "packs").resolve()

    @property
    def is_embedded(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


def normalize_database_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()
