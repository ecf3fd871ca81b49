//! SQLite-specific behavior: migrations, pragmas, error mapping, and invariants under
//! concurrent writers that each hold their own connection to one file.

use jiff::{SignedDuration, Timestamp};
use leadroute_core::contact::resolve_contact;
use leadroute_core::model::*;
use leadroute_core::storage::{with_tx, StorageError, StorageErrorKind, Store};
use leadroute_core::{Error, ErrorKind};
use leadroute_sqlite::{SqliteOptions, SqliteStore};
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;

/// 2025-03-14T15:09:26.535897Z.
const T0: Timestamp = Timestamp::constant(1_741_964_966, 535_897_000);

fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

/// Stores a new contact: its id, or `Conflict` when its key is taken.
fn insert_contact(
    tx: &dyn leadroute_core::storage::Tx,
    c: &NewContact,
) -> Result<ContactId, StorageError> {
    match tx.insert_contact_if_absent(c)? {
        leadroute_core::storage::Inserted::Created(id) => Ok(id),
        leadroute_core::storage::Inserted::Existing(id) => {
            Err(StorageError::conflict(format!("contact {id} exists")))
        }
    }
}

/// Stores a lead at `new`, as intake does for a lead without an appointment time.
fn insert_lead(tx: &dyn leadroute_core::storage::Tx, l: &NewLead) -> Result<LeadId, StorageError> {
    tx.insert_lead_as(l, LeadStatus::New, None, l.received_at)
}

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
        duplicate_window_days: None,
        capacity: Default::default(),
        schedule: None,
        delivery: Default::default(),
        require_consent: false,
        returns: Default::default(),
        messages: None,
        calendar: None,
    }
}

fn contact(phone: &str) -> NewContact {
    NewContact {
        dedup_scope: "provider:provider-a".into(),
        phone_e164: Some(phone.into()),
        phone_extension: None,
        email: Some("stephanie.ortiz@example.com".into()),
        email_key: Some("stephanie.ortiz@example.com".into()),
        first_name: Some("Stephanie".into()),
        last_name: Some("Ortiz".into()),
        zip_code: Some("90210".into()),
        created_at: T0,
    }
}

