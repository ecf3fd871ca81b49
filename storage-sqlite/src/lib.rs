//! leadroute-sqlite: the SQLite adapter for leadroute's storage traits.
//!
//! [`SqliteStore`] implements [`leadroute_core::storage::Store`] over one SQLite file (or an
//! in-memory database) with the `bundled` build of SQLite, and passes the same conformance
//! suite as the in-memory reference store (`leadroute_core::storage::conformance`).
//!
//! # Examples
//!
//! ```
//! use leadroute_core::model::{Cents, Workspace};
//! use leadroute_core::storage::{with_tx, WorkspaceRepo};
//! use leadroute_sqlite::SqliteStore;
//!
//! let store = SqliteStore::open_in_memory()?;
//! let ws = Workspace {
//!     id: "solar_ca_001".into(),
//!     name: "Sunrise Solar".into(),
//!     outbound_webhook_url: "https://hooks.sunrise-solar.example/leadroute".into(),
//!     webhook_active: true,
//!     business_type: Some("Solar".into()),
//!     payment_rate: Cents(20000),
//!     timezone: Some("America/Los_Angeles".into()),
//!     webhook_secret: None,
//!     duplicate_window_days: None,
//!     capacity: Default::default(),
//!     schedule: None,
//!     delivery: Default::default(),
//!     require_consent: false,
//!     returns: Default::default(),
//!     messages: None,
//!     calendar: None,
//! };
//! with_tx(&store, |tx| Ok(tx.put_workspace(&ws)?))?;
//! let back = with_tx(&store, |tx| Ok(tx.workspace("solar_ca_001")?))?;
//! assert_eq!(back, Some(ws));
//! # Ok::<(), leadroute_core::Error>(())
//! ```
//!
//! # Design
//!
//! **One connection per store, behind a mutex.** A rusqlite `Connection` is `Send` but not
//! `Sync`, and SQLite allows one writer at a time anyway, so a [`SqliteStore`] holds one
//! connection in a `Mutex` and serializes its transactions. Processes (or several stores in one
//! process) that share a file are serialized by SQLite's own locks. A pool of read connections
//! would add read concurrency; every trait call here runs inside a transaction that may write,
//! so it would not help the engine.
//!
//! **WAL.** File databases are switched to `journal_mode=WAL`: readers never block the writer
//! and the writer never blocks readers, commits append to the log instead of rewriting pages,
//! and `synchronous=NORMAL` is then durable against application crashes (a power loss can
//! lose the last commits, never corrupt the file). WAL needs shared memory, so every process
//! using the file must run on the same host; it does not work over network file systems.
//! Committed pages are copied from the log into the file by a background thread of the store
//! (a PASSIVE checkpoint from its own connection, every 50 ms after commits; see
//! [`SqliteOptions::background_checkpoint`]), beside the writer instead of inside its
//! commits: about 10% more records per second through intake on 2 cores.
//!
//! **Immediate transactions.** [`Store::transaction`] begins with `BEGIN IMMEDIATE`, which
//! takes the write lock up front. A deferred transaction that reads first and writes later must
//! upgrade its lock, and two such transactions in two processes can each hold a read snapshot
//! the other needs to invalidate, so one of them fails with `SQLITE_BUSY` whatever the busy
//! timeout. Taking the lock first means a second writer simply waits (up to
//! [`SqliteOptions::busy_timeout`]) and then sees the first one's committed rows: the
//! read-then-write steps of the engine (look up a contact, insert it if missing) are therefore
//! serializable across processes. `foreign_keys=ON` is set on every connection.
//!
//! **Invariants are constraints.** Every promise of the storage traits that two writers could
//! race on is a constraint in the schema, so it holds whoever writes the file:
//!
//! | invariant | constraint |
//! | --- | --- |
//! | one contact per (dedup scope, phone) | `contacts UNIQUE (dedup_scope, phone_e164)` |
//! | one phone-less contact per (dedup scope, email key) | `contacts_email_only`: a partial `UNIQUE` index on `contacts (dedup_scope, email_key) WHERE phone_e164 IS NULL` |
//! | a contact has a phone or an email key | `CHECK` on `contacts` |
//! | a duplicate lead names an existing original | `leads.duplicate_of REFERENCES leads (id)` |
//! | one stored outcome per (provider, record key), lead or rejection | `source_records PRIMARY KEY (provider_id, record_key)`, plus `UNIQUE (provider_id, record_key)` on `leads` and on `lead_rejections` |
//! | one appointment per lead | `appointments UNIQUE (lead_id)` |
//! | one delivery per (appointment, sequence); one `webhook-id` per delivery | `deliveries UNIQUE (appointment_id, sequence)`, `UNIQUE (webhook_id)` |
//! | one row per attempt number | `delivery_attempts UNIQUE (delivery_id, attempt_number)` |
//! | exactly-once billing per workspace | `billing_events UNIQUE (appointment_id, workspace_id, kind)`, written with `ON CONFLICT DO NOTHING` |
//! | one return per (appointment, workspace) | `appointment_returns UNIQUE (appointment_id, workspace_id)`, written with `ON CONFLICT DO NOTHING` |
//! | one stored Cal.com event per (webhook, event key) | `calcom_booking_events UNIQUE (webhook_id, event_key)`, written with `ON CONFLICT DO NOTHING` |
//! | a booking uid belongs to one appointment | `calcom_booking_links PRIMARY KEY (uid)`, written with `ON CONFLICT DO NOTHING` |
//! | routed rows have a workspace, unrouted rows a reason | `CHECK`s on `appointments` |
//! | enumerated text holds a known spelling (lifecycle status, webhook event, return status, …) | `CHECK (... IN (...))` on the column |
//! | a signed inbound message is accepted once per scope | `inbound_messages PRIMARY KEY (scope, message_id)`, written with `ON CONFLICT DO NOTHING` |
//! | one usage row per (provider, inbound webhook, day) | `provider_usage_log UNIQUE (provider_id, day, webhook_id)`, written with an `ON CONFLICT ... DO UPDATE` that adds |
//! | a lead event is about exactly one lead or one rejection | `CHECK` on `lead_events` |
//! | one contact-queue entry per lead | `contact_queue PRIMARY KEY (lead_id)`, written with `ON CONFLICT DO NOTHING` |
//! | one row per contact attempt number | `contact_attempts UNIQUE (lead_id, attempt_number)` |
//! | a number is suppressed once | `suppression_list PRIMARY KEY (phone_sha256)`, written with `ON CONFLICT DO NOTHING` |
//! | one log row per message try | `message_logs UNIQUE (message_id, try_number)` |
//!
//! A lead and a rejection live in different tables, so "one outcome per record key across
//! both" cannot be a single `UNIQUE`: `insert_lead` and `insert_rejection` first insert the key
//! into `source_records` (a conflict there is [`StorageErrorKind::Conflict`](leadroute_core::storage::StorageErrorKind::Conflict)) and then the row it
//! points to, inside one savepoint, so a failed call leaves nothing behind even when the caller
//! handles the error and commits. `stored_record` reads `source_records`.
//!
//! **Errors.** `SQLITE_CONSTRAINT_*` maps to [`StorageErrorKind::Conflict`](leadroute_core::storage::StorageErrorKind::Conflict),
//! `SQLITE_BUSY`/`SQLITE_LOCKED` (the busy timeout expired) to [`StorageErrorKind::Unavailable`](leadroute_core::storage::StorageErrorKind::Unavailable), values
//! that cannot be decoded (bad JSON, timestamp or enum text) to [`StorageErrorKind::Corrupt`](leadroute_core::storage::StorageErrorKind::Corrupt), and
//! everything else to [`StorageErrorKind::Backend`](leadroute_core::storage::StorageErrorKind::Backend).
//!
//! **Lease-based outbox claim, in sequence order.** SQLite has no `SELECT ... FOR UPDATE SKIP
//! LOCKED`. A worker claims due deliveries with one statement,
//!
//! ```sql
//! UPDATE deliveries SET locked_until = :lease_until
//! WHERE id IN (SELECT d.id FROM deliveries d
//!              WHERE d.status = 'pending' AND d.next_attempt_at <= :now
//!                AND (d.locked_until IS NULL OR d.locked_until <= :now)
//!                AND NOT EXISTS (SELECT 1 FROM deliveries p
//!                                WHERE p.appointment_id = d.appointment_id
//!                                  AND p.sequence < d.sequence AND p.status = 'pending')
//!              ORDER BY d.next_attempt_at, d.id LIMIT :n)
//! RETURNING ...
//! ```
//!
//! inside an immediate transaction, so no other claimer can pick the same rows between the
//! selection and the lease. The worker then posts outside any transaction; recording the
//! attempt clears the lease. A worker that dies leaves its lease to expire, after which the
//! rows are due again, so a delivery is sent at least once (the receiver deduplicates on the
//! `webhook-id`) and billed exactly once. The `NOT EXISTS` keeps an appointment's events in
//! order: a delivery waits while an earlier-sequence delivery of its appointment is pending
//! (leased, retrying or not yet due), and goes once that one succeeded or failed. The
//! predecessor and the candidate are read in the same statement under the write lock, so no
//! other writer can settle or enqueue between the check and the lease; the partial index
//! `deliveries_pending_sequence (appointment_id, sequence) WHERE status = 'pending'` answers
//! the check. `redeliver` is one conditional `UPDATE ... WHERE status <> 'success'
//! RETURNING ...`, so a delivered row is never queued again.
//!
//! **Leased contact-queue and message claims.** `claim_contacts` is the same kind of one
//! statement, an `UPDATE contact_queue SET status = 'attempting', worker = :worker,
//! locked_until = :lease_until WHERE lead_id IN (...) RETURNING ...`, whose subquery unions
//! the two due sets, each cut to the limit in claim order before the outer `ORDER BY
//! next_attempt_at, lead_id LIMIT :n`:
//!
//! ```sql
//! SELECT lead_id FROM (
//!   SELECT lead_id, next_attempt_at FROM (
//!     SELECT lead_id, next_attempt_at FROM contact_queue
//!     WHERE status IN ('pending', 'no_answer') AND next_attempt_at <= :now
//!       AND (locked_until IS NULL OR locked_until <= :now)
//!     ORDER BY next_attempt_at, lead_id LIMIT :n)
//!   UNION ALL
//!   SELECT lead_id, next_attempt_at FROM (
//!     SELECT lead_id, next_attempt_at FROM contact_queue
//!     WHERE status = 'attempting' AND locked_until <= :now
//!     ORDER BY next_attempt_at, lead_id LIMIT :n))
//! ORDER BY next_attempt_at, lead_id LIMIT :n
//! ```
//!
//! Each set has a partial index whose `WHERE` the query repeats word for word (that is how
//! SQLite sees that a partial index applies): `contact_queue_due (next_attempt_at, lead_id)
//! WHERE status IN ('pending', 'no_answer')` is read from its front in claim order and stops
//! after `:n` rows, and `contact_queue_leased (locked_until) WHERE status = 'attempting'`
//! finds the expired leases (a worker died), which are few and sorted on their own. Finished
//! entries (`scheduled`, `not_interested`, `unreachable`, `do_not_contact`) are in neither
//! index, so a claim reads about `:n` index entries and `:n` rows however long the queue and
//! its history are (a test checks the plan with `EXPLAIN QUERY PLAN`: no scan of the table).
//! A claimed entry leaves the due index and enters the lease index in the same statement;
//! `defer_contact` and `record_contact_attempt` clear the lease and the worker, so only
//! `attempting` entries are ever leased. `claim_due_messages` leases like the delivery outbox
//! (`UPDATE scheduled_messages SET locked_until = :lease_until WHERE id IN (... WHERE
//! status = 'pending' AND next_try_at <= :now AND (locked_until IS NULL OR locked_until <=
//! :now) ORDER BY next_try_at, id LIMIT :n) RETURNING ...`) over the partial index
//! `scheduled_messages_due (next_try_at) WHERE status = 'pending'`; a claimed message stays
//! `pending` until `record_message_try` logs the try, clears the lease and moves it on. All
//! of them run inside the immediate transaction, so no other writer comes between the pick
//! and the lease.
//!
//! **Compare-and-set writes.** The methods whose contract is "only if it is still in the
//! state the caller read" are each one conditional `UPDATE` (or `DELETE`) whose `WHERE`
//! clause is the expectation, so the check and the write cannot be separated by another
//! writer (also on a database that does not serialize writers, where the row lock taken by
//! the statement re-checks the clause): `update_lifecycle` writes `WHERE lifecycle_status =
//! :expected AND reschedule_count = :expected` (0 rows → `Conflict`, nothing written);
//! `decide_return` writes `WHERE status = 'pending'` (0 rows → `false`, or `Conflict` when the
//! return does not exist); `release_rejection` deletes the `source_records` claim `WHERE
//! rejection_id = :id` (0 rows → `Conflict`: released already, or the key now belongs to a
//! lead). The insert-if-absent methods (`insert_return`, `insert_booking_event`,
//! `link_booking_uid`) insert with `ON CONFLICT DO NOTHING` and then read the row that holds
//! the key, so no statement fails on a duplicate; `link_booking_uid` inserts only for an
//! existing appointment, so a missing appointment is a `Conflict` even for a linked uid.
//!
//! **Routing and lifecycle status.** `appointments.status` is the routing status (`routed` /
//! `unrouted`), as in schema version 1; the lifecycle status (`scheduled`, `confirmed`, …)
//! is `appointments.lifecycle_status` (version 9). The contact queue's status
//! (`contact_queue.status`) is a third one, the lead's place in outreach (version 10).
//!
//! **Storage formats.** Times are RFC 3339 UTC text in one fixed-width format,
//! `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always six fractional digits: microsecond precision, finer
//! parts are truncated), so text order is time order and comparisons such as
//! `next_attempt_at <= ?` work on the text. Calendar dates (usage days, `next_action_date`)
//! are `YYYY-MM-DD` text. Money is `INTEGER` cents. JSON values (`fields`, `warnings`, reason
//! codes, field maps, ZIP lists, capacity, schedules, delivery options, return policies) are
//! `TEXT` written by `serde_json`. Tables are `STRICT`.
//!
//! **Migrations.** The schema is a list of SQL files embedded with `include_str!`
//! (`migrations/NNNN_name.sql`). Opening a database applies those newer than its
//! `PRAGMA user_version` in order, in one immediate transaction, and sets `user_version` to
//! the last one applied; opening an up-to-date file writes nothing; a file whose version is
//! newer than this build knows is refused rather than misread. A migration may rebuild a
//! table that others reference (SQLite's 12-step `ALTER TABLE` procedure; version 2 rebuilds
//! `contacts` to make the phone optional, version 7 rebuilds `lead_source_providers` to allow
//! the `form` format and `lead_events` to hold events of rejections, version 9 rebuilds
//! `deliveries` and `billing_events` to replace their `UNIQUE` constraints), so `foreign_keys` is
//! turned off for the migration transaction, `PRAGMA foreign_key_check` must find nothing
//! before it commits (otherwise it rolls back and the open fails), and `foreign_keys` is back
//! on afterwards in every case.
#![deny(missing_docs)]

