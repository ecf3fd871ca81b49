//! SQLite-specific behavior: migrations, pragmas, error mapping, and invariants under
//! concurrent writers that each hold their own connection to one file.

use leadroute_core::contact::resolve_contact;
use leadroute_core::model::*;
use leadroute_core::storage::{with_tx, StorageError, Store};
use leadroute_core::{Error, ErrorKind};
use leadroute_sqlite::{SqliteOptions, SqliteStore};
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;
use time::macros::datetime;
use time::OffsetDateTime;

const T0: OffsetDateTime = datetime!(2025-03-14 15:09:26.535897 UTC);

fn workspace() -> Workspace {
    Workspace {
        id: "solar_ca_001".into(),
        name: "Golden State Solar".into(),
        outbound_webhook_url: "https://hooks.goldenstate.example/leadroute".into(),
        webhook_active: true,
        business_type: Some("Solar".into()),
        payment_rate: Cents(20000),
        timezone: Some("America/Los_Angeles".into()),
        webhook_secret: None,
    }
}

fn contact(phone: &str) -> NewContact {
    NewContact {
        dedup_scope: "provider:provider-a".into(),
        phone_e164: phone.into(),
        phone_extension: None,
        email: Some("stephanie.ortiz@example.com".into()),
        first_name: Some("Stephanie".into()),
        last_name: Some("Ortiz".into()),
        zip_code: Some("90210".into()),
        created_at: T0,
    }
}

