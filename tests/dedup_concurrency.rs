//! Contact dedup under concurrency: several threads, and several processes, each with its
//! own `SqliteStore` on one database file, ingest overlapping, shuffled slices of the vendored
//! corpus through the engine. The database's `UNIQUE` constraints and immediate transactions
//! must leave exactly one contact per dedup key and every record accounted for exactly once,
//! with the same outcome a single sequential run (on the in-memory store) gives.
//!
//! The multi-process test re-executes this test binary: the child is the `#[ignore]`d test
//! [`child_ingests_a_slice`], which does nothing unless [`CHILD_ENV`] is set.

use leadroute::contact::DedupScope;
use leadroute::engine::{Outcome, RoutingOutcome};
use leadroute::intake::{split, RawRecord};
use leadroute::model::{ContactId, RecordFormat, StoreCounts};
use leadroute::routing::RoutingRule;
use leadroute::seed::{load_providers, load_rules, load_workspaces};
use leadroute::sqlite::SqliteStore;
use leadroute::storage::{with_tx, MemoryStore, Store};
use leadroute::{Engine, EngineConfig};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier};

/// How many provider A records the tests ingest.
const RECORDS: usize = 600;
/// Records per `ingest_batch` call (one transaction).
const BATCH: usize = 20;
/// Concurrent writers (threads or processes).
const WORKERS: usize = 4;
/// Carries `<db path>\t<worker>\t<out path>\t<go path>` to a child process; the child
/// starts ingesting once the go file exists, so that all children start together.
const CHILD_ENV: &str = "LEADROUTE_DEDUP_CHILD";
/// The child test's name, for `--exact`.
const CHILD_TEST: &str = "child_ingests_a_slice";

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/corpus")
}

fn read(name: &str) -> String {
    let path = corpus_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first [`RECORDS`] records of provider A.
fn records() -> Vec<RawRecord> {
    let mut all = split(RecordFormat::Json, &read("provider_a.jsonl"))
        .expect("split provider_a.jsonl")
        .records;
    all.truncate(RECORDS);
    assert_eq!(all.len(), RECORDS, "the vendored corpus has enough records");
    all
}

/// Stores the vendored providers, workspaces and rules (webhooks point nowhere: nothing is
/// delivered here).
fn configure(store: Arc<dyn Store>) {
    let providers = load_providers(&read("providers.json")).expect("providers.json");
    let workspaces =
        load_workspaces(&read("workspaces.json"), "http://127.0.0.1:9").expect("workspaces");
    let rules: Vec<RoutingRule> = load_rules(&read("routing_rules.json")).expect("rules");
    Engine::new(store, config())
        .expect("engine")
        .configure(&providers, &workspaces, &rules)
        .expect("configure");
}

fn config() -> EngineConfig {
    EngineConfig {
        dedup_scope: DedupScope::Provider,
        ..EngineConfig::default()
    }
}

/// What one worker saw for one record it ingested first (replays are not kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Seen {
    Rejected,
    /// A lead-level duplicate: no appointment.
    Duplicate,
    /// An original lead without an appointment time.
    NoAppointment,
    /// An original lead whose appointment went to the unrouted queue.
    Unrouted,
    /// An original lead whose appointment was routed (and enqueued for delivery).
    Routed,
}

impl Seen {
    fn code(self) -> &'static str {
        match self {
            Seen::Rejected => "rejected",
            Seen::Duplicate => "duplicate",
            Seen::NoAppointment => "no_appointment",
            Seen::Unrouted => "unrouted",
            Seen::Routed => "routed",
        }
    }

    fn parse(s: &str) -> Seen {
        match s {
            "rejected" => Seen::Rejected,
            "duplicate" => Seen::Duplicate,
            "no_appointment" => Seen::NoAppointment,
            "unrouted" => Seen::Unrouted,
            "routed" => Seen::Routed,
            other => panic!("unknown outcome {other:?}"),
        }
    }
}

/// Tiny deterministic PRNG (SplitMix64) for shuffling.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Worker `w`'s slice: every record except one quarter (so each record goes to
/// `WORKERS - 1` workers), shuffled differently per worker.
fn slice(all: &[RawRecord], w: usize) -> Vec<RawRecord> {
    let mut mine: Vec<RawRecord> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| i % WORKERS != w)
        .map(|(_, r)| r.clone())
        .collect();
    Rng(0x5EED_0000 + w as u64).shuffle(&mut mine);
    mine
}

