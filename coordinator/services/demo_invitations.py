"""The invitations part of ``make demo``: :func:`publish_and_move` publishes the five kickoff
sessions and moves one of them to its next-best free slot (attendees get an update, SEQUENCE 1);
:func:`export_messages`, run just before the workers deliver, writes every message in the outbox
to ``var/outbox/`` as ``.eml`` files.

Idempotent like the rest of the demo: a second run finds the sessions published and the moved one
already at its new time, writes nothing new to the outbox, and exports the same messages again
(rendered as of the demo clock, whether or not an earlier run delivered them).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

from rich.console import Console

from coordinator.config import get_settings
from coordinator.db import Db
from coordinator.models import Session
from coordinator.services.invitations import (
    ExportReport,
    export_outbox,
    invited_delegates,
    publish_session,
    reschedule_session,
)
from coordinator.services.planning import plan_session

RESCHEDULED_GROUP = "Water Management"
MOVE_AT_LEAST = timedelta(hours=1)
LANGUAGES = {"en": "English", "ja": "日本語"}


def _short(session: Session) -> str:
    return session.group.name


def _members(session: Session) -> set[int]:
    return {m.city_id for m in session.group.memberships if m.role == "member"}


def next_free_slot(db: Db, session: Session, others: list[Session], best_start):
    """The best-ranked slot at least :data:`MOVE_AT_LEAST` away from ``best_start`` that does not
    double-book a presenting city of another session (``None`` if there is none)."""
    busy = [
        (o.start_utc, o.end_utc)
        for o in others
        if o.id != session.id
        and o.start_utc is not None
        and o.status != "cancelled"
        and _members(session) & _members(o)
    ]
    for candidate in plan_session(db, session.id, top=10_000).candidates:
        if abs(candidate.start_utc - best_start) < MOVE_AT_LEAST:
            continue
        if all(candidate.end_utc <= start or candidate.start_utc >= end for start, end in busy):
            return candidate
    return None


def _languages(session: Session) -> str:
    counts = Counter(d.language for d in invited_delegates(session))
    return ", ".join(f"{n} {LANGUAGES.get(lang, lang)}" for lang, n in sorted(counts.items()))


def publish_and_move(db: Db, out: Console, sessions: list[Session]) -> None:
    """Publish the scheduled sessions and move one; prints what happened."""
    from coordinator.services.demo import best_free_slot

    out.print("\n[bold]Invitations[/] (iMIP: text, HTML and a METHOD:REQUEST calendar each)")
    for session in sessions:
        if session.status != "scheduled":
            out.print(f"  {_short(session)}: {session.status}, not published")
            continue
        report = publish_session(db, session.id)
        if report.already:
            out.print(
                f"  {_short(session)}: already published (SEQUENCE {session.sequence}); "
                f"{report.written} new invitations"
            )
        else:
            out.print(
                f"  {_short(session)}: published, {report.written} invitations "
                f"({_languages(session)})"
            )
        for person in report.skipped:
            out.print(f"    [yellow]skipped[/] {person}")

    moved = next(
        (s for s in sessions if s.group.name == RESCHEDULED_GROUP and s.status == "scheduled"),
        None,
    )
    if moved is not None:
        best = best_free_slot(db, moved, sessions)
        target = next_free_slot(db, moved, sessions, best.start_utc)
        if target is not None:
            before = moved.start_utc
            report = reschedule_session(db, moved.id, start=target.start_utc)
            if report.kind == "update":
                out.print(
                    f"  {_short(moved)}: rescheduled {before:%Y-%m-%d %H:%M}Z → "
                    f"{target.start_utc:%Y-%m-%d %H:%M}Z (its next-best free slot): SEQUENCE "
                    f"{report.sequence}, {report.written} updates replace the "
                    f"{report.dropped} invitations not sent yet"
                )
            else:
                out.print(
                    f"  {_short(moved)}: already rescheduled to "
                    f"{moved.start_utc:%Y-%m-%d %H:%M}Z (SEQUENCE {moved.sequence})"
                )


def export_messages(db: Db, out: Console) -> ExportReport:
    """Write every message in the outbox (waiting, or delivered by an earlier run) to
    ``var/outbox/`` as delivery renders it now; prints the count and a sample."""
    directory = get_settings().var_dir / "outbox"
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.eml"):
        old.unlink()
    export = export_outbox(db, directory, statuses=("pending", "claimed", "sent"))
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(export.by_kind.items()))
    delivered = export.by_status["sent"]
    waiting = len(export.files) - delivered
    state = f"{waiting} waiting for the workers" + (
        f", {delivered} delivered by an earlier run" if delivered else ""
    )
    out.print(
        f"Wrote {len(export.files)} messages to {_shown(directory)}/ ({kinds}) as delivery renders "
        f"them: {state}; the export marks nothing sent"
    )
    sample = export.sample("update") or export.sample("invite")
    if sample is not None:
        out.print(f"  sample: {_shown(sample)}")
    return export


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
