//! The contact queue, the suppression list and the scheduled-messages outbox.

use super::*;
use crate::status::{ContactStatus, MessageKind, MessageStatus};

/// The waiting-index key of an entry: (next attempt, lead) while `pending` or `no_answer`.
fn due_key(e: &QueueEntry) -> Option<(Timestamp, LeadId)> {
    match e.status {
        ContactStatus::Pending | ContactStatus::NoAnswer => {
            Some((e.entry.next_attempt_at, e.entry.lead_id))
        }
        _ => None,
    }
}

/// The lease-index key of an entry: (lease expiry, lead) while `attempting`.
fn leased_key(e: &QueueEntry) -> Option<(Timestamp, LeadId)> {
    match e.status {
        ContactStatus::Attempting => e.locked_until.map(|l| (l, e.entry.lead_id)),
        _ => None,
    }
}

impl State {
    /// Takes an entry out of the due indexes.
    fn unindex_entry(&mut self, e: &QueueEntry) {
        if let Some(k) = due_key(e) {
            self.queue_due.remove(&k);
        }
        if let Some(k) = leased_key(e) {
            self.queue_leased.remove(&k);
        }
    }

    /// Puts an entry in the due indexes.
    fn index_entry(&mut self, e: &QueueEntry) {
        if let Some(k) = due_key(e) {
            self.queue_due.insert(k);
        }
        if let Some(k) = leased_key(e) {
            self.queue_leased.insert(k);
        }
    }

    /// Replaces a queue entry, keeping the due indexes in step; returns the old entry.
    fn put_entry(&mut self, e: QueueEntry) -> Option<QueueEntry> {
        let old = self.queue.insert(e.entry.lead_id, e.clone());
        if let Some(o) = &old {
            self.unindex_entry(o);
        }
        self.index_entry(&e);
        old
    }

    fn restore_entry(&mut self, lead_id: LeadId, old: Option<QueueEntry>) {
        if let Some(cur) = self.queue.remove(&lead_id) {
            self.unindex_entry(&cur);
        }
        if let Some(o) = old {
            self.index_entry(&o);
            self.queue.insert(lead_id, o);
        }
    }
}

fn undo_entries(olds: Vec<(LeadId, Option<QueueEntry>)>) -> Undo {
    Box::new(move |s: &mut State| {
        for (id, old) in olds.into_iter().rev() {
            s.restore_entry(id, old);
        }
    })
}

