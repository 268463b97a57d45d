"""Dispatch errors; each says what is allowed instead."""

from __future__ import annotations

from arverne.errors import ConflictError


class IllegalTransitionError(ConflictError):
    """A unit cannot move from its current status to the one asked for."""


class UnitBusyError(ConflictError):
    """A unit is already committed, off duty or unavailable."""


class IncidentClosedError(ConflictError):
    """The incident is closed or cancelled; nothing more can be done to it."""
