"""The ``coordinator`` command: thin wrappers that parse options, call one service, print.

User mistakes print one line on stderr and exit 2; nothing is written.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import OperationalError

from coordinator import timezones
from coordinator.cli_materials import add_session_commands, api, materials_app
from coordinator.cli_series import series_app
from coordinator.errors import UserError

app = typer.Typer(
    help="Coordinator: times, invites, reminders and materials for a network of cities.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
network_app = typer.Typer(
    help="The network: cities, delegates, working groups.", no_args_is_help=True
)
sessions_app = typer.Typer(help="Working-group sessions.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(network_app, name="network")
app.add_typer(sessions_app, name="sessions")
outbox_app = typer.Typer(help="The outbox: messages waiting, sent, failed.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
rsvp_app = typer.Typer(help="Attendees' answers to invitations (iTIP REPLY).", no_args_is_help=True)
app.add_typer(rsvp_app, name="rsvp")
app.add_typer(series_app, name="series")
app.add_typer(materials_app, name="materials")
add_session_commands(sessions_app)
app.command("api")(api)

out = Console(highlight=False, soft_wrap=True)

COMFORT_STYLE = {"working": "green", "early": "yellow", "evening": "yellow", "night": "bold red"}


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def database():
    """An open database session with the schema in place (migrated on the embedded default)."""
    from coordinator.config import get_settings
    from coordinator.db import get_engine, session_scope
    from coordinator.migrate import is_current, upgrade

    engine = get_engine()
    if not is_current(engine):
        if get_settings().is_embedded:
            upgrade(engine)
        else:
            raise UserError("the database schema is not current: run `coordinator db upgrade`")
    return session_scope()


def parse_when(text: str, option: str, zone: str = "UTC") -> datetime:
    """A date (midnight UTC) or an instant with Z or an offset; naive times are in ``zone``."""
    try:
        if len(text) == 10:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        return timezones.parse_instant(text, default_zone=zone)
    except ValueError as exc:
        raise UserError(f"{option}: {exc}") from None


def iso_z(instant: datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_iso(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds")


def search_json(result) -> dict:
    return {
        "candidates": [
            {
                "start_utc": iso_z(c.start_utc),
                "end_utc": iso_z(c.end_utc),
                "cost": round(c.cost, 2),
                "cities": [
                    {
                        "city": t.city,
                        "zone": t.zone,
                        "local_start": local_iso(t.local_start),
                        "local_end": local_iso(t.local_end),
                        "utc_offset": t.utc_offset,
                        "comfort": t.comfort,
                        "notes": list(t.notes),
                    }
                    for t in c.cities
                ],
            }
            for c in result.candidates
        ],
        "warnings": list(result.warnings),
    }


def print_search(result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(search_json(result), ensure_ascii=False, indent=2))
        return
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/] {warning}")
    table = Table(title=f"Best of {result.considered} candidate slots", show_lines=False)
    for column in ("#", "start (UTC)", "cost", "working", "early", "evening", "night", "notes"):
        table.add_column(column, overflow="fold")
    for rank, cand in enumerate(result.candidates, start=1):
        by: dict[str, list[str]] = {"working": [], "early": [], "evening": [], "night": []}
        notes = []
        for t in cand.cities:
            by.setdefault(t.comfort, []).append(t.city)
            notes += [f"{t.city}: {n}" for n in t.notes]
        night = ", ".join(by["night"][:6]) + (" …" if len(by["night"]) > 6 else "")
        table.add_row(
            str(rank),
            f"{cand.start_utc:%a %Y-%m-%d %H:%M}",
            f"{cand.cost:.2f}",
            str(len(by["working"])),
            str(len(by["early"])),
            str(len(by["evening"])),
            f"[red]{len(by['night'])}[/] {night}" if by["night"] else "0",
            "; ".join(notes[:4]) + (" …" if len(notes) > 4 else ""),
        )
    out.print(table)


# --- db ----------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to the configured database."""
    from coordinator.db import get_engine
    from coordinator.migrate import upgrade

    upgrade(get_engine())
    out.print("database is at the latest revision")


