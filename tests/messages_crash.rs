//! Crash safety of the scheduled-messages sender: a process looping
//! [`Engine::send_due_messages`] on one SQLite file is killed with SIGKILL three times and
//! restarted; a last run drains what is left. Afterwards, from the file and the transport's
//! own send log:
//!
//! 1. every message that was due (the 60 confirmations) is `sent`, its lease cleared, its
//!    `tries` the number of its last logged try; the reminders (due in years) are still
//!    `pending`, untried, unlogged and were never given to the transport;
//! 2. sent at least once: the transport's send log has an accepted send of every
//!    confirmation, and of nothing else;
//! 3. logged once per try: every confirmation's `message_logs` rows are numbered exactly
//!    `1..=n` (no duplicate try number, none missing); they are exactly what the scripted
//!    transport answers: `failed(1), sent(2)` for the messages whose first try fails,
//!    `sent(1)` for the others; the last row is `sent` with the provider id the transport
//!    returned for that send (the last send of that message and try number in the send log),
//!    and a `failed` row has the transport's error;
//! 4. no unlogged try survives: every (message, try number) the transport was given is
//!    logged, with the outcome the transport answered;
//! 5. **a try killed before it was logged is sent again with the same try number.** The
//!    killed try is not counted (the claim does not count tries; logging the try does), so
//!    once the lease of the killed run runs out the message is claimed again and the
//!    transport gets the same message id and the same `try_number` a second time; the
//!    provider sees a duplicate with the same idempotency key (the message id). Checked for
//!    every send a killed run made that was not logged when it died: a later run sent that
//!    (message, try number) again and that later send is the one logged. The third kill is
//!    made exactly there: the transport, after a chosen accepted send is on disk, announces
//!    it and waits, and the parent kills the process then (the send is in the send log and
//!    not in `message_logs` right after the kill);
//! 6. the file passes `PRAGMA integrity_check` and `PRAGMA foreign_key_check`.
//!
//! The parent ingests 60 appointments (years ahead, so each has a confirmation due now and
//! two reminders not yet due) for a workspace whose message policy retries after 1 s, 1 s,
//! 1 s. The child's transport appends each send (message id, try number, run, outcome,
//! provider id) as one line to a send log and fsyncs it before it returns (that file is the
//! evidence of what was sent), takes 3 ms (a gateway round trip: a wider target for a kill)
//! and fails the first try of a seeded quarter of the messages. The child loops
//! `send_due_messages(.., 5)` until no confirmation is pending. The engine's lease is 2 s,
//! with the system clock. The runs that are to be killed go in lockstep with the parent:
//! their transport prints `sent <id> <try> <ok|fail>` once the send is on disk and waits for
//! a `go` line on stdin before it returns, so a run cannot get past its kill point however
//! slowly the parent reads. The kills (seeded `k`s):
//!
//! - at a random moment: 0–25 ms after the parent answers the first run's `k`th send (the
//!   run goes on meanwhile, answered);
//! - right after a send: as soon as the parent answers the second run's `k`th send;
//! - with a send made and not logged: at the third run's `k`th accepted send, which the
//!   parent does not answer (the transport is waiting to return it; see 5).
//!
//! After the third kill the parent waits a lease and a second and starts the last run,
//! which drains everything. Nothing is asserted about timing.
//!
//! The seed is printed; set `LEADROUTE_MESSAGES_CRASH_SEED` to replay a run's choices (the
//! failing messages and the kill points); set `LEADROUTE_MESSAGES_CRASH_KEEP` to keep the
//! SQLite file and the send log.
//!
//! The child is this test binary re-executed on the `#[ignore]`d test [`child_sends`].