mod checkpointer;
mod codec;
mod tx;

use leadroute_core::storage::{StorageError, Store, Tx};
use leadroute_core::Error;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use codec::Db;

/// The embedded migrations: `(version, SQL)`, in order. Version `n` is the `n`-th file.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_contact_dedup.sql")),
    (3, include_str!("../migrations/0003_rule_targeting.sql")),
    (
        4,
        include_str!("../migrations/0004_capacity_and_routing_state.sql"),
    ),
    (5, include_str!("../migrations/0005_delivery_options.sql")),
    (6, include_str!("../migrations/0006_endpoint_health.sql")),
    (7, include_str!("../migrations/0007_intake_security.sql")),
    (
        8,
        include_str!("../migrations/0008_lead_status_at_insert.sql"),
    ),
    (
        9,
        include_str!("../migrations/0009_appointment_lifecycle.sql"),
    ),
    (10, include_str!("../migrations/0010_outreach.sql")),
];

/// Connection settings for [`SqliteStore::open_with`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use leadroute_sqlite::SqliteOptions;
///
/// let options = SqliteOptions::default().busy_timeout(Duration::from_secs(30));
/// assert_eq!(options.get_busy_timeout(), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SqliteOptions {
    busy_timeout: Duration,
    statement_cache_capacity: usize,
    background_checkpoint: Option<Duration>,
}

