//! Routing: which workspace gets an appointment, from its product and ZIP5.
//!
//! The seed routes with SQL string matching (`JSON_EXTRACT(zip_codes,'$') LIKE '%90210%' ...
//! ORDER BY priority LIMIT 1`), which is slow and wrong: `0210` matches `90210`, `Heat` matches
//! `Heat Pump`. Here the active rules compile into an immutable [`RoutingTable`]: for each
//! product, a dense array over all 100,000 ZIP5 values of offsets into a list of candidate rules
//! already in rank order (lower `priority` first, then lower rule id). Routing is one catalog
//! lookup, two array reads and a walk over the candidates until one whose workspace accepts
//! deliveries, with no lock and no allocation on the match path ([`RoutingTable::route_product`]).
//!
//! # Rules
//!
//! A [`RoutingRule`] is the seed's row (`appointment_routing_rules`: `workspace_id`,
//! `product_types`, `zip_codes`, `priority`, `is_active`, `notes`) plus [`RuleTargeting`]:
//! whole states, 3-digit ZIP prefixes, a radius in miles around a ZIP's centroid, excluded
//! ZIPs, and a round-robin weight. Geographic targeting is resolved against the ZIP table when
//! the table is compiled (see [`targeting`]). Products match exactly, case-insensitively,
//! through the [`Catalog`](crate::catalog::Catalog) and its aliases.
//!
//! # Decisions
//!
//! [`RoutingTable::decide`] orders the candidates of a (product, ZIP5) by priority and, among
//! equal priorities, by a [`TiePolicy`] (lowest rule id, smooth weighted round-robin, or least
//! recently routed) whose state lives behind [`TieState`]. Each candidate in turn is checked by
//! the table (workspace missing, webhook inactive) and then by the caller's [`Gate`]
//! (schedules, caps, budgets); the first that passes wins. [`RoutingTable::explain`] returns the
//! whole trace: every candidate with its status, and the rules that target the area but exclude
//! the ZIP. [`RoutingTable::overlaps`] lists ambiguous territories: rules of equal priority
//! that share a (product, ZIP).
//!
//! Every decision says why: the rule that matched, the candidates skipped with their
//! [`SkipReason`], or the reason nothing matched ([`UnroutedReason`]).
//!
//! [`reference`](mod@reference) holds the naive linear scan the compiled table is tested against.

mod index;
mod overlap;
pub mod reference;
pub mod targeting;
mod tie;

pub use crate::model::{CapPeriod, CapScope};
pub use crate::model::{Radius, RoutingRule, RuleTargeting};
pub use index::RoutingTable;
pub use overlap::Overlap;
pub use reference::route_linear;
pub use tie::{
    Candidate, CandidateStatus, Explanation, Gate, MemoryTieState, NoGate, TiePolicy, TieState,
    TraceEntry, TraceRule,
};

use serde::{Deserialize, Serialize};

/// Errors of compiling routing rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoutingError {
    /// A rule lists a ZIP (explicit, excluded, or a radius centre) that is not five digits.
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
    /// A rule targets a state code that the ZIP table does not know.
    #[error("rule {rule_id}: unknown state {state:?} (two-letter USPS code expected)")]
    UnknownState {
        /// The rule.
        rule_id: i64,
        /// The offending value.
        state: String,
    },
    /// A rule targets a ZIP prefix that is not three digits.
    #[error("rule {rule_id}: bad ZIP prefix {value:?} (three digits expected)")]
    InvalidZipPrefix {
        /// The rule.
        rule_id: i64,
        /// The offending value.
        value: String,
    },
    /// The centre of a rule's radius is not in the ZIP table.
    #[error("rule {rule_id}: radius centre {zip:?} is not in the ZIP table")]
    UnknownRadiusZip {
        /// The rule.
        rule_id: i64,
        /// The offending ZIP.
        zip: String,
    },
    /// A rule's radius is negative, infinite or not a number.
    #[error("rule {rule_id}: bad radius {miles} miles (finite, not negative expected)")]
    InvalidRadius {
        /// The rule.
        rule_id: i64,
        /// The offending value, as written by Rust's `f64` `Display`.
        miles: String,
    },
    /// A rule's weight is zero (at least 1 expected).
    #[error("rule {rule_id}: weight must be at least 1")]
    InvalidWeight {
        /// The rule.
        rule_id: i64,
    },
    /// Two rules share an id.
    #[error("duplicate rule id {0}")]
    DuplicateRule(i64),
    /// More rules than the index can address (over 4 billion).
    #[error("too many routing rules")]
    TooManyRules,
}

