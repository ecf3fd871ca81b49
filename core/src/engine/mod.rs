//! The engine: orchestrates the steps over a [`Store`]; it decides nothing itself.
//!
//! Ingesting a record runs the pure steps first, outside any transaction (parse, map,
//! validate, normalize), then writes the outcome in one transaction: the rejection; or the
//! contact (found or created), the routing decision against an immutable snapshot of the
//! routing table (with tie state and capacity counters read and consumed in the same
//! transaction, so concurrent writers never over-assign), the lead with its decided status,
//! the appointment with its trace, and its outbox row. In a batch of at least
//! [`PIPELINE_MIN_RECORDS`] the pure steps run on a second thread, ahead of the writes
//! ([`EngineConfig::pipeline`]). A record whose
//! (provider, record key) is already stored is a replay and writes nothing, so re-running a
//! batch never duplicates contacts, leads, appointments or billing.
//!
//! Delivering claims due outbox rows with a lease, posts them outside any transaction (in
//! parallel, `delivery_workers` at a time), then records every attempt, the appointment's
//! `forward_*` state and, on success, the billing event, in one transaction.
//!
//! The routing snapshot (rules, workspaces, providers, catalog, compiled table) is an
//! `Arc` swapped when configuration changes, so ingestion reads it without holding a lock.

mod gate;
mod query;
mod wall;

pub use wall::InboundRequest;

use crate::appointment;
use crate::billing;
use crate::capacity::{Capacity, Zone};
use crate::catalog::Catalog;
use crate::contact::{self, ContactChange, DedupScope};
use crate::delivery::{self, EndpointGate, EndpointPolicy, RetryPolicy, Transport, Verdict};
use crate::email::{self, EmailKeyRules};
use crate::intake::{self, FieldMap, IntakeError, RawRecord};
use crate::model::*;
use crate::payload::{self, Customer};
use crate::routing::TiePolicy;
use crate::routing::{RoutingRule, RoutingTable, UnroutedReason};
use crate::schedule::CompiledSchedule;
use crate::storage::{with_tx, Store, Tx};
use crate::validate::{self, Reason, ReasonCode, ValidLead, ValidationContext};
use crate::zip::ZipTable;
use crate::{Error, Result};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// CLDR region for phones written without a country code. Default `US`.
    pub default_region: String,
    /// Which records share contacts. Default per provider, as in the seed.
    pub dedup_scope: DedupScope,
    /// How email dedup keys are derived (Gmail rules are opt-in). Default: off.
    pub email_rules: EmailKeyRules,
    /// Whether a lead needs a valid phone (the seed's rule, default `true`). When `false`, a
    /// valid email is enough and contacts without a phone dedup on their email key.
    pub require_phone: bool,
    /// Lead-level duplicate window: the same contact and product again within it is a
    /// duplicate lead. Default 30 days; a workspace's `duplicate_window_days` overrides it
    /// for leads routed there; zero turns it off.
    pub duplicate_window: time::Duration,
    /// Retry schedule of deliveries. Default Svix's.
    pub retry: RetryPolicy,
    /// When endpoints pause after failures, and for how long.
    pub endpoint: EndpointPolicy,
    /// Timeout of one webhook request. Default 15 s.
    pub request_timeout: Duration,
    /// How long a worker holds claimed deliveries. Default 5 min (longer than a batch takes).
    pub lease: Duration,
    /// Webhook requests sent in parallel by [`Engine::deliver_due`]. Default 8.
    pub delivery_workers: usize,
    /// Products known besides those named by rules and workspaces.
    pub extra_products: Vec<String>,
    /// Other spellings of products, `(alias, product)`, e.g. `("PV", "Solar")`: a record or
    /// rule naming the alias means the product. An alias of an unknown product, or one that
    /// already names another product, is a configuration error.
    pub product_aliases: Vec<(String, String)>,
    /// How rules of equal priority share appointments. Default: lowest rule id.
    pub tie_policy: TiePolicy,
    /// Largest request body [`Engine::ingest_request`] takes, in bytes. Default 16 MiB.
    pub max_body_bytes: usize,
    /// Required fields per vertical, field length limits, the state/ZIP check. Default: no
    /// vertical rules (as the seed), the limits and the check on.
    pub validation: validate::ValidationOptions,
    /// Whether a batch of at least [`PIPELINE_MIN_RECORDS`] runs its pure steps (parse, map,
    /// validate, normalize) on a second thread, ahead of the calling thread, which writes
    /// each record in order in the batch's transaction as soon as it is prepared (a
    /// two-stage pipeline; outcomes and stored rows are the same either way). Default:
    /// `true` when the machine has more than one core.
    pub pipeline: bool,
}

/// The fewest records for which [`EngineConfig::pipeline`] starts a thread: below this,
/// starting it (tens of microseconds) costs more than it saves.
pub const PIPELINE_MIN_RECORDS: usize = 32;

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            default_region: "US".into(),
            dedup_scope: DedupScope::Provider,
            email_rules: EmailKeyRules::default(),
            require_phone: true,
            duplicate_window: time::Duration::days(30),
            retry: RetryPolicy::default(),
            endpoint: EndpointPolicy::default(),
            request_timeout: Duration::from_secs(15),
            lease: Duration::from_secs(300),
            delivery_workers: 8,
            extra_products: Vec::new(),
            product_aliases: Vec::new(),
            tie_policy: TiePolicy::LowestId,
            max_body_bytes: 16 << 20,
            validation: validate::ValidationOptions::default(),
            pipeline: std::thread::available_parallelism().is_ok_and(|n| n.get() > 1),
        }
    }
}

/// The immutable configuration snapshot ingestion reads.
#[derive(Debug)]
pub struct Snapshot {
    /// The compiled routing table (its catalog is the product catalog).
    pub routing: RoutingTable,
    /// Workspaces by id.
    pub workspaces: HashMap<String, Workspace>,
    /// Providers by id, with their field maps.
    pub providers: HashMap<String, (Provider, FieldMap)>,
    /// Compiled weekly schedules of the workspaces that have one.
    pub schedules: HashMap<String, CompiledSchedule>,
    /// Time zones of the workspaces, for cap windows.
    pub zones: HashMap<String, Zone>,
    /// Capacities of the active rules that have one, by rule id.
    pub rule_capacity: HashMap<i64, Capacity>,
    /// Inbound webhooks by id.
    pub webhooks: HashMap<String, WebhookConfig>,
}

impl Snapshot {
    fn build(
        providers: Vec<Provider>,
        workspaces: Vec<Workspace>,
        rules: &[RoutingRule],
        webhooks: Vec<WebhookConfig>,
        config: &EngineConfig,
    ) -> Result<Snapshot> {
        // Products: every name rules and workspaces use, except configured aliases, which
        // then become other spellings of their products (so rules may use either).
        let is_alias = |name: &str| {
            config
                .product_aliases
                .iter()
                .any(|(a, _)| a.trim().eq_ignore_ascii_case(name.trim()))
        };
        let mut catalog = Catalog::new();
        let names = rules
            .iter()
            .flat_map(|r| r.product_types.iter())
            .chain(workspaces.iter().filter_map(|w| w.business_type.as_ref()))
            .chain(config.extra_products.iter());
        for name in names {
            if !is_alias(name) {
                catalog.add(name, None);
            }
        }
        for (alias, product) in &config.product_aliases {
            if !catalog.alias(alias, product) {
                return Err(crate::routing::RoutingError::UnknownProduct {
                    rule_id: 0,
                    product: format!("{product:?} (the target of alias {alias:?})"),
                }
                .into());
            }
        }
        let routing = RoutingTable::compile(rules, &workspaces, &catalog)?;
        let rule_capacity: HashMap<i64, Capacity> = rules
            .iter()
            .filter(|r| r.is_active && !r.capacity.is_unlimited())
            .map(|r| (r.id, r.capacity.clone()))
            .collect();
        let mut schedules = HashMap::new();
        let mut zones = HashMap::new();
        for w in &workspaces {
            w.capacity.validate()?;
            if let Some(s) = &w.schedule {
                schedules.insert(w.id.clone(), s.compile(w.timezone.as_deref())?);
            }
            let capped = !w.capacity.is_unlimited()
                || rules
                    .iter()
                    .any(|r| r.workspace_id == w.id && rule_capacity.contains_key(&r.id));
            match Zone::for_workspace(w.timezone.as_deref()) {
                Ok(z) => {
                    zones.insert(w.id.clone(), z);
                }
                // A zone is only needed to count caps.
                Err(e) if capped => return Err(e.into()),
                Err(_) => {}
            }
        }
        for c in rule_capacity.values() {
            c.validate()?;
        }
        Ok(Snapshot {
            routing,
            schedules,
            zones,
            rule_capacity,
            workspaces: workspaces.into_iter().map(|w| (w.id.clone(), w)).collect(),
            webhooks: webhooks.into_iter().map(|w| (w.id.clone(), w)).collect(),
            providers: providers
                .into_iter()
                .map(|p| {
                    let map = FieldMap::from(&p);
                    (p.id.clone(), (p, map))
                })
                .collect(),
        })
    }
}

