//! Routing against the store: tie-break state kept in the store, and the eligibility gate
//! (schedules, caps, budgets) that reads capacity counters inside the assigning transaction.

use super::Snapshot;
use crate::capacity::{self, CapPeriod, CapScope, CapViolation, Capacity, Usage, Zone};
use crate::model::Cents;
use crate::routing::{Candidate, Gate, SkipReason, TieState};
use crate::storage::{CounterLimit, RuleRoutingState, StorageError, Tx};
use crate::Error;
use jiff::Timestamp;
use std::cell::RefCell;

/// [`TieState`] read from and written to the store, inside the caller's transaction.
///
/// The trait's methods cannot fail, so the first storage error is kept and the caller must
/// check [`StoreTieState::finish`] after deciding.
pub(super) struct StoreTieState<'a> {
    tx: &'a dyn Tx,
    /// `false` for dry runs: writes are dropped.
    write: bool,
    error: RefCell<Option<StorageError>>,
}

impl<'a> StoreTieState<'a> {
    pub(super) fn new(tx: &'a dyn Tx, write: bool) -> Self {
        StoreTieState {
            tx,
            write,
            error: RefCell::new(None),
        }
    }

    fn read(&self, rule_id: i64) -> RuleRoutingState {
        match self.tx.rule_routing_state(rule_id) {
            Ok(s) => s,
            Err(e) => {
                self.error.borrow_mut().get_or_insert(e);
                RuleRoutingState::default()
            }
        }
    }

    fn update(&mut self, rule_id: i64, f: impl FnOnce(&mut RuleRoutingState)) {
        if !self.write {
            return;
        }
        let mut s = self.read(rule_id);
        f(&mut s);
        if let Err(e) = self.tx.put_rule_routing_state(rule_id, &s) {
            self.error.borrow_mut().get_or_insert(e);
        }
    }

    /// The first storage error met, if any.
    pub(super) fn finish(self) -> Result<(), Error> {
        match self.error.into_inner() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }
}

impl TieState for StoreTieState<'_> {
    fn current_weight(&self, rule_id: i64) -> i64 {
        self.read(rule_id).current_weight
    }
    fn set_current_weight(&mut self, rule_id: i64, w: i64) {
        self.update(rule_id, |s| s.current_weight = w);
    }
    fn last_routed(&self, rule_id: i64) -> Option<Timestamp> {
        self.read(rule_id).last_routed_at
    }
    fn set_last_routed(&mut self, rule_id: i64, at: Timestamp) {
        self.update(rule_id, |s| s.last_routed_at = Some(at));
    }
}

/// The gate: a candidate is eligible when its workspace takes the lead's consent status,
/// is open now, and neither the workspace's nor the rule's caps and budget are used up in
/// their current windows.
pub(super) struct StoreGate<'a> {
    tx: &'a dyn Tx,
    snap: &'a Snapshot,
    at: Timestamp,
    /// Whether the lead has TCPA consent (`tcpa_consent = true`).
    consent: bool,
    /// Workspaces this decision must skip.
    excluded: &'a [String],
    /// The instant the weekly hours are checked at: the routing time, or a booking's start.
    open_at: Timestamp,
    error: Option<Error>,
}

impl<'a> StoreGate<'a> {
    pub(super) fn new(tx: &'a dyn Tx, snap: &'a Snapshot, at: Timestamp, consent: bool) -> Self {
        StoreGate {
            tx,
            snap,
            at,
            consent,
            excluded: &[],
            open_at: at,
            error: None,
        }
    }

    /// The same gate, checking the workspaces' weekly hours at `at` (a booking's start)
    /// instead of the routing time.
    pub(super) fn open_at(mut self, at: Timestamp) -> Self {
        self.open_at = at;
        self
    }

    /// The same gate, skipping `excluded` workspaces (`excluded_workspace`).
    pub(super) fn excluding(mut self, excluded: &'a [String]) -> Self {
        self.excluded = excluded;
        self
    }

    /// The first error met, if any.
    pub(super) fn finish(self) -> Result<(), Error> {
        self.error.map_or(Ok(()), Err)
    }

    fn eligible(&self, c: &Candidate<'_>) -> Result<Option<SkipReason>, Error> {
        let Some(ws) = self.snap.workspaces.get(c.workspace_id) else {
            return Ok(Some(SkipReason::WorkspaceMissing));
        };
        if self.excluded.contains(&ws.id) {
            return Ok(Some(SkipReason::ExcludedWorkspace));
        }
        if ws.require_consent && !self.consent {
            return Ok(Some(SkipReason::ConsentRequired));
        }
        if let Some(schedule) = self.snap.schedules.get(c.workspace_id) {
            if !schedule.is_open(self.open_at)? {
                return Ok(Some(SkipReason::OutsideSchedule));
            }
        }
        let zone = self.snap.zone(c.workspace_id)?;
        let price = ws.payment_rate;
        let scopes = [
            (CapScope::Workspace, ws.id.clone(), &ws.capacity),
            (
                CapScope::Rule,
                c.rule_id.to_string(),
                self.snap
                    .rule_capacity
                    .get(&c.rule_id)
                    .unwrap_or(&UNLIMITED),
            ),
        ];
        for (scope, owner, cap) in scopes {
            if cap.is_unlimited() {
                continue;
            }
            let usage = usage(self.tx, scope, &owner, cap, &zone, self.at)?;
            match capacity::check(cap, &usage, price) {
                Ok(()) => {}
                Err(CapViolation::CapReached { period, .. }) => {
                    return Ok(Some(SkipReason::CapReached { scope, period }))
                }
                Err(_) => return Ok(Some(SkipReason::BudgetSpent)),
            }
        }
        Ok(None)
    }
}

