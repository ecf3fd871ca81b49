//! Reads: the endpoint's health, billing summary, whole-store counts, provider usage and
//! totals, audit events and lead status history. Each runs in its own short transaction.

use super::Engine;
use crate::model::*;
use crate::storage::with_tx;
use crate::Result;
use time::OffsetDateTime;

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
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<BillingSummaryRow>> {
        with_tx(&*self.store, |tx| Ok(tx.billing_summary(from, to)?))
    }

    /// Whole-store counts.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn counts(&self) -> Result<StoreCounts> {
        with_tx(&*self.store, |tx| Ok(tx.counts()?))
    }

    /// A provider's intake per (inbound webhook, UTC day) (`provider_usage_log`), ordered by
    /// day, then webhook (`""` for records ingested directly).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn provider_usage(&self, provider_id: &str) -> Result<Vec<ProviderUsage>> {
        with_tx(&*self.store, |tx| Ok(tx.provider_usage(provider_id)?))
    }

    /// A provider's `total_leads` (records stored, leads and rejections) and `last_lead_at`
    /// (UTC).
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn provider_totals(&self, provider_id: &str) -> Result<(u64, Option<OffsetDateTime>)> {
        with_tx(&*self.store, |tx| Ok(tx.provider_totals(provider_id)?))
    }

    /// The audit trail of one subject (`lead_events` of a lead or of a stored rejection,
    /// `contact_events`, `appointment_events`), oldest first.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn events(&self, subject: EventSubject, id: i64) -> Result<Vec<NewEvent>> {
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
