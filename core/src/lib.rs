//! leadroute-core: the domain of leadroute, pure Rust, with no I/O except behind traits.
//!
//! Data flow, one module per step:
//!
//! ```text
//! provider record ─► intake ─► phone / email / zip ─► validate ─► contact (dedup)
//!        ─► appointment ─► routing (compiled table) ─► payload ─► delivery (outbox) ─► billing
//! ```
//!
//! [`engine::Engine`] orchestrates the steps over a [`storage::Store`]; every step at its heart
//! is a pure function or a small immutable type that can be used and tested alone. Each input
//! record ends as exactly one stored outcome: a lead, or a rejection with reason codes and its
//! raw payload.
//!
//! # Layers
//!
//! The module graph is acyclic (`core/tests/module_graph.rs` fails on a new cycle). A module
//! imports only from the layers below it, leaf first:
//!
//! 1. `kind` ([`ErrorKind`]), [`status`] (lead statuses, event kinds, unrouted reasons),
//!    `tz` (crate-private time-zone helpers), [`rfc3339`], [`signature`], [`catalog`],
//!    [`email`]: they import nothing from the crate.
//! 2. [`phone`], [`zip`], [`auth`], `storage_error` ([`storage::StorageError`]'s home).
//! 3. [`model`]: the records (row ids as newtypes, `Cents`, the capacity, schedule and
//!    calendar records); it imports only `kind`, `status`, `tz` and [`auth::SignatureScheme`].
//! 4. The steps over the records: [`capacity`] and [`schedule`] (their math, over `tz`),
//!    [`booking`] (a calendar's slots, over [`schedule`]), [`quiet_hours`] (calling windows,
//!    over `tz`, [`zip`] and the model's `ClockTime`), [`suppression`] (do-not-contact lists,
//!    over [`phone`] and [`status`]), [`routing`], [`intake`], [`payload`], [`billing`],
//!    [`delivery`], then [`validate`], [`seed`] and [`appointment`].
//! 5. [`error`]: the crate [`Error`] wraps each module's error, so it sits above them and no
//!    module below imports it.
//! 6. [`storage`]: the store contract returns [`Error`]; then [`contact`], which resolves
//!    contacts through it.
//! 7. [`engine`], which orchestrates everything.
#![deny(missing_docs)]

pub mod appointment;
pub mod auth;
pub mod billing;
pub mod booking;
pub mod calcom;
pub mod capacity;
pub mod catalog;
pub mod contact;
pub mod contact_queue;
pub mod delivery;
pub mod email;
pub mod engine;
pub mod error;
pub mod intake;
pub mod kind;
pub mod lifecycle;
pub mod messages;
pub mod model;
pub mod payload;
pub mod phone;
pub mod quiet_hours;
pub mod returns;
pub mod rfc3339;
pub mod routing;
pub mod schedule;
pub mod seed;
pub mod signature;
pub mod status;
pub mod storage;
mod storage_error;
pub mod suppression;
mod tz;
pub mod validate;
pub mod zip;

pub use engine::{Engine, EngineConfig};
pub use error::{Error, ErrorKind, Result};

/// The crate version, sent in `User-Agent: leadroute/<version>`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
