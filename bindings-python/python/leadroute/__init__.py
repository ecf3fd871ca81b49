"""leadroute: lead intake, phone normalization, contact dedup, routing, delivery and billing.

The work is done in Rust (the ``leadroute._leadroute`` extension module); this package
re-exports it with Python exception classes.
"""

from __future__ import annotations

from ._leadroute import __version__, normalize_email, normalize_phone
from .errors import InvalidPhoneError, LeadrouteError, ValidationError

__all__ = [
    "__version__",
    "normalize_phone",
    "normalize_email",
    "LeadrouteError",
    "InvalidPhoneError",
    "ValidationError",
]
