//! Appointments (`appointments`).

use super::*;

/// The columns [`appointment_row`] reads. `status` is the routing status (routed / unrouted);
/// the lifecycle status is `lifecycle_status` (schema version 9).
pub(super) const APPOINTMENT_COLS: &str = "id, lead_id, contact_id, service_type, zip_code, \
    appointment_date, estimated_value, notes, workspace_id, routing_rule_id, routing_method, \
    matched_at, payment_rate_cents, unrouted_reason, status, forward_status, forward_attempts, \
    forwarded_at, forward_response, created_at, end_time, duration_minutes, appointment_type, \
    location_type, location_address, customer_notes, next_action, next_action_date, \
    cal_booking_uid, lifecycle_status, reschedule_count, outcome, cancellation_reason, \
    reschedule_requested, status_changed_at";

pub(super) fn forward_status(s: &str, table: &str) -> Result<ForwardStatus, StorageError> {
    s.parse()
        .map_err(|_| corrupt(format!("{table}: unknown status {s:?}")))
}

pub(super) fn appointment_row(r: &Row<'_>) -> Result<Appointment, StorageError> {
    let c = Cols::new(r, "appointments");
    let id: i64 = c.get(0)?;
    let missing = |col: &str| corrupt(format!("appointments: routed row {id} has no {col}"));
    let status: String = c.get(14)?;
    let assignment = match status.as_str() {
        "routed" => {
            let method: Option<String> = c.get(10)?;
            let method: RoutingMethod = method
                .ok_or_else(|| missing("routing_method"))?
                .parse()
                .map_err(|e| corrupt(format!("appointments: row {id}: {e}")))?;
            Assignment::Routed {
                workspace_id: c
                    .get::<Option<String>>(8)?
                    .ok_or_else(|| missing("workspace_id"))?,
                rule_id: c.get(9)?,
                method,
                matched_at: c.time_opt(11)?.ok_or_else(|| missing("matched_at"))?,
                payment_rate: Cents(
                    c.get::<Option<i64>>(12)?
                        .ok_or_else(|| missing("payment_rate_cents"))?,
                ),
            }
        }
        "unrouted" => Assignment::Unrouted {
            reason: c
                .get::<Option<String>>(13)?
                .ok_or_else(|| {
                    corrupt(format!(
                        "appointments: unrouted row {id} has no unrouted_reason"
                    ))
                })?
                .parse()
                .map_err(|e| corrupt(format!("appointments: {e}")))?,
        },
        other => {
            return Err(corrupt(format!(
                "appointments: row {id}: unknown status {other:?}"
            )))
        }
    };
    let fs: String = c.get(15)?;
    let life: String = c.get(29)?;
    Ok(Appointment {
        id: AppointmentId(id),
        appointment: NewAppointment {
            lead_id: LeadId(c.get(1)?),
            contact_id: ContactId(c.get(2)?),
            service_type: c.get(3)?,
            zip_code: c.get(4)?,
            appointment_date: c.time(5)?,
            estimated_value: c.get(6)?,
            notes: c.get(7)?,
            assignment,
            details: AppointmentDetails {
                end_time: c.time_opt(20)?,
                duration_minutes: c.get(21)?,
                appointment_type: c.get(22)?,
                location_type: c.get(23)?,
                location_address: c.get(24)?,
                customer_notes: c.get(25)?,
                next_action: c.get(26)?,
                next_action_date: c.day_opt(27)?,
                cal_booking_uid: c.get(28)?,
            },
            created_at: c.time(19)?,
        },
        forward_status: forward_status(&fs, "appointments")?,
        forward_attempts: c.get(16)?,
        forwarded_at: c.time_opt(17)?,
        forward_response: c.get(18)?,
        lifecycle: AppointmentLifecycle {
            status: life
                .parse()
                .map_err(|e| corrupt(format!("appointments: row {id}: {e}")))?,
            reschedule_count: c.get(30)?,
            outcome: c.get(31)?,
            cancellation_reason: c.get(32)?,
            reschedule_requested: c.get(33)?,
            status_changed_at: c.time_opt(34)?,
        },
    })
}

/// An assignment as the routing columns of `appointments`: `(workspace_id, routing_rule_id,
/// routing_method, matched_at, payment_rate_cents, unrouted_reason, status)`.
type AssignmentCols<'a> = (
    Option<&'a str>,
    Option<i64>,
    Option<&'static str>,
    Option<String>,
    Option<i64>,
    Option<&'static str>,
    &'static str,
);

