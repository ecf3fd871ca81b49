//! Caps hold under concurrent ingestion into one SQLite file: several threads, and several
//! processes, each with its own store, never assign more appointments than a cap allows.
//!
//! The capped workspace takes 7 appointments a day; a backup workspace at a worse priority
//! takes the rest. Every writer ingests distinct people for the same (product, ZIP) at once.
//! The multi-process test re-executes this test binary; the child is the `#[ignore]`d test
//! `child_ingests`, which does nothing unless its environment variable is set.

use leadroute::capacity::{Cap, CapPeriod, Capacity};
use leadroute::engine::{Outcome, RoutingOutcome};
use leadroute::intake::RawRecord;
use leadroute::model::{Cents, Provider, Workspace};
use leadroute::routing::RoutingRule;
use leadroute::sqlite::SqliteStore;
use leadroute::{Engine, EngineConfig};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};

const CAP: u32 = 7;
const WRITERS: u32 = 4;
const PER_WRITER: u32 = 12;
const CHILD_ENV: &str = "LEADROUTE_CAPS_CHILD";

fn workspace(id: &str, capacity: Capacity) -> Workspace {
    Workspace {
        business_type: Some("Solar".into()),
        timezone: Some("America/Indiana/Indianapolis".into()),
        capacity,
        ..Workspace::new(id, &format!("http://127.0.0.1:9/hooks/{id}"), Cents(20_000))
    }
}

fn rule(id: i64, ws: &str, priority: i32) -> RoutingRule {
    RoutingRule::new(id, ws, &["Solar"], &["46262"], priority)
}

/// Creates the database and its configuration.
fn setup(path: &Path) {
    let engine = engine(path);
    let capped = Capacity {
        caps: vec![Cap {
            period: CapPeriod::Day,
            limit: CAP,
        }],
        budget: None,
    };
    engine
        .configure(
            &[Provider::new("provider-a")],
            &[
                workspace("capped", capped),
                workspace("backup", Capacity::default()),
            ],
            &[rule(1, "capped", 1), rule(2, "backup", 2)],
        )
        .unwrap();
}

fn engine(path: &Path) -> Engine {
    let store = Arc::new(SqliteStore::open(path).unwrap());
    Engine::new(store, EngineConfig::default()).unwrap()
}

/// Ingests writer `w`'s people one record per transaction; returns how many went to the
/// capped workspace.
fn ingest(path: &Path, w: u32) -> u32 {
    let engine = engine(path);
    let mut capped = 0;
    for i in 0..PER_WRITER {
        let n = w * 100 + i;
        let record = RawRecord::Json(format!(
            r#"{{"phone": "317863{n:04}", "zip_code": "46262", "product_type": "Solar",
                "appointment_date": "2026-11-24T13:00:00Z", "lead_id": "w{w}-{i}"}}"#
        ));
        match engine.ingest("provider-a", &record).unwrap().outcome {
            Outcome::Accepted(a) => match a.appointment.unwrap().1 {
                RoutingOutcome::Routed { workspace_id, .. } if workspace_id == "capped" => {
                    capped += 1
                }
                RoutingOutcome::Routed { .. } => {}
                other => panic!("unexpected routing {other:?}"),
            },
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    capped
}

/// Appointments per workspace, routed ones only, by count descending then workspace id.
fn routed_per_workspace(path: &Path) -> Vec<(String, u64)> {
    let store = SqliteStore::open(path).unwrap();
    let all = leadroute::storage::with_tx(&store, |tx| {
        Ok(tx.appointments_after(leadroute::model::AppointmentId(0), 100_000)?)
    })
    .unwrap();
    let mut per: std::collections::BTreeMap<String, u64> = Default::default();
    for a in all {
        if let leadroute::model::Assignment::Routed { workspace_id, .. } = a.appointment.assignment
        {
            *per.entry(workspace_id).or_default() += 1;
        }
    }
    let mut rows: Vec<(String, u64)> = per.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows
}

#[test]
fn threads_never_over_assign_a_cap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("caps.db");
    setup(&path);
    let barrier = Arc::new(Barrier::new(WRITERS as usize));
    let capped: u32 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (barrier, path) = (barrier.clone(), path.clone());
                s.spawn(move || {
                    barrier.wait();
                    ingest(&path, w)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(capped, CAP, "the writers' own outcomes");
    let total = u64::from(WRITERS * PER_WRITER);
    assert_eq!(
        routed_per_workspace(&path),
        vec![
            ("backup".to_string(), total - u64::from(CAP)),
            ("capped".to_string(), u64::from(CAP))
        ]
    );
}

#[test]
fn processes_never_over_assign_a_cap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("caps.db");
    setup(&path);
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..WRITERS)
        .map(|w| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "child_ingests",
                    "--include-ignored",
                    "--nocapture",
                ])
                .env(CHILD_ENV, format!("{}|{w}", path.display()))
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a child process failed");
    }
    let total = u64::from(WRITERS * PER_WRITER);
    assert_eq!(
        routed_per_workspace(&path),
        vec![
            ("backup".to_string(), total - u64::from(CAP)),
            ("capped".to_string(), u64::from(CAP))
        ]
    );
}

/// The child of [`processes_never_over_assign_a_cap`]; a no-op when run directly.
#[test]
#[ignore = "run by processes_never_over_assign_a_cap in a child process"]
fn child_ingests() {
    let Ok(arg) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (path, w) = arg.rsplit_once('|').unwrap();
    ingest(Path::new(path), w.parse().unwrap());
}
