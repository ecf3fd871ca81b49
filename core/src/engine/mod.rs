//! The engine: one module per use case, orchestrating the pure steps over a [`Store`].
//!
//! The files follow the data flow:
//!
//! | module | use case |
//! | --- | --- |
//! | `configure` | store providers, workspaces, rules and inbound webhooks; swap the snapshot |
//! | `ingest` | provider records → rejection, or contact, lead, appointment, outbox row |
//! | `route` | routing inside the assigning transaction; explain, reroute, assign, backtest |
//! | `deliver` | claim due outbox rows, post them, record attempts and billing |
//! | `lifecycle` | confirm, reschedule, cancel, complete, no-show: the client told, credits by policy |
//! | `calcom` | Cal.com booking webhooks: verify, store, fold the lineage, reconcile the appointment |
//! | `returns` | returns under the workspace's policy: review, approval, credits |
//! | `aftercare` | nothing stuck: re-enable endpoints, redeliver, reassign |
//! | `query` | reads: counts, events, status history, usage, billing summary |
//! | `audit` | the typed audit trail, serialized in one place |
//! | `wall`, `gate` | the intake wall (authentication, quotas); the routing gate (caps, schedules) |
//!
//! The engine decides nothing itself: statuses come from [`crate::status::LeadStatus`],
//! routing from [`crate::routing`], endpoint gating, retries and settlement from
//! [`crate::delivery`], charges from [`crate::billing`]. Each use case opens the
//! transactions and hands every step a `Step` (the transaction, the snapshot, the settings
//! and the instant).
//!
//! Ingesting a record runs the pure steps first, outside any transaction (parse, map,
//! validate, normalize), then writes the outcome in one transaction: the rejection; or the
//! contact (found or created), the routing decision against an immutable snapshot of the
//! routing table (with tie state and capacity counters read and consumed in the same
//! transaction, so concurrent writers never over-assign), the lead with its decided status,
//! the appointment with its trace, and its outbox row. In a batch of at least
//! [`PIPELINE_MIN_RECORDS`] the pure steps run on a second thread, ahead of the writes
//! ([`EngineConfig::pipeline`]). A record whose (provider, record key) is already stored is a
//! replay and writes nothing, so re-running a batch never duplicates contacts, leads,
//! appointments or billing.
//!
//! Delivering claims due outbox rows with a lease, posts them outside any transaction (in
//! parallel, `delivery_workers` at a time), then records every attempt, the appointment's
//! `forward_*` state and, on success, the billing event, in one transaction.
//!
//! The configuration snapshot (rules, workspaces, providers, catalog, compiled table) is an
//! `Arc` swapped when configuration changes, so ingestion reads it without holding a lock.
//! Every time the engine stores comes from [`EngineConfig::clock`].

mod aftercare;
mod audit;
mod booking;
mod calcom;
mod clock;
mod config;
mod configure;
mod contact_queue;
mod deliver;
mod gate;
mod ingest;
mod lifecycle;
mod messages;
mod outcome;
mod query;
mod returns;
mod route;
mod snapshot;
mod wall;

pub use aftercare::ReassignOutcome;
pub use booking::Booked;
pub use calcom::BookingOutcome;
pub use clock::{Clock, FixedClock, SystemClock};
pub use config::{EngineConfig, PIPELINE_MIN_RECORDS};
pub use contact_queue::{ClaimedContact, SuppressionImport};
pub use ingest::ReprocessReport;
pub use lifecycle::TransitionOutcome;
pub use messages::MessageReport;
pub use outcome::{
    Accepted, BacktestReport, BacktestRow, DeliveryReport, IngestOutcome, Move, Outcome,
    RerouteReport, RoutingOutcome,
};
pub use returns::ReturnOutcome;
pub use snapshot::Snapshot;
pub use wall::InboundRequest;

use crate::storage::{with_tx, Store, Tx};
use crate::zip::ZipTable;
use crate::Result;
use jiff::Timestamp;
use std::sync::{Arc, RwLock};

/// What one step of a use case works with inside its transaction: the transaction, the
/// configuration snapshot, the settings and the instant (UTC, from the clock).
#[derive(Clone, Copy)]
pub(crate) struct Step<'a> {
    pub engine: &'a Engine,
    pub tx: &'a dyn Tx,
    pub snap: &'a Snapshot,
    pub config: &'a EngineConfig,
    pub at: Timestamp,
}

