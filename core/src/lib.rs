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
#![deny(missing_docs)]

pub mod appointment;
pub mod auth;
pub mod billing;
pub mod capacity;
pub mod catalog;
pub mod contact;
pub mod delivery;
pub mod email;
pub mod engine;
pub mod error;
pub mod intake;
pub mod kind;
pub mod model;
pub mod payload;
pub mod phone;
pub mod routing;
pub mod schedule;
pub mod seed;
pub mod signature;
pub mod status;
pub mod storage;
pub mod validate;
pub mod zip;

pub use engine::{Engine, EngineConfig};
pub use error::{Error, ErrorKind, Result};

/// The crate version, sent in `User-Agent: leadroute/<version>`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
