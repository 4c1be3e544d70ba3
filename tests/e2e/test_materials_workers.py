"""Calls for materials, receipts, chasers and the session pack, delivered and built by real
``celery worker`` and ``celery beat`` processes on the configured database and broker, with a
real SMTP server on loopback, while the shared clock moves through the materials deadline."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime, timedelta

import anyio
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from coordinator import clock
from coordinator.db import make_engine
from coordinator.mail_catcher import MailCatcher
from coordinator.models import OutboxMessage, SessionPack, UploadToken
from coordinator.services import materials
from coordinator.services.planning import schedule_session
from coordinator.submissions import samples
from coordinator.submissions.receive import receive
from coordinator.submissions.storage import FileSystemStorage
from tests.e2e.workers_support import broker_for, delete_redis_prefix, wait_for
from workers.processes import CeleryProcess

pytestmark = pytest.mark.slow
OM = OutboxMessage
NOW = datetime(2023, 9, 14, 9, 0, tzinfo=UTC)
START = datetime(2023, 10, 3, 11, 0, tzinfo=UTC)
DEADLINE = START - timedelta(hours=48)


def seed(engine) -> tuple[int, list[int]]:
    from tests import factories

    with OrmSession(engine, expire_on_commit=False) as db:
        factories.bind(db)
        try:
            session = factories.SessionFactory(
                window_start=START - timedelta(hours=6), window_end=START + timedelta(hours=6)
            )
            ids = []
            for i, language in enumerate(("en", "ja"), start=1):
                city = factories.CityFactory(network=session.group.network)
                factories.MembershipFactory(group=session.group, city=city)
                presenter = factories.DelegateFactory(city=city, language=language)
                ids.append(
                    factories.PresentationFactory(
                        session=session, position=i, city=city, presenter=presenter
                    ).id
                )
            db.commit()
        finally:
            factories.bind(None)
        schedule_session(db, session.id, START)
        return session.id, ids


def upload(engine, presentation_id: int, storage) -> None:
    with OrmSession(engine, expire_on_commit=False) as db:
        token = db.scalar(select(UploadToken).where(UploadToken.presentation_id == presentation_id))
        grant = materials.authorize_upload(
            db, materials.raw_token(token), presentation_id=presentation_id
        )

        async def body():
            yield samples.pdf("slides")

        async def go():
            return await receive(
                body(), storage=storage, max_bytes=10**6, content_type="x/y", filename="a.pdf"
            )

        received = anyio.run(go)
        with received.incoming:
            materials.record_submission(db, grant, received, storage=storage)


def statuses(engine, kind: str) -> dict[tuple[int, datetime], str]:
    """``{(delegate id, due): status}`` of the rows of one kind."""
    with OrmSession(engine) as db:
        rows = db.scalars(select(OM).where(OM.kind == kind))
        return {(r.delegate_id, r.due_at): r.status for r in rows}


def test_chasers_go_only_to_the_missing_and_a_worker_builds_the_pack(
    fresh_database_url, tmp_path, monkeypatch
):
    monkeypatch.setenv(clock.ENV, str(tmp_path / "clock.json"))
    clock.set_now(NOW)
    engine = make_engine(fresh_database_url)
    storage = FileSystemStorage(tmp_path / "storage")
    broker_url, prefix = broker_for(tmp_path)
    catcher = MailCatcher().start()
    env = {
        "COORDINATOR_DATABASE_URL": fresh_database_url,
        "COORDINATOR_BROKER_URL": broker_url,
        "COORDINATOR_VAR_DIR": str(tmp_path / "var"),
        "COORDINATOR_STORAGE_ROOT": str(storage.root),
        "COORDINATOR_SMTP_HOST": "127.0.0.1",
        "COORDINATOR_SMTP_PORT": str(catcher.port),
        clock.ENV: str(tmp_path / "clock.json"),
        "COORDINATOR_OUTBOX_DISPATCH_INTERVAL": "0.5",
    }
    if prefix:
        env["COORDINATOR_BROKER_KEY_PREFIX"] = prefix
    processes = []
    try:
        session_id, (submitted, missing) = seed(engine)
        upload(engine, submitted, storage)
        with OrmSession(engine) as db:
            presenters = {
                p: db.scalar(
                    select(UploadToken.delegate_id).where(UploadToken.presentation_id == p)
                )
                for p in (submitted, missing)
            }
        for role in ("worker", "beat"):
            process = CeleryProcess(
                role, name=f"materials-{role}", env=env, log_dir=tmp_path / "log"
            )
            processes.append(process)
            process.start()
            process.wait_ready()

        def check():
            for process in processes:
                assert process.alive(), process.log()[-3000:]

        # Now: both calls for materials and the receipt go out.
        wait_for(
            lambda: set(statuses(engine, "call_for_materials").values()) == {"sent"}
            and set(statuses(engine, "receipt").values()) == {"sent"},
            timeout=60, what="calls and receipt", check=check,
        )  # fmt: skip
        chased = statuses(engine, "chaser")
        assert len(chased) == 4  # two per presenter, 7 and 2 days before the deadline
        assert {s for (d, _), s in chased.items() if d == presenters[submitted]} == {"dropped"}
        # 7 days before the deadline: only the presenter with nothing submitted is chased.
        clock.set_now(DEADLINE - timedelta(days=7) + timedelta(seconds=1))
        wait_for(
            lambda: "sent" in statuses(engine, "chaser").values(),
            timeout=60, what="the first chaser", check=check,
        )  # fmt: skip
        with OrmSession(engine) as db:
            chasers = list(db.scalars(select(OM).where(OM.kind == "chaser", OM.status == "sent")))
        assert [c.delegate_id for c in chasers] == [presenters[missing]]
        received = {item.message_id: item for item in catcher.snapshot()}
        assert chasers[0].message_id in received
        assert received[chasers[0].message_id].recipients == (chasers[0].recipient,)
        # The deadline and its grace pass: a worker builds the pack.
        clock.set_now(DEADLINE + timedelta(minutes=15, seconds=1))

        def built():
            with OrmSession(engine) as db:
                return db.scalar(
                    select(SessionPack).where(
                        SessionPack.session_id == session_id, SessionPack.status == "built"
                    )
                )

        pack = wait_for(built, timeout=60, what="the pack", check=check)
        assert (pack.submitted, pack.missing) == (1, 1)
        assert pack.path.startswith(str(tmp_path / "var" / "packs"))
        with zipfile.ZipFile(pack.path) as archive:
            names = archive.namelist()
        assert names[0].startswith("01-") and names[0].endswith(".pdf")
        assert "manifest.json" in names and len(names) == 3
    finally:
        for process in reversed(processes):
            process.stop(timeout=10)
        catcher.stop()
        engine.dispose()
        clock.reset()
        if prefix:
            delete_redis_prefix(broker_url, prefix)
