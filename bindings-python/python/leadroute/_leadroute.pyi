"""Type stubs for the ``leadroute._leadroute`` extension module (hand-written).

``mypy.stubtest`` keeps this file equal to the module (``tests/test_stubs.py`` and
``scripts/test.sh``).

Every dict that goes in or comes out has a ``TypedDict`` here: the configuration dicts
(``ProviderConfig``, ``WorkspaceConfig``, ``RuleConfig``, ``WebhookConfig``) and the results
(``Lead``, ``Contact``, ``RoutedAppointment`` / ``UnroutedAppointment``, ``Event``,
``StoreCounts``, ``BillingSummary``, ``DeliveryReport``, ``ProviderUsage``,
``TransitionResult``, ``ReturnResult``, ``Delivery``, ``BookingResult``, and for outreach
``ClaimedContact``, ``QueueEntry``, ``FreeSlot``, ``Booked``, ``OutgoingMessage``,
``Message``, ``MessageLog``, ...). They exist for type checkers only (``@type_check_only``);
import them under ``typing.TYPE_CHECKING``::

    if TYPE_CHECKING:
        from leadroute._leadroute import Lead

Times in results are aware ``datetime.datetime`` objects in UTC (but
``ClaimedContact["local_time"]``, in the called party's zone, a ``zoneinfo.ZoneInfo``;
``ProviderUsage["day"]`` and an appointment's ``next_action_date`` are ``datetime.date``
objects). Free-form JSON (a lead's ``fields``, an event's ``detail``, a message's ``body``) is
``dict[str, Any]``: its keys depend on the record or the event.
"""

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Any, ClassVar, Literal, TypedDict, final, type_check_only

from typing_extensions import NotRequired, Required, TypeAlias

from .errors import InvalidPhoneError

__all__ = [
    "__version__",
    "normalize_phone",
    "normalize_phones",
    "normalize_email",
    "hash_api_key",
    "RouteMatch",
    "RoutingTable",
    "Accepted",
    "Rejected",
    "Replayed",
    "Engine",
]

__version__: str

# ---------------------------------------------------------------------------------------------
# Options and statuses (one spelling each, as the engine writes them)

_RecordFormat: TypeAlias = Literal["json", "csv", "form"]
_SignatureScheme: TypeAlias = Literal["github", "cal_com", "standard_webhooks", "stripe"]
_TiePolicy: TypeAlias = Literal["lowest_id", "weighted_round_robin", "least_recently_routed"]
_DedupScope: TypeAlias = Literal["provider", "webhook", "global"]
_EventSubject: TypeAlias = Literal["contact", "lead", "appointment", "rejection"]
_ForwardStatus: TypeAlias = Literal["pending", "success", "failed"]
_RoutingMethod: TypeAlias = Literal["auto", "manual"]
_LeadStatus: TypeAlias = Literal[
    "new", "duplicate", "routed", "unrouted", "delivered", "delivery_failed", "returned"
]
_UnroutedReason: TypeAlias = Literal[
    "unknown_product", "no_rule_for_product", "no_rule_for_zip", "no_eligible_workspace"
]
_SkipCode: TypeAlias = Literal[
    "webhook_inactive",
    "workspace_missing",
    "rule_inactive",
    "excluded_zip",
    "outside_schedule",
    "cap_reached",
    "budget_spent",
    "consent_required",
    "excluded_workspace",
]
_CapPeriod: TypeAlias = Literal["hour", "day", "week", "month"]
_BillingKind: TypeAlias = Literal["charge", "credit"]
_AppointmentStatus: TypeAlias = Literal[
    "scheduled", "confirmed", "completed", "cancelled", "no_show", "rescheduled"
]
_ReturnStatus: TypeAlias = Literal["pending", "approved", "denied"]
_WebhookEventType: TypeAlias = Literal[
    "appointment.created",
    "appointment.confirmed",
    "appointment.rescheduled",
    "appointment.cancelled",
    "appointment.completed",
    "appointment.no_show",
]
_RejectionReason: TypeAlias = Literal[
    "malformed_record",
    "wrong_type",
    "missing_phone",
    "invalid_phone",
    "missing_zip",
    "invalid_zip",
    "unknown_zip",
    "inactive_zip",
    "missing_product",
    "unknown_product",
    "lead_type_not_allowed",
    "invalid_appointment_date",
    "missing_email",
    "invalid_email",
    "missing_required_field",
    "field_too_long",
    "slot_taken",
]
_ContactStatus: TypeAlias = Literal[
    "pending",
    "attempting",
    "no_answer",
    "scheduled",
    "not_interested",
    "unreachable",
    "do_not_contact",
]
_ContactOutcome: TypeAlias = Literal[
    "no_answer", "scheduled", "not_interested", "unreachable", "do_not_contact"
]
_MessageKind: TypeAlias = Literal["confirmation", "reminder"]
_MessageStatus: TypeAlias = Literal["pending", "sent", "failed", "cancelled", "suppressed"]
# Who made a change: "api", "client", "calcom", "system", or a user id (any other text).
_Actor: TypeAlias = str

