//! The outbox (`deliveries`, `delivery_attempts`).

use super::appointments::forward_status;
use super::*;

pub(super) const DELIVERY_COLS: &str =
    "id, appointment_id, workspace_id, webhook_id, url, payload, \
                             next_attempt_at, created_at, status, attempts, locked_until, \
                             event, sequence, retry_base";

pub(super) fn delivery_row(r: &Row<'_>) -> Result<Delivery, StorageError> {
    let c = Cols::new(r, "deliveries");
    let status: String = c.get(8)?;
    let event: String = c.get(11)?;
    Ok(Delivery {
        id: DeliveryId(c.get(0)?),
        delivery: NewDelivery {
            appointment_id: AppointmentId(c.get(1)?),
            event: event
                .parse()
                .map_err(|e| corrupt(format!("deliveries: {e}")))?,
            sequence: c.get(12)?,
            workspace_id: c.get(2)?,
            webhook_id: c.get(3)?,
            url: c.get(4)?,
            payload: c.get(5)?,
            next_attempt_at: c.time(6)?,
            created_at: c.time(7)?,
        },
        status: forward_status(&status, "deliveries")?,
        attempts: c.get(9)?,
        locked_until: c.time_opt(10)?,
        retry_base: c.get(13)?,
    })
}

impl OutboxRepo for SqlTx<'_> {
    fn enqueue_delivery(&self, d: &NewDelivery) -> Result<DeliveryId, StorageError> {
        let r = (|| {
            let created = ts(d.created_at)?;
            self.conn
                .prepare_cached(
                    "INSERT INTO deliveries (appointment_id, workspace_id, webhook_id, url, \
                     payload, next_attempt_at, created_at, updated_at, event, sequence) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9)",
                )
                .db()?
                .insert(params![
                    d.appointment_id.get(),
                    d.workspace_id,
                    d.webhook_id,
                    d.url,
                    d.payload,
                    ts(d.next_attempt_at)?,
                    created,
                    d.event.as_str(),
                    d.sequence
                ])
                .db()
                .map(DeliveryId)
        })();
        in_op(
            &format!("enqueue_delivery for appointment {}", d.appointment_id),
            r,
        )
    }

    fn claim_due_deliveries(
        &self,
        now_at: Timestamp,
        limit: usize,
        lease_until: Timestamp,
    ) -> Result<Vec<Delivery>, StorageError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let r = (|| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            // One statement: pick the due rows and lease them. Inside `BEGIN IMMEDIATE` no
            // other connection can write between the pick and the lease. A delivery waits
            // while an earlier one of its appointment is pending (leased or not), so an
            // appointment's events go out in sequence order (index
            // deliveries_pending_sequence).
            let mut out = self.all(
                &format!(
                    "UPDATE deliveries SET locked_until = ?1, updated_at = ?4 \
                     WHERE id IN (SELECT d.id FROM deliveries d \
                                  WHERE d.status = 'pending' AND d.next_attempt_at <= ?2 \
                                    AND (d.locked_until IS NULL OR d.locked_until <= ?2) \
                                    AND NOT EXISTS (SELECT 1 FROM deliveries p \
                                                    WHERE p.appointment_id = d.appointment_id \
                                                      AND p.sequence < d.sequence \
                                                      AND p.status = 'pending') \
                                  ORDER BY d.next_attempt_at, d.id LIMIT ?3) \
                     RETURNING {DELIVERY_COLS}"
                ),
                params![ts(lease_until)?, ts(now_at)?, limit, now()?],
                delivery_row,
            )?;
            // RETURNING order is unspecified.
            out.sort_by(|a, b| {
                (a.delivery.next_attempt_at, a.id).cmp(&(b.delivery.next_attempt_at, b.id))
            });
            Ok(out)
        })();
        in_op("claim_due_deliveries", r)
    }

    fn record_attempt(&self, a: &Attempt, result: &AttemptResult) -> Result<(), StorageError> {
        let r = self.atomic(|| {
            self.exec(
                "INSERT INTO delivery_attempts (delivery_id, attempt_number, requested_at, \
                 duration_ms, status_code, error, response_excerpt) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    a.delivery_id.get(),
                    a.attempt_number,
                    ts(a.requested_at)?,
                    int(a.duration_ms, "duration_ms")?,
                    a.status_code,
                    a.error,
                    a.response_excerpt
                ],
            )
            .map_err(|e| match e.kind() {
                StorageErrorKind::Conflict => e.context(&format!(
                    "delivery {} does not exist or attempt {} is recorded",
                    a.delivery_id, a.attempt_number
                )),
                _ => e,
            })?;
            let (status, next) = match result {
                AttemptResult::Delivered { .. } => (ForwardStatus::Success, None),
                AttemptResult::Retry { next_attempt_at } => {
                    (ForwardStatus::Pending, Some(ts(*next_attempt_at)?))
                }
                AttemptResult::Failed => (ForwardStatus::Failed, None),
            };
            let n = self.exec(
                "UPDATE deliveries SET attempts = ?2, locked_until = NULL, status = ?3, \
                 next_attempt_at = COALESCE(?4, next_attempt_at), updated_at = ?5 \
                 WHERE id = ?1",
                params![
                    a.delivery_id.get(),
                    a.attempt_number,
                    status.as_str(),
                    next,
                    now()?
                ],
            )?;
            if n == 0 {
                return Err(StorageError::conflict(format!(
                    "delivery {} does not exist",
                    a.delivery_id
                )));
            }
            Ok(())
        });
        in_op("record_attempt", r)
    }

    fn defer_delivery(
        &self,
        id: DeliveryId,
        next_attempt_at: Timestamp,
    ) -> Result<(), StorageError> {
        let n = self.exec(
            "UPDATE deliveries SET next_attempt_at = ?2, locked_until = NULL WHERE id = ?1",
            params![id.get(), ts(next_attempt_at)?],
        )?;
        if n == 0 {
            return Err(StorageError::conflict(format!(
                "delivery {id} does not exist"
            )));
        }
        Ok(())
    }

    fn resume_workspace_deliveries(
        &self,
        workspace_id: &str,
        at: Timestamp,
    ) -> Result<u64, StorageError> {
        let n = self.exec(
            "UPDATE deliveries SET next_attempt_at = ?2 \
             WHERE workspace_id = ?1 AND status = 'pending'",
            params![workspace_id, ts(at)?],
        )?;
        Ok(n as u64)
    }

    fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>, StorageError> {
        self.one(
            &format!("SELECT {DELIVERY_COLS} FROM deliveries WHERE id = ?1"),
            [id.get()],
            delivery_row,
        )
    }

    fn deliveries_for_appointment(
        &self,
        appointment_id: AppointmentId,
    ) -> Result<Vec<Delivery>, StorageError> {
        // The UNIQUE (appointment_id, sequence) index gives the order: no sort.
        self.all(
            &format!(
                "SELECT {DELIVERY_COLS} FROM deliveries WHERE appointment_id = ?1 \
                 ORDER BY sequence"
            ),
            [appointment_id.get()],
            delivery_row,
        )
    }

    fn redeliver(&self, id: DeliveryId, at: Timestamp) -> Result<Option<Delivery>, StorageError> {
        let r = (|| {
            // One conditional statement: anything but a delivered row is queued again with
            // its retry schedule restarted from the attempts made (attempt numbers go on).
            let updated = self.one(
                &format!(
                    "UPDATE deliveries SET status = 'pending', next_attempt_at = ?2, \
                     locked_until = NULL, retry_base = attempts, updated_at = ?3 \
                     WHERE id = ?1 AND status <> 'success' RETURNING {DELIVERY_COLS}"
                ),
                params![id.get(), ts(at)?, now()?],
                delivery_row,
            )?;
            if updated.is_some() {
                return Ok(updated);
            }
            let exists = self
                .one("SELECT 1 FROM deliveries WHERE id = ?1", [id.get()], |_| {
                    Ok(())
                })?
                .is_some();
            if exists {
                return Err(StorageError::conflict(format!(
                    "delivery {id} was delivered"
                )));
            }
            Ok(None)
        })();
        in_op(&format!("redeliver {id}"), r)
    }

    fn attempts(&self, delivery_id: DeliveryId) -> Result<Vec<Attempt>, StorageError> {
        self.all(
            "SELECT delivery_id, attempt_number, requested_at, duration_ms, status_code, error, \
             response_excerpt FROM delivery_attempts WHERE delivery_id = ?1 \
             ORDER BY attempt_number",
            [delivery_id.get()],
            |r| {
                let c = Cols::new(r, "delivery_attempts");
                Ok(Attempt {
                    delivery_id: DeliveryId(c.get(0)?),
                    attempt_number: c.get(1)?,
                    requested_at: c.time(2)?,
                    duration_ms: c.count(3)?,
                    status_code: c.get(4)?,
                    error: c.get(5)?,
                    response_excerpt: c.get(6)?,
                })
            },
        )
    }
}
