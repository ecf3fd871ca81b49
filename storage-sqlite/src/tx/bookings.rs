//! Cal.com booking webhooks (`calcom_booking_events`, `calcom_booking_links`).

use super::*;

const BOOKING_EVENT_COLS: &str = "id, webhook_id, event_key, trigger_event, uid, reschedule_uid, \
                                  created_at, received_at, body";

fn booking_event_row(r: &Row<'_>) -> Result<BookingEvent, StorageError> {
    let c = Cols::new(r, "calcom_booking_events");
    Ok(BookingEvent {
        id: c.get(0)?,
        event: NewBookingEvent {
            webhook_id: c.get(1)?,
            event_key: c.get(2)?,
            trigger: c.get(3)?,
            uid: c.get(4)?,
            reschedule_uid: c.get(5)?,
            created_at: c.time(6)?,
            received_at: c.time(7)?,
            body: c.get(8)?,
        },
    })
}

impl BookingRepo for SqlTx<'_> {
    fn insert_booking_event(&self, e: &NewBookingEvent) -> Result<Inserted<i64>, StorageError> {
        let r = (|| {
            // Insert-if-absent on UNIQUE (webhook_id, event_key): a retried delivery finds
            // the stored row.
            let created = self.one(
                "INSERT INTO calcom_booking_events (webhook_id, event_key, trigger_event, uid, \
                 reschedule_uid, created_at, received_at, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (webhook_id, event_key) DO NOTHING RETURNING id",
                params![
                    e.webhook_id,
                    e.event_key,
                    e.trigger,
                    e.uid,
                    e.reschedule_uid,
                    ts(e.created_at)?,
                    ts(e.received_at)?,
                    e.body
                ],
                |r| Cols::new(r, "calcom_booking_events").get::<i64>(0),
            )?;
            if let Some(id) = created {
                return Ok(Inserted::Created(id));
            }
            self.one(
                "SELECT id FROM calcom_booking_events WHERE webhook_id = ?1 AND event_key = ?2",
                params![e.webhook_id, e.event_key],
                |r| Cols::new(r, "calcom_booking_events").get::<i64>(0),
            )?
            .map(Inserted::Existing)
            .ok_or_else(|| StorageError::conflict("booking event refused by a constraint"))
        })();
        in_op("insert_booking_event", r)
    }

    fn link_booking_uid(
        &self,
        uid: &str,
        appointment_id: AppointmentId,
    ) -> Result<Inserted<AppointmentId>, StorageError> {
        let r = (|| {
            // Insert-if-absent on the uid, written only for an existing appointment (so that
            // a missing one is a Conflict even when the uid is already linked).
            let written = self.exec(
                "INSERT INTO calcom_booking_links (uid, appointment_id) \
                 SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM appointments WHERE id = ?2) \
                 ON CONFLICT (uid) DO NOTHING",
                params![uid, appointment_id.get()],
            )?;
            if written == 1 {
                return Ok(Inserted::Created(appointment_id));
            }
            let (owner, exists) = self
                .one(
                    "SELECT (SELECT appointment_id FROM calcom_booking_links WHERE uid = ?1), \
                            EXISTS (SELECT 1 FROM appointments WHERE id = ?2)",
                    params![uid, appointment_id.get()],
                    |r| {
                        let c = Cols::new(r, "calcom_booking_links");
                        Ok((c.get::<Option<i64>>(0)?, c.get::<bool>(1)?))
                    },
                )?
                .unwrap_or((None, false));
            match (owner, exists) {
                (_, false) => Err(StorageError::conflict(format!(
                    "appointment {appointment_id} does not exist"
                ))),
                (Some(owner), true) => Ok(Inserted::Existing(AppointmentId(owner))),
                (None, true) => Err(StorageError::conflict(format!(
                    "booking uid {uid:?} refused by a constraint"
                ))),
            }
        })();
        in_op(&format!("link_booking_uid {uid:?}"), r)
    }

    fn booking_appointment(&self, uid: &str) -> Result<Option<AppointmentId>, StorageError> {
        self.one(
            "SELECT appointment_id FROM calcom_booking_links WHERE uid = ?1",
            [uid],
            |r| {
                Cols::new(r, "calcom_booking_links")
                    .get(0)
                    .map(AppointmentId)
            },
        )
    }

    fn booking_uids(&self, appointment_id: AppointmentId) -> Result<Vec<String>, StorageError> {
        // Index calcom_booking_links_appointment (appointment_id, uid): no sort.
        self.all(
            "SELECT uid FROM calcom_booking_links WHERE appointment_id = ?1 ORDER BY uid",
            [appointment_id.get()],
            |r| Cols::new(r, "calcom_booking_links").get(0),
        )
    }

    fn booking_events(&self, uids: &[String]) -> Result<Vec<BookingEvent>, StorageError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        // The uids travel as one JSON array parameter; each branch uses its partial index.
        self.all(
            &format!(
                "SELECT {BOOKING_EVENT_COLS} FROM calcom_booking_events \
                 WHERE uid IN (SELECT value FROM json_each(?1)) \
                    OR reschedule_uid IN (SELECT value FROM json_each(?1)) \
                 ORDER BY id"
            ),
            [json(uids)?],
            booking_event_row,
        )
    }
}