_Record: TypeAlias = Mapping[str, Any] | str | bytes | bytearray
_Body: TypeAlias = Mapping[str, Any] | str | bytes | bytearray
_Headers: TypeAlias = Mapping[str, str] | Iterable[tuple[str, str]]
_Time: TypeAlias = datetime | str

# ---------------------------------------------------------------------------------------------
# Configuration in (the seed's shapes)

@type_check_only
class CapConfig(TypedDict):
    """At most ``limit`` appointments per ``period``."""

    period: _CapPeriod
    limit: int

@type_check_only
class BudgetConfig(TypedDict):
    """At most ``amount`` cents of payment rates per ``period``."""

    amount: int
    period: _CapPeriod

@type_check_only
class CapacityConfig(TypedDict, total=False):
    """Caps and a budget; both optional (unlimited)."""

    caps: Sequence[CapConfig]
    budget: BudgetConfig | None

@type_check_only
class OpenHoursConfig(TypedDict):
    """One opening span: ``{"days": ["mon", "fri"], "start": "09:00", "end": "17:00"}``."""

    days: Sequence[str]
    start: str
    end: str

@type_check_only
class ScheduleConfig(TypedDict, total=False):
    """Weekly hours in ``timezone`` (default: the workspace's)."""

    timezone: str | None
    hours: Sequence[OpenHoursConfig]

@type_check_only
class DeliveryOptionsConfig(TypedDict, total=False):
    """How a workspace wants its payloads shaped and signed."""

    rename: Mapping[str, str]
    omit: Sequence[str]
    constants: Mapping[str, Any]
    envelope: bool
    additional_secrets: Sequence[str]
    events: Sequence[_WebhookEventType] | None

@type_check_only
class ReturnCountLimit(TypedDict):
    """At most ``count`` returns per billing period (a calendar month, UTC)."""

    count: int

@type_check_only
class ReturnPercentLimit(TypedDict):
    """At most ``percent`` (0-100) of the period's charged appointments returned."""

    percent: float

@type_check_only
class ReturnPolicyConfig(TypedDict, total=False):
    """A workspace's return policy; every field optional (the default approves any return at
    once, at any time, with no automatic credits)."""

    window_days: int | None
    allowed_reasons: Sequence[str]
    max_per_period: ReturnCountLimit | ReturnPercentLimit | None
    review: bool
    credit_no_show: bool
    credit_late_cancel_hours: int | None

@type_check_only
class MessagePolicyConfig(TypedDict, total=False):
    """A workspace's confirmations and reminders (``WorkspaceConfig["messages"]``; a
    workspace without one sends none)."""

    confirmation: bool
    reminder_offsets_minutes: Sequence[int]
    retry_backoff_seconds: Sequence[int]

@type_check_only
class CalendarConfig(TypedDict, total=False):
    """A workspace's booking calendar (``WorkspaceConfig["calendar"]``), cut from its weekly
    ``schedule`` in its time zone; ``blackout_dates`` are local dates (``YYYY-MM-DD``)."""

    slot_minutes: int
    capacity: int
    buffer_minutes: int
    min_lead_minutes: int
    horizon_days: int
    blackout_dates: Sequence[date | str]

@type_check_only
class ContactQueueSettings(TypedDict, total=False):
    """The contact queue's settings (``Engine.open(contact_queue=...)``)."""

    automation_enabled: bool
    max_batch: int
    retry_interval_seconds: int
    max_attempts: int

@type_check_only
class ContactQueueConfig(TypedDict, total=False):
    """Which leads enter the contact queue, and its settings (global and per lead type)."""

    settings: ContactQueueSettings
    per_lead_type: Mapping[str, ContactQueueSettings]
    always_contact: Sequence[str]
    never_contact: Sequence[str]

@type_check_only
class CalcomConfig(TypedDict, total=False):
    """A Cal.com booking webhook's settings (``WebhookConfig["calcom"]``)."""

    provider_id: Required[str]
    products: Required[Mapping[str, str]]
    phone_field: str
    zip_field: str

