//! Schedules: the weekly hours in which a workspace accepts appointments.
//!
//! A [`WeeklySchedule`] lists opening hours per day of the week in local wall-clock time of an
//! IANA time zone. Routing asks [`CompiledSchedule::is_open`] for each candidate workspace; a
//! closed workspace is skipped with the reason `outside_schedule` and the next candidate is
//! tried. [`CompiledSchedule::next_open`] says when it reopens (for traces, and for deciding
//! when retrying the unrouted queue is worth it). The records ([`WeeklySchedule`],
//! [`OpenHours`], [`Weekday`], [`ClockTime`]) and their [`ScheduleError`] live in
//! [`crate::model`] and are re-exported here; this module compiles and evaluates them.
//!
//! # Which instant is checked
//!
//! The **routing instant** ("now", when the appointment is matched), not the appointment's own
//! scheduled time: the issue's rule is that a workspace *accepts* only in its hours, i.e. it
//! takes deliveries while it is staffed. The functions take any instant, so a caller that wants
//! the other policy (the meeting itself must fall in the hours) passes the appointment time
//! instead; the engine passes the routing time.
//!
//! # Semantics
//!
//! - Each [`OpenHours`] opens on each of its `days` at local `start` and closes at local `end`
//!   (exclusive). `end` may be `24:00` (until midnight). When `start > end` the span runs
//!   overnight: it opens on the listed day at `start` and closes at `end` on the next day
//!   (`fri 22:00–02:00` is open on Saturday at 01:00). Entries may overlap; the schedule is
//!   open when any entry is.
//! - Times are local wall-clock times with minute precision; the check is on the wall clock,
//!   so across DST changes it follows what the clock on the client's wall says. Hours that fall
//!   in a spring-forward gap do not exist that day (a schedule open only `02:00–03:00` on
//!   2026-03-08 in New York is closed all that day); hours in a fall-back fold occur twice and
//!   are open both times.
//! - An empty schedule (no hours) is always open: a workspace without a schedule accepts at
//!   any time.
//! - Zone rules come from the IANA tz database bundled by [`jiff`](https://docs.rs/jiff)
//!   (independent of the host). A schedule without a `timezone` uses the workspace's zone
//!   ([`WeeklySchedule::compile`] takes it); failing that, UTC.
//!
//! # JSON shape
//!
//! ```json
//! {"timezone": "America/New_York",
//!  "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"},
//!            {"days": ["saturday"], "start": "22:00", "end": "02:00"}]}
//! ```
//!
//! Days are lowercase English names, three-letter (`mon` … `sun`) or full (`monday` …
//! `sunday`); times are `HH:MM` (24-hour, `00:00` to `24:00`). Both fields are optional.
//!
//! # Examples
//!
//! ```
//! use leadroute_core::schedule::WeeklySchedule;
//! let ts = |s: &str| -> jiff::Timestamp { s.parse().unwrap() };
//!
//! let schedule = WeeklySchedule::from_json(
//!     r#"{"hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]}"#,
//! )?;
//! let hours = schedule.compile(Some("America/New_York"))?;
//! // Friday 2026-11-20 16:59 EST is open; 17:00 is not; it reopens Monday 09:00 EST.
//! assert!(hours.is_open(ts("2026-11-20T21:59:00Z"))?);
//! assert!(!hours.is_open(ts("2026-11-20T22:00:00Z"))?);
//! assert_eq!(
//!     hours.next_open(ts("2026-11-20T22:00:00Z")),
//!     Some(ts("2026-11-23T14:00:00Z"))
//! );
//! # Ok::<(), leadroute_core::schedule::ScheduleError>(())
//! ```

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

use crate::model::schedule::{resolve_zone, DAY_MINUTES};
pub use crate::model::{ClockTime, OpenHours, ScheduleError, Weekday, WeeklySchedule};
use crate::tz::instants_of;
/// Minutes in a week.
const WEEK_MINUTES: usize = 7 * DAY_MINUTES as usize;
/// `u64` words of the minute-of-week bitmap.
const WORDS: usize = WEEK_MINUTES.div_ceil(64);
/// How far [`CompiledSchedule::next_open`] looks ahead, in days.
const SEARCH_DAYS: i64 = 15;

