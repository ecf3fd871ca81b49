//! Quiet hours: when a lead may be called, in the called party's local time.
//!
//! The rule of 47 CFR §64.1200(c)(1): no telephone solicitation before 8:00 or after 21:00
//! local time at the called party's location. Some states are stricter (Fla. Stat.
//! §501.616(6): 8:00–20:00 and at most 3 calls per 24 hours on the same subject; Md. Code,
//! Com. Law §14-4503: the same; Okla. Stat. tit. 15, §775C.4: 3 calls per 24 hours). The rules
//! are data, not code: [`ContactRules`] reads them from `core/data/contact_rules.json` (bundled)
//! or from custom JSON, with a daily window, an attempt cap, Sundays and holidays per state.
//!
//! # Where the called party is
//!
//! [`call_zones`] gathers every IANA zone the lead may be in: the zone of its ZIP (from the
//! bundled [`ZipTable`]) and the zones of its phone's area code ([`AreaCodeZones`]: every zone
//! of a ZIP that lists the area code; a cell phone keeps its area code when its owner moves).
//! When they disagree, an instant is allowed only when it is allowed in **every** zone: a New
//! York ZIP with a California cell number may be called 11:00–21:00 New York time. A lead with
//! no zone at all is held ([`HoldReason::UnknownZone`]), never called.
//!
//! # Semantics
//!
//! - The window is `[start, end)` on the local wall clock of each zone: with the default
//!   8:00–21:00, 20:59:59 local is allowed and 21:00:00 is not.
//! - DST is exact: each local day's window is read with the offset in force at each instant
//!   (jiff's bundled IANA database, independent of the host). On a spring-forward day 8:00
//!   local is an hour closer to midnight UTC; a window edge that falls in a gap opens at the
//!   transition, one in a fold is crossed twice (both stretches are allowed).
//! - With `no_sundays`, or on a listed holiday, the whole local date is closed in that zone.
//! - The state whose rule applies is the lead's [`CallZones::state`]: the ZIP's, else the area
//!   code's when it serves a single state; without one, the default rule.
//! - Searches look 8 days ahead or back ([`SEARCH_DAYS`]): combinations that never overlap (a
//!   short custom window in zones hours apart) end as [`HoldReason::NoCommonWindow`], not as a
//!   loop.
//!
//! # Examples
//!
//! ```
//! use leadroute_core::quiet_hours::{check, CallWindow, CallZones, ContactRules};
//! let ts = |s: &str| -> jiff::Timestamp { s.parse().unwrap() };
//!
//! let rules = ContactRules::bundled()?;
//! let zones = CallZones {
//!     zip_zone: Some("America/New_York".into()),
//!     area_zones: vec!["America/Los_Angeles".into()],
//!     state: Some("NY".into()),
//! };
//! // 9:00 in New York is 6:00 in Los Angeles: wait for 8:00 there, 11:00 in New York.
//! assert_eq!(
//!     check(rules, &zones, ts("2026-06-10T13:00:00Z")),
//!     CallWindow::NotBefore(ts("2026-06-10T15:00:00Z"))
//! );
//! assert_eq!(check(rules, &zones, ts("2026-06-10T15:00:00Z")), CallWindow::Allowed);
//! # Ok::<(), leadroute_core::quiet_hours::ContactRulesError>(())
//! ```

use std::collections::BTreeMap;
use std::sync::OnceLock;

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use crate::model::ClockTime;
use crate::tz::lookup_zone;
use crate::zip::{Zip5, ZipTable};

/// How far [`check`] looks ahead and [`last_allowed_at_or_before`] looks back, in days.
pub const SEARCH_DAYS: i64 = 8;

/// The bundled rules (`core/data/contact_rules.json`).
const BUNDLED_RULES: &str = include_str!("../data/contact_rules.json");

