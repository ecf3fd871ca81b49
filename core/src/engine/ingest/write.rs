//! The transactional steps of intake: one prepared record becomes a replay, a stored
//! rejection, or a lead (with its contact, duplicate check, routing, appointment and outbox
//! row), with its audit trail.

use super::prepare::Prepared;
use crate::contact::{self, ContactChange};
use crate::email;
use crate::engine::audit::{Audit, SourceRef};
use crate::engine::route::{self, Routed};
use crate::engine::{Accepted, IngestOutcome, Outcome, RoutingOutcome, Step};
use crate::intake::RawRecord;
use crate::model::*;
use crate::status::{EventKind, LeadStatus};
use crate::validate::{Reason, ValidLead};
use crate::Result;

/// Where a record comes from: its provider and the inbound webhook it came through.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub provider: &'a Provider,
    pub webhook_id: Option<&'a str>,
}

impl<'a> Source<'a> {
    fn with_key(&self, record_key: &'a str) -> SourceRef<'a> {
        SourceRef {
            provider_id: &self.provider.id,
            webhook_id: self.webhook_id,
            record_key,
        }
    }
}

/// Writes one prepared record: nothing when its key is already stored (a replay), else its
/// rejection or its lead.
pub(super) fn record(
    step: Step<'_>,
    src: Source<'_>,
    prepared: &Prepared,
    raw: &RawRecord,
) -> Result<IngestOutcome> {
    let record_key = match prepared {
        Prepared::Reject { record_key, .. } | Prepared::Accept { record_key, .. } => record_key,
    };
    let outcome = if let Some(stored) = step.tx.stored_record(&src.provider.id, record_key)? {
        Outcome::Replayed(stored)
    } else {
        match prepared {
            Prepared::Reject { reasons, .. } => rejection(step, src, record_key, reasons, raw)?,
            Prepared::Accept { lead, fields, .. } => {
                match accepted(step, src, record_key, lead, fields, raw)? {
                    Ok(a) => Outcome::Accepted(a),
                    Err(taken) => {
                        let reason = Reason {
                            code: crate::status::ReasonCode::SlotTaken,
                            detail: format!(
                                "the slot at {} of workspace {} is full",
                                crate::payload::rfc3339(taken.1),
                                taken.0
                            ),
                        };
                        rejection(step, src, record_key, &[reason], raw)?
                    }
                }
            }
        }
    };
    Ok(IngestOutcome {
        record_key: record_key.clone(),
        outcome,
    })
}

/// Stores a rejection with its reasons, raw payload and audit trail.
fn rejection(
    step: Step<'_>,
    src: Source<'_>,
    record_key: &str,
    reasons: &[Reason],
    raw: &RawRecord,
) -> Result<Outcome> {
    let rejection_id = step.tx.insert_rejection(&NewRejection {
        provider_id: src.provider.id.clone(),
        record_key: record_key.to_string(),
        reason_codes: reasons.iter().map(|r| r.code).collect(),
        details: reasons.iter().map(|r| r.detail.clone()).collect(),
        raw_payload: raw.stored_payload(),
        received_at: step.at,
    })?;
    let reason_codes = reasons.iter().map(|r| r.code.as_str()).collect();
    step.tx.append_events(&[
        Audit::Received(src.with_key(record_key)).on(
            EventSubject::Rejection,
            rejection_id,
            step.at,
        ),
        Audit::Rejected { reason_codes }.on(EventSubject::Rejection, rejection_id, step.at),
    ])?;
    Ok(Outcome::Rejected {
        rejection_id,
        reasons: reasons.to_vec(),
    })
}

/// Stores an accepted record: contact, duplicate check, routing, lead, appointment, outbox
/// row, and the record's audit trail, written together at the end.
fn accepted(
    step: Step<'_>,
    src: Source<'_>,
    record_key: &str,
    lead: &ValidLead,
    fields: &serde_json::Value,
    raw: &RawRecord,
) -> Result<std::result::Result<Accepted, (String, jiff::Timestamp)>> {
    let source = src.with_key(record_key);
    let mut trail: Vec<NewEvent> = Vec::new();
    let (contact_id, change) = contact::resolve_contact(step.tx, &new_contact(step, src, lead))?;
    let new_contact = change == ContactChange::Created;
    if let Some(e) = contact_event(&change, source) {
        trail.push(e.on(EventSubject::Contact, contact_id, step.at));
    }
    // A contact created by this record has no earlier lead to duplicate.
    let duplicate_of = match new_contact {
        true => None,
        false => original_lead(step, contact_id, lead)?,
    };
    // Routing needs no lead id: it runs first, so the lead is stored once, with its status
    // decided (no update of the row afterwards; the history is the same).
    let routing = match (duplicate_of, lead.appointment_date) {
        (None, Some(_)) => Some(route::decide(
            step,
            lead.product,
            lead.zip,
            lead.tcpa_consent == Some(true),
        )?),
        _ => None,
    };
    if let Some(taken) = take_slot(step, routing.as_ref(), lead.appointment_date)? {
        // The record becomes a rejection; the contact it found or created stays, with its
        // event.
        step.tx.append_events(&trail)?;
        return Ok(Err(taken));
    }
    let (status, reason) = LeadStatus::after_intake(
        duplicate_of.is_some(),
        routing.as_ref().map(|r| match &r.outcome {
            RoutingOutcome::Routed { .. } => Ok(()),
            RoutingOutcome::Unrouted(reason) => Err(reason.code()),
        }),
    );
    let new_lead = new_lead(step, source, contact_id, duplicate_of, lead, fields, raw);
    let lead_id = step.tx.insert_lead_as(&new_lead, status, reason, step.at)?;
    let on_lead = |a: Audit<'_>| a.on(EventSubject::Lead, lead_id, step.at);
    trail.push(on_lead(Audit::Received(source)));
    // The normalized values are on the lead row; the event says what validation decided.
    trail.push(on_lead(Audit::Validated {
        contact_id,
        new_contact,
        warnings: &lead.warnings,
    }));
    let mut appointment = None;
    if let Some(original_lead_id) = duplicate_of {
        trail.push(on_lead(Audit::Duplicate {
            original_lead_id,
            product_type: &lead.product_name,
        }));
    } else if let Some(routed) = &routing {
        appointment =
            store_appointment(step, lead_id, contact_id, lead, fields, routed, &mut trail)?;
    }
    let lead_type = step.snap.routing.catalog().lead_type(lead.product);
    if step.config.contact_queue.needs_contact(
        lead_type,
        lead.appointment_date.is_some(),
        duplicate_of.is_some(),
    ) {
        queue_for_contact(step, lead_id, contact_id, lead, lead_type)?;
    }
    step.tx.append_events(&trail)?;
    Ok(Ok(Accepted {
        lead_id,
        contact_id,
        new_contact,
        duplicate_of,
        routing_trace: appointment.as_ref().and(routing.map(|r| r.trace)),
        appointment,
        warnings: lead.warnings.clone(),
    }))
}

/// Takes the slot of a routed appointment whose workspace has a calendar (the slot that
/// contains its time; none when the time is outside the calendar's slots). When the slot is
/// full, gives the routing's capacity back and returns the workspace and the slot's start:
/// the record becomes a rejection (`slot_taken`).
fn take_slot(
    step: Step<'_>,
    routing: Option<&Routed>,
    at: Option<jiff::Timestamp>,
) -> Result<Option<(String, jiff::Timestamp)>> {
    let (
        Some(Routed {
            assignment:
                Assignment::Routed {
                    workspace_id,
                    rule_id,
                    payment_rate,
                    matched_at,
                    ..
                },
            ..
        }),
        Some(at),
    ) = (routing, at)
    else {
        return Ok(None);
    };
    let Some(grid) = step.snap.slot_grids.get(workspace_id.as_str()) else {
        return Ok(None);
    };
    let Some(slot) = grid.slot_containing(at) else {
        return Ok(None);
    };
    if crate::engine::booking::take_slot(step.tx, grid, workspace_id, &slot)? {
        return Ok(None);
    }
    crate::engine::gate::give_back(
        step.tx,
        step.snap,
        workspace_id,
        *rule_id,
        *payment_rate,
        *matched_at,
    )?;
    Ok(Some((workspace_id.clone(), slot.start)))
}

/// Puts a new lead in the contact queue, due now, flagged when its number is on the
/// suppression list (it is kept, never dropped; the claim holds it back).
fn queue_for_contact(
    step: Step<'_>,
    lead_id: LeadId,
    contact_id: ContactId,
    lead: &ValidLead,
    lead_type: &str,
) -> Result<()> {
    let phone = lead.phone.as_ref().map(|p| p.number.as_str().to_string());
    let suppressed = match &phone {
        Some(p) => step.tx.is_suppressed(&crate::suppression::phone_hash(p))?,
        None => false,
    };
    step.tx.enqueue_contact(&NewQueueEntry {
        lead_id,
        contact_id,
        phone_e164: phone,
        zip_code: lead.zip.to_string(),
        lead_type: lead_type.to_string(),
        received_at: step.at,
        next_attempt_at: step.at,
        suppressed,
    })?;
    Ok(())
}

/// The contact a valid lead describes, in the configured dedup scope.
fn new_contact(step: Step<'_>, src: Source<'_>, lead: &ValidLead) -> NewContact {
    let config = step.config;
    NewContact {
        dedup_scope: config.dedup_scope.key(&src.provider.id, src.webhook_id),
        phone_e164: lead.phone.as_ref().map(|p| p.number.as_str().to_string()),
        phone_extension: lead.phone.as_ref().and_then(|p| p.extension.clone()),
        email: lead.email.clone(),
        email_key: lead
            .email
            .as_deref()
            .map(|e| email::dedup_key(e, config.email_rules)),
        first_name: lead.first_name.clone(),
        last_name: lead.last_name.clone(),
        zip_code: Some(lead.zip.to_string()),
        created_at: step.at,
    }
}

/// The contact event a record's contact change calls for, if any.
fn contact_event<'a>(change: &ContactChange, source: SourceRef<'a>) -> Option<Audit<'a>> {
    let kind = change.event_type()?;
    let changes = match change {
        ContactChange::Updated(c) | ContactChange::Merged(c) => serde_json::json!(c),
        ContactChange::Created | ContactChange::Unchanged => serde_json::json!([]),
    };
    Some(Audit::ContactChanged {
        kind,
        source,
        changes,
    })
}

