//! Cal.com bookings (the HVAC seed's booking source): verify, store, and reconcile.
//!
//! A booking webhook arrives through an inbound webhook config with scheme `cal_com`, a
//! secret and a [`CalcomConfig`]. [`crate::calcom`] verifies the signature, parses the
//! envelope and folds a booking's events into its state, order-proof; this module stores
//! each delivery once (`calcom_booking_events`), keeps the uid lineage
//! (`calcom_booking_links`), creates the lead and appointment the first time a booking is
//! seen (through the ordinary intake write, so it is deduplicated, routed and queued like
//! any other), and then moves the appointment to the state its whole event history folds
//! to, with the actor `calcom`, in the same transaction.
//!
//! # Behavior
//!
//! - A refused signature (`Unauthorized`) stores nothing. A malformed body is an
//!   `InvalidInput` error, and its raw bytes are kept as a rejection (`malformed_record`) of
//!   the config's provider.
//! - The same delivery twice changes nothing (`applied = false`).
//! - The final state is a function of the set of events received, whatever their order:
//!   late and stale events change nothing, and a cancelled appointment is never revived.
//! - Unknown trigger events are stored and acknowledged (`applied = false`).

use super::audit::Audit;
use super::lifecycle::{write_change, Change};
use super::{ingest, Engine, Outcome, RoutingOutcome};
use crate::calcom::{self, Booking, CalcomConfig, Envelope, Trigger};
use crate::intake::{FieldMap, RawRecord};
use crate::lifecycle::Actor;
use crate::model::*;
use crate::status::{AppointmentStatus, ReasonCode};
use crate::storage::{with_tx, Inserted, Tx};
use crate::{Error, Result};
use std::collections::BTreeSet;

/// What a Cal.com delivery did.
#[derive(Debug, Clone, PartialEq)]
pub struct BookingOutcome {
    /// Cal.com's `triggerEvent`.
    pub trigger: String,
    /// The booking uid it is about.
    pub uid: Option<String>,
    /// The appointment of the booking's lineage, once known.
    pub appointment_id: Option<AppointmentId>,
    /// The appointment's lifecycle status after this delivery.
    pub status: Option<AppointmentStatus>,
    /// `false` for a duplicate, a stale event, an unknown trigger, or a booking whose lead
    /// was rejected.
    pub applied: bool,
    /// The same delivery was already stored.
    pub duplicate: bool,
    /// How the appointment was routed when this delivery created it.
    pub routing: Option<RoutingOutcome>,
    /// The rejection stored when the booking's data did not make a valid lead.
    pub rejection_id: Option<RejectionId>,
}

