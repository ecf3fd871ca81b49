//! Races for the last place of a booking slot, on one SQLite file: concurrent
//! [`Engine::book`] calls for the same slot, from threads and from processes, never overbook.
//!
//! The file holds one provider, two workspaces with weekly hours Mon–Fri 09:00–17:00
//! `America/New_York` and a booking calendar of 60-minute slots without lead time (`ws_one`:
//! capacity 1; `ws_crew`: capacity 3), a rule per workspace routing product Solar in one ZIP
//! to it, and plain leads (ingested without `appointment_date`), each booked at most once.
//! Every engine uses the same fixed clock, a Tuesday at 10:00 in New York (the workspaces'
//! hours are open then, so routing may choose them).
//!
//! - [`threads_book_the_last_place_once`]: for each of 30 slots of `ws_one`, 4 threads, each
//!   with its own engine (its own connections to the file), book 4 different leads into the
//!   slot at once (released together by a `Barrier`); then for each of 4 slots of `ws_crew`,
//!   8 threads (two per engine) book 8 leads into it at once.
//! - [`processes_book_the_last_place_once`]: 3 child processes each book their own leads
//!   into the same 30 slots of `ws_one`, in lockstep: the parent writes one `go` line per
//!   slot to every child once all have answered the previous one, so the three bookings of
//!   each slot run at the same time.
//!
//! Each booker books either through routing (`workspace_id` `None`) or by hand (the
//! workspace named), by the seed; both take the slot's capacity counter. A booking the store
//! answers with a retryable error (busy) is tried again; nothing else is retried.
//!
//! Verified, for every raced slot of capacity `c`:
//!
//! - exactly `c` bookings succeeded, each with that slot (`Booked::slot`) in that workspace;
//!   every other one is `Err` with `code() == "slot_taken"` and `kind() == Conflict`;
//! - from the file: the `appointments` table holds exactly `c` appointments at the slot's
//!   start, in the workspace, those of the winners' leads, and no other appointment exists;
//!   the slot's capacity counter is exactly `c`; the winners' leads are `routed`, the losers'
//!   keep the status they had (a failed booking leaves nothing behind);
//! - [`Engine::available_slots`] no longer lists the slot, while the neighbouring slots that
//!   nobody raced for are still listed with their full capacity;
//! - the file passes `PRAGMA integrity_check`.
//!
//! Which slots are raced and which bookers book by hand come from a seed, printed; set
//! `LEADROUTE_BOOKING_RACE_SEED` to replay them (the interleaving itself is the scheduler's).
//! Nothing is asserted about timing.
//!
//! The child process is this test binary re-executed on the `#[ignore]`d test
//! [`child_books`].

use jiff::{SignedDuration, Timestamp};
use leadroute::booking::{slot_counter_key, FreeSlot};
use leadroute::engine::{Booked, FixedClock, Outcome};
use leadroute::intake::RawRecord;
use leadroute::model::{Calendar, Cents, LeadId, Provider, WeeklySchedule, Workspace};
use leadroute::routing::RoutingRule;
use leadroute::sqlite::SqliteStore;
use leadroute::{Engine, EngineConfig, Error, ErrorKind};
use rusqlite::Connection;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Every engine's "now": Tuesday 2030-01-08, 10:00 EST.
const NOW: &str = "2030-01-08T15:00:00Z";
/// The capacity-1 workspace and the ZIP its rule takes.
const ONE: (&str, &str) = ("ws_one", "10001");
/// The capacity-3 workspace and the ZIP its rule takes.
const CREW: (&str, &str) = ("ws_crew", "10002");
/// Bookings a `ws_crew` slot takes.
const CREW_CAPACITY: u32 = 3;
/// The provider of every lead.
const PROVIDER: &str = "p";
/// Slots of `ws_one` raced by threads, and by processes.
const SLOTS: usize = 30;
/// Threads racing for each `ws_one` slot (one engine each).
const THREADS: usize = 4;
/// Slots of `ws_crew` raced by threads.
const CREW_SLOTS: usize = 4;
/// Threads racing for each `ws_crew` slot (two per engine).
const CREW_THREADS: usize = 8;
/// Child processes racing for each slot.
const CHILDREN: usize = 3;
/// Busy answers a booking may get before the test gives up on it.
const MAX_BUSY_RETRIES: usize = 50;
/// Carries `<db path>\t<child index>\t<lead ids>\t<slot starts>\t<by-hand flags>` (lists
/// comma-separated) to a child.
const CHILD_ENV: &str = "LEADROUTE_BOOKING_RACE_CHILD";
/// Replays a run's random choices.
const SEED_ENV: &str = "LEADROUTE_BOOKING_RACE_SEED";
/// The child test's name, for `--exact`.
const CHILD_TEST: &str = "child_books";
/// The process test gives up after this long.
const DEADLINE: Duration = Duration::from_secs(120);

