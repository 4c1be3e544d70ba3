"""The main job of ``make demo``: the G-NETS 2023 kickoff, loaded, planned and shown."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from coordinator.db import Db
from coordinator.models import Session
from coordinator.scheduling import Participant
from coordinator.services.network import get_network, import_network
from coordinator.services.planning import evaluate_slot, plan_session, schedule_session

KICKOFF = Path(__file__).resolve().parent.parent / "data" / "gnets-2023-kickoff.yaml"
STYLE = {"working": "green", "early": "yellow", "evening": "dark_orange", "night": "bold red"}


def run_demo(db: Db, out: Console) -> None:
    from coordinator.services.demo_delivery import deliver_with_workers, use_demo_clock
    from coordinator.services.demo_invitations import export_messages, publish_and_move
    from coordinator.services.demo_materials import report_packs, upload_samples

    use_demo_clock()  # the kickoff's own time: two weeks before its first session
    report = import_network(db, KICKOFF)
    network = get_network(db)
    out.print(
        f"[bold]{network.name}[/]: {len(network.cities)} cities, {len(network.groups)} working groups "
        f"({'imported' if report.changed else 'already imported'})"
    )
    sessions = list(db.scalars(select(Session).order_by(Session.window_start, Session.id)))
    for session in sessions:
        if session.status == "draft":
            best = best_free_slot(db, session, sessions)
            schedule_session(db, session.id, best.start_utc)
            out.print(
                f"  {session.title}: best slot {best.start_utc:%Y-%m-%d %H:%M}Z (cost {best.cost:.2f})"
            )
        else:
            out.print(f"  {session.title}: {session.status} at {session.start_utc:%Y-%m-%d %H:%M}Z")
    print_grid(out, network.cities, sessions)
    print_kickoff_check(db, out)
    publish_and_move(db, out, sessions)  # invitations: five published, one rescheduled
    upload_samples(db, out, sessions)  # most presenters upload through the HTTP API
    export_messages(db, out)  # var/outbox/: every message, as the workers will deliver it
    deliver_with_workers(db.get_bind(), out)
    report_packs(db, out, sessions)  # the packs the workers built at the deadlines


def best_free_slot(db: Db, session: Session, others: list[Session]):
    """The best-ranked slot that does not double-book a presenting city already fixed in
    another session (Tokyo presents in all five kickoff sessions)."""
    members = {m.city_id for m in session.group.memberships if m.role == "member"}
    busy = [
        (o.start_utc, o.end_utc)
        for o in others
        if o.id != session.id
        and o.start_utc is not None
        and o.status != "cancelled"
        and members & {m.city_id for m in o.group.memberships if m.role == "member"}
    ]
    ranked = plan_session(db, session.id, top=10_000).candidates
    for candidate in ranked:
        if all(candidate.end_utc <= start or candidate.start_utc >= end for start, end in busy):
            return candidate
    return ranked[0]


def print_grid(out: Console, cities, sessions) -> None:
    people = [Participant(c.name, c.zone, c.country, c.subdivision) for c in cities]
    columns = []
    for session in sessions:
        if session.start_utc is None:
            columns.append({})
            continue
        slot = evaluate_slot(people, session.start_utc, session.duration_minutes).candidates[0]
        columns.append({t.city: t for t in slot.cities})
    table = Table(title="Local time of each kickoff session in every city", show_lines=False)
    table.add_column("city", no_wrap=True)
    table.add_column("日本語", no_wrap=True)
    for session in sessions:
        when = f"{session.start_utc:%m-%d %H:%M}Z" if session.start_utc else "unscheduled"
        table.add_column(f"{session.group.name[:20]}\n{when}", no_wrap=True)
    for city in cities:
        cells = []
        for column in columns:
            t = column.get(city.name)
            if t is None:
                cells.append("[yellow]zone unknown[/]" if city.zone == "unknown" else "—")
                continue
            mark = " ⚑" if t.notes else ""
            cells.append(
                f"[{STYLE.get(t.comfort, '')}]{t.local_start:%a %H:%M} {t.utc_offset}{mark}[/]"
            )
        table.add_row(city.name, city.name_ja or "", *cells)
    # Wide enough for every cell even when the output is not a terminal (make demo | less).
    wide = out
    if out.width < 150:
        wide = Console(file=out.file, width=150, color_system=out.color_system, highlight=False)
    wide.print(table)
    out.print("green working hours · yellow early · orange evening · red night · ⚑ weekend/holiday")


def print_kickoff_check(db: Db, out: Console) -> None:
    """The kickoff check: the five sessions planned jointly (``coordinator series plan``)
    never double-book a presenting city; fails the demo if they do."""
    from coordinator.services.series import kickoff_check

    check = kickoff_check(db)
    fair = check.outcome.plan.fair
    unfair = check.outcome.plan.unfair
    status = "proven optimal" if fair.status == "OPTIMAL" else f"gap {fair.gap:.1%}"
    out.print(
        f"[bold]Kickoff check[/]: the {len(fair.sessions)} sessions planned jointly over their "
        f"dates ({status}, {fair.wall_time:.2f} s)"
    )
    for planned in sorted(fair.sessions, key=lambda p: p.start_utc):
        out.print(f"  {planned.start_utc:%Y-%m-%d %H:%M}Z  {planned.title}")
    presenters = ", ".join(f"{city} in {len(rows)}" for city, rows in check.presenters.items())
    clashes = {city: pairs for city, pairs in check.double_booked.items() if pairs}
    if clashes:
        raise RuntimeError(f"kickoff check failed: double-booked {clashes}")
    out.print(f"  [green]no presenting city double-booked[/] ({presenters} sessions)")
    alone = {city: len(pairs) for city, pairs in check.independent_clashes.items() if pairs}
    if alone:
        out.print(
            "  each session at its own best slot would double-book "
            + ", ".join(f"{city} ({n}x)" for city, n in alone.items())
        )
    if unfair is not None:
        out.print(
            f"  worst night share {fair.max_night_share:.0%} (discomfort {fair.discomfort:.1f}) vs "
            f"{unfair.max_night_share:.0%} ({unfair.discomfort:.1f}) without fairness"
        )