use leadroute::engine::{Outcome, RoutingOutcome};
use leadroute::intake::RawRecord;
use leadroute::messages::{MessagePolicy, MessageTransport, OutgoingMessage};
use leadroute::model::{Cents, Provider, Workspace};
use leadroute::routing::RoutingRule;
use leadroute::sqlite::SqliteStore;
use leadroute::{Engine, EngineConfig};
use rusqlite::Connection;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Appointments ingested: one confirmation each is due.
const APPOINTMENTS: usize = 60;
/// Messages whose first try the transport fails.
const FAILING: usize = 15;
/// The workspace and the ZIP its rule takes.
const WORKSPACE: (&str, &str) = ("ws_sms", "46262");
/// The provider of every record.
const PROVIDER: &str = "p";
/// How long a sender holds claimed messages: a killed run's claims come back after it.
const LEASE: Duration = Duration::from_secs(2);
/// Messages claimed per `send_due_messages` call.
const CLAIM: usize = 5;
/// How long one send takes.
const SEND_DELAY: Duration = Duration::from_millis(3);
/// The error of a scripted failure.
const SCRIPTED_ERROR: &str = "gateway timeout (scripted)";
/// The random kill comes this long at most after its send line.
const MAX_KILL_DELAY_MS: u64 = 25;
/// Carries `<db path>\t<send log path>\t<run>\t<failing ids>\t<lockstep: 1 or 0>` to a
/// child.
const CHILD_ENV: &str = "LEADROUTE_MESSAGES_CRASH_CHILD";
/// Replays a run's random choices.
const SEED_ENV: &str = "LEADROUTE_MESSAGES_CRASH_SEED";
/// Keeps the SQLite file and the send log (their directory is printed).
const KEEP_ENV: &str = "LEADROUTE_MESSAGES_CRASH_KEEP";
/// The child test's name, for `--exact`.
const CHILD_TEST: &str = "child_sends";
/// The whole test gives up after this long.
const DEADLINE: Duration = Duration::from_secs(120);

/// The engine settings of the parent and the children (the system clock: processes share no
/// fixed clock).
fn engine(path: &Path) -> Engine {
    let config = EngineConfig {
        lease: LEASE,
        ..EngineConfig::default()
    };
    Engine::new(Arc::new(SqliteStore::open(path).expect("open")), config).expect("engine")
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

/// Stores the provider, the workspace (confirmation and the default reminders, retries after
/// 1 s, 1 s, 1 s) and its rule, and ingests the appointments; returns the confirmations' ids
/// and the reminders' ids.
fn setup(path: &Path) -> (Vec<i64>, Vec<i64>) {
    let engine = engine(path);
    let (id, zip) = WORKSPACE;
    let workspace = Workspace {
        business_type: Some("Solar".into()),
        timezone: Some("America/Indiana/Indianapolis".into()),
        messages: Some(MessagePolicy {
            retry_backoff_seconds: vec![1, 1, 1],
            ..MessagePolicy::default()
        }),
        ..Workspace::new(id, "http://127.0.0.1:9/hooks/unused", Cents(10_000))
    };
    engine
        .configure(
            &[Provider::new(PROVIDER)],
            &[workspace],
            &[RoutingRule::new(1, id, &["Solar"], &[zip], 1)],
        )
        .expect("configure");
    let records: Vec<RawRecord> = (0..APPOINTMENTS)
        .map(|n| {
            let day = 1 + n % 28;
            RawRecord::Json(format!(
                r#"{{"lead_id": "msg-{n}", "phone": "317863{n:04}", "zip_code": "{zip}",
                    "product_type": "Solar", "appointment_date": "2031-03-{day:02}T15:00:00Z"}}"#
            ))
        })
        .collect();
    let started = jiff::Timestamp::now();
    let mut confirmations = Vec::new();
    let mut reminders = Vec::new();
    for o in engine.ingest_batch(PROVIDER, &records).expect("ingest") {
        let appt = match o.outcome {
            Outcome::Accepted(a) => match a.appointment {
                Some((appt, RoutingOutcome::Routed { .. })) => appt,
                other => panic!("{}: not routed: {other:?}", o.record_key),
            },
            other => panic!("{}: not accepted: {other:?}", o.record_key),
        };
        let messages = engine.messages(appt).expect("messages");
        for m in messages {
            match m.message.kind.as_str() {
                "confirmation" => {
                    assert!(m.message.send_at <= jiff::Timestamp::now(), "due now");
                    confirmations.push(m.id.get());
                }
                "reminder" => {
                    assert!(
                        m.message.send_at > started + jiff::SignedDuration::from_hours(24 * 300),
                        "a reminder is years ahead"
                    );
                    reminders.push(m.id.get());
                }
                other => panic!("unknown message kind {other}"),
            }
        }
    }
    assert_eq!(confirmations.len(), APPOINTMENTS, "one confirmation each");
    assert_eq!(reminders.len(), 2 * APPOINTMENTS, "two reminders each");
    (confirmations, reminders)
}