fn now() -> Timestamp {
    NOW.parse().expect("NOW")
}

fn engine(path: &Path) -> Engine {
    let config = EngineConfig {
        clock: Arc::new(FixedClock::new(now())),
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

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    /// `k` distinct indexes of `0..n`, ascending.
    fn pick(&mut self, n: usize, k: usize) -> Vec<usize> {
        assert!(k <= n, "cannot pick {k} of {n}");
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + (self.next() % (n - i) as u64) as usize;
            all.swap(i, j);
        }
        let mut picked = all[..k].to_vec();
        picked.sort_unstable();
        picked
    }
}

fn seed(test: &str) -> u64 {
    let seed = match std::env::var(SEED_ENV) {
        Ok(s) => s.parse().expect("the seed is a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos() as u64,
    };
    eprintln!("booking_race: {test}: seed {seed} (replay with {SEED_ENV}={seed})");
    seed
}

/// Stores the provider, both workspaces and their rules, and ingests `one` plain leads in
/// `ws_one`'s ZIP and `crew` in `ws_crew`'s; returns their lead ids.
fn setup(path: &Path, one: usize, crew: usize) -> (Vec<LeadId>, Vec<LeadId>) {
    let engine = engine(path);
    let hours = WeeklySchedule::from_json(
        r#"{"hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]}"#,
    )
    .expect("weekly hours");
    let workspace = |(id, _): (&str, &str), capacity: u32| Workspace {
        business_type: Some("Solar".into()),
        timezone: Some("America/New_York".into()),
        schedule: Some(hours.clone()),
        calendar: Some(Calendar {
            slot_minutes: 60,
            capacity,
            min_lead_minutes: 0,
            ..Calendar::default()
        }),
        ..Workspace::new(id, &format!("http://127.0.0.1:9/hooks/{id}"), Cents(10_000))
    };
    let rules = [
        RoutingRule::new(1, ONE.0, &["Solar"], &[ONE.1], 1),
        RoutingRule::new(2, CREW.0, &["Solar"], &[CREW.1], 1),
    ];
    engine
        .configure(
            &[Provider::new(PROVIDER)],
            &[workspace(ONE, 1), workspace(CREW, CREW_CAPACITY)],
            &rules,
        )
        .expect("configure");
    let records: Vec<RawRecord> = (0..one + crew)
        .map(|n| {
            let zip = if n < one { ONE.1 } else { CREW.1 };
            RawRecord::Json(format!(
                r#"{{"lead_id": "race-{n}", "phone": "212555{n:04}", "zip_code": "{zip}",
                    "product_type": "Solar"}}"#
            ))
        })
        .collect();
    let leads: Vec<LeadId> = engine
        .ingest_batch(PROVIDER, &records)
        .expect("ingest")
        .into_iter()
        .map(|o| match o.outcome {
            Outcome::Accepted(a) if a.appointment.is_none() && a.duplicate_of.is_none() => {
                a.lead_id
            }
            other => panic!("{}: not a plain new lead: {other:?}", o.record_key),
        })
        .collect();
    let (one_leads, crew_leads) = leads.split_at(one);
    (one_leads.to_vec(), crew_leads.to_vec())
}

/// The free slots of a workspace in the two weeks from now.
fn free_slots(engine: &Engine, workspace: &str) -> Vec<FreeSlot> {
    engine
        .available_slots(
            workspace,
            now(),
            now() + SignedDuration::from_hours(14 * 24),
        )
        .expect("available_slots")
}

