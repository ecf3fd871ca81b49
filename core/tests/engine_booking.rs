//! Booking slots on the memory store with a fixed clock: free slots, booking by hand and by
//! routing, the slot taken once, moves and cancels, and ready appointments from intake.

use jiff::Timestamp;
use leadroute_core::engine::{FixedClock, Outcome};
use leadroute_core::intake::RawRecord;
use leadroute_core::lifecycle::Actor;
use leadroute_core::model::*;
use leadroute_core::routing::RoutingRule;
use leadroute_core::status::{ContactStatus, ReasonCode};
use leadroute_core::storage::MemoryStore;
use leadroute_core::{Engine, EngineConfig, ErrorKind};
use std::sync::Arc;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn calendar_ws(id: &str, capacity: u32) -> Workspace {
    Workspace {
        timezone: Some("America/New_York".into()),
        schedule: Some(
            WeeklySchedule::from_json(
                r#"{"hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]}"#,
            )
            .unwrap(),
        ),
        calendar: Some(Calendar {
            slot_minutes: 60,
            capacity,
            ..Calendar::default()
        }),
        ..Workspace::new(id, &format!("http://127.0.0.1:9/hooks/{id}"), Cents(10_000))
    }
}

fn rule(id: i64, ws: &str, priority: i32) -> RoutingRule {
    RoutingRule {
        id,
        workspace_id: ws.into(),
        product_types: vec!["Solar".into()],
        zip_codes: vec!["10001".into()],
        priority,
        is_active: true,
        notes: None,
        targeting: Default::default(),
        capacity: Default::default(),
    }
}

fn world() -> Engine {
    // Monday 2026-03-02, 10:00 in New York.
    world_at("2026-03-02T15:00:00Z")
}

fn world_at(now: &str) -> Engine {
    let clock = Arc::new(FixedClock::new(t(now)));
    let engine = Engine::new(
        Arc::new(MemoryStore::new()),
        EngineConfig {
            clock,
            ..EngineConfig::default()
        },
    )
    .unwrap();
    let provider = Provider {
        lead_types: vec!["solar".into()],
        ..Provider::new("p")
    };
    engine
        .configure(
            &[provider],
            &[calendar_ws("first", 1), calendar_ws("second", 1)],
            &[rule(1, "first", 1), rule(2, "second", 2)],
        )
        .unwrap();
    engine
}

fn lead(e: &Engine, n: u32, at: Option<&str>) -> Outcome {
    let appt = at
        .map(|a| format!(r#", "appointment_date": "{a}""#))
        .unwrap_or_default();
    let rec = RawRecord::Json(format!(
        r#"{{"lead_id": "L{n}", "phone": "212-555-{n:04}", "zip_code": "10001", "product_type": "solar"{appt}}}"#
    ));
    e.ingest("p", &rec).unwrap().outcome
}

fn lead_id(o: Outcome) -> LeadId {
    match o {
        Outcome::Accepted(a) => a.lead_id,
        other => panic!("{other:?}"),
    }
}

const TUE_10: &str = "2026-03-03T15:00:00Z";

#[test]
fn free_slots_are_listed_and_a_booked_one_disappears() {
    let e = world();
    let week = e
        .available_slots(
            "first",
            t("2026-03-02T00:00:00Z"),
            t("2026-03-09T00:00:00Z"),
        )
        .unwrap();
    // Monday from 12:00 (2 h lead time after 10:00) to 16:00: 5 slots; Tuesday to Friday 8.
    assert_eq!(week.len(), 5 + 4 * 8);
    assert_eq!(week[0].start, t("2026-03-02T17:00:00Z"));
    assert!(week.iter().all(|s| s.remaining == 1));
    let l = lead_id(lead(&e, 1, None));
    let booked = e.book(l, t(TUE_10), Some("first"), None).unwrap();
    assert_eq!(booked.workspace_id.as_deref(), Some("first"));
    assert_eq!(booked.slot.unwrap().end, t("2026-03-03T16:00:00Z"));
    let after = e
        .available_slots(
            "first",
            t("2026-03-02T00:00:00Z"),
            t("2026-03-09T00:00:00Z"),
        )
        .unwrap();
    assert_eq!(after.len(), week.len() - 1);
    assert!(!after.iter().any(|s| s.start == t(TUE_10)));
    let a = e.appointment(booked.appointment_id).unwrap().unwrap();
    assert_eq!(a.appointment.appointment_date, t(TUE_10));
    assert_eq!(
        e.lead(l).unwrap().unwrap().lead.appointment_date,
        Some(t(TUE_10)),
        "the lead gets its time"
    );
    assert_eq!(
        a.appointment.details.end_time,
        Some(t("2026-03-03T16:00:00Z"))
    );
    assert_eq!(
        e.contact_entry(l).unwrap().unwrap().status,
        ContactStatus::Scheduled,
        "the queued lead is scheduled"
    );
}

#[test]
fn a_taken_slot_is_refused_and_routing_finds_room_elsewhere() {
    let e = world();
    let a = lead_id(lead(&e, 1, None));
    let b = lead_id(lead(&e, 2, None));
    let c = lead_id(lead(&e, 3, None));
    e.book(a, t(TUE_10), Some("first"), None).unwrap();
    let err = e.book(b, t(TUE_10), Some("first"), None).unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::Conflict, "slot_taken")
    );
    // Without a workspace, routing skips the full one.
    let routed = e.book(b, t(TUE_10), None, None).unwrap();
    assert_eq!(routed.workspace_id.as_deref(), Some("second"));
    let err = e.book(c, t(TUE_10), None, None).unwrap_err();
    assert_eq!(err.code(), "slot_taken", "no matching workspace has room");
    for (start, code) in [
        ("2026-03-03T15:30:00Z", "not_a_slot"),
        ("2026-03-02T15:00:00Z", "too_soon"),
        ("2026-03-07T15:00:00Z", "closed"),
    ] {
        let err = e.book(c, t(start), Some("first"), None).unwrap_err();
        assert_eq!(
            (err.kind(), err.code()),
            (ErrorKind::InvalidInput, code),
            "{start}"
        );
    }
    assert_eq!(
        e.book(a, t("2026-03-04T15:00:00Z"), Some("first"), None)
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict,
        "a lead is booked once"
    );
}

