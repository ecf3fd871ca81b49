//! Crash safety of the appointment lifecycle and its client events: two processes apply
//! scripted lifecycle transitions to their own appointments and deliver the outbox between
//! steps, both posting to one loopback receiver, while one of them is killed with SIGKILL
//! three times and restarted. Afterwards, from the SQLite file and the receiver's log:
//!
//! 1. every applied lifecycle transition (each `appointment_events` row of kind confirmed,
//!    rescheduled, cancelled, completed or no_show) has exactly one delivery: the
//!    appointment's deliveries are `appointment.created` at sequence 0, then one per
//!    transition, in the events' order, of the matching event type, the one the event's
//!    `delivery_id` names; every delivery is `success` and its attempt rows are numbered
//!    1..=attempts; there is no other delivery;
//! 2. the receiver saw every delivery's `webhook-id` (as the delivery's event type, for its
//!    appointment) and answered one of its requests 2xx; per appointment, the order in which
//!    its distinct webhook-ids were first received is the deliveries' sequence order, and no
//!    request for sequence n+1 arrived before the receiver's first 2xx answer for sequence n.
//!    Deliveries are at least once: a worker killed after the client received a request, or
//!    whose lease ran out while it waited for the answer, has it sent again with the same
//!    webhook-id;
//! 3. billing: every appointment is charged exactly once, to its workspace, at its rate;
//!    those that ended `no_show` (the workspaces' return policy has `credit_no_show`) have
//!    exactly one credit reversing the charge and an approved `no_show` return, whether the
//!    no-show was marked before or after the charge; the others have neither; there is no
//!    other billing event;
//! 4. every appointment's lifecycle history is exactly its script (a replayed step is a no-op
//!    or an `invalid_transition`, never applied twice) and its final status is the script's
//!    last; every transition a child acknowledged as applied is in the history, and no
//!    transition was acknowledged as applied twice;
//! 5. the file passes `PRAGMA integrity_check` and `PRAGMA foreign_key_check`.
//!
//! The parent ingests the appointments, routed to two workspaces, and runs the receiver: a
//! `TcpListener` speaking just enough HTTP/1.1 (one request per connection). It answers the
//! first request of a seeded 30% of the deliveries 503 (their retries wait in line before
//! the appointment's later events, and endpoints pause and are probed), of a seeded 1.5% 200
//! only after the lease has run out (another worker claims the delivery meanwhile, and the
//! slower of the two fails to record its attempt), and everything else 200 after a few
//! milliseconds; it logs every complete request, when it arrived and when it was answered.
//!
//! Each child owns every other appointment and runs, per appointment, reschedule → confirm →
//! complete, no-show or cancel (by appointment id), calling `deliver_due` after each step.
//! It takes one step per `go` line on stdin and acknowledges each on stdout, so no kill can
//! miss: the victim always has a step left when it is killed. A restarted child runs its
//! whole script again from the start. The victim is killed:
//!
//! - right after it acknowledges a chosen transition (it is then in `deliver_due`, usually
//!   claiming);
//! - restarted, with a request in flight: from a chosen `go` on, the receiver holds the next
//!   request of that run (children name their run in a header), never answers it, and tells
//!   the parent, which kills the run; the delivery stays claimed until its lease runs out,
//!   and the appointment's later events wait behind it (should the run send no request
//!   before its last step, it is killed waiting for that step instead);
//! - restarted again, at a random moment (0–25 ms) after a `go` a few steps further.
//!
//! The engine's lease is short (2 s) and its retry schedule fast (200 ms), with the system
//! clock, so what a killed worker had claimed comes back quickly; the parent drains the
//! outbox at the end. Nothing is asserted about timing.
//!
//! The seed is printed; set `LEADROUTE_LIFECYCLE_CRASH_SEED` to replay a run's choices (the
//! victim, the kill points, which first tries are answered 503 or late); set
//! `LEADROUTE_LIFECYCLE_CRASH_KEEP` to keep the SQLite file.
//!
//! The child is this test binary re-executed on the `#[ignore]`d test [`child_transitions`].
//! [`a_no_show_marked_before_the_charge_is_credited_with_it`] pins, in one process, the race
//! this test first found (a no-show marked before the appointment's own delivery was billed
//! was never credited).

use leadroute::delivery::{
    EndpointPolicy, RetryPolicy, Transport, TransportError, UreqTransport, WebhookRequest,
    WebhookResponse,
};
use leadroute::engine::{Outcome, RoutingOutcome};
use leadroute::intake::RawRecord;
use leadroute::lifecycle::Actor;
use leadroute::model::{AppointmentId, BillingKind, Cents, Provider, ReturnPolicy, Workspace};
use leadroute::routing::RoutingRule;
use leadroute::sqlite::SqliteStore;
use leadroute::status::LeadStatus;
use leadroute::storage::{with_tx, MemoryStore};
use leadroute::{Engine, EngineConfig, ErrorKind};
use rusqlite::Connection;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Appointments ingested (and scripted).
const APPOINTMENTS: usize = 40;
/// Child processes transitioning and delivering at once; child `c` owns the appointments at
/// positions `c`, `c + CHILDREN`, ….
const CHILDREN: usize = 2;
/// The workspaces: id, the ZIP its rule takes, its rate.
const WORKSPACES: [(&str, &str, i64); 2] =
    [("ws_north", "46262", 15_000), ("ws_south", "46201", 25_000)];
