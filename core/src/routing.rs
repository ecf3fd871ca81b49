//! Routing: which workspace gets an appointment, from its product and ZIP5.
//!
//! The seed routes with SQL string matching (`JSON_EXTRACT(zip_codes,'$') LIKE '%90210%' ...
//! ORDER BY priority LIMIT 1`), which is slow and wrong: `0210` matches `90210`, `Heat` matches
//! `Heat Pump`. Here the active rules compile into an immutable [`RoutingTable`]: for each
//! product, a dense array over all 100,000 ZIP5 values of offsets into a list of candidate rules
//! already in decision order (lower `priority` first, then lower rule id). Routing is one
//! catalog lookup, two array reads and a walk over the candidates until one whose workspace
//! accepts deliveries, with no lock and no allocation on the match path.
//!
//! Every decision says why: the rule that matched, the candidates skipped with their reason,
//! or the reason nothing matched ([`UnroutedReason`]).

use crate::catalog::{Catalog, ProductId};
use crate::model::Workspace;
use crate::zip::Zip5;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Errors of compiling routing rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoutingError {
    /// A rule lists a ZIP that is not five digits.
    #[error("rule {rule_id}: bad ZIP code {value:?} (ZIP5 expected)")]
    InvalidZip {
        /// The rule.
        rule_id: i64,
        /// The offending value.
        value: String,
    },
    /// A rule names a product the catalog does not know.
    #[error("rule {rule_id}: unknown product {product:?}")]
    UnknownProduct {
        /// The rule.
        rule_id: i64,
        /// The offending product.
        product: String,
    },
    /// Two rules share an id.
    #[error("duplicate rule id {0}")]
    DuplicateRule(i64),
    /// More rules than the index can address (over 4 billion).
    #[error("too many routing rules")]
    TooManyRules,
}

/// A routing rule in the seed's shape (`appointment_routing_rules`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingRule {
    /// Rule id; among rules of equal priority the lowest id wins.
    pub id: i64,
    /// The workspace that receives what the rule matches.
    pub workspace_id: String,
    /// Products matched exactly (case-insensitively, through the catalog).
    pub product_types: Vec<String>,
    /// ZIP5 codes matched exactly.
    pub zip_codes: Vec<String>,
    /// Lower number wins.
    pub priority: i32,
    /// Inactive rules are stored but never match.
    pub is_active: bool,
    /// Free text.
    #[serde(default)]
    pub notes: Option<String>,
}

/// Why a matching rule's workspace was passed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// The workspace's webhook is inactive (`webhook_active = false`).
    WebhookInactive,
    /// The rule names a workspace that does not exist.
    WorkspaceMissing,
}

impl SkipReason {
    /// snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::WebhookInactive => "webhook_inactive",
            SkipReason::WorkspaceMissing => "workspace_missing",
        }
    }
}

/// Why nothing matched: the appointment goes to the unrouted queue with this reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnroutedReason {
    /// The product is not in the catalog.
    UnknownProduct,
    /// No active rule targets the product anywhere.
    NoRuleForProduct,
    /// Active rules target the product, but none covers the ZIP.
    NoRuleForZip,
    /// Rules matched, but every one's workspace was skipped (see the decision's `skipped`).
    NoEligibleWorkspace,
}

impl UnroutedReason {
    /// snake_case code, as stored in `appointments.unrouted_reason`.
    pub fn code(self) -> &'static str {
        match self {
            UnroutedReason::UnknownProduct => "unknown_product",
            UnroutedReason::NoRuleForProduct => "no_rule_for_product",
            UnroutedReason::NoRuleForZip => "no_rule_for_zip",
            UnroutedReason::NoEligibleWorkspace => "no_eligible_workspace",
        }
    }
}

/// The rule a decision chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    /// The rule.
    pub rule_id: i64,
    /// Its workspace.
    pub workspace_id: &'a str,
    /// Its priority.
    pub priority: i32,
}

/// A candidate passed over, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skipped<'a> {
    /// The rule.
    pub rule_id: i64,
    /// Its workspace.
    pub workspace_id: &'a str,
    /// Why.
    pub reason: SkipReason,
}

/// The outcome of routing one (product, ZIP5), with its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingDecision<'a> {
    /// The match, or why there is none.
    pub outcome: Result<RouteMatch<'a>, UnroutedReason>,
    /// Candidates of better rank that were passed over, in decision order.
    pub skipped: Vec<Skipped<'a>>,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    id: i64,
    priority: i32,
    workspace_id: String,
    /// `None`: the workspace accepts; `Some`: why it is skipped.
    skip: Option<SkipReason>,
}