/// Ingests `records` in batches through `engine`, retrying a batch the store reports as
/// temporarily busy (a failed batch stores nothing). Returns the records this worker stored.
fn ingest(engine: &Engine, records: &[RawRecord]) -> Vec<(String, Seen)> {
    let mut out = Vec::new();
    for batch in records.chunks(BATCH) {
        let mut tries = 0;
        let outcomes = loop {
            match engine.ingest_batch("provider-a", batch) {
                Ok(o) => break o,
                Err(e) if e.kind().is_retryable() && tries < 20 => tries += 1,
                Err(e) => panic!("ingest_batch: {e}"),
            }
        };
        assert_eq!(outcomes.len(), batch.len(), "one outcome per record");
        for o in outcomes {
            let seen = match o.outcome {
                Outcome::Replayed(_) => continue,
                Outcome::Rejected { .. } => Seen::Rejected,
                Outcome::Accepted(a) => match (a.duplicate_of, a.appointment) {
                    (Some(_), None) => Seen::Duplicate,
                    (Some(_), Some(_)) => panic!("duplicate lead {} has an appointment", a.lead_id),
                    (None, None) => Seen::NoAppointment,
                    (None, Some((_, RoutingOutcome::Unrouted(_)))) => Seen::Unrouted,
                    (None, Some((_, RoutingOutcome::Routed { .. }))) => Seen::Routed,
                },
            };
            out.push((o.record_key, seen));
        }
    }
    out
}

/// The sequential reference: every record once, in file order, on the in-memory store, with
/// lead-level dedup off so that every accepted record shows what it gets as an original.
struct Reference {
    counts: StoreCounts,
    /// Record key → outcome as an original (never `Duplicate`).
    seen: HashMap<String, Seen>,
    /// Record key → its (contact, product) group, for accepted records.
    group: HashMap<String, (ContactId, String)>,
}

fn reference(all: &[RawRecord]) -> Reference {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    configure(store.clone());
    let mut no_dedup = config();
    // A zero window turns lead-level dedup off.
    no_dedup.duplicate_window -= no_dedup.duplicate_window;
    let engine = Engine::new(store.clone(), no_dedup).expect("engine");
    let mut seen = HashMap::new();
    let mut group = HashMap::new();
    for batch in all.chunks(BATCH) {
        for o in engine.ingest_batch("provider-a", batch).expect("reference") {
            let s = match &o.outcome {
                Outcome::Replayed(_) => continue,
                Outcome::Rejected { .. } => Seen::Rejected,
                Outcome::Accepted(a) => {
                    let lead = with_tx(&*store, |tx| Ok(tx.lead(a.lead_id)?))
                        .expect("lead")
                        .expect("the lead exists");
                    group.insert(o.record_key.clone(), (a.contact_id, lead.lead.product_type));
                    match &a.appointment {
                        None => Seen::NoAppointment,
                        Some((_, RoutingOutcome::Unrouted(_))) => Seen::Unrouted,
                        Some((_, RoutingOutcome::Routed { .. })) => Seen::Routed,
                    }
                }
            };
            assert!(seen.insert(o.record_key, s).is_none(), "a key stored twice");
        }
    }
    Reference {
        counts: engine.counts().expect("counts"),
        seen,
        group,
    }
}

/// Reads every contact of `store` and checks the dedup keys: one contact per (scope, phone),
/// one phone-less contact per (scope, email key), and every contact has a key.
/// Returns how many contacts have a phone and how many are known by email only.
fn assert_unique_contacts(store: &dyn Store, expected: Option<u64>) -> (usize, usize) {
    let contacts = with_tx(store, |tx| {
        let n = tx.reports().counts()?.contacts;
        let mut out = Vec::new();
        let mut id = 1;
        // Ids may have gaps (AUTOINCREMENT never reuses one); stop well past the last.
        while (out.len() as u64) < n && id <= 2 * n as i64 + 1000 {
            if let Some(c) = tx.contact(ContactId(id))? {
                out.push(c);
            }
            id += 1;
        }
        Ok(out)
    })
    .expect("read contacts");
    if let Some(expected) = expected {
        assert_eq!(contacts.len() as u64, expected, "contacts stored");
    }
    let mut phones = HashSet::new();
    let mut emails = HashSet::new();
    for c in &contacts {
        let c = &c.contact;
        match (&c.phone_e164, &c.email_key) {
            (Some(p), _) => assert!(
                phones.insert((c.dedup_scope.clone(), p.clone())),
                "two contacts with ({}, {p})",
                c.dedup_scope
            ),
            (None, Some(k)) => assert!(
                emails.insert((c.dedup_scope.clone(), k.clone())),
                "two phone-less contacts with ({}, {k})",
                c.dedup_scope
            ),
            (None, None) => panic!("a contact with neither key: {c:?}"),
        }
    }
    eprintln!(
        "{} contacts: {} with a phone, {} by email only",
        contacts.len(),
        phones.len(),
        emails.len()
    );
    (phones.len(), emails.len())
}

