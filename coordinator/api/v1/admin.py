"""Administration: API keys and the whole outbox (admin keys only)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from coordinator.api.auth import Admin, DbDep
from coordinator.api.v1.common import READ_ERRORS, WRITE_ERRORS, Id, Slug, Text200, iso_z
from coordinator.models import ApiKey
from coordinator.services import keys
from coordinator.services.delivery import outbox_status

router = APIRouter(tags=["administration"])


class KeyIn(BaseModel):
    role: Literal["admin", "organizer", "viewer"]
    network: Slug | None = Field(None, description="The network's slug (organizer, viewer).")
    name: Text200 | None = None


class KeyOut(BaseModel):
    id: int
    prefix: str
    role: str
    network: str | None
    name: str | None
    created_at: str | None
    revoked_at: str | None


class NewKeyOut(KeyOut):
    key: str = Field(description="The key itself: shown this once, only its hash is kept.")


def key_out(key: ApiKey) -> dict:
    return {
        "id": key.id,
        "prefix": key.prefix,
        "role": key.role,
        "network": key.network.slug if key.network else None,
        "name": key.name,
        "created_at": iso_z(key.created_at),
        "revoked_at": iso_z(key.revoked_at),
    }


@router.get("/keys", response_model=list[KeyOut], responses=READ_ERRORS)
def list_keys(db: DbDep, who: Admin):
    return [KeyOut(**key_out(k)) for k in keys.list_keys(db)]


@router.post("/keys", response_model=NewKeyOut, status_code=201, responses=WRITE_ERRORS)
def create_key(body: KeyIn, db: DbDep, who: Admin):
    """Create an API key; the response is the only time the key is shown."""
    new = keys.create_key(db, role=body.role, network=body.network, name=body.name)
    db.refresh(new.key)
    return NewKeyOut(**key_out(new.key), key=new.secret)


@router.delete("/keys/{key_id}", response_model=KeyOut, responses=WRITE_ERRORS)
def revoke_key(key_id: Id, db: DbDep, who: Admin, request: Request):
    """Revoke a key: it stops working at once."""
    key = keys.revoke_key(db, key_id)
    request.app.state.key_cache.clear()
    return KeyOut(**key_out(key))


class OutboxStatusOut(BaseModel):
    now: str
    by_kind: dict[str, dict[str, int]]
    totals: dict[str, int]
    due_now: int
    expired_leases: int
    retrying: int
    next_due: str | None
    failures: list[dict]


@router.get("/outbox", response_model=OutboxStatusOut, responses=READ_ERRORS)
def outbox(db: DbDep, who: Admin):
    """Every message of the installation: counts per kind and state, what is due, failures."""
    status = outbox_status(db)
    return OutboxStatusOut(
        **{**status, "now": iso_z(status["now"]), "next_due": iso_z(status["next_due"])}
    )
