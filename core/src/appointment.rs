//! Appointments: a lead with a scheduled time becomes an appointment.
//!
//! An appointment is what is routed, delivered and billed. A lead without an appointment time
//! stays a lead (status `new`), waiting to be scheduled; it is not routed.

use crate::model::{Assignment, ContactId, LeadId, NewAppointment};
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
}