# --- network -----------------------------------------------------------------------------


@network_app.command("import")
def network_import(file: Annotated[Path, typer.Argument(help="A network YAML file.")]) -> None:
    """Import (or re-import) a network file: all or nothing, idempotent."""
    from coordinator.services.network import import_network

    with database() as db:
        report = import_network(db, file)
    if not report.changed:
        out.print(f"{report.network}: already up to date, nothing changed")
        return
    parts = [f"{n} {k} created" for k, n in sorted(report.created.items()) if n]
    parts += [f"{n} {k} updated" for k, n in sorted(report.updated.items()) if n]
    out.print(f"{report.network}: " + ", ".join(parts))


@network_app.command("show")
def network_show(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List cities, groups, sessions and delegates."""
    from coordinator.services.network import network_overview

    with database() as db:
        data = network_overview(db)
    if as_json:
        print(
            json.dumps(
                {k: v for k, v in data.items() if k != "network"}, ensure_ascii=False, indent=2
            )
        )
        return
    cities = Table(title=f"{data['network'][0]['name']}: {len(data['cities'])} cities")
    for column in ("city", "日本語", "country", "zone"):
        cities.add_column(column)
    for c in data["cities"]:
        zone = c["zone"] if c["zone"] != timezones.UNKNOWN_ZONE else "[yellow]unknown[/]"
        cities.add_row(
            c["name"],
            c["name_ja"] or "",
            c["country"] + (f"-{c['subdivision']}" if c["subdivision"] else ""),
            zone,
        )
    out.print(cities)
    groups = Table(title=f"{len(data['groups'])} working groups")
    for column in ("group", "members", "observers"):
        groups.add_column(column, overflow="fold")
    for g in data["groups"]:
        groups.add_row(g["name"], ", ".join(g["members"]), str(len(g["observers"])))
    out.print(groups)
    _print_sessions(data["sessions"])
    out.print(f"{len(data['delegates'])} delegates, {len(data['presentations'])} presentations")


# --- sessions ----------------------------------------------------------------------------


def _print_sessions(rows: list[dict]) -> None:
    table = Table(title=f"{len(rows)} sessions")
    for column in ("id", "title", "group", "start (UTC)", "min", "status"):
        table.add_column(column, overflow="fold")
    for s in rows:
        table.add_row(
            str(s["id"]),
            s["title"],
            s["group"],
            s["start_utc"] or "—",
            str(s["duration_minutes"]),
            s["status"],
        )
    out.print(table)


@sessions_app.command("list")
def sessions_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List sessions with their start (UTC) and status."""
    from coordinator.services.network import network_overview

    with database() as db:
        rows = network_overview(db)["sessions"]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _print_sessions(rows)


@sessions_app.command("plan")
def sessions_plan(
    session_id: Annotated[int, typer.Argument(metavar="ID")],
    step: Annotated[int, typer.Option("--step", help="Minutes between candidates.")] = 15,
    top: Annotated[int, typer.Option("--top", min=1)] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Rank slots for a stored session: its group's cities, its window."""
    from coordinator.services.planning import plan_session

    with database() as db:
        result = plan_session(db, session_id, step_minutes=step, top=top)
        print_search(result, as_json)


@sessions_app.command("schedule")
def sessions_schedule(
    session_id: Annotated[int, typer.Argument(metavar="ID")],
    at: Annotated[str | None, typer.Option("--at", help="Start, e.g. 2023-10-03T11:00Z.")] = None,
    duration: Annotated[int | None, typer.Option("--duration", help="Minutes.")] = None,
    link: Annotated[
        str | None, typer.Option("--link", help="Online meeting address ('' = the network's).")
    ] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="Note shown to attendees; sends no update.")
    ] = None,
) -> None:
    """Fix a session's start. On a published session this is a reschedule: a new start,
    duration or link sends every attendee an update (same UID, SEQUENCE + 1)."""
    from coordinator.services.invitations import reschedule_session
    from coordinator.services.planning import get_session

    if at is None and duration is None and link is None and note is None:
        raise UserError("give --at, --duration, --link or --note")
    start = parse_when(at, "--at") if at is not None else None
    with database() as db:
        report = reschedule_session(
            db, session_id, start=start, duration=duration, meeting_url=link, note=note
        )
        session = get_session(db, session_id)
        published, start_utc = session.is_published, session.start_utc
    label = f"session {report.session_id} {report.title!r}"
    if report.kind == "update":
        out.print(
            f"{label} rescheduled ({'; '.join(report.changes)}): SEQUENCE {report.sequence}, "
            f"{_count(report.written, 'update')} written"
            + (
                f", {_count(report.dropped, 'superseded message')} dropped"
                if report.dropped
                else ""
            )
        )
        _print_skipped(report.skipped)
    elif published:
        what = "; ".join(report.changes) if report.changes else "nothing changed"
        out.print(
            f"{label}: {what}; nothing that attendees' calendars show changed, so SEQUENCE "
            f"stays {report.sequence} and nothing is sent"
        )
    elif start is not None:
        out.print(f"{label} scheduled at {iso_z(start_utc)}")
    else:
        what = "; ".join(report.changes) if report.changes else "nothing changed"
        out.print(f"{label}: {what} (not published: nothing sent)")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _print_skipped(skipped) -> None:
    for person in skipped:
        out.print(f"[yellow]skipped[/] {person.name} <{person.email}>: {person.reason}")


