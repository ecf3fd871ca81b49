//! How long a contact-queue claim takes as the queue grows: a measurement, not a check, so
//! it is ignored by default. Run it optimized, alone:
//!
//! ```text
//! cargo test --release -p leadroute-sqlite --test claim_timing -- --ignored --nocapture
//! ```
//!
//! For 10,000 and 1,000,000 waiting leads (every one due, `next_attempt_at` spread over the
//! 30 days before now) in a WAL file, it times `claim_contacts` with limit 5, each claim in a
//! transaction of its own (`BEGIN IMMEDIATE` to `COMMIT`), and prints the mean and median.

use jiff::{SignedDuration, Timestamp};
use leadroute_core::storage::with_tx;
use leadroute_sqlite::SqliteStore;
use std::path::Path;
use std::time::{Duration, Instant};

/// 2025-03-14T15:09:26.535897Z.
const NOW: Timestamp = Timestamp::constant(1_741_964_966, 535_897_000);

/// `n` contacts, each with one lead, all queued and due, written with plain SQL.
fn fill(path: &Path, n: u32) {
    drop(SqliteStore::open(path).expect("create the schema"));
    let conn = rusqlite::Connection::open(path).expect("open raw");
    conn.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n})
         INSERT INTO contacts (id, dedup_scope, phone_e164, created_at)
         SELECT i, 'global', printf('+1317%07d', i), '2025-02-01T00:00:00.000000Z' FROM k;
         INSERT INTO leads (id, contact_id, provider_id, record_key, product_type, zip_code,
                            raw_payload, received_at)
         SELECT id, id, 'provider-a', 'PA-' || id, 'Solar', '90210', '{{}}',
                strftime('%Y-%m-%dT%H:%M:%S.000000Z', '2025-02-12T15:00:00', '+' || (id * 43200 / {n}) || ' minutes')
         FROM contacts;
         INSERT INTO contact_queue (lead_id, contact_id, phone_e164, zip_code, lead_type,
                                    received_at, next_attempt_at)
         SELECT id, contact_id, '+13178638426', zip_code, 'solar', received_at, received_at
         FROM leads;
         COMMIT;"
    ))
    .expect("fill the queue");
    let queued: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM contact_queue WHERE next_attempt_at <= ?1",
            [NOW.to_string()],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(queued, i64::from(n), "every lead is queued and due");
}

/// Times `claims` claims of 5 after a few to warm the cache: (mean, median).
fn time_claims(store: &SqliteStore, claims: u32) -> (Duration, Duration) {
    let lease = NOW + SignedDuration::from_mins(5);
    for _ in 0..20 {
        with_tx(store, |tx| Ok(tx.claim_contacts(NOW, 5, lease, "warm-up")?)).expect("claim");
    }
    let mut times = Vec::with_capacity(claims as usize);
    for _ in 0..claims {
        let start = Instant::now();
        let got = with_tx(
            store,
            |tx| Ok(tx.claim_contacts(NOW, 5, lease, "dialer-1")?),
        )
        .expect("claim");
        times.push(start.elapsed());
        assert_eq!(got.len(), 5, "the queue never runs dry here");
    }
    let mean = times.iter().sum::<Duration>() / claims;
    times.sort_unstable();
    (mean, times[times.len() / 2])
}

#[test]
#[ignore = "a measurement: run with --release -- --ignored --nocapture"]
fn claim_contacts_time_by_queue_size() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut means = Vec::new();
    for n in [10_000u32, 1_000_000] {
        let path = dir.path().join(format!("queue-{n}.sqlite"));
        let started = Instant::now();
        fill(&path, n);
        let filled = started.elapsed();
        let store = SqliteStore::open(&path).expect("open");
        let (mean, median) = time_claims(&store, 1000);
        println!(
            "{n:>9} queued leads: claim_contacts(limit 5) mean {:.1} us, median {:.1} us \
             (filled in {:.1} s)",
            mean.as_secs_f64() * 1e6,
            median.as_secs_f64() * 1e6,
            filled.as_secs_f64()
        );
        means.push(mean);
    }
    println!(
        "1,000,000 / 10,000: {:.2}x",
        means[1].as_secs_f64() / means[0].as_secs_f64()
    );
}
