//! Turning leads into appointments on the memory store with a fixed clock: the contact queue
//! (claims, leases, quiet hours, state limits, suppression, attempts, metrics) and the
//! scheduled messages (confirmation, reminders, moves and cancels, sends and their log).

use jiff::{SignedDuration, Timestamp};
use leadroute_core::engine::{FixedClock, Outcome};
use leadroute_core::intake::RawRecord;
use leadroute_core::lifecycle::Actor;
use leadroute_core::messages::{MessagePolicy, RecordingTransport};
use leadroute_core::model::*;
use leadroute_core::routing::RoutingRule;
use leadroute_core::status::{ContactOutcome, ContactStatus, MessageKind, MessageStatus};
use leadroute_core::storage::MemoryStore;
use leadroute_core::{Engine, EngineConfig};
use std::sync::Arc;
use std::time::Duration;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

struct World {
    engine: Engine,
    clock: Arc<FixedClock>,
}

fn world_with(settings: QueueSettings, messages: Option<MessagePolicy>) -> World {
    let clock = Arc::new(FixedClock::new(t("2026-03-02T15:00:00Z")));
    let mut config = EngineConfig {
        clock: clock.clone(),
        ..EngineConfig::default()
    };
    config.contact_queue.settings = settings;
    let engine = Engine::new(Arc::new(MemoryStore::new()), config).unwrap();
    let ws = Workspace {
        timezone: Some("America/New_York".into()),
        messages,
        ..Workspace::new("ws", "http://127.0.0.1:9/hooks/ws", Cents(10_000))
    };
    let rule = RoutingRule {
        id: 1,
        workspace_id: "ws".into(),
        product_types: vec!["Solar".into()],
        zip_codes: vec!["10001".into(), "33101".into(), "73301".into()],
        priority: 1,
        is_active: true,
        notes: None,
        targeting: Default::default(),
        capacity: Default::default(),
    };
    let provider = Provider {
        lead_types: vec!["solar".into()],
        ..Provider::new("p")
    };
    engine.configure(&[provider], &[ws], &[rule]).unwrap();
    World { engine, clock }
}

fn world() -> World {
    world_with(QueueSettings::default(), None)
}

