//! Booking slots: a workspace's weekly hours cut into bookable slots of a fixed length, each
//! taking a fixed number of bookings (crews).
//!
//! A [`Calendar`] (slot length, capacity, buffer, lead time, horizon, blackout dates) and the
//! workspace's [`WeeklySchedule`] compile into a [`SlotGrid`] in the workspace's time zone.
//! [`SlotGrid::slots`] lists the slots that may be booked in a time range; [`available`]
//! (or [`available_sorted`]) joins them with the bookings counted so far into the free
//! slots with their remaining capacity; [`SlotGrid::slot_at`] checks a requested start.
//! This module is pure: reading and bumping the per-slot counters (named by
//! [`slot_counter_key`]) is the engine's and the storage adapter's job.
//!
//! # Slots
//!
//! - Each opening of the weekly hours (the start of an open stretch: overlapping and adjacent
//!   entries are joined, as in [`crate::schedule`]) starts a run of slots at its local opening
//!   time: a slot of `slot_minutes`, then `buffer_minutes` idle, then the next slot, and so on
//!   while a slot still ends no later than the stretch's local closing time. Times are local
//!   wall-clock times in the workspace's zone, so a `09:00` slot is at 09:00 in winter and in
//!   summer (14:00 and 13:00 UTC in New York). A stretch that runs past midnight (overnight
//!   hours) keeps its run going into the next day. An empty schedule (always open), or hours
//!   covering the whole week, opens every day at local `00:00` and closes at `24:00`.
//! - A slot is skipped when the local date of its start is in
//!   [`Calendar::blackout_dates`].
//! - **Daylight-saving changes.** A slot is the real interval `[start, start +
//!   slot_minutes)`, and it never contains an offset change: a slot whose local start does
//!   not exist (it falls in a spring-forward gap) or whose interval would cross the change is
//!   not offered; the other slots of the day keep their local times. A slot may *end* exactly
//!   at the change (New York, 2026-03-08: a `01:00` slot of 60 minutes runs 01:00 EST to 03:00
//!   EDT, one real hour). On the **fall-back day** a local start that occurs twice (New York,
//!   2026-11-01, `01:xx`) is offered **once**: at its first occurrence (daylight time) when
//!   the slot ends by the change, else at its second (standard time). So every local slot time
//!   is booked at most once, and the real time in the repeated hour that no slot label covers
//!   is not offered (with 60-minute slots from 00:00: 00:00 EDT, 01:00 EDT, 02:00 EST, …).
//! - Only slots starting at or after `now + min_lead_minutes` and at or before `now +
//!   horizon_days × 24 h` are offered.
//!
//! Zone rules come from the IANA tz database bundled by [`jiff`](https://docs.rs/jiff). The
//! zone is the schedule's own, else the workspace's, else UTC, as in
//! [`WeeklySchedule::compile`].
//!
//! # Consuming a slot (the engine's contract)
//!
//! As with capacity caps ([`crate::capacity`]), a booking is checked and counted **in one
//! storage transaction**: [`SlotGrid::slot_at`] validates the requested start, the engine
//! reads the counter [`slot_counter_key`]`(workspace, start)`, and books only when it is below
//! [`SlotGrid::capacity`], incrementing it in the same transaction; otherwise it answers
//! [`BookingError::SlotTaken`] (`slot_taken`, kind `Conflict`). Two concurrent bookings for
//! the last place are thus serialized by the store: exactly one succeeds. Listing the free
//! slots reads the counters of [`slot_key_range`] and passes them to [`available_sorted`].
//!
//! # Examples
//!
//! ```
//! use leadroute_core::booking::{available, SlotGrid};
//! use leadroute_core::model::{Calendar, WeeklySchedule};
//! let ts = |s: &str| -> jiff::Timestamp { s.parse().unwrap() };
//!
//! let hours = WeeklySchedule::from_json(
//!     r#"{"hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]}"#,
//! )?;
//! let calendar = Calendar { buffer_minutes: 15, capacity: 2, ..Calendar::default() };
//! let grid = SlotGrid::compile(&calendar, &hours, Some("America/New_York"))?;
//! // Monday 2026-11-23: 09:00, 10:15, 11:30, 12:45, 14:00 and 15:15 EST (60 minutes each).
//! let now = ts("2026-11-20T12:00:00Z");
//! let monday = grid.slots(ts("2026-11-23T05:00:00Z"), ts("2026-11-24T05:00:00Z"), now);
//! assert_eq!(monday.len(), 6);
//! assert_eq!(monday[1].start, ts("2026-11-23T15:15:00Z"));
//! // One booking in the first slot, two (full) in the second.
//! let free = available(&monday, |start| match start {
//!     s if s == monday[0].start => 1,
//!     s if s == monday[1].start => 2,
//!     _ => 0,
//! }, grid.capacity());
//! assert_eq!((free.len(), free[0].remaining, free[1].start), (5, 1, monday[2].start));
//! # Ok::<(), leadroute_core::booking::BookingError>(())
//! ```

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use crate::kind::ErrorKind;
pub use crate::model::Calendar;
use crate::model::{ScheduleError, WeeklySchedule};
use crate::schedule::CompiledSchedule;
use crate::tz::lookup_zone;