impl Default for SqliteOptions {
    /// A 10-second busy timeout, a 128-statement cache and background checkpoints every
    /// 50 ms.
    fn default() -> Self {
        SqliteOptions {
            busy_timeout: Duration::from_secs(10),
            statement_cache_capacity: 128,
            background_checkpoint: Some(Duration::from_millis(50)),
        }
    }
}

impl SqliteOptions {
    /// How long a transaction waits for another connection's write lock before failing with
    /// [`StorageErrorKind::Unavailable`](leadroute_core::storage::StorageErrorKind::Unavailable) (SQLite's `busy_timeout`). Default 10 s.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// The configured busy timeout.
    pub fn get_busy_timeout(&self) -> Duration {
        self.busy_timeout
    }

    /// How many prepared statements the connection keeps cached. Default 128, more than the
    /// adapter uses, so that no statement is ever re-parsed.
    pub fn statement_cache_capacity(mut self, capacity: usize) -> Self {
        self.statement_cache_capacity = capacity;
        self
    }

    /// Whether, and how often, a background thread checkpoints the WAL of a file database
    /// (see the crate docs, **WAL**): every `interval` after commits, a PASSIVE checkpoint
    /// from its own connection, while the store's connection only checkpoints itself past
    /// 4,000 WAL pages. `None`: no thread; the store's connection checkpoints every 1,000
    /// pages, SQLite's default. Default: every 50 ms.
    pub fn background_checkpoint(mut self, interval: Option<Duration>) -> Self {
        self.background_checkpoint = interval;
        self
    }

    /// The configured background checkpoint interval.
    pub fn get_background_checkpoint(&self) -> Option<Duration> {
        self.background_checkpoint
    }
}

/// A [`Store`] on an SQLite database (see the crate docs for the design).
///
/// `Send + Sync`: share it between threads behind an `Arc`; its transactions run one at a
/// time. Several stores (or processes) may open the same file; SQLite's locks serialize their
/// writes and the schema's constraints keep the invariants.
///
/// Transactions do not nest: calling [`Store::transaction`] on the same store from inside a
/// transaction's closure blocks forever (as with every `Mutex`-serialized store).
pub struct SqliteStore {
    /// Declared first: stopped before the connection closes.
    checkpointer: Option<checkpointer::Checkpointer>,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// The schema version this build creates and understands (`PRAGMA user_version`).
    pub const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

    /// Opens (creating if needed) the database file at `path` with default
    /// [`SqliteOptions`], switches it to WAL and migrates it to [`Self::SCHEMA_VERSION`].
    ///
    /// # Errors
    ///
    /// [`Error::Storage`]: [`StorageErrorKind::Backend`](leadroute_core::storage::StorageErrorKind::Backend) when the file cannot be opened, WAL cannot
    /// be enabled, a migration fails, or the file's schema is newer than this build;
    /// [`StorageErrorKind::Unavailable`](leadroute_core::storage::StorageErrorKind::Unavailable) when another connection holds the write lock for longer than the
    /// busy timeout while this one needs to migrate.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, Error> {
        SqliteStore::open_with(path, SqliteOptions::default())
    }

    /// [`SqliteStore::open`] with explicit options.
    ///
    /// # Errors
    ///
    /// As [`SqliteStore::open`].
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<SqliteStore, Error> {
        let path = path.as_ref();
        let conn = Connection::open(path)
            .map_err(|e| codec::prefix(&format!("opening {}", path.display()), codec::db(e)))?;
        let mut store = SqliteStore::setup(conn, &options, true)?;
        if let Some(interval) = options.background_checkpoint {
            if let Some(c) = checkpointer::Checkpointer::start(path, interval) {
                store
                    .lock()
                    .pragma_update(None, "wal_autocheckpoint", checkpointer::BACKSTOP_PAGES)
                    .db()?;
                store.checkpointer = Some(c);
            }
        }
        Ok(store)
    }

    /// A fresh, private in-memory database (no WAL: there is no file), migrated.
    ///
    /// # Errors
    ///
    /// As [`SqliteStore::open`].
    pub fn open_in_memory() -> Result<SqliteStore, Error> {
        let conn = Connection::open_in_memory().map_err(codec::db)?;
        SqliteStore::setup(conn, &SqliteOptions::default(), false)
    }

    fn setup(
        mut conn: Connection,
        options: &SqliteOptions,
        wal: bool,
    ) -> Result<SqliteStore, Error> {
        conn.busy_timeout(options.busy_timeout).db()?;
        conn.set_prepared_statement_cache_capacity(options.statement_cache_capacity);
        if wal {
            enable_wal(&conn, options.busy_timeout)?;
        }
        conn.pragma_update(None, "foreign_keys", true).db()?;
        conn.pragma_update(None, "synchronous", "NORMAL").db()?;
        let fk: bool = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .db()?;
        if !fk {
            return Err(StorageError::backend("SQLite refused foreign_keys=ON").into());
        }
        migrate(&mut conn)?;
        Ok(SqliteStore {
            checkpointer: None,
            conn: Mutex::new(conn),
        })
    }

    /// The database's schema version (`PRAGMA user_version`); after a successful open it is
    /// [`Self::SCHEMA_VERSION`].
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the pragma cannot be read.
    pub fn schema_version(&self) -> Result<u32, Error> {
        let conn = self.lock();
        Ok(user_version(&conn)?)
    }

    /// Checkpoints the whole WAL into the database file and truncates the `-wal` file
    /// (`PRAGMA wal_checkpoint(TRUNCATE)`), e.g. after a bulk load or before a backup. Returns
    /// the number of WAL pages that were checkpointed. A no-op for in-memory databases.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when SQLite fails; [`StorageErrorKind::Unavailable`](leadroute_core::storage::StorageErrorKind::Unavailable) when another connection's
    /// readers keep the checkpoint from completing within the busy timeout.
    pub fn checkpoint(&self) -> Result<u64, Error> {
        let conn = self.lock();
        // The background checkpointer waits meanwhile rather than making this one busy.
        let _idle = self.checkpointer.as_ref().map(|c| c.exclusive());
        let (busy, _log, done): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .db()?;
        if busy != 0 {
            return Err(StorageError::unavailable("WAL checkpoint blocked by readers").into());
        }
        Ok(u64::try_from(done.max(0)).unwrap_or(0))
    }

    /// The connection. A panic inside a transaction closure poisons the mutex, but the
    /// unwinding dropped the rusqlite `Transaction`, which rolled back, so the connection is
    /// sound and the poison is ignored.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Store for SqliteStore {
    fn transaction(&self, f: &mut dyn FnMut(&dyn Tx) -> Result<(), Error>) -> Result<(), Error> {
        let mut conn = self.lock();
        if !conn.is_autocommit() {
            // Only reachable if an earlier rollback failed; never run inside a stale transaction.
            conn.execute_batch("ROLLBACK").db()?;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| codec::prefix("BEGIN IMMEDIATE", codec::db(e)))?;
        let result = f(&tx::SqlTx { conn: &tx });
        match result {
            Ok(()) => {
                tx.commit()
                    .map_err(|e| codec::prefix("COMMIT", codec::db(e)))?;
                if let Some(c) = &self.checkpointer {
                    c.committed();
                }
                Ok(())
            }
            Err(e) => {
                // A failed ROLLBACK still leaves nothing committed; the caller gets its error.
                let _ = tx.rollback();
                Err(e)
            }
        }
    }
}