/// Prints one line to stdout and flushes it (the parent reads it at once).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").expect("stdout");
    out.flush().expect("flush stdout");
}

/// The child's transport (see the module docs): appends each send to the send log and
/// fsyncs it, then answers as scripted; in `lockstep`, announces the send on stdout and waits
/// for `go` on stdin before it returns.
struct LoggingTransport {
    log: Mutex<File>,
    run: usize,
    failing: HashSet<i64>,
    lockstep: bool,
}

impl MessageTransport for LoggingTransport {
    fn send(&self, m: &OutgoingMessage) -> Result<String, String> {
        std::thread::sleep(SEND_DELAY);
        let (id, n, run) = (m.id.get(), m.try_number, self.run);
        let fail = n == 1 && self.failing.contains(&id);
        let provider_id = format!("sms-{id}-{n}-run{run}");
        let line = if fail {
            format!("{id} {n} {run} fail -\n")
        } else {
            format!("{id} {n} {run} ok {provider_id}\n")
        };
        {
            let mut log = self.log.lock().expect("send log");
            log.write_all(line.as_bytes()).expect("write send log");
            log.sync_all().expect("fsync send log");
        }
        if self.lockstep {
            say(&format!(
                "sent {id} {n} {}",
                if fail { "fail" } else { "ok" }
            ));
            let mut go = String::new();
            std::io::stdin().read_line(&mut go).expect("stdin");
            assert_eq!(go.trim(), "go", "run {run}: expected go");
        }
        if fail {
            Err(SCRIPTED_ERROR.to_string())
        } else {
            Ok(provider_id)
        }
    }
}

/// Confirmations not yet sent for good, read from the file.
fn pending_confirmations(conn: &Connection) -> i64 {
    conn.query_row(
        "SELECT COUNT(*) FROM scheduled_messages \
         WHERE kind = 'confirmation' AND status = 'pending'",
        [],
        |r| r.get(0),
    )
    .expect("pending confirmations")
}

