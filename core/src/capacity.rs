//! Capacity: caps on how many appointments a workspace or a rule takes per hour, day, week or
//! month, and an optional budget in cents per period.
//!
//! This module is pure: it computes the *window* a counter belongs to ([`period_window`],
//! [`Zone::window`]), names the counter row ([`counter_key`]) and decides whether one more
//! appointment fits ([`check`]). Reading and bumping the counters is the engine's and the
//! storage adapter's job. The records ([`Capacity`], [`Cap`], [`Budget`], [`CapPeriod`],
//! [`CapScope`]) live in [`crate::model`] and are re-exported here.
//!
//! # Windows are local calendar units
//!
//! Caps are counted in the workspace's IANA time zone: a *day* cap resets at the workspace's
//! local midnight, a *week* cap at local Monday 00:00 (ISO weeks), a *month* cap at 00:00 on the
//! 1st, an *hour* cap at each local `HH:00`. A window is returned as a half-open pair of UTC
//! instants `[start, end)`:
//!
//! - `start` is the first instant whose local wall clock reads the unit's first moment or later
//!   (local `D 00:00` for a day). When that wall-clock time falls in a daylight-saving gap, the
//!   start is the transition instant; when it occurs twice (a fold), the earlier occurrence.
//! - `end` is the start of the next non-empty unit, so consecutive windows tile time exactly.
//!
//! Windows therefore vary in length: a local day is 23 or 25 hours on DST change days
//! (23.5 or 24.5 in `Australia/Lord_Howe`); a local hour that is repeated when clocks fall back
//! is one 2-hour window (every appointment whose local time reads `01:xx` that night counts
//! against the same hour, which is what a client reading its local reports expects), and a
//! local hour cut short by a spring-forward gap is shorter (30 minutes in Lord Howe) or, when
//! it is skipped entirely, does not exist. In a zone with a 30- or 45-minute offset
//! (`Asia/Kolkata`, `Asia/Kathmandu`) local hours start at `:30` or `:15` UTC.
//!
//! Zone rules come from the IANA time zone database bundled into the binary by the
//! [`jiff`](https://docs.rs/jiff) crate (feature `tzdb-bundle-always`), so results do not depend
//! on the host's `/usr/share/zoneinfo`. A workspace without a time zone
//! ([`crate::model::Workspace::timezone`] is `None` or blank) is counted in **UTC**
//! ([`Zone::for_workspace`]).
//!
//! # Consuming capacity (the engine's contract)
//!
//! A cap is checked and consumed **in the same storage transaction** in which the appointment
//! is assigned: inside that transaction the engine reads the counters of the windows containing
//! the routing instant, calls [`check`], and on success increments every counter of that scope
//! (each period in [`Capacity::periods`]: `count + 1`, `spent + price`) and writes the
//! assignment. Concurrent routers (threads or processes on one SQLite file) are then serialized
//! by the database and can never over-assign. The budget counts what was *assigned* (the
//! workspace's payment rate at routing time), not what was later billed, so that it can be
//! consumed atomically with the assignment.
//!
//! # Examples
//!
//! ```
//! use leadroute_core::capacity::{check, period_window, Cap, CapPeriod, Capacity, Usage};
//! use leadroute_core::model::Cents;
//! let ts = |s: &str| -> jiff::Timestamp { s.parse().unwrap() };
//!
//! // 2026-11-21 10:00 in New York (EST, UTC-5) falls in the local day that starts at 05:00 UTC.
//! let (start, end) =
//!     period_window(CapPeriod::Day, ts("2026-11-21T15:00:00Z"), "America/New_York")?;
//! assert_eq!(start, ts("2026-11-21T05:00:00Z"));
//! assert_eq!(end, ts("2026-11-22T05:00:00Z"));
//!
//! let capacity = Capacity { caps: vec![Cap { period: CapPeriod::Day, limit: 10 }], budget: None };
//! let mut used = Usage::default();
//! used.set_count(CapPeriod::Day, 9);
//! assert!(check(&capacity, &used, Cents(2500)).is_ok()); // the 10th fits
//! used.set_count(CapPeriod::Day, 10);
//! assert_eq!(check(&capacity, &used, Cents(2500)).unwrap_err().code(), "cap_reached");
//! # Ok::<(), leadroute_core::capacity::CapacityError>(())
//! ```

use std::fmt;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use crate::model::Cents;
pub use crate::model::{Budget, Cap, CapPeriod, CapScope, Capacity};
use crate::tz::{first_instant_at_or_after, lookup_zone};

