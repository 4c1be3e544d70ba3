"""A working group's session and its agenda of presentations."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.db import Base, UTCDateTime
from coordinator.models.network import City, Delegate, WorkingGroup

SESSION_STATUSES = ("draft", "scheduled", "cancelled")


class Session(Base):
    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("working_groups.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    title_ja: Mapped[str | None] = mapped_column(String(300))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    start_utc: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # iCalendar identity: the UID never changes, SEQUENCE grows with each change that matters.
    uid: Mapped[str] = mapped_column(String(200), unique=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    meeting_url: Mapped[str | None] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(Text)
    # ISO 8601 durations; None means the network's default.
    reminder_offsets: Mapped[list[str] | None] = mapped_column(JSON)
    # Presenters' materials are due then; None means the default (48 h before the start).
    materials_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)

    group: Mapped[WorkingGroup] = relationship(back_populates="sessions")
    presentations: Mapped[list[Presentation]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="Presentation.position"
    )

    __table_args__ = (
        CheckConstraint("status IN ('draft', 'scheduled', 'cancelled')", name="status_known"),
        CheckConstraint("duration_minutes > 0 AND duration_minutes <= 1440", name="duration_range"),
        CheckConstraint("window_end > window_start", name="window_ordered"),
        CheckConstraint("sequence >= 0", name="sequence_non_negative"),
        CheckConstraint(
            "status <> 'scheduled' OR start_utc IS NOT NULL", name="scheduled_has_start"
        ),
    )

    @property
    def end_utc(self) -> datetime | None:
        if self.start_utc is None:
            return None
        return self.start_utc + timedelta(minutes=self.duration_minutes)

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class Presentation(Base):
    __tablename__ = "presentations"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"), index=True)
    body: Mapped[str] = mapped_column(String(300))
    body_ja: Mapped[str | None] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(String(500))
    title_ja: Mapped[str | None] = mapped_column(String(500))
    presenter_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegates.id", ondelete="SET NULL"), index=True
    )
    # The organizer accepts uploads after the materials deadline for this presentation.
    late_submissions: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    session: Mapped[Session] = relationship(back_populates="presentations")
    city: Mapped[City] = relationship()
    presenter: Mapped[Delegate | None] = relationship()

    __table_args__ = (
        UniqueConstraint("session_id", "position"),
        CheckConstraint("position > 0", name="position_positive"),
    )