/// Minutes in a day.
const DAY_MINUTES: u32 = 24 * 60;
/// Minutes in a week.
const WEEK_MINUTES: usize = 7 * DAY_MINUTES as usize;
/// The longest slot, and the longest buffer, in minutes (one day).
pub const MAX_SLOT_MINUTES: u32 = DAY_MINUTES;
/// The furthest horizon, in days (about ten years).
pub const MAX_HORIZON_DAYS: u32 = 3660;
/// The counter-key prefix of booking slots.
const KEY_PREFIX: &str = "slot:";
/// Length of the time part of a slot key: `YYYY-MM-DDTHH:MM:SSZ`.
const KEY_TIME_LEN: usize = 20;

/// An error compiling a calendar, or why a requested start cannot be booked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BookingError {
    /// The time zone is not in the IANA time zone database.
    #[error("unknown time zone `{name}`")]
    UnknownTimeZone {
        /// The name as given.
        name: String,
    },
    /// The weekly hours are invalid.
    #[error("invalid weekly hours: {0}")]
    Schedule(ScheduleError),
    /// `slot_minutes` is 0 or longer than a day.
    #[error("slot length {minutes} minutes is not between 1 and 1440")]
    InvalidSlotLength {
        /// The length given, in minutes.
        minutes: u32,
    },
    /// `buffer_minutes` is longer than a day.
    #[error("buffer {minutes} minutes is longer than a day (1440)")]
    InvalidBuffer {
        /// The buffer given, in minutes.
        minutes: u32,
    },
    /// `capacity` is 0: no slot could ever be booked.
    #[error("slot capacity is 0")]
    ZeroCapacity,
    /// `horizon_days` is beyond [`MAX_HORIZON_DAYS`].
    #[error("horizon of {days} days is beyond {MAX_HORIZON_DAYS}")]
    HorizonTooLong {
        /// The horizon given, in days.
        days: u32,
    },
    /// The start is inside the open hours but is not the start of a slot.
    #[error("{start} is not the start of a slot")]
    NotASlot {
        /// The requested start (UTC).
        start: Timestamp,
    },
    /// The start is before `now + min_lead_minutes`.
    #[error("{start} is too soon: the earliest bookable start is {earliest}")]
    TooSoon {
        /// The requested start (UTC).
        start: Timestamp,
        /// `now + min_lead_minutes` (UTC).
        earliest: Timestamp,
    },
    /// The start is after `now + horizon_days`.
    #[error("{start} is beyond the booking horizon ({latest})")]
    BeyondHorizon {
        /// The requested start (UTC).
        start: Timestamp,
        /// `now + horizon_days × 24 h` (UTC).
        latest: Timestamp,
    },
    /// The start's local date is a blackout date.
    #[error("{date} is a blackout date")]
    Blackout {
        /// The local date of the requested start.
        date: Date,
    },
    /// The weekly hours are closed at the start.
    #[error("closed at {start}")]
    Closed {
        /// The requested start (UTC).
        start: Timestamp,
    },
    /// The slot has no place left (raised by the engine when the slot's counter is at
    /// capacity).
    #[error("the slot at {start} is fully booked")]
    SlotTaken {
        /// The slot's start (UTC).
        start: Timestamp,
    },
}

