//! The appointment lifecycle: confirm, reschedule, cancel, complete, no-show.
//!
//! [`crate::lifecycle`] decides; each call here applies the decision in one transaction: the
//! compare-and-set of the appointment's lifecycle columns, an `appointment_events` row (kind,
//! old and new values, actor, reason, time from the `Clock`), the client's webhook event
//! (`appointment.confirmed`, …) queued behind the appointment's earlier deliveries, and the
//! policy credit a no-show or a late cancellation earns ([`crate::returns::auto_credit`]).
//! A no-op (the appointment already is what was asked) writes nothing.

use super::audit::Audit;
use super::{returns, Engine, Step};
use crate::lifecycle::{self, Actor, Life, Transition};
use crate::model::*;
use crate::payload;
use crate::status::{AppointmentStatus, EventKind, WebhookEventType};
use crate::storage::with_tx;
use crate::{Error, Result};
use jiff::Timestamp;
use serde::Serialize;

/// What a lifecycle call did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransitionOutcome {
    /// The appointment.
    pub appointment_id: AppointmentId,
    /// Its status now.
    pub status: AppointmentStatus,
    /// Its status before the call.
    pub previous_status: AppointmentStatus,
    /// `false` for a no-op (a repeated transition, a duplicate or stale event).
    pub applied: bool,
    /// The client webhook event queued, if any (routed appointments whose workspace
    /// receives this event type).
    pub delivery_id: Option<DeliveryId>,
    /// The credit the workspace's return policy wrote, if any.
    pub credit: Option<NewBillingEvent>,
}

/// A computed change to write: the state before and after and its circumstances.
pub(crate) struct Change<'a> {
    pub before: Life,
    pub after: Life,
    pub actor: &'a Actor,
    pub reason: Option<&'a str>,
    pub reschedule_requested: bool,
}

impl Engine {
    /// Confirms an appointment (`scheduled` or `rescheduled` → `confirmed`).
    ///
    /// # Errors
    ///
    /// As [`Engine::transition`].
    pub fn confirm_appointment(
        &self,
        id: AppointmentId,
        actor: &Actor,
    ) -> Result<TransitionOutcome> {
        self.transition(id, &Transition::Confirm, actor, None)
    }

    /// Moves an appointment to `start` (UTC), and `end` when given (else its duration is
    /// kept); the id stays, the reschedule count goes up, the status becomes `rescheduled`.
    ///
    /// # Errors
    ///
    /// As [`Engine::transition`]; `end_before_start` (`InvalidInput`).
    pub fn reschedule_appointment(
        &self,
        id: AppointmentId,
        start: Timestamp,
        end: Option<Timestamp>,
        reason: Option<&str>,
        actor: &Actor,
    ) -> Result<TransitionOutcome> {
        self.transition(id, &Transition::Reschedule { start, end }, actor, reason)
    }

    /// Cancels an appointment, with an optional reason.
    ///
    /// # Errors
    ///
    /// As [`Engine::transition`].
    pub fn cancel_appointment(
        &self,
        id: AppointmentId,
        reason: Option<&str>,
        actor: &Actor,
    ) -> Result<TransitionOutcome> {
        let t = Transition::Cancel {
            reason: reason.map(str::to_string),
        };
        self.transition(id, &t, actor, reason)
    }

    /// Marks an appointment completed, with an optional outcome.
    ///
    /// # Errors
    ///
    /// As [`Engine::transition`].
    pub fn complete_appointment(
        &self,
        id: AppointmentId,
        outcome: Option<&str>,
        actor: &Actor,
    ) -> Result<TransitionOutcome> {
        let t = Transition::Complete {
            outcome: outcome.map(str::to_string),
        };
        self.transition(id, &t, actor, None)
    }

    /// Marks the customer a no-show.
    ///
    /// # Errors
    ///
    /// As [`Engine::transition`].
    pub fn mark_no_show(&self, id: AppointmentId, actor: &Actor) -> Result<TransitionOutcome> {
        self.transition(id, &Transition::NoShow, actor, None)
    }

    /// Applies a lifecycle transition in one transaction (see the module docs).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown appointment;
    /// [`lifecycle::LifecycleError::InvalidTransition`] (`Conflict`, `invalid_transition`)
    /// for a transition the status does not allow, with nothing written; a `Conflict`
    /// storage error when a concurrent change won; storage errors.
    pub fn transition(
        &self,
        id: AppointmentId,
        transition: &Transition,
        actor: &Actor,
        reason: Option<&str>,
    ) -> Result<TransitionOutcome> {
        let snap = self.snapshot();
        let at = self.now();
        with_tx(&*self.store, |tx| {
            let appt = super::stored_appointment(tx, id)?;
            let before = appt.life();
            let Some(after) = lifecycle::apply(&before, transition)? else {
                return Ok(unchanged(&appt));
            };
            let change = Change {
                before,
                after,
                actor,
                reason,
                reschedule_requested: appt.lifecycle.reschedule_requested,
            };
            write_change(self.step(tx, &snap, at), &appt, &change)
        })
    }