/// The provider of every record.
const PROVIDER: &str = "p";
/// How long a worker holds claimed deliveries: a killed worker's claims come back after it.
const LEASE: Duration = Duration::from_secs(2);
/// Every retry waits about this long (±20%).
const RETRY: Duration = Duration::from_millis(200);
/// Retries after the first try; only a first try is ever answered 503 on purpose.
const RETRIES: usize = 6;
/// Deliveries claimed per `deliver_due` call.
const CLAIM: usize = 10;
/// Per mille of the deliveries whose first request is answered 503.
const FIRST_TRY_503_PERMILLE: u64 = 300;
/// Per mille of the deliveries whose first request is answered (200) only after
/// [`SLOW_ANSWER`].
const FIRST_TRY_SLOW_PERMILLE: u64 = 15;
/// Longer than the lease: a worker still waiting for this answer has lost its claim.
const SLOW_ANSWER: Duration = Duration::from_millis(2_600);
/// How long the receiver takes to answer: a request in flight is a wider target for a kill.
const RECEIVER_DELAY: Duration = Duration::from_millis(3);
/// The random kill comes this long at most after its `go`.
const MAX_KILL_DELAY_MS: u64 = 25;
/// Carries `<db path>\t<child index>\t<run id>\t<appointment ids, comma-separated>` to a
/// child.
const CHILD_ENV: &str = "LEADROUTE_LIFECYCLE_CRASH_CHILD";
/// The header naming the child run that sent a request.
const RUN_HEADER: &str = "x-lifecycle-crash-run";
/// Replays a run's random choices.
const SEED_ENV: &str = "LEADROUTE_LIFECYCLE_CRASH_SEED";
/// Keeps the SQLite file (its path is printed) to look into a failure.
const KEEP_ENV: &str = "LEADROUTE_LIFECYCLE_CRASH_KEEP";
/// The child test's name, for `--exact`.
const CHILD_TEST: &str = "child_transitions";
/// The whole test gives up after this long.
const DEADLINE: Duration = Duration::from_secs(180);

/// The engine settings of the parent and the children (the system clock: processes share no
/// fixed clock).
fn config() -> EngineConfig {
    EngineConfig {
        lease: LEASE,
        retry: RetryPolicy {
            schedule: vec![RETRY; RETRIES],
            jitter: 0.2,
            max_retry_after: Duration::from_secs(1),
        },
        // A paused endpoint (five failures in a row) is probed again soon.
        endpoint: EndpointPolicy {
            cool_down: Duration::from_millis(300),
            ..EndpointPolicy::default()
        },
        request_timeout: Duration::from_secs(10),
        delivery_workers: 4,
        pipeline: false,
        ..EngineConfig::default()
    }
}

fn engine(path: &Path) -> Engine {
    Engine::new(Arc::new(SqliteStore::open(path).expect("open")), config()).expect("engine")
}

/// One scripted lifecycle step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Reschedule,
    Confirm,
    Complete,
    NoShow,
    Cancel,
}

impl Step {
    /// Its `appointment_events` kind, which is also the status it leads to.
    fn kind(self) -> &'static str {
        match self {
            Step::Reschedule => "rescheduled",
            Step::Confirm => "confirmed",
            Step::Complete => "completed",
            Step::NoShow => "no_show",
            Step::Cancel => "cancelled",
        }
    }

    /// Its client event type.
    fn event(self) -> String {
        format!("appointment.{}", self.kind())
    }
}

/// An appointment's script. Replaying any prefix of it after the fact is a no-op or an
/// `invalid_transition` (a reschedule to the time it already has is a no-op; nothing is
/// allowed after the last step but repeating it), so the history is exactly the script
/// whenever the script ran to its end at least once.
fn script(id: i64) -> [Step; 3] {
    let last = match id % 3 {
        0 => Step::Complete,
        1 => Step::NoShow,
        _ => Step::Cancel,
    };
    [Step::Reschedule, Step::Confirm, last]
}

/// The time an appointment is booked at, and the time it is rescheduled to.
fn times(n: usize) -> (String, jiff::Timestamp) {
    let day = 1 + n % 28;
    let booked = format!("2031-03-{day:02}T15:00:00Z");
    let moved = format!("2031-04-{day:02}T17:30:00Z");
    (booked, moved.parse().expect("reschedule time"))
}