// `WeeklySchedule` is a record of `crate::model`; compiling it is this module's job.
impl WeeklySchedule {
    /// Validates the schedule, resolves its zone and builds the fast form routing uses.
    ///
    /// The zone is `self.timezone`, else `workspace_timezone` (the workspace's
    /// [`timezone`](crate::model::Workspace::timezone)), else UTC; `None` and blank names count
    /// as missing. Compile once per workspace (when the routing table is built), not per
    /// appointment.
    ///
    /// # Errors
    ///
    /// The errors of [`WeeklySchedule::validate`]; [`ScheduleError::UnknownTimeZone`] also
    /// for an unknown `workspace_timezone` when it is the one used.
    pub fn compile(
        &self,
        workspace_timezone: Option<&str>,
    ) -> Result<CompiledSchedule, ScheduleError> {
        self.validate()?;
        let name = [self.timezone.as_deref(), workspace_timezone]
            .into_iter()
            .flatten()
            .map(str::trim)
            .find(|n| !n.is_empty());
        let tz = match name {
            Some(name) => resolve_zone(name)?,
            None => TimeZone::UTC,
        };
        let mut bits = Box::new([0u64; WORDS]);
        for h in &self.hours {
            let (start, end) = (usize::from(h.start.0), usize::from(h.end.0));
            for day in &h.days {
                let base = day.index() * usize::from(DAY_MINUTES);
                if start < end {
                    set_range(&mut bits, base + start, base + end);
                } else {
                    set_range(&mut bits, base + start, base + usize::from(DAY_MINUTES));
                    let next = day.next().index() * usize::from(DAY_MINUTES);
                    set_range(&mut bits, next, next + end);
                }
            }
        }
        let always_open = (0..WEEK_MINUTES).all(|m| get_bit(&bits, m));
        // Opening edges: open minutes whose previous minute (cyclically) is closed.
        let mut edges: [Vec<u16>; 7] = Default::default();
        for m in 0..WEEK_MINUTES {
            let prev = (m + WEEK_MINUTES - 1) % WEEK_MINUTES;
            if get_bit(&bits, m) && !get_bit(&bits, prev) {
                let day = m / usize::from(DAY_MINUTES);
                edges[day].push((m % usize::from(DAY_MINUTES)) as u16);
            }
        }
        Ok(CompiledSchedule {
            tz,
            always_open: always_open || self.hours.is_empty(),
            bits,
            edges,
        })
    }

    /// Whether the schedule is open at `at`, in `self.timezone` (UTC when `None`; use
    /// [`WeeklySchedule::compile`] to fall back to the workspace's zone).
    ///
    /// # Errors
    ///
    /// The errors of [`WeeklySchedule::compile`] and [`CompiledSchedule::is_open`].
    pub fn is_open(&self, at: Timestamp) -> Result<bool, ScheduleError> {
        self.compile(None)?.is_open(at)
    }

    /// The first instant at or after `at` when the schedule is open, in `self.timezone` (UTC
    /// when `None`); see [`CompiledSchedule::next_open`].
    ///
    /// # Errors
    ///
    /// The errors of [`WeeklySchedule::compile`].
    pub fn next_open(&self, at: Timestamp) -> Result<Option<Timestamp>, ScheduleError> {
        Ok(self.compile(None)?.next_open(at))
    }
}

/// A validated schedule with its zone resolved and its hours as a minute-of-week bitmap:
/// [`CompiledSchedule::is_open`] is a zone offset lookup and a bit test.
#[derive(Debug, Clone)]
pub struct CompiledSchedule {
    tz: TimeZone,
    always_open: bool,
    /// Bit `day * 1440 + minute` (Monday = day 0) is set when that local minute is open.
    bits: Box<[u64; WORDS]>,
    /// Per local weekday, the minutes of the day at which an open stretch begins.
    edges: [Vec<u16>; 7],
}

impl CompiledSchedule {
    /// Always open, in UTC.
    pub fn always_open() -> CompiledSchedule {
        CompiledSchedule {
            tz: TimeZone::UTC,
            always_open: true,
            bits: Box::new([u64::MAX; WORDS]),
            edges: Default::default(),
        }
    }

