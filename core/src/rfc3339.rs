//! RFC 3339 text → [`Timestamp`], with the exact grammar leadroute has always accepted.
//!
//! [`parse`] accepts `YYYY-MM-DD?HH:MM:SS[.f+](Z|z|±HH:MM)`: a four-digit year, any single
//! byte between date and time (`T`, `t`, a space, ...), any number of fractional digits
//! (beyond nanoseconds they are ignored), an offset hour of at most 23, and a leap second
//! (`:60`) only as the last second of a month in UTC, read as `23:59:59.999999999`. It is
//! stricter than [`Timestamp`]'s own `FromStr` (no omitted seconds, no basic format, no
//! bracketed time zone annotation), so that what intake accepts does not depend on the time
//! crate. The text is written back with [`crate::payload::rfc3339`] (or serde, for UTC
//! instants of the years 0000–9999 the same text).
//!
//! # Examples
//!
//! ```
//! use leadroute_core::rfc3339;
//! let t = rfc3339::parse("2026-11-24 08:00:00.5-05:00").unwrap();
//! assert_eq!(t.to_string(), "2026-11-24T13:00:00.5Z");
//! assert!(rfc3339::parse("2026-11-24T13:00Z").is_err());
//! ```

use jiff::civil::DateTime;
use jiff::tz::Offset;
use jiff::Timestamp;
use std::fmt;

/// Why a text is not an RFC 3339 time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// A component (`year`, `month`, ..., `offset minute`) could not be read.
    InvalidComponent(&'static str),
    /// A `-` or `:` was expected.
    InvalidLiteral,
    /// Text follows the offset.
    TrailingCharacters,
    /// A component was read but is out of range (`month`, `day`, `hour`, `minute`,
    /// `second`, `offset minute`).
    ComponentRange(&'static str),
    /// The instant is outside the range a [`Timestamp`] holds (about ±9999 years).
    OutOfRange,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::InvalidComponent(name) => {
                write!(f, "the '{name}' component could not be parsed")
            }
            ParseError::InvalidLiteral => f.write_str("a character literal was not valid"),
            ParseError::TrailingCharacters => {
                f.write_str("unexpected trailing characters; the end of input was expected")
            }
            ParseError::ComponentRange(name) => write!(f, "{name} was not in range"),
            ParseError::OutOfRange => f.write_str("the time is outside the supported range"),
        }
    }
}

impl std::error::Error for ParseError {}

/// A cursor over the bytes of the text.
struct Bytes<'a> {
    b: &'a [u8],
    i: usize,
}

impl Bytes<'_> {
    /// Exactly `n` ASCII digits, as a number.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let d = self.b.get(self.i..self.i + n)?;
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(d.iter().fold(0, |v, c| v * 10 + u32::from(c - b'0')))
    }

    /// One ASCII digit.
    fn digit(&mut self) -> Option<u32> {
        self.digits(1)
    }

    /// Takes `c` if it is next.
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.b.get(self.i) == Some(&c);
        if hit {
            self.i += 1;
        }
        hit
    }

    /// The literal `c`, or [`ParseError::InvalidLiteral`].
    fn literal(&mut self, c: u8) -> Result<(), ParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(ParseError::InvalidLiteral)
        }
    }

    /// The next byte, whatever it is.
    fn any(&mut self) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        self.i += 1;
        Some(c)
    }
}

/// Days in `month` of `year` (proleptic Gregorian).
pub(crate) fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The components of RFC 3339 text, as written (not yet range-checked).
struct Fields {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanosecond: u32,
    offset_seconds: i32,
}

/// Parses RFC 3339 text (any offset) as an instant; see the module docs for the grammar.
pub fn parse(s: &str) -> Result<Timestamp, ParseError> {
    let mut p = Bytes {
        b: s.as_bytes(),
        i: 0,
    };
    let mut f = read_fields(&mut p)?;
    if p.i != p.b.len() {
        return Err(ParseError::TrailingCharacters);
    }
    // A leap second stands for the last nanosecond before it, checked below.
    let leap = f.second == 60;
    if leap {
        f.second = 59;
        f.nanosecond = 999_999_999;
    }
    check_ranges(&f)?;
    let t = instant(&f)?;
    if leap && !is_last_second_of_month(t) {
        return Err(ParseError::ComponentRange("second"));
    }
    Ok(t)
}

