//! The reference router: a naive linear scan over the rules, written for obviousness, not
//! speed. The compiled [`RoutingTable`](super::RoutingTable) must agree with it on every input
//! (`core/tests/routing_props.rs` checks that with proptest); benchmarks use it as a baseline.
//!
//! Coverage is tested directly per query (is the ZIP listed, is its state listed, does it
//! start with a listed prefix, is its centroid within the radius, is it excluded) instead of
//! expanding targeting into an index. Products match the rule's `product_types` by
//! trimmed, ASCII case-insensitive equality (no catalog aliases). Rules are assumed valid (as
//! [`RoutingTable::compile`](super::RoutingTable::compile) checks).

use super::targeting::{covers, Covers};
use super::{Gate, RoutingRule, SkipReason, TiePolicy, TieState};
use crate::model::Workspace;
use crate::zip::{Zip5, ZipTable};
use jiff::Timestamp;

/// The rule a scan chooses for (product, ZIP5) with [`TiePolicy::LowestId`]: the active rule
/// covering them with the lowest (priority, id) whose workspace exists with an active webhook.
///
/// Geographic targeting is resolved against [`ZipTable::bundled`] (loaded only when a rule
/// needs it).
pub fn route_linear<'a>(
    rules: &'a [RoutingRule],
    workspaces: &[Workspace],
    product: &str,
    zip: Zip5,
) -> Option<&'a RoutingRule> {
    let mut accept = |_: &RoutingRule| true;
    let mut state = super::MemoryTieState::new();
    let zips = if rules.iter().any(|r| r.targeting.is_geographic()) {
        ZipTable::bundled()
    } else {
        empty_table()
    };
    decide_linear(
        rules,
        workspaces,
        zips,
        product,
        zip,
        TiePolicy::LowestId,
        &mut state,
        &mut accept,
        Timestamp::UNIX_EPOCH,
    )
}

fn empty_table() -> &'static ZipTable {
    static EMPTY: std::sync::OnceLock<ZipTable> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| {
        ZipTable::from_csv(&b"zip,type,active,city,state,county,timezone,area_codes,lat,lon\n"[..])
            .expect("an empty table parses")
    })
}

/// The reference of [`RoutingTable::decide`](super::RoutingTable::decide): scans `rules`
/// for the active ones covering (product, ZIP5) against `zips`, orders them by priority and
/// `policy` (reading `state`), skips those whose workspace is missing or inactive or that
/// `eligible` rejects, and updates `state` for the winner as
/// [`RoutingTable::decide`](super::RoutingTable::decide) does. Returns the winning rule.
#[allow(clippy::too_many_arguments)]
pub fn decide_linear<'a>(
    rules: &'a [RoutingRule],
    workspaces: &[Workspace],
    zips: &ZipTable,
    product: &str,
    zip: Zip5,
    policy: TiePolicy,
    state: &mut dyn TieState,
    eligible: &mut dyn FnMut(&RoutingRule) -> bool,
    now: Timestamp,
) -> Option<&'a RoutingRule> {
    let text = zip.to_string();
    let mut matching: Vec<&RoutingRule> = rules
        .iter()
        .filter(|r| r.is_active)
        .filter(|r| {
            r.product_types
                .iter()
                .any(|p| p.trim().eq_ignore_ascii_case(product.trim()))
        })
        .filter(|r| covers(r, zips, zip, &text) == Covers::Yes)
        .collect();
    matching.sort_by(|a, b| {
        a.priority.cmp(&b.priority).then_with(|| match policy {
            TiePolicy::LowestId => a.id.cmp(&b.id),
            TiePolicy::WeightedRoundRobin => {
                let key =
                    |r: &RoutingRule| state.current_weight(r.id) + i64::from(r.targeting.weight);
                key(b).cmp(&key(a)).then(a.id.cmp(&b.id))
            }
            TiePolicy::LeastRecentlyRouted => state
                .last_routed(a.id)
                .cmp(&state.last_routed(b.id))
                .then(a.id.cmp(&b.id)),
        })
    });
    let mut skipped = Vec::new();
    let winner = matching.iter().copied().find(|r| {
        let ok = workspaces
            .iter()
            .any(|w| w.id == r.workspace_id && w.webhook_active)
            && eligible(r);
        if !ok {
            skipped.push(r.id);
        }
        ok
    })?;
    match policy {
        TiePolicy::LowestId => {}
        TiePolicy::WeightedRoundRobin => {
            let group: Vec<&RoutingRule> = matching
                .iter()
                .copied()
                .filter(|r| r.priority == winner.priority && !skipped.contains(&r.id))
                .collect();
            let total: i64 = group.iter().map(|r| i64::from(r.targeting.weight)).sum();
            for r in group {
                let mut w = state.current_weight(r.id) + i64::from(r.targeting.weight);
                if r.id == winner.id {
                    w -= total;
                }
                state.set_current_weight(r.id, w);
            }
        }
        TiePolicy::LeastRecentlyRouted => state.set_last_routed(winner.id, now),
    }
    Some(winner)
}

/// A [`Gate`] from a set of rule ids to reject, for tests: rejected candidates are skipped
/// as [`SkipReason::OutsideSchedule`].
#[derive(Debug, Clone, Default)]
pub struct RejectRules(pub Vec<i64>);

impl Gate for RejectRules {
    fn check(&mut self, c: &super::Candidate<'_>) -> Option<SkipReason> {
        self.0
            .contains(&c.rule_id)
            .then_some(SkipReason::OutsideSchedule)
    }
}