fn lead(contact_id: ContactId, key: &str) -> NewLead {
    NewLead {
        contact_id,
        duplicate_of: None,
        provider_id: "provider-a".into(),
        record_key: key.into(),
        external_id: Some(key.into()),
        product_type: "Solar".into(),
        zip_code: "90210".into(),
        appointment_date: Some(ts("2025-03-18T17:30:00Z")),
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
        reason_codes: vec![ReasonCode::UnknownZip],
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
            let c = insert_contact(tx, &contact(&format!("+1317{:07}", 8638426 + i)))?;
            let l = insert_lead(tx, &lead(c, &format!("PA-{i:05}")))?;
            let a = tx.insert_appointment(&NewAppointment {
                lead_id: l,
                contact_id: c,
                service_type: "Solar".into(),
                zip_code: "90210".into(),
                appointment_date: ts("2025-03-18T17:30:00Z"),
                estimated_value: None,
                notes: None,
                assignment: Assignment::Routed {
                    workspace_id: "solar_ca_001".into(),
                    rule_id: Some(1),
                    method: RoutingMethod::Auto,
                    matched_at: T0,
                    payment_rate: Cents(20000),
                },
                details: Default::default(),
                created_at: T0,
            })?;
            out.push(tx.enqueue_delivery(&NewDelivery {
                appointment_id: a,
                event: WebhookEventType::AppointmentCreated,
                sequence: 0,
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
        "contact_queue",
        "contact_attempts",
        "suppression_list",
        "scheduled_messages",
        "message_logs",
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
        Ok(insert_contact(
            tx,
            &NewContact {
                created_at: ts("2025-03-14T10:09:26.5-05:00"),
                ..contact("+13178638426")
            },
        )?)
    })
    .expect("insert");
    let text: String = raw(&path)
        .query_row(
            "SELECT created_at FROM contacts WHERE id = ?1",
            [id.get()],
            |r| r.get(0),
        )
        .expect("created_at");
    assert_eq!(text, "2025-03-14T15:09:26.500000Z");
}

#[test]
fn undecodable_rows_are_corrupt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadroute.sqlite");
    let store = SqliteStore::open(&path).expect("open");
    with_tx(&store, |tx| Ok(tx.put_workspace(&workspace())?)).expect("write");
    let id = with_tx(&store, |tx| {
        Ok(insert_contact(tx, &contact("+13178638426"))?)
    })
    .expect("insert");
    let conn = raw(&path);
    conn.execute(
        "UPDATE contacts SET created_at = 'yesterday' WHERE id = ?1",
        [id.get()],
    )
    .expect("corrupt the timestamp");
    let err = with_tx(&store, |tx| Ok(tx.contact(id)?)).expect_err("bad timestamp");
    assert!(
        matches!(storage_error(&err), e if e.kind() == StorageErrorKind::Corrupt),
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
        matches!(storage_error(&err), e if e.kind() == StorageErrorKind::Corrupt),
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
        let err = with_tx(&waiter, |tx| Ok(tx.reports().counts()?)).expect_err("must time out");
        release.wait();
        assert!(
            matches!(storage_error(&err), e if e.kind() == StorageErrorKind::Unavailable),
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
                            insert_lead(tx, &lead(c, &key)).map(StoredRecord::Lead)
                        } else {
                            tx.insert_rejection(&rejection(&key))
                                .map(StoredRecord::Rejection)
                        };
                        match outcome {
                            Ok(o) => Ok(Some(o)),
                            Err(e) if e.kind() == StorageErrorKind::Conflict => Ok(None),
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
    let counts = with_tx(&store, |tx| Ok(tx.reports().counts()?)).expect("counts");
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
    let now = T0 + SignedDuration::from_secs(1);
    let lease = T0 + SignedDuration::from_hours(1);
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
                                            next_attempt_at: T0 + SignedDuration::from_hours(24),
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

/// Builds a version-1 database at `path` the way version 1 of this crate did (the SQL of
/// migration 1, then `user_version = 1`), with two contacts, leads, an appointment, a contact
/// event and a rejection, written with raw SQL.
fn version_1_database(path: &Path) {
    let conn = raw(path);
    conn.pragma_update(None, "journal_mode", "WAL")
        .expect("wal");
    conn.pragma_update(None, "foreign_keys", true).expect("fk");
    conn.execute_batch(&format!(
        "BEGIN; {} PRAGMA user_version = 1; COMMIT;",
        include_str!("../migrations/0001_init.sql")
    ))
    .expect("migration 1");
    conn.execute_batch(
        "INSERT INTO workspaces (id, name, outbound_webhook_url, webhook_active, business_type, \
           payment_rate_cents, timezone, webhook_secret, created_at, updated_at) \
         VALUES ('solar_ca_001', 'Golden State Solar', 'https://hooks.goldenstate.example/leadroute', \
           1, 'Solar', 20000, 'America/Los_Angeles', NULL, '2025-03-14T15:09:26.535897Z', \
           '2025-03-14T15:09:26.535897Z');
         INSERT INTO contacts (dedup_scope, phone_e164, phone_extension, email, first_name, \
           last_name, zip_code, created_at) \
         VALUES ('provider:provider-a', '+13178638426', NULL, 'stephanie.ortiz@example.com', \
           'Stephanie', 'Ortiz', '90210', '2025-03-14T15:09:26.535897Z'), \
                ('provider:provider-a', '+19198233590', '204', NULL, 'Matthew', NULL, NULL, \
           '2025-03-14T15:09:26.535897Z'), \
                ('provider:provider-a', '+14155550132', NULL, NULL, NULL, NULL, NULL, \
           '2025-03-14T15:09:26.535897Z');
         DELETE FROM contacts WHERE id = 3;
         INSERT INTO source_records (provider_id, record_key) VALUES ('provider-a', 'PA-00001'), \
           ('provider-a', 'PA-00002'), ('provider-a', 'PA-00003');
         INSERT INTO leads (contact_id, provider_id, record_key, external_id, product_type, \
           zip_code, appointment_date, estimated_value, tcpa_consent, fields, warnings, \
           raw_payload, received_at) \
         VALUES (1, 'provider-a', 'PA-00001', 'PA-00001', 'Solar', '90210', \
           '2025-03-18T17:30:00.000000Z', 18500.0, 1, '{\"first_name\":\"Stephanie\"}', '[]', \
           '{\"lead_id\":\"PA-00001\"}', '2025-03-14T15:09:26.535897Z'), \
                (1, 'provider-a', 'PA-00002', 'PA-00002', 'Solar', '90210', NULL, NULL, NULL, \
           '{}', '[\"invalid_email\"]', '{\"lead_id\":\"PA-00002\"}', '2025-03-14T16:00:00.000000Z');
         UPDATE source_records SET lead_id = 1 WHERE record_key = 'PA-00001';
         UPDATE source_records SET lead_id = 2 WHERE record_key = 'PA-00002';
         INSERT INTO lead_rejections (provider_id, record_key, reason_codes, details, raw_payload, \
           received_at) VALUES ('provider-a', 'PA-00003', '[\"unknown_zip\"]', '[\"ZIP 00000\"]', \
           '{}', '2025-03-14T15:09:26.535897Z');
         UPDATE source_records SET rejection_id = 1 WHERE record_key = 'PA-00003';
         INSERT INTO appointments (lead_id, contact_id, service_type, zip_code, appointment_date, \
           workspace_id, routing_rule_id, routing_method, matched_at, payment_rate_cents, status, \
           created_at) VALUES (1, 1, 'Solar', '90210', '2025-03-18T17:30:00.000000Z', \
           'solar_ca_001', 1, 'auto', '2025-03-14T15:09:26.535897Z', 20000, 'routed', \
           '2025-03-14T15:09:26.535897Z');
         INSERT INTO contact_events (contact_id, event_type, detail, created_at) \
           VALUES (2, 'created', '{}', '2025-03-14T15:09:26.535897Z');",
    )
    .expect("version 1 data");
}

fn foreign_key_violations(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
        r.get(0)
    })
    .expect("foreign_key_check")
}

#[test]
fn version_1_database_migrates_keeping_its_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadroute.sqlite");
    version_1_database(&path);
    let store = SqliteStore::open(&path).expect("open migrates");
    assert_eq!(
        store.schema_version().expect("version"),
        SqliteStore::SCHEMA_VERSION
    );
    assert_eq!(SqliteStore::SCHEMA_VERSION, 10);

    let (c1, c2, missing, by_key, l1, l2, appt, counts, ws) = with_tx(&store, |tx| {
        Ok((
            tx.contact(ContactId(1))?,
            tx.contact(ContactId(2))?,
            tx.contact(ContactId(3))?,
            tx.contact_by_email_key("provider:provider-a", "stephanie.ortiz@example.com")?,
            tx.lead(LeadId(1))?,
            tx.lead(LeadId(2))?,
            tx.appointment_for_lead(LeadId(1))?,
            tx.reports().counts()?,
            tx.workspace("solar_ca_001")?,
        ))
    })
    .expect("read migrated data");
    let c1 = c1.expect("contact 1 survives");
    assert_eq!(
        c1.contact,
        NewContact {
            zip_code: Some("90210".into()),
            ..contact("+13178638426")
        },
        "contacts keep every field; the email key is the stored email"
    );
    let c2 = c2.expect("contact 2 survives").contact;
    assert_eq!(
        (
            c2.phone_e164.as_deref(),
            c2.phone_extension.as_deref(),
            c2.email_key
        ),
        (Some("+19198233590"), Some("204"), None)
    );
    assert_eq!(missing, None);
    assert_eq!(
        by_key.map(|c| c.id),
        Some(ContactId(1)),
        "the email key is indexed"
    );
    let l1 = l1.expect("lead 1 survives").lead;
    assert_eq!(
        (
            l1.contact_id,
            l1.duplicate_of,
            l1.record_key.as_str(),
            l1.estimated_value
        ),
        (ContactId(1), None, "PA-00001", Some(18_500.0))
    );
    assert_eq!(
        l2.map(|l| l.lead.warnings),
        Some(vec!["invalid_email".to_string()])
    );
    assert_eq!(appt.map(|a| a.appointment.contact_id), Some(ContactId(1)));
    assert_eq!(
        (
            counts.contacts,
            counts.leads,
            counts.rejections,
            counts.appointments
        ),
        (2, 2, 1, 1)
    );
    assert_eq!(ws.map(|w| w.duplicate_window_days), Some(None));
    let events = with_tx(&store, |tx| Ok(tx.events(EventSubject::Contact, 2)?)).expect("events");
    assert_eq!(
        events.len(),
        1,
        "contact_events still point at their contact"
    );

    // Foreign keys are on again: a lead for a missing contact and an appointment for a missing
    // lead are refused by the database.
    let err = with_tx(&store, |tx| {
        Ok(insert_lead(tx, &lead(ContactId(3), "PA-00009"))?)
    })
    .expect_err("contact 3 does not exist");
    assert!(
        matches!(storage_error(&err), e if e.kind() == StorageErrorKind::Conflict),
        "{err:?}"
    );
    let mut dup = lead(ContactId(1), "PA-00010");
    dup.duplicate_of = Some(LeadId(42));
    let err = with_tx(&store, |tx| Ok(insert_lead(tx, &dup)?)).expect_err("lead 42 is missing");
    assert!(
        matches!(storage_error(&err), e if e.kind() == StorageErrorKind::Conflict),
        "{err:?}"
    );

    // AUTOINCREMENT's high-water mark survived the rebuild: the deleted id 3 is not reused.
    // A duplicate starts at 'new' like every lead; the engine then marks it.
    let (id, l) = with_tx(&store, |tx| {
        let id = insert_contact(tx, &contact("+12125550123"))?;
        let l = insert_lead(
            tx,
            &NewLead {
                duplicate_of: Some(LeadId(1)),
                ..lead(ContactId(1), "PA-00011")
            },
        )?;
        tx.set_lead_status(l, LeadStatus::Duplicate, Some("lead 1"), T0)?;
        Ok((id, l))
    })
    .expect("write after the migration");
    assert_eq!(id, ContactId(4), "contact ids are never reused");
    let history = with_tx(&store, |tx| Ok(tx.lead_status_history(l)?)).expect("history");
    assert_eq!(
        history
            .iter()
            .map(|h| (h.from_status.map(|s| s.as_str()), h.to_status.as_str()))
            .collect::<Vec<_>>(),
        vec![(None, "new"), (Some("new"), "duplicate")]
    );
    drop(store);

    let conn = raw(&path);
    assert_eq!(foreign_key_violations(&conn), 0);
    let (status, version): (String, u32) = conn
        .query_row(
            "SELECT status, (SELECT user_version FROM pragma_user_version) FROM leads WHERE id = ?1",
            [l.get()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("status");
    assert_eq!(
        (status.as_str(), version),
        ("duplicate", SqliteStore::SCHEMA_VERSION)
    );
    let indexes: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("indexes");
    for i in [
        "contacts_email_key",
        "contacts_email_only",
        "leads_contact_product",
    ] {
        assert!(
            indexes.iter().any(|x| x == i),
            "missing index {i}: {indexes:?}"
        );
    }
    // The partial unique index and the CHECK hold on the migrated table.
    let email_only = "INSERT INTO contacts (dedup_scope, phone_e164, email_key, created_at) \
                      VALUES ('global', NULL, 'a@example.com', '2025-03-14T15:09:26.535897Z')";
    conn.execute(email_only, [])
        .expect("first email-only contact");
    assert!(
        conn.execute(email_only, []).is_err(),
        "second email-only contact with the key"
    );
    assert!(
        conn.execute(
            "INSERT INTO contacts (dedup_scope, created_at) VALUES ('global', 'x')",
            []
        )
        .is_err(),
        "a contact with neither key"
    );
}

/// A migration that would leave a foreign key dangling is rolled back: the file stays at
/// version 1 with its data, and the open fails.
#[test]
fn migration_with_foreign_key_violations_rolls_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("leadroute.sqlite");
    version_1_database(&path);
    {
        let conn = raw(&path);
        conn.pragma_update(None, "foreign_keys", false)
            .expect("fk off");
        conn.execute(
            "INSERT INTO contact_events (contact_id, event_type, detail, created_at) \
             VALUES (99, 'created', '{}', '2025-03-14T15:09:26.535897Z')",
            [],
        )
        .expect("dangling event");
    }
    let err = SqliteStore::open(&path).expect_err("a dangling reference fails the migration");
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.to_string().contains("foreign key"), "{err}");
    let conn = raw(&path);
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("user_version");
    assert_eq!(version, 1, "the failed migration must not bump the version");
    let notnull: i64 = conn
        .query_row(
            "SELECT \"notnull\" FROM pragma_table_info('contacts') WHERE name = 'phone_e164'",
            [],
            |r| r.get(0),
        )
        .expect("table_info");
    assert_eq!(notnull, 1, "contacts must still be version 1's table");
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM contacts", [], |r| r.get(0))
        .expect("contacts");
    assert_eq!(n, 2, "the contacts must still be there");
}

/// Writes `n` contacts, one transaction each.
fn write_contacts(store: &SqliteStore, first: u32, n: u32) {
    for i in first..first + n {
        with_tx(store as &dyn Store, |tx| {
            Ok(insert_contact(tx, &contact(&format!("+1317863{i:04}")))?)
        })
        .unwrap();
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// With the background checkpointer, committed pages reach the database file while the store
/// stays open, far below the 1,000 WAL pages at which the writer itself would checkpoint;
/// without it they stay in the WAL.
#[test]
fn the_background_checkpointer_copies_commits_into_the_file() {
    for background in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leadroute.sqlite");
        let interval = background.then_some(Duration::from_millis(10));
        let store = SqliteStore::open_with(
            &path,
            SqliteOptions::default().background_checkpoint(interval),
        )
        .unwrap();
        store.checkpoint().unwrap();
        let before = file_len(&path);
        write_contacts(&store, 0, 100);
        // Poll for up to 5 s (many ticks); stop early once the file has grown.
        let mut grown = false;
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(50));
            if file_len(&path) > before {
                grown = true;
                break;
            }
        }
        assert_eq!(
            grown,
            background,
            "background {background}: file {before} -> {} bytes",
            file_len(&path)
        );
        drop(store);
        // Every contact is there after reopening, either way.
        let store = SqliteStore::open(&path).unwrap();
        let counts = with_tx(&store as &dyn Store, |tx| Ok(tx.reports().counts()?)).unwrap();
        assert_eq!(counts.contacts, 100);
    }
}

/// An explicit checkpoint never reports busy because of the store's own background
/// checkpointer, even when it ticks every millisecond.
#[test]
fn an_explicit_checkpoint_waits_for_the_background_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leadroute.sqlite");
    let store = SqliteStore::open_with(
        &path,
        SqliteOptions::default().background_checkpoint(Some(Duration::from_millis(1))),
    )
    .unwrap();
    for round in 0..100 {
        write_contacts(&store, round * 3, 3);
        store
            .checkpoint()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
}

/// Dropping a store stops its checkpointer at once, whatever the interval.
#[test]
fn dropping_the_store_stops_its_checkpointer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leadroute.sqlite");
    let (done, finished) = std::sync::mpsc::channel();
    let p = path.clone();
    std::thread::spawn(move || {
        let store = SqliteStore::open_with(
            &p,
            SqliteOptions::default().background_checkpoint(Some(Duration::from_secs(3600))),
        )
        .unwrap();
        write_contacts(&store, 0, 2);
        drop(store);
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(Duration::from_secs(20))
        .expect("the store was dropped without waiting for its hourly checkpoint tick");
}

#[test]
fn t0_is_the_reference_time() {
    assert_eq!(T0, ts("2025-03-14T15:09:26.535897Z"));
}
