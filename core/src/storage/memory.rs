//! An in-memory [`Store`]: for tests, examples and embedders that persist elsewhere.
//!
//! One mutex serializes transactions; each transaction keeps an undo log and rolls back by
//! replaying it when the closure fails, so the all-or-nothing contract holds without copying
//! the store.

use super::*;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

type Undo = Box<dyn FnOnce(&mut State) + Send>;

#[derive(Default)]
struct State {
    providers: BTreeMap<String, Provider>,
    workspaces: BTreeMap<String, Workspace>,
    rules: BTreeMap<i64, RoutingRule>,
    contacts: Vec<Contact>,
    contact_keys: HashMap<(String, String), ContactId>,
    /// (scope, email key) of contacts without a phone.
    email_only_keys: HashMap<(String, String), ContactId>,
    leads: Vec<Lead>,
    rejections: Vec<NewRejection>,
    record_keys: HashMap<(String, String), StoredRecord>,
    appointments: Vec<Appointment>,
    appointment_by_lead: HashMap<LeadId, AppointmentId>,
    deliveries: Vec<Delivery>,
    delivery_by_appointment: HashMap<AppointmentId, DeliveryId>,
    webhook_ids: HashMap<String, DeliveryId>,
    attempts: Vec<Attempt>,
    billing: Vec<NewBillingEvent>,
    billing_keys: HashMap<(AppointmentId, &'static str), BillingEventId>,
    events: Vec<NewEvent>,
    counters: HashMap<String, (i64, Cents)>,
    rule_state: HashMap<i64, RuleRoutingState>,
    endpoints: HashMap<String, EndpointHealth>,
    webhook_configs: BTreeMap<String, WebhookConfig>,
    /// (scope, message id) of accepted signed messages.
    messages: HashMap<(String, String), Timestamp>,
    /// (provider, webhook, day) → usage.
    usage: BTreeMap<(String, String, jiff::civil::Date), ProviderUsage>,
    lead_status: HashMap<LeadId, LeadStatus>,
    status_history: Vec<LeadStatusChange>,
}

/// Inserts `value` under `key` and returns the undo that restores the previous entry.
fn put_undoable<K, V, M>(map: &mut M, key: K, value: V, field: fn(&mut State) -> &mut M) -> Undo
where
    K: Clone + Send + 'static,
    V: Send + 'static,
    M: MapLike<K, V> + 'static,
{
    let old = map.put(key.clone(), value);
    Box::new(move |s: &mut State| {
        let m = field(s);
        match old {
            Some(o) => {
                m.put(key, o);
            }
            None => m.delete(&key),
        }
    })
}

/// The two map types the state uses, for [`put_undoable`].
trait MapLike<K, V> {
    fn put(&mut self, k: K, v: V) -> Option<V>;
    fn delete(&mut self, k: &K);
}

impl<K: Ord, V> MapLike<K, V> for BTreeMap<K, V> {
    fn put(&mut self, k: K, v: V) -> Option<V> {
        self.insert(k, v)
    }
    fn delete(&mut self, k: &K) {
        self.remove(k);
    }
}

impl<K: std::hash::Hash + Eq, V> MapLike<K, V> for HashMap<K, V> {
    fn put(&mut self, k: K, v: V) -> Option<V> {
        self.insert(k, v)
    }
    fn delete(&mut self, k: &K) {
        self.remove(k);
    }
}

/// An in-memory store (see the module docs). Ids start at 1, as in SQLite.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl Store for MemoryStore {
    fn transaction(&self, f: &mut dyn FnMut(&dyn Tx) -> Result<(), Error>) -> Result<(), Error> {
        let mut guard = self
            .state
            .lock()
            .map_err(|_| StorageError::backend("memory store mutex poisoned"))?;
        let state = std::mem::take(&mut *guard);
        let tx = MemTx {
            state: RefCell::new(state),
            undo: RefCell::new(Vec::new()),
        };
        let result = f(&tx);
        let MemTx { state, undo } = tx;
        let mut state = state.into_inner();
        if result.is_err() {
            for u in undo.into_inner().into_iter().rev() {
                u(&mut state);
            }
        }
        *guard = state;
        result
    }
}

struct MemTx {
    state: RefCell<State>,
    undo: RefCell<Vec<Undo>>,
}

