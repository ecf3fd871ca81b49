//! The contact queue: leads without an appointment wait here to be called; workers claim
//! batches with leases; every claim keeps the calling rules; attempts are recorded.
//!
//! A claim takes due entries oldest first ([`ContactQueueRepo::claim_contacts`], leased in
//! one statement, so two workers, threads or processes never get the same lead and a dead
//! worker's leads come back when the lease expires), then keeps only the leads that may be
//! called now and puts the others back with the reason and the time they may be:
//!
//! - a number on the suppression list: `do_not_contact` (flagged at intake, or listed since);
//! - no phone: `unreachable`;
//! - attempts used up: `unreachable`;
//! - quiet hours (47 CFR §64.1200(c)(1), 8:00–21:00 local; stricter state rules from the
//!   bundled data), in the ZIP's zone *and* the area code's: due again when both allow;
//! - no zone from either: held (`unknown_zone`), looked at again a day later, never called;
//! - a state's attempts per 24 hours on the same person used up: due when one expires.

use super::audit::Audit;
use super::Engine;
use crate::contact_queue::{self, ContactMetrics};
use crate::model::*;
use crate::quiet_hours::{self, CallWindow};
use crate::status::{ContactOutcome, ContactStatus};
use crate::storage::{with_tx, Tx};
use crate::suppression;
use crate::zip::Zip5;
use crate::{Error, Result};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// A lead handed to a worker to call now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimedContact {
    /// The lead.
    pub lead_id: LeadId,
    /// Its contact.
    pub contact_id: ContactId,
    /// The number to call (E.164).
    pub phone: String,
    /// The lead's ZIP5.
    pub zip_code: String,
    /// Its lead type.
    pub lead_type: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// The called party's local time now (the ZIP's zone, else the area code's).
    pub local_time: Option<jiff::Zoned>,
    /// When the lead was received (UTC).
    pub received_at: Timestamp,
}

/// What importing a suppression list did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SuppressionImport {
    /// Entries added.
    pub added: u64,
    /// Entries already listed.
    pub already_listed: u64,
    /// Lines that were neither a number nor a SHA-256 hash: `(line number, reason)`.
    pub rejected_lines: Vec<(usize, String)>,
}

/// Rounds of claiming a batch may take while leads are held back.
const MAX_CLAIM_ROUNDS: usize = 16;

/// How long a lead whose zone cannot be determined waits before it is looked at again.
const HOLD_RECHECK: SignedDuration = SignedDuration::from_hours(24);

