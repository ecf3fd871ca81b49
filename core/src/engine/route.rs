//! Routing inside the assigning transaction (tie state and capacity read and consumed in the
//! same transaction), the outbox row of a routed appointment, and the routing use cases:
//! explain, reroute the unrouted queue, assign by hand, backtest a rule set.

use super::audit::Audit;
use super::{gate, BacktestReport, BacktestRow, Engine, Move, RerouteReport, RoutingOutcome, Step};
use crate::catalog::ProductId;
use crate::model::*;
use crate::payload::{self, Customer};
use crate::routing::{RoutingRule, RoutingTable, UnroutedReason};
use crate::status::{EventKind, LeadStatus, WebhookEventType};
use crate::storage::{with_tx, StorageError};
use crate::validate::ValidLead;
use crate::zip::Zip5;
use crate::{Error, Result};
use std::collections::HashMap;

/// A routing decision ready to store: the assignment, its outcome, and its trace (JSON, for
/// the audit event).
pub(crate) struct Routed {
    pub assignment: Assignment,
    pub outcome: RoutingOutcome,
    pub trace: serde_json::Value,
}

/// How many times [`decide`] routes again when the winner's capacity was taken by a
/// concurrent writer between the gate's read and the take.
const MAX_ROUNDS: usize = 16;

/// Routes a (product, ZIP5) inside the assigning transaction: the tie policy's state is read
/// and advanced in the store, each candidate passes the gate (consent, schedule, caps,
/// budget), and the winner's capacity is taken atomically
/// ([`CapacityRepo::try_consume`](crate::storage::CapacityRepo::try_consume)), all in
/// `step.tx`. When the take is refused (another writer took the last unit after the gate
/// read the counters; never under SQLite's serialized writers) the decision runs again and
/// the gate now skips that candidate. `consent`: whether the lead has TCPA consent.
///
/// # Errors
///
/// Storage errors; a `Temporary` storage error when capacity kept changing for
/// [`MAX_ROUNDS`] rounds.
pub(crate) fn decide(
    step: Step<'_>,
    product: ProductId,
    zip: Zip5,
    consent: bool,
) -> Result<Routed> {
    decide_excluding(step, product, zip, consent, &[])
}

/// [`decide`], skipping the `excluded` workspaces.
pub(crate) fn decide_excluding(
    step: Step<'_>,
    product: ProductId,
    zip: Zip5,
    consent: bool,
    excluded: &[String],
) -> Result<Routed> {
    decide_open_at(step, product, zip, consent, excluded, step.at)
}

/// [`decide_excluding`], checking the workspaces' weekly hours at `open_at` (a booking's
/// start) rather than now.
pub(crate) fn decide_open_at(
    step: Step<'_>,
    product: ProductId,
    zip: Zip5,
    consent: bool,
    excluded: &[String],
    open_at: jiff::Timestamp,
) -> Result<Routed> {
    for _ in 0..MAX_ROUNDS {
        let routed = decide_once(step, product, zip, consent, excluded, open_at)?;
        let Assignment::Routed {
            workspace_id,
            rule_id,
            payment_rate,
            ..
        } = &routed.assignment
        else {
            return Ok(routed);
        };
        let (tx, snap, at) = (step.tx, step.snap, step.at);
        if gate::consume(tx, snap, workspace_id, *rule_id, *payment_rate, at)? {
            return Ok(routed);
        }
    }
    Err(StorageError::unavailable("capacity kept changing while routing").into())
}

