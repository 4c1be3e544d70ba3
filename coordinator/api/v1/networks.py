"""Networks, and importing a network file (the YAML the CLI imports)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from coordinator.api.auth import DbDep, Organizer, Viewer
from coordinator.api.v1.common import READ_ERRORS, WRITE_ERRORS
from coordinator.errors import UserError
from coordinator.services import directory
from coordinator.services.network import import_network
from coordinator.services.network_file import load_network_file

router = APIRouter(tags=["networks"])


class NetworkOut(BaseModel):
    id: int
    slug: str
    name: str
    name_ja: str | None
    organizer_name: str
    organizer_email: str
    meeting_url: str | None
    reminder_offsets: list[str]


class ImportOut(BaseModel):
    network: str
    changed: bool
    created: dict[str, int]
    updated: dict[str, int]


@router.get("/networks", response_model=list[NetworkOut], responses=READ_ERRORS)
def list_networks(db: DbDep, who: Viewer):
    """The networks your key may see (an admin key sees every one)."""
    return [
        NetworkOut.model_validate(n, from_attributes=True)
        for n in directory.list_networks(db, who.network_filter())
    ]


@router.post(
    "/networks/import",
    response_model=ImportOut,
    responses=WRITE_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    },
)
async def import_network_file(request: Request, db: DbDep, who: Organizer):
    """Import (or re-import) a network file, sent as the body (YAML, UTF-8): all or nothing,
    idempotent; every error is listed with its line. An organizer key may import only its own
    network's file; an admin key may add networks."""
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError("body: the network file must be UTF-8 text") from None
    if not text.strip():
        raise UserError("body: empty; send the network file (YAML)")
    doc = load_network_file(text, source="body")  # checks everything before anything is written
    if who.network_filter() is not None:
        own = directory.list_networks(db, who.network_filter())
        if not own or own[0].slug != doc.network.key:
            raise HTTPException(403, detail="an organizer key imports only its own network's file")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "network.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            report = import_network(db, path)
        except UserError as exc:
            exc.message = exc.message.replace(str(path), "body")
            exc.details = [d.replace(str(path), "body") for d in exc.details]
            raise
    return ImportOut(
        network=report.network,
        changed=report.changed,
        created={k: v for k, v in report.created.items() if v},
        updated={k: v for k, v in report.updated.items() if v},
    )
