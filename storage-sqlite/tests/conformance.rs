//! The storage conformance suite against `SqliteStore`, in memory and on files.

use leadroute_core::storage::{conformance, Store};
use leadroute_sqlite::SqliteStore;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn in_memory_store_passes_the_conformance_suite() {
    conformance::run_all(&|| {
        Box::new(SqliteStore::open_in_memory().expect("open in-memory store")) as Box<dyn Store>
    });
}

#[test]
fn file_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let n = AtomicUsize::new(0);
    conformance::run_all(&|| {
        let path = dir.path().join(format!(
            "conformance-{}.sqlite",
            n.fetch_add(1, Ordering::Relaxed)
        ));
        Box::new(SqliteStore::open(&path).expect("open file store")) as Box<dyn Store>
    });
}