/// An error computing capacity windows or validating a [`Capacity`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CapacityError {
    /// The time zone name is not in the IANA time zone database.
    #[error("unknown time zone `{name}`")]
    UnknownTimeZone {
        /// The name as given.
        name: String,
    },
    /// The instant, or a window boundary near it, is outside the supported range (years
    /// -9999 to 9999).
    #[error("time is outside the supported range")]
    OutOfRange,
    /// A budget amount is negative.
    #[error("budget amount {amount} is negative")]
    InvalidBudget {
        /// The amount given.
        amount: Cents,
    },
}

impl CapacityError {
    /// Stable snake_case code: `unknown_time_zone`, `time_out_of_range`, `invalid_budget`.
    pub fn code(&self) -> &'static str {
        match self {
            CapacityError::UnknownTimeZone { .. } => "unknown_time_zone",
            CapacityError::OutOfRange => "time_out_of_range",
            CapacityError::InvalidBudget { .. } => "invalid_budget",
        }
    }

    /// [`ErrorKind::Internal`](crate::kind::ErrorKind::Internal) for a time out of range
    /// (leadroute computed it), else `InvalidInput` (a configuration error).
    pub fn kind(&self) -> crate::kind::ErrorKind {
        match self {
            CapacityError::OutOfRange => crate::kind::ErrorKind::Internal,
            _ => crate::kind::ErrorKind::InvalidInput,
        }
    }
}

// `Capacity` is a record of `crate::model`; its check lives here, next to `CapacityError`.
impl Capacity {
    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// [`CapacityError::InvalidBudget`] when the budget amount is negative.
    pub fn validate(&self) -> Result<(), CapacityError> {
        match self.budget {
            Some(Budget { amount, .. }) if amount.0 < 0 => {
                Err(CapacityError::InvalidBudget { amount })
            }
            _ => Ok(()),
        }
    }
}

/// What an owner has already used in the windows that contain the routing instant.
///
/// Built by the engine from the stored counters: `per_period_count[p.index()]` is the count of
/// the window of period `p` (0 when no counter row exists yet), and `spent_in_budget_period` is
/// the spending recorded in the window of the budget's period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Usage {
    /// Appointments assigned in the current hour, day, week and month window, indexed by
    /// [`CapPeriod::index`].
    pub per_period_count: [u32; 4],
    /// Cents assigned in the current window of the budget's period.
    pub spent_in_budget_period: Cents,
}

impl Usage {
    /// The count of the current window of `period`.
    pub fn count(&self, period: CapPeriod) -> u32 {
        self.per_period_count[period.index()]
    }

    /// Sets the count of the current window of `period`.
    pub fn set_count(&mut self, period: CapPeriod, count: u32) {
        self.per_period_count[period.index()] = count;
    }
}

/// Why one more appointment does not fit. The scope (workspace or rule) is the caller's.
///
/// Serialized for routing traces with a `code` tag, e.g.
/// `{"code": "cap_reached", "period": "day", "limit": 10, "used": 10}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CapViolation {
    /// A count cap is reached: `used >= limit`.
    CapReached {
        /// The cap's period.
        period: CapPeriod,
        /// The cap's limit.
        limit: u32,
        /// Appointments already assigned in the current window.
        used: u32,
    },
    /// The budget cannot pay for this appointment: `spent + price > budget`.
    BudgetSpent {
        /// The budget's period.
        period: CapPeriod,
        /// The budget per window, in cents.
        budget: Cents,
        /// Cents already assigned in the current window.
        spent: Cents,
        /// The price of this appointment, in cents.
        price: Cents,
    },
}

impl CapViolation {
    /// Stable snake_case reason code: `cap_reached` or `budget_spent`.
    pub fn code(&self) -> &'static str {
        match self {
            CapViolation::CapReached { .. } => "cap_reached",
            CapViolation::BudgetSpent { .. } => "budget_spent",
        }
    }

    /// The period of the violated cap or budget.
    pub fn period(&self) -> CapPeriod {
        match self {
            CapViolation::CapReached { period, .. } | CapViolation::BudgetSpent { period, .. } => {
                *period
            }
        }
    }
}

impl fmt::Display for CapViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapViolation::CapReached {
                period,
                limit,
                used,
            } => write!(f, "{period} cap of {limit} reached ({used} used)"),
            CapViolation::BudgetSpent {
                period,
                budget,
                spent,
                price,
            } => write!(
                f,
                "{period} budget of {budget} spent ({spent} used, {price} needed)"
            ),
        }
    }
}

