//! The main job as a library: a corpus directory in, a billed and delivered SQLite database
//! and a [`Summary`] out.
//!
//! A corpus directory holds `providers.json`, `workspaces.json`, `routing_rules.json` and one
//! records file per provider, named after its id and format (`provider-a` + `json` →
//! `provider_a.jsonl`, `provider-c` + `csv` → `provider_c.csv`). [`run`] configures the engine
//! from the JSON files, ingests every record of every provider, then delivers every due
//! appointment, to a [`LoopbackReceiver`] standing in for the clients' webhooks unless told
//! otherwise. Running it again on the same database stores nothing twice: every record is a
//! replay.

use crate::delivery::UreqTransport;
use crate::engine::{Accepted, DeliveryReport, Engine, EngineConfig, Outcome, RoutingOutcome};
use crate::intake;
use crate::model::{Provider, StoreCounts};
use crate::seed;
use crate::sqlite::SqliteStore;
use crate::{Error, Result};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// SQLite database file (created if missing).
    pub db: PathBuf,
    /// Corpus directory (see the module docs).
    pub data: PathBuf,
    /// Origin that replaces `http://127.0.0.1:{port}` in webhook URLs; `None` starts a
    /// [`LoopbackReceiver`] and uses its address.
    pub webhook_base: Option<String>,
    /// Whether to deliver; `false` stops once the outbox is written.
    pub deliver: bool,
    /// Records per ingest transaction.
    pub batch_size: usize,
    /// Engine settings.
    pub engine: EngineConfig,
}

impl PipelineOptions {
    /// Defaults: `leadroute.db`, the given corpus, loopback receiver, deliver, batches of 500.
    pub fn new(data: impl Into<PathBuf>) -> PipelineOptions {
        PipelineOptions {
            db: PathBuf::from("leadroute.db"),
            data: data.into(),
            webhook_base: None,
            deliver: true,
            batch_size: 500,
            engine: EngineConfig::default(),
        }
    }
}

/// The corpus vendored in this repository (`data/corpus`, 6,000 records).
pub fn vendored_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/corpus")
}

/// Per-provider counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderTally {
    /// Provider id.
    pub provider_id: String,
    /// Records read from its file.
    pub read: u64,
    /// Stored as leads by this run.
    pub accepted: u64,
    /// Stored as rejections by this run.
    pub rejected: u64,
    /// Already stored by an earlier run (nothing written).
    pub replayed: u64,
    /// Blank lines (not records).
    pub blank_lines: u64,
}

/// What the loopback receiver saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Requests received.
    pub received: u64,
    /// Requests whose Standard Webhooks signature verified with the workspace's secret.
    pub signature_ok: u64,
    /// Requests with a missing or wrong signature, or for an unknown workspace.
    pub signature_bad: u64,
}

/// The main job's results.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Per provider, in `providers.json` order.
    pub providers: Vec<ProviderTally>,
    /// Rejections of this run per reason code (a record with two reasons counts under both).
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Accepted records that created a contact.
    pub new_contacts: u64,
    /// Accepted records whose contact existed (the same person again).
    pub returning_contacts: u64,
    /// Accepted records without an appointment time (leads waiting to be scheduled).
    pub leads_without_appointment: u64,
    /// Accepted records that are lead-level duplicates (same contact and product within the
    /// window): stored, linked to the original, not routed or billed.
    pub duplicate_leads: u64,
    /// Appointments created by this run.
    pub appointments: u64,
    /// Of those, routed, per workspace, most first.
    pub routed_by_workspace: Vec<(String, u64)>,
    /// Of those, unrouted, per reason code.
    pub unrouted_by_reason: BTreeMap<String, u64>,
    /// Deliveries of this run.
    pub delivery: DeliveryReport,
    /// The loopback receiver's view, when one ran.
    pub receiver: Option<ReceiverStats>,
    /// Whole-database counts after the run.
    pub store: StoreCounts,
    /// Time spent ingesting.
    pub ingest_time: Duration,
    /// Time spent delivering.
    pub delivery_time: Duration,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

