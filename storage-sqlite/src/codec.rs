//! Encoding and decoding between model values and SQLite columns, and error mapping.

use jiff::tz::Offset;
use jiff::Timestamp;
use leadroute_core::storage::StorageError;
use rusqlite::{ErrorCode, Row};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Maps a rusqlite error to the storage error the traits promise.
///
/// - any `SQLITE_CONSTRAINT_*` (UNIQUE, PRIMARY KEY, FOREIGN KEY, CHECK, NOT NULL) → `Conflict`;
/// - `SQLITE_BUSY` / `SQLITE_LOCKED` → `Unavailable`;
/// - a value that cannot be decoded, or a corrupt file → `Corrupt`;
/// - anything else → `Backend`.
pub(crate) fn db(e: rusqlite::Error) -> StorageError {
    use rusqlite::Error as E;
    let make = match &e {
        E::SqliteFailure(f, _) => match f.code {
            ErrorCode::ConstraintViolation => StorageError::conflict,
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StorageError::unavailable,
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => StorageError::corrupt,
            _ => StorageError::backend,
        },
        E::FromSqlConversionFailure(..)
        | E::IntegralValueOutOfRange(..)
        | E::InvalidColumnType(..)
        | E::Utf8Error(..) => StorageError::corrupt,
        _ => StorageError::backend,
    };
    make(e.to_string()).with_source(e)
}

/// `.db()` on rusqlite results: maps the error with [`db`].
pub(crate) trait Db<T> {
    fn db(self) -> Result<T, StorageError>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T, StorageError> {
        self.map_err(db)
    }
}

/// Prefixes an error's message with the operation that failed, keeping its variant.
pub(crate) fn in_op<T>(op: &str, r: Result<T, StorageError>) -> Result<T, StorageError> {
    r.map_err(|e| prefix(op, e))
}

/// Prefixes one error's message, keeping its kind and source.
pub(crate) fn prefix(op: &str, e: StorageError) -> StorageError {
    e.context(op)
}

pub(crate) fn corrupt(msg: impl Into<String>) -> StorageError {
    StorageError::corrupt(msg)
}

/// Formats a time as fixed-width RFC 3339 UTC text, `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
///
/// Always six fractional digits (microseconds; anything finer is truncated), so that text
/// order is time order and `next_attempt_at <= ?` compares correctly. Years outside
/// 0000–9999 cannot keep that property and are refused.
pub(crate) fn ts(t: Timestamp) -> Result<String, StorageError> {
    let d = Offset::UTC.to_datetime(t);
    let year = d.year();
    if !(0..=9999).contains(&year) {
        return Err(StorageError::backend(format!(
            "timestamp {t} is outside the years 0000-9999 that the store can keep in order"
        )));
    }
    // Written digit by digit: this runs for nearly every row written, and `format!` costs
    // several times more.
    let mut b = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    // Every component is non-negative here: the year was checked, the others always are.
    let digits = |v: i64| u32::try_from(v).unwrap_or(0);
    put(0, 4, digits(year.into()));
    put(5, 2, digits(d.month().into()));
    put(8, 2, digits(d.day().into()));
    put(11, 2, digits(d.hour().into()));
    put(14, 2, digits(d.minute().into()));
    put(17, 2, digits(d.second().into()));
    put(20, 6, digits((d.subsec_nanosecond() / 1_000).into()));
    Ok(b.iter().map(|&c| char::from(c)).collect())
}

/// [`ts`] for an optional time.
pub(crate) fn ts_opt(t: Option<Timestamp>) -> Result<Option<String>, StorageError> {
    t.map(ts).transpose()
}

/// Parses a time stored by [`ts`] (any RFC 3339 text is accepted, see
/// [`leadroute_core::rfc3339::parse`]).
pub(crate) fn parse_ts(s: &str) -> Result<Timestamp, StorageError> {
    leadroute_core::rfc3339::parse(s).map_err(|e| corrupt(format!("bad timestamp {s:?}: {e}")))
}

/// Serializes a value to JSON text for a TEXT column.
pub(crate) fn json<T: Serialize + ?Sized>(v: &T) -> Result<String, StorageError> {
    serde_json::to_string(v)
        .map_err(|e| StorageError::backend(format!("cannot encode JSON column: {e}")))
}

/// Converts an unsigned count to SQLite's signed integer.
pub(crate) fn int(v: u64, what: &str) -> Result<i64, StorageError> {
    i64::try_from(v).map_err(|_| StorageError::backend(format!("{what} {v} is out of range")))
}

/// Typed access to one row's columns, decoding failures as `Corrupt`.
pub(crate) struct Cols<'r, 's> {
    row: &'r Row<'s>,
    table: &'static str,
}

