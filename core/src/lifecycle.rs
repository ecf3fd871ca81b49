//! The appointment lifecycle: a pure state machine over the seed statuses.
//!
//! The HPP and Convio seeds give an appointment the statuses `scheduled → confirmed →
//! completed / cancelled / no_show / rescheduled`, and an `appointment_events` row per
//! change with its old and new values and who made it. This module decides; the engine
//! (`engine::lifecycle`) applies a decision in one transaction with its event row, its
//! client webhook and its billing consequence.
//!
//! # Behavior
//!
//! | from \ transition | confirm | reschedule | cancel | complete | no-show |
//! | --- | --- | --- | --- | --- | --- |
//! | `scheduled` | `confirmed` | `rescheduled` | `cancelled` | `completed` | `no_show` |
//! | `confirmed` | no-op | `rescheduled` | `cancelled` | `completed` | `no_show` |
//! | `rescheduled` | `confirmed` | `rescheduled` | `cancelled` | `completed` | `no_show` |
//! | `completed` | invalid | invalid | invalid | no-op | `no_show` |
//! | `no_show` | invalid | invalid | invalid | `completed` | no-op |
//! | `cancelled` | invalid | invalid | no-op | invalid | invalid |
//!
//! - A reschedule keeps the appointment (and its id), moves its start (and end), counts
//!   reschedules, and leaves the status `rescheduled`, a live status with history.
//!   Rescheduling to the time it already has is a no-op.
//! - Repeating a transition whose result is the current state is a no-op, not an error.
//! - `completed ↔ no_show` is an outcome correction: Cal.com marks attendees no-show after
//!   the meeting ended, and can unmark them.
//! - A cancelled appointment is never revived.
//! - An invalid transition is [`LifecycleError::InvalidTransition`] (kind `Conflict`, code
//!   `invalid_transition`): the caller writes nothing.

use crate::kind::ErrorKind;
use crate::status::{AppointmentStatus, EventKind, WebhookEventType};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

/// Who made a change: `api`, `client` (the workspace), `calcom`, `system` (a policy or a
/// job), or a user id the caller passes. Stored as its text in `appointment_events`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Actor {
    /// A call through the library or service API (the default).
    #[default]
    Api,
    /// The client workspace that received the appointment.
    Client,
    /// A Cal.com booking webhook.
    Calcom,
    /// leadroute itself (a policy, a reconciliation).
    System,
    /// A named user (any other non-empty text).
    User(String),
}

impl Actor {
    /// The stored text: `api`, `client`, `calcom`, `system`, or the user id.
    pub fn as_str(&self) -> &str {
        match self {
            Actor::Api => "api",
            Actor::Client => "client",
            Actor::Calcom => "calcom",
            Actor::System => "system",
            Actor::User(id) => id,
        }
    }

    /// Reads an actor: the four reserved words, else a user id. Blank text is `api`.
    pub fn parse(text: &str) -> Actor {
        match text.trim() {
            "" | "api" => Actor::Api,
            "client" => Actor::Client,
            "calcom" => Actor::Calcom,
            "system" => Actor::System,
            other => Actor::User(other.to_string()),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Actor::parse(&s))
    }
}

/// A requested change to an appointment's lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "transition", rename_all = "snake_case")]
pub enum Transition {
    /// Confirm the appointment.
    Confirm,
    /// Move it to `start` (UTC); `end` when known, else the old duration is kept.
    Reschedule {
        /// The new start (UTC).
        start: Timestamp,
        /// The new end (UTC), if known.
        end: Option<Timestamp>,
    },
    /// Cancel it, with an optional reason (the HVAC seed's `cancellation_reason`).
    Cancel {
        /// Why, free text.
        reason: Option<String>,
    },
    /// Mark it completed, with an optional outcome (the seed's `outcome`).
    Complete {
        /// What came of it, free text.
        outcome: Option<String>,
    },
    /// Mark the customer a no-show.
    NoShow,
}

