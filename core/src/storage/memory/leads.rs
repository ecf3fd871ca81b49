//! Source records, rejections, contacts and leads.

use super::*;

impl RecordRepo for MemTx {
    fn stored_record(
        &self,
        provider_id: &str,
        record_key: &str,
    ) -> Result<Option<StoredRecord>, StorageError> {
        self.read(|s| {
            s.record_keys
                .get(&(provider_id.to_string(), record_key.to_string()))
                .copied()
        })
    }
    fn insert_rejection(&self, rejection: &NewRejection) -> Result<RejectionId, StorageError> {
        self.write(|s| {
            let key = (rejection.provider_id.clone(), rejection.record_key.clone());
            if s.record_keys.contains_key(&key) {
                return Err(conflict(format!("record {key:?} already stored")));
            }
            let id = next_id(s.rejections.len());
            s.rejections.push(rejection.clone());
            s.record_keys
                .insert(key.clone(), StoredRecord::Rejection(id));
            Ok((
                id,
                Box::new(move |s: &mut State| {
                    s.rejections.pop();
                    s.record_keys.remove(&key);
                }),
            ))
        })
    }
    fn rejections(
        &self,
        filter: &RejectionFilter,
        after: RejectionId,
        limit: usize,
    ) -> Result<Vec<StoredRejection>, StorageError> {
        self.read(|s| {
            s.rejections
                .iter()
                .enumerate()
                .map(|(i, r)| (RejectionId(i as i64 + 1), r))
                .filter(|(id, r)| {
                    *id > after
                        && s.rejection_state
                            .get(id)
                            .is_none_or(|(lead, _)| lead.is_none())
                        && filter.reason.is_none_or(|c| r.reason_codes.contains(&c))
                        && filter
                            .provider_id
                            .as_ref()
                            .is_none_or(|p| *p == r.provider_id)
                        && filter.from.is_none_or(|f| r.received_at >= f)
                        && filter.to.is_none_or(|t| r.received_at < t)
                })
                .take(limit)
                .map(|(id, r)| {
                    let (lead_id, reprocessed_at) =
                        s.rejection_state.get(&id).copied().unwrap_or_default();
                    StoredRejection {
                        id,
                        rejection: r.clone(),
                        lead_id,
                        reprocessed_at,
                    }
                })
                .collect()
        })
    }
    fn release_rejection(&self, id: RejectionId) -> Result<(), StorageError> {
        self.write(|s| {
            let r = usize::try_from(id.0 - 1)
                .ok()
                .and_then(|i| s.rejections.get(i))
                .ok_or_else(|| conflict(format!("rejection {id} does not exist")))?;
            let key = (r.provider_id.clone(), r.record_key.clone());
            if s.record_keys.get(&key) != Some(&StoredRecord::Rejection(id)) {
                return Err(conflict(format!(
                    "rejection {id} does not hold its record key"
                )));
            }
            s.record_keys.remove(&key);
            Ok((
                (),
                Box::new(move |s: &mut State| {
                    s.record_keys.insert(key, StoredRecord::Rejection(id));
                }),
            ))
        })
    }
    fn mark_rejection_reprocessed(
        &self,
        id: RejectionId,
        lead: Option<LeadId>,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            if id.0 < 1 || id.0 as usize > s.rejections.len() {
                return Err(conflict(format!("rejection {id} does not exist")));
            }
            let old = s.rejection_state.insert(id, (lead, Some(at)));
            Ok((
                (),
                Box::new(move |s: &mut State| match old {
                    Some(o) => {
                        s.rejection_state.insert(id, o);
                    }
                    None => {
                        s.rejection_state.remove(&id);
                    }
                }),
            ))
        })
    }
}

/// The unique key a contact occupies: its phone, or its email key when it has no phone.
pub(super) fn contact_key(c: &NewContact) -> Result<(bool, (String, String)), StorageError> {
    match (&c.phone_e164, &c.email_key) {
        (Some(p), _) => Ok((true, (c.dedup_scope.clone(), p.clone()))),
        (None, Some(e)) => Ok((false, (c.dedup_scope.clone(), e.clone()))),
        (None, None) => Err(conflict("a contact needs a phone or an email key")),
    }
}

