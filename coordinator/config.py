"""Settings from the environment (``COORDINATOR_*``), with embedded defaults under ``./var/``.

Embedded default: a SQLite database and Celery's SQLAlchemy transport on a SQLite file, both
under ``./var/``, so one machine with nothing installed runs the whole product. Production sets
``COORDINATOR_DATABASE_URL`` (PostgreSQL) and ``COORDINATOR_BROKER_URL`` (Redis or RabbitMQ).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

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
