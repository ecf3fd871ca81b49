//! The repository traits over one open SQLite transaction, one file per aggregate: `config`
//! (providers, workspaces, rules), `leads` (source records, rejections, contacts, leads),
//! `appointments`, `counters` (capacity, endpoint health, routing state), `outbox`,
//! `events` (billing and audit events), `intake` (webhook configs, replay protection, usage),
//! `returns` (appointment returns), `bookings` (Cal.com booking events and uid links),
//! `outreach` (the contact queue, the suppression list, scheduled messages) and `reports`.

use crate::codec::{corrupt, in_op, int, json, prefix, ts, ts_opt, Cols, Db};
use jiff::Timestamp;
use leadroute_core::model::*;
use leadroute_core::routing::RoutingRule;
use leadroute_core::storage::*;
use rusqlite::{params, Connection, OptionalExtension, Row};

mod appointments;
mod bookings;
mod config;
mod counters;
mod events;
mod intake;
mod leads;
mod outbox;
mod outreach;
#[cfg(test)]
pub(crate) use outreach::{CLAIM_CONTACTS_SQL, CLAIM_MESSAGES_SQL};
mod reports;
mod returns;

/// One open transaction (`BEGIN IMMEDIATE` was issued by [`crate::SqliteStore`]); implements
/// every repository trait, so it is a [`Tx`].
pub(crate) struct SqlTx<'c> {
    pub(crate) conn: &'c Connection,
}

/// Wall-clock time for bookkeeping columns (`created_at`/`updated_at` of mutable rows).
fn now() -> Result<String, StorageError> {
    ts(Timestamp::now())
}

impl SqlTx<'_> {
    /// Executes one cached statement.
    fn exec(&self, sql: &str, p: impl rusqlite::Params) -> Result<usize, StorageError> {
        self.conn.prepare_cached(sql).db()?.execute(p).db()
    }

    /// Runs `f` inside a savepoint: a method that writes several rows writes all or none, so
    /// a caller that handles its `Conflict` and commits leaves no half-written outcome behind.
    fn atomic<T>(&self, f: impl FnOnce() -> Result<T, StorageError>) -> Result<T, StorageError> {
        self.exec("SAVEPOINT leadroute_call", [])?;
        match f() {
            Ok(v) => {
                self.exec("RELEASE leadroute_call", [])?;
                Ok(v)
            }
            Err(e) => {
                let undo = self
                    .exec("ROLLBACK TO leadroute_call", [])
                    .and_then(|_| self.exec("RELEASE leadroute_call", []));
                match undo {
                    Ok(_) => Err(e),
                    Err(u) => Err(StorageError::backend(format!(
                        "{e}; then rolling back to the savepoint failed: {u}"
                    ))),
                }
            }
        }
    }

    /// Collects all rows of a cached query, decoding each with `f`.
    fn all<T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        f: impl Fn(&Row<'_>) -> Result<T, StorageError>,
    ) -> Result<Vec<T>, StorageError> {
        let mut stmt = self.conn.prepare_cached(sql).db()?;
        let mut rows = stmt.query(p).db()?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().db()? {
            out.push(f(row)?);
        }
        Ok(out)
    }

    /// The first row of a cached query, if any, decoded with `f`.
    fn one<T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        f: impl Fn(&Row<'_>) -> Result<T, StorageError>,
    ) -> Result<Option<T>, StorageError> {
        let mut stmt = self.conn.prepare_cached(sql).db()?;
        // The inner result carries decoding errors out of rusqlite's closure untouched.
        stmt.query_row(p, |row| Ok(f(row)))
            .optional()
            .db()?
            .transpose()
    }
}
