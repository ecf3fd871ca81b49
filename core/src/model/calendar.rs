//! The booking calendar record: how a workspace's weekly hours are cut into bookable slots, as
//! configured and stored. Cutting the slots, checking a requested start and naming the
//! capacity counters is [`crate::booking`]'s job (its docs give the semantics).

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// A workspace's booking calendar: slot length, crews per slot, buffer, lead time, horizon
/// and blackout dates. The hours themselves are the workspace's
/// [`WeeklySchedule`](super::WeeklySchedule), read in its time zone.
///
/// JSON shape (every field optional, defaults shown):
///
/// ```json
/// {"slot_minutes": 60, "capacity": 1, "buffer_minutes": 0, "min_lead_minutes": 120,
///  "horizon_days": 30, "blackout_dates": ["2026-12-25"]}
/// ```
///
/// Durations are in minutes (`horizon_days` in days of 24 hours); `blackout_dates` are
/// local calendar dates (`YYYY-MM-DD`) in the workspace's time zone. Limits are checked when
/// compiled ([`crate::booking::SlotGrid::compile`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Calendar {
    /// Length of one slot, in minutes (1–1440); default 60.
    pub slot_minutes: u32,
    /// Bookings one slot takes (crews), at least 1; default 1.
    pub capacity: u32,
    /// Idle time between consecutive slots of one opening, in minutes (0–1440); default 0.
    pub buffer_minutes: u32,
    /// Minimum time between now and a slot's start, in minutes; default 120.
    pub min_lead_minutes: u32,
    /// How far ahead slots are offered, in days of 24 hours after now (at most 3660);
    /// default 30.
    pub horizon_days: u32,
    /// Local dates (in the workspace's zone) on which no slot starts; default none.
    pub blackout_dates: Vec<Date>,
}

impl Default for Calendar {
    /// 60-minute slots, capacity 1, no buffer, 2 hours' lead, 30 days ahead, no blackouts.
    fn default() -> Calendar {
        Calendar {
            slot_minutes: 60,
            capacity: 1,
            buffer_minutes: 0,
            min_lead_minutes: 120,
            horizon_days: 30,
            blackout_dates: Vec::new(),
        }
    }
}
