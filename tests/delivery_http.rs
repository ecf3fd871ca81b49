//! Delivery over real HTTP against a scripted loopback server: 2xx, 500, 429 with
//! `Retry-After`, a response slower than the timeout, 410, 400, a redirect, and a refused
//! connection. Statuses, attempt rows, retry times, endpoint health and billing come out as
//! specified (Svix's schedule, only 2xx is success, no redirects, `Retry-After` honoured).

use leadroute::delivery::UreqTransport;
use leadroute::engine::{Outcome, RoutingOutcome};
use leadroute::intake::RawRecord;
use leadroute::model::{AppointmentId, Cents, DeliveryId, ForwardStatus, Provider, Workspace};
use leadroute::routing::RoutingRule;
use leadroute::storage::{with_tx, MemoryStore};
use leadroute::{Engine, EngineConfig};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// (workspace, ZIP it is routed for, what the server does)
const CASES: &[(&str, &str, &str)] = &[
    ("ws_ok", "46262", "ok"),
    ("ws_500", "46201", "500"),
    ("ws_429", "10001", "429"),
    ("ws_slow", "90210", "slow"),
    ("ws_410", "02134", "410"),
    ("ws_400", "60601", "400"),
    ("ws_302", "30301", "302"),
    ("ws_refused", "98101", "refused"),
];

/// The client's request timeout. Generous, so a loaded CI machine still answers the fast
/// endpoints in time; the slow endpoint takes far longer.
const TIMEOUT: Duration = Duration::from_secs(3);
/// How long the slow endpoint takes to answer.
const SLOW_RESPONSE: Duration = Duration::from_secs(20);

/// Serves the scripted behaviours on `/hooks/<workspace>` until the test process ends: one
/// thread per connection, one request per connection (`Connection: close`). Plain `std::net`
/// on purpose: tiny_http's task pool can leave a new connection queued behind busy threads,
/// which stalls a request until the client's timeout and makes the test flaky.
fn scripted_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve_one(stream));
        }
    });
    base
}

/// Reads one request (head and `Content-Length` body) and writes the scripted response.
fn serve_one(mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let (status, extra) = match path.as_str() {
        "/hooks/ws_500" => (500, ""),
        "/hooks/ws_429" => (429, "Retry-After: 120\r\n"),
        "/hooks/ws_slow" => {
            // Far past the client's timeout, so the client always gives up first.
            std::thread::sleep(SLOW_RESPONSE);
            (200, "")
        }
        "/hooks/ws_410" => (410, ""),
        "/hooks/ws_400" => (400, ""),
        "/hooks/ws_302" => (302, "Location: /hooks/ws_ok\r\n"),
        _ => (200, ""),
    };
    let response = format!(
        "HTTP/1.1 {status} Scripted\r\n{extra}Content-Length: 8\r\nConnection: close\r\n\r\nscripted"
    );
    let _ = stream.write_all(response.as_bytes());
}

fn refused_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}/hooks/ws_refused")
}

