"""Planning reminders: who, when, and what happens when a session moves or is cancelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from coordinator.errors import UserError
from coordinator.models import OutboxMessage
from coordinator.reminders import drop_reminders, plan_reminders, reminder_offsets
from coordinator.services.planning import schedule_session
from coordinator.services.recipients import session_recipients
from tests import factories as f

OM = OutboxMessage
NOW = datetime(2023, 9, 14, 0, 0, tzinfo=UTC)


@pytest.fixture
def session(db):
    """A scheduled session of a group with two member cities and one observer city."""
    group = f.WorkingGroupFactory()
    cities = []
    for role in ("member", "member", "observer"):
        membership = f.MembershipFactory(group=group, role=role)
        cities.append(membership.city)
        f.DelegateFactory(city=membership.city, language="ja" if role == "observer" else "en")
    f.DelegateFactory(city=cities[0])
    session = f.SessionFactory(
        group=group,
        status="scheduled",
        window_start=datetime(2023, 10, 1, tzinfo=UTC),
        window_end=datetime(2023, 10, 8, tzinfo=UTC),
        start_utc=datetime(2023, 10, 3, 11, 0, tzinfo=UTC),
    )
    db.flush()
    return session


def reminders(db, session, status=None):
    query = select(OM).where(OM.session_id == session.id, OM.kind == "reminder")
    if status:
        query = query.where(OM.status == status)
    return list(db.scalars(query.order_by(OM.id)))


def test_recipients_are_the_delegates_of_every_city_members_and_observers_each_once(db, session):
    people = session_recipients(session)
    assert len(people) == 4
    assert {d.city.id for d in people} == {m.city.id for m in session.group.memberships}
    twin = f.DelegateFactory(city=session.group.memberships[1].city, email=people[0].email.upper())
    db.flush()
    db.expire(session.group.memberships[1].city)
    assert twin not in session_recipients(session)  # same address, other case: once


def test_one_reminder_per_recipient_and_default_offset(db, session):
    plan = plan_reminders(db, session, now=NOW)
    rows = reminders(db, session)
    assert plan.planned == len(rows) == 4 * 3
    assert {r.due_at for r in rows} == {
        session.start_utc - timedelta(days=7),
        session.start_utc - timedelta(days=1),
        session.start_utc - timedelta(hours=1),
    }
    assert {r.recipient for r in rows} == {d.email for d in session_recipients(session)}
    assert {r.payload["start_utc"] for r in rows} == {session.start_utc.isoformat()}
    assert len({r.message_id for r in rows}) == len(rows)


def test_a_sessions_own_offsets_win_over_the_networks(db, session):
    session.reminder_offsets = ["PT30M", "P2D", "PT30M"]
    assert [text for text, _ in reminder_offsets(session)] == ["P2D", "PT30M"]
    plan_reminders(db, session, now=NOW)
    assert {r.payload["offset"] for r in reminders(db, session)} == {"P2D", "PT30M"}


@pytest.mark.parametrize("bad", ["P1W", "soon", "PT0M"])
def test_a_bad_offset_is_named_and_nothing_is_planned(db, session, bad):
    session.reminder_offsets = ["P1D", bad]
    with pytest.raises(UserError, match=f"reminder_offsets of session {session.id}: .*{bad}"):
        plan_reminders(db, session, now=NOW)
    assert reminders(db, session) == []


def test_moments_already_passed_at_scheduling_are_skipped(db, session):
    plan = plan_reminders(db, session, now=session.start_utc - timedelta(days=2))
    assert plan.skipped == 4  # no "in 7 days" two days before
    assert {r.payload["offset"] for r in reminders(db, session)} == {"P1D", "PT1H"}


def test_planning_again_for_the_same_start_changes_nothing(db, session):
    first = plan_reminders(db, session, now=NOW)
    ids = [r.id for r in reminders(db, session)]
    again = plan_reminders(db, session, now=NOW)
    assert (again.planned, again.kept, again.dropped) == (0, first.planned, 0)
    assert [r.id for r in reminders(db, session)] == ids


def test_moving_replaces_pending_reminders_and_leaves_sent_ones_alone(db, session):
    plan_reminders(db, session, now=NOW)
    sent = reminders(db, session)[0]
    sent.status = "sent"
    db.flush()
    old_start = session.start_utc
    session.start_utc = old_start + timedelta(hours=3)
    plan = plan_reminders(db, session, now=NOW)
    assert plan.dropped == 11 and plan.planned == 12
    pending = reminders(db, session, "pending")
    assert {r.payload["start_utc"] for r in pending} == {session.start_utc.isoformat()}
    assert all(r.due_at > old_start - timedelta(days=8) for r in pending)
    db.refresh(sent)
    assert sent.status == "sent" and sent.payload["start_utc"] == old_start.isoformat()
    assert len(reminders(db, session, "dropped")) == 11

    # Moved back: the same reminders are wanted again, with their Message-IDs.
    dropped_ids = {r.message_id for r in reminders(db, session, "dropped")}
    session.start_utc = old_start
    plan_reminders(db, session, now=NOW)
    revived = {
        r.message_id
        for r in reminders(db, session, "pending")
        if r.payload["start_utc"] == old_start.isoformat()
    }
    assert revived == dropped_ids


def test_cancelling_drops_every_pending_reminder(db, session):
    plan_reminders(db, session, now=NOW)
    session.status = "cancelled"
    assert drop_reminders(db, session) == 12
    assert {r.status for r in reminders(db, session)} == {"dropped"}
    assert plan_reminders(db, session, now=NOW).planned == 0


def test_scheduling_a_session_through_the_service_plans_its_reminders(db):
    membership = f.MembershipFactory()
    f.DelegateFactory(city=membership.city)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    draft = f.SessionFactory(
        group=membership.group,
        window_start=start - timedelta(days=1),
        window_end=start + timedelta(days=1),
    )
    db.flush()
    schedule_session(db, draft.id, start)
    rows = reminders(db, draft)
    assert len(rows) == 3 and {r.status for r in rows} == {"pending"}
