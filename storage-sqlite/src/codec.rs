//! Encoding and decoding between model values and SQLite columns, and error mapping.

use leadroute_core::storage::StorageError;
use rusqlite::{ErrorCode, Row};
use serde::de::DeserializeOwned;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

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
pub(crate) fn ts(t: OffsetDateTime) -> Result<String, StorageError> {
    let t = t.to_offset(UtcOffset::UTC);
    let year = t.year();
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
    put(0, 4, year.unsigned_abs());
    put(5, 2, u32::from(u8::from(t.month())));
    put(8, 2, u32::from(t.day()));
    put(11, 2, u32::from(t.hour()));
    put(14, 2, u32::from(t.minute()));
    put(17, 2, u32::from(t.second()));
    put(20, 6, t.microsecond());
    Ok(b.iter().map(|&c| char::from(c)).collect())
}

/// [`ts`] for an optional time.
pub(crate) fn ts_opt(t: Option<OffsetDateTime>) -> Result<Option<String>, StorageError> {
    t.map(ts).transpose()
}

/// Parses a time stored by [`ts`] (any RFC 3339 text is accepted), as UTC.
pub(crate) fn parse_ts(s: &str) -> Result<OffsetDateTime, StorageError> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| t.to_offset(UtcOffset::UTC))
        .map_err(|e| corrupt(format!("bad timestamp {s:?}: {e}")))
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
    pub(crate) fn time(&self, i: usize) -> Result<OffsetDateTime, StorageError> {
        let s: String = self.get(i)?;
        parse_ts(&s).map_err(|e| in_op_err(self.table, i, e))
    }

    /// A nullable timestamp column.
    pub(crate) fn time_opt(&self, i: usize) -> Result<Option<OffsetDateTime>, StorageError> {
        let s: Option<String> = self.get(i)?;
        s.as_deref()
            .map(parse_ts)
            .transpose()
            .map_err(|e| in_op_err(self.table, i, e))
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
    use time::macros::datetime;

    #[test]
    fn timestamps_are_fixed_width_utc_and_round_trip() {
        let t = datetime!(2025-03-14 15:09:26.535897 UTC);
        let s = ts(t).expect("format");
        assert_eq!(s, "2025-03-14T15:09:26.535897Z");
        assert_eq!(parse_ts(&s).expect("parse"), t);
        let whole = datetime!(2025-03-14 10:00:00 -05:00);
        assert_eq!(ts(whole).expect("format"), "2025-03-14T15:00:00.000000Z");
        // Sub-microsecond precision is truncated, never rounded up.
        let nanos = datetime!(2025-03-14 15:09:26.999999999 UTC);
        assert_eq!(ts(nanos).expect("format"), "2025-03-14T15:09:26.999999Z");
    }

    #[test]
    fn text_order_is_time_order() {
        let a = datetime!(2025-03-14 09:59:59.999999 UTC);
        let b = datetime!(2025-03-14 10:00:00 UTC);
        let c = datetime!(2026-01-01 00:00:00.000001 UTC);
        let (sa, sb, sc) = (ts(a).unwrap(), ts(b).unwrap(), ts(c).unwrap());
        assert!(sa < sb && sb < sc);
    }

    #[test]
    fn out_of_range_years_are_refused() {
        let t = datetime!(-0001-12-31 23:59:59 UTC);
        assert!(ts(t).is_err());
    }
}