impl BookingError {
    /// Stable snake_case code: `unknown_time_zone`, the schedule's own code (e.g.
    /// `empty_hours`), `invalid_slot_length`, `invalid_buffer`, `zero_capacity`,
    /// `horizon_too_long`, `not_a_slot`, `too_soon`, `beyond_horizon`, `blackout`, `closed`,
    /// `slot_taken`.
    pub fn code(&self) -> &'static str {
        match self {
            BookingError::UnknownTimeZone { .. } => "unknown_time_zone",
            BookingError::Schedule(e) => e.code(),
            BookingError::InvalidSlotLength { .. } => "invalid_slot_length",
            BookingError::InvalidBuffer { .. } => "invalid_buffer",
            BookingError::ZeroCapacity => "zero_capacity",
            BookingError::HorizonTooLong { .. } => "horizon_too_long",
            BookingError::NotASlot { .. } => "not_a_slot",
            BookingError::TooSoon { .. } => "too_soon",
            BookingError::BeyondHorizon { .. } => "beyond_horizon",
            BookingError::Blackout { .. } => "blackout",
            BookingError::Closed { .. } => "closed",
            BookingError::SlotTaken { .. } => "slot_taken",
        }
    }

    /// [`ErrorKind::Conflict`] for [`BookingError::SlotTaken`] (stored state refuses it),
    /// else [`ErrorKind::InvalidInput`] (a bad configuration or a start that can never be
    /// booked as given).
    pub fn kind(&self) -> ErrorKind {
        match self {
            BookingError::SlotTaken { .. } => ErrorKind::Conflict,
            _ => ErrorKind::InvalidInput,
        }
    }
}

impl From<ScheduleError> for BookingError {
    fn from(e: ScheduleError) -> BookingError {
        match e {
            ScheduleError::UnknownTimeZone { name } => BookingError::UnknownTimeZone { name },
            other => BookingError::Schedule(other),
        }
    }
}

/// One bookable slot: the real interval `[start, end)` in UTC; `end - start` is exactly the
/// calendar's `slot_minutes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Slot {
    /// First instant of the slot (UTC; a whole local minute in the workspace's zone).
    pub start: Timestamp,
    /// First instant after the slot (UTC).
    pub end: Timestamp,
}

/// A slot with room left: JSON `{"start": "…Z", "end": "…Z", "remaining": 2}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FreeSlot {
    /// First instant of the slot (UTC).
    pub start: Timestamp,
    /// First instant after the slot (UTC).
    pub end: Timestamp,
    /// Bookings the slot still takes, at least 1.
    pub remaining: u32,
}

/// A validated [`Calendar`] over its weekly hours, with the zone resolved and the local slot
/// times of each weekday precomputed: listing a week of slots is a few zone lookups per slot.
#[derive(Debug, Clone)]
pub struct SlotGrid {
    tz: TimeZone,
    hours: CompiledSchedule,
    /// Per local weekday (Monday = 0), the minutes after local midnight of that day at which
    /// a slot starts, ascending (beyond 1440 for a run that continues past midnight).
    starts: [Vec<u32>; 7],
    /// How many local days after its opening day a slot can still start.
    reach_days: i64,
    slot: SignedDuration,
    capacity: u32,
    lead: SignedDuration,
    horizon: SignedDuration,
    /// Sorted, deduplicated.
    blackout: Vec<Date>,
}