/// Decides whether one more appointment costing `price` fits `capacity`, given what was
/// already `used` in the current windows. Pure: it neither reads nor changes counters.
///
/// A cap fails when `used >= limit` (the appointment would be number `limit + 1`). The budget
/// fails when `spent + price > amount`: a budget is never overspent, so an appointment that
/// costs more than what remains is refused even if the budget is not yet exhausted. With
/// several violations, the reported one is the cap of the longest period (the one that stays
/// closed longest; the smallest limit among caps of that period), and the budget only when no
/// cap is violated.
///
/// # Errors
///
/// The [`CapViolation`] that refuses the appointment.
pub fn check(capacity: &Capacity, used: &Usage, price: Cents) -> Result<(), CapViolation> {
    let worst = capacity
        .caps
        .iter()
        .filter(|cap| used.count(cap.period) >= cap.limit)
        .max_by(|a, b| a.period.cmp(&b.period).then_with(|| b.limit.cmp(&a.limit)));
    if let Some(cap) = worst {
        return Err(CapViolation::CapReached {
            period: cap.period,
            limit: cap.limit,
            used: used.count(cap.period),
        });
    }
    if let Some(budget) = capacity.budget {
        let spent = used.spent_in_budget_period;
        if spent.0.saturating_add(price.0) > budget.amount.0 {
            return Err(CapViolation::BudgetSpent {
                period: budget.period,
                budget: budget.amount,
                spent,
                price,
            });
        }
    }
    Ok(())
}

/// The stable key of one counter row: `{scope}:{owner_id}:{period}:{window_start}`, with the
/// window start in UTC as `YYYY-MM-DDTHH:MM:SSZ` (fractional seconds only if non-zero), e.g.
/// `workspace:solar_in_001:day:2026-11-21T05:00:00Z` or `rule:42:hour:2026-11-21T10:30:00Z`.
///
/// The key is unique per (scope, owner, period, window): the scope and period codes contain no
/// `:`, and the timestamp has a fixed shape, so an owner id containing `:` cannot collide.
/// Storage may instead key its counter table on the four columns; both are equivalent.
/// `window_start` must be the start returned by [`period_window`] / [`Zone::window`]; it is
/// written in UTC.
pub fn counter_key(
    scope: CapScope,
    owner_id: &str,
    period: CapPeriod,
    window_start: Timestamp,
) -> String {
    let t = jiff::tz::Offset::UTC.to_datetime(window_start);
    let mut key = format!(
        "{}:{}:{}:{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        scope.code(),
        owner_id,
        period.code(),
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.subsec_nanosecond();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        key.push('.');
        key.push_str(frac.trim_end_matches('0'));
    }
    key.push('Z');
    key
}

/// The `[start, end)` of the `period` window containing `at`, counted in the IANA time zone
/// `tz`, as UTC instants. See the [module docs](self) for how windows behave across DST.
///
/// Looks the zone up on every call; to compute many windows in one zone, resolve it once with
/// [`Zone::get`] and call [`Zone::window`].
///
/// # Errors
///
/// - [`CapacityError::UnknownTimeZone`] when `tz` is not an IANA zone name.
/// - [`CapacityError::OutOfRange`] near the ends of the supported range (years ±9999).
///
/// # Examples
///
/// ```
/// use leadroute_core::capacity::{period_window, CapPeriod};
/// let ts = |s: &str| -> jiff::Timestamp { s.parse().unwrap() };
///
/// // India is UTC+05:30: its local hours start at :30 UTC.
/// let (start, end) =
///     period_window(CapPeriod::Hour, ts("2026-05-10T10:45:00Z"), "Asia/Kolkata")?;
/// assert_eq!((start, end), (ts("2026-05-10T10:30:00Z"), ts("2026-05-10T11:30:00Z")));
/// # Ok::<(), leadroute_core::capacity::CapacityError>(())
/// ```
pub fn period_window(
    period: CapPeriod,
    at: Timestamp,
    tz: &str,
) -> Result<(Timestamp, Timestamp), CapacityError> {
    Zone::get(tz)?.window(period, at)
}

/// A resolved IANA time zone that capacity windows are counted in.
///
/// Cheap to clone; resolve it once per workspace (for example when the routing table is built)
/// rather than per appointment.
#[derive(Debug, Clone)]
pub struct Zone {
    tz: TimeZone,
}

impl Zone {
    /// UTC, the fallback for a workspace without a time zone.
    pub fn utc() -> Zone {
        Zone { tz: TimeZone::UTC }
    }

    /// Looks up an IANA zone name (e.g. `America/New_York`) in the bundled tz database.
    ///
    /// # Errors
    ///
    /// [`CapacityError::UnknownTimeZone`] when the name is not in the database.
    pub fn get(name: &str) -> Result<Zone, CapacityError> {
        lookup_zone(name)
            .map(|tz| Zone { tz })
            .ok_or_else(|| CapacityError::UnknownTimeZone {
                name: name.to_string(),
            })
    }