impl<'r, 's> Cols<'r, 's> {
    pub(crate) fn new(row: &'r Row<'s>, table: &'static str) -> Self {
        Cols { row, table }
    }

    /// A plain column (integers, text, reals, booleans, options of them).
    pub(crate) fn get<T: rusqlite::types::FromSql>(&self, i: usize) -> Result<T, StorageError> {
        self.row.get(i).map_err(|e| in_op_err(self.table, i, db(e)))
    }

    /// A non-negative integer.
    pub(crate) fn count(&self, i: usize) -> Result<u64, StorageError> {
        let v: i64 = self.get(i)?;
        u64::try_from(v)
            .map_err(|_| corrupt(format!("{}: column {i}: negative count {v}", self.table)))
    }

    /// A timestamp column.
    pub(crate) fn time(&self, i: usize) -> Result<Timestamp, StorageError> {
        let s: String = self.get(i)?;
        parse_ts(&s).map_err(|e| in_op_err(self.table, i, e))
    }

    /// A nullable timestamp column.
    pub(crate) fn time_opt(&self, i: usize) -> Result<Option<Timestamp>, StorageError> {
        let s: Option<String> = self.get(i)?;
        s.as_deref()
            .map(parse_ts)
            .transpose()
            .map_err(|e| in_op_err(self.table, i, e))
    }

    /// A `YYYY-MM-DD` day column.
    pub(crate) fn day(&self, i: usize) -> Result<jiff::civil::Date, StorageError> {
        let s: String = self.get(i)?;
        s.parse()
            .map_err(|e| corrupt(format!("{}: column {i}: bad day {s:?}: {e}", self.table)))
    }

    /// A nullable `YYYY-MM-DD` day column.
    pub(crate) fn day_opt(&self, i: usize) -> Result<Option<jiff::civil::Date>, StorageError> {
        let s: Option<String> = self.get(i)?;
        s.map(|s| {
            s.parse()
                .map_err(|e| corrupt(format!("{}: column {i}: bad day {s:?}: {e}", self.table)))
        })
        .transpose()
    }

    /// A JSON text column.
    pub(crate) fn json<T: DeserializeOwned>(&self, i: usize) -> Result<T, StorageError> {
        let s: String = self.get(i)?;
        serde_json::from_str(&s)
            .map_err(|e| corrupt(format!("{}: column {i}: bad JSON: {e}", self.table)))
    }
}

fn in_op_err(table: &str, i: usize, e: StorageError) -> StorageError {
    prefix(&format!("{table}: column {i}"), e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("test timestamp")
    }

    #[test]
    fn timestamps_are_fixed_width_utc_and_round_trip() {
        let t = at("2025-03-14T15:09:26.535897Z");
        let s = ts(t).expect("format");
        assert_eq!(s, "2025-03-14T15:09:26.535897Z");
        assert_eq!(parse_ts(&s).expect("parse"), t);
        let whole = at("2025-03-14T10:00:00-05:00");
        assert_eq!(ts(whole).expect("format"), "2025-03-14T15:00:00.000000Z");
        // Sub-microsecond precision is truncated, never rounded up.
        let nanos = at("2025-03-14T15:09:26.999999999Z");
        assert_eq!(ts(nanos).expect("format"), "2025-03-14T15:09:26.999999Z");
    }

    #[test]
    fn text_order_is_time_order() {
        let a = at("2025-03-14T09:59:59.999999Z");
        let b = at("2025-03-14T10:00:00Z");
        let c = at("2026-01-01T00:00:00.000001Z");
        let (sa, sb, sc) = (ts(a).unwrap(), ts(b).unwrap(), ts(c).unwrap());
        assert!(sa < sb && sb < sc);
    }

    #[test]
    fn out_of_range_years_are_refused() {
        let t = at("-000001-12-31T23:59:59Z");
        assert!(ts(t).is_err());
        // The ends of the years kept: four-digit years, six fractional digits, `Z`.
        let first = at("0000-01-01T00:00:00Z");
        assert_eq!(ts(first).expect("format"), "0000-01-01T00:00:00.000000Z");
        assert_eq!(
            parse_ts("0000-01-01T00:00:00.000000Z").expect("parse"),
            first
        );
        assert_eq!(
            ts(Timestamp::MAX).expect("format"),
            "9999-12-30T22:00:00.999999Z"
        );
        let before_1970 = at("1969-12-31T23:59:59.9999995Z");
        assert_eq!(
            ts(before_1970).expect("format"),
            "1969-12-31T23:59:59.999999Z"
        );
    }
}
