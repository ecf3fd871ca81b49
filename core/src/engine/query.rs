//! Reads for callers of the engine (the Python bindings, services, reports): single records
//! by id, the unrouted queue, what the configuration snapshot says about a provider, the
//! endpoint's health, billing summary, whole-store counts, provider usage and totals, audit
//! events and lead status history.
//!
//! Each read runs in its own transaction; none writes. Times in the returned records are UTC.

use super::Engine;
use crate::model::*;
use crate::storage::with_tx;
use crate::Result;
use jiff::Timestamp;

impl Engine {
    /// The health of a workspace's webhook endpoint.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn endpoint_health(&self, workspace_id: &str) -> Result<EndpointHealth> {
        with_tx(&*self.store, |tx| Ok(tx.endpoint_health(workspace_id)?))
    }

    /// Charges, credits and net per workspace for billing events with
    /// `from <= created_at < to` (UTC).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn billing_summary(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<BillingSummaryRow>> {
        with_tx(&*self.store, |tx| {
            Ok(tx.reports().billing_summary(from, to)?)
        })
    }

    /// Whole-store counts.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn counts(&self) -> Result<StoreCounts> {
        with_tx(&*self.store, |tx| Ok(tx.reports().counts()?))
    }

    /// A provider's intake per (inbound webhook, UTC day) (`provider_usage_log`), ordered by
    /// day, then webhook (`""` for records ingested directly).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn provider_usage(&self, provider_id: &str) -> Result<Vec<ProviderUsage>> {
        with_tx(&*self.store, |tx| {
            Ok(tx.reports().provider_usage(provider_id)?)
        })
    }

    /// A provider's `total_leads` (records stored, leads and rejections) and `last_lead_at`
    /// (UTC).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn provider_totals(&self, provider_id: &str) -> Result<(u64, Option<Timestamp>)> {
        with_tx(&*self.store, |tx| {
            Ok(tx.reports().provider_totals(provider_id)?)
        })
    }

    /// The audit trail of one subject (`lead_events` of a lead or of a stored rejection,
    /// `contact_events`, `appointment_events`), oldest first. `id` is the subject's row id:
    /// a [`ContactId`], [`LeadId`], [`AppointmentId`] or [`RejectionId`] (or its `i64`).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn events(&self, subject: EventSubject, id: impl Into<i64>) -> Result<Vec<NewEvent>> {
        let id = id.into();
        with_tx(&*self.store, |tx| Ok(tx.events(subject, id)?))
    }

    /// A lead's status changes (`lead_status_history`), oldest first: `new`, then
    /// `duplicate`, `routed` or `unrouted`, then `delivered`, `delivery_failed` or
    /// `returned`.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn lead_status_history(&self, lead_id: LeadId) -> Result<Vec<LeadStatusChange>> {
        with_tx(&*self.store, |tx| Ok(tx.lead_status_history(lead_id)?))
    }
}

impl Engine {
    /// The lead with this id, with everything stored for it (normalized fields, raw payload,
    /// `received_at` in UTC), or `None` when there is none.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn lead(&self, id: LeadId) -> Result<Option<Lead>> {
        with_tx(&*self.store, |tx| Ok(tx.lead(id)?))
    }

    /// The contact with this id (its current fields; `created_at` in UTC), or `None` when
    /// there is none.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn contact(&self, id: ContactId) -> Result<Option<Contact>> {
        with_tx(&*self.store, |tx| Ok(tx.contact(id)?))
    }

    /// The appointment with this id, with its routing outcome and delivery state (times in
    /// UTC), or `None` when there is none.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn appointment(&self, id: AppointmentId) -> Result<Option<Appointment>> {
        with_tx(&*self.store, |tx| Ok(tx.appointment(id)?))
    }

    /// The deliveries of an appointment (its own, then its lifecycle events), by sequence.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn deliveries(&self, appointment_id: AppointmentId) -> Result<Vec<Delivery>> {
        with_tx(&*self.store, |tx| {
            Ok(tx.deliveries_for_appointment(appointment_id)?)
        })
    }

    /// The unrouted queue, oldest first: up to `limit` unrouted appointments with an id above
    /// `after` (page with the last id seen; `0` starts at the beginning). Times in UTC.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn unrouted(&self, after: AppointmentId, limit: usize) -> Result<Vec<Appointment>> {
        with_tx(&*self.store, |tx| {
            Ok(tx.unrouted_appointments(after, limit)?)
        })
    }

    /// The format a provider posts its records in, as the current configuration snapshot
    /// has it, or `None` for a provider that is not configured. Reads no store.
    pub fn record_format(&self, provider_id: &str) -> Option<RecordFormat> {
        self.snapshot()
            .providers
            .get(provider_id)
            .map(|(p, _)| p.format)
    }
}