impl Snapshot {
    /// The time zone caps of a workspace are counted in (UTC when it has none).
    fn zone(&self, workspace_id: &str) -> Result<Zone> {
        match self.zones.get(workspace_id) {
            Some(z) => Ok(z.clone()),
            None => Ok(Zone::utc()),
        }
    }
}

/// How a routed or unrouted appointment came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutingOutcome {
    /// Sent to a workspace.
    Routed {
        /// The workspace.
        workspace_id: String,
        /// The matching rule.
        rule_id: i64,
    },
    /// In the unrouted queue.
    Unrouted(UnroutedReason),
}

/// What became of an accepted record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The new lead.
    pub lead_id: LeadId,
    /// Its contact.
    pub contact_id: ContactId,
    /// Whether the contact was created by this record (`false`: a returning person).
    pub new_contact: bool,
    /// When the lead is a lead-level duplicate, the original lead; duplicates get no
    /// appointment and are not billed.
    pub duplicate_of: Option<LeadId>,
    /// The appointment, when the record carried an appointment time.
    pub appointment: Option<(AppointmentId, RoutingOutcome)>,
    /// The routing decision's full trace (as stored in `appointment_events`): every
    /// candidate in decision order with `matched`, `skipped` and its reason, or
    /// `not_reached`; the rules that exclude the ZIP; inactive rules. `None` without an
    /// appointment.
    pub routing_trace: Option<serde_json::Value>,
    /// Non-fatal findings.
    pub warnings: Vec<String>,
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored as a lead.
    Accepted(Accepted),
    /// Stored as a rejection.
    Rejected {
        /// The rejection's id.
        rejection_id: RejectionId,
        /// Why.
        reasons: Vec<Reason>,
    },
    /// Already stored by an earlier ingestion; nothing was written.
    Replayed(StoredRecord),
}

/// The result of ingesting one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    /// The record's idempotency key.
    pub record_key: String,
    /// What happened.
    pub outcome: Outcome,
}

/// What [`Engine::reroute_unrouted`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RerouteReport {
    /// Unrouted appointments examined.
    pub examined: u64,
    /// Newly routed, per workspace.
    pub routed: std::collections::BTreeMap<String, u64>,
    /// Still unrouted, per reason code.
    pub still_unrouted: std::collections::BTreeMap<String, u64>,
}

/// One row of a [`BacktestReport`]: appointments per workspace now and under the proposal
/// (`workspace_id` `None` is the unrouted queue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacktestRow {
    /// The workspace, or `None` for unrouted.
    pub workspace_id: Option<String>,
    /// Appointments it holds now.
    pub current: u64,
    /// Appointments it would hold under the proposed rules.
    pub proposed: u64,
}

/// An appointment that would change hands under a proposed rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// The appointment.
    pub appointment_id: AppointmentId,
    /// Its workspace now (`None`: unrouted).
    pub from: Option<String>,
    /// Its workspace under the proposal (`None`: unrouted).
    pub to: Option<String>,
}

/// What [`Engine::backtest`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BacktestReport {
    /// Appointments replayed.
    pub examined: u64,
    /// Per workspace, by id (unrouted first).
    pub per_workspace: Vec<BacktestRow>,
    /// Appointments that would move, by id.
    pub moves: Vec<Move>,
}

/// Totals of one [`Engine::deliver_due`] call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Deliveries claimed and tried.
    pub attempted: u64,
    /// Answered 2xx (each billed once).
    pub delivered: u64,
    /// Scheduled for another try.
    pub retrying: u64,
    /// Given up.
    pub failed: u64,
    /// Put back without an attempt: the endpoint is paused, disabled or inactive, or a probe
    /// of it is under way.
    pub deferred: u64,
    /// Sum of the charges written.
    pub billed: Cents,
}

/// One provider's records on their way in, with what the wall decided about them.
struct Batch<'a> {
    provider: &'a Provider,
    map: &'a FieldMap,
    /// The inbound webhook they came through (dedup scope and usage row).
    webhook_id: Option<&'a str>,
    /// Lead types the records may have (empty: any).
    lead_types: &'a [String],
    records: &'a [RawRecord],
}

/// The `provider_usage_log` delta of one stored batch: one request, and its newly stored
/// records (replays are not counted again).
fn usage_of(batch: &Batch<'_>, outcomes: &[IngestOutcome], at: OffsetDateTime) -> ProviderUsage {
    let (mut accepted, mut rejected) = (0, 0);
    for o in outcomes {
        match o.outcome {
            Outcome::Accepted(_) => accepted += 1,
            Outcome::Rejected { .. } => rejected += 1,
            Outcome::Replayed(_) => {}
        }
    }
    ProviderUsage {
        provider_id: batch.provider.id.clone(),
        webhook_id: batch.webhook_id.unwrap_or_default().to_string(),
        day: utc_day(at),
        requests: 1,
        refused: 0,
        total_leads: accepted + rejected,
        accepted,
        rejected,
        last_lead_at: (accepted + rejected > 0).then_some(at),
    }
}

