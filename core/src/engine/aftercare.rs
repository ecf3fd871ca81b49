//! Nothing stays stuck: re-enabling an endpoint, redelivering a failed or abandoned
//! delivery, and reassigning a returned or undeliverable appointment to the next eligible
//! workspace. (Reprocessing stored rejections is in `ingest::reprocess`.)

use super::audit::Audit;
use super::{gate, route, Engine, RoutingOutcome};
use crate::model::*;
use crate::status::{LeadStatus, WebhookEventType};
use crate::storage::{with_tx, StorageError};
use crate::{Error, Result};

/// What a reassignment did.
#[derive(Debug, Clone, PartialEq)]
pub struct ReassignOutcome {
    /// The appointment (its id does not change).
    pub appointment_id: AppointmentId,
    /// The workspace it was with, if any.
    pub from_workspace_id: Option<String>,
    /// Where routing sent it now.
    pub routing: RoutingOutcome,
    /// Its delivery to the new workspace, queued after its earlier deliveries.
    pub delivery_id: Option<DeliveryId>,
    /// The routing trace (every candidate, skipped ones with their reason).
    pub trace: serde_json::Value,
}

impl Engine {
    /// Re-enables a workspace's webhook endpoint (after a `410 Gone`, or to end a pause):
    /// its health is reset and every pending delivery to it is due now. Returns how many
    /// deliveries resume.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown workspace; storage errors.
    pub fn enable_endpoint(&self, workspace_id: &str) -> Result<u64> {
        if !self.snapshot().workspaces.contains_key(workspace_id) {
            return Err(Error::NotFound {
                entity: "workspace",
                id: workspace_id.to_string(),
            });
        }
        let at = self.now();
        with_tx(&*self.store, |tx| {
            tx.put_endpoint_health(workspace_id, &EndpointHealth::default())?;
            Ok(tx.resume_workspace_deliveries(workspace_id, at)?)
        })
    }

    /// Sends a failed or abandoned (waiting) delivery again: due now, with the same
    /// `webhook-id` (the client's idempotency key) and a fresh retry schedule; attempt
    /// numbers go on. For the appointment's own delivery, the appointment's forward status
    /// is pending again and a lead marked `delivery_failed` is `routed` again. Returns the
    /// delivery as queued.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown delivery; a `Conflict` storage error for one
    /// already delivered.
    pub fn redeliver(&self, delivery_id: DeliveryId) -> Result<Delivery> {
        let at = self.now();
        with_tx(&*self.store, |tx| {
            let not_found = || Error::NotFound {
                entity: "delivery",
                id: delivery_id.to_string(),
            };
            let before = tx.delivery(delivery_id)?.ok_or_else(not_found)?;
            let d = tx.redeliver(delivery_id, at)?.ok_or_else(not_found)?;
            let appointment_id = d.delivery.appointment_id;
            if d.delivery.event == WebhookEventType::AppointmentCreated {
                let appt = super::stored_appointment(tx, appointment_id)?;
                tx.update_forward(
                    appointment_id,
                    ForwardStatus::Pending,
                    appt.forward_attempts,
                    None,
                    appt.forward_response.as_deref(),
                )?;
                let lead_id = appt.appointment.lead_id;
                let history = tx.lead_status_history(lead_id)?;
                if history
                    .last()
                    .is_some_and(|h| h.to_status == LeadStatus::DeliveryFailed)
                {
                    tx.set_lead_status(lead_id, LeadStatus::Routed, Some("redelivery"), at)?;
                }
            }
            let audit = Audit::Redelivered {
                delivery_id,
                webhook_id: &d.delivery.webhook_id,
                previous_status: before.status,
            };
            tx.append_event(&audit.on(EventSubject::Appointment, appointment_id, at))?;
            Ok(d)
        })
    }

    /// Routes a returned or undeliverable appointment again, to the next eligible
    /// workspace (skipping the current one when `exclude_current`), with the full trace.
    ///
    /// The appointment keeps its id and lifecycle. Eligible: an unrouted appointment; one
    /// its workspace returned (a credit exists); or one whose own delivery failed for good.
    /// An undeliverable appointment gives its capacity back first (it was never billed).
    /// A routed result queues the appointment's delivery to the new workspace, after its
    /// earlier deliveries; an unrouted one puts it in the unrouted queue with the reason.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown appointment; a `Conflict` storage error when the
    /// appointment is not returned, unrouted or undeliverable, or is no longer live
    /// (completed, cancelled, no-show); storage errors.
    pub fn reassign(
        &self,
        appointment_id: AppointmentId,
        exclude_current: bool,
    ) -> Result<ReassignOutcome> {
        let snap = self.snapshot();
        let at = self.now();
        with_tx(&*self.store, |tx| {
            let step = self.step(tx, &snap, at);
            let appt = super::stored_appointment(tx, appointment_id)?;
            if !appt.lifecycle.status.is_live() {
                return Err(StorageError::conflict(format!(
                    "appointment {appointment_id} is {}: only a live appointment is reassigned",
                    appt.lifecycle.status
                ))
                .into());
            }
            let current = appt.workspace_id().map(str::to_string);
            if let (
                Some(w),
                Assignment::Routed {
                    rule_id,
                    matched_at,
                    payment_rate,
                    ..
                },
            ) = (&current, &appt.appointment.assignment)
            {
                let returned = tx
                    .billing_event(appointment_id, w, BillingKind::Credit)?
                    .is_some();
                let failed = appt.forward_status == ForwardStatus::Failed;
                if !returned && !failed {
                    return Err(StorageError::conflict(format!(
                        "appointment {appointment_id} is with {w} and neither returned nor \
                         undeliverable"
                    ))
                    .into());
                }
                if !returned {
                    gate::give_back(tx, &snap, w, *rule_id, *payment_rate, *matched_at)?;
                }
            }
            let excluded: Vec<String> = current
                .iter()
                .filter(|_| exclude_current)
                .cloned()
                .collect();
            let a = &appt.appointment;
            let routed = route::decide_stored(step, a, &excluded)?.unwrap_or(route::Routed {
                assignment: Assignment::Unrouted {
                    reason: UnroutedReason::UnknownProduct,
                },
                outcome: RoutingOutcome::Unrouted(UnroutedReason::UnknownProduct),
                trace: serde_json::Value::Null,
            });
            tx.reassign_appointment(appointment_id, &routed.assignment)?;
            let delivery_id = route::announce(step, &appt, &routed.assignment)?;
            if let Assignment::Unrouted { reason } = &routed.assignment {
                tx.set_lead_status(a.lead_id, LeadStatus::Unrouted, Some(reason.code()), at)?;
            }
            let audit = Audit::Reassigned {
                from_workspace_id: current.as_deref(),
                to_workspace_id: match &routed.assignment {
                    Assignment::Routed { workspace_id, .. } => Some(workspace_id),
                    Assignment::Unrouted { .. } => None,
                },
                trace: &routed.trace,
            };
            tx.append_event(&audit.on(EventSubject::Appointment, appointment_id, at))?;
            Ok(ReassignOutcome {
                appointment_id,
                from_workspace_id: current,
                routing: routed.outcome,
                delivery_id,
                trace: routed.trace,
            })
        })
    }
}
