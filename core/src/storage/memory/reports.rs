//! [`Reports`](crate::storage::Reports): whole-store counts, billing summaries, provider usage.

use super::events::summarize;
use super::*;

impl Reports for MemTx {
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
        let pending = self.read(|s| {
            s.returns
                .iter()
                .filter(|r| {
                    r.ret.status == ReturnStatus::Pending
                        && r.ret.requested_at >= from
                        && r.ret.requested_at < to
                })
                .map(|r| (r.ret.workspace_id.clone(), r.ret.credit))
                .collect::<Vec<_>>()
        })?;
        Ok(summarize(
            self.billing_rows()?
                .into_iter()
                .filter(|e| e.created_at >= from && e.created_at < to),
            pending,
        ))
    }
    fn provider_usage(&self, provider_id: &str) -> Result<Vec<ProviderUsage>, StorageError> {
        self.read(|s| {
            let mut rows: Vec<ProviderUsage> = s
                .usage
                .values()
                .filter(|u| u.provider_id == provider_id)
                .cloned()
                .collect();
            rows.sort_by(|a, b| (&a.day, &a.webhook_id).cmp(&(&b.day, &b.webhook_id)));
            rows
        })
    }
    fn provider_totals(&self, provider_id: &str) -> Result<(u64, Option<Timestamp>), StorageError> {
        self.read(|s| {
            s.usage
                .values()
                .filter(|u| u.provider_id == provider_id)
                .fold((0, None), |(n, last), u| {
                    (n + u.total_leads, last.max(u.last_lead_at))
                })
        })
    }
    fn counts(&self) -> Result<StoreCounts, StorageError> {
        self.read(|s| {
            let routed = s
                .appointments
                .iter()
                .filter(|a| matches!(a.appointment.assignment, Assignment::Routed { .. }))
                .count() as u64;
            let status = |st| s.deliveries.iter().filter(|d| d.status == st).count() as u64;
            StoreCounts {
                contacts: s.contacts.len() as u64,
                leads: s.leads.len() as u64,
                rejections: s.rejections.len() as u64,
                appointments: s.appointments.len() as u64,
                appointments_routed: routed,
                appointments_unrouted: s.appointments.len() as u64 - routed,
                deliveries: s.deliveries.len() as u64,
                deliveries_succeeded: status(ForwardStatus::Success),
                deliveries_failed: status(ForwardStatus::Failed),
                attempts: s.attempts.len() as u64,
                billing_events: s.billing.len() as u64,
                billed: Cents(s.billing.iter().map(|b| b.amount.0).sum()),
            }
        })
    }
}