    /// Replaces the appointment's seed details (end time, duration, type, location, customer
    /// notes, next action and its date; the Cal.com uid is kept), with an `updated`
    /// `appointment_events` row holding the old and new values and the actor.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown appointment; storage errors.
    pub fn update_appointment_details(
        &self,
        id: AppointmentId,
        details: &AppointmentDetails,
        actor: &Actor,
    ) -> Result<Appointment> {
        let at = self.now();
        with_tx(&*self.store, |tx| {
            let appt = super::stored_appointment(tx, id)?;
            let new = AppointmentDetails {
                cal_booking_uid: appt.appointment.details.cal_booking_uid.clone(),
                ..details.clone()
            };
            if new == appt.appointment.details {
                return Ok(appt);
            }
            tx.set_appointment_details(id, &new)?;
            let audit = Audit::DetailsUpdated {
                old: &appt.appointment.details,
                new: &new,
                actor,
            };
            tx.append_event(&audit.on(EventSubject::Appointment, id, at))?;
            super::stored_appointment(tx, id)
        })
    }

    /// The appointment's lifecycle history: its `appointment_events` rows of the lifecycle
    /// kinds (created, confirmed, rescheduled, cancelled, completed, no_show), oldest first.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn appointment_history(&self, id: AppointmentId) -> Result<Vec<NewEvent>> {
        let lifecycle_kinds = [
            EventKind::Confirmed,
            EventKind::Rescheduled,
            EventKind::Cancelled,
            EventKind::Completed,
            EventKind::NoShow,
        ];
        Ok(self
            .events(EventSubject::Appointment, id)?
            .into_iter()
            .filter(|e| lifecycle_kinds.contains(&e.event_type))
            .collect())
    }
}

/// The outcome of a call that changed nothing.
pub(crate) fn unchanged(appt: &Appointment) -> TransitionOutcome {
    TransitionOutcome {
        appointment_id: appt.id,
        status: appt.lifecycle.status,
        previous_status: appt.lifecycle.status,
        applied: false,
        delivery_id: None,
        credit: None,
    }
}

/// Writes a lifecycle change: the compare-and-set, the client event, the audit row and the
/// policy credit. A change equal to the current state writes nothing.
pub(crate) fn write_change(
    step: Step<'_>,
    appt: &Appointment,
    change: &Change<'_>,
) -> Result<TransitionOutcome> {
    let (kind, event) = match lifecycle::change_kind(&change.before, &change.after) {
        Some(k) => k,
        None if change.reschedule_requested != appt.lifecycle.reschedule_requested => {
            (EventKind::Updated, WebhookEventType::AppointmentCancelled)
        }
        None => return Ok(unchanged(appt)),
    };
    let strict = *change.actor != Actor::Calcom;
    super::booking::follow(step, appt, &change.before, &change.after, strict)?;
    step.tx.update_lifecycle(
        appt.id,
        &LifecycleUpdate {
            expected_status: appt.lifecycle.status,
            expected_reschedule_count: appt.lifecycle.reschedule_count,
            life: change.after.clone(),
            reschedule_requested: change.reschedule_requested,
            at: step.at,
        },
    )?;
    let delivery_id = notify(step, appt, event, change)?;
    super::messages::follow(step, appt, &change.before, &change.after)?;
    let audit = Audit::Lifecycle {
        kind,
        from: &change.before,
        to: &change.after,
        actor: change.actor,
        reason: change.reason,
        delivery_id,
    };
    step.tx
        .append_event(&audit.on(EventSubject::Appointment, appt.id, step.at))?;
    let policy = appt
        .workspace_id()
        .and_then(|w| step.snap.workspaces.get(w))
        .map(|w| w.returns.clone())
        .unwrap_or_default();
    let credit = match crate::returns::auto_credit(
        &policy,
        &change.before,
        &change.after,
        change.actor,
        change.reschedule_requested,
        step.at,
    ) {
        Some(reason) => returns::policy_credit(step, appt, reason)?,
        None => None,
    };
    Ok(TransitionOutcome {
        appointment_id: appt.id,
        status: change.after.status,
        previous_status: change.before.status,
        applied: true,
        delivery_id,
        credit,
    })
}

/// Queues the lifecycle event for the appointment's workspace, behind its earlier
/// deliveries; nothing for an unrouted appointment, one never queued for delivery, or a
/// workspace that does not receive this event type.
fn notify(
    step: Step<'_>,
    appt: &Appointment,
    event: WebhookEventType,
    change: &Change<'_>,
) -> Result<Option<DeliveryId>> {
    let Some(workspace_id) = appt.workspace_id() else {
        return Ok(None);
    };
    let Some(workspace) = step.snap.workspaces.get(workspace_id) else {
        return Ok(None);
    };
    if !workspace.delivery.receives(event) {
        return Ok(None);
    }
    let earlier = step.tx.deliveries_for_appointment(appt.id)?;
    let Some(last) = earlier.last() else {
        return Ok(None);
    };
    let body = payload::lifecycle_event(
        event,
        appt.id,
        appt.appointment.lead_id,
        workspace_id,
        &change.before,
        &change.after,
        change.actor,
        change.reason,
        step.at,
    );
    let payload = serde_json::to_string(&body)
        .map_err(|e| Error::Internal(format!("payload serialization: {e}")))?;
    let id = step.tx.enqueue_delivery(&NewDelivery {
        appointment_id: appt.id,
        event,
        sequence: last.delivery.sequence + 1,
        workspace_id: workspace_id.to_string(),
        webhook_id: super::route::new_webhook_id(),
        url: workspace.outbound_webhook_url.clone(),
        payload,
        next_attempt_at: step.at,
        created_at: step.at,
    })?;
    Ok(Some(id))
}
