"""Presenters' materials on the command line (mounted by :mod:`coordinator.cli`):

- ``coordinator sessions status ID`` — per presentation: submitted or not, version, when;
- ``coordinator sessions pack ID`` — build the session pack (under ``./var/packs/``);
- ``coordinator sessions deadline ID --at …`` / ``--default`` — the materials deadline;
- ``coordinator materials list|get|upload|link|open-late|close-late|sweep``;
- ``coordinator api`` — serve the HTTP application (uvicorn).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

materials_app = typer.Typer(help="Presenters' materials: versions, links, late uploads.",
                            no_args_is_help=True)  # fmt: skip


def _cli():
    from coordinator import cli

    return cli


def _z(instant: datetime | None) -> str | None:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if instant else None


def _size(size: int) -> str:
    from coordinator.submissions.receive import human_size

    return human_size(size)


def sessions_status(
    session_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Who has submitted materials: per presentation, the current version and when."""
    from coordinator.services.materials import describe_instant, session_materials

    cli = _cli()
    with cli.database() as db:
        status = session_materials(db, session_id)
        rows = [
            {
                "presentation_id": r.presentation.id,
                "position": r.presentation.position,
                "city": r.presentation.city.name,
                "title": r.presentation.title,
                "presenter": r.presentation.presenter.email if r.presentation.presenter else None,
                "submitted": r.current is not None,
                "version": r.current.version if r.current else None,
                "versions": r.versions,
                "uploaded_at": _z(r.current.uploaded_at) if r.current else None,
                "filename": r.current.original_filename if r.current else None,
                "size": r.current.size if r.current else None,
                "late": r.current.late if r.current else None,
                "late_submissions": r.presentation.late_submissions,
            }
            for r in status.presentations
        ]
        session = status.session
        pack = status.pack
        summary = {
            "session_id": session.id,
            "title": session.title,
            "status": session.status,
            "start_utc": _z(session.start_utc),
            "deadline": _z(status.deadline),
            "submitted": status.submitted,
            "presentations": rows,
            "pack": None
            if pack is None or pack.built_at is None
            else {"path": pack.path, "built_at": _z(pack.built_at), "sha256": pack.sha256},
        }
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    deadline = describe_instant(status.deadline) if status.deadline else "none (no start yet)"
    table = Table(
        title=f"{session.title}: {status.submitted} of {len(rows)} submitted; deadline {deadline}"
    )
    for column in ("#", "id", "city", "presenter", "status", "version", "when (UTC)", "file"):
        table.add_column(column, overflow="fold")
    for r in rows:
        state = "[green]submitted[/]" if r["submitted"] else "[red]missing[/]"
        if r["late"]:
            state += " (late)"
        elif r["late_submissions"]:
            state += " (late open)"
        file = f"{r['filename']} ({_size(r['size'])})" if r["submitted"] else "—"
        table.add_row(
            str(r["position"]),
            str(r["presentation_id"]),
            r["city"],
            r["presenter"] or "—",
            state,
            f"{r['version']} of {r['versions']}" if r["submitted"] else "—",
            (r["uploaded_at"] or "—").replace("T", " ").replace("Z", ""),
            file,
        )
    cli.out.print(table)
    if summary["pack"]:
        cli.out.print(f"pack: {summary['pack']['path']} (built {summary['pack']['built_at']})")