/// One product's dense index: `offsets[zip]..offsets[zip + 1]` are that ZIP's candidates.
#[derive(Debug, Clone)]
struct ProductIndex {
    offsets: Vec<u32>,
    candidates: Vec<u32>,
}

/// The compiled, immutable index of the active rules (see the module docs).
///
/// Memory: 400 KB of offsets per product that has rules, plus 4 bytes per (rule, product,
/// ZIP) triple. Build once, share with `Arc`, rebuild when rules or workspaces change.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    catalog: Catalog,
    /// Sorted in decision order; candidate lists index into this.
    rules: Vec<CompiledRule>,
    /// By product id; `None` when no active rule targets the product.
    products: Vec<Option<ProductIndex>>,
}

impl RoutingTable {
    /// Compiles the active rules against the catalog and the workspaces.
    ///
    /// Inactive rules are left out. A rule whose workspace is missing or has an inactive
    /// webhook stays in the index and is reported as skipped when it would have matched.
    ///
    /// # Errors
    ///
    /// [`RoutingError`] for a ZIP that is not five digits, a product not in `catalog`, or a
    /// repeated rule id (checked over active and inactive rules alike).
    pub fn compile(
        rules: &[RoutingRule],
        workspaces: &[Workspace],
        catalog: &Catalog,
    ) -> Result<RoutingTable, RoutingError> {
        let mut seen = std::collections::HashSet::new();
        for r in rules {
            if !seen.insert(r.id) {
                return Err(RoutingError::DuplicateRule(r.id));
            }
        }
        let accepting: HashMap<&str, bool> = workspaces
            .iter()
            .map(|w| (w.id.as_str(), w.webhook_active))
            .collect();
        let mut active: Vec<&RoutingRule> = rules.iter().filter(|r| r.is_active).collect();
        active.sort_by_key(|r| (r.priority, r.id));
        if active.len() > u32::MAX as usize {
            return Err(RoutingError::TooManyRules);
        }

        // (product, zip, rank) triples; rank is the position in decision order.
        let mut per_product: Vec<Vec<(u32, u32)>> = vec![Vec::new(); catalog.len()];
        let mut compiled = Vec::with_capacity(active.len());
        for (rank, r) in active.iter().enumerate() {
            let mut zips = Vec::with_capacity(r.zip_codes.len());
            for z in &r.zip_codes {
                let t = z.trim();
                if t.len() != 5 {
                    return Err(RoutingError::InvalidZip {
                        rule_id: r.id,
                        value: z.clone(),
                    });
                }
                let zip = Zip5::parse(t).map_err(|_| RoutingError::InvalidZip {
                    rule_id: r.id,
                    value: z.clone(),
                })?;
                zips.push(zip.get());
            }
            for p in &r.product_types {
                let pid = catalog
                    .lookup(p)
                    .ok_or_else(|| RoutingError::UnknownProduct {
                        rule_id: r.id,
                        product: p.clone(),
                    })?;
                let list = &mut per_product[pid.0 as usize];
                list.extend(zips.iter().map(|&z| (z, rank as u32)));
            }
            compiled.push(CompiledRule {
                id: r.id,
                priority: r.priority,
                workspace_id: r.workspace_id.clone(),
                skip: match accepting.get(r.workspace_id.as_str()) {
                    None => Some(SkipReason::WorkspaceMissing),
                    Some(false) => Some(SkipReason::WebhookInactive),
                    Some(true) => None,
                },
            });
        }

        let products = per_product
            .into_iter()
            .map(|mut pairs| {
                if pairs.is_empty() {
                    return None;
                }
                pairs.sort_unstable();
                pairs.dedup();
                let mut offsets = vec![0u32; Zip5::COUNT + 1];
                for &(z, _) in &pairs {
                    offsets[z as usize + 1] += 1;
                }
                for i in 1..offsets.len() {
                    offsets[i] += offsets[i - 1];
                }
                let candidates = pairs.into_iter().map(|(_, rank)| rank).collect();
                Some(ProductIndex {
                    offsets,
                    candidates,
                })
            })
            .collect();
        Ok(RoutingTable {
            catalog: catalog.clone(),
            rules: compiled,
            products,
        })
    }

