//! Cal.com bookings end to end on the memory store: signed deliveries of the 2021-10-20
//! payload shape become routed appointments, follow every trigger, keep one identity across
//! reschedules, and settle to the same state in any order, with duplicates.

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use leadroute_core::auth::SignatureScheme;
use leadroute_core::calcom::CalcomConfig;
use leadroute_core::delivery::{Transport, TransportError, WebhookRequest, WebhookResponse};
use leadroute_core::engine::{BookingOutcome, FixedClock, RoutingOutcome};
use leadroute_core::model::*;
use leadroute_core::routing::RoutingRule;
use leadroute_core::status::AppointmentStatus;
use leadroute_core::storage::{with_tx, MemoryStore};
use leadroute_core::{Engine, EngineConfig, ErrorKind};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "cal_whsec_5ddbf2e1a0c94f7e";

struct Ok200;

impl Transport for Ok200 {
    fn post(&self, _: &WebhookRequest, _: Duration) -> Result<WebhookResponse, TransportError> {
        Ok(WebhookResponse {
            status: 200,
            body_excerpt: String::new(),
            retry_after: None,
        })
    }
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 2026-03-02T14:00:00Z plus `minutes`, as Cal.com writes `createdAt`.
fn created(minutes: i64) -> String {
    let t = Timestamp::from_second(1_772_460_000 + minutes * 60).unwrap();
    t.strftime("%Y-%m-%dT%H:%M:%S.%3fZ").to_string()
}

/// 2026-03-10T15:00:00Z plus `minutes`.
fn slot(minutes: i64) -> String {
    let t = Timestamp::from_second(1_773_154_800 + minutes * 60).unwrap();
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn booking(uid: &str, start: i64) -> Value {
    json!({
        "type": "solar-consultation",
        "title": "Solar consultation between Acme Solar and Dana Whitfield",
        "startTime": slot(start),
        "endTime": slot(start + 30),
        "organizer": {"name": "Acme Solar", "email": "bookings@acme-solar.example", "timeZone": "America/Chicago"},
        "attendees": [{"email": "dana.whitfield@example.com", "name": "Dana Whitfield", "timeZone": "America/Chicago"}],
        "responses": {
            "name": {"label": "your_name", "value": "Dana Whitfield"},
            "email": {"label": "email_address", "value": "dana.whitfield@example.com"},
            "attendeePhoneNumber": {"label": "Phone number", "value": "+15125550147"},
            "zip": {"label": "ZIP code", "value": "78701"}
        },
        "uid": uid,
        "bookingId": 90210,
        "eventTypeId": 1187,
        "status": "ACCEPTED",
        "location": "https://cal.com/video/abc",
        "additionalNotes": "South-facing roof"
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        b.extend(e);
    }
    base
}

fn body(trigger: &str, at: i64, payload: Value) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"triggerEvent": trigger, "createdAt": created(at), "payload": payload}),
    )
    .unwrap()
}

fn created_ev(uid: &str, at: i64, start: i64) -> Vec<u8> {
    body("BOOKING_CREATED", at, booking(uid, start))
}

fn rescheduled(old: &str, new: &str, at: i64, start: i64) -> Vec<u8> {
    body(
        "BOOKING_RESCHEDULED",
        at,
        with(booking(new, start), json!({"rescheduleUid": old})),
    )
}

fn cancelled(uid: &str, at: i64, start: i64, reason: &str, request_reschedule: bool) -> Vec<u8> {
    body(
        "BOOKING_CANCELLED",
        at,
        with(
            booking(uid, start),
            json!({"status": "CANCELLED", "cancellationReason": reason, "requestReschedule": request_reschedule}),
        ),
    )
}

struct World {
    engine: Engine,
}