def sessions_pack(
    session_id: Annotated[int, typer.Argument(metavar="ID")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Directory (default ./var/packs/).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if unchanged.")] = False,
) -> None:
    """Build the session pack: current materials in agenda order, manifest.json, the .ics."""
    from coordinator.services.materials import build_pack

    cli = _cli()
    with cli.database() as db:
        result = build_pack(db, session_id, out_dir=out_dir, force=force)
    state = "built" if result.rebuilt else "unchanged"
    cli.out.print(
        f"{result.path} ({state}): {result.submitted} submitted, {result.missing} missing, "
        f"{_size(result.size)}, sha256 {result.sha256}"
    )


def sessions_deadline(
    session_id: Annotated[int, typer.Argument(metavar="ID")],
    at: Annotated[str | None, typer.Option("--at", help="e.g. 2023-09-26T11:00Z")] = None,
    default: Annotated[bool, typer.Option("--default", help="Back to the default.")] = False,
) -> None:
    """Set the materials deadline of a session (presenters are told the new one)."""
    from coordinator.errors import UserError
    from coordinator.services.materials import describe_instant, set_deadline

    cli = _cli()
    if (at is None) == (not default):
        raise UserError("give either --at INSTANT or --default")
    deadline = cli.parse_when(at, "--at") if at else None
    with cli.database() as db:
        plan = set_deadline(db, session_id, deadline)
    shown = describe_instant(plan.deadline) if plan.deadline else "none"
    cli.out.print(
        f"deadline {shown}: {plan.calls} calls for materials and {plan.chasers} chasers planned, "
        f"{plan.dropped} dropped"
    )


def add_session_commands(sessions_app: typer.Typer) -> None:
    sessions_app.command("status")(sessions_status)
    sessions_app.command("pack")(sessions_pack)
    sessions_app.command("deadline")(sessions_deadline)


@materials_app.command("list")
def materials_list(
    presentation_id: Annotated[int, typer.Argument(metavar="PRESENTATION_ID")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every version of a presentation's materials (the last is current)."""
    from coordinator.services.materials import versions

    cli = _cli()
    with cli.database() as db:
        rows = [
            {
                "version": s.version,
                "filename": s.original_filename,
                "type": s.file_type,
                "size": s.size,
                "sha256": s.sha256,
                "uploaded_at": _z(s.uploaded_at),
                "uploaded_by": s.uploaded_by.email if s.uploaded_by else None,
                "channel": s.channel,
                "late": s.late,
            }
            for s in versions(db, presentation_id)
        ]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        cli.out.print(f"presentation {presentation_id}: nothing submitted yet")
        return
    table = Table(title=f"Presentation {presentation_id}: {len(rows)} versions")
    for column in ("version", "file", "type", "size", "sha256", "uploaded (UTC)", "by"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["version"]) + (" (current)" if r is rows[-1] else ""),
            r["filename"],
            r["type"],
            _size(r["size"]),
            r["sha256"],
            r["uploaded_at"] + (" late" if r["late"] else ""),
            r["uploaded_by"] or r["channel"],
        )
    cli.out.print(table)


@materials_app.command("get")
def materials_get(
    presentation_id: Annotated[int, typer.Argument(metavar="PRESENTATION_ID")],
    version: Annotated[int | None, typer.Option("--version", help="Default: current.")] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="File or directory (default: here).")
    ] = None,
) -> None:
    """Copy a version of a presentation's materials to a file."""
    from coordinator.services.materials import get_version
    from coordinator.submissions.storage import get_storage

    cli = _cli()
    with cli.database() as db:
        s = get_version(db, presentation_id, version)
        key, name, number = s.storage_key, s.original_filename, s.version
    target = out_path or Path(".")
    if target.is_dir():
        target = target / f"{presentation_id}-v{number}-{name}"
    with get_storage().open(key) as source, open(target, "wb") as sink:
        shutil.copyfileobj(source, sink, 1024 * 1024)
    cli.out.print(f"version {number} written to {target}")


@materials_app.command("upload")
def materials_upload(
    presentation_id: Annotated[int, typer.Argument(metavar="PRESENTATION_ID")],
    file: Annotated[Path, typer.Argument(metavar="FILE")],
    name: Annotated[str | None, typer.Option("--name", help="Name to show.")] = None,
) -> None:
    """Upload a file on the presenter's behalf (same checks; no deadline)."""
    from coordinator.services.materials import submit_file

    cli = _cli()
    with cli.database() as db:
        recorded = submit_file(db, presentation_id, file, filename=name)
    what = "identical to the current version" if recorded.duplicate else "new version"
    cli.out.print(
        f"presentation {presentation_id}: version {recorded.version} ({what}), "
        f"{recorded.filename}, {recorded.file_type}, {_size(recorded.size)}, "
        f"sha256 {recorded.sha256}"
    )


@materials_app.command("link")
def materials_link(presentation_id: Annotated[int, typer.Argument(metavar="PRESENTATION_ID")]):
    """Print the presenter's personal upload link (to pass on by hand)."""
    from coordinator.services.materials import upload_link

    cli = _cli()
    with cli.database() as db:
        print(upload_link(db, presentation_id))
    del cli


def _late(presentation_id: int, open_: bool) -> None:
    from coordinator.services.materials import set_late_submissions

    cli = _cli()
    with cli.database() as db:
        set_late_submissions(db, presentation_id, open_)
    state = "accepts late uploads" if open_ else "no longer accepts late uploads"
    cli.out.print(f"presentation {presentation_id} {state}")


@materials_app.command("open-late")
def materials_open_late(presentation_id: Annotated[int, typer.Argument(metavar="PRESENTATION_ID")]):
    """Accept uploads for this presentation after the deadline."""
    _late(presentation_id, True)


@materials_app.command("close-late")
def materials_close_late(
    presentation_id: Annotated[int, typer.Argument(metavar="PRESENTATION_ID")],
):
    """Stop accepting late uploads for this presentation."""
    _late(presentation_id, False)


@materials_app.command("sweep")
def materials_sweep(
    older_than: Annotated[float, typer.Option("--older-than", help="Hours (at least 1).")] = 6.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List, remove nothing.")] = False,
) -> None:
    """Remove what the store holds for nobody, older than --older-than hours: temporary files
    of uploads cut off by a crash, and stored files no version refers to."""
    from coordinator.services.storage_sweep import sweep_storage

    cli = _cli()
    with cli.database() as db:
        report = sweep_storage(db, older_than_hours=older_than, dry_run=dry_run)
    verb = "would be removed" if dry_run else "removed"
    for key, size in report.unreferenced:
        cli.out.print(f"  {key}  {size:,} bytes")
    cli.out.print(
        f"{len(report.unreferenced)} unreferenced stored files "
        f"({report.unreferenced_bytes:,} bytes) and {report.temporary} stale temporary files "
        f"{verb}"
    )


def api(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
) -> None:
    """Serve the HTTP application (uploads, upload pages, organizer downloads) with uvicorn."""
    import uvicorn

    uvicorn.run("coordinator.api:app", host=host, port=port, log_level="info")
