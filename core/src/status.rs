//! Statuses, kinds and reasons as types (lead status, audit event kind, unrouted reason,
//! rejection reason code, routing method, forward status, billing kind, suppression reason),
//! one spelling everywhere.
//!
//! Each enum has one snake_case spelling, used by `Display`, `FromStr`, serde, the stored
//! rows and the Python bindings (the seed's `leads.status` and `*_events.event_type`
//! columns). A leaf module: it imports nothing from the crate.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An unknown spelling of a status or kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownStatus {
    /// Which enum, e.g. `lead status`.
    pub what: &'static str,
    /// The text that was given.
    pub value: String,
}

macro_rules! spelled_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The snake_case spelling, e.g. as stored.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl FromStr for $name {
            type Err = UnknownStatus;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err(UnknownStatus { what: $what, value: s.to_string() }),
                }
            }
        }
    };
}

spelled_enum! {
    /// A lead's status (`leads.status`, `lead_status_history`): `new` at intake, then
    /// `duplicate`, `routed` or `unrouted`, then `delivered`, `delivery_failed` or
    /// `returned`.
    LeadStatus, "lead status" {
        /// Stored, not (yet) an appointment: no appointment time, or waiting for contact.
        New => "new",
        /// A lead-level duplicate of an earlier lead of the same contact and product.
        Duplicate => "duplicate",
        /// Its appointment went to a workspace.
        Routed => "routed",
        /// Its appointment is in the unrouted queue.
        Unrouted => "unrouted",
        /// Its appointment was delivered to the workspace's webhook (and billed).
        Delivered => "delivered",
        /// Delivery was given up (permanent failure or retries exhausted).
        DeliveryFailed => "delivery_failed",
        /// The client returned the appointment; a credit was written.
        Returned => "returned",
    }
}

spelled_enum! {
    /// The kind of an audit event (`contact_events`, `lead_events`, `appointment_events`
    /// `event_type`).
    EventKind, "event kind" {
        /// A contact was created by a record.
        Created => "created",
        /// A record filled or changed a contact's fields.
        Updated => "updated",
        /// A record merged an email-only contact into this one.
        Merged => "merged",
        /// A record arrived (lead or rejection).
        Received => "received",
        /// A record passed validation.
        Validated => "validated",
        /// A record failed validation.
        Rejected => "rejected",
        /// A lead duplicates an earlier one.
        Duplicate => "duplicate",
        /// An appointment was routed to a workspace.
        Routed => "routed",
        /// An appointment went to the unrouted queue.
        Unrouted => "unrouted",
        /// An unrouted appointment was routed again.
        Rerouted => "rerouted",
        /// An appointment was assigned by hand.
        AssignedManually => "assigned_manually",
        /// A delivery succeeded.
        Delivered => "delivered",
        /// A delivery attempt failed and will be retried.
        DeliveryRetry => "delivery_retry",
        /// A delivery was given up.
        DeliveryFailed => "delivery_failed",
        /// A delivery was put back without an attempt (endpoint paused or disabled).
        DeliveryDeferred => "delivery_deferred",
        /// A delivered appointment was returned and credited.
        Returned => "returned",
        /// Lifecycle: the appointment was confirmed.
        Confirmed => "confirmed",
        /// Lifecycle: the appointment moved to a new time (same id).
        Rescheduled => "rescheduled",
        /// Lifecycle: the appointment was cancelled.
        Cancelled => "cancelled",
        /// Lifecycle: the appointment took place.
        Completed => "completed",
        /// Lifecycle: the customer did not show up.
        NoShow => "no_show",
        /// A return was requested (pending review or decided at once).
        ReturnRequested => "return_requested",
        /// A pending return was approved: the credit is written.
        ReturnApproved => "return_approved",
        /// A return was denied (by review, or refused by the policy).
        ReturnDenied => "return_denied",
        /// A credit was written without a return (no-show or late-cancellation policy).
        Credited => "credited",
        /// A failed or abandoned delivery was queued again (same `webhook-id`).
        Redelivered => "redelivered",
        /// A returned or undeliverable appointment was routed to another workspace.
        Reassigned => "reassigned",
        /// A stored rejection was run again through today's configuration.
        Reprocessed => "reprocessed",
        /// A Cal.com booking event was received for the appointment.
        BookingReceived => "booking_received",
        /// A queued lead was called (`contact_attempts`): the outcome and the queue status.
        ContactAttempted => "contact_attempted",
        /// A lead was booked into a slot of a workspace's calendar.
        Booked => "booked",
    }
}

