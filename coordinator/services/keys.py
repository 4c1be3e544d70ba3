"""Credentials: organizer API keys, calendar feed tokens and signed links.

- **API keys** (``coordinator keys create``, ``POST /api/v1/keys``): ``ck_<prefix>_<secret>``,
  32 random bytes of secret. The whole key is shown once; only its SHA-256 is stored, found
  by the public prefix and compared in constant time. Roles: ``admin`` (every network, and
  keys), ``organizer`` (reads and writes its network), ``viewer`` (reads its network).
- **Feed tokens**: the unguessable part of a calendar feed's address, one per delegate, city
  or working group. Issuing one replaces the previous one (rotation): the old address stops
  working in the same transaction. Only the SHA-256 is stored.
- **Signed links** (delegate and time-grid links): ``<payload>.<signature>``, HMAC-SHA256 with
  the installation's secret key over a payload naming one purpose, one resource and an
  expiry. Nothing is stored; a link is valid for its purpose and resource until it expires.
  (Presenters' upload links are the submissions' tokens, which are stored and revocable.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from coordinator import clock
from coordinator.config import get_settings
from coordinator.db import Db, unit_of_work
from coordinator.errors import NotFound, UserError
from coordinator.models import ApiKey, City, Delegate, FeedToken, Network, WorkingGroup
from coordinator.models.access import API_ROLES, FEED_SCOPES

KEY_PREFIX = "ck"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# --- API keys -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewKey:
    """A key just created: ``secret`` is the only time the full key is available."""

    key: ApiKey
    secret: str


@dataclass(frozen=True)
class KeyIdentity:
    """What a verified key may do (plain data, safe to cache and share between threads)."""

    id: int
    role: str
    network_id: int | None


def create_key(db: Db, *, role: str, network: str | None = None, name: str | None = None) -> NewKey:
    """Create an API key. Organizer and viewer keys belong to one network (``network`` is its
    slug; it may be left out while the installation has exactly one network)."""
    if role not in API_ROLES:
        raise UserError(f"--role: {role!r} is not one of {', '.join(API_ROLES)}")
    with unit_of_work(db):
        network_id = None
        if role == "admin":
            if network:
                raise UserError("--network: an admin key is for every network; leave it out")
        else:
            network_id = _network_for_key(db, network).id
        prefix = secrets.token_hex(6)
        secret = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        key = ApiKey(
            prefix=prefix,
            secret_hash=digest(secret),
            role=role,
            network_id=network_id,
            name=(name or "").strip() or None,
        )
        db.add(key)
        db.flush()
        return NewKey(key, secret)


def _network_for_key(db: Db, slug: str | None) -> Network:
    if slug:
        network = db.scalar(select(Network).where(Network.slug == slug))
        if network is None:
            known = ", ".join(db.scalars(select(Network.slug).order_by(Network.slug))) or "none"
            raise NotFound(f"--network: no network {slug!r} (known: {known})")
        return network
    networks = list(db.scalars(select(Network).order_by(Network.id).limit(2)))
    if len(networks) == 1:
        return networks[0]
    if not networks:
        raise UserError("--network: no network imported yet: import one first")
    raise UserError("--network: several networks share this installation; name one")


def verify_key(db: Db, secret: str) -> KeyIdentity | None:
    """The key's identity if ``secret`` is a current key, else ``None`` (never says why)."""
    parts = secret.split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or len(parts[1]) > 16:
        return None
    row = db.execute(
        select(
            ApiKey.id, ApiKey.secret_hash, ApiKey.role, ApiKey.network_id, ApiKey.revoked_at
        ).where(ApiKey.prefix == parts[1])
    ).first()
    if row is None:
        hmac.compare_digest(digest(secret), "0" * 64)  # the same work either way
        return None
    if not hmac.compare_digest(digest(secret), row.secret_hash) or row.revoked_at is not None:
        return None
    return KeyIdentity(row.id, row.role, row.network_id)


