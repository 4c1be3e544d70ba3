"""Presenters' upload tokens: signed, bound to one presentation and one purpose.

A token is ``<presentation id>.<purpose>.<nonce>.<signature>``: the signature is an
HMAC-SHA256, with the installation's secret key, over the other three parts. The database keeps
only the token's SHA-256 (to find and revoke it) and the random nonce; without the secret key
neither gives a usable token, and with it the call for materials can be rendered again with
the same link (a retried delivery carries the same link). Changing the secret key invalidates
every link.

:func:`read` checks the form and the signature only (a forged or mangled token is refused
without a database query); whether the token is still valid (not revoked, before the deadline
plus grace) is the service's business (:mod:`coordinator.services.materials`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from coordinator.config import get_settings

PURPOSES = ("upload",)
MAX_LENGTH = 200
_FORM = re.compile(r"([1-9][0-9]{0,17})\.([a-z]{1,16})\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class TokenClaims:
    presentation_id: int
    purpose: str
    nonce: str


def new_nonce() -> str:
    return secrets.token_hex(16)


def _signature(payload: str, secret_key: str | None) -> str:
    key = (secret_key or get_settings().secret_key).encode("utf-8")
    mac = hmac.new(key, b"coordinator-upload-token\0" + payload.encode("ascii"), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def make(presentation_id: int, purpose: str, nonce: str, *, secret_key: str | None = None) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"purpose: {purpose!r} is not one of {', '.join(PURPOSES)}")
    payload = f"{presentation_id}.{purpose}.{nonce}"
    return f"{payload}.{_signature(payload, secret_key)}"


def read(token: str, *, secret_key: str | None = None) -> TokenClaims | None:
    """The claims of a well-formed token with a good signature; else ``None``."""
    if not token or len(token) > MAX_LENGTH:
        return None
    match = _FORM.fullmatch(token)
    if match is None:
        return None
    presentation_id, purpose, nonce, signature = match.groups()
    payload = f"{presentation_id}.{purpose}.{nonce}"
    if not hmac.compare_digest(_signature(payload, secret_key), signature):
        return None
    if purpose not in PURPOSES:
        return None
    return TokenClaims(int(presentation_id), purpose, nonce)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
