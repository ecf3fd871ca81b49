//! Billing events and audit events (`billing_events`, `*_events`).

use super::*;

const BILLING_COLS: &str = "appointment_id, workspace_id, kind, amount_cents, created_at";

fn billing_row(r: &Row<'_>) -> Result<NewBillingEvent, StorageError> {
    let c = Cols::new(r, "billing_events");
    let kind: String = c.get(2)?;
    Ok(NewBillingEvent {
        appointment_id: AppointmentId(c.get(0)?),
        workspace_id: c.get(1)?,
        kind: kind
            .parse()
            .map_err(|_| corrupt(format!("billing_events.kind {kind:?}")))?,
        amount: Cents(c.get(3)?),
        created_at: c.time(4)?,
    })
}

impl BillingRepo for SqlTx<'_> {
    fn insert_billing_event(
        &self,
        e: &NewBillingEvent,
    ) -> Result<Option<BillingEventId>, StorageError> {
        let r =
            (|| {
                self.one(
                "INSERT INTO billing_events (appointment_id, workspace_id, kind, amount_cents, \
                 created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (appointment_id, workspace_id, kind) DO NOTHING RETURNING id",
                params![
                    e.appointment_id.get(),
                    e.workspace_id,
                    e.kind.as_str(),
                    e.amount.0,
                    ts(e.created_at)?
                ],
                |r| Cols::new(r, "billing_events").get::<i64>(0).map(BillingEventId),
            )
            })();
        in_op(
            &format!("insert_billing_event for appointment {}", e.appointment_id),
            r,
        )
    }

    fn billing_event(
        &self,
        appointment_id: AppointmentId,
        workspace_id: &str,
        kind: BillingKind,
    ) -> Result<Option<NewBillingEvent>, StorageError> {
        self.one(
            &format!(
                "SELECT {BILLING_COLS} FROM billing_events \
                 WHERE appointment_id = ?1 AND workspace_id = ?2 AND kind = ?3"
            ),
            params![appointment_id.get(), workspace_id, kind.as_str()],
            billing_row,
        )
    }

    fn billing_events_for(
        &self,
        appointment_id: AppointmentId,
    ) -> Result<Vec<NewBillingEvent>, StorageError> {
        self.all(
            &format!(
                "SELECT {BILLING_COLS} FROM billing_events WHERE appointment_id = ?1 ORDER BY id"
            ),
            [appointment_id.get()],
            billing_row,
        )
    }
}

/// The table of a subject's events and the column naming the subject. Events of a rejected
/// record live in `lead_events` beside those of leads, with `rejection_id` set instead of
/// `lead_id` (a `CHECK` requires exactly one).
pub(super) fn event_table(subject: EventSubject) -> (&'static str, &'static str) {
    match subject {
        EventSubject::Contact => ("contact_events", "contact_id"),
        EventSubject::Lead => ("lead_events", "lead_id"),
        EventSubject::Appointment => ("appointment_events", "appointment_id"),
        EventSubject::Rejection => ("lead_events", "rejection_id"),
    }
}

impl EventRepo for SqlTx<'_> {
    fn append_event(&self, ev: &NewEvent) -> Result<(), StorageError> {
        let (table, col) = event_table(ev.subject);
        let r = (|| {
            self.exec(
                &format!(
                    "INSERT INTO {table} ({col}, event_type, detail, created_at) \
                     VALUES (?1, ?2, ?3, ?4)"
                ),
                params![
                    ev.subject_id,
                    ev.event_type.as_str(),
                    json(&ev.detail)?,
                    ts(ev.created_at)?
                ],
            )?;
            Ok(())
        })();
        r.map_err(|e| {
            prefix(
                &format!("append_event to {table} ({col} {})", ev.subject_id),
                e,
            )
        })
    }

    fn append_events(&self, events: &[NewEvent]) -> Result<(), StorageError> {
        // One multi-row INSERT per subject, each subject's events in their order.
        for subject in [
            EventSubject::Contact,
            EventSubject::Lead,
            EventSubject::Rejection,
            EventSubject::Appointment,
        ] {
            let rows: Vec<&NewEvent> = events.iter().filter(|e| e.subject == subject).collect();
            if rows.is_empty() {
                continue;
            }
            let (table, col) = event_table(subject);
            let mut sql =
                format!("INSERT INTO {table} ({col}, event_type, detail, created_at) VALUES ");
            let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(rows.len() * 4);
            for (i, ev) in rows.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                let n = i * 4;
                sql.push_str(&format!("(?{}, ?{}, ?{}, ?{})", n + 1, n + 2, n + 3, n + 4));
                values.extend([
                    ev.subject_id.into(),
                    ev.event_type.as_str().to_string().into(),
                    json(&ev.detail)?.into(),
                    ts(ev.created_at)?.into(),
                ]);
            }
            self.exec(&sql, rusqlite::params_from_iter(values))
                .map_err(|e| prefix(&format!("append_events to {table}"), e))?;
        }
        Ok(())
    }

    fn events(
        &self,
        subject: EventSubject,
        subject_id: i64,
    ) -> Result<Vec<NewEvent>, StorageError> {
        let (table, col) = event_table(subject);
        self.all(
            &format!(
                "SELECT event_type, detail, created_at FROM {table} WHERE {col} = ?1 ORDER BY id"
            ),
            [subject_id],
            |r| {
                let c = Cols::new(r, table);
                Ok(NewEvent {
                    subject,
                    subject_id,
                    event_type: c
                        .get::<String>(0)?
                        .parse()
                        .map_err(|e| corrupt(format!("{table}.event_type: {e}")))?,
                    detail: c.json(1)?,
                    created_at: c.time(2)?,
                })
            },
        )
    }
}
