//! After delivery: a client returns an appointment (a credit that gives the capacity back),
//! and a disabled or paused endpoint is re-enabled.

use super::audit::Audit;
use super::{gate, Engine};
use crate::model::*;
use crate::status::LeadStatus;
use crate::storage::{with_tx, StorageError};
use crate::{Error, Result};

impl Engine {
    /// Returns a delivered appointment (the client disputes it): writes a credit billing
    /// event that reverses its charge, gives the capacity it used back to the workspace's and
    /// rule's caps and budget (in the windows it was counted in), and records a `returned`
    /// event with `reason`, in one transaction. Returns the credit.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown appointment; a `Conflict` storage error when it was
    /// never billed (not delivered) or was already returned.
    pub fn return_appointment(
        &self,
        appointment_id: AppointmentId,
        reason: &str,
    ) -> Result<NewBillingEvent> {
        let snap = self.snapshot();
        let at = self.now();
        with_tx(&*self.store, |tx| {
            let appt = super::stored_appointment(tx, appointment_id)?;
            let charge = tx
                .billing_event(appointment_id, BillingKind::Charge)?
                .ok_or_else(|| {
                    StorageError::conflict(format!("appointment {appointment_id} was never billed"))
                })?;
            let credit = NewBillingEvent {
                appointment_id,
                workspace_id: charge.workspace_id.clone(),
                kind: BillingKind::Credit,
                amount: Cents(-charge.amount.0),
                created_at: at,
            };
            if tx.insert_billing_event(&credit)?.is_none() {
                return Err(StorageError::conflict(format!(
                    "appointment {appointment_id} was already returned"
                ))
                .into());
            }
            if let Assignment::Routed {
                workspace_id,
                rule_id,
                matched_at,
                ..
            } = &appt.appointment.assignment
            {
                gate::give_back(
                    tx,
                    &snap,
                    workspace_id,
                    *rule_id,
                    charge.amount,
                    *matched_at,
                )?;
            }
            let lead_id = appt.appointment.lead_id;
            tx.append_events(&[
                Audit::AppointmentReturned {
                    reason,
                    credit_cents: credit.amount.0,
                }
                .on(EventSubject::Appointment, appointment_id, at),
                Audit::LeadReturned {
                    appointment_id,
                    reason,
                }
                .on(EventSubject::Lead, lead_id, at),
            ])?;
            tx.set_lead_status(lead_id, LeadStatus::Returned, Some(reason), at)?;
            Ok(credit)
        })
    }

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
}