impl MemTx {
    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> Result<T, StorageError> {
        Ok(f(&self.state.borrow()))
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<(T, Undo), StorageError>,
    ) -> Result<T, StorageError> {
        let (out, undo) = f(&mut self.state.borrow_mut())?;
        self.undo.borrow_mut().push(undo);
        Ok(out)
    }
}

fn next_id(len: usize) -> i64 {
    len as i64 + 1
}

fn conflict(what: impl Into<String>) -> StorageError {
    StorageError::conflict(what.into())
}

impl ProviderRepo for MemTx {
    fn put_provider(&self, provider: &Provider) -> Result<(), StorageError> {
        self.write(|s| {
            let id = provider.id.clone();
            let undo = put_undoable(&mut s.providers, id, provider.clone(), |s| &mut s.providers);
            Ok(((), undo))
        })
    }
    fn provider(&self, id: &str) -> Result<Option<Provider>, StorageError> {
        self.read(|s| s.providers.get(id).cloned())
    }
    fn providers(&self) -> Result<Vec<Provider>, StorageError> {
        self.read(|s| s.providers.values().cloned().collect())
    }
}

impl WorkspaceRepo for MemTx {
    fn put_workspace(&self, workspace: &Workspace) -> Result<(), StorageError> {
        self.write(|s| {
            let id = workspace.id.clone();
            let undo = put_undoable(&mut s.workspaces, id, workspace.clone(), |s| {
                &mut s.workspaces
            });
            Ok(((), undo))
        })
    }
    fn workspace(&self, id: &str) -> Result<Option<Workspace>, StorageError> {
        self.read(|s| s.workspaces.get(id).cloned())
    }
    fn workspaces(&self) -> Result<Vec<Workspace>, StorageError> {
        self.read(|s| s.workspaces.values().cloned().collect())
    }
}

impl RuleRepo for MemTx {
    fn put_rule(&self, rule: &RoutingRule) -> Result<(), StorageError> {
        self.write(|s| {
            if !s.workspaces.contains_key(&rule.workspace_id) {
                return Err(conflict(format!(
                    "rule {}: workspace {} does not exist",
                    rule.id, rule.workspace_id
                )));
            }
            let id = rule.id;
            let undo = put_undoable(&mut s.rules, id, rule.clone(), |s| &mut s.rules);
            Ok(((), undo))
        })
    }
    fn rules(&self) -> Result<Vec<RoutingRule>, StorageError> {
        self.read(|s| s.rules.values().cloned().collect())
    }
}

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
}