impl SlotGrid {
    /// Validates `calendar` and `hours` and precomputes the slot times.
    ///
    /// The zone is `hours.timezone`, else `workspace_timezone` (the workspace's
    /// [`timezone`](crate::model::Workspace::timezone)), else UTC, as in
    /// [`WeeklySchedule::compile`]. Compile once per workspace, not per request.
    ///
    /// # Errors
    ///
    /// [`BookingError::InvalidSlotLength`], [`BookingError::InvalidBuffer`],
    /// [`BookingError::ZeroCapacity`], [`BookingError::HorizonTooLong`] for a calendar
    /// outside its limits; [`BookingError::UnknownTimeZone`] for an unknown zone;
    /// [`BookingError::Schedule`] for invalid hours.
    pub fn compile(
        calendar: &Calendar,
        hours: &WeeklySchedule,
        workspace_timezone: Option<&str>,
    ) -> Result<SlotGrid, BookingError> {
        check_calendar(calendar)?;
        let compiled = hours.compile(workspace_timezone)?;
        let tz = lookup_zone(compiled.timezone()).ok_or_else(|| BookingError::UnknownTimeZone {
            name: compiled.timezone().to_string(),
        })?;
        let stretches = open_stretches(&week_bitmap(hours));
        let starts = slot_starts(&stretches, calendar.slot_minutes, calendar.buffer_minutes);
        let reach_days = starts
            .iter()
            .flatten()
            .map(|&m| i64::from(m / DAY_MINUTES))
            .max()
            .unwrap_or(0);
        let mut blackout = calendar.blackout_dates.clone();
        blackout.sort_unstable();
        blackout.dedup();
        Ok(SlotGrid {
            tz,
            hours: compiled,
            starts,
            reach_days,
            slot: minutes(calendar.slot_minutes),
            capacity: calendar.capacity,
            lead: minutes(calendar.min_lead_minutes),
            horizon: SignedDuration::from_hours(i64::from(calendar.horizon_days) * 24),
            blackout,
        })
    }

    /// Bookings each slot takes ([`Calendar::capacity`]).
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// The IANA name of the zone the slots are laid out in, e.g. `America/New_York`.
    pub fn timezone(&self) -> &str {
        self.hours.timezone()
    }

    /// `now + min_lead_minutes`: the earliest start that may be booked at `now` (saturating
    /// at the end of time).
    pub fn earliest(&self, now: Timestamp) -> Timestamp {
        now.checked_add(self.lead).unwrap_or(Timestamp::MAX)
    }

    /// `now + horizon_days × 24 h`: the latest start that may be booked at `now`
    /// (saturating).
    pub fn latest(&self, now: Timestamp) -> Timestamp {
        now.checked_add(self.horizon).unwrap_or(Timestamp::MAX)
    }

    /// The bookable slots overlapping `[from, to)` (UTC) as seen at `now`: those starting at
    /// or after [`SlotGrid::earliest`] and at or before [`SlotGrid::latest`], not on a
    /// blackout date, ascending by start. Slots do not overlap. Empty when `to <= from`.
    ///
    /// The work is bounded by the horizon, whatever the range.
    pub fn slots(&self, from: Timestamp, to: Timestamp, now: Timestamp) -> Vec<Slot> {
        let (earliest, latest) = (self.earliest(now), self.latest(now));
        let mut out = Vec::new();
        if to <= from || earliest > latest {
            return out;
        }
        // A slot overlapping `[from, to)` starts after `from - slot`.
        let low = from
            .checked_sub(self.slot)
            .unwrap_or(Timestamp::MIN)
            .max(earliest);
        let high = to.min(latest);
        if low > high {
            return out;
        }
        let first = self
            .local_date(low)
            .checked_sub((self.reach_days + 1).days());
        let last = self.local_date(high);
        self.each_slot(first.unwrap_or(Date::MIN), last, |s| {
            if s.start >= earliest && s.start <= latest && s.end > from && s.start < to {
                out.push(s);
            }
        });
        out
    }