/// Checks the concurrent run's store and the workers' outcomes against the reference.
fn assert_matches_reference(store: &dyn Store, workers: &[Vec<(String, Seen)>], r: &Reference) {
    // Every record was stored by exactly one worker.
    let mut by_key: HashMap<&str, Seen> = HashMap::new();
    for (key, seen) in workers.iter().flatten() {
        assert!(
            by_key.insert(key, *seen).is_none(),
            "record {key} was stored by two workers"
        );
    }
    let keys: HashSet<&str> = by_key.keys().copied().collect();
    let expected: HashSet<&str> = r.seen.keys().map(String::as_str).collect();
    assert_eq!(keys, expected, "every record is stored exactly once");

    // Each record got its reference outcome, except that exactly one lead per (contact,
    // product) group is the original and the others are duplicates.
    let mut originals: BTreeMap<(ContactId, &str), usize> = BTreeMap::new();
    let mut duplicates = 0u64;
    for (key, seen) in &by_key {
        let want = r.seen[*key];
        if *seen == Seen::Duplicate {
            duplicates += 1;
        } else {
            assert_eq!(
                *seen, want,
                "record {key}: outcome differs from the reference"
            );
        }
        if let Some((contact, product)) = r.group.get(*key) {
            let n = originals.entry((*contact, product.as_str())).or_default();
            if *seen != Seen::Duplicate {
                *n += 1;
            }
        }
    }
    for ((contact, product), n) in &originals {
        assert_eq!(
            *n, 1,
            "reference contact {contact}, product {product}: {n} original leads"
        );
    }

    let count = |s: Seen| by_key.values().filter(|v| **v == s).count() as u64;
    let c = with_tx(store, |tx| Ok(tx.reports().counts()?)).expect("counts");
    eprintln!("reference: {:?}", r.counts);
    eprintln!("concurrent: {c:?}, {duplicates} duplicate leads");
    assert_eq!(
        (c.contacts, c.leads, c.rejections),
        (r.counts.contacts, r.counts.leads, r.counts.rejections),
        "contacts, leads and rejections equal the sequential run's"
    );
    assert_eq!(
        c.leads + c.rejections,
        r.seen.len() as u64,
        "one lead or rejection per distinct record"
    );
    assert_eq!(
        duplicates,
        c.leads - originals.len() as u64,
        "every lead but one per (contact, product) is a duplicate"
    );
    assert_eq!(
        (
            c.appointments,
            c.appointments_routed,
            c.appointments_unrouted
        ),
        (
            count(Seen::Routed) + count(Seen::Unrouted),
            count(Seen::Routed),
            count(Seen::Unrouted)
        ),
        "one appointment per original lead with an appointment time, none for duplicates"
    );
    assert_eq!(
        c.deliveries,
        count(Seen::Routed),
        "one delivery per routed appointment"
    );
    assert_unique_contacts(store, Some(r.counts.contacts));
}

