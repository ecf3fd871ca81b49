//! The appointment payload a workspace's webhook receives.
//!
//! Fields are the seed's (`appointment_id`, `customer_name`, `customer_phone`,
//! `customer_email`, `service_type`, `customer_zip`, `appointment_date`, `estimated_value`,
//! `notes`, `routing_method`, `matched_at`, `workspace_id`). Times are RFC 3339 in UTC;
//! `estimated_value` is in dollars; the phone is E.164.

use crate::model::{AppointmentId, Assignment, NewAppointment};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The JSON body posted to a workspace's webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppointmentPayload {
    /// The appointment's id.
    pub appointment_id: AppointmentId,
    /// First and last name, space-separated (empty when the lead had no name).
    pub customer_name: String,
    /// E.164 phone (`null` only for a lead accepted on its email alone).
    pub customer_phone: Option<String>,
    /// Normalized email.
    pub customer_email: Option<String>,
    /// Canonical product, e.g. `Solar`.
    pub service_type: String,
    /// ZIP5.
    pub customer_zip: String,
    /// Scheduled time, RFC 3339 UTC.
    pub appointment_date: String,
    /// Estimated job value, dollars.
    pub estimated_value: Option<f64>,
    /// Notes.
    pub notes: Option<String>,
    /// `auto` or `manual`.
    pub routing_method: String,
    /// When it was matched, RFC 3339 UTC.
    pub matched_at: String,
    /// The receiving workspace.
    pub workspace_id: String,
}

/// The Standard Webhooks event type of a new appointment.
pub const EVENT_TYPE: &str = "appointment.created";

/// Shapes a payload for a workspace (its [`DeliveryOptions`]): fields renamed, omitted and
/// constants added (constants win over payload fields of the same name), then optionally
/// wrapped in a Standard Webhooks envelope (`type`, `timestamp` = `at` in RFC 3339 UTC,
/// `data`). The result is what is serialized into the outbox and sent byte for byte.
///
/// [`DeliveryOptions`]: crate::model::DeliveryOptions
pub fn shape(
    payload: &AppointmentPayload,
    options: &crate::model::DeliveryOptions,
    at: Timestamp,
) -> serde_json::Value {
    let serde_json::Value::Object(fields) = serde_json::to_value(payload).unwrap_or_default()
    else {
        return serde_json::Value::Null;
    };
    let mut out = serde_json::Map::new();
    for (name, value) in fields {
        if options.omit.iter().any(|o| o == &name) {
            continue;
        }
        let key = options.rename.get(&name).cloned().unwrap_or(name);
        out.insert(key, value);
    }
    for (k, v) in &options.constants {
        out.insert(k.clone(), v.clone());
    }
    let data = serde_json::Value::Object(out);
    if options.envelope {
        serde_json::json!({"type": EVENT_TYPE, "timestamp": rfc3339(at), "data": data})
    } else {
        data
    }
}

/// Formats a UTC time as RFC 3339 (`2026-11-24T13:00:00Z`): fractional seconds only when
/// non-zero, without trailing zeros. A time outside the years 0000–9999, which RFC 3339
/// cannot write, is written as its Unix seconds (floored).
pub fn rfc3339(t: Timestamp) -> String {
    let year = jiff::tz::Offset::UTC.to_datetime(t).year();
    if (0..=9999).contains(&year) {
        t.to_string()
    } else {
        crate::tz::unix_seconds(t).to_string()
    }
}

/// A lifecycle event as its workspace receives it: the Standard Webhooks envelope
/// `{"type", "timestamp", "data"}` (`type` is e.g. `appointment.cancelled`; `timestamp` is
/// RFC 3339 UTC), whatever the workspace's `envelope` option, since the event type is the
/// point of it. `data` carries `appointment_id`, `lead_id`, `workspace_id`, `status` and
/// `previous_status`, `appointment_date` and `end_time` (RFC 3339 UTC),
/// `previous_appointment_date`, `reschedule_count`, `cancellation_reason`, `outcome`,
/// `actor` and `reason`.
#[allow(clippy::too_many_arguments)]
pub fn lifecycle_event(
    event: crate::status::WebhookEventType,
    appointment_id: AppointmentId,
    lead_id: crate::model::LeadId,
    workspace_id: &str,
    from: &crate::lifecycle::Life,
    to: &crate::lifecycle::Life,
    actor: &crate::lifecycle::Actor,
    reason: Option<&str>,
    at: Timestamp,
) -> serde_json::Value {
    serde_json::json!({
        "type": event.as_str(),
        "timestamp": rfc3339(at),
        "data": {
            "appointment_id": appointment_id,
            "lead_id": lead_id,
            "workspace_id": workspace_id,
            "status": to.status,
            "previous_status": from.status,
            "appointment_date": rfc3339(to.start),
            "end_time": to.end.map(rfc3339),
            "previous_appointment_date": rfc3339(from.start),
            "reschedule_count": to.reschedule_count,
            "cancellation_reason": to.cancellation_reason,
            "outcome": to.outcome,
            "actor": actor.as_str(),
            "reason": reason,
        }
    })
}

