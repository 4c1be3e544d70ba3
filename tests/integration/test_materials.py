"""Presenters' materials with the database: calls for materials planned on scheduling, upload
links, versions, receipts, chasers (and their re-check at delivery), deadlines, late
submissions, session packs."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import os
import zipfile
from datetime import timedelta

import anyio
import pytest
from sqlalchemy import select

from coordinator import clock
from coordinator.errors import UserError
from coordinator.models import OutboxMessage, SessionPack, Submission, UploadToken
from coordinator.outbox import render
from coordinator.services import materials
from coordinator.services.planning import schedule_session
from coordinator.services.storage_sweep import sweep_storage
from coordinator.submissions import samples, tokens
from coordinator.submissions.receive import receive
from coordinator.submissions.storage import FileSystemStorage
from tests.factories import DelegateFactory
from tests.integration.materials_support import (  # noqa: F401 - settable_clock is autouse
    DEADLINE,
    NOW,
    START,
    make_session,
    settable_clock,
    token_of,
)
from tests.storage_support import age, store


@pytest.fixture
def storage(tmp_path) -> FileSystemStorage:
    return FileSystemStorage(tmp_path / "storage")


def rows(db, kind=None, status=None):
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    if status:
        query = query.where(OutboxMessage.status == status)
    db.expire_all()
    return list(db.scalars(query))


def upload(db, grant, data: bytes, storage, name="slides.pdf", channel="link"):
    async def go():
        async def body():
            yield data

        return await receive(
            body(), storage=storage, max_bytes=10**7, content_type="x/y", filename=name
        )

    received = anyio.run(go)
    with received.incoming:
        return materials.record_submission(db, grant, received, storage=storage, channel=channel)


# --- planning ---------------------------------------------------------------------------------------


def test_scheduling_plans_a_call_chasers_and_the_pack(db):
    session, (en, ja) = make_session(db)
    schedule_session(db, session.id, START)
    calls = rows(db, "call_for_materials")
    assert sorted(r.recipient for r in calls) == sorted([en.presenter.email, ja.presenter.email])
    assert all(r.status == "pending" and r.due_at <= clock.now() for r in calls)
    chasers = rows(db, "chaser")
    assert sorted({r.due_at for r in chasers}) == [
        DEADLINE - timedelta(days=7),
        DEADLINE - timedelta(days=2),
    ]
    assert len(chasers) == 4
    pack = db.scalar(select(SessionPack).where(SessionPack.session_id == session.id))
    assert pack.status == "pending" and pack.due_at == DEADLINE + timedelta(minutes=15)
    # one upload link per presentation, stored as a hash only
    stored = list(db.scalars(select(UploadToken)))
    assert len(stored) == 2
    for row in stored:
        raw = materials.raw_token(row)
        assert row.token_hash == tokens.token_hash(raw) and raw not in row.token_hash


def test_planning_again_for_the_same_deadline_writes_nothing(db):
    session, _ = make_session(db)
    schedule_session(db, session.id, START)
    before = [(r.id, r.status) for r in rows(db)]
    plan = materials.plan_materials(db, session)
    assert (plan.calls, plan.chasers, plan.dropped) == (0, 0, 0)
    assert [(r.id, r.status) for r in rows(db)] == before


def test_a_presentation_without_presenter_is_skipped(db):
    session, presentations = make_session(db, ("en",), presenter_for_last=False)
    schedule_session(db, session.id, START)
    assert len(rows(db, "call_for_materials")) == 1
    plan = materials.plan_materials(db, session)
    assert plan.skipped == 1


def test_a_new_deadline_replaces_pending_messages_and_says_so(db):
    session, (en, _ja) = make_session(db)
    schedule_session(db, session.id, START)
    first_calls = rows(db, "call_for_materials")
    # the first calls went out
    for row in first_calls:
        row.status = "sent"
    db.flush()
    new_deadline = START - timedelta(days=4)
    plan = materials.set_deadline(db, session.id, new_deadline)
    assert plan.calls == 2 and plan.deadline == new_deadline
    assert {
        r.status
        for r in rows(db, "chaser")
        if new_deadline.strftime("%Y%m%dT") not in r.idempotency_key
    } == {"dropped"}
    fresh = [r for r in rows(db, "call_for_materials") if r.status == "pending"]
    assert len(fresh) == 2 and all(r.payload.get("update") for r in fresh)
    message = render(db, next(r for r in fresh if r.delegate_id == en.presenter_id))
    assert message["Subject"].startswith("New deadline for your materials")
    # the link did not change
    assert {r.payload["token_id"] for r in fresh} == {r.payload["token_id"] for r in first_calls}
    with pytest.raises(materials.UserError, match="not before the session's start"):
        materials.set_deadline(db, session.id, START + timedelta(hours=1))


def test_cancelling_drops_calls_chasers_and_the_pack(db):
    session, _ = make_session(db)
    schedule_session(db, session.id, START)
    session.status = "cancelled"
    plan = materials.plan_materials(db, session)
    assert plan.dropped == 6
    assert {r.status for r in rows(db, "chaser")} == {"dropped"}
    pack = db.scalar(select(SessionPack).where(SessionPack.session_id == session.id))
    assert pack.status == "dropped"


# --- links ----------------------------------------------------------------------------------------


def test_upload_links_are_checked(db):
    session, (en, ja) = make_session(db)
    schedule_session(db, session.id, START)
    token = token_of(db, en)
    grant = materials.authorize_upload(db, token, presentation_id=en.id)
    assert grant.presentation_id == en.id and grant.deadline == DEADLINE
    assert grant.zone == "Europe/Amsterdam"

    def refused(tok, pid, now=None):
        with pytest.raises(materials.UploadRefused) as caught:
            materials.authorize_upload(db, tok, presentation_id=pid, now=now)
        return caught.value

    assert refused(None, en.id).status_code == 401
    assert refused("nonsense", en.id).status_code == 403
    assert refused(token, ja.id).status_code == 403  # another presentation's link
    forged = tokens.make(en.id, "upload", tokens.new_nonce())  # well signed, never issued
    assert refused(forged, en.id).status_code == 403
    expired = refused(token, en.id, now=DEADLINE + timedelta(minutes=16))
    assert expired.status_code == 410 and expired.deadline == DEADLINE
    assert "2023-10-01 11:00 UTC" in expired.message
    assert "13:00 UTC+02:00 in Europe/Amsterdam" in expired.message
    # within the grace period the link works, but a new upload may not start
    late = materials.authorize_upload(
        db, token, presentation_id=en.id, now=DEADLINE + timedelta(minutes=5)
    )
    with pytest.raises(materials.UploadRefused) as caught:
        late.check_open(DEADLINE + timedelta(minutes=5))
    assert caught.value.status_code == 410 and caught.value.code == "deadline-passed"
    # the organizer opens late submissions: the link works again
    materials.set_late_submissions(db, en.id, True)
    grant = materials.authorize_upload(
        db, token, presentation_id=en.id, now=DEADLINE + timedelta(days=1)
    )
    grant.check_open(DEADLINE + timedelta(days=1))
    # a new presenter gets a new link; the old one stops working
    en.presenter = DelegateFactory(city=en.city)
    db.flush()
    materials.plan_materials(db, session)
    assert refused(token, en.id).code == "token-replaced"
    # a cancelled session
    session.status = "cancelled"
    db.flush()
    assert refused(token_of(db, ja), ja.id).status_code == 410


# --- submissions -----------------------------------------------------------------------------------


def test_versions_receipts_and_no_more_chasers(db, storage):
    session, (en, ja) = make_session(db)
    schedule_session(db, session.id, START)
    grant = materials.authorize_upload(db, token_of(db, en), presentation_id=en.id)
    first = upload(db, grant, samples.pdf(["v1"]), storage, name="../../東京 資料.pdf")
    assert (first.version, first.duplicate, first.filename) == (1, False, "東京 資料.pdf")
    same = upload(db, grant, samples.pdf(["v1"]), storage)
    assert (same.version, same.duplicate) == (1, True)
    second = upload(db, grant, samples.png(), storage, name="chart.png")
    assert (second.version, second.file_type) == (2, "png")
    assert [s.version for s in materials.versions(db, en.id)] == [1, 2]
    assert materials.get_version(db, en.id).version == 2
    assert materials.get_version(db, en.id, 1).sha256 == first.sha256
    receipts = rows(db, "receipt")
    assert len(receipts) == 2 and {r.recipient for r in receipts} == {en.presenter.email}
    # en's chasers are dropped; ja's stay
    chasers = rows(db, "chaser")
    assert {r.status for r in chasers if r.delegate_id == en.presenter_id} == {"dropped"}
    assert {r.status for r in chasers if r.delegate_id == ja.presenter_id} == {"pending"}
    status = materials.session_materials(db, session.id)
    assert status.submitted == 1
    assert [(p.presentation.id, p.versions) for p in status.presentations] == [
        (en.id, 2),
        (ja.id, 0),
    ]


def test_an_upload_finishing_after_the_grace_period_is_refused(db, storage):
    session, (en, _) = make_session(db)
    schedule_session(db, session.id, START)
    grant = materials.authorize_upload(db, token_of(db, en), presentation_id=en.id)
    clock.set_now(DEADLINE + timedelta(minutes=20))
    with pytest.raises(materials.UploadRefused) as caught:
        upload(db, grant, samples.pdf("late"), storage)
    assert caught.value.status_code == 410
    assert db.scalar(select(Submission.id)) is None
    assert [p for p in storage.root.rglob("*") if p.is_file()] == []


def test_late_uploads_are_marked_and_make_the_built_pack_stale(db, storage, tmp_path):
    session, (en, _) = make_session(db)
    schedule_session(db, session.id, START)
    materials.build_pack(db, session.id, out_dir=tmp_path, storage=storage)
    pack = db.scalar(select(SessionPack).where(SessionPack.session_id == session.id))
    pack.status = "built"
    db.flush()
    materials.set_late_submissions(db, en.id, True)
    clock.set_now(DEADLINE + timedelta(days=1))
    grant = materials.authorize_upload(db, token_of(db, en), presentation_id=en.id)
    recorded = upload(db, grant, samples.pdf("late"), storage)
    assert recorded.late
    db.refresh(pack)
    assert pack.status == "pending" and pack.due_at <= clock.now()


def test_an_organizer_upload_from_a_file(db, storage, tmp_path):
    session, (en, _) = make_session(db)
    schedule_session(db, session.id, START)
    path = tmp_path / "deck.pptx"
    path.write_bytes(samples.ooxml("pptx"))
    recorded = materials.submit_file(db, en.id, path, storage=storage)
    assert (recorded.version, recorded.file_type, recorded.filename) == (1, "pptx", "deck.pptx")
    assert db.scalar(select(Submission.channel)) == "organizer"
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(materials.UserError, match="plain text"):
        materials.submit_file(db, en.id, bad, storage=storage)


# --- messages ----------------------------------------------------------------------------------------


def parse(message) -> email.message.EmailMessage:
    return email.message_from_bytes(bytes(message), policy=email.policy.default)


def test_the_call_for_materials_in_the_presenters_language_and_zone(db):
    session, (en, ja) = make_session(db)
    schedule_session(db, session.id, START)
    by_delegate = {r.delegate_id: r for r in rows(db, "call_for_materials")}
    english = parse(render(db, by_delegate[en.presenter_id]))
    text = english.get_body(("plain",)).get_content()
    assert english["Subject"].startswith(f"Materials for {session.title}")
    assert (
        "Sunday, October 1, 2023, 1:00\u202fPM" in text
        or "Sunday, October 1, 2023, 1:00 PM" in text
    )
    assert "(UTC+02:00)" in text
    link = f"/upload/{token_of(db, en)}"
    assert link in text and link in english.get_body(("html",)).get_content()
    japanese = parse(render(db, by_delegate[ja.presenter_id]))
    jtext = japanese.get_body(("plain",)).get_content()
    assert japanese["Subject"].startswith("資料提出のお願い")
    assert "2023年10月1日日曜日 20:00" in jtext and "（UTC+09:00）" in jtext
    assert f"/upload/{token_of(db, ja)}" in jtext
    assert "受付形式：PDF、PowerPoint（PPTX）" in jtext and "200 MiB" in jtext
    # rendering again gives the same link and Message-ID (a retry is the same message)
    again = parse(render(db, by_delegate[ja.presenter_id]))
    assert again["Message-ID"] == japanese["Message-ID"] == by_delegate[ja.presenter_id].message_id
    assert again.get_body(("plain",)).get_content() == jtext


def test_a_chaser_is_dropped_at_delivery_once_something_arrived(db, storage):
    session, (en, ja) = make_session(db)
    schedule_session(db, session.id, START)
    chasers = rows(db, "chaser")
    en_chaser = next(r for r in chasers if r.delegate_id == en.presenter_id)
    ja_chaser = next(r for r in chasers if r.delegate_id == ja.presenter_id)
    clock.set_now(en_chaser.due_at)
    # the presenter uploads after the chaser was claimed by a worker
    en_chaser.status = "claimed"
    db.flush()
    grant = materials.authorize_upload(db, token_of(db, en), presentation_id=en.id)
    upload(db, grant, samples.pdf("x"), storage)
    assert render(db, en_chaser) is None
    message = parse(render(db, ja_chaser))
    assert message["Subject"].startswith("資料提出のお願い（再送）")
    assert "7日後" in message["Subject"]


def test_a_call_for_an_old_deadline_or_a_cancelled_session_is_not_sent(db):
    session, (en, _) = make_session(db)
    schedule_session(db, session.id, START)
    call = next(r for r in rows(db, "call_for_materials") if r.delegate_id == en.presenter_id)
    session.materials_deadline = DEADLINE - timedelta(days=1)
    db.flush()
    assert render(db, call) is None
    session.materials_deadline = None
    session.status = "cancelled"
    db.flush()
    assert render(db, call) is None


def test_the_receipt_names_file_size_hash_and_version(db, storage):
    session, (en, ja) = make_session(db)
    schedule_session(db, session.id, START)
    grant = materials.authorize_upload(db, token_of(db, ja), presentation_id=ja.id)
    data = samples.pdf(["Receipt"])
    recorded = upload(db, grant, data, storage, name="建設局.pdf")
    receipt = rows(db, "receipt")[0]
    message = parse(render(db, receipt))
    text = message.get_body(("plain",)).get_content()
    assert "建設局.pdf" in message["Subject"]
    assert recorded.sha256 in text and f"{len(data)} bytes" in text
    assert "版：1" in text


# --- packs ------------------------------------------------------------------------------------------


def test_the_pack_holds_current_versions_in_agenda_order_a_manifest_and_the_calendar(
    db, storage, tmp_path
):
    session, (en, ja) = make_session(db)
    schedule_session(db, session.id, START)
    grant = materials.authorize_upload(db, token_of(db, ja), presentation_id=ja.id)
    upload(db, grant, samples.pdf("old"), storage)
    upload(db, grant, samples.ooxml("pptx"), storage, name="final.pptx")
    result = materials.build_pack(db, session.id, out_dir=tmp_path, storage=storage)
    assert (result.submitted, result.missing, result.rebuilt) == (1, 1, True)
    with zipfile.ZipFile(result.path) as archive:
        names = archive.namelist()
        assert names == ["02-city-2-talk-2.pptx", "manifest.json", f"session-{session.id}.ics"]
        assert archive.read(names[0]) == samples.ooxml("pptx")
        manifest = json.loads(archive.read("manifest.json"))
        ics = archive.read(names[2]).decode()
    entries = manifest["presentations"]
    assert [e["position"] for e in entries] == [1, 2]
    assert entries[0]["file"] is None and entries[0]["version"] is None
    assert entries[1]["version"] == 2 and entries[1]["presenter_email"] == ja.presenter.email
    assert entries[1]["sha256"] == materials.get_version(db, ja.id).sha256
    assert manifest["session"]["materials_deadline"] == "2023-10-01T11:00:00Z"
    assert "BEGIN:VEVENT" in ics and "DTSTART:20231003T110000Z" in ics
    # nothing changed: the same pack
    again = materials.build_pack(db, session.id, out_dir=tmp_path, storage=storage)
    assert not again.rebuilt and again.sha256 == result.sha256
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_due_packs_are_claimed_once_and_built(fresh_database_url, storage, tmp_path, monkeypatch):
    from sqlalchemy.orm import Session as OrmSession

    from coordinator.db import make_engine
    from tests import factories

    engine = make_engine(fresh_database_url)
    monkeypatch.setattr(materials, "get_storage", lambda: storage)
    monkeypatch.setattr(materials, "pack_path", lambda s, out=None: tmp_path / f"pack-{s.id}.zip")
    try:
        with OrmSession(engine, expire_on_commit=False) as db:
            factories.bind(db)
            try:
                session, _ = make_session(db)
                db.commit()
                schedule_session(db, session.id, START)
            finally:
                factories.bind(None)
        assert materials.claim_due_packs(engine, now=DEADLINE) == []  # not due yet
        due = DEADLINE + timedelta(minutes=15)
        claimed = materials.claim_due_packs(engine, now=due)
        assert len(claimed) == 1
        assert materials.claim_due_packs(engine, now=due) == []  # claimed once
        pack_id, token = claimed[0]
        assert materials.build_claimed_pack(engine, pack_id, "someone else") is None
        result = materials.build_claimed_pack(engine, pack_id, token)
        assert result is not None and result.path.is_file()
        assert materials.build_claimed_pack(engine, pack_id, token) is None  # a duplicate task
        with OrmSession(engine) as db:
            pack = db.get(SessionPack, pack_id)
            assert (pack.status, pack.missing, pack.claimed_by) == ("built", 2, None)
            assert pack.sha256 == result.sha256
    finally:
        engine.dispose()


def test_moving_or_cancelling_through_the_invitations_follows_the_deadline(db):
    from coordinator.services.invitations import cancel_session, reschedule_session

    session, (en, _ja) = make_session(db)
    schedule_session(db, session.id, START)
    reschedule_session(db, session.id, start=START + timedelta(hours=2))
    new_deadline = DEADLINE + timedelta(hours=2)
    pending = [r for r in rows(db) if r.status == "pending"]
    planned = [r for r in pending if r.kind in ("call_for_materials", "chaser")]
    assert planned and all(r.payload["deadline"] == new_deadline.isoformat() for r in planned)
    assert {r.status for r in rows(db, "chaser") if r not in planned} == {"dropped"}
    pack = db.scalar(select(SessionPack).where(SessionPack.session_id == session.id))
    assert pack.due_at == new_deadline + timedelta(minutes=15)
    cancel_session(db, session.id)
    assert {r.status for r in rows(db, "call_for_materials")} == {"dropped"}
    assert {r.status for r in rows(db, "chaser")} == {"dropped"}
    db.refresh(pack)
    assert pack.status == "dropped"


# --- sweeping the store ------------------------------------------------------------------------


def test_the_sweep_removes_old_files_no_version_refers_to_and_nothing_else(db, storage):
    session, (en, _ja) = make_session(db)
    schedule_session(db, session.id, START)
    grant = materials.authorize_upload(db, token_of(db, en), presentation_id=en.id)
    kept = upload(db, grant, samples.pdf(["kept"]), storage)
    old_orphan = store(storage, samples.pdf(["crashed"]))
    young_orphan = store(storage, samples.pdf(["being recorded"]))
    stored_again = store(storage, samples.pdf(["uploaded again"]))
    kept_key = key_of(db, kept)
    for key in (kept_key, old_orphan, stored_again):
        age(storage, key, 10 * 3600)
    store(storage, samples.pdf(["uploaded again"]))  # the same content, stored again now
    part = storage.incoming_dir / "cut-off.part"
    part.write_bytes(b"half")
    os.utime(part, (0, 0))

    listed = sweep_storage(db, older_than_hours=6, dry_run=True, storage=storage)
    assert [k for k, _ in listed.unreferenced] == [old_orphan] and listed.temporary == 1
    assert storage.exists(old_orphan) and part.exists()  # a dry run removes nothing

    swept = sweep_storage(db, older_than_hours=6, storage=storage)
    assert [k for k, _ in swept.unreferenced] == [old_orphan] and swept.temporary == 1
    assert swept.unreferenced_bytes == len(samples.pdf(["crashed"]))
    assert not storage.exists(old_orphan) and not part.exists()
    assert storage.exists(kept_key) and storage.exists(young_orphan)
    assert storage.exists(stored_again)
    with storage.open(kept_key) as file:
        assert hashlib.sha256(file.read()).hexdigest() == kept.sha256


def key_of(db, recorded) -> str:
    return db.scalar(select(Submission.storage_key).where(Submission.sha256 == recorded.sha256))


@pytest.mark.parametrize("hours", [0, 0.5, -1, float("nan")])
def test_a_sweep_of_recent_files_is_refused(db, storage, hours):
    orphan = store(storage, samples.pdf(["recent"]))
    with pytest.raises(UserError, match="--older-than"):
        sweep_storage(db, older_than_hours=hours, storage=storage)
    assert storage.exists(orphan)
