//! Time-zone helpers shared by [`crate::capacity`] and [`crate::schedule`]: the IANA tz database
//! bundled by [`jiff`](https://docs.rs/jiff) (independent of the host), zone lookup, and
//! wall-clock times to instants across DST gaps and folds. Crate-private; this module imports nothing from the crate.

use std::sync::OnceLock;

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone, TimeZoneDatabase};
use jiff::Timestamp;

/// The bundled IANA tz database, independent of the host.
pub(crate) fn tzdb() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

/// Resolves an IANA name in the bundled database; `UTC` always resolves.
pub(crate) fn lookup_zone(name: &str) -> Option<TimeZone> {
    if name.is_empty() {
        return None;
    }
    if name == "UTC" {
        return Some(TimeZone::UTC);
    }
    tzdb().get(name).ok()
}

/// Every instant whose local wall clock reads `dt`: none in a gap, two in a fold.
pub(crate) fn instants_of(tz: &TimeZone, dt: DateTime) -> Vec<Timestamp> {
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => {
            offset.to_timestamp(dt).ok().into_iter().collect()
        }
        AmbiguousOffset::Gap { .. } => Vec::new(),
        AmbiguousOffset::Fold { before, after } => {
            let mut v: Vec<Timestamp> = [before, after]
                .into_iter()
                .filter_map(|o| o.to_timestamp(dt).ok())
                .collect();
            v.sort();
            v
        }
    }
}

/// The first instant whose local wall clock reads `dt` or later: the instant itself when
/// unambiguous, the earlier one in a fold, the transition instant in a gap.
pub(crate) fn first_instant_at_or_after(tz: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    let amb = tz.to_ambiguous_timestamp(dt);
    match amb.offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok(),
        AmbiguousOffset::Fold { .. } => amb.earlier().ok(),
        AmbiguousOffset::Gap { before, after } => {
            // With the post-gap offset, `dt` maps to an instant before the transition; with
            // the pre-gap offset, to one at or after it. The transition is the first one
            // following the former.
            let lo = after.to_timestamp(dt).ok()?;
            let hi = before.to_timestamp(dt).ok()?;
            let transition = tz
                .following(lo)
                .next()
                .map(|t| t.timestamp())
                .filter(|t| *t <= hi);
            Some(transition.unwrap_or(hi))
        }
    }
}

/// Whole seconds since the Unix epoch, floored (as the clock face reads, also before 1970;
/// [`Timestamp::as_second`] truncates toward zero).
pub(crate) fn unix_seconds(t: Timestamp) -> i64 {
    t.as_second() - i64::from(t.subsec_nanosecond() < 0)
}