/// `YYYY-MM-DD` of a UTC time.
fn utc_day(at: OffsetDateTime) -> String {
    let d = at.to_offset(time::UtcOffset::UTC).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// A record after the pure steps, ready to be written.
enum Prepared {
    Reject {
        record_key: String,
        reasons: Vec<Reason>,
    },
    Accept {
        record_key: String,
        lead: Box<ValidLead>,
        fields: serde_json::Value,
    },
}

/// A batch's prepared records, in order: all of them, or those received so far from the
/// preparing thread. Kept, so that a transaction that runs again sees them again.
struct Prepareds {
    done: Vec<Prepared>,
    incoming: Option<std::sync::mpsc::Receiver<Prepared>>,
}

impl Prepareds {
    /// Record `i`, waiting for the preparing thread if it is not there yet.
    fn get(&mut self, i: usize) -> Result<&Prepared> {
        while self.done.len() <= i {
            let next = self.incoming.as_ref().and_then(|r| r.recv().ok());
            let next =
                next.ok_or_else(|| Error::Internal(format!("record {i} was not prepared")))?;
            self.done.push(next);
        }
        Ok(&self.done[i])
    }
}

/// A routing decision ready to store: the assignment, its outcome, and its trace (JSON, for
/// the audit event).
struct Routed {
    assignment: Assignment,
    outcome: RoutingOutcome,
    trace: serde_json::Value,
}

/// The leadroute engine (see the module docs).
pub struct Engine {
    store: Arc<dyn Store>,
    config: EngineConfig,
    zips: Arc<ZipTable>,
    snapshot: RwLock<Arc<Snapshot>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The current UTC time, truncated to the microsecond (what stores keep).
fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
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
        let snapshot = Arc::new(Self::load_snapshot(&*store, &config)?);
        Ok(Engine {
            store,
            config,
            zips,
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
        let s = Arc::new(Self::load_snapshot(&*self.store, &self.config)?);
        match self.snapshot.write() {
            Ok(mut g) => *g = s,
            Err(poisoned) => *poisoned.into_inner() = s,
        }
        Ok(())
    }

    /// Stores providers, workspaces and rules (upserts, in one transaction, workspaces before
    /// the rules that name them) and refreshes the snapshot.
    ///
    /// The new rules are compiled before anything is written, so a bad rule set changes
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`crate::routing::RoutingError`] for rules that do not compile; storage errors (a rule
    /// naming a workspace that does not exist is a `Conflict`).
    pub fn configure(
        &self,
        providers: &[Provider],
        workspaces: &[Workspace],
        rules: &[RoutingRule],
    ) -> Result<()> {
        let (mut all_p, mut all_w, mut all_r) = with_tx(&*self.store, |tx| {
            Ok((tx.providers()?, tx.workspaces()?, tx.rules()?))
        })?;
        upsert_by(&mut all_p, providers, |p| p.id.clone());
        upsert_by(&mut all_w, workspaces, |w| w.id.clone());
        upsert_by(&mut all_r, rules, |r| r.id);
        Snapshot::build(all_p, all_w, &all_r, Vec::new(), &self.config)?;
        with_tx(&*self.store, |tx| {
            for p in providers {
                tx.put_provider(p)?;
            }
            for w in workspaces {
                tx.put_workspace(w)?;
            }
            for r in rules {
                tx.put_rule(r)?;
            }
            Ok(())
        })?;
        self.refresh()
    }

    /// Stores inbound webhook configurations (`webhook_configs`, upserts in one transaction)
    /// and refreshes the snapshot. Providers post through one only when it is in their
    /// `allowed_webhooks` (see [`Engine::ingest_request`]).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn configure_webhooks(&self, webhooks: &[WebhookConfig]) -> Result<()> {
        with_tx(&*self.store, |tx| {
            for w in webhooks {
                tx.put_webhook_config(w)?;
            }
            Ok(())
        })?;
        self.refresh()
    }

    /// Ingests one record from a provider (see the module docs).
    ///
    /// # Errors
    ///
    /// [`IntakeError::UnknownProvider`] / [`IntakeError::InactiveProvider`]; storage errors.
    /// A bad record is not an error: it is stored as a rejection.
    pub fn ingest(&self, provider_id: &str, record: &RawRecord) -> Result<IngestOutcome> {
        let mut v = self.ingest_batch(provider_id, std::slice::from_ref(record))?;
        v.pop()
            .ok_or_else(|| Error::Internal("batch of one returned nothing".into()))
    }

    /// Ingests records from one provider in a single transaction, one outcome per record in
    /// order. A storage failure rolls back the whole batch (nothing of it is stored, and the
    /// same batch can be retried).
    ///
    /// # Errors
    ///
    /// As [`Engine::ingest`].
    pub fn ingest_batch(
        &self,
        provider_id: &str,
        records: &[RawRecord],
    ) -> Result<Vec<IngestOutcome>> {
        self.ingest_batch_via(provider_id, None, records)
    }

    /// As [`Engine::ingest_batch`], for records that arrived through an inbound webhook
    /// (`webhook_configs`): with [`DedupScope::Webhook`], contacts dedup per webhook.
    ///
    /// # Errors
    ///
    /// As [`Engine::ingest`].
    pub fn ingest_batch_via(
        &self,
        provider_id: &str,
        webhook_id: Option<&str>,
        records: &[RawRecord],
    ) -> Result<Vec<IngestOutcome>> {
        let snap = self.snapshot();
        let (provider, map) = snap
            .providers
            .get(provider_id)
            .ok_or_else(|| IntakeError::UnknownProvider(provider_id.to_string()))?;
        if !provider.is_active {
            return Err(IntakeError::InactiveProvider(provider_id.to_string()).into());
        }
        let batch = Batch {
            provider,
            map,
            webhook_id,
            lead_types: &provider.lead_types,
            records,
        };
        self.ingest_in_tx(&snap, &batch, now(), &|_| Ok(()))
    }

    /// Ingests one HTTP request from a provider: the intake wall, then the body's records as
    /// one batch ([`Engine::ingest_batch`]), one outcome per record.
    ///
    /// The wall (see `engine::wall`): the provider's API key when it has an
    /// `api_key_hash`, and a signature when a secret applies (the inbound webhook's, else the
    /// provider's own `signing_secret`; at least one credential must be configured); then the
    /// provider must be active and, when the request names a
    /// webhook, the webhook active, in the provider's `allowed_webhooks`, and of a lead type
    /// the provider may send. Replay protection (Standard Webhooks message ids) and rate
    /// limits (the provider's per UTC hour, the webhook's `rate_limit` per `rate_window`
    /// seconds) are checked and consumed in the batch's transaction. Records through a
    /// webhook with a lead type must be of it (else `lead_type_not_allowed`).
    ///
    /// The body is split by the provider's format: JSON (one object, an array of objects,
    /// or JSON Lines), CSV with a header row, or one form-encoded record. Bytes that are not
    /// UTF-8 are replaced with U+FFFD. A refused request stores no record; it is counted in
    /// `provider_usage_log.refused` when the provider exists. Accepted requests count in
    /// `requests`, their stored records in `total_leads` / `accepted` / `rejected`.
    ///
    /// # Errors
    ///
    /// - [`AuthError`](crate::auth::AuthError) of kind `Unauthorized` (no or wrong key,
    ///   unknown provider, bad, stale or replayed signature, nothing configured to
    ///   authenticate with), `Forbidden` (inactive provider, webhook not allowed),
    ///   `RateLimited` (with `retry_after_seconds`).
    /// - [`IntakeError::BodyTooLarge`] over [`EngineConfig::max_body_bytes`];
    ///   [`IntakeError::MissingCsvHeader`] for a CSV body without a header row.
    /// - Storage errors (the batch is rolled back, quota included).
    pub fn ingest_request(&self, request: &InboundRequest<'_>) -> Result<Vec<IngestOutcome>> {
        if request.body.len() > self.config.max_body_bytes {
            return Err(IntakeError::BodyTooLarge {
                size: request.body.len(),
                limit: self.config.max_body_bytes,
            }
            .into());
        }
        let snap = self.snapshot();
        let at = now();
        let result = wall::admit(&snap, request, at.unix_timestamp())
            .map_err(Error::from)
            .and_then(|admitted| {
                let body = String::from_utf8_lossy(request.body);
                let split = intake::split(admitted.provider.format, &body)?;
                let lead_types = admitted.lead_types();
                let batch = Batch {
                    provider: admitted.provider,
                    map: admitted.map,
                    webhook_id: admitted.webhook.map(|w| w.id.as_str()),
                    lead_types: &lead_types,
                    records: &split.records,
                };
                self.ingest_in_tx(&snap, &batch, at, &|tx| {
                    wall::consume_quota(tx, &admitted, at)
                })
            });
        if let Err(Error::Auth(_)) = &result {
            if snap.providers.contains_key(request.provider_id) {
                let refused = ProviderUsage {
                    provider_id: request.provider_id.to_string(),
                    webhook_id: request.webhook_id.unwrap_or_default().to_string(),
                    day: utc_day(at),
                    refused: 1,
                    ..ProviderUsage::default()
                };
                with_tx(&*self.store, |tx| Ok(tx.add_usage(&refused)?))?;
            }
        }
        result
    }

    /// The pure steps for every record, then one transaction: `admit` (the wall's checks
    /// that need the store), each record's write, and the provider's usage row. With
    /// [`EngineConfig::pipeline`], the pure steps run on a second thread while the writes
    /// proceed.
    fn ingest_in_tx(
        &self,
        snap: &Snapshot,
        batch: &Batch<'_>,
        at: OffsetDateTime,
        admit: &dyn Fn(&dyn Tx) -> Result<()>,
    ) -> Result<Vec<IngestOutcome>> {
        if !self.config.pipeline || batch.records.len() < PIPELINE_MIN_RECORDS {
            let mut prepared = Prepareds {
                done: batch
                    .records
                    .iter()
                    .map(|r| self.prepare(snap, batch, r))
                    .collect(),
                incoming: None,
            };
            return self.write_batch(snap, batch, at, admit, &mut prepared);
        }
        std::thread::scope(|s| {
            let (send, incoming) = std::sync::mpsc::channel();
            let preparer = s.spawn(move || {
                for r in batch.records {
                    // The writer has stopped (refused or failed): nothing more is needed.
                    if send.send(self.prepare(snap, batch, r)).is_err() {
                        break;
                    }
                }
            });
            let mut prepared = Prepareds {
                done: Vec::with_capacity(batch.records.len()),
                incoming: Some(incoming),
            };
            let written = self.write_batch(snap, batch, at, admit, &mut prepared);
            // Lets a preparer still running stop at its next record.
            prepared.incoming = None;
            // `prepare` does not panic (it is fuzzed); if it did, this panics as the calling
            // thread would without the pipeline.
            if let Err(panic) = preparer.join() {
                std::panic::resume_unwind(panic);
            }
            written
        })
    }

    /// The batch's transaction: `admit`, each record's write in order, the usage row.
    fn write_batch(
        &self,
        snap: &Snapshot,
        batch: &Batch<'_>,
        at: OffsetDateTime,
        admit: &dyn Fn(&dyn Tx) -> Result<()>,
        prepared: &mut Prepareds,
    ) -> Result<Vec<IngestOutcome>> {
        with_tx(&*self.store, |tx| {
            admit(tx)?;
            let mut outcomes = Vec::with_capacity(batch.records.len());
            for (i, raw) in batch.records.iter().enumerate() {
                let p = prepared.get(i)?;
                outcomes.push(self.write(
                    tx,
                    snap,
                    batch.provider,
                    batch.webhook_id,
                    p,
                    raw,
                    at,
                )?);
            }
            tx.add_usage(&usage_of(batch, &outcomes, at))?;
            Ok(outcomes)
        })
    }

    /// The pure steps: parse, map, validate, normalize. Routing needs the store (tie state,
    /// capacity counters) and happens in the write transaction.
    fn prepare(&self, snap: &Snapshot, batch: &Batch<'_>, raw: &RawRecord) -> Prepared {
        let fields = match intake::parse_fields(raw) {
            Ok(f) => f,
            Err(e) => {
                return Prepared::Reject {
                    record_key: raw.content_key(),
                    reasons: vec![Reason {
                        code: ReasonCode::MalformedRecord,
                        detail: e.0,
                    }],
                }
            }
        };
        let input = intake::map_fields(fields, batch.map);
        let record_key = input
            .external_id
            .clone()
            .unwrap_or_else(|| raw.content_key());
        let ctx = ValidationContext {
            zips: &self.zips,
            catalog: snap.routing.catalog(),
            allowed_lead_types: batch.lead_types,
            default_region: &self.config.default_region,
            require_phone: self.config.require_phone,
        };
        let lead = match validate::validate_with(&input, &ctx, &self.config.validation) {
            Ok(l) => l,
            Err(e) => {
                return Prepared::Reject {
                    record_key,
                    reasons: e.reasons,
                }
            }
        };
        let fields = lead_fields(&lead, input);
        Prepared::Accept {
            record_key,
            lead: Box::new(lead),
            fields,
        }
    }

    /// Routes a (product, ZIP5) inside the assigning transaction: the tie policy's state is
    /// read and advanced in the store, each candidate passes the gate (consent, schedule,
    /// caps, budget), and the winner's capacity is consumed, all in `tx`. `consent`: whether
    /// the lead has TCPA consent.
    #[allow(clippy::too_many_arguments)]
    fn route_in_tx(
        &self,
        tx: &dyn Tx,
        snap: &Snapshot,
        product: crate::catalog::ProductId,
        zip: crate::zip::Zip5,
        consent: bool,
        at: OffsetDateTime,
    ) -> Result<Routed> {
        let mut state = gate::StoreTieState::new(tx, true);
        let mut gate = gate::StoreGate::new(tx, snap, at, consent);
        let explanation = snap.routing.decide_explained(
            product,
            zip,
            self.config.tie_policy,
            &mut state,
            &mut gate,
            at,
        );
        state.finish()?;
        gate.finish()?;
        let trace = explanation.to_json();
        Ok(match explanation.outcome {
            Ok(m) => {
                let rate = snap
                    .workspaces
                    .get(m.workspace_id)
                    .map(|w| w.payment_rate)
                    .unwrap_or_default();
                gate::consume(tx, snap, m.workspace_id, Some(m.rule_id), rate, at)?;
                Routed {
                    assignment: Assignment::Routed {
                        workspace_id: m.workspace_id.to_string(),
                        rule_id: Some(m.rule_id),
                        method: RoutingMethod::Auto,
                        matched_at: at,
                        payment_rate: rate,
                    },
                    outcome: RoutingOutcome::Routed {
                        workspace_id: m.workspace_id.to_string(),
                        rule_id: m.rule_id,
                    },
                    trace,
                }
            }
            Err(reason) => Routed {
                assignment: Assignment::Unrouted {
                    reason: reason.code().to_string(),
                },
                outcome: RoutingOutcome::Unrouted(reason),
                trace,
            },
        })
    }

    /// A dry run: how a (product, ZIP) would route now, with the full trace (every
    /// candidate, skipped ones with their reason, excluded and inactive rules), as JSON, for
    /// a lead with TCPA consent. Reads the store's tie state and capacity counters; writes
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`crate::zip::ZipError`] for a bad ZIP; storage errors.
    pub fn explain(&self, product: &str, zip: &str) -> Result<serde_json::Value> {
        let zip = crate::zip::Zip5::parse(zip)?;
        let snap = self.snapshot();
        let Some(pid) = snap.routing.catalog().lookup(product) else {
            return Ok(snap.routing.explain(product, zip).to_json());
        };
        let at = now();
        with_tx(&*self.store, |tx| {
            let state = gate::StoreTieState::new(tx, false);
            let mut gate = gate::StoreGate::new(tx, &snap, at, true);
            let trace = snap
                .routing
                .explain_with(pid, zip, self.config.tie_policy, &state, &mut gate)
                .to_json();
            state.finish()?;
            gate.finish()?;
            Ok(trace)
        })
    }

    /// The transactional step: writes one prepared record.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        tx: &dyn Tx,
        snap: &Snapshot,
        provider: &Provider,
        webhook_id: Option<&str>,
        prepared: &Prepared,
        raw: &RawRecord,
        at: OffsetDateTime,
    ) -> Result<IngestOutcome> {
        let record_key = match prepared {
            Prepared::Reject { record_key, .. } | Prepared::Accept { record_key, .. } => record_key,
        };
        if let Some(stored) = tx.stored_record(&provider.id, record_key)? {
            return Ok(IngestOutcome {
                record_key: record_key.clone(),
                outcome: Outcome::Replayed(stored),
            });
        }
        let outcome = match prepared {
            Prepared::Reject { reasons, .. } => {
                let rejection_id = tx.insert_rejection(&NewRejection {
                    provider_id: provider.id.clone(),
                    record_key: record_key.clone(),
                    reason_codes: reasons
                        .iter()
                        .map(|r| r.code.as_str().to_string())
                        .collect(),
                    details: reasons.iter().map(|r| r.detail.clone()).collect(),
                    raw_payload: raw.text().to_string(),
                    received_at: at,
                })?;
                let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
                tx.append_events(&[
                    audit(
                        EventSubject::Rejection,
                        rejection_id,
                        "received",
                        json!({"provider_id": provider.id, "webhook_id": webhook_id,
                               "record_key": record_key}),
                        at,
                    ),
                    audit(
                        EventSubject::Rejection,
                        rejection_id,
                        "rejected",
                        json!({"reason_codes": codes}),
                        at,
                    ),
                ])?;
                Outcome::Rejected {
                    rejection_id,
                    reasons: reasons.clone(),
                }
            }
            Prepared::Accept { lead, fields, .. } => Outcome::Accepted(self.write_lead(
                tx, snap, provider, webhook_id, record_key, lead, fields, raw, at,
            )?),
        };
        Ok(IngestOutcome {
            record_key: record_key.clone(),
            outcome,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn write_lead(
        &self,
        tx: &dyn Tx,
        snap: &Snapshot,
        provider: &Provider,
        webhook_id: Option<&str>,
        record_key: &str,
        lead: &ValidLead,
        fields: &serde_json::Value,
        raw: &RawRecord,
        at: OffsetDateTime,
    ) -> Result<Accepted> {
        // The audit rows of this record, written together at the end.
        let mut trail: Vec<NewEvent> = Vec::new();
        let (contact_id, change) = contact::resolve_contact(
            tx,
            &NewContact {
                dedup_scope: self.config.dedup_scope.key(&provider.id, webhook_id),
                phone_e164: lead.phone.as_ref().map(|p| p.number.as_str().to_string()),
                phone_extension: lead.phone.as_ref().and_then(|p| p.extension.clone()),
                email: lead.email.clone(),
                email_key: lead
                    .email
                    .as_deref()
                    .map(|e| email::dedup_key(e, self.config.email_rules)),
                first_name: lead.first_name.clone(),
                last_name: lead.last_name.clone(),
                zip_code: Some(lead.zip.to_string()),
                created_at: at,
            },
        )?;
        let new_contact = change == ContactChange::Created;
        if let Some(kind) = change.event_type() {
            let changes = match &change {
                ContactChange::Updated(c) | ContactChange::Merged(c) => json!(c),
                ContactChange::Created | ContactChange::Unchanged => json!([]),
            };
            trail.push(audit(
                EventSubject::Contact,
                contact_id,
                kind,
                json!({"provider_id": provider.id, "webhook_id": webhook_id,
                       "record_key": record_key, "changes": changes}),
                at,
            ));
        }
        // A contact created by this record has no earlier lead to duplicate.
        let duplicate_of = if new_contact {
            None
        } else {
            self.original_lead(tx, snap, contact_id, lead, at)?
        };
        // Routing needs no lead id: it runs first, so the lead is stored once, with its
        // status decided (no update of the row afterwards; the history is the same).
        let routing = match (duplicate_of, lead.appointment_date) {
            (None, Some(_)) => Some(self.route_in_tx(
                tx,
                snap,
                lead.product,
                lead.zip,
                lead.tcpa_consent == Some(true),
                at,
            )?),
            _ => None,
        };
        let (status, reason) = match (duplicate_of, &routing) {
            (Some(_), _) => ("duplicate", None),
            (None, Some(routed)) => match &routed.outcome {
                RoutingOutcome::Routed { .. } => ("routed", None),
                RoutingOutcome::Unrouted(r) => ("unrouted", Some(r.code())),
            },
            (None, None) => ("new", None),
        };
        let lead_id = tx.insert_lead_as(
            &NewLead {
                contact_id,
                duplicate_of,
                provider_id: provider.id.clone(),
                record_key: record_key.to_string(),
                external_id: lead.external_id.clone(),
                product_type: lead.product_name.clone(),
                zip_code: lead.zip.to_string(),
                appointment_date: lead.appointment_date,
                estimated_value: lead.estimated_value,
                tcpa_consent: lead.tcpa_consent,
                fields: fields.clone(),
                warnings: lead.warnings.clone(),
                raw_payload: raw.text().to_string(),
                received_at: at,
            },
            status,
            reason,
            at,
        )?;
        trail.push(audit(
            EventSubject::Lead,
            lead_id,
            "received",
            json!({"provider_id": provider.id, "webhook_id": webhook_id,
                   "record_key": record_key}),
            at,
        ));
        // The normalized values are on the lead row; the event says what validation decided.
        trail.push(audit(
            EventSubject::Lead,
            lead_id,
            "validated",
            json!({"contact_id": contact_id, "new_contact": new_contact,
                   "warnings": lead.warnings}),
            at,
        ));
        if let Some(original) = duplicate_of {
            trail.push(audit(
                EventSubject::Lead,
                lead_id,
                "duplicate",
                json!({"original_lead_id": original, "product_type": lead.product_name}),
                at,
            ));
            tx.append_events(&trail)?;
            return Ok(Accepted {
                lead_id,
                contact_id,
                new_contact,
                duplicate_of,
                appointment: None,
                routing_trace: None,
                warnings: lead.warnings.clone(),
            });
        }
        let mut appointment_out = None;
        if let Some(routed) = &routing {
            if let Some(new_appt) =
                appointment::from_lead(lead_id, contact_id, lead, routed.assignment.clone(), at)
            {
                let appt_id = tx.insert_appointment(&new_appt)?;
                let detail = match &routed.outcome {
                    RoutingOutcome::Routed {
                        workspace_id,
                        rule_id,
                    } => {
                        self.enqueue(tx, snap, appt_id, &new_appt, &customer_of(lead), at)?;
                        json!({"appointment_id": appt_id, "workspace_id": workspace_id,
                               "rule_id": rule_id})
                    }
                    RoutingOutcome::Unrouted(reason) => {
                        json!({"appointment_id": appt_id, "reason": reason.code()})
                    }
                };
                trail.push(audit(
                    EventSubject::Appointment,
                    appt_id,
                    status,
                    routed.trace.clone(),
                    at,
                ));
                trail.push(audit(EventSubject::Lead, lead_id, status, detail, at));
                appointment_out = Some((appt_id, routed.outcome.clone()));
            }
        }
        tx.append_events(&trail)?;
        Ok(Accepted {
            lead_id,
            contact_id,
            new_contact,
            duplicate_of: None,
            routing_trace: appointment_out.as_ref().and(routing.map(|r| r.trace)),
            appointment: appointment_out,
            warnings: lead.warnings.clone(),
        })
    }

    /// The original lead this one duplicates: the contact's latest original lead for the
    /// product, if received within the window: the window of the workspace that bought the
    /// original (its `duplicate_window_days`), else the engine's.
    fn original_lead(
        &self,
        tx: &dyn Tx,
        snap: &Snapshot,
        contact_id: ContactId,
        lead: &ValidLead,
        at: OffsetDateTime,
    ) -> Result<Option<LeadId>> {
        let Some(previous) = tx.latest_original_lead(contact_id, &lead.product_name)? else {
            return Ok(None);
        };
        let workspace_window = tx
            .appointment_for_lead(previous.id)?
            .and_then(|a| match a.appointment.assignment {
                Assignment::Routed { workspace_id, .. } => snap.workspaces.get(&workspace_id),
                Assignment::Unrouted { .. } => None,
            })
            .and_then(|w| w.duplicate_window_days)
            .map(|d| time::Duration::days(i64::from(d)));
        let window = workspace_window.unwrap_or(self.config.duplicate_window);
        Ok(contact::is_duplicate(previous.lead.received_at, at, window).then_some(previous.id))
    }

    /// Writes the outbox row of a routed appointment (same transaction as its routing).
    fn enqueue(
        &self,
        tx: &dyn Tx,
        snap: &Snapshot,
        appointment_id: AppointmentId,
        appt: &NewAppointment,
        customer: &Customer,
        at: OffsetDateTime,
    ) -> Result<()> {
        let Assignment::Routed { workspace_id, .. } = &appt.assignment else {
            return Err(Error::Internal("enqueue of an unrouted appointment".into()));
        };
        let workspace_id = workspace_id.as_str();
        let body = payload::build(appointment_id, appt, customer)
            .ok_or_else(|| Error::Internal("routed appointment without payload".into()))?;
        let options = snap
            .workspaces
            .get(workspace_id)
            .map(|w| w.delivery.clone())
            .unwrap_or_default();
        let payload = serde_json::to_string(&payload::shape(&body, &options, at))
            .map_err(|e| Error::Internal(format!("payload serialization: {e}")))?;
        let url = snap
            .workspaces
            .get(workspace_id)
            .map(|w| w.outbound_webhook_url.clone())
            .unwrap_or_default();
        tx.enqueue_delivery(&NewDelivery {
            appointment_id,
            workspace_id: workspace_id.to_string(),
            webhook_id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
            url,
            payload,
            next_attempt_at: at,
            created_at: at,
        })?;
        Ok(())
    }

    /// Claims up to `limit` due deliveries, posts them through `transport`, and records the
    /// outcomes (see the module docs). Call it in a loop until it attempts nothing.
    ///
    /// # Errors
    ///
    /// Storage errors. Transport failures are not errors: they are recorded attempts.
    pub fn deliver_due(&self, transport: &dyn Transport, limit: usize) -> Result<DeliveryReport> {
        let start = now();
        let lease_until = start + self.config.lease;
        let claimed = with_tx(&*self.store, |tx| {
            Ok(tx.claim_due_deliveries(start, limit, lease_until)?)
        })?;
        if claimed.is_empty() {
            return Ok(DeliveryReport::default());
        }
        let snap = self.snapshot();
        // Gate each delivery by its endpoint's health: a paused, disabled or inactive
        // endpoint gets none; a probed one gets one; the rest wait.
        let mut health: HashMap<String, EndpointHealth> = HashMap::new();
        with_tx(&*self.store, |tx| {
            for d in &claimed {
                let w = &d.delivery.workspace_id;
                if !health.contains_key(w) {
                    health.insert(w.clone(), tx.endpoint_health(w)?);
                }
            }
            Ok(())
        })?;
        let mut probing = std::collections::HashSet::new();
        let mut to_try = Vec::new();
        let mut deferred = Vec::new();
        for d in &claimed {
            let w = &d.delivery.workspace_id;
            let active = snap.workspaces.get(w).is_some_and(|x| x.webhook_active);
            match self.config.endpoint.gate(&health[w], active, start) {
                EndpointGate::Open => to_try.push(d),
                EndpointGate::Probe if probing.insert(w.clone()) => to_try.push(d),
                EndpointGate::Probe => {
                    deferred.push((d, start + self.config.endpoint.cool_down, "probe_pending"))
                }
                EndpointGate::Wait(until) => deferred.push((d, until, "endpoint_unavailable")),
            }
        }
        let workers = self.config.delivery_workers.max(1);
        let chunk = to_try.len().div_ceil(workers).max(1);
        let tries: Vec<(Attempt, Verdict, String)> = std::thread::scope(|s| {
            let handles: Vec<_> = to_try
                .chunks(chunk)
                .map(|part| {
                    let snap = &snap;
                    s.spawn(move || {
                        part.iter()
                            .map(|d| self.try_once(transport, snap, d))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        let finished = now();
        with_tx(&*self.store, |tx| {
            let mut r = DeliveryReport::default();
            for (d, until, why) in &deferred {
                tx.defer_delivery(d.id, *until)?;
                event(
                    tx,
                    EventSubject::Appointment,
                    d.delivery.appointment_id,
                    "delivery_deferred",
                    json!({"delivery_id": d.id, "reason": why,
                           "next_attempt_at": payload::rfc3339(*until)}),
                    finished,
                )?;
                r.deferred += 1;
            }
            let mut health = health.clone();
            for (d, (attempt, verdict, summary)) in to_try.iter().zip(&tries) {
                let w = &d.delivery.workspace_id;
                if let Some(h) = health.get_mut(w) {
                    let next =
                        self.config
                            .endpoint
                            .after(h, *verdict, attempt.status_code, finished);
                    if next != *h {
                        tx.put_endpoint_health(w, &next)?;
                        *h = next;
                    }
                }
                let appt = tx.appointment(d.delivery.appointment_id)?.ok_or_else(|| {
                    Error::Internal(format!("delivery {} has no appointment", d.id))
                })?;
                let n = attempt.attempt_number;
                // The retry schedule counts from this attempt's own end, not the batch's.
                let ended =
                    attempt.requested_at + time::Duration::milliseconds(attempt.duration_ms as i64);
                let result = match self
                    .config
                    .retry
                    .next_state(n, *verdict, ended, fastrand::f64())
                {
                    Some(next) => next,
                    None => AttemptResult::Delivered {
                        billing: billing::charge(appt.id, &appt.appointment.assignment, finished)
                            .ok_or_else(|| {
                            Error::Internal(format!(
                                "delivered appointment {} is unrouted",
                                appt.id
                            ))
                        })?,
                    },
                };
                tx.record_attempt(attempt, &result)?;
                let (status, forwarded_at, kind) = match &result {
                    AttemptResult::Delivered { billing } => {
                        if tx.insert_billing_event(billing)?.is_some() {
                            r.billed.0 += billing.amount.0;
                        }
                        r.delivered += 1;
                        (ForwardStatus::Success, Some(finished), "delivered")
                    }
                    AttemptResult::Retry { .. } => {
                        r.retrying += 1;
                        (ForwardStatus::Pending, None, "delivery_retry")
                    }
                    AttemptResult::Failed => {
                        r.failed += 1;
                        (ForwardStatus::Failed, None, "delivery_failed")
                    }
                };
                tx.update_forward(appt.id, status, n, forwarded_at, Some(summary))?;
                let next = match &result {
                    AttemptResult::Retry { next_attempt_at } => {
                        Some(payload::rfc3339(*next_attempt_at))
                    }
                    _ => None,
                };
                let detail = json!({"delivery_id": d.id, "webhook_id": d.delivery.webhook_id,
                       "attempt": n, "status_code": attempt.status_code,
                       "error": attempt.error, "next_attempt_at": next});
                event(
                    tx,
                    EventSubject::Appointment,
                    appt.id,
                    kind,
                    detail.clone(),
                    finished,
                )?;
                // The lead's own trail: delivered, or given up on.
                if let Some(status) = match &result {
                    AttemptResult::Delivered { .. } => Some("delivered"),
                    AttemptResult::Failed => Some("delivery_failed"),
                    AttemptResult::Retry { .. } => None,
                } {
                    let lead_id = appt.appointment.lead_id;
                    event(tx, EventSubject::Lead, lead_id, status, detail, finished)?;
                    let reason = attempt
                        .status_code
                        .map(|c| format!("HTTP {c}"))
                        .or_else(|| attempt.error.clone());
                    tx.set_lead_status(lead_id, status, reason.as_deref(), finished)?;
                }
                r.attempted += 1;
            }
            Ok(r)
        })
    }

    /// One HTTP try of a claimed delivery: the attempt row, its verdict, and its summary.
    fn try_once(
        &self,
        transport: &dyn Transport,
        snap: &Snapshot,
        d: &Delivery,
    ) -> (Attempt, Verdict, String) {
        let requested_at = now();
        let mut attempt = Attempt {
            delivery_id: d.id,
            attempt_number: d.attempts + 1,
            requested_at,
            duration_ms: 0,
            status_code: None,
            error: None,
            response_excerpt: None,
        };
        let workspace = match snap.workspaces.get(&d.delivery.workspace_id) {
            Some(w) if w.webhook_active => w,
            Some(_) | None => {
                let msg = "workspace webhook is inactive or missing".to_string();
                attempt.error = Some(msg.clone());
                return (attempt, Verdict::Retry(None), msg);
            }
        };
        let request = match delivery::build_request(d, workspace, requested_at) {
            Ok(r) => r,
            Err(e) => {
                attempt.error = Some(e.to_string());
                return (attempt, Verdict::Fail, e.to_string());
            }
        };
        let started = Instant::now();
        let result = transport.post(&request, self.config.request_timeout);
        attempt.duration_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(r) => {
                attempt.status_code = Some(r.status);
                attempt.response_excerpt = Some(r.body_excerpt.clone());
            }
            Err(e) => attempt.error = Some(e.to_string()),
        }
        (
            attempt,
            delivery::classify(&result),
            delivery::summarize(&result),
        )
    }

    /// Routes the unrouted queue again against the current rules and workspaces, e.g. after
    /// rules or workspaces changed. Each appointment that now matches is assigned, gets its
    /// outbox row and an `appointment_events` row `rerouted` with its trace, in one
    /// transaction per batch of `batch` appointments; the others stay queued. The payment
    /// rate is the workspace's at rerouting time.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn reroute_unrouted(&self, batch: usize) -> Result<RerouteReport> {
        let snap = self.snapshot();
        let mut report = RerouteReport::default();
        let mut after = 0;
        loop {
            let page = with_tx(&*self.store, |tx| {
                Ok(tx.unrouted_appointments(after, batch.max(1))?)
            })?;
            let Some(last) = page.last() else {
                return Ok(report);
            };
            after = last.id;
            let at = now();
            let step = with_tx(&*self.store, |tx| {
                let mut r = RerouteReport::default();
                for appt in &page {
                    r.examined += 1;
                    let a = &appt.appointment;
                    let routed = match (
                        snap.routing.catalog().lookup(&a.service_type),
                        crate::zip::Zip5::parse(&a.zip_code),
                    ) {
                        (Some(p), Ok(z)) => {
                            let consent = tx
                                .lead(a.lead_id)?
                                .is_some_and(|l| l.lead.tcpa_consent == Some(true));
                            self.route_in_tx(tx, &snap, p, z, consent, at)?
                        }
                        _ => {
                            *r.still_unrouted
                                .entry(UnroutedReason::UnknownProduct.code().to_string())
                                .or_default() += 1;
                            continue;
                        }
                    };
                    match &routed.outcome {
                        RoutingOutcome::Routed { workspace_id, .. } => {
                            self.route_stored(tx, &snap, appt, &routed.assignment, at)?;
                            event(
                                tx,
                                EventSubject::Appointment,
                                appt.id,
                                "rerouted",
                                routed.trace.clone(),
                                at,
                            )?;
                            *r.routed.entry(workspace_id.clone()).or_default() += 1;
                        }
                        RoutingOutcome::Unrouted(reason) => {
                            *r.still_unrouted
                                .entry(reason.code().to_string())
                                .or_default() += 1;
                        }
                    }
                }
                Ok(r)
            })?;
            report.examined += step.examined;
            for (k, v) in step.routed {
                *report.routed.entry(k).or_default() += v;
            }
            for (k, v) in step.still_unrouted {
                *report.still_unrouted.entry(k).or_default() += v;
            }
        }
    }

    /// Assigns an unrouted appointment to a workspace by hand (`routing_method = manual`),
    /// writes its outbox row and an `assigned_manually` event with `note`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown appointment or workspace; a `Conflict` storage
    /// error when the appointment is already routed (a routed appointment is never moved).
    pub fn assign_manually(
        &self,
        appointment_id: AppointmentId,
        workspace_id: &str,
        note: &str,
    ) -> Result<()> {
        let snap = self.snapshot();
        let workspace = snap
            .workspaces
            .get(workspace_id)
            .ok_or_else(|| Error::NotFound {
                entity: "workspace",
                id: workspace_id.to_string(),
            })?;
        let at = now();
        with_tx(&*self.store, |tx| {
            let appt = tx
                .appointment(appointment_id)?
                .ok_or_else(|| Error::NotFound {
                    entity: "appointment",
                    id: appointment_id.to_string(),
                })?;
            let assignment = Assignment::Routed {
                workspace_id: workspace.id.clone(),
                rule_id: None,
                method: RoutingMethod::Manual,
                matched_at: at,
                payment_rate: workspace.payment_rate,
            };
            self.route_stored(tx, &snap, &appt, &assignment, at)?;
            event(
                tx,
                EventSubject::Appointment,
                appointment_id,
                "assigned_manually",
                json!({"workspace_id": workspace.id, "note": note}),
                at,
            )
        })
    }

    /// Routes a stored unrouted appointment: the assignment and its outbox row.
    fn route_stored(
        &self,
        tx: &dyn Tx,
        snap: &Snapshot,
        appt: &Appointment,
        assignment: &Assignment,
        at: OffsetDateTime,
    ) -> Result<()> {
        tx.assign_appointment(appt.id, assignment)?;
        let lead = tx
            .lead(appt.appointment.lead_id)?
            .ok_or_else(|| Error::Internal(format!("appointment {} has no lead", appt.id)))?;
        if let Assignment::Routed {
            workspace_id,
            rule_id,
            method,
            ..
        } = assignment
        {
            event(
                tx,
                EventSubject::Lead,
                lead.id,
                "routed",
                json!({"appointment_id": appt.id, "workspace_id": workspace_id,
                       "rule_id": rule_id, "routing_method": method}),
                at,
            )?;
            tx.set_lead_status(lead.id, "routed", None, at)?;
        }
        let mut routed = appt.appointment.clone();
        routed.assignment = assignment.clone();
        self.enqueue(tx, snap, appt.id, &routed, &stored_customer(&lead), at)
    }

    /// Replays every stored appointment against a proposed rule set (compiled with the
    /// current workspaces and catalog, plus the proposal's products) and reports what would
    /// change: counts per workspace, current and proposed, and the appointments that move.
    /// Nothing is written.
    ///
    /// # Errors
    ///
    /// [`crate::routing::RoutingError`] when the proposal does not compile; storage errors.
    pub fn backtest(&self, proposed: &[RoutingRule]) -> Result<BacktestReport> {
        let snap = self.snapshot();
        let mut catalog = snap.routing.catalog().clone();
        for r in proposed {
            for p in &r.product_types {
                catalog.add(p, None);
            }
        }
        let workspaces: Vec<Workspace> = snap.workspaces.values().cloned().collect();
        let table = RoutingTable::compile(proposed, &workspaces, &catalog)?;
        let mut report = BacktestReport::default();
        let mut per: HashMap<Option<String>, (u64, u64)> = HashMap::new();
        let mut after = 0;
        loop {
            let page = with_tx(&*self.store, |tx| Ok(tx.appointments_after(after, 1000)?))?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for appt in &page {
                let a = &appt.appointment;
                let current = match &a.assignment {
                    Assignment::Routed { workspace_id, .. } => Some(workspace_id.clone()),
                    Assignment::Unrouted { .. } => None,
                };
                let proposed_ws = match crate::zip::Zip5::parse(&a.zip_code) {
                    Ok(z) => table
                        .route(&a.service_type, z)
                        .outcome
                        .ok()
                        .map(|m| m.workspace_id.to_string()),
                    Err(_) => None,
                };
                report.examined += 1;
                per.entry(current.clone()).or_default().0 += 1;
                per.entry(proposed_ws.clone()).or_default().1 += 1;
                if current != proposed_ws {
                    report.moves.push(Move {
                        appointment_id: appt.id,
                        from: current,
                        to: proposed_ws,
                    });
                }
            }
        }
        let mut rows: Vec<BacktestRow> = per
            .into_iter()
            .map(|(workspace_id, (current, proposed))| BacktestRow {
                workspace_id,
                current,
                proposed,
            })
            .collect();
        rows.sort_by(|a, b| a.workspace_id.cmp(&b.workspace_id));
        report.per_workspace = rows;
        Ok(report)
    }

    /// Returns a delivered appointment (the client disputes it): writes a credit billing
    /// event that reverses its charge, gives the capacity it used back to the workspace's and
    /// rule's caps and budget (in the windows it was counted in), and records a `returned`
    /// event with `reason`, in one transaction. Returns the credit.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown appointment; a `Conflict` storage error when it was
    /// never billed (not delivered) or was already returned.
    pub fn return_appointment(
        &self,
        appointment_id: AppointmentId,
        reason: &str,
    ) -> Result<NewBillingEvent> {
        let snap = self.snapshot();
        let at = now();
        with_tx(&*self.store, |tx| {
            let appt = tx
                .appointment(appointment_id)?
                .ok_or_else(|| Error::NotFound {
                    entity: "appointment",
                    id: appointment_id.to_string(),
                })?;
            let charge = tx
                .billing_event(appointment_id, BillingKind::Charge)?
                .ok_or_else(|| {
                    crate::storage::StorageError::Conflict(format!(
                        "appointment {appointment_id} was never billed"
                    ))
                })?;
            let credit = NewBillingEvent {
                appointment_id,
                workspace_id: charge.workspace_id.clone(),
                kind: BillingKind::Credit,
                amount: Cents(-charge.amount.0),
                created_at: at,
            };
            if tx.insert_billing_event(&credit)?.is_none() {
                return Err(crate::storage::StorageError::Conflict(format!(
                    "appointment {appointment_id} was already returned"
                ))
                .into());
            }
            if let Assignment::Routed {
                workspace_id,
                rule_id,
                matched_at,
                ..
            } = &appt.appointment.assignment
            {
                gate::give_back(
                    tx,
                    &snap,
                    workspace_id,
                    *rule_id,
                    charge.amount,
                    *matched_at,
                )?;
            }
            event(
                tx,
                EventSubject::Appointment,
                appointment_id,
                "returned",
                json!({"reason": reason, "credit_cents": credit.amount.0}),
                at,
            )?;
            let lead_id = appt.appointment.lead_id;
            event(
                tx,
                EventSubject::Lead,
                lead_id,
                "returned",
                json!({"appointment_id": appointment_id, "reason": reason}),
                at,
            )?;
            tx.set_lead_status(lead_id, "returned", Some(reason), at)?;
            Ok(credit)
        })
    }

    /// Re-enables a workspace's webhook endpoint (after a `410 Gone`, or to end a pause):
    /// its health is reset and every pending delivery to it is due now. Returns how many
    /// deliveries resume.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown workspace; storage errors.
    pub fn enable_endpoint(&self, workspace_id: &str) -> Result<u64> {
        if !self.snapshot().workspaces.contains_key(workspace_id) {
            return Err(Error::NotFound {
                entity: "workspace",
                id: workspace_id.to_string(),
            });
        }
        let at = now();
        with_tx(&*self.store, |tx| {
            tx.put_endpoint_health(workspace_id, &EndpointHealth::default())?;
            Ok(tx.resume_workspace_deliveries(workspace_id, at)?)
        })
    }

    /// The health of a workspace's webhook endpoint.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn endpoint_health(&self, workspace_id: &str) -> Result<EndpointHealth> {
        with_tx(&*self.store, |tx| Ok(tx.endpoint_health(workspace_id)?))
    }

    /// Charges, credits and net per workspace for billing events with
    /// `from <= created_at < to` (UTC).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn billing_summary(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<BillingSummaryRow>> {
        with_tx(&*self.store, |tx| Ok(tx.billing_summary(from, to)?))
    }

    /// Whole-store counts.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn counts(&self) -> Result<StoreCounts> {
        with_tx(&*self.store, |tx| Ok(tx.counts()?))
    }

    /// A provider's intake per (inbound webhook, UTC day) (`provider_usage_log`), ordered by
    /// day, then webhook (`""` for records ingested directly).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn provider_usage(&self, provider_id: &str) -> Result<Vec<ProviderUsage>> {
        with_tx(&*self.store, |tx| Ok(tx.provider_usage(provider_id)?))
    }

    /// A provider's `total_leads` (records stored, leads and rejections) and `last_lead_at`
    /// (UTC).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn provider_totals(&self, provider_id: &str) -> Result<(u64, Option<OffsetDateTime>)> {
        with_tx(&*self.store, |tx| Ok(tx.provider_totals(provider_id)?))
    }

    /// The audit trail of one subject (`lead_events` of a lead or of a stored rejection,
    /// `contact_events`, `appointment_events`), oldest first.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn events(&self, subject: EventSubject, id: i64) -> Result<Vec<NewEvent>> {
        with_tx(&*self.store, |tx| Ok(tx.events(subject, id)?))
    }

    /// A lead's status changes (`lead_status_history`), oldest first: `new`, then
    /// `duplicate`, `routed` or `unrouted`, then `delivered`, `delivery_failed` or
    /// `returned`.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn lead_status_history(&self, lead_id: LeadId) -> Result<Vec<LeadStatusChange>> {
        with_tx(&*self.store, |tx| Ok(tx.lead_status_history(lead_id)?))
    }
}

