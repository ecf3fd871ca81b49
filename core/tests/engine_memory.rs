//! The engine end to end over the in-memory store, with a scripted transport.

use jiff::{SignedDuration, Timestamp};
use leadroute_core::delivery::{Transport, TransportError, WebhookRequest, WebhookResponse};
use leadroute_core::engine::{Outcome, RoutingOutcome};
use leadroute_core::intake::{split_csv, RawRecord};
use leadroute_core::model::*;
use leadroute_core::routing::{RoutingRule, UnroutedReason};
use leadroute_core::storage::{with_tx, MemoryStore, Store};
use leadroute_core::{Engine, EngineConfig, ErrorKind};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Answers each request with the next scripted status (then 200s) and records requests.
#[derive(Default)]
struct Scripted {
    statuses: Mutex<Vec<Result<u16, TransportError>>>,
    seen: Mutex<Vec<WebhookRequest>>,
}

impl Transport for Scripted {
    fn post(&self, r: &WebhookRequest, _t: Duration) -> Result<WebhookResponse, TransportError> {
        self.seen.lock().unwrap().push(r.clone());
        let next = {
            let mut s = self.statuses.lock().unwrap();
            if s.is_empty() {
                Ok(200)
            } else {
                s.remove(0)
            }
        };
        next.map(|status| WebhookResponse {
            status,
            body_excerpt: format!("status {status}"),
            retry_after: None,
        })
    }
}

fn provider(id: &str, lead_types: &[&str], format: RecordFormat, map: &[(&str, &str)]) -> Provider {
    Provider {
        id: id.into(),
        name: id.into(),
        lead_types: lead_types.iter().map(|s| s.to_string()).collect(),
        format,
        field_map: map
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<BTreeMap<_, _>>(),
        rate_limit_per_hour: None,
        is_active: true,
        api_key_hash: None,
        allowed_webhooks: Vec::new(),
        signing_secret: None,
        signature_scheme: leadroute_core::auth::SignatureScheme::GitHub,
    }
}

fn workspace(id: &str, active: bool, rate: i64) -> Workspace {
    Workspace {
        id: id.into(),
        name: id.into(),
        outbound_webhook_url: format!("http://127.0.0.1:9/hooks/{id}"),
        webhook_active: active,
        business_type: None,
        payment_rate: Cents(rate),
        timezone: Some("America/Indiana/Indianapolis".into()),
        webhook_secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
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

fn rule(id: i64, ws: &str, products: &[&str], zips: &[&str], priority: i32) -> RoutingRule {
    RoutingRule {
        id,
        workspace_id: ws.into(),
        product_types: products.iter().map(|s| s.to_string()).collect(),
        zip_codes: zips.iter().map(|s| s.to_string()).collect(),
        priority,
        is_active: true,
        notes: None,
        targeting: Default::default(),
        capacity: Default::default(),
    }
}

fn engine() -> (Engine, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::new(store.clone(), EngineConfig::default()).unwrap();
    engine
        .configure(
            &[
                provider(
                    "provider-a",
                    &["solar", "battery"],
                    RecordFormat::Json,
                    &[("zip_code", "zip"), ("product_type", "product")],
                ),
                provider(
                    "provider-c",
                    &["kitchen"],
                    RecordFormat::Csv,
                    &[
                        ("full_name", "name"),
                        ("phone", "phone1"),
                        ("zip_code", "zip5"),
                        ("product_type", "project"),
                        ("appointment_date", "appt"),
                    ],
                ),
            ],
            &[
                workspace("solar_in", true, 20_000),
                workspace("solar_off", false, 50_000),
                workspace("kitchen_ne", true, 15_000),
            ],
            &[
                rule(1, "solar_off", &["Solar"], &["46262"], 1),
                rule(2, "solar_in", &["Solar", "Battery"], &["46262", "46201"], 2),
                rule(3, "kitchen_ne", &["Kitchen"], &["68738"], 1),
                rule(4, "kitchen_ne", &["Gutters"], &["68738"], 1),
            ],
        )
        .unwrap();
    (engine, store)
}

fn json(s: &str) -> RawRecord {
    RawRecord::Json(s.into())
}

const STEPHANIE: &str = r#"{"first_name": "Stephanie", "last_name": "House", "phone": "317 863 8426", "email": "JMonroe@Example.net", "zip": "46262-1234", "product": "solar", "appointment_date": "2026-11-24T13:00:00Z", "lead_id": "a0000001", "tcpa_consent": true, "estimated_value": 25000, "roof_age": 28}"#;

#[test]
fn a_good_record_becomes_a_routed_signed_delivered_billed_appointment() {
    let (engine, store) = engine();
    let out = engine.ingest("provider-a", &json(STEPHANIE)).unwrap();
    assert_eq!(out.record_key, "a0000001");
    let Outcome::Accepted(a) = out.outcome else {
        panic!("expected accepted, got {out:?}")
    };
    assert!(a.new_contact);
    let (appt_id, routing) = a.appointment.unwrap();
    // Rule 1 wins on priority, but its workspace's webhook is inactive: rule 2 gets it.
    assert_eq!(
        routing,
        RoutingOutcome::Routed {
            workspace_id: "solar_in".into(),
            rule_id: 2
        }
    );

    let t = Scripted::default();
    let r = engine.deliver_due(&t, 10).unwrap();
    assert_eq!((r.attempted, r.delivered, r.billed), (1, 1, Cents(20_000)));
    let req = t.seen.lock().unwrap()[0].clone();
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["appointment_id"], appt_id.get());
    assert_eq!(body["customer_name"], "Stephanie House");
    assert_eq!(body["customer_phone"], "+13178638426");
    assert_eq!(body["customer_email"], "jmonroe@example.net");
    assert_eq!(body["customer_zip"], "46262");
    assert_eq!(body["service_type"], "Solar");
    assert_eq!(body["routing_method"], "auto");
    assert_eq!(body["workspace_id"], "solar_in");
    let h = |k: &str| req.headers.iter().find(|(n, _)| n == k).unwrap().1.clone();
    leadroute_core::signature::verify(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        &h("webhook-id"),
        h("webhook-timestamp").parse().unwrap(),
        &req.body,
        &h("webhook-signature"),
    )
    .unwrap();

    let appt = with_tx(&*store, |tx| Ok(tx.appointment(appt_id)?.unwrap())).unwrap();
    assert_eq!(appt.forward_status, ForwardStatus::Success);
    assert_eq!(appt.forward_attempts, 1);
    assert!(appt.forwarded_at.is_some());
    assert_eq!(
        appt.forward_response.as_deref(),
        Some("HTTP 200: status 200")
    );
    let events = with_tx(&*store, |tx| {
        Ok(tx.events(EventSubject::Appointment, appt_id.get())?)
    })
    .unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, vec!["routed", "delivered"]);
    assert_eq!(
        a.routing_trace.as_ref(),
        Some(&events[0].detail),
        "returned and stored"
    );
    let first = &events[0].detail["candidates"][0];
    assert_eq!(
        (first["rule_id"].as_i64(), first["status"].as_str()),
        (Some(1), Some("skipped"))
    );
    assert_eq!(first["reason"]["code"], "webhook_inactive");
    assert_eq!(events[0].detail["outcome"]["rule_id"], 2);

    // Nothing is due any more; re-ingesting is a replay; billing stays at one event.
    assert_eq!(engine.deliver_due(&t, 10).unwrap().attempted, 0);
    let again = engine.ingest("provider-a", &json(STEPHANIE)).unwrap();
    assert!(matches!(
        again.outcome,
        Outcome::Replayed(StoredRecord::Lead(_))
    ));
    let c = engine.counts().unwrap();
    assert_eq!(
        (c.contacts, c.leads, c.appointments, c.billing_events),
        (1, 1, 1, 1)
    );
    assert_eq!(c.billed, Cents(20_000));
}

