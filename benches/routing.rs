//! Routing benchmarks: leadroute's compiled table beside the seed's SQL and the best plain-SQL
//! alternative, in the same run, on the vendored corpus (`data/corpus`: 160 rules, 121
//! workspaces) and on real (product, ZIP5) queries drawn from its records.
//!
//! | group | function | what |
//! | --- | --- | --- |
//! | `route` | `leadroute_table` | [`RoutingTable::route`]: catalog lookup, dense index, candidate walk |
//! | `route` | `seed_sql` | the seed's query on SQLite (in memory): JSON text columns matched with `LIKE '%…%'`, `ORDER BY priority LIMIT 1` |
//! | `route` | `indexed_sql` | a `(product, zip, priority, rule_id)` `WITHOUT ROWID` table on SQLite, one row per active rule × product × ZIP of an accepting workspace, `LIMIT 1` |
//! | `compile` | `corpus_160_rules` | [`RoutingTable::compile`] of the corpus rules |
//! | `compile` | `nationwide_2000_workspaces` | [`RoutingTable::compile_with`] of a generated set of 2,000 workspaces with state, ZIP-prefix and radius targeting |
//! | `route_nationwide` | `leadroute_table` | routing random (product, active ZIP) queries against that set |
//!
//! Each `route` iteration answers the same [`BATCH`] queries (spread over the corpus), so the
//! time per lookup is the iteration time divided by [`BATCH`] (criterion's throughput shows
//! lookups per second). Before measuring, the run checks that the compiled table and the
//! indexed SQL agree on every query, and prints once how often the seed's SQL disagrees with
//! the exact answer (its `LIKE` matches substrings: `0210` matches `90210`, `Heat` matches
//! `Heat Pump`; and it ignores inactive webhooks).
//!
//! `cargo bench --bench routing -- --quick` runs it all in about a minute.

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use leadroute::catalog::Catalog;
use leadroute::intake::{self, FieldMap};
use leadroute::model::Workspace;
use leadroute::routing::{Radius, RoutingRule, RoutingTable, RuleTargeting};
use leadroute::seed::{load_providers, load_rules, load_workspaces};
use leadroute::zip::{Zip5, ZipTable};
use rusqlite::{params, Connection};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

/// Queries answered per iteration of each `route` variant.
const BATCH: usize = 200;

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/corpus")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (product, ZIP5) of every corpus record whose ZIP parses and is in the bundled ZIP table.
fn corpus_queries() -> Vec<(String, Zip5)> {
    let providers = load_providers(&read("providers.json")).expect("providers.json");
    let zips = ZipTable::bundled();
    let mut out = Vec::new();
    for p in &providers {
        let ext = p.format.file_extension();
        let body = read(&format!("{}.{ext}", p.id.replace('-', "_")));
        let map = FieldMap::from(p);
        for r in intake::split_file(p.format, &body)
            .expect("records split")
            .records
        {
            let Ok(fields) = intake::parse_fields(&r) else {
                continue;
            };
            let input = intake::map_fields(fields, &map);
            let (Some(product), Some(zip)) = (input.product_type, input.zip_code) else {
                continue;
            };
            let Ok(zip) = Zip5::parse(&zip) else { continue };
            if zips.get(zip).is_some() {
                out.push((product.trim().to_string(), zip));
            }
        }
    }
    out
}

fn catalog_of(rules: &[RoutingRule], workspaces: &[Workspace]) -> Catalog {
    let mut c = Catalog::new();
    for p in rules.iter().flat_map(|r| &r.product_types) {
        c.add(p, None);
    }
    for b in workspaces.iter().filter_map(|w| w.business_type.as_deref()) {
        c.add(b, None);
    }
    c
}

/// The seed's table and query.
fn seed_db(rules: &[RoutingRule]) -> Connection {
    let db = Connection::open_in_memory().expect("sqlite");
    db.execute_batch(
        "CREATE TABLE appointment_routing_rules (id INTEGER PRIMARY KEY, workspace_id TEXT,
         product_types TEXT, zip_codes TEXT, priority INTEGER, is_active INTEGER, notes TEXT)",
    )
    .expect("schema");
    let tx = db.unchecked_transaction().expect("tx");
    for r in rules {
        tx.execute(
            "INSERT INTO appointment_routing_rules VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                r.id,
                r.workspace_id,
                serde_json::to_string(&r.product_types).unwrap(),
                serde_json::to_string(&r.zip_codes).unwrap(),
                r.priority,
                r.is_active,
                r.notes
            ],
        )
        .expect("insert");
    }
    tx.commit().expect("commit");
    db
}

const SEED_SQL: &str = "SELECT workspace_id FROM appointment_routing_rules WHERE is_active = 1 \
    AND JSON_EXTRACT(product_types,'$') LIKE '%' || ?1 || '%' \
    AND JSON_EXTRACT(zip_codes,'$') LIKE '%' || ?2 || '%' ORDER BY priority ASC LIMIT 1";

