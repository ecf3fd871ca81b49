//! Stored records: the rows the storage traits read and write.
//!
//! Names follow the seed schema (`lead_source_providers`, `workspaces`, `contacts`, `leads`,
//! `appointments`, `appointment_routing_rules`, `billing_events`, the `*_events` tables) and the
//! terms in `docs/DESIGN.md`. Times are UTC instants ([`jiff::Timestamp`]); money is integer cents
//! ([`Cents`]), never floating-point dollars.
//!
//! The capacity records ([`Capacity`], [`Cap`], [`Budget`], [`CapPeriod`], [`CapScope`]) and
//! the schedule records ([`WeeklySchedule`], [`OpenHours`], [`Weekday`], [`ClockTime`]) and the
//! booking [`Calendar`] live here too, so that a [`Workspace`] is data alone; their math is in
//! [`crate::capacity`], [`crate::schedule`] and [`crate::booking`].
//!
//! Serialized (serde), the stored rows are flat JSON objects (a wrapper's stored fields sit
//! beside its id), with times as RFC 3339 text and billed amounts in integer cents under
//! `_cents` keys.

use serde::{Deserialize, Serialize};

pub use crate::status::{
    AppointmentStatus, BillingKind, ContactOutcome, ContactStatus, EventKind, ForwardStatus,
    LeadStatus, MessageKind, MessageStatus, ReasonCode, ReturnStatus, RoutingMethod,
    UnroutedReason, WebhookEventType,
};
use jiff::Timestamp;

mod aftercare;
mod calendar;
mod capacity;
mod outreach;
mod routing_rule;
pub(crate) mod schedule;

pub use aftercare::{
    AppointmentDetails, AppointmentLifecycle, BookingEvent, LifecycleUpdate, NewBookingEvent,
    NewReturn, RejectionFilter, ReturnLimit, ReturnPolicy, ReturnRecord, StoredRejection,
};
pub use calendar::Calendar;
pub use capacity::{Budget, Cap, CapPeriod, CapScope, Capacity};
pub use outreach::{
    ContactAttempt, Message, MessageLog, MessageNext, MessagePolicy, NewMessage, NewQueueEntry,
    QueueEntry, QueueSettings, QueueUpdate, Suppression,
};
pub use routing_rule::{Radius, RoutingRule, RuleTargeting};
pub use schedule::{ClockTime, OpenHours, ScheduleError, Weekday, WeeklySchedule};

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// A newtype over the `i64` row id, so ids of different tables cannot be mixed up.
        /// Serialized transparently (a JSON number); [`std::fmt::Display`] prints the number.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The row id as a plain integer.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> $name {
                $name(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

row_id! {
    /// The id of a return (`appointment_returns`).
    ReturnId
}

row_id! {
    /// The id of a scheduled message (`scheduled_messages`).
    MessageId
}

row_id! {
    /// Row id of a contact (`contacts.id`).
    ContactId
}
row_id! {
    /// Row id of a lead (`leads.id`).
    LeadId
}
row_id! {
    /// Row id of a stored rejection (`lead_rejections.id`).
    RejectionId
}
row_id! {
    /// Row id of an appointment (`appointments.id`); it is the payload's `appointment_id`.
    AppointmentId
}
row_id! {
    /// Row id of a delivery, one outbox row (`deliveries.id`).
    DeliveryId
}
row_id! {
    /// Row id of a billing event (`billing_events.id`).
    BillingEventId
}

/// An amount of US money in integer cents (`2500` is $25.00).
///
/// Money is kept in cents so that sums are exact; the seed's `payment_rate` is in dollars and
/// converts with [`Cents::from_dollars`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Cents(pub i64);

impl Cents {
    /// Converts dollars to cents, rounding half away from zero (`200.0` → `Cents(20000)`).
    ///
    /// Returns `None` for a non-finite or out-of-range amount.
    pub fn from_dollars(dollars: f64) -> Option<Cents> {
        if !dollars.is_finite() {
            return None;
        }
        let cents = (dollars * 100.0).round();
        if cents.abs() > 9.0e15 {
            return None;
        }
        Some(Cents(cents as i64))
    }

    /// The amount in dollars, for display and for payloads that carry dollars.
    pub fn dollars(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl std::fmt::Display for Cents {
    /// Formats as dollars with two decimals and a `$` sign, e.g. `$1,234.50` → `$1234.50`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}${}.{:02}", abs / 100, abs % 100)
    }
}

/// The format a provider posts its records in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordFormat {
    /// One JSON object per record (a request body, or one line of JSON Lines).
    Json,
    /// CSV with a header row; one row per record.
    Csv,
    /// `application/x-www-form-urlencoded`: one record per body.
    Form,
}

impl RecordFormat {
    /// The lowercase name used in `providers.json` and the schema (`json`, `csv`, `form`).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordFormat::Json => "json",
            RecordFormat::Csv => "csv",
            RecordFormat::Form => "form",
        }
    }

    /// The extension of a provider's records file: `jsonl`, `csv`, or `form` (one
    /// form-encoded body per line; see [`crate::intake::split_file`]).
    pub fn file_extension(self) -> &'static str {
        match self {
            RecordFormat::Json => "jsonl",
            RecordFormat::Csv => "csv",
            RecordFormat::Form => "form",
        }
    }

    /// The format named by [`RecordFormat::as_str`] (lowercase), if any.
    pub fn parse(name: &str) -> Option<RecordFormat> {
        match name {
            "json" => Some(RecordFormat::Json),
            "csv" => Some(RecordFormat::Csv),
            "form" => Some(RecordFormat::Form),
            _ => None,
        }
    }
}

