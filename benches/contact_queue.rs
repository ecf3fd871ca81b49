//! Contact-queue benchmarks: [`Engine::claim_contact_batch`] (a batch of 5) on SQLite files
//! holding 10,000 and 1,000,000 queued leads, beside the HVAC seed's cron query on an
//! equivalent table of the same sizes, in the same run.
//!
//! | group | function | what |
//! | --- | --- | --- |
//! | `claim_batch_of_5` | `engine/10000`, `engine/1000000` | [`Engine::claim_contact_batch`]`(Some(now), 5, "bench")` over a [`SqliteStore`] file: the lease (one `UPDATE … RETURNING` from the front of the due index) and the screening of each lead (suppression list, quiet hours in the ZIP's and the area code's zones, the state's attempts in the last 24 hours), one transaction |
//! | `claim_batch_of_5` | `seed_cron/10000`, `seed_cron/1000000` | the seed's cron as written, `SELECT … FROM leads WHERE status = 'pending' AND (last_called_at IS NULL OR last_called_at < now - 4 h) AND call_attempts < 2 LIMIT 5`, then an `UPDATE` of those 5 to `calling`, one transaction, on a `leads` table with no index but its rowid |
//!
//! # The data
//!
//! Each store is a real leadroute file (migrated by [`SqliteStore::open`]) filled with plain
//! SQL in one transaction: `n` contacts, one lead each and its `contact_queue` entry, every
//! one due (received, and due, over the 30 days before now, oldest first by id), with ZIPs and
//! phones from eight real (ZIP, area code) pairs in eight states, Florida, Oklahoma and
//! Maryland included. Now is Wednesday 2026-03-04 18:00 UTC, inside every lead's calling
//! window, so every claimed lead passes the screening and each claim hands out exactly 5 (the
//! run checks it). The seed's table holds the same `n` leads, all `pending`, never called.
//!
//! # Draining and re-arming
//!
//! Each iteration claims the next 5 leads, as a dialer draining the queue does, and the
//! claimed leads stay claimed. Every [`REARM`] claims (5,000 leads, half the small queue),
//! outside the timed part, every variant puts its claimed leads back (`pending`, no lease,
//! never called). So every variant, at both sizes, sees the same pattern: between 0 and
//! 4,995 claimed leads ahead of the next due ones. The engine's claim reads the due index
//! from its front, so what was claimed before does not matter to it; the seed's query scans
//! the table in rowid order and skips the claimed rows first, so its figure is the mean over
//! that drained range (it stays the same at both sizes here, and grows with the rows it has
//! to skip).
//!
//! After the group, the run prints each variant's mean per claim over every timed claim
//! (warm-up included) and the ratio 1,000,000 / 10,000 of the engine's. The target: at most
//! 1 ms per batch of 5, and the 1,000,000 figure within 1.5× of the 10,000 one.
//!
//! `cargo bench --bench contact_queue -- --quick` builds both files (the large one in about
//! 10–20 s) and runs it.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use jiff::Timestamp;
use leadroute::sqlite::SqliteStore;
use leadroute::{Engine, EngineConfig};
use rusqlite::{params, Connection};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Claims between two re-arms (outside the timed part).
const REARM: u64 = 1_000;

/// Leads per claim.
const BATCH: usize = 5;

/// The queue sizes.
const SIZES: [u32; 2] = [10_000, 1_000_000];

/// (ZIP5, area code): a lead `i` gets pair `i % 8` (real ZIPs of the bundled table in
/// New York, Florida, Oklahoma, Maryland, Illinois, Colorado, California and Washington).
const PLACES: [(&str, u16); 8] = [
    ("10001", 212),
    ("33101", 305),
    ("73102", 405),
    ("21201", 410),
    ("60601", 312),
    ("80202", 303),
    ("90210", 310),
    ("98101", 206),
];

/// Wednesday 2026-03-04 18:00 UTC: 13:00 in New York, 10:00 in Los Angeles.
fn now() -> Timestamp {
    "2026-03-04T18:00:00Z".parse().expect("timestamp")
}

