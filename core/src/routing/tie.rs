//! Tie policies, their state, the caller's eligibility gate, and explained decisions.
//!
//! # Order
//!
//! The candidates of a (product, ZIP5) are tried by ascending priority. Candidates of equal
//! priority form a *tie group*, ordered by the [`TiePolicy`]:
//!
//! - [`TiePolicy::LowestId`]: ascending rule id. No state.
//! - [`TiePolicy::WeightedRoundRobin`]: smooth weighted round-robin, as nginx balances
//!   upstreams. Each rule has a *current weight* `c` (state, initially 0) and a configured
//!   weight `w` ([`RuleTargeting::weight`](super::RuleTargeting::weight), default 1). The group
//!   is tried in descending `c + w`, ties by ascending id. When a member of the group wins, the
//!   *participants* are the group's members that were not skipped before it (the winner and
//!   those not reached; a skipped rule sits the round out, as nginx skips a down peer); with
//!   `W` their total weight, every participant's `c` becomes `c + w`, and the winner's then
//!   drops by `W`. Over any run of picks in which the same group competes and all its members
//!   pass, each rule wins exactly `w / W` of every `W` consecutive picks, spread evenly (3:1
//!   gives A A B A, A A B A, ...). State is kept **per rule**, shared by every tie group the
//!   rule belongs to (one rule can tie with different rules in different ZIPs): fairness is
//!   exact within a stable group and approximate across overlapping ones.
//! - [`TiePolicy::LeastRecentlyRouted`]: the rule that won longest ago first (state: the time
//!   of its last win), rules that never won before all others, then ascending id. The winner's
//!   time becomes `now`.
//!
//! State changes only when a candidate wins, and only within the winner's tie group; a
//! decision with no winner changes nothing. [`TieState`] is the storage seam: the engine backs
//! it with stored rows so that restarts keep fairness; [`MemoryTieState`] is the in-memory
//! implementation.
//!
//! # Eligibility
//!
//! Each candidate in order is checked by the table first (workspace missing, webhook
//! inactive) and then by the caller's [`Gate`] (schedule, caps, budget); the first that
//! passes both wins. The gate is not called for candidates the table skips, nor for those
//! after the winner.

use super::index::{pairs_at, CompiledRule};
use super::{RouteMatch, RoutingDecision, RoutingTable, SkipReason, Skipped, UnroutedReason};
use crate::catalog::ProductId;
use crate::zip::Zip5;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How candidates of equal priority are ordered (see the module docs of
/// [`routing`](super)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TiePolicy {
    /// Lowest rule id first (the default; no state).
    #[default]
    LowestId,
    /// Smooth weighted round-robin by rule weight.
    WeightedRoundRobin,
    /// Least recently routed first, never-routed first, then lowest id.
    LeastRecentlyRouted,
}

impl TiePolicy {
    /// snake_case code: `lowest_id`, `weighted_round_robin`, `least_recently_routed`.
    pub fn code(self) -> &'static str {
        match self {
            TiePolicy::LowestId => "lowest_id",
            TiePolicy::WeightedRoundRobin => "weighted_round_robin",
            TiePolicy::LeastRecentlyRouted => "least_recently_routed",
        }
    }

    /// The policy with this [`code`](TiePolicy::code), or `None`.
    pub fn from_code(code: &str) -> Option<TiePolicy> {
        [
            TiePolicy::LowestId,
            TiePolicy::WeightedRoundRobin,
            TiePolicy::LeastRecentlyRouted,
        ]
        .into_iter()
        .find(|p| p.code() == code.trim())
    }
}

/// Per-rule tie-break state, read and written by [`RoutingTable::decide`].
///
/// A rule never written reads as current weight 0 and never routed.
pub trait TieState {
    /// The rule's smooth weighted round-robin current weight (0 if never written).
    fn current_weight(&self, rule_id: i64) -> i64;
    /// Sets the rule's current weight.
    fn set_current_weight(&mut self, rule_id: i64, w: i64);
    /// When the rule last won a decision, or `None` if never.
    fn last_routed(&self, rule_id: i64) -> Option<Timestamp>;
    /// Records that the rule won a decision at `at`.
    fn set_last_routed(&mut self, rule_id: i64, at: Timestamp);
}

