"""The time grid: an HTML page (no script) with a row per city and a column per candidate
slot, each cell the city's local time coloured by comfort, weekends and holidays marked, the
chosen slot highlighted; it prints legibly (colours kept, comfort also written out).

- ``GET /sessions/{id}/grid``: the session's best candidates in its window, plus its chosen
  start when it has one. Opens with an API key, or with the session's ``grid`` link
  (``?token=``, see ``POST /api/v1/sessions/{id}/grid-link``).
- ``GET /grid?city=…&city=…&from=…&to=…&duration=…``: the same for any cities (network city
  names in English or Japanese, or IANA zones) and window; nothing is stored. ``chosen=``
  highlights one start. Needs an API key.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from string import Template
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse
from pydantic import StringConstraints

from coordinator.api.auth import DbDep, PrincipalDep, Viewer, check_link, check_role
from coordinator.api.problems import FieldProblem, problem_responses
from coordinator.api.v1.common import NO_NUL, Id, ZoneName, resolve_zone, utc_instant
from coordinator.errors import UserError
from coordinator.models import Network
from coordinator.scheduling import Candidate, SlotSearch
from coordinator.services import planning
from coordinator.services import sessions as session_service

router = APIRouter(tags=["time grid"])

HERE = Path(__file__).resolve().parent
PAGE = Template((HERE / "templates" / "grid.html").read_text(encoding="utf-8"))
STYLE = (HERE / "static" / "grid.css").read_text(encoding="utf-8")
COMFORTS = ("working", "early", "evening", "night")
HTML_RESPONSES = {
    200: {"content": {"text/html": {"schema": {"type": "string"}}}},
    **problem_responses(400, 401, 403, 404, 422, 429),
}


@dataclass(frozen=True)
class Column:
    candidate: Candidate
    rank: int | None  # None: the chosen start, outside the best candidates
    chosen: bool


def columns_for(search: SlotSearch, chosen: Candidate | None) -> list[Column]:
    columns = [
        Column(c, rank, chosen is not None and c.start_utc == chosen.start_utc)
        for rank, c in enumerate(search.candidates, start=1)
    ]
    if chosen is not None and not any(col.chosen for col in columns):
        columns.append(Column(chosen, None, True))
    return sorted(columns, key=lambda col: col.candidate.start_utc)


def _cell(t, col: Column) -> str:
    classes = ["slot", f"comfort-{t.comfort}"]
    if col.chosen:
        classes.append("chosen")
    marks = []
    if "weekend" in t.notes:
        marks.append('<span class="mark weekend">weekend</span>')
    holidays = [n.split(":", 1)[1].strip() for n in t.notes if n.startswith("holiday:")]
    if holidays:
        names = html.escape(", ".join(holidays))
        marks.append(f'<span class="mark holiday" title="{names}">holiday</span>')
    if any(n.startswith("clock change") for n in t.notes):
        marks.append('<span class="mark clock">clock change</span>')
    start, end = t.local_start, t.local_end
    day = f"{start:%a %d %b}"
    notes = "; ".join(t.notes)
    return (
        f'<td class="{" ".join(classes)}" data-comfort="{t.comfort}" '
        f'data-start="{col.candidate.start_utc:%Y-%m-%dT%H:%MZ}" title="{html.escape(notes)}">'
        f'<span class="day">{day}</span> '
        f'<span class="time">{start:%H:%M}–{end:%H:%M}</span> '
        f'<span class="offset">UTC{t.utc_offset}</span> '
        f'<span class="label">{t.comfort}</span>{"".join(marks)}</td>'
    )


def render(title: str, subtitle: str, columns: list[Column], warnings: list[str]) -> str:
    head = ['<th scope="col" class="city-head">City</th>']
    for col in columns:
        c = col.candidate
        rank = f"#{col.rank}" if col.rank else "chosen"
        badge = ' <span class="chosen-badge">chosen</span>' if col.chosen and col.rank else ""
        cls = ' class="chosen"' if col.chosen else ""
        head.append(
            f'<th scope="col"{cls} data-start="{c.start_utc:%Y-%m-%dT%H:%MZ}">'
            f'<span class="rank">{rank}</span>{badge}<br>{c.start_utc:%a %d %b %H:%M} UTC'
            f'<br><span class="cost">cost {c.cost:.1f}</span></th>'
        )
    rows = []
    names = [t.city for t in columns[0].candidate.cities] if columns else []
    for i, name in enumerate(names):
        zone = columns[0].candidate.cities[i].zone
        cells = "".join(_cell(col.candidate.cities[i], col) for col in columns)
        rows.append(
            f'<tr data-city="{html.escape(name)}"><th scope="row" class="city">'
            f'{html.escape(name)}<span class="zone">{html.escape(zone)}</span></th>{cells}</tr>'
        )
    warning_html = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
    legend = (
        "".join(f'<span class="legend-item comfort-{c}">{c}</span>' for c in COMFORTS)
        + '<span class="legend-item chosen-sample">chosen slot</span>'
    )
    return PAGE.substitute(
        title=html.escape(title),
        subtitle=html.escape(subtitle),
        style=STYLE,
        legend=legend,
        warnings=f'<ul class="warnings">{warning_html}</ul>' if warnings else "",
        head="".join(head),
        rows="".join(rows)
        or f'<tr><td colspan="{len(columns) + 1}">No candidate slot in this window.</td></tr>',
    )


# --- routes -------------------------------------------------------------------------------------


@router.get("/sessions/{session_id}/grid", response_class=HTMLResponse, responses=HTML_RESPONSES)
def session_grid(
    session_id: Id,
    db: DbDep,
    who: PrincipalDep,
    top: Annotated[int, Query(ge=1, le=24, description="Best candidates shown.")] = 8,
    step: Annotated[int, Query(ge=1, le=60, description="Minutes between starts.")] = 30,
    token: Annotated[
        str | None, Query(max_length=1000, description="A grid link's token, instead of a key.")
    ] = None,
):
    """The session's time grid: its best candidate slots and its chosen start."""
    if who.kind == "link":
        if who.link is None or who.link.purpose != "grid":
            raise HTTPException(403, detail="this link is not for a time grid")
        check_link(who, "session", session_id)
    else:
        who = check_role(who, "viewer")
    session = session_service.get_session(db, session_id, who.network_filter())
    search = planning.plan_session(db, session_id, step_minutes=step, top=top)
    chosen = None
    if session.start_utc is not None:
        people = planning.group_participants(session.group)
        found = planning.evaluate_slot(people, session.start_utc, session.duration_minutes)
        chosen = found.candidates[0] if found.candidates else None
    when = (
        f"chosen {session.start_utc:%a %d %b %Y %H:%M} UTC"
        if session.start_utc
        else f"window {session.window_start:%d %b %H:%M}–{session.window_end:%d %b %H:%M} UTC"
    )
    subtitle = f"{session.group.name} · {session.duration_minutes} min · {when} · {session.status}"
    page = render(session.title, subtitle, columns_for(search, chosen), list(search.warnings))
    return HTMLResponse(page)


