"""The page behind a presenter's link: ``GET /upload/{token}`` and its form's ``POST``.

Plain HTML that works without JavaScript, in the presenter's language: the session and its
time, the presentation, the deadline in the presenter's own zone, the current version, and a
``<form method=post enctype=multipart/form-data>`` posting back to the same address. The POST
runs the same streamed upload as ``POST /presentations/{id}/materials`` and answers with an HTML
receipt (file name, size, SHA-256, version), or an HTML page saying what was wrong with the same
status code as the JSON route.

The token is in the path, so the page is sent with ``Referrer-Policy: no-referrer`` (it never
leaks to another site) and ``Cache-Control: no-store``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.requests import ClientDisconnect

from coordinator import clock
from coordinator.api.materials import Failure, authorize, in_db, receive_upload
from coordinator.config import get_settings
from coordinator.db import Db
from coordinator.errors import UserError
from coordinator.invites.texts import format_when, pick
from coordinator.services import materials
from coordinator.submissions import types
from coordinator.submissions.receive import Rejected, human_size
from coordinator.submissions.texts import (
    accepted_types,
    format_instant,
    language_of,
    session_name,
    t,
)

router = APIRouter(tags=["upload page"], include_in_schema=False)

HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}
STYLE = """
body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;
line-height:1.5;color:#1b1b1b}
h1{font-size:1.4rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}.note{color:#555}
.error{border-left:4px solid #b00020;padding-left:1rem}.ok{border-left:4px solid #1b7f3b;
padding-left:1rem}form{margin:1.5rem 0;padding:1rem;border:1px solid #ccc;border-radius:6px}
button{font-size:1rem;padding:.4rem 1.2rem;margin-top:.8rem}code{font-size:.85rem}
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


@dataclass(frozen=True)
class PageFacts:
    language: str
    session: str
    when: str
    presentation: str
    presenter: str
    deadline: str
    open: bool
    late: bool
    current: str | None


def _facts(db: Db, grant: materials.UploadGrant) -> PageFacts:
    presentation = materials.get_presentation(db, grant.presentation_id)
    session = presentation.session
    language = language_of(grant.language)
    group = session.group
    current = materials.current_version(db, presentation.id)
    current_text = None
    if current is not None:
        current_text = t(
            language,
            "page.version",
            version=current.version,
            filename=current.original_filename,
            size=human_size(current.size),
            when=format_instant(current.uploaded_at, grant.zone, language),
        )
    now = clock.now()
    sep = "：" if language == "ja" else ": "
    return PageFacts(
        language=language,
        session=session_name(session.title, session.title_ja, group.name, group.name_ja, language),
        when=format_when(session.start_utc, session.end_utc, grant.zone, language),
        presentation=(
            f"{presentation.position}. {pick(presentation.city.name, presentation.city.name_ja, language)}"
            f" — {pick(presentation.body, presentation.body_ja, language)}{sep}"
            f"{pick(presentation.title, presentation.title_ja, language)}"
        ),
        presenter=presentation.presenter.name if presentation.presenter else "—",
        deadline=format_instant(grant.deadline, grant.zone, language),
        open=grant.late or now <= grant.deadline,
        late=grant.late and now > grant.deadline,
        current=current_text,
    )


def _page(language: str, title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        f'<!DOCTYPE html>\n<html lang="{esc(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="referrer" content="no-referrer">\n<title>{esc(title)}</title>\n'
        f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
    return HTMLResponse(document, status_code=status, headers=HEADERS)


def _details(facts: PageFacts) -> str:
    lang = facts.language
    rows = [
        (t(lang, "label.session"), facts.session),
        (t(lang, "label.when"), facts.when),
        (t(lang, "label.presentation"), facts.presentation),
        (t(lang, "page.presenter"), facts.presenter),
        (t(lang, "label.deadline"), facts.deadline),
        (t(lang, "page.current"), facts.current or t(lang, "page.none")),
    ]
    items = "\n".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    return f'<dl id="details">\n{items}\n</dl>'


def _form(facts: PageFacts, action: str) -> str:
    lang = facts.language
    if not facts.open:
        return f'<p class="error" id="closed">{esc(t(lang, "page.closed"))}</p>'
    accept = ",".join(sorted({t.extension for t in types.ACCEPTED.values()} | {".jpeg"}))
    limit = human_size(get_settings().max_upload_bytes)
    accepted = t(lang, "accepted", types=accepted_types(lang), limit=limit)
    late = f'<p class="note">{esc(t(lang, "page.late_open"))}</p>' if facts.late else ""
    return (
        f"{late}"
        f'<form id="upload" method="post" action="{esc(action)}" enctype="multipart/form-data">\n'
        f'<label for="file">{esc(t(lang, "page.choose"))}</label><br>\n'
        f'<input type="file" id="file" name="file" required accept="{esc(accept)}"><br>\n'
        f'<p class="note">{esc(accepted)}<br>{esc(t(lang, "page.replace_hint"))}</p>\n'
        f'<button type="submit">{esc(t(lang, "page.submit"))}</button>\n'
        "</form>"
    )


def _refusal_page(failure: Failure, language: str = "en", back: str | None = None):
    key = "page.invalid_title" if failure.status in (401, 403, 410) else "page.error_title"
    title = t(language, key)
    body = f'<h1>{esc(title)}</h1>\n<p class="error" id="error">{esc(failure.message)}</p>'
    if back:
        body += f'\n<p><a href="{esc(back)}">{esc(t(language, "page.back"))}</a></p>'
    response = _page(language, title, body, failure.status)
    if failure.status in (413, 415):
        response.headers["connection"] = "close"
    return response


@router.get("/upload/{token}")
async def upload_page(token: str, request: Request) -> Response:
    def load(db: Db) -> PageFacts:
        return _facts(db, materials.authorize_upload(db, token))

    try:
        facts = await in_db(load)
    except UserError as exc:
        return _refusal_page(Failure.of(exc))
    title = t(facts.language, "page.title", session=facts.session)
    body = f"<h1>{esc(title)}</h1>\n{_details(facts)}\n{_form(facts, request.url.path)}"
    return _page(facts.language, title, body)


@router.post("/upload/{token}")
async def upload_from_page(token: str, request: Request) -> Response:
    language = "en"
    try:
        grant = await authorize(token, None)
        language = language_of(grant.language)
        recorded = await receive_upload(request, grant)
    except ClientDisconnect:
        return Response(status_code=400)
    except (Failure, Rejected, UserError) as exc:
        return _refusal_page(Failure.of(exc), language, back=request.url.path)
    file_type = types.by_code(recorded.file_type)
    title = t(language, "page.receipt_title")
    note = ""
    if recorded.duplicate:
        note = f'<p class="note" id="duplicate">{esc(t(language, "page.duplicate", version=recorded.version))}</p>'
    rows = [
        (t(language, "label.file"), f"{recorded.filename} ({file_type.label})"),
        (t(language, "label.size"), f"{human_size(recorded.size)} ({recorded.size} bytes)"),
        (t(language, "label.sha256"), recorded.sha256),
        (t(language, "label.version"), str(recorded.version)),
        (t(language, "label.received"), format_instant(recorded.uploaded_at, grant.zone, language)),
    ]
    items = "\n".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    body = (
        f'<h1 class="ok" id="receipt">{esc(title)}</h1>\n{note}<dl id="receipt-details">\n{items}\n</dl>\n'
        f'<p><a href="{esc(request.url.path)}">{esc(t(language, "page.back"))}</a></p>'
    )
    return _page(language, title, body, 200)