fn seed_route(db: &Connection, product: &str, zip: &str) -> Option<String> {
    let mut st = db.prepare_cached(SEED_SQL).expect("prepare");
    let mut rows = st.query(params![product, zip]).expect("query");
    rows.next().expect("row").map(|r| r.get(0).expect("col"))
}

/// The best plain-SQL alternative: one row per (product, ZIP, rule) of the exact semantics.
fn indexed_db(rules: &[RoutingRule], workspaces: &[Workspace]) -> Connection {
    let db = Connection::open_in_memory().expect("sqlite");
    db.execute_batch(
        "CREATE TABLE route_index (product TEXT NOT NULL COLLATE NOCASE, zip TEXT NOT NULL,
         priority INTEGER NOT NULL, rule_id INTEGER NOT NULL, workspace_id TEXT NOT NULL,
         PRIMARY KEY (product, zip, priority, rule_id)) WITHOUT ROWID",
    )
    .expect("schema");
    let tx = db.unchecked_transaction().expect("tx");
    {
        let mut st = tx
            .prepare("INSERT OR IGNORE INTO route_index VALUES (?1, ?2, ?3, ?4, ?5)")
            .expect("prepare");
        for r in rules.iter().filter(|r| r.is_active) {
            if !workspaces
                .iter()
                .any(|w| w.id == r.workspace_id && w.webhook_active)
            {
                continue;
            }
            for p in &r.product_types {
                for z in &r.zip_codes {
                    st.execute(params![
                        p.trim(),
                        z.trim(),
                        r.priority,
                        r.id,
                        r.workspace_id
                    ])
                    .expect("insert");
                }
            }
        }
    }
    tx.commit().expect("commit");
    db
}

fn indexed_route(db: &Connection, product: &str, zip: &str) -> Option<i64> {
    let mut st = db
        .prepare_cached(
            "SELECT rule_id FROM route_index WHERE product = ?1 AND zip = ?2 \
             ORDER BY priority, rule_id LIMIT 1",
        )
        .expect("prepare");
    let mut rows = st.query(params![product, zip]).expect("query");
    rows.next().expect("row").map(|r| r.get(0).expect("col"))
}

fn bench_route(cr: &mut Criterion) {
    let rules = load_rules(&read("routing_rules.json")).expect("rules");
    let workspaces = load_workspaces(&read("workspaces.json"), "http://127.0.0.1:9").expect("ws");
    let catalog = catalog_of(&rules, &workspaces);
    let table = RoutingTable::compile(&rules, &workspaces, &catalog).expect("compile");
    let queries = corpus_queries();
    let seed = seed_db(&rules);
    let indexed = indexed_db(&rules, &workspaces);

    // Agreement: the indexed SQL is exact; the seed's SQL is not.
    let all_active: Vec<Workspace> = workspaces
        .iter()
        .cloned()
        .map(|mut w| {
            w.webhook_active = true;
            w
        })
        .collect();
    let ignoring_webhooks = RoutingTable::compile(&rules, &all_active, &catalog).expect("compile");
    let (mut wrong, mut wrong_matching) = (0usize, 0usize);
    for (product, zip) in &queries {
        let exact = table.route(product, *zip).outcome.ok();
        let text = zip.to_string();
        assert_eq!(
            indexed_route(&indexed, product, &text),
            exact.map(|m| m.rule_id),
            "indexed SQL disagrees on ({product}, {zip})"
        );
        let s = seed_route(&seed, product, &text);
        wrong += usize::from(s.as_deref() != exact.map(|m| m.workspace_id));
        let loose = ignoring_webhooks.route(product, *zip).outcome.ok();
        wrong_matching += usize::from(s.as_deref() != loose.map(|m| m.workspace_id));
    }
    eprintln!(
        "routing: {} corpus queries, {} rules; the seed's SQL disagrees with the exact answer on \
         {wrong} of them ({wrong_matching} even with inactive webhooks counted as active, i.e. \
         from substring matching alone)",
        queries.len(),
        rules.len()
    );

    let step = (queries.len() / BATCH).max(1);
    let batch: Vec<(String, Zip5, String)> = queries
        .iter()
        .step_by(step)
        .take(BATCH)
        .map(|(p, z)| (p.clone(), *z, z.to_string()))
        .collect();
    let mut g = cr.benchmark_group("route");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("leadroute_table", |b| {
        b.iter(|| {
            let mut hits = 0u32;
            for (p, z, _) in &batch {
                hits += u32::from(table.route(black_box(p), black_box(*z)).outcome.is_ok());
            }
            hits
        })
    });
    g.bench_function("indexed_sql", |b| {
        b.iter(|| {
            let mut hits = 0u32;
            for (p, _, z) in &batch {
                hits += u32::from(indexed_route(&indexed, black_box(p), black_box(z)).is_some());
            }
            hits
        })
    });
    g.bench_function("seed_sql", |b| {
        b.iter(|| {
            let mut hits = 0u32;
            for (p, _, z) in &batch {
                hits += u32::from(seed_route(&seed, black_box(p), black_box(z)).is_some());
            }
            hits
        })
    });
    g.finish();

    let mut g = cr.benchmark_group("compile");
    g.bench_function("corpus_160_rules", |b| {
        b.iter(|| RoutingTable::compile(black_box(&rules), &workspaces, &catalog).unwrap())
    });
    g.finish();
}