/// Stores the provider, the two workspaces (posting to the receiver at `base`, crediting
/// no-shows) and their rules, and ingests the appointments; returns (appointment id,
/// workspace) in ingestion order.
fn setup(path: &Path, base: &str) -> Vec<(i64, String)> {
    let engine = engine(path);
    let workspaces: Vec<Workspace> = WORKSPACES
        .iter()
        .map(|(id, _, rate)| Workspace {
            business_type: Some("Solar".into()),
            timezone: Some("UTC".into()),
            webhook_secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
            returns: ReturnPolicy {
                credit_no_show: true,
                ..ReturnPolicy::default()
            },
            ..Workspace::new(id, &format!("{base}/hooks/{id}"), Cents(*rate))
        })
        .collect();
    let rules: Vec<RoutingRule> = WORKSPACES
        .iter()
        .enumerate()
        .map(|(i, (id, zip, _))| RoutingRule::new(i as i64 + 1, id, &["Solar"], &[zip], 1))
        .collect();
    engine
        .configure(&[Provider::new(PROVIDER)], &workspaces, &rules)
        .expect("configure");
    let records: Vec<RawRecord> = (0..APPOINTMENTS)
        .map(|n| {
            let zip = WORKSPACES[n % WORKSPACES.len()].1;
            let (booked, _) = times(n);
            RawRecord::Json(format!(
                r#"{{"lead_id": "life-{n}", "phone": "317863{n:04}", "zip_code": "{zip}",
                    "product_type": "Solar", "appointment_date": "{booked}"}}"#
            ))
        })
        .collect();
    engine
        .ingest_batch(PROVIDER, &records)
        .expect("ingest")
        .into_iter()
        .map(|o| match o.outcome {
            Outcome::Accepted(a) => match a.appointment {
                Some((id, RoutingOutcome::Routed { workspace_id, .. })) => (id.get(), workspace_id),
                other => panic!("{}: not routed: {other:?}", o.record_key),
            },
            other => panic!("{}: not accepted: {other:?}", o.record_key),
        })
        .collect()
}

/// Prints one line to stdout and flushes it (the parent reads it at once).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").expect("stdout");
    out.flush().expect("flush stdout");
}

/// Applies one step; `applied`, `noop` (already done) or `invalid` (a later step was done).
fn apply(engine: &Engine, id: i64, n: usize, step: Step) -> &'static str {
    let appt = AppointmentId(id);
    let actor = Actor::User(format!("script-{n}"));
    let mut tries = 0;
    loop {
        let result = match step {
            Step::Reschedule => {
                let (_, moved) = times(n);
                engine.reschedule_appointment(appt, moved, None, Some("customer asked"), &actor)
            }
            Step::Confirm => engine.confirm_appointment(appt, &actor),
            Step::Complete => engine.complete_appointment(appt, Some("sold"), &actor),
            Step::NoShow => engine.mark_no_show(appt, &actor),
            Step::Cancel => engine.cancel_appointment(appt, Some("changed plans"), &actor),
        };
        match result {
            Ok(o) if o.applied => return "applied",
            Ok(_) => return "noop",
            Err(e) if e.code() == "invalid_transition" => return "invalid",
            Err(e) if e.kind().is_retryable() && tries < 20 => tries += 1,
            Err(e) => panic!("appointment {id}: {step:?}: {e}"),
        }
    }
}

/// The child's transport: `UreqTransport`, each request naming the run that sent it in
/// [`RUN_HEADER`] (which the signature does not cover), so that the receiver can hold a
/// request of the victim.
struct Tagged {
    inner: UreqTransport,
    run: String,
}

impl Transport for Tagged {
    fn post(
        &self,
        request: &WebhookRequest,
        timeout: Duration,
    ) -> Result<WebhookResponse, TransportError> {
        let mut request = request.clone();
        request
            .headers
            .push((RUN_HEADER.to_string(), self.run.clone()));
        self.inner.post(&request, timeout)
    }
}

/// The child: for each of its appointments, each step of the script after a `go` on stdin,
/// acknowledged on stdout (`ack <appointment> <step> <result>`), then one `deliver_due`
/// call; `idle` when it waits for the next `go`, `done` at the end.
#[test]
#[ignore = "run by sigkilled_transitions_are_delivered_in_order_and_billed_once in a child process"]
fn child_transitions() {
    let Ok(arg) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = arg.split('\t').collect();
    let [path, c, run, ids] = parts[..] else {
        panic!("{CHILD_ENV}: <db>\t<child>\t<run>\t<ids>, not {arg:?}")
    };
    let c: usize = c.parse().expect("child index");
    let engine = engine(Path::new(path));
    let transport = Tagged {
        inner: UreqTransport::new(),
        run: run.to_string(),
    };
    // (appointment id, its position in the ingestion order).
    let mine: Vec<(i64, usize)> = ids
        .split(',')
        .map(|s| s.parse().expect("appointment id"))
        .enumerate()
        .filter(|(n, _)| n % CHILDREN == c)
        .map(|(n, id)| (id, n))
        .collect();
    let steps: Vec<(i64, usize, usize, Step)> = mine
        .iter()
        .flat_map(|&(id, n)| {
            script(id)
                .into_iter()
                .enumerate()
                .map(move |(s, step)| (id, n, s, step))
        })
        .collect();
    say("ready");
    let stdin = std::io::stdin();
    for (i, &(id, n, s, step)) in steps.iter().enumerate() {
        let mut go = String::new();
        stdin.lock().read_line(&mut go).expect("stdin");
        assert_eq!(go.trim(), "go", "child {c}: expected go");
        let result = apply(&engine, id, n, step);
        say(&format!("ack {id} {s} {result}"));
        match engine.deliver_due(&transport, CLAIM) {
            Ok(_) => {}
            // Another worker recorded the attempt first (this one's lease ran out while it
            // posted), or the file was busy: the claims come back after the lease.
            Err(e) if e.kind() == ErrorKind::Conflict || e.kind().is_retryable() => {
                eprintln!("lifecycle_crash: child {c}: deliver_due: {e}")
            }
            Err(e) => panic!("child {c}: deliver_due: {e}"),
        }
        if i + 1 < steps.len() {
            say("idle");
        }
    }
    say("done");
}