/// Errors of reading contact rules. Each has a stable snake_case [`code`](Self::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContactRulesError {
    /// The JSON could not be read into the rules' shape (syntax, an unknown field, a time not
    /// `HH:MM`, a date not `YYYY-MM-DD`).
    #[error("invalid contact rules JSON: {message}")]
    InvalidJson {
        /// The parser's message.
        message: String,
    },
    /// A window does not start before it ends.
    #[error("contact rule {scope}: window {start}–{end} does not start before it ends")]
    InvalidWindow {
        /// `default` or the state code.
        scope: String,
        /// The window's start.
        start: ClockTime,
        /// The window's end.
        end: ClockTime,
    },
    /// The default rule has no window.
    #[error("the default contact rule has no window")]
    MissingDefaultWindow,
    /// A state key is not a two-letter uppercase USPS code.
    #[error("contact rule state {0:?} is not a two-letter uppercase USPS code")]
    InvalidState(String),
    /// `max_attempts_per_24h` is 0.
    #[error("contact rule {scope}: max_attempts_per_24h must be at least 1")]
    InvalidAttemptCap {
        /// `default` or the state code.
        scope: String,
    },
    /// A rule has a blank `source` (every rule cites its law).
    #[error("contact rule {scope}: source is blank")]
    MissingSource {
        /// `default` or the state code.
        scope: String,
    },
}

impl ContactRulesError {
    /// Stable snake_case code: `invalid_contact_rules_json`, `invalid_call_window`,
    /// `missing_default_window`, `invalid_state_code`, `invalid_attempt_cap`,
    /// `missing_rule_source`.
    pub fn code(&self) -> &'static str {
        match self {
            ContactRulesError::InvalidJson { .. } => "invalid_contact_rules_json",
            ContactRulesError::InvalidWindow { .. } => "invalid_call_window",
            ContactRulesError::MissingDefaultWindow => "missing_default_window",
            ContactRulesError::InvalidState(_) => "invalid_state_code",
            ContactRulesError::InvalidAttemptCap { .. } => "invalid_attempt_cap",
            ContactRulesError::MissingSource { .. } => "missing_rule_source",
        }
    }

    /// [`ErrorKind::InvalidInput`](crate::kind::ErrorKind::InvalidInput).
    pub fn kind(&self) -> crate::kind::ErrorKind {
        crate::kind::ErrorKind::InvalidInput
    }
}

/// A daily calling window in local wall-clock time, `[start, end)`.
///
/// JSON shape: `{"start": "08:00", "end": "21:00"}` (`HH:MM`, 24-hour; `end` may be `24:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailyWindow {
    /// First allowed local time (inclusive).
    pub start: ClockTime,
    /// First local time no longer allowed (exclusive).
    pub end: ClockTime,
}

/// One rule: the default (47 CFR §64.1200(c)(1)) or a state's.
///
/// JSON shape (every field but `source` optional):
///
/// ```json
/// {"window": {"start": "08:00", "end": "20:00"}, "max_attempts_per_24h": 3,
///  "no_sundays": true, "holidays": ["2026-12-25"], "source": "Fla. Stat. §501.616(6)"}
/// ```
///
/// A state's missing field falls back to the default rule's; holidays add up.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactRule {
    /// The daily window, local time of the called party.
    #[serde(default)]
    pub window: Option<DailyWindow>,
    /// At most this many attempts in any 24 hours (same subject), when set.
    #[serde(default)]
    pub max_attempts_per_24h: Option<u32>,
    /// No calls on local Sundays, when `Some(true)`.
    #[serde(default)]
    pub no_sundays: Option<bool>,
    /// Local dates on which no call is allowed.
    #[serde(default)]
    pub holidays: Vec<Date>,
    /// The citation of the rule, e.g. `Fla. Stat. §501.616(6)`.
    pub source: String,
}

/// The JSON document: `{"default": {...}, "states": {"FL": {...}, ...}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesDoc {
    default: ContactRule,
    #[serde(default)]
    states: BTreeMap<String, ContactRule>,
}