    /// The slot starting exactly at `start`, if it may be booked at `now`.
    ///
    /// The checks run in this order, the first failing one answering: the local date of
    /// `start` is not a blackout date, the weekly hours are open at `start`, `start` is a
    /// slot's start, it is not before [`SlotGrid::earliest`] nor after [`SlotGrid::latest`].
    /// Whether the slot still has room is the engine's question (its counter).
    ///
    /// # Errors
    ///
    /// [`BookingError::Blackout`], [`BookingError::Closed`], [`BookingError::NotASlot`],
    /// [`BookingError::TooSoon`], [`BookingError::BeyondHorizon`] (all `InvalidInput`).
    pub fn slot_at(&self, start: Timestamp, now: Timestamp) -> Result<Slot, BookingError> {
        let date = self.local_date(start);
        if self.is_blackout(date) {
            return Err(BookingError::Blackout { date });
        }
        if !self.hours.is_open(start)? {
            return Err(BookingError::Closed { start });
        }
        let mut found = None;
        let first = date.checked_sub((self.reach_days + 1).days());
        self.each_slot(first.unwrap_or(Date::MIN), date, |s| {
            if s.start == start {
                found = Some(s);
            }
        });
        let slot = found.ok_or(BookingError::NotASlot { start })?;
        let earliest = self.earliest(now);
        if start < earliest {
            return Err(BookingError::TooSoon { start, earliest });
        }
        let latest = self.latest(now);
        if start > latest {
            return Err(BookingError::BeyondHorizon { start, latest });
        }
        Ok(slot)
    }

    /// Calls `f` with every slot of the runs opening on local dates `first..=last`, ascending,
    /// skipping blackout dates.
    /// The slot that contains `t` (`start <= t < end`), whatever the lead time and horizon
    /// (an appointment already agreed, e.g. from intake); `None` when `t` is in no slot.
    pub fn slot_containing(&self, t: Timestamp) -> Option<Slot> {
        let date = self.local_date(t);
        let first = date.checked_sub((self.reach_days + 1).days());
        let mut found = None;
        self.each_slot(first.unwrap_or(Date::MIN), date, |s| {
            if s.start <= t && t < s.end {
                found = Some(s);
            }
        });
        found
    }

    fn each_slot(&self, first: Date, last: Date, mut f: impl FnMut(Slot)) {
        for day in first.series(1.day()).take_while(|d| *d <= last) {
            let weekday = day.weekday().to_monday_zero_offset() as usize;
            let midnight = day.to_datetime(jiff::civil::Time::midnight());
            for &minute in &self.starts[weekday] {
                let Ok(local) = midnight.checked_add(minutes(minute)) else {
                    continue;
                };
                if self.is_blackout(local.date()) {
                    continue;
                }
                if let Some(slot) = place(&self.tz, local, self.slot) {
                    f(slot);
                }
            }
        }
    }

    fn local_date(&self, at: Timestamp) -> Date {
        self.tz.to_datetime(at).date()
    }

    fn is_blackout(&self, date: Date) -> bool {
        self.blackout.binary_search(&date).is_ok()
    }
}

/// Checks a calendar's limits.
fn check_calendar(c: &Calendar) -> Result<(), BookingError> {
    if c.slot_minutes == 0 || c.slot_minutes > MAX_SLOT_MINUTES {
        return Err(BookingError::InvalidSlotLength {
            minutes: c.slot_minutes,
        });
    }
    if c.buffer_minutes > MAX_SLOT_MINUTES {
        return Err(BookingError::InvalidBuffer {
            minutes: c.buffer_minutes,
        });
    }
    if c.capacity == 0 {
        return Err(BookingError::ZeroCapacity);
    }
    if c.horizon_days > MAX_HORIZON_DAYS {
        return Err(BookingError::HorizonTooLong {
            days: c.horizon_days,
        });
    }
    Ok(())
}