impl State {
    fn key_map(&mut self, by_phone: bool) -> &mut HashMap<(String, String), ContactId> {
        if by_phone {
            &mut self.contact_keys
        } else {
            &mut self.email_only_keys
        }
    }
}

impl ContactRepo for MemTx {
    fn contact_by_phone(
        &self,
        dedup_scope: &str,
        phone_e164: &str,
    ) -> Result<Option<Contact>, StorageError> {
        self.read(|s| {
            s.contact_keys
                .get(&(dedup_scope.to_string(), phone_e164.to_string()))
                .map(|&id| s.contacts[(id.0 - 1) as usize].clone())
        })
    }
    fn contact_by_email_key(
        &self,
        dedup_scope: &str,
        email_key: &str,
    ) -> Result<Option<Contact>, StorageError> {
        self.read(|s| {
            s.contacts
                .iter()
                .find(|c| {
                    c.contact.dedup_scope == dedup_scope
                        && c.contact.email_key.as_deref() == Some(email_key)
                })
                .cloned()
        })
    }
    fn contact(&self, id: ContactId) -> Result<Option<Contact>, StorageError> {
        self.read(|s| {
            usize::try_from(id.0 - 1)
                .ok()
                .and_then(|i| s.contacts.get(i))
                .cloned()
        })
    }
    fn insert_contact_if_absent(
        &self,
        c: &NewContact,
    ) -> Result<Inserted<ContactId>, StorageError> {
        let (by_phone, key) = contact_key(c)?;
        if let Some(id) = self.read(|s| {
            let map = if by_phone {
                &s.contact_keys
            } else {
                &s.email_only_keys
            };
            map.get(&key).copied()
        })? {
            return Ok(Inserted::Existing(id));
        }
        self.write(|s| {
            let id = next_id(s.contacts.len());
            s.contacts.push(Contact {
                id,
                contact: c.clone(),
            });
            s.key_map(by_phone).insert(key.clone(), id);
            Ok((
                Inserted::Created(id),
                Box::new(move |s: &mut State| {
                    s.contacts.pop();
                    s.key_map(by_phone).remove(&key);
                }),
            ))
        })
    }
    fn update_contact(&self, id: ContactId, c: &NewContact) -> Result<(), StorageError> {
        self.write(|s| {
            let i = usize::try_from(id.0 - 1)
                .ok()
                .filter(|&i| i < s.contacts.len())
                .ok_or_else(|| conflict(format!("contact {id} does not exist")))?;
            let old = s.contacts[i].clone();
            let mut new = c.clone();
            new.dedup_scope = old.contact.dedup_scope.clone();
            new.created_at = old.contact.created_at;
            let (old_phone, old_key) = contact_key(&old.contact)?;
            let (new_phone, new_key) = contact_key(&new)?;
            let moved = (old_phone, &old_key) != (new_phone, &new_key);
            if moved {
                if s.key_map(new_phone).contains_key(&new_key) {
                    return Err(conflict(format!("contact {new_key:?} exists")));
                }
                s.key_map(old_phone).remove(&old_key);
                s.key_map(new_phone).insert(new_key.clone(), id);
            }
            s.contacts[i].contact = new;
            Ok((
                (),
                Box::new(move |s: &mut State| {
                    if moved {
                        s.key_map(new_phone).remove(&new_key);
                        s.key_map(old_phone).insert(old_key, id);
                    }
                    s.contacts[i] = old;
                }),
            ))
        })
    }
}

