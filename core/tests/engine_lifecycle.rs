//! The appointment's life after delivery, on the memory store with a fixed clock: lifecycle
//! transitions, the client's webhook events in order, return policies, redelivery,
//! reassignment and reprocessing of rejections.

use jiff::{SignedDuration, Timestamp};
use leadroute_core::delivery::{Transport, TransportError, WebhookRequest, WebhookResponse};
use leadroute_core::engine::{FixedClock, Outcome, RoutingOutcome};
use leadroute_core::intake::RawRecord;
use leadroute_core::lifecycle::Actor;
use leadroute_core::model::*;
use leadroute_core::routing::RoutingRule;
use leadroute_core::status::{AppointmentStatus, EventKind, ReturnStatus, WebhookEventType};
use leadroute_core::storage::{with_tx, MemoryStore};
use leadroute_core::{Engine, EngineConfig, ErrorKind};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A transport that answers from a script (then 200) and records what it saw.
#[derive(Default)]
struct Scripted {
    statuses: Mutex<Vec<u16>>,
    seen: Mutex<Vec<WebhookRequest>>,
}

impl Transport for Scripted {
    fn post(&self, r: &WebhookRequest, _t: Duration) -> Result<WebhookResponse, TransportError> {
        self.seen.lock().unwrap().push(r.clone());
        let status = {
            let mut s = self.statuses.lock().unwrap();
            if s.is_empty() {
                200
            } else {
                s.remove(0)
            }
        };
        Ok(WebhookResponse {
            status,
            body_excerpt: String::new(),
            retry_after: None,
        })
    }
}

impl Scripted {
    fn failing(statuses: &[u16]) -> Scripted {
        Scripted {
            statuses: Mutex::new(statuses.to_vec()),
            ..Default::default()
        }
    }

    /// (webhook-id, event type or `appointment.created`, appointment id) of every request.
    fn seen(&self) -> Vec<(String, String, i64)> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| {
                let id = r
                    .headers
                    .iter()
                    .find(|(k, _)| k == "webhook-id")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                let kind = body["type"]
                    .as_str()
                    .unwrap_or("appointment.created")
                    .to_string();
                let appt = body["data"]["appointment_id"]
                    .as_i64()
                    .or(body["appointment_id"].as_i64())
                    .unwrap_or(0);
                (id, kind, appt)
            })
            .collect()
    }
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const START: &str = "2026-11-20T15:00:00Z";

fn workspace(id: &str, rate: i64) -> Workspace {
    Workspace {
        timezone: Some("America/Indiana/Indianapolis".into()),
        webhook_secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        ..Workspace::new(id, &format!("http://127.0.0.1:9/hooks/{id}"), Cents(rate))
    }
}

fn rule(id: i64, ws: &str, priority: i32) -> RoutingRule {
    RoutingRule {
        id,
        workspace_id: ws.into(),
        product_types: vec!["Solar".into()],
        zip_codes: vec!["46262".into()],
        priority,
        is_active: true,
        notes: None,
        targeting: Default::default(),
        capacity: Default::default(),
    }
}

fn provider(lead_types: &[&str]) -> Provider {
    Provider {
        lead_types: lead_types.iter().map(|s| s.to_string()).collect(),
        field_map: [
            ("zip_code".to_string(), "zip".to_string()),
            ("product_type".to_string(), "product".to_string()),
        ]
        .into_iter()
        .collect::<BTreeMap<_, _>>(),
        ..Provider::new("provider-a")
    }
}

struct World {
    engine: Engine,
    clock: Arc<FixedClock>,
}

fn world(primary: Workspace) -> World {
    let clock = Arc::new(FixedClock::new(t(START)));
    let config = EngineConfig {
        clock: clock.clone(),
        ..EngineConfig::default()
    };
    let engine = Engine::new(Arc::new(MemoryStore::new()), config).unwrap();
    engine
        .configure(
            &[provider(&["solar"])],
            &[primary, workspace("solar_b", 15_000)],
            &[rule(1, "solar_a", 1), rule(2, "solar_b", 2)],
        )
        .unwrap();
    World { engine, clock }
}

fn lead(n: u32, day: &str) -> RawRecord {
    RawRecord::Json(format!(
        r#"{{"first_name": "Pat", "last_name": "Lee", "phone": "317-863-{n:04}", "zip": "46262", "product": "solar", "appointment_date": "{day}T13:00:00Z", "lead_id": "L{n}"}}"#
    ))
}

