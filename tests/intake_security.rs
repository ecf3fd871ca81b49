//! The intake wall over both stores (in-memory and SQLite): every refusal the issue names
//! (wrong or missing key, inactive provider, webhook not allowed, bad signature, stale or
//! replayed timestamp, the N+1th request in a rate window), each with its typed error and
//! kind, nothing stored for a refused request, usage counted per provider, webhook and day,
//! the audit trail (`lead_events`, `lead_status_history`), request bodies in every format,
//! per-webhook lead types, and consent-gated workspaces.

use hmac::{Hmac, Mac};
use leadroute::auth::{hash_api_key, AuthError, SignatureScheme};
use leadroute::delivery::{Transport, TransportError, WebhookRequest, WebhookResponse};
use leadroute::engine::{InboundRequest, IngestOutcome, Outcome, RoutingOutcome};
use leadroute::model::{
    Cents, EventSubject, LeadId, Provider, RecordFormat, WebhookConfig, Workspace,
};
use leadroute::routing::RoutingRule;
use leadroute::signature::sign;
use leadroute::sqlite::SqliteStore;
use leadroute::storage::{MemoryStore, Store};
use leadroute::{Engine, EngineConfig, Error, ErrorKind};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "lr_live_7f3a9c2e4b8d1f6a0c5e9b2d7a4f1c8e";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const HUB_SECRET: &str = "It's a Secret to Everybody";

/// Runs `test` against a fresh engine on each store.
fn on_each_store(test: impl Fn(&Engine)) {
    let stores: Vec<(&str, Arc<dyn Store>)> = vec![
        ("memory", Arc::new(MemoryStore::new())),
        ("sqlite", Arc::new(SqliteStore::open_in_memory().unwrap())),
    ];
    for (name, store) in stores {
        eprintln!("store: {name}");
        let engine = Engine::new(store, EngineConfig::default()).unwrap();
        configure(&engine);
        test(&engine);
    }
}

/// Providers: `keyed` (API key, 3 requests per hour), `signed` (no key; posts through the
/// Standard Webhooks endpoint), `hub` (GitHub-style signatures), `cal` (Cal.com), `off`
/// (inactive), `form` (form-encoded), `open` (nothing configured), `own` (its own signing
/// secret, GitHub style, as the seed's provider `webhook_secret`). Webhooks: `wh_std`
/// (signed, 2 per minute), `wh_hub`, `wh_cal`, `wh_solar` (solar only), `wh_off` (inactive).
fn configure(engine: &Engine) {
    let keyed = |id: &str| Provider {
        api_key_hash: Some(hash_api_key(KEY)),
        ..Provider::new(id)
    };
    let providers = [
        Provider {
            rate_limit_per_hour: Some(3),
            allowed_webhooks: vec!["wh_solar".into(), "wh_off".into()],
            ..keyed("keyed")
        },
        Provider {
            allowed_webhooks: vec!["wh_std".into()],
            ..Provider::new("signed")
        },
        Provider {
            allowed_webhooks: vec!["wh_hub".into()],
            ..Provider::new("hub")
        },
        Provider {
            allowed_webhooks: vec!["wh_cal".into()],
            ..Provider::new("cal")
        },
        Provider {
            is_active: false,
            ..keyed("off")
        },
        Provider {
            format: RecordFormat::Form,
            ..keyed("form")
        },
        Provider::new("open"),
        Provider {
            signing_secret: Some(HUB_SECRET.into()),
            ..Provider::new("own")
        },
    ];
    let workspaces = [
        Workspace {
            require_consent: true,
            returns: Default::default(),
            messages: None,
            calendar: None,
            ..Workspace::new(
                "ws_consent",
                "http://127.0.0.1:9/hooks/ws_consent",
                Cents(30_000),
            )
        },
        Workspace::new("ws_any", "http://127.0.0.1:9/hooks/ws_any", Cents(10_000)),
    ];
    let rules = [
        RoutingRule::new(1, "ws_consent", &["Solar", "HVAC"], &["46262"], 1),
        RoutingRule::new(2, "ws_any", &["Solar", "HVAC"], &["46262"], 2),
    ];
    engine.configure(&providers, &workspaces, &rules).unwrap();
    let signed = |id: &str, scheme, secret: &str| WebhookConfig {
        secret: Some(secret.into()),
        signature_scheme: scheme,
        ..WebhookConfig::new(id)
    };
    engine
        .configure_webhooks(&[
            WebhookConfig {
                rate_limit: Some(2),
                rate_window_seconds: 60,
                ..signed("wh_std", SignatureScheme::StandardWebhooks, SECRET)
            },
            signed("wh_hub", SignatureScheme::GitHub, HUB_SECRET),
            signed("wh_cal", SignatureScheme::CalCom, HUB_SECRET),
            WebhookConfig {
                lead_type: Some("solar".into()),
                ..WebhookConfig::new("wh_solar")
            },
            WebhookConfig {
                is_active: false,
                ..WebhookConfig::new("wh_off")
            },
        ])
        .unwrap();
}