impl Summary {
    /// Records read.
    pub fn read(&self) -> u64 {
        self.providers.iter().map(|p| p.read).sum()
    }
    /// Records accepted by this run.
    pub fn accepted(&self) -> u64 {
        self.providers.iter().map(|p| p.accepted).sum()
    }
    /// Records rejected by this run.
    pub fn rejected(&self) -> u64 {
        self.providers.iter().map(|p| p.rejected).sum()
    }
    /// Records already stored.
    pub fn replayed(&self) -> u64 {
        self.providers.iter().map(|p| p.replayed).sum()
    }
    /// Appointments routed by this run.
    pub fn routed(&self) -> u64 {
        self.routed_by_workspace.iter().map(|(_, n)| n).sum()
    }
    /// Appointments unrouted by this run.
    pub fn unrouted(&self) -> u64 {
        self.unrouted_by_reason.values().sum()
    }
}

/// Reads a corpus file.
fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::Intake(intake::IntakeError::Unreadable(format!(
            "{}: {e}",
            path.display()
        )))
    })
}

/// The records file of a provider: its id with `-` as `_`, and its format's
/// [extension](crate::model::RecordFormat::file_extension) (`.jsonl`, `.csv`, `.form`).
pub fn records_file(dir: &Path, provider: &Provider) -> PathBuf {
    let ext = provider.format.file_extension();
    dir.join(format!("{}.{ext}", provider.id.replace('-', "_")))
}

