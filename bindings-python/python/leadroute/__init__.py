"""leadroute: lead intake, phone normalization, contact dedup, routing, delivery and billing.

The work is done in Rust (the ``leadroute._leadroute`` extension module); this package
re-exports it with Python exception classes (``leadroute.errors``).

- ``normalize_phone``, ``normalize_phones``, ``normalize_email``: E.164 phones and
  normalized emails.
- ``RoutingTable``: a compiled routing table from rule dicts, for routing without a
  database (``route``, ``route_many``, ``explain``).
- ``Engine``: the whole pipeline over a SQLite file (``Engine.open``, a context manager;
  ``close``): configuration; trusted intake for records the caller has already
  authenticated (``ingest``, ``ingest_many``, ``ingest_body``) and the intake wall for a
  provider's HTTP request (``ingest_request``: API key, signatures, rate limits);
  ``deliver_due``; queries (``lead``, ``contact``, ``appointment``, ``events``,
  ``lead_status_history``, ``counts``, ``unrouted``, ``billing_summary``,
  ``provider_usage``, ``provider_totals``, ``endpoint_health``, ``deliveries``,
  ``return_record``); ``explain``, ``reroute_unrouted``, ``backtest``, ``assign_manually``,
  ``enable_endpoint``. After delivery: the lifecycle (``confirm_appointment``,
  ``reschedule_appointment``, ``cancel_appointment``, ``complete_appointment``,
  ``mark_no_show``, ``appointment_history``); returns under the workspace's policy
  (``request_return``, ``approve_return``, ``deny_return``, ``return_appointment``);
  ``redeliver``, ``reassign``, ``reprocess_rejections``; Cal.com bookings
  (``ingest_cal_webhook``). Outreach: the contact queue of leads without an appointment
  time (``claim_contact_batch`` under the calling rules, ``record_contact_attempt``,
  ``contact_entry``, ``contact_attempts``, ``contact_metrics``); the suppression list
  (``record_opt_out``, ``import_suppressions``, ``is_suppressed``); booking into a
  workspace's calendar (``available_slots``, ``book``); confirmations and reminders sent
  through any Python callable (``send_due_messages``, ``messages``, ``message_logs``).
- ``Accepted``, ``Rejected``, ``Replayed``: what became of an ingested record, for
  ``match`` and ``isinstance`` (``IngestOutcome``, their union, is for annotations).
- ``hash_api_key``: the stored form of a provider API key.

Results are dicts typed by the ``TypedDict`` classes of ``leadroute._leadroute`` (type
checking only); their times are aware ``datetime`` objects in UTC. Batch calls copy their
inputs into Rust values, release the GIL while they work, and return one result per item.
"""

from __future__ import annotations

from typing import Union

from ._leadroute import (
    Accepted,
    Engine,
    Rejected,
    Replayed,
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

IngestOutcome = Union[Accepted, Rejected, Replayed]
"""What became of one ingested record: ``Accepted``, ``Rejected`` or ``Replayed``."""

__all__ = [
    "__version__",
    "normalize_phone",
    "normalize_phones",
    "normalize_email",
    "hash_api_key",
    "RoutingTable",
    "RouteMatch",
    "Engine",
    "Accepted",
    "Rejected",
    "Replayed",
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
