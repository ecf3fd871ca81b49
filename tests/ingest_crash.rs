//! Crash safety of intake: three processes ingest into one SQLite file at the same time, and
//! one of them is killed with SIGKILL mid-batch and restarted, twice. Afterwards:
//!
//! - every record a process acknowledged (its batch committed) is stored exactly once, as a
//!   lead or a stored rejection, found by (provider, record key), and as what it was
//!   acknowledged as; no record was stored by two processes (one of them saw a replay);
//! - leads + rejections = the distinct record keys sent, and the rejections are exactly those
//!   of a sequential reference run on the in-memory store;
//! - nothing is half-written: every lead has its contact, its `received` event and a status
//!   history that starts once and ends at its status; every rejection its `rejected` event;
//!   every contact a lead and one `created` event; every original lead with an appointment
//!   time its appointment (duplicates have none); every routed appointment its outbox row
//!   (unrouted ones none); every appointment its routing event; the provider's usage counts
//!   one request per committed batch and exactly the records stored;
//! - no duplicate contact: one per (dedup scope, phone), as many as the reference run has;
//!   one original lead per (contact, product), the others duplicates of it;
//! - a killed batch is all or nothing: right after each kill, the killed process's records of
//!   its batch in flight are all stored or none (none when it was killed before its commit),
//!   and none of its later batches is;
//! - the file passes `PRAGMA integrity_check` and `PRAGMA foreign_key_check`.
//!
//! Each child sends its own slice of provider A's records, copies of a shared slice under its
//! own lead ids (the same people, so contact dedup races across processes), and a slice of
//! records every child sends unchanged (the same record keys). A restarted child sends
//! everything again from the start: what is stored comes back as replays.
//!
//! The first kill comes at a random moment after a random number of acknowledged batches;
//! the second while the child's transaction has written a whole batch and not committed (the
//! child's store announces that on stdout and holds the transaction open until it is killed).
//! The seed is printed; set `LEADROUTE_INGEST_CRASH_SEED` to replay a run's choices.
//!
//! The child is this test binary re-executed on the `#[ignore]`d test [`child_ingests`].

use leadroute::engine::Outcome;
use leadroute::intake::{split, RawRecord};
use leadroute::model::{RecordFormat, StoredRecord};
use leadroute::seed::{load_providers, load_rules, load_workspaces};
use leadroute::sqlite::SqliteStore;
use leadroute::storage::{MemoryStore, Store, Tx};
use leadroute::{Engine, EngineConfig, Error};
use rusqlite::Connection;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Child processes ingesting at once.
const CHILDREN: usize = 3;
/// Records of provider A only one child sends, per child.
const OWN: usize = 150;
/// Records whose people every child sends, each child under its own lead ids.
const SHARED_PEOPLE: usize = 90;
/// Records every child sends unchanged (the same record keys).
const SHARED_RECORDS: usize = 30;
/// Records per `ingest_batch` call (one transaction).
const BATCH: usize = 15;
/// The provider of every record.
const PROVIDER: &str = "provider-a";
/// The child that is killed.
const VICTIM: usize = 0;
/// How long a child holds the fully written transaction of its hold batch open before
/// committing: the parent kills it long before.
const HOLD_UNCOMMITTED: Duration = Duration::from_secs(10);
/// Carries `<db path>\t<child index>\t<hold batch or ->` to a child process.
const CHILD_ENV: &str = "LEADROUTE_INGEST_CRASH_CHILD";
/// Replays a run's random choices.
const SEED_ENV: &str = "LEADROUTE_INGEST_CRASH_SEED";
/// The child test's name, for `--exact`.
const CHILD_TEST: &str = "child_ingests";
/// The whole test gives up after this long.
const DEADLINE: Duration = Duration::from_secs(90);

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/corpus")
}

