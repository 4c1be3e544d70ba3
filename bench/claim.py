"""Benchmark the claim query on a large outbox, with a sequential-scan baseline in the same run.

    python bench/claim.py [--rows 1000000] [--batch 500] [--repeat 40]

Needs PostgreSQL (``COORDINATOR_DATABASE_URL`` if it is a postgresql:// URL, else
postgresql://postgres@127.0.0.1:5432/test). Works in a schema of its own, created here and
dropped at the end. The outbox holds ``--rows`` rows like a network's history: 80% sent, 5%
dropped, 1% failed, 14% pending with due times spread from 30 days ago to 30 days ahead (about
half of them due now).

Each repetition claims ``--batch`` due rows with the code the workers run
(:func:`coordinator.reminders.claim.claim_on`: ``UPDATE … WHERE id IN (SELECT … ORDER BY due_at
LIMIT n FOR UPDATE SKIP LOCKED) RETURNING id``) and commits. It prints the query plan (which
must use the ``(status, due_at)`` index), the median claim time, and the same median with index
scans disabled, as a baseline. The last line is ``median_ms: N.NN`` followed by the baseline
and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import and_, event, text  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402

from coordinator.config import normalize_database_url  # noqa: E402
from coordinator.db import Base, make_engine  # noqa: E402
from coordinator.models import OutboxMessage  # noqa: E402
from coordinator.reminders.claim import _claim_statement, claim_on  # noqa: E402

OM = OutboxMessage
LEASE = timedelta(minutes=10)


def fill(connection, rows: int, now: datetime) -> None:
    connection.execute(
        text(
            """
            INSERT INTO outbox_messages
                (kind, idempotency_key, message_id, recipient, payload, status, due_at,
                 attempts, created_at, sent_at)
            SELECT 'reminder', 'bench:' || g, '<' || g || '@bench.coordinator>',
                   'd' || g || '@example.org', '{}'::json,
                   CASE WHEN g % 100 < 80 THEN 'sent' WHEN g % 100 < 85 THEN 'dropped'
                        WHEN g % 100 = 85 THEN 'failed' ELSE 'pending' END,
                   CASE WHEN g % 100 < 86 THEN :now - (g % 8640) * interval '5 minutes'
                        ELSE :now - interval '30 days' + (g::float / :rows) * interval '60 days'
                   END,
                   CASE WHEN g % 100 < 86 THEN 1 ELSE 0 END, :now,
                   CASE WHEN g % 100 < 80 THEN :now ELSE NULL END
            FROM generate_series(1, :rows) AS g
            """
        ),
        {"now": now, "rows": rows},
    )
    connection.execute(text("ANALYZE outbox_messages"))


def explain(connection, statement, analyze: bool) -> str:
    compiled = statement.compile(dialect=postgresql.dialect())
    options = "ANALYZE, BUFFERS, " if analyze else ""
    lines = connection.exec_driver_sql(
        f"EXPLAIN ({options}COSTS) {compiled}", compiled.params
    ).scalars()
    return "\n".join(lines)


def timed_claims(engine, *, batch: int, repeat: int, now: datetime, seqscan: bool) -> list[float]:
    times = []
    for _ in range(repeat):
        with engine.connect() as connection:
            if seqscan:
                connection.execute(text("SET enable_indexscan = off"))
                connection.execute(text("SET enable_bitmapscan = off"))
                connection.commit()
            began = time.perf_counter()
            with connection.begin():
                ids = claim_on(
                    connection, limit=batch, token=uuid.uuid4().hex, now=now, lease=LEASE
                )
            times.append((time.perf_counter() - began) * 1000)
            if len(ids) != batch:
                raise SystemExit(f"claimed {len(ids)} rows instead of {batch}: not enough due")
            if seqscan:
                connection.execute(text("RESET enable_indexscan"))
                connection.execute(text("RESET enable_bitmapscan"))
                connection.commit()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    url = os.environ.get("COORDINATOR_DATABASE_URL", "")
    if not url.startswith("postgres"):
        url = "postgresql://postgres@127.0.0.1:5432/test"
    schema = f"claim_bench_{uuid.uuid4().hex[:8]}"
    engine = make_engine(normalize_database_url(url))

    @event.listens_for(engine, "connect")
    def _search_path(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET search_path TO {schema}")
        dbapi_connection.commit()

    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        Base.metadata.create_all(engine, tables=[t for t in Base.metadata.sorted_tables])
        now = datetime.now(UTC)
        began = time.perf_counter()
        with engine.begin() as connection:
            fill(connection, args.rows, now)
            counts = dict(
                connection.execute(
                    text("SELECT status, count(*) FROM outbox_messages GROUP BY status")
                ).all()
            )
            due = connection.execute(
                text(
                    "SELECT count(*) FROM outbox_messages WHERE status = 'pending' AND due_at <= :n"
                ),
                {"n": now},
            ).scalar_one()
        print(
            f"{args.rows:,} outbox rows in schema {schema} ({time.perf_counter() - began:.1f}s): "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
            + f"; due now: {due:,}"
        )
        pending = _claim_statement(
            and_(OM.status == "pending", OM.due_at <= now),
            OM.due_at,
            args.batch,
            postgres=True,
            token="explain",
            lease_until=now + LEASE,
        )
        expired = _claim_statement(
            and_(OM.status == "claimed", OM.lease_until <= now),
            OM.lease_until,
            args.batch,
            postgres=True,
            token="explain",
            lease_until=now + LEASE,
        )
        with engine.connect() as connection:
            with connection.begin() as transaction:
                plan = explain(connection, pending, analyze=True)
                transaction.rollback()  # EXPLAIN ANALYZE ran the claim: undo it
            print(f"\nplan of the claim of {args.batch} due pending rows (EXPLAIN ANALYZE):")
            print(plan)
            print("\nplan of the claim of expired leases (EXPLAIN):")
            print(explain(connection, expired, analyze=False))
        uses_index = "ix_outbox_messages_status_due_at" in plan
        print(f"\nuses the (status, due_at) index: {'yes' if uses_index else 'NO'}")

        indexed = timed_claims(engine, batch=args.batch, repeat=args.repeat, now=now, seqscan=False)
        baseline = timed_claims(
            engine, batch=args.batch, repeat=max(5, args.repeat // 4), now=now, seqscan=True
        )
        median, base = statistics.median(indexed), statistics.median(baseline)
        print(
            f"claim {args.batch} rows, {len(indexed)} times: median {median:.2f} ms, "
            f"p90 {sorted(indexed)[int(len(indexed) * 0.9)]:.2f} ms, min {min(indexed):.2f} ms"
        )
        print(f"same claim with index scans disabled, {len(baseline)} times: median {base:.2f} ms")
        if not uses_index:
            raise SystemExit("the claim query does not use the index")
        print(
            f"median_ms: {median:.2f} (sequential-scan baseline {base:.2f} ms: {base / median:.1f}x)"
        )
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


if __name__ == "__main__":
    main()