impl ContactQueueRepo for MemTx {
    fn enqueue_contact(&self, e: &NewQueueEntry) -> Result<Inserted<LeadId>, StorageError> {
        self.write(|s| {
            if e.lead_id.0 < 1 || e.lead_id.0 as usize > s.leads.len() {
                return Err(conflict(format!("lead {} does not exist", e.lead_id)));
            }
            if s.queue.contains_key(&e.lead_id) {
                return Ok((
                    Inserted::Existing(e.lead_id),
                    Box::new(|_: &mut State| {}) as Undo,
                ));
            }
            let old = s.put_entry(QueueEntry {
                entry: e.clone(),
                status: ContactStatus::Pending,
                attempts: 0,
                last_attempt_at: None,
                worker: None,
                locked_until: None,
                hold_reason: None,
            });
            Ok((
                Inserted::Created(e.lead_id),
                undo_entries(vec![(e.lead_id, old)]),
            ))
        })
    }
    fn claim_contacts(
        &self,
        now: Timestamp,
        limit: usize,
        lease_until: Timestamp,
        worker: &str,
    ) -> Result<Vec<QueueEntry>, StorageError> {
        self.write(|s| {
            // Waiting entries due by now, and entries whose lease expired (by now), both
            // ordered by next attempt, then lead.
            let mut due: Vec<(Timestamp, LeadId)> = s
                .queue_due
                .iter()
                .take_while(|(t, _)| *t <= now)
                .take(limit)
                .copied()
                .collect();
            due.extend(
                s.queue_leased
                    .iter()
                    .take_while(|(l, _)| *l <= now)
                    .filter_map(|(_, id)| s.queue.get(id))
                    .map(|e| (e.entry.next_attempt_at, e.entry.lead_id)),
            );
            due.sort_unstable();
            due.truncate(limit);
            let mut out = Vec::with_capacity(due.len());
            let mut olds = Vec::with_capacity(due.len());
            for (_, id) in due {
                let Some(mut e) = s.queue.get(&id).cloned() else {
                    continue;
                };
                e.status = ContactStatus::Attempting;
                e.worker = Some(worker.to_string());
                e.locked_until = Some(lease_until);
                olds.push((id, s.put_entry(e.clone())));
                out.push(e);
            }
            Ok((out, undo_entries(olds)))
        })
    }
    fn defer_contact(
        &self,
        lead_id: LeadId,
        next_attempt_at: Timestamp,
        hold_reason: Option<&str>,
        status: Option<ContactStatus>,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            let mut e = s
                .queue
                .get(&lead_id)
                .cloned()
                .ok_or_else(|| conflict(format!("lead {lead_id} is not queued")))?;
            e.status = status.unwrap_or(ContactStatus::Pending);
            e.entry.next_attempt_at = next_attempt_at;
            e.hold_reason = hold_reason.map(str::to_string);
            e.worker = None;
            e.locked_until = None;
            let old = s.put_entry(e);
            Ok(((), undo_entries(vec![(lead_id, old)])))
        })
    }
    fn record_contact_attempt(
        &self,
        a: &ContactAttempt,
        update: &QueueUpdate,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            let mut e = s
                .queue
                .get(&a.lead_id)
                .cloned()
                .ok_or_else(|| conflict(format!("lead {} is not queued", a.lead_id)))?;
            if s.contact_attempts
                .iter()
                .any(|x| x.lead_id == a.lead_id && x.attempt_number == a.attempt_number)
            {
                return Err(conflict(format!(
                    "attempt {} of lead {} is recorded",
                    a.attempt_number, a.lead_id
                )));
            }
            e.attempts = a.attempt_number;
            e.last_attempt_at = Some(a.at);
            e.status = update.status;
            if let Some(t) = update.next_attempt_at {
                e.entry.next_attempt_at = t;
            }
            e.worker = None;
            e.locked_until = None;
            e.hold_reason = None;
            let old = s.put_entry(e);
            s.contact_attempts.push(a.clone());
            let lead = a.lead_id;
            let restore = undo_entries(vec![(lead, old)]);
            Ok((
                (),
                Box::new(move |s: &mut State| {
                    s.contact_attempts.pop();
                    restore(s);
                }),
            ))
        })
    }
    fn contact_entry(&self, lead_id: LeadId) -> Result<Option<QueueEntry>, StorageError> {
        self.read(|s| s.queue.get(&lead_id).cloned())
    }
    fn contact_attempts(&self, lead_id: LeadId) -> Result<Vec<ContactAttempt>, StorageError> {
        self.read(|s| {
            let mut v: Vec<ContactAttempt> = s
                .contact_attempts
                .iter()
                .filter(|a| a.lead_id == lead_id)
                .cloned()
                .collect();
            v.sort_by_key(|a| a.attempt_number);
            v
        })
    }
    fn contact_attempt_times(
        &self,
        contact_id: ContactId,
        since: Timestamp,
    ) -> Result<Vec<Timestamp>, StorageError> {
        self.read(|s| {
            let mut v: Vec<Timestamp> = s
                .contact_attempts
                .iter()
                .filter(|a| {
                    a.at > since
                        && s.queue
                            .get(&a.lead_id)
                            .is_some_and(|e| e.entry.contact_id == contact_id)
                })
                .map(|a| a.at)
                .collect();
            v.sort();
            v
        })
    }
}

impl SuppressionRepo for MemTx {
    fn suppress(&self, entry: &Suppression) -> Result<bool, StorageError> {
        self.write(|s| {
            if s.suppressions.contains_key(&entry.phone_sha256) {
                return Ok((false, Box::new(|_: &mut State| {}) as Undo));
            }
            let key = entry.phone_sha256.clone();
            s.suppressions.insert(key.clone(), entry.clone());
            Ok((
                true,
                Box::new(move |s: &mut State| {
                    s.suppressions.remove(&key);
                }),
            ))
        })
    }
    fn is_suppressed(&self, phone_sha256: &str) -> Result<bool, StorageError> {
        self.read(|s| s.suppressions.contains_key(phone_sha256))
    }
    fn suppression_count(&self) -> Result<u64, StorageError> {
        self.read(|s| s.suppressions.len() as u64)
    }
}