fn assignment_cols(a: &Assignment) -> Result<AssignmentCols<'_>, StorageError> {
    Ok(match a {
        Assignment::Routed {
            workspace_id,
            rule_id,
            method,
            matched_at,
            payment_rate,
        } => (
            Some(workspace_id.as_str()),
            *rule_id,
            Some(method.as_str()),
            Some(ts(*matched_at)?),
            Some(payment_rate.0),
            None,
            "routed",
        ),
        Assignment::Unrouted { reason } => (
            None,
            None,
            None,
            None,
            None,
            Some(reason.as_str()),
            "unrouted",
        ),
    })
}

impl AppointmentRepo for SqlTx<'_> {
    fn insert_appointment(&self, a: &NewAppointment) -> Result<AppointmentId, StorageError> {
        let r = (|| {
            let (ws, rule, method, matched, rate, reason, status) = assignment_cols(&a.assignment)?;
            let d = &a.details;
            self.conn
                .prepare_cached(
                    "INSERT INTO appointments (lead_id, contact_id, service_type, zip_code, \
                     appointment_date, estimated_value, notes, workspace_id, routing_rule_id, \
                     routing_method, matched_at, payment_rate_cents, unrouted_reason, status, \
                     created_at, end_time, duration_minutes, appointment_type, location_type, \
                     location_address, customer_notes, next_action, next_action_date, \
                     cal_booking_uid) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, \
                     ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
                )
                .db()?
                .insert(params![
                    a.lead_id.get(),
                    a.contact_id.get(),
                    a.service_type,
                    a.zip_code,
                    ts(a.appointment_date)?,
                    a.estimated_value,
                    a.notes,
                    ws,
                    rule,
                    method,
                    matched,
                    rate,
                    reason,
                    status,
                    ts(a.created_at)?,
                    ts_opt(d.end_time)?,
                    d.duration_minutes,
                    d.appointment_type,
                    d.location_type,
                    d.location_address,
                    d.customer_notes,
                    d.next_action,
                    d.next_action_date.map(|day| day.to_string()),
                    d.cal_booking_uid
                ])
                .db()
                .map(AppointmentId)
        })();
        in_op(&format!("insert_appointment for lead {}", a.lead_id), r)
    }

    fn appointment(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError> {
        self.one(
            &format!("SELECT {APPOINTMENT_COLS} FROM appointments WHERE id = ?1"),
            [id.get()],
            appointment_row,
        )
    }

    fn appointment_for_lead(&self, lead_id: LeadId) -> Result<Option<Appointment>, StorageError> {
        self.one(
            &format!("SELECT {APPOINTMENT_COLS} FROM appointments WHERE lead_id = ?1"),
            [lead_id.get()],
            appointment_row,
        )
    }

    fn update_forward(
        &self,
        id: AppointmentId,
        status: ForwardStatus,
        attempts: u32,
        forwarded_at: Option<Timestamp>,
        response: Option<&str>,
    ) -> Result<(), StorageError> {
        let r = (|| {
            let n = self.exec(
                "UPDATE appointments SET forward_status = ?2, forward_attempts = ?3, \
                 forwarded_at = ?4, forward_response = ?5 WHERE id = ?1",
                params![
                    id.get(),
                    status.as_str(),
                    attempts,
                    ts_opt(forwarded_at)?,
                    response
                ],
            )?;
            if n == 0 {
                return Err(StorageError::conflict(format!(
                    "appointment {id} does not exist"
                )));
            }
            Ok(())
        })();
        in_op("update_forward", r)
    }

    fn appointments_after(
        &self,
        after: AppointmentId,
        limit: usize,
    ) -> Result<Vec<Appointment>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.all(
            &format!(
                "SELECT {APPOINTMENT_COLS} FROM appointments WHERE id > ?1 ORDER BY id LIMIT ?2"
            ),
            params![after.get(), limit],
            appointment_row,
        )
    }

    fn unrouted_appointments(
        &self,
        after: AppointmentId,
        limit: usize,
    ) -> Result<Vec<Appointment>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.all(
            &format!(
                "SELECT {APPOINTMENT_COLS} FROM appointments \
                 WHERE status = 'unrouted' AND id > ?1 ORDER BY id LIMIT ?2"
            ),
            params![after.get(), limit],
            appointment_row,
        )
    }

    fn assign_appointment(
        &self,
        id: AppointmentId,
        assignment: &Assignment,
    ) -> Result<(), StorageError> {
        let Assignment::Routed {
            workspace_id,
            rule_id,
            method,
            matched_at,
            payment_rate,
        } = assignment
        else {
            return Err(StorageError::conflict(
                "assign_appointment needs a routed assignment",
            ));
        };
        let r = (|| {
            let n = self.exec(
                "UPDATE appointments SET status = 'routed', unrouted_reason = NULL, \
                 workspace_id = ?2, routing_rule_id = ?3, routing_method = ?4, matched_at = ?5, \
                 payment_rate_cents = ?6 WHERE id = ?1 AND status = 'unrouted'",
                params![
                    id.get(),
                    workspace_id,
                    rule_id,
                    method.as_str(),
                    ts(*matched_at)?,
                    payment_rate.0
                ],
            )?;
            if n == 0 {
                return Err(StorageError::conflict(format!(
                    "appointment {id} does not exist or is already routed"
                )));
            }
            Ok(())
        })();
        in_op(&format!("assign_appointment {id}"), r)
    }

    fn reassign_appointment(
        &self,
        id: AppointmentId,
        assignment: &Assignment,
    ) -> Result<(), StorageError> {
        let r = (|| {
            let (ws, rule, method, matched, rate, reason, status) = assignment_cols(assignment)?;
            // One statement; the foreign key refuses an unknown workspace (Conflict).
            let n = self.exec(
                "UPDATE appointments SET status = ?2, workspace_id = ?3, routing_rule_id = ?4, \
                 routing_method = ?5, matched_at = ?6, payment_rate_cents = ?7, \
                 unrouted_reason = ?8, forward_status = 'pending', forward_attempts = 0, \
                 forwarded_at = NULL, forward_response = NULL WHERE id = ?1",
                params![id.get(), status, ws, rule, method, matched, rate, reason],
            )?;
            if n == 0 {
                return Err(StorageError::conflict(format!(
                    "appointment {id} does not exist"
                )));
            }
            Ok(())
        })();
        in_op(&format!("reassign_appointment {id}"), r)
    }

    fn set_appointment_details(
        &self,
        id: AppointmentId,
        d: &AppointmentDetails,
    ) -> Result<(), StorageError> {
        let r = (|| {
            let n = self.exec(
                "UPDATE appointments SET end_time = ?2, duration_minutes = ?3, \
                 appointment_type = ?4, location_type = ?5, location_address = ?6, \
                 customer_notes = ?7, next_action = ?8, next_action_date = ?9, \
                 cal_booking_uid = ?10 WHERE id = ?1",
                params![
                    id.get(),
                    ts_opt(d.end_time)?,
                    d.duration_minutes,
                    d.appointment_type,
                    d.location_type,
                    d.location_address,
                    d.customer_notes,
                    d.next_action,
                    d.next_action_date.map(|day| day.to_string()),
                    d.cal_booking_uid
                ],
            )?;
            if n == 0 {
                return Err(StorageError::conflict(format!(
                    "appointment {id} does not exist"
                )));
            }
            Ok(())
        })();
        in_op(&format!("set_appointment_details {id}"), r)
    }

    fn update_lifecycle(&self, id: AppointmentId, u: &LifecycleUpdate) -> Result<(), StorageError> {
        let r = (|| {
            // The compare-and-set is the WHERE clause: one statement that writes only while
            // the stored status and reschedule count are the ones the caller read.
            let n = self.exec(
                "UPDATE appointments SET appointment_date = ?4, end_time = ?5, \
                 lifecycle_status = ?6, reschedule_count = ?7, outcome = ?8, \
                 cancellation_reason = ?9, reschedule_requested = ?10, status_changed_at = ?11 \
                 WHERE id = ?1 AND lifecycle_status = ?2 AND reschedule_count = ?3",
                params![
                    id.get(),
                    u.expected_status.as_str(),
                    u.expected_reschedule_count,
                    ts(u.life.start)?,
                    ts_opt(u.life.end)?,
                    u.life.status.as_str(),
                    u.life.reschedule_count,
                    u.life.outcome,
                    u.life.cancellation_reason,
                    u.reschedule_requested,
                    ts(u.at)?
                ],
            )?;
            if n == 1 {
                return Ok(());
            }
            // Refused: say why (read after the fact, only on this path).
            let now = self.one(
                "SELECT lifecycle_status, reschedule_count FROM appointments WHERE id = ?1",
                [id.get()],
                |r| {
                    let c = Cols::new(r, "appointments");
                    Ok((c.get::<String>(0)?, c.get::<i64>(1)?))
                },
            )?;
            Err(StorageError::conflict(match now {
                None => format!("appointment {id} does not exist"),
                Some((status, count)) => format!(
                    "appointment {id} changed: it is {status} after {count} reschedules, \
                     not {} after {}",
                    u.expected_status, u.expected_reschedule_count
                ),
            }))
        })();
        in_op(&format!("update_lifecycle {id}"), r)
    }
}
