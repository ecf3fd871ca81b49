//! Geographic targeting: which ZIP5s a rule covers, resolved against a [`ZipTable`].
//!
//! A rule covers the union of
//!
//! - its explicit `zip_codes` (the seed's column), taken as given: a ZIP5 listed there is
//!   covered even when the ZIP table does not know it;
//! - every ZIP of the table in one of its `states` (two-letter USPS codes, e.g. `CA`);
//! - every ZIP of the table that starts with one of its `zip3_prefixes` (e.g. `902`);
//! - every ZIP of the table whose centroid lies within `radius.miles` statute miles of the
//!   centroid of `radius.zip` (great-circle distance by the haversine formula on a sphere of
//!   radius [`EARTH_RADIUS_MILES`]);
//!
//! minus its `excluded_zips`, which are never matched, whatever else targets them.
//!
//! **Only active ZIPs are expanded.** States, prefixes and radii expand to the ZIPs the table
//! lists as active (41,684 of the bundled table's 42,724). Validation rejects an inactive ZIP
//! (`inactive_zip`) before routing, so expanding inactive ones would only grow the index. The
//! centre of a radius may be any ZIP in the table, active or not: only its centroid is used.

use super::{Radius, RoutingError, RoutingRule};
use crate::zip::{Zip5, ZipTable};
use std::collections::HashMap;

/// Mean Earth radius in statute miles, as used by [`haversine_miles`].
pub const EARTH_RADIUS_MILES: f64 = 3958.8;

/// Great-circle distance in statute miles between two points given in degrees (latitude,
/// longitude), by the haversine formula on a sphere of radius [`EARTH_RADIUS_MILES`].
///
/// # Examples
///
/// ```
/// use leadroute_core::routing::targeting::haversine_miles;
/// // One degree of latitude is about 69 miles.
/// let d = haversine_miles(40.0, -75.0, 41.0, -75.0);
/// assert!((d - 69.09).abs() < 0.01);
/// assert_eq!(haversine_miles(40.0, -75.0, 40.0, -75.0), 0.0);
/// ```
pub fn haversine_miles(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_MILES * a.sqrt().min(1.0).asin()
}

/// The ZIPs a rule covers, as resolved by [`resolve`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResolvedZips {
    /// Covered ZIPs, ascending, without duplicates, exclusions removed.
    pub zips: Vec<Zip5>,
    /// ZIPs the rule targets but excludes (the intersection of `excluded_zips` with the
    /// targeted area), ascending: routing reports these as `excluded_zip`.
    pub excluded: Vec<Zip5>,
}

/// Resolves one rule's targeting against `zips` (see the module docs).
///
/// For many rules, [`RoutingTable::compile_with`](super::RoutingTable::compile_with) is
/// cheaper: it scans the table once for all of them.
///
/// # Errors
///
/// [`RoutingError`]: `InvalidZip` (an explicit, excluded or radius ZIP that is not five
/// digits), `UnknownState`, `InvalidZipPrefix`, `UnknownRadiusZip`, `InvalidRadius`,
/// `InvalidWeight`.
pub fn resolve(rule: &RoutingRule, zips: &ZipTable) -> Result<ResolvedZips, RoutingError> {
    let geo = rule.targeting.is_geographic().then(|| GeoIndex::new(zips));
    let (z, x) = resolve_raw(rule, geo.as_ref())?;
    let to_zip = |v: Vec<u32>| v.into_iter().filter_map(Zip5::from_u32).collect();
    Ok(ResolvedZips {
        zips: to_zip(z),
        excluded: to_zip(x),
    })
}

/// One active ZIP of the table, as geographic expansion needs it.
#[derive(Debug, Clone, Copy)]
struct GeoEntry {
    zip: u32,
    lat: f64,
    lon: f64,
}

/// The ZIP table scanned once: active ZIPs in ascending order, by state.
#[derive(Debug)]
pub(crate) struct GeoIndex<'a> {
    table: &'a ZipTable,
    /// Active ZIPs, ascending.
    active: Vec<GeoEntry>,
    /// Active ZIPs by upper-case state code. Every state of the table is a key, even one
    /// whose ZIPs are all inactive.
    states: HashMap<String, Vec<u32>>,
}