/// The child: sends due messages in batches of [`CLAIM`] until no confirmation is pending
/// (waiting out retries and leases), then says `done`.
#[test]
#[ignore = "run by sigkilled_sender_sends_every_message_and_logs_each_try_once in a child process"]
fn child_sends() {
    let Ok(arg) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = arg.split('\t').collect();
    let [path, log, run, failing, lockstep] = parts[..] else {
        panic!("{CHILD_ENV}: <db>\t<log>\t<run>\t<failing>\t<lockstep>, not {arg:?}")
    };
    let transport = LoggingTransport {
        log: Mutex::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .expect("open send log"),
        ),
        run: run.parse().expect("run"),
        failing: failing
            .split(',')
            .map(|s| s.parse().expect("message id"))
            .collect(),
        lockstep: lockstep == "1",
    };
    let engine = engine(Path::new(path));
    let conn = Connection::open(path).expect("open for reading");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy");
    loop {
        match engine.send_due_messages(&transport, CLAIM) {
            Ok(r) if r.attempted > 0 => continue,
            Ok(_) => {
                if pending_confirmations(&conn) == 0 {
                    break;
                }
            }
            Err(e) if e.kind().is_retryable() => {
                eprintln!("messages_crash: run {run}: send_due_messages: {e}")
            }
            Err(e) => panic!("run {run}: send_due_messages: {e}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    say("done");
}

/// What a child's stdout reader reports.
enum Event {
    /// A send is on disk (message id, try number, accepted); the transport waits for `go`.
    Sent(i64, u32, bool),
    Done,
    /// The child's stdout closed (it exited or was killed).
    Closed,
    /// Nothing to handle (the parent's own placeholder).
    Nothing,
}

/// One run of the child.
struct Run {
    child: Child,
    /// Its stdin, in lockstep.
    stdin: Option<ChildStdin>,
    /// Sends announced, and how many of them were accepted.
    sent: usize,
    accepted: usize,
    done: bool,
}

/// Kills every child still running when the test fails.
struct Runs(Vec<Run>);

impl Drop for Runs {
    fn drop(&mut self) {
        for run in &mut self.0 {
            if run.child.try_wait().ok().flatten().is_none() {
                let _ = run.child.kill();
                let _ = run.child.wait();
            }
        }
    }
}

fn spawn(
    path: &Path,
    log: &Path,
    run_id: usize,
    failing: &str,
    lockstep: bool,
    tx: Sender<(usize, Event)>,
) -> Run {
    let flag = if lockstep { "1" } else { "0" };
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["--exact", CHILD_TEST, "--include-ignored", "--nocapture"])
        .env(
            CHILD_ENV,
            format!(
                "{}\t{}\t{run_id}\t{failing}\t{flag}",
                path.display(),
                log.display()
            ),
        )
        .stdin(if lockstep {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let event = if line == "done" {
                Event::Done
            } else if let Some(rest) = line.strip_prefix("sent ") {
                let w: Vec<&str> = rest.split(' ').collect();
                let [id, n, outcome] = w[..] else {
                    panic!("sent <id> <try> <ok|fail>, not {line:?}")
                };
                Event::Sent(
                    id.parse().expect("id"),
                    n.parse().expect("try"),
                    outcome == "ok",
                )
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
        sent: 0,
        accepted: 0,
        done: false,
    }
}

/// One line of the send log.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SendLine {
    id: i64,
    try_number: u32,
    run: usize,
    /// The provider id returned, `None` for a scripted failure.
    accepted: Option<String>,
}

fn read_send_log(log: &Path) -> Vec<SendLine> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            let [id, n, run, outcome, provider] = w[..] else {
                panic!("send log line {l:?}")
            };
            SendLine {
                id: id.parse().expect("id"),
                try_number: n.parse().expect("try"),
                run: run.parse().expect("run"),
                accepted: match outcome {
                    "ok" => Some(provider.to_string()),
                    "fail" => None,
                    other => panic!("send log outcome {other:?}"),
                },
            }
        })
        .collect()
}

/// One `message_logs` row: try number, status, provider id, error.
type LogRow = (u32, String, Option<String>, Option<String>);

/// Every `message_logs` row by message, in try order.
fn message_logs(path: &Path) -> BTreeMap<i64, Vec<LogRow>> {
    let conn = Connection::open(path).expect("open");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy");
    let mut stmt = conn
        .prepare(
            "SELECT message_id, try_number, status, provider_message_id, error \
             FROM message_logs ORDER BY message_id, try_number",
        )
        .expect("prepare");
    let rows: Vec<(i64, LogRow)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let mut out: BTreeMap<i64, Vec<LogRow>> = BTreeMap::new();
    for (id, row) in rows {
        out.entry(id).or_default().push(row);
    }
    out
}

/// A kill: which run, how, and the sends it made that were not logged when it died.
struct Kill {
    run: usize,
    how: &'static str,
    unlogged: Vec<SendLine>,
}

