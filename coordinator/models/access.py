"""Who may use the API: organizer API keys, and the tokens behind calendar feeds.

An :class:`ApiKey` is shown once when it is created; only the SHA-256 of the whole key is
stored, found by its public ``prefix``. A :class:`FeedToken` is the unguessable part of a
calendar feed's address (one per delegate, city or working group); rotating it replaces the row,
so the old address stops working at once. Only its SHA-256 is stored as well.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.db import Base, UTCDateTime
from coordinator.models.network import Network

API_ROLES = ("admin", "organizer", "viewer")
FEED_SCOPES = ("delegate", "city", "group")


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Public, part of the key itself: finds the row; the secret is compared in constant time.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    # Organizer and viewer keys belong to one network; admin keys to none (they see all).
    network_id: Mapped[int | None] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    network: Mapped[Network | None] = relationship()

    __table_args__ = (
        CheckConstraint("role IN ('admin', 'organizer', 'viewer')", name="role_known"),
        CheckConstraint(
            "(role = 'admin' AND network_id IS NULL) OR (role <> 'admin' AND network_id IS NOT NULL)",
            name="network_matches_role",
        ),
    )


class FeedToken(Base):
    __tablename__ = "feed_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Exactly one of the three: whose feed this is.
    delegate_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegates.id", ondelete="CASCADE"), unique=True
    )
    city_id: Mapped[int | None] = mapped_column(
        ForeignKey("cities.id", ondelete="CASCADE"), unique=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("working_groups.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN delegate_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN city_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN group_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_subject",
        ),
    )

    @property
    def scope(self) -> str:
        if self.delegate_id is not None:
            return "delegate"
        return "city" if self.city_id is not None else "group"

    @property
    def subject_id(self) -> int:
        return self.delegate_id or self.city_id or self.group_id  # type: ignore[return-value]