    /// The catalog the table was compiled with.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Number of active rules in the index.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Routes a product (any spelling the catalog knows) and ZIP5.
    pub fn route(&self, product: &str, zip: Zip5) -> RoutingDecision<'_> {
        match self.catalog.lookup(product) {
            Some(pid) => self.route_product(pid, zip),
            None => RoutingDecision {
                outcome: Err(UnroutedReason::UnknownProduct),
                skipped: Vec::new(),
            },
        }
    }

    /// Routes a catalog product id and ZIP5 (the hot path: no string lookup).
    pub fn route_product(&self, product: ProductId, zip: Zip5) -> RoutingDecision<'_> {
        let mut skipped = Vec::new();
        let Some(Some(index)) = self.products.get(product.0 as usize) else {
            return RoutingDecision {
                outcome: Err(UnroutedReason::NoRuleForProduct),
                skipped,
            };
        };
        let z = zip.get() as usize;
        let (start, end) = (index.offsets[z] as usize, index.offsets[z + 1] as usize);
        if start == end {
            return RoutingDecision {
                outcome: Err(UnroutedReason::NoRuleForZip),
                skipped,
            };
        }
        for &rank in &index.candidates[start..end] {
            let rule = &self.rules[rank as usize];
            match rule.skip {
                None => {
                    return RoutingDecision {
                        outcome: Ok(RouteMatch {
                            rule_id: rule.id,
                            workspace_id: &rule.workspace_id,
                            priority: rule.priority,
                        }),
                        skipped,
                    }
                }
                Some(reason) => skipped.push(Skipped {
                    rule_id: rule.id,
                    workspace_id: &rule.workspace_id,
                    reason,
                }),
            }
        }
        RoutingDecision {
            outcome: Err(UnroutedReason::NoEligibleWorkspace),
            skipped,
        }
    }
}

