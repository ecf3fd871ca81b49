//! Reprocessing stored rejections through today's configuration.
//!
//! A record rejected because its provider was not set up yet (an unknown product, a lead
//! type not allowed, a field map that missed the phone) is stored with its raw payload.
//! Once the configuration is fixed, [`Engine::reprocess_rejections`] runs the stored
//! payloads through the same pure steps and write as a new record: an accepted one frees the
//! rejection's record key and becomes a lead (routed and queued like any other) in one
//! transaction; one still rejected stays as it is, noted as reprocessed.

use super::{prepare, prepare::Prepared, write, Batch};
use crate::engine::audit::Audit;
use crate::engine::{Engine, Outcome};
use crate::intake::RawRecord;
use crate::model::*;
use crate::storage::with_tx;
use crate::Result;
use serde::Serialize;
use std::collections::BTreeMap;

/// What reprocessing did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReprocessReport {
    /// Rejections that matched the filter and were run again.
    pub examined: u64,
    /// The leads they became, in rejection id order.
    pub accepted: Vec<(RejectionId, LeadId)>,
    /// How many are still rejected, by their first reason code now.
    pub still_rejected: BTreeMap<String, u64>,
    /// Rejections that cannot be run again: their provider is gone, or a CSV row was stored
    /// without its header (before rejections kept it).
    pub unreplayable: u64,
}

/// The record a rejection stored ([`RawRecord::stored_payload`]): JSON and form text as
/// is; CSV as its header and row, read back into one record. `None` when a CSV payload is
/// not exactly one record with a header.
fn stored_record(format: RecordFormat, payload: &str) -> Option<RawRecord> {
    match format {
        RecordFormat::Json => Some(RawRecord::Json(payload.to_string())),
        RecordFormat::Form => Some(RawRecord::Form(payload.to_string())),
        RecordFormat::Csv => {
            let mut split = crate::intake::split(RecordFormat::Csv, payload).ok()?;
            (split.records.len() == 1).then(|| split.records.remove(0))
        }
    }
}

impl Engine {
    /// Re-runs the stored rejections matching `filter` (reason, provider, time) through
    /// today's configuration, `batch` per transaction. Accepted records become leads (and
    /// appointments, routed and queued); the rest stay rejected. Each rejection is
    /// reprocessed at most once into a lead; running it again finds only those still
    /// rejected.
    ///
    /// # Errors
    ///
    /// Storage errors (the current batch is rolled back; earlier batches stay).
    pub fn reprocess_rejections(
        &self,
        filter: &RejectionFilter,
        batch: usize,
    ) -> Result<ReprocessReport> {
        let snap = self.snapshot();
        let mut report = ReprocessReport::default();
        let mut after = RejectionId(0);
        loop {
            let page = with_tx(&*self.store, |tx| {
                Ok(tx.rejections(filter, after, batch.max(1))?)
            })?;
            let Some(last) = page.last() else {
                return Ok(report);
            };
            after = last.id;
            let at = self.now();
            let part = with_tx(&*self.store, |tx| {
                let mut part = ReprocessReport::default();
                for r in &page {
                    part.examined += 1;
                    let Some((provider, map)) = snap.providers.get(&r.rejection.provider_id) else {
                        part.unreplayable += 1;
                        continue;
                    };
                    let Some(raw) = stored_record(provider.format, &r.rejection.raw_payload) else {
                        part.unreplayable += 1;
                        continue;
                    };
                    let records = [raw];
                    let b = Batch {
                        provider,
                        map,
                        webhook_id: None,
                        lead_types: &provider.lead_types,
                        records: &records,
                    };
                    let prepared = prepare::prepare(self, &snap, &b, &records[0]);
                    let step = self.step(tx, &snap, at);
                    let lead_id = match &prepared {
                        Prepared::Accept { .. } => {
                            tx.release_rejection(r.id)?;
                            match write::record(step, b.source(), &prepared, &records[0])?.outcome {
                                Outcome::Accepted(a) => Some(a.lead_id),
                                _ => None,
                            }
                        }
                        Prepared::Reject { .. } => None,
                    };
                    tx.mark_rejection_reprocessed(r.id, lead_id, at)?;
                    let codes: Vec<&str> = match &prepared {
                        Prepared::Reject { reasons, .. } => {
                            reasons.iter().map(|x| x.code.as_str()).collect()
                        }
                        Prepared::Accept { .. } => Vec::new(),
                    };
                    let audit = Audit::Reprocessed {
                        rejection_id: r.id,
                        lead_id,
                        reason_codes: codes.clone(),
                    };
                    tx.append_event(&audit.on(EventSubject::Rejection, r.id, at))?;
                    match lead_id {
                        Some(l) => part.accepted.push((r.id, l)),
                        None => {
                            let first = codes.first().copied().unwrap_or("replayed");
                            *part.still_rejected.entry(first.to_string()).or_default() += 1;
                        }
                    }
                }
                Ok(part)
            })?;
            report.examined += part.examined;
            report.accepted.extend(part.accepted);
            report.unreplayable += part.unreplayable;
            for (k, v) in part.still_rejected {
                *report.still_rejected.entry(k).or_default() += v;
            }
        }
    }
}
