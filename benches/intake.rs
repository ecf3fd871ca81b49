//! Records per second through intake into SQLite: the whole vendored corpus (`data/corpus`,
//! 6,000 records of 3 providers, JSON Lines and CSV, bad ones included) through the real
//! [`Engine`] over a [`SqliteStore`] file, configured with the corpus's providers, workspaces
//! and routing rules as the main job configures it. Every record is parsed, mapped, validated
//! and normalized, checked against the stored record keys, deduplicated against the stored
//! contacts, and written: a rejection, or a contact, a lead, a routed or unrouted appointment
//! with its trace and, when routed, its outbox row. Nothing is delivered.
//!
//! | group | function | what |
//! | --- | --- | --- |
//! | `intake` | `sqlite_batched_500` | [`Engine::ingest_batch`], 500 records per transaction (the main job's default), provider by provider, with the defaults, which put two jobs on a second thread: preparing records (parse, map, validate, normalize) ahead of the writes ([`EngineConfig::pipeline`], on with more than one core) and WAL checkpoints ([`SqliteOptions::background_checkpoint`]) |
//! | `intake` | `sqlite_batched_500_1_thread` | the same with both off: everything on the calling thread (the baseline) |
//! | `intake` | `sqlite_per_record` | [`Engine::ingest`], one transaction per record, in the same order |
//!
//! Each iteration gets a fresh database (a new file in a new temporary directory, migrated and
//! configured outside the measurement), so that every record it ingests is new to the store:
//! on a store that already holds them, records are replays (one key look-up, nothing written)
//! and would measure nothing real. Each iteration checks that it got the same mix of outcomes
//! as the reference run (accepted, rejected, and no replay). Throughput is in records.
//!
//! Run it with `cargo bench --bench intake` (about 25 s) or quickly, as CI does, with
//! `cargo bench --bench intake -- --quick` (about 10 s). The targets, on 2 cores: at
//! least 20,000 records/s batched and 2,000 records/s with one transaction per record.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use leadroute::engine::{IngestOutcome, Outcome};
use leadroute::intake::{self, RawRecord};
use leadroute::model::{Provider, StoreCounts, Workspace};
use leadroute::routing::RoutingRule;
use leadroute::seed::{load_providers, load_rules, load_workspaces};
use leadroute::sqlite::{SqliteOptions, SqliteStore};
use leadroute::{Engine, EngineConfig};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Records per transaction in the batched variant (the main job's default batch size).
const BATCH: usize = 500;

/// The vendored corpus: configuration and every provider's records.
struct Corpus {
    providers: Vec<Provider>,
    workspaces: Vec<Workspace>,
    rules: Vec<RoutingRule>,
    /// Records per provider, in `providers.json` order (the main job's order).
    records: Vec<(String, Vec<RawRecord>)>,
}

impl Corpus {
    fn len(&self) -> usize {
        self.records.iter().map(|(_, r)| r.len()).sum()
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/corpus")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Loads the corpus as the main job does (`leadroute::pipeline`): seed JSON through
/// `leadroute::seed`, one records file per provider named after its id and its format's
/// file extension (`provider-a` + `json` is `provider_a.jsonl`), split into records.
fn load_corpus() -> Corpus {
    let dir = corpus_dir();
    let providers = load_providers(&read(&dir.join("providers.json"))).expect("providers.json");
    // Webhooks point nowhere: nothing is delivered here.
    let workspaces = load_workspaces(&read(&dir.join("workspaces.json")), "http://127.0.0.1:9")
        .expect("workspaces.json");
    let rules = load_rules(&read(&dir.join("routing_rules.json"))).expect("routing_rules.json");
    let records = providers
        .iter()
        .map(|p| {
            let ext = p.format.file_extension();
            let path = dir.join(format!("{}.{ext}", p.id.replace('-', "_")));
            let split = intake::split(p.format, &read(&path)).expect("records split");
            (p.id.clone(), split.records)
        })
        .collect();
    Corpus {
        providers,
        workspaces,
        rules,
        records,
    }
}

/// A fresh SQLite file in a new temporary directory (which lives as long as the engine is
/// used), migrated, with an engine configured from the corpus; and its store, to checkpoint.
/// `second_thread`: the defaults, which use a second thread for preparing records
/// ([`EngineConfig::pipeline`]) and for WAL checkpoints
/// ([`SqliteOptions::background_checkpoint`]); else both off, everything on one thread.
fn fresh_engine(c: &Corpus, second_thread: bool) -> (Engine, Arc<SqliteStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = if second_thread {
        SqliteOptions::default()
    } else {
        SqliteOptions::default().background_checkpoint(None)
    };
    let store = Arc::new(
        SqliteStore::open_with(dir.path().join("intake.db"), options).expect("open SQLite store"),
    );
    let config = EngineConfig {
        pipeline: second_thread && EngineConfig::default().pipeline,
        ..EngineConfig::default()
    };
    let engine = Engine::new(store.clone(), config).expect("engine");
    engine
        .configure(&c.providers, &c.workspaces, &c.rules)
        .expect("configure");
    store.checkpoint().expect("checkpoint the setup");
    (engine, store, dir)
}

/// How many records were accepted, rejected and replayed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Mix {
    accepted: u64,
    rejected: u64,
    replayed: u64,
}

impl Mix {
    fn add(&mut self, o: &IngestOutcome) {
        match o.outcome {
            Outcome::Accepted(_) => self.accepted += 1,
            Outcome::Rejected { .. } => self.rejected += 1,
            Outcome::Replayed(_) => self.replayed += 1,
        }
    }
}

/// Every provider's records through [`Engine::ingest_batch`], [`BATCH`] per transaction.
fn ingest_batched(engine: &Engine, c: &Corpus) -> Mix {
    let mut mix = Mix::default();
    for (provider, records) in &c.records {
        for chunk in records.chunks(BATCH) {
            let outcomes = engine.ingest_batch(provider, chunk).expect("ingest_batch");
            assert_eq!(outcomes.len(), chunk.len(), "one outcome per record");
            outcomes.iter().for_each(|o| mix.add(o));
        }
    }
    mix
}

/// Every provider's records through [`Engine::ingest`], one transaction each.
fn ingest_per_record(engine: &Engine, c: &Corpus) -> Mix {
    let mut mix = Mix::default();
    for (provider, records) in &c.records {
        for r in records {
            mix.add(&engine.ingest(provider, black_box(r)).expect("ingest"));
        }
    }
    mix
}

/// One untimed run of each variant on a fresh database: both must store the same rows with
/// the same mix of outcomes, with no replay (every record is new to a fresh store). Returns
/// the mix every measured iteration must reproduce.
fn reference(c: &Corpus) -> Mix {
    let run = |f: fn(&Engine, &Corpus) -> Mix| -> (Mix, StoreCounts, Duration) {
        let (engine, _store, _dir) = fresh_engine(c, true);
        let start = Instant::now();
        let mix = f(&engine, c);
        let took = start.elapsed();
        (mix, engine.counts().expect("counts"), took)
    };
    let (mix, counts, t_batched) = run(ingest_batched);
    let (mix_single, counts_single, t_single) = run(ingest_per_record);
    assert_eq!(mix_single, mix, "both variants see the same outcomes");
    assert_eq!(counts_single, counts, "both variants store the same rows");
    assert_eq!(mix.replayed, 0, "every record is new to a fresh store");
    assert_eq!(
        (mix.accepted + mix.rejected) as usize,
        c.len(),
        "one outcome per record"
    );
    assert_eq!(
        (counts.leads, counts.rejections),
        (mix.accepted, mix.rejected),
        "one lead or rejection per record"
    );
    let rate = |t: Duration| c.len() as f64 / t.as_secs_f64();
    eprintln!(
        "intake: {} records of {} providers -> {} leads, {} rejections, {} contacts, \
         {} appointments ({} routed, {} unrouted), {} deliveries queued; \
         untimed check run: {:.0} records/s batched, {:.0} records/s per record",
        c.len(),
        c.records.len(),
        counts.leads,
        counts.rejections,
        counts.contacts,
        counts.appointments,
        counts.appointments_routed,
        counts.appointments_unrouted,
        counts.deliveries,
        rate(t_batched),
        rate(t_single),
    );
    mix
}

fn bench_intake(cr: &mut Criterion) {
    let c = load_corpus();
    let want = reference(&c);
    let mut g = cr.benchmark_group("intake");
    // Every iteration needs its own fresh database; the same number of iterations per sample
    // keeps the run within the measurement time.
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(c.len() as u64));
    // Setup (a fresh database, migrated, configured and checkpointed) and teardown run
    // outside the measurement. Each iteration ends with a full WAL checkpoint inside it, so
    // that moving all of its writes into the database file is counted (SQLite's automatic
    // checkpoints, every 1,000 pages, run during the iteration; this adds the rest).
    for (name, second_thread) in [
        (format!("sqlite_batched_{BATCH}"), true),
        (format!("sqlite_batched_{BATCH}_1_thread"), false),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || fresh_engine(&c, second_thread),
                |(engine, store, dir)| {
                    assert_eq!(ingest_batched(&engine, &c), want);
                    store.checkpoint().expect("checkpoint");
                    (engine, store, dir)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.bench_function("sqlite_per_record", |b| {
        b.iter_batched(
            || fresh_engine(&c, true),
            |(engine, store, dir)| {
                assert_eq!(ingest_per_record(&engine, &c), want);
                store.checkpoint().expect("checkpoint");
                (engine, store, dir)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn config() -> Criterion {
    // Short by default; command-line options (`--quick`, `--measurement-time`,
    // `--sample-size`, ...) override these.
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_intake
}
criterion_main!(benches);
