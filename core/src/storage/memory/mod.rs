//! An in-memory [`Store`]: for tests, examples and embedders that persist elsewhere.
//!
//! One mutex serializes transactions; each transaction keeps an undo log and rolls back by
//! replaying it when the closure fails, so the all-or-nothing contract holds without copying
//! the store.

use super::*;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

mod aftercare;
mod appointments;
mod config;
mod counters;
mod events;
mod intake;
mod leads;
mod outbox;
mod outreach;
mod reports;

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
    delivery_by_appointment: HashMap<(AppointmentId, u32), DeliveryId>,
    webhook_ids: HashMap<String, DeliveryId>,
    attempts: Vec<Attempt>,
    billing: Vec<NewBillingEvent>,
    billing_keys: HashMap<(AppointmentId, String, &'static str), BillingEventId>,
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
    rejection_state: HashMap<RejectionId, (Option<LeadId>, Option<Timestamp>)>,
    returns: Vec<ReturnRecord>,
    return_keys: HashMap<(AppointmentId, String), ReturnId>,
    booking_events: Vec<BookingEvent>,
    booking_event_keys: HashMap<(String, String), i64>,
    booking_links: BTreeMap<String, AppointmentId>,
    queue: BTreeMap<LeadId, QueueEntry>,
    /// The queue's due index: (next attempt, lead) of every `pending` or `no_answer` entry.
    queue_due: std::collections::BTreeSet<(Timestamp, LeadId)>,
    /// The queue's lease index: (lease expiry, lead) of every `attempting` entry, which a
    /// claim hands out again once the lease expired.
    queue_leased: std::collections::BTreeSet<(Timestamp, LeadId)>,
    contact_attempts: Vec<ContactAttempt>,
    suppressions: BTreeMap<String, Suppression>,
    scheduled: Vec<Message>,
    message_logs: Vec<MessageLog>,
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

fn next_id<I: From<i64>>(len: usize) -> I {
    I::from(len as i64 + 1)
}

fn conflict(what: impl Into<String>) -> StorageError {
    StorageError::conflict(what.into())
}