/// Reads date, separator, time, fraction and offset, in order.
fn read_fields(p: &mut Bytes<'_>) -> Result<Fields, ParseError> {
    use ParseError::InvalidComponent;
    let year = p.digits(4).ok_or(InvalidComponent("year"))?;
    p.literal(b'-')?;
    let month = p
        .digits(2)
        .filter(|m| *m != 0)
        .ok_or(InvalidComponent("month"))?;
    p.literal(b'-')?;
    let day = p.digits(2).ok_or(InvalidComponent("day"))?;
    // RFC 3339 lets applications choose the separator: any one byte.
    p.any().ok_or(InvalidComponent("separator"))?;
    let hour = p.digits(2).ok_or(InvalidComponent("hour"))?;
    p.literal(b':')?;
    let minute = p.digits(2).ok_or(InvalidComponent("minute"))?;
    p.literal(b':')?;
    let second = p.digits(2).ok_or(InvalidComponent("second"))?;
    let nanosecond = read_fraction(p)?;
    let offset_seconds = read_offset(p)?;
    Ok(Fields {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanosecond,
        offset_seconds,
    })
}

/// An optional `.` and fraction digits, as nanoseconds (digits past the ninth are ignored).
fn read_fraction(p: &mut Bytes<'_>) -> Result<u32, ParseError> {
    if !p.eat(b'.') {
        return Ok(0);
    }
    let first = p.digit().ok_or(ParseError::InvalidComponent("subsecond"))?;
    let mut nanosecond = first * 100_000_000;
    let mut scale = 10_000_000;
    while let Some(d) = p.digit() {
        nanosecond += d * scale;
        scale /= 10;
    }
    Ok(nanosecond)
}

/// `Z`, `z`, or `+HH:MM` / `-HH:MM`, as seconds east of UTC.
fn read_offset(p: &mut Bytes<'_>) -> Result<i32, ParseError> {
    use ParseError::{ComponentRange, InvalidComponent};
    if p.eat(b'Z') || p.eat(b'z') {
        return Ok(0);
    }
    let sign = match p.any() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(InvalidComponent("offset hour")),
    };
    let h = p
        .digits(2)
        .filter(|h| *h <= 23)
        .ok_or(InvalidComponent("offset hour"))?;
    p.literal(b':')?;
    let m = p.digits(2).ok_or(InvalidComponent("offset minute"))?;
    if m > 59 {
        return Err(ComponentRange("offset minute"));
    }
    // At most 23:59: fits.
    Ok(sign * (h * 3600 + m * 60) as i32)
}

/// Month, day, hour, minute and second within their ranges (the year has four digits:
/// 0000-9999).
fn check_ranges(f: &Fields) -> Result<(), ParseError> {
    use ParseError::ComponentRange;
    if f.month > 12 {
        return Err(ComponentRange("month"));
    }
    if f.day == 0 || f.day > days_in_month(f.year as i32, f.month) {
        return Err(ComponentRange("day"));
    }
    if f.hour > 23 {
        return Err(ComponentRange("hour"));
    }
    if f.minute > 59 {
        return Err(ComponentRange("minute"));
    }
    if f.second > 59 {
        return Err(ComponentRange("second"));
    }
    Ok(())
}

/// The instant of range-checked fields.
fn instant(f: &Fields) -> Result<Timestamp, ParseError> {
    // Every component is in range: the conversions cannot fail.
    let civil = DateTime::new(
        f.year as i16,
        f.month as i8,
        f.day as i8,
        f.hour as i8,
        f.minute as i8,
        f.second as i8,
        f.nanosecond as i32,
    )
    .map_err(|_| ParseError::OutOfRange)?;
    let offset = Offset::from_seconds(f.offset_seconds).map_err(|_| ParseError::OutOfRange)?;
    offset
        .to_timestamp(civil)
        .map_err(|_| ParseError::OutOfRange)
}