/// The unique key a contact occupies: its phone, or its email key when it has no phone.
fn contact_key(c: &NewContact) -> Result<(bool, (String, String)), StorageError> {
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
                .map(|&id| s.contacts[(id - 1) as usize].clone())
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
            usize::try_from(id - 1)
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
            let i = usize::try_from(id - 1)
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
            if lead.contact_id < 1 || lead.contact_id as usize > s.contacts.len() {
                return Err(conflict(format!(
                    "contact {} does not exist",
                    lead.contact_id
                )));
            }
            if let Some(orig) = lead.duplicate_of {
                if orig < 1 || orig as usize > s.leads.len() {
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
            usize::try_from(id - 1)
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

impl AppointmentRepo for MemTx {
    fn insert_appointment(&self, a: &NewAppointment) -> Result<AppointmentId, StorageError> {
        self.write(|s| {
            if a.lead_id < 1 || a.lead_id as usize > s.leads.len() {
                return Err(conflict(format!("lead {} does not exist", a.lead_id)));
            }
            if s.appointment_by_lead.contains_key(&a.lead_id) {
                return Err(conflict(format!("lead {} has an appointment", a.lead_id)));
            }
            let id = next_id(s.appointments.len());
            s.appointments.push(Appointment {
                id,
                appointment: a.clone(),
                forward_status: ForwardStatus::Pending,
                forward_attempts: 0,
                forwarded_at: None,
                forward_response: None,
            });
            let lead = a.lead_id;
            s.appointment_by_lead.insert(lead, id);
            Ok((
                id,
                Box::new(move |s: &mut State| {
                    s.appointments.pop();
                    s.appointment_by_lead.remove(&lead);
                }),
            ))
        })
    }
    fn appointment(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError> {
        self.read(|s| {
            usize::try_from(id - 1)
                .ok()
                .and_then(|i| s.appointments.get(i))
                .cloned()
        })
    }
    fn appointment_for_lead(&self, lead_id: LeadId) -> Result<Option<Appointment>, StorageError> {
        self.read(|s| {
            s.appointment_by_lead
                .get(&lead_id)
                .map(|&id| s.appointments[(id - 1) as usize].clone())
        })
    }
    fn update_forward(
        &self,
        id: AppointmentId,
        status: ForwardStatus,
        attempts: u32,
        forwarded_at: Option<Timestamp>,
        response: Option<&str>,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            let a = usize::try_from(id - 1)
                .ok()
                .and_then(|i| s.appointments.get_mut(i))
                .ok_or_else(|| conflict(format!("appointment {id} does not exist")))?;
            let old = (
                a.forward_status,
                a.forward_attempts,
                a.forwarded_at,
                a.forward_response.clone(),
            );
            a.forward_status = status;
            a.forward_attempts = attempts;
            a.forwarded_at = forwarded_at;
            a.forward_response = response.map(str::to_string);
            Ok((
                (),
                Box::new(move |s: &mut State| {
                    let a = &mut s.appointments[(id - 1) as usize];
                    (
                        a.forward_status,
                        a.forward_attempts,
                        a.forwarded_at,
                        a.forward_response,
                    ) = old;
                }),
            ))
        })
    }
    fn appointments_after(
        &self,
        after: AppointmentId,
        limit: usize,
    ) -> Result<Vec<Appointment>, StorageError> {
        self.read(|s| {
            s.appointments
                .iter()
                .filter(|a| a.id > after)
                .take(limit)
                .cloned()
                .collect()
        })
    }
    fn unrouted_appointments(
        &self,
        after: AppointmentId,
        limit: usize,
    ) -> Result<Vec<Appointment>, StorageError> {
        self.read(|s| {
            s.appointments
                .iter()
                .filter(|a| {
                    a.id > after && matches!(a.appointment.assignment, Assignment::Unrouted { .. })
                })
                .take(limit)
                .cloned()
                .collect()
        })
    }
    fn assign_appointment(
        &self,
        id: AppointmentId,
        assignment: &Assignment,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            let Assignment::Routed { workspace_id, .. } = assignment else {
                return Err(conflict("assign_appointment needs a routed assignment"));
            };
            if !s.workspaces.contains_key(workspace_id) {
                return Err(conflict(format!("workspace {workspace_id} does not exist")));
            }
            let a = usize::try_from(id - 1)
                .ok()
                .and_then(|i| s.appointments.get_mut(i))
                .ok_or_else(|| conflict(format!("appointment {id} does not exist")))?;
            if !matches!(a.appointment.assignment, Assignment::Unrouted { .. }) {
                return Err(conflict(format!("appointment {id} is already routed")));
            }
            let old = std::mem::replace(&mut a.appointment.assignment, assignment.clone());
            Ok((
                (),
                Box::new(move |s: &mut State| {
                    s.appointments[(id - 1) as usize].appointment.assignment = old;
                }),
            ))
        })
    }
}

