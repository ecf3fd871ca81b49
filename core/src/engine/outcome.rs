//! What the use cases return: ingest outcomes and the reports of routing and delivery runs.

use crate::model::*;
use crate::routing::UnroutedReason;
use crate::validate::Reason;

/// How a routed or unrouted appointment came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutingOutcome {
    /// Sent to a workspace.
    Routed {
        /// The workspace.
        workspace_id: String,
        /// The matching rule.
        rule_id: i64,
    },
    /// In the unrouted queue.
    Unrouted(UnroutedReason),
}

/// What became of an accepted record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The new lead.
    pub lead_id: LeadId,
    /// Its contact.
    pub contact_id: ContactId,
    /// Whether the contact was created by this record (`false`: a returning person).
    pub new_contact: bool,
    /// When the lead is a lead-level duplicate, the original lead; duplicates get no
    /// appointment and are not billed.
    pub duplicate_of: Option<LeadId>,
    /// The appointment, when the record carried an appointment time.
    pub appointment: Option<(AppointmentId, RoutingOutcome)>,
    /// The routing decision's full trace (as stored in `appointment_events`): every
    /// candidate in decision order with `matched`, `skipped` and its reason, or
    /// `not_reached`; the rules that exclude the ZIP; inactive rules. `None` without an
    /// appointment.
    pub routing_trace: Option<serde_json::Value>,
    /// Non-fatal findings.
    pub warnings: Vec<String>,
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored as a lead.
    Accepted(Accepted),
    /// Stored as a rejection.
    Rejected {
        /// The rejection's id.
        rejection_id: RejectionId,
        /// Why.
        reasons: Vec<Reason>,
    },
    /// Already stored by an earlier ingestion; nothing was written.
    Replayed(StoredRecord),
}

/// The result of ingesting one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    /// The record's idempotency key.
    pub record_key: String,
    /// What happened.
    pub outcome: Outcome,
}

/// What [`Engine::reroute_unrouted`](super::Engine::reroute_unrouted) did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RerouteReport {
    /// Unrouted appointments examined.
    pub examined: u64,
    /// Newly routed, per workspace.
    pub routed: std::collections::BTreeMap<String, u64>,
    /// Still unrouted, per reason code.
    pub still_unrouted: std::collections::BTreeMap<String, u64>,
}

/// One row of a [`BacktestReport`]: appointments per workspace now and under the proposal
/// (`workspace_id` `None` is the unrouted queue).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BacktestRow {
    /// The workspace, or `None` for unrouted.
    pub workspace_id: Option<String>,
    /// Appointments it holds now.
    pub current: u64,
    /// Appointments it would hold under the proposed rules.
    pub proposed: u64,
}

/// An appointment that would change hands under a proposed rule set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Move {
    /// The appointment.
    pub appointment_id: AppointmentId,
    /// Its workspace now (`None`: unrouted).
    pub from: Option<String>,
    /// Its workspace under the proposal (`None`: unrouted).
    pub to: Option<String>,
}

/// What [`Engine::backtest`](super::Engine::backtest) found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BacktestReport {
    /// Appointments replayed.
    pub examined: u64,
    /// Per workspace, by id (unrouted first).
    pub per_workspace: Vec<BacktestRow>,
    /// Appointments that would move, by id.
    pub moves: Vec<Move>,
}

/// Totals of one [`Engine::deliver_due`](super::Engine::deliver_due) call.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryReport {
    /// Deliveries claimed and tried.
    pub attempted: u64,
    /// Answered 2xx (each billed once).
    pub delivered: u64,
    /// Scheduled for another try.
    pub retrying: u64,
    /// Given up.
    pub failed: u64,
    /// Put back without an attempt: the endpoint is paused, disabled or inactive, or a probe
    /// of it is under way.
    pub deferred: u64,
    /// Sum of the charges written (serialized as `billed_cents`).
    #[serde(rename = "billed_cents")]
    pub billed: Cents,
}

impl DeliveryReport {
    /// Adds another call's totals to these (a caller that drains the outbox in a loop).
    pub fn add(&mut self, other: &DeliveryReport) {
        self.attempted += other.attempted;
        self.delivered += other.delivered;
        self.retrying += other.retrying;
        self.failed += other.failed;
        self.deferred += other.deferred;
        self.billed = Cents(self.billed.0.saturating_add(other.billed.0));
    }

    /// Counts one attempt that left its delivery in `status`.
    pub(crate) fn count(&mut self, status: ForwardStatus) {
        self.attempted += 1;
        match status {
            ForwardStatus::Success => self.delivered += 1,
            ForwardStatus::Pending => self.retrying += 1,
            ForwardStatus::Failed => self.failed += 1,
        }
    }
}