@type_check_only
class ProviderConfig(TypedDict, total=False):
    """A provider, as in ``providers.json``."""

    provider_id: Required[str]
    format: Required[_RecordFormat]
    provider_name: str | None
    lead_types: Sequence[str]
    field_map: Mapping[str, str]
    rate_limit_per_hour: int | None
    is_active: bool
    api_key: str | None
    api_key_hash: str | None
    allowed_webhooks: Sequence[str]
    webhook_secret: str | None
    signature_scheme: _SignatureScheme | None

@type_check_only
class WorkspaceConfig(TypedDict, total=False):
    """A workspace, as in ``workspaces.json`` (``payment_rate`` in dollars)."""

    id: Required[str]
    outbound_webhook_url: Required[str]
    payment_rate: Required[float]
    name: str | None
    webhook_active: bool
    business_type: str | None
    timezone: str | None
    webhook_secret: str | None
    duplicate_window_days: int | None
    capacity: CapacityConfig
    schedule: ScheduleConfig | None
    delivery: DeliveryOptionsConfig
    require_consent: bool
    returns: ReturnPolicyConfig | None
    messages: MessagePolicyConfig | None
    calendar: CalendarConfig | None

@type_check_only
class RadiusConfig(TypedDict):
    """Every ZIP whose centroid is within ``miles`` of ``zip``'s."""

    zip: str
    miles: float

@type_check_only
class RuleConfig(TypedDict, total=False):
    """A routing rule, as in ``routing_rules.json``, plus targeting and capacity."""

    id: Required[int]
    workspace_id: Required[str]
    product_types: Required[Sequence[str]]
    zip_codes: Required[Sequence[str]]
    priority: Required[int]
    is_active: Required[bool]
    notes: str | None
    states: Sequence[str]
    zip3_prefixes: Sequence[str]
    radius: RadiusConfig | None
    excluded_zips: Sequence[str]
    weight: int
    capacity: CapacityConfig

@type_check_only
class WebhookConfig(TypedDict, total=False):
    """An inbound webhook, in the seed's ``webhook_configs`` shape (``rate_window`` in
    seconds)."""

    id: Required[str]
    name: str | None
    lead_type: str | None
    webhook_secret: str | None
    secret: str | None
    signature_scheme: _SignatureScheme | None
    rate_limit: int | None
    rate_window: int | None
    is_active: bool
    calcom: CalcomConfig | None

# ---------------------------------------------------------------------------------------------
# Routing traces

@type_check_only
class SkipReason(TypedDict):
    """Why a candidate was passed over; ``scope`` and ``period`` with ``cap_reached``."""

    code: _SkipCode
    scope: NotRequired[Literal["workspace", "rule"]]
    period: NotRequired[_CapPeriod]

@type_check_only
class TraceMatch(TypedDict):
    """The rule a decision chose."""

    rule_id: int
    workspace_id: str
    priority: int

@type_check_only
class TraceUnrouted(TypedDict):
    """Why a decision found no rule."""

    unrouted: _UnroutedReason

@type_check_only
class TraceCandidate(TypedDict):
    """One candidate of a decision, in decision order (``reason`` when skipped)."""

    rule_id: int
    workspace_id: str
    priority: int
    weight: int
    status: Literal["matched", "skipped", "not_reached"]
    reason: NotRequired[SkipReason]

@type_check_only
class TraceRule(TypedDict):
    """A rule that is not a candidate but covers the ZIP's area (excluded ZIP, inactive)."""

    rule_id: int
    workspace_id: str
    priority: int
    reason: SkipReason

@type_check_only
class RoutingTrace(TypedDict):
    """The full trace of one routing decision."""

    product: str | None
    zip: str
    policy: _TiePolicy
    outcome: TraceMatch | TraceUnrouted
    candidates: list[TraceCandidate]
    excluded: list[TraceRule]
    inactive: list[TraceRule]

# ---------------------------------------------------------------------------------------------
# Results out

@type_check_only
class Event(TypedDict):
    """One audit event; ``detail``'s keys depend on ``event_type`` (a routing event's detail
    is its trace)."""

    subject: _EventSubject
    subject_id: int
    event_type: str
    detail: dict[str, Any]
    created_at: datetime

@type_check_only
class Lead(TypedDict):
    """A stored lead with its audit trail."""

    id: int
    contact_id: int
    duplicate_of: int | None
    provider_id: str
    record_key: str
    external_id: str | None
    product_type: str
    zip_code: str
    appointment_date: datetime | None
    estimated_value: float | None
    tcpa_consent: bool | None
    fields: dict[str, Any]
    warnings: list[str]
    raw_payload: str
    received_at: datetime
    events: list[Event]

@type_check_only
class Contact(TypedDict):
    """A stored contact with its audit trail."""

    id: int
    dedup_scope: str
    phone: str | None
    phone_extension: str | None
    email: str | None
    email_key: str | None
    first_name: str | None
    last_name: str | None
    zip_code: str | None
    created_at: datetime
    events: list[Event]

