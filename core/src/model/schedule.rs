//! Schedule records: the weekly hours in which a workspace accepts appointments, as configured
//! and stored, with their parsing and validation. Compiling them and asking whether a
//! workspace is open at an instant is [`crate::schedule`]'s job (its docs give the semantics
//! and the JSON shape).

use std::fmt;
use std::str::FromStr;

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::tz::lookup_zone;

/// Minutes in a day.
pub(crate) const DAY_MINUTES: u16 = 24 * 60;

/// An error reading or validating a schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// A time is not `HH:MM` between `00:00` and `24:00`.
    #[error("invalid time `{value}`: expected HH:MM between 00:00 and 24:00")]
    InvalidTime {
        /// The text as given.
        value: String,
    },
    /// A day of the week is not a known name.
    #[error("unknown day of the week `{value}`: expected mon..sun or monday..sunday")]
    UnknownWeekday {
        /// The text as given.
        value: String,
    },
    /// An entry of `hours` lists no days.
    #[error("hours entry {index} lists no days")]
    NoDays {
        /// Position of the entry in `hours` (0-based).
        index: usize,
    },
    /// An entry of `hours` opens for no time: `start == end`, or `start` is `24:00`.
    #[error("hours entry {index} is empty ({start}-{end})")]
    EmptyHours {
        /// Position of the entry in `hours` (0-based).
        index: usize,
        /// Its start.
        start: ClockTime,
        /// Its end.
        end: ClockTime,
    },
    /// The time zone is not in the IANA time zone database.
    #[error("unknown time zone `{name}`")]
    UnknownTimeZone {
        /// The name as given.
        name: String,
    },
    /// The instant is outside the supported range (years -9999 to 9999).
    #[error("time is outside the supported range")]
    OutOfRange,
    /// The schedule JSON could not be read.
    #[error("invalid schedule JSON: {message}")]
    InvalidJson {
        /// The parser's message.
        message: String,
    },
}

impl ScheduleError {
    /// Stable snake_case code: `invalid_time`, `unknown_weekday`, `no_days`, `empty_hours`,
    /// `unknown_time_zone`, `time_out_of_range`, `invalid_json`.
    pub fn code(&self) -> &'static str {
        match self {
            ScheduleError::InvalidTime { .. } => "invalid_time",
            ScheduleError::UnknownWeekday { .. } => "unknown_weekday",
            ScheduleError::NoDays { .. } => "no_days",
            ScheduleError::EmptyHours { .. } => "empty_hours",
            ScheduleError::UnknownTimeZone { .. } => "unknown_time_zone",
            ScheduleError::OutOfRange => "time_out_of_range",
            ScheduleError::InvalidJson { .. } => "invalid_json",
        }
    }

    /// [`ErrorKind::InvalidInput`](crate::kind::ErrorKind::InvalidInput): a schedule is
    /// configuration.
    pub fn kind(&self) -> crate::kind::ErrorKind {
        crate::kind::ErrorKind::InvalidInput
    }
}

/// A day of the week (ISO order, Monday first).
///
/// Serialized as the lowercase three-letter name (`"mon"`); parsed from three-letter or full
/// English names, case-insensitively (`"mon"`, `"Monday"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    /// All days, Monday first; [`Weekday::index`] is the position in this array.
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// The lowercase three-letter name: `mon` … `sun`.
    pub fn code(self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }

    /// Days since Monday (Monday = 0 … Sunday = 6).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The next day (Sunday → Monday).
    pub fn next(self) -> Weekday {
        Weekday::ALL[(self.index() + 1) % 7]
    }

    pub(crate) fn from_jiff(day: jiff::civil::Weekday) -> Weekday {
        Weekday::ALL[day.to_monday_zero_offset() as usize]
    }
}

impl FromStr for Weekday {
    type Err = ScheduleError;

    /// Parses `mon` … `sun` or `monday` … `sunday`, ignoring case and surrounding spaces.
    fn from_str(s: &str) -> Result<Weekday, ScheduleError> {
        const FULL: [&str; 7] = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ];
        let lower = s.trim().to_ascii_lowercase();
        Weekday::ALL
            .into_iter()
            .find(|d| d.code() == lower || FULL[d.index()] == lower)
            .ok_or_else(|| ScheduleError::UnknownWeekday {
                value: s.to_string(),
            })
    }
}

impl TryFrom<String> for Weekday {
    type Error = ScheduleError;

    fn try_from(s: String) -> Result<Weekday, ScheduleError> {
        s.parse()
    }
}