impl MessageRepo for MemTx {
    fn enqueue_message(&self, m: &NewMessage) -> Result<MessageId, StorageError> {
        self.write(|s| {
            if m.appointment_id.0 < 1 || m.appointment_id.0 as usize > s.appointments.len() {
                return Err(conflict(format!(
                    "appointment {} does not exist",
                    m.appointment_id
                )));
            }
            let id: MessageId = next_id(s.scheduled.len());
            s.scheduled.push(Message {
                id,
                message: m.clone(),
                status: MessageStatus::Pending,
                tries: 0,
                next_try_at: m.send_at,
                locked_until: None,
            });
            Ok((
                id,
                Box::new(|s: &mut State| {
                    s.scheduled.pop();
                }),
            ))
        })
    }
    fn claim_due_messages(
        &self,
        now: Timestamp,
        limit: usize,
        lease_until: Timestamp,
    ) -> Result<Vec<Message>, StorageError> {
        self.write(|s| {
            let mut due: Vec<usize> = s
                .scheduled
                .iter()
                .enumerate()
                .filter(|(_, m)| {
                    m.status == MessageStatus::Pending
                        && m.next_try_at <= now
                        && m.locked_until.is_none_or(|l| l <= now)
                })
                .map(|(i, _)| i)
                .collect();
            due.sort_by_key(|&i| (s.scheduled[i].next_try_at, i));
            due.truncate(limit);
            let mut out = Vec::with_capacity(due.len());
            let mut old = Vec::with_capacity(due.len());
            for &i in &due {
                old.push((i, s.scheduled[i].locked_until));
                s.scheduled[i].locked_until = Some(lease_until);
                out.push(s.scheduled[i].clone());
            }
            Ok((
                out,
                Box::new(move |s: &mut State| {
                    for (i, l) in old {
                        s.scheduled[i].locked_until = l;
                    }
                }),
            ))
        })
    }
    fn record_message_try(&self, log: &MessageLog, next: MessageNext) -> Result<(), StorageError> {
        self.write(|s| {
            let i = usize::try_from(log.message_id.0 - 1)
                .ok()
                .filter(|&i| i < s.scheduled.len())
                .ok_or_else(|| conflict(format!("message {} does not exist", log.message_id)))?;
            if s.message_logs
                .iter()
                .any(|l| l.message_id == log.message_id && l.try_number == log.try_number)
            {
                return Err(conflict(format!(
                    "try {} of message {} is logged",
                    log.try_number, log.message_id
                )));
            }
            let old = s.scheduled[i].clone();
            let m = &mut s.scheduled[i];
            m.tries = log.try_number;
            m.locked_until = None;
            match next {
                MessageNext::Done(status) => m.status = status,
                MessageNext::Retry(at) => m.next_try_at = at,
            }
            s.message_logs.push(log.clone());
            Ok((
                (),
                Box::new(move |s: &mut State| {
                    s.scheduled[i] = old;
                    s.message_logs.pop();
                }),
            ))
        })
    }
    fn cancel_pending_messages(
        &self,
        appointment_id: AppointmentId,
        kind: Option<MessageKind>,
    ) -> Result<u64, StorageError> {
        self.write(|s| {
            let mut old = Vec::new();
            for (i, m) in s.scheduled.iter_mut().enumerate() {
                if m.message.appointment_id == appointment_id
                    && m.status == MessageStatus::Pending
                    && kind.is_none_or(|k| k == m.message.kind)
                {
                    old.push((i, m.status));
                    m.status = MessageStatus::Cancelled;
                }
            }
            let n = old.len() as u64;
            Ok((
                n,
                Box::new(move |s: &mut State| {
                    for (i, st) in old {
                        s.scheduled[i].status = st;
                    }
                }),
            ))
        })
    }
    fn messages_for(&self, appointment_id: AppointmentId) -> Result<Vec<Message>, StorageError> {
        self.read(|s| {
            s.scheduled
                .iter()
                .filter(|m| m.message.appointment_id == appointment_id)
                .cloned()
                .collect()
        })
    }
    fn message_logs(&self, message_id: MessageId) -> Result<Vec<MessageLog>, StorageError> {
        self.read(|s| {
            let mut v: Vec<MessageLog> = s
                .message_logs
                .iter()
                .filter(|l| l.message_id == message_id)
                .cloned()
                .collect();
            v.sort_by_key(|l| l.try_number);
            v
        })
    }
}

impl MemTx {
    /// The queue's timelines (see [`Reports::contact_timelines`]).
    pub(super) fn timelines(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ContactTimeline>, StorageError> {
        self.read(|s| {
            s.queue
                .values()
                .filter(|e| e.entry.received_at >= from && e.entry.received_at < to)
                .map(|e| ContactTimeline {
                    lead_id: e.entry.lead_id,
                    received_at: e.entry.received_at,
                    first_attempt_at: s
                        .contact_attempts
                        .iter()
                        .filter(|a| a.lead_id == e.entry.lead_id)
                        .map(|a| a.at)
                        .min(),
                    attempts: e.attempts,
                    status: e.status,
                })
                .collect()
        })
    }
}
