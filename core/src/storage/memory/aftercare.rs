//! Returns and Cal.com booking events.

use super::*;

fn appointment_exists(s: &State, id: AppointmentId) -> bool {
    id.0 >= 1 && id.0 as usize <= s.appointments.len()
}

impl ReturnRepo for MemTx {
    fn insert_return(&self, ret: &NewReturn) -> Result<Inserted<ReturnId>, StorageError> {
        self.write(|s| {
            if !appointment_exists(s, ret.appointment_id) {
                return Err(conflict(format!(
                    "appointment {} does not exist",
                    ret.appointment_id
                )));
            }
            let key = (ret.appointment_id, ret.workspace_id.clone());
            if let Some(&id) = s.return_keys.get(&key) {
                return Ok((Inserted::Existing(id), Box::new(|_: &mut State| {}) as Undo));
            }
            let id: ReturnId = next_id(s.returns.len());
            s.returns.push(ReturnRecord {
                id,
                ret: ret.clone(),
            });
            s.return_keys.insert(key.clone(), id);
            Ok((
                Inserted::Created(id),
                Box::new(move |s: &mut State| {
                    s.returns.pop();
                    s.return_keys.remove(&key);
                }),
            ))
        })
    }
    fn return_record(&self, id: ReturnId) -> Result<Option<ReturnRecord>, StorageError> {
        self.read(|s| {
            usize::try_from(id.0 - 1)
                .ok()
                .and_then(|i| s.returns.get(i))
                .cloned()
        })
    }
    fn return_for(
        &self,
        appointment_id: AppointmentId,
        workspace_id: &str,
    ) -> Result<Option<ReturnRecord>, StorageError> {
        self.read(|s| {
            s.return_keys
                .get(&(appointment_id, workspace_id.to_string()))
                .map(|id| s.returns[(id.0 - 1) as usize].clone())
        })
    }
    fn decide_return(
        &self,
        id: ReturnId,
        status: ReturnStatus,
        at: Timestamp,
        note: Option<&str>,
    ) -> Result<bool, StorageError> {
        self.write(|s| {
            let i = usize::try_from(id.0 - 1)
                .ok()
                .filter(|&i| i < s.returns.len())
                .ok_or_else(|| conflict(format!("return {id} does not exist")))?;
            if s.returns[i].ret.status != ReturnStatus::Pending {
                return Ok((false, Box::new(|_: &mut State| {}) as Undo));
            }
            let old = s.returns[i].clone();
            let r = &mut s.returns[i].ret;
            r.status = status;
            r.decided_at = Some(at);
            r.decision_note = note.map(str::to_string);
            Ok((
                true,
                Box::new(move |s: &mut State| {
                    s.returns[i] = old;
                }),
            ))
        })
    }
    fn return_counts(
        &self,
        workspace_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<(u64, u64), StorageError> {
        self.read(|s| {
            let returns = s
                .returns
                .iter()
                .filter(|r| {
                    r.ret.workspace_id == workspace_id
                        && r.ret.status != ReturnStatus::Denied
                        && r.ret.requested_at >= from
                        && r.ret.requested_at < to
                })
                .count() as u64;
            let charges = s
                .billing
                .iter()
                .filter(|b| {
                    b.workspace_id == workspace_id
                        && b.kind == BillingKind::Charge
                        && b.created_at >= from
                        && b.created_at < to
                })
                .count() as u64;
            (returns, charges)
        })
    }
}

impl BookingRepo for MemTx {
    fn insert_booking_event(&self, e: &NewBookingEvent) -> Result<Inserted<i64>, StorageError> {
        self.write(|s| {
            let key = (e.webhook_id.clone(), e.event_key.clone());
            if let Some(&id) = s.booking_event_keys.get(&key) {
                return Ok((Inserted::Existing(id), Box::new(|_: &mut State| {}) as Undo));
            }
            let id = s.booking_events.len() as i64 + 1;
            s.booking_events.push(BookingEvent {
                id,
                event: e.clone(),
            });
            s.booking_event_keys.insert(key.clone(), id);
            Ok((
                Inserted::Created(id),
                Box::new(move |s: &mut State| {
                    s.booking_events.pop();
                    s.booking_event_keys.remove(&key);
                }),
            ))
        })
    }
    fn link_booking_uid(
        &self,
        uid: &str,
        appointment_id: AppointmentId,
    ) -> Result<Inserted<AppointmentId>, StorageError> {
        self.write(|s| {
            if !appointment_exists(s, appointment_id) {
                return Err(conflict(format!(
                    "appointment {appointment_id} does not exist"
                )));
            }
            if let Some(&owner) = s.booking_links.get(uid) {
                return Ok((
                    Inserted::Existing(owner),
                    Box::new(|_: &mut State| {}) as Undo,
                ));
            }
            let uid = uid.to_string();
            s.booking_links.insert(uid.clone(), appointment_id);
            Ok((
                Inserted::Created(appointment_id),
                Box::new(move |s: &mut State| {
                    s.booking_links.remove(&uid);
                }),
            ))
        })
    }
    fn booking_appointment(&self, uid: &str) -> Result<Option<AppointmentId>, StorageError> {
        self.read(|s| s.booking_links.get(uid).copied())
    }
    fn booking_uids(&self, appointment_id: AppointmentId) -> Result<Vec<String>, StorageError> {
        self.read(|s| {
            s.booking_links
                .iter()
                .filter(|(_, &a)| a == appointment_id)
                .map(|(u, _)| u.clone())
                .collect()
        })
    }
    fn booking_events(&self, uids: &[String]) -> Result<Vec<BookingEvent>, StorageError> {
        self.read(|s| {
            s.booking_events
                .iter()
                .filter(|e| {
                    [&e.event.uid, &e.event.reschedule_uid]
                        .into_iter()
                        .flatten()
                        .any(|u| uids.contains(u))
                })
                .cloned()
                .collect()
        })
    }
}