spelled_enum! {
    /// An appointment's lifecycle status (the HPP and Convio seeds' `appointments.status`).
    ///
    /// `scheduled`, `confirmed` and `rescheduled` are live; `completed`, `cancelled` and
    /// `no_show` are outcomes. The routing status (routed/unrouted) and the forward status
    /// are separate fields. Transitions: [`crate::lifecycle`].
    #[derive(Default)]
    AppointmentStatus, "appointment status" {
        /// Booked, not yet confirmed (the start state; also a Cal.com booking pending the
        /// host's confirmation).
        #[default]
        Scheduled => "scheduled",
        /// Confirmed by the customer, the client or the host.
        Confirmed => "confirmed",
        /// The meeting took place.
        Completed => "completed",
        /// Cancelled; never revived.
        Cancelled => "cancelled",
        /// The customer did not show up.
        NoShow => "no_show",
        /// Moved to a new time at least once; live, like `scheduled`, with history.
        Rescheduled => "rescheduled",
    }
}

spelled_enum! {
    /// The type of an event delivered to a workspace's webhook (the Standard Webhooks
    /// `type` field, `group.event`). `appointment.created` is the appointment's first
    /// delivery (the seed's payload); the others tell the client about a lifecycle change.
    #[derive(Default)]
    WebhookEventType, "webhook event type" {
        /// The appointment itself (the first delivery; billed on success).
        #[default]
        AppointmentCreated => "appointment.created",
        /// The appointment was confirmed.
        AppointmentConfirmed => "appointment.confirmed",
        /// The appointment moved to a new time.
        AppointmentRescheduled => "appointment.rescheduled",
        /// The appointment was cancelled.
        AppointmentCancelled => "appointment.cancelled",
        /// The appointment took place.
        AppointmentCompleted => "appointment.completed",
        /// The customer did not show up.
        AppointmentNoShow => "appointment.no_show",
    }
}

spelled_enum! {
    /// Where a return stands (the distribution platforms' return review).
    ReturnStatus, "return status" {
        /// Waiting for review; no credit yet.
        Pending => "pending",
        /// Approved: the credit is written.
        Approved => "approved",
        /// Denied: no credit.
        Denied => "denied",
    }
}

spelled_enum! {
    /// Where a lead stands in the contact queue (the HVAC seed's `pending → calling →
    /// no_answer | scheduled | not_interested`, with `unreachable` and `do_not_contact`).
    ContactStatus, "contact status" {
        /// Waiting for its first or next attempt.
        Pending => "pending",
        /// Claimed by a worker (leased) and being called.
        Attempting => "attempting",
        /// Called, no answer: due again after the retry interval.
        NoAnswer => "no_answer",
        /// An appointment was booked: done.
        Scheduled => "scheduled",
        /// The person declined: done.
        NotInterested => "not_interested",
        /// The number does not reach the person, or the attempts ran out: done.
        Unreachable => "unreachable",
        /// The person asked not to be contacted (suppressed): done.
        DoNotContact => "do_not_contact",
    }
}

spelled_enum! {
    /// The result of one contact attempt (`contact_attempts.outcome`).
    ContactOutcome, "contact outcome" {
        /// No answer (voicemail, busy, ringing out): try again later.
        NoAnswer => "no_answer",
        /// An appointment was booked.
        Scheduled => "scheduled",
        /// The person declined.
        NotInterested => "not_interested",
        /// Wrong or dead number.
        Unreachable => "unreachable",
        /// The person asked not to be contacted again: the number is suppressed.
        DoNotContact => "do_not_contact",
    }
}