impl<'a> GeoIndex<'a> {
    pub(crate) fn new(table: &'a ZipTable) -> GeoIndex<'a> {
        let mut active = Vec::with_capacity(table.len());
        let mut states: HashMap<String, Vec<u32>> = HashMap::new();
        for n in 0..Zip5::COUNT as u32 {
            let Some(info) = Zip5::from_u32(n).and_then(|z| table.get(z)) else {
                continue;
            };
            let list = states.entry(info.state.to_ascii_uppercase()).or_default();
            if info.active {
                list.push(n);
                active.push(GeoEntry {
                    zip: n,
                    lat: info.lat,
                    lon: info.lon,
                });
            }
        }
        GeoIndex {
            table,
            active,
            states,
        }
    }
}

/// Parses a ZIP5 written as exactly five digits (surrounding whitespace allowed).
pub(crate) fn strict_zip5(raw: &str) -> Option<Zip5> {
    let t = raw.trim();
    if t.len() != 5 {
        return None;
    }
    Zip5::parse(t).ok()
}

/// Parses a three-digit prefix into its numeric value (`"902"` → 902).
fn zip3(raw: &str) -> Option<u32> {
    let t = raw.trim();
    (t.len() == 3 && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok())?
}

/// Resolves a rule to (covered ZIPs, excluded-in-area ZIPs) as sorted numeric values.
/// `geo` must be `Some` when the rule is geographic.
pub(crate) fn resolve_raw(
    rule: &RoutingRule,
    geo: Option<&GeoIndex<'_>>,
) -> Result<(Vec<u32>, Vec<u32>), RoutingError> {
    let t = &rule.targeting;
    if t.weight == 0 {
        return Err(RoutingError::InvalidWeight { rule_id: rule.id });
    }
    let mut zips = strict_zips(rule.id, &rule.zip_codes)?;
    let excluded = strict_zips(rule.id, &t.excluded_zips)?;
    if t.is_geographic() {
        let geo = geo.expect("a geographic rule is resolved with a ZIP table");
        expand_states(rule, geo, &mut zips)?;
        expand_prefixes(rule, geo, &mut zips)?;
        if let Some(r) = &t.radius {
            expand_radius(rule.id, r, geo, &mut zips)?;
        }
    }
    Ok(remove_excluded(zips, excluded))
}

/// The numeric values of ZIP5s written as exactly five digits, in order; `InvalidZip` for
/// the first that is not.
fn strict_zips(rule_id: i64, list: &[String]) -> Result<Vec<u32>, RoutingError> {
    list.iter()
        .map(|z| {
            strict_zip5(z)
                .map(Zip5::get)
                .ok_or_else(|| RoutingError::InvalidZip {
                    rule_id,
                    value: z.to_string(),
                })
        })
        .collect()
}

/// Appends the active ZIPs of the rule's states; `UnknownState` for the first state the
/// table does not list.
fn expand_states(
    rule: &RoutingRule,
    geo: &GeoIndex<'_>,
    zips: &mut Vec<u32>,
) -> Result<(), RoutingError> {
    for s in &rule.targeting.states {
        let key = s.trim().to_ascii_uppercase();
        let list = (key.len() == 2)
            .then(|| geo.states.get(&key))
            .flatten()
            .ok_or_else(|| RoutingError::UnknownState {
                rule_id: rule.id,
                state: s.clone(),
            })?;
        zips.extend_from_slice(list);
    }
    Ok(())
}

/// Appends the active ZIPs that start with one of the rule's three-digit prefixes;
/// `InvalidZipPrefix` for the first malformed prefix.
fn expand_prefixes(
    rule: &RoutingRule,
    geo: &GeoIndex<'_>,
    zips: &mut Vec<u32>,
) -> Result<(), RoutingError> {
    for p in &rule.targeting.zip3_prefixes {
        let n = zip3(p).ok_or_else(|| RoutingError::InvalidZipPrefix {
            rule_id: rule.id,
            value: p.clone(),
        })?;
        let (lo, hi) = (n * 100, n * 100 + 100);
        let start = geo.active.partition_point(|e| e.zip < lo);
        let end = geo.active.partition_point(|e| e.zip < hi);
        zips.extend(geo.active[start..end].iter().map(|e| e.zip));
    }
    Ok(())
}

/// Appends the active ZIPs whose centroid lies within the radius; `InvalidZip`,
/// `UnknownRadiusZip` or `InvalidRadius` for a bad centre or distance.
fn expand_radius(
    rule_id: i64,
    r: &Radius,
    geo: &GeoIndex<'_>,
    zips: &mut Vec<u32>,
) -> Result<(), RoutingError> {
    let centre = strict_zip5(&r.zip).ok_or_else(|| RoutingError::InvalidZip {
        rule_id,
        value: r.zip.to_string(),
    })?;
    let info = geo
        .table
        .get(centre)
        .ok_or_else(|| RoutingError::UnknownRadiusZip {
            rule_id,
            zip: r.zip.clone(),
        })?;
    if !(r.miles.is_finite() && r.miles >= 0.0) {
        return Err(RoutingError::InvalidRadius {
            rule_id,
            miles: r.miles.to_string(),
        });
    }
    // Distance along a meridian never exceeds the great-circle distance: a cheap,
    // conservative latitude band before the exact test.
    let band = r.miles / EARTH_RADIUS_MILES * (1.0 + 1e-9) + 1e-12;
    let lat0 = info.lat.to_radians();
    for e in &geo.active {
        if (e.lat.to_radians() - lat0).abs() > band {
            continue;
        }
        if haversine_miles(info.lat, info.lon, e.lat, e.lon) <= r.miles {
            zips.push(e.zip);
        }
    }
    Ok(())
}

/// Sorts and deduplicates both lists, keeps the exclusions that are in the targeted area,
/// and removes them from the covered ZIPs.
fn remove_excluded(mut zips: Vec<u32>, mut excluded: Vec<u32>) -> (Vec<u32>, Vec<u32>) {
    zips.sort_unstable();
    zips.dedup();
    if excluded.is_empty() {
        return (zips, excluded);
    }
    excluded.sort_unstable();
    excluded.dedup();
    excluded.retain(|z| zips.binary_search(z).is_ok());
    zips.retain(|z| excluded.binary_search(z).is_err());
    (zips, excluded)
}

/// Whether `rule` covers `zip` by the definition in the module docs, tested directly (no
/// expansion): the reference for the compiled index. Malformed entries never match.
/// `text` is `zip` as five digits.
pub(crate) fn covers(rule: &RoutingRule, zips: &ZipTable, zip: Zip5, text: &str) -> Covers {
    let t = &rule.targeting;
    let targeted = rule.zip_codes.iter().any(|z| z.trim() == text) || {
        let info = zips.get(zip).filter(|i| i.active);
        info.is_some_and(|info| {
            t.states
                .iter()
                .any(|s| s.trim().eq_ignore_ascii_case(&info.state))
                || t.zip3_prefixes
                    .iter()
                    .any(|p| zip3(p) == Some(zip.get() / 100))
                || t.radius.as_ref().is_some_and(|r| {
                    strict_zip5(&r.zip)
                        .and_then(|c| zips.get(c))
                        .is_some_and(|c| {
                            haversine_miles(c.lat, c.lon, info.lat, info.lon) <= r.miles
                        })
                })
        })
    };
    if !targeted {
        Covers::No
    } else if t.excluded_zips.iter().any(|z| z.trim() == text) {
        Covers::Excluded
    } else {
        Covers::Yes
    }
}

/// Whether a rule covers a ZIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Covers {
    /// Not targeted.
    No,
    /// Targeted and not excluded.
    Yes,
    /// Targeted but excluded.
    Excluded,
}
