//! The few results the bindings assemble from the engine's records and reports (which
//! serialize themselves), and flat shapes of the engine's outcomes that do not serialize
//! (a Cal.com delivery, a reassignment) or nest (a delivery row, reprocessing's pairs).

use crate::outcome::RoutingParts;
use jiff::Timestamp;
use leadroute_core::engine::{BookingOutcome, ReassignOutcome, ReprocessReport};
use leadroute_core::model::{
    AppointmentId, BillingSummaryRow, Delivery, DeliveryId, LeadId, NewDelivery, NewEvent,
    RejectionId,
};
use leadroute_core::status::{AppointmentStatus, ForwardStatus};
use serde::Serialize;
use std::collections::BTreeMap;

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
    pending_returns: u64,
    pending_return_cents: i64,
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
            pending_returns: 0,
            pending_return_cents: 0,
            per_workspace: Vec::new(),
        };
        for r in &rows {
            s.charges += r.charges;
            s.charged_cents += r.charged.0;
            s.credits += r.credits;
            s.credited_cents += r.credited.0;
            s.net_cents += r.net.0;
            s.pending_returns += r.pending_returns;
            s.pending_return_cents += r.pending_return.0;
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

/// A delivery (an outbox row) as one flat dict: its id, what was enqueued, and its state.
#[derive(Serialize)]
pub struct DeliveryRecord {
    id: DeliveryId,
    #[serde(flatten)]
    delivery: NewDelivery,
    status: ForwardStatus,
    attempts: u32,
    locked_until: Option<Timestamp>,
    retry_base: u32,
}

impl From<Delivery> for DeliveryRecord {
    fn from(d: Delivery) -> DeliveryRecord {
        DeliveryRecord {
            id: d.id,
            delivery: d.delivery,
            status: d.status,
            attempts: d.attempts,
            locked_until: d.locked_until,
            retry_base: d.retry_base,
        }
    }
}

/// `Engine.reassign`: the outcome with its routing as flat fields.
#[derive(Serialize)]
pub struct Reassigned {
    appointment_id: AppointmentId,
    from_workspace_id: Option<String>,
    #[serde(flatten)]
    routing: RoutingParts,
    delivery_id: Option<DeliveryId>,
    trace: serde_json::Value,
}

impl From<ReassignOutcome> for Reassigned {
    fn from(o: ReassignOutcome) -> Reassigned {
        Reassigned {
            appointment_id: o.appointment_id,
            from_workspace_id: o.from_workspace_id,
            routing: RoutingParts::of(Some(o.routing)),
            delivery_id: o.delivery_id,
            trace: o.trace,
        }
    }
}

/// One rejection that reprocessing turned into a lead.
#[derive(Serialize)]
struct ReprocessedLead {
    rejection_id: RejectionId,
    lead_id: LeadId,
}

/// `Engine.reprocess_rejections`: the report with its accepted pairs named.
#[derive(Serialize)]
pub struct Reprocessed {
    examined: u64,
    accepted: Vec<ReprocessedLead>,
    still_rejected: BTreeMap<String, u64>,
    unreplayable: u64,
}

impl From<ReprocessReport> for Reprocessed {
    fn from(r: ReprocessReport) -> Reprocessed {
        Reprocessed {
            examined: r.examined,
            accepted: r
                .accepted
                .into_iter()
                .map(|(rejection_id, lead_id)| ReprocessedLead {
                    rejection_id,
                    lead_id,
                })
                .collect(),
            still_rejected: r.still_rejected,
            unreplayable: r.unreplayable,
        }
    }
}

/// `Engine.ingest_cal_webhook`: what one Cal.com delivery did, routing as flat fields.
#[derive(Serialize)]
pub struct Booking {
    trigger: String,
    uid: Option<String>,
    appointment_id: Option<AppointmentId>,
    status: Option<AppointmentStatus>,
    applied: bool,
    duplicate: bool,
    #[serde(flatten)]
    routing: RoutingParts,
    rejection_id: Option<RejectionId>,
}

impl From<BookingOutcome> for Booking {
    fn from(o: BookingOutcome) -> Booking {
        Booking {
            trigger: o.trigger,
            uid: o.uid,
            appointment_id: o.appointment_id,
            status: o.status,
            applied: o.applied,
            duplicate: o.duplicate,
            routing: RoutingParts::of(o.routing),
            rejection_id: o.rejection_id,
        }
    }
}