    /// The IANA name of the zone the hours are read in, e.g. `America/New_York` or `UTC`.
    pub fn timezone(&self) -> &str {
        self.tz.iana_name().unwrap_or("UTC")
    }

    /// Whether the schedule is open at every instant (no hours, or hours covering the week).
    pub fn is_always_open(&self) -> bool {
        self.always_open
    }

    /// Whether the workspace accepts at the instant `at` (compared on the local wall clock of
    /// the schedule's zone).
    ///
    /// # Errors
    ///
    /// None today: every [`Timestamp`] has a wall clock in every zone.
    /// ([`ScheduleError::OutOfRange`] is kept for instants a `Timestamp` cannot hold.)
    pub fn is_open(&self, at: Timestamp) -> Result<bool, ScheduleError> {
        if self.always_open {
            return Ok(true);
        }
        Ok(self.open_at(at))
    }

    /// The first instant at or after `at` when the schedule is open: `at` itself when open,
    /// else the moment it next opens (as UTC). Accounts for DST: an opening time inside a gap
    /// opens at the transition when the wall clock lands inside the hours, and an opening time
    /// that occurs twice in a fold opens at each occurrence.
    ///
    /// The search is bounded to 15 days ahead: `None` when the schedule does not open in that
    /// time (only possible when its only hours fall in DST gaps) or when `at` is out of range.
    pub fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        if self.always_open {
            return Some(at);
        }
        let ts = at;
        if self.open_at(ts) {
            return Some(at);
        }
        let horizon = ts
            .checked_add((SEARCH_DAYS * 24).hours())
            .unwrap_or(Timestamp::MAX);
        let mut best: Option<Timestamp> = None;
        let consider = |t: Timestamp, best: &mut Option<Timestamp>| {
            if t > ts && t <= horizon && best.is_none_or(|b| t < b) && self.open_at(t) {
                *best = Some(t);
            }
        };
        // Openings reached by the wall clock moving continuously: each edge, on each local day.
        let first_day = self.tz.to_datetime(ts).date();
        for offset in -1..=SEARCH_DAYS + 1 {
            let Some(date) = first_day.checked_add(offset.days()).ok() else {
                continue;
            };
            for &minute in &self.edges[Weekday::from_jiff(date.weekday()).index()] {
                let dt: DateTime = local(date, minute);
                for t in instants_of(&self.tz, dt) {
                    consider(t, &mut best);
                }
            }
        }
        // Openings reached by the wall clock jumping: DST and other offset transitions.
        for transition in self.tz.following(ts) {
            let t = transition.timestamp();
            if t > horizon {
                break;
            }
            consider(t, &mut best);
        }
        best
    }

    fn open_at(&self, ts: Timestamp) -> bool {
        if self.always_open {
            return true;
        }
        let dt = self.tz.to_datetime(ts);
        let minute = Weekday::from_jiff(dt.weekday()).index() * usize::from(DAY_MINUTES)
            + dt.hour() as usize * 60
            + dt.minute() as usize;
        get_bit(&self.bits, minute)
    }
}

fn local(date: Date, minute: u16) -> DateTime {
    date.at((minute / 60) as i8, (minute % 60) as i8, 0, 0)
}

fn set_range(bits: &mut [u64; WORDS], from: usize, to: usize) {
    for m in from..to {
        bits[m / 64] |= 1 << (m % 64);
    }
}

