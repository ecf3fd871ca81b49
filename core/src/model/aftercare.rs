//! The records of an appointment's life after delivery: its lifecycle fields, return
//! policies and returns, Cal.com booking events, and the rejection filter of reprocessing.

use super::{AppointmentId, Cents, LeadId, NewRejection, ReasonCode, RejectionId, ReturnId};
use crate::lifecycle::Life;
use crate::status::{AppointmentStatus, ReturnStatus};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The seed fields of an appointment beyond its time and place (HPP, Convio and HVAC
/// `appointments`): all optional, stored and read back as given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppointmentDetails {
    /// The end (UTC; the HVAC seed's `end_time`).
    #[serde(default)]
    pub end_time: Option<Timestamp>,
    /// The length in minutes (the HPP seed's `duration_minutes`).
    #[serde(default)]
    pub duration_minutes: Option<u32>,
    /// The kind of visit, e.g. `consultation`, or a Cal.com event type slug.
    #[serde(default)]
    pub appointment_type: Option<String>,
    /// `in_person`, `phone`, `video`, … (free text, the seed's `location_type`).
    #[serde(default)]
    pub location_type: Option<String>,
    /// The address or meeting link.
    #[serde(default)]
    pub location_address: Option<String>,
    /// Notes from the customer.
    #[serde(default)]
    pub customer_notes: Option<String>,
    /// The follow-up agreed (the seed's `next_action`).
    #[serde(default)]
    pub next_action: Option<String>,
    /// When the follow-up is due (the seed's `next_action_date`, a calendar date).
    #[serde(default)]
    pub next_action_date: Option<jiff::civil::Date>,
    /// The Cal.com booking uid the appointment was created from (the HVAC seed's
    /// `cal_booking_uid`); later uids of its lineage are in the booking links.
    #[serde(default)]
    pub cal_booking_uid: Option<String>,
}

/// An appointment's lifecycle columns (beside its routing and forward status).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentLifecycle {
    /// The lifecycle status (`scheduled` at creation).
    #[serde(default)]
    pub status: AppointmentStatus,
    /// How many times it was rescheduled.
    #[serde(default)]
    pub reschedule_count: u32,
    /// The outcome noted on completion.
    #[serde(default)]
    pub outcome: Option<String>,
    /// The reason given on cancellation.
    #[serde(default)]
    pub cancellation_reason: Option<String>,
    /// The host asked the customer for a new time (Cal.com `requestReschedule`): the
    /// appointment is not billed as a show.
    #[serde(default)]
    pub reschedule_requested: bool,
    /// When the status last changed (UTC); `None` while it is the status at creation.
    #[serde(default)]
    pub status_changed_at: Option<Timestamp>,
}

/// One lifecycle write: the appointment's new [`Life`] and flags, applied only when the
/// stored status and reschedule count are still the expected ones (a compare-and-set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleUpdate {
    /// The status the caller read.
    pub expected_status: AppointmentStatus,
    /// The reschedule count the caller read.
    pub expected_reschedule_count: u32,
    /// The new start, end, status, count, outcome and cancellation reason.
    pub life: Life,
    /// The Cal.com `requestReschedule` flag.
    pub reschedule_requested: bool,
    /// When (UTC).
    pub at: Timestamp,
}

/// The most returns a workspace may make per billing period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnLimit {
    /// At most this many returns per period.
    Count(u32),
    /// At most this percentage (0–100) of the appointments charged in the period.
    Percent(f64),
}

