//! Intake: a provider's records, trusted or through the intake wall, become stored
//! outcomes in one transaction per batch (see the engine's module docs).

mod prepare;
mod reprocess;
mod write;

pub use reprocess::ReprocessReport;

use super::{wall, Engine, InboundRequest, IngestOutcome, Outcome, Snapshot, PIPELINE_MIN_RECORDS};
use crate::intake::{self, FieldMap, IntakeError, RawRecord};
use crate::model::{Provider, ProviderUsage};
use crate::storage::{with_tx, Tx};
use crate::{Error, Result};
use jiff::Timestamp;
use prepare::Prepared;

/// One provider's records on their way in, with what the wall decided about them.
pub(super) struct Batch<'a> {
    pub(super) provider: &'a Provider,
    pub(super) map: &'a FieldMap,
    /// The inbound webhook they came through (dedup scope and usage row).
    pub(super) webhook_id: Option<&'a str>,
    /// Lead types the records may have (empty: any).
    pub(super) lead_types: &'a [String],
    pub(super) records: &'a [RawRecord],
}

impl<'a> Batch<'a> {
    /// Where the batch's records come from.
    fn source(&self) -> write::Source<'a> {
        write::Source {
            provider: self.provider,
            webhook_id: self.webhook_id,
        }
    }
}

/// The `provider_usage_log` delta of one stored batch: one request, and its newly stored
/// records (replays are not counted again).
fn usage_of(batch: &Batch<'_>, outcomes: &[IngestOutcome], at: Timestamp) -> ProviderUsage {
    let (mut accepted, mut rejected) = (0, 0);
    for o in outcomes {
        match o.outcome {
            Outcome::Accepted(_) => accepted += 1,
            Outcome::Rejected { .. } => rejected += 1,
            Outcome::Replayed(_) => {}
        }
    }
    ProviderUsage {
        provider_id: batch.provider.id.clone(),
        webhook_id: batch.webhook_id.map(str::to_string),
        day: utc_day(at),
        requests: 1,
        refused: 0,
        total_leads: accepted + rejected,
        accepted,
        rejected,
        last_lead_at: (accepted + rejected > 0).then_some(at),
    }
}

/// The UTC day of a time.
fn utc_day(at: Timestamp) -> jiff::civil::Date {
    jiff::tz::Offset::UTC.to_datetime(at).date()
}

/// A batch's prepared records, in order: all of them, or those received so far from the
/// preparing thread. Kept, so that a transaction that runs again sees them again.
pub(super) struct Prepareds {
    done: Vec<Prepared>,
    incoming: Option<std::sync::mpsc::Receiver<Prepared>>,
}

impl Prepareds {
    /// Record `i`, waiting for the preparing thread if it is not there yet.
    fn get(&mut self, i: usize) -> Result<&Prepared> {
        while self.done.len() <= i {
            let next = self.incoming.as_ref().and_then(|r| r.recv().ok());
            let next =
                next.ok_or_else(|| Error::Internal(format!("record {i} was not prepared")))?;
            self.done.push(next);
        }
        Ok(&self.done[i])
    }
}

impl Engine {
    /// Ingests one record from a provider (see the module docs).
    ///
    /// # Errors
    ///
    /// [`IntakeError::UnknownProvider`] / [`IntakeError::InactiveProvider`]; storage errors.
    /// A bad record is not an error: it is stored as a rejection.
    pub fn ingest(&self, provider_id: &str, record: &RawRecord) -> Result<IngestOutcome> {
        let mut v = self.ingest_batch(provider_id, std::slice::from_ref(record))?;
        v.pop()
            .ok_or_else(|| Error::Internal("batch of one returned nothing".into()))
    }

    /// Ingests records from one provider in a single transaction, one outcome per record in
    /// order. A storage failure rolls back the whole batch (nothing of it is stored, and the
    /// same batch can be retried).
    ///
    /// # Errors
    ///
    /// As [`Engine::ingest`].
    pub fn ingest_batch(
        &self,
        provider_id: &str,
        records: &[RawRecord],
    ) -> Result<Vec<IngestOutcome>> {
        self.ingest_batch_via(provider_id, None, records)
    }

