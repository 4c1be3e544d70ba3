"""Attendance: each delegate's latest answer (iTIP REPLY) to a session's invitation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.db import Base, UTCDateTime
from coordinator.models.network import Delegate
from coordinator.models.session import Session

# iCalendar PARTSTAT values an attendee may answer with (RFC 5545 §3.2.12, VEVENT).
PARTSTATS = ("ACCEPTED", "DECLINED", "TENTATIVE", "NEEDS-ACTION", "DELEGATED")


class Attendance(Base):
    """One delegate's answer for one session: the PARTSTAT of their latest reply, the SEQUENCE
    of the version they answered and when they answered (the reply's DTSTAMP). A delegate who
    has not answered has no row (shown as NEEDS-ACTION)."""

    __tablename__ = "attendances"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    delegate_id: Mapped[int] = mapped_column(
        ForeignKey("delegates.id", ondelete="CASCADE"), index=True
    )
    partstat: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int] = mapped_column(Integer)
    replied_at: Mapped[datetime] = mapped_column(UTCDateTime)

    session: Mapped[Session] = relationship()
    delegate: Mapped[Delegate] = relationship()

    __table_args__ = (
        UniqueConstraint("session_id", "delegate_id"),
        CheckConstraint(
            "partstat IN ('ACCEPTED', 'DECLINED', 'TENTATIVE', 'NEEDS-ACTION', 'DELEGATED')",
            name="partstat_known",
        ),
        CheckConstraint("sequence >= 0", name="sequence_non_negative"),
    )