fn world_with(secret: Option<&str>) -> World {
    let clock = Arc::new(FixedClock::new("2026-03-02T15:00:00Z".parse().unwrap()));
    let engine = Engine::new(
        Arc::new(MemoryStore::new()),
        EngineConfig {
            clock,
            ..EngineConfig::default()
        },
    )
    .unwrap();
    let ws = Workspace {
        timezone: Some("America/Chicago".into()),
        webhook_secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        returns: ReturnPolicy {
            credit_no_show: true,
            ..Default::default()
        },
        ..Workspace::new(
            "acme_solar_tx",
            "http://127.0.0.1:9/hooks/acme",
            Cents(18_000),
        )
    };
    let rule = RoutingRule {
        id: 1,
        workspace_id: ws.id.clone(),
        product_types: vec!["Solar".into()],
        zip_codes: vec!["78701".into()],
        priority: 1,
        is_active: true,
        notes: None,
        targeting: Default::default(),
        capacity: Default::default(),
    };
    let provider = Provider {
        lead_types: vec!["solar".into()],
        ..Provider::new("calcom-bookings")
    };
    engine.configure(&[provider], &[ws], &[rule]).unwrap();
    let mut config = CalcomConfig::new("calcom-bookings");
    config
        .products
        .insert("solar-consultation".into(), "solar".into());
    engine
        .configure_webhooks(&[WebhookConfig {
            secret: secret.map(str::to_string),
            signature_scheme: SignatureScheme::CalCom,
            calcom: Some(config),
            ..WebhookConfig::new("cal-acme")
        }])
        .unwrap();
    World { engine }
}

fn world() -> World {
    world_with(Some(SECRET))
}

fn post(w: &World, body: &[u8]) -> BookingOutcome {
    let sig = sign(SECRET, body);
    w.engine
        .ingest_cal_webhook("cal-acme", body, &[("X-Cal-Signature-256", &sig)])
        .unwrap()
}

/// (status, start, end, reschedule count, cancellation reason) of the only appointment.
fn state(
    w: &World,
) -> (
    AppointmentStatus,
    Timestamp,
    Option<Timestamp>,
    u32,
    Option<String>,
) {
    let counts = w.engine.counts().unwrap();
    assert_eq!(
        counts.appointments, 1,
        "one appointment per booking lineage"
    );
    let a = w.engine.appointment(AppointmentId(1)).unwrap().unwrap();
    (
        a.lifecycle.status,
        a.appointment.appointment_date,
        a.appointment.details.end_time,
        a.lifecycle.reschedule_count,
        a.lifecycle.cancellation_reason,
    )
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn a_created_booking_becomes_a_routed_appointment_with_its_seed_fields() {
    let w = world();
    let out = post(&w, &created_ev("uid-a", 0, 0));
    assert!(out.applied);
    assert_eq!(out.status, Some(AppointmentStatus::Scheduled));
    assert!(
        matches!(out.routing, Some(RoutingOutcome::Routed { ref workspace_id, .. }) if workspace_id == "acme_solar_tx")
    );
    let a = w
        .engine
        .appointment(out.appointment_id.unwrap())
        .unwrap()
        .unwrap();
    let d = &a.appointment.details;
    assert_eq!(d.cal_booking_uid.as_deref(), Some("uid-a"));
    assert_eq!(d.end_time, Some(t("2026-03-10T15:30:00Z")));
    assert_eq!(d.duration_minutes, Some(30));
    assert_eq!(d.appointment_type.as_deref(), Some("solar-consultation"));
    assert_eq!(d.location_type.as_deref(), Some("video"));
    assert_eq!(d.customer_notes.as_deref(), Some("South-facing roof"));
    let contact = w.engine.contact(ContactId(1)).unwrap().unwrap();
    assert_eq!(contact.contact.phone_e164.as_deref(), Some("+15125550147"));
    // The same delivery again changes nothing; a known uid created again changes nothing.
    let again = post(&w, &created_ev("uid-a", 0, 0));
    assert!(again.duplicate && !again.applied);
    let later = post(&w, &created_ev("uid-a", 5, 0));
    assert!(!later.applied && !later.duplicate);
    assert_eq!(w.engine.counts().unwrap().leads, 1);
}

#[test]
fn refusals_store_nothing() {
    let w = world();
    let b = created_ev("uid-a", 0, 0);
    let sig = sign(SECRET, &b);
    let wrong = sign("another-secret", &b);
    type Case<'a> = (Vec<u8>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (b.clone(), vec![], "calcom_missing_signature"),
        (
            b.clone(),
            vec![("x-cal-signature-256", &wrong)],
            "calcom_bad_signature",
        ),
        (
            [&b[..], b" "].concat(),
            vec![("x-cal-signature-256", &sig)],
            "calcom_bad_signature",
        ),
        (
            b.clone(),
            vec![("x-cal-signature-256", "no-secret-provided")],
            "calcom_no_secret",
        ),
    ];
    for (body, headers, code) in cases {
        let e = w
            .engine
            .ingest_cal_webhook("cal-acme", &body, &headers)
            .unwrap_err();
        assert_eq!((e.kind(), e.code()), (ErrorKind::Unauthorized, code));
    }
    for secret in [None, Some("no-secret-provided")] {
        let w = world_with(secret);
        let sig = sign(secret.unwrap_or(""), &b);
        let e = w
            .engine
            .ingest_cal_webhook("cal-acme", &b, &[("x-cal-signature-256", &sig)])
            .unwrap_err();
        assert_eq!(
            (e.kind(), e.code()),
            (ErrorKind::Unauthorized, "calcom_no_secret")
        );
    }
    let e = w.engine.ingest_cal_webhook("nope", &b, &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(w.engine.counts().unwrap().leads, 0);
}

#[test]
fn a_malformed_body_is_an_error_and_its_bytes_are_kept() {
    let w = world();
    let body = br#"{"triggerEvent": "BOOKING_CREATED", "payload": {"uid": 7}}"#;
    let sig = sign(SECRET, body);
    let e = w
        .engine
        .ingest_cal_webhook("cal-acme", body, &[("x-cal-signature-256", &sig)])
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::InvalidInput, "calcom_malformed")
    );
    let stored = with_tx(&**w.engine.store(), |tx| {
        Ok(tx.rejections(&RejectionFilter::default(), RejectionId(0), 10)?)
    })
    .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].rejection.raw_payload.as_bytes(), body);
    assert_eq!(
        stored[0].rejection.reason_codes,
        [ReasonCode::MalformedRecord]
    );
}