spelled_enum! {
    /// What a scheduled message is (`scheduled_messages.kind`).
    MessageKind, "message kind" {
        /// Sent when the appointment is booked.
        Confirmation => "confirmation",
        /// Sent before the appointment, at the workspace's offsets.
        Reminder => "reminder",
    }
}

spelled_enum! {
    /// Where a scheduled message stands (`scheduled_messages.status`).
    MessageStatus, "message status" {
        /// Waiting for its send time (or a retry).
        Pending => "pending",
        /// The transport accepted it.
        Sent => "sent",
        /// Given up after its tries.
        Failed => "failed",
        /// The appointment was cancelled, completed or marked no-show, or moved.
        Cancelled => "cancelled",
        /// The recipient is on the suppression list: not sent.
        Suppressed => "suppressed",
    }
}

spelled_enum! {
    /// Why nothing matched: the appointment goes to the unrouted queue with this reason
    /// (`appointments.unrouted_reason`).
    UnroutedReason, "unrouted reason" {
        /// The product is not in the catalog.
        UnknownProduct => "unknown_product",
        /// No active rule targets the product anywhere.
        NoRuleForProduct => "no_rule_for_product",
        /// Active rules target the product, but none covers the ZIP (rules that exclude it
        /// are listed as skipped with reason `excluded_zip`).
        NoRuleForZip => "no_rule_for_zip",
        /// Rules matched, but every one was skipped (see the decision's `skipped`).
        NoEligibleWorkspace => "no_eligible_workspace",
    }
}

spelled_enum! {
    /// Machine-readable reason a record is rejected (`lead_rejections.reason_codes`).
    ReasonCode, "reason code" {
        /// The record is not parseable (bad JSON, not an object, bad CSV row, too large).
        MalformedRecord => "malformed_record",
        /// A field has a JSON type that cannot be read as text.
        WrongType => "wrong_type",
        /// No phone.
        MissingPhone => "missing_phone",
        /// The phone is not a valid number.
        InvalidPhone => "invalid_phone",
        /// No ZIP.
        MissingZip => "missing_zip",
        /// The ZIP is neither ZIP5 nor ZIP+4.
        InvalidZip => "invalid_zip",
        /// The ZIP5 is not in the ZIP table.
        UnknownZip => "unknown_zip",
        /// The ZIP5 is in the table but no longer active.
        InactiveZip => "inactive_zip",
        /// No product.
        MissingProduct => "missing_product",
        /// The product is not in the catalog.
        UnknownProduct => "unknown_product",
        /// The product's lead type is not one the provider may send.
        LeadTypeNotAllowed => "lead_type_not_allowed",
        /// The appointment time is not RFC 3339.
        InvalidAppointmentDate => "invalid_appointment_date",
        /// No email, where one is needed (no valid phone and the phone is not required).
        MissingEmail => "missing_email",
        /// The email is not a valid address, where one is needed.
        InvalidEmail => "invalid_email",
        /// A field the lead type requires is absent or empty
        /// ([`VerticalRules`](crate::validate::VerticalRules)); the detail names the field.
        MissingRequiredField => "missing_required_field",
        /// A text field is longer than its limit
        /// ([`MAX_FIELD_CHARS`](crate::validate::MAX_FIELD_CHARS),
        /// [`MAX_LONG_FIELD_CHARS`](crate::validate::MAX_LONG_FIELD_CHARS)); the detail
        /// names the field.
        FieldTooLong => "field_too_long",
        /// The appointment's slot in the workspace's calendar is full.
        SlotTaken => "slot_taken",
    }
}