fn record(n: u32, product: &str, consent: bool) -> String {
    format!(
        r#"{{"lead_id": "r{n}", "phone": "317863{n:04}", "zip_code": "46262", "product_type": "{product}", "tcpa_consent": {consent}, "appointment_date": "2026-11-24T13:00:00Z"}}"#
    )
}

fn request<'a>(
    provider: &'a str,
    webhook: Option<&'a str>,
    key: Option<&'a str>,
    headers: &'a [(String, String)],
    body: &'a str,
) -> InboundRequest<'a> {
    InboundRequest {
        provider_id: provider,
        webhook_id: webhook,
        api_key: key,
        headers,
        body: body.as_bytes(),
    }
}

fn now_unix() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn standard_headers(id: &str, ts: i64, body: &str) -> Vec<(String, String)> {
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), ts.to_string()),
        (
            "webhook-signature".into(),
            sign(SECRET, id, ts, body.as_bytes()).unwrap(),
        ),
    ]
}

fn hmac_hex(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The refusal's code and kind; panics when the request was not refused by the wall.
fn refusal(r: leadroute::Result<Vec<IngestOutcome>>) -> (&'static str, ErrorKind) {
    match r {
        Err(Error::Auth(e)) => {
            let kind = Error::Auth(e.clone()).kind();
            (e.code(), kind)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn accepted(r: leadroute::Result<Vec<IngestOutcome>>) -> Vec<IngestOutcome> {
    let out = r.unwrap();
    for o in &out {
        assert!(matches!(o.outcome, Outcome::Accepted(_)), "{o:?}");
    }
    out
}

#[test]
fn api_keys_unknown_and_inactive_providers() {
    on_each_store(|e| {
        let body = record(1, "Solar", true);
        let h = [];
        assert_eq!(
            refusal(e.ingest_request(&request("keyed", None, None, &h, &body))),
            ("missing_api_key", ErrorKind::Unauthorized)
        );
        assert_eq!(
            refusal(e.ingest_request(&request("keyed", None, Some("lr_live_wrong"), &h, &body))),
            ("invalid_api_key", ErrorKind::Unauthorized)
        );
        // An unknown provider looks exactly like a wrong key.
        assert_eq!(
            refusal(e.ingest_request(&request("nobody", None, Some(KEY), &h, &body))),
            ("invalid_api_key", ErrorKind::Unauthorized)
        );
        // Nothing configured to authenticate with: refused, not waved through.
        assert_eq!(
            refusal(e.ingest_request(&request("open", None, Some(KEY), &h, &body))),
            ("no_credentials_configured", ErrorKind::Unauthorized)
        );
        // The right key on an inactive provider: authenticated, but forbidden.
        assert_eq!(
            refusal(e.ingest_request(&request("off", None, Some(KEY), &h, &body))),
            ("provider_inactive", ErrorKind::Forbidden)
        );
        assert_eq!(
            e.counts().unwrap().leads,
            0,
            "refused requests store nothing"
        );
        let out = accepted(e.ingest_request(&request("keyed", None, Some(KEY), &h, &body)));
        assert_eq!(out.len(), 1);
        // Refusals are counted for known providers only.
        let usage = e.provider_usage("keyed").unwrap();
        assert_eq!(usage.len(), 1);
        assert_eq!((usage[0].requests, usage[0].refused), (1, 2));
        assert!(e.provider_usage("nobody").unwrap().is_empty());
    });
}

#[test]
fn webhooks_not_allowed_are_forbidden() {
    on_each_store(|e| {
        let body = record(2, "Solar", true);
        let h = [];
        for webhook in ["wh_off", "wh_std", "wh_missing"] {
            // Inactive, not in allowed_webhooks, unknown.
            assert_eq!(
                refusal(e.ingest_request(&request("keyed", Some(webhook), Some(KEY), &h, &body))),
                ("webhook_not_allowed", ErrorKind::Forbidden),
                "{webhook}"
            );
        }
        accepted(e.ingest_request(&request("keyed", Some("wh_solar"), Some(KEY), &h, &body)));
        let usage = e.provider_usage("keyed").unwrap();
        let through: Vec<(Option<&str>, u64, u64)> = usage
            .iter()
            .map(|u| (u.webhook_id.as_deref(), u.requests, u.refused))
            .collect();
        assert_eq!(
            through,
            [
                (Some("wh_missing"), 0, 1),
                (Some("wh_off"), 0, 1),
                (Some("wh_solar"), 1, 0),
                (Some("wh_std"), 0, 1)
            ]
        );
    });
}

#[test]
fn standard_webhooks_signatures_timestamps_and_replays() {
    on_each_store(|e| {
        let body = record(3, "Solar", true);
        let now = now_unix();
        let ok = standard_headers("msg_a", now, &body);
        let post = |h: &[(String, String)], body: &str| {
            e.ingest_request(&request("signed", Some("wh_std"), None, h, body))
        };
        // A signature over other bytes.
        let tampered = body.replace("46262", "46263");
        assert_eq!(
            refusal(post(&ok, &tampered)),
            ("bad_signature", ErrorKind::Unauthorized)
        );
        assert_eq!(
            refusal(post(&[], &body)),
            ("missing_signature", ErrorKind::Unauthorized)
        );
        // 301 s old: stale; 301 s ahead: from the future.
        let stale = standard_headers("msg_b", now - 301, &body);
        assert_eq!(
            refusal(post(&stale, &body)),
            ("stale_timestamp", ErrorKind::Unauthorized)
        );
        let ahead = standard_headers("msg_c", now + 301, &body);
        assert_eq!(
            refusal(post(&ahead, &body)),
            ("future_timestamp", ErrorKind::Unauthorized)
        );
        accepted(post(&ok, &body));
        // The same authentic message again: a replay.
        assert_eq!(
            refusal(post(&ok, &body)),
            ("replayed", ErrorKind::Unauthorized)
        );
        assert_eq!(e.counts().unwrap().leads, 1);
    });
}

#[test]
fn github_and_cal_com_signatures() {
    on_each_store(|e| {
        let body = record(4, "HVAC", true);
        let hub = [(
            "X-Hub-Signature-256".to_string(),
            format!("sha256={}", hmac_hex(HUB_SECRET, &body)),
        )];
        accepted(e.ingest_request(&request("hub", Some("wh_hub"), None, &hub, &body)));
        let wrong = [(
            "X-Hub-Signature-256".to_string(),
            format!("sha256={}", hmac_hex("another secret", &body)),
        )];
        let other = record(5, "HVAC", true);
        assert_eq!(
            refusal(e.ingest_request(&request("hub", Some("wh_hub"), None, &wrong, &other))),
            ("bad_signature", ErrorKind::Unauthorized)
        );
        let cal = [(
            "X-Cal-Signature-256".to_string(),
            hmac_hex(HUB_SECRET, &other),
        )];
        accepted(e.ingest_request(&request("cal", Some("wh_cal"), None, &cal, &other)));
        // A provider's own secret, without any webhook.
        let third = record(8, "HVAC", true);
        assert_eq!(
            refusal(e.ingest_request(&request("own", None, None, &[], &third))),
            ("missing_signature", ErrorKind::Unauthorized)
        );
        let own = [(
            "X-Hub-Signature-256".to_string(),
            format!("sha256={}", hmac_hex(HUB_SECRET, &third)),
        )];
        accepted(e.ingest_request(&request("own", None, None, &own, &third)));
    });
}

/// Batches large enough for the intake pipeline (a second thread preparing records while
/// the transaction writes them): accepted ones store every record; one refused inside its
/// transaction (rate limited) stops the preparing thread, returns the refusal and stores
/// nothing.
#[test]
fn pipelined_batches_accept_and_refuse_whole() {
    for store in [
        Arc::new(MemoryStore::new()) as Arc<dyn Store>,
        Arc::new(SqliteStore::open_in_memory().unwrap()),
    ] {
        let config = EngineConfig {
            pipeline: true,
            ..EngineConfig::default()
        };
        let e = Engine::new(store, config).unwrap();
        configure(&e);
        let h = [];
        let batch = |first: u32| {
            let records: Vec<String> = (first
                ..first + 2 * leadroute::engine::PIPELINE_MIN_RECORDS as u32)
                .map(|n| record(n, "Solar", true))
                .collect();
            format!("[{}]", records.join(","))
        };
        // `keyed`: 3 requests per hour.
        for r in 0..3 {
            let out =
                accepted(e.ingest_request(&request("keyed", None, Some(KEY), &h, &batch(100 * r))));
            assert_eq!(out.len(), 64);
        }
        let refused = e.ingest_request(&request("keyed", None, Some(KEY), &h, &batch(900)));
        assert_eq!(refusal(refused), ("rate_limited", ErrorKind::RateLimited));
        assert_eq!(
            e.counts().unwrap().leads,
            3 * 64,
            "the refused batch stored nothing"
        );
    }
}

#[test]
fn the_request_after_the_limit_is_rate_limited() {
    on_each_store(|e| {
        let h = [];
        // Provider: 3 per hour.
        for n in 0..3 {
            let body = record(10 + n, "Solar", true);
            accepted(e.ingest_request(&request("keyed", None, Some(KEY), &h, &body)));
        }
        let body = record(13, "Solar", true);
        match e.ingest_request(&request("keyed", None, Some(KEY), &h, &body)) {
            Err(Error::Auth(AuthError::RateLimited(r))) => {
                assert!((1..=3600).contains(&r.retry_after_seconds), "{r:?}")
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
        // Webhook: 2 per 60 s (the provider itself is unlimited).
        for n in 0..2 {
            let body = record(20 + n, "Solar", true);
            let h = standard_headers(&format!("msg_rate_{n}"), now_unix(), &body);
            accepted(e.ingest_request(&request("signed", Some("wh_std"), None, &h, &body)));
        }
        let body = record(22, "Solar", true);
        let h = standard_headers("msg_rate_2", now_unix(), &body);
        let (code, kind) =
            refusal(e.ingest_request(&request("signed", Some("wh_std"), None, &h, &body)));
        assert_eq!((code, kind), ("rate_limited", ErrorKind::RateLimited));
        assert!(kind.is_retryable());
        // The refused request's message id was not burnt: the transaction rolled back, so the
        // same message is accepted once the window has room again (here: never in this
        // window, so it is still refused as rate limited, not as a replay).
        let again = refusal(e.ingest_request(&request("signed", Some("wh_std"), None, &h, &body)));
        assert_eq!(again.0, "rate_limited");
        assert_eq!(e.counts().unwrap().leads, 5);
    });
}

#[test]
fn bodies_in_every_format_and_webhook_lead_types() {
    on_each_store(|e| {
        let h = [];
        // A JSON array of objects: one record each, each kept verbatim.
        let array = format!(
            "[{}, {}]",
            record(30, "Solar", true),
            record(31, "Solar", true)
        );
        assert_eq!(
            accepted(e.ingest_request(&request("keyed", None, Some(KEY), &h, &array))).len(),
            2
        );
        // A pretty-printed object is one record.
        let pretty = "{\n  \"lead_id\": \"r32\",\n  \"phone\": \"3178630032\",\n  \"zip_code\": \"46262\",\n  \"product_type\": \"Solar\"\n}";
        assert_eq!(
            accepted(e.ingest_request(&request("keyed", None, Some(KEY), &h, pretty))).len(),
            1
        );
        // A form-encoded body.
        let form =
            "lead_id=r33&phone=%28317%29+863-0033&zip_code=46262&product_type=Solar&utm_source=fb";
        let out = accepted(e.ingest_request(&request("form", None, Some(KEY), &h, form)));
        let Outcome::Accepted(a) = &out[0].outcome else {
            unreachable!()
        };
        let events = e.events(EventSubject::Lead, a.lead_id).unwrap();
        assert_eq!(events[0].event_type, "received");
        // Through the solar-only webhook, an HVAC record is rejected (and kept).
        let hvac = record(34, "HVAC", true);
        let out = e
            .ingest_request(&request("keyed", Some("wh_solar"), Some(KEY), &h, &hvac))
            .unwrap();
        match &out[0].outcome {
            Outcome::Rejected {
                rejection_id,
                reasons,
            } => {
                assert_eq!(reasons[0].code.as_str(), "lead_type_not_allowed");
                let trail: Vec<String> = e
                    .events(EventSubject::Rejection, *rejection_id)
                    .unwrap()
                    .into_iter()
                    .map(|ev| ev.event_type.to_string())
                    .collect();
                assert_eq!(trail, ["received", "rejected"]);
            }
            other => panic!("{other:?}"),
        }
        // A body over the limit is refused as invalid input before anything else.
        let small = Engine::new(
            e.store().clone(),
            EngineConfig {
                max_body_bytes: 64,
                ..EngineConfig::default()
            },
        )
        .unwrap();
        let big = record(35, "Solar", true);
        let err = small
            .ingest_request(&request("keyed", None, Some(KEY), &h, &big))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        // Usage: 4 accepted requests (5 leads, 1 rejection) for `keyed`, counted per webhook.
        let usage = e.provider_usage("keyed").unwrap();
        let direct = usage.iter().find(|u| u.webhook_id.is_none()).unwrap();
        assert_eq!(
            (direct.requests, direct.total_leads, direct.accepted),
            (2, 3, 3)
        );
        let solar = usage
            .iter()
            .find(|u| u.webhook_id.as_deref() == Some("wh_solar"))
            .unwrap();
        assert_eq!(
            (solar.requests, solar.total_leads, solar.rejected),
            (1, 1, 1)
        );
        let (total, last) = e.provider_totals("keyed").unwrap();
        assert_eq!(total, 4);
        assert!(last.is_some());
    });
}

/// Accepts every webhook.
struct Ok200;

impl Transport for Ok200 {
    fn post(
        &self,
        _request: &WebhookRequest,
        _timeout: Duration,
    ) -> Result<WebhookResponse, TransportError> {
        Ok(WebhookResponse {
            status: 200,
            body_excerpt: "ok".into(),
            retry_after: None,
        })
    }
}

#[test]
fn consent_gated_workspaces_and_the_lead_audit_trail() {
    on_each_store(|e| {
        let h = [];
        let body = format!(
            "{}\n{}",
            record(40, "Solar", true),
            record(41, "Solar", false)
        );
        let out = accepted(e.ingest_request(&request("keyed", None, Some(KEY), &h, &body)));
        let routed: Vec<(LeadId, String, serde_json::Value)> = out
            .iter()
            .map(|o| match &o.outcome {
                Outcome::Accepted(a) => match &a.appointment {
                    Some((_, RoutingOutcome::Routed { workspace_id, .. })) => (
                        a.lead_id,
                        workspace_id.clone(),
                        a.routing_trace.clone().unwrap(),
                    ),
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            })
            .collect();
        // With consent: the consent-only workspace (priority 1). Without: skipped with the
        // reason, and the next candidate takes it.
        assert_eq!(routed[0].1, "ws_consent");
        assert_eq!(routed[1].1, "ws_any");
        let trace = routed[1].2.to_string();
        assert!(trace.contains("consent_required"), "{trace}");

        e.deliver_due(&Ok200, 10).unwrap();
        let lead = routed[0].0;
        let kinds: Vec<String> = e
            .events(EventSubject::Lead, lead)
            .unwrap()
            .into_iter()
            .map(|ev| ev.event_type.to_string())
            .collect();
        assert_eq!(kinds, ["received", "validated", "routed", "delivered"]);
        let statuses: Vec<(Option<String>, String)> = e
            .lead_status_history(lead)
            .unwrap()
            .into_iter()
            .map(|c| {
                (
                    c.from_status.map(|s| s.to_string()),
                    c.to_status.to_string(),
                )
            })
            .collect();
        assert_eq!(
            statuses,
            [
                (None, "new".to_string()),
                (Some("new".into()), "routed".into()),
                (Some("routed".into()), "delivered".into())
            ]
        );
        // The stored lead keeps the consent and attribution fields.
        let stored =
            leadroute::storage::with_tx(&**e.store(), |tx| Ok(tx.lead(lead)?.unwrap())).unwrap();
        assert_eq!(stored.lead.fields["consent"]["consent_value"], true);
    });
}