    /// The zone a workspace's caps are counted in: its `timezone`, or **UTC** when it has none
    /// (`None`, empty or only whitespace).
    ///
    /// # Errors
    ///
    /// [`CapacityError::UnknownTimeZone`] when the workspace names an unknown zone; a
    /// misconfigured zone is an error, not a silent fallback to UTC.
    pub fn for_workspace(timezone: Option<&str>) -> Result<Zone, CapacityError> {
        match timezone.map(str::trim) {
            None | Some("") => Ok(Zone::utc()),
            Some(name) => Zone::get(name),
        }
    }

    /// The IANA name of the zone, e.g. `America/New_York` or `UTC`.
    pub fn name(&self) -> &str {
        self.tz.iana_name().unwrap_or("UTC")
    }

    /// The `[start, end)` of the `period` window containing `at` in this zone, as UTC instants
    /// (`start <= at < end`). See [`period_window`].
    ///
    /// # Errors
    ///
    /// [`CapacityError::OutOfRange`] near the ends of the supported range (years ±9999).
    pub fn window(
        &self,
        period: CapPeriod,
        at: Timestamp,
    ) -> Result<(Timestamp, Timestamp), CapacityError> {
        window_in(&self.tz, period, at).ok_or(CapacityError::OutOfRange)
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Zone {}

/// The civil start of the unit of `period` that contains the civil datetime `dt`.
fn unit_start(period: CapPeriod, dt: DateTime) -> Option<DateTime> {
    let date = dt.date();
    Some(match period {
        CapPeriod::Hour => date.at(dt.hour(), 0, 0, 0),
        CapPeriod::Day => date.at(0, 0, 0, 0),
        CapPeriod::Week => {
            let back = i64::from(date.weekday().to_monday_zero_offset());
            date.checked_sub(back.days()).ok()?.at(0, 0, 0, 0)
        }
        CapPeriod::Month => date.first_of_month().at(0, 0, 0, 0),
    })
}

/// The civil start of the unit after (`forward`) or before the unit starting at `start`.
fn unit_step(period: CapPeriod, start: DateTime, forward: bool) -> Option<DateTime> {
    let sign: i64 = if forward { 1 } else { -1 };
    match period {
        CapPeriod::Hour => start.checked_add(sign.hours()).ok(),
        CapPeriod::Day => start.checked_add(sign.days()).ok(),
        CapPeriod::Week => start.checked_add((7 * sign).days()).ok(),
        CapPeriod::Month => {
            let (y, m) = (start.year(), start.month());
            let (y, m) = match (forward, m) {
                (true, 12) => (y.checked_add(1)?, 1),
                (true, m) => (y, m + 1),
                (false, 1) => (y.checked_sub(1)?, 12),
                (false, m) => (y, m - 1),
            };
            Some(Date::new(y, m, 1).ok()?.at(0, 0, 0, 0))
        }
    }
}

/// The window of `period` containing `ts` in `tz`, as instants.
fn window_in(tz: &TimeZone, period: CapPeriod, ts: Timestamp) -> Option<(Timestamp, Timestamp)> {
    let mut unit = unit_start(period, tz.to_datetime(ts))?;
    // The loop settles in one pass except around pathological folds or gaps that straddle a
    // unit boundary; bound it anyway.
    for _ in 0..16 {
        let start = first_instant_at_or_after(tz, unit)?;
        if start > ts {
            unit = unit_step(period, unit, false)?;
            continue;
        }
        // The end is the start of the next unit that is not empty (a unit wholly inside a gap
        // starts and ends at the same instant).
        let mut next = unit_step(period, unit, true)?;
        let mut end = first_instant_at_or_after(tz, next)?;
        let mut skipped = 0;
        while end <= start && skipped < 64 {
            next = unit_step(period, next, true)?;
            end = first_instant_at_or_after(tz, next)?;
            skipped += 1;
        }
        if end <= ts {
            unit = next;
            continue;
        }
        return Some((start, end));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().expect("test timestamp")
    }
    use jiff::SignedDuration;

    fn win(p: CapPeriod, at: Timestamp, tz: &str) -> (Timestamp, Timestamp) {
        period_window(p, at, tz).unwrap()
    }

    #[test]
    fn bundled_database_is_present() {
        assert!(!crate::tz::tzdb().is_definitively_empty());
        assert!(Zone::get("America/New_York").is_ok());
        assert!(Zone::get("Australia/Lord_Howe").is_ok());
        assert_eq!(Zone::get("UTC").unwrap().name(), "UTC");
    }

    #[test]
    fn utc_windows() {
        let at = ts("2026-11-21T14:37:12.5Z"); // a Saturday
        assert_eq!(
            win(CapPeriod::Hour, at, "UTC"),
            (ts("2026-11-21T14:00:00Z"), ts("2026-11-21T15:00:00Z"))
        );
        assert_eq!(
            win(CapPeriod::Day, at, "UTC"),
            (ts("2026-11-21T00:00:00Z"), ts("2026-11-22T00:00:00Z"))
        );
        assert_eq!(
            win(CapPeriod::Week, at, "UTC"),
            (ts("2026-11-16T00:00:00Z"), ts("2026-11-23T00:00:00Z"))
        );
        assert_eq!(
            win(CapPeriod::Month, at, "UTC"),
            (ts("2026-11-01T00:00:00Z"), ts("2026-12-01T00:00:00Z"))
        );
    }

    #[test]
    fn week_starts_monday() {
        // Monday 00:00 belongs to its own week; Sunday 23:59 to the previous one.
        let monday = ts("2026-11-16T00:00:00Z");
        assert_eq!(win(CapPeriod::Week, monday, "UTC").0, monday);
        let sunday = ts("2026-11-15T23:59:59Z");
        assert_eq!(
            win(CapPeriod::Week, sunday, "UTC"),
            (ts("2026-11-09T00:00:00Z"), monday)
        );
        // A week spanning a year end (ISO week 53 of 2026 starts Monday 2026-12-28).
        assert_eq!(
            win(CapPeriod::Week, ts("2027-01-01T12:00:00Z"), "UTC"),
            (ts("2026-12-28T00:00:00Z"), ts("2027-01-04T00:00:00Z"))
        );
    }

    #[test]
    fn month_ends_and_leap_year() {
        assert_eq!(
            win(CapPeriod::Month, ts("2028-02-29T23:59:59Z"), "UTC"),
            (ts("2028-02-01T00:00:00Z"), ts("2028-03-01T00:00:00Z"))
        );
        assert_eq!(
            win(CapPeriod::Month, ts("2027-02-15T00:00:00Z"), "UTC"),
            (ts("2027-02-01T00:00:00Z"), ts("2027-03-01T00:00:00Z"))
        );
        assert_eq!(
            win(CapPeriod::Month, ts("2026-12-31T23:00:00Z"), "UTC"),
            (ts("2026-12-01T00:00:00Z"), ts("2027-01-01T00:00:00Z"))
        );
        // New York, February 2028 (EST throughout): 29 local days.
        assert_eq!(
            win(
                CapPeriod::Month,
                ts("2028-02-29T12:00:00Z"),
                "America/New_York"
            ),
            (ts("2028-02-01T05:00:00Z"), ts("2028-03-01T05:00:00Z"))
        );
        // March 2026 in New York starts in EST and ends in EDT: one hour short of 31 days.
        let (s, e) = win(
            CapPeriod::Month,
            ts("2026-03-15T12:00:00Z"),
            "America/New_York",
        );
        assert_eq!(
            (s, e),
            (ts("2026-03-01T05:00:00Z"), ts("2026-04-01T04:00:00Z"))
        );
        assert_eq!(
            e.duration_since(s),
            SignedDuration::from_hours(31 * 24) - SignedDuration::from_hours(1)
        );
    }

    #[test]
    fn new_york_spring_forward_2026_03_08() {
        let tz = "America/New_York";
        // The day has 23 hours: EST midnight to EDT midnight.
        let (s, e) = win(CapPeriod::Day, ts("2026-03-08T16:00:00Z"), tz);
        assert_eq!(
            (s, e),
            (ts("2026-03-08T05:00:00Z"), ts("2026-03-09T04:00:00Z"))
        );
        assert_eq!(e.duration_since(s), SignedDuration::from_hours(23));
        // 01:30 EST is the last hour before the gap; 03:00 EDT follows it directly.
        assert_eq!(
            win(CapPeriod::Hour, ts("2026-03-08T06:30:00Z"), tz),
            (ts("2026-03-08T06:00:00Z"), ts("2026-03-08T07:00:00Z"))
        );
        assert_eq!(
            win(CapPeriod::Hour, ts("2026-03-08T07:00:00Z"), tz),
            (ts("2026-03-08T07:00:00Z"), ts("2026-03-08T08:00:00Z"))
        );
        // The previous day is 24 hours.
        let (s, e) = win(CapPeriod::Day, ts("2026-03-08T04:59:59Z"), tz);
        assert_eq!(
            (s, e),
            (ts("2026-03-07T05:00:00Z"), ts("2026-03-08T05:00:00Z"))
        );
    }

    #[test]
    fn new_york_fall_back_2026_11_01() {
        let tz = "America/New_York";
        // The day has 25 hours: EDT midnight to EST midnight.
        let (s, e) = win(CapPeriod::Day, ts("2026-11-01T12:00:00Z"), tz);
        assert_eq!(
            (s, e),
            (ts("2026-11-01T04:00:00Z"), ts("2026-11-02T05:00:00Z"))
        );
        assert_eq!(e.duration_since(s), SignedDuration::from_hours(25));
        // Local 01:xx happens twice (EDT, then EST): one 2-hour window.
        let first = ts("2026-11-01T05:30:00Z"); // 01:30 EDT
        let second = ts("2026-11-01T06:30:00Z"); // 01:30 EST
        let expected = (ts("2026-11-01T05:00:00Z"), ts("2026-11-01T07:00:00Z"));
        assert_eq!(win(CapPeriod::Hour, first, tz), expected);
        assert_eq!(win(CapPeriod::Hour, second, tz), expected);
        // The week containing Sunday 2026-11-01 (Mon 2026-10-26 EDT .. Mon 2026-11-02 EST).
        assert_eq!(
            win(CapPeriod::Week, ts("2026-11-01T12:00:00Z"), tz),
            (ts("2026-10-26T04:00:00Z"), ts("2026-11-02T05:00:00Z"))
        );
    }

    #[test]
    fn kolkata_half_hour_offset() {
        let tz = "Asia/Kolkata";
        assert_eq!(
            win(CapPeriod::Hour, ts("2026-05-10T10:45:00Z"), tz),
            (ts("2026-05-10T10:30:00Z"), ts("2026-05-10T11:30:00Z"))
        );
        assert_eq!(
            win(CapPeriod::Hour, ts("2026-05-10T10:29:59Z"), tz),
            (ts("2026-05-10T09:30:00Z"), ts("2026-05-10T10:30:00Z"))
        );
        assert_eq!(
            win(CapPeriod::Day, ts("2026-05-10T10:45:00Z"), tz),
            (ts("2026-05-09T18:30:00Z"), ts("2026-05-10T18:30:00Z"))
        );
    }

    #[test]
    fn lord_howe_half_hour_dst() {
        let tz = "Australia/Lord_Howe";
        // DST ends Sunday 2026-04-05 at 02:00 +11:00, clocks go back to 01:30 +10:30.
        let (s, e) = win(CapPeriod::Day, ts("2026-04-05T00:00:00Z"), tz);
        assert_eq!(
            (s, e),
            (ts("2026-04-04T13:00:00Z"), ts("2026-04-05T13:30:00Z"))
        );
        assert_eq!(e.duration_since(s), SignedDuration::from_mins(24 * 60 + 30));
        // Local 01:xx lasts 90 minutes that night: 01:00 +11 (14:00Z) .. 02:00 +10:30 (15:30Z).
        assert_eq!(
            win(CapPeriod::Hour, ts("2026-04-04T15:10:00Z"), tz),
            (ts("2026-04-04T14:00:00Z"), ts("2026-04-04T15:30:00Z"))
        );
        // DST starts Sunday 2026-10-04 at 02:00 +10:30, clocks jump to 02:30 +11:00.
        let (s, e) = win(CapPeriod::Day, ts("2026-10-04T00:00:00Z"), tz);
        assert_eq!(
            (s, e),
            (ts("2026-10-03T13:30:00Z"), ts("2026-10-04T13:00:00Z"))
        );
        assert_eq!(e.duration_since(s), SignedDuration::from_mins(23 * 60 + 30));
        // Local 02:xx lasts 30 minutes: 02:30 +11 (15:30Z) .. 03:00 +11 (16:00Z).
        assert_eq!(
            win(CapPeriod::Hour, ts("2026-10-03T15:45:00Z"), tz),
            (ts("2026-10-03T15:30:00Z"), ts("2026-10-03T16:00:00Z"))
        );
    }

    #[test]
    fn skipped_day_in_apia() {
        // Samoa skipped Friday 2011-12-30 entirely: Thursday's window ends where Saturday's
        // begins.
        let tz = "Pacific/Apia";
        let (s, e) = win(CapPeriod::Day, ts("2011-12-29T20:00:00Z"), tz);
        let (s2, _) = win(CapPeriod::Day, e, tz);
        assert_eq!(s2, e);
        assert!(s < e);
    }

    #[test]
    fn window_boundaries_are_utc() {
        let at = ts("2026-11-21T10:00:00-05:00");
        let (s, e) = win(CapPeriod::Day, at, "America/New_York");
        assert_eq!(s.to_string(), "2026-11-21T05:00:00Z");
        assert_eq!(e.to_string(), "2026-11-22T05:00:00Z");
        assert_eq!(s, ts("2026-11-21T05:00:00Z"));
    }

    #[test]
    fn unknown_zone_is_a_typed_error() {
        let err =
            period_window(CapPeriod::Day, ts("2026-01-01T00:00:00Z"), "Mars/Olympus").unwrap_err();
        assert_eq!(
            err,
            CapacityError::UnknownTimeZone {
                name: "Mars/Olympus".into()
            }
        );
        assert_eq!(err.code(), "unknown_time_zone");
        assert!(period_window(CapPeriod::Day, ts("2026-01-01T00:00:00Z"), "").is_err());
    }

    #[test]
    fn workspace_without_zone_counts_in_utc() {
        assert_eq!(Zone::for_workspace(None).unwrap().name(), "UTC");
        assert_eq!(Zone::for_workspace(Some("  ")).unwrap().name(), "UTC");
        assert_eq!(
            Zone::for_workspace(Some("America/Chicago")).unwrap().name(),
            "America/Chicago"
        );
        assert!(Zone::for_workspace(Some("Nowhere/Land")).is_err());
    }

    #[test]
    fn out_of_range_is_an_error() {
        // The month after the last instant a Timestamp holds cannot end.
        let far = Timestamp::MAX;
        assert_eq!(
            Zone::utc()
                .window(CapPeriod::Month, far)
                .unwrap_err()
                .code(),
            "time_out_of_range"
        );
    }

    #[test]
    fn counter_keys() {
        assert_eq!(
            counter_key(
                CapScope::Workspace,
                "solar_in_001",
                CapPeriod::Day,
                ts("2026-11-21T05:00:00Z")
            ),
            "workspace:solar_in_001:day:2026-11-21T05:00:00Z"
        );
        // Offsets are normalized to UTC.
        assert_eq!(
            counter_key(
                CapScope::Rule,
                "42",
                CapPeriod::Hour,
                ts("2026-05-10T16:00:00+05:30")
            ),
            "rule:42:hour:2026-05-10T10:30:00Z"
        );
        assert_eq!(
            counter_key(
                CapScope::Rule,
                "7",
                CapPeriod::Week,
                ts("2026-05-10T16:00:00.25Z")
            ),
            "rule:7:week:2026-05-10T16:00:00.25Z"
        );
    }

    #[test]
    fn codes_and_serde() {
        for p in CapPeriod::ALL {
            assert_eq!(CapPeriod::parse(p.code()), Some(p));
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.code())
            );
            assert_eq!(CapPeriod::ALL[p.index()], p);
        }
        for s in [CapScope::Workspace, CapScope::Rule] {
            assert_eq!(CapScope::parse(s.code()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.code())
            );
        }
        let c: Capacity = serde_json::from_str(
            r#"{"caps":[{"period":"day","limit":25}],"budget":{"amount":500000,"period":"month"}}"#,
        )
        .unwrap();
        assert_eq!(
            c.caps,
            vec![Cap {
                period: CapPeriod::Day,
                limit: 25
            }]
        );
        assert_eq!(
            c.budget,
            Some(Budget {
                amount: Cents(500000),
                period: CapPeriod::Month
            })
        );
        assert_eq!(c.periods(), vec![CapPeriod::Day, CapPeriod::Month]);
        let empty: Capacity = serde_json::from_str("{}").unwrap();
        assert!(empty.is_unlimited());
        assert_eq!(empty, Capacity::unlimited());
        assert!(empty.periods().is_empty());
        let v = CapViolation::CapReached {
            period: CapPeriod::Day,
            limit: 10,
            used: 10,
        };
        assert_eq!(
            serde_json::to_value(v).unwrap(),
            serde_json::json!({"code": "cap_reached", "period": "day", "limit": 10, "used": 10})
        );
        assert_eq!(v.to_string(), "day cap of 10 reached (10 used)");
    }