fn minutes(m: u32) -> SignedDuration {
    SignedDuration::from_mins(i64::from(m))
}

/// The slot whose local start reads `local`, lasting `len`, under the DST rules of the module
/// docs: none when `local` is in a gap; in a fold, the first occurrence whose interval holds
/// no offset change; elsewhere the one occurrence, if its interval holds no offset change.
fn place(tz: &TimeZone, local: DateTime, len: SignedDuration) -> Option<Slot> {
    let offsets = match tz.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } => [Some(offset), None],
        AmbiguousOffset::Gap { .. } => return None,
        // `before` (the earlier offset, larger in a fold) gives the earlier instant.
        AmbiguousOffset::Fold { before, after } => [Some(before), Some(after)],
    };
    offsets.into_iter().flatten().find_map(|offset| {
        let start = offset.to_timestamp(local).ok()?;
        let end = start.checked_add(len).ok()?;
        let last = end.checked_sub(SignedDuration::from_nanos(1)).ok()?;
        (tz.to_offset(last) == offset).then_some(Slot { start, end })
    })
}

/// Bit `day * 1440 + minute` (Monday = day 0) is set when that local minute of the week is
/// open; an empty schedule is open all week.
fn week_bitmap(hours: &WeeklySchedule) -> Vec<bool> {
    let day = DAY_MINUTES as usize;
    let mut open = vec![hours.hours.is_empty(); WEEK_MINUTES];
    for h in &hours.hours {
        let (start, end) = (usize::from(h.start.minutes()), usize::from(h.end.minutes()));
        for d in &h.days {
            let base = d.index() * day;
            // Overnight spans (`start > end`) run into the next day, cyclically.
            let len = if start < end {
                end - start
            } else {
                day - start + end
            };
            for m in base + start..base + start + len {
                open[m % WEEK_MINUTES] = true;
            }
        }
    }
    open
}

/// The open stretches of a week bitmap as (minute of the week at which it opens, length in
/// minutes), ascending; a week open throughout is seven stretches of one day from midnight.
fn open_stretches(open: &[bool]) -> Vec<(usize, usize)> {
    let n = open.len();
    if open.iter().all(|&o| o) {
        let day = DAY_MINUTES as usize;
        return (0..7).map(|d| (d * day, day)).collect();
    }
    (0..n)
        .filter(|&m| open[m] && !open[(m + n - 1) % n])
        .map(|m| {
            let len = (0..n).take_while(|k| open[(m + k) % n]).count();
            (m, len)
        })
        .collect()
}

/// Per local weekday, the minutes after that day's midnight at which slots start: runs of
/// `slot` minutes separated by `buffer`, from each opening, while a slot ends by its closing.
fn slot_starts(stretches: &[(usize, usize)], slot: u32, buffer: u32) -> [Vec<u32>; 7] {
    let day = DAY_MINUTES as usize;
    let (slot, step) = (slot as usize, (slot + buffer) as usize);
    let mut starts: [Vec<u32>; 7] = Default::default();
    for &(open_at, len) in stretches {
        let (weekday, minute) = (open_at / day, open_at % day);
        let run = (0..len)
            .step_by(step.max(1))
            .take_while(|k| k + slot <= len)
            .map(|k| (minute + k) as u32);
        starts[weekday].extend(run);
    }
    for s in &mut starts {
        s.sort_unstable();
    }
    starts
}

