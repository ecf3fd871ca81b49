//! Reminders and messages: what to send when, and how a send is tried.
//!
//! The survey/booking seed writes `scheduled_messages` for one day and one hour before an
//! appointment, a scheduler sends them when due, and every send is logged in
//! `message_logs`. Here the messages are written in the transaction that books or changes
//! the appointment (`engine::messages`), sent through a [`MessageTransport`] the embedder
//! provides (SMS, WhatsApp and email are theirs), and tried with backoff.
//!
//! # Behavior
//!
//! - A confirmation is due at booking; a reminder at each offset before the start
//!   (default 24 h and 1 h), only when that instant is still ahead.
//! - A reminder that falls inside the recipient's quiet hours moves to the last allowed
//!   instant before it (the engine passes the quiet-hours shift); one that cannot move
//!   before its time and after now is not scheduled.
//! - A failed send is tried again after the policy's backoff (1 min, 5 min, 30 min by
//!   default), then given up.

pub use crate::model::MessagePolicy;
use crate::model::{AppointmentId, LeadId, MessageId, MessageNext};
use crate::status::{MessageKind, MessageStatus};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use std::sync::Mutex;

/// One message planned for an appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Confirmation or reminder.
    pub kind: MessageKind,
    /// When to send (UTC), after any quiet-hours shift.
    pub send_at: Timestamp,
    /// The reminder's offset before the start (minutes); `None` for a confirmation.
    pub offset_minutes: Option<u32>,
}

/// The messages of an appointment starting at `start`, booked or changed at `now`.
/// `shift(t)` is the last instant at or before `t` the recipient may be contacted (`None`
/// when none is known); `with_confirmation` is false for a reschedule (only the reminders
/// move).
pub fn plan(
    policy: &MessagePolicy,
    start: Timestamp,
    now: Timestamp,
    with_confirmation: bool,
    shift: impl Fn(Timestamp) -> Option<Timestamp>,
) -> Vec<Planned> {
    let mut out = Vec::new();
    if policy.confirmation && with_confirmation {
        out.push(Planned {
            kind: MessageKind::Confirmation,
            send_at: now,
            offset_minutes: None,
        });
    }
    for &m in &policy.reminder_offsets_minutes {
        let due = start - SignedDuration::from_mins(i64::from(m));
        if due <= now {
            continue;
        }
        match shift(due) {
            Some(at) if at > now => out.push(Planned {
                kind: MessageKind::Reminder,
                send_at: at,
                offset_minutes: Some(m),
            }),
            _ => {}
        }
    }
    out
}

/// The message's next state after try `try_number` (1-based) failed at `at`.
pub fn after_failure(policy: &MessagePolicy, try_number: u32, at: Timestamp) -> MessageNext {
    match policy
        .retry_backoff_seconds
        .get(try_number.saturating_sub(1) as usize)
    {
        Some(&s) => MessageNext::Retry(at + SignedDuration::from_secs(i64::from(s))),
        None => MessageNext::Done(MessageStatus::Failed),
    }
}

/// A message as the transport receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutgoingMessage {
    /// The message (the idempotency key of a send: the same id on a retry).
    pub id: MessageId,
    /// The appointment it is about.
    pub appointment_id: AppointmentId,
    /// Its lead.
    pub lead_id: LeadId,
    /// Confirmation or reminder.
    pub kind: MessageKind,
    /// The recipient (E.164).
    pub to: String,
    /// What to say (the appointment's time, workspace, kind and offset), to render.
    pub body: serde_json::Value,
    /// This try's number (1-based).
    pub try_number: u32,
}

/// Sends messages: SMS, WhatsApp or email, the embedder's.
pub trait MessageTransport: Send + Sync {
    /// Sends one message; returns the provider's message id.
    ///
    /// # Errors
    ///
    /// Any failure, as text (it is logged and the message retried per the policy).
    fn send(&self, message: &OutgoingMessage) -> Result<String, String>;
}

/// A transport that records what it is given and answers from a script: for tests and the
/// main job.
#[derive(Debug, Default)]
pub struct RecordingTransport {
    sent: Mutex<Vec<OutgoingMessage>>,
    failures: Mutex<Vec<String>>,
}