@type_check_only
class AppointmentDetailsInput(TypedDict, total=False):
    """The seed details :meth:`Engine.update_appointment_details` writes; a missing key
    clears the field."""

    end_time: datetime | str | None
    duration_minutes: int | None
    appointment_type: str | None
    location_type: str | None
    location_address: str | None
    customer_notes: str | None
    next_action: str | None
    next_action_date: date | str | None

@type_check_only
class _AppointmentBase(TypedDict):
    id: int
    lead_id: int
    contact_id: int
    service_type: str
    zip_code: str
    appointment_date: datetime
    estimated_value: float | None
    notes: str | None
    end_time: datetime | None
    duration_minutes: int | None
    appointment_type: str | None
    location_type: str | None
    location_address: str | None
    customer_notes: str | None
    next_action: str | None
    next_action_date: date | None
    cal_booking_uid: str | None
    created_at: datetime
    forward_status: _ForwardStatus
    forward_attempts: int
    forwarded_at: datetime | None
    forward_response: str | None
    status: _AppointmentStatus
    reschedule_count: int
    outcome: str | None
    cancellation_reason: str | None
    reschedule_requested: bool
    status_changed_at: datetime | None

@type_check_only
class RoutedAppointment(_AppointmentBase):
    """An appointment routed to a workspace (``routing_status == "routed"``); ``status`` is
    its lifecycle status."""

    routing_status: Literal["routed"]
    workspace_id: str
    rule_id: int | None
    routing_method: _RoutingMethod
    matched_at: datetime
    payment_rate_cents: int

@type_check_only
class UnroutedAppointment(_AppointmentBase):
    """An appointment in the unrouted queue (``routing_status == "unrouted"``)."""

    routing_status: Literal["unrouted"]
    unrouted_reason: _UnroutedReason

@type_check_only
class RoutedAppointmentDetail(RoutedAppointment):
    """A routed appointment with its audit trail."""

    events: list[Event]

@type_check_only
class UnroutedAppointmentDetail(UnroutedAppointment):
    """An unrouted appointment with its audit trail."""

    events: list[Event]

@type_check_only
class StoreCounts(TypedDict):
    """Whole-store counts."""

    contacts: int
    leads: int
    rejections: int
    appointments: int
    appointments_routed: int
    appointments_unrouted: int
    deliveries: int
    deliveries_succeeded: int
    deliveries_failed: int
    attempts: int
    billing_events: int
    billed_cents: int

@type_check_only
class DeliveryReport(TypedDict):
    """Totals of ``Engine.deliver_due``."""

    attempted: int
    delivered: int
    retrying: int
    failed: int
    deferred: int
    billed_cents: int

@type_check_only
class BillingSummaryRow(TypedDict):
    """Billing of one workspace over the period."""

    workspace_id: str
    charges: int
    charged_cents: int
    credits: int
    credited_cents: int
    net_cents: int
    pending_returns: int
    pending_return_cents: int

@type_check_only
class BillingSummary(TypedDict):
    """Billing over the period: totals and one row per workspace with events."""

    charges: int
    charged_cents: int
    credits: int
    credited_cents: int
    net_cents: int
    pending_returns: int
    pending_return_cents: int
    per_workspace: list[BillingSummaryRow]

@type_check_only
class BillingEvent(TypedDict):
    """A charge or a credit (negative ``amount_cents``)."""

    appointment_id: int
    workspace_id: str
    kind: _BillingKind
    amount_cents: int
    created_at: datetime

@type_check_only
class TransitionResult(TypedDict):
    """What a lifecycle call did (``applied`` is ``False`` for a no-op)."""

    appointment_id: int
    status: _AppointmentStatus
    previous_status: _AppointmentStatus
    applied: bool
    delivery_id: int | None
    credit: BillingEvent | None

@type_check_only
class ReturnResult(TypedDict):
    """What a return request or decision came to (``credit`` when approved)."""

    return_id: int
    appointment_id: int
    workspace_id: str
    status: _ReturnStatus
    credit: BillingEvent | None

@type_check_only
class ReturnRecord(TypedDict):
    """A stored return (``credit_cents`` negative: the charge reversed)."""

    id: int
    appointment_id: int
    workspace_id: str
    reason: str
    status: _ReturnStatus
    actor: str
    credit_cents: int
    requested_at: datetime
    decided_at: datetime | None
    decision_note: str | None

