//! [`Clock`]: where the engine gets "now", injected through [`super::EngineConfig::clock`].
//!
//! Every time the engine stores (received, routed, attempted, billed, audited) comes from
//! the configured clock, so that tests and replays run at any instant.

use jiff::Timestamp;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time (UTC).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant (UTC). The engine truncates it to the microsecond, what stores
    /// keep.
    fn now(&self) -> Timestamp;
}

/// The system clock ([`Timestamp::now`]); the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that stands still until it is set or advanced, for tests: share it through an
/// `Arc` between the engine's config and the test.
///
/// # Examples
///
/// ```
/// use leadroute_core::engine::{Clock, FixedClock};
/// let clock = FixedClock::at_unix(1_700_000_000);
/// clock.advance(std::time::Duration::from_secs(90));
/// assert_eq!(clock.now().as_second(), 1_700_000_090);
/// ```
#[derive(Debug)]
pub struct FixedClock {
    /// Microseconds since the Unix epoch.
    micros: AtomicI64,
}

impl FixedClock {
    /// A clock at `at`.
    pub fn new(at: Timestamp) -> FixedClock {
        FixedClock {
            micros: AtomicI64::new(micros_of(at)),
        }
    }

    /// A clock at `seconds` after the Unix epoch (UTC).
    pub fn at_unix(seconds: i64) -> FixedClock {
        FixedClock {
            micros: AtomicI64::new(seconds.saturating_mul(1_000_000)),
        }
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: Timestamp) {
        self.micros.store(micros_of(at), Ordering::SeqCst);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let d = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.micros.fetch_add(d, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        let us = self.micros.load(Ordering::SeqCst);
        Timestamp::from_microsecond(us).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

fn micros_of(at: Timestamp) -> i64 {
    i64::try_from(at.as_nanosecond() / 1_000).unwrap_or(i64::MAX)
}

/// `t` truncated to the microsecond (what stores keep).
pub(super) fn to_micros(t: Timestamp) -> Timestamp {
    // Floored, as the clock face reads: before 1970 too.
    Timestamp::from_nanosecond(t.as_nanosecond().div_euclid(1_000) * 1_000).unwrap_or(t)
}
