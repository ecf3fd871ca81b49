//! The serde form of the engine's reports that have none of their own, and the few results
//! the bindings assemble from the engine's records.
//!
//! The `*Def` types are serde remote definitions (`#[serde(remote = ...)]`): they name the
//! fields of the core type they mirror, so a field renamed or retyped in the core fails to
//! compile here instead of drifting silently.

use jiff::Timestamp;
use leadroute_core::engine::{BacktestReport, BacktestRow, DeliveryReport, Move, RerouteReport};
use leadroute_core::model::{AppointmentId, BillingSummaryRow, Cents, NewEvent};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// Totals of `Engine.deliver_due` (one or several core calls added up).
#[derive(Serialize)]
#[serde(remote = "DeliveryReport")]
pub struct DeliveryReportDef {
    attempted: u64,
    delivered: u64,
    retrying: u64,
    failed: u64,
    deferred: u64,
    #[serde(rename = "billed_cents")]
    billed: Cents,
}

/// What `Engine.reroute_unrouted` did.
#[derive(Serialize)]
#[serde(remote = "RerouteReport")]
pub struct RerouteReportDef {
    examined: u64,
    routed: BTreeMap<String, u64>,
    still_unrouted: BTreeMap<String, u64>,
}

#[derive(Serialize)]
#[serde(remote = "BacktestRow")]
struct BacktestRowDef {
    workspace_id: Option<String>,
    current: u64,
    proposed: u64,
}

#[derive(Serialize)]
#[serde(remote = "Move")]
struct MoveDef {
    appointment_id: AppointmentId,
    from: Option<String>,
    to: Option<String>,
}

/// What `Engine.backtest` found.
#[derive(Serialize)]
#[serde(remote = "BacktestReport")]
pub struct BacktestReportDef {
    examined: u64,
    #[serde(serialize_with = "backtest_rows")]
    per_workspace: Vec<BacktestRow>,
    #[serde(serialize_with = "moves")]
    moves: Vec<Move>,
}

fn backtest_rows<S: Serializer>(rows: &[BacktestRow], s: S) -> Result<S::Ok, S::Error> {
    struct Row<'a>(&'a BacktestRow);
    impl Serialize for Row<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            BacktestRowDef::serialize(self.0, s)
        }
    }
    s.collect_seq(rows.iter().map(Row))
}

fn moves<S: Serializer>(moves: &[Move], s: S) -> Result<S::Ok, S::Error> {
    struct One<'a>(&'a Move);
    impl Serialize for One<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            MoveDef::serialize(self.0, s)
        }
    }
    s.collect_seq(moves.iter().map(One))
}

/// `serde_json::Value` of a report through its remote definition.
pub fn report_value<T>(
    report: &T,
    serialize: fn(
        &T,
        serde_json::value::Serializer,
    ) -> Result<serde_json::Value, serde_json::Error>,
) -> Result<serde_json::Value, leadroute_core::Error> {
    serialize(report, serde_json::value::Serializer)
        .map_err(|e| leadroute_core::Error::Internal(format!("serializing a report: {e}")))
}

/// Adds one `deliver_due` call's totals to another.
pub fn add_delivery(total: &mut DeliveryReport, r: &DeliveryReport) {
    total.attempted += r.attempted;
    total.delivered += r.delivered;
    total.retrying += r.retrying;
    total.failed += r.failed;
    total.deferred += r.deferred;
    total.billed = Cents(total.billed.0.saturating_add(r.billed.0));
}

/// `Engine.billing_summary`: the totals over the per-workspace rows, and the rows.
#[derive(Serialize)]
pub struct BillingSummary {
    charges: u64,
    charged_cents: i64,
    credits: u64,
    credited_cents: i64,
    net_cents: i64,
    per_workspace: Vec<BillingSummaryRow>,
}

impl BillingSummary {
    /// The totals of `rows`.
    pub fn new(rows: Vec<BillingSummaryRow>) -> BillingSummary {
        let mut s = BillingSummary {
            charges: 0,
            charged_cents: 0,
            credits: 0,
            credited_cents: 0,
            net_cents: 0,
            per_workspace: Vec::new(),
        };
        for r in &rows {
            s.charges += r.charges;
            s.charged_cents += r.charged.0;
            s.credits += r.credits;
            s.credited_cents += r.credited.0;
            s.net_cents += r.net.0;
        }
        s.per_workspace = rows;
        s
    }
}

/// `Engine.provider_totals`: what `Engine::provider_totals` returns, with names.
#[derive(Serialize)]
pub struct ProviderTotals {
    /// Records stored (leads and rejections).
    pub total_leads: u64,
    /// When the last one was stored (UTC).
    pub last_lead_at: Option<Timestamp>,
}

/// A record with its audit trail beside its fields (`events`).
#[derive(Serialize)]
pub struct WithEvents<T> {
    /// The record.
    #[serde(flatten)]
    pub record: T,
    /// Its events, oldest first.
    pub events: Vec<NewEvent>,
}
