//! Outreach: the contact queue (`contact_queue`, `contact_attempts`), the suppression list
//! (`suppression_list`) and the scheduled-messages outbox (`scheduled_messages`,
//! `message_logs`).

use super::*;
use std::str::FromStr;

/// A spelled enum column (status, outcome, kind); unknown text is `Corrupt`.
fn spelled<T: FromStr>(s: &str, table: &str) -> Result<T, StorageError>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| corrupt(format!("{table}: {e}")))
}

const QUEUE_COLS: &str = "lead_id, contact_id, phone_e164, zip_code, lead_type, received_at, \
                          next_attempt_at, suppressed, status, attempts, last_attempt_at, \
                          worker, locked_until, hold_reason";

fn queue_row(r: &Row<'_>) -> Result<QueueEntry, StorageError> {
    let c = Cols::new(r, "contact_queue");
    let status: String = c.get(8)?;
    Ok(QueueEntry {
        entry: NewQueueEntry {
            lead_id: LeadId(c.get(0)?),
            contact_id: ContactId(c.get(1)?),
            phone_e164: c.get(2)?,
            zip_code: c.get(3)?,
            lead_type: c.get(4)?,
            received_at: c.time(5)?,
            next_attempt_at: c.time(6)?,
            suppressed: c.get(7)?,
        },
        status: spelled(&status, "contact_queue")?,
        attempts: c.get(9)?,
        last_attempt_at: c.time_opt(10)?,
        worker: c.get(11)?,
        locked_until: c.time_opt(12)?,
        hold_reason: c.get(13)?,
    })
}

/// The contact-queue claim: `?1` now, `?2` limit, `?3` lease, `?4` worker.
///
/// Two due sets, each read from the front of its own partial index in claim order and cut
/// at the limit (waiting entries from `contact_queue_due`; expired leases from
/// `contact_queue_leased`, which sorts only the expired ones), merged and cut again, and
/// leased in the same statement. Each set's `WHERE` repeats its index's `WHERE` word for word,
/// which is how SQLite sees that the partial index applies.
pub(crate) const CLAIM_CONTACTS_SQL: &str =
    "UPDATE contact_queue SET status = 'attempting', worker = ?4, locked_until = ?3 \
     WHERE lead_id IN ( \
       SELECT lead_id FROM ( \
         SELECT lead_id, next_attempt_at FROM ( \
           SELECT lead_id, next_attempt_at FROM contact_queue \
           WHERE status IN ('pending', 'no_answer') AND next_attempt_at <= ?1 \
             AND (locked_until IS NULL OR locked_until <= ?1) \
           ORDER BY next_attempt_at, lead_id LIMIT ?2) \
         UNION ALL \
         SELECT lead_id, next_attempt_at FROM ( \
           SELECT lead_id, next_attempt_at FROM contact_queue \
           WHERE status = 'attempting' AND locked_until <= ?1 \
           ORDER BY next_attempt_at, lead_id LIMIT ?2)) \
       ORDER BY next_attempt_at, lead_id LIMIT ?2) \
     RETURNING lead_id, contact_id, phone_e164, zip_code, lead_type, received_at, \
       next_attempt_at, suppressed, status, attempts, last_attempt_at, worker, locked_until, \
       hold_reason";

/// The message claim: `?1` lease, `?2` now, `?3` limit (index `scheduled_messages_due`).
pub(crate) const CLAIM_MESSAGES_SQL: &str = "UPDATE scheduled_messages SET locked_until = ?1 \
     WHERE id IN (SELECT id FROM scheduled_messages \
                  WHERE status = 'pending' AND next_try_at <= ?2 \
                    AND (locked_until IS NULL OR locked_until <= ?2) \
                  ORDER BY next_try_at, id LIMIT ?3) \
     RETURNING id, appointment_id, lead_id, kind, recipient, body, send_at, created_at, \
       status, tries, next_try_at, locked_until";

const MESSAGE_COLS: &str = "id, appointment_id, lead_id, kind, recipient, body, send_at, \
                            created_at, status, tries, next_try_at, locked_until";

