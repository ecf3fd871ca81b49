//! The storage conformance suite against `SqliteStore`, in memory and on files, one test per
//! check and store.

use leadroute_core::storage::Store;
use leadroute_sqlite::SqliteStore;

/// A fresh in-memory database per store.
mod in_memory {
    use super::*;

    fn make() -> Box<dyn Store> {
        Box::new(SqliteStore::open_in_memory().expect("open in-memory store"))
    }

    leadroute_core::conformance_tests!(make);
}

/// A fresh database file per store, in a temporary directory per test.
mod file {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A store factory owning its temporary directory, which lives as long as the test.
    fn stores() -> impl Fn() -> Box<dyn Store> {
        let dir = tempfile::tempdir().expect("temp dir");
        let n = AtomicUsize::new(0);
        move || {
            let path = dir.path().join(format!(
                "conformance-{}.sqlite",
                n.fetch_add(1, Ordering::Relaxed)
            ));
            Box::new(SqliteStore::open(&path).expect("open file store")) as Box<dyn Store>
        }
    }

    leadroute_core::conformance_tests!(stores());
}
