//! The audit trail as a typed enum, serialized in one place.
//!
//! Every event the engine records (`contact_events`, `lead_events`, `appointment_events`) is
//! one [`Audit`] value: its [`EventKind`] and its detail's JSON shape are decided here and
//! nowhere else. The shapes are those stored since the audit trail began, so old and new
//! rows read alike.

use crate::lifecycle::{Actor, Life};
use crate::model::{
    AppointmentDetails, AppointmentId, ContactId, DeliveryId, EventSubject, ForwardStatus, LeadId,
    NewEvent, RejectionId, ReturnId, RoutingMethod,
};
use crate::status::{ContactOutcome, ContactStatus, EventKind, ReturnStatus};
use jiff::Timestamp;
use serde_json::{json, Value};

/// Where a record came from, as the audit trail names it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SourceRef<'a> {
    pub provider_id: &'a str,
    pub webhook_id: Option<&'a str>,
    pub record_key: &'a str,
}

/// One HTTP attempt of a delivery, as the audit trail names it.
#[derive(Debug, Clone)]
pub(crate) struct AttemptRef<'a> {
    pub delivery_id: DeliveryId,
    pub webhook_id: &'a str,
    pub attempt: u32,
    pub status_code: Option<u16>,
    pub error: Option<&'a str>,
    pub next_attempt_at: Option<Timestamp>,
}