/// A third-party lead source (`lead_source_providers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    /// Stable id, e.g. `provider-a`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Lead types (verticals, lowercase, e.g. `solar`, `hvac`) this provider may send.
    pub lead_types: Vec<String>,
    /// Body format of its records.
    pub format: RecordFormat,
    /// Canonical field name → the provider's own field name (see [`crate::intake::FieldMap`]).
    pub field_map: std::collections::BTreeMap<String, String>,
    /// Requests per hour the provider may make through [`crate::Engine::ingest_request`]
    /// (fixed UTC-hour windows, see [`crate::auth::RateLimit::per_hour`]); `None`: unlimited.
    pub rate_limit_per_hour: Option<u32>,
    /// Whether the provider may post at all (an inactive one is refused as forbidden).
    pub is_active: bool,
    /// The provider's API key as stored: `sha256:<hex>` from [`crate::auth::hash_api_key`],
    /// never the key itself. When set, [`crate::Engine::ingest_request`] requires the key.
    #[serde(default)]
    pub api_key_hash: Option<String>,
    /// Ids of the inbound webhooks ([`WebhookConfig`]) this provider may post through
    /// (`allowed_webhooks` in the seed); a request through any other is forbidden.
    #[serde(default)]
    pub allowed_webhooks: Vec<String>,
    /// The provider's own signing secret (the seed's provider `webhook_secret`): when set,
    /// requests that do not come through a signed inbound webhook must be signed with it in
    /// [`Provider::signature_scheme`].
    #[serde(default)]
    pub signing_secret: Option<String>,
    /// How the provider signs with [`Provider::signing_secret`]. Default GitHub style
    /// (`X-Hub-Signature-256: sha256=<hex>`), which takes any secret.
    #[serde(default = "github")]
    pub signature_scheme: crate::auth::SignatureScheme,
}

fn github() -> crate::auth::SignatureScheme {
    crate::auth::SignatureScheme::GitHub
}

impl Provider {
    /// An active JSON provider with no lead-type restriction, no field map (canonical names)
    /// and no rate limit; set the other fields with struct update syntax.
    pub fn new(id: &str) -> Provider {
        Provider {
            id: id.to_string(),
            name: id.to_string(),
            lead_types: Vec::new(),
            format: RecordFormat::Json,
            field_map: Default::default(),
            rate_limit_per_hour: None,
            is_active: true,
            api_key_hash: None,
            allowed_webhooks: Vec::new(),
            signing_secret: None,
            signature_scheme: crate::auth::SignatureScheme::GitHub,
        }
    }
}

