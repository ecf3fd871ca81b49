//! The storage conformance suite against the in-memory reference store, one test per check.
//!
//! Run with `cargo test -p leadroute-core --features testing --test conformance_memory`.
#![cfg(feature = "testing")]

use leadroute_core::storage::{MemoryStore, Store};

fn make() -> Box<dyn Store> {
    Box::new(MemoryStore::new())
}

leadroute_core::conformance_tests!(make);
