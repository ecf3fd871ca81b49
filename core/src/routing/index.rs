//! The compiled index: [`RoutingTable`].

use super::targeting::{resolve_raw, GeoIndex};
use super::{
    RouteMatch, RoutingDecision, RoutingError, RoutingRule, SkipReason, Skipped, UnroutedReason,
};
use crate::catalog::{Catalog, ProductId};
use crate::model::Workspace;
use crate::zip::{Zip5, ZipTable};
use std::collections::{HashMap, HashSet};

/// One rule as the index holds it.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub(crate) id: i64,
    pub(crate) priority: i32,
    pub(crate) weight: u32,
    pub(crate) workspace_id: String,
    /// `None`: the workspace accepts; `Some`: why the table skips it.
    pub(crate) skip: Option<SkipReason>,
}

/// One product's dense index: `offsets[zip]..offsets[zip + 1]` are that ZIP's candidates.
#[derive(Debug, Clone)]
pub(crate) struct Dense {
    pub(crate) offsets: Vec<u32>,
    /// Ranks (indexes into `RoutingTable::rules`), ascending per ZIP.
    pub(crate) candidates: Vec<u32>,
}

/// Everything the table knows of one product.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProductIndex {
    /// `None` when no active rule targets the product.
    pub(crate) dense: Option<Dense>,
    /// (ZIP, rank) of active rules that target the ZIP's area but exclude the ZIP, sorted.
    pub(crate) excluded: Vec<(u32, u32)>,
    /// (ZIP, index into `RoutingTable::dormant`) of inactive rules that cover the ZIP, sorted.
    pub(crate) dormant: Vec<(u32, u32)>,
}

/// The compiled, immutable index of the routing rules (see the [module docs](super)).
///
/// Memory: 400 KB of offsets per product that active rules target, plus 4 bytes per (rule,
/// product, ZIP) triple, plus 8 bytes per excluded or inactive (rule, product, ZIP) triple.
/// Build once, share with `Arc`, rebuild when rules or workspaces change.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    pub(crate) catalog: Catalog,
    /// Active rules in rank order (priority, then id); candidate lists index into this.
    pub(crate) rules: Vec<CompiledRule>,
    /// Inactive rules whose targeting resolves, for explanations.
    pub(crate) dormant: Vec<CompiledRule>,
    /// By product id.
    pub(crate) products: Vec<ProductIndex>,
}

/// Sorted, deduplicated (ZIP, index) pairs into a dense index.
fn dense(mut pairs: Vec<(u32, u32)>) -> Dense {
    pairs.sort_unstable();
    pairs.dedup();
    let mut offsets = vec![0u32; Zip5::COUNT + 1];
    for &(z, _) in &pairs {
        offsets[z as usize + 1] += 1;
    }
    for i in 1..offsets.len() {
        offsets[i] += offsets[i - 1];
    }
    Dense {
        offsets,
        candidates: pairs.into_iter().map(|(_, rank)| rank).collect(),
    }
}