impl Transition {
    /// The transition's name: `confirm`, `reschedule`, `cancel`, `complete`, `no_show`.
    pub fn name(&self) -> &'static str {
        match self {
            Transition::Confirm => "confirm",
            Transition::Reschedule { .. } => "reschedule",
            Transition::Cancel { .. } => "cancel",
            Transition::Complete { .. } => "complete",
            Transition::NoShow => "no_show",
        }
    }

    /// The status it leads to.
    pub fn target(&self) -> AppointmentStatus {
        match self {
            Transition::Confirm => AppointmentStatus::Confirmed,
            Transition::Reschedule { .. } => AppointmentStatus::Rescheduled,
            Transition::Cancel { .. } => AppointmentStatus::Cancelled,
            Transition::Complete { .. } => AppointmentStatus::Completed,
            Transition::NoShow => AppointmentStatus::NoShow,
        }
    }
}

/// The `appointment_events` kind and the client webhook type of a change that ends in
/// `status`: `scheduled` has none (it is the start state), every other status one.
pub fn kinds_for(status: AppointmentStatus) -> Option<(EventKind, WebhookEventType)> {
    Some(match status {
        AppointmentStatus::Scheduled => return None,
        AppointmentStatus::Confirmed => {
            (EventKind::Confirmed, WebhookEventType::AppointmentConfirmed)
        }
        AppointmentStatus::Rescheduled => (
            EventKind::Rescheduled,
            WebhookEventType::AppointmentRescheduled,
        ),
        AppointmentStatus::Cancelled => {
            (EventKind::Cancelled, WebhookEventType::AppointmentCancelled)
        }
        AppointmentStatus::Completed => {
            (EventKind::Completed, WebhookEventType::AppointmentCompleted)
        }
        AppointmentStatus::NoShow => (EventKind::NoShow, WebhookEventType::AppointmentNoShow),
    })
}

/// What the lifecycle tracks of an appointment (columns of `appointments`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Life {
    /// The lifecycle status.
    pub status: AppointmentStatus,
    /// The start (UTC; the seed's `appointment_date` / `start_time`).
    pub start: Timestamp,
    /// The end (UTC; the HVAC seed's `end_time`), when known.
    pub end: Option<Timestamp>,
    /// How many times it was rescheduled.
    pub reschedule_count: u32,
    /// The outcome noted on completion.
    pub outcome: Option<String>,
    /// The reason given on cancellation.
    pub cancellation_reason: Option<String>,
}

impl Life {
    /// A new appointment's life: `scheduled` at `start`.
    pub fn scheduled(start: Timestamp, end: Option<Timestamp>) -> Life {
        Life {
            status: AppointmentStatus::Scheduled,
            start,
            end,
            reschedule_count: 0,
            outcome: None,
            cancellation_reason: None,
        }
    }

    /// Whether the state is one the machine can reach: `rescheduled` has a count of at
    /// least 1, a cancellation reason only on `cancelled`, an outcome only on `completed`
    /// or `no_show`, and the end is not before the start.
    pub fn is_consistent(&self) -> bool {
        (self.status != AppointmentStatus::Rescheduled || self.reschedule_count >= 1)
            && (self.cancellation_reason.is_none() || self.status == AppointmentStatus::Cancelled)
            && (self.outcome.is_none()
                || matches!(
                    self.status,
                    AppointmentStatus::Completed | AppointmentStatus::NoShow
                ))
            && self.end.is_none_or(|e| e >= self.start)
    }
}

/// An invalid lifecycle transition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// The transition is not allowed from the current status (see the module table).
    #[error("cannot {transition} an appointment that is {from}")]
    InvalidTransition {
        /// The current status.
        from: AppointmentStatus,
        /// The transition's name.
        transition: &'static str,
    },
    /// A reschedule whose end is before its start.
    #[error("the end {end} is before the start {start}")]
    EndBeforeStart {
        /// The requested start (UTC).
        start: Timestamp,
        /// The requested end (UTC).
        end: Timestamp,
    },
}

