//! leadroute: the core of an appointment-as-a-service business, as a library.
//!
//! Third-party providers post raw leads; leadroute normalizes phones to E.164 and ZIPs to ZIP5,
//! validates, deduplicates contacts, turns leads into appointments, routes each one to the
//! client workspace whose rules match (product + ZIP5 + priority), delivers it to that
//! client's webhook (Standard Webhooks signatures, retries from an outbox), and bills it
//! exactly once. Every record ends as a lead or a stored rejection with reason codes.
//!
//! This crate is a facade: it re-exports [`leadroute_core`] (the domain, pure Rust) and, with
//! the default feature `sqlite`, the SQLite adapter as [`sqlite`]. The feature `pipeline`
//! adds [`pipeline`], the main job as a library.
//!
//! ```no_run
//! use std::sync::Arc;
//! use leadroute::{Engine, EngineConfig};
//! use leadroute::intake::RawRecord;
//!
//! let store = Arc::new(leadroute::sqlite::SqliteStore::open("leadroute.db")?);
//! let engine = Engine::new(store, EngineConfig::default())?;
//! let outcome = engine.ingest("provider-a", &RawRecord::Json(r#"{"phone": "317 863 8426"}"#.into()))?;
//! println!("{outcome:?}");
//! # Ok::<(), leadroute::Error>(())
//! ```
#![deny(missing_docs)]

pub use leadroute_core::*;

#[cfg(feature = "sqlite")]
pub use leadroute_sqlite as sqlite;

#[cfg(feature = "pipeline")]
pub mod pipeline;

/// The README's Rust examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