    #[test]
    fn check_caps_and_budget() {
        let capacity = Capacity {
            caps: vec![
                Cap {
                    period: CapPeriod::Hour,
                    limit: 2,
                },
                Cap {
                    period: CapPeriod::Day,
                    limit: 5,
                },
                Cap {
                    period: CapPeriod::Day,
                    limit: 4,
                },
            ],
            budget: Some(Budget {
                amount: Cents(10_000),
                period: CapPeriod::Month,
            }),
        };
        assert_eq!(check(&capacity, &Usage::default(), Cents(2_500)), Ok(()));
        let mut used = Usage::default();
        used.set_count(CapPeriod::Hour, 2);
        assert_eq!(
            check(&capacity, &used, Cents(0)),
            Err(CapViolation::CapReached {
                period: CapPeriod::Hour,
                limit: 2,
                used: 2
            })
        );
        // Both hour and day reached: the day cap (longer, and its smallest limit) is reported.
        used.set_count(CapPeriod::Day, 4);
        let v = check(&capacity, &used, Cents(0)).unwrap_err();
        assert_eq!(
            v,
            CapViolation::CapReached {
                period: CapPeriod::Day,
                limit: 4,
                used: 4
            }
        );
        assert_eq!((v.code(), v.period()), ("cap_reached", CapPeriod::Day));
        // Budget: exactly filling it is fine, exceeding it is not.
        let mut used = Usage {
            spent_in_budget_period: Cents(7_500),
            ..Usage::default()
        };
        assert_eq!(check(&capacity, &used, Cents(2_500)), Ok(()));
        let v = check(&capacity, &used, Cents(2_501)).unwrap_err();
        assert_eq!(v.code(), "budget_spent");
        assert_eq!(v.period(), CapPeriod::Month);
        used.spent_in_budget_period = Cents(10_000);
        assert!(check(&capacity, &used, Cents(1)).is_err());
        assert_eq!(check(&capacity, &used, Cents(0)), Ok(()));
        // A zero cap blocks everything; no caps at all blocks nothing.
        let paused = Capacity {
            caps: vec![Cap {
                period: CapPeriod::Month,
                limit: 0,
            }],
            budget: None,
        };
        assert!(check(&paused, &Usage::default(), Cents(0)).is_err());
        let huge = Usage {
            per_period_count: [u32::MAX; 4],
            spent_in_budget_period: Cents(i64::MAX),
        };
        assert_eq!(
            check(&Capacity::unlimited(), &huge, Cents(i64::MAX)),
            Ok(())
        );
    }