/// A client business (tenant) that buys appointments (`workspaces`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    /// Stable id, e.g. `kitchen_va_000`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The client's webhook URL that receives appointment payloads.
    pub outbound_webhook_url: String,
    /// Whether deliveries may be sent to the webhook; routing skips inactive ones.
    pub webhook_active: bool,
    /// The product the business sells (the seed's `business_type`), e.g. `Kitchen`.
    pub business_type: Option<String>,
    /// The charge per delivered appointment, in cents (seed: `payment_rate` in dollars).
    pub payment_rate: Cents,
    /// IANA time zone name, e.g. `America/New_York`.
    pub timezone: Option<String>,
    /// Standard Webhooks signing secret (`whsec_<base64>`), if the workspace wants signatures.
    pub webhook_secret: Option<String>,
    /// Lead-level duplicate window in days for this workspace's leads; `None` uses the
    /// engine's global window (see [`crate::contact::is_duplicate`]).
    #[serde(default)]
    pub duplicate_window_days: Option<u32>,
    /// Caps per hour/day/week/month and an optional budget, counted in `timezone`
    /// (see [`crate::capacity`]); unlimited by default.
    #[serde(default)]
    pub capacity: Capacity,
    /// Weekly hours when the workspace accepts appointments, checked at routing time
    /// (see [`crate::schedule`]); `None` is always open.
    #[serde(default)]
    pub schedule: Option<WeeklySchedule>,
    /// How this workspace wants its payloads shaped and signed.
    #[serde(default)]
    pub delivery: DeliveryOptions,
    /// Only leads with TCPA consent (`tcpa_consent = true`) may be routed to this workspace;
    /// others skip it with `consent_required` and go to the next candidate.
    #[serde(default)]
    pub require_consent: bool,
    /// The return policy: window, reasons, period maximum, review, automatic credits.
    #[serde(default)]
    pub returns: ReturnPolicy,
    /// Confirmations and reminders (opt-in; `None`: the workspace gets no messages).
    #[serde(default)]
    pub messages: Option<MessagePolicy>,
    /// The booking calendar cut from its weekly hours (`None`: no slots; appointments are
    /// taken at any time).
    #[serde(default)]
    pub calendar: Option<Calendar>,
}

impl Workspace {
    /// An active workspace posting to `url` at `payment_rate`, with no time zone, secret,
    /// caps, schedule or delivery options; set the other fields with struct update syntax.
    pub fn new(id: &str, url: &str, payment_rate: Cents) -> Workspace {
        Workspace {
            id: id.to_string(),
            name: id.to_string(),
            outbound_webhook_url: url.to_string(),
            webhook_active: true,
            business_type: None,
            payment_rate,
            timezone: None,
            webhook_secret: None,
            duplicate_window_days: None,
            capacity: Default::default(),
            schedule: None,
            delivery: Default::default(),
            require_consent: false,
            returns: ReturnPolicy::default(),
            messages: None,
            calendar: None,
        }
    }
}

/// The health of a workspace's webhook endpoint (`endpoint_health`), driven by attempts (see
/// [`crate::delivery::EndpointPolicy`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointHealth {
    /// Failed attempts in a row since the last success.
    pub consecutive_failures: u32,
    /// While set and in the future, no delivery is attempted; the first one after it is the
    /// probe.
    #[serde(default)]
    pub paused_until: Option<Timestamp>,
    /// Set by a `410 Gone`: nothing is attempted until the endpoint is re-enabled.
    pub disabled: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
}

/// Per-workspace payload shaping and signing (see [`crate::payload::shape`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveryOptions {
    /// Payload field → the name the client wants it under, e.g. `customer_phone` → `phone`.
    #[serde(default)]
    pub rename: std::collections::BTreeMap<String, String>,
    /// Payload fields left out (by their seed name).
    #[serde(default)]
    pub omit: Vec<String>,
    /// Constant fields added to every payload, e.g. `{"source": "leadroute"}`.
    #[serde(default)]
    pub constants: serde_json::Map<String, serde_json::Value>,
    /// Wrap the payload in a Standard Webhooks envelope:
    /// `{"type": "appointment.created", "timestamp": <RFC 3339 UTC>, "data": {...}}`.
    #[serde(default)]
    pub envelope: bool,
    /// More `whsec_` secrets to sign with besides `webhook_secret`, for secret rotation: the
    /// request carries one `v1,` signature per secret, so the client can verify with either.
    #[serde(default)]
    pub additional_secrets: Vec<String>,
    /// The lifecycle event types the workspace receives (`appointment.confirmed`, …);
    /// `None`: all of them. `appointment.created` (the appointment itself) is always sent.
    #[serde(default)]
    pub events: Option<Vec<WebhookEventType>>,
}