/// Ingests a lead (no appointment time unless `at` is given); returns its lead id.
fn lead(w: &World, n: u32, zip: &str, phone: &str, at: Option<&str>) -> LeadId {
    let appt = at
        .map(|a| format!(r#", "appointment_date": "{a}""#))
        .unwrap_or_default();
    let rec = RawRecord::Json(format!(
        r#"{{"lead_id": "L{n}", "phone": "{phone}", "zip_code": "{zip}", "product_type": "solar"{appt}}}"#
    ));
    match w.engine.ingest("p", &rec).unwrap().outcome {
        Outcome::Accepted(a) => a.lead_id,
        other => panic!("{other:?}"),
    }
}

#[test]
fn leads_without_a_time_wait_in_the_queue_and_are_claimed_once() {
    let w = world();
    // 10:00 in New York.
    for n in 0..7 {
        w.clock.advance(Duration::from_secs(1));
        lead(&w, n, "10001", &format!("212-555-01{n:02}"), None);
    }
    let with_time = lead(
        &w,
        99,
        "10001",
        "212-555-0199",
        Some("2026-03-20T15:00:00Z"),
    );
    assert!(
        w.engine.contact_entry(with_time).unwrap().is_none(),
        "appointments are not queued"
    );
    let first = w.engine.claim_contact_batch(None, 10, "w1").unwrap();
    assert_eq!(first.len(), 5, "max_batch caps a claim");
    let ids: Vec<i64> = first.iter().map(|c| c.lead_id.get()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5], "oldest due first");
    let local = first[0].local_time.as_ref().unwrap();
    assert_eq!(
        (local.hour(), local.time_zone().iana_name()),
        (10, Some("America/New_York"))
    );
    let second = w.engine.claim_contact_batch(None, 10, "w2").unwrap();
    assert_eq!(
        second.iter().map(|c| c.lead_id.get()).collect::<Vec<_>>(),
        [6, 7]
    );
    assert!(w
        .engine
        .claim_contact_batch(None, 10, "w3")
        .unwrap()
        .is_empty());
    // w1 dies: its leads come back when the lease (15 min) expires.
    w.clock.advance(Duration::from_secs(16 * 60));
    let back = w.engine.claim_contact_batch(None, 10, "w3").unwrap();
    assert_eq!(back.len(), 5);
}

#[test]
fn quiet_hours_hold_leads_until_both_zones_allow() {
    let w = world();
    // 06:00 in New York: before 8:00.
    w.clock.set(t("2026-03-02T11:00:00Z"));
    let ny = lead(&w, 1, "10001", "212-555-0101", None);
    // A New York ZIP with a San Francisco cell: both zones must allow (11:00 ET at the
    // earliest).
    let split = lead(&w, 2, "10001", "415-555-0102", None);
    assert!(w
        .engine
        .claim_contact_batch(None, 5, "w")
        .unwrap()
        .is_empty());
    let e = w.engine.contact_entry(ny).unwrap().unwrap();
    assert_eq!(
        (e.status, e.hold_reason.as_deref()),
        (ContactStatus::Pending, Some("quiet_hours"))
    );
    assert_eq!(
        e.entry.next_attempt_at,
        t("2026-03-02T13:00:00Z"),
        "8:00 in New York"
    );
    let s = w.engine.contact_entry(split).unwrap().unwrap();
    assert_eq!(
        s.entry.next_attempt_at,
        t("2026-03-02T16:00:00Z"),
        "8:00 in San Francisco"
    );
    w.clock.set(t("2026-03-02T13:00:00Z"));
    let got = w.engine.claim_contact_batch(None, 5, "w").unwrap();
    assert_eq!(got.iter().map(|c| c.lead_id).collect::<Vec<_>>(), [ny]);
    w.engine
        .record_contact_attempt(ny, ContactOutcome::Scheduled, None, None, Some("w"))
        .unwrap();
    w.clock.set(t("2026-03-02T16:00:00Z"));
    let got = w.engine.claim_contact_batch(None, 5, "w").unwrap();
    assert_eq!(got.iter().map(|c| c.lead_id).collect::<Vec<_>>(), [split]);
}

#[test]
fn attempts_follow_the_settings_and_do_not_contact_suppresses() {
    let w = world();
    let a = lead(&w, 1, "10001", "212-555-0101", None);
    for n in 1..=3 {
        assert_eq!(w.engine.claim_contact_batch(None, 5, "w").unwrap().len(), 1);
        let e = w
            .engine
            .record_contact_attempt(
                a,
                ContactOutcome::NoAnswer,
                None,
                Some("voicemail"),
                Some("w"),
            )
            .unwrap();
        assert_eq!(e.attempts, n);
        if n < 3 {
            assert_eq!(e.status, ContactStatus::NoAnswer);
            assert!(
                w.engine
                    .claim_contact_batch(None, 5, "w")
                    .unwrap()
                    .is_empty(),
                "4 hours apart"
            );
            w.clock.advance(Duration::from_secs(4 * 3600));
        } else {
            assert_eq!(e.status, ContactStatus::Unreachable, "max_attempts 3");
        }
    }
    assert_eq!(w.engine.contact_attempts(a).unwrap().len(), 3);
    // Back to business hours the next day.
    w.clock.set(t("2026-03-03T15:00:00Z"));
    let b = lead(&w, 2, "10001", "212-555-0102", None);
    w.engine.claim_contact_batch(None, 5, "w").unwrap();
    w.engine
        .record_contact_attempt(b, ContactOutcome::DoNotContact, None, None, None)
        .unwrap();
    assert!(w.engine.is_suppressed("(212) 555-0102").unwrap());
    // A number opted out before its lead arrives: flagged at intake, kept, never called.
    assert!(w
        .engine
        .record_opt_out("212-555-0120", Some("web form"))
        .unwrap());
    let c = lead(&w, 3, "10001", "+1 212 555 0120", None);
    assert!(w.engine.contact_entry(c).unwrap().unwrap().entry.suppressed);
    assert!(w
        .engine
        .claim_contact_batch(None, 5, "w")
        .unwrap()
        .is_empty());
    assert_eq!(
        w.engine.contact_entry(c).unwrap().unwrap().status,
        ContactStatus::DoNotContact
    );
    // Opt-outs and imported lists (numbers and SHA-256 hashes).
    assert!(w
        .engine
        .record_opt_out("212-555-0109", Some("sms STOP"))
        .unwrap());
    assert!(
        !w.engine.record_opt_out("2125550109", None).unwrap(),
        "listed once"
    );
    let hash = leadroute_core::suppression::phone_hash("+12125550110");
    let imported = w
        .engine
        .import_suppressions(
            &format!("# dnc\n212-555-0111\n{hash}\nnot a number\n"),
            "dnc.txt",
        )
        .unwrap();
    assert_eq!((imported.added, imported.rejected_lines.len()), (2, 1));
    assert!(w.engine.is_suppressed("212-555-0110").unwrap());
}

#[test]
fn florida_allows_three_attempts_in_24_hours() {
    let w = world_with(
        QueueSettings {
            retry_interval_seconds: 3600,
            max_attempts: 10,
            ..QueueSettings::default()
        },
        None,
    );
    // 10:00 in Miami.
    let fl = lead(&w, 1, "33101", "305-555-0101", None);
    for _ in 0..3 {
        assert_eq!(w.engine.claim_contact_batch(None, 5, "w").unwrap().len(), 1);
        w.engine
            .record_contact_attempt(fl, ContactOutcome::NoAnswer, None, None, None)
            .unwrap();
        w.clock.advance(Duration::from_secs(3600));
    }
    assert!(w
        .engine
        .claim_contact_batch(None, 5, "w")
        .unwrap()
        .is_empty());
    let e = w.engine.contact_entry(fl).unwrap().unwrap();
    assert_eq!(e.hold_reason.as_deref(), Some("attempt_limit_24h"));
    assert_eq!(
        e.entry.next_attempt_at,
        t("2026-03-03T15:00:00Z"),
        "24 h after the first"
    );
    let m = w
        .engine
        .contact_metrics(t("2026-03-01T00:00:00Z"), t("2026-03-04T00:00:00Z"))
        .unwrap();
    assert_eq!((m.leads, m.contacted), (1, 1));
    assert_eq!(m.first_attempt_p50_seconds, Some(0.0));
    assert_eq!(m.attempts_per_lead, 3.0);
}

#[test]
fn reminders_are_scheduled_moved_cancelled_and_sent() {
    let w = world_with(QueueSettings::default(), Some(MessagePolicy::default()));
    // Booked at 10:00 New York time for March 10, 15:00 UTC (11:00 EDT).
    let l = lead(&w, 1, "10001", "212-555-0101", Some("2026-03-10T15:00:00Z"));
    let appt = w.engine.lead(l).unwrap().unwrap();
    let appointment_id = AppointmentId(1);
    assert_eq!(appt.id, l);
    let msgs = w.engine.messages(appointment_id).unwrap();
    let plan: Vec<(MessageKind, Timestamp)> = msgs
        .iter()
        .map(|m| (m.message.kind, m.message.send_at))
        .collect();
    assert_eq!(
        plan,
        [
            (MessageKind::Confirmation, t("2026-03-02T15:00:00Z")),
            (MessageKind::Reminder, t("2026-03-09T15:00:00Z")),
            (MessageKind::Reminder, t("2026-03-10T14:00:00Z")),
        ]
    );
    // The confirmation goes now; the first try fails and is retried a minute later.
    let transport = RecordingTransport::failing(&["gateway timeout"]);
    let r = w.engine.send_due_messages(&transport, 10).unwrap();
    assert_eq!((r.attempted, r.retrying), (1, 1));
    w.clock.advance(Duration::from_secs(61));
    let r = w.engine.send_due_messages(&transport, 10).unwrap();
    assert_eq!(r.sent, 1);
    let logs = w.engine.message_logs(msgs[0].id).unwrap();
    let statuses: Vec<MessageStatus> = logs.iter().map(|l| l.status).collect();
    assert_eq!(statuses, [MessageStatus::Failed, MessageStatus::Sent]);
    assert_eq!(logs[1].provider_message_id.as_deref(), Some("rec_1_2"));
    // An early-morning start (7:00 EDT): both reminders would fall before 8:00 local and
    // move to 20:59 the evening before.
    w.engine
        .reschedule_appointment(
            appointment_id,
            t("2026-03-12T11:00:00Z"),
            None,
            None,
            &Actor::Api,
        )
        .unwrap();
    let pending: Vec<Timestamp> = w
        .engine
        .messages(appointment_id)
        .unwrap()
        .iter()
        .filter(|m| m.status == MessageStatus::Pending)
        .map(|m| m.message.send_at)
        .collect();
    assert_eq!(
        pending,
        [t("2026-03-11T00:59:00Z"), t("2026-03-12T00:59:00Z")]
    );
    w.engine
        .cancel_appointment(appointment_id, Some("moved away"), &Actor::Api)
        .unwrap();
    let left = w
        .engine
        .messages(appointment_id)
        .unwrap()
        .iter()
        .filter(|m| m.status == MessageStatus::Pending)
        .count();
    assert_eq!(left, 0, "a cancel cancels the reminders");
    w.clock.advance(Duration::from_secs(30 * 86_400));
    assert_eq!(
        w.engine
            .send_due_messages(&transport, 10)
            .unwrap()
            .attempted,
        0
    );
}

#[test]
fn messages_to_suppressed_numbers_are_logged_not_sent() {
    let w = world_with(QueueSettings::default(), Some(MessagePolicy::default()));
    lead(&w, 1, "10001", "212-555-0101", Some("2026-03-10T15:00:00Z"));
    w.engine.record_opt_out("212-555-0101", None).unwrap();
    let transport = RecordingTransport::new();
    let r = w.engine.send_due_messages(&transport, 10).unwrap();
    assert_eq!((r.attempted, r.suppressed, r.sent), (1, 1, 0));
    assert!(transport.sent().is_empty());
    let m = &w.engine.messages(AppointmentId(1)).unwrap()[0];
    assert_eq!(m.status, MessageStatus::Suppressed);
    let _ = SignedDuration::ZERO;
}
