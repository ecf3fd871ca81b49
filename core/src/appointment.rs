//! Appointments: a lead with a scheduled time becomes an appointment.
//!
//! An appointment is what is routed, delivered and billed. A lead without an appointment time
//! stays a lead (status `new`), waiting to be scheduled; it is not routed.

use crate::model::{Assignment, ContactId, LeadId, NewAppointment};
use crate::validate::ValidLead;
use time::OffsetDateTime;

/// The appointment for a lead, or `None` when the lead carries no appointment time.
pub fn from_lead(
    lead_id: LeadId,
    contact_id: ContactId,
    lead: &ValidLead,
    assignment: Assignment,
    now: OffsetDateTime,
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
        created_at: now,
    })
}