impl MemTx {
    /// Stores a lead at `new` with its first history row.
    fn insert_new_lead(&self, lead: &NewLead) -> Result<LeadId, StorageError> {
        self.write(|s| {
            let key = (lead.provider_id.clone(), lead.record_key.clone());
            if s.record_keys.contains_key(&key) {
                return Err(conflict(format!("record {key:?} already stored")));
            }
            if lead.contact_id.0 < 1 || lead.contact_id.0 as usize > s.contacts.len() {
                return Err(conflict(format!(
                    "contact {} does not exist",
                    lead.contact_id
                )));
            }
            if let Some(orig) = lead.duplicate_of {
                if orig.0 < 1 || orig.0 as usize > s.leads.len() {
                    return Err(conflict(format!("original lead {orig} does not exist")));
                }
            }
            let id = next_id(s.leads.len());
            s.leads.push(Lead {
                id,
                lead: lead.clone(),
            });
            s.record_keys.insert(key.clone(), StoredRecord::Lead(id));
            s.lead_status.insert(id, LeadStatus::New);
            s.status_history.push(LeadStatusChange {
                lead_id: id,
                from_status: None,
                to_status: LeadStatus::New,
                reason: None,
                changed_at: lead.received_at,
            });
            Ok((
                id,
                Box::new(move |s: &mut State| {
                    s.leads.pop();
                    s.record_keys.remove(&key);
                    s.lead_status.remove(&id);
                    s.status_history.pop();
                }),
            ))
        })
    }
}

impl LeadRepo for MemTx {
    fn insert_lead_as(
        &self,
        lead: &NewLead,
        status: LeadStatus,
        reason: Option<&str>,
        at: Timestamp,
    ) -> Result<LeadId, StorageError> {
        let id = self.insert_new_lead(lead)?;
        self.set_lead_status(id, status, reason, at)?;
        Ok(id)
    }
    fn lead(&self, id: LeadId) -> Result<Option<Lead>, StorageError> {
        self.read(|s| {
            usize::try_from(id.0 - 1)
                .ok()
                .and_then(|i| s.leads.get(i))
                .cloned()
        })
    }
    fn latest_original_lead(
        &self,
        contact_id: ContactId,
        product_type: &str,
    ) -> Result<Option<Lead>, StorageError> {
        self.read(|s| {
            s.leads
                .iter()
                .filter(|l| {
                    l.lead.contact_id == contact_id
                        && l.lead.duplicate_of.is_none()
                        && l.lead.product_type == product_type
                })
                .max_by_key(|l| (l.lead.received_at, l.id))
                .cloned()
        })
    }
    fn set_lead_appointment_date(
        &self,
        lead_id: LeadId,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            let l = usize::try_from(lead_id.0 - 1)
                .ok()
                .and_then(|i| s.leads.get_mut(i))
                .ok_or_else(|| conflict(format!("lead {lead_id} does not exist")))?;
            let old = l.lead.appointment_date.replace(at);
            Ok((
                (),
                Box::new(move |s: &mut State| {
                    s.leads[(lead_id.0 - 1) as usize].lead.appointment_date = old;
                }) as Undo,
            ))
        })
    }
    fn set_lead_status(
        &self,
        lead_id: LeadId,
        status: LeadStatus,
        reason: Option<&str>,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            let Some(old) = s.lead_status.get(&lead_id).cloned() else {
                return Err(conflict(format!("lead {lead_id} does not exist")));
            };
            if old == status {
                return Ok(((), Box::new(|_: &mut State| {}) as Undo));
            }
            s.status_history.push(LeadStatusChange {
                lead_id,
                from_status: Some(old),
                to_status: status,
                reason: reason.map(str::to_string),
                changed_at: at,
            });
            s.lead_status.insert(lead_id, status);
            Ok((
                (),
                Box::new(move |s: &mut State| {
                    s.status_history.pop();
                    s.lead_status.insert(lead_id, old);
                }) as Undo,
            ))
        })
    }
    fn lead_status_history(&self, lead_id: LeadId) -> Result<Vec<LeadStatusChange>, StorageError> {
        self.read(|s| {
            s.status_history
                .iter()
                .filter(|c| c.lead_id == lead_id)
                .cloned()
                .collect()
        })
    }
}