/// Books, trying again while the store answers busy.
fn book(engine: &Engine, lead: LeadId, start: Timestamp, by_hand: Option<&str>) -> BookResult {
    let mut busy = 0;
    loop {
        match engine.book(lead, start, by_hand, None) {
            Err(e) if e.kind().is_retryable() && busy < MAX_BUSY_RETRIES => busy += 1,
            r => return r,
        }
    }
}

type BookResult = Result<Booked, Error>;

/// A booking's result as the checks need it: the booking, or the error's code, kind and
/// message.
type Answer = Result<Booked, (String, ErrorKind, String)>;

/// One raced slot: its workspace, capacity, and every booker's lead and result.
struct Race {
    workspace: &'static str,
    capacity: u32,
    slot: FreeSlot,
    results: Vec<(LeadId, Answer)>,
}

fn flatten(r: BookResult) -> Answer {
    r.map_err(|e| (e.code().to_string(), e.kind(), e.to_string()))
}

/// Checks one race's results (the first two points of the module docs' list, as the
/// bookers saw them).
fn check_results(race: &Race) {
    let winners: Vec<&Booked> = race
        .results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .collect();
    assert_eq!(
        winners.len(),
        race.capacity as usize,
        "{} slot {}: {} bookings succeeded, capacity {}; results: {:?}",
        race.workspace,
        race.slot.start,
        winners.len(),
        race.capacity,
        race.results
    );
    for (lead, r) in &race.results {
        match r {
            Ok(b) => {
                assert_eq!(b.lead_id, *lead);
                assert_eq!(b.workspace_id.as_deref(), Some(race.workspace));
                assert_eq!(
                    b.slot.map(|s| (s.start, s.end)),
                    Some((race.slot.start, race.slot.end)),
                    "the booking took the raced slot"
                );
            }
            Err((code, kind, msg)) => assert!(
                code == "slot_taken" && *kind == ErrorKind::Conflict,
                "{} slot {}: lead {lead} lost with {code} ({kind:?}), not slot_taken \
                 (Conflict): {msg}",
                race.workspace,
                race.slot.start
            ),
        }
    }
}

/// Checks the file and the free slots after all races (the last points of the module docs'
/// list). `initial_status` is the losers' status before the races.
fn check_file(path: &Path, races: &[Race], initial_status: &str) {
    let conn = Connection::open(path).expect("open");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy");
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok", "SQLite integrity check");

    // Appointments by (workspace, start): their leads.
    let mut stmt = conn
        .prepare("SELECT lead_id, workspace_id, appointment_date, status FROM appointments")
        .expect("prepare");
    let rows: Vec<(i64, Option<String>, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let mut booked: BTreeMap<(String, Timestamp), HashSet<i64>> = BTreeMap::new();
    for (lead, workspace, date, status) in rows {
        let workspace = workspace.unwrap_or_else(|| panic!("lead {lead}: unrouted ({status})"));
        let start: Timestamp = date.parse().expect("appointment_date");
        booked.entry((workspace, start)).or_default().insert(lead);
    }
    let status_of = |lead: LeadId| -> String {
        conn.query_row(
            "SELECT status FROM leads WHERE id = ?1",
            [lead.get()],
            |r| r.get(0),
        )
        .expect("lead status")
    };
    let counter = |key: &str| -> i64 {
        conn.query_row(
            "SELECT count FROM capacity_counters WHERE counter_key = ?1",
            [key],
            |r| r.get(0),
        )
        .unwrap_or(0)
    };
    let mut raced: HashSet<(String, Timestamp)> = HashSet::new();
    for race in races {
        let key = (race.workspace.to_string(), race.slot.start);
        raced.insert(key.clone());
        let winners: HashSet<i64> = race
            .results
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(l, _)| l.get())
            .collect();
        assert_eq!(
            booked.get(&key),
            Some(&winners),
            "{} slot {}: the appointments at the slot are the winners'",
            race.workspace,
            race.slot.start
        );
        assert_eq!(
            counter(&slot_counter_key(race.workspace, race.slot.start)),
            i64::from(race.capacity),
            "{} slot {}: the slot's counter",
            race.workspace,
            race.slot.start
        );
        for (lead, r) in &race.results {
            let status = status_of(*lead);
            if r.is_ok() {
                assert_eq!(status, "routed", "winner lead {lead}");
            } else {
                assert_eq!(status, initial_status, "loser lead {lead} unchanged");
            }
        }
    }
    let stray: Vec<_> = booked.keys().filter(|k| !raced.contains(*k)).collect();
    assert!(
        stray.is_empty(),
        "appointments outside the races: {stray:?}"
    );

    // The free slots: the raced ones are gone, the others untouched.
    let engine = engine(path);
    for workspace in [ONE.0, CREW.0] {
        let capacity = if workspace == CREW.0 {
            CREW_CAPACITY
        } else {
            1
        };
        let free = free_slots(&engine, workspace);
        assert!(!free.is_empty(), "{workspace} has free slots left");
        for s in &free {
            assert!(
                !raced.contains(&(workspace.to_string(), s.start)),
                "{workspace}: the full slot {} is still listed",
                s.start
            );
            assert_eq!(
                s.remaining, capacity,
                "{workspace}: slot {} untouched",
                s.start
            );
        }
    }
}

