//! Returns and credits: a workspace returns an appointment it was charged for, under its
//! [`ReturnPolicy`](crate::model::ReturnPolicy) ([`crate::returns`] decides), and policy
//! credits follow no-shows and late cancellations.
//!
//! A credit reverses the workspace's charge for the appointment, gives back the capacity the
//! appointment used (in the windows it was counted in), sets the lead `returned`, and is
//! written in the same transaction as the approved return. Only an approval writes a credit:
//! a pending return shows in the billing summary as pending, not as a credit.
//!
//! A policy credit needs a charge to reverse. A transition that earns one before the
//! appointment's own delivery was billed (a no-show marked while that delivery still waits
//! for a retry or a lease) writes nothing then; the delivery that bills it writes the credit
//! in the same transaction as the charge ([`standing_credit`]).

use super::audit::Audit;
use super::{gate, Engine, Step};
use crate::lifecycle::{Actor, Life};
use crate::model::*;
use crate::returns::{self, ReturnError, ReturnRequest};
use crate::status::{AppointmentStatus, EventKind, LeadStatus, ReturnStatus};
use crate::storage::{with_tx, Inserted};
use crate::{Error, Result};
use serde::Serialize;

/// What a return request or decision came to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReturnOutcome {
    /// The return.
    pub return_id: ReturnId,
    /// The appointment.
    pub appointment_id: AppointmentId,
    /// The workspace that returned it.
    pub workspace_id: String,
    /// Pending (under review), approved or denied.
    pub status: ReturnStatus,
    /// The credit written (approved returns only).
    pub credit: Option<NewBillingEvent>,
}

impl Engine {
    /// Returns a delivered appointment on behalf of the workspace it was charged to, under
    /// the workspace's return policy: approved at once (the credit is written) or left
    /// pending for review ([`Engine::approve_return`], [`Engine::deny_return`]).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown appointment; [`ReturnError::NotBilled`] when the
    /// current workspace was never charged; [`ReturnError::AlreadyReturned`];
    /// [`ReturnError::ReasonNotAllowed`], [`ReturnError::WindowClosed`],
    /// [`ReturnError::LimitReached`] from the policy. Nothing is written on error.
    pub fn request_return(
        &self,
        appointment_id: AppointmentId,
        reason: &str,
        actor: &Actor,
    ) -> Result<ReturnOutcome> {
        let snap = self.snapshot();
        let at = self.now();
        with_tx(&*self.store, |tx| {
            let step = self.step(tx, &snap, at);
            let appt = super::stored_appointment(tx, appointment_id)?;
            let charge = current_charge(step, &appt)?;
            let workspace = charge.workspace_id.clone();
            if let Some(r) = tx.return_for(appointment_id, &workspace)? {
                return Err(already(&r).into());
            }
            let policy = snap
                .workspaces
                .get(workspace.as_str())
                .map(|w| w.returns.clone())
                .unwrap_or_default();
            let (from, to) = returns::billing_period(at);
            let (period_returns, period_charges) = tx.return_counts(&workspace, from, to)?;
            let status = returns::evaluate(
                &policy,
                &ReturnRequest {
                    reason,
                    delivered_at: appt.forwarded_at,
                    at,
                    period_returns,
                    period_charges,
                },
            )?;
            let ret = NewReturn {
                appointment_id,
                workspace_id: workspace,
                reason: reason.to_string(),
                status,
                actor: actor.as_str().to_string(),
                credit: Cents(-charge.amount.0),
                requested_at: at,
                decided_at: (status == ReturnStatus::Approved).then_some(at),
                decision_note: None,
            };
            record(step, &appt, ret, EventKind::ReturnRequested)
        })
    }

    /// Returns a delivered appointment: [`Engine::request_return`] by the API, giving the
    /// credit. Under a policy with review the return stays pending and this is an error.
    ///
    /// # Errors
    ///
    /// As [`Engine::request_return`]; and [`ReturnError::ReviewRequired`] (`Conflict`,
    /// `return_needs_review`) when the workspace's policy reviews returns (nothing is written then: use
    /// [`Engine::request_return`]).
    pub fn return_appointment(
        &self,
        appointment_id: AppointmentId,
        reason: &str,
    ) -> Result<NewBillingEvent> {
        let appt = self
            .appointment(appointment_id)?
            .ok_or_else(|| Error::NotFound {
                entity: "appointment",
                id: appointment_id.to_string(),
            })?;
        if let Some(w) = appt.workspace_id() {
            if self
                .snapshot()
                .workspaces
                .get(w)
                .is_some_and(|w| w.returns.review)
            {
                return Err(ReturnError::ReviewRequired {
                    workspace_id: w.to_string(),
                }
                .into());
            }
        }
        let out = self.request_return(appointment_id, reason, &Actor::Api)?;
        out.credit.ok_or_else(|| {
            ReturnError::NotPending {
                id: out.return_id.get(),
                status: out.status,
            }
            .into()
        })
    }

