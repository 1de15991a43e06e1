"""Errors the rules raise. The API maps them to JSON answers (api/errors.py), the pages to messages.

Each error carries a stable machine `code`, the HTTP `status` it maps to, a `message` for people
(already translated with lazy_gettext where it reaches a person) and optional field-level `errors`.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule said no. Subclasses fix the status; instances say why."""

    status = 400
    code = "bad_request"

    def __init__(self, message: Any = None, *, errors: dict[str, Any] | None = None, code: str | None = None,
                 extra: dict[str, Any] | None = None):
        super().__init__(str(message) if message is not None else self.code)
        self.message = message if message is not None else self.code
        self.errors = errors
        self.extra = extra or {}
        if code:
            self.code = code


class InvalidInput(DomainError):
    """The request is well-formed but its content breaks a rule (422)."""

    status = 422
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    """The state of the world forbids it now: stock is short, a transition is impossible (409)."""

    status = 409
    code = "conflict"