/// The `fields` object stored with a lead: the normalized core fields, then only the optional
/// groups the record carried (address, network, attribution, consent), then the provider's
/// unmapped fields under `custom`. Absent values are left out rather than stored as null.
fn lead_fields(lead: &ValidLead, input: intake::LeadInput) -> serde_json::Value {
    fn put(map: &mut serde_json::Map<String, serde_json::Value>, key: &str, v: Option<&str>) {
        if let Some(v) = v {
            map.insert(key.to_string(), v.into());
        }
    }
    let mut out = serde_json::Map::new();
    put(&mut out, "first_name", lead.first_name.as_deref());
    put(&mut out, "last_name", lead.last_name.as_deref());
    put(
        &mut out,
        "phone",
        lead.phone.as_ref().map(|p| p.number.as_str()),
    );
    put(
        &mut out,
        "phone_extension",
        lead.phone.as_ref().and_then(|p| p.extension.as_deref()),
    );
    put(&mut out, "email", lead.email.as_deref());
    out.insert("zip_code".into(), lead.zip.to_string().into());
    out.insert("product_type".into(), lead.product_name.clone().into());
    for (key, v) in [
        ("address", &input.address),
        ("city", &input.city),
        ("state", &input.state),
        ("ip_address", &input.ip_address),
        ("user_agent", &input.user_agent),
    ] {
        put(&mut out, key, v.as_deref());
    }
    let mut attribution = serde_json::Map::new();
    for (key, v) in [
        ("utm_source", &input.utm_source),
        ("utm_medium", &input.utm_medium),
        ("utm_campaign", &input.utm_campaign),
        ("utm_term", &input.utm_term),
        ("utm_content", &input.utm_content),
        ("campaign_id", &input.campaign_id),
    ] {
        put(&mut attribution, key, v.as_deref());
    }
    if !attribution.is_empty() {
        out.insert("attribution".into(), attribution.into());
    }
    let mut consent = serde_json::Map::new();
    if let Some(v) = lead.tcpa_consent {
        consent.insert("consent_value".into(), v.into());
    }
    put(
        &mut consent,
        "consent_description",
        input.consent_text.as_deref(),
    );
    put(&mut consent, "consent_hash", input.consent_hash.as_deref());
    put(
        &mut consent,
        "certificate_url",
        input.consent_certificate_url.as_deref(),
    );
    if !consent.is_empty() {
        out.insert("consent".into(), consent.into());
    }
    out.insert("custom".into(), input.custom.into());
    out.into()
}