def list_keys(db: Db) -> list[ApiKey]:
    return list(db.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_key(db: Db, key_id: int) -> ApiKey:
    with unit_of_work(db):
        key = db.get(ApiKey, key_id)
        if key is None:
            raise NotFound(f"no API key with id {key_id}")
        if key.revoked_at is None:
            key.revoked_at = clock.now()
        return key


# --- calendar feed tokens -----------------------------------------------------------------------

_FEED_SUBJECTS = {"delegate": Delegate, "city": City, "group": WorkingGroup}
_FEED_COLUMNS = {"delegate": "delegate_id", "city": "city_id", "group": "group_id"}


def issue_feed_token(db: Db, scope: str, subject_id: int) -> str:
    """A new feed token for a delegate, city or group; the previous one stops working."""
    if scope not in FEED_SCOPES:
        raise UserError(f"scope: {scope!r} is not one of {', '.join(FEED_SCOPES)}")
    with unit_of_work(db):
        if db.get(_FEED_SUBJECTS[scope], subject_id) is None:
            raise NotFound(f"no {scope} with id {subject_id}")
        column = getattr(FeedToken, _FEED_COLUMNS[scope])
        for old in db.scalars(select(FeedToken).where(column == subject_id)):
            db.delete(old)
        db.flush()
        token = secrets.token_urlsafe(32)
        db.add(FeedToken(token_hash=digest(token), **{_FEED_COLUMNS[scope]: subject_id}))
        return token


def find_feed(db: Db, token: str) -> FeedToken | None:
    """The feed a token opens, or ``None`` for an unknown or rotated token."""
    if not token or len(token) > 200:
        return None
    return db.scalar(select(FeedToken).where(FeedToken.token_hash == digest(token)))


# --- signed links -------------------------------------------------------------------------------

LINK_PURPOSES = ("feed", "rsvp", "grid")
"""``feed``: a delegate rotating their feed address (a delegate); ``rsvp``: a delegate answering
invites (a delegate); ``grid``: a read-only time grid of one session (a session). Presenters'
upload links are the submissions' own tokens (:mod:`coordinator.submissions.tokens`): stored,
revocable and valid until the materials deadline."""


@dataclass(frozen=True)
class Link:
    purpose: str
    resource: str  # "presentation", "delegate", "session"
    resource_id: int
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(payload: str, secret_key: str | None = None) -> str:
    key = (secret_key or get_settings().secret_key).encode("utf-8")
    return _b64(hmac.new(key, b"coordinator-link\0" + payload.encode(), hashlib.sha256).digest())


def sign_link(
    purpose: str, resource: str, resource_id: int, *, expires_in: timedelta
) -> tuple[str, datetime]:
    """A token for one purpose on one resource, valid for ``expires_in``; and its expiry."""
    if purpose not in LINK_PURPOSES:
        raise UserError(f"purpose: {purpose!r} is not one of {', '.join(LINK_PURPOSES)}")
    if not timedelta(minutes=1) <= expires_in <= timedelta(days=366):
        raise UserError("expires_in: between one minute and 366 days")
    expires_at = (clock.now() + expires_in).replace(microsecond=0)
    body = {"p": purpose, "r": resource, "i": resource_id, "e": int(expires_at.timestamp())}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_signature(payload)}", expires_at


def verify_link(token: str, *, purpose: str | None = None) -> Link | None:
    """The link a token stands for if its signature is good and it has not expired (and is for
    ``purpose``, when given); else ``None``."""
    payload, _, signature = token.partition(".")
    if not payload or not signature or len(token) > 1000:
        return None
    if not hmac.compare_digest(_signature(payload), signature):
        return None
    try:
        body = json.loads(_unb64(payload))
        link = Link(
            purpose=str(body["p"]),
            resource=str(body["r"]),
            resource_id=int(body["i"]),
            expires_at=datetime.fromtimestamp(int(body["e"]), UTC),
        )
    except (ValueError, KeyError, TypeError, OverflowError, OSError):
        return None
    if link.expires_at <= clock.now():
        return None
    if purpose is not None and link.purpose != purpose:
        return None
    return link
