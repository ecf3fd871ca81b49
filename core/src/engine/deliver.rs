//! Delivery: claim due outbox rows with a lease, post them outside any transaction, then
//! record every attempt, the appointment's `forward_*` state, the endpoint's health and, on
//! success, the billing event, in one transaction. A charge written for an appointment whose
//! lifecycle already earned a policy credit (a no-show marked before the charge) comes with
//! that credit.

use super::audit::{AttemptRef, Audit};
use super::{returns, DeliveryReport, Engine, Snapshot, Step};
use crate::billing;
use crate::delivery::{self, AttemptPlan, Transport, Verdict};
use crate::model::*;
use crate::status::WebhookEventType;
use crate::storage::with_tx;
use crate::{Error, Result};
use std::collections::HashMap;
use std::time::Instant;

/// One finished HTTP try: the attempt row, its verdict, and its `forward_response` summary.
type Tried = (Attempt, Verdict, String);

impl Engine {
    /// Claims up to `limit` due deliveries, posts them through `transport`, and records the
    /// outcomes (see the module docs). Call it in a loop until it attempts nothing.
    ///
    /// # Errors
    ///
    /// Storage errors. Transport failures are not errors: they are recorded attempts.
    pub fn deliver_due(&self, transport: &dyn Transport, limit: usize) -> Result<DeliveryReport> {
        let start = self.now();
        let lease_until = start + self.config.lease;
        let claimed = with_tx(&*self.store, |tx| {
            Ok(tx.claim_due_deliveries(start, limit, lease_until)?)
        })?;
        if claimed.is_empty() {
            return Ok(DeliveryReport::default());
        }
        let snap = self.snapshot();
        let health = self.endpoint_healths(&claimed)?;
        // Gate each delivery by its endpoint's health: a paused, disabled or inactive
        // endpoint gets none; a probed one gets one; the rest wait.
        let plan = delivery::plan_attempts(
            &self.config.endpoint,
            claimed.len(),
            |i| {
                let w = claimed[i].delivery.workspace_id.as_str();
                let active = snap.workspaces.get(w).is_some_and(|x| x.webhook_active);
                (w, &health[w], active)
            },
            start,
        );
        let to_try: Vec<&Delivery> = plan.attempt.iter().map(|&i| &claimed[i]).collect();
        let tries = self.send_all(transport, &snap, &to_try);
        let finished = self.now();
        with_tx(&*self.store, |tx| {
            let step = self.step(tx, &snap, finished);
            let mut report = DeliveryReport::default();
            defer(step, &claimed, &plan, &mut report)?;
            let mut health = health.clone();
            for (d, tried) in to_try.iter().zip(&tries) {
                self.record_try(step, d, tried, &mut health, &mut report)?;
            }
            Ok(report)
        })
    }

    /// The health of every endpoint a claimed batch goes to.
    fn endpoint_healths(&self, claimed: &[Delivery]) -> Result<HashMap<String, EndpointHealth>> {
        with_tx(&*self.store, |tx| {
            let mut health = HashMap::new();
            for d in claimed {
                let w = &d.delivery.workspace_id;
                if !health.contains_key(w) {
                    health.insert(w.clone(), tx.endpoint_health(w)?);
                }
            }
            Ok(health)
        })
    }