/// The places as a SQL `VALUES` list `(k, zip, npa)`.
fn places_sql() -> String {
    PLACES
        .iter()
        .enumerate()
        .map(|(k, (zip, npa))| format!("({k}, '{zip}', {npa})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows every variant shares, as a CTE `rows(i, zip, phone, received_at)`: lead `i`
/// received `30 days × (n − i) / n` before now (oldest first by id).
fn rows_cte(n: u32) -> String {
    format!(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n}),
         p(k, zip, npa) AS (VALUES {places}),
         rows(i, zip, phone, received_at) AS (
           SELECT k.i, p.zip, printf('+1%03d%07d', p.npa, 2000000 + k.i),
                  strftime('%Y-%m-%dT%H:%M:%S.000000Z', '2026-02-02T18:00:00',
                           '+' || ((k.i - 1) * 43200 / {n}) || ' minutes')
           FROM k JOIN p ON p.k = k.i % {places_n})",
        places = places_sql(),
        places_n = PLACES.len()
    )
}

/// A leadroute file with `n` queued leads (contacts, leads, queue entries), filled with plain
/// SQL in one transaction.
fn fill_store(path: &Path, n: u32) {
    drop(SqliteStore::open(path).expect("create the schema"));
    let conn = Connection::open(path).expect("open raw");
    let rows = rows_cte(n);
    conn.execute_batch(&format!(
        "BEGIN;
         CREATE TEMP TABLE gen AS {rows} SELECT * FROM rows;
         INSERT INTO contacts (id, dedup_scope, phone_e164, zip_code, created_at)
         SELECT i, 'provider-a', phone, zip, received_at FROM temp.gen ORDER BY i;
         INSERT INTO leads (id, contact_id, provider_id, record_key, product_type, zip_code,
                            raw_payload, received_at)
         SELECT i, i, 'provider-a', 'PA-' || i, 'Solar', zip, '{{}}', received_at
         FROM temp.gen ORDER BY i;
         INSERT INTO contact_queue (lead_id, contact_id, phone_e164, zip_code, lead_type,
                                    received_at, next_attempt_at)
         SELECT i, i, phone, zip, 'solar', received_at, received_at FROM temp.gen ORDER BY i;
         DROP TABLE temp.gen;
         COMMIT;"
    ))
    .expect("fill the queue");
}

/// The seed's `leads` table (no index but the rowid) with the same `n` leads, `pending`.
fn fill_seed(path: &Path, n: u32) -> Connection {
    let conn = Connection::open(path).expect("open seed");
    conn.pragma_update(None, "journal_mode", "WAL")
        .expect("WAL");
    conn.pragma_update(None, "synchronous", "NORMAL")
        .expect("synchronous");
    let rows = rows_cte(n);
    conn.execute_batch(&format!(
        "BEGIN;
         CREATE TABLE leads (
             id INTEGER PRIMARY KEY, phone TEXT NOT NULL, zip_code TEXT NOT NULL,
             product_type TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
             call_attempts INTEGER NOT NULL DEFAULT 0, last_called_at TEXT,
             created_at TEXT NOT NULL);
         INSERT INTO leads (id, phone, zip_code, product_type, created_at)
         {rows} SELECT i, phone, zip, 'Solar', received_at FROM rows ORDER BY i;
         COMMIT;"
    ))
    .expect("fill the seed table");
    conn
}

/// The seed's cron as written (`now() - interval '4 hours'` as a parameter).
const SEED_SELECT: &str = "SELECT id, phone, zip_code, call_attempts FROM leads \
     WHERE status = 'pending' AND (last_called_at IS NULL OR last_called_at < ?1) \
     AND call_attempts < 2 LIMIT 5";

const SEED_UPDATE: &str = "UPDATE leads SET status = 'calling', \
     call_attempts = call_attempts + 1, last_called_at = ?1 WHERE id IN (?2, ?3, ?4, ?5, ?6)";

/// One seed claim: the cron's query and the update of its rows, in one transaction; the
/// claimed ids.
fn seed_claim(conn: &Connection, now: &str, cutoff: &str) -> [i64; BATCH] {
    let tx = conn.unchecked_transaction().expect("begin");
    let mut ids = [0i64; BATCH];
    let mut got = 0;
    {
        let mut st = tx.prepare_cached(SEED_SELECT).expect("prepare");
        let mut rows = st.query([cutoff]).expect("query");
        while let Some(r) = rows.next().expect("row") {
            let (id, phone, zip, attempts): (i64, String, String, i64) = (
                r.get(0).expect("id"),
                r.get(1).expect("phone"),
                r.get(2).expect("zip"),
                r.get(3).expect("attempts"),
            );
            black_box((phone, zip, attempts));
            ids[got] = id;
            got += 1;
        }
    }
    assert_eq!(got, BATCH, "the seed table never runs dry here");
    let mut up = tx.prepare_cached(SEED_UPDATE).expect("prepare");
    let n = up
        .execute(params![now, ids[0], ids[1], ids[2], ids[3], ids[4]])
        .expect("update");
    assert_eq!(n, BATCH);
    drop(up);
    tx.commit().expect("commit");
    ids
}

/// One queue size: the engine over its file, a raw connection to re-arm it, and the seed's
/// table.
struct Setup {
    n: u32,
    engine: Engine,
    store_raw: Connection,
    seed: Connection,
}

fn setup(dir: &Path, n: u32) -> Setup {
    let store_path = dir.join(format!("queue-{n}.sqlite"));
    let started = Instant::now();
    fill_store(&store_path, n);
    let filled = started.elapsed();
    let started = Instant::now();
    let seed = fill_seed(&dir.join(format!("seed-{n}.sqlite")), n);
    let seeded = started.elapsed();
    let store = Arc::new(SqliteStore::open(&store_path).expect("open store"));
    store.checkpoint().expect("checkpoint the fill");
    let engine = Engine::new(store, EngineConfig::default()).expect("engine");
    let store_raw = Connection::open(&store_path).expect("open raw");
    store_raw
        .busy_timeout(Duration::from_secs(10))
        .expect("busy timeout");
    eprintln!(
        "contact_queue: {n} queued leads written in {:.1} s, the seed table in {:.1} s",
        filled.as_secs_f64(),
        seeded.as_secs_f64()
    );
    Setup {
        n,
        engine,
        store_raw,
        seed,
    }
}

/// Puts the engine's claimed leads back: due, no lease.
fn rearm_store(conn: &Connection) {
    conn.execute(
        "UPDATE contact_queue SET status = 'pending', worker = NULL, locked_until = NULL \
         WHERE status = 'attempting'",
        [],
    )
    .expect("re-arm the queue");
}

/// Puts the seed's claimed leads (ids up to `max_id`) back: pending, never called.
fn rearm_seed(conn: &Connection, max_id: i64) {
    conn.execute(
        "UPDATE leads SET status = 'pending', call_attempts = 0, last_called_at = NULL \
         WHERE id <= ?1 AND status = 'calling'",
        [max_id],
    )
    .expect("re-arm the seed table");
}

/// Timed claims: total time and count, warm-up included.
#[derive(Default, Clone, Copy)]
struct Tally {
    time: Duration,
    claims: u64,
}

impl Tally {
    fn mean_us(self) -> f64 {
        self.time.as_secs_f64() * 1e6 / self.claims.max(1) as f64
    }
}

fn bench_claims(cr: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let sizes: Vec<Setup> = SIZES.iter().map(|&n| setup(dir.path(), n)).collect();
    let now = now();
    let now_text = now.to_string();
    let cutoff = (now - jiff::SignedDuration::from_hours(4)).to_string();

    // Every claimed lead passes the screening: a claim hands out exactly 5.
    for s in &sizes {
        let first = s
            .engine
            .claim_contact_batch(Some(now), BATCH, "check")
            .expect("claim");
        assert_eq!(first.len(), BATCH, "{} leads: a full batch", s.n);
        assert!(first
            .iter()
            .all(|c| c.attempts == 0 && c.local_time.is_some()));
        rearm_store(&s.store_raw);
    }

    let mut tallies: Vec<(String, Tally)> = Vec::new();
    let mut g = cr.benchmark_group("claim_batch_of_5");
    for s in &sizes {
        let mut tally = Tally::default();
        let mut since_rearm = 0u64;
        g.bench_function(BenchmarkId::new("engine", s.n), |b| {
            b.iter_custom(|iters| {
                let mut time = Duration::ZERO;
                for _ in 0..iters {
                    if since_rearm == REARM {
                        rearm_store(&s.store_raw);
                        since_rearm = 0;
                    }
                    let start = Instant::now();
                    let got = s
                        .engine
                        .claim_contact_batch(Some(black_box(now)), BATCH, "bench")
                        .expect("claim");
                    time += start.elapsed();
                    assert_eq!(got.len(), BATCH);
                    since_rearm += 1;
                }
                tally.time += time;
                tally.claims += iters;
                time
            })
        });
        rearm_store(&s.store_raw);
        tallies.push((format!("engine/{}", s.n), tally));

        let mut tally = Tally::default();
        let (mut since_rearm, mut max_id) = (0u64, 0i64);
        g.bench_function(BenchmarkId::new("seed_cron", s.n), |b| {
            b.iter_custom(|iters| {
                let mut time = Duration::ZERO;
                for _ in 0..iters {
                    if since_rearm == REARM {
                        rearm_seed(&s.seed, max_id);
                        since_rearm = 0;
                    }
                    let start = Instant::now();
                    let ids = seed_claim(&s.seed, black_box(&now_text), &cutoff);
                    time += start.elapsed();
                    max_id = max_id.max(ids[BATCH - 1]);
                    since_rearm += 1;
                }
                tally.time += time;
                tally.claims += iters;
                time
            })
        });
        rearm_seed(&s.seed, max_id);
        tallies.push((format!("seed_cron/{}", s.n), tally));
    }
    g.finish();

    for (name, t) in &tallies {
        eprintln!(
            "contact_queue: {name:<17} mean {:>8.1} us per claim of 5 over {} timed claims",
            t.mean_us(),
            t.claims
        );
    }
    let mean = |name: &str| {
        tallies
            .iter()
            .find(|(n, _)| n == name)
            .map_or(f64::NAN, |(_, t)| t.mean_us())
    };
    eprintln!(
        "contact_queue: engine 1,000,000 / 10,000 = {:.2}x (target <= 1.5x, each <= 1000 us)",
        mean("engine/1000000") / mean("engine/10000")
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_claims
}
criterion_main!(benches);