impl Engine {
    /// Takes one Cal.com webhook delivery for inbound webhook `webhook_id` (see the module
    /// docs). `headers` are the request's (names compared case-insensitively); the
    /// signature is `X-Cal-Signature-256`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] (`unknown_webhook`) for an unknown webhook or one that is not a
    /// Cal.com booking webhook; [`calcom::CalcomError`] `Unauthorized` for a missing secret,
    /// the `no-secret-provided` placeholder, or a missing or wrong signature;
    /// [`calcom::CalcomError`] `InvalidInput` (`calcom_malformed`) for a body that is not a
    /// Cal.com envelope (its bytes are stored as a rejection); storage errors.
    pub fn ingest_cal_webhook(
        &self,
        webhook_id: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Result<BookingOutcome> {
        let snap = self.snapshot();
        let (hook, config) = snap
            .webhooks
            .get(webhook_id)
            .filter(|w| w.is_active)
            .and_then(|w| w.calcom.as_ref().map(|c| (w, c)))
            .ok_or_else(|| Error::NotFound {
                entity: "webhook",
                id: webhook_id.to_string(),
            })?;
        let signature = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(calcom::SIGNATURE_HEADER))
            .map(|(_, v)| *v);
        calcom::verify(hook.secret.as_deref(), body, signature)?;
        let at = self.now();
        let env = match calcom::parse(body) {
            Ok(env) => env,
            Err(e) => {
                self.keep_malformed(config, body, &e.to_string(), at)?;
                return Err(e.into());
            }
        };
        with_tx(&*self.store, |tx| {
            let step = self.step(tx, &snap, at);
            let stored = NewBookingEvent {
                webhook_id: webhook_id.to_string(),
                event_key: calcom::event_key(&env),
                trigger: env.trigger.as_str().to_string(),
                uid: env.booking.uid.clone(),
                reschedule_uid: env.booking.reschedule_uid.clone(),
                created_at: env.created_at,
                received_at: at,
                body: String::from_utf8_lossy(body).into_owned(),
            };
            let mut out = BookingOutcome {
                trigger: stored.trigger.clone(),
                uid: stored.uid.clone(),
                appointment_id: None,
                status: None,
                applied: false,
                duplicate: false,
                routing: None,
                rejection_id: None,
            };
            let duplicate = matches!(tx.insert_booking_event(&stored)?, Inserted::Existing(_));
            let uids: Vec<String> = [&stored.uid, &stored.reschedule_uid]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            let mut owner = None;
            for u in &uids {
                if let Some(a) = tx.booking_appointment(u)? {
                    owner = Some(a);
                    break;
                }
            }
            if duplicate || matches!(env.trigger, Trigger::Other(_)) || uids.is_empty() {
                out.duplicate = duplicate;
                out.appointment_id = owner;
                out.status = owner
                    .map(|a| super::stored_appointment(tx, a))
                    .transpose()?
                    .map(|a| a.lifecycle.status);
                return Ok(out);
            }
            let appointment_id = match owner {
                Some(a) => a,
                None => match self.create_from_booking(step, config, &env, &mut out)? {
                    Some(a) => a,
                    None => return Ok(out),
                },
            };
            out.appointment_id = Some(appointment_id);
            let events = lineage(tx, appointment_id, &uids)?;
            let appt = super::stored_appointment(tx, appointment_id)?;
            out.status = Some(appt.lifecycle.status);
            let Some(state) = calcom::fold(&events) else {
                return Ok(out);
            };
            let change = Change {
                before: appt.life(),
                after: state.life.clone(),
                actor: &Actor::Calcom,
                reason: state.life.cancellation_reason.as_deref(),
                reschedule_requested: state.reschedule_requested,
            };
            let done = write_change(step, &appt, &change)?;
            out.applied = done.applied || out.routing.is_some();
            out.status = Some(done.status);
            let audit = Audit::BookingReceived {
                trigger: &out.trigger,
                uid: out.uid.as_deref(),
                event_created_at: env.created_at,
                applied: out.applied,
            };
            tx.append_event(&audit.on(EventSubject::Appointment, appointment_id, at))?;
            Ok(out)
        })
    }

    /// Creates the lead and appointment of a booking seen for the first time, through the
    /// ordinary intake write of the config's provider; stores its seed details. `None` when
    /// the booking did not make a valid lead (the rejection is in `out`) or carries no time.
    fn create_from_booking(
        &self,
        step: super::Step<'_>,
        config: &CalcomConfig,
        env: &Envelope,
        out: &mut BookingOutcome,
    ) -> Result<Option<AppointmentId>> {
        let snap = step.snap;
        let (provider, _) =
            snap.providers
                .get(&config.provider_id)
                .ok_or_else(|| Error::NotFound {
                    entity: "provider",
                    id: config.provider_id.clone(),
                })?;
        let b = &env.booking;
        let Some(uid) = b.uid.clone() else {
            return Ok(None);
        };
        let record = lead_record(config, b, &uid);
        let raw = RawRecord::Json(record.to_string());
        let canonical = FieldMap::new(Default::default());
        let outcome = ingest::ingest_one_in(self, step, provider, &canonical, &raw)?;
        let appointment_id = match outcome.outcome {
            Outcome::Accepted(a) => match a.appointment {
                Some((id, routing)) => {
                    out.routing = Some(routing);
                    id
                }
                None => return Ok(None),
            },
            Outcome::Rejected { rejection_id, .. } => {
                out.rejection_id = Some(rejection_id);
                return Ok(None);
            }
            Outcome::Replayed(StoredRecord::Lead(lead)) => {
                match step.tx.appointment_for_lead(lead)? {
                    Some(a) => a.id,
                    None => return Ok(None),
                }
            }
            Outcome::Replayed(StoredRecord::Rejection(r)) => {
                out.rejection_id = Some(r);
                return Ok(None);
            }
        };
        let appt = super::stored_appointment(step.tx, appointment_id)?;
        let details = AppointmentDetails {
            end_time: b.end,
            duration_minutes: match (b.start, b.end) {
                (Some(s), Some(e)) => u32::try_from(s.duration_until(e).as_secs() / 60).ok(),
                _ => None,
            },
            appointment_type: b.event_type.clone(),
            location_type: b.location.as_ref().map(|l| location_type(l).to_string()),
            location_address: b.location.clone(),
            customer_notes: b.additional_notes.clone(),
            cal_booking_uid: Some(uid.clone()),
            ..appt.appointment.details
        };
        step.tx.set_appointment_details(appointment_id, &details)?;
        Ok(Some(appointment_id))
    }