/// One request the receiver read in full: when it arrived and when it was answered (ticks of
/// [`Journal::clock`]; `None`: held, never answered), its `webhook-id`, event type (`type`,
/// or `appointment.created` for the plain payload), appointment id, the child run that sent
/// it (`None`: the parent) and the status answered (`0`: held).
#[derive(Debug, Clone)]
struct Received {
    arrived: usize,
    answered: Option<usize>,
    webhook_id: String,
    event: String,
    appointment_id: i64,
    run: Option<usize>,
    status: u16,
    /// Answered after [`SLOW_ANSWER`].
    slow: bool,
}

/// The receiver's log: the requests in arrival order, and a clock that orders arrivals and
/// answers.
#[derive(Debug, Clone, Default)]
struct Journal {
    requests: Vec<Received>,
    clock: usize,
}

impl Journal {
    fn tick(&mut self) -> usize {
        self.clock += 1;
        self.clock
    }
}

type Log = Arc<Mutex<Journal>>;

/// How the receiver answers a delivery's first request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FirstTry {
    Ok,
    /// 503: the delivery is retried.
    Unavailable,
    /// 200 after [`SLOW_ANSWER`], longer than the lease: another worker may claim the
    /// delivery meanwhile and send it again.
    Slow,
}

/// The receiver's trap: the next request of the armed run is logged and never answered, and
/// the parent is told (`Event::Held`), so that it kills the run with the request in flight.
struct Trap {
    armed: Mutex<Option<usize>>,
    tell: Mutex<Sender<(usize, Event)>>,
}

/// How the first request of (appointment, event) is answered, from the seed.
fn first_try(seed: u64, appointment_id: i64, event: &str) -> FirstTry {
    let mut h = Rng(seed ^ (appointment_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    for b in event.bytes() {
        h.0 ^= u64::from(b);
        h.next();
    }
    match h.next() % 1000 {
        p if p < FIRST_TRY_503_PERMILLE => FirstTry::Unavailable,
        p if p < FIRST_TRY_503_PERMILLE + FIRST_TRY_SLOW_PERMILLE => FirstTry::Slow,
        _ => FirstTry::Ok,
    }
}

/// Starts the loopback receiver; returns its base URL and its log.
fn receiver(seed: u64, trap: Arc<Trap>) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let log: Log = Arc::new(Mutex::new(Journal::default()));
    let shared = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (log, trap) = (shared.clone(), trap.clone());
            std::thread::spawn(move || serve(stream, seed, &log, &trap));
        }
    });
    (base, log)
}

/// Serves one connection: one request, answered with `Connection: close` (or held, see
/// [`Trap`]). A request cut off (its sender was killed) is not logged.
fn serve(mut stream: TcpStream, seed: u64, log: &Log, trap: &Trap) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut headers = HashMap::new();
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(n) if n > 0 && line.starts_with("POST ") => {}
        _ => return,
    }
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(n) if n > 0 => {}
            _ => return,
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let Some(len) = headers
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    else {
        return;
    };
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let json: serde_json::Value = serde_json::from_slice(&body).expect("a JSON body");
    let (event, appointment_id) = match json.get("type").and_then(|t| t.as_str()) {
        Some(t) => (t.to_string(), json["data"]["appointment_id"].as_i64()),
        None => (
            "appointment.created".to_string(),
            json["appointment_id"].as_i64(),
        ),
    };
    let appointment_id = appointment_id.expect("the body names its appointment");
    let webhook_id = headers.get("webhook-id").cloned().expect("a webhook-id");
    let run: Option<usize> = headers.get(RUN_HEADER).map(|r| r.parse().expect("run id"));
    let (index, status, delay) = {
        let mut log = log.lock().expect("log");
        let mut armed = trap.armed.lock().expect("trap");
        let first = !log.requests.iter().any(|r| r.webhook_id == webhook_id);
        let (status, delay) = if run.is_some() && *armed == run {
            *armed = None;
            (0, Duration::ZERO)
        } else if first {
            match first_try(seed, appointment_id, &event) {
                FirstTry::Ok => (200, RECEIVER_DELAY),
                FirstTry::Unavailable => (503, RECEIVER_DELAY),
                FirstTry::Slow => (200, SLOW_ANSWER),
            }
        } else {
            (200, RECEIVER_DELAY)
        };
        let arrived = log.tick();
        log.requests.push(Received {
            arrived,
            answered: None,
            webhook_id: webhook_id.clone(),
            event,
            appointment_id,
            run,
            status,
            slow: delay == SLOW_ANSWER,
        });
        (log.requests.len() - 1, status, delay)
    };
    if status == 0 {
        let run = run.expect("a held request has its run");
        let tell = trap.tell.lock().expect("tell").clone();
        let _ = tell.send((run, Event::Held(webhook_id)));
        // Until the sender dies: its end of the connection closes.
        let _ = stream.set_read_timeout(Some(DEADLINE));
        let _ = stream.read(&mut [0; 1]);
        return;
    }
    std::thread::sleep(delay);
    {
        let mut log = log.lock().expect("log");
        let answered = log.tick();
        log.requests[index].answered = Some(answered);
    }
    let reason = if status == 200 {
        "OK"
    } else {
        "Service Unavailable"
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\
         Connection: close\r\n\r\nok"
    );
    let _ = stream.flush();
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

