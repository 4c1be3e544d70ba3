"""``coordinator series``: plan many sessions together (mounted by :mod:`coordinator.cli`)."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from coordinator import timezones
from coordinator.errors import UserError

series_app = typer.Typer(help="Plan whole series of sessions at once.", no_args_is_help=True)

LABEL_STYLE = {"working": "green", "early": "yellow", "evening": "dark_orange", "night": "bold red"}


@series_app.command("plan")
def series_plan(
    session: Annotated[
        list[int] | None,
        typer.Option("--session", help="A stored session (repeat); default: every draft."),
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", help="Plan a new recurring series of this group.")
    ] = None,
    every: Annotated[
        str | None, typer.Option("--every", help="week, 2weeks or month (with --group).")
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", help="Occurrences (with --group).")
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="Date of the first occurrence, YYYY-MM-DD.")
    ] = None,
    duration: Annotated[
        int | None, typer.Option("--duration", help="Minutes (with --group).")
    ] = None,
    between: Annotated[
        str | None,
        typer.Option("--between", help="Organizer-local hours an occurrence may use, 07:00-23:00."),
    ] = None,
    max_per_day: Annotated[
        int | None, typer.Option("--max-per-day", help="At most K sessions a day.")
    ] = None,
    min_gap: Annotated[
        int | None, typer.Option("--min-gap", help="Minutes between any two sessions.")
    ] = None,
    no_night_before: Annotated[
        str | None,
        typer.Option("--no-night-before", help="Hard: nobody bound in a meeting 00:00-HH:MM."),
    ] = None,
    quiet: Annotated[
        str | None, typer.Option("--quiet", help="Hard: no bound local time in HH:MM-HH:MM.")
    ] = None,
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", help="Hard: highest comfort cost per city.")
    ] = None,
    hard_for: Annotated[
        str, typer.Option("--hard-for", help="Hard limits bind: members or everyone.")
    ] = "members",
    observers: Annotated[
        str, typer.Option("--observers", help="soft (priced only) or hard (never doubled).")
    ] = "soft",
    weekends: Annotated[
        str, typer.Option("--weekends", help="penalise or exclude (weekends and holidays).")
    ] = "penalise",
    keep: Annotated[
        str, typer.Option("--keep", help="rotate, utc or local: the time a series keeps.")
    ] = "rotate",
    organizer_zone: Annotated[
        str | None, typer.Option("--organizer-zone", help="Default: the organizer's zone.")
    ] = None,
    day_zone: Annotated[
        str | None, typer.Option("--day-zone", help="Days for --max-per-day; default organizer.")
    ] = None,
    fairness: Annotated[
        float | None, typer.Option("--fairness", help="Weight of the convex burden term.")
    ] = None,
    share_weight: Annotated[
        float | None, typer.Option("--share-weight", help="Weight of the worst night share.")
    ] = None,
    step: Annotated[int, typer.Option("--step", help="Minutes between candidate starts.")] = 15,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per solve.")] = 10.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    workers: Annotated[int, typer.Option("--workers", help="Solver threads.")] = 1,
    replan: Annotated[
        bool, typer.Option("--replan", help="Let the named scheduled sessions move too.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    apply: Annotated[bool, typer.Option("--apply", help="Write the starts.")] = False,
) -> None:
    """Fix the starts of many sessions together: no double-booking, hard limits, and the
    night hours shared out fairly.  Prints the plan; writes it only with --apply."""
    from coordinator.cli import database
    from coordinator.scheduling.series import SeriesRules
    from coordinator.services.series import RecurringSeries, parse_between, plan_sessions

    recurring = None
    if group is not None:
        missing = [
            name
            for name, value in (("--every", every), ("--count", count), ("--from", from_))
            if value is None
        ]
        if missing:
            raise UserError(f"--group: also give {', '.join(missing)}")
        try:
            first = date.fromisoformat(from_ or "")
        except ValueError:
            raise UserError(f"--from: {from_!r} is not a date like 2023-10-03") from None
        recurring = RecurringSeries(
            group=group,
            every=every or "",
            count=count or 0,
            first=first,
            duration_minutes=duration,
            between=parse_between(between),
        )
    else:
        for name, value in (
            ("--every", every),
            ("--count", count),
            ("--from", from_),
            ("--duration", duration),
            ("--between", between),
        ):
            if value is not None:
                raise UserError(f"{name}: only with --group (a new recurring series)")

    hours = None
    if no_night_before is not None and quiet is not None:
        raise UserError("--no-night-before and --quiet: give one of them")
    if no_night_before is not None:
        hours = ("00:00", no_night_before)
        if no_night_before.strip() in ("0:00", "00:00"):
            raise UserError(f"--no-night-before: {no_night_before!r} leaves no night to avoid")
    elif quiet is not None:
        hours = parse_between(quiet)
    for option, value, allowed in (
        ("--hard-for", hard_for, ("members", "everyone")),
        ("--observers", observers, ("soft", "hard")),
        ("--weekends", weekends, ("penalise", "exclude")),
        ("--keep", keep, ("rotate", "utc", "local")),
    ):
        if value not in allowed:
            raise UserError(f"{option}: {value!r} is not one of {', '.join(allowed)}")
    defaults = SeriesRules()
    rules = SeriesRules(
        step_minutes=step,
        max_per_day=max_per_day,
        min_gap_minutes=min_gap,
        keep=keep,  # type: ignore[arg-type]
        weekends=weekends,  # type: ignore[arg-type]
        quiet=hours,
        max_cost=max_cost,
        binding=hard_for,  # type: ignore[arg-type]
        observers=observers,  # type: ignore[arg-type]
        fairness_weight=defaults.fairness_weight if fairness is None else fairness,
        share_weight=defaults.share_weight if share_weight is None else share_weight,
        time_limit=time_limit,
        seed=seed,
        workers=workers,
    )
    with database() as db:
        outcome = plan_sessions(
            db,
            session_ids=session or [],
            recurring=recurring,
            rules=rules,
            organizer=organizer_zone,
            day_zone=day_zone,
            replan=replan,
            apply=apply,
        )
    if as_json:
        print(json.dumps(outcome_json(outcome), ensure_ascii=False, indent=2))
    else:
        from coordinator.cli import out

        print_outcome(out, outcome)


# --------------------------------------------------------------------------------------------
# rendering


def _totals(plan) -> dict:
    return {
        "status": plan.status,
        "discomfort": round(plan.discomfort, 2),
        "fairness": round(plan.fairness, 2),
        "total": round(plan.total, 2),
        "max_night_share": round(plan.max_night_share, 4),
        "gap": None if plan.gap is None else round(plan.gap, 6),
        "solve_seconds": round(plan.wall_time, 3),
    }


def _counts(burden) -> dict:
    return {
        "sessions": burden.sessions,
        "working": burden.working,
        "early": burden.early,
        "evening": burden.evening,
        "night": burden.night,
    }


def outcome_json(outcome) -> dict:
    plan = outcome.plan
    fair = plan.fair
    unfair = {b.name: b for b in plan.unfair.burdens} if plan.unfair else {}
    zone = outcome.organizer_zone
    return {
        "status": fair.status,
        "proven_optimal": fair.status == "OPTIMAL",
        "gap": None if fair.gap is None else round(fair.gap, 6),
        "objective": None if fair.solver_objective is None else round(fair.solver_objective, 2),
        "bound": None if fair.bound is None else round(fair.bound, 2),
        "solve_seconds": round(fair.wall_time + (plan.unfair.wall_time if plan.unfair else 0), 3),
        "candidates": plan.candidates,
        "organizer_zone": zone,
        "applied": outcome.applied,
        "created": outcome.created,
        "scheduled": outcome.scheduled,
        "sessions": [
            {
                "key": s.key,
                "session_id": outcome.session_ids.get(s.key),
                "title": s.title,
                "series": s.series,
                "start_utc": s.start_utc.isoformat(),
                "end_utc": s.end_utc.isoformat(),
                "organizer_local": timezones.to_local(s.start_utc, zone).isoformat(),
                "fixed": s.fixed,
                "cost": round(s.cost, 2),
                "night": sorted(c for c, label in s.comfort.items() if label == "night"),
                "early": sorted(c for c, label in s.comfort.items() if label == "early"),
                "notes": list(s.notes),
            }
            for s in fair.sessions
        ],
        "totals": {
            "fair": _totals(fair),
            "without_fairness": _totals(plan.unfair) if plan.unfair else None,
        },
        "burdens": [
            {
                "city": b.name,
                "fair": _counts(b),
                "without_fairness": _counts(unfair[b.name]) if b.name in unfair else None,
            }
            for b in fair.burdens
        ],
        "clock_changes": [c.to_dict() for c in plan.clock_changes],
        "warnings": list(plan.warnings),
    }


def _names(names: list[str], limit: int = 5) -> str:
    return ", ".join(names[:limit]) + (f" +{len(names) - limit}" if len(names) > limit else "")


def print_outcome(out: Console, outcome) -> None:
    plan = outcome.plan
    fair = plan.fair
    zone = outcome.organizer_zone
    for warning in plan.warnings:
        out.print(f"[yellow]warning:[/] {warning}")

    table = Table(title=f"Series plan: {len(fair.sessions)} sessions")
    for column in ("#", "session", "start (UTC)", f"organizer ({zone})", "cost", "night", "early"):
        table.add_column(column, overflow="fold")
    for number, s in enumerate(sorted(fair.sessions, key=lambda s: s.start_utc), start=1):
        local = timezones.to_local(s.start_utc, zone)
        night = sorted(c for c, label in s.comfort.items() if label == "night")
        early = sorted(c for c, label in s.comfort.items() if label == "early")
        title = s.title + (" [dim](fixed)[/]" if s.fixed else "")
        if s.notes:
            title += "\n[yellow]⚑ " + "; ".join(s.notes) + "[/]"
        table.add_row(
            str(number),
            title,
            f"{s.start_utc:%a %Y-%m-%d %H:%M}",
            f"{local:%a %m-%d %H:%M} {timezones.format_offset(local.utcoffset())}",
            f"{s.cost:.2f}",
            f"[red]{len(night)}[/] {_names(night)}" if night else "0",
            f"{len(early)} {_names(early)}" if early else "0",
        )
    out.print(table)

    unfair = {b.name: b for b in plan.unfair.burdens} if plan.unfair else {}
    burdens = sorted(
        fair.burdens,
        key=lambda b: (
            -(unfair[b.name].night if b.name in unfair else 0),
            -b.night,
            -b.early,
            b.name,
        ),
    )
    fairness_table = Table(
        title="Who carries the inconvenient hours: working / early / evening / night"
    )
    fairness_table.add_column("city")
    fairness_table.add_column("sessions", justify="right")
    fairness_table.add_column("fair plan", justify="right")
    if unfair:
        fairness_table.add_column("without fairness", justify="right")

    def cells(b) -> str:
        night = f"[red]{b.night}[/]" if b.night else "0"
        return f"{b.working} / {b.early} / {b.evening} / {night}"

    for b in burdens:
        row = [b.name, str(b.sessions), cells(b)]
        if unfair:
            row.append(cells(unfair[b.name]) if b.name in unfair else "—")
        fairness_table.add_row(*row)
    out.print(fairness_table)

    if plan.unfair is not None:
        u = plan.unfair
        out.print(
            f"total discomfort: [bold]{fair.discomfort:.2f}[/] (fair plan) vs "
            f"{u.discomfort:.2f} (best plan without fairness); fairness term "
            f"{fair.fairness:.2f} vs {u.fairness:.2f}; worst night share "
            f"{fair.max_night_share:.0%} vs {u.max_night_share:.0%}"
        )
    else:
        out.print(f"total discomfort: [bold]{fair.discomfort:.2f}[/]")
    seconds = fair.wall_time + (plan.unfair.wall_time if plan.unfair else 0)
    if fair.status == "OPTIMAL":
        proof = "[green]OPTIMAL[/] (proven)"
    else:
        gap = "unknown" if fair.gap is None else f"{fair.gap:.2%}"
        proof = (
            f"[yellow]{fair.status}[/]: best plan found when the time limit "
            f"({plan.rules.time_limit:g} s) stopped the search, within {gap} of the bound"
        )
    out.print(f"solver: {proof}; {seconds:.2f} s; {plan.candidates} candidate starts")
    if plan.clock_changes:
        out.print("[bold]clock changes in the series[/]")
        for change in plan.clock_changes:
            out.print(f"  {change.text()}")
    if outcome.applied:
        created = f", {len(outcome.created)} draft sessions created" if outcome.created else ""
        out.print(
            f"[green]applied[/]: {len(outcome.scheduled)} start times written in one "
            f"transaction{created}"
        )
    else:
        out.print("nothing written: add --apply to fix these start times")
