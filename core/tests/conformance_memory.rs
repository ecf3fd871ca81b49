//! The storage conformance suite against the in-memory reference store.
//!
//! Run with `cargo test -p leadroute-core --features testing`.
#![cfg(feature = "testing")]

use leadroute_core::storage::{conformance, MemoryStore, Store};

fn make() -> Box<dyn Store> {
    Box::new(MemoryStore::new())
}

#[test]
fn memory_store_passes_the_conformance_suite() {
    conformance::run_all(&make);
}

#[test]
fn every_check_runs_alone() {
    for (name, check) in conformance::CHECKS {
        eprintln!("conformance: {name}");
        check(&make);
    }
}
