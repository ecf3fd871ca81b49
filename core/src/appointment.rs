//! Appointments: a lead with a scheduled time becomes an appointment.
//!
//! An appointment is what is routed, delivered and billed. A lead without an appointment time
//! stays a lead (status `new`), waiting to be scheduled; it is not routed.

use crate::model::{AppointmentDetails, Assignment, ContactId, LeadId, NewAppointment};
use crate::validate::ValidLead;
use jiff::Timestamp;

/// The appointment for a lead, or `None` when the lead carries no appointment time.
pub fn from_lead(
    lead_id: LeadId,
    contact_id: ContactId,
    lead: &ValidLead,
    assignment: Assignment,
    now: Timestamp,
) -> Option<NewAppointment> {
    Some(NewAppointment {
        lead_id,
        contact_id,
        service_type: lead.product_name.clone(),
        zip_code: lead.zip.to_string(),
        appointment_date: lead.appointment_date?,
        estimated_value: lead.estimated_value,
        notes: lead.notes.clone(),
        assignment,
        details: Default::default(),
        created_at: now,
    })
}

/// The seed details a provider sent with the record, among its unmapped fields (`custom`):
/// `end_time` (RFC 3339, UTC), `duration_minutes` (whole minutes, a number or digits),
/// `appointment_type`, `location_type`, `location_address`, `customer_notes`, `next_action`
/// (text) and `next_action_date` (`YYYY-MM-DD`). A value of the wrong shape is left out,
/// never an error: the record is already valid without it; so is an end before `start`.
/// Without an end, the duration gives it.
pub fn details_from_fields(custom: &serde_json::Value, start: Timestamp) -> AppointmentDetails {
    let text = |k: &str| {
        custom
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let duration_minutes = custom.get("duration_minutes").and_then(|v| match v {
        serde_json::Value::Number(n) => n.as_u64().and_then(|m| u32::try_from(m).ok()),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    let end_time = text("end_time")
        .and_then(|s| crate::rfc3339::parse(&s).ok())
        .filter(|e| *e >= start)
        .or_else(|| {
            duration_minutes.map(|m| start + jiff::SignedDuration::from_mins(i64::from(m)))
        });
    AppointmentDetails {
        end_time,
        duration_minutes,
        appointment_type: text("appointment_type"),
        location_type: text("location_type"),
        location_address: text("location_address"),
        customer_notes: text("customer_notes"),
        next_action: text("next_action"),
        next_action_date: text("next_action_date").and_then(|s| s.parse().ok()),
        cal_booking_uid: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ProductId;
    use crate::phone::normalize;
    use crate::zip::Zip5;
    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().expect("test timestamp")
    }

    fn lead(at: Option<Timestamp>) -> ValidLead {
        ValidLead {
            phone: Some(normalize("317 863 8426", "US").unwrap()),
            email: None,
            zip: Zip5::parse("46262").unwrap(),
            product: ProductId(0),
            product_name: "Solar".into(),
            appointment_date: at,
            first_name: None,
            last_name: None,
            estimated_value: Some(25_000.0),
            tcpa_consent: Some(true),
            external_id: None,
            notes: Some("gate code 12".into()),
            warnings: vec![],
        }
    }

    #[test]
    fn only_leads_with_a_time_become_appointments() {
        let now = ts("2026-11-21T05:00:00Z");
        let unrouted = Assignment::Unrouted {
            reason: crate::status::UnroutedReason::NoRuleForZip,
        };
        assert_eq!(
            from_lead(LeadId(1), ContactId(2), &lead(None), unrouted.clone(), now),
            None
        );
        let at = ts("2026-11-24T13:00:00Z");
        let a = from_lead(
            LeadId(1),
            ContactId(2),
            &lead(Some(at)),
            unrouted.clone(),
            now,
        )
        .unwrap();
        assert_eq!(
            (a.lead_id, a.contact_id, a.appointment_date),
            (LeadId(1), ContactId(2), at)
        );
        assert_eq!(
            (a.service_type.as_str(), a.zip_code.as_str()),
            ("Solar", "46262")
        );
        assert_eq!(a.notes.as_deref(), Some("gate code 12"));
        assert_eq!((a.assignment, a.created_at), (unrouted, now));
    }

    #[test]
    fn seed_details_come_from_the_unmapped_fields() {
        let start = ts("2026-11-24T13:00:00Z");
        let custom = serde_json::json!({
            "duration_minutes": "90", "appointment_type": "consultation",
            "location_type": "in_person", "location_address": "1 Main St",
            "customer_notes": " gate code 12 ", "next_action": "send_quote",
            "next_action_date": "2026-11-26", "roof_age": 20
        });
        let d = details_from_fields(&custom, start);
        assert_eq!(d.duration_minutes, Some(90));
        assert_eq!(
            d.end_time,
            Some(ts("2026-11-24T14:30:00Z")),
            "the end from the duration"
        );
        assert_eq!(d.appointment_type.as_deref(), Some("consultation"));
        assert_eq!(d.customer_notes.as_deref(), Some("gate code 12"));
        assert_eq!(d.next_action_date, Some(jiff::civil::date(2026, 11, 26)));
        let explicit =
            serde_json::json!({"end_time": "2026-11-24T13:45:00Z", "duration_minutes": 90});
        assert_eq!(
            details_from_fields(&explicit, start).end_time,
            Some(ts("2026-11-24T13:45:00Z"))
        );
        let bad = serde_json::json!({"end_time": "2026-11-24T12:00:00Z", "duration_minutes": "soon",
            "next_action_date": "next week", "appointment_type": 7});
        assert_eq!(
            details_from_fields(&bad, start),
            AppointmentDetails::default()
        );
        assert_eq!(
            details_from_fields(&serde_json::Value::Null, start),
            AppointmentDetails::default()
        );
    }
}