/// One routing decision, without taking capacity (the caller takes the winner's).
fn decide_once(
    step: Step<'_>,
    product: ProductId,
    zip: Zip5,
    consent: bool,
    excluded: &[String],
    open_at: jiff::Timestamp,
) -> Result<Routed> {
    let (tx, snap, at) = (step.tx, step.snap, step.at);
    let mut state = gate::StoreTieState::new(tx, true);
    let mut gate = gate::StoreGate::new(tx, snap, at, consent)
        .excluding(excluded)
        .open_at(open_at);
    let explanation = snap.routing.decide_explained(
        product,
        zip,
        step.config.tie_policy,
        &mut state,
        &mut gate,
        at,
    );
    state.finish()?;
    gate.finish()?;
    let trace = explanation.to_json();
    let m = match explanation.outcome {
        Ok(m) => m,
        Err(reason) => {
            return Ok(Routed {
                assignment: Assignment::Unrouted { reason },
                outcome: RoutingOutcome::Unrouted(reason),
                trace,
            });
        }
    };
    let rate = snap
        .workspaces
        .get(m.workspace_id)
        .map(|w| w.payment_rate)
        .unwrap_or_default();
    Ok(Routed {
        assignment: Assignment::Routed {
            workspace_id: m.workspace_id.to_string(),
            rule_id: Some(m.rule_id),
            method: RoutingMethod::Auto,
            matched_at: at,
            payment_rate: rate,
        },
        outcome: RoutingOutcome::Routed {
            workspace_id: m.workspace_id.to_string(),
            rule_id: m.rule_id,
        },
        trace,
    })
}

/// Writes the outbox row of a routed appointment (same transaction as its routing).
pub(crate) fn enqueue(
    step: Step<'_>,
    appointment_id: AppointmentId,
    appt: &NewAppointment,
    customer: &Customer,
    sequence: u32,
) -> Result<DeliveryId> {
    let Assignment::Routed { workspace_id, .. } = &appt.assignment else {
        return Err(Error::Internal("enqueue of an unrouted appointment".into()));
    };
    let workspace = step.snap.workspaces.get(workspace_id.as_str());
    let body = payload::build(appointment_id, appt, customer)
        .ok_or_else(|| Error::Internal("routed appointment without payload".into()))?;
    let options = workspace.map(|w| w.delivery.clone()).unwrap_or_default();
    let payload = serde_json::to_string(&payload::shape(&body, &options, step.at))
        .map_err(|e| Error::Internal(format!("payload serialization: {e}")))?;
    step.tx
        .enqueue_delivery(&NewDelivery {
            appointment_id,
            event: WebhookEventType::AppointmentCreated,
            sequence,
            workspace_id: workspace_id.to_string(),
            webhook_id: new_webhook_id(),
            url: workspace
                .map(|w| w.outbound_webhook_url.clone())
                .unwrap_or_default(),
            payload,
            next_attempt_at: step.at,
            created_at: step.at,
        })
        .map_err(Into::into)
}

/// Routes a stored appointment again (its product, ZIP and lead's consent, against today's
/// table), skipping the `excluded` workspaces; `None` when its product is no longer in the
/// catalog (or its ZIP no longer reads).
pub(crate) fn decide_stored(
    step: Step<'_>,
    a: &NewAppointment,
    excluded: &[String],
) -> Result<Option<Routed>> {
    let (Some(product), Ok(zip)) = (
        step.snap.routing.catalog().lookup(&a.service_type),
        Zip5::parse(&a.zip_code),
    ) else {
        return Ok(None);
    };
    let consent = step
        .tx
        .lead(a.lead_id)?
        .is_some_and(|l| l.lead.tcpa_consent == Some(true));
    decide_excluding(step, product, zip, consent, excluded).map(Some)
}

/// A fresh Standard Webhooks `webhook-id` (`msg_` and a random UUID): one per delivery,
/// kept across its retries and redeliveries.
pub(crate) fn new_webhook_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// Routes a stored unrouted appointment: the assignment, the lead's `routed` event and
/// status, and its outbox row.
pub(crate) fn route_stored(
    step: Step<'_>,
    appt: &Appointment,
    assignment: &Assignment,
) -> Result<()> {
    step.tx.assign_appointment(appt.id, assignment)?;
    announce(step, appt, assignment).map(|_| ())
}

