//! The contact queue's pure rules: which leads need contact, what an attempt's outcome does,
//! and the speed-to-lead metrics.
//!
//! The HVAC seed runs a cron over `leads WHERE status = 'pending' AND (last_called_at IS NULL
//! OR last_called_at < now() - interval '4 hours') AND call_attempts < 2 LIMIT 5`, with
//! statuses `pending → calling → no_answer | scheduled | not_interested` and a `settings`
//! table (`max_calls_batch` 5, `retry_interval` 4 hours, `max_attempts` 3). Here the queue is
//! a table of its own, claimed with leases (`engine::contact_queue`), and the settings win
//! over the cron's hard-coded `< 2`.
//!
//! # Behavior
//!
//! | outcome | next status | due again |
//! | --- | --- | --- |
//! | `no_answer` | `no_answer`, or `unreachable` once `max_attempts` are used | after `retry_interval` |
//! | `scheduled` | `scheduled` (done) | — |
//! | `not_interested` | `not_interested` (done) | — |
//! | `unreachable` | `unreachable` (done) | — |
//! | `do_not_contact` | `do_not_contact` (done; the number is suppressed) | — |

use crate::model::{QueueSettings, QueueUpdate};
use crate::status::{ContactOutcome, ContactStatus};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which leads enter the queue, and the settings per lead type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactQueueConfig {
    /// Lead types that need contact even with an appointment time; by default only leads
    /// without an appointment time do (they are not appointments yet).
    #[serde(default)]
    pub always_contact: Vec<String>,
    /// Lead types that never enter the queue.
    #[serde(default)]
    pub never_contact: Vec<String>,
    /// The global settings.
    #[serde(default)]
    pub settings: QueueSettings,
    /// Settings per lead type (lowercase), replacing the global ones.
    #[serde(default)]
    pub per_lead_type: BTreeMap<String, QueueSettings>,
}

impl ContactQueueConfig {
    /// Whether a new lead of `lead_type` enters the queue: not a duplicate, not a type that
    /// is never contacted, and either without an appointment time or of a type always
    /// contacted.
    pub fn needs_contact(&self, lead_type: &str, has_appointment: bool, duplicate: bool) -> bool {
        !duplicate
            && !self.never_contact.iter().any(|t| t == lead_type)
            && (!has_appointment || self.always_contact.iter().any(|t| t == lead_type))
    }

    /// The settings that apply to `lead_type`.
    pub fn settings_for(&self, lead_type: &str) -> &QueueSettings {
        self.per_lead_type.get(lead_type).unwrap_or(&self.settings)
    }
}

/// The queue entry's next state after attempt number `attempt_number` (1-based) had
/// `outcome` at `at` (see the module table).
pub fn after_attempt(
    settings: &QueueSettings,
    attempt_number: u32,
    outcome: ContactOutcome,
    at: Timestamp,
) -> QueueUpdate {
    let done = |status| QueueUpdate {
        status,
        next_attempt_at: None,
    };
    match outcome {
        ContactOutcome::NoAnswer if attempt_number >= settings.max_attempts => {
            done(ContactStatus::Unreachable)
        }
        ContactOutcome::NoAnswer => QueueUpdate {
            status: ContactStatus::NoAnswer,
            next_attempt_at: Some(
                at + SignedDuration::from_secs(i64::from(settings.retry_interval_seconds)),
            ),
        },
        ContactOutcome::Scheduled => done(ContactStatus::Scheduled),
        ContactOutcome::NotInterested => done(ContactStatus::NotInterested),
        ContactOutcome::Unreachable => done(ContactStatus::Unreachable),
        ContactOutcome::DoNotContact => done(ContactStatus::DoNotContact),
    }
}

/// Speed to lead over the leads received in a period (`contact_metrics`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactMetrics {
    /// Leads that entered the queue.
    pub leads: u64,
    /// Leads attempted at least once.
    pub contacted: u64,
    /// Median seconds from receipt to first attempt (attempted leads).
    pub first_attempt_p50_seconds: Option<f64>,
    /// 90th percentile of the same.
    pub first_attempt_p90_seconds: Option<f64>,
    /// `contacted / leads`.
    pub contact_rate: f64,
    /// Attempts per lead (all leads).
    pub attempts_per_lead: f64,
    /// Leads that ended `scheduled` over `leads`: lead-to-appointment.
    pub appointment_rate: f64,
}