@sessions_app.command("publish")
def sessions_publish(session_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Send the invitations: one iMIP invite (METHOD:REQUEST) per attendee, through the outbox."""
    from coordinator.services.invitations import publish_session

    with database() as db:
        report = publish_session(db, session_id)
    label = f"session {report.session_id} {report.title!r}"
    if report.already:
        out.print(
            f"{label} was already published: {_count(report.written, 'invitation')} written "
            f"for attendees who had none ({report.existing} already there)"
        )
    else:
        out.print(
            f"{label} published: {_count(report.written, 'invitation')} written "
            f"(SEQUENCE {report.sequence})"
        )
    _print_skipped(report.skipped)


@sessions_app.command("cancel")
def sessions_cancel(session_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Cancel a session: attendees get METHOD:CANCEL (SEQUENCE + 1); reminders are dropped."""
    from coordinator.services.invitations import cancel_session

    with database() as db:
        report = cancel_session(db, session_id)
    label = f"session {report.session_id} {report.title!r}"
    if report.already:
        out.print(f"{label} was already cancelled; nothing sent")
        return
    if report.kind == "cancel":
        out.print(
            f"{label} cancelled: SEQUENCE {report.sequence}, "
            f"{_count(report.written, 'cancellation')} written, "
            f"{_count(report.dropped, 'pending message')} dropped"
        )
        _print_skipped(report.skipped)
    else:
        out.print(
            f"{label} cancelled (it was not published: nothing sent, "
            f"{_count(report.dropped, 'pending reminder')} dropped)"
        )


@sessions_app.command("show")
def sessions_show(
    session_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A session's details: times in every city, agenda, attendance (RSVPs), messages."""
    from coordinator.services.invitations import session_details

    with database() as db:
        data = session_details(db, session_id)
    if as_json:
        print(json.dumps(data, default=iso_z, ensure_ascii=False, indent=2))
        return
    title = data["title"] + (f" / {data['title_ja']}" if data["title_ja"] else "")
    out.print(f"[bold]{title}[/]")
    group = data["group"] + (f" / {data['group_ja']}" if data["group_ja"] else "")
    out.print(f"group: {group}")
    published = iso_z(data["published_at"]) or "not published"
    out.print(
        f"status: {data['status']} · published: {published} · UID {data['uid']} "
        f"· SEQUENCE {data['sequence']}"
    )
    when = (
        f"{iso_z(data['start_utc'])} – {iso_z(data['end_utc'])} ({data['duration_minutes']} min)"
        if data["start_utc"]
        else f"not scheduled ({data['duration_minutes']} min)"
    )
    out.print(f"when (UTC): {when}")
    out.print(f"link: {data['meeting_url'] or '—'}")
    if data["note"]:
        out.print(f"note: {data['note']}")
    if data["local_times"]:
        local = Table(title="Local time in each city")
        for column in ("city", "", "role", "local time", "zone"):
            local.add_column(column, overflow="fold")
        for row in data["local_times"]:
            local.add_row(row["city"], row["city_ja"] or "", row["role"], row["local"], row["zone"])
        out.print(local)
    agenda = Table(title="Agenda")
    for column in ("#", "city", "presenting body", "title", "presenter"):
        agenda.add_column(column, overflow="fold")
    for item in data["agenda"]:
        agenda.add_row(
            str(item["position"]),
            item["city"],
            item["body"],
            item["title"] + (f"\n{item['title_ja']}" if item["title_ja"] else ""),
            item["presenter"] or "",
        )
    out.print(agenda)
    counts = data["attendance"]["counts"]
    out.print("attendance: " + " · ".join(f"{n} {answer.lower()}" for answer, n in counts.items()))
    people = Table(title=f"{len(data['attendance']['delegates'])} attendees")
    for column in ("delegate", "email", "city", "answer", "answered"):
        people.add_column(column, overflow="fold")
    for person in data["attendance"]["delegates"]:
        answered = iso_z(person["replied_at"]) or "—"
        answer = person["partstat"]
        if not person["current"]:
            answer += f" (to SEQUENCE {person['sequence']}, before the last change)"
        people.add_row(person["name"], person["email"], person["city"], answer, answered)
    out.print(people)
    if data["messages"]:
        out.print(
            "messages: "
            + "; ".join(
                f"{kind} " + ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
                for kind, states in data["messages"].items()
            )
        )


# --- rsvp and calendar feeds --------------------------------------------------------------------


@rsvp_app.command("import")
def rsvp_import(
    file: Annotated[Path, typer.Argument(help="An .ics or an .eml holding METHOD:REPLY.")],
) -> None:
    """Record attendees' answers (ACCEPTED, DECLINED, TENTATIVE); all or nothing per file."""
    from coordinator.services.invitations import import_replies

    with database() as db:
        result = import_replies(db, file)
    out.print(
        f"{file.name}: {_count(len(result.recorded), 'answer')} recorded"
        + (f", {result.unchanged} unchanged" if result.unchanged else "")
    )
    for r in result.recorded:
        was = f" (was {r.previous})" if r.previous else ""
        out.print(
            f"  {r.name} <{r.email}>: {r.partstat}{was} for session {r.session_id} "
            f"{r.session_title!r}"
        )


@app.command("ics")
def ics(
    session: Annotated[int | None, typer.Option("--session", help="A session ID.")] = None,
    delegate: Annotated[
        str | None, typer.Option("--delegate", help="A delegate's email: their groups.")
    ] = None,
    group: Annotated[str | None, typer.Option("--group", help="A working group's name.")] = None,
    language: Annotated[
        str, typer.Option("--language", help="en or ja (a delegate's feed: theirs).")
    ] = "en",
) -> None:
    """Write a calendar feed (METHOD:PUBLISH) to stdout; cancelled sessions stay, cancelled."""
    from coordinator.services import invitations

    if sum(x is not None for x in (session, delegate, group)) != 1:
        raise UserError("give exactly one of --session ID, --delegate EMAIL, --group NAME")
    with database() as db:
        if session is not None:
            data = invitations.session_feed(db, session, language=language)
        elif delegate is not None:
            data = invitations.delegate_feed(db, delegate)
        else:
            data = invitations.group_feed(db, group, language=language)
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


# --- slots -------------------------------------------------------------------------------


@app.command("slots")
def slots(
    from_: Annotated[str, typer.Option("--from", help="Window start: a date or an instant.")],
    to: Annotated[str, typer.Option("--to", help="Window end: a date or an instant.")],
    duration: Annotated[int, typer.Option("--duration", help="Minutes.")],
    city: Annotated[
        list[str] | None, typer.Option("--city", help="City name (English/日本語) or IANA zone.")
    ] = None,
    group: Annotated[str | None, typer.Option("--group", help="A working group's cities.")] = None,
    step: Annotated[int, typer.Option("--step", help="Minutes between candidates.")] = 15,
    top: Annotated[int, typer.Option("--top", min=1)] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Rank the best times for a set of cities over a window."""
    from coordinator.services.planning import rank_slots

    start, end = parse_when(from_, "--from"), parse_when(to, "--to")
    with database() as db:
        result = rank_slots(
            db,
            cities=city or [],
            group=group,
            start=start,
            end=end,
            duration_minutes=duration,
            step_minutes=step,
            top=top,
        )
    print_search(result, as_json)


# --- demo --------------------------------------------------------------------------------


@app.command("demo")
def demo() -> None:
    """The main job: load the G-NETS 2023 kickoff, fix the best slot for each session, show
    every city's local time."""
    from coordinator.services.demo import run_demo

    with database() as db:
        run_demo(db, out)


# --- workers and the outbox -----------------------------------------------------------------


def _exec_celery(role: str, extra: list[str]) -> None:
    """Replace this process by ``celery -A workers.celery_app ROLE …`` (signals go to celery)."""
    import os

    with database():
        pass  # the schema is in place (migrated on the embedded default) before workers start
    argv = [sys.executable, "-m", "celery", "-A", "workers.celery_app", role, *extra]
    sys.stdout.flush()
    os.execv(sys.executable, argv)


@app.command("worker")
def worker(
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1)] = 2,
    loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "INFO",
) -> None:
    """Run a Celery worker that delivers the outbox (wraps `celery … worker`)."""
    _exec_celery("worker", ["--concurrency", str(concurrency), "--loglevel", loglevel])


@app.command("beat")
def beat(loglevel: Annotated[str, typer.Option("--loglevel", "-l")] = "INFO") -> None:
    """Run celery beat: claims due outbox rows every few seconds (wraps `celery … beat`)."""
    from coordinator.config import get_settings

    var = get_settings().var_dir
    var.mkdir(parents=True, exist_ok=True)
    schedule, pidfile = var / "celerybeat-schedule", var / "celerybeat.pid"
    _exec_celery(
        "beat", ["--loglevel", loglevel, "--schedule", str(schedule), "--pidfile", str(pidfile)]
    )


@app.command("serve")
def serve(
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1)] = 2,
    host: Annotated[str, typer.Option("--host", help="Where the HTTP API listens.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    api: Annotated[bool, typer.Option("--api/--no-api", help="Run the HTTP API too.")] = True,
) -> None:
    """The HTTP API (uvicorn), a worker, beat and a local mail catcher together (a local
    installation); Ctrl-C stops them all."""
    from coordinator.api.serving import ApiProcess
    from coordinator.services.local_stack import serve_forever

    with database():
        pass
    server = ApiProcess(host=host, port=port) if api else None
    try:
        if server is not None:
            server.start()
            out.print(f"API on {server.url} (documentation: {server.url}/docs)")
        serve_forever(out, concurrency=concurrency)
    finally:
        if server is not None:
            server.stop()


@outbox_app.command("status")
def outbox_status_command(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Counts per kind and state, what is due, and the failures with the server's reason."""
    from coordinator.services.delivery import outbox_status

    with database() as db:
        status = outbox_status(db)
    if as_json:
        print(json.dumps(status, default=iso_z, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"Outbox at {iso_z(status['now'])}")
    states = list(status["totals"])
    table.add_column("kind")
    for state in states:
        table.add_column(state, justify="right")
    for kind, counts in status["by_kind"].items():
        table.add_row(kind, *(str(counts[s]) for s in states))
    table.add_row("[bold]all[/]", *(f"[bold]{status['totals'][s]}[/]" for s in states))
    out.print(table)
    out.print(
        f"due now: {status['due_now']} · retrying: {status['retrying']} · expired leases: "
        f"{status['expired_leases']} · next due: {iso_z(status['next_due']) or '—'}"
    )
    for f in status["failures"]:
        out.print(
            f"[red]failed[/] #{f['id']} {f['kind']} to {f['recipient']} "
            f"after {f['attempts']} attempt(s): {f['last_error']}"
        )


@outbox_app.command("retry")
def outbox_retry(
    message_id: Annotated[int | None, typer.Argument(metavar="[ID]")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every failed message.")] = False,
) -> None:
    """Requeue one message by ID, or every failed one (same Message-ID, attempts reset)."""
    from coordinator.services.delivery import retry_messages

    with database() as db:
        count = retry_messages(db, message_id=message_id, failed=failed)
    noun = "message" if count == 1 else "messages"
    out.print(f"{count} {noun} requeued")


# --- API keys ------------------------------------------------------------------------------

keys_app = typer.Typer(help="API keys for the HTTP API.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help="admin, organizer or viewer.")],
    network: Annotated[
        str | None, typer.Option("--network", help="The network's slug (organizer, viewer).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Who or what uses it.")] = None,
) -> None:
    """Create an API key and print it: it is shown this once, only its hash is kept."""
    from coordinator.services.keys import create_key

    with database() as db:
        new = create_key(db, role=role, network=network, name=name)
        scope = new.key.network.slug if new.key.network else "every network"
    print(new.secret)
    print(f"key {new.key.id} ({role}, {scope}): shown this once, keep it", file=sys.stderr)


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (never their secrets)."""
    from coordinator.services.keys import list_keys

    with database() as db:
        table = Table(title="API keys")
        for column in ("id", "prefix", "role", "network", "name", "created", "revoked"):
            table.add_column(column)
        for key in list_keys(db):
            table.add_row(
                str(key.id),
                key.prefix,
                key.role,
                key.network.slug if key.network else "*",
                key.name or "",
                iso_z(key.created_at) or "",
                iso_z(key.revoked_at) or "",
            )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Revoke an API key: it stops working at once."""
    from coordinator.services.keys import revoke_key

    with database() as db:
        key = revoke_key(db, key_id)
    out.print(f"key {key.id} revoked")


@outbox_app.command("export")
def outbox_export(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Where to write .eml files.")],
    include_sent: Annotated[
        bool, typer.Option("--all", help="Also messages already sent (as they render now).")
    ] = False,
) -> None:
    """Write each pending message as an .eml file, as delivery would send it now; nothing is
    marked sent."""
    from coordinator.services.invitations import export_outbox

    statuses = ("pending", "claimed", "sent") if include_sent else ("pending",)
    with database() as db:
        report = export_outbox(db, directory, statuses=statuses)
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(report.by_kind.items()))
    out.print(
        f"{_count(len(report.files), 'message')} written to {directory}/"
        + (f" ({kinds})" if kinds else "")
        + (f"; {report.not_wanted} no longer wanted, not written" if report.not_wanted else "")
    )
    sample = report.sample()
    if sample is not None:
        out.print(f"sample: {sample}")


def main() -> None:
    try:
        app(standalone_mode=False)
    except UserError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for detail in exc.details:
            print(f"  {detail}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except OperationalError as exc:
        print(f"error: cannot use the database: {exc.orig}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
