"""Presentations (a session's agenda) and where their materials are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from coordinator.api.auth import DbDep, Organizer, Principal, check_link, require_key_or_link
from coordinator.api.v1.common import (
    READ_ERRORS,
    WRITE_ERRORS,
    Id,
    PageDep,
    PageOf,
    id_query,
    iso_z,
)
from coordinator.api.v1.sessions import AgendaItemOut, LinkOut, base_url
from coordinator.config import get_settings
from coordinator.models import Presentation
from coordinator.services import materials
from coordinator.services import sessions as service

router = APIRouter(tags=["presentations"])


class MaterialsOut(BaseModel):
    versions: int
    version: int | None = Field(description="The current version (null: nothing yet).")
    filename: str | None
    file_type: str | None
    size: int | None
    sha256: str | None
    uploaded_at: str | None
    late: bool | None


class PresentationOut(AgendaItemOut):
    """An agenda item with its session and, in single-presentation answers, its materials."""

    session_id: int
    materials: MaterialsOut | None = Field(
        None, description="What the presenter has submitted (in single-presentation answers)."
    )
    links: dict[str, str] = Field(
        description="`materials`: where the presenter's uploads go (POST, with an upload link)."
    )


def materials_out(db, presentation_id: int) -> MaterialsOut:
    rows = materials.versions(db, presentation_id)
    current = rows[-1] if rows else None
    return MaterialsOut(
        versions=len(rows),
        version=current.version if current else None,
        filename=current.original_filename if current else None,
        file_type=current.file_type if current else None,
        size=current.size if current else None,
        sha256=current.sha256 if current else None,
        uploaded_at=iso_z(current.uploaded_at) if current else None,
        late=current.late if current else None,
    )


def presentation_out(p: Presentation, base: str, files: MaterialsOut | None = None):
    return PresentationOut(
        id=p.id,
        session_id=p.session_id,
        position=p.position,
        city_id=p.city_id,
        city=p.city.name,
        city_ja=p.city.name_ja,
        body=p.body,
        body_ja=p.body_ja,
        title=p.title,
        title_ja=p.title_ja,
        presenter_id=p.presenter_id,
        presenter=p.presenter.name if p.presenter else None,
        materials=files,
        links={
            "self": f"{base}/api/v1/presentations/{p.id}",
            "session": f"{base}/api/v1/sessions/{p.session_id}",
            "materials": f"{base}/presentations/{p.id}/materials",
        },
    )


@router.get("/presentations", response_model=PageOf[PresentationOut], responses=READ_ERRORS)
def list_presentations(
    db: DbDep,
    who: Annotated[Principal, Depends(require_key_or_link("viewer", "upload"))],
    request: Request,
    page: PageDep,
    session: id_query("Only this session's agenda.") = None,
    city: id_query("Only this city's presentations.") = None,
    group: id_query("Only this working group's sessions.") = None,
):
    """Presentations in agenda order, filterable by session, city and working group. A
    presenter's upload link sees only its own presentation."""
    scope = who.network_filter()
    if who.kind == "link":
        presentation = service.get_presentation(db, who.link.resource_id, None)  # type: ignore[union-attr]
        rows = [presentation] if _matches(presentation, session, city, group) else []
        total = len(rows)
    else:
        rows, total = service.list_presentations(
            db, scope, session_id=session, city_id=city, group_id=group, page=page
        )
    base = base_url(request)
    return PageOf[PresentationOut](
        items=[presentation_out(p, base) for p in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


def _matches(p: Presentation, session: int | None, city: int | None, group: int | None) -> bool:
    return (
        (session is None or p.session_id == session)
        and (city is None or p.city_id == city)
        and (group is None or p.session.group_id == group)
    )


@router.get(
    "/presentations/{presentation_id}", response_model=PresentationOut, responses=READ_ERRORS
)
def get_presentation(
    presentation_id: Id,
    db: DbDep,
    who: Annotated[Principal, Depends(require_key_or_link("viewer", "upload"))],
    request: Request,
):
    """One presentation; open to viewers and to its presenter's upload link."""
    check_link(who, "presentation", presentation_id)
    p = service.get_presentation(db, presentation_id, who.network_filter())
    return presentation_out(p, base_url(request), materials_out(db, p.id))


@router.post(
    "/presentations/{presentation_id}/upload-link",
    response_model=LinkOut,
    status_code=201,
    responses=WRITE_ERRORS,
)
def upload_link(presentation_id: Id, db: DbDep, who: Organizer):
    """The presenter's current upload link, to pass on (made if there is none; valid until the
    materials deadline and its grace period). The presentation needs a presenter."""
    presentation = service.get_presentation(db, presentation_id, who.network_filter())
    url = materials.upload_link(db, presentation_id)
    deadline = materials.materials_deadline(presentation.session)
    expires = deadline + get_settings().materials_grace if deadline is not None else None
    return LinkOut(url=url, token=url.rsplit("/", 1)[-1], expires_at=iso_z(expires))