/// A deterministic generator (SplitMix64), so that every run builds the same set.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PRODUCTS: [&str; 15] = [
    "Solar",
    "Battery",
    "HVAC",
    "Heat Pump",
    "Water Heater",
    "Roofing",
    "Windows",
    "Siding",
    "Gutters",
    "Kitchen",
    "Bath",
    "Flooring",
    "Painting",
    "Plumbing",
    "Insurance",
];

/// 2,000 workspaces across the country, one or two rules each, targeting a state, a few
/// ZIP prefixes or a 25–150 mile radius, for one or two products, priorities 1–5.
fn nationwide() -> (Vec<RoutingRule>, Vec<Workspace>, Vec<Zip5>) {
    let zips = ZipTable::bundled();
    let active: Vec<Zip5> = (0..Zip5::COUNT as u32)
        .filter_map(Zip5::from_u32)
        .filter(|z| zips.get(*z).is_some_and(|i| i.active))
        .collect();
    let mut states: Vec<String> = active
        .iter()
        .map(|z| zips.get(*z).unwrap().state.clone())
        .collect();
    states.sort();
    states.dedup();
    let mut rng = Rng(0x1ead_5eed);
    let template = load_workspaces(&read("workspaces.json"), "http://127.0.0.1:9").expect("ws");
    let mut workspaces = Vec::new();
    let mut rules = Vec::new();
    for w in 0..2_000 {
        let mut ws = template[w % template.len()].clone();
        ws.id = format!("ws_{w:04}");
        ws.webhook_active = rng.below(20) != 0;
        workspaces.push(ws);
        for _ in 0..1 + rng.below(2) {
            let centre = active[rng.below(active.len())];
            let targeting = match rng.below(3) {
                0 => RuleTargeting {
                    states: vec![states[rng.below(states.len())].clone()],
                    ..Default::default()
                },
                1 => RuleTargeting {
                    zip3_prefixes: (0..3 + rng.below(8))
                        .map(|_| format!("{:03}", active[rng.below(active.len())].get() / 100))
                        .collect(),
                    ..Default::default()
                },
                _ => RuleTargeting {
                    radius: Some(Radius {
                        zip: centre.to_string(),
                        miles: 25.0 + rng.below(126) as f64,
                    }),
                    excluded_zips: vec![centre.to_string()],
                    ..Default::default()
                },
            };
            let products = (0..1 + rng.below(2))
                .map(|_| PRODUCTS[rng.below(PRODUCTS.len())].to_string())
                .collect();
            rules.push(RoutingRule {
                id: rules.len() as i64 + 1,
                workspace_id: format!("ws_{w:04}"),
                product_types: products,
                zip_codes: Vec::new(),
                priority: 1 + rng.below(5) as i32,
                is_active: rng.below(25) != 0,
                notes: None,
                targeting: RuleTargeting {
                    weight: 1 + rng.below(3) as u32,
                    ..targeting
                },
                capacity: Default::default(),
            });
        }
    }
    let queries = (0..10_000)
        .map(|_| active[rng.below(active.len())])
        .collect();
    (rules, workspaces, queries)
}

fn bench_nationwide(cr: &mut Criterion) {
    let (rules, workspaces, zips) = nationwide();
    let catalog = catalog_of(&rules, &workspaces);
    let bundled = ZipTable::bundled();
    let table =
        RoutingTable::compile_with(&rules, &workspaces, &catalog, bundled).expect("compile");
    let mut rng = Rng(7);
    let queries: Vec<(&str, Zip5)> = zips
        .iter()
        .map(|z| (PRODUCTS[rng.below(PRODUCTS.len())], *z))
        .collect();
    let routed = queries
        .iter()
        .filter(|(p, z)| table.route(p, *z).outcome.is_ok())
        .count();
    eprintln!(
        "nationwide: {} workspaces, {} rules, {} queries ({routed} routed), {} overlapping rule pairs",
        workspaces.len(),
        rules.len(),
        queries.len(),
        table.overlaps().len()
    );
    let mut g = cr.benchmark_group("route_nationwide");
    g.throughput(Throughput::Elements(queries.len() as u64));
    g.bench_function("leadroute_table", |b| {
        b.iter(|| {
            let mut hits = 0u32;
            for (p, z) in &queries {
                hits += u32::from(table.route(black_box(p), black_box(*z)).outcome.is_ok());
            }
            hits
        })
    });
    g.finish();
    let mut g = cr.benchmark_group("compile");
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function("nationwide_2000_workspaces", |b| {
        b.iter(|| RoutingTable::compile_with(black_box(&rules), &workspaces, &catalog, bundled))
    });
    g.finish();
}

fn config() -> Criterion {
    // Short by default; command-line options (`--quick`, ...) override.
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_route, bench_nationwide
}
criterion_main!(benches);
