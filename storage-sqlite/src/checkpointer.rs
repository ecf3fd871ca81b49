//! Background WAL checkpoints: a thread with its own connection to the database file copies
//! committed WAL frames into the file (`PRAGMA wal_checkpoint(PASSIVE)`), so the writing
//! connection does not stop to do it itself.
//!
//! SQLite's default is that the connection whose commit takes the WAL past
//! `wal_autocheckpoint` pages (1,000) checkpoints before its commit returns; under a steady
//! stream of batches that is about a seventh of the writer's time (copying pages and two
//! `fsync`s per checkpoint). A PASSIVE checkpoint from another connection runs concurrently
//! with the writer (SQLite allows one checkpointer beside writers and readers) and never
//! waits on locks: when it cannot proceed it returns and is tried again on the next tick.
//! The writer keeps an automatic checkpoint at [`BACKSTOP_PAGES`], in case this thread falls
//! behind.

use rusqlite::Connection;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// The writer's own `wal_autocheckpoint` while a checkpointer runs: 4× SQLite's default, a
/// backstop that a checkpointer keeping up never reaches.
pub(crate) const BACKSTOP_PAGES: i64 = 4_000;

/// State shared by the store and its checkpointer thread.
#[derive(Default)]
struct Shared {
    /// Commits by the store's connection so far.
    commits: AtomicU64,
    /// Set when the store is dropped.
    stop: Mutex<bool>,
    wake: Condvar,
    /// Held while a checkpoint runs, so that [`Checkpointer::exclusive`] (an explicit full
    /// checkpoint by the store) never meets this thread's.
    running: Mutex<()>,
}

/// A running checkpointer; stops (and joins its thread) when dropped.
pub(crate) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts a checkpointer for the WAL database at `path`, ticking every `interval`.
    /// `None` when its connection cannot be opened (the writer then keeps SQLite's default
    /// automatic checkpoints).
    pub(crate) fn start(path: &Path, interval: Duration) -> Option<Checkpointer> {
        let conn = Connection::open(path).ok()?;
        // The same durability as the writer: the WAL is synced before a checkpoint and the
        // database file after it.
        conn.pragma_update(None, "synchronous", "NORMAL").ok()?;
        let shared = Arc::new(Shared::default());
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("leadroute-sqlite-checkpoint".into())
            .spawn(move || run(&conn, &worker, interval))
            .ok()?;
        Some(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }

    /// Records a commit by the store's connection: the next tick checkpoints.
    pub(crate) fn committed(&self) {
        self.shared.commits.fetch_add(1, Ordering::Relaxed);
    }

    /// Keeps this checkpointer idle while the guard lives.
    pub(crate) fn exclusive(&self) -> MutexGuard<'_, ()> {
        self.shared
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        *self
            .shared
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            // The thread only runs PRAGMAs; a panic there has nothing to hand back.
            let _ = thread.join();
        }
    }
}

/// The thread: every `interval`, if there were commits since the last checkpoint, one
/// PASSIVE checkpoint; until stopped.
fn run(conn: &Connection, shared: &Shared, interval: Duration) {
    let mut seen = 0;
    loop {
        let stop = shared.stop.lock().unwrap_or_else(PoisonError::into_inner);
        let (stop, _) = shared
            .wake
            .wait_timeout_while(stop, interval, |stop| !*stop)
            .unwrap_or_else(PoisonError::into_inner);
        if *stop {
            return;
        }
        drop(stop);
        let commits = shared.commits.load(Ordering::Relaxed);
        if commits == seen {
            continue;
        }
        let _running = shared
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Busy (another checkpointer, e.g. in another process) or an I/O error: the frames
        // stay in the WAL, safe, and the next tick (or the writer's backstop) copies them.
        let busy = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
        if busy == Ok(0) {
            seen = commits;
        }
    }
}