/// One audit event, before it is stored.
#[derive(Debug, Clone)]
pub(crate) enum Audit<'a> {
    /// A record arrived (on a lead or a rejection).
    Received(SourceRef<'a>),
    /// A record failed validation.
    Rejected { reason_codes: Vec<&'a str> },
    /// A record created, filled or merged a contact (`kind`: created, updated, merged).
    ContactChanged {
        kind: EventKind,
        source: SourceRef<'a>,
        changes: Value,
    },
    /// A record passed validation.
    Validated {
        contact_id: ContactId,
        new_contact: bool,
        warnings: &'a [String],
    },
    /// A lead duplicates an earlier one.
    Duplicate {
        original_lead_id: LeadId,
        product_type: &'a str,
    },
    /// A lead's appointment was routed at intake.
    LeadRouted {
        appointment_id: AppointmentId,
        workspace_id: &'a str,
        rule_id: i64,
    },
    /// A lead's stored appointment was routed later (reroute or by hand).
    LeadRoutedLater {
        appointment_id: AppointmentId,
        workspace_id: &'a str,
        rule_id: Option<i64>,
        method: RoutingMethod,
    },
    /// A lead's appointment went to the unrouted queue.
    LeadUnrouted {
        appointment_id: AppointmentId,
        reason: &'a str,
    },
    /// An appointment's routing decision with its full trace (`kind`: routed, unrouted,
    /// rerouted).
    Decision { kind: EventKind, trace: &'a Value },
    /// An appointment was assigned by hand.
    AssignedManually {
        workspace_id: &'a str,
        note: &'a str,
    },
    /// A claimed delivery was put back without an attempt.
    DeliveryDeferred {
        delivery_id: DeliveryId,
        reason: &'a str,
        next_attempt_at: Timestamp,
    },
    /// An attempt's result (`kind`: delivered, delivery_retry, delivery_failed), on the
    /// appointment and, when final, on its lead.
    Attempted {
        kind: EventKind,
        attempt: AttemptRef<'a>,
    },
    /// A delivered appointment was returned and credited.
    AppointmentReturned { reason: &'a str, credit_cents: i64 },
    /// A lead's appointment was returned.
    LeadReturned {
        appointment_id: AppointmentId,
        reason: &'a str,
    },
    /// A lifecycle change: its kind, the state before and after, who and why, and the
    /// client webhook it queued.
    Lifecycle {
        kind: EventKind,
        from: &'a Life,
        to: &'a Life,
        actor: &'a Actor,
        reason: Option<&'a str>,
        delivery_id: Option<DeliveryId>,
    },
    /// A return requested, approved or denied, or a policy credit.
    Return {
        kind: EventKind,
        return_id: ReturnId,
        workspace_id: &'a str,
        reason: &'a str,
        status: ReturnStatus,
        credit_cents: i64,
        actor: &'a str,
    },
    /// A delivery queued again.
    Redelivered {
        delivery_id: DeliveryId,
        webhook_id: &'a str,
        previous_status: ForwardStatus,
    },
    /// Routed again to another workspace, with the routing trace.
    Reassigned {
        from_workspace_id: Option<&'a str>,
        to_workspace_id: Option<&'a str>,
        trace: &'a Value,
    },
    /// A stored rejection run again: what it became.
    Reprocessed {
        rejection_id: RejectionId,
        lead_id: Option<LeadId>,
        reason_codes: Vec<&'a str>,
    },
    /// A lead booked into a slot (or assigned without one).
    Booked {
        appointment_id: AppointmentId,
        workspace_id: Option<&'a str>,
        start: Timestamp,
        slot_taken: bool,
    },
    /// A contact attempt on a queued lead.
    ContactAttempted {
        attempt: u32,
        outcome: ContactOutcome,
        status: ContactStatus,
        notes: Option<&'a str>,
    },
    /// The appointment's seed details changed (old and new, and who).
    DetailsUpdated {
        old: &'a AppointmentDetails,
        new: &'a AppointmentDetails,
        actor: &'a Actor,
    },
    /// A Cal.com booking event for the appointment.
    BookingReceived {
        trigger: &'a str,
        uid: Option<&'a str>,
        event_created_at: Timestamp,
        applied: bool,
    },
}

/// A lifecycle state as audit JSON (the "old" and "new" values).
fn life_json(l: &Life) -> Value {
    json!({"status": l.status, "start": crate::payload::rfc3339(l.start),
        "end": l.end.map(crate::payload::rfc3339), "reschedule_count": l.reschedule_count,
        "outcome": l.outcome, "cancellation_reason": l.cancellation_reason})
}

impl Audit<'_> {
    /// The event's kind (`event_type`).
    pub(crate) fn kind(&self) -> EventKind {
        match self {
            Audit::Received(_) => EventKind::Received,
            Audit::Rejected { .. } => EventKind::Rejected,
            Audit::ContactChanged { kind, .. }
            | Audit::Decision { kind, .. }
            | Audit::Attempted { kind, .. } => *kind,
            Audit::Validated { .. } => EventKind::Validated,
            Audit::Duplicate { .. } => EventKind::Duplicate,
            Audit::LeadRouted { .. } | Audit::LeadRoutedLater { .. } => EventKind::Routed,
            Audit::LeadUnrouted { .. } => EventKind::Unrouted,
            Audit::AssignedManually { .. } => EventKind::AssignedManually,
            Audit::DeliveryDeferred { .. } => EventKind::DeliveryDeferred,
            Audit::AppointmentReturned { .. } | Audit::LeadReturned { .. } => EventKind::Returned,
            Audit::Lifecycle { kind, .. } | Audit::Return { kind, .. } => *kind,
            Audit::Redelivered { .. } => EventKind::Redelivered,
            Audit::Reassigned { .. } => EventKind::Reassigned,
            Audit::Reprocessed { .. } => EventKind::Reprocessed,
            Audit::BookingReceived { .. } => EventKind::BookingReceived,
            Audit::DetailsUpdated { .. } => EventKind::Updated,
            Audit::ContactAttempted { .. } => EventKind::ContactAttempted,
            Audit::Booked { .. } => EventKind::Booked,
        }
    }

    /// The event's detail (the stored JSON object).
    pub(crate) fn detail(&self) -> Value {
        match self {
            Audit::Received(s) => json!({"provider_id": s.provider_id,
                "webhook_id": s.webhook_id, "record_key": s.record_key}),
            Audit::Rejected { reason_codes } => json!({"reason_codes": reason_codes}),
            Audit::ContactChanged {
                source, changes, ..
            } => json!({"provider_id": source.provider_id, "webhook_id": source.webhook_id,
                "record_key": source.record_key, "changes": changes}),
            Audit::Validated {
                contact_id,
                new_contact,
                warnings,
            } => json!({"contact_id": contact_id, "new_contact": new_contact,
                "warnings": warnings}),
            Audit::Duplicate {
                original_lead_id,
                product_type,
            } => json!({"original_lead_id": original_lead_id, "product_type": product_type}),
            Audit::LeadRouted {
                appointment_id,
                workspace_id,
                rule_id,
            } => json!({"appointment_id": appointment_id, "workspace_id": workspace_id,
                "rule_id": rule_id}),
            Audit::LeadRoutedLater {
                appointment_id,
                workspace_id,
                rule_id,
                method,
            } => json!({"appointment_id": appointment_id, "workspace_id": workspace_id,
                "rule_id": rule_id, "routing_method": method}),
            Audit::LeadUnrouted {
                appointment_id,
                reason,
            } => json!({"appointment_id": appointment_id, "reason": reason}),
            Audit::Decision { trace, .. } => (*trace).clone(),
            Audit::AssignedManually { workspace_id, note } => {
                json!({"workspace_id": workspace_id, "note": note})
            }
            Audit::DeliveryDeferred {
                delivery_id,
                reason,
                next_attempt_at,
            } => json!({"delivery_id": delivery_id, "reason": reason,
                "next_attempt_at": crate::payload::rfc3339(*next_attempt_at)}),
            Audit::Attempted { attempt: a, .. } => json!({"delivery_id": a.delivery_id,
                "webhook_id": a.webhook_id, "attempt": a.attempt,
                "status_code": a.status_code, "error": a.error,
                "next_attempt_at": a.next_attempt_at.map(crate::payload::rfc3339)}),
            Audit::AppointmentReturned {
                reason,
                credit_cents,
            } => json!({"reason": reason, "credit_cents": credit_cents}),
            Audit::LeadReturned {
                appointment_id,
                reason,
            } => json!({"appointment_id": appointment_id, "reason": reason}),
            Audit::Lifecycle {
                from,
                to,
                actor,
                reason,
                delivery_id,
                ..
            } => json!({"from_status": from.status, "to_status": to.status,
                "old": life_json(from), "new": life_json(to), "actor": actor,
                "reason": reason, "delivery_id": delivery_id}),
            Audit::Return {
                return_id,
                workspace_id,
                reason,
                status,
                credit_cents,
                actor,
                ..
            } => json!({"return_id": return_id, "workspace_id": workspace_id,
                "reason": reason, "status": status, "credit_cents": credit_cents,
                "actor": actor}),
            Audit::Redelivered {
                delivery_id,
                webhook_id,
                previous_status,
            } => json!({"delivery_id": delivery_id, "webhook_id": webhook_id,
                "previous_status": previous_status}),
            Audit::Reassigned {
                from_workspace_id,
                to_workspace_id,
                trace,
            } => json!({"from_workspace_id": from_workspace_id,
                "to_workspace_id": to_workspace_id, "trace": trace}),
            Audit::Reprocessed {
                rejection_id,
                lead_id,
                reason_codes,
            } => json!({"rejection_id": rejection_id, "lead_id": lead_id,
                "reason_codes": reason_codes}),
            Audit::Booked {
                appointment_id,
                workspace_id,
                start,
                slot_taken,
            } => json!({"appointment_id": appointment_id, "workspace_id": workspace_id,
                "start": crate::payload::rfc3339(*start), "slot_taken": slot_taken}),
            Audit::ContactAttempted {
                attempt,
                outcome,
                status,
                notes,
            } => json!({"attempt": attempt, "outcome": outcome, "status": status,
                "notes": notes}),
            Audit::DetailsUpdated { old, new, actor } => {
                json!({"old": old, "new": new, "actor": actor})
            }
            Audit::BookingReceived {
                trigger,
                uid,
                event_created_at,
                applied,
            } => json!({"trigger": trigger, "uid": uid,
                "event_created_at": crate::payload::rfc3339(*event_created_at),
                "applied": applied}),
        }
    }

    /// The stored event about `subject` row `subject_id` at `at`.
    pub(crate) fn on(
        &self,
        subject: EventSubject,
        subject_id: impl Into<i64>,
        at: Timestamp,
    ) -> NewEvent {
        NewEvent {
            subject,
            subject_id: subject_id.into(),
            event_type: self.kind(),
            detail: self.detail(),
            created_at: at,
        }
    }
}