/// [`TieState`] in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTieState {
    /// Current weights by rule id.
    pub current_weights: HashMap<i64, i64>,
    /// Last win by rule id.
    pub last_routed: HashMap<i64, Timestamp>,
}

impl MemoryTieState {
    /// Empty state: every rule at weight 0, never routed.
    pub fn new() -> MemoryTieState {
        MemoryTieState::default()
    }
}

impl TieState for MemoryTieState {
    fn current_weight(&self, rule_id: i64) -> i64 {
        self.current_weights.get(&rule_id).copied().unwrap_or(0)
    }
    fn set_current_weight(&mut self, rule_id: i64, w: i64) {
        self.current_weights.insert(rule_id, w);
    }
    fn last_routed(&self, rule_id: i64) -> Option<Timestamp> {
        self.last_routed.get(&rule_id).copied()
    }
    fn set_last_routed(&mut self, rule_id: i64, at: Timestamp) {
        self.last_routed.insert(rule_id, at);
    }
}

/// A candidate rule as the [`Gate`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// The rule.
    pub rule_id: i64,
    /// Its workspace (which exists and has an active webhook).
    pub workspace_id: &'a str,
    /// Its priority.
    pub priority: i32,
    /// Its round-robin weight (at least 1).
    pub weight: u32,
}

/// The caller's eligibility check: schedules, caps, budgets.
///
/// Called for each candidate in decision order until one passes. `check` should not
/// consume capacity: the caller consumes it for the winner once the decision is made.
/// Closures `FnMut(&Candidate) -> Option<SkipReason>` are gates.
pub trait Gate {
    /// `None` to accept the candidate, or why it is skipped.
    fn check(&mut self, c: &Candidate<'_>) -> Option<SkipReason>;
}

impl<F: FnMut(&Candidate<'_>) -> Option<SkipReason>> Gate for F {
    fn check(&mut self, c: &Candidate<'_>) -> Option<SkipReason> {
        self(c)
    }
}

/// A [`Gate`] that accepts every candidate.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoGate;

impl Gate for NoGate {
    fn check(&mut self, _: &Candidate<'_>) -> Option<SkipReason> {
        None
    }
}

/// What happened to one candidate of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CandidateStatus {
    /// It won.
    Matched,
    /// It was passed over.
    Skipped {
        /// Why.
        reason: SkipReason,
    },
    /// A candidate before it won; it was not checked.
    NotReached,
}

/// One candidate of an [`Explanation`], in decision order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TraceEntry<'a> {
    /// The rule.
    pub rule_id: i64,
    /// Its workspace.
    pub workspace_id: &'a str,
    /// Its priority.
    pub priority: i32,
    /// Its round-robin weight.
    pub weight: u32,
    /// What happened to it.
    #[serde(flatten)]
    pub status: CandidateStatus,
}

/// A rule that is not a candidate but covers the ZIP's area (excluded ZIP, inactive rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TraceRule<'a> {
    /// The rule.
    pub rule_id: i64,
    /// Its workspace.
    pub workspace_id: &'a str,
    /// Its priority.
    pub priority: i32,
    /// [`SkipReason::ExcludedZip`] or [`SkipReason::RuleInactive`].
    pub reason: SkipReason,
}

/// The full trace of one decision (see [`RoutingTable::explain`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation<'a> {
    /// The product's canonical name, or `None` when the catalog does not know it.
    pub product: Option<&'a str>,
    /// The ZIP.
    pub zip: Zip5,
    /// The tie policy applied.
    pub policy: TiePolicy,
    /// The match, or why there is none.
    pub outcome: Result<RouteMatch<'a>, UnroutedReason>,
    /// Every candidate in decision order: the skipped ones, the match, then those not reached.
    pub candidates: Vec<TraceEntry<'a>>,
    /// Active rules that target the ZIP's area but exclude the ZIP, in rank order.
    pub excluded: Vec<TraceRule<'a>>,
    /// Inactive rules that would cover the (product, ZIP), in rank order.
    pub inactive: Vec<TraceRule<'a>>,
}

