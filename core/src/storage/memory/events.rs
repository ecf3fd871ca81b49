//! Billing events and audit events.

use super::*;

impl BillingRepo for MemTx {
    fn insert_billing_event(
        &self,
        e: &NewBillingEvent,
    ) -> Result<Option<BillingEventId>, StorageError> {
        let key = (e.appointment_id, e.workspace_id.clone(), e.kind.as_str());
        if self.read(|s| s.billing_keys.contains_key(&key))? {
            return Ok(None);
        }
        self.write(|s| {
            if e.appointment_id.0 < 1 || e.appointment_id.0 as usize > s.appointments.len() {
                return Err(conflict(format!(
                    "appointment {} does not exist",
                    e.appointment_id
                )));
            }
            let id = next_id(s.billing.len());
            s.billing.push(e.clone());
            s.billing_keys.insert(key.clone(), id);
            Ok((
                Some(id),
                Box::new(move |s: &mut State| {
                    s.billing.pop();
                    s.billing_keys.remove(&key);
                }),
            ))
        })
    }
    fn billing_event(
        &self,
        appointment_id: AppointmentId,
        workspace_id: &str,
        kind: BillingKind,
    ) -> Result<Option<NewBillingEvent>, StorageError> {
        self.read(|s| {
            s.billing_keys
                .get(&(appointment_id, workspace_id.to_string(), kind.as_str()))
                .map(|&id| s.billing[(id.0 - 1) as usize].clone())
        })
    }
    fn billing_events_for(
        &self,
        appointment_id: AppointmentId,
    ) -> Result<Vec<NewBillingEvent>, StorageError> {
        self.read(|s| {
            s.billing
                .iter()
                .filter(|b| b.appointment_id == appointment_id)
                .cloned()
                .collect()
        })
    }
}

impl MemTx {
    pub(super) fn billing_rows(&self) -> Result<Vec<NewBillingEvent>, StorageError> {
        self.read(|s| s.billing.clone())
    }
}

/// Folds billing events and pending returns (workspace, credit) into per-workspace summary
/// rows, ordered by workspace id.
pub(super) fn summarize(
    events: impl Iterator<Item = NewBillingEvent>,
    pending: Vec<(String, Cents)>,
) -> Vec<BillingSummaryRow> {
    let mut m: BTreeMap<String, BillingSummaryRow> = BTreeMap::new();
    for (w, credit) in pending {
        let row = m.entry(w.clone()).or_insert_with(|| BillingSummaryRow {
            workspace_id: w,
            ..BillingSummaryRow::default()
        });
        row.pending_returns += 1;
        row.pending_return.0 += credit.0;
    }
    for e in events {
        let row = m
            .entry(e.workspace_id.clone())
            .or_insert_with(|| BillingSummaryRow {
                workspace_id: e.workspace_id.clone(),
                ..BillingSummaryRow::default()
            });
        match e.kind {
            BillingKind::Charge => {
                row.charges += 1;
                row.charged.0 += e.amount.0;
            }
            BillingKind::Credit => {
                row.credits += 1;
                row.credited.0 += e.amount.0;
            }
        }
        row.net.0 += e.amount.0;
    }
    m.into_values().collect()
}

impl EventRepo for MemTx {
    fn append_event(&self, event: &NewEvent) -> Result<(), StorageError> {
        self.write(|s| {
            s.events.push(event.clone());
            Ok((
                (),
                Box::new(|s: &mut State| {
                    s.events.pop();
                }),
            ))
        })
    }
    fn events(
        &self,
        subject: EventSubject,
        subject_id: i64,
    ) -> Result<Vec<NewEvent>, StorageError> {
        self.read(|s| {
            s.events
                .iter()
                .filter(|e| e.subject == subject && e.subject_id == subject_id)
                .cloned()
                .collect()
        })
    }
}