fn sorted(mut pairs: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// The `(ZIP, x)` pairs of a sorted pair list whose ZIP is `zip`.
pub(crate) fn pairs_at(pairs: &[(u32, u32)], zip: u32) -> &[(u32, u32)] {
    let start = pairs.partition_point(|&(z, _)| z < zip);
    let end = start + pairs[start..].partition_point(|&(z, _)| z == zip);
    &pairs[start..end]
}

impl RoutingTable {
    /// Compiles the rules against the catalog, the workspaces and the bundled ZIP table
    /// ([`ZipTable::bundled`], loaded only when a rule uses geographic targeting).
    ///
    /// See [`RoutingTable::compile_with`].
    ///
    /// # Errors
    ///
    /// As [`RoutingTable::compile_with`].
    pub fn compile(
        rules: &[RoutingRule],
        workspaces: &[Workspace],
        catalog: &Catalog,
    ) -> Result<RoutingTable, RoutingError> {
        let geo = rules.iter().any(|r| r.targeting.is_geographic());
        let zips = if geo { Some(ZipTable::bundled()) } else { None };
        Self::build(rules, workspaces, catalog, zips)
    }

    /// Compiles the rules against the catalog, the workspaces and `zips`, which resolves
    /// states, ZIP prefixes and radii (see [`super::targeting`]).
    ///
    /// Inactive rules are not routed to; those whose targeting resolves are kept aside so
    /// that [`RoutingTable::explain`] can report them (an inactive rule with bad targeting or
    /// an unknown product is left out without error, as the seed stores such rules). A rule
    /// whose workspace is missing or has an inactive webhook stays in the index and is reported
    /// as skipped when it would have matched.
    ///
    /// # Errors
    ///
    /// [`RoutingError`] for an active rule with a ZIP that is not five digits, an unknown
    /// state, a bad ZIP prefix, a radius centre not in `zips`, a negative or non-finite radius,
    /// a zero weight, or a product not in `catalog`; or for a repeated rule id (checked over
    /// active and inactive rules alike).
    ///
    /// # Examples
    ///
    /// ```
    /// use leadroute_core::catalog::Catalog;
    /// use leadroute_core::routing::{RoutingRule, RoutingTable, RuleTargeting};
    /// use leadroute_core::zip::{Zip5, ZipTable};
    ///
    /// let rule = RoutingRule {
    ///     id: 1, workspace_id: "solar_nv".into(), product_types: vec!["Solar".into()],
    ///     zip_codes: vec![], priority: 1, is_active: true, notes: None,
    ///     targeting: RuleTargeting { states: vec!["NV".into()], ..Default::default() },
    ///     capacity: Default::default(),
    /// };
    /// let t = RoutingTable::compile_with(&[rule], &[], &Catalog::from_names(["Solar"]),
    ///                                    ZipTable::bundled())?;
    /// let d = t.route("solar", Zip5::parse("89101")?);
    /// // The workspace is not in the list given: the rule matched but was skipped.
    /// assert_eq!(d.skipped[0].reason.code(), "workspace_missing");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compile_with(
        rules: &[RoutingRule],
        workspaces: &[Workspace],
        catalog: &Catalog,
        zips: &ZipTable,
    ) -> Result<RoutingTable, RoutingError> {
        Self::build(rules, workspaces, catalog, Some(zips))
    }

    /// Compiles the rules: checks their ids, indexes the active ones by rank and keeps the
    /// inactive ones that resolve aside. `zips` is used only when a rule is geographic.
    fn build(
        rules: &[RoutingRule],
        workspaces: &[Workspace],
        catalog: &Catalog,
        zips: Option<&ZipTable>,
    ) -> Result<RoutingTable, RoutingError> {
        check_rule_ids(rules)?;
        let skips = WorkspaceSkips::new(workspaces);
        let geo = zips
            .filter(|_| rules.iter().any(|r| r.targeting.is_geographic()))
            .map(GeoIndex::new);
        let mut pairs = ProductPairs::new(catalog.len());
        let active = index_active(rules, catalog, geo.as_ref(), &skips, &mut pairs)?;
        let dormant = index_inactive(rules, catalog, geo.as_ref(), &skips, &mut pairs);
        Ok(RoutingTable {
            catalog: catalog.clone(),
            rules: active,
            dormant,
            products: pairs.into_products(),
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

    /// Routes a product (any spelling the catalog knows) and ZIP5 with the default tie policy
    /// ([`TiePolicy::LowestId`](super::TiePolicy::LowestId)) and no gate: the table's own skips
    /// only (see [`RoutingTable::route_product`]).
    #[inline]
    pub fn route(&self, product: &str, zip: Zip5) -> RoutingDecision<'_> {
        match self.catalog.lookup(product) {
            Some(pid) => self.route_product(pid, zip),
            None => RoutingDecision {
                outcome: Err(UnroutedReason::UnknownProduct),
                skipped: Vec::new(),
            },
        }
    }

    /// Routes a catalog product id and ZIP5 (the hot path: no string lookup, no allocation
    /// when the first candidate matches).
    ///
    /// Candidates are tried in rank order (priority, then lowest rule id, i.e.
    /// [`TiePolicy::LowestId`](super::TiePolicy::LowestId)); the first whose workspace exists
    /// and has an active webhook wins. No [`Gate`](super::Gate) is consulted: this is
    /// [`RoutingTable::decide`] with `LowestId` and a gate that accepts everything.
    pub fn route_product(&self, product: ProductId, zip: Zip5) -> RoutingDecision<'_> {
        let mut skipped = Vec::new();
        let Some(pi) = self.products.get(product.0 as usize) else {
            return RoutingDecision {
                outcome: Err(UnroutedReason::NoRuleForProduct),
                skipped,
            };
        };
        let Some(index) = &pi.dense else {
            return RoutingDecision {
                outcome: Err(UnroutedReason::NoRuleForProduct),
                skipped,
            };
        };
        let z = zip.get() as usize;
        let (start, end) = (index.offsets[z] as usize, index.offsets[z + 1] as usize);
        let mut outcome = Err(if start == end {
            UnroutedReason::NoRuleForZip
        } else {
            UnroutedReason::NoEligibleWorkspace
        });
        for &rank in &index.candidates[start..end] {
            let rule = &self.rules[rank as usize];
            match rule.skip {
                None => {
                    outcome = Ok(RouteMatch {
                        rule_id: rule.id,
                        workspace_id: &rule.workspace_id,
                        priority: rule.priority,
                    });
                    break;
                }
                Some(reason) => skipped.push(Skipped {
                    rule_id: rule.id,
                    workspace_id: &rule.workspace_id,
                    reason,
                }),
            }
        }
        if !pi.excluded.is_empty() {
            let limit = outcome.as_ref().ok().map(|m| m.priority);
            self.push_excluded(pi, zip, limit, &mut skipped);
        }
        RoutingDecision { outcome, skipped }
    }

    /// Appends `ExcludedZip` entries for rules that exclude `zip`, up to priority `limit`.
    pub(crate) fn push_excluded<'a>(
        &'a self,
        pi: &ProductIndex,
        zip: Zip5,
        limit: Option<i32>,
        skipped: &mut Vec<Skipped<'a>>,
    ) {
        for &(_, rank) in pairs_at(&pi.excluded, zip.get()) {
            let rule = &self.rules[rank as usize];
            if limit.is_some_and(|p| rule.priority > p) {
                break;
            }
            skipped.push(Skipped {
                rule_id: rule.id,
                workspace_id: &rule.workspace_id,
                reason: SkipReason::ExcludedZip,
            });
        }
    }

    /// The candidates (ranks, ascending) of a (product, ZIP5), or why there are none.
    pub(crate) fn candidates(
        &self,
        product: ProductId,
        zip: Zip5,
    ) -> Result<&[u32], UnroutedReason> {
        let Some(Some(index)) = self.products.get(product.0 as usize).map(|p| &p.dense) else {
            return Err(UnroutedReason::NoRuleForProduct);
        };
        let z = zip.get() as usize;
        let (start, end) = (index.offsets[z] as usize, index.offsets[z + 1] as usize);
        if start == end {
            Err(UnroutedReason::NoRuleForZip)
        } else {
            Ok(&index.candidates[start..end])
        }
    }
}