impl DeliveryOptions {
    /// Whether the workspace receives events of type `event`.
    pub fn receives(&self, event: WebhookEventType) -> bool {
        event == WebhookEventType::AppointmentCreated
            || self.events.as_ref().is_none_or(|e| e.contains(&event))
    }
}

/// A contact to store: one person (`contacts`).
///
/// Within a dedup scope a contact is unique by its E.164 phone; a contact without a phone is
/// unique by its email key (see [`crate::contact`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewContact {
    /// Dedup scope, e.g. `provider:provider-a` (see [`crate::contact::DedupScope`]).
    pub dedup_scope: String,
    /// E.164 phone, the dedup key within the scope; `None` for a contact known by email only.
    #[serde(rename = "phone", alias = "phone_e164")]
    pub phone_e164: Option<String>,
    /// Phone extension, kept apart from the number.
    pub phone_extension: Option<String>,
    /// Normalized (trimmed, lowercased) email.
    pub email: Option<String>,
    /// The email's dedup key ([`crate::email::dedup_key`]): how a record without a valid phone
    /// finds this contact.
    pub email_key: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// ZIP5 of the contact's address.
    pub zip_code: Option<String>,
    /// When the contact was first stored (UTC).
    pub created_at: Timestamp,
}

/// A stored contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// Row id.
    pub id: ContactId,
    /// Everything that was stored.
    #[serde(flatten)]
    pub contact: NewContact,
}

/// A lead to store: one campaign interest of a contact (`leads`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewLead {
    /// The contact this lead belongs to.
    pub contact_id: ContactId,
    /// When this lead is a lead-level duplicate (same contact and product within the
    /// window): the original lead. Duplicates are not routed or billed.
    pub duplicate_of: Option<LeadId>,
    /// The provider that sent it.
    pub provider_id: String,
    /// Idempotency key of the source record within the provider: the provider's own lead id
    /// when it sends one, else `sha256:<hex of the raw record>`. `UNIQUE (provider_id,
    /// record_key)` across leads and rejections makes re-ingesting a record a no-op.
    pub record_key: String,
    /// The provider's own lead id, if sent.
    pub external_id: Option<String>,
    /// Canonical product name (the seed's `lead_type`/`service_type`), e.g. `Solar`.
    pub product_type: String,
    /// ZIP5.
    pub zip_code: String,
    /// Requested appointment time (UTC), if the record carries one.
    #[serde(default)]
    pub appointment_date: Option<Timestamp>,
    /// Estimated job value in dollars, if sent.
    pub estimated_value: Option<f64>,
    /// Whether the record carried TCPA consent (`true`, `yes`, `1`); `None` when absent.
    pub tcpa_consent: Option<bool>,
    /// Canonical fields and the provider's unmapped fields, as a JSON object.
    pub fields: serde_json::Value,
    /// Non-fatal findings (snake_case codes), e.g. `invalid_email`.
    pub warnings: Vec<String>,
    /// The raw record, verbatim as received.
    pub raw_payload: String,
    /// When it was received (UTC).
    pub received_at: Timestamp,
}

/// A stored lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    /// Row id.
    pub id: LeadId,
    /// Everything that was stored.
    #[serde(flatten)]
    pub lead: NewLead,
}

/// A record that failed intake, stored with its reasons and raw payload (`lead_rejections`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRejection {
    /// The provider that sent it.
    pub provider_id: String,
    /// Idempotency key (see [`NewLead::record_key`]).
    pub record_key: String,
    /// Machine-readable reason codes (snake_case), e.g. `["invalid_phone", "unknown_zip"]`.
    pub reason_codes: Vec<ReasonCode>,
    /// Human-readable detail per reason, same order as `reason_codes`.
    pub details: Vec<String>,
    /// The raw record, verbatim as received.
    pub raw_payload: String,
    /// When it was received (UTC).
    pub received_at: Timestamp,
}

