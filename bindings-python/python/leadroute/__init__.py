"""leadroute: lead intake, phone normalization, contact dedup, routing, delivery and billing.

The work is done in Rust (the ``leadroute._leadroute`` extension module); this package
re-exports it with Python exception classes (``leadroute.errors``).

- ``normalize_phone``, ``normalize_phones``, ``normalize_email``: E.164 phones and
  normalized emails.
- ``RoutingTable``: a compiled routing table from rule dicts, for routing without a
  database (``route``, ``route_many``, ``explain``).
- ``Engine``: the whole pipeline over a SQLite file (``Engine.open``): configuration,
  ``ingest``/``ingest_many``/``ingest_body`` (trusted, or with ``api_key``/``headers``/
  ``webhook_id`` through the intake wall), ``deliver_due``, queries, ``provider_usage``,
  ``explain``, ``reroute_unrouted``, ``backtest``, ``assign_manually``.
- ``hash_api_key``: the stored form of a provider API key.

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
    hash_api_key,
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
    "hash_api_key",
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