/// Contact rules: a default rule and per-state rules keyed by USPS code (`FL`).
///
/// # JSON shape
///
/// ```json
/// {"default": {"window": {"start": "08:00", "end": "21:00"}, "source": "47 CFR §64.1200(c)(1)"},
///  "states": {"FL": {"window": {"start": "08:00", "end": "20:00"}, "max_attempts_per_24h": 3,
///                    "source": "Fla. Stat. §501.616(6)"}}}
/// ```
///
/// Unknown fields are refused, so that a misspelt `no_sunday` is an error rather than ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRules {
    default: ContactRule,
    default_window: DailyWindow,
    states: BTreeMap<String, ContactRule>,
}

impl ContactRules {
    /// The bundled rules (`core/data/contact_rules.json`): the federal 8:00–21:00 window,
    /// Florida and Maryland 8:00–20:00 with 3 attempts per 24 h, Oklahoma 3 attempts per
    /// 24 h. Parsed once per process.
    ///
    /// # Errors
    ///
    /// A [`ContactRulesError`] if the bundled file were invalid (a test guards it).
    pub fn bundled() -> Result<&'static ContactRules, ContactRulesError> {
        static RULES: OnceLock<Result<ContactRules, ContactRulesError>> = OnceLock::new();
        RULES
            .get_or_init(|| ContactRules::from_json(BUNDLED_RULES))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Reads and validates rules in the [JSON shape](ContactRules#json-shape).
    ///
    /// # Errors
    ///
    /// [`ContactRulesError::InvalidJson`] for JSON not in the shape; then, from validation,
    /// [`ContactRulesError::MissingDefaultWindow`], [`ContactRulesError::InvalidWindow`]
    /// (`start >= end`), [`ContactRulesError::InvalidState`],
    /// [`ContactRulesError::InvalidAttemptCap`] (0) and [`ContactRulesError::MissingSource`].
    pub fn from_json(json: &str) -> Result<ContactRules, ContactRulesError> {
        let doc: RulesDoc =
            serde_json::from_str(json).map_err(|e| ContactRulesError::InvalidJson {
                message: e.to_string(),
            })?;
        validate_rule("default", &doc.default)?;
        for (state, rule) in &doc.states {
            if !is_state_code(state) {
                return Err(ContactRulesError::InvalidState(state.clone()));
            }
            validate_rule(state, rule)?;
        }
        let default_window = doc
            .default
            .window
            .ok_or(ContactRulesError::MissingDefaultWindow)?;
        Ok(ContactRules {
            default: doc.default,
            default_window,
            states: doc.states,
        })
    }

    /// The default rule.
    pub fn default_rule(&self) -> &ContactRule {
        &self.default
    }

    /// The rule of `state` (USPS code, `FL`), if it has one.
    pub fn state_rule(&self, state: &str) -> Option<&ContactRule> {
        self.states.get(state)
    }

    /// The daily window for a lead in `state`: the state's, else the default.
    pub fn window_for(&self, state: Option<&str>) -> DailyWindow {
        self.rule_of(state)
            .and_then(|r| r.window)
            .unwrap_or(self.default_window)
    }

    /// The attempt cap per 24 hours for a lead in `state`: the state's, else the default's.
    pub fn max_attempts_for(&self, state: Option<&str>) -> Option<u32> {
        self.rule_of(state)
            .and_then(|r| r.max_attempts_per_24h)
            .or(self.default.max_attempts_per_24h)
    }

    /// Whether the local date `date` is closed for a lead in `state`: a Sunday under a
    /// `no_sundays` rule (the state's, else the default's), or a holiday of the default or
    /// of the state.
    pub fn closed_on(&self, state: Option<&str>, date: Date) -> bool {
        let rule = self.rule_of(state);
        let no_sundays = rule
            .and_then(|r| r.no_sundays)
            .or(self.default.no_sundays)
            .unwrap_or(false);
        (no_sundays && date.weekday() == Weekday::Sunday)
            || self.default.holidays.contains(&date)
            || rule.is_some_and(|r| r.holidays.contains(&date))
    }

    /// The citations that apply to a lead in `state`: the default's, then the state's.
    pub fn sources_for(&self, state: Option<&str>) -> Vec<&str> {
        std::iter::once(self.default.source.as_str())
            .chain(self.rule_of(state).map(|r| r.source.as_str()))
            .collect()
    }

    fn rule_of(&self, state: Option<&str>) -> Option<&ContactRule> {
        state.and_then(|s| self.states.get(s))
    }
}

fn is_state_code(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

fn validate_rule(scope: &str, rule: &ContactRule) -> Result<(), ContactRulesError> {
    if let Some(w) = rule.window {
        if w.start >= w.end {
            return Err(ContactRulesError::InvalidWindow {
                scope: scope.to_string(),
                start: w.start,
                end: w.end,
            });
        }
    }
    if rule.max_attempts_per_24h == Some(0) {
        return Err(ContactRulesError::InvalidAttemptCap {
            scope: scope.to_string(),
        });
    }
    if rule.source.trim().is_empty() {
        return Err(ContactRulesError::MissingSource {
            scope: scope.to_string(),
        });
    }
    Ok(())
}

/// Per NANP area code: the IANA zones and the states of the ZIPs that list it.
#[derive(Debug, Clone, Default)]
struct AreaEntry {
    zones: Vec<String>,
    states: Vec<String>,
}

/// An index area code → IANA zones (and states), built from a [`ZipTable`]: the zones of all
/// ZIPs listing the area code. Zone names the bundled tz database does not know are left out.
/// Dense by area code (1,000 slots): a lookup is an array index.
#[derive(Debug, Clone)]
pub struct AreaCodeZones {
    slots: Vec<AreaEntry>,
}

impl AreaCodeZones {
    /// Builds the index from `zips` (one pass over the table: build once, then share).
    pub fn from_zip_table(zips: &ZipTable) -> AreaCodeZones {
        let mut slots = vec![AreaEntry::default(); 1000];
        let mut known: Vec<(String, bool)> = Vec::new();
        let all =
            (0..Zip5::COUNT as u32).filter_map(|n| Zip5::from_u32(n).and_then(|z| zips.get(z)));
        for info in all {
            let zone = info
                .timezone
                .as_deref()
                .filter(|name| is_known_zone(&mut known, name));
            for &npa in &info.area_codes {
                let Some(entry) = slots.get_mut(usize::from(npa)) else {
                    continue;
                };
                if let Some(zone) = zone {
                    insert_sorted(&mut entry.zones, zone);
                }
                if !info.state.is_empty() {
                    insert_sorted(&mut entry.states, &info.state);
                }
            }
        }
        AreaCodeZones { slots }
    }

    /// The index of the bundled table ([`ZipTable::bundled`]), built once per process.
    pub fn bundled() -> &'static AreaCodeZones {
        static INDEX: OnceLock<AreaCodeZones> = OnceLock::new();
        INDEX.get_or_init(|| AreaCodeZones::from_zip_table(ZipTable::bundled()))
    }

    /// The IANA zones of `area_code` (sorted, deduplicated; empty when unknown).
    pub fn zones(&self, area_code: u16) -> &[String] {
        self.slots
            .get(usize::from(area_code))
            .map_or(&[], |e| e.zones.as_slice())
    }

    /// The USPS state code of `area_code` when all its ZIPs are in one state.
    pub fn state(&self, area_code: u16) -> Option<&str> {
        match self.slots.get(usize::from(area_code))?.states.as_slice() {
            [one] => Some(one.as_str()),
            _ => None,
        }
    }
}

/// Whether the tz database knows `name`, memoized in `known` (a table has a few dozen zones).
fn is_known_zone(known: &mut Vec<(String, bool)>, name: &str) -> bool {
    if let Some((_, ok)) = known.iter().find(|(n, _)| n == name) {
        return *ok;
    }
    let ok = lookup_zone(name).is_some();
    known.push((name.to_string(), ok));
    ok
}

fn insert_sorted(v: &mut Vec<String>, s: &str) {
    if let Err(at) = v.binary_search_by(|x| x.as_str().cmp(s)) {
        v.insert(at, s.to_string());
    }
}

/// The NANP area code (NPA) of an E.164 number `+1NPANXXXXXX`; `None` for anything else.
///
/// # Examples
///
/// ```
/// use leadroute_core::quiet_hours::area_code;
/// assert_eq!(area_code("+12125550123"), Some(212));
/// assert_eq!(area_code("+442070313000"), None);
/// ```
pub fn area_code(phone_e164: &str) -> Option<u16> {
    let digits = phone_e164.strip_prefix("+1")?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.get(..3)?.parse().ok()
}

/// Where a lead may be, for quiet hours: IANA zone names and the state whose rule applies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallZones {
    /// The zone of the lead's ZIP, when the table has one.
    pub zip_zone: Option<String>,
    /// The zones of the phone's area code (all ZIPs listing it).
    pub area_zones: Vec<String>,
    /// USPS code of the state whose rule applies: the ZIP's, else the area code's when it
    /// serves one state.
    pub state: Option<String>,
}