/// Runs the main job (see the module docs).
///
/// # Errors
///
/// Unreadable corpus files, bad seed JSON, rules that do not compile, storage errors.
/// Bad records are not errors: they are stored as rejections and counted.
pub fn run(opts: &PipelineOptions) -> Result<Summary> {
    let started = Instant::now();
    let providers = seed::load_providers(&read(&opts.data.join("providers.json"))?)?;
    let rules = seed::load_rules(&read(&opts.data.join("routing_rules.json"))?)?;
    let workspaces_json = read(&opts.data.join("workspaces.json"))?;

    let receiver = start_receiver(opts, &workspaces_json)?;
    let base = webhook_base(opts, receiver.as_ref());
    let workspaces = seed::load_workspaces(&workspaces_json, &base)?;

    let store = Arc::new(SqliteStore::open(&opts.db)?);
    let engine = Engine::new(store, opts.engine.clone())?;
    engine.configure(&providers, &workspaces, &rules)?;

    let mut summary = Summary::default();
    let mut routed: HashMap<String, u64> = HashMap::new();
    let ingest_started = Instant::now();
    for provider in &providers {
        let tally = ingest_provider(&engine, opts, provider, &mut summary, &mut routed)?;
        summary.providers.push(tally);
    }
    summary.ingest_time = ingest_started.elapsed();
    summary.routed_by_workspace = most_first(routed);

    if opts.deliver {
        let delivery_started = Instant::now();
        deliver_all(&engine, &mut summary.delivery)?;
        summary.delivery_time = delivery_started.elapsed();
    }
    summary.receiver = receiver.map(|r| r.stop());
    summary.store = engine.counts()?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Starts the loopback receiver with the workspaces' secrets, when delivering without a
/// webhook base.
fn start_receiver(
    opts: &PipelineOptions,
    workspaces_json: &str,
) -> Result<Option<LoopbackReceiver>> {
    match (&opts.webhook_base, opts.deliver) {
        (None, true) => {
            let secrets = seed::load_workspaces(workspaces_json, "http://unused")?
                .into_iter()
                .filter_map(|w| w.webhook_secret.map(|s| (w.id, s)))
                .collect();
            Ok(Some(LoopbackReceiver::start(secrets)?))
        }
        _ => Ok(None),
    }
}

/// The origin of the webhook URLs: the one given, else the receiver's, else a closed port.
fn webhook_base(opts: &PipelineOptions, receiver: Option<&LoopbackReceiver>) -> String {
    match (&opts.webhook_base, receiver) {
        (Some(b), _) => b.clone(),
        (None, Some(r)) => r.base_url(),
        (None, None) => "http://127.0.0.1:9".to_string(),
    }
}

/// Ingests one provider's records file in batches, counting into `summary` and `routed`
/// (appointments per workspace); returns the provider's tally.
fn ingest_provider(
    engine: &Engine,
    opts: &PipelineOptions,
    provider: &Provider,
    summary: &mut Summary,
    routed: &mut HashMap<String, u64>,
) -> Result<ProviderTally> {
    let body = read(&records_file(&opts.data, provider))?;
    let split = intake::split_file(provider.format, &body)?;
    let mut tally = ProviderTally {
        provider_id: provider.id.clone(),
        read: split.records.len() as u64,
        blank_lines: split.blank_lines as u64,
        ..ProviderTally::default()
    };
    for chunk in split.records.chunks(opts.batch_size.max(1)) {
        for out in engine.ingest_batch(&provider.id, chunk)? {
            count_outcome(out.outcome, &mut tally, summary, routed);
        }
    }
    Ok(tally)
}

/// Counts one record's outcome.
fn count_outcome(
    outcome: Outcome,
    tally: &mut ProviderTally,
    summary: &mut Summary,
    routed: &mut HashMap<String, u64>,
) {
    match outcome {
        Outcome::Accepted(a) => {
            tally.accepted += 1;
            count_accepted(a, summary, routed);
        }
        Outcome::Rejected { reasons, .. } => {
            tally.rejected += 1;
            for r in reasons {
                *summary
                    .rejected_by_reason
                    .entry(r.code.as_str().to_string())
                    .or_default() += 1;
            }
        }
        Outcome::Replayed(_) => tally.replayed += 1,
    }
}

/// Counts an accepted record: new or returning contact, then duplicate, lead without an
/// appointment, or appointment routed (into `routed`) or unrouted.
fn count_accepted(a: Accepted, summary: &mut Summary, routed: &mut HashMap<String, u64>) {
    if a.new_contact {
        summary.new_contacts += 1;
    } else {
        summary.returning_contacts += 1;
    }
    match a.appointment {
        None if a.duplicate_of.is_some() => summary.duplicate_leads += 1,
        None => summary.leads_without_appointment += 1,
        Some((_, r)) => {
            summary.appointments += 1;
            match r {
                RoutingOutcome::Routed { workspace_id, .. } => {
                    *routed.entry(workspace_id).or_default() += 1
                }
                RoutingOutcome::Unrouted(reason) => {
                    *summary
                        .unrouted_by_reason
                        .entry(reason.code().to_string())
                        .or_default() += 1
                }
            }
        }
    }
}

/// Appointments per workspace, most first, ties by workspace id.
fn most_first(routed: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut by_ws: Vec<(String, u64)> = routed.into_iter().collect();
    by_ws.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    by_ws
}

/// Delivers every due delivery, 1,000 at a time until none is left, adding to `report`.
fn deliver_all(engine: &Engine, report: &mut DeliveryReport) -> Result<()> {
    let transport = UreqTransport::new();
    loop {
        let r = engine.deliver_due(&transport, 1000)?;
        if r.attempted == 0 {
            return Ok(());
        }
        report.attempted += r.attempted;
        report.delivered += r.delivered;
        report.retrying += r.retrying;
        report.failed += r.failed;
        report.billed.0 += r.billed.0;
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_records(f)?;
        self.fmt_appointments(f)?;
        self.fmt_delivery(f)?;
        self.fmt_store(f)?;
        let secs = self.elapsed.as_secs_f64();
        writeln!(
            f,
            "elapsed                {:>8.2} s  (ingest {:.2} s, delivery {:.2} s); {:.0} records/s",
            secs,
            self.ingest_time.as_secs_f64(),
            self.delivery_time.as_secs_f64(),
            self.read() as f64 / secs.max(1e-9)
        )
    }
}

impl Summary {
    /// The records part of the report: read per provider, accepted, rejected per reason,
    /// already stored, contacts and leads.
    fn fmt_records(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "records read           {:>8}", self.read())?;
        for p in &self.providers {
            writeln!(
                f,
                "  {:<20} {:>8}  (accepted {}, rejected {}, already stored {}, blank lines {})",
                p.provider_id, p.read, p.accepted, p.rejected, p.replayed, p.blank_lines
            )?;
        }
        writeln!(f, "accepted               {:>8}", self.accepted())?;
        writeln!(f, "rejected               {:>8}", self.rejected())?;
        for (code, n) in &self.rejected_by_reason {
            writeln!(f, "  {code:<20} {n:>8}")?;
        }
        writeln!(f, "already stored         {:>8}", self.replayed())?;
        writeln!(f, "contacts new           {:>8}", self.new_contacts)?;
        writeln!(f, "contacts returning     {:>8}", self.returning_contacts)?;
        writeln!(
            f,
            "leads, no appt time    {:>8}",
            self.leads_without_appointment
        )?;
        writeln!(f, "leads, duplicate       {:>8}", self.duplicate_leads)
    }

    /// The appointments part: routed (top 10 workspaces) and unrouted per reason.
    fn fmt_appointments(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "appointments           {:>8}", self.appointments)?;
        writeln!(
            f,
            "  routed               {:>8}  to {} workspaces; top 10:",
            self.routed(),
            self.routed_by_workspace.len()
        )?;
        for (w, n) in self.routed_by_workspace.iter().take(10) {
            writeln!(f, "    {w:<22} {n:>6}")?;
        }
        writeln!(f, "  unrouted             {:>8}", self.unrouted())?;
        for (code, n) in &self.unrouted_by_reason {
            writeln!(f, "    {code:<22} {n:>6}")?;
        }
        Ok(())
    }

    /// The delivery part: attempts, billing, and the receiver's view when one ran.
    fn fmt_delivery(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.delivery;
        writeln!(
            f,
            "deliveries attempted   {:>8}  (delivered {}, retrying {}, failed {})",
            d.attempted, d.delivered, d.retrying, d.failed
        )?;
        writeln!(f, "billed this run        {:>8}", d.billed.to_string())?;
        if let Some(r) = &self.receiver {
            writeln!(
                f,
                "receiver               {:>8}  requests (signature ok {}, bad {})",
                r.received, r.signature_ok, r.signature_bad
            )?;
        }
        Ok(())
    }

    /// The whole-database counts line.
    fn fmt_store(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.store;
        writeln!(
            f,
            "database               contacts {}, leads {}, rejections {}, appointments {} \
             (routed {}, unrouted {}), deliveries {} (success {}, failed {}), attempts {}, \
             billing events {} totalling {}",
            s.contacts,
            s.leads,
            s.rejections,
            s.appointments,
            s.appointments_routed,
            s.appointments_unrouted,
            s.deliveries,
            s.deliveries_succeeded,
            s.deliveries_failed,
            s.attempts,
            s.billing_events,
            s.billed
        )
    }
}