    /// As [`Engine::ingest_batch`], for records that arrived through an inbound webhook
    /// (`webhook_configs`): with [`DedupScope::Webhook`](crate::contact::DedupScope::Webhook), contacts dedup per webhook.
    ///
    /// # Errors
    ///
    /// As [`Engine::ingest`].
    pub fn ingest_batch_via(
        &self,
        provider_id: &str,
        webhook_id: Option<&str>,
        records: &[RawRecord],
    ) -> Result<Vec<IngestOutcome>> {
        let snap = self.snapshot();
        let (provider, map) = snap
            .providers
            .get(provider_id)
            .ok_or_else(|| IntakeError::UnknownProvider(provider_id.to_string()))?;
        if !provider.is_active {
            return Err(IntakeError::InactiveProvider(provider_id.to_string()).into());
        }
        let batch = Batch {
            provider,
            map,
            webhook_id,
            lead_types: &provider.lead_types,
            records,
        };
        self.ingest_in_tx(&snap, &batch, self.now(), &|_| Ok(()))
    }

    /// Ingests one HTTP request from a provider: the intake wall, then the body's records as
    /// one batch ([`Engine::ingest_batch`]), one outcome per record.
    ///
    /// The wall (see `engine::wall`): the provider's API key when it has an
    /// `api_key_hash`, and a signature when a secret applies (the inbound webhook's, else the
    /// provider's own `signing_secret`; at least one credential must be configured); then the
    /// provider must be active and, when the request names a
    /// webhook, the webhook active, in the provider's `allowed_webhooks`, and of a lead type
    /// the provider may send. Replay protection (Standard Webhooks message ids) and rate
    /// limits (the provider's per UTC hour, the webhook's `rate_limit` per `rate_window`
    /// seconds) are checked and consumed in the batch's transaction. Records through a
    /// webhook with a lead type must be of it (else `lead_type_not_allowed`).
    ///
    /// The body is split by the provider's format: JSON (one object, an array of objects,
    /// or JSON Lines), CSV with a header row, or one form-encoded record. Bytes that are not
    /// UTF-8 are replaced with U+FFFD. A refused request stores no record; it is counted in
    /// `provider_usage_log.refused` when the provider exists. Accepted requests count in
    /// `requests`, their stored records in `total_leads` / `accepted` / `rejected`.
    ///
    /// # Errors
    ///
    /// - [`AuthError`](crate::auth::AuthError) of kind `Unauthorized` (no or wrong key,
    ///   unknown provider, bad, stale or replayed signature, nothing configured to
    ///   authenticate with), `Forbidden` (inactive provider, webhook not allowed),
    ///   `RateLimited` (with `retry_after_seconds`).
    /// - [`IntakeError::BodyTooLarge`] over [`EngineConfig::max_body_bytes`](crate::engine::EngineConfig::max_body_bytes);
    ///   [`IntakeError::MissingCsvHeader`] for a CSV body without a header row.
    /// - Storage errors (the batch is rolled back, quota included).
    pub fn ingest_request(&self, request: &InboundRequest<'_>) -> Result<Vec<IngestOutcome>> {
        if request.body.len() > self.config.max_body_bytes {
            return Err(IntakeError::BodyTooLarge {
                size: request.body.len(),
                limit: self.config.max_body_bytes,
            }
            .into());
        }
        let snap = self.snapshot();
        let at = self.now();
        let result = wall::admit(&snap, request, crate::tz::unix_seconds(at))
            .map_err(Error::from)
            .and_then(|admitted| {
                let body = String::from_utf8_lossy(request.body);
                let split = intake::split(admitted.provider.format, &body)?;
                let lead_types = admitted.lead_types();
                let batch = Batch {
                    provider: admitted.provider,
                    map: admitted.map,
                    webhook_id: admitted.webhook.map(|w| w.id.as_str()),
                    lead_types: &lead_types,
                    records: &split.records,
                };
                self.ingest_in_tx(&snap, &batch, at, &|tx| {
                    wall::consume_quota(tx, &admitted, at)
                })
            });
        if let Err(Error::Auth(_)) = &result {
            if snap.providers.contains_key(request.provider_id) {
                let refused = ProviderUsage {
                    provider_id: request.provider_id.to_string(),
                    webhook_id: request.webhook_id.map(str::to_string),
                    day: utc_day(at),
                    refused: 1,
                    ..ProviderUsage::default()
                };
                with_tx(&*self.store, |tx| Ok(tx.add_usage(&refused)?))?;
            }
        }
        result
    }