/// What a record key already stored resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredRecord {
    /// The record was accepted as this lead.
    Lead(LeadId),
    /// The record was rejected; this is the rejection.
    Rejection(RejectionId),
}

/// The routing outcome stored with an appointment.
///
/// JSON: tagged by `routing_status` (`routed` or `unrouted`), with the variant's fields beside it
/// (`routing_method`, `payment_rate_cents`, `unrouted_reason`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "routing_status", rename_all = "lowercase")]
pub enum Assignment {
    /// Routed to a workspace.
    Routed {
        /// The workspace it goes to.
        workspace_id: String,
        /// The rule that matched (`None` for manual assignment).
        rule_id: Option<i64>,
        /// Auto or manual.
        #[serde(rename = "routing_method")]
        method: RoutingMethod,
        /// When it was matched (UTC).
        matched_at: Timestamp,
        /// The workspace's payment rate at routing time: what a delivery bills.
        #[serde(rename = "payment_rate_cents")]
        payment_rate: Cents,
    },
    /// In the unrouted queue.
    Unrouted {
        /// Why, e.g. `no_rule_for_zip`.
        #[serde(rename = "unrouted_reason")]
        reason: UnroutedReason,
    },
}

/// An appointment to store: a scheduled meeting for a lead (`appointments`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAppointment {
    /// The lead (one appointment per lead, `UNIQUE`).
    pub lead_id: LeadId,
    /// The lead's contact.
    pub contact_id: ContactId,
    /// Canonical product, the payload's `service_type`.
    pub service_type: String,
    /// ZIP5, the payload's `customer_zip`.
    pub zip_code: String,
    /// Scheduled time (UTC).
    pub appointment_date: Timestamp,
    /// Estimated job value in dollars.
    pub estimated_value: Option<f64>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// Routing outcome.
    #[serde(flatten)]
    pub assignment: Assignment,
    /// The other seed fields (end, duration, type, location, notes, next action, Cal.com uid).
    #[serde(flatten, default)]
    pub details: AppointmentDetails,
    /// Creation time (UTC).
    pub created_at: Timestamp,
}

/// A stored appointment with its delivery state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Appointment {
    /// Row id, the payload's `appointment_id`.
    pub id: AppointmentId,
    /// What was stored at creation.
    #[serde(flatten)]
    pub appointment: NewAppointment,
    /// `forward_status`.
    pub forward_status: ForwardStatus,
    /// `forward_attempts`: HTTP tries made so far.
    pub forward_attempts: u32,
    /// `forwarded_at`: time of the successful delivery (UTC).
    #[serde(default)]
    pub forwarded_at: Option<Timestamp>,
    /// `forward_response`: the last response, truncated.
    pub forward_response: Option<String>,
    /// The lifecycle: `status` (scheduled, confirmed, …), reschedules, outcome.
    #[serde(flatten, default)]
    pub lifecycle: AppointmentLifecycle,
}

impl Appointment {
    /// The appointment's [`Life`](crate::lifecycle::Life): what the lifecycle machine reads.
    pub fn life(&self) -> crate::lifecycle::Life {
        crate::lifecycle::Life {
            status: self.lifecycle.status,
            start: self.appointment.appointment_date,
            end: self.appointment.details.end_time,
            reschedule_count: self.lifecycle.reschedule_count,
            outcome: self.lifecycle.outcome.clone(),
            cancellation_reason: self.lifecycle.cancellation_reason.clone(),
        }
    }

    /// The workspace it is routed to, if any.
    pub fn workspace_id(&self) -> Option<&str> {
        match &self.appointment.assignment {
            Assignment::Routed { workspace_id, .. } => Some(workspace_id),
            Assignment::Unrouted { .. } => None,
        }
    }
}