/// Refuses a repeated rule id (over active and inactive rules alike), then more rules than
/// a `u32` rank can number.
fn check_rule_ids(rules: &[RoutingRule]) -> Result<(), RoutingError> {
    let mut seen = HashSet::new();
    for r in rules {
        if !seen.insert(r.id) {
            return Err(RoutingError::DuplicateRule(r.id));
        }
    }
    if rules.len() > u32::MAX as usize {
        return Err(RoutingError::TooManyRules);
    }
    Ok(())
}

/// Whether each workspace accepts leads (exists, webhook active), by id.
struct WorkspaceSkips<'w> {
    /// Workspace id → whether its webhook is active.
    accepting: HashMap<&'w str, bool>,
}

impl<'w> WorkspaceSkips<'w> {
    /// The workspaces' webhook states.
    fn new(workspaces: &'w [Workspace]) -> WorkspaceSkips<'w> {
        WorkspaceSkips {
            accepting: workspaces
                .iter()
                .map(|w| (w.id.as_str(), w.webhook_active))
                .collect(),
        }
    }

    /// Why the table skips a workspace (missing, webhook inactive), or `None` if it accepts.
    fn skip_of(&self, ws: &str) -> Option<SkipReason> {
        match self.accepting.get(ws) {
            None => Some(SkipReason::WorkspaceMissing),
            Some(false) => Some(SkipReason::WebhookInactive),
            Some(true) => None,
        }
    }

    /// A rule as the index holds it.
    fn compiled(&self, r: &RoutingRule) -> CompiledRule {
        CompiledRule {
            id: r.id,
            priority: r.priority,
            weight: r.targeting.weight,
            workspace_id: r.workspace_id.clone(),
            skip: self.skip_of(&r.workspace_id),
        }
    }
}

/// The (ZIP, index) pairs collected per product id while building.
struct ProductPairs {
    /// (ZIP, rank) of active rules that cover the ZIP.
    live: Vec<Vec<(u32, u32)>>,
    /// (ZIP, rank) of active rules that target the ZIP's area but exclude the ZIP.
    excluded: Vec<Vec<(u32, u32)>>,
    /// (ZIP, dormant index) of inactive rules that cover the ZIP.
    dormant: Vec<Vec<(u32, u32)>>,
}

impl ProductPairs {
    /// Empty lists for `n` products.
    fn new(n: usize) -> ProductPairs {
        ProductPairs {
            live: vec![Vec::new(); n],
            excluded: vec![Vec::new(); n],
            dormant: vec![Vec::new(); n],
        }
    }

