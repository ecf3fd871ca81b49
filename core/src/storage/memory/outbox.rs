//! The outbox: deliveries and attempts.

use super::*;

impl OutboxRepo for MemTx {
    fn enqueue_delivery(&self, d: &NewDelivery) -> Result<DeliveryId, StorageError> {
        self.write(|s| {
            if d.appointment_id.0 < 1 || d.appointment_id.0 as usize > s.appointments.len() {
                return Err(conflict(format!(
                    "appointment {} does not exist",
                    d.appointment_id
                )));
            }
            let key = (d.appointment_id, d.sequence);
            if s.delivery_by_appointment.contains_key(&key) {
                return Err(conflict(format!(
                    "appointment {} has a delivery with sequence {}",
                    d.appointment_id, d.sequence
                )));
            }
            if s.webhook_ids.contains_key(&d.webhook_id) {
                return Err(conflict(format!("webhook id {} is taken", d.webhook_id)));
            }
            let id = next_id(s.deliveries.len());
            s.deliveries.push(Delivery {
                id,
                delivery: d.clone(),
                status: ForwardStatus::Pending,
                attempts: 0,
                locked_until: None,
                retry_base: 0,
            });
            let (appt, wid) = (key, d.webhook_id.clone());
            s.delivery_by_appointment.insert(appt, id);
            s.webhook_ids.insert(wid.clone(), id);
            Ok((
                id,
                Box::new(move |s: &mut State| {
                    s.deliveries.pop();
                    s.delivery_by_appointment.remove(&appt);
                    s.webhook_ids.remove(&wid);
                }),
            ))
        })
    }
    fn claim_due_deliveries(
        &self,
        now: Timestamp,
        limit: usize,
        lease_until: Timestamp,
    ) -> Result<Vec<Delivery>, StorageError> {
        self.write(|s| {
            let mut due: Vec<usize> = s
                .deliveries
                .iter()
                .enumerate()
                .filter(|(_, d)| {
                    d.status == ForwardStatus::Pending
                        && d.delivery.next_attempt_at <= now
                        && d.locked_until.is_none_or(|l| l <= now)
                        && !blocked_by_earlier(s, d)
                })
                .map(|(i, _)| i)
                .collect();
            due.sort_by_key(|&i| (s.deliveries[i].delivery.next_attempt_at, i));
            due.truncate(limit);
            let mut out = Vec::with_capacity(due.len());
            let mut old = Vec::with_capacity(due.len());
            for &i in &due {
                old.push((i, s.deliveries[i].locked_until));
                s.deliveries[i].locked_until = Some(lease_until);
                out.push(s.deliveries[i].clone());
            }
            Ok((
                out,
                Box::new(move |s: &mut State| {
                    for (i, l) in old {
                        s.deliveries[i].locked_until = l;
                    }
                }),
            ))
        })
    }
    fn record_attempt(
        &self,
        attempt: &Attempt,
        result: &AttemptResult,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            let i = usize::try_from(attempt.delivery_id.0 - 1)
                .ok()
                .filter(|&i| i < s.deliveries.len())
                .ok_or_else(|| {
                    conflict(format!("delivery {} does not exist", attempt.delivery_id))
                })?;
            if s.attempts.iter().any(|a| {
                a.delivery_id == attempt.delivery_id && a.attempt_number == attempt.attempt_number
            }) {
                return Err(conflict(format!(
                    "attempt {} of delivery {} exists",
                    attempt.attempt_number, attempt.delivery_id
                )));
            }
            let old = s.deliveries[i].clone();
            let d = &mut s.deliveries[i];
            d.attempts = attempt.attempt_number;
            d.locked_until = None;
            match result {
                AttemptResult::Delivered { .. } => d.status = ForwardStatus::Success,
                AttemptResult::Retry { next_attempt_at } => {
                    d.status = ForwardStatus::Pending;
                    d.delivery.next_attempt_at = *next_attempt_at;
                }
                AttemptResult::Failed => d.status = ForwardStatus::Failed,
            }
            s.attempts.push(attempt.clone());
            Ok((
                (),
                Box::new(move |s: &mut State| {
                    s.deliveries[i] = old;
                    s.attempts.pop();
                }),
            ))
        })
    }
    fn defer_delivery(
        &self,
        id: DeliveryId,
        next_attempt_at: Timestamp,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            let i = usize::try_from(id.0 - 1)
                .ok()
                .filter(|&i| i < s.deliveries.len())
                .ok_or_else(|| conflict(format!("delivery {id} does not exist")))?;
            let old = s.deliveries[i].clone();
            s.deliveries[i].delivery.next_attempt_at = next_attempt_at;
            s.deliveries[i].locked_until = None;
            Ok((
                (),
                Box::new(move |s: &mut State| {
                    s.deliveries[i] = old;
                }),
            ))
        })
    }
    fn resume_workspace_deliveries(
        &self,
        workspace_id: &str,
        at: Timestamp,
    ) -> Result<u64, StorageError> {
        self.write(|s| {
            let mut old = Vec::new();
            for (i, d) in s.deliveries.iter_mut().enumerate() {
                if d.status == ForwardStatus::Pending && d.delivery.workspace_id == workspace_id {
                    old.push((i, d.delivery.next_attempt_at));
                    d.delivery.next_attempt_at = at;
                }
            }
            let n = old.len() as u64;
            Ok((
                n,
                Box::new(move |s: &mut State| {
                    for (i, t) in old {
                        s.deliveries[i].delivery.next_attempt_at = t;
                    }
                }),
            ))
        })
    }
    fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>, StorageError> {
        self.read(|s| {
            usize::try_from(id.0 - 1)
                .ok()
                .and_then(|i| s.deliveries.get(i))
                .cloned()
        })
    }
    fn deliveries_for_appointment(
        &self,
        appointment_id: AppointmentId,
    ) -> Result<Vec<Delivery>, StorageError> {
        self.read(|s| {
            let mut v: Vec<Delivery> = s
                .deliveries
                .iter()
                .filter(|d| d.delivery.appointment_id == appointment_id)
                .cloned()
                .collect();
            v.sort_by_key(|d| d.delivery.sequence);
            v
        })
    }
    fn redeliver(&self, id: DeliveryId, at: Timestamp) -> Result<Option<Delivery>, StorageError> {
        let Some(i) = usize::try_from(id.0 - 1)
            .ok()
            .filter(|&i| i < self.read(|s| s.deliveries.len()).unwrap_or(0))
        else {
            return Ok(None);
        };
        self.write(|s| {
            let old = s.deliveries[i].clone();
            if old.status == ForwardStatus::Success {
                return Err(conflict(format!("delivery {id} was delivered")));
            }
            let d = &mut s.deliveries[i];
            d.status = ForwardStatus::Pending;
            d.delivery.next_attempt_at = at;
            d.locked_until = None;
            d.retry_base = d.attempts;
            let out = d.clone();
            Ok((
                Some(out),
                Box::new(move |s: &mut State| {
                    s.deliveries[i] = old;
                }),
            ))
        })
    }
    fn attempts(&self, delivery_id: DeliveryId) -> Result<Vec<Attempt>, StorageError> {
        self.read(|s| {
            let mut v: Vec<Attempt> = s
                .attempts
                .iter()
                .filter(|a| a.delivery_id == delivery_id)
                .cloned()
                .collect();
            v.sort_by_key(|a| a.attempt_number);
            v
        })
    }
}

/// Whether an earlier delivery of the same appointment is still pending (the per-appointment
/// order of [`OutboxRepo::claim_due_deliveries`]).
fn blocked_by_earlier(s: &State, d: &Delivery) -> bool {
    (0..d.delivery.sequence).any(|seq| {
        s.delivery_by_appointment
            .get(&(d.delivery.appointment_id, seq))
            .and_then(|id| s.deliveries.get((id.0 - 1) as usize))
            .is_some_and(|p| p.status == ForwardStatus::Pending)
    })
}