    /// Stores the raw bytes of a malformed Cal.com body as a rejection of the config's
    /// provider (once per body).
    fn keep_malformed(
        &self,
        config: &CalcomConfig,
        body: &[u8],
        detail: &str,
        at: jiff::Timestamp,
    ) -> Result<()> {
        let text = String::from_utf8_lossy(body).into_owned();
        let key = format!("calcom:{}", RawRecord::Json(text.clone()).content_key());
        with_tx(&*self.store, |tx| {
            if tx.stored_record(&config.provider_id, &key)?.is_some() {
                return Ok(());
            }
            tx.insert_rejection(&NewRejection {
                provider_id: config.provider_id.clone(),
                record_key: key.clone(),
                reason_codes: vec![ReasonCode::MalformedRecord],
                details: vec![detail.to_string()],
                raw_payload: text.clone(),
                received_at: at,
            })?;
            Ok(())
        })
    }
}

/// The canonical intake record of a booking: the attendee's name, email and phone, the ZIP
/// and product from the config, the start time, and `lead_id` `calcom:<uid>`.
fn lead_record(config: &CalcomConfig, b: &Booking, uid: &str) -> serde_json::Value {
    let attendee = b.attendees.first();
    serde_json::json!({
        "full_name": attendee.and_then(|a| a.name.clone()),
        "email": b.attendee_email(),
        "phone": b.attendee_phone(&config.phone_field),
        "zip_code": b.response(&config.zip_field),
        "product_type": config.product_for(b),
        "appointment_date": b.start.map(crate::payload::rfc3339),
        "lead_id": format!("calcom:{uid}"),
        "notes": b.additional_notes.clone().or_else(|| b.title.clone()),
    })
}

/// The seed's `location_type` of a Cal.com location: `video` for a meeting link, `phone`
/// for a phone call, else `in_person`.
fn location_type(location: &str) -> &'static str {
    let l = location.to_ascii_lowercase();
    if l.starts_with("http") || l.contains("video") || l.contains("meet") || l.contains("zoom") {
        "video"
    } else if l.contains("phone") || l.starts_with('+') {
        "phone"
    } else {
        "in_person"
    }
}

/// Links every uid of the lineage to the appointment and returns all its parsed events:
/// follows `rescheduleUid` links until no new uid appears.
fn lineage(tx: &dyn Tx, appointment_id: AppointmentId, seed: &[String]) -> Result<Vec<Envelope>> {
    let mut known: BTreeSet<String> = tx.booking_uids(appointment_id)?.into_iter().collect();
    known.extend(seed.iter().cloned());
    loop {
        let list: Vec<String> = known.iter().cloned().collect();
        let stored = tx.booking_events(&list)?;
        let before = known.len();
        for e in &stored {
            known.extend(e.event.uid.iter().cloned());
            known.extend(e.event.reschedule_uid.iter().cloned());
        }
        if known.len() == before {
            for u in &known {
                tx.link_booking_uid(u, appointment_id)?;
            }
            return Ok(stored
                .iter()
                .filter_map(|e| calcom::parse(e.event.body.as_bytes()).ok())
                .collect());
        }
    }
}