#[test]
fn threads_with_own_stores_on_one_file_keep_one_contact_per_key() {
    let all = records();
    let reference = reference(&all);
    assert!(
        reference.counts.leads > 0 && reference.counts.rejections > 0,
        "the slice has both outcomes: {:?}",
        reference.counts
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadroute.sqlite");
    configure(Arc::new(SqliteStore::open(&path).expect("open")));
    let barrier = Barrier::new(WORKERS);
    let workers: Vec<Vec<(String, Seen)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (path, all, barrier) = (&path, &all, &barrier);
                s.spawn(move || {
                    let store = Arc::new(SqliteStore::open(path).expect("open"));
                    let engine = Engine::new(store, config()).expect("engine");
                    let mine = slice(all, w);
                    barrier.wait();
                    ingest(&engine, &mine)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker thread"))
            .collect()
    });
    for (w, v) in workers.iter().enumerate() {
        eprintln!("thread {w} stored {} records", v.len());
    }
    let store = SqliteStore::open(&path).expect("reopen");
    assert_matches_reference(&store, &workers, &reference);

    // A second pass of everything stores nothing new.
    let engine = Engine::new(Arc::new(store), config()).expect("engine");
    assert!(ingest(&engine, &all).is_empty(), "a replay stores nothing");
}

/// With `require_phone = false`, records without a valid phone dedup on their email key and
/// email-only contacts merge when a phone arrives. Which contact a returning person's lead
/// joins can depend on the order, so this checks the invariants only: one contact per key,
/// every record stored once, the same rejections as a sequential run.
#[test]
fn threads_keep_email_only_contacts_unique() {
    let all = records();
    let email_config = || EngineConfig {
        require_phone: false,
        ..config()
    };
    let sequential: HashMap<String, bool> = {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        configure(store.clone());
        let engine = Engine::new(store.clone(), email_config()).expect("engine");
        let seen = ingest(&engine, &all);
        let (_, email_only) = assert_unique_contacts(&*store, None);
        assert!(
            email_only > 0,
            "the slice has records without a valid phone"
        );
        seen.into_iter()
            .map(|(k, s)| (k, s == Seen::Rejected))
            .collect()
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadroute.sqlite");
    configure(Arc::new(SqliteStore::open(&path).expect("open")));
    let barrier = Barrier::new(WORKERS);
    let workers: Vec<Vec<(String, Seen)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (path, all, barrier) = (&path, &all, &barrier);
                s.spawn(move || {
                    let store = Arc::new(SqliteStore::open(path).expect("open"));
                    let engine = Engine::new(store, email_config()).expect("engine");
                    let mine = slice(all, w);
                    barrier.wait();
                    ingest(&engine, &mine)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker thread"))
            .collect()
    });
    let mut by_key = HashMap::new();
    for (key, seen) in workers.into_iter().flatten() {
        assert!(
            by_key.insert(key.clone(), seen == Seen::Rejected).is_none(),
            "record {key} was stored by two workers"
        );
    }
    assert_eq!(
        by_key, sequential,
        "every record stored once, rejected exactly when the sequential run rejects it"
    );
    let store = SqliteStore::open(&path).expect("reopen");
    let c = with_tx(&store, |tx| Ok(tx.reports().counts()?)).expect("counts");
    assert_eq!(c.leads + c.rejections, sequential.len() as u64);
    assert_eq!(
        c.appointments_routed, c.deliveries,
        "one delivery per routed appointment"
    );
    assert_unique_contacts(&store, None);
}

#[test]
fn processes_on_one_file_keep_one_contact_per_key() {
    let all = records();
    let reference = reference(&all);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadroute.sqlite");
    configure(Arc::new(SqliteStore::open(&path).expect("open")));
    let exe = std::env::current_exe().expect("current exe");
    let children: Vec<_> = (0..WORKERS)
        .map(|w| {
            let out = dir.path().join(format!("worker-{w}.tsv"));
            let go = dir.path().join("go");
            let child = Command::new(&exe)
                .args(["--exact", CHILD_TEST, "--nocapture", "--include-ignored"])
                .env(
                    CHILD_ENV,
                    format!(
                        "{}\t{w}\t{}\t{}",
                        path.display(),
                        out.display(),
                        go.display()
                    ),
                )
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn child");
            (w, out, child)
        })
        .collect();
    std::fs::write(dir.path().join("go"), "go").expect("go file");
    let mut workers = Vec::new();
    for (w, out, child) in children {
        let res = child.wait_with_output().expect("wait for child");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        assert!(
            res.status.success(),
            "child {w} failed ({}):\n{}\n{}",
            res.status,
            text(&res.stdout),
            text(&res.stderr)
        );
        let body = std::fs::read_to_string(&out)
            .unwrap_or_else(|e| panic!("child {w} wrote no result ({e}):\n{}", text(&res.stdout)));
        let mine: Vec<(String, Seen)> = body
            .lines()
            .map(|l| {
                let (k, s) = l.split_once('\t').expect("key\\toutcome");
                (k.to_string(), Seen::parse(s))
            })
            .collect();
        eprintln!("process {w} stored {} records", mine.len());
        workers.push(mine);
    }
    let store = SqliteStore::open(&path).expect("reopen");
    assert_matches_reference(&store, &workers, &reference);
}

/// The child side of [`processes_on_one_file_keep_one_contact_per_key`]: ingests its slice
/// into the file named by [`CHILD_ENV`] and writes what it stored. Does nothing without it.
#[test]
#[ignore = "run by processes_on_one_file_keep_one_contact_per_key in a child process"]
fn child_ingests_a_slice() {
    let Ok(arg) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = arg.split('\t');
    let (Some(db), Some(w), Some(out), Some(go)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        panic!("bad {CHILD_ENV}: {arg:?}");
    };
    let w: usize = w.parse().expect("worker number");
    let all = records();
    let store = Arc::new(SqliteStore::open(db).expect("open"));
    let engine = Engine::new(store, config()).expect("engine");
    let mine = slice(&all, w);
    let start = std::time::Instant::now();
    while !Path::new(go).exists() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "no go file"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let mine = ingest(&engine, &mine);
    let body: String = mine
        .iter()
        .map(|(k, s)| format!("{k}\t{}\n", s.code()))
        .collect();
    // Write then rename, so the parent never reads a partial file.
    let tmp = format!("{out}.tmp");
    std::fs::write(&tmp, body).expect("write result");
    std::fs::rename(&tmp, out).expect("rename result");
}
