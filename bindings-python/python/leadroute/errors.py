"""Exceptions raised by leadroute. All derive from :class:`LeadrouteError`."""

from __future__ import annotations

__all__ = ["LeadrouteError", "InvalidPhoneError", "ValidationError"]


class LeadrouteError(Exception):
    """Base of every leadroute error. ``code`` is a stable snake_case reason code."""

    def __init__(self, message: str, code: str = "error") -> None:
        super().__init__(message)
        self.code = code


class InvalidPhoneError(LeadrouteError, ValueError):
    """A phone number could not be normalized; ``code`` says why (e.g. ``too_short``)."""


class ValidationError(LeadrouteError, ValueError):
    """A field failed validation; ``code`` says why, ``field`` names the field."""

    def __init__(self, message: str, code: str = "invalid", field: str = "email") -> None:
        super().__init__(message, code)
        self.field = field
