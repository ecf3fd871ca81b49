//! The injected clock: every time the engine stores comes from `EngineConfig::clock`, so the
//! lifecycle can be tested at any instant.

use jiff::Timestamp;
use leadroute_core::delivery::{Transport, TransportError, WebhookRequest, WebhookResponse};
use leadroute_core::engine::{Clock, FixedClock, Outcome};
use leadroute_core::intake::RawRecord;
use leadroute_core::model::*;
use leadroute_core::routing::RoutingRule;
use leadroute_core::storage::{with_tx, MemoryStore};
use leadroute_core::{Engine, EngineConfig};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Answers 503 first, then 200.
#[derive(Default)]
struct FailOnce(Mutex<u32>);

impl Transport for FailOnce {
    fn post(&self, _: &WebhookRequest, _: Duration) -> Result<WebhookResponse, TransportError> {
        let mut n = self.0.lock().unwrap();
        *n += 1;
        let status = if *n == 1 { 503 } else { 200 };
        Ok(WebhookResponse {
            status,
            body_excerpt: String::new(),
            retry_after: None,
        })
    }
}

#[test]
fn every_stored_time_comes_from_the_clock() {
    let start: Timestamp = "2031-05-06T07:08:09.123456Z".parse().unwrap();
    let clock = Arc::new(FixedClock::new(start));
    let config = EngineConfig {
        clock: clock.clone(),
        ..EngineConfig::default()
    };
    let engine = Engine::new(Arc::new(MemoryStore::new()), config).unwrap();
    engine
        .configure(
            &[Provider {
                lead_types: vec!["solar".into()],
                ..Provider::new("provider-a")
            }],
            &[Workspace {
                webhook_secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
                ..Workspace::new(
                    "solar_in",
                    "http://127.0.0.1:9/hooks/solar_in",
                    Cents(20_000),
                )
            }],
            &[RoutingRule::new(1, "solar_in", &["Solar"], &["46262"], 1)],
        )
        .unwrap();
    let record = r#"{"phone": "317-863-8426", "zip_code": "46262", "product_type": "Solar",
                     "appointment_date": "2031-05-08T15:00:00Z"}"#;
    let out = engine
        .ingest("provider-a", &RawRecord::Json(record.into()))
        .unwrap();
    let Outcome::Accepted(accepted) = out.outcome else {
        panic!("{out:?}")
    };
    let lead = engine.lead(accepted.lead_id).unwrap().unwrap();
    assert_eq!(lead.lead.received_at, start, "received at the clock's time");
    let (appointment_id, _) = accepted.appointment.unwrap();

    // The first try fails: the retry is scheduled from the clock (5 s ± 20%).
    let first = engine.deliver_due(&FailOnce::default(), 10).unwrap();
    assert_eq!((first.attempted, first.retrying), (1, 1));
    let transport = FailOnce(Mutex::new(1));
    assert_eq!(
        engine.deliver_due(&transport, 10).unwrap().attempted,
        0,
        "not due while the clock stands still"
    );
    clock.advance(Duration::from_secs(7));
    let second = engine.deliver_due(&transport, 10).unwrap();
    assert_eq!((second.attempted, second.delivered), (1, 1));

    let later = clock.now();
    assert_eq!(later, start + Duration::from_secs(7));
    let appointment = engine.appointment(appointment_id).unwrap().unwrap();
    assert_eq!(
        appointment.forwarded_at,
        Some(later),
        "forwarded at the clock's time"
    );
    let charge = with_tx(&**engine.store(), |tx| {
        Ok(tx
            .billing_events_for(appointment_id)?
            .into_iter()
            .find(|b| b.kind == BillingKind::Charge))
    })
    .unwrap()
    .unwrap();
    assert_eq!(charge.created_at, later, "billed at the clock's time");
    let events = engine
        .events(EventSubject::Appointment, appointment_id)
        .unwrap();
    let times: Vec<Timestamp> = events.iter().map(|e| e.created_at).collect();
    assert_eq!(times.first(), Some(&start), "routed at the start");
    assert_eq!(times.last(), Some(&later), "delivered after the advance");
}