/// The customer a new lead describes.
fn customer_of(lead: &ValidLead) -> Customer {
    Customer {
        first_name: lead.first_name.clone(),
        last_name: lead.last_name.clone(),
        phone_e164: lead.phone.as_ref().map(|p| p.number.as_str().to_string()),
        email: lead.email.clone(),
    }
}

/// The customer a stored lead described (its normalized canonical fields).
fn stored_customer(lead: &Lead) -> Customer {
    let f = |k: &str| {
        lead.lead
            .fields
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    Customer {
        first_name: f("first_name"),
        last_name: f("last_name"),
        phone_e164: f("phone"),
        email: f("email"),
    }
}

fn upsert_by<T: Clone, K: PartialEq>(all: &mut Vec<T>, new: &[T], key: impl Fn(&T) -> K) {
    for n in new {
        match all.iter_mut().find(|a| key(a) == key(n)) {
            Some(slot) => *slot = n.clone(),
            None => all.push(n.clone()),
        }
    }
}

/// An audit event, to append later with others ([`crate::storage::EventRepo::append_events`]).
fn audit(
    subject: EventSubject,
    subject_id: i64,
    kind: &str,
    detail: serde_json::Value,
    at: OffsetDateTime,
) -> NewEvent {
    NewEvent {
        subject,
        subject_id,
        event_type: kind.to_string(),
        detail,
        created_at: at,
    }
}

/// Appends one audit event now (see [`audit`]).
fn event(
    tx: &dyn Tx,
    subject: EventSubject,
    subject_id: i64,
    kind: &str,
    detail: serde_json::Value,
    at: OffsetDateTime,
) -> Result<()> {
    tx.append_event(&audit(subject, subject_id, kind, detail, at))?;
    Ok(())
}
