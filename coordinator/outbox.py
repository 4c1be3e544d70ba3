"""Writing outbox rows and rendering them, shared by every kind of message.

Services call :func:`add_message` inside their transaction; nothing is sent there. Each kind
of message registers a renderer with :func:`renderer`; delivery calls :func:`render` with the
row, which builds the email from the database *as it is at delivery* (a reminder shows the
session's current time) or returns ``None`` when the message is no longer wanted.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Iterable
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy import select, update

from coordinator.db import Db
from coordinator.models import OutboxMessage

Renderer = Callable[[Db, OutboxMessage], EmailMessage | None]
_RENDERERS: dict[str, Renderer] = {}
# Modules that register renderers; imported on first use so that delivery sees every kind.
RENDERER_MODULES = (
    "coordinator.services.invitations",
    "coordinator.reminders.render",
    "coordinator.submissions.messages",
)


def message_id_for(key: str, domain: str = "coordinator.example.org") -> str:
    """A Message-ID fixed by the idempotency key: a resend is recognisably the same message."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def add_message(
    db: Db,
    *,
    kind: str,
    key: str,
    recipient: str,
    due_at: datetime,
    session_id: int | None = None,
    delegate_id: int | None = None,
    payload: dict | None = None,
) -> tuple[OutboxMessage, bool]:
    """Add one outbox row unless a row with this idempotency key exists.

    Returns the row and whether it was created; a retried action writes nothing twice.
    """
    existing = db.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    if existing is not None:
        return existing, False
    row = OutboxMessage(
        kind=kind,
        idempotency_key=key,
        message_id=message_id_for(key),
        recipient=recipient,
        due_at=due_at,
        session_id=session_id,
        delegate_id=delegate_id,
        payload=payload or {},
        status="pending",
        attempts=0,
    )
    db.add(row)
    return row, True


def drop_pending(db: Db, *, session_id: int, kinds: Iterable[str]) -> int:
    """Mark a session's not-yet-sent messages of these kinds as dropped; returns how many."""
    result = db.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.session_id == session_id,
            OutboxMessage.kind.in_(list(kinds)),
            OutboxMessage.status == "pending",
        )
        .values(status="dropped")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def renderer(kind: str) -> Callable[[Renderer], Renderer]:
    def register(function: Renderer) -> Renderer:
        _RENDERERS[kind] = function
        return function

    return register


def _load_renderers() -> None:
    for module in RENDERER_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def render(db: Db, row: OutboxMessage) -> EmailMessage | None:
    """The email for this row as of now, or None if it is no longer wanted."""
    if row.kind not in _RENDERERS:
        _load_renderers()
    try:
        function = _RENDERERS[row.kind]
    except KeyError:
        raise LookupError(f"no renderer for outbox messages of kind {row.kind!r}") from None
    return function(db, row)