    #[test]
    fn validate_budget() {
        let bad = Capacity {
            caps: vec![],
            budget: Some(Budget {
                amount: Cents(-1),
                period: CapPeriod::Day,
            }),
        };
        assert_eq!(bad.validate().unwrap_err().code(), "invalid_budget");
        assert!(Capacity::unlimited().validate().is_ok());
    }

    const ZONES: &[&str] = &[
        "UTC",
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "America/St_Johns",
        "America/Sao_Paulo",
        "Pacific/Apia",
        "Europe/London",
        "America/Santiago",
    ];

    fn period_strategy() -> impl Strategy<Value = CapPeriod> {
        prop::sample::select(CapPeriod::ALL.to_vec())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn windows_contain_are_stable_and_tile(
            zone in prop::sample::select(ZONES.to_vec()),
            period in period_strategy(),
            // 1900 .. 2100, nanosecond resolution.
            secs in -2_208_988_800i64..4_102_444_800i64,
            nanos in 0u32..1_000_000_000u32,
        ) {
            let zone = Zone::get(zone).unwrap();
            let at = Timestamp::from_second(secs).unwrap()
                + SignedDuration::from_nanos(i64::from(nanos));
            let (s, e) = zone.window(period, at).unwrap();
            prop_assert!(s <= at && at < e, "{s} <= {at} < {e}");
            // The window of its own start (and of its last nanosecond) is the same window.
            prop_assert_eq!(zone.window(period, s).unwrap(), (s, e));
            prop_assert_eq!(zone.window(period, e - SignedDuration::from_nanos(1)).unwrap(), (s, e));
            // Windows tile: the next window starts where this one ends, the previous ends
            // where this one starts.
            let (s2, e2) = zone.window(period, e).unwrap();
            prop_assert_eq!(s2, e);
            prop_assert!(e2 > e);
            let (_, e0) = zone.window(period, s - SignedDuration::from_nanos(1)).unwrap();
            prop_assert_eq!(e0, s);
            // Lengths stay plausible.
            let max = match period {
                CapPeriod::Hour => SignedDuration::from_hours(3),
                CapPeriod::Day => SignedDuration::from_hours(50),
                CapPeriod::Week => SignedDuration::from_hours(8 * 24),
                CapPeriod::Month => SignedDuration::from_hours(33 * 24),
            };
            prop_assert!(e.duration_since(s) <= max, "{period} window {s}..{e} too long");
        }
    }
}