CityText = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_NUL)]


@router.get("/grid", response_class=HTMLResponse, responses=HTML_RESPONSES)
def stateless_grid(
    db: DbDep,
    who: Viewer,
    city: Annotated[
        list[CityText],
        Query(min_length=1, max_length=60, description="Cities (English/日本語) or IANA zones."),
    ],
    from_: Annotated[datetime, Query(alias="from", description="Window start.")],
    to: Annotated[datetime, Query(description="Window end.")],
    duration: Annotated[int, Query(ge=1, le=1440, description="Minutes.")],
    zone: Annotated[ZoneName | None, Query(description="Zone of times without offset.")] = None,
    step: Annotated[int, Query(ge=1, le=60)] = 30,
    top: Annotated[int, Query(ge=1, le=24)] = 8,
    chosen: Annotated[datetime | None, Query(description="A start to highlight.")] = None,
):
    """A time grid for any cities and window, computed on the fly."""
    resolve_zone(zone, "query.zone")
    start = utc_instant(from_, zone, "query.from", "query.zone")
    end = utc_instant(to, zone, "query.to", "query.zone")
    network = db.get(Network, who.network_id) if who.network_id is not None else None
    for text in city:
        try:  # every city must be one of the caller's network (or a zone)
            planning.resolve_city(db, text, network)
        except UserError as exc:
            raise FieldProblem("query.city", exc.message.removeprefix("--city: ")) from None
    search = _rank(db, city, start, end, duration, step, top, "query")
    picked = None
    if chosen is not None:
        at = utc_instant(chosen, zone, "query.chosen", "query.zone")
        if at.second or at.microsecond:
            raise FieldProblem("query.chosen", "give a whole minute")
        one = _rank(db, city, at, at + timedelta(minutes=duration), duration, 1, 1, "query")
        picked = one.candidates[0] if one.candidates else None
    subtitle = (
        f"{len(city)} cities · {duration} min · {start:%d %b %Y %H:%M}–{end:%d %b %Y %H:%M} UTC"
    )
    page = render("Time grid", subtitle, columns_for(search, picked), list(search.warnings))
    return HTMLResponse(page)


OPTION_FIELDS = (
    ("--duration", "duration"),
    ("--step", "step"),
    ("--from", "from"),
    ("--city", "city"),
)


def _rank(db, cities, start, end, duration, step, top, where) -> SlotSearch:
    """``rank_slots``, with its option-named errors given the query parameter's path."""
    try:
        return planning.rank_slots(
            db,
            cities=cities,
            group=None,
            start=start,
            end=end,
            duration_minutes=duration,
            step_minutes=step,
            top=top,
        )
    except UserError as exc:
        for option, field in OPTION_FIELDS:
            if exc.message.startswith(option):
                raise FieldProblem(f"{where}.{field}", exc.message) from None
        raise