/// One acknowledged step.
#[derive(Debug, Clone)]
struct Ack {
    appointment_id: i64,
    step: usize,
    result: String,
}

/// What a child's stdout reader reports.
enum Event {
    /// Waiting for a `go` (`ready` or `idle`).
    Waiting,
    Ack(Ack),
    /// The receiver holds a request of this run (its webhook-id).
    Held(String),
    Done,
    /// The child's stdout closed (it exited or was killed).
    Closed,
}

/// One run of one child.
struct Run {
    owner: usize,
    child: Child,
    stdin: ChildStdin,
    /// `go` lines sent.
    gos: usize,
    acks: Vec<Ack>,
    done: bool,
    killed: Option<&'static str>,
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

fn spawn(path: &Path, c: usize, ids: &str, run_id: usize, tx: Sender<(usize, Event)>) -> Run {
    let arg = format!("{}\t{c}\t{run_id}\t{ids}", path.display());
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["--exact", CHILD_TEST, "--include-ignored", "--nocapture"])
        .env(CHILD_ENV, arg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let event = if line == "ready" || line == "idle" {
                Event::Waiting
            } else if line == "done" {
                Event::Done
            } else if let Some(rest) = line.strip_prefix("ack ") {
                let parts: Vec<&str> = rest.split(' ').collect();
                let [id, step, result] = parts[..] else {
                    panic!("bad ack line {line:?}")
                };
                Event::Ack(Ack {
                    appointment_id: id.parse().expect("appointment id"),
                    step: step.parse().expect("step"),
                    result: result.to_string(),
                })
            } else {
                continue; // libtest's own lines
            };
            if tx.send((run_id, event)).is_err() {
                return;
            }
        }
        let _ = tx.send((run_id, Event::Closed));
    });
    let stdin = child.stdin.take().expect("child stdin");
    Run {
        owner: c,
        child,
        stdin,
        gos: 0,
        acks: Vec::new(),
        done: false,
        killed: None,
    }
}

fn go(run: &mut Run) {
    run.stdin.write_all(b"go\n").expect("write go");
    run.stdin.flush().expect("flush go");
    run.gos += 1;
}