    /// Approves a pending return: writes its credit and gives the capacity back.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown return; [`ReturnError::NotPending`] when it was
    /// already approved or denied.
    pub fn approve_return(&self, return_id: ReturnId, note: Option<&str>) -> Result<ReturnOutcome> {
        self.decide(return_id, ReturnStatus::Approved, note)
    }

    /// Denies a pending return: no credit.
    ///
    /// # Errors
    ///
    /// As [`Engine::approve_return`].
    pub fn deny_return(&self, return_id: ReturnId, note: Option<&str>) -> Result<ReturnOutcome> {
        self.decide(return_id, ReturnStatus::Denied, note)
    }

    /// A stored return.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn return_record(&self, return_id: ReturnId) -> Result<Option<ReturnRecord>> {
        with_tx(&*self.store, |tx| Ok(tx.return_record(return_id)?))
    }

    fn decide(
        &self,
        return_id: ReturnId,
        status: ReturnStatus,
        note: Option<&str>,
    ) -> Result<ReturnOutcome> {
        let snap = self.snapshot();
        let at = self.now();
        with_tx(&*self.store, |tx| {
            let step = self.step(tx, &snap, at);
            let r = tx
                .return_record(return_id)?
                .ok_or_else(|| Error::NotFound {
                    entity: "return",
                    id: return_id.to_string(),
                })?;
            if !tx.decide_return(return_id, status, at, note)? {
                return Err(ReturnError::NotPending {
                    id: return_id.get(),
                    status: r.ret.status,
                }
                .into());
            }
            let appt = super::stored_appointment(tx, r.ret.appointment_id)?;
            let kind = match status {
                ReturnStatus::Approved => EventKind::ReturnApproved,
                _ => EventKind::ReturnDenied,
            };
            let decided = NewReturn {
                status,
                decided_at: Some(at),
                decision_note: note.map(str::to_string),
                ..r.ret
            };
            let credit = if status == ReturnStatus::Approved {
                Some(write_credit(step, &appt, &decided)?)
            } else {
                None
            };
            audit_return(step, return_id, &decided, kind)?;
            Ok(ReturnOutcome {
                return_id,
                appointment_id: decided.appointment_id,
                workspace_id: decided.workspace_id,
                status,
                credit,
            })
        })
    }
}

/// The charge of the workspace the appointment is with now.
fn current_charge(step: Step<'_>, appt: &Appointment) -> Result<NewBillingEvent> {
    let Some(workspace) = appt.workspace_id() else {
        return Err(ReturnError::NotBilled(appt.id.get()).into());
    };
    step.tx
        .billing_event(appt.id, workspace, BillingKind::Charge)?
        .ok_or_else(|| ReturnError::NotBilled(appt.id.get()).into())
}

fn already(r: &ReturnRecord) -> ReturnError {
    ReturnError::AlreadyReturned {
        appointment_id: r.ret.appointment_id.get(),
        return_id: r.id.get(),
        status: r.ret.status,
    }
}

/// Stores a new return (and its credit when approved), with its audit events.
fn record(
    step: Step<'_>,
    appt: &Appointment,
    ret: NewReturn,
    kind: EventKind,
) -> Result<ReturnOutcome> {
    let return_id = match step.tx.insert_return(&ret)? {
        Inserted::Created(id) => id,
        Inserted::Existing(id) => {
            let r = step.tx.return_record(id)?.ok_or_else(|| Error::NotFound {
                entity: "return",
                id: id.to_string(),
            })?;
            return Err(already(&r).into());
        }
    };
    audit_return(step, return_id, &ret, kind)?;
    let credit = if ret.status == ReturnStatus::Approved {
        audit_return(step, return_id, &ret, EventKind::ReturnApproved)?;
        Some(write_credit(step, appt, &ret)?)
    } else {
        None
    };
    Ok(ReturnOutcome {
        return_id,
        appointment_id: ret.appointment_id,
        workspace_id: ret.workspace_id,
        status: ret.status,
        credit,
    })
}

