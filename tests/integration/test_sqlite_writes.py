"""On the embedded default (SQLite), a unit of work that reads, then writes, while another
connection writes: it waits its turn instead of failing with "database is locked".

SQLite in WAL mode lets a reader keep its snapshot while another connection commits; a
transaction begun as a reader can then no longer write (SQLITE_BUSY_SNAPSHOT, reported at
once, whatever the busy timeout). ``unit_of_work`` therefore begins with ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from coordinator.db import make_engine, unit_of_work
from coordinator.models import Network
from tests.conftest import configured_url

pytestmark = pytest.mark.skipif(
    bool(configured_url()) and not configured_url().startswith("sqlite"),
    reason="SQLite's locking: the embedded pass",
)


def network(slug: str) -> Network:
    return Network(slug=slug, name=slug, organizer_name="Sec", organizer_email="s@example.org")


def test_a_unit_of_work_that_reads_then_writes_waits_for_another_writer(fresh_database_url):
    engine = make_engine(fresh_database_url)
    other_committed = threading.Event()
    outcome: dict = {}

    def reads_then_writes() -> None:
        try:
            with Session(engine) as db, unit_of_work(db):
                outcome["seen"] = db.scalar(select(func.count()).select_from(Network))
                # Begun as a reader, it would now be overtaken by the other commit.
                other_committed.wait(10)
                db.add(network("second"))
        except Exception as exc:  # the failure this test is about
            outcome["error"] = exc

    with engine.connect() as other:
        other.info["sqlite_begin"] = "BEGIN IMMEDIATE"  # the other writer holds the lock
        other.begin()
        other.execute(
            insert(Network.__table__).values(
                slug="first",
                name="first",
                organizer_name="Sec",
                organizer_email="s@example.org",
                reminder_offsets=[],
            )
        )
        worker = threading.Thread(target=reads_then_writes)
        worker.start()
        worker.join(0.5)  # it is waiting for the write lock, not reading a stale snapshot
        assert worker.is_alive() and "seen" not in outcome
        other.commit()
        other_committed.set()
    worker.join(30)

    assert "error" not in outcome, outcome.get("error")
    assert outcome["seen"] == 1  # it read after the other commit
    with Session(engine) as db:
        assert sorted(db.scalars(select(Network.slug))) == ["first", "second"]
    engine.dispose()