/// The capacity-counter key of the slot starting at `start` for one workspace:
/// `slot:{workspace_id}:{YYYY-MM-DDTHH:MM:SSZ}` with the start in UTC, e.g.
/// `slot:roof_ny_001:2026-11-23T14:00:00Z`.
///
/// The time part has a fixed width (20 bytes), so for one workspace **text order is time
/// order** (for the years 0000–9999, far beyond any horizon). Slot starts are whole seconds
/// (a whole local minute minus a whole-second UTC offset); any finer part of `start` is
/// dropped (floored). [`parse_slot_counter_key`] reads a key back.
pub fn slot_counter_key(workspace_id: &str, start: Timestamp) -> String {
    let t = jiff::tz::Offset::UTC.to_datetime(floor_second(start));
    format!(
        "{KEY_PREFIX}{workspace_id}:{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Reads a [`slot_counter_key`] back into `(workspace_id, start)`; `None` when `key` is not
/// one (wrong prefix, or a time part that is not exactly the key's shape).
pub fn parse_slot_counter_key(key: &str) -> Option<(&str, Timestamp)> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let split = rest.len().checked_sub(KEY_TIME_LEN + 1)?;
    if !rest.is_char_boundary(split) {
        return None;
    }
    let (workspace, time) = rest.split_at(split);
    let time = time.strip_prefix(':')?;
    let start = crate::rfc3339::parse(time).ok()?;
    (slot_counter_key(workspace, start) == key).then_some((workspace, start))
}

/// The half-open text range `[low, high)` of the [`slot_counter_key`]s of one workspace's
/// slots starting in `[from, to)` (UTC): a slot key `k` is in it when `low <= k < high`.
///
/// Another workspace's key falls in the range only when its id is this one's followed by
/// `:` and more (ids are free text); its key is then longer, so a store scanning the range
/// keeps keys of exactly `low.len()` bytes (or those [`parse_slot_counter_key`] reads as this
/// workspace).
pub fn slot_key_range(workspace_id: &str, from: Timestamp, to: Timestamp) -> (String, String) {
    (
        slot_counter_key(workspace_id, ceil_second(from)),
        slot_counter_key(workspace_id, ceil_second(to)),
    )
}

/// `t` rounded down to a whole second.
fn floor_second(t: Timestamp) -> Timestamp {
    let nanos = t.subsec_nanosecond();
    if nanos >= 0 {
        t.checked_sub(SignedDuration::from_nanos(nanos.into()))
    } else {
        t.checked_sub(SignedDuration::from_nanos(i64::from(nanos) + 1_000_000_000))
    }
    .unwrap_or(t)
}

/// `t` rounded up to a whole second (saturating at the end of time).
fn ceil_second(t: Timestamp) -> Timestamp {
    let floor = floor_second(t);
    if floor == t {
        t
    } else {
        floor
            .checked_add(SignedDuration::from_secs(1))
            .unwrap_or(floor)
    }
}

/// The slots of `slots` with room left, in the same order, each with its remaining capacity
/// `capacity - used(start)`; slots at or over capacity are left out.
///
/// `used(start)` is the bookings counted for the slot starting at `start` (its counter).
pub fn available(slots: &[Slot], used: impl Fn(Timestamp) -> u32, capacity: u32) -> Vec<FreeSlot> {
    slots
        .iter()
        .filter_map(|s| free_slot(*s, used(s.start), capacity))
        .collect()
}

/// [`available`] with the bookings counted per slot start as a slice sorted by start
/// (ascending, as a scan of [`slot_key_range`] returns them); starts missing from it have
/// none.
pub fn available_sorted(slots: &[Slot], used: &[(Timestamp, u32)], capacity: u32) -> Vec<FreeSlot> {
    available(
        slots,
        |start| match used.binary_search_by(|(t, _)| t.cmp(&start)) {
            Ok(i) => used[i].1,
            Err(_) => 0,
        },
        capacity,
    )
}

/// `slot` with `capacity - used` places, if any.
fn free_slot(slot: Slot, used: u32, capacity: u32) -> Option<FreeSlot> {
    let remaining = capacity.saturating_sub(used);
    (remaining > 0).then_some(FreeSlot {
        start: slot.start,
        end: slot.end,
        remaining,
    })
}

#[cfg(test)]
mod tests;