fn user_version(conn: &Connection) -> Result<u32, StorageError> {
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .db()?;
    u32::try_from(v).map_err(|_| StorageError::corrupt(format!("bad schema version {v}")))
}

/// Switches a file database to WAL. Changing the journal mode needs a moment of exclusive
/// access; when several connections open a new file at once it can report busy, so it is
/// retried until the busy timeout has passed.
fn enable_wal(conn: &Connection, timeout: Duration) -> Result<(), StorageError> {
    let start = Instant::now();
    loop {
        let mode = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .db();
        match mode {
            Ok(m) if m.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(m) => {
                return Err(StorageError::backend(format!(
                    "cannot enable WAL: journal_mode stays {m:?}"
                )))
            }
            Err(e)
                if e.kind() == leadroute_core::storage::StorageErrorKind::Unavailable
                    && start.elapsed() < timeout =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(codec::prefix("enabling WAL", e)),
        }
    }
}

/// Applies the migrations newer than the file's `user_version`, in one immediate transaction.
///
/// Some migrations rebuild a table that others reference (SQLite's 12-step `ALTER TABLE`
/// procedure), which needs `foreign_keys` OFF; that pragma is a no-op inside a transaction, so
/// it is turned off before the transaction begins, `PRAGMA foreign_key_check` runs inside it
/// before the commit (any violation fails the migration and rolls it back), and it is turned
/// back on afterwards, whatever happened.
fn migrate(conn: &mut Connection) -> Result<(), StorageError> {
    migrate_to(conn, SqliteStore::SCHEMA_VERSION)
}

/// [`migrate`], stopping at version `target` (tests build old databases with it).
fn migrate_to(conn: &mut Connection, target: u32) -> Result<(), StorageError> {
    let latest = SqliteStore::SCHEMA_VERSION;
    let check = |v: u32| {
        if v > latest {
            Err(StorageError::backend(format!(
                "database schema version {v} is newer than this leadroute-sqlite knows \
                 ({latest}); upgrade leadroute"
            )))
        } else {
            Ok(())
        }
    };
    let current = user_version(conn)?;
    check(current)?;
    if current >= target {
        return Ok(());
    }
    conn.pragma_update(None, "foreign_keys", false).db()?;
    let result = apply_migrations(conn, target, &check);
    let restored = restore_foreign_keys(conn);
    match (result, restored) {
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(r)) => Err(StorageError::backend(format!("{e}; then {r}"))),
        (Ok(()), r) => r,
    }
}

/// The migration transaction proper (foreign keys are off while it runs).
fn apply_migrations(
    conn: &mut Connection,
    target: u32,
    check: &dyn Fn(u32) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .db()?;
    // Another connection may have migrated while this one waited for the lock.
    let current = user_version(&tx)?;
    check(current)?;
    for &(version, sql) in MIGRATIONS
        .iter()
        .filter(|(v, _)| *v > current && *v <= target)
    {
        tx.execute_batch(sql)
            .map_err(|e| codec::prefix(&format!("migration {version}"), codec::db(e)))?;
        tx.pragma_update(None, "user_version", version).db()?;
    }
    foreign_key_check(&tx)?;
    // Dropping `tx` on an error above rolls everything back.
    tx.commit().db()
}

/// `PRAGMA foreign_key_check` over the whole database: an error naming the first violations.
fn foreign_key_check(conn: &Connection) -> Result<(), StorageError> {
    let mut stmt = conn.prepare("PRAGMA foreign_key_check").db()?;
    let mut rows = stmt.query([]).db()?;
    let mut found = Vec::new();
    let mut total = 0usize;
    while let Some(row) = rows.next().db()? {
        total += 1;
        if found.len() < 5 {
            let table: String = row.get(0).db()?;
            let rowid: Option<i64> = row.get(1).db()?;
            let parent: String = row.get(2).db()?;
            found.push(format!(
                "{table} row {} -> {parent}",
                rowid.map_or_else(|| "?".to_string(), |r| r.to_string())
            ));
        }
    }
    if total == 0 {
        Ok(())
    } else {
        Err(StorageError::backend(format!(
            "migration left {total} foreign key violation(s), rolled back: {}",
            found.join(", ")
        )))
    }
}

