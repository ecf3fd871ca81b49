//! [`Reports`]: whole-store counts, billing summaries, provider usage and totals, contact
//! timelines.

use super::*;

impl Reports for SqlTx<'_> {
    fn contact_timelines(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ContactTimeline>, StorageError> {
        self.timelines(from, to)
    }
    fn billing_summary(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<BillingSummaryRow>, StorageError> {
        // Billing events and pending returns of the range, one row per workspace that has
        // either: the two sources side by side (UNION ALL), then summed per workspace.
        self.all(
            "SELECT workspace_id, SUM(charges), SUM(charged), SUM(credits), SUM(credited), \
             SUM(net), SUM(pending), SUM(pending_cents) FROM ( \
               SELECT workspace_id, kind = 'charge' AS charges, \
                 CASE WHEN kind = 'charge' THEN amount_cents ELSE 0 END AS charged, \
                 kind = 'credit' AS credits, \
                 CASE WHEN kind = 'credit' THEN amount_cents ELSE 0 END AS credited, \
                 amount_cents AS net, 0 AS pending, 0 AS pending_cents \
               FROM billing_events WHERE created_at >= ?1 AND created_at < ?2 \
               UNION ALL \
               SELECT workspace_id, 0, 0, 0, 0, 0, 1, credit_cents \
               FROM appointment_returns \
               WHERE status = 'pending' AND requested_at >= ?1 AND requested_at < ?2) \
             GROUP BY workspace_id ORDER BY workspace_id",
            params![ts(from)?, ts(to)?],
            |r| {
                let c = Cols::new(r, "billing_events");
                Ok(BillingSummaryRow {
                    workspace_id: c.get(0)?,
                    charges: c.count(1)?,
                    charged: Cents(c.get(2)?),
                    credits: c.count(3)?,
                    credited: Cents(c.get(4)?),
                    net: Cents(c.get(5)?),
                    pending_returns: c.count(6)?,
                    pending_return: Cents(c.get(7)?),
                })
            },
        )
    }
    fn provider_usage(&self, provider_id: &str) -> Result<Vec<ProviderUsage>, StorageError> {
        // The UNIQUE index (provider_id, day, webhook_id) gives the order: no sort.
        self.all(
            "SELECT provider_id, webhook_id, day, requests, refused, total_leads, accepted, \
             rejected, last_lead_at FROM provider_usage_log WHERE provider_id = ?1 \
             ORDER BY day, webhook_id",
            [provider_id],
            |r| {
                let c = Cols::new(r, "provider_usage_log");
                let webhook_id: String = c.get(1)?;
                Ok(ProviderUsage {
                    provider_id: c.get(0)?,
                    webhook_id: Some(webhook_id).filter(|w| !w.is_empty()),
                    day: c.day(2)?,
                    requests: c.count(3)?,
                    refused: c.count(4)?,
                    total_leads: c.count(5)?,
                    accepted: c.count(6)?,
                    rejected: c.count(7)?,
                    last_lead_at: c.time_opt(8)?,
                })
            },
        )
    }
    fn provider_totals(&self, provider_id: &str) -> Result<(u64, Option<Timestamp>), StorageError> {
        // Summed over the usage rows rather than read from lead_source_providers, so that
        // usage counted before (or without) the provider row is included, as in the in-memory
        // store; add_usage keeps the provider's columns equal to these sums.
        let found = self.one(
            "SELECT COALESCE(SUM(total_leads), 0), MAX(last_lead_at) \
             FROM provider_usage_log WHERE provider_id = ?1",
            [provider_id],
            |r| {
                let c = Cols::new(r, "provider_usage_log");
                Ok((c.count(0)?, c.time_opt(1)?))
            },
        )?;
        Ok(found.unwrap_or((0, None)))
    }
    fn counts(&self) -> Result<StoreCounts, StorageError> {
        let counts = self.one(
            "SELECT (SELECT COUNT(*) FROM contacts), \
                    (SELECT COUNT(*) FROM leads), \
                    (SELECT COUNT(*) FROM lead_rejections), \
                    (SELECT COUNT(*) FROM appointments), \
                    (SELECT COUNT(*) FROM appointments WHERE status = 'routed'), \
                    (SELECT COUNT(*) FROM appointments WHERE status = 'unrouted'), \
                    (SELECT COUNT(*) FROM deliveries), \
                    (SELECT COUNT(*) FROM deliveries WHERE status = 'success'), \
                    (SELECT COUNT(*) FROM deliveries WHERE status = 'failed'), \
                    (SELECT COUNT(*) FROM delivery_attempts), \
                    (SELECT COUNT(*) FROM billing_events), \
                    (SELECT COALESCE(SUM(amount_cents), 0) FROM billing_events)",
            [],
            |r| {
                let c = Cols::new(r, "counts");
                Ok(StoreCounts {
                    contacts: c.count(0)?,
                    leads: c.count(1)?,
                    rejections: c.count(2)?,
                    appointments: c.count(3)?,
                    appointments_routed: c.count(4)?,
                    appointments_unrouted: c.count(5)?,
                    deliveries: c.count(6)?,
                    deliveries_succeeded: c.count(7)?,
                    deliveries_failed: c.count(8)?,
                    attempts: c.count(9)?,
                    billing_events: c.count(10)?,
                    billed: Cents(c.get(11)?),
                })
            },
        )?;
        counts.ok_or_else(|| StorageError::backend("counts: the query returned no row"))
    }
}
