"""Test fixtures: one migrated database per run (SQLite file, or PostgreSQL when
``COORDINATOR_DATABASE_URL`` is set), each test inside a rolled-back transaction, and
fresh databases for tests that run the real command in another process."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from coordinator.config import get_settings, normalize_database_url
from coordinator.db import make_engine
from coordinator.migrate import upgrade
from coordinator.submissions.s3 import make_client

ROOT = Path(__file__).resolve().parent.parent
KICKOFF = ROOT / "coordinator" / "data" / "gnets-2023-kickoff.yaml"


def configured_url() -> str | None:
    url = os.environ.get("COORDINATOR_DATABASE_URL")
    return normalize_database_url(url) if url else None


def _reset_postgres_schema(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def engine(tmp_path_factory) -> Iterator[Engine]:
    url = configured_url() or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        _reset_postgres_schema(engine)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine) -> Iterator[Session]:
    """A session whose every commit is a savepoint inside a transaction rolled back at the end."""
    from tests import factories

    connection = engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    factories.bind(session)
    try:
        yield session
    finally:
        factories.bind(None)
        session.close()
        outer.rollback()
        connection.close()


@contextmanager
def new_database(folder: Path) -> Iterator[str]:
    """An empty, migrated database of the configured kind that other processes can use: a
    SQLite file in ``folder``, or a new PostgreSQL database dropped afterwards."""
    base = configured_url()
    if base is None:
        url = f"sqlite:///{folder / 'coordinator.sqlite3'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    name = f"coordinator_t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def fresh_database_url(tmp_path) -> Iterator[str]:
    """An empty, migrated database of the configured kind that other processes can use."""
    with new_database(tmp_path) as url:
        yield url


@pytest.fixture
def run_cli(fresh_database_url, tmp_path):
    """Run the real ``coordinator`` command in a subprocess against a fresh database."""

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None):
        environment = {
            **os.environ,
            "COORDINATOR_DATABASE_URL": fresh_database_url,
            "COORDINATOR_VAR_DIR": str(tmp_path / "var"),
            "COLUMNS": "200",
            **(env or {}),
        }
        return subprocess.run(
            [sys.executable, "-m", "coordinator.cli", *args],
            capture_output=True,
            text=True,
            env=environment,
            input=input,
            timeout=120,
            cwd=tmp_path,
        )

    run.database_url = fresh_database_url
    return run


# S3 is a service outside this machine: its tests run against moto's S3 server, a real HTTP
# server on the loopback interface (in a thread of the test process), as the stand-in for AWS,
# MinIO, Ceph and the like.
@pytest.fixture(scope="session")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint, monkeypatch) -> str:
    """A new, empty bucket on the local S3 server (dummy credentials)."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    make_client.cache_clear()  # a client made with other credentials would be reused
    bucket = f"test-{uuid.uuid4().hex}"
    make_client(s3_endpoint).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def settings_from_env():
    """``get_settings()`` reads the environment as the test set it, and forgets it after."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