    /// The pure steps for every record, then one transaction: `admit` (the wall's checks
    /// that need the store), each record's write, and the provider's usage row. With
    /// [`EngineConfig::pipeline`], the pure steps run on a second thread while the writes
    /// proceed.
    fn ingest_in_tx(
        &self,
        snap: &Snapshot,
        batch: &Batch<'_>,
        at: Timestamp,
        admit: &dyn Fn(&dyn Tx) -> Result<()>,
    ) -> Result<Vec<IngestOutcome>> {
        if !self.config.pipeline || batch.records.len() < PIPELINE_MIN_RECORDS {
            let mut prepared = Prepareds {
                done: batch
                    .records
                    .iter()
                    .map(|r| prepare::prepare(self, snap, batch, r))
                    .collect(),
                incoming: None,
            };
            return self.write_batch(snap, batch, at, admit, &mut prepared);
        }
        std::thread::scope(|s| {
            let (send, incoming) = std::sync::mpsc::channel();
            let preparer = s.spawn(move || {
                for r in batch.records {
                    // The writer has stopped (refused or failed): nothing more is needed.
                    if send.send(prepare::prepare(self, snap, batch, r)).is_err() {
                        break;
                    }
                }
            });
            let mut prepared = Prepareds {
                done: Vec::with_capacity(batch.records.len()),
                incoming: Some(incoming),
            };
            let written = self.write_batch(snap, batch, at, admit, &mut prepared);
            // Lets a preparer still running stop at its next record.
            prepared.incoming = None;
            // `prepare` does not panic (it is fuzzed); if it did, this panics as the calling
            // thread would without the pipeline.
            if let Err(panic) = preparer.join() {
                std::panic::resume_unwind(panic);
            }
            written
        })
    }

    /// The batch's transaction: `admit`, each record's write in order, the usage row.
    fn write_batch(
        &self,
        snap: &Snapshot,
        batch: &Batch<'_>,
        at: Timestamp,
        admit: &dyn Fn(&dyn Tx) -> Result<()>,
        prepared: &mut Prepareds,
    ) -> Result<Vec<IngestOutcome>> {
        with_tx(&*self.store, |tx| {
            admit(tx)?;
            let mut outcomes = Vec::with_capacity(batch.records.len());
            for (i, raw) in batch.records.iter().enumerate() {
                let p = prepared.get(i)?;
                let step = self.step(tx, snap, at);
                outcomes.push(write::record(step, batch.source(), p, raw)?);
            }
            tx.add_usage(&usage_of(batch, &outcomes, at))?;
            Ok(outcomes)
        })
    }
}

/// Runs one record through the pure steps and writes it inside the caller's transaction
/// (`step.tx`), as a record of `provider` read through `map`: the building block of
/// reprocessing and of Cal.com bookings.
pub(crate) fn ingest_one_in(
    engine: &Engine,
    step: crate::engine::Step<'_>,
    provider: &Provider,
    map: &crate::intake::FieldMap,
    raw: &RawRecord,
) -> Result<IngestOutcome> {
    let records = std::slice::from_ref(raw);
    let b = Batch {
        provider,
        map,
        webhook_id: None,
        lead_types: &provider.lead_types,
        records,
    };
    let prepared = prepare::prepare(engine, step.snap, &b, raw);
    write::record(step, b.source(), &prepared, raw)
}