/// A workspace's return policy (the distribution platforms' return rules: boberdoo,
/// LeadConduit and Phonexa each bound returns by a window, a reason list and a period cap).
///
/// The default accepts any reason at any time and approves at once, with no automatic
/// credits: the behavior of [`crate::engine::Engine::return_appointment`] before policies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReturnPolicy {
    /// Days after delivery (`forwarded_at`) a return may be requested; `None`: no limit.
    #[serde(default)]
    pub window_days: Option<u32>,
    /// The reasons accepted (exact, case-insensitive); empty: any reason.
    #[serde(default)]
    pub allowed_reasons: Vec<String>,
    /// The most returns per billing period (a calendar month, UTC), pending and approved
    /// returns counted; `None`: no limit.
    #[serde(default)]
    pub max_per_period: Option<ReturnLimit>,
    /// `true`: a return waits as `pending` until approved or denied; `false`: approved at
    /// once.
    #[serde(default)]
    pub review: bool,
    /// Credit a delivered appointment automatically when it is marked `no_show`.
    #[serde(default)]
    pub credit_no_show: bool,
    /// Credit a delivered appointment automatically when the customer cancels it less
    /// than this many hours before its start; `None`: never.
    #[serde(default)]
    pub credit_late_cancel_hours: Option<u32>,
}

/// A return to store: a workspace disputes an appointment it was charged for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewReturn {
    /// The appointment returned.
    pub appointment_id: AppointmentId,
    /// The workspace that returns it (one return per appointment and workspace).
    pub workspace_id: String,
    /// Why (one of the policy's reasons, or a system reason: `no_show`,
    /// `late_cancellation`, `reschedule_requested`).
    pub reason: String,
    /// Pending, approved or denied.
    pub status: ReturnStatus,
    /// Who asked (`api`, `client`, `system`, a user id).
    pub actor: String,
    /// The credit it is worth (negative cents: the charge reversed).
    #[serde(rename = "credit_cents")]
    pub credit: Cents,
    /// When it was requested (UTC).
    pub requested_at: Timestamp,
    /// When it was approved or denied (UTC).
    #[serde(default)]
    pub decided_at: Option<Timestamp>,
    /// A note on the decision.
    #[serde(default)]
    pub decision_note: Option<String>,
}

/// A stored return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRecord {
    /// Its id.
    pub id: ReturnId,
    /// Its fields.
    #[serde(flatten)]
    pub ret: NewReturn,
}

/// One Cal.com webhook delivery, stored as received (`calcom_booking_events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewBookingEvent {
    /// The inbound webhook config it came through.
    pub webhook_id: String,
    /// Its identity (trigger, uid, `createdAt`): a retried delivery has the same key.
    pub event_key: String,
    /// Cal.com's `triggerEvent`, as sent.
    pub trigger: String,
    /// The booking uid (`payload.uid`).
    pub uid: Option<String>,
    /// The previous uid of a rescheduled booking (`payload.rescheduleUid`).
    pub reschedule_uid: Option<String>,
    /// The event's `createdAt` (UTC).
    pub created_at: Timestamp,
    /// When leadroute received it (UTC).
    pub received_at: Timestamp,
    /// The exact body received.
    pub body: String,
}

/// A stored Cal.com booking event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingEvent {
    /// Its row id.
    pub id: i64,
    /// Its fields.
    #[serde(flatten)]
    pub event: NewBookingEvent,
}

/// Which stored rejections to reprocess; every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectionFilter {
    /// Rejections carrying this reason code.
    #[serde(default)]
    pub reason: Option<ReasonCode>,
    /// Rejections of this provider.
    #[serde(default)]
    pub provider_id: Option<String>,
    /// Received at or after (UTC).
    #[serde(default)]
    pub from: Option<Timestamp>,
    /// Received before (UTC).
    #[serde(default)]
    pub to: Option<Timestamp>,
}

/// A stored rejection with its reprocessing state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRejection {
    /// Its id.
    pub id: RejectionId,
    /// What was stored.
    #[serde(flatten)]
    pub rejection: NewRejection,
    /// The lead it became when reprocessed and accepted.
    #[serde(default)]
    pub lead_id: Option<LeadId>,
    /// When it was last reprocessed (UTC).
    #[serde(default)]
    pub reprocessed_at: Option<Timestamp>,
}