impl CallZones {
    /// Every zone name, the ZIP's first, deduplicated.
    pub fn all(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for z in self.zip_zone.iter().chain(&self.area_zones) {
            if !out.contains(&z.as_str()) {
                out.push(z);
            }
        }
        out
    }
}

/// The zones of a lead from its ZIP (`zips`) and its phone's area code (`area_index`).
///
/// `phone_e164` is E.164 (`+12125550123`); a non-NANP number gives no area zones. A ZIP the
/// table does not list, or whose zone the tz database does not know, gives no ZIP zone.
pub fn call_zones(
    zips: &ZipTable,
    area_index: &AreaCodeZones,
    zip: Option<Zip5>,
    phone_e164: Option<&str>,
) -> CallZones {
    let info = zip.and_then(|z| zips.get(z));
    let zip_zone = info
        .and_then(|i| i.timezone.as_deref())
        .filter(|name| lookup_zone(name).is_some())
        .map(str::to_string);
    let npa = phone_e164.and_then(area_code);
    let area_zones = npa.map_or_else(Vec::new, |n| area_index.zones(n).to_vec());
    let state = info
        .map(|i| i.state.as_str())
        .filter(|s| !s.is_empty())
        .or_else(|| npa.and_then(|n| area_index.state(n)))
        .map(str::to_string);
    CallZones {
        zip_zone,
        area_zones,
        state,
    }
}