    /// One index per product, by product id.
    fn into_products(self) -> Vec<ProductIndex> {
        self.live
            .into_iter()
            .zip(self.excluded)
            .zip(self.dormant)
            .map(|((l, e), d)| ProductIndex {
                dense: (!l.is_empty()).then(|| dense(l)),
                excluded: sorted(e),
                dormant: sorted(d),
            })
            .collect()
    }
}

/// Indexes the active rules in rank order (priority, then id) and returns them compiled.
fn index_active(
    rules: &[RoutingRule],
    catalog: &Catalog,
    geo: Option<&GeoIndex<'_>>,
    skips: &WorkspaceSkips<'_>,
    pairs: &mut ProductPairs,
) -> Result<Vec<CompiledRule>, RoutingError> {
    let mut active: Vec<&RoutingRule> = rules.iter().filter(|r| r.is_active).collect();
    active.sort_by_key(|r| (r.priority, r.id));
    let mut out = Vec::with_capacity(active.len());
    for (rank, r) in active.iter().enumerate() {
        let (zips, excl) = resolve_raw(r, geo)?;
        for p in &r.product_types {
            let pid = catalog
                .lookup(p)
                .ok_or_else(|| RoutingError::UnknownProduct {
                    rule_id: r.id,
                    product: p.clone(),
                })?;
            let i = pid.0 as usize;
            pairs.live[i].extend(zips.iter().map(|&z| (z, rank as u32)));
            pairs.excluded[i].extend(excl.iter().map(|&z| (z, rank as u32)));
        }
        out.push(skips.compiled(r));
    }
    Ok(out)
}

/// Indexes the inactive rules whose targeting resolves and that name a known product, in
/// rank order, and returns them compiled; the others are left out without error.
fn index_inactive(
    rules: &[RoutingRule],
    catalog: &Catalog,
    geo: Option<&GeoIndex<'_>>,
    skips: &WorkspaceSkips<'_>,
    pairs: &mut ProductPairs,
) -> Vec<CompiledRule> {
    let mut dormant = Vec::new();
    let mut inactive: Vec<&RoutingRule> = rules.iter().filter(|r| !r.is_active).collect();
    inactive.sort_by_key(|r| (r.priority, r.id));
    for r in inactive {
        if r.targeting.is_geographic() && geo.is_none() {
            continue;
        }
        let Ok((zips, _)) = resolve_raw(r, geo) else {
            continue;
        };
        let idx = dormant.len() as u32;
        let mut any = false;
        for pid in r.product_types.iter().filter_map(|p| catalog.lookup(p)) {
            pairs.dormant[pid.0 as usize].extend(zips.iter().map(|&z| (z, idx)));
            any = true;
        }
        if any {
            dormant.push(skips.compiled(r));
        }
    }
    dormant
}