/// Computes [`ContactMetrics`] from `(seconds to first attempt or None, attempts, status)`
/// per lead. Percentiles are nearest-rank.
pub fn metrics(leads: &[(Option<f64>, u32, ContactStatus)]) -> ContactMetrics {
    let n = leads.len() as u64;
    if n == 0 {
        return ContactMetrics::default();
    }
    let mut firsts: Vec<f64> = leads.iter().filter_map(|(f, _, _)| *f).collect();
    firsts.sort_by(f64::total_cmp);
    let rank = |p: f64| -> Option<f64> {
        if firsts.is_empty() {
            return None;
        }
        let k = ((p * firsts.len() as f64).ceil() as usize).clamp(1, firsts.len());
        Some(firsts[k - 1])
    };
    let attempts: u64 = leads.iter().map(|(_, a, _)| u64::from(*a)).sum();
    let scheduled = leads
        .iter()
        .filter(|(_, _, s)| *s == ContactStatus::Scheduled)
        .count();
    ContactMetrics {
        leads: n,
        contacted: firsts.len() as u64,
        first_attempt_p50_seconds: rank(0.5),
        first_attempt_p90_seconds: rank(0.9),
        contact_rate: firsts.len() as f64 / n as f64,
        attempts_per_lead: attempts as f64 / n as f64,
        appointment_rate: scheduled as f64 / n as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn outcomes_move_the_entry_and_the_settings_cap_attempts() {
        let s = QueueSettings::default();
        let at = t("2026-03-02T15:00:00Z");
        assert_eq!(
            after_attempt(&s, 1, ContactOutcome::NoAnswer, at),
            QueueUpdate {
                status: ContactStatus::NoAnswer,
                next_attempt_at: Some(t("2026-03-02T19:00:00Z"))
            }
        );
        assert_eq!(
            after_attempt(&s, 2, ContactOutcome::NoAnswer, at).status,
            ContactStatus::NoAnswer,
            "the settings (3) win over the seed cron's `< 2`"
        );
        assert_eq!(
            after_attempt(&s, 3, ContactOutcome::NoAnswer, at).status,
            ContactStatus::Unreachable
        );
        for (o, st) in [
            (ContactOutcome::Scheduled, ContactStatus::Scheduled),
            (ContactOutcome::NotInterested, ContactStatus::NotInterested),
            (ContactOutcome::Unreachable, ContactStatus::Unreachable),
            (ContactOutcome::DoNotContact, ContactStatus::DoNotContact),
        ] {
            let u = after_attempt(&s, 1, o, at);
            assert_eq!((u.status, u.next_attempt_at), (st, None));
        }
    }

    #[test]
    fn who_needs_contact() {
        let c = ContactQueueConfig {
            always_contact: vec!["insurance".into()],
            never_contact: vec!["gutters".into()],
            ..Default::default()
        };
        assert!(c.needs_contact("solar", false, false));
        assert!(!c.needs_contact("solar", true, false));
        assert!(c.needs_contact("insurance", true, false));
        assert!(!c.needs_contact("gutters", false, false));
        assert!(
            !c.needs_contact("solar", false, true),
            "duplicates are not called"
        );
    }

    #[test]
    fn metrics_percentiles_and_rates() {
        let leads = vec![
            (Some(60.0), 1, ContactStatus::Scheduled),
            (Some(120.0), 2, ContactStatus::NoAnswer),
            (Some(600.0), 3, ContactStatus::Unreachable),
            (None, 0, ContactStatus::Pending),
        ];
        let m = metrics(&leads);
        assert_eq!((m.leads, m.contacted), (4, 3));
        assert_eq!(m.first_attempt_p50_seconds, Some(120.0));
        assert_eq!(m.first_attempt_p90_seconds, Some(600.0));
        assert_eq!(m.contact_rate, 0.75);
        assert_eq!(m.attempts_per_lead, 1.5);
        assert_eq!(m.appointment_rate, 0.25);
        assert_eq!(metrics(&[]), ContactMetrics::default());
    }
}