@type_check_only
class Delivery(TypedDict):
    """An outbox row: one webhook event for one appointment (``payload`` is the exact JSON
    text posted)."""

    id: int
    appointment_id: int
    event: _WebhookEventType
    sequence: int
    workspace_id: str
    webhook_id: str
    url: str
    payload: str
    next_attempt_at: datetime
    created_at: datetime
    status: _ForwardStatus
    attempts: int
    locked_until: datetime | None
    retry_base: int

@type_check_only
class ReassignResult(TypedDict):
    """What ``Engine.reassign`` did: ``workspace_id`` and ``rule_id`` when routed,
    ``unrouted_reason`` when not."""

    appointment_id: int
    from_workspace_id: str | None
    routing: Literal["routed", "unrouted"]
    workspace_id: str | None
    rule_id: int | None
    unrouted_reason: _UnroutedReason | None
    delivery_id: int | None
    trace: RoutingTrace | None

@type_check_only
class ReprocessedLead(TypedDict):
    """A rejection that became a lead."""

    rejection_id: int
    lead_id: int

@type_check_only
class ReprocessReport(TypedDict):
    """What ``Engine.reprocess_rejections`` did (``still_rejected`` by first reason code)."""

    examined: int
    accepted: list[ReprocessedLead]
    still_rejected: dict[str, int]
    unreplayable: int

@type_check_only
class BookingResult(TypedDict):
    """What one Cal.com delivery did; ``routing`` and its fields when it created the
    appointment."""

    trigger: str
    uid: str | None
    appointment_id: int | None
    status: _AppointmentStatus | None
    applied: bool
    duplicate: bool
    routing: Literal["routed", "unrouted"] | None
    workspace_id: str | None
    rule_id: int | None
    unrouted_reason: _UnroutedReason | None
    rejection_id: int | None

@type_check_only
class ProviderUsage(TypedDict):
    """A provider's intake through one inbound webhook (``None``: direct) on one UTC day."""

    provider_id: str
    webhook_id: str | None
    day: date
    requests: int
    refused: int
    total_leads: int
    accepted: int
    rejected: int
    last_lead_at: datetime | None

@type_check_only
class ProviderTotals(TypedDict):
    """A provider's records stored over all time, and when the last one was."""

    total_leads: int
    last_lead_at: datetime | None

@type_check_only
class LeadStatusChange(TypedDict):
    """One change of a lead's status."""

    lead_id: int
    from_status: _LeadStatus | None
    to_status: _LeadStatus
    reason: str | None
    changed_at: datetime

@type_check_only
class EndpointHealth(TypedDict):
    """The health of a workspace's webhook endpoint."""

    consecutive_failures: int
    paused_until: datetime | None
    disabled: bool
    disabled_reason: str | None

@type_check_only
class RerouteReport(TypedDict):
    """What ``Engine.reroute_unrouted`` did."""

    examined: int
    routed: dict[str, int]
    still_unrouted: dict[str, int]

@type_check_only
class BacktestRow(TypedDict):
    """Appointments of one workspace (``None``: unrouted) now and under the proposal."""

    workspace_id: str | None
    current: int
    proposed: int

# Functional syntax: ``from`` is a keyword. Private: stub-only, and ``@type_check_only`` cannot
# mark this form.
_BacktestMove = TypedDict(
    "_BacktestMove", {"appointment_id": int, "from": str | None, "to": str | None}
)

@type_check_only
class BacktestReport(TypedDict):
    """What ``Engine.backtest`` found."""

    examined: int
    per_workspace: list[BacktestRow]
    moves: list[_BacktestMove]

@type_check_only
class ClaimedContact(TypedDict):
    """A lead handed to a worker to call now (``local_time``: the called party's time now, in
    their zone; ``attempts``: made before this one)."""

    lead_id: int
    contact_id: int
    phone: str
    zip_code: str
    lead_type: str
    attempts: int
    local_time: datetime | None
    received_at: datetime

@type_check_only
class QueueEntry(TypedDict):
    """A lead's place in the contact queue (``hold_reason`` while it is held back)."""

    lead_id: int
    contact_id: int
    phone_e164: str | None
    zip_code: str
    lead_type: str
    received_at: datetime
    next_attempt_at: datetime
    suppressed: bool
    status: _ContactStatus
    attempts: int
    last_attempt_at: datetime | None
    worker: str | None
    locked_until: datetime | None
    hold_reason: str | None

@type_check_only
class ContactAttempt(TypedDict):
    """One call to a queued lead."""

    lead_id: int
    attempt_number: int
    at: datetime
    outcome: _ContactOutcome
    notes: str | None
    worker: str | None

@type_check_only
class SuppressionImport(TypedDict):
    """What ``Engine.import_suppressions`` did (``rejected_lines``: (line number, reason))."""

    added: int
    already_listed: int
    rejected_lines: list[tuple[int, str]]