/// A policy credit (no-show, late cancellation, reschedule requested): an approved return
/// by `system` with its credit, unless the workspace was never charged or already returned
/// the appointment. Returns the credit written, if any.
pub(crate) fn policy_credit(
    step: Step<'_>,
    appt: &Appointment,
    reason: &str,
) -> Result<Option<NewBillingEvent>> {
    let Ok(charge) = current_charge(step, appt) else {
        return Ok(None);
    };
    if step.tx.return_for(appt.id, &charge.workspace_id)?.is_some() {
        return Ok(None);
    }
    let ret = NewReturn {
        appointment_id: appt.id,
        workspace_id: charge.workspace_id.clone(),
        reason: reason.to_string(),
        status: ReturnStatus::Approved,
        actor: Actor::System.as_str().to_string(),
        credit: Cents(-charge.amount.0),
        requested_at: step.at,
        decided_at: Some(step.at),
        decision_note: Some("return policy".to_string()),
    };
    Ok(record(step, appt, ret, EventKind::Credited)?.credit)
}

/// The policy credit an appointment's lifecycle earned before it was charged, written now:
/// called by the delivery that has just written the appointment's charge, in its
/// transaction. The change that brought the appointment to its status (its last audited
/// status change: old and new status, actor, time) is judged as [`returns::auto_credit`]
/// judged it when it was applied, under the workspace's policy of today and with the
/// appointment's `reschedule_requested` as it is now. Returns the credit written, if any.
pub(crate) fn standing_credit(
    step: Step<'_>,
    appt: &Appointment,
) -> Result<Option<NewBillingEvent>> {
    let after = appt.life();
    if after.status.is_live() {
        // Only a no-show or a cancellation earns a credit.
        return Ok(None);
    }
    let policy = appt
        .workspace_id()
        .and_then(|w| step.snap.workspaces.get(w))
        .map(|w| w.returns.clone())
        .unwrap_or_default();
    let events = step.tx.events(EventSubject::Appointment, appt.id.get())?;
    let status = |e: &NewEvent, field: &str| {
        e.detail
            .get(field)
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<AppointmentStatus>().ok())
    };
    let Some((from, e)) = events.iter().rev().find_map(|e| {
        let (from, to) = (status(e, "from_status")?, status(e, "to_status")?);
        (from != to).then_some((from, e))
    }) else {
        return Ok(None);
    };
    if status(e, "to_status") != Some(after.status) {
        return Ok(None);
    }
    let actor = Actor::parse(e.detail.get("actor").and_then(|v| v.as_str()).unwrap_or(""));
    let before = Life {
        status: from,
        ..after.clone()
    };
    match returns::auto_credit(
        &policy,
        &before,
        &after,
        &actor,
        appt.lifecycle.reschedule_requested,
        e.created_at,
    ) {
        Some(reason) => policy_credit(step, appt, reason),
        None => Ok(None),
    }
}

fn audit_return(step: Step<'_>, id: ReturnId, r: &NewReturn, kind: EventKind) -> Result<()> {
    let audit = Audit::Return {
        kind,
        return_id: id,
        workspace_id: &r.workspace_id,
        reason: &r.reason,
        status: r.status,
        credit_cents: r.credit.0,
        actor: &r.actor,
    };
    Ok(step
        .tx
        .append_event(&audit.on(EventSubject::Appointment, r.appointment_id, step.at))?)
}

/// Writes the credit of an approved return, gives the capacity back, and sets the lead
/// `returned`.
fn write_credit(step: Step<'_>, appt: &Appointment, r: &NewReturn) -> Result<NewBillingEvent> {
    let tx = step.tx;
    let credit = NewBillingEvent {
        appointment_id: appt.id,
        workspace_id: r.workspace_id.clone(),
        kind: BillingKind::Credit,
        amount: r.credit,
        created_at: step.at,
    };
    if tx.insert_billing_event(&credit)?.is_none() {
        return Err(ReturnError::AlreadyReturned {
            appointment_id: appt.id.get(),
            return_id: 0,
            status: ReturnStatus::Approved,
        }
        .into());
    }
    if let Assignment::Routed {
        workspace_id,
        rule_id,
        matched_at,
        ..
    } = &appt.appointment.assignment
    {
        if *workspace_id == r.workspace_id {
            gate::give_back(
                tx,
                step.snap,
                workspace_id,
                *rule_id,
                Cents(-r.credit.0),
                *matched_at,
            )?;
        }
    }
    let lead_id = appt.appointment.lead_id;
    tx.append_events(&[
        Audit::AppointmentReturned {
            reason: &r.reason,
            credit_cents: credit.amount.0,
        }
        .on(EventSubject::Appointment, appt.id, step.at),
        Audit::LeadReturned {
            appointment_id: appt.id,
            reason: &r.reason,
        }
        .on(EventSubject::Lead, lead_id, step.at),
    ])?;
    tx.set_lead_status(lead_id, LeadStatus::Returned, Some(&r.reason), step.at)?;
    Ok(credit)
}