/// Ingests lead `n` (appointment on 2026-11-24) and returns its appointment.
fn appointment(w: &World, n: u32) -> AppointmentId {
    let out = w
        .engine
        .ingest("provider-a", &lead(n, "2026-11-24"))
        .unwrap();
    match out.outcome {
        Outcome::Accepted(a) => a.appointment.unwrap().0,
        other => panic!("not accepted: {other:?}"),
    }
}

fn delivered(w: &World, n: u32) -> AppointmentId {
    let id = appointment(w, n);
    let r = w.engine.deliver_due(&Scripted::default(), 10).unwrap();
    assert!(r.delivered >= 1);
    id
}

fn events(w: &World, id: AppointmentId) -> Vec<NewEvent> {
    w.engine.events(EventSubject::Appointment, id).unwrap()
}

fn billing(w: &World, id: AppointmentId) -> Vec<(String, BillingKind, i64)> {
    with_tx(&**w.engine.store(), |tx| Ok(tx.billing_events_for(id)?))
        .unwrap()
        .into_iter()
        .map(|b| (b.workspace_id, b.kind, b.amount.0))
        .collect()
}

#[test]
fn transitions_follow_the_seed_lifecycle_and_record_who_and_what() {
    let w = world(workspace("solar_a", 20_000));
    let id = delivered(&w, 1);
    let a = w.engine.appointment(id).unwrap().unwrap();
    assert_eq!(a.lifecycle.status, AppointmentStatus::Scheduled);

    w.clock.advance(Duration::from_secs(60));
    let c = w.engine.confirm_appointment(id, &Actor::Client).unwrap();
    assert!(c.applied);
    assert_eq!(
        (c.previous_status, c.status),
        (AppointmentStatus::Scheduled, AppointmentStatus::Confirmed)
    );
    // Repeating it is a no-op, not an error, and writes nothing.
    let before = events(&w, id).len();
    let again = w.engine.confirm_appointment(id, &Actor::Client).unwrap();
    assert!(!again.applied);
    assert_eq!(events(&w, id).len(), before);

    let new_start = t("2026-11-25T16:00:00Z");
    let r = w
        .engine
        .reschedule_appointment(
            id,
            new_start,
            None,
            Some("customer asked"),
            &Actor::User("agent-7".into()),
        )
        .unwrap();
    assert_eq!(r.status, AppointmentStatus::Rescheduled);
    let a = w.engine.appointment(id).unwrap().unwrap();
    assert_eq!(
        (
            a.id,
            a.appointment.appointment_date,
            a.lifecycle.reschedule_count
        ),
        (id, new_start, 1)
    );
    // Rescheduled is live: it can be confirmed and completed.
    w.engine.confirm_appointment(id, &Actor::Api).unwrap();
    let done = w
        .engine
        .complete_appointment(id, Some("sold"), &Actor::Client)
        .unwrap();
    assert_eq!(done.status, AppointmentStatus::Completed);
    let a = w.engine.appointment(id).unwrap().unwrap();
    assert_eq!(a.lifecycle.outcome.as_deref(), Some("sold"));
    assert_eq!(
        a.lifecycle.status_changed_at,
        Some(t(START) + SignedDuration::from_secs(60))
    );

    // Illegal: confirming a completed appointment; nothing is written.
    let n = events(&w, id).len();
    let e = w.engine.confirm_appointment(id, &Actor::Api).unwrap_err();
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::Conflict, "invalid_transition")
    );
    assert_eq!(events(&w, id).len(), n);
    assert_eq!(
        w.engine.appointment(id).unwrap().unwrap().lifecycle.status,
        AppointmentStatus::Completed
    );

    // The history: kind, old and new values, actor, reason.
    let history = w.engine.appointment_history(id).unwrap();
    let kinds: Vec<EventKind> = history.iter().map(|e| e.event_type).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Confirmed,
            EventKind::Rescheduled,
            EventKind::Confirmed,
            EventKind::Completed
        ]
    );
    let resched = &history[1].detail;
    assert_eq!(resched["actor"], "agent-7");
    assert_eq!(resched["reason"], "customer asked");
    assert_eq!(resched["old"]["start"], "2026-11-24T13:00:00Z");
    assert_eq!(resched["new"]["start"], "2026-11-25T16:00:00Z");
    assert_eq!(
        (
            resched["from_status"].as_str(),
            resched["to_status"].as_str()
        ),
        (Some("confirmed"), Some("rescheduled"))
    );
    assert_eq!(
        history[1].created_at,
        t(START) + SignedDuration::from_secs(60)
    );
}

