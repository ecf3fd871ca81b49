//! The main job on the vendored sample, end to end through SQLite and a loopback receiver:
//! every record is accounted for exactly once, and a rerun stores nothing twice.

use leadroute::model::Cents;
use leadroute::pipeline::{run, vendored_corpus, PipelineOptions, Summary};
use leadroute::sqlite::SqliteStore;
use leadroute::storage::{with_tx, Store};
use std::path::Path;

fn options(dir: &Path, data: &Path) -> PipelineOptions {
    let mut o = PipelineOptions::new(data);
    o.db = dir.join("leadroute.db");
    o
}

fn assert_identities(s: &Summary) {
    assert_eq!(
        s.accepted() + s.rejected() + s.replayed(),
        s.read(),
        "accepted + rejected = read"
    );
    assert_eq!(
        s.routed() + s.unrouted(),
        s.appointments,
        "routed + unrouted = appointments"
    );
    assert_eq!(
        s.new_contacts + s.returning_contacts,
        s.accepted(),
        "every lead has a new or returning contact"
    );
    assert_eq!(
        s.appointments + s.leads_without_appointment + s.duplicate_leads,
        s.accepted(),
        "every lead has an appointment, no appointment time, or is a duplicate"
    );
    let st = &s.store;
    assert_eq!(
        st.deliveries_succeeded, st.billing_events,
        "delivered = billing events"
    );
    assert_eq!(
        st.appointments_routed, st.deliveries,
        "one delivery per routed appointment"
    );
    assert_eq!(
        st.appointments_routed + st.appointments_unrouted,
        st.appointments
    );
}

#[test]
fn vendored_sample_is_accounted_for_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path(), &vendored_corpus());
    let first = run(&opts).unwrap();
    assert_identities(&first);

    assert_eq!(first.read(), 6_000);
    assert_eq!(first.replayed(), 0);
    let st = &first.store;
    assert_eq!(st.leads, first.accepted());
    assert_eq!(st.rejections, first.rejected());
    assert_eq!(st.appointments, first.appointments);
    assert_eq!(st.contacts, first.new_contacts);
    // Everything routed was delivered to the loopback receiver, signed, and billed once.
    assert_eq!(first.delivery.delivered, first.routed());
    assert_eq!(first.delivery.failed + first.delivery.retrying, 0);
    let rx = first.receiver.clone().unwrap();
    assert_eq!(
        (rx.received, rx.signature_ok),
        (first.routed(), first.routed())
    );
    assert_eq!(first.delivery.billed, st.billed);
    assert!(st.billed > Cents(0));
    // The corpus's known defects show up as typed reasons.
    for code in [
        "invalid_phone",
        "missing_phone",
        "invalid_zip",
        "unknown_zip",
    ] {
        assert!(
            first.rejected_by_reason.get(code).copied().unwrap_or(0) > 0,
            "no {code} rejections in {:?}",
            first.rejected_by_reason
        );
    }
    assert!(first.returning_contacts > 0, "the corpus repeats people");
    assert!(first.routed() > 0 && first.unrouted() > 0);

    // The stored billing events are exactly the routed rates.
    let store = SqliteStore::open(&opts.db).unwrap();
    let counts = with_tx(&store as &dyn Store, |tx| Ok(tx.reports().counts()?)).unwrap();
    assert_eq!(counts, first.store);

    // Rerun: every record is a replay; nothing new is stored, delivered or billed.
    let second = run(&opts).unwrap();
    assert_identities(&second);
    assert_eq!(second.replayed(), 6_000);
    assert_eq!((second.accepted(), second.rejected()), (0, 0));
    assert_eq!(second.delivery.attempted, 0);
    assert_eq!(second.store, first.store);
}

