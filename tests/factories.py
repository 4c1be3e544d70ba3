"""Factories for test data (factory_boy), bound to the test's rolled-back session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory
from factory.alchemy import SQLAlchemyModelFactory

from coordinator import models

ALL: list[type[SQLAlchemyModelFactory]] = []


def bind(session) -> None:
    for f in ALL:
        f._meta.sqlalchemy_session = session


def registered(cls):
    ALL.append(cls)
    return cls


class _Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_persistence = "flush"


@registered
class NetworkFactory(_Base):
    class Meta:
        model = models.Network

    slug = factory.Sequence(lambda n: f"net-{n}")
    name = factory.Sequence(lambda n: f"Network {n}")
    organizer_name = "Secretariat"
    organizer_email = "secretariat@example.org"
    meeting_url = "https://meet.example.org/test"
    reminder_offsets = factory.LazyFunction(lambda: ["P7D", "P1D", "PT1H"])


@registered
class CityFactory(_Base):
    class Meta:
        model = models.City

    network = factory.SubFactory(NetworkFactory)
    name = factory.Sequence(lambda n: f"City {n}")
    name_ja = None
    aliases = factory.LazyFunction(list)
    country = "JP"
    subdivision = None
    zone = "Asia/Tokyo"


@registered
class DelegateFactory(_Base):
    class Meta:
        model = models.Delegate

    city = factory.SubFactory(CityFactory)
    network_id = factory.SelfAttribute("city.network_id")
    name = factory.Sequence(lambda n: f"Delegate {n}")
    email = factory.Sequence(lambda n: f"delegate{n}@example.org")
    language = "en"
    role = "delegate"
    zone = None


@registered
class WorkingGroupFactory(_Base):
    class Meta:
        model = models.WorkingGroup

    network = factory.SubFactory(NetworkFactory)
    name = factory.Sequence(lambda n: f"Group {n}")
    theme = "Environment"


@registered
class MembershipFactory(_Base):
    class Meta:
        model = models.GroupMembership

    group = factory.SubFactory(WorkingGroupFactory)
    city = factory.SubFactory(CityFactory, network=factory.SelfAttribute("..group.network"))
    role = "member"


@registered
class SessionFactory(_Base):
    class Meta:
        model = models.Session

    group = factory.SubFactory(WorkingGroupFactory)
    title = factory.Sequence(lambda n: f"Session {n}")
    window_start = datetime(2023, 10, 2, 15, 0, tzinfo=UTC)
    window_end = factory.LazyAttribute(lambda o: o.window_start + timedelta(days=1))
    duration_minutes = 120
    status = "draft"
    uid = factory.Sequence(lambda n: f"session-{n}@test.coordinator")
    sequence = 0
    start_utc = None


@registered
class PresentationFactory(_Base):
    class Meta:
        model = models.Presentation

    session = factory.SubFactory(SessionFactory)
    position = factory.Sequence(lambda n: n + 1)
    city = factory.SubFactory(CityFactory, network=factory.SelfAttribute("..session.group.network"))
    body = "City government"
    title = factory.Sequence(lambda n: f"Presentation {n}")
    presenter = None