fn read(name: &str) -> String {
    let path = corpus_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Stores the vendored providers, workspaces and rules (webhooks point nowhere: nothing is
/// delivered here).
fn configure(store: Arc<dyn Store>) {
    let providers = load_providers(&read("providers.json")).expect("providers.json");
    let workspaces =
        load_workspaces(&read("workspaces.json"), "http://127.0.0.1:9").expect("workspaces");
    let rules = load_rules(&read("routing_rules.json")).expect("routing_rules.json");
    Engine::new(store, EngineConfig::default())
        .expect("engine")
        .configure(&providers, &workspaces, &rules)
        .expect("configure");
}

/// A copy of a JSON record with another `lead_id` (its record key).
fn with_lead_id(record: &RawRecord, suffix: &str) -> RawRecord {
    let mut v: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(record.text()).expect("a corpus record is a JSON object");
    let id = v["lead_id"]
        .as_str()
        .expect("a corpus record has a lead_id");
    let id = format!("{id}-{suffix}");
    v.insert("lead_id".into(), id.into());
    RawRecord::Json(serde_json::Value::Object(v).to_string())
}

/// Child `c`'s records, in sending order: its own slice, its copies of the shared people, and
/// the shared records, interleaved evenly so that every batch holds some of each and all
/// children reach the same shared person at about the same time.
fn plan(c: usize) -> Vec<RawRecord> {
    let all = split(RecordFormat::Json, &read("provider_a.jsonl"))
        .expect("split provider_a.jsonl")
        .records;
    let total = CHILDREN * OWN + SHARED_PEOPLE + SHARED_RECORDS;
    assert!(all.len() >= total, "the vendored corpus has enough records");
    let own = &all[c * OWN..(c + 1) * OWN];
    let people = &all[CHILDREN * OWN..CHILDREN * OWN + SHARED_PEOPLE];
    let same = &all[CHILDREN * OWN + SHARED_PEOPLE..total];
    let mut tagged: Vec<(f64, RawRecord)> = Vec::new();
    let mut add = |records: Vec<RawRecord>| {
        let n = records.len() as f64;
        for (i, r) in records.into_iter().enumerate() {
            tagged.push(((i as f64 + 0.5) / n, r));
        }
    };
    add(own.to_vec());
    add(people
        .iter()
        .map(|r| with_lead_id(r, &format!("c{c}")))
        .collect());
    add(same.to_vec());
    // A stable sort keeps equal fractions in the order added.
    tagged.sort_by(|a, b| a.0.total_cmp(&b.0));
    tagged.into_iter().map(|(_, r)| r).collect()
}

fn batches() -> usize {
    (OWN + SHARED_PEOPLE + SHARED_RECORDS).div_ceil(BATCH)
}

/// What a record became, as a child acknowledged it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Lead,
    Rejection,
}

/// One acknowledged record: its key, what it is stored as, and whether this ingestion
/// stored it (`false`: a replay of an earlier one).
#[derive(Debug, Clone)]
struct Acked {
    key: String,
    kind: Kind,
    stored_here: bool,
}

fn ack_line(batch: usize, outcomes: &[leadroute::engine::IngestOutcome]) -> String {
    let items: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            let (kind, stored_here) = match &o.outcome {
                Outcome::Accepted(_) => ("lead", true),
                Outcome::Rejected { .. } => ("rejection", true),
                Outcome::Replayed(StoredRecord::Lead(_)) => ("lead", false),
                Outcome::Replayed(StoredRecord::Rejection(_)) => ("rejection", false),
            };
            serde_json::json!([o.record_key, kind, stored_here])
        })
        .collect();
    format!("ack {batch} {}", serde_json::Value::Array(items))
}

fn parse_ack(rest: &str) -> (usize, Vec<Acked>) {
    let (batch, json) = rest.split_once(' ').expect("ack <batch> <json>");
    let items: Vec<(String, String, bool)> = serde_json::from_str(json).expect("ack json");
    let acked = items
        .into_iter()
        .map(|(key, kind, stored_here)| Acked {
            key,
            kind: match kind.as_str() {
                "lead" => Kind::Lead,
                "rejection" => Kind::Rejection,
                other => panic!("unknown kind {other:?}"),
            },
            stored_here,
        })
        .collect();
    (batch.parse().expect("batch number"), acked)
}

/// Prints one line to stdout and flushes it (the parent reads it at once).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").expect("stdout");
    out.flush().expect("flush stdout");
}

