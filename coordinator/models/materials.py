"""Presenters' materials: the versions they upload, their upload links, and the session packs.

- :class:`Submission` — one version of a presentation's materials. Every upload is a new
  version (1, 2, …); the highest is current; nothing is overwritten. The file lives in the
  content-addressed store under ``storage_key`` (derived from the SHA-256, never from the
  name); ``original_filename`` is for display only, already sanitized.
- :class:`UploadToken` — a presenter's personal upload link for one presentation and purpose.
  Only the SHA-256 of the token is stored (and the random ``nonce`` it was signed over, so that
  the call for materials can be rendered again with the same link; without the installation's
  secret key the nonce is worth nothing). Valid until the session's materials deadline plus
  the grace period, unless revoked.
- :class:`SessionPack` — the zip of a session's current materials: planned for the deadline
  (``due_at``) and claimed by a worker like an outbox row; the last build's file and facts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.db import Base, UTCDateTime
from coordinator.models.network import Delegate
from coordinator.models.session import Presentation, Session

UPLOAD_CHANNELS = ("link", "organizer")
TOKEN_PURPOSES = ("upload",)
PACK_STATES = ("pending", "claimed", "built", "dropped")


class Submission(Base):
    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    presentation_id: Mapped[int] = mapped_column(
        ForeignKey("presentations.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    # A code of coordinator.submissions.types (pdf, pptx, docx, xlsx, odp, mp4, png, jpeg),
    # decided from the content.
    file_type: Mapped[str] = mapped_column(String(16))
    original_filename: Mapped[str] = mapped_column(String(255))
    storage_key: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegates.id", ondelete="SET NULL")
    )
    # "link" (the presenter's upload link) or "organizer" (on the presenter's behalf).
    channel: Mapped[str] = mapped_column(String(16), default="link")
    # Accepted after the deadline because the organizer opened late submissions.
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    presentation: Mapped[Presentation] = relationship()
    uploaded_by: Mapped[Delegate | None] = relationship()

    __table_args__ = (
        UniqueConstraint("presentation_id", "version"),
        CheckConstraint("version > 0", name="version_positive"),
        CheckConstraint("size > 0", name="size_positive"),
        CheckConstraint("length(sha256) = 64", name="sha256_hex"),
        CheckConstraint("channel IN ('link', 'organizer')", name="channel_known"),
    )


class UploadToken(Base):
    __tablename__ = "upload_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    presentation_id: Mapped[int] = mapped_column(
        ForeignKey("presentations.id", ondelete="CASCADE"), index=True
    )
    # The presenter the link was made for (the receipt goes to them).
    delegate_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegates.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16), default="upload")
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    presentation: Mapped[Presentation] = relationship()
    delegate: Mapped[Delegate | None] = relationship()

    __table_args__ = (CheckConstraint("purpose IN ('upload')", name="purpose_known"),)


class SessionPack(Base):
    __tablename__ = "session_packs"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), unique=True
    )
    # The scheduled build at the deadline (plus grace): pending → claimed → built; dropped when
    # the session is cancelled.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The last build (scheduled or on demand).
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    path: Mapped[str | None] = mapped_column(String(500))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    # Identifies what the last build contained (current version of every presentation).
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    submitted: Mapped[int | None] = mapped_column(Integer)
    missing: Mapped[int | None] = mapped_column(Integer)

    session: Mapped[Session] = relationship()

    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'claimed', 'built', 'dropped')", name="status_known"
        ),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_session_packs_status_due_at", "status", "due_at"),
    )
