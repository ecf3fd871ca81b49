//! Capacity records: the caps and the budget of a workspace or a rule, as configured and
//! stored. The windows they are counted over and the check are in [`crate::capacity`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Cents;

/// The calendar unit a cap or budget is counted over, in the owner's local time.
///
/// Serialized in snake_case: `"hour"`, `"day"`, `"week"`, `"month"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapPeriod {
    /// A local clock hour (`HH:00` to the next `HH:00`).
    Hour,
    /// A local calendar day (midnight to midnight).
    Day,
    /// An ISO week: local Monday 00:00 to the next Monday 00:00.
    Week,
    /// A calendar month: local 00:00 on the 1st to 00:00 on the 1st of the next month.
    Month,
}

impl CapPeriod {
    /// All periods, shortest first; [`CapPeriod::index`] is the position in this array.
    pub const ALL: [CapPeriod; 4] = [
        CapPeriod::Hour,
        CapPeriod::Day,
        CapPeriod::Week,
        CapPeriod::Month,
    ];

    /// Stable snake_case code: `hour`, `day`, `week`, `month`.
    pub fn code(self) -> &'static str {
        match self {
            CapPeriod::Hour => "hour",
            CapPeriod::Day => "day",
            CapPeriod::Week => "week",
            CapPeriod::Month => "month",
        }
    }

    /// Parses [`CapPeriod::code`]'s output.
    pub fn parse(code: &str) -> Option<CapPeriod> {
        CapPeriod::ALL.into_iter().find(|p| p.code() == code)
    }

    /// Position in [`CapPeriod::ALL`] (`Hour` = 0 … `Month` = 3), the index into
    /// [`Usage::per_period_count`](crate::capacity::Usage::per_period_count).
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for CapPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Who a capacity belongs to: a workspace (all its rules together) or a single routing rule.
///
/// Serialized in snake_case: `"workspace"`, `"rule"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapScope {
    /// Counts every appointment assigned to the workspace; counted in its time zone.
    Workspace,
    /// Counts the appointments one rule matched; counted in its workspace's time zone.
    Rule,
}

impl CapScope {
    /// Stable snake_case code: `workspace`, `rule`.
    pub fn code(self) -> &'static str {
        match self {
            CapScope::Workspace => "workspace",
            CapScope::Rule => "rule",
        }
    }

    /// Parses [`CapScope::code`]'s output.
    pub fn parse(code: &str) -> Option<CapScope> {
        match code {
            "workspace" => Some(CapScope::Workspace),
            "rule" => Some(CapScope::Rule),
            _ => None,
        }
    }
}

impl fmt::Display for CapScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// At most `limit` appointments per `period`.
///
/// JSON shape: `{"period": "day", "limit": 25}`. A limit of `0` blocks every appointment (a
/// paused owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cap {
    /// The window the count is kept over.
    pub period: CapPeriod,
    /// Maximum number of appointments assigned within one window.
    pub limit: u32,
}

/// At most `amount` (integer cents) of assigned payment rates per `period`.
///
/// JSON shape: `{"amount": 500000, "period": "month"}` is $5,000.00 per local month. The seed
/// and clients speak dollars: convert with [`Cents::from_dollars`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Budget {
    /// The most that may be assigned within one window, in cents; must not be negative.
    pub amount: Cents,
    /// The window the spending is kept over.
    pub period: CapPeriod,
}

/// The caps and the budget of one owner (a workspace or a rule). The default is unlimited.
///
/// JSON shape (both fields optional):
///
/// ```json
/// {"caps": [{"period": "day", "limit": 25}, {"period": "month", "limit": 400}],
///  "budget": {"amount": 500000, "period": "month"}}
/// ```
///
/// Several caps may share a period; the smallest limit binds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// Count caps; empty means no count limit.
    #[serde(default)]
    pub caps: Vec<Cap>,
    /// Spending limit; `None` means no budget limit.
    #[serde(default)]
    pub budget: Option<Budget>,
}

impl Capacity {
    /// No caps and no budget.
    pub fn unlimited() -> Capacity {
        Capacity::default()
    }

    /// Whether nothing limits this owner (no caps, no budget): the engine can skip reading
    /// counters.
    pub fn is_unlimited(&self) -> bool {
        self.caps.is_empty() && self.budget.is_none()
    }

    /// The periods whose counters must be read (and, on assignment, incremented): those of the
    /// caps and the budget, deduplicated, shortest first.
    pub fn periods(&self) -> Vec<CapPeriod> {
        let mut wanted = [false; 4];
        for cap in &self.caps {
            wanted[cap.period.index()] = true;
        }
        if let Some(budget) = &self.budget {
            wanted[budget.period.index()] = true;
        }
        CapPeriod::ALL
            .into_iter()
            .filter(|p| wanted[p.index()])
            .collect()
    }
}