/// A delivery to enqueue in the outbox, written in the same transaction as the appointment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDelivery {
    /// The appointment it is about.
    pub appointment_id: AppointmentId,
    /// What it tells: `appointment.created` (the appointment itself, billed on success) or a
    /// lifecycle event.
    #[serde(default)]
    pub event: WebhookEventType,
    /// Its place among the appointment's deliveries (0, 1, 2, …; `UNIQUE` per
    /// appointment): a delivery is not claimed while an earlier one of the same
    /// appointment is pending, so the client hears of an appointment's events in order.
    #[serde(default)]
    pub sequence: u32,
    /// Target workspace.
    pub workspace_id: String,
    /// Standard Webhooks `webhook-id`: fixed for life, the client's idempotency key.
    pub webhook_id: String,
    /// Target URL at enqueue time.
    pub url: String,
    /// The exact JSON bytes to POST (UTF-8).
    pub payload: String,
    /// First due time (UTC).
    pub next_attempt_at: Timestamp,
    /// Creation time (UTC).
    pub created_at: Timestamp,
}

/// A stored outbox row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Row id.
    pub id: DeliveryId,
    /// What was enqueued.
    pub delivery: NewDelivery,
    /// Current status (pending until success or failure).
    pub status: ForwardStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// Lease expiry while a worker holds the row (UTC).
    #[serde(default)]
    pub locked_until: Option<Timestamp>,
    /// The attempt count when it was last redelivered: the retry schedule restarts from it.
    #[serde(default)]
    pub retry_base: u32,
}

/// One HTTP try of a delivery (`delivery_attempts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// 1-based attempt number.
    pub attempt_number: u32,
    /// When the request started (UTC).
    pub requested_at: Timestamp,
    /// Round-trip time in milliseconds.
    pub duration_ms: u64,
    /// HTTP status, if a response arrived.
    pub status_code: Option<u16>,
    /// Transport error text, if no response arrived.
    pub error: Option<String>,
    /// Start of the response body (truncated).
    pub response_excerpt: Option<String>,
}

/// What to do with a delivery after an attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AttemptResult {
    /// Delivered: mark success and write this billing event in the same transaction.
    Delivered {
        /// The charge: the appointment's own delivery (`appointment.created`) bills; a
        /// lifecycle event's delivery does not (`None`).
        billing: Option<NewBillingEvent>,
    },
    /// Try again at this time (UTC).
    Retry {
        /// Next due time.
        next_attempt_at: Timestamp,
    },
    /// Give up: permanent failure or retries exhausted.
    Failed,
}

/// Billing of one workspace over a period (see [`crate::storage::Reports::billing_summary`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingSummaryRow {
    /// The workspace.
    pub workspace_id: String,
    /// Charges (delivered appointments) in the period.
    pub charges: u64,
    /// Their total, in cents.
    #[serde(rename = "charged_cents")]
    pub charged: Cents,
    /// Credits (returned appointments) in the period.
    pub credits: u64,
    /// Their total, in cents (negative or zero).
    #[serde(rename = "credited_cents")]
    pub credited: Cents,
    /// `charged + credited`.
    #[serde(rename = "net_cents")]
    pub net: Cents,
    /// Returns waiting for review (no credit written yet).
    #[serde(default)]
    pub pending_returns: u64,
    /// What the pending returns would credit (negative cents).
    #[serde(rename = "pending_return_cents", default)]
    pub pending_return: Cents,
}

/// A billing event to store (`billing_events`); one per (appointment, workspace, kind)
/// (`UNIQUE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewBillingEvent {
    /// The delivered appointment.
    pub appointment_id: AppointmentId,
    /// The workspace charged.
    pub workspace_id: String,
    /// Charge or (later) credit.
    pub kind: BillingKind,
    /// Amount in cents: the workspace's payment rate at routing time.
    #[serde(rename = "amount_cents")]
    pub amount: Cents,
    /// When it was recorded (UTC).
    pub created_at: Timestamp,
}

/// What an audit event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventSubject {
    /// `contact_events`.
    Contact,
    /// `lead_events`.
    Lead,
    /// `appointment_events`.
    Appointment,
    /// `lead_events` of a record that was rejected (`lead_rejections`), which has no lead row.
    Rejection,
}

/// One audit event (`contact_events`, `lead_events`, `appointment_events`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Which table.
    pub subject: EventSubject,
    /// Row id of the contact, lead or appointment.
    pub subject_id: i64,
    /// The event's kind (`event_type`), e.g. `created`, `received`, `routed`, `delivered`.
    pub event_type: EventKind,
    /// Structured detail.
    pub detail: serde_json::Value,
    /// When it happened (UTC).
    pub created_at: Timestamp,
}