/// The child's store: the SQLite store, which announces the fully written transaction of
/// the hold batch on stdout (`uncommitted <batch>`) and holds it open (see
/// [`HOLD_UNCOMMITTED`]) before committing, so that the parent can kill the process there.
struct AnnouncingStore {
    inner: SqliteStore,
    hold: Option<usize>,
    /// The batch being ingested; `usize::MAX` before the first.
    batch: AtomicUsize,
}

impl Store for AnnouncingStore {
    fn transaction(&self, f: &mut dyn FnMut(&dyn Tx) -> Result<(), Error>) -> Result<(), Error> {
        self.inner.transaction(&mut |tx| {
            f(tx)?;
            let batch = self.batch.load(Ordering::SeqCst);
            if self.hold == Some(batch) {
                say(&format!("uncommitted {batch}"));
                std::thread::sleep(HOLD_UNCOMMITTED);
            }
            Ok(())
        })
    }
}

/// The child: waits for `go` on stdin, then ingests its plan batch by batch, acknowledging
/// each committed batch on stdout.
#[test]
#[ignore = "run by sigkilled_ingesters_store_every_record_once in a child process"]
fn child_ingests() {
    let Ok(arg) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = arg.split('\t').collect();
    let [path, c, hold] = parts[..] else {
        panic!("{CHILD_ENV}: <db>\t<child>\t<hold batch or ->, not {arg:?}")
    };
    let c: usize = c.parse().expect("child index");
    let store = Arc::new(AnnouncingStore {
        inner: SqliteStore::open(path).expect("open"),
        hold: hold.parse().ok(),
        batch: AtomicUsize::new(usize::MAX),
    });
    let engine = Engine::new(store.clone(), EngineConfig::default()).expect("engine");
    let records = plan(c);
    say("ready");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).expect("stdin");
    assert_eq!(go.trim(), "go");
    for (b, chunk) in records.chunks(BATCH).enumerate() {
        store.batch.store(b, Ordering::SeqCst);
        let mut tries = 0;
        let outcomes = loop {
            match engine.ingest_batch(PROVIDER, chunk) {
                Ok(o) => break o,
                Err(e) if e.kind().is_retryable() && tries < 20 => tries += 1,
                Err(e) => panic!("child {c}, batch {b}: {e}"),
            }
        };
        assert_eq!(outcomes.len(), chunk.len(), "one outcome per record");
        say(&ack_line(b, &outcomes));
    }
    say("done");
}

/// Tiny deterministic PRNG (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// What a child's stdout reader reports.
enum Event {
    Ready,
    Uncommitted(usize),
    Ack(usize, Vec<Acked>),
    Done,
    /// The child's stdout closed (it exited or was killed).
    Closed,
}

/// One run of one child: the process, its stdin, and what it reported.
struct Run {
    child: Child,
    stdin: Option<ChildStdin>,
    acks: BTreeMap<usize, Vec<Acked>>,
    done: bool,
    closed: bool,
    /// Set when this run was killed: (kind of kill, stored keys right after it).
    killed: Option<(&'static str, HashSet<String>)>,
}

/// Kills every child still running when the test fails.
struct Children(Vec<Run>);

impl Drop for Children {
    fn drop(&mut self) {
        for run in &mut self.0 {
            if run.child.try_wait().ok().flatten().is_none() {
                let _ = run.child.kill();
                let _ = run.child.wait();
            }
        }
    }
}

/// Starts child `c` as run `run_id`; with `hold`, it holds that batch's transaction open.
fn spawn(
    path: &Path,
    c: usize,
    hold: Option<usize>,
    run_id: usize,
    tx: Sender<(usize, Event)>,
) -> Run {
    let hold = hold.map_or_else(|| "-".to_string(), |b| b.to_string());
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["--exact", CHILD_TEST, "--include-ignored", "--nocapture"])
        .env(CHILD_ENV, format!("{}\t{c}\t{hold}", path.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let event = if line == "ready" {
                Event::Ready
            } else if line == "done" {
                Event::Done
            } else if let Some(b) = line.strip_prefix("uncommitted ") {
                Event::Uncommitted(b.parse().expect("batch number"))
            } else if let Some(rest) = line.strip_prefix("ack ") {
                let (b, acked) = parse_ack(rest);
                Event::Ack(b, acked)
            } else {
                continue; // libtest's own lines
            };
            if tx.send((run_id, event)).is_err() {
                return;
            }
        }
        let _ = tx.send((run_id, Event::Closed));
    });
    let stdin = child.stdin.take();
    Run {
        child,
        stdin,
        acks: BTreeMap::new(),
        done: false,
        closed: false,
        killed: None,
    }
}

