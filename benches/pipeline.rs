//! Benchmarks of leadroute against a baseline, side by side in the same run, on the vendored
//! corpus (`data/corpus`) and the bundled ZIP table.
//!
//! | group | functions | what |
//! | --- | --- | --- |
//! | `routing` | `route_table`, `route_linear` | every (product, ZIP5) query drawn from the corpus records: the compiled [`RoutingTable::route`] vs the [`route_linear`] reference scan |
//! | `routing` | `compile` | [`RoutingTable::compile`] on the 160 corpus rules |
//! | `phone_normalize` | `leadroute_normalize` | [`phone::normalize`] over every phone string in the corpus (the crate baseline is beside it in `benches/phone.rs`) |
//! | `ingest` | `memory_batched`, `sqlite_batched`, `sqlite_per_record` | the first 1,000 provider A records through [`Engine::ingest_batch`] (500 per transaction) or [`Engine::ingest`] (one transaction each), each iteration on a fresh, configured store |
//!
//! Throughput is reported in elements: queries, rules, phone numbers, records. Run all of it
//! quickly (CI) with `cargo bench --bench pipeline -- --quick`; pick one group with a filter,
//! e.g. `cargo bench --bench pipeline -- routing/route_`. Without the `sqlite` feature the
//! SQLite variants are left out.
//!
//! Before measuring, each group checks that its variants agree (the compiled table and the
//! scan route every query to the same rule; all ingest variants store the same rows).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use leadroute::catalog::Catalog;
use leadroute::intake::{self, FieldMap, RawRecord};
use leadroute::model::{Provider, Workspace};
use leadroute::phone;
use leadroute::routing::{route_linear, RoutingRule, RoutingTable};
use leadroute::seed::{load_providers, load_rules, load_workspaces};
use leadroute::storage::{MemoryStore, Store};
use leadroute::zip::{Zip5, ZipTable};
use leadroute::{Engine, EngineConfig};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Records of provider A pushed through the engine per iteration.
const INGEST_RECORDS: usize = 1_000;
/// Records per transaction in the batched variants (the main job's default).
const INGEST_BATCH: usize = 500;
/// Provider whose records the ingest benchmarks use.
const INGEST_PROVIDER: &str = "provider-a";

/// The vendored corpus, loaded once.
struct Corpus {
    providers: Vec<Provider>,
    workspaces: Vec<Workspace>,
    rules: Vec<RoutingRule>,
    /// Records per provider, in `providers.json` order.
    records: Vec<(String, Vec<RawRecord>)>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/corpus")
}

fn read(name: &str) -> String {
    let path = corpus_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let providers = load_providers(&read("providers.json")).expect("providers.json");
        let workspaces =
            load_workspaces(&read("workspaces.json"), "http://127.0.0.1:9").expect("workspaces");
        let rules = load_rules(&read("routing_rules.json")).expect("routing_rules.json");
        let records = providers
            .iter()
            .map(|p| {
                let ext = p.format.file_extension();
                let body = read(&format!("{}.{ext}", p.id.replace('-', "_")));
                let split = intake::split_file(p.format, &body).expect("records split");
                (p.id.clone(), split.records)
            })
            .collect();
        Corpus {
            providers,
            workspaces,
            rules,
            records,
        }
    })
}

/// The catalog as the engine builds it: products named by rules, then workspaces'
/// business types.
fn catalog(c: &Corpus) -> Catalog {
    let mut catalog = Catalog::new();
    for r in &c.rules {
        for p in &r.product_types {
            catalog.add(p, None);
        }
    }
    for w in &c.workspaces {
        if let Some(b) = &w.business_type {
            catalog.add(b, None);
        }
    }
    catalog
}

/// The (product, phone, ZIP) text of every corpus record that parses, through its provider's
/// field map.
struct Fields {
    product: Option<String>,
    phone: Option<String>,
    zip: Option<String>,
}