/// The leadroute engine (see the module docs).
pub struct Engine {
    store: Arc<dyn Store>,
    config: EngineConfig,
    zips: Arc<ZipTable>,
    /// The area code → time zones index, built from `zips` on first use.
    area_zones: std::sync::OnceLock<crate::quiet_hours::AreaCodeZones>,
    snapshot: RwLock<Arc<Snapshot>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The stored appointment `id`.
///
/// # Errors
///
/// [`Error::NotFound`](crate::Error::NotFound) (`unknown_appointment`) when there is none;
/// storage errors.
pub(crate) fn stored_appointment(
    tx: &dyn Tx,
    id: crate::model::AppointmentId,
) -> Result<crate::model::Appointment> {
    tx.appointment(id)?.ok_or_else(|| crate::Error::NotFound {
        entity: "appointment",
        id: id.to_string(),
    })
}

impl Engine {
    /// The current time from [`EngineConfig::clock`], truncated to the microsecond (what
    /// stores keep).
    /// The area code → time zones index of the engine's ZIP table.
    pub(crate) fn area_zones(&self) -> &crate::quiet_hours::AreaCodeZones {
        self.area_zones
            .get_or_init(|| crate::quiet_hours::AreaCodeZones::from_zip_table(&self.zips))
    }

    /// The calling rules: the configured ones, else the bundled data.
    pub(crate) fn contact_rules(&self) -> Result<&crate::quiet_hours::ContactRules> {
        match &self.config.contact_rules {
            Some(r) => Ok(r),
            None => crate::quiet_hours::ContactRules::bundled()
                .map_err(|e| crate::Error::Internal(format!("bundled contact rules: {e}"))),
        }
    }

    pub(crate) fn now(&self) -> Timestamp {
        clock::to_micros(self.config.clock.now())
    }

    /// A [`Step`] over `tx` at `at`.
    pub(crate) fn step<'a>(
        &'a self,
        tx: &'a dyn Tx,
        snap: &'a Snapshot,
        at: Timestamp,
    ) -> Step<'a> {
        Step {
            engine: self,
            tx,
            snap,
            config: &self.config,
            at,
        }
    }
}

impl Engine {
    /// An engine over `store` with the bundled ZIP table; loads the configuration snapshot.
    ///
    /// # Errors
    ///
    /// Storage errors, or [`crate::routing::RoutingError`] when stored rules do not compile.
    pub fn new(store: Arc<dyn Store>, config: EngineConfig) -> Result<Engine> {
        Engine::with_zip_table(store, config, ZipTable::bundled_shared())
    }

    /// As [`Engine::new`], with another ZIP table.
    ///
    /// # Errors
    ///
    /// As [`Engine::new`].
    pub fn with_zip_table(
        store: Arc<dyn Store>,
        config: EngineConfig,
        zips: Arc<ZipTable>,
    ) -> Result<Engine> {
        let snapshot = Arc::new(Engine::load_snapshot(&*store, &config)?);
        Ok(Engine {
            store,
            config,
            zips,
            area_zones: std::sync::OnceLock::new(),
            snapshot: RwLock::new(snapshot),
        })
    }

    fn load_snapshot(store: &dyn Store, config: &EngineConfig) -> Result<Snapshot> {
        let (providers, workspaces, rules, webhooks) = with_tx(store, |tx| {
            Ok((
                tx.providers()?,
                tx.workspaces()?,
                tx.rules()?,
                tx.webhook_configs()?,
            ))
        })?;
        Snapshot::build(providers, workspaces, &rules, webhooks, config)
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The current configuration snapshot (cheap: an `Arc` clone).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads providers, workspaces and rules from the store and swaps in a new snapshot.
    ///
    /// # Errors
    ///
    /// As [`Engine::new`].
    pub fn refresh(&self) -> Result<()> {
        let s = Arc::new(Engine::load_snapshot(&*self.store, &self.config)?);
        match self.snapshot.write() {
            Ok(mut g) => *g = s,
            Err(poisoned) => *poisoned.into_inner() = s,
        }
        Ok(())
    }
}
