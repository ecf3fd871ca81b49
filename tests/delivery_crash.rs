//! Crash safety of delivery: a delivering process is killed with SIGKILL at random moments and
//! restarted, again and again. In the end every appointment is delivered, none is billed
//! twice, and every delivery's attempt rows are complete (numbers 1..=attempts, no gap).
//!
//! A killed worker may die after the client received a request but before the attempt was
//! recorded: its lease expires and the delivery is sent again with the same `webhook-id`, the
//! client's idempotency key. Delivery is at least once; billing is exactly once.
//!
//! The child is this test binary re-executed on the `#[ignore]`d test `child_delivers`.

use leadroute::delivery::UreqTransport;
use leadroute::intake::RawRecord;
use leadroute::model::{Cents, DeliveryId, Provider, Workspace};
use leadroute::routing::RoutingRule;
use leadroute::sqlite::SqliteStore;
use leadroute::storage::with_tx;
use leadroute::{Engine, EngineConfig};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const APPOINTMENTS: u64 = 300;
const CHILD_ENV: &str = "LEADROUTE_CRASH_CHILD";

fn engine(path: &Path) -> Engine {
    let config = EngineConfig {
        // A killed worker's claims come back quickly.
        lease: Duration::from_millis(800),
        delivery_workers: 4,
        ..EngineConfig::default()
    };
    Engine::new(Arc::new(SqliteStore::open(path).unwrap()), config).unwrap()
}

fn setup(path: &Path, base: &str) {
    let engine = engine(path);
    engine
        .configure(
            &[Provider::new("p")],
            &[Workspace {
                business_type: Some("Solar".into()),
                timezone: Some("UTC".into()),
                webhook_secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
                ..Workspace::new("solar_in", &format!("{base}/hooks/solar_in"), Cents(20_000))
            }],
            &[RoutingRule::new(1, "solar_in", &["Solar"], &["46262"], 1)],
        )
        .unwrap();
    let records: Vec<RawRecord> = (0..APPOINTMENTS)
        .map(|n| {
            RawRecord::Json(format!(
                r#"{{"phone": "317863{n:04}", "zip_code": "46262", "product_type": "Solar",
                    "appointment_date": "2026-11-24T13:00:00Z", "lead_id": "k{n}"}}"#
            ))
        })
        .collect();
    engine.ingest_batch("p", &records).unwrap();
}

/// Requests seen per webhook-id.
type Seen = Arc<Mutex<HashMap<String, u32>>>;

/// A receiver that answers 200 after a few milliseconds and counts requests per webhook-id.
fn receiver() -> (String, Seen, Arc<tiny_http::Server>) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let base = format!("http://{}", server.server_addr());
    let seen = Arc::new(Mutex::new(HashMap::new()));
    for _ in 0..4 {
        let (s, seen) = (server.clone(), seen.clone());
        std::thread::spawn(move || {
            while let Ok(req) = s.recv() {
                let id = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("webhook-id"))
                    .map(|h| h.value.as_str().to_string())
                    .unwrap_or_default();
                std::thread::sleep(Duration::from_millis(10));
                *seen.lock().unwrap().entry(id).or_default() += 1;
                let _ = req.respond(tiny_http::Response::from_string("ok"));
            }
        });
    }
    (base, seen, server)
}

/// A pseudo-random delay from the clock (no extra dependency).
fn jitter_ms(round: u32) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    40 + u64::from((nanos ^ round.wrapping_mul(2_654_435_761)) % 260)
}

#[test]
fn sigkilled_deliverers_lose_nothing_and_bill_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let (base, seen, server) = receiver();
    setup(&path, &base);
    let exe = std::env::current_exe().unwrap();
    let spawn = || {
        Command::new(&exe)
            .args([
                "--exact",
                "child_delivers",
                "--include-ignored",
                "--nocapture",
            ])
            .env(CHILD_ENV, path.display().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let delivered = || {
        let store = SqliteStore::open(&path).unwrap();
        with_tx(&store, |tx| Ok(tx.reports().counts()?.deliveries_succeeded)).unwrap()
    };
    let mut mid_run_kills = 0;
    for round in 0..8 {
        let mut child = spawn();
        std::thread::sleep(Duration::from_millis(jitter_ms(round)));
        if child.try_wait().unwrap().is_none() && delivered() < APPOINTMENTS {
            child.kill().unwrap(); // SIGKILL on Unix
            mid_run_kills += 1;
        }
        child.wait().unwrap();
    }
    // A last worker runs to completion.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = spawn();
    while last.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the last worker did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(last.wait().unwrap().success());
    assert!(
        mid_run_kills >= 3,
        "workers killed while work remained: {mid_run_kills}"
    );

    let store = SqliteStore::open(&path).unwrap();
    let (counts, gaps) = with_tx(&store, |tx| {
        let counts = tx.reports().counts()?;
        let mut gaps = Vec::new();
        for id in 1..=APPOINTMENTS as i64 {
            let d = tx.delivery(DeliveryId(id))?.unwrap();
            let numbers: Vec<u32> = tx
                .attempts(DeliveryId(id))?
                .iter()
                .map(|a| a.attempt_number)
                .collect();
            if numbers != (1..=d.attempts).collect::<Vec<_>>() {
                gaps.push((id, d.attempts, numbers));
            }
        }
        Ok((counts, gaps))
    })
    .unwrap();
    assert_eq!(
        counts.deliveries_succeeded, APPOINTMENTS,
        "every appointment delivered"
    );
    assert_eq!(
        counts.billing_events, APPOINTMENTS,
        "billed exactly once each"
    );
    assert_eq!(counts.billed, Cents(20_000 * APPOINTMENTS as i64));
    assert!(gaps.is_empty(), "attempt rows with gaps: {gaps:?}");
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.len() as u64,
        APPOINTMENTS,
        "every webhook-id reached the client"
    );
    server.unblock();
}

/// The child: delivers until everything is delivered (or it is killed).
#[test]
#[ignore = "run by sigkilled_deliverers_lose_nothing_and_bill_once in a child process"]
fn child_delivers() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let engine = engine(Path::new(&path));
    let transport = UreqTransport::new();
    loop {
        let r = engine.deliver_due(&transport, 20).unwrap();
        if r.attempted == 0 {
            if engine.counts().unwrap().deliveries_succeeded == APPOINTMENTS {
                return;
            }
            // Claims of a killed worker: wait for their leases to expire.
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