#[test]
fn completing_a_cancelled_appointment_is_refused() {
    let w = world(workspace("solar_a", 20_000));
    let id = delivered(&w, 1);
    w.engine
        .cancel_appointment(id, Some("moved away"), &Actor::Api)
        .unwrap();
    let e = w
        .engine
        .complete_appointment(id, None, &Actor::Api)
        .unwrap_err();
    assert_eq!(e.code(), "invalid_transition");
    let e = w.engine.mark_no_show(id, &Actor::Api).unwrap_err();
    assert_eq!(e.code(), "invalid_transition");
    assert!(
        !w.engine
            .cancel_appointment(id, None, &Actor::Api)
            .unwrap()
            .applied
    );
    let a = w.engine.appointment(id).unwrap().unwrap();
    assert_eq!(
        a.lifecycle.cancellation_reason.as_deref(),
        Some("moved away")
    );
    assert_eq!(
        w.engine
            .confirm_appointment(AppointmentId(999), &Actor::Api)
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn the_client_hears_each_event_in_order_with_its_own_webhook_id() {
    let w = world(workspace("solar_a", 20_000));
    let id = appointment(&w, 1);
    // Transitions before the appointment itself went out queue behind it.
    w.engine.confirm_appointment(id, &Actor::Api).unwrap();
    w.engine
        .reschedule_appointment(id, t("2026-11-26T13:00:00Z"), None, None, &Actor::Api)
        .unwrap();
    w.engine
        .cancel_appointment(id, Some("no longer needed"), &Actor::Api)
        .unwrap();
    // The first try of every delivery fails with 503: a later event must never overtake.
    let transport = Scripted::failing(&[503]);
    for _ in 0..40 {
        w.engine.deliver_due(&transport, 10).unwrap();
        w.clock.advance(Duration::from_secs(3 * 3600));
    }
    let seen = transport.seen();
    let kinds: Vec<&str> = seen.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "appointment.created",
            "appointment.created",
            "appointment.confirmed",
            "appointment.rescheduled",
            "appointment.cancelled"
        ]
    );
    let ids: std::collections::BTreeSet<&str> = seen.iter().map(|(i, _, _)| i.as_str()).collect();
    assert_eq!(
        ids.len(),
        4,
        "one webhook-id per event, kept across retries"
    );
    assert!(seen.iter().all(|(_, _, a)| *a == id.get()));
    // Events are not billed: one charge.
    assert_eq!(
        billing(&w, id),
        [("solar_a".to_string(), BillingKind::Charge, 20_000)]
    );
    let a = w.engine.appointment(id).unwrap().unwrap();
    assert_eq!(a.forward_status, ForwardStatus::Success);
}

#[test]
fn a_workspace_receives_only_the_event_types_it_chose() {
    let mut ws = workspace("solar_a", 20_000);
    ws.delivery.events = Some(vec![WebhookEventType::AppointmentCancelled]);
    let w = world(ws);
    let id = delivered(&w, 1);
    let c = w.engine.confirm_appointment(id, &Actor::Api).unwrap();
    assert_eq!(c.delivery_id, None);
    let x = w.engine.cancel_appointment(id, None, &Actor::Api).unwrap();
    assert!(x.delivery_id.is_some());
    let transport = Scripted::default();
    w.engine.deliver_due(&transport, 10).unwrap();
    let kinds: Vec<String> = transport.seen().into_iter().map(|(_, k, _)| k).collect();
    assert_eq!(kinds, ["appointment.cancelled"]);
}