@type_check_only
class ContactMetrics(TypedDict):
    """Speed to lead over a period."""

    leads: int
    contacted: int
    first_attempt_p50_seconds: float | None
    first_attempt_p90_seconds: float | None
    contact_rate: float
    attempts_per_lead: float
    appointment_rate: float

@type_check_only
class FreeSlot(TypedDict):
    """A slot of a workspace's calendar with room left."""

    start: datetime
    end: datetime
    remaining: int

@type_check_only
class BookedSlot(TypedDict):
    """The slot a booking took."""

    start: datetime
    end: datetime

@type_check_only
class Booked(TypedDict):
    """What ``Engine.book`` did (``workspace_id`` ``None``: unrouted; ``slot`` ``None``: the
    workspace has no calendar)."""

    appointment_id: int
    lead_id: int
    workspace_id: str | None
    slot: BookedSlot | None

@type_check_only
class OutgoingMessage(TypedDict):
    """A message as the transport of ``Engine.send_due_messages`` receives it (``id`` is the
    same on every try; ``body`` holds ``kind``, ``appointment_id``, ``workspace_id``,
    ``start``, ``service_type``, ``offset_minutes``)."""

    id: int
    appointment_id: int
    lead_id: int
    kind: _MessageKind
    to: str
    body: dict[str, Any]
    try_number: int

@type_check_only
class Message(TypedDict):
    """A scheduled confirmation or reminder."""

    id: int
    appointment_id: int
    lead_id: int
    kind: _MessageKind
    to: str
    body: dict[str, Any]
    send_at: datetime
    created_at: datetime
    status: _MessageStatus
    tries: int
    next_try_at: datetime
    locked_until: datetime | None

@type_check_only
class MessageLog(TypedDict):
    """One send try of a message."""

    message_id: int
    try_number: int
    at: datetime
    status: Literal["sent", "failed", "suppressed"]
    provider_message_id: str | None
    error: str | None

@type_check_only
class MessageReport(TypedDict):
    """What ``Engine.send_due_messages`` did."""

    attempted: int
    sent: int
    retrying: int
    failed: int
    suppressed: int

# A message transport: takes the message, returns the provider's message id or raises.
_MessageTransport: TypeAlias = Callable[[OutgoingMessage], str]

@type_check_only
class AcceptedDict(TypedDict):
    """``Accepted.to_dict()``."""

    status: Literal["accepted"]
    record_key: str
    lead_id: int
    contact_id: int
    new_contact: bool
    duplicate_of: int | None
    appointment_id: int | None
    routing: Literal["routed", "unrouted"] | None
    workspace_id: str | None
    rule_id: int | None
    unrouted_reason: _UnroutedReason | None
    warnings: list[str]
    trace: RoutingTrace | None

@type_check_only
class RejectedDict(TypedDict):
    """``Rejected.to_dict()``."""

    status: Literal["rejected"]
    record_key: str
    rejection_id: int
    rejection_codes: list[str]
    rejection_details: list[str]

@type_check_only
class ReplayedDict(TypedDict):
    """``Replayed.to_dict()``."""

    status: Literal["replayed"]
    record_key: str
    lead_id: int | None
    rejection_id: int | None

# ---------------------------------------------------------------------------------------------
# Functions

def normalize_phone(raw: str, region: str = "US", *, strict: bool = False) -> str:
    """E.164 for ``raw``; raises ``InvalidPhoneError`` (a ``ValueError``)."""

def normalize_phones(
    raws: Iterable[str], region: str = "US", *, strict: bool = False
) -> list[str | InvalidPhoneError]:
    """One E.164 string or ``InvalidPhoneError`` (returned, not raised) per input."""

def normalize_email(raw: str) -> str:
    """Trimmed, lowercased, syntax-checked email; raises ``ValidationError``."""

def hash_api_key(key: str) -> str:
    """``"sha256:<64 hex>"``, the stored form of a provider API key."""

# ---------------------------------------------------------------------------------------------
# Classes

