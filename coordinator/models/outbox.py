"""The outbox: every message that leaves the system is a row, written in the same transaction
as the change that caused it. Workers claim due rows, deliver them, and mark them sent.

States: ``pending`` (waiting for ``due_at``/``next_attempt_at``), ``claimed`` (a worker holds a
lease until ``lease_until``; an expired lease makes the row claimable again), ``sent``,
``failed`` (permanent: the server's reason is in ``last_error``), ``dropped`` (no longer
wanted: its session moved or was cancelled before it was due).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.db import Base, UTCDateTime
from coordinator.models.network import Delegate
from coordinator.models.session import Session

OUTBOX_STATES = ("pending", "claimed", "sent", "failed", "dropped")
OUTBOX_KINDS = (
    "invite",
    "update",
    "cancel",
    "reminder",
    "call_for_materials",
    "receipt",
    "chaser",
)


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    # Unique per intended message: retrying the same action writes nothing twice.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # Fixed per row: a retried delivery carries the same Message-ID.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    delegate_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegates.id", ondelete="SET NULL"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(320))
    # Small, JSON-safe facts needed to render at delivery (sequence, offset, presentation id…).
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    session: Mapped[Session | None] = relationship()
    delegate: Mapped[Delegate | None] = relationship()

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'claimed', 'sent', 'failed', 'dropped')", name="status_known"
        ),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        # The claim query: due pending rows, and claimed rows whose lease expired.
        Index("ix_outbox_messages_status_due_at", "status", "due_at"),
    )