#[test]
fn returns_follow_the_window_reasons_and_period_maximum() {
    let mut ws = workspace("solar_a", 20_000);
    ws.returns = ReturnPolicy {
        window_days: Some(3),
        allowed_reasons: vec!["wrong_number".into(), "duplicate".into()],
        max_per_period: Some(ReturnLimit::Count(1)),
        ..Default::default()
    };
    let w = world(ws);
    let first = delivered(&w, 1);
    let second = delivered(&w, 2);
    let third = delivered(&w, 3);
    let e = w
        .engine
        .request_return(first, "changed mind", &Actor::Client)
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.code()),
        (ErrorKind::InvalidInput, "return_reason_not_allowed")
    );
    let ok = w
        .engine
        .request_return(first, "wrong_number", &Actor::Client)
        .unwrap();
    assert_eq!(ok.status, ReturnStatus::Approved);
    assert_eq!(ok.credit.as_ref().map(|c| c.amount), Some(Cents(-20_000)));
    let e = w
        .engine
        .request_return(first, "wrong_number", &Actor::Client)
        .unwrap_err();
    assert_eq!(e.code(), "already_returned");
    let e = w
        .engine
        .request_return(second, "duplicate", &Actor::Client)
        .unwrap_err();
    assert_eq!(e.code(), "return_limit_reached");
    // Outside the window (3 days after delivery).
    w.clock.advance(Duration::from_secs(3 * 86_400 + 1));
    let e = w
        .engine
        .request_return(third, "duplicate", &Actor::Client)
        .unwrap_err();
    assert_eq!(e.code(), "return_window_closed");
    assert_eq!(
        billing(&w, first),
        [
            ("solar_a".to_string(), BillingKind::Charge, 20_000),
            ("solar_a".to_string(), BillingKind::Credit, -20_000)
        ]
    );
    assert_eq!(billing(&w, second).len(), 1);
}

#[test]
fn review_leaves_returns_pending_until_approved_or_denied() {
    let mut ws = workspace("solar_a", 20_000);
    ws.returns.review = true;
    let w = world(ws);
    let a = delivered(&w, 1);
    let b = delivered(&w, 2);
    let ra = w
        .engine
        .request_return(a, "bad lead", &Actor::Client)
        .unwrap();
    let rb = w
        .engine
        .request_return(b, "bad lead", &Actor::Client)
        .unwrap();
    assert_eq!(
        (ra.status, ra.credit.clone()),
        (ReturnStatus::Pending, None)
    );
    let day = SignedDuration::from_hours(24);
    let now = t(START);
    let summary = w.engine.billing_summary(now - day, now + day).unwrap();
    assert_eq!(
        (
            summary[0].charges,
            summary[0].credits,
            summary[0].pending_returns,
            summary[0].pending_return,
            summary[0].net
        ),
        (2, 0, 2, Cents(-40_000), Cents(40_000))
    );
    let approved = w
        .engine
        .approve_return(ra.return_id, Some("checked"))
        .unwrap();
    assert_eq!(approved.credit.map(|c| c.amount), Some(Cents(-20_000)));
    let denied = w
        .engine
        .deny_return(rb.return_id, Some("lead was fine"))
        .unwrap();
    assert_eq!((denied.status, denied.credit), (ReturnStatus::Denied, None));
    let e = w.engine.approve_return(rb.return_id, None).unwrap_err();
    assert_eq!(e.code(), "return_not_pending");
    let summary = w.engine.billing_summary(now - day, now + day).unwrap();
    assert_eq!(
        (
            summary[0].credits,
            summary[0].pending_returns,
            summary[0].net
        ),
        (1, 0, Cents(20_000))
    );
    assert_eq!(billing(&w, b).len(), 1, "a denial writes no credit");
    // The return with review is an error for the old one-call API.
    let c = delivered(&w, 3);
    assert_eq!(
        w.engine.return_appointment(c, "x").unwrap_err().code(),
        "return_needs_review"
    );
}