#[test]
fn a_reschedule_moves_the_booking_and_a_cancel_frees_it() {
    let e = world();
    let a = lead_id(lead(&e, 1, None));
    let b = lead_id(lead(&e, 2, None));
    let booked = e.book(a, t(TUE_10), Some("first"), None).unwrap();
    let wed = t("2026-03-04T15:00:00Z");
    e.reschedule_appointment(booked.appointment_id, wed, None, None, &Actor::Api)
        .unwrap();
    let free = |at: Timestamp| {
        e.available_slots("first", at, at + jiff::SignedDuration::from_secs(1))
            .unwrap()
            .len()
    };
    assert_eq!((free(t(TUE_10)), free(wed)), (1, 0));
    // Moving onto a taken slot is refused and changes nothing.
    let other = e.book(b, t(TUE_10), Some("first"), None).unwrap();
    let err = e
        .reschedule_appointment(other.appointment_id, wed, None, None, &Actor::Api)
        .unwrap_err();
    assert_eq!(err.code(), "slot_taken");
    assert_eq!(
        e.appointment(other.appointment_id)
            .unwrap()
            .unwrap()
            .appointment
            .appointment_date,
        t(TUE_10)
    );
    e.cancel_appointment(booked.appointment_id, None, &Actor::Api)
        .unwrap();
    assert_eq!(free(wed), 1, "a cancel frees the slot");
}

#[test]
fn ready_appointments_from_intake_take_their_slot_or_are_rejected() {
    let e = world();
    assert!(matches!(lead(&e, 1, Some(TUE_10)), Outcome::Accepted(_)));
    // The same slot again (its start, or a time inside it): routed to the same workspace,
    // whose slot is full: a stored rejection with its reason.
    for (n, at) in [(2, TUE_10), (3, "2026-03-03T15:20:00Z")] {
        match lead(&e, n, Some(at)) {
            Outcome::Rejected { reasons, .. } => {
                assert_eq!(reasons[0].code, ReasonCode::SlotTaken);
            }
            other => panic!("{other:?}"),
        }
    }
    // A time outside the calendar's slots takes none.
    assert!(matches!(
        lead(&e, 4, Some("2026-03-07T15:00:00Z")),
        Outcome::Accepted(_)
    ));
    let counts = e.counts().unwrap();
    assert_eq!((counts.appointments, counts.rejections), (2, 2));
    let free = e
        .available_slots("first", t(TUE_10), t("2026-03-03T15:00:01Z"))
        .unwrap();
    assert!(free.is_empty(), "intake took the slot");
}

#[test]
fn a_routed_booking_checks_the_hours_at_the_slot_not_now() {
    // Saturday 2026-02-28, 10:00 in New York: the workspaces are closed now, open Tuesday.
    let e = world_at("2026-02-28T15:00:00Z");
    let a = lead_id(lead(&e, 1, None));
    let b = lead_id(lead(&e, 2, None));
    let booked = e.book(a, t(TUE_10), None, None).unwrap();
    assert_eq!(booked.workspace_id.as_deref(), Some("first"));
    assert!(booked.slot.is_some(), "the slot is taken");
    let second = e.book(b, t(TUE_10), None, None).unwrap();
    assert_eq!(second.workspace_id.as_deref(), Some("second"));
}