#[cfg(test)]
mod tests {
    use crate::intake::RawRecord;
    use crate::model::{
        AppointmentId, Cents, ContactId, LeadId, Provider, RecordFormat, Workspace,
    };
    use crate::routing::RoutingRule;
    use crate::storage::MemoryStore;
    use crate::{Engine, EngineConfig};
    use std::sync::Arc;

    fn engine() -> Engine {
        let e = Engine::new(Arc::new(MemoryStore::new()), EngineConfig::default()).unwrap();
        e.configure(
            &[Provider::new("p")],
            &[Workspace::new("w", "http://127.0.0.1:9/", Cents(2500))],
            &[RoutingRule::new(1, "w", &["Solar"], &["46262"], 1)],
        )
        .unwrap();
        e
    }

    fn ingest(e: &Engine, zip: &str, phone: &str) {
        let record = format!(
            r#"{{"phone": "{phone}", "zip_code": "{zip}", "product_type": "Solar",
                 "appointment_date": "2026-11-24T13:00:00Z"}}"#
        );
        e.ingest("p", &RawRecord::Json(record)).unwrap();
    }

    #[test]
    fn reads_records_by_id_and_the_unrouted_queue() {
        let e = engine();
        ingest(&e, "46262", "317-863-8426");
        ingest(&e, "10001", "317-863-8427");
        ingest(&e, "10002", "317-863-8428");
        let lead = e.lead(LeadId(1)).unwrap().unwrap();
        assert_eq!(lead.lead.zip_code, "46262");
        let contact = e.contact(lead.lead.contact_id).unwrap().unwrap();
        assert_eq!(contact.contact.phone_e164.as_deref(), Some("+13178638426"));
        assert_eq!(
            e.appointment(AppointmentId(1))
                .unwrap()
                .unwrap()
                .appointment
                .lead_id,
            LeadId(1)
        );
        assert!(
            e.lead(LeadId(99)).unwrap().is_none()
                && e.appointment(AppointmentId(99)).unwrap().is_none()
        );
        assert!(e.contact(ContactId(99)).unwrap().is_none());
        let queue: Vec<AppointmentId> = e
            .unrouted(AppointmentId(0), 10)
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(queue, [AppointmentId(2), AppointmentId(3)]);
        let page: Vec<AppointmentId> = e
            .unrouted(AppointmentId(2), 10)
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(page, [AppointmentId(3)]);
        assert_eq!(e.unrouted(AppointmentId(0), 1).unwrap().len(), 1);
        assert_eq!(e.record_format("p"), Some(RecordFormat::Json));
        assert_eq!(e.record_format("nobody"), None);
    }

    #[test]
    fn records_serialize_flat_with_rfc3339_times() {
        let e = engine();
        ingest(&e, "46262", "317-863-8426");
        ingest(&e, "10001", "317-863-8427");
        let lead = serde_json::to_value(e.lead(LeadId(1)).unwrap().unwrap()).unwrap();
        assert_eq!(lead["id"], 1);
        assert_eq!(lead["zip_code"], "46262");
        assert_eq!(lead["appointment_date"], "2026-11-24T13:00:00Z");
        assert!(lead["received_at"].as_str().unwrap().ends_with('Z'));
        let contact = serde_json::to_value(e.contact(ContactId(1)).unwrap().unwrap()).unwrap();
        assert_eq!(contact["phone"], "+13178638426");
        let routed =
            serde_json::to_value(e.appointment(AppointmentId(1)).unwrap().unwrap()).unwrap();
        assert_eq!(routed["routing_status"], "routed");
        assert_eq!(routed["status"], "scheduled", "the lifecycle status");
        assert_eq!(routed["reschedule_count"], 0);
        assert_eq!(routed["workspace_id"], "w");
        assert_eq!(routed["routing_method"], "auto");
        assert_eq!(routed["payment_rate_cents"], 2500);
        assert_eq!(routed["forward_status"], "pending");
        let unrouted = serde_json::to_value(&e.unrouted(AppointmentId(0), 1).unwrap()[0]).unwrap();
        assert_eq!(unrouted["routing_status"], "unrouted");
        assert_eq!(unrouted["unrouted_reason"], "no_rule_for_zip");
        assert!(unrouted.get("workspace_id").is_none());
        // The shapes read back.
        let back: crate::model::Appointment = serde_json::from_value(routed).unwrap();
        assert_eq!(back, e.appointment(AppointmentId(1)).unwrap().unwrap());
        let back: crate::model::Lead = serde_json::from_value(lead).unwrap();
        assert_eq!(back, e.lead(LeadId(1)).unwrap().unwrap());
    }
}