impl RoutingError {
    /// Stable snake_case code: `invalid_zip`, `unknown_product`, `unknown_state`,
    /// `invalid_zip_prefix`, `unknown_radius_zip`, `invalid_radius`, `invalid_weight`,
    /// `duplicate_rule`, `too_many_rules`.
    pub fn code(&self) -> &'static str {
        match self {
            RoutingError::InvalidZip { .. } => "invalid_zip",
            RoutingError::UnknownProduct { .. } => "unknown_product",
            RoutingError::UnknownState { .. } => "unknown_state",
            RoutingError::InvalidZipPrefix { .. } => "invalid_zip_prefix",
            RoutingError::UnknownRadiusZip { .. } => "unknown_radius_zip",
            RoutingError::InvalidRadius { .. } => "invalid_radius",
            RoutingError::InvalidWeight { .. } => "invalid_weight",
            RoutingError::DuplicateRule(_) => "duplicate_rule",
            RoutingError::TooManyRules => "too_many_rules",
        }
    }

    /// [`ErrorKind::InvalidInput`](crate::kind::ErrorKind::InvalidInput): rules are
    /// configuration.
    pub fn kind(&self) -> crate::kind::ErrorKind {
        crate::kind::ErrorKind::InvalidInput
    }
}

/// Why a rule was passed over.
///
/// JSON: internally tagged by its [`code`](SkipReason::code), e.g. `{"code":
/// "webhook_inactive"}` or `{"code": "cap_reached", "scope": "workspace", "period": "day"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// The workspace's webhook is inactive (`webhook_active = false`). Decided by the table.
    WebhookInactive,
    /// The rule names a workspace that does not exist. Decided by the table.
    WorkspaceMissing,
    /// The rule is inactive (`is_active = false`); reported only by
    /// [`RoutingTable::explain`].
    RuleInactive,
    /// The rule targets the ZIP's area but lists the ZIP in `excluded_zips`.
    ExcludedZip,
    /// The workspace does not accept appointments at this time. Decided by the [`Gate`].
    OutsideSchedule,
    /// A cap is reached. Decided by the [`Gate`].
    CapReached {
        /// The workspace's cap or the rule's.
        scope: CapScope,
        /// The window it counts over.
        period: CapPeriod,
    },
    /// The workspace's budget is spent. Decided by the [`Gate`].
    BudgetSpent,
    /// The workspace requires TCPA consent (`require_consent`) and the lead has none.
    /// Decided by the [`Gate`].
    ConsentRequired,
    /// The workspace is excluded from this decision (a reassignment away from the workspace
    /// that returned the appointment or could not take it). Decided by the [`Gate`].
    ExcludedWorkspace,
}

impl SkipReason {
    /// snake_case code: `webhook_inactive`, `workspace_missing`, `rule_inactive`,
    /// `excluded_zip`, `outside_schedule`, `cap_reached`, `budget_spent`,
    /// `consent_required`, `excluded_workspace`.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::WebhookInactive => "webhook_inactive",
            SkipReason::WorkspaceMissing => "workspace_missing",
            SkipReason::RuleInactive => "rule_inactive",
            SkipReason::ExcludedZip => "excluded_zip",
            SkipReason::OutsideSchedule => "outside_schedule",
            SkipReason::CapReached { .. } => "cap_reached",
            SkipReason::BudgetSpent => "budget_spent",
            SkipReason::ConsentRequired => "consent_required",
            SkipReason::ExcludedWorkspace => "excluded_workspace",
        }
    }
}

impl std::fmt::Display for SkipReason {
    /// The code, and for a cap its scope and period: `cap_reached(workspace, day)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::CapReached { scope, period } => {
                write!(f, "cap_reached({}, {})", scope.code(), period.code())
            }
            other => f.write_str(other.code()),
        }
    }
}

pub use crate::status::UnroutedReason;

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

/// A rule passed over, and why.
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
    /// Candidates tried before the match and passed over, in the order tried; then the rules
    /// that target the ZIP's area but exclude the ZIP ([`SkipReason::ExcludedZip`]) with a
    /// priority at least as good as the match's (all of them when nothing matched), in rank
    /// order. [`RoutingTable::explain`] has the full trace.
    pub skipped: Vec<Skipped<'a>>,
}

#[cfg(test)]
mod tests;