/// After an assignment: the lead's `routed` event and status, and the appointment's own
/// delivery (`appointment.created`) to its new workspace, queued after any earlier
/// deliveries of the appointment. Returns the delivery.
pub(crate) fn announce(
    step: Step<'_>,
    appt: &Appointment,
    assignment: &Assignment,
) -> Result<Option<DeliveryId>> {
    let tx = step.tx;
    let lead = tx
        .lead(appt.appointment.lead_id)?
        .ok_or_else(|| Error::Internal(format!("appointment {} has no lead", appt.id)))?;
    if let Assignment::Routed {
        workspace_id,
        rule_id,
        method,
        ..
    } = assignment
    {
        let routed = Audit::LeadRoutedLater {
            appointment_id: appt.id,
            workspace_id,
            rule_id: *rule_id,
            method: *method,
        };
        tx.append_event(&routed.on(EventSubject::Lead, lead.id, step.at))?;
        tx.set_lead_status(lead.id, LeadStatus::Routed, None, step.at)?;
    }
    if !matches!(assignment, Assignment::Routed { .. }) {
        return Ok(None);
    }
    let mut routed = appt.appointment.clone();
    routed.assignment = assignment.clone();
    let sequence = tx
        .deliveries_for_appointment(appt.id)?
        .last()
        .map_or(0, |d| d.delivery.sequence + 1);
    enqueue(step, appt.id, &routed, &stored_customer(&lead), sequence).map(Some)
}