fn go(run: &mut Run) {
    let stdin = run.stdin.as_mut().expect("child stdin");
    stdin.write_all(b"go\n").expect("write go");
    stdin.flush().expect("flush go");
}

/// Every stored (provider A) record key, read from the file directly.
fn stored_keys(path: &Path) -> HashSet<String> {
    let conn = Connection::open(path).expect("open for reading");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy");
    let mut stmt = conn
        .prepare("SELECT record_key FROM source_records WHERE provider_id = ?1")
        .expect("prepare");
    let keys = stmt
        .query_map([PROVIDER], |r| r.get::<_, String>(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    keys
}

/// The sequential reference: every distinct record once, on the in-memory store. Returns
/// every record key with what it becomes, and the number of contacts.
fn reference(plans: &[Vec<RawRecord>]) -> (HashMap<String, Kind>, u64) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    configure(store.clone());
    let engine = Engine::new(store, EngineConfig::default()).expect("engine");
    let mut kinds = HashMap::new();
    let mut seen_text = HashSet::new();
    for r in plans.iter().flatten() {
        if !seen_text.insert(r.text().to_string()) {
            continue;
        }
        let o = engine.ingest(PROVIDER, r).expect("reference ingest");
        let kind = match o.outcome {
            Outcome::Accepted(_) => Kind::Lead,
            Outcome::Rejected { .. } => Kind::Rejection,
            Outcome::Replayed(_) => panic!("record key {} twice in the plan", o.record_key),
        };
        kinds.insert(o.record_key, kind);
    }
    (kinds, engine.counts().expect("counts").contacts)
}

#[test]
fn sigkilled_ingesters_store_every_record_once() {
    let started = Instant::now();
    let seed = std::env::var(SEED_ENV)
        .ok()
        .map(|s| s.parse::<u64>().expect("seed"))
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos() as u64
        });
    eprintln!("ingest_crash: seed {seed} (set {SEED_ENV} to replay)");
    let mut rng = Rng(seed);
    let plans: Vec<Vec<RawRecord>> = (0..CHILDREN).map(plan).collect();
    let (reference, reference_contacts) = reference(&plans);
    let batches = batches();

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ingest.db");
    configure(Arc::new(SqliteStore::open(&path).expect("open")));

    // The first kill: after a random number of acknowledged batches, a random part of a
    // batch's time later. The second: while the restarted victim's transaction of a later
    // batch is written and not yet committed.
    let first_after = rng.range(2, batches as u64 / 3) as usize;
    let first_delay_permille = rng.range(0, 1000);
    // The held batch: this many batches after the first run's last.
    let second_ahead = rng.range(1, 3) as usize;
    eprintln!(
        "ingest_crash: {CHILDREN} children x {batches} batches of {BATCH}; kill child \
         {VICTIM} after {first_after} acks (+{first_delay_permille}/1000 of a batch), then \
         in the transaction of the batch {second_ahead} after the first run's batch in flight"
    );

    let (tx, rx) = channel::<(usize, Event)>();
    // Runs by id; `owner[run]` is the child index.
    let mut runs = Children(Vec::new());
    let mut owner = Vec::new();
    for c in 0..CHILDREN {
        runs.0.push(spawn(&path, c, None, c, tx.clone()));
        owner.push(c);
    }
    // Wait until every child is ready, then start them together.
    let mut ready = 0;
    while ready < CHILDREN {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok((_, Event::Ready)) => ready += 1,
            Ok((run, Event::Closed)) => panic!("child {} exited before it was ready", owner[run]),
            Ok(_) => {}
            Err(e) => panic!("children not ready: {e}"),
        }
    }
    for run in &mut runs.0 {
        go(run);
    }

    let mut victim_run = VICTIM;
    let mut kills = 0;
    // The batch the first restart holds open, chosen once the killed run's acks are all read.
    let mut held = None;
    let mut last_victim_ack = Instant::now();
    loop {
        if runs.0.iter().all(|r| r.closed) {
            break;
        }
        assert!(started.elapsed() < DEADLINE, "the children did not finish");
        let (run_id, event) = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(x) => x,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => unreachable!("the parent holds a sender"),
        };
        let mut kill = None;
        match event {
            Event::Ready => go(&mut runs.0[run_id]),
            Event::Done => runs.0[run_id].done = true,
            Event::Closed => {
                runs.0[run_id].closed = true;
                if runs.0[run_id].killed.is_some() {
                    // Every ack the killed run printed is read: restart it. It sends
                    // everything again from the start; the first restart holds the
                    // transaction of a batch the first run never reached open for the
                    // second kill.
                    if kills == 1 {
                        let b = runs.0[run_id].acks.len() + second_ahead;
                        assert!(b < batches, "the first run got too far to kill it again");
                        held = Some(b);
                    }
                    let hold = if kills == 1 { held } else { None };
                    victim_run = runs.0.len();
                    runs.0
                        .push(spawn(&path, VICTIM, hold, victim_run, tx.clone()));
                    owner.push(VICTIM);
                    last_victim_ack = Instant::now();
                }
            }
            Event::Ack(b, acked) => {
                // A killed run's acks may arrive after the kill: it printed them before.
                let run = &mut runs.0[run_id];
                assert!(
                    run.acks.insert(b, acked).is_none(),
                    "batch {b} acknowledged twice"
                );
                if run_id == victim_run {
                    let now = Instant::now();
                    let batch_time = now - last_victim_ack;
                    last_victim_ack = now;
                    if kills == 0 && run.acks.len() == first_after {
                        let delay = batch_time.mul_f64(first_delay_permille as f64 / 1e3);
                        std::thread::sleep(delay);
                        kill = Some("at a random moment");
                    }
                }
            }
            Event::Uncommitted(b) => {
                assert_eq!(
                    (run_id, kills, Some(b)),
                    (victim_run, 1, held),
                    "only the second run of the victim holds a batch"
                );
                kill = Some("with a written, uncommitted transaction");
            }
        }
        if let Some(how) = kill {
            let run = &mut runs.0[run_id];
            run.child.kill().expect("kill"); // SIGKILL on Unix
            let status = run.child.wait().expect("wait");
            assert_eq!(
                status.signal(),
                Some(9),
                "Child::kill sends SIGKILL: {status:?}"
            );
            run.killed = Some((how, stored_keys(&path)));
            kills += 1;
            eprintln!(
                "ingest_crash: killed child {VICTIM} {how} ({:.1} s into the test)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    assert_eq!(
        kills, 2,
        "the victim was killed twice while it had work left"
    );
    for (id, run) in runs.0.iter_mut().enumerate() {
        let status = run.child.wait().expect("wait");
        if run.killed.is_none() {
            assert!(
                status.success() && run.done,
                "child {} (run {id}) failed: {status:?}",
                owner[id]
            );
            assert_eq!(run.acks.len(), batches, "every batch acknowledged");
        }
    }
    eprintln!(
        "ingest_crash: children finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    verify(&path, &runs.0, &owner, &reference, reference_contacts);
    eprintln!(
        "ingest_crash: verified in {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

/// Checks the killed runs' snapshots, then the whole file (see the module docs).
fn verify(
    path: &Path,
    runs: &[Run],
    owner: &[usize],
    reference: &HashMap<String, Kind>,
    reference_contacts: u64,
) {
    // Which keys each child sent, by batch, from its complete run.
    let complete = |c: usize| {
        runs.iter()
            .zip(owner)
            .find(|(r, o)| **o == c && r.killed.is_none())
            .map(|(r, _)| r)
            .expect("a complete run of every child")
    };
    let mut senders: HashMap<&str, HashSet<usize>> = HashMap::new();
    for c in 0..CHILDREN {
        for a in complete(c).acks.values().flatten() {
            senders.entry(a.key.as_str()).or_default().insert(c);
        }
    }
    // Keys only the victim sends: nobody else can have stored them.
    let victim_batches: Vec<HashSet<&str>> = complete(VICTIM)
        .acks
        .values()
        .map(|acked| {
            acked
                .iter()
                .map(|a| a.key.as_str())
                .filter(|k| senders[k].len() == 1)
                .collect()
        })
        .collect();

    // A killed batch is all or nothing, later batches nothing, acknowledged ones everything.
    let mut committed_unacked = 0;
    for run in runs {
        let Some((how, snapshot)) = &run.killed else {
            continue;
        };
        for a in run.acks.values().flatten() {
            assert!(snapshot.contains(&a.key), "acknowledged {} lost", a.key);
        }
        let in_flight = run.acks.len();
        let stored: Vec<usize> = victim_batches
            .iter()
            .map(|keys| keys.iter().filter(|k| snapshot.contains(**k)).count())
            .collect();
        for (b, keys) in victim_batches.iter().enumerate() {
            let n = stored[b];
            if b < in_flight {
                assert_eq!(n, keys.len(), "acknowledged batch {b} incomplete");
            } else if b == in_flight {
                assert!(
                    n == 0 || n == keys.len(),
                    "batch {b}, in flight when killed {how}, is half stored: {n} of {}",
                    keys.len()
                );
                if how.contains("uncommitted") {
                    assert_eq!(n, 0, "an uncommitted batch is not stored");
                }
                if n > 0 {
                    committed_unacked += 1;
                }
                eprintln!(
                    "ingest_crash: killed {how} after {in_flight} acknowledged batches: \
                     batch {b}, in flight, {}",
                    if n == 0 {
                        "was rolled back"
                    } else {
                        "had committed before its ack"
                    }
                );
            } else {
                assert_eq!(n, 0, "batch {b}, after the killed one, stored");
            }
        }
    }

    let conn = Connection::open(path).expect("open");
    let q = |sql: &str| -> Vec<Vec<rusqlite::types::Value>> {
        let mut stmt = conn.prepare(sql).expect("prepare");
        let cols = stmt.column_count();
        stmt.query_map([], |r| {
            (0..cols)
                .map(|i| r.get::<_, rusqlite::types::Value>(i))
                .collect()
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
    };
    let int = |v: &rusqlite::types::Value| match v {
        rusqlite::types::Value::Integer(i) => Some(*i),
        rusqlite::types::Value::Null => None,
        other => panic!("not an integer: {other:?}"),
    };
    let text = |v: &rusqlite::types::Value| match v {
        rusqlite::types::Value::Text(s) => Some(s.clone()),
        rusqlite::types::Value::Null => None,
        other => panic!("not text: {other:?}"),
    };
    let scalar = |sql: &str| int(&q(sql)[0][0]).expect("a number");

    assert_eq!(
        text(&q("PRAGMA integrity_check")[0][0]).as_deref(),
        Some("ok"),
        "SQLite integrity check"
    );
    assert!(
        q("PRAGMA foreign_key_check").is_empty(),
        "foreign keys hold"
    );

    // Stored outcomes by key.
    let mut stored: HashMap<String, Kind> = HashMap::new();
    for row in q("SELECT record_key FROM leads WHERE provider_id = 'provider-a'") {
        let key = text(&row[0]).expect("key");
        assert!(
            stored.insert(key.clone(), Kind::Lead).is_none(),
            "{key} stored twice"
        );
    }
    for row in q("SELECT record_key FROM lead_rejections WHERE provider_id = 'provider-a'") {
        let key = text(&row[0]).expect("key");
        assert!(
            stored.insert(key.clone(), Kind::Rejection).is_none(),
            "{key} stored as a lead and as a rejection, or twice"
        );
    }
    let pointers = q("SELECT s.record_key FROM source_records s \
         LEFT JOIN leads l ON l.id = s.lead_id \
         LEFT JOIN lead_rejections j ON j.id = s.rejection_id \
         WHERE (l.id IS NULL) = (j.id IS NULL) \
            OR COALESCE(l.record_key, j.record_key) <> s.record_key \
            OR COALESCE(l.provider_id, j.provider_id) <> s.provider_id");
    assert!(
        pointers.is_empty(),
        "source_records pointing at no row, two rows or another key: {pointers:?}"
    );
    assert_eq!(
        scalar("SELECT COUNT(*) FROM source_records") as usize,
        stored.len(),
        "one source record per lead or rejection"
    );

    // Exactly the records sent, each as the reference says, each acknowledged as stored.
    let mut missing: Vec<&String> = reference
        .keys()
        .filter(|k| !stored.contains_key(*k))
        .collect();
    missing.sort();
    assert!(missing.is_empty(), "records never stored: {missing:?}");
    assert_eq!(
        stored.len(),
        reference.len(),
        "leads + rejections = distinct record keys sent"
    );
    for (key, kind) in reference {
        assert_eq!(
            stored[key], *kind,
            "{key}: stored as the reference stores it"
        );
    }
    let mut stored_by: HashMap<&str, usize> = HashMap::new();
    let mut acked = 0usize;
    for a in runs.iter().flat_map(|r| r.acks.values().flatten()) {
        acked += 1;
        assert_eq!(
            stored.get(&a.key),
            Some(&a.kind),
            "{}: acknowledged as {:?}",
            a.key,
            a.kind
        );
        if a.stored_here {
            *stored_by.entry(a.key.as_str()).or_default() += 1;
        }
    }
    let twice: Vec<_> = stored_by.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "records stored by two ingestions: {twice:?}"
    );

    // Rejections: their `rejected` event.
    let rejected = q("SELECT j.id, (SELECT COUNT(*) FROM lead_events e \
         WHERE e.rejection_id = j.id AND e.event_type = 'rejected') n FROM lead_rejections j \
         WHERE n <> 1");
    assert!(
        rejected.is_empty(),
        "rejections without one rejected event: {rejected:?}"
    );

    // Contacts: one per (scope, phone), each with a lead and one `created` event.
    let dup_contacts = q("SELECT dedup_scope, phone_e164, COUNT(*) FROM contacts \
         WHERE phone_e164 IS NOT NULL GROUP BY 1, 2 HAVING COUNT(*) > 1");
    assert!(
        dup_contacts.is_empty(),
        "duplicate contacts: {dup_contacts:?}"
    );
    assert_eq!(
        scalar("SELECT COUNT(*) FROM contacts") as u64,
        reference_contacts,
        "as many contacts as the sequential reference run"
    );
    let orphans = q("SELECT c.id FROM contacts c WHERE NOT EXISTS \
         (SELECT 1 FROM leads l WHERE l.contact_id = c.id)");
    assert!(orphans.is_empty(), "contacts without a lead: {orphans:?}");
    let created = q("SELECT c.id, (SELECT COUNT(*) FROM contact_events e \
         WHERE e.contact_id = c.id AND e.event_type = 'created') n FROM contacts c WHERE n <> 1");
    assert!(
        created.is_empty(),
        "contacts without one created event: {created:?}"
    );

    // Leads: a contact, one `received` event, and the appointment an original lead with a
    // time must have (duplicates and leads without a time have none).
    let headless = q(
        "SELECT l.id FROM leads l LEFT JOIN contacts c ON c.id = l.contact_id \
         WHERE c.id IS NULL",
    );
    assert!(
        headless.is_empty(),
        "leads without their contact: {headless:?}"
    );
    let received = q("SELECT l.id, (SELECT COUNT(*) FROM lead_events e \
         WHERE e.lead_id = l.id AND e.event_type = 'received') n FROM leads l WHERE n <> 1");
    assert!(
        received.is_empty(),
        "leads without one received event: {received:?}"
    );
    let history = q("SELECT l.id, l.status FROM leads l WHERE \
         (SELECT COUNT(*) FROM lead_status_history h \
          WHERE h.lead_id = l.id AND h.from_status IS NULL) <> 1 \
         OR (SELECT h.to_status FROM lead_status_history h WHERE h.lead_id = l.id \
             ORDER BY h.id DESC LIMIT 1) IS NOT l.status");
    assert!(
        history.is_empty(),
        "leads whose status history does not start once or does not end at their status: \
         {history:?}"
    );
    let appointments = q("SELECT l.id, l.duplicate_of, l.appointment_date, \
         (SELECT COUNT(*) FROM appointments a WHERE a.lead_id = l.id) n FROM leads l \
         WHERE n <> (l.duplicate_of IS NULL AND l.appointment_date IS NOT NULL)");
    assert!(
        appointments.is_empty(),
        "leads without the appointment they need, or with one they must not have: \
         {appointments:?}"
    );
    let wrong_contact = q(
        "SELECT a.id FROM appointments a JOIN leads l ON l.id = a.lead_id \
         WHERE a.contact_id <> l.contact_id",
    );
    assert!(
        wrong_contact.is_empty(),
        "appointments of another contact: {wrong_contact:?}"
    );

    // One original lead per (contact, product); duplicates point at it.
    let originals = q("SELECT contact_id, product_type, COUNT(*) FROM leads \
         WHERE duplicate_of IS NULL GROUP BY 1, 2 HAVING COUNT(*) <> 1");
    assert!(
        originals.is_empty(),
        "several original leads: {originals:?}"
    );
    let bad_dups = q(
        "SELECT d.id FROM leads d JOIN leads o ON o.id = d.duplicate_of \
         WHERE o.duplicate_of IS NOT NULL OR o.contact_id <> d.contact_id \
            OR o.product_type <> d.product_type",
    );
    assert!(
        bad_dups.is_empty(),
        "duplicates of the wrong lead: {bad_dups:?}"
    );

    // Appointments: a routing event each; routed ones one outbox row, unrouted ones none.
    let events = q("SELECT a.id, (SELECT COUNT(*) FROM appointment_events e \
         WHERE e.appointment_id = a.id AND e.event_type = a.status) n FROM appointments a \
         WHERE n <> 1");
    assert!(
        events.is_empty(),
        "appointments without their routing event: {events:?}"
    );
    let outbox = q("SELECT a.id, a.status, (SELECT COUNT(*) FROM deliveries d \
         WHERE d.appointment_id = a.id) n FROM appointments a \
         WHERE n <> (a.status = 'routed')");
    assert!(
        outbox.is_empty(),
        "routed appointments without their outbox row: {outbox:?}"
    );
    let misdirected = q("SELECT d.id FROM deliveries d JOIN appointments a \
         ON a.id = d.appointment_id WHERE d.workspace_id <> a.workspace_id");
    assert!(
        misdirected.is_empty(),
        "deliveries to another workspace: {misdirected:?}"
    );

    // Usage: counted in each batch's transaction, so only committed batches count, and only
    // their newly stored records.
    let leads = scalar("SELECT COUNT(*) FROM leads");
    let rejections = scalar("SELECT COUNT(*) FROM lead_rejections");
    let usage = q(
        "SELECT SUM(requests), SUM(total_leads), SUM(accepted), SUM(rejected) \
         FROM provider_usage_log WHERE provider_id = 'provider-a'",
    );
    let usage: Vec<i64> = usage[0].iter().map(|v| int(v).unwrap_or(0)).collect();
    let batches = runs.iter().map(|r| r.acks.len()).sum::<usize>() + committed_unacked;
    assert_eq!(
        usage,
        [batches as i64, leads + rejections, leads, rejections],
        "provider usage: one request per committed batch, the records it stored"
    );
    assert_eq!(
        scalar("SELECT total_leads FROM lead_source_providers WHERE id = 'provider-a'"),
        leads + rejections,
        "the provider's total_leads"
    );

    eprintln!(
        "ingest_crash: {} records acknowledged, {} distinct keys: {leads} leads ({} \
         duplicates), {rejections} rejections, {} contacts, {} appointments ({} routed), \
         {} deliveries; {batches} batches committed",
        acked,
        stored.len(),
        scalar("SELECT COUNT(*) FROM leads WHERE duplicate_of IS NOT NULL"),
        scalar("SELECT COUNT(*) FROM contacts"),
        scalar("SELECT COUNT(*) FROM appointments"),
        scalar("SELECT COUNT(*) FROM appointments WHERE status = 'routed'"),
        scalar("SELECT COUNT(*) FROM deliveries"),
    );
}
