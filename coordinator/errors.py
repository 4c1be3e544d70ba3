"""Errors that a user can cause and fix. The CLI prints them as one line and exits 2; the API
answers them as a 4xx problem document. Anything else is a bug."""

from __future__ import annotations


class UserError(Exception):
    """Bad input: the message names what was wrong; nothing was written."""

    exit_code = 2
    status_code = 422

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotFound(UserError):
    status_code = 404


class Conflict(UserError):
    status_code = 409
