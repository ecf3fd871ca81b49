//! Billing: the charge for a delivered appointment.
//!
//! Exactly one charge per appointment and workspace: the store's `UNIQUE (appointment_id,
//! workspace_id, kind)` backs it, and the engine writes it in the same transaction as the
//! delivery's success. The amount is
//! the workspace's `payment_rate` captured when the appointment was routed, so a later rate
//! change does not reprice appointments already sold.

use crate::model::{AppointmentId, Assignment, BillingKind, NewBillingEvent};
use jiff::Timestamp;

/// The charge for delivering an appointment, or `None` when it is unrouted (nothing to bill).
pub fn charge(
    appointment_id: AppointmentId,
    assignment: &Assignment,
    now: Timestamp,
) -> Option<NewBillingEvent> {
    match assignment {
        Assignment::Routed {
            workspace_id,
            payment_rate,
            ..
        } => Some(NewBillingEvent {
            appointment_id,
            workspace_id: workspace_id.clone(),
            kind: BillingKind::Charge,
            amount: *payment_rate,
            created_at: now,
        }),
        Assignment::Unrouted { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Cents, RoutingMethod};

    #[test]
    fn charges_the_rate_at_routing_time() {
        let t = Timestamp::UNIX_EPOCH;
        let routed = Assignment::Routed {
            workspace_id: "solar_ca_001".into(),
            rule_id: Some(4),
            method: RoutingMethod::Auto,
            matched_at: t,
            payment_rate: Cents(17550),
        };
        let e = charge(AppointmentId(9), &routed, t).unwrap();
        assert_eq!(
            (e.appointment_id, e.amount, e.kind),
            (AppointmentId(9), Cents(17550), BillingKind::Charge)
        );
        assert_eq!(e.amount.to_string(), "$175.50");
        let unrouted = Assignment::Unrouted {
            reason: crate::status::UnroutedReason::NoRuleForZip,
        };
        assert_eq!(charge(AppointmentId(9), &unrouted, t), None);
    }
}
