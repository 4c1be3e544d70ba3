"""Dispatching and delivering outbox rows: what the workers' tasks call.

- :func:`dispatch_due` (the periodic task): claims due rows in batches, commits, and only then
  hands each batch's ids and claim token to ``enqueue`` (a delivery task). It keeps at most
  ``max_in_flight_batches`` batches claimed, so nothing waits long in the broker.
- :func:`deliver_batch` (the delivery task): takes the rows still claimed with its token,
  renders each one as it is now (:func:`coordinator.outbox.render`; ``None`` → dropped), sends
  them over one SMTP connection, and records each outcome:

  ======================  ===============================================================
  accepted by the server  ``sent`` (committed every ``commit_every`` messages)
  4xx or connection lost  ``pending`` again, due after exponential backoff with jitter;
                          after ``max_attempts`` attempts, ``failed``
  5xx                     ``failed`` with the server's reply in ``last_error``
  renderer raised         ``failed`` with the error (``coordinator outbox retry`` after a fix)
  ======================  ===============================================================

  When the connection fails, the rest of the batch goes back to ``pending`` with the same
  backoff. A worker killed in the middle leaves its rows ``claimed``; their lease expires and
  they are claimed again: the messages in flight at the kill may arrive twice, with the same
  Message-ID, and no message is lost.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import selectinload

from coordinator import clock
from coordinator.config import Settings, get_settings
from coordinator.mail import Mailer, PermanentFailure, TemporaryFailure
from coordinator.models import Delegate, OutboxMessage
from coordinator.outbox import render
from coordinator.reminders import claim
from coordinator.reminders.settings import OutboxSettings, get_outbox_settings

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    taken: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "taken": self.taken,
            "sent": self.sent,
            "retried": self.retried,
            "failed": self.failed,
            "dropped": self.dropped,
        }


def backoff(attempt: int, settings: OutboxSettings, rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``attempt``-th failed attempt: exponential, capped, with
    "equal jitter" (half fixed, half random) so that retries of a batch spread out."""
    rng = rng or random
    ceiling = min(settings.retry_max_seconds, settings.retry_base_seconds * 2 ** (attempt - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def message_bytes(message: EmailMessage, message_id: str) -> bytes:
    """The message as sent, carrying exactly the row's Message-ID (checked on the bytes: parsing
    the header would cost more than building the whole message)."""
    data = message.as_bytes()
    head = b"\n" + data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0] + b"\n"
    if b"\nMessage-ID: " + message_id.encode("ascii") + b"\n" in head:
        return data
    del message["Message-ID"]
    message["Message-ID"] = message_id
    return message.as_bytes()


def dispatch_due(
    engine: Engine,
    enqueue: Callable[[list[int], str], None],
    *,
    settings: OutboxSettings | None = None,
    now: datetime | None = None,
) -> int:
    """Claim due rows batch by batch and hand each batch to ``enqueue`` after its commit.
    Returns how many rows were handed out."""
    settings = settings or get_outbox_settings()
    now = now or clock.now()
    lease = timedelta(seconds=settings.lease_seconds)
    room = settings.max_in_flight_batches * settings.batch_size - claim.in_flight(engine, now=now)
    handed = 0
    while room > 0:
        token = claim.new_token("claim")
        limit = min(settings.batch_size, room)
        ids = claim.claim_due(engine, limit=limit, token=token, lease=lease, now=now)
        if not ids:
            break
        try:
            enqueue(ids, token)
        except Exception:
            # The broker is unreachable: give the rows back now rather than at lease expiry.
            claim.release(engine, token=token)
            raise
        handed += len(ids)
        room -= len(ids)
        if len(ids) < limit:
            break
    return handed


class _Outcomes:
    """Outcomes recorded as they happen, written in small transactions: the sent rows of a
    chunk in one statement (``sent_at`` is when the chunk's last message was accepted), the
    other outcomes row by row."""

    def __init__(self, engine: Engine, worker: str, settings: OutboxSettings) -> None:
        self.engine = engine
        self.worker = worker
        self.settings = settings
        self.sent: list[int] = []
        self.sent_at: datetime | None = None
        self.other: list[dict] = []

    def mark_sent(self, row: OutboxMessage, at: datetime) -> None:
        self.sent.append(row.id)
        self.sent_at = at
        if len(self.sent) >= self.settings.commit_every:
            self.flush()

    def mark(self, row: OutboxMessage, status: str, **values) -> None:
        self.other.append(
            {"id": row.id, "status": status, "lease_until": None, "claimed_by": None, **values}
        )

    def flush(self) -> None:
        if not self.sent and not self.other:
            return
        with (
            claim._write_transaction(self.engine) as connection,
            connection.begin(),
            OrmSession(bind=connection) as db,
        ):
            if self.sent:
                db.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(self.sent))
                    .values(
                        status="sent",
                        sent_at=self.sent_at,
                        attempts=OutboxMessage.attempts + 1,
                        lease_until=None,
                        last_error=None,
                    )
                    .execution_options(synchronize_session=False)
                )
            if self.other:
                db.execute(update(OutboxMessage), self.other)
        self.sent, self.other = [], []