fn mapped_fields(c: &Corpus) -> Vec<Fields> {
    let maps: Vec<FieldMap> = c.providers.iter().map(FieldMap::from).collect();
    c.records
        .iter()
        .zip(&maps)
        .flat_map(|((_, records), map)| {
            records.iter().filter_map(move |r| {
                let input = intake::map_fields(intake::parse_fields(r).ok()?, map);
                Some(Fields {
                    product: input.product_type,
                    phone: input.phone,
                    zip: input.zip_code,
                })
            })
        })
        .collect()
}

/// Routing queries: the (product, ZIP5) of every corpus record whose ZIP parses and is in the
/// bundled ZIP table (what validation lets through to routing).
fn routing_queries(fields: &[Fields]) -> Vec<(String, Zip5)> {
    let zips = ZipTable::bundled();
    fields
        .iter()
        .filter_map(|f| {
            let zip = Zip5::parse(f.zip.as_deref()?).ok()?;
            zips.get(zip)?;
            Some((f.product.clone()?, zip))
        })
        .collect()
}

fn bench_routing(cr: &mut Criterion) {
    let c = corpus();
    let catalog = catalog(c);
    let queries = routing_queries(&mapped_fields(c));
    let table = RoutingTable::compile(&c.rules, &c.workspaces, &catalog).expect("rules compile");

    // Both sides must answer the same, or the comparison means nothing.
    let mut routed = 0usize;
    for (product, zip) in &queries {
        let fast = table.route(product, *zip).outcome.ok().map(|m| m.rule_id);
        let slow = route_linear(&c.rules, &c.workspaces, product, *zip).map(|r| r.id);
        assert_eq!(fast, slow, "routing disagrees on ({product}, {zip})");
        routed += usize::from(fast.is_some());
    }
    eprintln!(
        "routing: {} queries from the corpus ({routed} routed), {} rules, {} products",
        queries.len(),
        c.rules.len(),
        catalog.len()
    );

    let mut g = cr.benchmark_group("routing");
    // The linear scan takes long enough per iteration that linear sampling (1..=n
    // iterations per sample) would overrun the measurement time many times over.
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(queries.len() as u64));
    g.bench_function("route_table", |b| {
        b.iter(|| {
            let mut hits = 0u32;
            for (product, zip) in &queries {
                let d = table.route(black_box(product), black_box(*zip));
                hits += u32::from(d.outcome.is_ok());
            }
            hits
        })
    });
    g.bench_function("route_linear", |b| {
        b.iter(|| {
            let mut hits = 0u32;
            for (product, zip) in &queries {
                let r = route_linear(&c.rules, &c.workspaces, black_box(product), black_box(*zip));
                hits += u32::from(r.is_some());
            }
            hits
        })
    });
    g.sampling_mode(SamplingMode::Auto);
    g.throughput(Throughput::Elements(c.rules.len() as u64));
    g.bench_function("compile", |b| {
        b.iter(|| RoutingTable::compile(black_box(&c.rules), &c.workspaces, &catalog))
    });
    g.finish();
}

fn bench_phone(cr: &mut Criterion) {
    let c = corpus();
    let phones: Vec<String> = mapped_fields(c)
        .into_iter()
        .filter_map(|f| f.phone)
        .collect();
    // The first call loads libphonenumber's metadata; keep that out of the measurement.
    let valid = phones
        .iter()
        .filter(|p| phone::normalize(p, "US").is_ok())
        .count();
    eprintln!(
        "phone_normalize: {} phone strings from the corpus ({valid} valid)",
        phones.len()
    );

    let mut g = cr.benchmark_group("phone_normalize");
    g.throughput(Throughput::Elements(phones.len() as u64));
    g.bench_function("leadroute_normalize", |b| {
        b.iter(|| {
            let mut ok = 0u32;
            for p in &phones {
                ok += u32::from(phone::normalize(black_box(p), "US").is_ok());
            }
            ok
        })
    });
    g.finish();
}