impl<'a> Explanation<'a> {
    /// The short form: the outcome and the [`RoutingDecision::skipped`] list.
    pub fn to_decision(&self) -> RoutingDecision<'a> {
        let mut skipped: Vec<Skipped<'a>> = self
            .candidates
            .iter()
            .filter_map(|c| match c.status {
                CandidateStatus::Skipped { reason } => Some(Skipped {
                    rule_id: c.rule_id,
                    workspace_id: c.workspace_id,
                    reason,
                }),
                _ => None,
            })
            .collect();
        let limit = self.outcome.as_ref().ok().map(|m| m.priority);
        skipped.extend(
            self.excluded
                .iter()
                .filter(|e| limit.is_none_or(|p| e.priority <= p))
                .map(|e| Skipped {
                    rule_id: e.rule_id,
                    workspace_id: e.workspace_id,
                    reason: e.reason,
                }),
        );
        RoutingDecision {
            outcome: self.outcome,
            skipped,
        }
    }

    /// The trace as JSON, for storage beside the decision:
    /// `{"product", "zip", "policy", "outcome": {"rule_id", "workspace_id", "priority"} |
    /// {"unrouted": code}, "candidates": [{"rule_id", "workspace_id", "priority", "weight",
    /// "status", "reason"?}], "excluded": [...], "inactive": [...]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let outcome = match &self.outcome {
            Ok(m) => serde_json::json!({"rule_id": m.rule_id, "workspace_id": m.workspace_id,
                                        "priority": m.priority}),
            Err(r) => serde_json::json!({"unrouted": r.code()}),
        };
        let rules = |v: &[TraceRule<'_>]| -> Vec<serde_json::Value> {
            v.iter()
                .map(|r| {
                    serde_json::json!({"rule_id": r.rule_id, "workspace_id": r.workspace_id,
                                            "priority": r.priority, "reason": r.reason})
                })
                .collect()
        };
        serde_json::json!({
            "product": self.product,
            "zip": self.zip.to_string(),
            "policy": self.policy.code(),
            "outcome": outcome,
            "candidates": self.candidates,
            "excluded": rules(&self.excluded),
            "inactive": rules(&self.inactive),
        })
    }
}

/// A [`TieState`] that reads through to another and drops writes (for dry runs).
struct ReadOnly<'s>(&'s dyn TieState);

impl TieState for ReadOnly<'_> {
    fn current_weight(&self, rule_id: i64) -> i64 {
        self.0.current_weight(rule_id)
    }
    fn set_current_weight(&mut self, _: i64, _: i64) {}
    fn last_routed(&self, rule_id: i64) -> Option<Timestamp> {
        self.0.last_routed(rule_id)
    }
    fn set_last_routed(&mut self, _: i64, _: Timestamp) {}
}