#[test]
fn unknown_triggers_are_stored_and_acknowledged() {
    let w = world();
    post(&w, &created_ev("uid-a", 0, 0));
    let out = post(&w, &body("RECORDING_READY", 3, json!({"uid": "uid-a"})));
    assert!(!out.applied);
    assert_eq!(out.trigger, "RECORDING_READY");
    assert_eq!(out.appointment_id, Some(AppointmentId(1)));
}

#[test]
fn one_identity_across_three_reschedules_then_a_cancel() {
    let w = world();
    post(&w, &created_ev("a", 0, 0));
    post(&w, &rescheduled("a", "b", 10, 60));
    post(&w, &rescheduled("b", "c", 20, 120));
    let out = post(&w, &rescheduled("c", "d", 30, 180));
    assert_eq!(out.appointment_id, Some(AppointmentId(1)));
    let (status, start, end, count, _) = state(&w);
    assert_eq!(
        (status, start, end, count),
        (
            AppointmentStatus::Rescheduled,
            t("2026-03-10T18:00:00Z"),
            Some(t("2026-03-10T18:30:00Z")),
            3
        )
    );
    let uids = with_tx(&**w.engine.store(), |tx| {
        Ok(tx.booking_uids(AppointmentId(1))?)
    })
    .unwrap();
    assert_eq!(uids, ["a", "b", "c", "d"]);
    // A stale cancel of a superseded uid changes nothing; a cancel of the current one does.
    assert!(!post(&w, &cancelled("b", 40, 60, "stale", false)).applied);
    let out = post(&w, &cancelled("d", 50, 180, "changed plans", false));
    assert!(out.applied);
    assert_eq!(state(&w).0, AppointmentStatus::Cancelled);
    assert_eq!(state(&w).4.as_deref(), Some("changed plans"));
    // Never revived.
    assert!(!post(&w, &rescheduled("d", "e", 60, 240)).applied);
    assert_eq!(state(&w).0, AppointmentStatus::Cancelled);
}

#[test]
fn shuffled_deliveries_with_duplicates_settle_to_the_same_state() {
    let history = vec![
        created_ev("a", 0, 0),
        rescheduled("a", "b", 10, 60),
        rescheduled("b", "c", 20, 120),
        body(
            "BOOKING_NO_SHOW_UPDATED",
            40,
            with(
                booking("c", 120),
                json!({"attendees": [{"email": "dana.whitfield@example.com", "noShow": true}]}),
            ),
        ),
        body("MEETING_ENDED", 35, booking("c", 120)),
    ];
    let reference = {
        let w = world();
        for b in &history {
            post(&w, b);
        }
        state(&w)
    };
    assert_eq!(reference.0, AppointmentStatus::NoShow);
    assert_eq!(reference.3, 2);
    let mut rng = fastrand::Rng::with_seed(20261207);
    for round in 0..60 {
        let mut deliveries = history.clone();
        for _ in 0..rng.usize(0..4) {
            let d = deliveries[rng.usize(0..deliveries.len())].clone();
            deliveries.push(d);
        }
        rng.shuffle(&mut deliveries);
        let w = world();
        for b in &deliveries {
            post(&w, b);
        }
        assert_eq!(state(&w), reference, "round {round}");
    }
}