fn plain_status(path: &Path, lead: LeadId) -> String {
    let conn = Connection::open(path).expect("open");
    conn.query_row(
        "SELECT status FROM leads WHERE id = ?1",
        [lead.get()],
        |r| r.get(0),
    )
    .expect("lead status")
}

#[test]
fn threads_book_the_last_place_once() {
    let started = Instant::now();
    let mut rng = Rng(seed("threads"));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("booking.db");
    let (one_leads, crew_leads) = setup(&path, SLOTS * THREADS, CREW_SLOTS * CREW_THREADS);
    let initial_status = plain_status(&path, one_leads[0]);

    let first = engine(&path);
    let one_free = free_slots(&first, ONE.0);
    let crew_free = free_slots(&first, CREW.0);
    assert!(one_free.iter().all(|s| s.remaining == 1));
    assert!(crew_free.iter().all(|s| s.remaining == CREW_CAPACITY));
    // Raced slots: a seeded choice among the two weeks' slots (others stay free).
    let one_slots: Vec<FreeSlot> = rng
        .pick(one_free.len(), SLOTS)
        .into_iter()
        .map(|i| one_free[i])
        .collect();
    let crew_slots: Vec<FreeSlot> = rng
        .pick(crew_free.len(), CREW_SLOTS)
        .into_iter()
        .map(|i| crew_free[i])
        .collect();

    let engines: Vec<Engine> = (0..THREADS).map(|_| engine(&path)).collect();
    let mut races = Vec::new();
    let rounds = one_slots.iter().map(|s| (ONE.0, 1, *s, THREADS)).chain(
        crew_slots
            .iter()
            .map(|s| (CREW.0, CREW_CAPACITY, *s, CREW_THREADS)),
    );
    let (mut next_one, mut next_crew) = (0, 0);
    let mut by_hand_count = 0;
    for (workspace, capacity, slot, bookers) in rounds {
        let leads: Vec<LeadId> = if workspace == ONE.0 {
            next_one += bookers;
            one_leads[next_one - bookers..next_one].to_vec()
        } else {
            next_crew += bookers;
            crew_leads[next_crew - bookers..next_crew].to_vec()
        };
        let by_hand: Vec<bool> = (0..bookers).map(|_| rng.coin()).collect();
        by_hand_count += by_hand.iter().filter(|b| **b).count();
        let barrier = Barrier::new(bookers);
        let results = std::thread::scope(|s| {
            let handles: Vec<_> = (0..bookers)
                .map(|t| {
                    let (engine, barrier) = (&engines[t % THREADS], &barrier);
                    let (lead, hand) = (leads[t], by_hand[t].then_some(workspace));
                    s.spawn(move || {
                        barrier.wait();
                        (lead, flatten(book(engine, lead, slot.start, hand)))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("booker thread"))
                .collect()
        });
        let race = Race {
            workspace,
            capacity,
            slot,
            results,
        };
        check_results(&race);
        races.push(race);
    }
    check_file(&path, &races, &initial_status);
    eprintln!(
        "booking_race: threads: {SLOTS} slots x {THREADS} bookers (capacity 1), {CREW_SLOTS} \
         slots x {CREW_THREADS} bookers (capacity {CREW_CAPACITY}), {by_hand_count} by hand; \
         verified in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Prints one line to stdout and flushes it (the parent reads it at once).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").expect("stdout");
    out.flush().expect("flush stdout");
}

/// The child: `ready`, then for each slot in turn, on a `go` line, books its lead into it
/// and answers `ok <slot> <appointment id>` or `err <slot> <code> <kind> <message>`.
#[test]
#[ignore = "run by processes_book_the_last_place_once in a child process"]
fn child_books() {
    let Ok(arg) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = arg.split('\t').collect();
    let [path, c, leads, starts, hands] = parts[..] else {
        panic!("{CHILD_ENV}: <db>\t<child>\t<leads>\t<starts>\t<hands>, not {arg:?}")
    };
    let engine = engine(Path::new(path));
    let leads: Vec<LeadId> = leads
        .split(',')
        .map(|s| LeadId(s.parse().expect("lead id")))
        .collect();
    let starts: Vec<Timestamp> = starts
        .split(',')
        .map(|s| s.parse().expect("slot start"))
        .collect();
    let hands: Vec<bool> = hands.split(',').map(|s| s == "1").collect();
    assert_eq!((leads.len(), hands.len()), (starts.len(), starts.len()));
    say("ready");
    let stdin = std::io::stdin();
    for (i, start) in starts.iter().enumerate() {
        let mut go = String::new();
        stdin.lock().read_line(&mut go).expect("stdin");
        assert_eq!(go.trim(), "go", "child {c}: expected go");
        let by_hand = hands[i].then_some(ONE.0);
        match book(&engine, leads[i], *start, by_hand) {
            Ok(b) => say(&format!("ok {i} {}", b.appointment_id.get())),
            Err(e) => say(&format!(
                "err {i} {} {:?} {}",
                e.code(),
                e.kind(),
                e.to_string().replace('\n', " ")
            )),
        }
    }
    say("done");
}

/// A child process and its stdin.
struct Proc {
    child: Child,
    stdin: ChildStdin,
}

/// Kills every child still running when the test fails.
struct Procs(Vec<Proc>);

impl Drop for Procs {
    fn drop(&mut self) {
        for p in &mut self.0 {
            if p.child.try_wait().ok().flatten().is_none() {
                let _ = p.child.kill();
                let _ = p.child.wait();
            }
        }
    }
}

/// The next line a child printed; a child whose stdout closed must have said `done`.
fn next_line(
    rx: &Receiver<(usize, Option<String>)>,
    done: &HashSet<usize>,
    started: Instant,
) -> (usize, String) {
    loop {
        let left = DEADLINE.saturating_sub(started.elapsed());
        match rx.recv_timeout(left) {
            Ok((c, Some(line))) => return (c, line),
            Ok((c, None)) => assert!(done.contains(&c), "child {c} exited early"),
            Err(RecvTimeoutError::Timeout) => panic!("deadline passed"),
            Err(RecvTimeoutError::Disconnected) => unreachable!("the parent holds a sender"),
        }
    }
}

#[test]
fn processes_book_the_last_place_once() {
    let started = Instant::now();
    let mut rng = Rng(seed("processes"));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("booking.db");
    let (one_leads, _) = setup(&path, SLOTS * CHILDREN, 0);
    let initial_status = plain_status(&path, one_leads[0]);
    let free = free_slots(&engine(&path), ONE.0);
    let slots: Vec<FreeSlot> = rng
        .pick(free.len(), SLOTS)
        .into_iter()
        .map(|i| free[i])
        .collect();
    let starts = slots
        .iter()
        .map(|s| s.start.to_string())
        .collect::<Vec<_>>()
        .join(",");
    // Child `c` books lead `c * SLOTS + i` into slot `i`.
    let leads_of = |c: usize| &one_leads[c * SLOTS..(c + 1) * SLOTS];
    let hands: Vec<Vec<bool>> = (0..CHILDREN)
        .map(|_| (0..SLOTS).map(|_| rng.coin()).collect())
        .collect();

    let (tx, rx) = channel::<(usize, Option<String>)>();
    let exe = std::env::current_exe().expect("test binary");
    let mut procs = Procs(Vec::new());
    for (c, hands) in hands.iter().enumerate() {
        let leads = leads_of(c)
            .iter()
            .map(|l| l.get().to_string())
            .collect::<Vec<_>>()
            .join(",");
        let flags = hands
            .iter()
            .map(|&h| if h { "1" } else { "0" })
            .collect::<Vec<_>>()
            .join(",");
        let mut child = Command::new(&exe)
            .args(["--exact", CHILD_TEST, "--include-ignored", "--nocapture"])
            .env(
                CHILD_ENV,
                format!("{}\t{c}\t{leads}\t{starts}\t{flags}", path.display()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let stdin = child.stdin.take().expect("child stdin");
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send((c, Some(line))).is_err() {
                    return;
                }
            }
            let _ = tx.send((c, None));
        });
        procs.0.push(Proc { child, stdin });
    }
    // A child may print `done` before the others have answered the last slot.
    let mut done = HashSet::new();
    let mut ready = 0;
    while ready < CHILDREN {
        let (_, line) = next_line(&rx, &done, started);
        if line == "ready" {
            ready += 1;
        }
    }
    let mut races = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        for p in &mut procs.0 {
            p.stdin.write_all(b"go\n").expect("write go");
            p.stdin.flush().expect("flush go");
        }
        let mut answers: HashMap<usize, Answer> = HashMap::new();
        while answers.len() < CHILDREN {
            let (c, line) = next_line(&rx, &done, started);
            if line == "done" {
                assert!(done.insert(c), "child {c} done twice");
                continue;
            }
            if !line.starts_with("ok ") && !line.starts_with("err ") {
                continue; // libtest's own lines
            }
            let mut words = line.splitn(4, ' ');
            let (verb, n) = (words.next(), words.next());
            assert_eq!(n, Some(i.to_string().as_str()), "child {c}: {line}");
            let lead = leads_of(c)[i];
            let result = match verb {
                Some("ok") => {
                    let id: i64 = words.next().expect("id").parse().expect("id");
                    Ok(Booked {
                        appointment_id: leadroute::model::AppointmentId(id),
                        lead_id: lead,
                        workspace_id: Some(ONE.0.to_string()),
                        slot: Some(leadroute::booking::Slot {
                            start: slot.start,
                            end: slot.end,
                        }),
                    })
                }
                Some("err") => {
                    let code = words.next().expect("code").to_string();
                    let rest = words.next().unwrap_or_default();
                    let (kind, msg) = rest.split_once(' ').unwrap_or((rest, ""));
                    let kind = if kind == "Conflict" {
                        ErrorKind::Conflict
                    } else {
                        ErrorKind::Internal // anything else fails the check below
                    };
                    Err((code, kind, msg.to_string()))
                }
                _ => panic!("child {c}: unexpected line {line:?}"),
            };
            assert!(
                answers.insert(c, result).is_none(),
                "child {c} answered twice"
            );
        }
        let race = Race {
            workspace: ONE.0,
            capacity: 1,
            slot: *slot,
            results: (0..CHILDREN)
                .map(|c| (leads_of(c)[i], answers.remove(&c).expect("answer")))
                .collect(),
        };
        check_results(&race);
        races.push(race);
    }
    while done.len() < CHILDREN {
        let (c, line) = next_line(&rx, &done, started);
        if line == "done" {
            assert!(done.insert(c), "child {c} done twice");
        }
    }
    for (c, p) in procs.0.iter_mut().enumerate() {
        let status = p.child.wait().expect("wait");
        assert!(status.success(), "child {c} failed: {status:?}");
    }
    // The appointment ids the children reported are the stored ones.
    let conn = Connection::open(&path).expect("open");
    for race in &races {
        for (lead, r) in &race.results {
            if let Ok(b) = r {
                let stored: i64 = conn
                    .query_row(
                        "SELECT id FROM appointments WHERE lead_id = ?1",
                        [lead.get()],
                        |r| r.get(0),
                    )
                    .expect("the winner's appointment");
                assert_eq!(stored, b.appointment_id.get());
            }
        }
    }
    check_file(&path, &races, &initial_status);
    let wins: Vec<usize> = (0..CHILDREN)
        .map(|c| races.iter().filter(|r| r.results[c].1.is_ok()).count())
        .collect();
    eprintln!(
        "booking_race: processes: {SLOTS} slots x {CHILDREN} processes; wins per process \
         {wins:?}; verified in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