static UNLIMITED: Capacity = Capacity {
    caps: Vec::new(),
    budget: None,
};

impl Gate for StoreGate<'_> {
    fn check(&mut self, c: &Candidate<'_>) -> Option<SkipReason> {
        if self.error.is_some() {
            // Stop trying: the caller returns the error.
            return Some(SkipReason::OutsideSchedule);
        }
        match self.eligible(c) {
            Ok(r) => r,
            Err(e) => {
                self.error = Some(e);
                Some(SkipReason::OutsideSchedule)
            }
        }
    }
}

/// What a scope has used in the windows containing `at`.
fn usage(
    tx: &dyn Tx,
    scope: CapScope,
    owner: &str,
    cap: &Capacity,
    zone: &Zone,
    at: Timestamp,
) -> Result<Usage, Error> {
    let mut usage = Usage::default();
    for period in cap.periods() {
        let (start, _) = zone.window(period, at)?;
        let (count, amount) = tx.counter(&capacity::counter_key(scope, owner, period, start))?;
        usage.set_count(period, u32::try_from(count.max(0)).unwrap_or(u32::MAX));
        if cap.budget.as_ref().is_some_and(|b| b.period == period) {
            usage.spent_in_budget_period = amount;
        }
    }
    Ok(usage)
}

/// Takes one appointment at `price` from the winner's workspace and rule capacities, in the
/// assigning transaction, atomically against concurrent writers
/// ([`CapacityRepo::try_consume`](crate::storage::CapacityRepo::try_consume)): `false` when
/// another writer took the last unit since the gate read the counters.
pub(super) fn consume(
    tx: &dyn Tx,
    snap: &Snapshot,
    workspace_id: &str,
    rule_id: Option<i64>,
    price: Cents,
    at: Timestamp,
) -> Result<bool, Error> {
    let limits: Vec<CounterLimit> = counters(snap, workspace_id, rule_id, at)?
        .into_iter()
        .map(|(key, cap, period)| CounterLimit {
            key,
            max_count: cap
                .caps
                .iter()
                .filter(|c| c.period == period)
                .map(|c| i64::from(c.limit))
                .min(),
            max_amount: cap.budget.filter(|b| b.period == period).map(|b| b.amount),
        })
        .collect();
    Ok(tx.try_consume(&limits, 1, price)?)
}

/// Gives one appointment at `price` back to the capacities it was taken from, in the windows
/// containing `matched_at` (a return).
pub(super) fn give_back(
    tx: &dyn Tx,
    snap: &Snapshot,
    workspace_id: &str,
    rule_id: Option<i64>,
    price: Cents,
    matched_at: Timestamp,
) -> Result<(), Error> {
    for (key, _, _) in counters(snap, workspace_id, rule_id, matched_at)? {
        tx.add_to_counter(&key, -1, Cents(-price.0))?;
    }
    Ok(())
}

/// The counters an assignment at `at` counts in: for the workspace's capacity and its rule's,
/// one key per period they limit, in the windows containing `at` (the workspace's zone), with
/// the capacity and period it belongs to.
fn counters<'s>(
    snap: &'s Snapshot,
    workspace_id: &str,
    rule_id: Option<i64>,
    at: Timestamp,
) -> Result<Vec<(String, &'s Capacity, CapPeriod)>, Error> {
    let scopes = scopes(snap, workspace_id, rule_id);
    if scopes.iter().all(|(_, _, cap)| cap.is_unlimited()) {
        return Ok(Vec::new());
    }
    let zone = snap.zone(workspace_id)?;
    let mut keys = Vec::new();
    for (scope, owner, cap) in scopes {
        for period in cap.periods() {
            let (start, _) = zone.window(period, at)?;
            keys.push((
                capacity::counter_key(scope, &owner, period, start),
                cap,
                period,
            ));
        }
    }
    Ok(keys)
}

/// The capacities an assignment counts against: the workspace's, and its rule's when the rule
/// has one (scope, owner id, capacity).
fn scopes<'s>(
    snap: &'s Snapshot,
    workspace_id: &str,
    rule_id: Option<i64>,
) -> Vec<(CapScope, String, &'s Capacity)> {
    let Some(ws) = snap.workspaces.get(workspace_id) else {
        return Vec::new();
    };
    let mut scopes = vec![(CapScope::Workspace, ws.id.clone(), &ws.capacity)];
    if let Some((id, cap)) = rule_id.and_then(|id| snap.rule_capacity.get(&id).map(|c| (id, c))) {
        scopes.push((CapScope::Rule, id.to_string(), cap));
    }
    scopes
}
