"""Engine, sessions and the MetaData naming convention.

Services run one transaction per user action with :func:`unit_of_work`; nothing else commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from coordinator.config import get_settings, normalize_database_url

Db = Session

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant, stored as UTC, always returned timezone-aware in UTC.

    SQLite has no time zones; PostgreSQL has ``timestamptz``. Naive datetimes are refused so
    that local wall time can never slip into storage.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} cannot be stored: give a UTC instant"
            )
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def make_engine(url: str | None = None) -> Engine:
    url = normalize_database_url(url) if url else get_settings().resolved_database_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # Let SQLAlchemy emit BEGIN itself so that BEGIN IMMEDIATE can be used for claims.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - trivial
            default = conn.get_execution_options().get("sqlite_begin", "BEGIN")
            conn.exec_driver_sql(conn.info.pop("sqlite_begin", default))

        return engine
    return create_engine(url, pool_pre_ping=True)


@lru_cache
def get_engine() -> Engine:
    return make_engine()


@lru_cache
def _session_factory() -> sessionmaker[Db]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def new_session() -> Db:
    return _session_factory()()


@contextmanager
def session_scope() -> Iterator[Db]:
    """A database session for one command or request; closed afterwards."""
    db = new_session()
    try:
        yield db
    finally:
        db.close()


@contextmanager
def unit_of_work(db: Db) -> Iterator[Db]:
    """One user action, one transaction: commit on success, roll back on any error.

    Tests bind the session to a connection in ``create_savepoint`` mode, so this commit
    only releases a savepoint and the test's outer transaction is rolled back at the end.
    """
    if not db.in_transaction() and db.get_bind().dialect.name == "sqlite":
        # A transaction that will write takes SQLite's write lock when it begins, waiting
        # (busy_timeout) for another writer to finish. Begun as a reader, it could not write
        # once someone else had committed since its first read: "database is locked" at once.
        db.connection(execution_options={"sqlite_begin": "BEGIN IMMEDIATE"})
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
