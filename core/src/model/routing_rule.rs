//! Routing-rule records: the seed's `appointment_routing_rules` row plus its targeting, as
//! configured. Compiling and deciding are in [`crate::routing`], which re-exports them.

use serde::{Deserialize, Serialize};

/// A routing rule: the seed's shape (`appointment_routing_rules`) plus targeting.
///
/// JSON: the seed's fields, with the fields of [`RuleTargeting`] flattened beside them (all
/// optional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingRule {
    /// Rule id; among rules of equal priority the lowest id wins under the default
    /// [`TiePolicy::LowestId`](crate::routing::TiePolicy::LowestId).
    pub id: i64,
    /// The workspace that receives what the rule matches.
    pub workspace_id: String,
    /// Products matched exactly (case-insensitively, through the catalog).
    pub product_types: Vec<String>,
    /// ZIP5 codes matched exactly, as given (they need not be in the ZIP table).
    pub zip_codes: Vec<String>,
    /// Lower number wins.
    pub priority: i32,
    /// Inactive rules are stored but never match.
    pub is_active: bool,
    /// Free text.
    #[serde(default)]
    pub notes: Option<String>,
    /// States, ZIP prefixes, radius, excluded ZIPs and weight; default: none, weight 1.
    #[serde(flatten)]
    pub targeting: RuleTargeting,
    /// Caps and budget of this rule alone (see `capacity`); unlimited by default.
    #[serde(default, skip_serializing_if = "crate::model::Capacity::is_unlimited")]
    pub capacity: crate::model::Capacity,
}

impl RoutingRule {
    /// An active rule of `workspace_id` for these products and explicit ZIP5 codes at
    /// `priority`, with no other targeting and no capacity; set the other fields with
    /// struct update syntax.
    pub fn new(
        id: i64,
        workspace_id: &str,
        products: &[&str],
        zips: &[&str],
        priority: i32,
    ) -> RoutingRule {
        RoutingRule {
            id,
            workspace_id: workspace_id.to_string(),
            product_types: products.iter().map(|p| p.to_string()).collect(),
            zip_codes: zips.iter().map(|z| z.to_string()).collect(),
            priority,
            is_active: true,
            notes: None,
            targeting: RuleTargeting::default(),
            capacity: Default::default(),
        }
    }
}

/// A circle around a ZIP's centroid.
///
/// JSON shape: `{"zip": "22737", "miles": 150.0}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Radius {
    /// The centre: a ZIP5 that must be in the ZIP table.
    pub zip: String,
    /// Radius in statute miles; finite and not negative. Zero covers the centre ZIP (and any
    /// ZIP sharing its centroid).
    pub miles: f64,
}

/// Equality compares `miles` bit for bit, so that it is an equivalence (`NaN == NaN`) and
/// rules stay `Eq`.
impl PartialEq for Radius {
    fn eq(&self, other: &Self) -> bool {
        self.zip == other.zip && self.miles.to_bits() == other.miles.to_bits()
    }
}

impl Eq for Radius {}

fn default_weight() -> u32 {
    1
}

fn is_default_weight(w: &u32) -> bool {
    *w == 1
}

/// A rule's targeting beyond the seed's explicit `zip_codes`, and its round-robin weight.
///
/// Flattened into [`RoutingRule`]'s JSON: every field is optional, and a seed rule (none of
/// them) is `RuleTargeting::default()`. Stored by the SQLite adapter as JSON in
/// `appointment_routing_rules.targeting` (`{}` when default).
///
/// ```
/// use leadroute_core::routing::RoutingRule;
/// let r: RoutingRule = serde_json::from_str(r#"{"id": 1, "workspace_id": "w",
///     "product_types": ["Solar"], "zip_codes": [], "priority": 1, "is_active": true,
///     "states": ["NV"], "zip3_prefixes": ["902"], "radius": {"zip": "22737", "miles": 150.0},
///     "excluded_zips": ["90210"], "weight": 3}"#).unwrap();
/// assert_eq!(r.targeting.states, ["NV"]);
/// assert_eq!(r.targeting.weight, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleTargeting {
    /// Two-letter USPS state codes (case-insensitive): every active ZIP of those states.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub states: Vec<String>,
    /// Three-digit ZIP prefixes (`"902"`): every active ZIP that starts with one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zip3_prefixes: Vec<String>,
    /// A circle around a ZIP's centroid: every active ZIP whose centroid is inside.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radius: Option<Radius>,
    /// ZIP5s never matched by this rule, even when targeted otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excluded_zips: Vec<String>,
    /// Weight for [`TiePolicy::WeightedRoundRobin`](crate::routing::TiePolicy::WeightedRoundRobin),
    /// at least 1. Default 1.
    #[serde(default = "default_weight", skip_serializing_if = "is_default_weight")]
    pub weight: u32,
}

impl Default for RuleTargeting {
    fn default() -> Self {
        RuleTargeting {
            states: Vec::new(),
            zip3_prefixes: Vec::new(),
            radius: None,
            excluded_zips: Vec::new(),
            weight: 1,
        }
    }
}

impl RuleTargeting {
    /// Whether the rule uses the ZIP table (states, prefixes or a radius).
    pub fn is_geographic(&self) -> bool {
        !self.states.is_empty() || !self.zip3_prefixes.is_empty() || self.radius.is_some()
    }
}