/// Who the appointment is with, as the payload shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// E.164 phone.
    pub phone_e164: Option<String>,
    /// Normalized email.
    pub email: Option<String>,
}

/// The payload for a routed appointment, or `None` when it is unrouted.
pub fn build(
    appointment_id: AppointmentId,
    appointment: &NewAppointment,
    contact: &Customer,
) -> Option<AppointmentPayload> {
    let Assignment::Routed {
        workspace_id,
        method,
        matched_at,
        ..
    } = &appointment.assignment
    else {
        return None;
    };
    let name = [contact.first_name.as_deref(), contact.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Some(AppointmentPayload {
        appointment_id,
        customer_name: name,
        customer_phone: contact.phone_e164.clone(),
        customer_email: contact.email.clone(),
        service_type: appointment.service_type.clone(),
        customer_zip: appointment.zip_code.clone(),
        appointment_date: rfc3339(appointment.appointment_date),
        estimated_value: appointment.estimated_value,
        notes: appointment.notes.clone(),
        routing_method: method.as_str().to_string(),
        matched_at: rfc3339(*matched_at),
        workspace_id: workspace_id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Cents, ContactId, LeadId, RoutingMethod};

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("test timestamp")
    }

    #[test]
    fn seed_fields_in_seed_shape() {
        let appt = NewAppointment {
            lead_id: LeadId(1),
            contact_id: ContactId(1),
            service_type: "Solar".into(),
            zip_code: "46262".into(),
            appointment_date: ts("2026-11-24T13:00:00Z"),
            estimated_value: Some(25000.0),
            notes: None,
            assignment: Assignment::Routed {
                workspace_id: "solar_in_004".into(),
                rule_id: Some(3),
                method: RoutingMethod::Auto,
                matched_at: ts("2026-11-21T04:00:00.5Z"),
                payment_rate: Cents(20000),
            },
            details: Default::default(),
            created_at: ts("2026-11-21T04:00:00Z"),
        };
        let contact = Customer {
            phone_e164: Some("+13178638426".into()),
            email: Some("jmonroe@example.net".into()),
            first_name: Some("Stephanie".into()),
            last_name: Some("House".into()),
        };
        let p = build(AppointmentId(7), &appt, &contact).unwrap();
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "appointment_id": 7, "customer_name": "Stephanie House",
                "customer_phone": "+13178638426", "customer_email": "jmonroe@example.net",
                "service_type": "Solar", "customer_zip": "46262",
                "appointment_date": "2026-11-24T13:00:00Z", "estimated_value": 25000.0,
                "notes": null, "routing_method": "auto",
                "matched_at": "2026-11-21T04:00:00.5Z", "workspace_id": "solar_in_004"
            })
        );
        // Shaping: rename, omit, constants, envelope.
        let options = crate::model::DeliveryOptions {
            rename: [("customer_phone".to_string(), "phone".to_string())].into(),
            omit: vec!["notes".into(), "estimated_value".into()],
            constants: serde_json::json!({"source": "leadroute", "workspace_id": "override"})
                .as_object()
                .cloned()
                .unwrap(),
            envelope: false,
            additional_secrets: vec![],
            events: None,
        };
        let shaped = shape(&p, &options, ts("2026-11-21T04:00:00Z"));
        assert_eq!(shaped["phone"], "+13178638426");
        assert!(shaped.get("customer_phone").is_none());
        assert!(shaped.get("notes").is_none() && shaped.get("estimated_value").is_none());
        assert_eq!(shaped["source"], "leadroute");
        assert_eq!(shaped["workspace_id"], "override", "constants win");
        let wrapped = shape(
            &p,
            &crate::model::DeliveryOptions {
                envelope: true,
                ..Default::default()
            },
            ts("2026-11-21T04:00:00Z"),
        );
        assert_eq!(wrapped["type"], "appointment.created");
        assert_eq!(wrapped["timestamp"], "2026-11-21T04:00:00Z");
        assert_eq!(wrapped["data"], v);
        let mut unrouted = appt.clone();
        unrouted.assignment = Assignment::Unrouted {
            reason: crate::status::UnroutedReason::NoRuleForZip,
        };
        assert!(build(AppointmentId(7), &unrouted, &contact).is_none());
    }
}