    /// Posts the deliveries, `delivery_workers` at a time, outside any transaction; one
    /// result per delivery, in order.
    fn send_all(
        &self,
        transport: &dyn Transport,
        snap: &Snapshot,
        to_try: &[&Delivery],
    ) -> Vec<Tried> {
        let workers = self.config.delivery_workers.max(1);
        let chunk = to_try.len().div_ceil(workers).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = to_try
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|d| self.try_once(transport, snap, d))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    }

    /// Records one try: the endpoint's health, the attempt and the delivery's next state
    /// ([`delivery::settle`]), the appointment's forward state, the billing event on
    /// success, and the audit trail (the lead's too when the delivery is final).
    fn record_try(
        &self,
        step: Step<'_>,
        d: &Delivery,
        (attempt, verdict, summary): &Tried,
        health: &mut HashMap<String, EndpointHealth>,
        report: &mut DeliveryReport,
    ) -> Result<()> {
        let (tx, finished) = (step.tx, step.at);
        self.update_health(step, &d.delivery.workspace_id, attempt, *verdict, health)?;
        let appt = tx
            .appointment(d.delivery.appointment_id)?
            .ok_or_else(|| Error::Internal(format!("delivery {} has no appointment", d.id)))?;
        let n = attempt.attempt_number;
        // The retry schedule counts from this attempt's own end, not the batch's, and from
        // the delivery's last redelivery.
        let ended =
            attempt.requested_at + jiff::SignedDuration::from_millis(attempt.duration_ms as i64);
        // Only the appointment's own delivery bills and moves its forward state; a
        // lifecycle event is told, retried and audited like it, and that is all.
        let own = d.delivery.event == WebhookEventType::AppointmentCreated;
        let charge =
            own.then_some(|| billing::charge(appt.id, &appt.appointment.assignment, finished));
        let unit = fastrand::f64();
        let scheduled_n = n.saturating_sub(d.retry_base).max(1);
        let result = delivery::settle(
            &self.config.retry,
            scheduled_n,
            *verdict,
            ended,
            unit,
            charge,
        )
        .ok_or_else(|| Error::Internal(format!("delivered appointment {} is unrouted", appt.id)))?;
        tx.record_attempt(attempt, &result)?;
        let mut charged = false;
        if let AttemptResult::Delivered {
            billing: Some(billing),
        } = &result
        {
            if tx.insert_billing_event(billing)?.is_some() {
                report.billed.0 += billing.amount.0;
                charged = true;
            }
        }
        let next = delivery::consequences(&result);
        if !own {
            report.count(next.forward_status);
            let audit = attempted(d, attempt, &result, next.event);
            tx.append_event(&audit.on(EventSubject::Appointment, appt.id, finished))?;
            return Ok(());
        }
        report.count(next.forward_status);
        let forwarded_at = (next.forward_status == ForwardStatus::Success).then_some(finished);
        tx.update_forward(appt.id, next.forward_status, n, forwarded_at, Some(summary))?;
        let audit = attempted(d, attempt, &result, next.event);
        tx.append_event(&audit.on(EventSubject::Appointment, appt.id, finished))?;
        // The lead's own trail: delivered, or given up on.
        if let Some(lead_status) = next.lead_status {
            let lead_id = appt.appointment.lead_id;
            tx.append_event(&audit.on(EventSubject::Lead, lead_id, finished))?;
            let reason = attempt
                .status_code
                .map(|c| format!("HTTP {c}"))
                .or_else(|| attempt.error.clone());
            tx.set_lead_status(lead_id, lead_status, reason.as_deref(), finished)?;
        }
        // A no-show or cancellation applied before this charge earned a policy credit it
        // could not write then (nothing was charged): it is written with the charge, after
        // the lead's `delivered`, which the credit turns into `returned`.
        if charged {
            returns::standing_credit(step, &appt)?;
        }
        Ok(())
    }

    /// Moves the endpoint's health on after an attempt ([`delivery::EndpointPolicy::after`])
    /// and stores it when it changed.
    fn update_health(
        &self,
        step: Step<'_>,
        workspace_id: &str,
        attempt: &Attempt,
        verdict: Verdict,
        health: &mut HashMap<String, EndpointHealth>,
    ) -> Result<()> {
        let Some(h) = health.get_mut(workspace_id) else {
            return Ok(());
        };
        let next = self
            .config
            .endpoint
            .after(h, verdict, attempt.status_code, step.at);
        if next != *h {
            step.tx.put_endpoint_health(workspace_id, &next)?;
            *h = next;
        }
        Ok(())
    }

    /// One HTTP try of a claimed delivery: the attempt row, its verdict, and its summary.
    fn try_once(
        &self,
        transport: &dyn Transport,
        snap: &Snapshot,
        d: &Delivery,
    ) -> (Attempt, Verdict, String) {
        let requested_at = self.now();
        let mut attempt = Attempt {
            delivery_id: d.id,
            attempt_number: d.attempts + 1,
            requested_at,
            duration_ms: 0,
            status_code: None,
            error: None,
            response_excerpt: None,
        };
        let workspace = match snap.workspaces.get(&d.delivery.workspace_id) {
            Some(w) if w.webhook_active => w,
            Some(_) | None => {
                let msg = "workspace webhook is inactive or missing".to_string();
                attempt.error = Some(msg.clone());
                return (attempt, Verdict::Retry(None), msg);
            }
        };
        let request = match delivery::build_request(d, workspace, requested_at) {
            Ok(r) => r,
            Err(e) => {
                attempt.error = Some(e.to_string());
                return (attempt, Verdict::Fail, e.to_string());
            }
        };
        let started = Instant::now();
        let result = transport.post(&request, self.config.request_timeout);
        attempt.duration_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(r) => {
                attempt.status_code = Some(r.status);
                attempt.response_excerpt = Some(r.body_excerpt.clone());
            }
            Err(e) => attempt.error = Some(e.to_string()),
        }
        (
            attempt,
            delivery::classify(&result),
            delivery::summarize(&result),
        )
    }
}

/// Puts back the deliveries the plan defers, each with its `delivery_deferred` event.
fn defer(
    step: Step<'_>,
    claimed: &[Delivery],
    plan: &AttemptPlan,
    report: &mut DeliveryReport,
) -> Result<()> {
    for &(i, until, why) in &plan.defer {
        let d = &claimed[i];
        step.tx.defer_delivery(d.id, until)?;
        let deferred = Audit::DeliveryDeferred {
            delivery_id: d.id,
            reason: why.code(),
            next_attempt_at: until,
        };
        let appointment_id = d.delivery.appointment_id;
        step.tx
            .append_event(&deferred.on(EventSubject::Appointment, appointment_id, step.at))?;
        report.deferred += 1;
    }
    Ok(())
}

/// The audit event of one attempt.
fn attempted<'a>(
    d: &'a Delivery,
    attempt: &'a Attempt,
    result: &AttemptResult,
    kind: crate::status::EventKind,
) -> Audit<'a> {
    Audit::Attempted {
        kind,
        attempt: AttemptRef {
            delivery_id: d.id,
            webhook_id: &d.delivery.webhook_id,
            attempt: attempt.attempt_number,
            status_code: attempt.status_code,
            error: attempt.error.as_deref(),
            next_attempt_at: match result {
                AttemptResult::Retry { next_attempt_at } => Some(*next_attempt_at),
                _ => None,
            },
        },
    }
}
