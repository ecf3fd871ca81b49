//! The few results the bindings assemble from the engine's records and reports (which
//! serialize themselves).

use jiff::Timestamp;
use leadroute_core::model::{BillingSummaryRow, NewEvent};
use serde::Serialize;

/// `serde_json::Value` of an engine report.
pub fn report_value<T: Serialize>(report: &T) -> Result<serde_json::Value, leadroute_core::Error> {
    serde_json::to_value(report)
        .map_err(|e| leadroute_core::Error::Internal(format!("serializing a report: {e}")))
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