#[test]
fn out_of_order_cancels_and_reschedules_end_as_in_order() {
    // Cancelled before created.
    let w = world();
    post(&w, &cancelled("a", 10, 0, "no longer needed", false));
    post(&w, &created_ev("a", 0, 0));
    assert_eq!(state(&w).0, AppointmentStatus::Cancelled);
    // Rescheduled before created.
    let w = world();
    post(&w, &rescheduled("a", "b", 10, 60));
    post(&w, &created_ev("a", 0, 0));
    let s = state(&w);
    assert_eq!(
        (s.0, s.1, s.3),
        (AppointmentStatus::Rescheduled, t("2026-03-10T16:00:00Z"), 1)
    );
    // A late created after a cancel.
    let w = world();
    post(&w, &created_ev("a", 0, 0));
    post(&w, &cancelled("a", 10, 0, "x", false));
    assert!(!post(&w, &created_ev("a", 5, 0)).applied);
    assert_eq!(state(&w).0, AppointmentStatus::Cancelled);
}

#[test]
fn requested_then_rejected_and_requested_then_confirmed() {
    let pending = |uid: &str, at| {
        body(
            "BOOKING_REQUESTED",
            at,
            with(booking(uid, 0), json!({"status": "PENDING"})),
        )
    };
    let w = world();
    assert_eq!(
        post(&w, &pending("a", 0)).status,
        Some(AppointmentStatus::Scheduled)
    );
    let out = post(
        &w,
        &body(
            "BOOKING_REJECTED",
            5,
            with(
                booking("a", 0),
                json!({"status": "REJECTED", "rejectionReason": "fully booked"}),
            ),
        ),
    );
    assert_eq!(out.status, Some(AppointmentStatus::Cancelled));
    let w = world();
    post(&w, &pending("a", 0));
    assert_eq!(
        post(&w, &created_ev("a", 5, 0)).status,
        Some(AppointmentStatus::Confirmed)
    );
}

#[test]
fn meeting_ended_completes_and_a_no_show_is_credited() {
    let w = world();
    post(&w, &created_ev("a", 0, 0));
    w.engine.deliver_due(&Ok200, 10).unwrap();
    assert_eq!(
        post(&w, &body("MEETING_ENDED", 20, booking("a", 0))).status,
        Some(AppointmentStatus::Completed)
    );
    let out = post(
        &w,
        &body(
            "BOOKING_NO_SHOW_UPDATED",
            30,
            with(
                booking("a", 0),
                json!({"attendees": [{"email": "dana.whitfield@example.com", "noShow": true}]}),
            ),
        ),
    );
    assert_eq!(out.status, Some(AppointmentStatus::NoShow));
    let billing = with_tx(&**w.engine.store(), |tx| {
        Ok(tx.billing_events_for(AppointmentId(1))?)
    })
    .unwrap();
    let kinds: Vec<(BillingKind, i64)> = billing.iter().map(|b| (b.kind, b.amount.0)).collect();
    assert_eq!(
        kinds,
        [
            (BillingKind::Charge, 18_000),
            (BillingKind::Credit, -18_000)
        ]
    );
}

#[test]
fn a_host_reschedule_request_is_recorded_and_not_billed_as_a_show() {
    let w = world();
    post(&w, &created_ev("a", 0, 0));
    w.engine.deliver_due(&Ok200, 10).unwrap();
    let out = post(
        &w,
        &cancelled("a", 10, 0, "host asked for a new time", true),
    );
    assert_eq!(out.status, Some(AppointmentStatus::Cancelled));
    let a = w.engine.appointment(AppointmentId(1)).unwrap().unwrap();
    assert!(a.lifecycle.reschedule_requested);
    let billing = with_tx(&**w.engine.store(), |tx| {
        Ok(tx.billing_events_for(AppointmentId(1))?)
    })
    .unwrap();
    assert_eq!(
        billing.iter().map(|b| b.amount.0).sum::<i64>(),
        0,
        "credited"
    );
}
