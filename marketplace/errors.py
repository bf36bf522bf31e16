"""Domain errors raised by services, mapped to HTTP in one place (marketplace.api)."""

from __future__ import annotations

from typing import Any


class GigdeskError(Exception):
    """A refusal a user can act on: a code, a message and the HTTP status it maps to."""

    code = "error"
    http_status = 400
    ws_close_code = 4400

    def __init__(
        self, message: str, *, code: str | None = None, fields: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}


class ValidationFailed(GigdeskError):
    code = "invalid"


class NotFound(GigdeskError):
    code = "not_found"
    http_status = 404
    ws_close_code = 4404


class PermissionDenied(GigdeskError):
    code = "permission_denied"
    http_status = 403
    ws_close_code = 4403


class Conflict(GigdeskError):
    code = "conflict"
    http_status = 409
    ws_close_code = 4409