/// Turns `foreign_keys` back on after a migration and checks that it took effect.
fn restore_foreign_keys(conn: &Connection) -> Result<(), StorageError> {
    if !conn.is_autocommit() {
        // Only if a rollback failed: the pragma would be a no-op inside a transaction.
        conn.execute_batch("ROLLBACK").db()?;
    }
    conn.pragma_update(None, "foreign_keys", true).db()?;
    let on: bool = conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .db()?;
    if on {
        Ok(())
    } else {
        Err(StorageError::backend(
            "SQLite refused foreign_keys=ON after migrating",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order() {
        for (i, (v, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*v as usize, i + 1);
        }
    }

    #[test]
    fn foreign_keys_are_back_on_after_a_migration_whatever_happens() {
        let fk = |c: &Connection| -> bool {
            c.pragma_query_value(None, "foreign_keys", |r| r.get(0))
                .expect("pragma")
        };
        // Success: version 1, then version 2 on the same connection.
        let mut conn = Connection::open_in_memory().expect("open");
        conn.pragma_update(None, "foreign_keys", true).expect("fk");
        migrate_to(&mut conn, 1).expect("migrate to 1");
        assert_eq!(user_version(&conn).expect("version"), 1);
        assert!(fk(&conn));
        migrate(&mut conn).expect("migrate to 2");
        assert_eq!(
            user_version(&conn).expect("version"),
            SqliteStore::SCHEMA_VERSION
        );
        assert!(fk(&conn), "foreign_keys must be on after a migration");

        // Failure: a dangling reference makes foreign_key_check fail the migration.
        let mut conn = Connection::open_in_memory().expect("open");
        migrate_to(&mut conn, 1).expect("migrate to 1");
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF; \
             INSERT INTO lead_events (lead_id, event_type, created_at) VALUES (7, 'x', 'now');",
        )
        .expect("dangling row");
        conn.pragma_update(None, "foreign_keys", true).expect("fk");
        let err = migrate(&mut conn).expect_err("violations fail the migration");
        assert!(err.to_string().contains("lead_events"), "{err}");
        assert_eq!(user_version(&conn).expect("version"), 1, "rolled back");
        assert!(conn.is_autocommit());
        assert!(
            fk(&conn),
            "foreign_keys must be on after a failed migration"
        );
    }

    /// A version-6 file (built with the real migrations 1 to 6) with providers, workspaces,
    /// leads (one a duplicate), a rejection and lead events upgrades to version 7 keeping
    /// every row, and the new columns and tables work afterwards.
    #[test]
    fn version_6_database_upgrades_keeping_its_data() {
        use leadroute_core::auth::SignatureScheme;
        use leadroute_core::model::*;
        use leadroute_core::storage::with_tx;
        fn ts(s: &str) -> jiff::Timestamp {
            s.parse().expect("test timestamp")
        }

        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("v6.sqlite");
        {
            let mut conn = Connection::open(&path).expect("open");
            conn.pragma_update(None, "foreign_keys", true).expect("fk");
            migrate_to(&mut conn, 6).expect("migrate to 6");
            assert_eq!(user_version(&conn).expect("version"), 6);
            conn.execute_batch(
                "INSERT INTO lead_source_providers (id, name, lead_types, format, field_map, \
                   rate_limit_per_hour, is_active, created_at, updated_at) \
                 VALUES ('provider-a', 'A', '[\"solar\"]', 'json', '{\"phone\":\"tel\"}', 100, 1, \
                   '2025-03-14T15:09:26.535897Z', '2025-03-14T15:09:26.535897Z'), \
                        ('provider-c', 'C', '[]', 'csv', '{}', NULL, 0, \
                   '2025-03-14T15:09:26.535897Z', '2025-03-14T15:09:26.535897Z');
                 INSERT INTO workspaces (id, name, outbound_webhook_url, created_at, updated_at) \
                 VALUES ('solar_ca_001', 'Sunrise Solar', 'https://hooks.example/solar', \
                   '2025-03-14T15:09:26.535897Z', '2025-03-14T15:09:26.535897Z');
                 INSERT INTO contacts (dedup_scope, phone_e164, created_at) \
                 VALUES ('global', '+13178638426', '2025-03-14T15:09:26.535897Z');
                 INSERT INTO leads (contact_id, provider_id, record_key, product_type, zip_code, \
                   raw_payload, received_at, status, duplicate_of) \
                 VALUES (1, 'provider-a', 'PA-1', 'Solar', '90210', '{}', \
                   '2025-03-14T15:00:00.000000Z', 'new', NULL), \
                        (1, 'provider-a', 'PA-2', 'Solar', '90210', '{}', \
                   '2025-03-14T16:00:00.000000Z', 'duplicate', 1);
                 INSERT INTO source_records (provider_id, record_key, lead_id) \
                 VALUES ('provider-a', 'PA-1', 1), ('provider-a', 'PA-2', 2);
                 INSERT INTO lead_rejections (provider_id, record_key, raw_payload, received_at) \
                 VALUES ('provider-a', 'PA-3', '{}', '2025-03-14T17:00:00.000000Z');
                 INSERT INTO source_records (provider_id, record_key, rejection_id) \
                 VALUES ('provider-a', 'PA-3', 1);
                 INSERT INTO lead_events (id, lead_id, event_type, detail, created_at) \
                 VALUES (5, 1, 'received', '{\"n\":1}', '2025-03-14T15:00:00.000000Z'), \
                        (9, 2, 'duplicate', '{}', '2025-03-14T16:00:00.000000Z');",
            )
            .expect("version 6 data");
        }
        let store = SqliteStore::open(&path).expect("upgrade");
        assert_eq!(
            store.schema_version().expect("version"),
            SqliteStore::SCHEMA_VERSION
        );
        let t = |s: &str| codec::parse_ts(s).expect("time");
        let (providers, ws, e1, e2, h1, h2, totals) = with_tx(&store, |tx| {
            Ok((
                tx.providers()?,
                tx.workspace("solar_ca_001")?,
                tx.events(EventSubject::Lead, 1)?,
                tx.events(EventSubject::Lead, 2)?,
                tx.lead_status_history(LeadId(1))?,
                tx.lead_status_history(LeadId(2))?,
                tx.reports().provider_totals("provider-a")?,
            ))
        })
        .expect("read upgraded data");
        let a = Provider {
            name: "A".into(),
            lead_types: vec!["solar".into()],
            field_map: [("phone".to_string(), "tel".to_string())].into(),
            rate_limit_per_hour: Some(100),
            ..Provider::new("provider-a")
        };
        let c = Provider {
            name: "C".into(),
            is_active: false,
            format: RecordFormat::Csv,
            ..Provider::new("provider-c")
        };
        assert_eq!(providers, vec![a.clone(), c], "providers keep every field");
        assert_eq!(ws.map(|w| w.require_consent), Some(false));
        assert_eq!(
            (e1.len(), e1[0].detail.clone(), e2.len()),
            (1, serde_json::json!({"n": 1}), 1),
            "lead events keep their lead"
        );
        let change = |from: Option<&str>, to: &str, at: &str, lead| LeadStatusChange {
            lead_id: lead,
            from_status: from.map(|s| s.parse().expect("a lead status")),
            to_status: to.parse().expect("a lead status"),
            reason: None,
            changed_at: t(at),
        };
        assert_eq!(
            h1,
            vec![change(None, "new", "2025-03-14T15:00:00Z", LeadId(1))]
        );
        assert_eq!(
            h2,
            vec![
                change(None, "new", "2025-03-14T16:00:00Z", LeadId(2)),
                change(Some("new"), "duplicate", "2025-03-14T16:00:00Z", LeadId(2)),
            ],
            "an old duplicate's history ends at its stored status"
        );
        assert_eq!(totals, (0, None));

        // The new columns and tables work on the upgraded file.
        let form = Provider {
            api_key_hash: Some(
                "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            ),
            allowed_webhooks: vec!["wh_solar_ca".into()],
            format: RecordFormat::Form,
            ..Provider::new("provider-f")
        };
        let hook = WebhookConfig {
            signature_scheme: SignatureScheme::Stripe,
            secret: Some("whsec_test".into()),
            ..WebhookConfig::new("wh_solar_ca")
        };
        let at = ts("2025-03-15T09:00:00Z");
        let (back, rejection_events) = with_tx(&store, |tx| {
            tx.put_provider(&form)?;
            tx.put_webhook_config(&hook)?;
            tx.append_event(&NewEvent {
                subject: EventSubject::Rejection,
                subject_id: 1,
                event_type: EventKind::Rejected,
                detail: serde_json::json!({}),
                created_at: at,
            })?;
            tx.add_usage(&ProviderUsage {
                provider_id: "provider-a".into(),
                day: jiff::civil::date(2025, 3, 15),
                total_leads: 2,
                last_lead_at: Some(at),
                ..ProviderUsage::default()
            })?;
            Ok((
                tx.provider("provider-f")?,
                tx.events(EventSubject::Rejection, 1)?,
            ))
        })
        .expect("write after the upgrade");
        assert_eq!(back, Some(form));
        assert_eq!(rejection_events.len(), 1);
        drop(store);

        let conn = Connection::open(&path).expect("reopen raw");
        assert_eq!(foreign_key_violations(&conn), 0);
        let seed: (i64, Option<String>) = conn
            .query_row(
                "SELECT total_leads, last_lead_at FROM lead_source_providers WHERE id = 'provider-a'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("provider columns");
        assert_eq!(seed, (2, Some("2025-03-15T09:00:00.000000Z".into())));
        let indexes: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'lead_events'",
            )
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("indexes");
        for i in ["lead_events_subject", "lead_events_rejection"] {
            assert!(indexes.iter().any(|x| x == i), "missing {i}: {indexes:?}");
        }
        // Exactly one subject per lead event.
        assert!(conn
            .execute(
                "INSERT INTO lead_events (lead_id, rejection_id, event_type, created_at) \
                 VALUES (1, 1, 'x', 'now')",
                [],
            )
            .is_err());
        assert!(conn
            .execute(
                "INSERT INTO lead_events (event_type, created_at) VALUES ('x', 'now')",
                [],
            )
            .is_err());
    }

    /// A version-8 file (built with the real migrations 1 to 8) with appointments, a
    /// delivered and a waiting delivery with their attempts, charges and a credit, and a
    /// rejection upgrades to version 9 keeping every row: the deliveries become the
    /// appointment's own (`appointment.created`, sequence 0, retry base 0) under their ids,
    /// the billing events keep theirs, and the new constraints, columns and tables work.
    #[test]
    fn version_8_database_upgrades_keeping_deliveries_and_billing() {
        use leadroute_core::model::*;
        use leadroute_core::storage::{with_tx, Inserted};

        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("v8.sqlite");
        {
            let mut conn = Connection::open(&path).expect("open");
            conn.pragma_update(None, "foreign_keys", true).expect("fk");
            migrate_to(&mut conn, 8).expect("migrate to 8");
            assert_eq!(user_version(&conn).expect("version"), 8);
            conn.execute_batch(
                "INSERT INTO workspaces (id, name, outbound_webhook_url, payment_rate_cents, \
                   delivery, created_at, updated_at) \
                 VALUES ('solar_ca_001', 'Sunrise Solar', 'https://hooks.example/solar', 20000, \
                   '{\"envelope\":true}', '2025-03-14T15:09:26.535897Z', \
                   '2025-03-14T15:09:26.535897Z'), \
                        ('roof_fl_003', 'Roof', 'https://hooks.example/roof', 15000, '{}', \
                   '2025-03-14T15:09:26.535897Z', '2025-03-14T15:09:26.535897Z');
                 INSERT INTO contacts (dedup_scope, phone_e164, created_at) \
                 VALUES ('global', '+13178638426', '2025-03-14T15:09:26.535897Z');
                 INSERT INTO leads (contact_id, provider_id, record_key, product_type, zip_code, \
                   raw_payload, received_at, status) \
                 VALUES (1, 'provider-a', 'PA-1', 'Solar', '90210', '{}', \
                   '2025-03-14T15:00:00.000000Z', 'routed'), \
                        (1, 'provider-a', 'PA-2', 'Solar', '90210', '{}', \
                   '2025-03-14T16:00:00.000000Z', 'routed');
                 INSERT INTO source_records (provider_id, record_key, lead_id) \
                 VALUES ('provider-a', 'PA-1', 1), ('provider-a', 'PA-2', 2);
                 INSERT INTO lead_rejections (provider_id, record_key, reason_codes, details, \
                   raw_payload, received_at) \
                 VALUES ('provider-a', 'PA-3', '[\"unknown_zip\"]', '[\"ZIP 00000\"]', '{}', \
                   '2025-03-14T17:00:00.000000Z');
                 INSERT INTO source_records (provider_id, record_key, rejection_id) \
                 VALUES ('provider-a', 'PA-3', 1);
                 INSERT INTO appointments (id, lead_id, contact_id, service_type, zip_code, \
                   appointment_date, workspace_id, routing_rule_id, routing_method, matched_at, \
                   payment_rate_cents, status, forward_status, forward_attempts, forwarded_at, \
                   forward_response, created_at) \
                 VALUES (3, 1, 1, 'Solar', '90210', '2025-03-18T17:30:00.000000Z', \
                   'solar_ca_001', 1, 'auto', '2025-03-14T15:00:00.000000Z', 20000, 'routed', \
                   'success', 2, '2025-03-14T15:01:00.000000Z', '{\"ok\":true}', \
                   '2025-03-14T15:00:00.000000Z'), \
                        (4, 2, 1, 'Solar', '90210', '2025-03-19T17:30:00.000000Z', \
                   'solar_ca_001', 1, 'auto', '2025-03-14T16:00:00.000000Z', 20000, 'routed', \
                   'pending', 1, NULL, NULL, '2025-03-14T16:00:00.000000Z');
                 INSERT INTO deliveries (id, appointment_id, workspace_id, webhook_id, url, \
                   payload, status, attempts, next_attempt_at, locked_until, created_at, \
                   updated_at) \
                 VALUES (5, 3, 'solar_ca_001', 'msg_5', 'https://hooks.example/solar', \
                   '{\"appointment_id\":3}', 'success', 2, '2025-03-14T15:00:30.000000Z', NULL, \
                   '2025-03-14T15:00:00.000000Z', '2025-03-14T15:01:00.000000Z'), \
                        (9, 4, 'solar_ca_001', 'msg_9', 'https://hooks.example/solar', \
                   '{\"appointment_id\":4}', 'pending', 1, '2025-03-14T16:10:00.000000Z', \
                   '2025-03-14T16:15:00.000000Z', '2025-03-14T16:00:00.000000Z', \
                   '2025-03-14T16:05:00.000000Z');
                 INSERT INTO delivery_attempts (delivery_id, attempt_number, requested_at, \
                   duration_ms, status_code, error, response_excerpt) \
                 VALUES (5, 1, '2025-03-14T15:00:10.000000Z', 120, 503, NULL, NULL), \
                        (5, 2, '2025-03-14T15:01:00.000000Z', 95, 200, NULL, '{\"ok\":true}'), \
                        (9, 1, '2025-03-14T16:05:00.000000Z', 30000, NULL, 'timeout', NULL);
                 INSERT INTO billing_events (id, appointment_id, workspace_id, kind, \
                   amount_cents, created_at) \
                 VALUES (7, 3, 'solar_ca_001', 'charge', 20000, '2025-03-14T15:01:00.000000Z'), \
                        (8, 3, 'solar_ca_001', 'credit', -20000, \
                   '2025-03-15T09:00:00.000000Z');",
            )
            .expect("version 8 data");
        }
        let store = SqliteStore::open(&path).expect("upgrade");
        assert_eq!(
            store.schema_version().expect("version"),
            SqliteStore::SCHEMA_VERSION
        );
        let t = |s: &str| codec::parse_ts(s).expect("time");

        let (d5, d9, for_3, attempts_5, billed, appt, ws, rejections) = with_tx(&store, |tx| {
            Ok((
                tx.delivery(DeliveryId(5))?,
                tx.delivery(DeliveryId(9))?,
                tx.deliveries_for_appointment(AppointmentId(3))?,
                tx.attempts(DeliveryId(5))?,
                tx.billing_events_for(AppointmentId(3))?,
                tx.appointment(AppointmentId(3))?,
                tx.workspace("solar_ca_001")?,
                tx.rejections(&RejectionFilter::default(), RejectionId(0), 10)?,
            ))
        })
        .expect("read upgraded data");
        let d5 = d5.expect("delivery 5 survives");
        assert_eq!(
            d5,
            Delivery {
                id: DeliveryId(5),
                delivery: NewDelivery {
                    appointment_id: AppointmentId(3),
                    event: WebhookEventType::AppointmentCreated,
                    sequence: 0,
                    workspace_id: "solar_ca_001".into(),
                    webhook_id: "msg_5".into(),
                    url: "https://hooks.example/solar".into(),
                    payload: "{\"appointment_id\":3}".into(),
                    next_attempt_at: t("2025-03-14T15:00:30Z"),
                    created_at: t("2025-03-14T15:00:00Z"),
                },
                status: ForwardStatus::Success,
                attempts: 2,
                locked_until: None,
                retry_base: 0,
            },
            "a delivery keeps every field and becomes the appointment's own, sequence 0"
        );
        let d9 = d9.expect("delivery 9 survives");
        assert_eq!(
            (
                d9.status,
                d9.attempts,
                d9.locked_until,
                d9.delivery.sequence,
                d9.delivery.event
            ),
            (
                ForwardStatus::Pending,
                1,
                Some(t("2025-03-14T16:15:00Z")),
                0,
                WebhookEventType::AppointmentCreated
            ),
            "a waiting delivery keeps its lease"
        );
        assert_eq!(for_3, vec![d5.clone()]);
        assert_eq!(
            attempts_5
                .iter()
                .map(|a| (a.attempt_number, a.status_code))
                .collect::<Vec<_>>(),
            vec![(1, Some(503)), (2, Some(200))],
            "attempts keep their delivery"
        );
        assert_eq!(
            billed,
            vec![
                NewBillingEvent {
                    appointment_id: AppointmentId(3),
                    workspace_id: "solar_ca_001".into(),
                    kind: BillingKind::Charge,
                    amount: Cents(20000),
                    created_at: t("2025-03-14T15:01:00Z"),
                },
                NewBillingEvent {
                    appointment_id: AppointmentId(3),
                    workspace_id: "solar_ca_001".into(),
                    kind: BillingKind::Credit,
                    amount: Cents(-20000),
                    created_at: t("2025-03-15T09:00:00Z"),
                },
            ],
            "billing events keep every field"
        );
        let appt = appt.expect("appointment 3 survives");
        assert_eq!(
            (
                appt.workspace_id(),
                appt.forward_status,
                appt.forward_response.as_deref(),
                &appt.lifecycle,
                &appt.appointment.details,
            ),
            (
                Some("solar_ca_001"),
                ForwardStatus::Success,
                Some("{\"ok\":true}"),
                &AppointmentLifecycle::default(),
                &AppointmentDetails::default(),
            ),
            "appointments keep their routing and forward state and start scheduled"
        );
        let ws = ws.expect("workspace survives");
        assert_eq!(
            (ws.returns, ws.delivery.envelope, ws.delivery.events),
            (ReturnPolicy::default(), true, None)
        );
        assert_eq!(
            rejections
                .iter()
                .map(|r| (r.id, r.lead_id, r.reprocessed_at))
                .collect::<Vec<_>>(),
            vec![(RejectionId(1), None, None)],
            "old rejections are waiting for reprocessing"
        );

        // The new contract on the upgraded file: a later delivery of the appointment, a
        // charge to another workspace, a return; the claim waits for sequence 0.
        let (d10, second_charge, same_charge, ret, claimed) = with_tx(&store, |tx| {
            let d10 = tx.enqueue_delivery(&NewDelivery {
                event: WebhookEventType::AppointmentConfirmed,
                sequence: 1,
                webhook_id: "msg_10".into(),
                next_attempt_at: t("2025-03-14T16:00:00Z"),
                ..d9.delivery.clone()
            })?;
            let charge = |ws: &str| NewBillingEvent {
                appointment_id: AppointmentId(3),
                workspace_id: ws.into(),
                kind: BillingKind::Charge,
                amount: Cents(15000),
                created_at: t("2025-03-16T09:00:00Z"),
            };
            let second = tx.insert_billing_event(&charge("roof_fl_003"))?;
            let same = tx.insert_billing_event(&charge("solar_ca_001"))?;
            let ret = tx.insert_return(&NewReturn {
                appointment_id: AppointmentId(3),
                workspace_id: "solar_ca_001".into(),
                reason: "wrong_number".into(),
                status: ReturnStatus::Pending,
                actor: "client".into(),
                credit: Cents(-20000),
                requested_at: t("2025-03-16T10:00:00Z"),
                decided_at: None,
                decision_note: None,
            })?;
            let claimed =
                tx.claim_due_deliveries(t("2025-03-14T16:20:00Z"), 10, t("2025-03-14T16:25:00Z"))?;
            Ok((d10, second, same, ret, claimed))
        })
        .expect("write after the upgrade");
        assert_eq!(
            d10,
            DeliveryId(10),
            "delivery ids go on after the kept ones"
        );
        assert!(second_charge.is_some(), "another workspace may be charged");
        assert_eq!(same_charge, None, "the same workspace is charged once");
        assert!(matches!(ret, Inserted::Created(_)));
        assert_eq!(
            claimed.iter().map(|d| d.id).collect::<Vec<_>>(),
            vec![DeliveryId(9)],
            "sequence 1 waits while the migrated sequence 0 is pending"
        );
        drop(store);

        let conn = Connection::open(&path).expect("reopen raw");
        assert_eq!(foreign_key_violations(&conn), 0);
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("indexes");
        for i in [
            "deliveries_due",
            "deliveries_workspace_pending",
            "deliveries_pending_sequence",
            "billing_events_workspace",
            "appointment_returns_workspace",
            "calcom_booking_events_uid",
            "calcom_booking_events_reschedule_uid",
            "calcom_booking_links_appointment",
        ] {
            assert!(indexes.iter().any(|x| x == i), "missing {i}: {indexes:?}");
        }
        // The replaced constraints hold on the rebuilt tables.
        assert!(conn
            .execute(
                "INSERT INTO deliveries (appointment_id, sequence, workspace_id, webhook_id, \
                 url, payload, next_attempt_at, created_at, updated_at) \
                 VALUES (3, 0, 'solar_ca_001', 'msg_dup', 'u', '{}', 'x', 'x', 'x')",
                [],
            )
            .is_err());
        assert!(conn
            .execute(
                "INSERT INTO billing_events (appointment_id, workspace_id, kind, amount_cents, \
                 created_at) VALUES (3, 'solar_ca_001', 'charge', 1, 'x')",
                [],
            )
            .is_err());
        assert!(
            conn.execute(
                "UPDATE appointments SET lifecycle_status = 'lost' WHERE id = 3",
                []
            )
            .is_err(),
            "the lifecycle status is CHECKed"
        );
    }

    fn foreign_key_violations(conn: &Connection) -> i64 {
        conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .expect("foreign_key_check")
    }

    /// A version-9 file with a lead, a routed appointment, its delivery, a charge and capacity
    /// counters upgrades to version 10 keeping every row; the outreach tables, indexes and
    /// constraints are there and work on the old rows.
    #[test]
    fn version_9_database_upgrades_to_outreach() {
        use leadroute_core::model::*;
        use leadroute_core::storage::{with_tx, Inserted};

        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("v9.sqlite");
        {
            let mut conn = Connection::open(&path).expect("open");
            conn.pragma_update(None, "foreign_keys", true).expect("fk");
            migrate_to(&mut conn, 9).expect("migrate to 9");
            assert_eq!(user_version(&conn).expect("version"), 9);
            conn.execute_batch(
                "INSERT INTO workspaces (id, name, outbound_webhook_url, payment_rate_cents, \
                   created_at, updated_at) \
                 VALUES ('solar_ca_001', 'Sunrise Solar', 'https://hooks.example/solar', 20000, \
                   '2025-03-14T15:09:26.535897Z', '2025-03-14T15:09:26.535897Z');
                 INSERT INTO contacts (dedup_scope, phone_e164, created_at) \
                 VALUES ('global', '+13178638426', '2025-03-14T15:09:26.535897Z');
                 INSERT INTO leads (contact_id, provider_id, record_key, product_type, zip_code, \
                   raw_payload, received_at, status) \
                 VALUES (1, 'provider-a', 'PA-1', 'Solar', '90210', '{}', \
                   '2025-03-14T15:00:00.000000Z', 'routed');
                 INSERT INTO source_records (provider_id, record_key, lead_id) \
                 VALUES ('provider-a', 'PA-1', 1);
                 INSERT INTO appointments (id, lead_id, contact_id, service_type, zip_code, \
                   appointment_date, workspace_id, routing_rule_id, routing_method, matched_at, \
                   payment_rate_cents, status, forward_status, forward_attempts, created_at, \
                   lifecycle_status) \
                 VALUES (3, 1, 1, 'Solar', '90210', '2025-03-18T17:30:00.000000Z', \
                   'solar_ca_001', 1, 'auto', '2025-03-14T15:00:00.000000Z', 20000, 'routed', \
                   'success', 1, '2025-03-14T15:00:00.000000Z', 'confirmed');
                 INSERT INTO deliveries (id, appointment_id, workspace_id, webhook_id, url, \
                   payload, status, attempts, next_attempt_at, created_at, updated_at) \
                 VALUES (5, 3, 'solar_ca_001', 'msg_5', 'https://hooks.example/solar', \
                   '{\"appointment_id\":3}', 'success', 1, '2025-03-14T15:00:30.000000Z', \
                   '2025-03-14T15:00:00.000000Z', '2025-03-14T15:01:00.000000Z');
                 INSERT INTO billing_events (id, appointment_id, workspace_id, kind, \
                   amount_cents, created_at) \
                 VALUES (7, 3, 'solar_ca_001', 'charge', 20000, '2025-03-14T15:01:00.000000Z');
                 INSERT INTO capacity_counters (counter_key, count, amount_cents) \
                 VALUES ('slot:solar_ca_001:2025-03-18T17:30:00Z', 1, 20000), \
                        ('slot:solar_ca_001:2025-03-18T18:00:00Z', 2, 0), \
                        ('workspace:solar_ca_001:day:2025-03-14T07:00:00Z', 1, 20000);",
            )
            .expect("version 9 data");
        }
        let store = SqliteStore::open(&path).expect("upgrade");
        assert_eq!(store.schema_version().expect("version"), 10);
        let t = |s: &str| codec::parse_ts(s).expect("time");

        let (lead, appt, delivery, billed, slots) = with_tx(&store, |tx| {
            Ok((
                tx.lead(LeadId(1))?,
                tx.appointment(AppointmentId(3))?,
                tx.delivery(DeliveryId(5))?,
                tx.billing_events_for(AppointmentId(3))?,
                tx.counters_in_range("slot:solar_ca_001:", "slot:solar_ca_001;")?,
            ))
        })
        .expect("read upgraded data");
        let lead = lead.expect("lead 1 survives");
        assert_eq!(lead.lead.record_key, "PA-1");
        let appt = appt.expect("appointment 3 survives");
        assert_eq!(
            (appt.lifecycle.status, appt.forward_status),
            (AppointmentStatus::Confirmed, ForwardStatus::Success)
        );
        assert_eq!(
            delivery.map(|d| (d.status, d.attempts)),
            Some((ForwardStatus::Success, 1))
        );
        assert_eq!(billed.len(), 1, "the charge survives");
        assert_eq!(
            slots,
            vec![
                ("slot:solar_ca_001:2025-03-18T17:30:00Z".to_string(), 1),
                ("slot:solar_ca_001:2025-03-18T18:00:00Z".to_string(), 2),
            ],
            "old counters are read by range"
        );

        // The outreach contract on the upgraded file, with the old lead and appointment.
        let (queued, claimed, message, suppressed) = with_tx(&store, |tx| {
            let queued = tx.enqueue_contact(&NewQueueEntry {
                lead_id: LeadId(1),
                contact_id: ContactId(1),
                phone_e164: Some("+13178638426".into()),
                zip_code: "90210".into(),
                lead_type: "solar".into(),
                received_at: t("2025-03-14T15:00:00Z"),
                next_attempt_at: t("2025-03-14T15:00:00Z"),
                suppressed: false,
            })?;
            let claimed = tx.claim_contacts(
                t("2025-03-14T15:01:00Z"),
                5,
                t("2025-03-14T15:06:00Z"),
                "dialer-1",
            )?;
            let message = tx.enqueue_message(&NewMessage {
                appointment_id: AppointmentId(3),
                lead_id: LeadId(1),
                kind: MessageKind::Reminder,
                to: "+13178638426".into(),
                body: serde_json::json!({"offset_hours": 24}),
                send_at: t("2025-03-17T17:30:00Z"),
                created_at: t("2025-03-14T15:01:00Z"),
            })?;
            let suppressed = tx.suppress(&Suppression {
                phone_e164: None,
                phone_sha256: "0".repeat(64),
                reason: "imported".into(),
                source: Some("dnc-2025-03.csv".into()),
                created_at: t("2025-03-14T15:02:00Z"),
            })?;
            Ok((queued, claimed, message, suppressed))
        })
        .expect("outreach writes after the upgrade");
        assert_eq!(queued, Inserted::Created(LeadId(1)));
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].status, ContactStatus::Attempting);
        assert_eq!(message, MessageId(1));
        assert!(suppressed);
        drop(store);

        let conn = Connection::open(&path).expect("reopen raw");
        assert_eq!(foreign_key_violations(&conn), 0);
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("indexes");
        for i in [
            "contact_queue_due",
            "contact_queue_leased",
            "contact_queue_contact",
            "contact_queue_received",
            "scheduled_messages_due",
            "scheduled_messages_appointment",
            // Kept from version 9.
            "deliveries_due",
            "deliveries_pending_sequence",
            "calcom_booking_links_appointment",
        ] {
            assert!(indexes.iter().any(|x| x == i), "missing {i}: {indexes:?}");
        }
        for (what, sql) in [
            (
                "a queue status is CHECKed",
                "UPDATE contact_queue SET status = 'calling' WHERE lead_id = 1",
            ),
            (
                "one entry per lead",
                "INSERT INTO contact_queue (lead_id, contact_id, zip_code, lead_type, \
                 received_at, next_attempt_at) VALUES (1, 1, '90210', 'solar', 'x', 'x')",
            ),
            (
                "a queue entry needs its lead",
                "INSERT INTO contact_queue (lead_id, contact_id, zip_code, lead_type, \
                 received_at, next_attempt_at) VALUES (99, 1, '90210', 'solar', 'x', 'x')",
            ),
            (
                "an outcome is CHECKed",
                "INSERT INTO contact_attempts (lead_id, attempt_number, attempted_at, outcome) \
                 VALUES (1, 1, 'x', 'busy')",
            ),
            (
                "a message kind is CHECKed",
                "UPDATE scheduled_messages SET kind = 'nudge' WHERE id = 1",
            ),
            (
                "a message needs its appointment",
                "INSERT INTO scheduled_messages (appointment_id, lead_id, kind, recipient, body, \
                 send_at, created_at, next_try_at) \
                 VALUES (99, 1, 'reminder', '+1', '{}', 'x', 'x', 'x')",
            ),
        ] {
            conn.pragma_update(None, "foreign_keys", true).expect("fk");
            assert!(conn.execute(sql, []).is_err(), "{what}");
        }
        for (what, sql) in [
            (
                "one row per attempt number",
                "INSERT INTO contact_attempts (lead_id, attempt_number, attempted_at, outcome) \
                 VALUES (1, 1, 'x', 'no_answer')",
            ),
            (
                "one log row per try number",
                "INSERT INTO message_logs (message_id, try_number, tried_at, status) \
                 VALUES (1, 1, 'x', 'sent')",
            ),
        ] {
            conn.execute(sql, []).expect(what);
            assert!(conn.execute(sql, []).is_err(), "{what}");
        }
    }

    /// The detail lines of `EXPLAIN QUERY PLAN` for `sql` with `params`.
    fn query_plan(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Vec<String> {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        let rows = stmt
            .query_map(params, |r| r.get::<_, String>(3))
            .expect("plan");
        rows.collect::<Result<_, _>>().expect("plan rows")
    }

    /// The claims read their partial indexes, never the whole table, also once the
    /// planner has statistics (ANALYZE over a queue of mostly finished entries).
    #[test]
    fn claims_use_their_partial_indexes() {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate(&mut conn).expect("migrate");
        let check = |conn: &Connection| {
            let plan = query_plan(
                conn,
                tx::CLAIM_CONTACTS_SQL,
                rusqlite::params!["2025-03-14T15:00:00.000000Z", 5, "x", "dialer-1"],
            );
            for index in ["contact_queue_due", "contact_queue_leased"] {
                assert!(
                    plan.iter().any(|l| l.contains(index)),
                    "the contact claim must use {index}: {plan:#?}"
                );
            }
            assert!(
                !plan.iter().any(|l| l.starts_with("SCAN contact_queue")),
                "the contact claim must not scan the queue: {plan:#?}"
            );
            let plan = query_plan(
                conn,
                tx::CLAIM_MESSAGES_SQL,
                rusqlite::params!["x", "2025-03-14T15:00:00.000000Z", 5],
            );
            assert!(
                plan.iter().any(|l| l.contains("scheduled_messages_due")),
                "the message claim must use scheduled_messages_due: {plan:#?}"
            );
            assert!(
                !plan
                    .iter()
                    .any(|l| l.starts_with("SCAN scheduled_messages")),
                "the message claim must not scan the table: {plan:#?}"
            );
        };
        check(&conn);
        // Statistics: 5,000 entries, nine in ten finished, the rest waiting or leased.
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
             INSERT INTO contact_queue (lead_id, contact_id, zip_code, lead_type, received_at, \
               next_attempt_at, status, locked_until)
             SELECT i, i, '90210', 'solar', '2025-03-01T00:00:00.000000Z', \
               printf('2025-03-%02dT00:00:00.000000Z', 1 + i % 28), \
               CASE WHEN i % 10 = 0 THEN 'pending' WHEN i % 10 = 1 THEN 'attempting' \
                    ELSE 'scheduled' END, \
               CASE WHEN i % 10 = 1 THEN '2025-03-14T15:05:00.000000Z' END FROM n;
             ANALYZE;",
        )
        .expect("statistics");
        check(&conn);
    }

    #[test]
    fn in_memory_store_is_migrated() {
        let store = SqliteStore::open_in_memory().expect("open");
        assert_eq!(
            store.schema_version().expect("version"),
            SqliteStore::SCHEMA_VERSION
        );
    }
}