fn lead(contact_id: ContactId, key: &str) -> NewLead {
    NewLead {
        contact_id,
        provider_id: "provider-a".into(),
        record_key: key.into(),
        external_id: Some(key.into()),
        product_type: "Solar".into(),
        zip_code: "90210".into(),
        appointment_date: Some(datetime!(2025-03-18 17:30 UTC)),
        estimated_value: Some(18_500.0),
        tcpa_consent: Some(true),
        fields: serde_json::json!({"first_name": "Stephanie"}),
        warnings: vec![],
        raw_payload: format!(r#"{{"lead_id":"{key}"}}"#),
        received_at: T0,
    }
}

fn rejection(key: &str) -> NewRejection {
    NewRejection {
        provider_id: "provider-a".into(),
        record_key: key.into(),
        reason_codes: vec!["unknown_zip".into()],
        details: vec!["ZIP 00000 does not exist".into()],
        raw_payload: format!(r#"{{"lead_id":"{key}","zip":"00000"}}"#),
        received_at: T0,
    }
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("raw connection")
}

fn storage_error(e: &Error) -> &StorageError {
    match e {
        Error::Storage(s) => s,
        other => panic!("expected a storage error, got {other:?}"),
    }
}

/// Seeds `n` routed appointments with a delivery each, all due at `T0`.
fn seed_deliveries(store: &dyn Store, n: u32) -> Vec<DeliveryId> {
    with_tx(store, |tx| {
        tx.put_workspace(&workspace())?;
        let mut out = Vec::new();
        for i in 0..n {
            let c = tx.insert_contact(&contact(&format!("+1317{:07}", 8638426 + i)))?;
            let l = tx.insert_lead(&lead(c, &format!("PA-{i:05}")))?;
            let a = tx.insert_appointment(&NewAppointment {
                lead_id: l,
                contact_id: c,
                service_type: "Solar".into(),
                zip_code: "90210".into(),
                appointment_date: datetime!(2025-03-18 17:30 UTC),
                estimated_value: None,
                notes: None,
                assignment: Assignment::Routed {
                    workspace_id: "solar_ca_001".into(),
                    rule_id: Some(1),
                    method: RoutingMethod::Auto,
                    matched_at: T0,
                    payment_rate: Cents(20000),
                },
                created_at: T0,
            })?;
            out.push(tx.enqueue_delivery(&NewDelivery {
                appointment_id: a,
                workspace_id: "solar_ca_001".into(),
                webhook_id: format!("msg_{a:08}"),
                url: "https://hooks.goldenstate.example/leadroute".into(),
                payload: format!(r#"{{"appointment_id":{a}}}"#),
                next_attempt_at: T0,
                created_at: T0,
            })?);
        }
        Ok(out)
    })
    .expect("seed deliveries")
}

#[test]
fn file_is_wal_with_foreign_keys_and_migrated() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadroute.sqlite");
    let store = SqliteStore::open(&path).expect("open");
    assert_eq!(
        store.schema_version().expect("version"),
        SqliteStore::SCHEMA_VERSION
    );
    let conn = raw(&path);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("user_version");
    assert_eq!(version, SqliteStore::SCHEMA_VERSION);
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("tables");
    for t in [
        "appointment_events",
        "appointment_routing_rules",
        "appointments",
        "billing_events",
        "contact_events",
        "contacts",
        "deliveries",
        "delivery_attempts",
        "lead_events",
        "lead_rejections",
        "lead_source_providers",
        "leads",
        "source_records",
        "workspaces",
    ] {
        assert!(
            tables.iter().any(|x| x == t),
            "missing table {t}: {tables:?}"
        );
    }
}

#[test]
fn reopening_is_a_no_op_and_keeps_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadroute.sqlite");
    {
        let store = SqliteStore::open(&path).expect("first open");
        with_tx(&store, |tx| Ok(tx.put_workspace(&workspace())?)).expect("write");
    }
    let before: i64 = raw(&path)
        .query_row("SELECT COUNT(*) FROM sqlite_schema", [], |r| r.get(0))
        .expect("schema objects");
    for _ in 0..3 {
        let store = SqliteStore::open(&path).expect("reopen");
        assert_eq!(
            store.schema_version().expect("version"),
            SqliteStore::SCHEMA_VERSION
        );
        let ws = with_tx(&store, |tx| Ok(tx.workspace("solar_ca_001")?)).expect("read");
        assert_eq!(ws, Some(workspace()));
    }
    let after: i64 = raw(&path)
        .query_row("SELECT COUNT(*) FROM sqlite_schema", [], |r| r.get(0))
        .expect("schema objects");
    assert_eq!(before, after, "reopening must not re-run migrations");
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadroute.sqlite");
    drop(SqliteStore::open(&path).expect("open"));
    raw(&path)
        .pragma_update(None, "user_version", SqliteStore::SCHEMA_VERSION + 1)
        .expect("bump version");
    let err = SqliteStore::open(&path).expect_err("a newer schema must be refused");
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn timestamps_are_stored_as_fixed_width_utc_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadroute.sqlite");
    let store = SqliteStore::open(&path).expect("open");
    let id = with_tx(&store, |tx| {
        Ok(tx.insert_contact(&NewContact {
            created_at: datetime!(2025-03-14 10:09:26.5 -05:00),
            ..contact("+13178638426")
        })?)
    })
    .expect("insert");
    let text: String = raw(&path)
        .query_row("SELECT created_at FROM contacts WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .expect("created_at");
    assert_eq!(text, "2025-03-14T15:09:26.500000Z");
}

#[test]
fn undecodable_rows_are_corrupt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadroute.sqlite");
    let store = SqliteStore::open(&path).expect("open");
    with_tx(&store, |tx| Ok(tx.put_workspace(&workspace())?)).expect("write");
    let id = with_tx(
        &store,
        |tx| Ok(tx.insert_contact(&contact("+13178638426"))?),
    )
    .expect("insert");
    let conn = raw(&path);
    conn.execute(
        "UPDATE contacts SET created_at = 'yesterday' WHERE id = ?1",
        [id],
    )
    .expect("corrupt the timestamp");
    let err = with_tx(&store, |tx| Ok(tx.contact(id)?)).expect_err("bad timestamp");
    assert!(
        matches!(storage_error(&err), StorageError::Corrupt(_)),
        "{err:?}"
    );
    conn.execute(
        "INSERT INTO lead_source_providers (id, name, lead_types, format, field_map, \
         is_active, created_at, updated_at) \
         VALUES ('provider-x', 'X', 'not json', 'json', '{}', 1, '', '')",
        [],
    )
    .expect("insert a bad provider");
    let err = with_tx(&store, |tx| Ok(tx.provider("provider-x")?)).expect_err("bad JSON");
    assert!(
        matches!(storage_error(&err), StorageError::Corrupt(_)),
        "{err:?}"
    );
}

#[test]
fn a_held_write_lock_is_busy_after_the_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadroute.sqlite");
    let holder = SqliteStore::open(&path).expect("open holder");
    let waiter = SqliteStore::open_with(
        &path,
        SqliteOptions::default().busy_timeout(Duration::from_millis(100)),
    )
    .expect("open waiter");
    let started = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    std::thread::scope(|s| {
        let (started2, release2) = (started.clone(), release.clone());
        let holder = &holder;
        s.spawn(move || {
            with_tx(holder, |tx| {
                tx.put_workspace(&workspace())?;
                started2.wait();
                release2.wait();
                Ok(())
            })
            .expect("holder commits");
        });
        started.wait();
        let err = with_tx(&waiter, |tx| Ok(tx.counts()?)).expect_err("must time out");
        release.wait();
        assert!(
            matches!(storage_error(&err), StorageError::Busy(_)),
            "{err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::Temporary);
        assert!(err.kind().is_retryable());
    });
    let ws = with_tx(&waiter, |tx| Ok(tx.workspace("solar_ca_001")?)).expect("after release");
    assert_eq!(
        ws,
        Some(workspace()),
        "the waiter sees the holder's commit afterwards"
    );
}

/// Four threads, each with its own connection to one new file, ingest the same records with
/// the same contact. Each record must end as exactly one outcome and the contact must exist
/// once, whatever the interleaving.
#[test]
fn concurrent_writers_on_one_file_keep_the_invariants() {
    const THREADS: usize = 4;
    const KEYS: usize = 60;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadroute.sqlite");
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (path, barrier) = (&path, &barrier);
            s.spawn(move || {
                barrier.wait();
                // Opening concurrently also races the first migration of the new file.
                let store = SqliteStore::open(path).expect("open");
                let mut won = 0;
                for k in 0..KEYS {
                    // All threads race for each key at the same moment.
                    barrier.wait();
                    let key = format!("PA-{k:05}");
                    let r = with_tx(&store, |tx| {
                        let (c, _) = resolve_contact(tx, &contact("+13178638426"))?;
                        // Half of the threads try a lead, the others a rejection; no look-up
                        // first, so the UNIQUE constraints have to refuse the losers.
                        let outcome = if (k + t) % 2 == 0 {
                            tx.insert_lead(&lead(c, &key)).map(StoredRecord::Lead)
                        } else {
                            tx.insert_rejection(&rejection(&key))
                                .map(StoredRecord::Rejection)
                        };
                        match outcome {
                            Ok(o) => Ok(Some(o)),
                            Err(StorageError::Conflict(_)) => Ok(None),
                            Err(e) => Err(e.into()),
                        }
                    });
                    match r {
                        Ok(Some(_)) => won += 1,
                        Ok(None) => {}
                        Err(e) => panic!("thread {t}, record {key}: {e}"),
                    }
                }
                eprintln!("thread {t} stored {won} of {KEYS} outcomes");
            });
        }
    });
    let store = SqliteStore::open(&path).expect("open");
    let counts = with_tx(&store, |tx| Ok(tx.counts()?)).expect("counts");
    assert_eq!(counts.contacts, 1, "one contact per (dedup scope, phone)");
    assert_eq!(
        counts.leads + counts.rejections,
        KEYS as u64,
        "exactly one outcome per record key: {counts:?}"
    );
    for k in 0..KEYS {
        let key = format!("PA-{k:05}");
        let stored = with_tx(&store, |tx| Ok(tx.stored_record("provider-a", &key)?)).expect("read");
        assert!(stored.is_some(), "record {key} has no outcome");
    }
    let conn = raw(&path);
    let dangling: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM source_records WHERE (lead_id IS NULL) = (rejection_id IS NULL)",
            [],
            |r| r.get(0),
        )
        .expect("source_records");
    assert_eq!(
        dangling, 0,
        "every source record points to exactly one outcome"
    );
}