fn get_bit(bits: &[u64; WORDS], m: usize) -> bool {
    bits[m / 64] & (1 << (m % 64)) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().expect("test timestamp")
    }
    use jiff::SignedDuration;

    fn hours(days: &[Weekday], start: &str, end: &str) -> OpenHours {
        OpenHours {
            days: days.to_vec(),
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
        }
    }

    fn schedule(tz: &str, h: Vec<OpenHours>) -> CompiledSchedule {
        WeeklySchedule {
            timezone: Some(tz.to_string()),
            hours: h,
        }
        .compile(None)
        .unwrap()
    }

    use Weekday::*;
    const WEEKDAYS: &[Weekday] = &[Mon, Tue, Wed, Thu, Fri];

    #[test]
    fn business_hours_in_new_york() {
        let s = schedule("America/New_York", vec![hours(WEEKDAYS, "09:00", "17:00")]);
        assert_eq!(s.timezone(), "America/New_York");
        // Wednesday 2026-11-18, EST (UTC-5).
        assert!(!s.is_open(ts("2026-11-18T13:59:59Z")).unwrap());
        assert!(s.is_open(ts("2026-11-18T14:00:00Z")).unwrap());
        assert!(s.is_open(ts("2026-11-18T21:59:59.999Z")).unwrap());
        assert!(!s.is_open(ts("2026-11-18T22:00:00Z")).unwrap());
        // Any offset is accepted for the instant.
        assert!(s.is_open(ts("2026-11-18T10:00:00-05:00")).unwrap());
        // Saturday closed; reopens Monday 09:00 EST.
        let sat = ts("2026-11-21T15:00:00Z");
        assert!(!s.is_open(sat).unwrap());
        assert_eq!(s.next_open(sat), Some(ts("2026-11-23T14:00:00Z")));
        // Open: next_open is the instant itself.
        let open = ts("2026-11-18T15:00:00Z");
        assert_eq!(s.next_open(open), Some(open));
        // In summer (EDT, UTC-4) the same wall-clock hours are an hour earlier in UTC.
        assert!(s.is_open(ts("2026-07-15T13:00:00Z")).unwrap());
        assert!(!s.is_open(ts("2026-07-15T21:00:00Z")).unwrap());
    }

    #[test]
    fn kolkata_weekday_is_local() {
        // Monday 2026-11-23 00:30 IST is Sunday 19:00 UTC.
        let s = schedule("Asia/Kolkata", vec![hours(&[Mon], "00:00", "01:00")]);
        assert!(s.is_open(ts("2026-11-22T19:00:00Z")).unwrap());
        assert!(!s.is_open(ts("2026-11-22T19:30:00Z")).unwrap());
        assert_eq!(
            s.next_open(ts("2026-11-22T12:00:00Z")),
            Some(ts("2026-11-22T18:30:00Z"))
        );
    }

    #[test]
    fn overnight_span() {
        // Friday 22:00 to Saturday 02:00, UTC.
        let s = schedule("UTC", vec![hours(&[Fri], "22:00", "02:00")]);
        assert!(!s.is_open(ts("2026-11-20T21:59:00Z")).unwrap()); // Fri
        assert!(s.is_open(ts("2026-11-20T22:00:00Z")).unwrap());
        assert!(s.is_open(ts("2026-11-21T01:59:00Z")).unwrap()); // Sat
        assert!(!s.is_open(ts("2026-11-21T02:00:00Z")).unwrap());
        assert!(!s.is_open(ts("2026-11-22T01:00:00Z")).unwrap()); // Sun
        assert_eq!(
            s.next_open(ts("2026-11-21T02:00:00Z")),
            Some(ts("2026-11-27T22:00:00Z"))
        );
        // Sunday overnight wraps into Monday.
        let s = schedule("UTC", vec![hours(&[Sun], "23:00", "01:00")]);
        assert!(s.is_open(ts("2026-11-23T00:30:00Z")).unwrap()); // Mon
    }

    #[test]
    fn end_of_day_24_00() {
        let s = schedule("UTC", vec![hours(&[Sun], "18:00", "24:00")]);
        assert!(s.is_open(ts("2026-11-22T23:59:59Z")).unwrap());
        assert!(!s.is_open(ts("2026-11-23T00:00:00Z")).unwrap());
        // 00:00–24:00 every day is always open.
        let s = schedule("UTC", vec![hours(&Weekday::ALL, "00:00", "24:00")]);
        assert!(s.is_always_open());
        let at = ts("2026-11-23T00:00:00Z");
        assert_eq!(s.next_open(at), Some(at));
        // Adjacent spans join: Mon 20:00–24:00 and Tue 00:00–04:00 open continuously.
        let s = schedule(
            "UTC",
            vec![
                hours(&[Mon], "20:00", "24:00"),
                hours(&[Tue], "00:00", "04:00"),
            ],
        );
        assert!(s.is_open(ts("2026-11-24T00:00:00Z")).unwrap());
        assert_eq!(s.edges.iter().map(Vec::len).sum::<usize>(), 1);
    }

    #[test]
    fn empty_schedule_is_always_open() {
        let s = WeeklySchedule::always_open();
        let at = ts("2026-03-08T07:00:00Z");
        assert!(s.is_open(at).unwrap());
        assert_eq!(s.next_open(at).unwrap(), Some(at));
        let c = s.compile(Some("America/New_York")).unwrap();
        assert!(c.is_always_open());
        assert!(CompiledSchedule::always_open().is_open(at).unwrap());
    }

    #[test]
    fn spring_forward_gap_new_york() {
        // 2026-03-08 (Sunday): 02:00 EST jumps to 03:00 EDT; local 02:xx does not exist.
        let s = schedule("America/New_York", vec![hours(&[Sun], "02:00", "03:00")]);
        assert!(!s.is_open(ts("2026-03-08T06:59:59Z")).unwrap()); // 01:59:59 EST
        assert!(!s.is_open(ts("2026-03-08T07:00:00Z")).unwrap()); // 03:00 EDT
                                                                  // It opens next Sunday at 02:00 EDT.
        assert_eq!(
            s.next_open(ts("2026-03-08T06:00:00Z")),
            Some(ts("2026-03-15T06:00:00Z"))
        );
        // Hours that begin inside the gap and end after it open at the transition.
        let s = schedule("America/New_York", vec![hours(&[Sun], "02:30", "04:00")]);
        assert!(s.is_open(ts("2026-03-08T07:00:00Z")).unwrap()); // 03:00 EDT
        assert!(!s.is_open(ts("2026-03-08T08:00:00Z")).unwrap()); // 04:00 EDT
        assert_eq!(
            s.next_open(ts("2026-03-08T06:00:00Z")),
            Some(ts("2026-03-08T07:00:00Z"))
        );
    }

    #[test]
    fn fall_back_fold_new_york() {
        // 2026-11-01 (Sunday): 02:00 EDT goes back to 01:00 EST; local 01:xx happens twice.
        let s = schedule("America/New_York", vec![hours(&[Sun], "01:00", "02:00")]);
        assert!(!s.is_open(ts("2026-11-01T04:59:00Z")).unwrap()); // 00:59 EDT
        assert!(s.is_open(ts("2026-11-01T05:30:00Z")).unwrap()); // 01:30 EDT
        assert!(s.is_open(ts("2026-11-01T06:30:00Z")).unwrap()); // 01:30 EST
        assert!(!s.is_open(ts("2026-11-01T07:00:00Z")).unwrap()); // 02:00 EST
                                                                  // A short span inside the fold opens twice; from between the occurrences, the second.
        let s = schedule("America/New_York", vec![hours(&[Sun], "01:30", "01:45")]);
        assert_eq!(
            s.next_open(ts("2026-11-01T05:00:00Z")),
            Some(ts("2026-11-01T05:30:00Z"))
        );
        assert_eq!(
            s.next_open(ts("2026-11-01T05:50:00Z")),
            Some(ts("2026-11-01T06:30:00Z"))
        );
        // Clocks going back into open hours: 00:30–01:30, from 01:45 EDT, reopens at the
        // transition (01:00 EST).
        let s = schedule("America/New_York", vec![hours(&[Sun], "00:30", "01:30")]);
        assert!(!s.is_open(ts("2026-11-01T05:45:00Z")).unwrap());
        assert_eq!(
            s.next_open(ts("2026-11-01T05:45:00Z")),
            Some(ts("2026-11-01T06:00:00Z"))
        );
    }

    #[test]
    fn lord_howe_half_hour_gap() {
        // 2026-10-04 (Sunday): 02:00 +10:30 jumps to 02:30 +11:00.
        let s = schedule("Australia/Lord_Howe", vec![hours(&[Sun], "02:00", "02:30")]);
        let day_start = ts("2026-10-03T13:30:00Z");
        let next = s.next_open(day_start).unwrap();
        // Not that day: the following Sunday 2026-10-11 02:00 +11:00.
        assert_eq!(next, ts("2026-10-10T15:00:00Z"));
        let s = schedule("Australia/Lord_Howe", vec![hours(&[Sun], "02:15", "03:00")]);
        assert_eq!(s.next_open(day_start), Some(ts("2026-10-03T15:30:00Z")));
    }

    #[test]
    fn workspace_zone_fallback() {
        let w = WeeklySchedule {
            timezone: None,
            hours: vec![hours(WEEKDAYS, "09:00", "17:00")],
        };
        assert_eq!(w.compile(None).unwrap().timezone(), "UTC");
        assert_eq!(w.compile(Some(" ")).unwrap().timezone(), "UTC");
        assert_eq!(
            w.compile(Some("America/Denver")).unwrap().timezone(),
            "America/Denver"
        );
        let own = WeeklySchedule {
            timezone: Some("Asia/Kolkata".into()),
            ..w.clone()
        };
        assert_eq!(
            own.compile(Some("America/Denver")).unwrap().timezone(),
            "Asia/Kolkata"
        );
        assert_eq!(
            w.compile(Some("Mars/Base")).unwrap_err(),
            ScheduleError::UnknownTimeZone {
                name: "Mars/Base".into()
            }
        );
        // The convenience methods read `timezone` or UTC.
        assert!(w.is_open(ts("2026-11-18T09:00:00Z")).unwrap());
    }

    #[test]
    fn parse_times_and_days() {
        assert_eq!("09:00".parse::<ClockTime>().unwrap().minutes(), 540);
        assert_eq!("9:05".parse::<ClockTime>().unwrap().to_string(), "09:05");
        assert_eq!("24:00".parse::<ClockTime>().unwrap(), ClockTime::END_OF_DAY);
        assert_eq!("00:00".parse::<ClockTime>().unwrap(), ClockTime::MIDNIGHT);
        for bad in [
            "",
            "9",
            "24:01",
            "25:00",
            "12:60",
            "9:5",
            "ab:cd",
            "12:00:00",
            "-1:00",
            "+9:00",
            "١٢:٠٠",
            " 09:00",
            "009:00",
        ] {
            let err = bad.parse::<ClockTime>().unwrap_err();
            assert_eq!(err.code(), "invalid_time", "{bad:?}");
        }
        assert!(ClockTime::new(24, 1).is_err());
        assert_eq!("Mon".parse::<Weekday>().unwrap(), Mon);
        assert_eq!("sunday".parse::<Weekday>().unwrap(), Sun);
        assert_eq!("WEDNESDAY".parse::<Weekday>().unwrap(), Wed);
        assert_eq!(
            "funday".parse::<Weekday>().unwrap_err().code(),
            "unknown_weekday"
        );
        assert_eq!(Sun.next(), Mon);
    }

    #[test]
    fn json_shape() {
        let json = r#"{"timezone":"America/New_York","hours":[{"days":["mon","tuesday"],"start":"09:00","end":"17:00"},{"days":["sat"],"start":"22:00","end":"02:00"}]}"#;
        let s = WeeklySchedule::from_json(json).unwrap();
        assert_eq!(s.hours[0].days, vec![Mon, Tue]);
        assert_eq!(s.hours[1].end.to_string(), "02:00");
        let back = serde_json::to_value(&s).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"timezone": "America/New_York", "hours": [
                {"days": ["mon", "tue"], "start": "09:00", "end": "17:00"},
                {"days": ["sat"], "start": "22:00", "end": "02:00"}]})
        );
        assert_eq!(
            WeeklySchedule::from_json("{}").unwrap(),
            WeeklySchedule::default()
        );
    }

    #[test]
    fn invalid_input() {
        let code = |json: &str| WeeklySchedule::from_json(json).unwrap_err().code();
        assert_eq!(
            code(r#"{"hours":[{"days":["mon"],"start":"25:00","end":"26:00"}]}"#),
            "invalid_json"
        );
        let msg = WeeklySchedule::from_json(
            r#"{"hours":[{"days":["mon"],"start":"25:00","end":"26:00"}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains("invalid time `25:00`"), "{msg}");
        assert_eq!(
            code(r#"{"hours":[{"days":["noday"],"start":"09:00","end":"10:00"}]}"#),
            "invalid_json"
        );
        assert_eq!(
            code(r#"{"hours":[{"days":[],"start":"09:00","end":"10:00"}]}"#),
            "no_days"
        );
        assert_eq!(
            code(r#"{"hours":[{"days":["mon"],"start":"09:00","end":"09:00"}]}"#),
            "empty_hours"
        );
        assert_eq!(
            code(r#"{"hours":[{"days":["mon"],"start":"24:00","end":"02:00"}]}"#),
            "empty_hours"
        );
        assert_eq!(
            code(r#"{"timezone":"Nowhere","hours":[]}"#),
            "unknown_time_zone"
        );
        assert_eq!(
            code(r#"{"hours":[{"days":["mon"],"start":9,"end":"10:00"}]}"#),
            "invalid_json"
        );
        assert_eq!(code("not json"), "invalid_json");
        let direct = WeeklySchedule {
            timezone: None,
            hours: vec![OpenHours {
                days: vec![Mon],
                start: ClockTime::MIDNIGHT,
                end: ClockTime::MIDNIGHT,
            }],
        };
        assert_eq!(
            direct.is_open(ts("2026-01-01T00:00:00Z")).unwrap_err(),
            ScheduleError::EmptyHours {
                index: 0,
                start: ClockTime::MIDNIGHT,
                end: ClockTime::MIDNIGHT
            }
        );
    }

    #[test]
    fn ends_of_the_range() {
        // Every instant a Timestamp holds has a wall clock: the ends are answered, not refused.
        let s = schedule("UTC", vec![hours(&[Mon], "09:00", "10:00")]);
        assert!(!s.is_open(Timestamp::MIN).unwrap());
        assert!(s.next_open(Timestamp::MIN).is_some());
        assert_eq!(s.next_open(Timestamp::MAX), None);
    }

    fn day_strategy() -> impl Strategy<Value = Vec<Weekday>> {
        prop::collection::vec(prop::sample::select(Weekday::ALL.to_vec()), 1..4)
    }

    fn hours_strategy() -> impl Strategy<Value = OpenHours> {
        // Quarter-hour granularity, start before 24:00, end up to 24:00, start != end.
        (day_strategy(), 0u16..96, 1u16..=96)
            .prop_filter("non-empty", |(_, s, e)| s != e)
            .prop_map(|(days, s, e)| OpenHours {
                days,
                start: ClockTime(s * 15),
                end: ClockTime(e * 15),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// `next_open` equals a brute-force minute-by-minute scan.
        #[test]
        fn next_open_matches_scan(
            zone in prop::sample::select(vec![
                "UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
            ]),
            entries in prop::collection::vec(hours_strategy(), 1..3),
            // 2025-01-01 .. 2028-01-01, around several DST changes.
            secs in 1_735_689_600i64..1_830_297_600i64,
        ) {
            let s = schedule(zone, entries);
            let at = Timestamp::from_second(secs).unwrap();
            prop_assert_eq!(s.next_open(at), scan(&s, at));
        }

        /// The same, starting within three days of a DST change.
        #[test]
        fn next_open_matches_scan_near_dst(
            (zone, change) in prop::sample::select(vec![
                ("America/New_York", 1_772_953_200i64), // 2026-03-08T07:00Z
                ("America/New_York", 1_793_512_800i64), // 2026-11-01T06:00Z
                ("Australia/Lord_Howe", 1_775_314_800i64), // 2026-04-04T15:00Z
                ("Australia/Lord_Howe", 1_791_041_400i64), // 2026-10-03T15:30Z
            ]),
            entries in prop::collection::vec(hours_strategy(), 1..3),
            delta in -3 * 86_400i64..3 * 86_400i64,
        ) {
            let s = schedule(zone, entries);
            let at = Timestamp::from_second(change + delta).unwrap();
            prop_assert_eq!(s.next_open(at), scan(&s, at));
        }
    }

    /// Reference for `next_open`: `at` if open, else a minute-by-minute scan (all opening
    /// instants are whole UTC minutes in the zones tested).
    fn scan(s: &CompiledSchedule, at: Timestamp) -> Option<Timestamp> {
        if s.is_open(at).unwrap() {
            return Some(at);
        }
        let utc = jiff::tz::Offset::UTC.to_datetime(at);
        let mut t = at
            - SignedDuration::from_secs(utc.second().into())
            - SignedDuration::from_nanos(utc.subsec_nanosecond().into());
        for _ in 0..(SEARCH_DAYS * 24 * 60) {
            t += SignedDuration::from_mins(1);
            if s.is_open(t).unwrap() {
                return Some(t);
            }
        }
        None
    }
}