/// Whether `t` is 23:59:59.999999999 UTC on the last day of its month (where a leap second
/// may stand).
fn is_last_second_of_month(t: Timestamp) -> bool {
    let utc = Offset::UTC.to_datetime(t);
    utc.hour() == 23
        && utc.minute() == 59
        && utc.second() == 59
        && utc.subsec_nanosecond() == 999_999_999
        && i32::from(utc.day()) == i32::from(utc.days_in_month())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        parse(s)
            .unwrap_or_else(|e| panic!("{s:?}: {e}"))
            .to_string()
    }

    fn err(s: &str) -> String {
        match parse(s) {
            Ok(t) => panic!("{s:?} parsed as {t}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn accepts_rfc3339_with_any_separator_and_offset() {
        assert_eq!(ok("2026-11-24T13:00:00Z"), "2026-11-24T13:00:00Z");
        assert_eq!(ok("2026-11-24t13:00:00z"), "2026-11-24T13:00:00Z");
        assert_eq!(ok("2026-11-24 08:00:00-05:00"), "2026-11-24T13:00:00Z");
        assert_eq!(ok("2026-11-24_18:30:00+05:30"), "2026-11-24T13:00:00Z");
        assert_eq!(ok("2026-11-24T13:00:00.5Z"), "2026-11-24T13:00:00.5Z");
        assert_eq!(
            ok("2026-11-24T13:00:00.1234567891234Z"),
            "2026-11-24T13:00:00.123456789Z"
        );
        assert_eq!(ok("0000-01-01T00:00:00+01:00"), "-000001-12-31T23:00:00Z");
        assert_eq!(ok("2026-12-31T23:59:60Z"), "2026-12-31T23:59:59.999999999Z");
        assert_eq!(
            ok("2026-12-31T18:59:60-05:00"),
            "2026-12-31T23:59:59.999999999Z"
        );
        assert_eq!(ok("2024-02-29T00:00:00Z"), "2024-02-29T00:00:00Z");
    }

    #[test]
    fn refuses_everything_else_with_the_component() {
        for (s, e) in [
            ("", "the 'year' component could not be parsed"),
            (
                "26-11-24T13:00:00Z",
                "the 'year' component could not be parsed",
            ),
            ("2026/11/24T13:00:00Z", "a character literal was not valid"),
            (
                "2026-00-24T13:00:00Z",
                "the 'month' component could not be parsed",
            ),
            ("2026-13-24T13:00:00Z", "month was not in range"),
            (
                "2026-13-24T13:00:00",
                "the 'offset hour' component could not be parsed",
            ),
            (
                "2026-11-24",
                "the 'separator' component could not be parsed",
            ),
            ("2026-11-24T13:00Z", "a character literal was not valid"),
            (
                "2026-11-24T13:00:00",
                "the 'offset hour' component could not be parsed",
            ),
            (
                "2026-11-24T13:00:00.Z",
                "the 'subsecond' component could not be parsed",
            ),
            (
                "2026-11-24T13:00:00+24:00",
                "the 'offset hour' component could not be parsed",
            ),
            (
                "2026-11-24T13:00:00+05",
                "a character literal was not valid",
            ),
            (
                "2026-11-24T13:00:00+05:60",
                "offset minute was not in range",
            ),
            (
                "2026-11-24T13:00:00+0500",
                "a character literal was not valid",
            ),
            (
                "2026-11-24T13:00:00Z ",
                "unexpected trailing characters; the end of input was expected",
            ),
            (
                "2026-11-24T13:00:00Z[UTC]",
                "unexpected trailing characters; the end of input was expected",
            ),
            ("2026-02-29T13:00:00Z", "day was not in range"),
            ("2026-11-00T13:00:00Z", "day was not in range"),
            ("2026-11-24T24:00:00Z", "hour was not in range"),
            ("2026-11-24T13:60:00Z", "minute was not in range"),
            ("2026-11-24T13:00:61Z", "second was not in range"),
            ("2026-11-30T23:59:60+01:00", "second was not in range"),
            ("2026-11-24T23:59:60Z", "second was not in range"),
        ] {
            assert_eq!(err(s), e, "{s:?}");
        }
    }
}
