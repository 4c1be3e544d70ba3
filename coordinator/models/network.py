"""The network: its cities, delegates and working groups."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from coordinator.db import Base

if TYPE_CHECKING:
    from coordinator.models.session import Session

LANGUAGES = ("en", "ja")
DELEGATE_ROLES = ("organizer", "presenter", "delegate")
MEMBER_ROLES = ("member", "observer")


class Network(Base):
    __tablename__ = "networks"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_ja: Mapped[str | None] = mapped_column(String(200))
    organizer_name: Mapped[str] = mapped_column(String(200))
    organizer_email: Mapped[str] = mapped_column(String(320))
    meeting_url: Mapped[str | None] = mapped_column(String(500))
    # ISO 8601 durations before the start, e.g. ["P7D", "P1D", "PT1H"].
    reminder_offsets: Mapped[list[str]] = mapped_column(JSON, default=list)

    cities: Mapped[list[City]] = relationship(back_populates="network", order_by="City.id")
    groups: Mapped[list[WorkingGroup]] = relationship(
        back_populates="network", order_by="WorkingGroup.id"
    )

    __table_args__ = (CheckConstraint("slug <> ''", name="slug_not_empty"),)


class City(Base):
    __tablename__ = "cities"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    name_ja: Mapped[str | None] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    country: Mapped[str] = mapped_column(String(2))
    subdivision: Mapped[str | None] = mapped_column(String(16))
    # An IANA zone validated against pytz on the way in, or the explicit value 'unknown'.
    zone: Mapped[str] = mapped_column(String(64))

    network: Mapped[Network] = relationship(back_populates="cities")
    delegates: Mapped[list[Delegate]] = relationship(back_populates="city", order_by="Delegate.id")

    __table_args__ = (
        UniqueConstraint("network_id", "name"),
        CheckConstraint("name <> ''", name="name_not_empty"),
        CheckConstraint("length(country) = 2", name="country_iso2"),
        CheckConstraint("zone <> ''", name="zone_not_empty"),
    )


class Delegate(Base):
    __tablename__ = "delegates"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(2), default="en")
    role: Mapped[str] = mapped_column(String(16), default="delegate")
    # Overrides the city's zone (a delegate travelling, or based elsewhere).
    zone: Mapped[str | None] = mapped_column(String(64))

    city: Mapped[City] = relationship(back_populates="delegates")

    __table_args__ = (
        UniqueConstraint("network_id", "email"),
        CheckConstraint("language IN ('en', 'ja')", name="language_known"),
        CheckConstraint("role IN ('organizer', 'presenter', 'delegate')", name="role_known"),
        CheckConstraint("email LIKE '%_@_%'", name="email_shape"),
    )

    @property
    def effective_zone(self) -> str:
        return self.zone or self.city.zone


class WorkingGroup(Base):
    __tablename__ = "working_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    name_ja: Mapped[str | None] = mapped_column(String(200))
    theme: Mapped[str | None] = mapped_column(String(200))
    theme_ja: Mapped[str | None] = mapped_column(String(200))

    network: Mapped[Network] = relationship(back_populates="groups")
    memberships: Mapped[list[GroupMembership]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="GroupMembership.id"
    )
    sessions: Mapped[list[Session]] = relationship(back_populates="group")

    __table_args__ = (
        UniqueConstraint("network_id", "name"),
        CheckConstraint("name <> ''", name="name_not_empty"),
    )

    @property
    def cities(self) -> list[City]:
        return [m.city for m in self.memberships]


class GroupMembership(Base):
    """A city in a working group: a presenting ``member`` or an ``observer``."""

    __tablename__ = "group_memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("working_groups.id", ondelete="CASCADE"))
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="member")

    group: Mapped[WorkingGroup] = relationship(back_populates="memberships")
    city: Mapped[City] = relationship()

    __table_args__ = (
        UniqueConstraint("group_id", "city_id"),
        CheckConstraint("role IN ('member', 'observer')", name="role_known"),
    )