#[test]
fn sigkilled_sender_sends_every_message_and_logs_each_try_once() {
    let started = Instant::now();
    let seed = match std::env::var(SEED_ENV) {
        Ok(s) => s.parse().expect("the seed is a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos() as u64,
    };
    eprintln!("messages_crash: seed {seed} (replay with {SEED_ENV}={seed})");
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("messages.db");
    let log = dir.path().join("sends.log");
    let _dir = if std::env::var_os(KEEP_ENV).is_some() {
        eprintln!("messages_crash: keeping {}", dir.path().display());
        let _ = dir.keep();
        None
    } else {
        Some(dir)
    };
    let (confirmations, reminders) = setup(&path);

    // The seeded choices: the failing first tries, the kill points.
    let mut order = confirmations.clone();
    for i in 0..FAILING {
        let j = i + (rng.next() % (order.len() - i) as u64) as usize;
        order.swap(i, j);
    }
    let failing: HashSet<i64> = order[..FAILING].iter().copied().collect();
    let failing_arg = order[..FAILING]
        .iter()
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let random_after = rng.range(3, 12) as usize;
    let random_delay = Duration::from_millis(rng.range(0, MAX_KILL_DELAY_MS));
    let send_after = rng.range(2, 8) as usize;
    let held_after = rng.range(1, 6) as usize;
    eprintln!(
        "messages_crash: {APPOINTMENTS} confirmations ({FAILING} fail their first try); kill \
         run 0 {} ms after its send {random_after}, run 1 right after its send {send_after}, \
         run 2 at its accepted send {held_after}, unanswered",
        random_delay.as_millis()
    );

    let (tx, rx) = channel::<(usize, Event)>();
    let mut runs = Runs(vec![spawn(&path, &log, 0, &failing_arg, true, tx.clone())]);
    let mut current = 0;
    let mut kills: Vec<Kill> = Vec::new();
    let mut held: Option<(i64, u32)> = None;
    // The random kill, once armed: when it is due. The run goes on (answered) until then.
    let mut random_kill: Option<Instant> = None;
    loop {
        let left = DEADLINE.saturating_sub(started.elapsed());
        let wait = random_kill.map_or(left, |at| {
            at.saturating_duration_since(Instant::now()).min(left)
        });
        let received = match rx.recv_timeout(wait) {
            Ok(e) => Some(e),
            Err(RecvTimeoutError::Timeout) => {
                assert!(
                    started.elapsed() < DEADLINE,
                    "deadline passed (seed {seed})"
                );
                None
            }
            Err(RecvTimeoutError::Disconnected) => unreachable!("the parent holds a sender"),
        };
        let mut kill = None;
        if random_kill.is_some_and(|at| Instant::now() >= at) {
            random_kill = None;
            kill = Some("at a random moment");
        }
        let run_id = current;
        let run = &mut runs.0[run_id];
        let event = match received {
            Some((from, event)) if from == current && kill.is_none() => event,
            // The rest of a killed run's output, or the run is to be killed now.
            Some(_) | None => Event::Nothing,
        };
        match event {
            Event::Nothing => {}
            Event::Sent(id, n, accepted) => {
                run.sent += 1;
                run.accepted += usize::from(accepted);
                if kills.len() == 2 && accepted && run.accepted == held_after {
                    // Not answered: the transport waits to return this send.
                    held = Some((id, n));
                    kill = Some("holding a send it made, not logged");
                } else {
                    let stdin = run.stdin.as_mut().expect("a run in lockstep");
                    // A run killed right after its answer may be gone already.
                    let _ = stdin.write_all(b"go\n").and_then(|()| stdin.flush());
                    if kills.is_empty() && run.sent == random_after {
                        random_kill = Some(Instant::now() + random_delay);
                    } else if kills.len() == 1 && run.sent == send_after {
                        kill = Some("right after a send returned");
                    }
                }
            }
            Event::Done => {
                assert_eq!(
                    kills.len(),
                    3,
                    "run {run_id} finished before its kill point (seed {seed})"
                );
                run.done = true;
            }
            Event::Closed => {
                let status = run.child.wait().expect("wait");
                assert!(
                    status.success() && run.done,
                    "run {run_id} failed: {status:?} (seed {seed})"
                );
                break;
            }
        }
        if let Some(how) = kill {
            run.child.kill().expect("kill"); // SIGKILL on Unix
            let status = run.child.wait().expect("wait");
            assert_eq!(status.signal(), Some(9), "killed with SIGKILL: {status:?}");
            // The sends this run made that are not logged now.
            let logged = message_logs(&path);
            let made: Vec<SendLine> = read_send_log(&log)
                .into_iter()
                .filter(|l| l.run == run_id)
                .collect();
            let total = made.len();
            let unlogged: Vec<SendLine> = made
                .into_iter()
                .filter(|l| {
                    !logged
                        .get(&l.id)
                        .is_some_and(|rows| rows.iter().any(|r| r.0 == l.try_number))
                })
                .collect();
            eprintln!(
                "messages_crash: killed run {run_id} {how} after {total} sends, {} of them \
                 not logged ({:.1} s into the test)",
                unlogged.len(),
                started.elapsed().as_secs_f64()
            );
            if let Some((id, n)) = held.filter(|_| kills.len() == 2) {
                // The transport was waiting to return this send: it cannot have been logged.
                assert!(
                    unlogged
                        .iter()
                        .any(|l| (l.id, l.try_number) == (id, n) && l.accepted.is_some()),
                    "the held send ({id}, try {n}) is in the send log and not logged"
                );
            }
            kills.push(Kill {
                run: run_id,
                how,
                unlogged,
            });
            current = runs.0.len();
            let lockstep = kills.len() < 3;
            if kills.len() == 3 {
                // The last run: once the third run's lease has run out.
                std::thread::sleep(LEASE + Duration::from_secs(1));
            }
            runs.0.push(spawn(
                &path,
                &log,
                current,
                &failing_arg,
                lockstep,
                tx.clone(),
            ));
        }
    }
    assert_eq!(kills.len(), 3, "three kills");
    eprintln!(
        "messages_crash: drained in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    verify(
        &path,
        &log,
        &confirmations,
        &reminders,
        &failing,
        &kills,
        seed,
    );
    eprintln!(
        "messages_crash: verified in {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

/// The checks of the module docs.
fn verify(
    path: &Path,
    log: &Path,
    confirmations: &[i64],
    reminders: &[i64],
    failing: &HashSet<i64>,
    kills: &[Kill],
    seed: u64,
) {
    let conn = Connection::open(path).expect("open");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy");

    // 6. The file.
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok", "SQLite integrity check");
    let fk: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .expect("foreign_key_check");
    assert_eq!(fk, 0, "foreign keys hold");

    // 1. The messages' states.
    let mut stmt = conn
        .prepare("SELECT id, kind, status, tries, locked_until FROM scheduled_messages")
        .expect("prepare");
    let rows: Vec<(i64, String, String, u32, Option<String>)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows.len(), confirmations.len() + reminders.len());
    let confirmation_set: HashSet<i64> = confirmations.iter().copied().collect();
    let reminder_set: HashSet<i64> = reminders.iter().copied().collect();
    let tries_of: HashMap<i64, u32> = rows.iter().map(|r| (r.0, r.3)).collect();
    for (id, kind, status, tries, locked) in &rows {
        if confirmation_set.contains(id) {
            assert_eq!(
                (kind.as_str(), status.as_str(), locked),
                ("confirmation", "sent", &None),
                "confirmation {id} (seed {seed})"
            );
        } else {
            assert!(reminder_set.contains(id), "message {id} is known");
            assert_eq!(
                (kind.as_str(), status.as_str(), *tries),
                ("reminder", "pending", 0),
                "reminder {id} untouched"
            );
        }
    }

    // 2. Sent at least once, and nothing else.
    let sends = read_send_log(log);
    let mut by_try: BTreeMap<(i64, u32), Vec<&SendLine>> = BTreeMap::new();
    for s in &sends {
        assert!(
            confirmation_set.contains(&s.id),
            "the transport was given message {}, not a due confirmation",
            s.id
        );
        by_try.entry((s.id, s.try_number)).or_default().push(s);
    }
    for id in confirmations {
        assert!(
            sends.iter().any(|s| s.id == *id && s.accepted.is_some()),
            "confirmation {id} was never accepted by the transport (seed {seed})"
        );
    }

    // 3. Logged once per try, as the transport answered.
    let logs = message_logs(path);
    let mut retried = 0;
    for id in confirmations {
        let rows = logs.get(id).map(Vec::as_slice).unwrap_or_default();
        let numbers: Vec<u32> = rows.iter().map(|r| r.0).collect();
        let expected: Vec<u32> = (1..=rows.len() as u32).collect();
        assert_eq!(numbers, expected, "confirmation {id}: try numbers 1..=n");
        let statuses: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        let script: &[&str] = if failing.contains(id) {
            &["failed", "sent"]
        } else {
            &["sent"]
        };
        assert_eq!(
            statuses, script,
            "confirmation {id}: its tries (seed {seed})"
        );
        assert_eq!(
            tries_of[id] as usize,
            rows.len(),
            "confirmation {id}: tries"
        );
        for (n, status, provider, error) in rows {
            let last = by_try
                .get(&(*id, *n))
                .and_then(|v| v.last())
                .unwrap_or_else(|| panic!("confirmation {id}: try {n} logged, never sent"));
            match status.as_str() {
                "sent" => assert_eq!(
                    provider.as_ref(),
                    last.accepted.as_ref(),
                    "confirmation {id}: try {n} logged with the provider id of its last send"
                ),
                _ => {
                    assert_eq!(error.as_deref(), Some(SCRIPTED_ERROR));
                    assert_eq!(
                        last.accepted, None,
                        "a failed try was answered with an error"
                    );
                    retried += 1;
                }
            }
        }
    }

    // 4. Every try the transport was given is logged, as it answered.
    for ((id, n), lines) in &by_try {
        let row = logs
            .get(id)
            .and_then(|rows| rows.iter().find(|r| r.0 == *n))
            .unwrap_or_else(|| panic!("message {id}: try {n} sent, never logged (seed {seed})"));
        for l in lines {
            assert_eq!(
                l.accepted.is_some(),
                row.1 == "sent",
                "message {id}: try {n}: every send of it answered as logged"
            );
        }
    }

    // 5. A try killed before it was logged was sent again, with the same try number, by a
    // later run, whose send is the one logged.
    let mut resent = 0;
    for k in kills {
        for l in &k.unlogged {
            let lines = &by_try[&(l.id, l.try_number)];
            let later = lines.iter().filter(|s| s.run > k.run).count();
            assert!(
                later > 0,
                "message {}: try {}, unlogged when run {} was killed {}, was not sent again \
                 with the same try number (seed {seed})",
                l.id,
                l.try_number,
                k.run,
                k.how
            );
            let last = lines.last().expect("a send");
            assert!(last.run > k.run, "the logged send is a later run's");
            resent += 1;
        }
    }

    let duplicates = sends.len() - by_try.len();
    eprintln!(
        "messages_crash: {} sends for {} confirmations: {retried} scripted failures \
         retried, {resent} killed tries sent again with the same try number ({duplicates} \
         duplicate sends in all); {} reminders untouched",
        sends.len(),
        confirmations.len(),
        reminders.len()
    );
}