/// An engine over `store`, configured from the corpus (providers, workspaces, rules).
fn configured_engine(store: Arc<dyn Store>) -> Engine {
    let c = corpus();
    let engine = Engine::new(store, EngineConfig::default()).expect("engine");
    engine
        .configure(&c.providers, &c.workspaces, &c.rules)
        .expect("configure");
    engine
}

fn ingest_records() -> &'static [RawRecord] {
    let (_, records) = corpus()
        .records
        .iter()
        .find(|(id, _)| id == INGEST_PROVIDER)
        .expect("provider A records");
    &records[..INGEST_RECORDS.min(records.len())]
}

fn ingest_batched(engine: &Engine, records: &[RawRecord]) -> usize {
    let mut n = 0;
    for chunk in records.chunks(INGEST_BATCH) {
        n += engine
            .ingest_batch(INGEST_PROVIDER, chunk)
            .expect("ingest batch")
            .len();
    }
    assert_eq!(n, records.len());
    n
}

#[cfg(feature = "sqlite")]
fn ingest_per_record(engine: &Engine, records: &[RawRecord]) -> usize {
    for r in records {
        black_box(engine.ingest(INGEST_PROVIDER, r).expect("ingest"));
    }
    records.len()
}

/// A fresh SQLite store on a temporary file (the directory lives as long as the store).
#[cfg(feature = "sqlite")]
fn sqlite_engine() -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = leadroute::sqlite::SqliteStore::open(dir.path().join("leadroute.db"))
        .expect("open SQLite store");
    (configured_engine(Arc::new(store)), dir)
}

/// Runs one ingestion per variant outside the measurement and checks that they all store the
/// same rows, so that the variants compare the same work.
fn check_ingest_variants(records: &[RawRecord]) {
    let memory = configured_engine(Arc::new(MemoryStore::new()));
    ingest_batched(&memory, records);
    let counts = memory.counts().expect("counts");
    #[cfg(feature = "sqlite")]
    {
        let (batched, _dir) = sqlite_engine();
        ingest_batched(&batched, records);
        assert_eq!(batched.counts().expect("counts"), counts, "sqlite_batched");
        let (single, _dir) = sqlite_engine();
        ingest_per_record(&single, records);
        assert_eq!(
            single.counts().expect("counts"),
            counts,
            "sqlite_per_record"
        );
    }
    eprintln!(
        "ingest: {} {INGEST_PROVIDER} records -> {} leads, {} rejections, {} contacts, \
         {} appointments ({} routed), {} deliveries queued",
        records.len(),
        counts.leads,
        counts.rejections,
        counts.contacts,
        counts.appointments,
        counts.appointments_routed,
        counts.deliveries
    );
}

fn bench_ingest(cr: &mut Criterion) {
    let records = ingest_records();
    check_ingest_variants(records);
    let mut g = cr.benchmark_group("ingest");
    // Every iteration needs its own fresh store; the same number of iterations per sample
    // keeps the run within the measurement time.
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(records.len() as u64));
    // Setup (a fresh store, configured) and teardown run outside the measurement: the
    // routine returns the engine so that it is dropped after the clock stops.
    g.bench_function("memory_batched", |b| {
        b.iter_batched(
            || configured_engine(Arc::new(MemoryStore::new())),
            |engine| {
                ingest_batched(&engine, records);
                engine
            },
            BatchSize::PerIteration,
        )
    });
    #[cfg(feature = "sqlite")]
    {
        g.bench_function("sqlite_batched", |b| {
            b.iter_batched(
                sqlite_engine,
                |(engine, dir)| {
                    ingest_batched(&engine, records);
                    (engine, dir)
                },
                BatchSize::PerIteration,
            )
        });
        g.bench_function("sqlite_per_record", |b| {
            b.iter_batched(
                sqlite_engine,
                |(engine, dir)| {
                    ingest_per_record(&engine, records);
                    (engine, dir)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn config() -> Criterion {
    // Short by default so that CI can run everything; command-line options
    // (`--quick`, `--measurement-time`, `--sample-size`, ...) override these.
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_routing, bench_phone, bench_ingest
}
criterion_main!(benches);