impl LifecycleError {
    /// `Conflict` for an invalid transition, `InvalidInput` for a bad time range.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LifecycleError::InvalidTransition { .. } => ErrorKind::Conflict,
            LifecycleError::EndBeforeStart { .. } => ErrorKind::InvalidInput,
        }
    }

    /// `invalid_transition` or `end_before_start`.
    pub fn code(&self) -> &'static str {
        match self {
            LifecycleError::InvalidTransition { .. } => "invalid_transition",
            LifecycleError::EndBeforeStart { .. } => "end_before_start",
        }
    }
}

/// Applies `transition` to `life` (see the module table).
///
/// Returns `Ok(None)` for a no-op (the appointment already is what the transition asks),
/// `Ok(Some(next))` for a change.
///
/// # Errors
///
/// [`LifecycleError::InvalidTransition`] when the transition is not allowed from the current
/// status; [`LifecycleError::EndBeforeStart`] for a reschedule whose end precedes its start.
pub fn apply(life: &Life, transition: &Transition) -> Result<Option<Life>, LifecycleError> {
    use AppointmentStatus as S;
    let invalid = || LifecycleError::InvalidTransition {
        from: life.status,
        transition: transition.name(),
    };
    let target = transition.target();
    if life.status == target && !matches!(transition, Transition::Reschedule { .. }) {
        return Ok(None);
    }
    let allowed = match (life.status, transition) {
        (s, _) if s.is_live() => true,
        (S::Completed, Transition::NoShow) | (S::NoShow, Transition::Complete { .. }) => true,
        _ => false,
    };
    if !allowed {
        return Err(invalid());
    }
    let mut next = life.clone();
    next.status = target;
    match transition {
        Transition::Confirm | Transition::NoShow => {}
        Transition::Reschedule { start, end } => {
            let end = match end {
                Some(e) => Some(*e),
                // Keep the duration.
                None => life.end.map(|e| *start + life.start.duration_until(e)),
            };
            if let Some(e) = end {
                if e < *start {
                    return Err(LifecycleError::EndBeforeStart {
                        start: *start,
                        end: e,
                    });
                }
            }
            if *start == life.start && end == life.end {
                return Ok(None);
            }
            next.start = *start;
            next.end = end;
            next.reschedule_count = life.reschedule_count.saturating_add(1);
        }
        Transition::Cancel { reason } => next.cancellation_reason = reason.clone(),
        Transition::Complete { outcome } => {
            if outcome.is_some() {
                next.outcome = outcome.clone();
            }
        }
    }
    Ok(Some(next))
}

/// Applies identified transitions in order: a repeated id is skipped (a redelivered event),
/// an invalid transition leaves the state as it is. Returns the final state.
///
/// This is how a stream of events with identities (Cal.com deliveries, queued API calls)
/// settles: duplicates never count twice.
pub fn apply_all<'a, I>(start: &Life, events: I) -> Life
where
    I: IntoIterator<Item = (&'a str, &'a Transition)>,
{
    let mut seen = HashSet::new();
    let mut life = start.clone();
    for (id, t) in events {
        if !seen.insert(id) {
            continue;
        }
        if let Ok(Some(next)) = apply(&life, t) {
            life = next;
        }
    }
    life
}

/// The event kind that describes a move from `before` to `after` (for a change computed
/// rather than requested, e.g. a Cal.com reconciliation): the new status's kind, or
/// `rescheduled` when only the time moved. `None` when nothing changed.
pub fn change_kind(before: &Life, after: &Life) -> Option<(EventKind, WebhookEventType)> {
    if before == after {
        return None;
    }
    if before.status != after.status {
        return kinds_for(after.status).or(Some((
            EventKind::Updated,
            WebhookEventType::AppointmentRescheduled,
        )));
    }
    if before.start != after.start || before.end != after.end {
        return kinds_for(AppointmentStatus::Rescheduled);
    }
    Some((EventKind::Updated, webhook_for(after.status)))
}

fn webhook_for(status: AppointmentStatus) -> WebhookEventType {
    kinds_for(status)
        .map(|(_, w)| w)
        .unwrap_or(WebhookEventType::AppointmentConfirmed)
}

#[cfg(test)]
mod tests;
