//! The overlap report: ambiguous territories.

use super::RoutingTable;
use crate::zip::Zip5;
use serde::Serialize;
use std::collections::HashMap;

/// How many sample ZIPs an [`Overlap`] lists.
const SAMPLES: usize = 5;

/// Two active rules of equal priority that share (product, ZIP) pairs: which one gets an
/// appointment there depends on the tie policy alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overlap {
    /// The two rules, lower id first.
    pub rule_ids: (i64, i64),
    /// Their workspaces, in the same order (they may be the same workspace).
    pub workspace_ids: (String, String),
    /// The product's canonical name.
    pub product: String,
    /// The shared priority.
    pub priority: i32,
    /// Number of ZIP5s both rules cover for this product (exclusions applied).
    pub shared_zips: usize,
    /// Up to five of those ZIP5s, ascending.
    pub sample_zips: Vec<String>,
}

impl RoutingTable {
    /// Active rules of equal priority that share a (product, ZIP5): one entry per (rule pair,
    /// product), sorted by `shared_zips` descending, then product, then rule ids.
    ///
    /// Workspace state is ignored: a rule whose webhook is inactive still overlaps. Cost: one
    /// pass over the index (about as long as compiling it).
    pub fn overlaps(&self) -> Vec<Overlap> {
        // (product, rank a, rank b) -> (count, samples)
        let mut found: HashMap<(u16, u32, u32), (usize, Vec<u32>)> = HashMap::new();
        for (p, pi) in self.products.iter().enumerate() {
            let Some(d) = &pi.dense else { continue };
            for z in 0..Zip5::COUNT {
                let c = &d.candidates[d.offsets[z] as usize..d.offsets[z + 1] as usize];
                if c.len() < 2 {
                    continue;
                }
                let mut start = 0;
                while start < c.len() {
                    let prio = self.rules[c[start] as usize].priority;
                    let end = start
                        + c[start..].partition_point(|&r| self.rules[r as usize].priority == prio);
                    for i in start..end {
                        for j in i + 1..end {
                            let e = found.entry((p as u16, c[i], c[j])).or_default();
                            e.0 += 1;
                            if e.1.len() < SAMPLES {
                                e.1.push(z as u32);
                            }
                        }
                    }
                    start = end;
                }
            }
        }
        let mut out: Vec<Overlap> = found
            .into_iter()
            .map(|((p, a, b), (count, samples))| {
                let (ra, rb) = (&self.rules[a as usize], &self.rules[b as usize]);
                Overlap {
                    rule_ids: (ra.id, rb.id),
                    workspace_ids: (ra.workspace_id.clone(), rb.workspace_id.clone()),
                    product: self.catalog.name(crate::catalog::ProductId(p)).to_string(),
                    priority: ra.priority,
                    shared_zips: count,
                    sample_zips: samples.into_iter().map(|z| format!("{z:05}")).collect(),
                }
            })
            .collect();
        out.sort_by(|x, y| {
            y.shared_zips
                .cmp(&x.shared_zips)
                .then_with(|| x.product.cmp(&y.product))
                .then_with(|| x.rule_ids.cmp(&y.rule_ids))
        });
        out
    }
}