impl From<Weekday> for String {
    fn from(day: Weekday) -> String {
        day.code().to_string()
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A local wall-clock time of day with minute precision, `00:00` to `24:00` inclusive.
///
/// Serialized as `"HH:MM"`; parsed from `H:MM` or `HH:MM`. `24:00` is the end of the day and is
/// only meaningful as an [`OpenHours::end`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime(pub(crate) u16);

impl ClockTime {
    /// Midnight at the start of the day, `00:00`.
    pub const MIDNIGHT: ClockTime = ClockTime(0);
    /// Midnight at the end of the day, `24:00`.
    pub const END_OF_DAY: ClockTime = ClockTime(DAY_MINUTES);

    /// `hour:minute`, with `hour` 0–23 and `minute` 0–59, or exactly 24:00.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::InvalidTime`] for any other value.
    pub fn new(hour: u8, minute: u8) -> Result<ClockTime, ScheduleError> {
        if (hour < 24 && minute < 60) || (hour == 24 && minute == 0) {
            Ok(ClockTime(u16::from(hour) * 60 + u16::from(minute)))
        } else {
            Err(ScheduleError::InvalidTime {
                value: format!("{hour:02}:{minute:02}"),
            })
        }
    }

    /// Minutes since local midnight, 0–1440.
    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl FromStr for ClockTime {
    type Err = ScheduleError;

    /// Parses `HH:MM` or `H:MM` (ASCII digits, 24-hour clock, `24:00` allowed).
    fn from_str(s: &str) -> Result<ClockTime, ScheduleError> {
        let invalid = || ScheduleError::InvalidTime {
            value: s.to_string(),
        };
        let (h, m) = s.split_once(':').ok_or_else(invalid)?;
        let digits = |t: &str, max_len: usize| {
            !t.is_empty() && t.len() <= max_len && t.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(h, 2) || m.len() != 2 || !digits(m, 2) {
            return Err(invalid());
        }
        let hour: u8 = h.parse().map_err(|_| invalid())?;
        let minute: u8 = m.parse().map_err(|_| invalid())?;
        ClockTime::new(hour, minute).map_err(|_| invalid())
    }
}

impl TryFrom<String> for ClockTime {
    type Error = ScheduleError;

    fn try_from(s: String) -> Result<ClockTime, ScheduleError> {
        s.parse()
    }
}

impl From<ClockTime> for String {
    fn from(t: ClockTime) -> String {
        t.to_string()
    }
}

impl fmt::Display for ClockTime {
    /// `HH:MM`, e.g. `09:00`, `24:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// One opening span, repeated on each of `days`, in local wall-clock time.
///
/// JSON shape: `{"days": ["mon", "fri"], "start": "09:00", "end": "17:00"}`. Open on
/// `[start, end)`; `end` may be `"24:00"`; `start > end` runs overnight into the next day.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpenHours {
    /// The days on which the span opens (an overnight span closes the next day).
    pub days: Vec<Weekday>,
    /// Local opening time (inclusive), before `24:00`.
    pub start: ClockTime,
    /// Local closing time (exclusive); `24:00` is midnight at the end of the day.
    pub end: ClockTime,
}

/// The weekly hours in which a workspace accepts appointments. The default (no hours) is
/// always open.
///
/// See the [`schedule` module docs](crate::schedule) for the semantics and the JSON shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WeeklySchedule {
    /// IANA zone of the hours, e.g. `America/New_York`; `None` uses the workspace's zone, and
    /// UTC when that is missing too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Opening spans; empty means always open.
    #[serde(default)]
    pub hours: Vec<OpenHours>,
}

impl WeeklySchedule {
    /// Always open (no hours).
    pub fn always_open() -> WeeklySchedule {
        WeeklySchedule::default()
    }

    /// Reads a schedule from its JSON shape and validates it.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::InvalidJson`] when the JSON does not have the shape (including bad
    /// times and day names, whose message is in the text), else the errors of
    /// [`WeeklySchedule::validate`].
    pub fn from_json(json: &str) -> Result<WeeklySchedule, ScheduleError> {
        let schedule: WeeklySchedule =
            serde_json::from_str(json).map_err(|e| ScheduleError::InvalidJson {
                message: e.to_string(),
            })?;
        schedule.validate()?;
        Ok(schedule)
    }

    /// Checks every entry and the time zone (if set).
    ///
    /// # Errors
    ///
    /// [`ScheduleError::NoDays`], [`ScheduleError::EmptyHours`] for a bad entry (the first
    /// one), [`ScheduleError::UnknownTimeZone`] for an unknown `timezone`.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        for (index, h) in self.hours.iter().enumerate() {
            if h.days.is_empty() {
                return Err(ScheduleError::NoDays { index });
            }
            if h.start == h.end || h.start == ClockTime::END_OF_DAY {
                return Err(ScheduleError::EmptyHours {
                    index,
                    start: h.start,
                    end: h.end,
                });
            }
        }
        if let Some(name) = &self.timezone {
            resolve_zone(name)?;
        }
        Ok(())
    }
}

pub(crate) fn resolve_zone(name: &str) -> Result<TimeZone, ScheduleError> {
    lookup_zone(name).ok_or_else(|| ScheduleError::UnknownTimeZone {
        name: name.to_string(),
    })
}