fn message_row(r: &Row<'_>) -> Result<Message, StorageError> {
    let c = Cols::new(r, "scheduled_messages");
    let kind: String = c.get(3)?;
    let status: String = c.get(8)?;
    Ok(Message {
        id: MessageId(c.get(0)?),
        message: NewMessage {
            appointment_id: AppointmentId(c.get(1)?),
            lead_id: LeadId(c.get(2)?),
            kind: spelled(&kind, "scheduled_messages")?,
            to: c.get(4)?,
            body: c.json(5)?,
            send_at: c.time(6)?,
            created_at: c.time(7)?,
        },
        status: spelled(&status, "scheduled_messages")?,
        tries: c.get(9)?,
        next_try_at: c.time(10)?,
        locked_until: c.time_opt(11)?,
    })
}

/// A limit as SQLite's integer.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl ContactQueueRepo for SqlTx<'_> {
    fn enqueue_contact(&self, e: &NewQueueEntry) -> Result<Inserted<LeadId>, StorageError> {
        let r = (|| {
            let n = self.exec(
                "INSERT INTO contact_queue (lead_id, contact_id, phone_e164, zip_code, \
                 lead_type, received_at, next_attempt_at, suppressed) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (lead_id) DO NOTHING",
                params![
                    e.lead_id.get(),
                    e.contact_id.get(),
                    e.phone_e164,
                    e.zip_code,
                    e.lead_type,
                    ts(e.received_at)?,
                    ts(e.next_attempt_at)?,
                    e.suppressed
                ],
            )?;
            Ok(if n == 1 {
                Inserted::Created(e.lead_id)
            } else {
                Inserted::Existing(e.lead_id)
            })
        })();
        in_op(&format!("enqueue_contact for lead {}", e.lead_id), r)
    }

    fn claim_contacts(
        &self,
        now_at: Timestamp,
        limit: usize,
        lease_until: Timestamp,
        worker: &str,
    ) -> Result<Vec<QueueEntry>, StorageError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let r = (|| {
            // One statement picks and leases: inside BEGIN IMMEDIATE no other connection
            // writes between the pick and the lease.
            let mut out = self.all(
                CLAIM_CONTACTS_SQL,
                params![ts(now_at)?, sql_limit(limit), ts(lease_until)?, worker],
                queue_row,
            )?;
            // RETURNING order is unspecified.
            out.sort_by_key(|e| (e.entry.next_attempt_at, e.entry.lead_id));
            Ok(out)
        })();
        in_op("claim_contacts", r)
    }

    fn defer_contact(
        &self,
        lead_id: LeadId,
        next_attempt_at: Timestamp,
        hold_reason: Option<&str>,
        status: Option<ContactStatus>,
    ) -> Result<(), StorageError> {
        let r = (|| {
            let status = status.unwrap_or(ContactStatus::Pending);
            let n = self.exec(
                "UPDATE contact_queue SET next_attempt_at = ?2, hold_reason = ?3, status = ?4, \
                 worker = NULL, locked_until = NULL WHERE lead_id = ?1",
                params![
                    lead_id.get(),
                    ts(next_attempt_at)?,
                    hold_reason,
                    status.as_str()
                ],
            )?;
            if n == 0 {
                return Err(StorageError::conflict(format!(
                    "lead {lead_id} is not queued"
                )));
            }
            Ok(())
        })();
        in_op("defer_contact", r)
    }

    fn record_contact_attempt(
        &self,
        a: &ContactAttempt,
        update: &QueueUpdate,
    ) -> Result<(), StorageError> {
        let r = self.atomic(|| {
            let n = self.exec(
                "UPDATE contact_queue SET attempts = ?2, last_attempt_at = ?3, status = ?4, \
                 next_attempt_at = COALESCE(?5, next_attempt_at), worker = NULL, \
                 locked_until = NULL, hold_reason = NULL WHERE lead_id = ?1",
                params![
                    a.lead_id.get(),
                    a.attempt_number,
                    ts(a.at)?,
                    update.status.as_str(),
                    ts_opt(update.next_attempt_at)?
                ],
            )?;
            if n == 0 {
                return Err(StorageError::conflict(format!(
                    "lead {} is not queued",
                    a.lead_id
                )));
            }
            self.exec(
                "INSERT INTO contact_attempts (lead_id, attempt_number, attempted_at, outcome, \
                 notes, worker) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    a.lead_id.get(),
                    a.attempt_number,
                    ts(a.at)?,
                    a.outcome.as_str(),
                    a.notes,
                    a.worker
                ],
            )
            .map_err(|e| match e.kind() {
                StorageErrorKind::Conflict => e.context(&format!(
                    "attempt {} of lead {} is recorded",
                    a.attempt_number, a.lead_id
                )),
                _ => e,
            })?;
            Ok(())
        });
        in_op("record_contact_attempt", r)
    }

    fn contact_entry(&self, lead_id: LeadId) -> Result<Option<QueueEntry>, StorageError> {
        self.one(
            &format!("SELECT {QUEUE_COLS} FROM contact_queue WHERE lead_id = ?1"),
            [lead_id.get()],
            queue_row,
        )
    }

    fn contact_attempts(&self, lead_id: LeadId) -> Result<Vec<ContactAttempt>, StorageError> {
        // The UNIQUE (lead_id, attempt_number) index gives the order: no sort.
        self.all(
            "SELECT lead_id, attempt_number, attempted_at, outcome, notes, worker \
             FROM contact_attempts WHERE lead_id = ?1 ORDER BY attempt_number",
            [lead_id.get()],
            |r| {
                let c = Cols::new(r, "contact_attempts");
                let outcome: String = c.get(3)?;
                Ok(ContactAttempt {
                    lead_id: LeadId(c.get(0)?),
                    attempt_number: c.get(1)?,
                    at: c.time(2)?,
                    outcome: spelled::<ContactOutcome>(&outcome, "contact_attempts")?,
                    notes: c.get(4)?,
                    worker: c.get(5)?,
                })
            },
        )
    }

    fn contact_attempt_times(
        &self,
        contact_id: ContactId,
        since: Timestamp,
    ) -> Result<Vec<Timestamp>, StorageError> {
        // The contact's leads (index contact_queue_contact), then their attempts (the
        // UNIQUE (lead_id, attempt_number) index).
        self.all(
            "SELECT a.attempted_at FROM contact_queue q \
             JOIN contact_attempts a ON a.lead_id = q.lead_id \
             WHERE q.contact_id = ?1 AND a.attempted_at > ?2 ORDER BY a.attempted_at",
            params![contact_id.get(), ts(since)?],
            |r| Cols::new(r, "contact_attempts").time(0),
        )
    }
}