impl RoutingTable {
    /// Decides a (product, ZIP5): candidates by priority, ties by `policy`, each checked by
    /// the table and then by `gate`; the first that passes wins. On a win, `state` is updated
    /// for the winner's tie group as the [module docs](super) describe (nothing else changes).
    ///
    /// `now` is the time recorded for [`TiePolicy::LeastRecentlyRouted`] (UTC).
    ///
    /// # Examples
    ///
    /// ```
    /// use leadroute_core::catalog::Catalog;
    /// use leadroute_core::routing::*;
    /// use leadroute_core::zip::Zip5;
    /// # use leadroute_core::model::{Cents, Workspace};
    /// # let ws = |id: &str| Workspace::new(id, "http://127.0.0.1:9/", Cents(100));
    /// let rule = |id, weight| RoutingRule {
    ///     id, workspace_id: format!("w{id}"), product_types: vec!["Solar".into()],
    ///     zip_codes: vec!["90210".into()], priority: 1, is_active: true, notes: None,
    ///     targeting: RuleTargeting { weight, ..Default::default() },
    ///     capacity: Default::default(),
    /// };
    /// let cat = Catalog::from_names(["Solar"]);
    /// let t = RoutingTable::compile(&[rule(1, 3), rule(2, 1)], &[ws("w1"), ws("w2")], &cat)?;
    /// let (solar, zip) = (cat.lookup("Solar").unwrap(), Zip5::parse("90210")?);
    /// let mut state = MemoryTieState::new();
    /// let now = jiff::Timestamp::UNIX_EPOCH;
    /// let picks: Vec<i64> = (0..4)
    ///     .map(|_| {
    ///         t.decide(solar, zip, TiePolicy::WeightedRoundRobin, &mut state, &mut NoGate, now)
    ///             .outcome.unwrap().rule_id
    ///     })
    ///     .collect();
    /// assert_eq!(picks, [1, 1, 2, 1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decide(
        &self,
        product: ProductId,
        zip: Zip5,
        policy: TiePolicy,
        state: &mut dyn TieState,
        gate: &mut dyn Gate,
        now: Timestamp,
    ) -> RoutingDecision<'_> {
        self.decide_explained(product, zip, policy, state, gate, now)
            .to_decision()
    }

    /// [`RoutingTable::decide`], returning the full trace.
    pub fn decide_explained(
        &self,
        product: ProductId,
        zip: Zip5,
        policy: TiePolicy,
        state: &mut dyn TieState,
        gate: &mut dyn Gate,
        now: Timestamp,
    ) -> Explanation<'_> {
        let (e, participants) = self.walk(product, zip, policy, &*state, gate);
        if let Ok(m) = &e.outcome {
            match policy {
                TiePolicy::LowestId => {}
                TiePolicy::WeightedRoundRobin => {
                    let total: i64 = participants.iter().map(|&(_, w)| w).sum();
                    for &(id, w) in &participants {
                        let cur = state.current_weight(id);
                        let new = cur + w - if id == m.rule_id { total } else { 0 };
                        if new != cur {
                            state.set_current_weight(id, new);
                        }
                    }
                }
                TiePolicy::LeastRecentlyRouted => state.set_last_routed(m.rule_id, now),
            }
        }
        e
    }

    /// The full trace of routing a product (any spelling the catalog knows) and ZIP5 with
    /// [`TiePolicy::LowestId`] and no gate: what [`RoutingTable::route`] decides, with every
    /// candidate's status and the excluded and inactive rules.
    pub fn explain(&self, product: &str, zip: Zip5) -> Explanation<'_> {
        match self.catalog.lookup(product) {
            Some(pid) => self.explain_with(
                pid,
                zip,
                TiePolicy::LowestId,
                &MemoryTieState::new(),
                &mut NoGate,
            ),
            None => Explanation {
                product: None,
                zip,
                policy: TiePolicy::LowestId,
                outcome: Err(UnroutedReason::UnknownProduct),
                candidates: Vec::new(),
                excluded: Vec::new(),
                inactive: Vec::new(),
            },
        }
    }

    /// A dry run of [`RoutingTable::decide_explained`]: the same trace, `state` unchanged.
    pub fn explain_with(
        &self,
        product: ProductId,
        zip: Zip5,
        policy: TiePolicy,
        state: &dyn TieState,
        gate: &mut dyn Gate,
    ) -> Explanation<'_> {
        self.walk(product, zip, policy, &ReadOnly(state), gate).0
    }

    /// Orders, checks and traces the candidates. Returns the explanation and, on a win, the
    /// (rule id, weight) of the winner's tie-group participants.
    fn walk(
        &self,
        product: ProductId,
        zip: Zip5,
        policy: TiePolicy,
        state: &dyn TieState,
        gate: &mut dyn Gate,
    ) -> (Explanation<'_>, Vec<(i64, i64)>) {
        let pi = self.products.get(product.0 as usize);
        let mut e = Explanation {
            product: ((product.0 as usize) < self.catalog.len())
                .then(|| self.catalog.name(product)),
            zip,
            policy,
            outcome: Err(UnroutedReason::NoRuleForProduct),
            candidates: Vec::new(),
            excluded: pi.map_or_else(Vec::new, |pi| {
                trace_rules(&pi.excluded, zip, &self.rules, SkipReason::ExcludedZip)
            }),
            inactive: pi.map_or_else(Vec::new, |pi| {
                trace_rules(&pi.dormant, zip, &self.dormant, SkipReason::RuleInactive)
            }),
        };
        let ranks = match self.candidates(product, zip) {
            Ok(r) => r,
            Err(reason) => {
                e.outcome = Err(reason);
                return (e, Vec::new());
            }
        };
        let order = self.tie_order(ranks, policy, state);
        e.outcome = Err(UnroutedReason::NoEligibleWorkspace);
        self.check_in_order(&order, gate, &mut e);
        let participants = participants(&e);
        (e, participants)
    }

    /// The candidates (ranks ascending) in decision order: each tie group of equal priority
    /// ordered by `policy` from `state`.
    fn tie_order(&self, ranks: &[u32], policy: TiePolicy, state: &dyn TieState) -> Vec<u32> {
        let mut order: Vec<u32> = ranks.to_vec();
        if policy == TiePolicy::LowestId {
            return order;
        }
        let mut start = 0;
        while start < order.len() {
            let p = self.rules[order[start] as usize].priority;
            let end =
                start + order[start..].partition_point(|&r| self.rules[r as usize].priority == p);
            self.sort_tie_group(&mut order[start..end], policy, state);
            start = end;
        }
        order
    }

    /// Orders one tie group: descending current + configured weight for
    /// [`TiePolicy::WeightedRoundRobin`], least recently routed for the other policies; ties
    /// by ascending rule id.
    fn sort_tie_group(&self, group: &mut [u32], policy: TiePolicy, state: &dyn TieState) {
        if group.len() <= 1 {
            return;
        }
        match policy {
            TiePolicy::WeightedRoundRobin => group.sort_by_key(|&r| {
                let rule = &self.rules[r as usize];
                (
                    std::cmp::Reverse(state.current_weight(rule.id) + i64::from(rule.weight)),
                    rule.id,
                )
            }),
            _ => group.sort_by_key(|&r| {
                let rule = &self.rules[r as usize];
                (state.last_routed(rule.id), rule.id)
            }),
        }
    }

    /// Checks the candidates in `order` until one passes, tracing each into `e` (skipped,
    /// matched, then not reached) and setting `e.outcome` to the match.
    fn check_in_order<'a>(&'a self, order: &[u32], gate: &mut dyn Gate, e: &mut Explanation<'a>) {
        for &rank in order {
            let rule = &self.rules[rank as usize];
            let status = if e.outcome.is_ok() {
                CandidateStatus::NotReached
            } else {
                check_candidate(rule, gate)
            };
            if status == CandidateStatus::Matched {
                e.outcome = Ok(RouteMatch {
                    rule_id: rule.id,
                    workspace_id: &rule.workspace_id,
                    priority: rule.priority,
                });
            }
            e.candidates.push(TraceEntry {
                rule_id: rule.id,
                workspace_id: &rule.workspace_id,
                priority: rule.priority,
                weight: rule.weight,
                status,
            });
        }
    }
}

