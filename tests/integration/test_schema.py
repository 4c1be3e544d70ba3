"""The schema: migrations and models agree, the configured database is really used, and the
database itself enforces the constraints."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError, StatementError

from coordinator.db import NAMING_CONVENTION, Base
from tests.factories import CityFactory, DelegateFactory, SessionFactory


def test_migrations_and_models_agree(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_the_configured_database_is_the_one_in_use(engine):
    url = os.environ.get("COORDINATOR_DATABASE_URL", "")
    if url.startswith("postgres"):
        assert engine.dialect.name == "postgresql"
    else:
        assert engine.dialect.name == "sqlite"


def test_constraint_names_follow_the_convention(engine):
    inspector = inspect(engine)
    fks = inspector.get_foreign_keys("delegates")
    assert {fk["name"] for fk in fks} == {
        "fk_delegates_city_id_cities",
        "fk_delegates_network_id_networks",
    }
    assert NAMING_CONVENTION["pk"] == "pk_%(table_name)s"
    assert inspector.get_pk_constraint("sessions")["name"] == "pk_sessions"


@pytest.mark.parametrize(
    "field, value",
    [("language", "fr"), ("role", "boss"), ("email", "not-an-email")],
)
def test_delegate_checks_live_in_the_database(db, field, value):
    delegate = DelegateFactory()
    setattr(delegate, field, value)
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()


def test_duplicate_email_in_a_network_is_refused_by_the_database(db):
    first = DelegateFactory(email="same@example.org")
    other_city = CityFactory(network=first.city.network)
    with pytest.raises(IntegrityError):
        DelegateFactory(email="same@example.org", city=other_city)
    db.rollback()


def test_a_scheduled_session_needs_a_start(db):
    with pytest.raises(IntegrityError, match="scheduled_has_start"):
        SessionFactory(status="scheduled", start_utc=None)
    db.rollback()


def test_instants_come_back_as_aware_utc(db):
    start = datetime(2023, 10, 3, 20, 0, tzinfo=UTC)
    session = SessionFactory(start_utc=start, status="scheduled")
    db.flush()
    db.expire_all()
    assert session.start_utc == start
    assert (
        session.start_utc.tzinfo is not None and session.start_utc.utcoffset().total_seconds() == 0
    )


def test_naive_datetimes_are_refused(db):
    with pytest.raises(StatementError, match="naive datetime"):
        SessionFactory(start_utc=datetime(2023, 10, 3, 20, 0), status="scheduled")
    db.rollback()