/// A loopback HTTP server that stands in for the clients' webhooks: it answers `200` to every
/// `POST /hooks/<workspace_id>` and checks each request's Standard Webhooks signature against
/// that workspace's secret.
pub struct LoopbackReceiver {
    server: Arc<tiny_http::Server>,
    workers: Vec<std::thread::JoinHandle<()>>,
    counters: Arc<[AtomicU64; 3]>,
}

impl LoopbackReceiver {
    /// Starts on `127.0.0.1` at a free port, with 4 worker threads. `secrets` maps workspace
    /// ids to their `whsec_` secrets.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when no port can be bound.
    pub fn start(secrets: HashMap<String, String>) -> Result<LoopbackReceiver> {
        let server = Arc::new(
            tiny_http::Server::http("127.0.0.1:0")
                .map_err(|e| Error::Internal(format!("loopback receiver: {e}")))?,
        );
        let secrets = Arc::new(secrets);
        let counters: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
        let workers = (0..4)
            .map(|_| {
                let (server, secrets, counters) =
                    (server.clone(), secrets.clone(), counters.clone());
                std::thread::spawn(move || {
                    while let Ok(mut req) = server.recv() {
                        let ok = verify_request(&mut req, &secrets);
                        counters[0].fetch_add(1, Ordering::Relaxed);
                        counters[if ok { 1 } else { 2 }].fetch_add(1, Ordering::Relaxed);
                        let _ = req.respond(tiny_http::Response::from_string("ok"));
                    }
                })
            })
            .collect();
        Ok(LoopbackReceiver {
            server,
            workers,
            counters,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.server_addr())
    }

    /// Stops the server and returns what it saw.
    pub fn stop(self) -> ReceiverStats {
        self.server.unblock();
        for _ in 1..self.workers.len() {
            self.server.unblock();
        }
        for w in self.workers {
            let _ = w.join();
        }
        let c = &self.counters;
        ReceiverStats {
            received: c[0].load(Ordering::Relaxed),
            signature_ok: c[1].load(Ordering::Relaxed),
            signature_bad: c[2].load(Ordering::Relaxed),
        }
    }
}

fn verify_request(req: &mut tiny_http::Request, secrets: &HashMap<String, String>) -> bool {
    let workspace = req.url().strip_prefix("/hooks/").unwrap_or("").to_string();
    let header = |name: &'static str| {
        req.headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.as_str().to_string())
    };
    let (id, ts, sig) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let mut body = Vec::new();
    if req.as_reader().read_to_end(&mut body).is_err() {
        return false;
    }
    match (
        secrets.get(&workspace),
        id,
        ts.and_then(|t| t.parse().ok()),
        sig,
    ) {
        (Some(secret), Some(id), Some(ts), Some(sig)) => {
            crate::signature::verify(secret, &id, ts, &body, &sig).is_ok()
        }
        _ => false,
    }
}
