//! Deliveries per second to a loopback webhook receiver, signed (Standard Webhooks), with 8
//! workers (the engine's default), beside the same work with 1 worker in the same run.
//!
//! Each iteration gets a fresh in-memory engine holding 400 routed, due appointments (set up
//! outside the timing) and drains its outbox with `deliver_due` to a receiver on 127.0.0.1
//! that verifies every signature. Run with `cargo bench --bench delivery -- --quick`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use leadroute::delivery::UreqTransport;
use leadroute::intake::RawRecord;
use leadroute::model::{Cents, Provider, Workspace};
use leadroute::pipeline::LoopbackReceiver;
use leadroute::routing::RoutingRule;
use leadroute::storage::MemoryStore;
use leadroute::{Engine, EngineConfig};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const APPOINTMENTS: u64 = 400;
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A fresh engine with `APPOINTMENTS` due deliveries to `base`.
fn loaded_engine(base: &str, workers: usize) -> Engine {
    let config = EngineConfig {
        delivery_workers: workers,
        ..EngineConfig::default()
    };
    let engine = Engine::new(Arc::new(MemoryStore::new()), config).unwrap();
    engine
        .configure(
            &[Provider::new("p")],
            &[Workspace {
                business_type: Some("Solar".into()),
                timezone: Some("America/Indiana/Indianapolis".into()),
                webhook_secret: Some(SECRET.into()),
                ..Workspace::new("solar_in", &format!("{base}/hooks/solar_in"), Cents(20_000))
            }],
            &[RoutingRule::new(1, "solar_in", &["Solar"], &["46262"], 1)],
        )
        .unwrap();
    let records: Vec<RawRecord> = (0..APPOINTMENTS)
        .map(|n| {
            RawRecord::Json(format!(
                r#"{{"phone": "317863{n:04}", "zip_code": "46262", "product_type": "Solar",
                    "appointment_date": "2026-11-24T13:00:00Z", "lead_id": "b{n}"}}"#
            ))
        })
        .collect();
    engine.ingest_batch("p", &records).unwrap();
    engine
}

fn drain(engine: &Engine, transport: &UreqTransport) -> u64 {
    let mut delivered = 0;
    loop {
        let r = engine.deliver_due(transport, 1000).unwrap();
        if r.attempted == 0 {
            return delivered;
        }
        delivered += r.delivered;
    }
}

fn deliveries(c: &mut Criterion) {
    let receiver = LoopbackReceiver::start(HashMap::from([(
        "solar_in".to_string(),
        SECRET.to_string(),
    )]))
    .unwrap();
    let base = receiver.base_url();
    let transport = UreqTransport::new();
    // Check once that everything is delivered and verified before timing.
    assert_eq!(drain(&loaded_engine(&base, 8), &transport), APPOINTMENTS);

    let mut g = c.benchmark_group("deliver_due");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(APPOINTMENTS));
    for workers in [8, 1] {
        g.bench_function(format!("{workers}_workers"), |b| {
            b.iter_batched(
                || loaded_engine(&base, workers),
                |engine| assert_eq!(drain(&engine, &transport), APPOINTMENTS),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
    let seen = receiver.stop();
    assert_eq!(
        seen.signature_bad, 0,
        "every request carried a valid signature"
    );
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = benches;
    config = config();
    targets = deliveries
}
criterion_main!(benches);