#[test]
fn malformed_records_are_rejections_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("corpus");
    std::fs::create_dir(&data).unwrap();
    for f in ["providers.json", "workspaces.json", "routing_rules.json"] {
        std::fs::copy(vendored_corpus().join(f), data.join(f)).unwrap();
    }
    let a = [
        "",
        r#"{"first_name": "Ok", "phone": "317 863 8426", "zip": "46262", "product": "Solar", "lead_id": "a1"}"#,
        "   ",
        "{broken json",
        "null",
        r#""just a string""#,
        r#"{"phone": 3178638426, "zip": 46262, "product": "Solar", "lead_id": "a2"}"#,
        r#"{"phone": ["317"], "zip": {"z": 1}, "product": 7, "lead_id": "a3"}"#,
        r#"{"lead_id": "a4"}"#,
        r#"{"phone": "317 863 8426", "zip": "46262", "product": "Solar", "appointment_date": "tomorrow", "lead_id": "a5"}"#,
        "\u{feff}{\"phone\": \"1\"}",
    ]
    .join("\n");
    std::fs::write(data.join("provider_a.jsonl"), a).unwrap();
    std::fs::write(data.join("provider_b.jsonl"), "\n\n").unwrap();
    let c = "address,appt,budget,city,consent_text,email_address,ip_address,lead_id,name,phone1,project,state,submitted_at,tcpa_consent,user_agent,utm_campaign,utm_source,zip5\n\
             too,few,fields\n\
             1 Main St,,,,,,,c1,Kim Harris,402.886.3431,Windows,NE,,True,,,,68738\n\
             \"unterminated,quote\n";
    std::fs::write(data.join("provider_c.csv"), c).unwrap();

    let mut opts = options(dir.path(), &data);
    opts.deliver = false;
    let s = run(&opts).unwrap();
    assert_identities(&s);
    assert_eq!(s.read(), 9 + 3);
    assert_eq!(s.providers[0].blank_lines, 2);
    assert_eq!(s.providers[1].read, 0);
    // Accepted: a1, a2 (numbers coerced to text), c1. Everything else is a stored rejection.
    assert_eq!(s.accepted(), 3, "{s}");
    assert_eq!(s.store.rejections, s.rejected());
    assert!(s.rejected_by_reason["malformed_record"] >= 4);
    assert!(s.rejected_by_reason["wrong_type"] >= 1);
    assert_eq!(s.rejected_by_reason["invalid_appointment_date"], 1);
    assert_eq!(s.store.deliveries_succeeded, 0);
}

/// The rows of `table`, columns `cols`, in id order, as text (times excluded by the caller:
/// they differ between runs).
fn rows(db: &Path, table: &str, cols: &str, order: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let sql = format!("SELECT {cols} FROM {table} ORDER BY {order}");
    let mut stmt = conn.prepare(&sql).unwrap();
    let n = stmt.column_count();
    let out = stmt
        .query_map([], |r| {
            (0..n)
                .map(|i| {
                    r.get::<_, rusqlite::types::Value>(i)
                        .map(|v| format!("{v:?}"))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    out
}

/// The intake pipeline (`EngineConfig::pipeline`: records prepared on a second thread while
/// the batch is written) stores exactly what one thread stores: the vendored sample through
/// the main job both ways gives the same summary and the same rows, table by table.
#[test]
fn the_prepare_pipeline_stores_what_one_thread_stores() {
    let dir = tempfile::tempdir().unwrap();
    let run_with = |pipeline: bool| {
        let mut o = options(&dir.path().join(format!("p{pipeline}")), &vendored_corpus());
        std::fs::create_dir_all(o.db.parent().unwrap()).unwrap();
        o.deliver = false;
        o.engine.pipeline = pipeline;
        (run(&o).unwrap(), o.db)
    };
    let (one, db_one) = run_with(false);
    let (two, db_two) = run_with(true);
    assert_eq!(one.store, two.store);
    assert_eq!(one.rejected_by_reason, two.rejected_by_reason);
    assert_eq!(
        (
            one.accepted(),
            one.rejected(),
            one.appointments,
            one.routed()
        ),
        (
            two.accepted(),
            two.rejected(),
            two.appointments,
            two.routed()
        )
    );
    for (table, cols) in [
        (
            "contacts",
            "id, dedup_scope, phone_e164, email, email_key, first_name, last_name",
        ),
        (
            "leads",
            "id, contact_id, duplicate_of, provider_id, record_key, product_type, zip_code, \
             fields, warnings, raw_payload, status, status_reason",
        ),
        (
            "lead_rejections",
            "id, provider_id, record_key, reason_codes, details, raw_payload",
        ),
        (
            "appointments",
            "id, lead_id, workspace_id, routing_rule_id, forward_status",
        ),
        (
            "source_records",
            "provider_id, record_key, lead_id, rejection_id",
        ),
        (
            "lead_events",
            "id, lead_id, rejection_id, event_type, detail",
        ),
        ("contact_events", "id, contact_id, event_type, detail"),
        (
            "appointment_events",
            "id, appointment_id, event_type, detail",
        ),
        (
            "lead_status_history",
            "lead_id, from_status, to_status, reason",
        ),
        ("deliveries", "appointment_id, workspace_id, url, status"),
    ] {
        let order = if table == "source_records" {
            "provider_id, record_key"
        } else if table == "lead_status_history" {
            "rowid"
        } else if table == "deliveries" {
            "appointment_id"
        } else {
            "id"
        };
        let (a, b) = (
            rows(&db_one, table, cols, order),
            rows(&db_two, table, cols, order),
        );
        assert!(!a.is_empty(), "{table} has rows");
        assert_eq!(a, b, "{table} differs with the pipeline");
    }
}