impl OutboxRepo for MemTx {
    fn enqueue_delivery(&self, d: &NewDelivery) -> Result<DeliveryId, StorageError> {
        self.write(|s| {
            if d.appointment_id < 1 || d.appointment_id as usize > s.appointments.len() {
                return Err(conflict(format!(
                    "appointment {} does not exist",
                    d.appointment_id
                )));
            }
            if s.delivery_by_appointment.contains_key(&d.appointment_id) {
                return Err(conflict(format!(
                    "appointment {} has a delivery",
                    d.appointment_id
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
            });
            let (appt, wid) = (d.appointment_id, d.webhook_id.clone());
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
            let i = usize::try_from(attempt.delivery_id - 1)
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
            let i = usize::try_from(id - 1)
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
            usize::try_from(id - 1)
                .ok()
                .and_then(|i| s.deliveries.get(i))
                .cloned()
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

impl BillingRepo for MemTx {
    fn insert_billing_event(
        &self,
        e: &NewBillingEvent,
    ) -> Result<Option<BillingEventId>, StorageError> {
        let key = (e.appointment_id, e.kind.as_str());
        if self.read(|s| s.billing_keys.contains_key(&key))? {
            return Ok(None);
        }
        self.write(|s| {
            if e.appointment_id < 1 || e.appointment_id as usize > s.appointments.len() {
                return Err(conflict(format!(
                    "appointment {} does not exist",
                    e.appointment_id
                )));
            }
            let id = next_id(s.billing.len());
            s.billing.push(e.clone());
            s.billing_keys.insert(key, id);
            Ok((
                Some(id),
                Box::new(move |s: &mut State| {
                    s.billing.pop();
                    s.billing_keys.remove(&key);
                }),
            ))
        })
    }
    fn billing_event(
        &self,
        appointment_id: AppointmentId,
        kind: BillingKind,
    ) -> Result<Option<NewBillingEvent>, StorageError> {
        self.read(|s| {
            s.billing_keys
                .get(&(appointment_id, kind.as_str()))
                .map(|&id| s.billing[(id - 1) as usize].clone())
        })
    }
}

impl MemTx {
    fn billing_rows(&self) -> Result<Vec<NewBillingEvent>, StorageError> {
        self.read(|s| s.billing.clone())
    }
}

/// Folds billing events into per-workspace summary rows, ordered by workspace id.
fn summarize(events: impl Iterator<Item = NewBillingEvent>) -> Vec<BillingSummaryRow> {
    let mut m: BTreeMap<String, BillingSummaryRow> = BTreeMap::new();
    for e in events {
        let row = m
            .entry(e.workspace_id.clone())
            .or_insert_with(|| BillingSummaryRow {
                workspace_id: e.workspace_id.clone(),
                ..BillingSummaryRow::default()
            });
        match e.kind {
            BillingKind::Charge => {
                row.charges += 1;
                row.charged.0 += e.amount.0;
            }
            BillingKind::Credit => {
                row.credits += 1;
                row.credited.0 += e.amount.0;
            }
        }
        row.net.0 += e.amount.0;
    }
    m.into_values().collect()
}

impl EventRepo for MemTx {
    fn append_event(&self, event: &NewEvent) -> Result<(), StorageError> {
        self.write(|s| {
            s.events.push(event.clone());
            Ok((
                (),
                Box::new(|s: &mut State| {
                    s.events.pop();
                }),
            ))
        })
    }
    fn events(
        &self,
        subject: EventSubject,
        subject_id: i64,
    ) -> Result<Vec<NewEvent>, StorageError> {
        self.read(|s| {
            s.events
                .iter()
                .filter(|e| e.subject == subject && e.subject_id == subject_id)
                .cloned()
                .collect()
        })
    }
}

impl CapacityRepo for MemTx {
    fn counter(&self, key: &str) -> Result<(i64, Cents), StorageError> {
        self.read(|s| s.counters.get(key).copied().unwrap_or((0, Cents(0))))
    }
    fn try_consume(
        &self,
        limits: &[CounterLimit],
        count: i64,
        amount: Cents,
    ) -> Result<bool, StorageError> {
        let fits = self.read(|s| {
            limits.iter().all(|l| {
                let (c, a) = s.counters.get(&l.key).copied().unwrap_or((0, Cents(0)));
                l.max_count.is_none_or(|m| c + count <= m)
                    && l.max_amount.is_none_or(|m| a.0 + amount.0 <= m.0)
            })
        })?;
        if fits {
            for l in limits {
                self.add_to_counter(&l.key, count, amount)?;
            }
        }
        Ok(fits)
    }
    fn add_to_counter(&self, key: &str, count: i64, amount: Cents) -> Result<(), StorageError> {
        self.write(|s| {
            let (c, a) = s.counters.get(key).copied().unwrap_or((0, Cents(0)));
            let sum = (c + count, Cents(a.0 + amount.0));
            let undo = put_undoable(&mut s.counters, key.to_string(), sum, |s| &mut s.counters);
            Ok(((), undo))
        })
    }
}

impl RoutingStateRepo for MemTx {
    fn rule_routing_state(&self, rule_id: i64) -> Result<RuleRoutingState, StorageError> {
        self.read(|s| s.rule_state.get(&rule_id).copied().unwrap_or_default())
    }
    fn put_rule_routing_state(
        &self,
        rule_id: i64,
        state: &RuleRoutingState,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            let undo = put_undoable(&mut s.rule_state, rule_id, *state, |s| &mut s.rule_state);
            Ok(((), undo))
        })
    }
}

impl EndpointRepo for MemTx {
    fn endpoint_health(&self, workspace_id: &str) -> Result<EndpointHealth, StorageError> {
        self.read(|s| s.endpoints.get(workspace_id).cloned().unwrap_or_default())
    }
    fn put_endpoint_health(
        &self,
        workspace_id: &str,
        health: &EndpointHealth,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            let key = workspace_id.to_string();
            let undo = put_undoable(&mut s.endpoints, key, health.clone(), |s| &mut s.endpoints);
            Ok(((), undo))
        })
    }
}

impl WebhookConfigRepo for MemTx {
    fn put_webhook_config(&self, config: &WebhookConfig) -> Result<(), StorageError> {
        self.write(|s| {
            let undo = put_undoable(
                &mut s.webhook_configs,
                config.id.clone(),
                config.clone(),
                |s| &mut s.webhook_configs,
            );
            Ok(((), undo))
        })
    }
    fn webhook_configs(&self) -> Result<Vec<WebhookConfig>, StorageError> {
        self.read(|s| s.webhook_configs.values().cloned().collect())
    }
}

impl IntakeRepo for MemTx {
    fn remember_message(
        &self,
        scope: &str,
        message_id: &str,
        at: Timestamp,
    ) -> Result<bool, StorageError> {
        self.write(|s| {
            let key = (scope.to_string(), message_id.to_string());
            if s.messages.contains_key(&key) {
                return Ok((false, Box::new(|_: &mut State| {}) as Undo));
            }
            let undo = put_undoable(&mut s.messages, key, at, |s| &mut s.messages);
            Ok((true, undo))
        })
    }
    fn add_usage(&self, delta: &ProviderUsage) -> Result<(), StorageError> {
        self.write(|s| {
            // Keyed as SQL keeps it: no webhook is the empty id.
            let webhook = delta.webhook_id.clone().unwrap_or_default();
            let key = (delta.provider_id.clone(), webhook, delta.day);
            let mut row = s.usage.get(&key).cloned().unwrap_or_else(|| ProviderUsage {
                provider_id: key.0.clone(),
                webhook_id: Some(key.1.clone()).filter(|w| !w.is_empty()),
                day: key.2,
                ..ProviderUsage::default()
            });
            row.requests += delta.requests;
            row.refused += delta.refused;
            row.total_leads += delta.total_leads;
            row.accepted += delta.accepted;
            row.rejected += delta.rejected;
            row.last_lead_at = row.last_lead_at.max(delta.last_lead_at);
            let undo = put_undoable(&mut s.usage, key, row, |s| &mut s.usage);
            Ok(((), undo))
        })
    }
}

impl Reports for MemTx {
    fn billing_summary(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<BillingSummaryRow>, StorageError> {
        Ok(summarize(
            self.billing_rows()?
                .into_iter()
                .filter(|e| e.created_at >= from && e.created_at < to),
        ))
    }
    fn provider_usage(&self, provider_id: &str) -> Result<Vec<ProviderUsage>, StorageError> {
        self.read(|s| {
            let mut rows: Vec<ProviderUsage> = s
                .usage
                .values()
                .filter(|u| u.provider_id == provider_id)
                .cloned()
                .collect();
            rows.sort_by(|a, b| (&a.day, &a.webhook_id).cmp(&(&b.day, &b.webhook_id)));
            rows
        })
    }
    fn provider_totals(&self, provider_id: &str) -> Result<(u64, Option<Timestamp>), StorageError> {
        self.read(|s| {
            s.usage
                .values()
                .filter(|u| u.provider_id == provider_id)
                .fold((0, None), |(n, last), u| {
                    (n + u.total_leads, last.max(u.last_lead_at))
                })
        })
    }
    fn counts(&self) -> Result<StoreCounts, StorageError> {
        self.read(|s| {
            let routed = s
                .appointments
                .iter()
                .filter(|a| matches!(a.appointment.assignment, Assignment::Routed { .. }))
                .count() as u64;
            let status = |st| s.deliveries.iter().filter(|d| d.status == st).count() as u64;
            StoreCounts {
                contacts: s.contacts.len() as u64,
                leads: s.leads.len() as u64,
                rejections: s.rejections.len() as u64,
                appointments: s.appointments.len() as u64,
                appointments_routed: routed,
                appointments_unrouted: s.appointments.len() as u64 - routed,
                deliveries: s.deliveries.len() as u64,
                deliveries_succeeded: status(ForwardStatus::Success),
                deliveries_failed: status(ForwardStatus::Failed),
                attempts: s.attempts.len() as u64,
                billing_events: s.billing.len() as u64,
                billed: Cents(s.billing.iter().map(|b| b.amount.0).sum()),
            }
        })
    }
}