@final
class RouteMatch:
    """The rule a routing decision chose."""

    @property
    def workspace_id(self) -> str: ...
    @property
    def rule_id(self) -> int: ...
    @property
    def priority(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class RoutingTable:
    """A compiled routing table from rule dicts (every named workspace is active)."""

    def __new__(
        cls, rules: Sequence[RuleConfig], *, products: Sequence[str] | None = None
    ) -> RoutingTable: ...
    def route(self, product: str, zip: str) -> RouteMatch | None: ...
    def route_many(
        self, pairs: Iterable[tuple[str, str] | list[str]]
    ) -> list[RouteMatch | None]: ...
    def explain(self, product: str, zip: str) -> RoutingTrace: ...
    @property
    def rule_count(self) -> int: ...
    @property
    def products(self) -> list[str]: ...

@final
class Accepted:
    """A record stored as a lead."""

    __match_args__ = ("lead_id", "contact_id", "appointment_id")
    @property
    def status(self) -> Literal["accepted"]: ...
    @property
    def record_key(self) -> str: ...
    @property
    def lead_id(self) -> int: ...
    @property
    def contact_id(self) -> int: ...
    @property
    def new_contact(self) -> bool: ...
    @property
    def duplicate_of(self) -> int | None: ...
    @property
    def appointment_id(self) -> int | None: ...
    @property
    def routing(self) -> Literal["routed", "unrouted"] | None: ...
    @property
    def workspace_id(self) -> str | None: ...
    @property
    def rule_id(self) -> int | None: ...
    @property
    def unrouted_reason(self) -> _UnroutedReason | None: ...
    @property
    def warnings(self) -> list[str]: ...
    @property
    def trace(self) -> RoutingTrace | None: ...
    def to_dict(self) -> AcceptedDict: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Rejected:
    """A record stored as a rejection."""

    __match_args__ = ("rejection_id", "rejection_codes")
    @property
    def status(self) -> Literal["rejected"]: ...
    @property
    def record_key(self) -> str: ...
    @property
    def rejection_id(self) -> int: ...
    @property
    def rejection_codes(self) -> list[str]: ...
    @property
    def rejection_details(self) -> list[str]: ...
    def to_dict(self) -> RejectedDict: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Replayed:
    """A record whose key was already stored; nothing was written."""

    __match_args__ = ("lead_id", "rejection_id")
    @property
    def status(self) -> Literal["replayed"]: ...
    @property
    def record_key(self) -> str: ...
    @property
    def lead_id(self) -> int | None: ...
    @property
    def rejection_id(self) -> int | None: ...
    def to_dict(self) -> ReplayedDict: ...
    def __eq__(self, other: object) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

_IngestOutcome: TypeAlias = Accepted | Rejected | Replayed

@final
class Engine:
    """The leadroute engine over a SQLite database; create it with ``Engine.open``."""

    @staticmethod
    def open(
        path: str | os.PathLike[str] = "leadroute.db",
        *,
        require_phone: bool = True,
        tie_policy: _TiePolicy = "lowest_id",
        dedup_scope: _DedupScope = "provider",
        default_region: str = "US",
        duplicate_window_days: int = 30,
        gmail_rules: bool = False,
        delivery_workers: int = 8,
        request_timeout: float = 15.0,
        extra_products: Sequence[str] | None = None,
        product_aliases: Mapping[str, str] | None = None,
        required_fields: Literal["seed"] | Mapping[str, Sequence[str]] | None = None,
        contact_queue: ContactQueueConfig | None = None,
        contact_lease: float = 900.0,
    ) -> Engine: ...
    @property
    def path(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Engine: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
    def configure(
        self,
        *,
        providers: Sequence[ProviderConfig] | None = None,
        workspaces: Sequence[WorkspaceConfig] | None = None,
        rules: Sequence[RuleConfig] | None = None,
        webhook_base: str | None = None,
        webhooks: Sequence[WebhookConfig] | None = None,
    ) -> None: ...
    def add_providers(self, providers: Sequence[ProviderConfig]) -> None: ...
    def add_workspaces(
        self, workspaces: Sequence[WorkspaceConfig], *, webhook_base: str | None = None
    ) -> None: ...
    def add_webhooks(self, webhooks: Sequence[WebhookConfig]) -> None: ...
    def add_rules(self, rules: Sequence[RuleConfig]) -> None: ...
    def ingest(self, provider_id: str, record: _Record) -> _IngestOutcome: ...
    def ingest_many(
        self, provider_id: str, records: Iterable[_Record], *, batch_size: int = 1000
    ) -> list[_IngestOutcome]: ...
    def ingest_body(
        self, provider_id: str, body: str | bytes | bytearray, *, batch_size: int = 1000
    ) -> list[_IngestOutcome]: ...
    def ingest_request(
        self,
        provider_id: str,
        body: _Body,
        *,
        headers: _Headers | None = None,
        api_key: str | None = None,
        webhook_id: str | None = None,
    ) -> list[_IngestOutcome]: ...
    def deliver_due(self, limit: int | None = None) -> DeliveryReport: ...
    def counts(self) -> StoreCounts: ...
    def unrouted(
        self, limit: int = 100, *, after: int = 0
    ) -> list[UnroutedAppointment]: ...
    def appointment(
        self, id: int
    ) -> RoutedAppointmentDetail | UnroutedAppointmentDetail | None: ...
    def lead(self, id: int) -> Lead | None: ...
    def contact(self, id: int) -> Contact | None: ...
    def events(self, subject: _EventSubject, id: int) -> list[Event]: ...
    def lead_status_history(self, lead_id: int) -> list[LeadStatusChange]: ...
    def billing_summary(
        self, *, since: _Time | None = None, until: _Time | None = None
    ) -> BillingSummary: ...
    def provider_usage(self, provider_id: str) -> list[ProviderUsage]: ...
    def provider_totals(self, provider_id: str) -> ProviderTotals: ...
    def explain(self, product: str, zip: str) -> RoutingTrace: ...
    def reroute_unrouted(self, *, batch: int = 500) -> RerouteReport: ...
    def backtest(self, rules: Sequence[RuleConfig]) -> BacktestReport: ...
    def assign_manually(self, appointment_id: int, workspace_id: str, note: str = "") -> None: ...
    def return_appointment(self, appointment_id: int, reason: str) -> BillingEvent: ...
    def confirm_appointment(self, id: int, *, actor: _Actor | None = None) -> TransitionResult: ...
    def reschedule_appointment(
        self,
        id: int,
        start: _Time,
        *,
        end: _Time | None = None,
        reason: str | None = None,
        actor: _Actor | None = None,
    ) -> TransitionResult: ...
    def cancel_appointment(
        self, id: int, *, reason: str | None = None, actor: _Actor | None = None
    ) -> TransitionResult: ...
    def complete_appointment(
        self, id: int, *, outcome: str | None = None, actor: _Actor | None = None
    ) -> TransitionResult: ...
    def mark_no_show(self, id: int, *, actor: _Actor | None = None) -> TransitionResult: ...
    def update_appointment_details(
        self, id: int, details: AppointmentDetailsInput, *, actor: _Actor | None = None
    ) -> RoutedAppointment | UnroutedAppointment: ...
    def appointment_history(self, id: int) -> list[Event]: ...
    def request_return(
        self, appointment_id: int, reason: str, *, actor: _Actor | None = None
    ) -> ReturnResult: ...
    def approve_return(self, return_id: int, *, note: str | None = None) -> ReturnResult: ...
    def deny_return(self, return_id: int, *, note: str | None = None) -> ReturnResult: ...
    def return_record(self, return_id: int) -> ReturnRecord | None: ...
    def deliveries(self, appointment_id: int) -> list[Delivery]: ...
    def redeliver(self, delivery_id: int) -> Delivery: ...
    def reassign(self, appointment_id: int, *, exclude_current: bool = True) -> ReassignResult: ...
    def reprocess_rejections(
        self,
        *,
        reason: _RejectionReason | None = None,
        provider_id: str | None = None,
        since: _Time | None = None,
        until: _Time | None = None,
        batch: int = 500,
    ) -> ReprocessReport: ...
    def ingest_cal_webhook(
        self, webhook_id: str, body: bytes | bytearray | str, headers: _Headers
    ) -> BookingResult: ...
    def enable_endpoint(self, workspace_id: str) -> int: ...
    def endpoint_health(self, workspace_id: str) -> EndpointHealth: ...
    def claim_contact_batch(
        self, now: _Time | None = None, limit: int = 5, *, worker: str | None = None
    ) -> list[ClaimedContact]: ...
    def record_contact_attempt(
        self,
        lead_id: int,
        outcome: _ContactOutcome,
        *,
        at: _Time | None = None,
        notes: str | None = None,
        worker: str | None = None,
    ) -> QueueEntry: ...
    def record_opt_out(self, phone: str, *, source: str | None = None) -> bool: ...
    def import_suppressions(
        self, text: str | bytes | bytearray, *, source: str
    ) -> SuppressionImport: ...
    def is_suppressed(self, phone: str) -> bool: ...
    def contact_entry(self, lead_id: int) -> QueueEntry | None: ...
    def contact_attempts(self, lead_id: int) -> list[ContactAttempt]: ...
    def contact_metrics(self, since: _Time, until: _Time) -> ContactMetrics: ...
    def available_slots(self, workspace_id: str, since: _Time, until: _Time) -> list[FreeSlot]: ...
    def book(
        self,
        lead_id: int,
        start: _Time,
        *,
        workspace_id: str | None = None,
        end: _Time | None = None,
    ) -> Booked: ...
    def send_due_messages(
        self, transport: _MessageTransport, limit: int = 100
    ) -> MessageReport: ...
    def messages(self, appointment_id: int) -> list[Message]: ...
    def message_logs(self, message_id: int) -> list[MessageLog]: ...