/// Why a lead is held rather than called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HoldReason {
    /// Neither the ZIP nor the area code gives a zone (or a zone name is unknown to the tz
    /// database): the called party's local time cannot be known.
    UnknownZone,
    /// No instant within [`SEARCH_DAYS`] is allowed in every zone (windows that never overlap,
    /// or every day closed).
    NoCommonWindow,
}

impl HoldReason {
    /// Stable snake_case code: `unknown_zone`, `no_common_window`.
    pub fn code(self) -> &'static str {
        match self {
            HoldReason::UnknownZone => "unknown_zone",
            HoldReason::NoCommonWindow => "no_common_window",
        }
    }
}

impl std::fmt::Display for HoldReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The answer of [`check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallWindow {
    /// The instant is allowed in every zone.
    Allowed,
    /// Not now; the earliest instant after it that is allowed in every zone (an absolute
    /// instant, shown in UTC).
    NotBefore(Timestamp),
    /// Do not call: hold the lead, with the reason.
    Held(HoldReason),
}

/// Whether a lead in `zones` may be called at `at`, under the window (and Sundays, holidays)
/// of the lead's state in `rules`.
///
/// [`CallWindow::Allowed`] when `at` is in the window in every zone;
/// [`CallWindow::NotBefore`] with the earliest instant `> at` that is, within
/// [`SEARCH_DAYS`]; [`CallWindow::Held`] with [`HoldReason::UnknownZone`] when there is no
/// zone, [`HoldReason::NoCommonWindow`] when the search finds nothing. Source: 47 CFR
/// §64.1200(c)(1) and the state rules in `rules`.
pub fn check(rules: &ContactRules, zones: &CallZones, at: Timestamp) -> CallWindow {
    let Some(zs) = resolve(zones) else {
        return CallWindow::Held(HoldReason::UnknownZone);
    };
    let horizon = at
        .checked_add(SignedDuration::from_hours(SEARCH_DAYS * 24))
        .unwrap_or(Timestamp::MAX);
    match common_intervals(rules, zones.state.as_deref(), &zs, at, horizon).first() {
        Some(&(start, _)) if start <= at => CallWindow::Allowed,
        Some(&(start, _)) => CallWindow::NotBefore(start),
        None => CallWindow::Held(HoldReason::NoCommonWindow),
    }
}

/// The latest instant `<= t` allowed in every zone (for a reminder that would fall in quiet
/// hours: it moves to the last allowed time before).
///
/// `t` itself when allowed; else the start of the last minute of the latest allowed stretch
/// before `t` (20:59:00 local for a window ending at 21:00), or the stretch's start if it is
/// shorter than a minute. `None` when the zones are unknown or nothing is allowed in the
/// [`SEARCH_DAYS`] before `t`.
pub fn last_allowed_at_or_before(
    rules: &ContactRules,
    zones: &CallZones,
    t: Timestamp,
) -> Option<Timestamp> {
    let zs = resolve(zones)?;
    let lo = t
        .checked_sub(SignedDuration::from_hours(SEARCH_DAYS * 24))
        .unwrap_or(Timestamp::MIN);
    let hi = t.checked_add(SignedDuration::from_nanos(1)).ok()?;
    let &(start, end) = common_intervals(rules, zones.state.as_deref(), &zs, lo, hi).last()?;
    if end >= hi {
        return Some(t);
    }
    let last_minute = end
        .checked_sub(SignedDuration::from_mins(1))
        .unwrap_or(start);
    Some(last_minute.max(start))
}

/// Whether a new attempt at `at` respects the attempt cap of `state` (Fla. Stat.
/// §501.616(6)(b), Okla. Stat. tit. 15, §775C.4, Md. Code, Com. Law §14-4503: 3 per 24 hours
/// on the same subject).
///
/// `recent_attempts` are the earlier attempts on the same subject (any order; those after `at`
/// are ignored). Without a cap, always `Ok`.
///
/// # Errors
///
/// `Err(next)` when `max` attempts already fall in `(at − 24 h, at]`: `next` is the first
/// instant at which a new attempt is allowed (the `max`-th most recent attempt + 24 h).
pub fn attempts_check(
    rules: &ContactRules,
    state: Option<&str>,
    recent_attempts: &[Timestamp],
    at: Timestamp,
) -> Result<(), Timestamp> {
    let Some(max) = rules.max_attempts_for(state) else {
        return Ok(());
    };
    let day = SignedDuration::from_hours(24);
    let since = at.checked_sub(day).unwrap_or(Timestamp::MIN);
    let mut within: Vec<Timestamp> = recent_attempts
        .iter()
        .copied()
        .filter(|&a| a > since && a <= at)
        .collect();
    within.sort_unstable_by(|a, b| b.cmp(a));
    match within.get((max as usize).saturating_sub(1)) {
        None => Ok(()),
        Some(&oldest_counted) => Err(oldest_counted.checked_add(day).unwrap_or(Timestamp::MAX)),
    }
}

/// The zones of `zones` resolved in the tz database; `None` when there is none or a name is
/// unknown.
fn resolve(zones: &CallZones) -> Option<Vec<TimeZone>> {
    let names = zones.all();
    if names.is_empty() {
        return None;
    }
    names.into_iter().map(lookup_zone).collect()
}

/// A half-open span of instants `[start, end)`.
type Span = (Timestamp, Timestamp);

/// The instants in `[lo, hi)` allowed in every zone of `zones`, as sorted disjoint spans.
fn common_intervals(
    rules: &ContactRules,
    state: Option<&str>,
    zones: &[TimeZone],
    lo: Timestamp,
    hi: Timestamp,
) -> Vec<Span> {
    let window = rules.window_for(state);
    let closed = |d: Date| rules.closed_on(state, d);
    let mut zones = zones.iter();
    let Some(first) = zones.next() else {
        return Vec::new();
    };
    let mut acc = zone_intervals(first, window, &closed, lo, hi);
    for tz in zones {
        acc = intersect(&acc, &zone_intervals(tz, window, &closed, lo, hi));
    }
    acc
}

/// The instants in `[lo, hi)` whose local wall clock in `tz` is within `window` on a date not
/// `closed`, as sorted disjoint spans. Exact across offset transitions: between two
/// transitions the offset is fixed and the wall clock moves with the instant.
fn zone_intervals(
    tz: &TimeZone,
    window: DailyWindow,
    closed: &impl Fn(Date) -> bool,
    lo: Timestamp,
    hi: Timestamp,
) -> Vec<Span> {
    let mut out = Vec::new();
    let mut transitions = tz
        .following(lo)
        .map(|t| t.timestamp())
        .take_while(|&t| t < hi);
    let mut a = lo;
    while a < hi {
        let b = transitions.next().filter(|&t| t > a).unwrap_or(hi);
        fixed_offset_intervals(tz.to_offset(a), window, closed, (a, b), &mut out);
        a = b;
    }
    merge(out)
}

/// The allowed spans within `seg`, during which the offset is `offset`.
fn fixed_offset_intervals(
    offset: Offset,
    window: DailyWindow,
    closed: &impl Fn(Date) -> bool,
    seg: Span,
    out: &mut Vec<Span>,
) {
    let (a, b) = seg;
    let first = offset.to_datetime(a).date();
    let last = offset.to_datetime(b).date();
    let mut day = first;
    while day <= last {
        if !closed(day) {
            let start = local_instant(offset, day, window.start);
            let end = local_instant(offset, day, window.end);
            if let (Some(s), Some(e)) = (start, end) {
                let (s, e) = (s.max(a), e.min(b));
                if s < e {
                    out.push((s, e));
                }
            }
        }
        match day.tomorrow() {
            Ok(next) => day = next,
            Err(_) => break,
        }
    }
}

/// The instant at which local time `day` `time` reads under a fixed `offset` (`24:00` is the
/// next day's midnight).
fn local_instant(offset: Offset, day: Date, time: ClockTime) -> Option<Timestamp> {
    let minutes = time.minutes();
    let dt: DateTime = if minutes >= 24 * 60 {
        day.tomorrow().ok()?.at(0, 0, 0, 0)
    } else {
        day.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0)
    };
    offset.to_timestamp(dt).ok()
}

/// Sorts spans and joins those that overlap or touch.
fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// The intersection of two sorted lists of disjoint spans.
fn intersect(a: &[Span], b: &[Span]) -> Vec<Span> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while let (Some(&(s1, e1)), Some(&(s2, e2))) = (a.get(i), b.get(j)) {
        let (s, e) = (s1.max(s2), e1.min(e2));
        if s < e {
            out.push((s, e));
        }
        if e1 <= e2 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests;