#[test]
fn bad_records_are_stored_as_rejections_with_all_reasons() {
    let (engine, _) = engine();
    let records = [
        json(r#"{"phone": "555", "zip": "ABCDE", "product": "Roofing", "lead_id": "x1"}"#),
        json("{not json"),
        json("[1, 2, 3]"),
        json(r#"{"phone": {"nested": true}, "zip": "46262", "product": "Solar"}"#),
        json(
            r#"{"phone": "3178638426", "zip": "99999", "product": "Solar", "appointment_date": "soon"}"#,
        ),
    ];
    let outs = engine.ingest_batch("provider-a", &records).unwrap();
    let codes: Vec<Vec<&str>> = outs
        .iter()
        .map(|o| match &o.outcome {
            Outcome::Rejected { reasons, .. } => reasons.iter().map(|r| r.code.as_str()).collect(),
            other => panic!("expected a rejection, got {other:?}"),
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            vec!["invalid_phone", "invalid_zip", "unknown_product"],
            vec!["malformed_record"],
            vec!["malformed_record"],
            vec!["wrong_type"],
            vec!["unknown_zip", "invalid_appointment_date"],
        ]
    );
    assert_eq!(outs[0].record_key, "x1");
    assert!(outs[1].record_key.starts_with("sha256:"));
    let c = engine.counts().unwrap();
    assert_eq!((c.rejections, c.leads, c.contacts), (5, 0, 0));
    let malformed = codes
        .iter()
        .filter(|c| c.contains(&"malformed_record"))
        .count();
    assert_eq!(malformed, 2, "two stored rejections for malformed records");
    // The same bad records again are replays, not second rejections.
    let again = engine.ingest_batch("provider-a", &records).unwrap();
    assert!(again
        .iter()
        .all(|o| matches!(o.outcome, Outcome::Replayed(StoredRecord::Rejection(_)))));
    assert_eq!(engine.counts().unwrap().rejections, 5);
}

#[test]
fn csv_records_dedup_contacts_and_enforce_lead_types() {
    let (engine, _) = engine();
    let body = "name,phone1,zip5,project,appt,lead_id\n\
                Kimberly Harris,402.886.3431,68738,Kitchen,2026-11-21T16:00:00Z,c1\n\
                Kim Harris,+1 (402) 886-3431,68738,kitchen,,c2\n\
                Pam Charles,270.267.4094,68738,Gutters,2026-11-21T16:00:00Z,c3\n\
                Pam Charles,270.267.4094,68738,Kitchen,2026-11-21T16:00:00Z,c4\n";
    let split = split_csv(body).unwrap();
    let outs = engine.ingest_batch("provider-c", &split.records).unwrap();
    let Outcome::Accepted(first) = &outs[0].outcome else {
        panic!()
    };
    let Outcome::Accepted(second) = &outs[1].outcome else {
        panic!()
    };
    assert!(first.new_contact && !second.new_contact);
    assert_eq!(first.contact_id, second.contact_id);
    assert!(
        second.appointment.is_none(),
        "no appointment time, no appointment"
    );
    match &outs[2].outcome {
        Outcome::Rejected { reasons, .. } => {
            assert_eq!(reasons[0].code.as_str(), "lead_type_not_allowed")
        }
        other => panic!("{other:?}"),
    }
    // A rejected record creates no contact: Pam's first accepted record creates hers.
    let Outcome::Accepted(pam) = &outs[3].outcome else {
        panic!()
    };
    assert!(pam.new_contact);
    // The same phone from another provider is another contact (seed dedup scope).
    let other = engine
        .ingest(
            "provider-a",
            &json(r#"{"phone": "4028863431", "zip": "46262", "product": "Solar"}"#),
        )
        .unwrap();
    let Outcome::Accepted(o) = other.outcome else {
        panic!()
    };
    assert!(o.new_contact);
    assert_eq!(engine.counts().unwrap().contacts, 3);
}

#[test]
fn unrouted_appointments_keep_their_reason_and_are_not_delivered() {
    let (engine, _) = engine();
    let outs = engine
        .ingest_batch(
            "provider-a",
            &[
                json(r#"{"phone": "3178638426", "zip": "10001", "product": "Solar", "appointment_date": "2026-11-24T13:00:00Z"}"#),
                json(r#"{"phone": "3178638427", "zip": "46201", "product": "Battery", "appointment_date": "2026-11-24T13:00:00Z"}"#),
            ],
        )
        .unwrap();
    let routing: Vec<_> = outs
        .iter()
        .map(|o| match &o.outcome {
            Outcome::Accepted(a) => a.appointment.clone().unwrap().1,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        routing[0],
        RoutingOutcome::Unrouted(UnroutedReason::NoRuleForZip)
    );
    assert!(matches!(routing[1], RoutingOutcome::Routed { .. }));
    let c = engine.counts().unwrap();
    assert_eq!(
        (c.appointments_routed, c.appointments_unrouted, c.deliveries),
        (1, 1, 1)
    );
}

#[test]
fn failures_retry_on_schedule_and_permanent_ones_fail_without_billing() {
    let (engine, store) = engine();
    engine.ingest("provider-a", &json(STEPHANIE)).unwrap();
    engine
        .ingest("provider-a", &json(r#"{"phone": "3178638499", "zip": "46201", "product": "Solar", "appointment_date": "2026-11-24T13:00:00Z"}"#))
        .unwrap();
    let t = Scripted::default();
    *t.statuses.lock().unwrap() = vec![Ok(503), Ok(400)];
    let r = engine.deliver_due(&t, 10).unwrap();
    assert_eq!(
        (r.attempted, r.delivered, r.retrying, r.failed),
        (2, 0, 1, 1)
    );
    assert_eq!(r.billed, Cents(0));
    // The retry is scheduled about 5 s out (±20%), so nothing is due right now.
    assert_eq!(engine.deliver_due(&t, 10).unwrap().attempted, 0);
    let (d1, d2, attempts) = with_tx(&*store, |tx| {
        Ok((
            tx.delivery(DeliveryId(1))?.unwrap(),
            tx.delivery(DeliveryId(2))?.unwrap(),
            tx.attempts(DeliveryId(1))?,
        ))
    })
    .unwrap();
    let retried = if d1.status == ForwardStatus::Pending {
        &d1
    } else {
        &d2
    };
    let failed = if d1.status == ForwardStatus::Failed {
        &d1
    } else {
        &d2
    };
    assert_eq!((retried.attempts, failed.attempts), (1, 1));
    let wait = retried
        .delivery
        .next_attempt_at
        .duration_since(attempts[0].requested_at);
    assert!(
        wait >= SignedDuration::from_secs(3) && wait <= SignedDuration::from_secs(7),
        "{wait}"
    );
    let c = engine.counts().unwrap();
    assert_eq!(
        (c.billing_events, c.deliveries_failed, c.attempts),
        (0, 1, 2)
    );
}

#[test]
fn unknown_and_inactive_providers_are_typed_errors() {
    let (engine, _) = engine();
    let e = engine.ingest("nobody", &json("{}")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let mut p = provider("provider-x", &[], RecordFormat::Json, &[]);
    p.is_active = false;
    engine.configure(&[p], &[], &[]).unwrap();
    assert_eq!(
        engine.ingest("provider-x", &json("{}")).unwrap_err().kind(),
        ErrorKind::Forbidden
    );
}

#[test]
fn a_bad_rule_set_changes_nothing() {
    let (engine, store) = engine();
    let bad = rule(9, "solar_in", &["Solar"], &["4626"], 1);
    assert_eq!(
        engine.configure(&[], &[], &[bad]).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        with_tx(&*store as &dyn Store, |tx| Ok(tx.rules()?.len())).unwrap(),
        4
    );
}

fn accepted(o: &leadroute_core::engine::IngestOutcome) -> leadroute_core::engine::Accepted {
    match &o.outcome {
        Outcome::Accepted(a) => a.clone(),
        other => panic!("expected accepted, got {other:?}"),
    }
}

fn engine_with(config: EngineConfig) -> (Engine, Arc<MemoryStore>) {
    let (reference, store) = engine();
    drop(reference);
    (Engine::new(store.clone(), config).unwrap(), store)
}

const SOLAR_AGAIN: &str = r#"{"first_name": "Steph", "phone": "+1 (317) 863-8426", "email": "steph@example.net", "zip": "46262", "product": "Solar", "appointment_date": "2026-11-25T13:00:00Z", "lead_id": "a0000002"}"#;

#[test]
fn same_contact_and_product_within_the_window_is_a_duplicate_lead() {
    let (engine, store) = engine();
    let first = accepted(&engine.ingest("provider-a", &json(STEPHANIE)).unwrap());
    let again = accepted(&engine.ingest("provider-a", &json(SOLAR_AGAIN)).unwrap());
    assert_eq!(again.contact_id, first.contact_id);
    assert_eq!(again.duplicate_of, Some(first.lead_id));
    assert!(again.appointment.is_none(), "duplicates are not routed");
    // Another product for the same person is a new lead with its own appointment.
    let battery = SOLAR_AGAIN
        .replace("\"Solar\"", "\"Battery\"")
        .replace("a0000002", "a0000003");
    let b = accepted(&engine.ingest("provider-a", &json(&battery)).unwrap());
    assert_eq!(b.duplicate_of, None);
    assert!(b.appointment.is_some());
    let c = engine.counts().unwrap();
    assert_eq!((c.leads, c.appointments, c.deliveries), (3, 2, 2));
    let events = with_tx(&*store, |tx| {
        Ok(tx.events(EventSubject::Lead, again.lead_id.get())?)
    })
    .unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["received", "validated", "duplicate"]);
    assert_eq!(events[2].detail["original_lead_id"], first.lead_id.get());
    let stored = with_tx(&*store, |tx| Ok(tx.lead(again.lead_id)?.unwrap())).unwrap();
    assert_eq!(stored.lead.duplicate_of, Some(first.lead_id));
    // Delivering bills the two appointments once each; the duplicate bills nothing.
    let r = engine.deliver_due(&Scripted::default(), 10).unwrap();
    assert_eq!(r.delivered, 2);
    assert_eq!(engine.counts().unwrap().billing_events, 2);
}

#[test]
fn the_duplicate_window_is_configurable_globally_and_per_workspace() {
    let off = EngineConfig {
        duplicate_window: SignedDuration::ZERO,
        ..EngineConfig::default()
    };
    let (engine, _) = engine_with(off);
    engine.ingest("provider-a", &json(STEPHANIE)).unwrap();
    let again = accepted(&engine.ingest("provider-a", &json(SOLAR_AGAIN)).unwrap());
    assert_eq!(again.duplicate_of, None);

    // A workspace window of 0 days turns it off for leads routed there.
    let (engine, _) = self::engine();
    let mut ws = workspace("solar_in", true, 20_000);
    ws.duplicate_window_days = Some(0);
    engine.configure(&[], &[ws], &[]).unwrap();
    engine.ingest("provider-a", &json(STEPHANIE)).unwrap();
    let again = accepted(&engine.ingest("provider-a", &json(SOLAR_AGAIN)).unwrap());
    assert_eq!(again.duplicate_of, None);
    assert!(again.appointment.is_some());
}

#[test]
fn a_returning_person_updates_their_contact_with_events() {
    let (engine, store) = engine();
    let first = accepted(&engine.ingest("provider-a", &json(STEPHANIE)).unwrap());
    let again = accepted(&engine.ingest("provider-a", &json(SOLAR_AGAIN)).unwrap());
    assert!(first.new_contact && !again.new_contact);
    let contact = with_tx(&*store, |tx| Ok(tx.contact(first.contact_id)?.unwrap())).unwrap();
    assert_eq!(contact.contact.email.as_deref(), Some("steph@example.net"));
    assert_eq!(contact.contact.first_name.as_deref(), Some("Steph"));
    assert_eq!(
        contact.contact.last_name.as_deref(),
        Some("House"),
        "empty never overwrites"
    );
    let events = with_tx(&*store, |tx| {
        Ok(tx.events(EventSubject::Contact, first.contact_id.get())?)
    })
    .unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, vec!["created", "updated"]);
    let changes = &events[1].detail["changes"];
    assert_eq!(changes[0]["field"], "email");
    assert_eq!(changes[0]["old"], "jmonroe@example.net");
    assert_eq!(changes[0]["new"], "steph@example.net");
    assert_eq!(changes[1]["field"], "first_name");
}

#[test]
fn without_a_required_phone_email_dedups_and_merges() {
    let lenient = EngineConfig {
        require_phone: false,
        email_rules: leadroute_core::email::EmailKeyRules {
            provider_rules: true,
        },
        ..EngineConfig::default()
    };
    let (engine, store) = engine_with(lenient);
    let no_phone = json(
        r#"{"phone": "555", "email": "Jo.Ann+ads@gmail.com", "zip": "46262", "product": "Solar", "lead_id": "e1"}"#,
    );
    let a = accepted(&engine.ingest("provider-a", &no_phone).unwrap());
    assert!(a.new_contact);
    assert_eq!(a.warnings, vec!["invalid_phone"]);
    // The same mailbox under Gmail rules, still without a phone: the same contact.
    let b = json(
        r#"{"email": "joann@googlemail.com", "zip": "46262", "product": "Battery", "lead_id": "e2"}"#,
    );
    assert_eq!(
        accepted(&engine.ingest("provider-a", &b).unwrap()).contact_id,
        a.contact_id
    );
    // Now with a phone: the email-only contact takes the phone (a merge).
    let c = json(
        r#"{"phone": "317 863 8426", "email": "joann@gmail.com", "zip": "46262", "product": "Solar", "appointment_date": "2026-11-24T13:00:00Z", "lead_id": "e3"}"#,
    );
    let c = accepted(&engine.ingest("provider-a", &c).unwrap());
    assert_eq!(c.contact_id, a.contact_id);
    assert_eq!(
        c.duplicate_of,
        Some(a.lead_id),
        "same contact, same product, within 30 days"
    );
    let events = with_tx(&*store, |tx| {
        Ok(tx.events(EventSubject::Contact, a.contact_id.get())?)
    })
    .unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    // The second record's spelling of the same mailbox replaced the stored email.
    assert_eq!(kinds, vec!["created", "updated", "merged"]);
    assert_eq!(
        events[1].detail["changes"][0]["new"],
        "joann@googlemail.com"
    );
    assert_eq!(events[2].detail["changes"][0]["field"], "phone_e164");
    assert_eq!(events[2].detail["changes"][0]["new"], "+13178638426");
    // Neither phone nor email: rejected with both reasons.
    let none = json(r#"{"phone": "555", "zip": "46262", "product": "Solar", "lead_id": "e4"}"#);
    match engine.ingest("provider-a", &none).unwrap().outcome {
        Outcome::Rejected { reasons, .. } => {
            let codes: Vec<_> = reasons.iter().map(|r| r.code.as_str()).collect();
            assert_eq!(codes, vec!["invalid_phone", "missing_email"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(engine.counts().unwrap().contacts, 1);
}

#[test]
fn dedup_scopes_global_and_per_webhook() {
    use leadroute_core::contact::DedupScope;
    let record = |key: &str| {
        json(&format!(
            r#"{{"phone": "3178638426", "zip": "46262", "product": "Solar", "lead_id": "{key}"}}"#
        ))
    };
    let global = EngineConfig {
        dedup_scope: DedupScope::Global,
        ..EngineConfig::default()
    };
    let (engine, _) = engine_with(global);
    engine
        .configure(
            &[provider(
                "provider-b",
                &["solar"],
                RecordFormat::Json,
                &[("zip_code", "zip"), ("product_type", "product")],
            )],
            &[],
            &[],
        )
        .unwrap();
    let a = accepted(&engine.ingest("provider-a", &record("g1")).unwrap());
    let b = accepted(&engine.ingest("provider-b", &record("g2")).unwrap());
    assert_eq!(a.contact_id, b.contact_id, "one contact across providers");

    let per_webhook = EngineConfig {
        dedup_scope: DedupScope::Webhook,
        ..EngineConfig::default()
    };
    let (engine, _) = engine_with(per_webhook);
    let via = |wh: &str, key: &str| {
        accepted(
            &engine
                .ingest_batch_via("provider-a", Some(wh), &[record(key)])
                .unwrap()[0],
        )
    };
    let w1 = via("wh-1", "w1");
    let w1_again = via("wh-1", "w2");
    let w2 = via("wh-2", "w3");
    assert_eq!(w1.contact_id, w1_again.contact_id);
    assert_ne!(w1.contact_id, w2.contact_id);
}

fn unrouted_solar_in_nyc(engine: &Engine) -> AppointmentId {
    let out = engine
        .ingest("provider-a", &json(r#"{"first_name": "Ann", "phone": "2125550123", "email": "ann@example.com", "zip": "10001", "product": "Solar", "appointment_date": "2026-11-24T13:00:00Z", "lead_id": "ny1"}"#))
        .unwrap();
    match accepted(&out).appointment.unwrap() {
        (id, RoutingOutcome::Unrouted(UnroutedReason::NoRuleForZip)) => id,
        other => panic!("expected unrouted, got {other:?}"),
    }
}

#[test]
fn reroute_unrouted_after_rules_change() {
    let (engine, store) = engine();
    let id = unrouted_solar_in_nyc(&engine);
    let nothing = engine.reroute_unrouted(100).unwrap();
    assert_eq!(nothing.examined, 1);
    assert_eq!(nothing.still_unrouted["no_rule_for_zip"], 1);
    assert_eq!(engine.counts().unwrap().deliveries, 0);

    engine
        .configure(&[], &[], &[rule(5, "solar_in", &["Solar"], &["10001"], 3)])
        .unwrap();
    let r = engine.reroute_unrouted(100).unwrap();
    assert_eq!((r.examined, r.routed["solar_in"]), (1, 1));
    let appt = with_tx(&*store, |tx| Ok(tx.appointment(id)?.unwrap())).unwrap();
    match &appt.appointment.assignment {
        Assignment::Routed {
            workspace_id,
            rule_id,
            method,
            payment_rate,
            ..
        } => {
            assert_eq!(
                (workspace_id.as_str(), *rule_id, *method),
                ("solar_in", Some(5), RoutingMethod::Auto)
            );
            assert_eq!(*payment_rate, Cents(20_000));
        }
        other => panic!("{other:?}"),
    }
    let kinds: Vec<_> = with_tx(&*store, |tx| {
        Ok(tx.events(EventSubject::Appointment, id.get())?)
    })
    .unwrap()
    .into_iter()
    .map(|e| e.event_type)
    .collect();
    assert_eq!(kinds, vec!["unrouted", "rerouted"]);
    // The queue is empty now; the rerouted appointment is delivered with the lead's data.
    assert_eq!(engine.reroute_unrouted(100).unwrap().examined, 0);
    let t = Scripted::default();
    assert_eq!(engine.deliver_due(&t, 10).unwrap().delivered, 1);
    let body: serde_json::Value = serde_json::from_slice(&t.seen.lock().unwrap()[0].body).unwrap();
    assert_eq!(body["customer_name"], "Ann");
    assert_eq!(body["customer_phone"], "+12125550123");
    assert_eq!(body["customer_email"], "ann@example.com");
    assert_eq!(body["appointment_id"], id.get());
}

#[test]
fn manual_assignment_is_recorded_and_billed_once() {
    let (engine, store) = engine();
    let id = unrouted_solar_in_nyc(&engine);
    assert_eq!(
        engine
            .assign_manually(id, "nobody", "x")
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        engine
            .assign_manually(AppointmentId(9_999), "kitchen_ne", "x")
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    engine
        .assign_manually(id, "kitchen_ne", "client called in")
        .unwrap();
    assert_eq!(
        engine
            .assign_manually(id, "solar_in", "again")
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict,
        "a routed appointment is never moved"
    );
    let appt = with_tx(&*store, |tx| Ok(tx.appointment(id)?.unwrap())).unwrap();
    assert!(matches!(
        appt.appointment.assignment,
        Assignment::Routed {
            method: RoutingMethod::Manual,
            rule_id: None,
            ..
        }
    ));
    let events = with_tx(&*store, |tx| {
        Ok(tx.events(EventSubject::Appointment, id.get())?)
    })
    .unwrap();
    assert_eq!(events[1].event_type, "assigned_manually");
    assert_eq!(events[1].detail["note"], "client called in");
    let t = Scripted::default();
    let r = engine.deliver_due(&t, 10).unwrap();
    assert_eq!((r.delivered, r.billed), (1, Cents(15_000)));
    let body: serde_json::Value = serde_json::from_slice(&t.seen.lock().unwrap()[0].body).unwrap();
    assert_eq!(body["routing_method"], "manual");
}

#[test]
fn backtest_reports_moves_without_writing() {
    let (engine, _) = engine();
    engine.ingest("provider-a", &json(STEPHANIE)).unwrap();
    unrouted_solar_in_nyc(&engine);
    let before = engine.counts().unwrap();
    // Proposal: drop rule 2 (solar_in) and cover 10001 with a new rule for solar_in.
    let proposed = vec![
        rule(1, "solar_off", &["Solar"], &["46262"], 1),
        rule(6, "solar_in", &["Solar"], &["10001"], 1),
    ];
    let r = engine.backtest(&proposed).unwrap();
    assert_eq!(r.examined, 2);
    let moves: Vec<_> = r
        .moves
        .iter()
        .map(|m| (m.from.clone(), m.to.clone()))
        .collect();
    assert_eq!(
        moves,
        vec![
            (Some("solar_in".to_string()), None),
            (None, Some("solar_in".to_string()))
        ]
    );
    let rows: Vec<_> = r
        .per_workspace
        .iter()
        .map(|w| (w.workspace_id.clone(), w.current, w.proposed))
        .collect();
    assert_eq!(
        rows,
        vec![(None, 1, 1), (Some("solar_in".to_string()), 1, 1)]
    );
    assert_eq!(
        engine.counts().unwrap(),
        before,
        "a backtest writes nothing"
    );
    // A bad proposal is a typed error.
    let bad = vec![rule(1, "solar_in", &["Solar"], &["1"], 1)];
    assert_eq!(
        engine.backtest(&bad).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

fn solar_lead(n: u32) -> RawRecord {
    json(&format!(
        r#"{{"phone": "317863{n:04}", "zip": "46262", "product": "Solar", "appointment_date": "2026-11-24T13:00:00Z", "lead_id": "cap{n}"}}"#
    ))
}

fn routed_to(engine: &Engine, n: u32) -> Result<String, String> {
    match accepted(&engine.ingest("provider-a", &solar_lead(n)).unwrap())
        .appointment
        .unwrap()
        .1
    {
        RoutingOutcome::Routed { workspace_id, .. } => Ok(workspace_id),
        RoutingOutcome::Unrouted(r) => Err(r.code().to_string()),
    }
}

/// Two active Solar workspaces on 46262: solar_in (rule 2, priority 2) and solar_b (rule 8,
/// priority 3).
fn engine_with_backup(ws_in: Workspace, rule8: RoutingRule) -> (Engine, Arc<MemoryStore>) {
    let (engine, store) = engine();
    engine
        .configure(&[], &[ws_in, workspace("solar_b", true, 10_000)], &[rule8])
        .unwrap();
    (engine, store)
}

#[test]
fn workspace_and_rule_caps_move_appointments_down_the_list() {
    use leadroute_core::capacity::{Cap, CapPeriod, Capacity};
    let mut ws = workspace("solar_in", true, 20_000);
    ws.capacity = Capacity {
        caps: vec![Cap {
            period: CapPeriod::Day,
            limit: 1,
        }],
        budget: None,
    };
    let mut backup = rule(8, "solar_b", &["Solar"], &["46262"], 3);
    backup.capacity = Capacity {
        caps: vec![Cap {
            period: CapPeriod::Hour,
            limit: 1,
        }],
        budget: None,
    };
    let (engine, store) = engine_with_backup(ws, backup);
    assert_eq!(routed_to(&engine, 1), Ok("solar_in".into()));
    assert_eq!(routed_to(&engine, 2), Ok("solar_b".into()));
    assert_eq!(routed_to(&engine, 3), Err("no_eligible_workspace".into()));
    // The trace of the second says why solar_in was skipped.
    let events = with_tx(&*store, |tx| Ok(tx.events(EventSubject::Appointment, 2)?)).unwrap();
    let skipped: Vec<_> = events[0].detail["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "skipped")
        .map(|c| (c["rule_id"].as_i64().unwrap(), c["reason"].clone()))
        .collect();
    assert_eq!(skipped[0].0, 1, "rule 1's webhook is inactive");
    assert_eq!(
        skipped[1],
        (
            2,
            serde_json::json!({"code": "cap_reached", "scope": "workspace", "period": "day"})
        )
    );
    // A dry run explains the same without consuming anything.
    let before = engine.counts().unwrap();
    let dry = engine.explain("solar", "46262").unwrap();
    assert_eq!(dry["outcome"]["unrouted"], "no_eligible_workspace");
    let reasons: Vec<_> = dry["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reason"]["code"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        reasons,
        vec!["webhook_inactive", "cap_reached", "cap_reached"]
    );
    assert_eq!(engine.counts().unwrap(), before);
}

#[test]
fn a_budget_is_never_overspent() {
    use leadroute_core::capacity::{Budget, CapPeriod, Capacity};
    let mut ws = workspace("solar_in", true, 20_000);
    ws.capacity = Capacity {
        caps: vec![],
        budget: Some(Budget {
            amount: Cents(30_000),
            period: CapPeriod::Month,
        }),
    };
    let (engine, store) = engine_with_backup(ws, rule(8, "solar_b", &["Solar"], &["46262"], 3));
    assert_eq!(routed_to(&engine, 1), Ok("solar_in".into()));
    assert_eq!(
        routed_to(&engine, 2),
        Ok("solar_b".into()),
        "$200 more would exceed $300"
    );
    let events = with_tx(&*store, |tx| Ok(tx.events(EventSubject::Appointment, 2)?)).unwrap();
    assert!(events[0].detail["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["rule_id"] == 2 && c["reason"]["code"] == "budget_spent"));
}

#[test]
fn outside_its_hours_a_workspace_is_skipped() {
    use leadroute_core::schedule::WeeklySchedule;
    // Open only on the day after tomorrow (UTC): closed now.
    let day = jiff::tz::Offset::UTC
        .to_datetime(Timestamp::now())
        .weekday()
        .next()
        .next();
    let name = format!("{day:?}").to_lowercase();
    let schedule = WeeklySchedule::from_json(&format!(
        r#"{{"timezone": "UTC", "hours": [{{"days": ["{name}"], "start": "00:00", "end": "24:00"}}]}}"#
    ))
    .unwrap();
    let mut ws = workspace("solar_in", true, 20_000);
    ws.schedule = Some(schedule);
    let (engine, _) = engine_with_backup(ws, rule(8, "solar_b", &["Solar"], &["46262"], 3));
    assert_eq!(routed_to(&engine, 1), Ok("solar_b".into()));
    let dry = engine.explain("Solar", "46262").unwrap();
    assert_eq!(dry["candidates"][1]["reason"]["code"], "outside_schedule");
}

#[test]
fn weighted_round_robin_is_fair_and_survives_a_restart() {
    use leadroute_core::routing::TiePolicy;
    let config = || EngineConfig {
        tie_policy: TiePolicy::WeightedRoundRobin,
        ..EngineConfig::default()
    };
    let (engine, store) = engine_with_backup(
        workspace("solar_in", true, 20_000),
        rule(8, "solar_b", &["Solar"], &["46262"], 3),
    );
    drop(engine);
    // Rules 2 (weight 3) and 9 (weight 1) tie at priority 2.
    let mut heavy = rule(2, "solar_in", &["Solar", "Battery"], &["46262", "46201"], 2);
    heavy.targeting.weight = 3;
    let light = rule(9, "solar_b", &["Solar"], &["46262"], 2);
    let engine = Engine::new(store.clone(), config()).unwrap();
    engine.configure(&[], &[], &[heavy, light]).unwrap();
    let mut got: Vec<String> = (0..4).map(|n| routed_to(&engine, n).unwrap()).collect();
    drop(engine);
    // A new engine on the same store continues the rotation where it left off.
    let engine = Engine::new(store.clone(), config()).unwrap();
    got.extend((4..8).map(|n| routed_to(&engine, n).unwrap()));
    let heavy_share = got.iter().filter(|w| *w == "solar_in").count();
    assert_eq!(heavy_share, 6, "3:1 over 8 picks: {got:?}");
    assert_eq!(
        got[0..4],
        got[4..8],
        "the rotation repeats across the restart: {got:?}"
    );
}

#[test]
fn product_aliases_are_configurable() {
    let config = EngineConfig {
        product_aliases: vec![("PV".into(), "Solar".into())],
        ..EngineConfig::default()
    };
    let (engine, _) = engine_with(config);
    // A record naming the alias routes as the product; so does a rule naming it.
    let pv = json(
        r#"{"phone": "3178638400", "zip": "46201", "product": "pv", "appointment_date": "2026-11-24T13:00:00Z"}"#,
    );
    let a = accepted(&engine.ingest("provider-a", &pv).unwrap());
    assert!(matches!(
        a.appointment.unwrap().1,
        RoutingOutcome::Routed { rule_id: 2, .. }
    ));
    engine
        .configure(&[], &[], &[rule(11, "kitchen_ne", &["PV"], &["10001"], 1)])
        .unwrap();
    assert_eq!(
        engine.explain("Solar", "10001").unwrap()["outcome"]["rule_id"],
        11
    );
    let bad = EngineConfig {
        product_aliases: vec![("Sun".into(), "Nope".into())],
        ..EngineConfig::default()
    };
    let store = Arc::new(MemoryStore::new());
    let e = Engine::new(store, bad).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn a_return_credits_the_charge_and_gives_the_cap_back() {
    use leadroute_core::capacity::{Cap, CapPeriod, Capacity};
    let mut ws = workspace("solar_in", true, 20_000);
    ws.capacity = Capacity {
        caps: vec![Cap {
            period: CapPeriod::Day,
            limit: 1,
        }],
        budget: None,
    };
    let (engine, store) = engine_with_backup(ws, rule(8, "solar_b", &["Solar"], &["46262"], 3));
    assert_eq!(routed_to(&engine, 1), Ok("solar_in".into()));
    let id = AppointmentId(1);
    // Not delivered yet: nothing to return.
    assert_eq!(
        engine
            .return_appointment(id, "too early")
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    engine.deliver_due(&Scripted::default(), 10).unwrap();
    let credit = engine.return_appointment(id, "wrong number").unwrap();
    assert_eq!(
        (credit.kind, credit.amount),
        (BillingKind::Credit, Cents(-20_000))
    );
    assert_eq!(
        engine.return_appointment(id, "again").unwrap_err().kind(),
        ErrorKind::Conflict,
        "a return is credited once"
    );
    assert_eq!(
        engine
            .return_appointment(AppointmentId(9_999), "x")
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    // The day cap is free again: the next appointment goes to solar_in, not the backup.
    assert_eq!(routed_to(&engine, 2), Ok("solar_in".into()));
    let events = with_tx(&*store, |tx| {
        Ok(tx.events(EventSubject::Appointment, id.get())?)
    })
    .unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        (last.event_type.as_str(), &last.detail["reason"]),
        ("returned", &serde_json::json!("wrong number"))
    );
    // Billing summary: one charge and one credit, net zero.
    let day = SignedDuration::from_hours(24);
    let now = Timestamp::now();
    let summary = engine.billing_summary(now - day, now + day).unwrap();
    assert_eq!(summary.len(), 1);
    let row = &summary[0];
    assert_eq!(
        (
            row.workspace_id.as_str(),
            row.charges,
            row.charged,
            row.credits,
            row.credited,
            row.net
        ),
        ("solar_in", 1, Cents(20_000), 1, Cents(-20_000), Cents(0))
    );
    assert!(engine
        .billing_summary(now + day, now + day + day)
        .unwrap()
        .is_empty());
}

#[test]
fn payloads_are_shaped_per_workspace_and_signed_with_every_secret() {
    let mut ws = workspace("solar_in", true, 20_000);
    ws.delivery = serde_json::from_value(serde_json::json!({
        "rename": {"customer_phone": "phone"},
        "omit": ["notes"],
        "constants": {"source": "leadroute"},
        "envelope": true,
        "additional_secrets": ["whsec_bmV3LXNlY3JldC1rZXktMTIzNA=="]
    }))
    .unwrap();
    let (engine, _) = engine();
    engine.configure(&[], &[ws], &[]).unwrap();
    engine.ingest("provider-a", &json(STEPHANIE)).unwrap();
    let t = Scripted::default();
    assert_eq!(engine.deliver_due(&t, 10).unwrap().delivered, 1);
    let req = t.seen.lock().unwrap()[0].clone();
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["type"], "appointment.created");
    assert_eq!(body["data"]["phone"], "+13178638426");
    assert_eq!(body["data"]["source"], "leadroute");
    assert!(body["data"].get("notes").is_none() && body["data"].get("customer_phone").is_none());
    let h = |k: &str| req.headers.iter().find(|(n, _)| n == k).unwrap().1.clone();
    let sig = h("webhook-signature");
    assert_eq!(
        sig.split(' ').count(),
        2,
        "one signature per secret during rotation"
    );
    for secret in [
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_bmV3LXNlY3JldC1rZXktMTIzNA==",
    ] {
        leadroute_core::signature::verify(
            secret,
            &h("webhook-id"),
            h("webhook-timestamp").parse().unwrap(),
            &req.body,
            &sig,
        )
        .unwrap();
    }
}

fn solar_in_leads(engine: &Engine, from: u32, n: u32) {
    for i in from..from + n {
        assert_eq!(routed_to(engine, i), Ok("solar_in".into()));
    }
}

#[test]
fn a_410_disables_the_endpoint_and_deliveries_wait_until_it_is_re_enabled() {
    let (engine, store) = engine();
    solar_in_leads(&engine, 1, 1);
    let t = Scripted::default();
    *t.statuses.lock().unwrap() = vec![Ok(410)];
    let r = engine.deliver_due(&t, 10).unwrap();
    assert_eq!(
        (r.attempted, r.delivered, r.failed, r.retrying),
        (1, 0, 0, 1)
    );
    let h = engine.endpoint_health("solar_in").unwrap();
    assert!(h.disabled);
    assert_eq!(h.disabled_reason.as_deref(), Some("HTTP 410"));
    // A new appointment for the disabled endpoint is deferred, not attempted, not dropped.
    solar_in_leads(&engine, 2, 1);
    let r = engine.deliver_due(&t, 10).unwrap();
    assert_eq!((r.attempted, r.deferred), (0, 1));
    assert_eq!(t.seen.lock().unwrap().len(), 1);
    // Re-enabling resumes both; they are delivered and billed once each.
    assert_eq!(engine.enable_endpoint("solar_in").unwrap(), 2);
    assert_eq!(engine.deliver_due(&t, 10).unwrap().delivered, 2);
    let c = engine.counts().unwrap();
    assert_eq!(
        (
            c.deliveries_succeeded,
            c.billing_events,
            c.deliveries_failed
        ),
        (2, 2, 0)
    );
    assert!(!engine.endpoint_health("solar_in").unwrap().disabled);
    let d = with_tx(&*store, |tx| Ok(tx.delivery(DeliveryId(1))?.unwrap())).unwrap();
    assert_eq!(d.attempts, 2, "the 410 attempt and the successful one");
    assert_eq!(
        engine.enable_endpoint("nobody").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn failures_in_a_row_pause_the_endpoint_then_one_probe_goes_through() {
    use leadroute_core::delivery::EndpointPolicy;
    let paused = EngineConfig {
        endpoint: EndpointPolicy {
            failures_to_pause: 2,
            cool_down: std::time::Duration::from_secs(3600),
            recheck: std::time::Duration::from_secs(3600),
        },
        ..EngineConfig::default()
    };
    let (engine, _) = engine_with(paused);
    solar_in_leads(&engine, 1, 2);
    let t = Scripted::default();
    *t.statuses.lock().unwrap() = vec![Ok(503), Ok(503)];
    assert_eq!(engine.deliver_due(&t, 10).unwrap().retrying, 2);
    let h = engine.endpoint_health("solar_in").unwrap();
    assert_eq!(h.consecutive_failures, 2);
    assert!(h.paused_until.is_some(), "paused after 2 failures in a row");
    // While paused, new deliveries wait without an attempt.
    solar_in_leads(&engine, 3, 1);
    let r = engine.deliver_due(&t, 10).unwrap();
    assert_eq!((r.attempted, r.deferred), (0, 1));

    // With no cool-down, the pause is over at once: one probe, the others wait for it.
    let probing = EngineConfig {
        endpoint: EndpointPolicy {
            failures_to_pause: 2,
            cool_down: std::time::Duration::ZERO,
            recheck: std::time::Duration::from_secs(3600),
        },
        ..EngineConfig::default()
    };
    let (engine, _) = engine_with(probing);
    solar_in_leads(&engine, 1, 2);
    *t.statuses.lock().unwrap() = vec![Ok(500), Ok(500)];
    engine.deliver_due(&t, 10).unwrap();
    solar_in_leads(&engine, 3, 2);
    let r = engine.deliver_due(&t, 10).unwrap();
    assert_eq!(
        (r.attempted, r.delivered, r.deferred),
        (1, 1, 1),
        "one probe"
    );
    assert_eq!(
        engine
            .endpoint_health("solar_in")
            .unwrap()
            .consecutive_failures,
        0
    );
    assert_eq!(
        engine.deliver_due(&t, 10).unwrap().delivered,
        1,
        "the probe reopened it"
    );
}

#[test]
fn vertical_rules_require_fields_per_lead_type_when_configured() {
    // STEPHANIE is solar with `roof_age` but no `monthly_electric_bill`.
    let config = EngineConfig {
        validation: leadroute_core::validate::ValidationOptions {
            vertical_rules: leadroute_core::validate::VerticalRules::seed_defaults(),
            ..Default::default()
        },
        ..EngineConfig::default()
    };
    let (strict, _) = engine_with(config);
    match strict
        .ingest("provider-a", &json(STEPHANIE))
        .unwrap()
        .outcome
    {
        Outcome::Rejected { reasons, .. } => {
            let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
            assert_eq!(codes, ["missing_required_field"]);
            assert!(
                reasons[0].detail.contains("monthly_electric_bill"),
                "{reasons:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let complete = STEPHANIE
        .replace(
            r#""roof_age": 28"#,
            r#""roof_age": 28, "monthly_electric_bill": "180""#,
        )
        .replace("a0000001", "a0000009");
    accepted(&strict.ingest("provider-a", &json(&complete)).unwrap());
    // The default (the seed's behaviour) requires none of them.
    let (lenient, _) = engine();
    accepted(&lenient.ingest("provider-a", &json(STEPHANIE)).unwrap());
}