impl SuppressionRepo for SqlTx<'_> {
    fn suppress(&self, s: &Suppression) -> Result<bool, StorageError> {
        let r = (|| {
            let n = self.exec(
                "INSERT INTO suppression_list (phone_sha256, phone_e164, reason, source, \
                 created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (phone_sha256) DO NOTHING",
                params![
                    s.phone_sha256,
                    s.phone_e164,
                    s.reason,
                    s.source,
                    ts(s.created_at)?
                ],
            )?;
            Ok(n == 1)
        })();
        in_op("suppress", r)
    }

    fn is_suppressed(&self, phone_sha256: &str) -> Result<bool, StorageError> {
        Ok(self
            .one(
                "SELECT 1 FROM suppression_list WHERE phone_sha256 = ?1",
                [phone_sha256],
                |_| Ok(()),
            )?
            .is_some())
    }

    fn suppression_count(&self) -> Result<u64, StorageError> {
        let n = self.one("SELECT COUNT(*) FROM suppression_list", [], |r| {
            Cols::new(r, "suppression_list").count(0)
        })?;
        Ok(n.unwrap_or(0))
    }
}

impl MessageRepo for SqlTx<'_> {
    fn enqueue_message(&self, m: &NewMessage) -> Result<MessageId, StorageError> {
        let r = (|| {
            self.conn
                .prepare_cached(
                    "INSERT INTO scheduled_messages (appointment_id, lead_id, kind, recipient, \
                     body, send_at, created_at, next_try_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6)",
                )
                .db()?
                .insert(params![
                    m.appointment_id.get(),
                    m.lead_id.get(),
                    m.kind.as_str(),
                    m.to,
                    json(&m.body)?,
                    ts(m.send_at)?,
                    ts(m.created_at)?
                ])
                .db()
                .map(MessageId)
        })();
        in_op(
            &format!("enqueue_message for appointment {}", m.appointment_id),
            r,
        )
    }

    fn claim_due_messages(
        &self,
        now_at: Timestamp,
        limit: usize,
        lease_until: Timestamp,
    ) -> Result<Vec<Message>, StorageError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let r = (|| {
            let mut out = self.all(
                CLAIM_MESSAGES_SQL,
                params![ts(lease_until)?, ts(now_at)?, sql_limit(limit)],
                message_row,
            )?;
            // RETURNING order is unspecified.
            out.sort_by_key(|m| (m.next_try_at, m.id));
            Ok(out)
        })();
        in_op("claim_due_messages", r)
    }

    fn record_message_try(&self, log: &MessageLog, next: MessageNext) -> Result<(), StorageError> {
        let r = self.atomic(|| {
            let (status, retry_at) = match next {
                MessageNext::Done(status) => (Some(status.as_str()), None),
                MessageNext::Retry(at) => (None, Some(ts(at)?)),
            };
            let n = self.exec(
                "UPDATE scheduled_messages SET tries = ?2, locked_until = NULL, \
                 status = COALESCE(?3, status), next_try_at = COALESCE(?4, next_try_at) \
                 WHERE id = ?1",
                params![log.message_id.get(), log.try_number, status, retry_at],
            )?;
            if n == 0 {
                return Err(StorageError::conflict(format!(
                    "message {} does not exist",
                    log.message_id
                )));
            }
            self.exec(
                "INSERT INTO message_logs (message_id, try_number, tried_at, status, \
                 provider_message_id, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    log.message_id.get(),
                    log.try_number,
                    ts(log.at)?,
                    log.status.as_str(),
                    log.provider_message_id,
                    log.error
                ],
            )
            .map_err(|e| match e.kind() {
                StorageErrorKind::Conflict => e.context(&format!(
                    "try {} of message {} is logged",
                    log.try_number, log.message_id
                )),
                _ => e,
            })?;
            Ok(())
        });
        in_op("record_message_try", r)
    }

    fn cancel_pending_messages(
        &self,
        appointment_id: AppointmentId,
        kind: Option<MessageKind>,
    ) -> Result<u64, StorageError> {
        let n = self
            .exec(
                "UPDATE scheduled_messages SET status = 'cancelled' \
                 WHERE appointment_id = ?1 AND status = 'pending' \
                   AND (?2 IS NULL OR kind = ?2)",
                params![appointment_id.get(), kind.map(|k| k.as_str())],
            )
            .map_err(|e| prefix("cancel_pending_messages", e))?;
        Ok(n as u64)
    }

    fn messages_for(&self, appointment_id: AppointmentId) -> Result<Vec<Message>, StorageError> {
        // Index scheduled_messages_appointment: its entries end with the rowid, so id order.
        self.all(
            &format!(
                "SELECT {MESSAGE_COLS} FROM scheduled_messages WHERE appointment_id = ?1 \
                 ORDER BY id"
            ),
            [appointment_id.get()],
            message_row,
        )
    }

    fn message_logs(&self, message_id: MessageId) -> Result<Vec<MessageLog>, StorageError> {
        // The UNIQUE (message_id, try_number) index gives the order: no sort.
        self.all(
            "SELECT message_id, try_number, tried_at, status, provider_message_id, error \
             FROM message_logs WHERE message_id = ?1 ORDER BY try_number",
            [message_id.get()],
            |r| {
                let c = Cols::new(r, "message_logs");
                let status: String = c.get(3)?;
                Ok(MessageLog {
                    message_id: MessageId(c.get(0)?),
                    try_number: c.get(1)?,
                    at: c.time(2)?,
                    status: spelled::<MessageStatus>(&status, "message_logs")?,
                    provider_message_id: c.get(4)?,
                    error: c.get(5)?,
                })
            },
        )
    }
}

impl SqlTx<'_> {
    /// The queue's timelines (see [`Reports::contact_timelines`]): the leads received in the
    /// range (index `contact_queue_received`), each with its earliest attempt.
    pub(super) fn timelines(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ContactTimeline>, StorageError> {
        self.all(
            "SELECT q.lead_id, q.received_at, \
               (SELECT MIN(a.attempted_at) FROM contact_attempts a WHERE a.lead_id = q.lead_id), \
               q.attempts, q.status \
             FROM contact_queue q WHERE q.received_at >= ?1 AND q.received_at < ?2 \
             ORDER BY q.lead_id",
            params![ts(from)?, ts(to)?],
            |r| {
                let c = Cols::new(r, "contact_queue");
                let status: String = c.get(4)?;
                Ok(ContactTimeline {
                    lead_id: LeadId(c.get(0)?),
                    received_at: c.time(1)?,
                    first_attempt_at: c.time_opt(2)?,
                    attempts: c.get(3)?,
                    status: spelled::<ContactStatus>(&status, "contact_queue")?,
                })
            },
        )
    }
}
