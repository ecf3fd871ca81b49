//! The records of outreach: the contact queue (leads waiting to be called), its attempts,
//! the suppression list, and the scheduled-messages outbox with its send log.

use super::{AppointmentId, ContactId, LeadId};
use crate::status::{ContactOutcome, ContactStatus, MessageKind, MessageStatus};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The queue's settings (the HVAC seed's `settings` table: `automation_enabled`,
/// `max_calls_batch` 5, `retry_interval` 4 hours, `max_attempts` 3; the settings win over the
/// seed cron's hard-coded `call_attempts < 2`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSettings {
    /// Whether leads are handed out at all.
    #[serde(default = "yes")]
    pub automation_enabled: bool,
    /// The most leads one claim hands out.
    #[serde(default = "five")]
    pub max_batch: u32,
    /// Seconds between a no-answer and the next attempt.
    #[serde(default = "four_hours")]
    pub retry_interval_seconds: u32,
    /// Attempts before a lead is given up as `unreachable`.
    #[serde(default = "three")]
    pub max_attempts: u32,
}

fn yes() -> bool {
    true
}
fn five() -> u32 {
    5
}
fn three() -> u32 {
    3
}
fn four_hours() -> u32 {
    4 * 3600
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            automation_enabled: true,
            max_batch: 5,
            retry_interval_seconds: 4 * 3600,
            max_attempts: 3,
        }
    }
}

/// A lead entering the contact queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewQueueEntry {
    /// The lead (one entry per lead).
    pub lead_id: LeadId,
    /// Its contact.
    pub contact_id: ContactId,
    /// The number to call (E.164), if the lead has one.
    pub phone_e164: Option<String>,
    /// The lead's ZIP5.
    pub zip_code: String,
    /// The lead type (lowercase vertical), for per-type settings.
    pub lead_type: String,
    /// When it was received (UTC): the start of speed to lead.
    pub received_at: Timestamp,
    /// First due (UTC).
    pub next_attempt_at: Timestamp,
    /// The number was on the suppression list at intake (flagged, never dropped).
    pub suppressed: bool,
}

/// A lead in the contact queue (`contact_queue`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// What was enqueued.
    #[serde(flatten)]
    pub entry: NewQueueEntry,
    /// Where it stands.
    pub status: ContactStatus,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt (UTC).
    pub last_attempt_at: Option<Timestamp>,
    /// The worker holding it, while leased.
    pub worker: Option<String>,
    /// Lease expiry (UTC).
    pub locked_until: Option<Timestamp>,
    /// Why it is held back (`quiet_hours`, `unknown_zone`, `attempt_limit_24h`, …), while
    /// it waits for a reason other than its retry interval.
    pub hold_reason: Option<String>,
}

/// One contact attempt (`contact_attempts`, one row per attempt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactAttempt {
    /// The lead.
    pub lead_id: LeadId,
    /// 1-based.
    pub attempt_number: u32,
    /// When it was made (UTC).
    pub at: Timestamp,
    /// Its result.
    pub outcome: ContactOutcome,
    /// The caller's notes.
    pub notes: Option<String>,
    /// Who made it.
    pub worker: Option<String>,
}

/// The queue entry's state after an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueUpdate {
    /// The new status.
    pub status: ContactStatus,
    /// When it is due again (UTC), for a status that is retried.
    pub next_attempt_at: Option<Timestamp>,
}

/// An entry of the suppression list (`suppression_list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// The number (E.164), when known in clear.
    pub phone_e164: Option<String>,
    /// The lowercase hex SHA-256 of the E.164 text (always set: imported hashed lists
    /// carry only this).
    pub phone_sha256: String,
    /// `opt_out`, `not_interested`, `imported`.
    pub reason: String,
    /// Where it came from (a lead id, a file name).
    pub source: Option<String>,
    /// When (UTC).
    pub created_at: Timestamp,
}

/// A message to schedule (`scheduled_messages`), written in the transaction that books or
/// changes the appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessage {
    /// The appointment it is about.
    pub appointment_id: AppointmentId,
    /// Its lead.
    pub lead_id: LeadId,
    /// Confirmation or reminder.
    pub kind: MessageKind,
    /// The recipient (E.164 phone).
    pub to: String,
    /// What to say: a small JSON object the transport renders (appointment time, workspace,
    /// kind, offset).
    pub body: serde_json::Value,
    /// When to send (UTC).
    pub send_at: Timestamp,
    /// When it was scheduled (UTC).
    pub created_at: Timestamp,
}

/// A stored scheduled message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Its id.
    pub id: super::MessageId,
    /// What was scheduled.
    #[serde(flatten)]
    pub message: NewMessage,
    /// Where it stands.
    pub status: MessageStatus,
    /// Tries made.
    pub tries: u32,
    /// Due (UTC): `send_at`, or the next retry.
    pub next_try_at: Timestamp,
    /// Lease expiry while a sender holds it (UTC).
    pub locked_until: Option<Timestamp>,
}

/// One send try (`message_logs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageLog {
    /// The message.
    pub message_id: super::MessageId,
    /// 1-based try number (a suppressed message logs try 1 as `suppressed`).
    pub try_number: u32,
    /// When (UTC).
    pub at: Timestamp,
    /// `sent`, `failed` or `suppressed`.
    pub status: MessageStatus,
    /// The provider's message id on success.
    pub provider_message_id: Option<String>,
    /// The error on failure.
    pub error: Option<String>,
}

/// A message's state after a try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageNext {
    /// Done: sent, failed for good, or suppressed.
    Done(MessageStatus),
    /// Try again at this time (UTC).
    Retry(Timestamp),
}

/// A workspace's messaging policy (opt-in: a workspace without one gets no messages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePolicy {
    /// Send a confirmation at booking.
    #[serde(default = "yes")]
    pub confirmation: bool,
    /// Reminders, in minutes before the start. Default `[1440, 60]` (24 h and 1 h).
    #[serde(default = "default_offsets")]
    pub reminder_offsets_minutes: Vec<u32>,
    /// Seconds to wait after each failed try; the message fails for good after the last.
    /// Default `[60, 300, 1800]`.
    #[serde(default = "default_backoff")]
    pub retry_backoff_seconds: Vec<u32>,
}

fn default_offsets() -> Vec<u32> {
    vec![24 * 60, 60]
}
fn default_backoff() -> Vec<u32> {
    vec![60, 300, 1800]
}

impl Default for MessagePolicy {
    fn default() -> Self {
        MessagePolicy {
            confirmation: true,
            reminder_offsets_minutes: default_offsets(),
            retry_backoff_seconds: default_backoff(),
        }
    }
}