#[test]
fn no_show_and_late_cancellation_credit_automatically() {
    let mut ws = workspace("solar_a", 20_000);
    ws.returns.credit_no_show = true;
    ws.returns.credit_late_cancel_hours = Some(24);
    let w = world(ws);
    let a = delivered(&w, 1);
    let n = w.engine.mark_no_show(a, &Actor::Client).unwrap();
    assert_eq!(n.credit.map(|c| c.amount), Some(Cents(-20_000)));
    assert_eq!(billing(&w, a).len(), 2);
    // Appointment on 2026-11-24T13:00Z; cancelled by the customer 4 days early: no credit.
    let b = delivered(&w, 2);
    assert_eq!(
        w.engine
            .cancel_appointment(b, None, &Actor::Api)
            .unwrap()
            .credit,
        None
    );
    // Cancelled 12 hours before the start: credited.
    let c = delivered(&w, 3);
    w.clock.set(t("2026-11-24T01:00:00Z"));
    let x = w
        .engine
        .cancel_appointment(c, Some("sick"), &Actor::Api)
        .unwrap();
    assert_eq!(x.credit.map(|c| c.amount), Some(Cents(-20_000)));
    // The client cancelling its own appointment earns no credit.
    let d = delivered(&w, 4);
    assert_eq!(
        w.engine
            .cancel_appointment(d, None, &Actor::Client)
            .unwrap()
            .credit,
        None
    );
    let ret = w.engine.request_return(a, "x", &Actor::Client).unwrap_err();
    assert_eq!(
        ret.code(),
        "already_returned",
        "the no-show credit is the return"
    );
}

#[test]
fn a_failed_delivery_is_redelivered_with_the_same_webhook_id_and_billed_once() {
    let w = world(workspace("solar_a", 20_000));
    let id = appointment(&w, 1);
    let transport = Scripted::failing(&[400]);
    w.engine.deliver_due(&transport, 10).unwrap();
    let a = w.engine.appointment(id).unwrap().unwrap();
    assert_eq!(a.forward_status, ForwardStatus::Failed);
    let d = with_tx(&**w.engine.store(), |tx| {
        Ok(tx.deliveries_for_appointment(id)?)
    })
    .unwrap();
    let d = &d[0];
    let again = w.engine.redeliver(d.id).unwrap();
    assert_eq!(
        (again.status, &again.delivery.webhook_id),
        (ForwardStatus::Pending, &d.delivery.webhook_id)
    );
    w.engine.deliver_due(&transport, 10).unwrap();
    let seen = transport.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].0, seen[1].0, "the same webhook-id");
    let a = w.engine.appointment(id).unwrap().unwrap();
    assert_eq!(a.forward_status, ForwardStatus::Success);
    assert_eq!(billing(&w, id).len(), 1);
    let e = w.engine.redeliver(d.id).unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::Conflict,
        "a delivered delivery is not sent again"
    );
    assert_eq!(
        w.engine.redeliver(DeliveryId(999)).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let attempts = with_tx(&**w.engine.store(), |tx| Ok(tx.attempts(d.id)?)).unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|a| a.attempt_number)
            .collect::<Vec<_>>(),
        [1, 2]
    );
}

