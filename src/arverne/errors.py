"""Errors shared by every domain; each subclasses a builtin and says what to fix.

The web layer maps them to HTTP statuses (404, 409, 422, 401, 403); the CLI to exit codes.
"""

from __future__ import annotations


class NotFoundError(LookupError):
    """A referenced object does not exist."""

    def __init__(self, object_type: str, object_id: object) -> None:
        super().__init__(f"{object_type} {object_id} does not exist")
        self.object_type = object_type
        self.object_id = object_id


class ConflictError(RuntimeError):
    """The request is valid but clashes with the current state (HTTP 409).

    ``allowed`` lists what would be accepted instead, when that is known.
    """

    def __init__(self, message: str, *, allowed: list[str] | None = None) -> None:
        super().__init__(message)
        self.allowed = allowed or []


class InvalidInputError(ValueError):
    """A field has a value the platform cannot accept (HTTP 422).

    ``details`` (one ``{"field", "message"}`` per problem) replaces the single field in
    the answer when one input has many problems, e.g. the rows of an imported file.
    """

    details: list[dict[str, str]] | None = None

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class AuthenticationError(PermissionError):
    """The caller is not (or no longer) authenticated (HTTP 401)."""


class ForbiddenError(PermissionError):
    """The caller is authenticated but not allowed to do this (HTTP 403)."""