impl Engine {
    /// Claims up to `limit` leads (at most the settings' `max_batch`) to call at `now`
    /// (UTC; the engine's clock when `None`) for `worker` (see the module docs). Empty when
    /// `automation_enabled` is off.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn claim_contact_batch(
        &self,
        now: Option<Timestamp>,
        limit: usize,
        worker: &str,
    ) -> Result<Vec<ClaimedContact>> {
        let queue = &self.config.contact_queue;
        if !queue.settings.automation_enabled {
            return Ok(Vec::new());
        }
        let now = now.unwrap_or_else(|| self.now());
        let limit = limit.min(queue.settings.max_batch as usize);
        let lease_until = now + self.config.contact_lease;
        let mut out = Vec::new();
        for _ in 0..MAX_CLAIM_ROUNDS {
            if out.len() >= limit {
                break;
            }
            let round = with_tx(&*self.store, |tx| {
                let claimed = tx.claim_contacts(now, limit - out.len(), lease_until, worker)?;
                let mut kept = Vec::new();
                for e in &claimed {
                    if let Some(c) = self.screen(tx, e, now)? {
                        kept.push(c);
                    }
                }
                Ok((claimed.len(), kept))
            })?;
            let (claimed, kept) = round;
            out.extend(kept);
            if claimed == 0 {
                break;
            }
        }
        Ok(out)
    }

    /// Keeps a claimed entry when it may be called now, or puts it back (see the module
    /// docs).
    fn screen(
        &self,
        tx: &dyn Tx,
        e: &QueueEntry,
        now: Timestamp,
    ) -> Result<Option<ClaimedContact>> {
        let lead_id = e.entry.lead_id;
        let settings = self.config.contact_queue.settings_for(&e.entry.lead_type);
        let done = |status, why: &str| -> Result<Option<ClaimedContact>> {
            tx.defer_contact(lead_id, now, Some(why), Some(status))?;
            Ok(None)
        };
        let later = |at: Timestamp, why: &str| -> Result<Option<ClaimedContact>> {
            tx.defer_contact(lead_id, at, Some(why), None)?;
            Ok(None)
        };
        if !settings.automation_enabled {
            return later(now + SignedDuration::from_hours(1), "automation_disabled");
        }
        let Some(phone) = e.entry.phone_e164.clone() else {
            return done(ContactStatus::Unreachable, "no_phone");
        };
        if e.attempts >= settings.max_attempts {
            return done(ContactStatus::Unreachable, "max_attempts");
        }
        if e.entry.suppressed || tx.is_suppressed(&suppression::phone_hash(&phone))? {
            return done(ContactStatus::DoNotContact, "suppressed");
        }
        let zip = Zip5::parse(&e.entry.zip_code).ok();
        let zones = quiet_hours::call_zones(&self.zips, self.area_zones(), zip, Some(&phone));
        let rules = self.contact_rules()?;
        match quiet_hours::check(rules, &zones, now) {
            CallWindow::Allowed => {}
            CallWindow::NotBefore(at) => return later(at, "quiet_hours"),
            CallWindow::Held(reason) => return later(now + HOLD_RECHECK, reason.code()),
        }
        let day_ago = now - SignedDuration::from_hours(24);
        let recent = tx.contact_attempt_times(e.entry.contact_id, day_ago)?;
        if let Err(at) = quiet_hours::attempts_check(rules, zones.state.as_deref(), &recent, now) {
            return later(at, "attempt_limit_24h");
        }
        let local_time = zones
            .zip_zone
            .iter()
            .chain(zones.area_zones.iter())
            .next()
            .and_then(|z| now.in_tz(z).ok());
        Ok(Some(ClaimedContact {
            lead_id,
            contact_id: e.entry.contact_id,
            phone,
            zip_code: e.entry.zip_code.clone(),
            lead_type: e.entry.lead_type.clone(),
            attempts: e.attempts,
            local_time,
            received_at: e.entry.received_at,
        }))
    }

    /// Records the result of a call to a queued lead at `at` (UTC; the clock when `None`),
    /// with the caller's notes: one `contact_attempts` row, the entry's next state
    /// ([`contact_queue::after_attempt`]), and, for `do_not_contact`, the number on the
    /// suppression list. Returns the entry as it is now.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] (`unknown_lead`) for a lead not in the queue; storage errors.
    pub fn record_contact_attempt(
        &self,
        lead_id: LeadId,
        outcome: ContactOutcome,
        at: Option<Timestamp>,
        notes: Option<&str>,
        worker: Option<&str>,
    ) -> Result<QueueEntry> {
        let at = at.unwrap_or_else(|| self.now());
        with_tx(&*self.store, |tx| {
            let e = tx.contact_entry(lead_id)?.ok_or_else(|| Error::NotFound {
                entity: "lead",
                id: lead_id.to_string(),
            })?;
            let n = e.attempts + 1;
            let settings = self.config.contact_queue.settings_for(&e.entry.lead_type);
            let update = contact_queue::after_attempt(settings, n, outcome, at);
            tx.record_contact_attempt(
                &ContactAttempt {
                    lead_id,
                    attempt_number: n,
                    at,
                    outcome,
                    notes: notes.map(str::to_string),
                    worker: worker.map(str::to_string),
                },
                &update,
            )?;
            if outcome == ContactOutcome::DoNotContact {
                if let Some(phone) = &e.entry.phone_e164 {
                    suppress(
                        tx,
                        phone,
                        "not_interested",
                        Some(&format!("lead {lead_id}")),
                        at,
                    )?;
                }
            }
            let audit = Audit::ContactAttempted {
                attempt: n,
                outcome,
                status: update.status,
                notes,
            };
            tx.append_event(&audit.on(EventSubject::Lead, lead_id, at))?;
            tx.contact_entry(lead_id)?
                .ok_or_else(|| Error::Internal(format!("lead {lead_id} left the queue")))
        })
    }

    /// Puts a number on the suppression list (an opt-out). `phone` is normalized (any
    /// format the intake takes). Returns `false` when it was listed already.
    ///
    /// # Errors
    ///
    /// [`crate::phone::PhoneError`] for a number that does not normalize; storage errors.
    pub fn record_opt_out(&self, phone: &str, source: Option<&str>) -> Result<bool> {
        let e164 = crate::phone::normalize(phone, &self.config.default_region)?.number;
        let at = self.now();
        with_tx(&*self.store, |tx| {
            suppress(tx, e164.as_str(), "opt_out", source, at)
        })
    }

    /// Imports a suppression list: one E.164 or national number, or one lowercase hex
    /// SHA-256 of an E.164 number, per line (`#` comments and blank lines skipped;
    /// [`suppression::parse_list`]). Bad lines are reported, not fatal.
    ///
    /// # Errors
    ///
    /// Storage errors (nothing of the list is stored then).
    pub fn import_suppressions(&self, text: &str, source: &str) -> Result<SuppressionImport> {
        let (entries, rejected) = suppression::parse_list(text, &self.config.default_region);
        let at = self.now();
        with_tx(&*self.store, |tx| {
            let mut out = SuppressionImport {
                rejected_lines: rejected.clone(),
                ..Default::default()
            };
            for e in &entries {
                let (phone, hash) = match e {
                    suppression::SuppressionEntry::Phone(p) => {
                        (Some(p.clone()), suppression::phone_hash(p))
                    }
                    suppression::SuppressionEntry::Sha256(h) => (None, h.clone()),
                };
                let added = tx.suppress(&Suppression {
                    phone_e164: phone,
                    phone_sha256: hash,
                    reason: "imported".into(),
                    source: Some(source.to_string()),
                    created_at: at,
                })?;
                if added {
                    out.added += 1;
                } else {
                    out.already_listed += 1;
                }
            }
            Ok(out)
        })
    }

    /// Whether a number (any format the intake takes) is on the suppression list.
    ///
    /// # Errors
    ///
    /// [`crate::phone::PhoneError`]; storage errors.
    pub fn is_suppressed(&self, phone: &str) -> Result<bool> {
        let hash = suppression::phone_hash(&self.e164(phone)?);
        with_tx(&*self.store, |tx| Ok(tx.is_suppressed(&hash)?))
    }

    /// A number in any format the intake takes, as E.164.
    fn e164(&self, phone: &str) -> Result<String> {
        let n = crate::phone::normalize(phone, &self.config.default_region)?;
        Ok(n.number.as_str().to_string())
    }

    /// A lead's place in the contact queue.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn contact_entry(&self, lead_id: LeadId) -> Result<Option<QueueEntry>> {
        with_tx(&*self.store, |tx| Ok(tx.contact_entry(lead_id)?))
    }

    /// A lead's contact attempts, by number.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn contact_attempts(&self, lead_id: LeadId) -> Result<Vec<ContactAttempt>> {
        with_tx(&*self.store, |tx| Ok(tx.contact_attempts(lead_id)?))
    }

    /// Speed to lead for the leads queued with `from <= received_at < to` (UTC): time from
    /// receipt to first attempt (p50, p90, seconds), contact rate, attempts per lead and
    /// lead-to-appointment rate ([`contact_queue::metrics`]).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn contact_metrics(&self, from: Timestamp, to: Timestamp) -> Result<ContactMetrics> {
        let rows = with_tx(&*self.store, |tx| {
            Ok(tx.reports().contact_timelines(from, to)?)
        })?;
        let leads: Vec<(Option<f64>, u32, ContactStatus)> = rows
            .iter()
            .map(|r| {
                let first = r
                    .first_attempt_at
                    .map(|f| r.received_at.duration_until(f).as_secs_f64());
                (first, r.attempts, r.status)
            })
            .collect();
        Ok(contact_queue::metrics(&leads))
    }
}

/// Adds a number to the suppression list; `true` when added.
fn suppress(
    tx: &dyn Tx,
    phone_e164: &str,
    reason: &str,
    source: Option<&str>,
    at: Timestamp,
) -> Result<bool> {
    Ok(tx.suppress(&Suppression {
        phone_e164: Some(phone_e164.to_string()),
        phone_sha256: suppression::phone_hash(phone_e164),
        reason: reason.to_string(),
        source: source.map(str::to_string),
        created_at: at,
    })?)
}
