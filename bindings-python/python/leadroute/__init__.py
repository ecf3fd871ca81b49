"""leadroute: lead intake, phone normalization, contact dedup, routing, delivery and billing.

The work is done in Rust (the ``leadroute._leadroute`` extension module); this package
re-exports it with Python exception classes (``leadroute.errors``).

- ``normalize_phone``, ``normalize_phones``, ``normalize_email``: E.164 phones and
  normalized emails.
- ``RoutingTable``: a compiled routing table from rule dicts, for routing without a
  database (``route``, ``route_many``, ``explain``).
- ``Engine``: the whole pipeline over a SQLite file (``Engine.open``): configuration,
  ``ingest``/``ingest_many``, ``deliver_due``, queries, ``explain``, ``reroute_unrouted``,
  ``backtest``, ``assign_manually``.

Batch calls copy their inputs into Rust values, release the GIL while they work, and return
one result per item.
"""

from __future__ import annotations

from ._leadroute import (
    Engine,
    IngestOutcome,
    RouteMatch,
    RoutingTable,
    __version__,
    normalize_email,
    normalize_phone,
    normalize_phones,
)
from .errors import (
    ConflictError,
    ForbiddenError,
    InvalidPhoneError,
    LeadrouteError,
    NotFoundError,
    RateLimitedError,
    StorageError,
    UnauthorizedError,
    ValidationError,
)

__all__ = [
    "__version__",
    "normalize_phone",
    "normalize_phones",
    "normalize_email",
    "RoutingTable",
    "RouteMatch",
    "Engine",
    "IngestOutcome",
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