impl RecordingTransport {
    /// A transport that accepts everything.
    pub fn new() -> RecordingTransport {
        RecordingTransport::default()
    }

    /// A transport whose next sends fail with these errors, in order, then accept.
    pub fn failing(errors: &[&str]) -> RecordingTransport {
        RecordingTransport {
            sent: Mutex::new(Vec::new()),
            failures: Mutex::new(errors.iter().map(|e| e.to_string()).collect()),
        }
    }

    /// Every message given to it, in order, failed tries included.
    pub fn sent(&self) -> Vec<OutgoingMessage> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl MessageTransport for RecordingTransport {
    fn send(&self, message: &OutgoingMessage) -> Result<String, String> {
        if let Ok(mut s) = self.sent.lock() {
            s.push(message.clone());
        }
        let failure = self.failures.lock().ok().and_then(|mut f| {
            if f.is_empty() {
                None
            } else {
                Some(f.remove(0))
            }
        });
        match failure {
            Some(e) => Err(e),
            None => Ok(format!("rec_{}_{}", message.id, message.try_number)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_confirmation_now_and_reminders_ahead() {
        let p = MessagePolicy::default();
        let start = t("2026-03-10T15:00:00Z");
        let now = t("2026-03-02T15:00:00Z");
        let plan = plan(&p, start, now, true, Some);
        let got: Vec<(MessageKind, Timestamp)> = plan.iter().map(|m| (m.kind, m.send_at)).collect();
        assert_eq!(
            got,
            [
                (MessageKind::Confirmation, now),
                (MessageKind::Reminder, t("2026-03-09T15:00:00Z")),
                (MessageKind::Reminder, t("2026-03-10T14:00:00Z")),
            ]
        );
        // Two hours before: the day-before reminder has passed; a reschedule has no
        // confirmation.
        let late = plan_at(&p, start, t("2026-03-10T13:00:00Z"));
        assert_eq!(late, [t("2026-03-10T14:00:00Z")]);
    }

    fn plan_at(p: &MessagePolicy, start: Timestamp, now: Timestamp) -> Vec<Timestamp> {
        plan(p, start, now, false, Some)
            .into_iter()
            .map(|m| m.send_at)
            .collect()
    }

    #[test]
    fn quiet_hours_move_reminders_earlier_or_drop_them() {
        let p = MessagePolicy::default();
        let start = t("2026-03-10T12:00:00Z");
        let now = t("2026-03-02T12:00:00Z");
        // Nothing allowed after 01:00 UTC that night: the reminder moves back.
        let shifted = plan(&p, start, now, false, |at| {
            Some(at.min(t("2026-03-10T01:00:00Z")))
        });
        assert_eq!(shifted[1].send_at, t("2026-03-10T01:00:00Z"));
        // A reminder that would have to move before now is dropped.
        let none = plan(&p, start, t("2026-03-10T10:30:00Z"), false, |_| {
            Some(t("2026-03-10T10:00:00Z"))
        });
        assert!(none.is_empty());
    }

    #[test]
    fn failures_back_off_then_give_up() {
        let p = MessagePolicy::default();
        let at = t("2026-03-02T12:00:00Z");
        assert_eq!(
            after_failure(&p, 1, at),
            MessageNext::Retry(t("2026-03-02T12:01:00Z"))
        );
        assert_eq!(
            after_failure(&p, 3, at),
            MessageNext::Retry(t("2026-03-02T12:30:00Z"))
        );
        assert_eq!(
            after_failure(&p, 4, at),
            MessageNext::Done(MessageStatus::Failed)
        );
    }

    #[test]
    fn the_recording_transport_fails_as_scripted() {
        let tr = RecordingTransport::failing(&["timeout"]);
        let m = OutgoingMessage {
            id: MessageId(1),
            appointment_id: AppointmentId(1),
            lead_id: LeadId(1),
            kind: MessageKind::Reminder,
            to: "+13178638426".into(),
            body: serde_json::json!({}),
            try_number: 1,
        };
        assert_eq!(tr.send(&m), Err("timeout".to_string()));
        assert_eq!(tr.send(&m), Ok("rec_1_1".to_string()));
        assert_eq!(tr.sent().len(), 2);
    }
}