def _retry_or_fail(
    out: _Outcomes, row: OutboxMessage, reason: str, result: BatchResult, now: datetime
) -> None:
    attempts = row.attempts + 1
    if attempts >= out.settings.max_attempts:
        out.mark(
            row,
            "failed",
            attempts=attempts,
            last_error=f"gave up after {attempts} attempts: {reason}",
        )
        result.failed += 1
        return
    due = now + timedelta(seconds=backoff(attempts, out.settings))
    out.mark(row, "pending", attempts=attempts, due_at=due, last_error=reason)
    result.retried += 1


def deliver_batch(
    engine: Engine,
    ids: list[int],
    token: str,
    *,
    settings: OutboxSettings | None = None,
    app_settings: Settings | None = None,
    worker: str | None = None,
) -> BatchResult:
    """Deliver the rows among ``ids`` still claimed with ``token`` (see the module doc)."""
    settings = settings or get_outbox_settings()
    app_settings = app_settings or get_settings()
    worker = worker or claim.new_token("worker")
    lease = timedelta(seconds=settings.lease_seconds)
    taken = claim.take(engine, ids, token=token, worker=worker, lease=lease)
    result = BatchResult(taken=len(taken))
    if not taken:
        return result
    out = _Outcomes(engine, worker, settings)
    with OrmSession(bind=engine, expire_on_commit=False) as db:
        rows = list(
            db.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.id.in_(taken))
                .options(
                    selectinload(OutboxMessage.delegate).selectinload(Delegate.city),
                    selectinload(OutboxMessage.session),
                )
                .order_by(OutboxMessage.session_id, OutboxMessage.id)
            )
        )
        remaining = list(rows)
        try:
            with Mailer(app_settings) as mailer:
                while remaining:
                    row = remaining.pop(0)
                    now = clock.now()
                    try:
                        message = render(db, row)
                    except Exception as exc:  # a bug or bad data: park it, say why
                        log.exception("outbox %s: rendering failed", row.id)
                        reason = f"render: {type(exc).__name__}: {exc}"
                        out.mark(row, "failed", attempts=row.attempts + 1, last_error=reason)
                        result.failed += 1
                        continue
                    if message is None:
                        out.mark(row, "dropped")
                        result.dropped += 1
                        continue
                    try:
                        mailer.send(
                            message_bytes(message, row.message_id),
                            sender=app_settings.organizer_email,
                            recipients=[row.recipient],
                        )
                    except TemporaryFailure as exc:
                        result.errors.append(exc.reason)
                        _retry_or_fail(out, row, exc.reason, result, now)
                        if exc.connection:
                            # The server is gone: the rest of the batch waits as well.
                            for other in remaining:
                                _retry_or_fail(out, other, exc.reason, result, now)
                            remaining = []
                    except PermanentFailure as exc:
                        result.errors.append(exc.reason)
                        out.mark(row, "failed", attempts=row.attempts + 1, last_error=exc.reason)
                        result.failed += 1
                    else:
                        out.mark_sent(row, clock.now())
                        result.sent += 1
        finally:
            # Interrupted (time limit, shutdown): what was not tried goes back to pending now.
            for other in remaining:
                out.mark(other, "pending")
            out.flush()
    return result