/// The reference router: a linear scan over the rules in the seed's order, with exact
/// matching. The compiled table must agree with it on every input; tests and benchmarks use
/// it as the baseline.
pub fn route_linear<'a>(
    rules: &'a [RoutingRule],
    workspaces: &[Workspace],
    product: &str,
    zip: Zip5,
) -> Option<&'a RoutingRule> {
    let zip = zip.to_string();
    rules
        .iter()
        .filter(|r| r.is_active)
        .filter(|r| {
            workspaces
                .iter()
                .any(|w| w.id == r.workspace_id && w.webhook_active)
        })
        .filter(|r| {
            r.product_types
                .iter()
                .any(|p| p.trim().eq_ignore_ascii_case(product.trim()))
        })
        .filter(|r| r.zip_codes.iter().any(|z| z.trim() == zip))
        .min_by_key(|r| (r.priority, r.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Cents;
    use proptest::prelude::*;

    fn ws(id: &str, active: bool) -> Workspace {
        Workspace {
            id: id.into(),
            name: id.into(),
            outbound_webhook_url: format!("http://127.0.0.1:1/hooks/{id}"),
            webhook_active: active,
            business_type: None,
            payment_rate: Cents(100),
            timezone: None,
            webhook_secret: None,
            duplicate_window_days: None,
        }
    }

    fn rule(id: i64, w: &str, products: &[&str], zips: &[&str], priority: i32) -> RoutingRule {
        RoutingRule {
            id,
            workspace_id: w.into(),
            product_types: products.iter().map(|s| s.to_string()).collect(),
            zip_codes: zips.iter().map(|s| s.to_string()).collect(),
            priority,
            is_active: true,
            notes: None,
        }
    }

    fn z(s: &str) -> Zip5 {
        Zip5::parse(s).unwrap()
    }

    #[test]
    fn priority_then_lowest_id_and_exact_matches() {
        let cat = Catalog::from_names(["Solar", "Heat Pump", "Water Heater", "HVAC"]);
        let rules = vec![
            rule(7, "b", &["Solar"], &["90210"], 2),
            rule(3, "a", &["Solar"], &["90210", "10001"], 2),
            rule(9, "c", &["Solar"], &["90210"], 1),
            rule(4, "d", &["Heat Pump"], &["02101"], 1),
        ];
        let wss = [ws("a", true), ws("b", true), ws("c", true), ws("d", true)];
        let t = RoutingTable::compile(&rules, &wss, &cat).unwrap();
        assert_eq!(t.route("solar", z("90210")).outcome.unwrap().rule_id, 9);
        assert_eq!(t.route("Solar", z("10001")).outcome.unwrap().rule_id, 3);
        // `0210` is not `90210`; `02101` is not `2101`.
        assert_eq!(
            t.route("Solar", z("02101")).outcome,
            Err(UnroutedReason::NoRuleForZip)
        );
        assert_eq!(
            t.route("Water Heater", z("02101")).outcome,
            Err(UnroutedReason::NoRuleForProduct)
        );
        assert_eq!(
            t.route("Heat", z("02101")).outcome,
            Err(UnroutedReason::UnknownProduct)
        );
    }

    #[test]
    fn inactive_webhooks_are_skipped_with_reason() {
        let cat = Catalog::from_names(["Solar"]);
        let rules = vec![
            rule(1, "off", &["Solar"], &["90210"], 1),
            rule(2, "gone", &["Solar"], &["90210"], 1),
            rule(3, "on", &["Solar"], &["90210"], 5),
        ];
        let mut inactive = rule(4, "on", &["Solar"], &["10001"], 1);
        inactive.is_active = false;
        let mut all = rules.clone();
        all.push(inactive);
        let t = RoutingTable::compile(&all, &[ws("off", false), ws("on", true)], &cat).unwrap();
        let d = t.route("Solar", z("90210"));
        assert_eq!(d.outcome.unwrap().workspace_id, "on");
        let reasons: Vec<_> = d.skipped.iter().map(|s| (s.rule_id, s.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                (1, SkipReason::WebhookInactive),
                (2, SkipReason::WorkspaceMissing)
            ]
        );
        assert_eq!(
            t.route("Solar", z("10001")).outcome,
            Err(UnroutedReason::NoRuleForZip)
        );
        let t2 = RoutingTable::compile(&rules[..2], &[ws("off", false)], &cat).unwrap();
        assert_eq!(
            t2.route("Solar", z("90210")).outcome,
            Err(UnroutedReason::NoEligibleWorkspace)
        );
    }

    #[test]
    fn compile_errors_are_typed() {
        let cat = Catalog::from_names(["Solar"]);
        let bad_zip = [rule(1, "a", &["Solar"], &["9021"], 1)];
        assert!(matches!(
            RoutingTable::compile(&bad_zip, &[], &cat),
            Err(RoutingError::InvalidZip { rule_id: 1, .. })
        ));
        let bad_product = [rule(1, "a", &["Roof"], &["90210"], 1)];
        assert!(matches!(
            RoutingTable::compile(&bad_product, &[], &cat),
            Err(RoutingError::UnknownProduct { .. })
        ));
        let dup = [
            rule(1, "a", &["Solar"], &["90210"], 1),
            rule(1, "b", &["Solar"], &["90210"], 1),
        ];
        assert_eq!(
            RoutingTable::compile(&dup, &[], &cat).unwrap_err(),
            RoutingError::DuplicateRule(1)
        );
    }

    fn arb_rules() -> impl Strategy<Value = Vec<RoutingRule>> {
        let products = ["Solar", "HVAC", "Roofing"];
        prop::collection::vec(
            (
                0usize..5,
                prop::sample::subsequence(products.to_vec(), 1..=3),
                prop::collection::vec(0u32..40, 0..12),
                0i32..4,
                any::<bool>(),
            ),
            0..25,
        )
        .prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (w, ps, zs, prio, active))| RoutingRule {
                    id: (i as i64 * 7919) % 101,
                    workspace_id: format!("w{w}"),
                    product_types: ps.iter().map(|s| s.to_string()).collect(),
                    zip_codes: zs.iter().map(|z| format!("{:05}", 10000 + z)).collect(),
                    priority: prio,
                    is_active: active,
                    notes: None,
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn compiled_table_equals_linear_scan(
            rules in arb_rules(),
            inactive in prop::collection::vec(any::<bool>(), 5),
            queries in prop::collection::vec((0usize..4, 0u32..45), 1..40),
        ) {
            let cat = Catalog::from_names(["Solar", "HVAC", "Roofing", "Bath"]);
            let wss: Vec<_> = (0..4).map(|i| ws(&format!("w{i}"), !inactive[i])).collect();
            let t = RoutingTable::compile(&rules, &wss, &cat).unwrap();
            for (p, zoff) in queries {
                let product = ["solar", "HVAC", "roofing", "Bath"][p];
                let zip = Zip5::from_u32(10000 + zoff).unwrap();
                let got = t.route(product, zip).outcome.ok().map(|m| m.rule_id);
                let want = route_linear(&rules, &wss, product, zip).map(|r| r.id);
                prop_assert_eq!(got, want);
            }
        }
    }
}
