"""Exceptions raised by leadroute. All derive from :class:`LeadrouteError`.

Every exception carries ``code``, a stable snake_case reason code (e.g. ``too_short``,
``unknown_provider``, ``invalid_zip``); its message is the Rust error's own text. The class
follows the kind of failure:

=====================  ============================================  ==========================
class                  raised when                                   also derives from
=====================  ============================================  ==========================
InvalidPhoneError      a phone number cannot be normalized           ``ValueError``
ValidationError        an input (record, rule, option) is invalid    ``ValueError``
UnauthorizedError      the caller is not authenticated (HTTP 401)
ForbiddenError         authenticated, but not allowed (HTTP 403)
RateLimitedError       a caller sent too much; retry later (429)
NotFoundError          a named thing does not exist                  ``LookupError``
ConflictError          the request conflicts with stored state
StorageError           the database failed or is busy
=====================  ============================================  ==========================
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "LeadrouteError",
    "InvalidPhoneError",
    "ValidationError",
    "UnauthorizedError",
    "ForbiddenError",
    "RateLimitedError",
    "NotFoundError",
    "ConflictError",
    "StorageError",
]


class LeadrouteError(Exception):
    """Base of every leadroute error. ``code`` is a stable snake_case reason code."""

    code: str

    def __init__(self, message: str, code: str = "error") -> None:
        super().__init__(message)
        self.code = code

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (str(self), self.code))


class InvalidPhoneError(LeadrouteError, ValueError):
    """A phone number could not be normalized; ``code`` says why (e.g. ``too_short``)."""


class ValidationError(LeadrouteError, ValueError):
    """An input failed validation; ``code`` says why, ``field`` names what was wrong
    (``"email"``, ``"zip"``, ``"rules"``, ``"record"``, an option name, ...) or is ``None``.
    Among the codes: ``end_before_start`` (``field`` ``"end"``), ``return_reason_not_allowed``
    (``"reason"``), ``calcom_malformed`` (``"body"``), ``invalid_time``; a start that cannot
    be booked, ``not_a_slot``, ``too_soon``, ``beyond_horizon``, ``blackout``, ``closed``
    (``"start"``); a calendar that does not compile, e.g. ``invalid_slot_length``,
    ``zero_capacity`` (``"calendar"``)."""

    field: Optional[str]

    def __init__(self, message: str, code: str = "invalid", field: Optional[str] = None) -> None:
        super().__init__(message, code)
        self.field = field

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (str(self), self.code, self.field))


class UnauthorizedError(LeadrouteError):
    """The caller is not authenticated: ``missing_api_key``, ``invalid_api_key``,
    ``bad_signature``, ``stale_timestamp``, ``replayed``, ``no_credentials_configured``, and
    for Cal.com webhooks ``calcom_no_secret``, ``calcom_missing_signature``,
    ``calcom_bad_signature``, ..."""


class ForbiddenError(LeadrouteError):
    """The caller is authenticated but may not do this: ``provider_inactive`` (on the
    trusted path and at the intake wall alike), ``webhook_not_allowed``."""


class RateLimitedError(LeadrouteError):
    """The caller sent too much. ``retry_after`` is the wait in seconds, or ``None``."""

    retry_after: Optional[float]

    def __init__(
        self, message: str, code: str = "rate_limited", retry_after: Optional[float] = None
    ) -> None:
        super().__init__(message, code)
        self.retry_after = retry_after

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (str(self), self.code, self.retry_after))


class NotFoundError(LeadrouteError, LookupError):
    """A named thing does not exist (``unknown_provider``, ``unknown_workspace``,
    ``unknown_appointment``, ``unknown_delivery``, ``unknown_webhook``; ``not_found`` for a
    return)."""


class ConflictError(LeadrouteError):
    """The request conflicts with stored state (e.g. a rule naming a missing workspace, an
    appointment that is already routed): ``invalid_transition`` (the appointment's status
    does not allow the change), ``return_window_closed``, ``return_limit_reached``,
    ``not_billed``, ``already_returned``, ``return_not_pending``, ``return_needs_review``,
    ``slot_taken`` (a booking slot is full, or no matching workspace has room at that time),
    ``conflict``, ..."""


class StorageError(LeadrouteError):
    """The database failed (``backend``, ``corrupt``) or is busy (``busy``: retry later)."""