/// Two stores on one file claim the same due deliveries concurrently: while the leases hold,
/// no delivery is handed to both.
#[test]
fn concurrent_claims_never_share_a_delivery() {
    const DELIVERIES: u32 = 300;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadroute.sqlite");
    let all: HashSet<DeliveryId> = {
        let store = SqliteStore::open(&path).expect("open");
        seed_deliveries(&store, DELIVERIES).into_iter().collect()
    };
    let now = T0 + time::Duration::seconds(1);
    let lease = T0 + time::Duration::hours(1);
    let barrier = Barrier::new(2);
    let claimed: Vec<Vec<DeliveryId>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (path, barrier) = (&path, &barrier);
                s.spawn(move || {
                    let store = SqliteStore::open(path).expect("open");
                    barrier.wait();
                    let mut mine = Vec::new();
                    loop {
                        let batch =
                            with_tx(&store, |tx| Ok(tx.claim_due_deliveries(now, 7, lease)?))
                                .expect("claim");
                        if batch.is_empty() {
                            break;
                        }
                        assert!(batch.len() <= 7);
                        assert!(batch.iter().all(|d| d.locked_until == Some(lease)));
                        mine.extend(batch.iter().map(|d| d.id));
                        // "Post" outside any transaction, as the delivery worker does, so the
                        // other worker gets the write lock in between.
                        std::thread::sleep(Duration::from_millis(2));
                        if mine.len() % 2 == 0 {
                            // Record some outcomes; a retry far in the future keeps the
                            // delivery out of this test's window once its lease is cleared.
                            with_tx(&store, |tx| {
                                for d in &batch {
                                    tx.record_attempt(
                                        &Attempt {
                                            delivery_id: d.id,
                                            attempt_number: 1,
                                            requested_at: now,
                                            duration_ms: 87,
                                            status_code: Some(503),
                                            error: None,
                                            response_excerpt: None,
                                        },
                                        &AttemptResult::Retry {
                                            next_attempt_at: T0 + time::Duration::days(1),
                                        },
                                    )?;
                                }
                                Ok(())
                            })
                            .expect("record attempts");
                        }
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });
    eprintln!(
        "claims per worker: {} and {}",
        claimed[0].len(),
        claimed[1].len()
    );
    let a: HashSet<_> = claimed[0].iter().copied().collect();
    let b: HashSet<_> = claimed[1].iter().copied().collect();
    assert_eq!(a.len(), claimed[0].len(), "a worker got a delivery twice");
    assert_eq!(b.len(), claimed[1].len(), "a worker got a delivery twice");
    assert!(
        a.is_disjoint(&b),
        "both workers claimed {:?}",
        a.intersection(&b).collect::<Vec<_>>()
    );
    let union: HashSet<_> = a.union(&b).copied().collect();
    assert_eq!(union, all, "every due delivery is claimed exactly once");
}