/// An inbound webhook: an endpoint providers post leads to (`webhook_configs` in the seed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookConfig {
    /// Stable id, e.g. `wh_solar_ca`; the `webhook_id` of a request.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The one lead type (vertical, lowercase) this endpoint accepts, if restricted; records
    /// of another are rejected with `lead_type_not_allowed`.
    pub lead_type: Option<String>,
    /// Signing secret of inbound requests; when set every request must carry a valid
    /// signature in [`WebhookConfig::signature_scheme`]. For Standard Webhooks a `whsec_`
    /// secret.
    pub secret: Option<String>,
    /// How requests are signed.
    pub signature_scheme: crate::auth::SignatureScheme,
    /// Requests allowed per [`WebhookConfig::rate_window_seconds`]; `None`: unlimited.
    pub rate_limit: Option<u32>,
    /// The rate limit's window in seconds (epoch-aligned fixed windows).
    pub rate_window_seconds: u32,
    /// Whether the endpoint accepts requests (an inactive one is refused as forbidden).
    pub is_active: bool,
    /// For a Cal.com booking webhook (scheme `cal_com`): the provider its bookings count
    /// for, the product per event type, and the booking fields with the phone and ZIP.
    #[serde(default)]
    pub calcom: Option<crate::calcom::CalcomConfig>,
}

impl WebhookConfig {
    /// An active, unsigned, unlimited endpoint for any lead type (Standard Webhooks scheme,
    /// hourly window); set the other fields with struct update syntax.
    pub fn new(id: &str) -> WebhookConfig {
        WebhookConfig {
            id: id.to_string(),
            name: id.to_string(),
            lead_type: None,
            secret: None,
            signature_scheme: crate::auth::SignatureScheme::StandardWebhooks,
            rate_limit: None,
            rate_window_seconds: 3600,
            is_active: true,
            calcom: None,
        }
    }
}

/// Intake counted for one (provider, inbound webhook, UTC day): one row of
/// `provider_usage_log`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderUsage {
    /// The provider.
    pub provider_id: String,
    /// The inbound webhook, or `None` for records ingested directly (stores keep `""`; an
    /// empty id reads back as `None`).
    pub webhook_id: Option<String>,
    /// The UTC day (serialized `YYYY-MM-DD`).
    pub day: jiff::civil::Date,
    /// Authenticated requests (batches) taken in.
    pub requests: u64,
    /// Requests refused (authentication, permission, rate limit).
    pub refused: u64,
    /// Records stored (leads and rejections; replays are not counted).
    pub total_leads: u64,
    /// Of those, leads.
    pub accepted: u64,
    /// Of those, rejections.
    pub rejected: u64,
    /// When the last record was stored (UTC).
    #[serde(default)]
    pub last_lead_at: Option<Timestamp>,
}

/// One change of a lead's status (`lead_status_history`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadStatusChange {
    /// The lead.
    pub lead_id: LeadId,
    /// The status before (`None` for the first).
    pub from_status: Option<LeadStatus>,
    /// The status after.
    pub to_status: LeadStatus,
    /// Why, e.g. the unrouted reason or the delivery's HTTP status.
    pub reason: Option<String>,
    /// When (UTC).
    pub changed_at: Timestamp,
}

/// Row counts over the whole store, for summaries and for checking the pipeline's identities.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreCounts {
    /// Rows in `contacts`.
    pub contacts: u64,
    /// Rows in `leads`.
    pub leads: u64,
    /// Rows in `lead_rejections`.
    pub rejections: u64,
    /// Rows in `appointments`.
    pub appointments: u64,
    /// Appointments with a workspace.
    pub appointments_routed: u64,
    /// Appointments in the unrouted queue.
    pub appointments_unrouted: u64,
    /// Rows in `deliveries`.
    pub deliveries: u64,
    /// Deliveries with status success.
    pub deliveries_succeeded: u64,
    /// Deliveries with status failed.
    pub deliveries_failed: u64,
    /// Rows in `delivery_attempts`.
    pub attempts: u64,
    /// Rows in `billing_events`.
    pub billing_events: u64,
    /// Sum of `billing_events.amount_cents`.
    #[serde(rename = "billed_cents")]
    pub billed: Cents,
}