#[test]
fn scripted_endpoints_get_exactly_the_specified_treatment() {
    let base = scripted_server();
    let store = Arc::new(MemoryStore::new());
    let config = EngineConfig {
        request_timeout: TIMEOUT,
        ..EngineConfig::default()
    };
    let engine = Engine::new(store.clone(), config).unwrap();
    let workspaces: Vec<Workspace> = CASES
        .iter()
        .map(|(id, _, _)| {
            let url = if *id == "ws_refused" {
                refused_url()
            } else {
                format!("{base}/hooks/{id}")
            };
            Workspace {
                business_type: Some("Solar".into()),
                timezone: Some("UTC".into()),
                webhook_secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
                ..Workspace::new(id, &url, Cents(10_000))
            }
        })
        .collect();
    let rules: Vec<RoutingRule> = CASES
        .iter()
        .enumerate()
        .map(|(i, (id, zip, _))| RoutingRule::new(i as i64 + 1, id, &["Solar"], &[zip], 1))
        .collect();
    let provider = Provider::new("p");
    engine.configure(&[provider], &workspaces, &rules).unwrap();
    let mut appointment_of: HashMap<&str, AppointmentId> = HashMap::new();
    for (i, (id, zip, _)) in CASES.iter().enumerate() {
        let record = format!(
            r#"{{"phone": "31786384{i:02}", "zip_code": "{zip}", "product_type": "Solar",
                "appointment_date": "2026-11-24T13:00:00Z"}}"#
        );
        match engine
            .ingest("p", &RawRecord::Json(record))
            .unwrap()
            .outcome
        {
            Outcome::Accepted(a) => match a.appointment.unwrap() {
                (appt, RoutingOutcome::Routed { workspace_id, .. }) => {
                    assert_eq!(workspace_id, *id);
                    appointment_of.insert(id, appt);
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    let report = engine.deliver_due(&UreqTransport::new(), 100).unwrap();
    assert_eq!(report.attempted, CASES.len() as u64);
    assert_eq!(
        (report.delivered, report.failed, report.retrying),
        (1, 2, 5),
        "ok delivered; 400 and 302 failed; 500, 429, slow, 410, refused wait"
    );
    assert_eq!(report.billed, Cents(10_000), "only the 2xx is billed");

    let look = |ws: &str| {
        let appt = appointment_of[ws];
        with_tx(&*store, |tx| {
            let a = tx.appointment(appt)?.unwrap();
            // The appointment's delivery (delivery ids are not appointment ids).
            let mut d = None;
            for i in 1..=tx.reports().counts()?.deliveries as i64 {
                d = d.or(tx
                    .delivery(DeliveryId(i))?
                    .filter(|x| x.delivery.appointment_id == appt));
            }
            let d = d.unwrap();
            let attempts = tx.attempts(d.id)?;
            Ok((a, d, attempts))
        })
        .unwrap()
    };
    // 2xx: success, billed, one attempt with the status and response.
    let (a, d, at) = look("ws_ok");
    assert_eq!(
        (a.forward_status, d.status, at.len()),
        (ForwardStatus::Success, ForwardStatus::Success, 1)
    );
    assert_eq!(at[0].status_code, Some(200));
    assert_eq!(at[0].response_excerpt.as_deref(), Some("scripted"));
    assert!(a.forwarded_at.is_some());

    let wait = |d: &leadroute::model::Delivery, at: &leadroute::model::Attempt| {
        d.delivery
            .next_attempt_at
            .duration_since(at.requested_at)
            .as_secs_f64()
    };
    // 500 and a refused connection: retry after 5 s ± 20% (plus the request's own time).
    for ws in ["ws_500", "ws_refused"] {
        let (a, d, at) = look(ws);
        assert_eq!(
            (a.forward_status, d.status, d.attempts),
            (ForwardStatus::Pending, ForwardStatus::Pending, 1),
            "{ws}"
        );
        let w = wait(&d, &at[0]);
        assert!((3.9..=7.0).contains(&w), "{ws}: next try after {w} s");
    }
    assert_eq!(look("ws_500").2[0].status_code, Some(500));
    let refused = look("ws_refused").2[0].clone();
    assert_eq!(refused.status_code, None);
    assert!(refused.error.is_some());
    // 429 with Retry-After: 120 s, longer than the schedule's 5 s, is honoured.
    let (_, d, at) = look("ws_429");
    let w = wait(&d, &at[0]);
    assert!((119.0..=125.0).contains(&w), "429: next try after {w} s");
    // A response slower than the timeout: a timeout error, retried.
    let (_, d, at) = look("ws_slow");
    assert_eq!(d.status, ForwardStatus::Pending);
    assert!(
        at[0].error.as_deref().unwrap_or("").contains("timeout"),
        "{:?}",
        at[0].error
    );
    assert!(
        at[0].duration_ms < (TIMEOUT.as_millis() as u64 + 2_000),
        "gave up at the timeout, took {} ms",
        at[0].duration_ms
    );
    // 410: the endpoint is disabled and the delivery waits (not failed).
    let (_, d, at) = look("ws_410");
    assert_eq!(
        (d.status, at[0].status_code),
        (ForwardStatus::Pending, Some(410))
    );
    assert!(engine.endpoint_health("ws_410").unwrap().disabled);
    // 400 and 302: permanent failures; the redirect is not followed.
    for (ws, code) in [("ws_400", 400), ("ws_302", 302)] {
        let (a, d, at) = look(ws);
        assert_eq!(
            (a.forward_status, d.status, at[0].status_code),
            (ForwardStatus::Failed, ForwardStatus::Failed, Some(code)),
            "{ws}"
        );
    }
    let counts = engine.counts().unwrap();
    assert_eq!(
        (counts.billing_events, counts.attempts),
        (1, CASES.len() as u64)
    );
}