spelled_enum! {
    /// How an appointment got its workspace (`appointments.routing_method`).
    RoutingMethod, "routing method" {
        /// Matched by the routing table.
        Auto => "auto",
        /// Assigned by a person.
        Manual => "manual",
    }
}

spelled_enum! {
    /// The delivery state kept on the appointment (`appointments.forward_status`).
    ForwardStatus, "forward status" {
        /// Not yet delivered; a delivery is queued or retrying (or none exists: unrouted).
        Pending => "pending",
        /// Delivered: the webhook answered 2xx.
        Success => "success",
        /// Given up: a permanent failure or retries exhausted.
        Failed => "failed",
    }
}

spelled_enum! {
    /// The kind of a billing event (`billing_events.kind`).
    BillingKind, "billing kind" {
        /// A charge for a delivered appointment.
        Charge => "charge",
        /// A credit that reverses the charge of a returned appointment (negative amount).
        Credit => "credit",
    }
}

spelled_enum! {
    /// Why a phone number is on the do-not-contact list ([`crate::suppression`]).
    SuppressionReason, "suppression reason" {
        /// The person opted out (asked to stop calls or messages).
        OptOut => "opt_out",
        /// A `not_interested` lead that asked not to be called again.
        NotInterested => "not_interested",
        /// Imported from a list (a file of numbers or SHA-256 hashes).
        Imported => "imported",
    }
}

impl AppointmentStatus {
    /// Whether the appointment can still happen (`scheduled`, `confirmed`, `rescheduled`).
    pub fn is_live(self) -> bool {
        matches!(
            self,
            AppointmentStatus::Scheduled
                | AppointmentStatus::Confirmed
                | AppointmentStatus::Rescheduled
        )
    }
}

impl UnroutedReason {
    /// snake_case code, as stored in `appointments.unrouted_reason` (the same as
    /// [`UnroutedReason::as_str`]).
    pub fn code(self) -> &'static str {
        self.as_str()
    }
}

impl LeadStatus {
    /// The status a new lead is stored with, from what intake decided: a duplicate; else the
    /// routing of its appointment (`Ok` routed, `Err(reason)` unrouted with its reason code);
    /// else (no appointment time) `new`. Returns the status and the reason to record.
    pub fn after_intake(
        duplicate: bool,
        routing: Option<Result<(), &str>>,
    ) -> (LeadStatus, Option<&str>) {
        match (duplicate, routing) {
            (true, _) => (LeadStatus::Duplicate, None),
            (false, Some(Ok(()))) => (LeadStatus::Routed, None),
            (false, Some(Err(reason))) => (LeadStatus::Unrouted, Some(reason)),
            (false, None) => (LeadStatus::New, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_through_display_fromstr_and_serde() {
        for s in LeadStatus::ALL {
            assert_eq!(s.as_str().parse::<LeadStatus>(), Ok(*s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        for k in EventKind::ALL {
            assert_eq!(k.to_string().parse::<EventKind>(), Ok(*k));
            assert_eq!(
                serde_json::from_value::<EventKind>(serde_json::json!(k.as_str())).unwrap(),
                *k
            );
        }
        assert_eq!(LeadStatus::DeliveryFailed.as_str(), "delivery_failed");
        assert_eq!(EventKind::AssignedManually.as_str(), "assigned_manually");
        assert!("bogus".parse::<LeadStatus>().is_err());
    }

    #[test]
    fn status_after_intake() {
        assert_eq!(
            LeadStatus::after_intake(true, Some(Ok(()))),
            (LeadStatus::Duplicate, None)
        );
        assert_eq!(
            LeadStatus::after_intake(false, Some(Ok(()))),
            (LeadStatus::Routed, None)
        );
        assert_eq!(
            LeadStatus::after_intake(false, Some(Err("no_rule_for_zip"))),
            (LeadStatus::Unrouted, Some("no_rule_for_zip"))
        );
        assert_eq!(
            LeadStatus::after_intake(false, None),
            (LeadStatus::New, None)
        );
    }
}