#[test]
fn a_returned_appointment_is_reassigned_to_the_next_workspace_with_a_trace() {
    let w = world(workspace("solar_a", 20_000));
    let id = delivered(&w, 1);
    // Not returned, not failed: it stays where it is.
    assert_eq!(
        w.engine.reassign(id, true).unwrap_err().kind(),
        ErrorKind::Conflict
    );
    w.engine
        .request_return(id, "wrong_number", &Actor::Client)
        .unwrap();
    let r = w.engine.reassign(id, true).unwrap();
    assert_eq!(r.from_workspace_id.as_deref(), Some("solar_a"));
    assert!(
        matches!(&r.routing, RoutingOutcome::Routed { workspace_id, .. } if workspace_id == "solar_b")
    );
    let skipped = r.trace["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["workspace_id"] == "solar_a")
        .unwrap()
        .clone();
    assert_eq!(skipped["reason"]["code"], "excluded_workspace", "{skipped}");
    let transport = Scripted::default();
    w.engine.deliver_due(&transport, 10).unwrap();
    assert_eq!(transport.seen().len(), 1);
    assert_eq!(
        billing(&w, id),
        [
            ("solar_a".to_string(), BillingKind::Charge, 20_000),
            ("solar_a".to_string(), BillingKind::Credit, -20_000),
            ("solar_b".to_string(), BillingKind::Charge, 15_000)
        ]
    );
    let kinds: Vec<EventKind> = events(&w, id).iter().map(|e| e.event_type).collect();
    assert!(kinds.contains(&EventKind::Reassigned));
}

#[test]
fn an_undeliverable_appointment_is_reassigned() {
    let w = world(workspace("solar_a", 20_000));
    let id = appointment(&w, 1);
    w.engine
        .deliver_due(&Scripted::failing(&[404]), 10)
        .unwrap();
    let r = w.engine.reassign(id, true).unwrap();
    assert!(
        matches!(&r.routing, RoutingOutcome::Routed { workspace_id, .. } if workspace_id == "solar_b")
    );
    w.engine.deliver_due(&Scripted::default(), 10).unwrap();
    assert_eq!(
        billing(&w, id),
        [("solar_b".to_string(), BillingKind::Charge, 15_000)]
    );
    let lead_id = w
        .engine
        .appointment(id)
        .unwrap()
        .unwrap()
        .appointment
        .lead_id;
    let history = w.engine.lead_status_history(lead_id).unwrap();
    assert_eq!(
        history.last().unwrap().to_status,
        leadroute_core::status::LeadStatus::Delivered
    );
}

#[test]
fn stored_rejections_are_reprocessed_once_the_provider_is_set_up() {
    let w = world(workspace("solar_a", 20_000));
    // Battery is not a product yet (no rule routes it) and the provider may not send it.
    let battery = |n: u32| {
        RawRecord::Json(format!(
            r#"{{"phone": "317-863-{n:04}", "zip": "46262", "product": "battery", "appointment_date": "2026-11-24T13:00:00Z", "lead_id": "B{n}"}}"#
        ))
    };
    for n in 1..=3 {
        let o = w.engine.ingest("provider-a", &battery(n)).unwrap();
        let Outcome::Rejected { reasons, .. } = o.outcome else {
            panic!("accepted: {o:?}");
        };
        assert_eq!(reasons[0].code, ReasonCode::UnknownProduct, "{reasons:?}");
    }
    // A re-post is a replay.
    let o = w.engine.ingest("provider-a", &battery(1)).unwrap();
    assert!(matches!(o.outcome, Outcome::Replayed(_)));
    let filter = RejectionFilter {
        reason: Some(ReasonCode::UnknownProduct),
        ..Default::default()
    };
    let before = w.engine.reprocess_rejections(&filter, 2).unwrap();
    assert_eq!((before.examined, before.accepted.len()), (3, 0));
    assert_eq!(before.still_rejected.get("unknown_product"), Some(&3));
    // Set the provider up (and route Battery), then reprocess.
    let mut r = rule(1, "solar_a", 1);
    r.product_types.push("Battery".into());
    w.engine
        .configure(
            &[provider(&["solar", "battery"])],
            &[workspace("solar_a", 20_000), workspace("solar_b", 15_000)],
            &[r, rule(2, "solar_b", 2)],
        )
        .unwrap();
    let report = w.engine.reprocess_rejections(&filter, 2).unwrap();
    assert_eq!((report.examined, report.accepted.len()), (3, 3));
    let (rid, lead_id) = report.accepted[0];
    let lead = w.engine.lead(lead_id).unwrap().unwrap();
    assert_eq!(lead.lead.record_key, "B1");
    let o = w.engine.ingest("provider-a", &battery(1)).unwrap();
    assert_eq!(
        o.outcome,
        Outcome::Replayed(StoredRecord::Lead(lead_id)),
        "the key now holds the lead"
    );
    let again = w.engine.reprocess_rejections(&filter, 2).unwrap();
    assert_eq!(again.examined, 0, "reprocessed into leads once");
    let trail = w.engine.events(EventSubject::Rejection, rid).unwrap();
    assert_eq!(trail.last().unwrap().event_type, EventKind::Reprocessed);
    assert_eq!(
        w.engine
            .deliver_due(&Scripted::default(), 10)
            .unwrap()
            .delivered,
        3
    );
}

#[test]
fn seed_details_come_with_the_record_and_can_be_updated() {
    let w = world(workspace("solar_a", 20_000));
    let record = RawRecord::Json(
        r#"{"phone": "317-863-0001", "zip": "46262", "product": "solar", "appointment_date": "2026-11-24T13:00:00Z", "lead_id": "D1", "duration_minutes": 45, "appointment_type": "consultation", "location_type": "in_person", "location_address": "1 Monument Cir, Indianapolis"}"#.into(),
    );
    let Outcome::Accepted(a) = w.engine.ingest("provider-a", &record).unwrap().outcome else {
        panic!("rejected");
    };
    let id = a.appointment.unwrap().0;
    let stored = w.engine.appointment(id).unwrap().unwrap();
    let d = &stored.appointment.details;
    assert_eq!(d.end_time, Some(t("2026-11-24T13:45:00Z")));
    assert_eq!(
        (d.duration_minutes, d.appointment_type.as_deref()),
        (Some(45), Some("consultation"))
    );
    assert_eq!(
        d.location_address.as_deref(),
        Some("1 Monument Cir, Indianapolis")
    );
    let next = AppointmentDetails {
        next_action: Some("send_quote".into()),
        next_action_date: Some(jiff::civil::date(2026, 11, 27)),
        ..d.clone()
    };
    let after = w
        .engine
        .update_appointment_details(id, &next, &Actor::Client)
        .unwrap();
    assert_eq!(after.appointment.details, next);
    let last = events(&w, id).pop().unwrap();
    assert_eq!(last.event_type, EventKind::Updated);
    assert_eq!(
        (
            last.detail["new"]["next_action"].as_str(),
            last.detail["actor"].as_str()
        ),
        (Some("send_quote"), Some("client"))
    );
    // The reschedule keeps the duration given by the end.
    w.engine
        .reschedule_appointment(id, t("2026-11-25T15:00:00Z"), None, None, &Actor::Api)
        .unwrap();
    let moved = w.engine.appointment(id).unwrap().unwrap();
    assert_eq!(
        moved.appointment.details.end_time,
        Some(t("2026-11-25T15:45:00Z"))
    );
}

#[test]
fn csv_rejections_keep_their_header_and_are_reprocessed() {
    let w = world(workspace("solar_a", 20_000));
    let csv_provider = |types: &[&str]| Provider {
        format: RecordFormat::Csv,
        lead_types: types.iter().map(|s| s.to_string()).collect(),
        field_map: [
            ("zip_code", "zip5"),
            ("product_type", "project"),
            ("phone", "phone1"),
            ("appointment_date", "appt"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect::<BTreeMap<_, _>>(),
        ..Provider::new("provider-c")
    };
    let mut r3 = rule(3, "solar_b", 1);
    r3.product_types = vec!["Gutters".into()];
    let setup = |types: &[&str]| {
        w.engine
            .configure(
                &[provider(&["solar"]), csv_provider(types)],
                &[workspace("solar_a", 20_000), workspace("solar_b", 15_000)],
                &[rule(1, "solar_a", 1), rule(2, "solar_b", 2), r3.clone()],
            )
            .unwrap()
    };
    setup(&["kitchen"]);
    let body = "phone1,zip5,project,appt,\"notes, free\"\n317-863-0009,46262,Gutters,2026-11-24T13:00:00Z,\"a, b\"\n";
    let out = w
        .engine
        .ingest_batch(
            "provider-c",
            &leadroute_core::intake::split(RecordFormat::Csv, body)
                .unwrap()
                .records,
        )
        .unwrap();
    let Outcome::Rejected {
        rejection_id,
        reasons,
    } = &out[0].outcome
    else {
        panic!("accepted: {out:?}");
    };
    assert_eq!(reasons[0].code, ReasonCode::LeadTypeNotAllowed);
    let stored = with_tx(&**w.engine.store(), |tx| {
        Ok(tx.rejections(&RejectionFilter::default(), RejectionId(0), 10)?)
    })
    .unwrap();
    assert_eq!(stored[0].id, *rejection_id);
    assert_eq!(
        stored[0].rejection.raw_payload,
        body.trim_end(),
        "the header and the row"
    );
    setup(&["kitchen", "gutters"]);
    let filter = RejectionFilter {
        provider_id: Some("provider-c".into()),
        ..Default::default()
    };
    let report = w.engine.reprocess_rejections(&filter, 10).unwrap();
    assert_eq!((report.accepted.len(), report.unreplayable), (1, 0));
    let lead = w.engine.lead(report.accepted[0].1).unwrap().unwrap();
    assert_eq!(
        lead.lead.record_key, out[0].record_key,
        "the same idempotency key"
    );
    // The same row posted again is a replay of the lead.
    let again = w
        .engine
        .ingest_batch(
            "provider-c",
            &leadroute_core::intake::split(RecordFormat::Csv, body)
                .unwrap()
                .records,
        )
        .unwrap();
    assert_eq!(
        again[0].outcome,
        Outcome::Replayed(StoredRecord::Lead(lead.id))
    );
}