fn kill(run: &mut Run, how: &'static str, started: Instant) {
    run.child.kill().expect("kill"); // SIGKILL on Unix
    let status = run.child.wait().expect("wait");
    assert_eq!(
        status.signal(),
        Some(9),
        "Child::kill sends SIGKILL: {status:?}"
    );
    run.killed = Some(how);
    eprintln!(
        "lifecycle_crash: killed child {} {how}, after {} acknowledged steps ({:.1} s into \
         the test)",
        run.owner,
        run.acks.len(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn sigkilled_transitions_are_delivered_in_order_and_billed_once() {
    let started = Instant::now();
    let seed = match std::env::var(SEED_ENV) {
        Ok(s) => s.parse().expect("the seed is a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos() as u64,
    };
    eprintln!("lifecycle_crash: seed {seed} (replay with {SEED_ENV}={seed})");
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lifecycle.db");
    let _dir = if std::env::var_os(KEEP_ENV).is_some() {
        eprintln!("lifecycle_crash: keeping {}", path.display());
        let _ = dir.keep();
        None
    } else {
        Some(dir)
    };
    let (tx, rx) = channel();
    let trap = Arc::new(Trap {
        armed: Mutex::new(None),
        tell: Mutex::new(tx.clone()),
    });
    let (base, log) = receiver(seed, trap.clone());
    let appointments = setup(&path, &base);
    assert_eq!(appointments.len(), APPOINTMENTS);
    let ids = appointments
        .iter()
        .map(|(id, _)| id.to_string())
        .collect::<Vec<_>>()
        .join(",");

    // The kills, all of the victim, each while it has a step left (it takes one per `go`):
    // 1. right after its `ack_kill`th acknowledgement (it is then in `deliver_due`);
    // 2. restarted, from its `trap_go`th `go` on the receiver holds its next request, and it
    //    is killed with that request in flight (should it send none before its last step,
    //    it is killed waiting for that step);
    // 3. restarted, `kill_delay` after its `go` number (acknowledgements of the second run
    //    + `random_after`), at most its last but one.
    let steps = APPOINTMENTS.div_ceil(CHILDREN) * 3;
    let victim = rng.range(0, CHILDREN as u64 - 1) as usize;
    let ack_kill = rng.range(3, steps as u64 / 3) as usize;
    let trap_go = rng.range(ack_kill as u64 + 2, 2 * steps as u64 / 3) as usize;
    let random_after = rng.range(2, 10) as usize;
    let kill_delay = Duration::from_millis(rng.range(0, MAX_KILL_DELAY_MS));
    let mut random_go = usize::MAX;
    eprintln!(
        "lifecycle_crash: {APPOINTMENTS} appointments, {steps} steps per child; child \
         {victim} is killed after its ack {ack_kill}, with a request in flight from its go \
         {trap_go} on, then {} ms after its go {random_after} steps further",
        kill_delay.as_millis()
    );

    let mut runs = Runs(Vec::new());
    let mut current: Vec<usize> = Vec::new();
    for c in 0..CHILDREN {
        runs.0.push(spawn(&path, c, &ids, c, tx.clone()));
        current.push(c);
    }
    let mut kills = 0;
    while current.iter().any(|&r| !runs.0[r].done) {
        let left = DEADLINE.saturating_sub(started.elapsed());
        let (run_id, event) = match rx.recv_timeout(left) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => panic!("deadline passed (seed {seed})"),
            Err(RecvTimeoutError::Disconnected) => unreachable!("the parent holds a sender"),
        };
        if runs.0[run_id].killed.is_some() {
            continue; // the rest of a killed run's output
        }
        let c = runs.0[run_id].owner;
        let run = &mut runs.0[run_id];
        let before = kills;
        match event {
            Event::Waiting => {
                let trapping = c == victim && kills == 1;
                if trapping && run.gos + 1 == trap_go {
                    *trap.armed.lock().expect("trap") = Some(run_id);
                }
                if trapping
                    && run.gos + 1 == steps
                    && trap.armed.lock().expect("trap").take().is_some()
                {
                    kill(
                        run,
                        "waiting for its last step (it sent no request)",
                        started,
                    );
                    kills += 1;
                } else {
                    go(run);
                    if c == victim && kills == 2 && run.gos == random_go {
                        std::thread::sleep(kill_delay);
                        kill(run, "at a random moment after a go", started);
                        kills += 1;
                    }
                }
            }
            Event::Held(webhook_id) => {
                kill(run, "with a request in flight", started);
                eprintln!("lifecycle_crash: (the request held: webhook-id {webhook_id})");
                kills += 1;
            }
            Event::Ack(a) => {
                run.acks.push(a);
                if c == victim && kills == 0 && run.acks.len() == ack_kill {
                    kill(run, "right after an acknowledged transition", started);
                    kills += 1;
                }
            }
            Event::Done => run.done = true,
            Event::Closed => {
                let status = run.child.wait().expect("wait");
                assert!(
                    status.success() && run.done,
                    "child {c} (run {run_id}) failed: {status:?} (seed {seed})"
                );
            }
        }
        if kills > before {
            if kills == 2 {
                random_go = (runs.0[run_id].acks.len() + random_after).min(steps - 1);
            }
            let id = runs.0.len();
            runs.0.push(spawn(&path, c, &ids, id, tx.clone()));
            current[c] = id;
        }
    }
    assert_eq!(
        kills, 3,
        "the victim was killed three times while it had steps left"
    );
    for &r in &current {
        let status = runs.0[r].child.wait().expect("wait");
        assert!(status.success(), "child run {r} failed: {status:?}");
    }
    eprintln!(
        "lifecycle_crash: children finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Whatever is left: retries, and the claims of the killed runs once their leases end.
    let engine = engine(&path);
    let transport = UreqTransport::new();
    let pending = || -> i64 {
        let conn = Connection::open(&path).expect("open");
        conn.busy_timeout(Duration::from_secs(10)).expect("busy");
        conn.query_row(
            "SELECT COUNT(*) FROM deliveries WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )
        .expect("pending")
    };
    loop {
        let report = engine.deliver_due(&transport, 50).expect("deliver_due");
        if report.attempted == 0 {
            if pending() == 0 {
                break;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "deliveries still pending at the deadline (seed {seed})"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    eprintln!(
        "lifecycle_crash: outbox drained in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let log = log.lock().expect("log").requests.clone();
    verify(&path, &appointments, &runs.0, &log, seed);
    eprintln!(
        "lifecycle_crash: verified in {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

/// A transport that answers every request 200, in process.
struct AlwaysOk;

impl Transport for AlwaysOk {
    fn post(
        &self,
        _request: &WebhookRequest,
        _timeout: Duration,
    ) -> Result<WebhookResponse, TransportError> {
        Ok(WebhookResponse {
            status: 200,
            body_excerpt: "ok".into(),
            retry_after: None,
        })
    }
}

/// The race the SIGKILL test first found, in one process and without timing: a no-show
/// marked while the appointment's own delivery is not yet billed (waiting for a retry, or
/// claimed by a worker that was killed) earns its policy credit when that delivery bills it.
#[test]
fn a_no_show_marked_before_the_charge_is_credited_with_it() {
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::new(store.clone(), config()).expect("engine");
    let (id, _, rate) = WORKSPACES[0];
    let workspace = Workspace {
        business_type: Some("Solar".into()),
        returns: ReturnPolicy {
            credit_no_show: true,
            ..ReturnPolicy::default()
        },
        ..Workspace::new(id, "http://127.0.0.1:9/unused", Cents(rate))
    };
    let rule = RoutingRule::new(1, id, &["Solar"], &[WORKSPACES[0].1], 1);
    engine
        .configure(&[Provider::new(PROVIDER)], &[workspace], &[rule])
        .expect("configure");
    let record = RawRecord::Json(format!(
        r#"{{"phone": "3178630001", "zip_code": "{}", "product_type": "Solar",
            "appointment_date": "2031-03-01T15:00:00Z"}}"#,
        WORKSPACES[0].1
    ));
    let appt = match engine.ingest(PROVIDER, &record).expect("ingest").outcome {
        Outcome::Accepted(a) => a.appointment.expect("an appointment").0,
        other => panic!("{other:?}"),
    };
    let marked = engine.mark_no_show(appt, &Actor::Client).expect("no-show");
    assert!(marked.applied);
    assert_eq!(
        marked.credit, None,
        "nothing is charged yet, nothing to credit"
    );
    while engine
        .deliver_due(&AlwaysOk, 10)
        .expect("deliver")
        .attempted
        > 0
    {}
    let billing: Vec<(BillingKind, i64)> = with_tx(&*store, |tx| {
        Ok(tx
            .billing_events_for(appt)?
            .into_iter()
            .map(|b| (b.kind, b.amount.0))
            .collect::<Vec<_>>())
    })
    .expect("billing");
    assert_eq!(
        billing,
        [(BillingKind::Charge, rate), (BillingKind::Credit, -rate)],
        "charged on delivery and credited with it"
    );
    let lead = engine
        .appointment(appt)
        .expect("read")
        .expect("the appointment")
        .appointment
        .lead_id;
    let last = engine
        .lead_status_history(lead)
        .expect("history")
        .last()
        .map(|h| h.to_status);
    assert_eq!(
        last,
        Some(LeadStatus::Returned),
        "the credit returns the lead"
    );
}

/// One stored delivery, as the checks need it.
#[derive(Debug)]
struct Stored {
    id: i64,
    sequence: u32,
    event: String,
    webhook_id: String,
    success: bool,
    attempts: u32,
}

/// The checks of the module docs.
fn verify(path: &Path, appointments: &[(i64, String)], runs: &[Run], log: &[Received], seed: u64) {
    let conn = Connection::open(path).expect("open");
    let store = SqliteStore::open(path).expect("open store");
    let rate: HashMap<&str, i64> = WORKSPACES.iter().map(|(w, _, r)| (*w, *r)).collect();

    // 5. The file.
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok", "SQLite integrity check");
    let fk: Vec<String> = conn
        .prepare("PRAGMA foreign_key_check")
        .expect("prepare")
        .query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(fk.is_empty(), "foreign keys hold: {fk:?}");

    // The receiver's log per webhook-id.
    let mut by_webhook: HashMap<&str, Vec<&Received>> = HashMap::new();
    for r in log {
        by_webhook.entry(r.webhook_id.as_str()).or_default().push(r);
    }

    // Acknowledged steps: every `applied` one at most once across runs.
    let mut applied_acks: HashMap<(i64, usize), usize> = HashMap::new();
    for a in runs.iter().flat_map(|r| &r.acks) {
        if a.result == "applied" {
            *applied_acks.entry((a.appointment_id, a.step)).or_default() += 1;
        }
    }
    let twice: Vec<_> = applied_acks.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "transitions acknowledged as applied twice: {twice:?} (seed {seed})"
    );

    let (mut deliveries, mut requests, mut credits) = (0, 0, 0);
    for (id, workspace) in appointments {
        let id = *id;
        let script = script(id);
        let ctx = format!("appointment {id} (seed {seed})");

        // 4. History and final status.
        let history: Vec<(i64, String, serde_json::Value)> = conn
            .prepare(
                "SELECT id, event_type, detail FROM appointment_events \
                 WHERE appointment_id = ?1 AND event_type IN \
                 ('confirmed', 'rescheduled', 'cancelled', 'completed', 'no_show') ORDER BY id",
            )
            .expect("prepare")
            .query_map([id], |r| {
                let detail: String = r.get(2)?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    serde_json::from_str(&detail).expect("event detail JSON"),
                ))
            })
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let kinds: Vec<&str> = history.iter().map(|(_, k, _)| k.as_str()).collect();
        let scripted: Vec<&str> = script.iter().map(|s| s.kind()).collect();
        assert_eq!(
            kinds, scripted,
            "{ctx}: the lifecycle history is the script"
        );
        let status: String = conn
            .query_row(
                "SELECT lifecycle_status FROM appointments WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .expect("status");
        assert_eq!(status, script[2].kind(), "{ctx}: the final status");
        for ((a, s), _) in applied_acks.iter().filter(|((a, _), _)| *a == id) {
            assert!(
                kinds.get(*s) == Some(&script[*s].kind()),
                "{ctx}: acknowledged step {s} of appointment {a} is in the history"
            );
        }

        // 1. One delivery per transition, in order, all delivered.
        let stored: Vec<Stored> = with_tx(&store, |tx| {
            Ok(tx
                .deliveries_for_appointment(AppointmentId(id))?
                .into_iter()
                .map(|d| Stored {
                    id: d.id.get(),
                    sequence: d.delivery.sequence,
                    event: d.delivery.event.as_str().to_string(),
                    webhook_id: d.delivery.webhook_id.clone(),
                    success: d.status == leadroute::model::ForwardStatus::Success,
                    attempts: d.attempts,
                })
                .collect::<Vec<_>>())
        })
        .expect("deliveries");
        let events: Vec<String> = stored.iter().map(|d| d.event.clone()).collect();
        let expected: Vec<String> = std::iter::once("appointment.created".to_string())
            .chain(script.iter().map(|s| s.event()))
            .collect();
        assert_eq!(
            events, expected,
            "{ctx}: one delivery per transition, in order"
        );
        let sequences: Vec<u32> = stored.iter().map(|d| d.sequence).collect();
        assert_eq!(sequences, [0, 1, 2, 3], "{ctx}: sequences");
        for ((_, kind, detail), d) in history.iter().zip(&stored[1..]) {
            assert_eq!(
                detail["delivery_id"].as_i64(),
                Some(d.id),
                "{ctx}: the {kind} event names its delivery"
            );
        }
        for d in &stored {
            assert!(
                d.success,
                "{ctx}: delivery {} ({}) succeeded",
                d.id, d.event
            );
            let numbers: Vec<u32> = conn
                .prepare(
                    "SELECT attempt_number FROM delivery_attempts WHERE delivery_id = ?1 \
                     ORDER BY attempt_number",
                )
                .expect("prepare")
                .query_map([d.id], |r| r.get(0))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows");
            assert_eq!(
                numbers,
                (1..=d.attempts).collect::<Vec<_>>(),
                "{ctx}: delivery {} has its attempt rows",
                d.id
            );
        }
        deliveries += stored.len();

        // 2. The receiver: every delivery received and answered 2xx once at least, first
        // receipts in sequence order, no request before the previous one's first 2xx.
        let mut first_received = Vec::new();
        let mut first_ok = Vec::new();
        for d in &stored {
            let got = by_webhook
                .get(d.webhook_id.as_str())
                .unwrap_or_else(|| panic!("{ctx}: delivery {} ({}) never received", d.id, d.event));
            for r in got {
                assert_eq!(
                    (r.appointment_id, r.event.as_str()),
                    (id, d.event.as_str()),
                    "{ctx}: the request carrying webhook-id {} is delivery {}'s",
                    d.webhook_id,
                    d.id
                );
            }
            requests += got.len();
            first_received.push(got[0].arrived);
            first_ok.push(
                got.iter()
                    .filter(|r| (200..300).contains(&r.status))
                    .filter_map(|r| r.answered)
                    .min()
                    .unwrap_or_else(|| panic!("{ctx}: delivery {} was never answered 2xx", d.id)),
            );
        }
        let mut sorted = first_received.clone();
        sorted.sort_unstable();
        assert_eq!(
            first_received, sorted,
            "{ctx}: webhook-ids first received in sequence order"
        );
        for n in 1..stored.len() {
            assert!(
                first_received[n] > first_ok[n - 1],
                "{ctx}: sequence {n} ({}) was received (tick {}) before sequence {} was \
                 answered 2xx (tick {})",
                stored[n].event,
                first_received[n],
                n - 1,
                first_ok[n - 1]
            );
        }

        // 3. Billing.
        let billing: Vec<(String, String, i64)> = conn
            .prepare(
                "SELECT kind, workspace_id, amount_cents FROM billing_events \
                 WHERE appointment_id = ?1 ORDER BY id",
            )
            .expect("prepare")
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let r = rate[workspace.as_str()];
        let charge = ("charge".to_string(), workspace.clone(), r);
        let credit = ("credit".to_string(), workspace.clone(), -r);
        let returns: Vec<(String, String)> = conn
            .prepare("SELECT reason, status FROM appointment_returns WHERE appointment_id = ?1")
            .expect("prepare")
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        if script[2] == Step::NoShow {
            assert_eq!(
                billing,
                [charge, credit],
                "{ctx}: a no-show is charged once and credited once"
            );
            assert_eq!(
                returns,
                [("no_show".to_string(), "approved".to_string())],
                "{ctx}: the no-show's policy return"
            );
            credits += 1;
        } else {
            assert_eq!(billing, [charge], "{ctx}: charged once, not credited");
            assert!(returns.is_empty(), "{ctx}: no return: {returns:?}");
        }
    }
    let all_billing: i64 = conn
        .query_row("SELECT COUNT(*) FROM billing_events", [], |r| r.get(0))
        .expect("count");
    assert_eq!(
        all_billing as usize,
        appointments.len() + credits,
        "no billing event of anything else"
    );
    let all_deliveries: i64 = conn
        .query_row("SELECT COUNT(*) FROM deliveries", [], |r| r.get(0))
        .expect("count");
    assert_eq!(all_deliveries as usize, deliveries, "no other delivery");
    let count = |f: &dyn Fn(&Received) -> bool| log.iter().filter(|r| f(r)).count();
    eprintln!(
        "lifecycle_crash: {} appointments, {deliveries} deliveries, {requests} requests \
         received ({} from the children, {} from the final drain): {} answered 503, {} \
         answered after the lease, {} held for a kill, {} answered 2xx again (a repeat after a \
         kill or a lost lease); {credits} no-show credits",
        appointments.len(),
        count(&|r| r.run.is_some()),
        count(&|r| r.run.is_none()),
        count(&|r| r.status == 503),
        count(&|r| r.slow),
        count(&|r| r.status == 0),
        count(&|r| r.status == 200) - deliveries,
    );
}