/// One candidate's status: skipped by the table, else by the gate, else matched.
fn check_candidate(rule: &CompiledRule, gate: &mut dyn Gate) -> CandidateStatus {
    let reason = rule.skip.or_else(|| {
        gate.check(&Candidate {
            rule_id: rule.id,
            workspace_id: &rule.workspace_id,
            priority: rule.priority,
            weight: rule.weight,
        })
    });
    match reason {
        Some(reason) => CandidateStatus::Skipped { reason },
        None => CandidateStatus::Matched,
    }
}

/// The trace of the rules a sorted (ZIP, index into `rules`) list holds for `zip`.
fn trace_rules<'a>(
    pairs: &[(u32, u32)],
    zip: Zip5,
    rules: &'a [CompiledRule],
    reason: SkipReason,
) -> Vec<TraceRule<'a>> {
    pairs_at(pairs, zip.get())
        .iter()
        .map(|&(_, idx)| {
            let r = &rules[idx as usize];
            TraceRule {
                rule_id: r.id,
                workspace_id: &r.workspace_id,
                priority: r.priority,
                reason,
            }
        })
        .collect()
}

/// The (rule id, weight) of the winner's tie-group participants: the candidates of its
/// priority that were not skipped (the winner and those not reached); empty without a winner.
fn participants(e: &Explanation<'_>) -> Vec<(i64, i64)> {
    let Ok(m) = &e.outcome else {
        return Vec::new();
    };
    e.candidates
        .iter()
        .filter(|c| {
            c.priority == m.priority && !matches!(c.status, CandidateStatus::Skipped { .. })
        })
        .map(|c| (c.rule_id, i64::from(c.weight)))
        .collect()
}