/// The lead row to store.
fn new_lead(
    step: Step<'_>,
    source: SourceRef<'_>,
    contact_id: ContactId,
    duplicate_of: Option<LeadId>,
    lead: &ValidLead,
    fields: &serde_json::Value,
    raw: &RawRecord,
) -> NewLead {
    NewLead {
        contact_id,
        duplicate_of,
        provider_id: source.provider_id.to_string(),
        record_key: source.record_key.to_string(),
        external_id: lead.external_id.clone(),
        product_type: lead.product_name.clone(),
        zip_code: lead.zip.to_string(),
        appointment_date: lead.appointment_date,
        estimated_value: lead.estimated_value,
        tcpa_consent: lead.tcpa_consent,
        fields: fields.clone(),
        warnings: lead.warnings.clone(),
        raw_payload: raw.text().to_string(),
        received_at: step.at,
    }
}

/// Stores a routed or unrouted lead's appointment, its outbox row when routed, and its
/// audit events (appointment: the decision with its trace; lead: routed or unrouted).
fn store_appointment(
    step: Step<'_>,
    lead_id: LeadId,
    contact_id: ContactId,
    lead: &ValidLead,
    fields: &serde_json::Value,
    routed: &Routed,
    trail: &mut Vec<NewEvent>,
) -> Result<Option<(AppointmentId, RoutingOutcome)>> {
    let Some(mut new_appt) = crate::appointment::from_lead(
        lead_id,
        contact_id,
        lead,
        routed.assignment.clone(),
        step.at,
    ) else {
        return Ok(None);
    };
    new_appt.details =
        crate::appointment::details_from_fields(&fields["custom"], new_appt.appointment_date);
    let appointment_id = step.tx.insert_appointment(&new_appt)?;
    let (kind, on_lead) = match &routed.outcome {
        RoutingOutcome::Routed {
            workspace_id,
            rule_id,
        } => {
            route::enqueue(
                step,
                appointment_id,
                &new_appt,
                &route::customer_of(lead),
                0,
            )?;
            crate::engine::messages::schedule(step, appointment_id, &new_appt, true)?;
            let a = Audit::LeadRouted {
                appointment_id,
                workspace_id,
                rule_id: *rule_id,
            };
            (EventKind::Routed, a)
        }
        RoutingOutcome::Unrouted(reason) => {
            let a = Audit::LeadUnrouted {
                appointment_id,
                reason: reason.code(),
            };
            (EventKind::Unrouted, a)
        }
    };
    let decision = Audit::Decision {
        kind,
        trace: &routed.trace,
    };
    trail.push(decision.on(EventSubject::Appointment, appointment_id, step.at));
    trail.push(on_lead.on(EventSubject::Lead, lead_id, step.at));
    Ok(Some((appointment_id, routed.outcome.clone())))
}

/// The original lead this one duplicates: the contact's latest original lead for the
/// product, if received within the window: the window of the workspace that bought the
/// original (its `duplicate_window_days`), else the engine's.
fn original_lead(
    step: Step<'_>,
    contact_id: ContactId,
    lead: &ValidLead,
) -> Result<Option<LeadId>> {
    let Some(previous) = step
        .tx
        .latest_original_lead(contact_id, &lead.product_name)?
    else {
        return Ok(None);
    };
    let workspace_window = step
        .tx
        .appointment_for_lead(previous.id)?
        .and_then(|a| match a.appointment.assignment {
            Assignment::Routed { workspace_id, .. } => step.snap.workspaces.get(&workspace_id),
            Assignment::Unrouted { .. } => None,
        })
        .and_then(|w| w.duplicate_window_days)
        .map(|d| jiff::SignedDuration::from_hours(i64::from(d) * 24));
    let window = workspace_window.unwrap_or(step.config.duplicate_window);
    Ok(contact::is_duplicate(previous.lead.received_at, step.at, window).then_some(previous.id))
}