impl Engine {
    /// A dry run: how a (product, ZIP) would route now, with the full trace (every
    /// candidate, skipped ones with their reason, excluded and inactive rules), as JSON, for
    /// a lead with TCPA consent. Reads the store's tie state and capacity counters; writes
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`crate::zip::ZipError`] for a bad ZIP; storage errors.
    pub fn explain(&self, product: &str, zip: &str) -> Result<serde_json::Value> {
        let zip = crate::zip::Zip5::parse(zip)?;
        let snap = self.snapshot();
        let Some(pid) = snap.routing.catalog().lookup(product) else {
            return Ok(snap.routing.explain(product, zip).to_json());
        };
        let at = self.now();
        with_tx(&*self.store, |tx| {
            let state = gate::StoreTieState::new(tx, false);
            let mut gate = gate::StoreGate::new(tx, &snap, at, true);
            let trace = snap
                .routing
                .explain_with(pid, zip, self.config.tie_policy, &state, &mut gate)
                .to_json();
            state.finish()?;
            gate.finish()?;
            Ok(trace)
        })
    }

    /// Routes the unrouted queue again against the current rules and workspaces, e.g. after
    /// rules or workspaces changed. Each appointment that now matches is assigned, gets its
    /// outbox row and an `appointment_events` row `rerouted` with its trace, in one
    /// transaction per batch of `batch` appointments; the others stay queued. The payment
    /// rate is the workspace's at rerouting time.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn reroute_unrouted(&self, batch: usize) -> Result<RerouteReport> {
        let snap = self.snapshot();
        let mut report = RerouteReport::default();
        let mut after = AppointmentId(0);
        loop {
            let page = with_tx(&*self.store, |tx| {
                Ok(tx.unrouted_appointments(after, batch.max(1))?)
            })?;
            let Some(last) = page.last() else {
                return Ok(report);
            };
            after = last.id;
            let at = self.now();
            let step = with_tx(&*self.store, |tx| {
                let mut r = RerouteReport::default();
                for appt in &page {
                    r.examined += 1;
                    let step = self.step(tx, &snap, at);
                    let Some(routed) = decide_stored(step, &appt.appointment, &[])? else {
                        *r.still_unrouted
                            .entry(UnroutedReason::UnknownProduct.code().to_string())
                            .or_default() += 1;
                        continue;
                    };
                    match &routed.outcome {
                        RoutingOutcome::Routed { workspace_id, .. } => {
                            let step = self.step(tx, &snap, at);
                            route_stored(step, appt, &routed.assignment)?;
                            let rerouted = Audit::Decision {
                                kind: EventKind::Rerouted,
                                trace: &routed.trace,
                            };
                            tx.append_event(&rerouted.on(EventSubject::Appointment, appt.id, at))?;
                            *r.routed.entry(workspace_id.clone()).or_default() += 1;
                        }
                        RoutingOutcome::Unrouted(reason) => {
                            *r.still_unrouted
                                .entry(reason.code().to_string())
                                .or_default() += 1;
                        }
                    }
                }
                Ok(r)
            })?;
            report.examined += step.examined;
            for (k, v) in step.routed {
                *report.routed.entry(k).or_default() += v;
            }
            for (k, v) in step.still_unrouted {
                *report.still_unrouted.entry(k).or_default() += v;
            }
        }
    }

    /// Assigns an unrouted appointment to a workspace by hand (`routing_method = manual`),
    /// writes its outbox row and an `assigned_manually` event with `note`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown appointment or workspace; a `Conflict` storage
    /// error when the appointment is already routed (a routed appointment is never moved).
    pub fn assign_manually(
        &self,
        appointment_id: AppointmentId,
        workspace_id: &str,
        note: &str,
    ) -> Result<()> {
        let snap = self.snapshot();
        let workspace = snap
            .workspaces
            .get(workspace_id)
            .ok_or_else(|| Error::NotFound {
                entity: "workspace",
                id: workspace_id.to_string(),
            })?;
        let at = self.now();
        with_tx(&*self.store, |tx| {
            let appt = super::stored_appointment(tx, appointment_id)?;
            let assignment = Assignment::Routed {
                workspace_id: workspace.id.clone(),
                rule_id: None,
                method: RoutingMethod::Manual,
                matched_at: at,
                payment_rate: workspace.payment_rate,
            };
            route_stored(self.step(tx, &snap, at), &appt, &assignment)?;
            let assigned = Audit::AssignedManually {
                workspace_id: &workspace.id,
                note,
            };
            Ok(tx.append_event(&assigned.on(EventSubject::Appointment, appointment_id, at))?)
        })
    }

    /// Replays every stored appointment against a proposed rule set (compiled with the
    /// current workspaces and catalog, plus the proposal's products) and reports what would
    /// change: counts per workspace, current and proposed, and the appointments that move.
    /// Nothing is written.
    ///
    /// # Errors
    ///
    /// [`crate::routing::RoutingError`] when the proposal does not compile; storage errors.
    pub fn backtest(&self, proposed: &[RoutingRule]) -> Result<BacktestReport> {
        let snap = self.snapshot();
        let mut catalog = snap.routing.catalog().clone();
        for r in proposed {
            for p in &r.product_types {
                catalog.add(p, None);
            }
        }
        let workspaces: Vec<Workspace> = snap.workspaces.values().cloned().collect();
        let table = RoutingTable::compile(proposed, &workspaces, &catalog)?;
        let mut report = BacktestReport::default();
        let mut per: HashMap<Option<String>, (u64, u64)> = HashMap::new();
        let mut after = AppointmentId(0);
        loop {
            let page = with_tx(&*self.store, |tx| Ok(tx.appointments_after(after, 1000)?))?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for appt in &page {
                let a = &appt.appointment;
                let current = match &a.assignment {
                    Assignment::Routed { workspace_id, .. } => Some(workspace_id.clone()),
                    Assignment::Unrouted { .. } => None,
                };
                let proposed_ws = match crate::zip::Zip5::parse(&a.zip_code) {
                    Ok(z) => table
                        .route(&a.service_type, z)
                        .outcome
                        .ok()
                        .map(|m| m.workspace_id.to_string()),
                    Err(_) => None,
                };
                report.examined += 1;
                per.entry(current.clone()).or_default().0 += 1;
                per.entry(proposed_ws.clone()).or_default().1 += 1;
                if current != proposed_ws {
                    report.moves.push(Move {
                        appointment_id: appt.id,
                        from: current,
                        to: proposed_ws,
                    });
                }
            }
        }
        let mut rows: Vec<BacktestRow> = per
            .into_iter()
            .map(|(workspace_id, (current, proposed))| BacktestRow {
                workspace_id,
                current,
                proposed,
            })
            .collect();
        rows.sort_by(|a, b| a.workspace_id.cmp(&b.workspace_id));
        report.per_workspace = rows;
        Ok(report)
    }
}

/// The customer a new lead describes.
pub(crate) fn customer_of(lead: &ValidLead) -> Customer {
    Customer {
        first_name: lead.first_name.clone(),
        last_name: lead.last_name.clone(),
        phone_e164: lead.phone.as_ref().map(|p| p.number.as_str().to_string()),
        email: lead.email.clone(),
    }
}

/// The customer a stored lead described (its normalized canonical fields).
fn stored_customer(lead: &Lead) -> Customer {
    let f = |k: &str| {
        lead.lead
            .fields
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    Customer {
        first_name: f("first_name"),
        last_name: f("last_name"),
        phone_e164: f("phone"),
        email: f("email"),
    }
}
