"""Shared by the materials tests: a session with presentations and its upload tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from coordinator import clock
from coordinator.models import UploadToken
from coordinator.services import materials
from tests.factories import (
    CityFactory,
    DelegateFactory,
    MembershipFactory,
    PresentationFactory,
    SessionFactory,
)

START = datetime(2023, 10, 3, 11, 0, tzinfo=UTC)
NOW = datetime(2023, 9, 14, 9, 0, tzinfo=UTC)
DEADLINE = START - timedelta(hours=48)


@pytest.fixture(autouse=True)
def settable_clock(tmp_path, monkeypatch):
    """The settable clock at :data:`NOW` (import it into a test module: autouse there)."""
    monkeypatch.setenv(clock.ENV, str(tmp_path / "clock.json"))
    clock.set_now(NOW)
    yield
    clock.reset()


def make_session(db, languages=("en", "ja"), *, presenter_for_last=True):
    """A draft session with one presentation per language (Tokyo-based presenters in Japanese),
    plus one presentation without a presenter when ``presenter_for_last`` is False."""
    session = SessionFactory(
        window_start=START - timedelta(hours=6), window_end=START + timedelta(hours=6)
    )
    network = session.group.network
    presentations = []
    for i, language in enumerate(languages, start=1):
        zone = "Asia/Tokyo" if language == "ja" else "Europe/Amsterdam"
        city = CityFactory(network=network, name=f"City {i}", zone=zone, name_ja=f"都市{i}")
        MembershipFactory(group=session.group, city=city)
        presenter = DelegateFactory(city=city, language=language, role="presenter")
        presentations.append(
            PresentationFactory(
                session=session, position=i, city=city, presenter=presenter, title=f"Talk {i}"
            )
        )
    if not presenter_for_last:
        city = CityFactory(network=network, name="Nobody City")
        presentations.append(
            PresentationFactory(session=session, position=len(languages) + 1, city=city)
        )
    db.flush()
    return session, presentations


def token_of(db, presentation) -> str:
    row = db.scalar(
        select(UploadToken).where(
            UploadToken.presentation_id == presentation.id, UploadToken.revoked_at.is_(None)
        )
    )
    return materials.raw_token(row)
