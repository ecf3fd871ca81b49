//! `Engine` (over SQLite) and `IngestOutcome`.

use crate::convert::{from_py, to_json_text, to_py};
use crate::errors::{err, validation};
use crate::routing::{rules_from_py, zip_arg};
use leadroute_core::contact::DedupScope;
use leadroute_core::delivery::UreqTransport;
use leadroute_core::email::EmailKeyRules;
use leadroute_core::engine::{
    InboundRequest, IngestOutcome as CoreOutcome, Outcome, RoutingOutcome,
};
use leadroute_core::intake::{self, RawRecord};
use leadroute_core::model::{
    Appointment, Assignment, Contact, EventSubject, Lead, RecordFormat, StoredRecord,
};
use leadroute_core::payload::rfc3339;
use leadroute_core::routing::TiePolicy;
use leadroute_core::seed;
use leadroute_core::storage::{with_tx, Tx};
use leadroute_core::validate::{ValidationOptions, VerticalRules};
use leadroute_core::{Engine, EngineConfig, Error};
use leadroute_sqlite::SqliteStore;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString};
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// What became of one ingested record.
///
/// ``status`` is ``"accepted"`` (stored as a lead), ``"rejected"`` (stored as a rejection
/// with reason codes and its raw payload) or ``"replayed"`` (its record key was already
/// stored; nothing was written). ``record_key`` is the idempotency key: the provider's
/// ``lead_id`` or ``sha256:<hex>`` of the raw record.
///
/// Accepted: ``lead_id``, ``contact_id``, ``new_contact`` (``False`` for a returning
/// person), ``duplicate_of`` (the original lead when this one is a lead-level duplicate; it
/// gets no appointment), ``appointment_id`` (when the record carried an appointment time),
/// ``routing`` (``"routed"`` or ``"unrouted"``), ``workspace_id`` and ``rule_id`` (routed) or
/// ``unrouted_reason``, ``trace`` (the stored routing trace, a dict) and ``warnings``.
/// Rejected: ``rejection_id``, ``rejection_codes`` (e.g. ``["invalid_phone"]``) and
/// ``rejection_details``. Replayed: ``lead_id`` or ``rejection_id`` of the stored outcome.
/// Fields that do not apply are ``None`` (or empty lists).
#[pyclass(frozen, module = "leadroute._leadroute")]
pub struct IngestOutcome {
    /// ``"accepted"``, ``"rejected"`` or ``"replayed"``.
    #[pyo3(get)]
    status: &'static str,
    /// The record's idempotency key.
    #[pyo3(get)]
    record_key: String,
    /// The lead (accepted, or replayed lead).
    #[pyo3(get)]
    lead_id: Option<i64>,
    /// The lead's contact (accepted).
    #[pyo3(get)]
    contact_id: Option<i64>,
    /// Whether this record created the contact (accepted).
    #[pyo3(get)]
    new_contact: Option<bool>,
    /// The original lead of a lead-level duplicate.
    #[pyo3(get)]
    duplicate_of: Option<i64>,
    /// The rejection (rejected, or replayed rejection).
    #[pyo3(get)]
    rejection_id: Option<i64>,
    /// Reason codes of a rejection.
    #[pyo3(get)]
    rejection_codes: Vec<String>,
    /// Human-readable detail per reason code.
    #[pyo3(get)]
    rejection_details: Vec<String>,
    /// The appointment, when the record carried an appointment time.
    #[pyo3(get)]
    appointment_id: Option<i64>,
    /// ``"routed"`` or ``"unrouted"`` when there is an appointment.
    #[pyo3(get)]
    routing: Option<&'static str>,
    /// The workspace a routed appointment went to.
    #[pyo3(get)]
    workspace_id: Option<String>,
    /// The rule that matched.
    #[pyo3(get)]
    rule_id: Option<i64>,
    /// Why an appointment is unrouted (e.g. ``no_rule_for_zip``).
    #[pyo3(get)]
    unrouted_reason: Option<&'static str>,
    /// Non-fatal findings (snake_case codes).
    #[pyo3(get)]
    warnings: Vec<String>,
    trace_json: Option<Value>,
}

impl IngestOutcome {
    fn new(o: CoreOutcome) -> IngestOutcome {
        let mut out = IngestOutcome {
            status: "accepted",
            record_key: o.record_key,
            lead_id: None,
            contact_id: None,
            new_contact: None,
            duplicate_of: None,
            rejection_id: None,
            rejection_codes: Vec::new(),
            rejection_details: Vec::new(),
            appointment_id: None,
            routing: None,
            workspace_id: None,
            rule_id: None,
            unrouted_reason: None,
            warnings: Vec::new(),
            trace_json: None,
        };
        match o.outcome {
            Outcome::Accepted(a) => {
                out.lead_id = Some(a.lead_id);
                out.contact_id = Some(a.contact_id);
                out.new_contact = Some(a.new_contact);
                out.duplicate_of = a.duplicate_of;
                out.warnings = a.warnings;
                out.trace_json = a.routing_trace;
                if let Some((appt, routing)) = a.appointment {
                    out.appointment_id = Some(appt);
                    match routing {
                        RoutingOutcome::Routed {
                            workspace_id,
                            rule_id,
                        } => {
                            out.routing = Some("routed");
                            out.workspace_id = Some(workspace_id);
                            out.rule_id = Some(rule_id);
                        }
                        RoutingOutcome::Unrouted(reason) => {
                            out.routing = Some("unrouted");
                            out.unrouted_reason = Some(reason.code());
                        }
                    }
                }
            }
            Outcome::Rejected {
                rejection_id,
                reasons,
            } => {
                out.status = "rejected";
                out.rejection_id = Some(rejection_id);
                for r in reasons {
                    out.rejection_codes.push(r.code.as_str().to_string());
                    out.rejection_details.push(r.detail);
                }
            }
            Outcome::Replayed(stored) => {
                out.status = "replayed";
                match stored {
                    StoredRecord::Lead(id) => out.lead_id = Some(id),
                    StoredRecord::Rejection(id) => out.rejection_id = Some(id),
                }
            }
        }
        out
    }

    fn as_json(&self) -> Value {
        json!({
            "status": self.status,
            "record_key": self.record_key,
            "lead_id": self.lead_id,
            "contact_id": self.contact_id,
            "new_contact": self.new_contact,
            "duplicate_of": self.duplicate_of,
            "rejection_id": self.rejection_id,
            "rejection_codes": self.rejection_codes,
            "rejection_details": self.rejection_details,
            "appointment_id": self.appointment_id,
            "routing": self.routing,
            "workspace_id": self.workspace_id,
            "rule_id": self.rule_id,
            "unrouted_reason": self.unrouted_reason,
            "warnings": self.warnings,
            "trace": self.trace_json,
        })
    }
}

#[pymethods]
impl IngestOutcome {
    /// The routing decision's full trace (dict, as stored with the appointment), or ``None``
    /// without an appointment.
    #[getter]
    fn trace<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.trace_json {
            Some(t) => to_py(py, t),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// Whether the record was stored as a lead.
    #[getter]
    fn accepted(&self) -> bool {
        self.status == "accepted"
    }

    /// Every field as a plain dict (JSON-compatible), ``trace`` included.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.as_json())
    }

    fn __repr__(&self) -> String {
        fn opt<T: std::fmt::Debug>(v: &Option<T>) -> String {
            v.as_ref().map_or("None".to_string(), |x| format!("{x:?}"))
        }
        let detail =
            match self.status {
                "accepted" => {
                    format!(
                "lead_id={}, contact_id={}, new_contact={}, appointment_id={}, routing={}, \
                 workspace_id={}",
                opt(&self.lead_id),
                opt(&self.contact_id),
                if self.new_contact == Some(true) { "True" } else { "False" },
                opt(&self.appointment_id),
                opt(&self.routing),
                opt(&self.workspace_id)
            )
                }
                "rejected" => format!(
                    "rejection_id={}, rejection_codes={:?}",
                    opt(&self.rejection_id),
                    self.rejection_codes
                ),
                _ => format!(
                    "lead_id={}, rejection_id={}",
                    opt(&self.lead_id),
                    opt(&self.rejection_id)
                ),
            };
        format!("IngestOutcome(status={:?}, {detail})", self.status)
    }
}

/// The leadroute engine over a SQLite database: configuration, intake, routing, delivery and
/// billing. Create it with :meth:`Engine.open`. Thread-safe: methods release the GIL while
/// they work, and one ``Engine`` may be shared by threads.
#[pyclass(frozen, module = "leadroute._leadroute", name = "Engine")]
pub struct PyEngine {
    engine: Engine,
    path: String,
    transport: OnceLock<UreqTransport>,
}

fn option_error(py: Python<'_>, field: &str, value: &str, expected: &str) -> PyErr {
    validation(
        py,
        &format!("{field}: unknown value {value:?} (expected {expected})"),
        "invalid_option",
        Some(field),
    )
}

/// Parses an aware `datetime` or an RFC 3339 string.
fn time_arg(py: Python<'_>, field: &str, v: &Bound<'_, PyAny>) -> PyResult<OffsetDateTime> {
    let text = match v.cast::<PyString>() {
        Ok(s) => s.to_cow()?.into_owned(),
        Err(_) => v.call_method0("isoformat")?.extract::<String>()?,
    };
    OffsetDateTime::parse(&text, &Rfc3339).map_err(|e| {
        validation(
            py,
            &format!("{field}: {text:?} is not an RFC 3339 time with an offset ({e})"),
            "invalid_time",
            Some(field),
        )
    })
}

/// The text of a `str`, `bytes` or `bytearray` record (bytes are decoded as UTF-8, lossily).
fn record_text(obj: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Some(s.to_cow()?.into_owned()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Some(String::from_utf8_lossy(b.as_bytes()).into_owned()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Some(String::from_utf8_lossy(&b.to_vec()).into_owned()));
    }
    Ok(None)
}

fn time_text(t: Option<OffsetDateTime>) -> Value {
    t.map(rfc3339).map(Value::String).unwrap_or(Value::Null)
}

fn events_json(tx: &dyn Tx, subject: EventSubject, id: i64) -> Result<Value, Error> {
    Ok(Value::Array(
        tx.events(subject, id)?
            .into_iter()
            .map(|e| {
                json!({"event_type": e.event_type, "detail": e.detail,
                       "created_at": rfc3339(e.created_at)})
            })
            .collect(),
    ))
}

fn lead_json(l: &Lead) -> Value {
    let n = &l.lead;
    json!({
        "id": l.id, "contact_id": n.contact_id, "duplicate_of": n.duplicate_of,
        "provider_id": n.provider_id, "record_key": n.record_key, "external_id": n.external_id,
        "product_type": n.product_type, "zip_code": n.zip_code,
        "appointment_date": time_text(n.appointment_date),
        "estimated_value": n.estimated_value, "tcpa_consent": n.tcpa_consent,
        "fields": n.fields, "warnings": n.warnings, "raw_payload": n.raw_payload,
        "received_at": rfc3339(n.received_at),
    })
}

fn contact_json(c: &Contact) -> Value {
    let n = &c.contact;
    json!({
        "id": c.id, "dedup_scope": n.dedup_scope, "phone": n.phone_e164,
        "phone_extension": n.phone_extension, "email": n.email, "email_key": n.email_key,
        "first_name": n.first_name, "last_name": n.last_name, "zip_code": n.zip_code,
        "created_at": rfc3339(n.created_at),
    })
}

fn appointment_json(a: &Appointment) -> Value {
    let n = &a.appointment;
    let mut v = json!({
        "id": a.id, "lead_id": n.lead_id, "contact_id": n.contact_id,
        "service_type": n.service_type, "zip_code": n.zip_code,
        "appointment_date": rfc3339(n.appointment_date), "estimated_value": n.estimated_value,
        "notes": n.notes, "created_at": rfc3339(n.created_at),
        "forward_status": a.forward_status.as_str(), "forward_attempts": a.forward_attempts,
        "forwarded_at": time_text(a.forwarded_at), "forward_response": a.forward_response,
        "status": Value::Null, "workspace_id": Value::Null, "rule_id": Value::Null,
        "routing_method": Value::Null, "matched_at": Value::Null,
        "payment_rate_cents": Value::Null, "unrouted_reason": Value::Null,
    });
    match &n.assignment {
        Assignment::Routed {
            workspace_id,
            rule_id,
            method,
            matched_at,
            payment_rate,
        } => {
            v["status"] = "routed".into();
            v["workspace_id"] = workspace_id.as_str().into();
            v["rule_id"] = json!(rule_id);
            v["routing_method"] = method.as_str().into();
            v["matched_at"] = rfc3339(*matched_at).into();
            v["payment_rate_cents"] = payment_rate.0.into();
        }
        Assignment::Unrouted { reason } => {
            v["status"] = "unrouted".into();
            v["unrouted_reason"] = reason.as_str().into();
        }
    }
    v
}

impl PyEngine {
    fn format_of(&self, provider_id: &str) -> RecordFormat {
        self.engine
            .snapshot()
            .providers
            .get(provider_id)
            .map(|(p, _)| p.format)
            .unwrap_or(RecordFormat::Json)
    }

    /// One record as the engine takes it (see `ingest`).
    fn raw_record(
        &self,
        py: Python<'_>,
        format: RecordFormat,
        record: &Bound<'_, PyAny>,
    ) -> PyResult<RawRecord> {
        if let Some(text) = record_text(record)? {
            return match format {
                RecordFormat::Json => Ok(RawRecord::Json(text)),
                RecordFormat::Csv => csv_record(py, &text),
                RecordFormat::Form => Ok(RawRecord::Form(text)),
            };
        }
        if record.cast::<PyDict>().is_ok() {
            return Ok(RawRecord::Json(to_json_text(record)?));
        }
        Err(PyTypeError::new_err(format!(
            "a record is a dict, str or bytes, not {}",
            record.get_type().name()?
        )))
    }

    fn ingest_records(
        &self,
        py: Python<'_>,
        provider_id: &str,
        records: Vec<RawRecord>,
        batch_size: usize,
    ) -> PyResult<Vec<IngestOutcome>> {
        let out = py.detach(|| -> Result<Vec<CoreOutcome>, Error> {
            if records.is_empty() {
                // Still checks the provider.
                return self.engine.ingest_batch(provider_id, &[]);
            }
            let mut out = Vec::with_capacity(records.len());
            for chunk in records.chunks(batch_size.max(1)) {
                out.extend(self.engine.ingest_batch(provider_id, chunk)?);
            }
            Ok(out)
        });
        Ok(out
            .map_err(err(py))?
            .into_iter()
            .map(IngestOutcome::new)
            .collect())
    }

    fn read<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnMut(&dyn Tx) -> Result<T, Error> + Send,
    ) -> PyResult<T> {
        py.detach(|| with_tx(&**self.engine.store(), f))
            .map_err(err(py))
    }
}

/// The exact bytes of a request body: `str` as UTF-8, `bytes`/`bytearray` as they are, a
/// dict as JSON text.
fn body_bytes(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_cow()?.as_bytes().to_vec());
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(b.to_vec());
    }
    if obj.cast::<PyDict>().is_ok() {
        return Ok(to_json_text(obj)?.into_bytes());
    }
    Err(PyTypeError::new_err(format!(
        "a record or body is a dict, str or bytes, not {}",
        obj.get_type().name()?
    )))
}

/// Request headers from a mapping or an iterable of `(name, value)` pairs.
fn header_pairs(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, String)>> {
    let Some(obj) = obj else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    if let Ok(d) = obj.cast::<PyDict>() {
        for (k, v) in d.iter() {
            out.push((k.extract()?, v.extract()?));
        }
        return Ok(out);
    }
    for pair in obj.try_iter()? {
        out.push(pair?.extract()?);
    }
    Ok(out)
}

/// Credentials of one request (see `Engine.ingest`).
struct Credentials {
    webhook_id: Option<String>,
    api_key: Option<String>,
    headers: Vec<(String, String)>,
}

impl Credentials {
    /// `None` when the caller gave no credentials at all (the trusted, in-process path).
    fn from_args(
        webhook_id: Option<String>,
        api_key: Option<String>,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<Credentials>> {
        if webhook_id.is_none() && api_key.is_none() && headers.is_none() {
            return Ok(None);
        }
        Ok(Some(Credentials {
            webhook_id,
            api_key,
            headers: header_pairs(headers)?,
        }))
    }
}

impl PyEngine {
    /// One request through the intake wall (`Engine::ingest_request`), GIL released.
    fn ingest_request(
        &self,
        py: Python<'_>,
        provider_id: &str,
        credentials: &Credentials,
        body: &[u8],
    ) -> PyResult<Vec<IngestOutcome>> {
        let request = InboundRequest {
            provider_id,
            webhook_id: credentials.webhook_id.as_deref(),
            api_key: credentials.api_key.as_deref(),
            headers: &credentials.headers,
            body,
        };
        Ok(py
            .detach(|| self.engine.ingest_request(&request))
            .map_err(err(py))?
            .into_iter()
            .map(IngestOutcome::new)
            .collect())
    }
}

/// A CSV record given as text: a header line and one row.
fn csv_record(py: Python<'_>, text: &str) -> PyResult<RawRecord> {
    let split = intake::split_csv(text).map_err(|e| err(py)(Error::from(e)))?;
    let mut records = split.records;
    if records.len() != 1 {
        return Err(validation(
            py,
            &format!(
                "a CSV record is a header line and exactly one row; got {} rows \
                 (use ingest_body for a whole CSV body)",
                records.len()
            ),
            "csv_row_count",
            Some("record"),
        ));
    }
    Ok(records.remove(0))
}

#[pymethods]
impl PyEngine {
    /// Opens (creating and migrating if needed) the SQLite database at ``path`` and loads
    /// its configuration. ``":memory:"`` opens a private in-memory database.
    ///
    /// Options (keyword-only): ``require_phone`` (default ``True``: a lead needs a valid
    /// phone; ``False``: a valid email is enough), ``tie_policy`` (``"lowest_id"``,
    /// ``"weighted_round_robin"`` or ``"least_recently_routed"``), ``dedup_scope``
    /// (``"provider"``, ``"webhook"`` or ``"global"``), ``default_region`` (CLDR region for
    /// phones without a country code), ``duplicate_window_days`` (lead-level duplicate window,
    /// 0 turns it off), ``gmail_rules`` (Gmail dot and ``+tag`` rules for email dedup keys),
    /// ``delivery_workers`` (webhook requests in parallel), ``request_timeout`` (seconds per
    /// webhook request), ``extra_products`` (products known besides those rules and
    /// workspaces name), ``product_aliases`` (``{alias: product}``) and ``required_fields``
    /// (fields each lead type requires, ``{lead_type: [field, ...]}``, or ``"seed"`` for the
    /// table drawn from the corpus; default none; a record without them is rejected with
    /// ``missing_required_field``).
    ///
    /// Raises ``StorageError`` when the file cannot be opened or migrated, and
    /// ``ValidationError`` (``.code == "invalid_option"``) for a bad option.
    #[staticmethod]
    #[pyo3(signature = (
        path = "leadroute.db", *, require_phone = true, tie_policy = "lowest_id",
        dedup_scope = "provider", default_region = "US", duplicate_window_days = 30,
        gmail_rules = false, delivery_workers = 8, request_timeout = 15.0,
        extra_products = None, product_aliases = None, required_fields = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn open(
        py: Python<'_>,
        path: &str,
        require_phone: bool,
        tie_policy: &str,
        dedup_scope: &str,
        default_region: &str,
        duplicate_window_days: u32,
        gmail_rules: bool,
        delivery_workers: usize,
        request_timeout: f64,
        extra_products: Option<Vec<String>>,
        product_aliases: Option<std::collections::BTreeMap<String, String>>,
        required_fields: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyEngine> {
        let vertical_rules = match required_fields {
            None => VerticalRules::default(),
            Some(r) if r.extract::<String>().is_ok_and(|s| s == "seed") => {
                VerticalRules::seed_defaults()
            }
            Some(r) => VerticalRules::new(r.extract().map_err(|_| {
                validation(
                    py,
                    "required_fields: \"seed\" or a mapping of lead type to field names expected",
                    "invalid_option",
                    Some("required_fields"),
                )
            })?),
        };
        let tie_policy = TiePolicy::from_code(tie_policy).ok_or_else(|| {
            option_error(
                py,
                "tie_policy",
                tie_policy,
                "lowest_id, weighted_round_robin or least_recently_routed",
            )
        })?;
        let dedup_scope = match dedup_scope.trim() {
            "provider" => DedupScope::Provider,
            "webhook" => DedupScope::Webhook,
            "global" => DedupScope::Global,
            other => {
                return Err(option_error(
                    py,
                    "dedup_scope",
                    other,
                    "provider, webhook or global",
                ))
            }
        };
        if !(request_timeout.is_finite() && request_timeout > 0.0) {
            return Err(validation(
                py,
                "request_timeout: positive seconds expected",
                "invalid_option",
                Some("request_timeout"),
            ));
        }
        let config = EngineConfig {
            default_region: default_region.to_string(),
            dedup_scope,
            email_rules: EmailKeyRules {
                provider_rules: gmail_rules,
            },
            require_phone,
            duplicate_window: time::Duration::days(i64::from(duplicate_window_days)),
            request_timeout: Duration::from_secs_f64(request_timeout),
            delivery_workers: delivery_workers.max(1),
            extra_products: extra_products.unwrap_or_default(),
            product_aliases: product_aliases.unwrap_or_default().into_iter().collect(),
            tie_policy,
            validation: ValidationOptions {
                vertical_rules,
                ..ValidationOptions::default()
            },
            ..EngineConfig::default()
        };
        let owned = path.to_string();
        let engine = py
            .detach(|| -> Result<Engine, Error> {
                let store = if owned == ":memory:" {
                    SqliteStore::open_in_memory()?
                } else {
                    SqliteStore::open(&owned)?
                };
                Engine::new(Arc::new(store), config)
            })
            .map_err(err(py))?;
        Ok(PyEngine {
            engine,
            path: path.to_string(),
            transport: OnceLock::new(),
        })
    }

    /// The database path given to :meth:`open`.
    #[getter]
    fn path(&self) -> &str {
        &self.path
    }

    /// Adds or updates providers, workspaces and routing rules (upserts by id), in one
    /// transaction, from lists of dicts in the seed's shapes (``providers.json``,
    /// ``workspaces.json`` with ``payment_rate`` in dollars, ``routing_rules.json`` plus the
    /// targeting fields). ``webhook_base`` (e.g. ``"http://127.0.0.1:8080"``) replaces the
    /// ``http://127.0.0.1:{port}`` placeholder in workspace webhook URLs.
    ///
    /// The rules are compiled before anything is written, so a bad set changes nothing.
    /// Raises ``ValidationError`` (``.field`` ``providers``, ``workspaces`` or ``rules``) for a
    /// bad shape or a rule that does not compile; ``ConflictError`` for a rule naming a
    /// workspace that does not exist.
    #[pyo3(signature = (*, providers = None, workspaces = None, rules = None, webhook_base = None, webhooks = None))]
    fn configure(
        &self,
        py: Python<'_>,
        providers: Option<&Bound<'_, PyAny>>,
        workspaces: Option<&Bound<'_, PyAny>>,
        rules: Option<&Bound<'_, PyAny>>,
        webhook_base: Option<&str>,
        webhooks: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        if let Some(w) = webhooks {
            let configs = seed::load_webhook_configs(&from_py(w)?.to_string())
                .map_err(|e| err(py)(Error::from(e)))?;
            py.detach(|| self.engine.configure_webhooks(&configs))
                .map_err(err(py))?;
        }
        let providers = match providers {
            Some(p) => seed::load_providers(&from_py(p)?.to_string())
                .map_err(|e| err(py)(Error::from(e)))?,
            None => Vec::new(),
        };
        let workspaces = match workspaces {
            Some(w) => seed::load_workspaces(
                &from_py(w)?.to_string(),
                webhook_base.unwrap_or(seed::URL_TEMPLATE_ORIGIN),
            )
            .map_err(|e| err(py)(Error::from(e)))?,
            None => Vec::new(),
        };
        let rules = match rules {
            Some(r) => rules_from_py(py, r)?,
            None => Vec::new(),
        };
        py.detach(|| self.engine.configure(&providers, &workspaces, &rules))
            .map_err(err(py))
    }

    /// Adds or updates providers (dicts in the shape of ``providers.json``). See
    /// :meth:`configure`.
    fn add_providers(&self, py: Python<'_>, providers: &Bound<'_, PyAny>) -> PyResult<()> {
        self.configure(py, Some(providers), None, None, None, None)
    }

    /// Adds or updates workspaces (dicts in the shape of ``workspaces.json``). See
    /// :meth:`configure`.
    #[pyo3(signature = (workspaces, *, webhook_base = None))]
    fn add_workspaces(
        &self,
        py: Python<'_>,
        workspaces: &Bound<'_, PyAny>,
        webhook_base: Option<&str>,
    ) -> PyResult<()> {
        self.configure(py, None, Some(workspaces), None, webhook_base, None)
    }

    /// Adds or updates inbound webhooks (dicts in the seed's ``webhook_configs`` shape: ``id``,
    /// ``name``, ``lead_type``, ``webhook_secret``, ``signature_scheme`` (``"github"``,
    /// ``"cal_com"``, ``"standard_webhooks"`` (default), ``"stripe"``), ``rate_limit``,
    /// ``rate_window`` (seconds), ``is_active``). Providers post through one when it is in
    /// their ``allowed_webhooks``. See :meth:`configure`.
    fn add_webhooks(&self, py: Python<'_>, webhooks: &Bound<'_, PyAny>) -> PyResult<()> {
        self.configure(py, None, None, None, None, Some(webhooks))
    }

    /// A provider's intake per (inbound webhook, UTC day), as ``provider_usage_log`` keeps
    /// it: ``[{"webhook_id", "day", "requests", "refused", "total_leads", "accepted",
    /// "rejected", "last_lead_at"}]`` (``webhook_id`` ``""`` for records ingested directly;
    /// ``last_lead_at`` RFC 3339 UTC or ``None``), ordered by day.
    fn provider_usage<'py>(
        &self,
        py: Python<'py>,
        provider_id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let rows = py
            .detach(|| self.engine.provider_usage(provider_id))
            .map_err(err(py))?;
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|u| {
                json!({"webhook_id": u.webhook_id, "day": u.day, "requests": u.requests,
                       "refused": u.refused, "total_leads": u.total_leads,
                       "accepted": u.accepted, "rejected": u.rejected,
                       "last_lead_at": time_text(u.last_lead_at)})
            })
            .collect();
        to_py(py, &Value::Array(rows))
    }

    /// Adds or updates routing rules (dicts in the shape of ``routing_rules.json`` plus
    /// targeting). See :meth:`configure`.
    fn add_rules(&self, py: Python<'_>, rules: &Bound<'_, PyAny>) -> PyResult<()> {
        self.configure(py, None, None, Some(rules), None, None)
    }

    /// Ingests one record from a provider and returns its :class:`IngestOutcome`.
    ///
    /// ``record`` is a dict (sent as JSON), a ``str``, or ``bytes`` (decoded as UTF-8, invalid
    /// sequences replaced). For a JSON provider the text is one JSON object; for a CSV provider
    /// it is a header line followed by exactly one row (a dict is accepted for either).
    ///
    /// With any of ``api_key``, ``headers`` or ``webhook_id`` the record is one request
    /// through the intake wall, as a provider's HTTP request is: the record's exact bytes are
    /// the body (a dict is sent as JSON text), ``api_key`` is checked against the provider's
    /// stored hash, ``headers`` (a mapping or ``(name, value)`` pairs) carry the signature
    /// of the inbound webhook ``webhook_id`` when it has a secret, and rate limits and
    /// replay protection apply. Without them the call is trusted (an in-process script).
    ///
    /// A bad record is not an error: it is stored as a rejection (``status == "rejected"``).
    /// Raises ``UnauthorizedError`` (``.code`` ``missing_api_key``, ``invalid_api_key``,
    /// ``bad_signature``, ``stale_timestamp``, ``replayed``, ...), ``ForbiddenError``
    /// (``provider_inactive`` on either path, ``webhook_not_allowed``),
    /// ``RateLimitedError`` (with ``.retry_after`` seconds), ``NotFoundError`` for an
    /// unknown provider on the trusted path, ``ValidationError`` for CSV text without exactly
    /// one row or a body over the size limit, ``TypeError`` for another record type,
    /// ``StorageError`` when the database fails.
    #[pyo3(signature = (provider_id, record, *, api_key = None, headers = None, webhook_id = None))]
    fn ingest(
        &self,
        py: Python<'_>,
        provider_id: &str,
        record: &Bound<'_, PyAny>,
        api_key: Option<String>,
        headers: Option<&Bound<'_, PyAny>>,
        webhook_id: Option<String>,
    ) -> PyResult<IngestOutcome> {
        if let Some(c) = Credentials::from_args(webhook_id, api_key, headers)? {
            let mut out = self.ingest_request(py, provider_id, &c, &body_bytes(record)?)?;
            if out.len() != 1 {
                return Err(validation(
                    py,
                    &format!("a record is one record; the body held {}", out.len()),
                    "record_count",
                    Some("record"),
                ));
            }
            return Ok(out.remove(0));
        }
        let raw = self.raw_record(py, self.format_of(provider_id), record)?;
        let mut out = self.ingest_records(py, provider_id, vec![raw], 1)?;
        out.pop()
            .ok_or_else(|| err(py)(Error::Internal("no outcome for one record".into())))
    }

    /// Ingests many records from one provider (any iterable of records as :meth:`ingest`
    /// takes them) and returns one :class:`IngestOutcome` per record, in order. Records are
    /// written ``batch_size`` per transaction, with the GIL released; re-ingesting the same
    /// records is a replay. When the database fails, the batches before the failing one stay
    /// stored and the error is raised (ingesting again is safe). With credentials
    /// (``api_key``, ``headers``, ``webhook_id``, as in :meth:`ingest`) each record is its own
    /// request through the intake wall (each takes a rate-limit slot; a signature in
    /// ``headers`` matches one body only, so signed records go through :meth:`ingest` or
    /// :meth:`ingest_body`).
    #[pyo3(signature = (provider_id, records, *, api_key = None, headers = None, webhook_id = None, batch_size = 1000))]
    #[allow(clippy::too_many_arguments)]
    fn ingest_many(
        &self,
        py: Python<'_>,
        provider_id: &str,
        records: &Bound<'_, PyAny>,
        api_key: Option<String>,
        headers: Option<&Bound<'_, PyAny>>,
        webhook_id: Option<String>,
        batch_size: usize,
    ) -> PyResult<Vec<IngestOutcome>> {
        if let Some(c) = Credentials::from_args(webhook_id, api_key, headers)? {
            let mut out = Vec::new();
            for r in records.try_iter()? {
                out.extend(self.ingest_request(py, provider_id, &c, &body_bytes(&r?)?)?);
            }
            return Ok(out);
        }
        let format = self.format_of(provider_id);
        let mut raws = Vec::new();
        for r in records.try_iter()? {
            raws.push(self.raw_record(py, format, &r?)?);
        }
        self.ingest_records(py, provider_id, raws, batch_size)
    }

    /// Splits a whole body in the provider's format (JSON Lines: one object per non-blank
    /// line; CSV: a header row, then one record per row) and ingests every record, as
    /// :meth:`ingest_many`. ``body`` is ``str`` or ``bytes``. With credentials (as in
    /// :meth:`ingest`) the body is one request through the intake wall, its exact bytes
    /// signed and stored in one transaction (JSON bodies may also be one object or an
    /// array; ``batch_size`` does not apply).
    #[pyo3(signature = (provider_id, body, *, api_key = None, headers = None, webhook_id = None, batch_size = 1000))]
    #[allow(clippy::too_many_arguments)]
    fn ingest_body(
        &self,
        py: Python<'_>,
        provider_id: &str,
        body: &Bound<'_, PyAny>,
        api_key: Option<String>,
        headers: Option<&Bound<'_, PyAny>>,
        webhook_id: Option<String>,
        batch_size: usize,
    ) -> PyResult<Vec<IngestOutcome>> {
        if let Some(c) = Credentials::from_args(webhook_id, api_key, headers)? {
            if body.cast::<PyDict>().is_ok() {
                return Err(PyTypeError::new_err("a body is str or bytes"));
            }
            return self.ingest_request(py, provider_id, &c, &body_bytes(body)?);
        }
        let text =
            record_text(body)?.ok_or_else(|| PyTypeError::new_err("a body is str or bytes"))?;
        let format = self.format_of(provider_id);
        let split = py
            .detach(|| intake::split(format, &text))
            .map_err(|e| err(py)(Error::from(e)))?;
        self.ingest_records(py, provider_id, split.records, batch_size)
    }

    /// Posts due deliveries to the workspaces' webhooks (signed per Standard Webhooks, over
    /// HTTP with ``ureq``) and records every attempt and, on a 2xx answer, the billing event.
    /// ``limit`` caps the deliveries claimed; ``None`` repeats in batches of 100 until nothing
    /// is due (retries scheduled for later stay queued). Returns ``{"attempted", "delivered",
    /// "retrying", "failed", "billed_cents"}``. Runs with the GIL released.
    #[pyo3(signature = (limit = None))]
    fn deliver_due<'py>(
        &self,
        py: Python<'py>,
        limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let transport = self.transport.get_or_init(UreqTransport::new);
        let report = py
            .detach(|| -> Result<[u64; 5], Error> {
                let mut t = [0u64; 5];
                loop {
                    let r = self.engine.deliver_due(transport, limit.unwrap_or(100))?;
                    t[0] += r.attempted;
                    t[1] += r.delivered;
                    t[2] += r.retrying;
                    t[3] += r.failed;
                    t[4] = t[4].wrapping_add(r.billed.0 as u64);
                    if limit.is_some() || r.attempted == 0 {
                        return Ok(t);
                    }
                }
            })
            .map_err(err(py))?;
        to_py(
            py,
            &json!({"attempted": report[0], "delivered": report[1], "retrying": report[2],
                    "failed": report[3], "billed_cents": report[4] as i64}),
        )
    }

    /// Whole-store counts: ``contacts``, ``leads``, ``rejections``, ``appointments``,
    /// ``appointments_routed``, ``appointments_unrouted``, ``deliveries``,
    /// ``deliveries_succeeded``, ``deliveries_failed``, ``attempts``, ``billing_events`` and
    /// ``billed_cents`` (all int).
    fn counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let c = py.detach(|| self.engine.counts()).map_err(err(py))?;
        to_py(
            py,
            &json!({
                "contacts": c.contacts, "leads": c.leads, "rejections": c.rejections,
                "appointments": c.appointments, "appointments_routed": c.appointments_routed,
                "appointments_unrouted": c.appointments_unrouted, "deliveries": c.deliveries,
                "deliveries_succeeded": c.deliveries_succeeded,
                "deliveries_failed": c.deliveries_failed, "attempts": c.attempts,
                "billing_events": c.billing_events, "billed_cents": c.billed.0,
            }),
        )
    }

    /// The unrouted queue, oldest first: up to ``limit`` appointment dicts (as
    /// :meth:`appointment` returns, without events) with an id above ``after``.
    #[pyo3(signature = (limit = 100, *, after = 0))]
    fn unrouted<'py>(
        &self,
        py: Python<'py>,
        limit: usize,
        after: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let page = self.read(py, |tx| Ok(tx.unrouted_appointments(after, limit)?))?;
        to_py(
            py,
            &Value::Array(page.iter().map(appointment_json).collect()),
        )
    }

    /// The appointment with this id as a dict, or ``None``: ``id``, ``lead_id``,
    /// ``contact_id``, ``service_type``, ``zip_code``, ``appointment_date`` (RFC 3339, UTC),
    /// ``status`` (``routed``/``unrouted``), ``workspace_id``, ``rule_id``,
    /// ``routing_method`` (``auto``/``manual``), ``matched_at``, ``payment_rate_cents``,
    /// ``unrouted_reason``, ``forward_status``, ``forward_attempts``, ``forwarded_at``,
    /// ``forward_response``, ``estimated_value`` (dollars), ``notes``, ``created_at``, and
    /// ``events`` (the audit trail, each ``{"event_type", "detail", "created_at"}``; a
    /// routing event's detail is its trace).
    fn appointment<'py>(&self, py: Python<'py>, id: i64) -> PyResult<Bound<'py, PyAny>> {
        let v = self.read(py, |tx| {
            Ok(match tx.appointment(id)? {
                Some(a) => {
                    let mut v = appointment_json(&a);
                    v["events"] = events_json(tx, EventSubject::Appointment, id)?;
                    v
                }
                None => Value::Null,
            })
        })?;
        to_py(py, &v)
    }

    /// The lead with this id as a dict, or ``None``: ``id``, ``contact_id``,
    /// ``duplicate_of``, ``provider_id``, ``record_key``, ``external_id``, ``product_type``,
    /// ``zip_code``, ``appointment_date``, ``estimated_value``, ``tcpa_consent``, ``fields``
    /// (normalized canonical fields and the provider's other fields), ``warnings``,
    /// ``raw_payload`` (verbatim), ``received_at``, ``events``.
    fn lead<'py>(&self, py: Python<'py>, id: i64) -> PyResult<Bound<'py, PyAny>> {
        let v = self.read(py, |tx| {
            Ok(match tx.lead(id)? {
                Some(l) => {
                    let mut v = lead_json(&l);
                    v["events"] = events_json(tx, EventSubject::Lead, id)?;
                    v
                }
                None => Value::Null,
            })
        })?;
        to_py(py, &v)
    }

    /// The contact with this id as a dict, or ``None``: ``id``, ``dedup_scope``, ``phone``
    /// (E.164), ``phone_extension``, ``email``, ``email_key``, ``first_name``, ``last_name``,
    /// ``zip_code``, ``created_at``, ``events`` (creation and every field change with its old
    /// and new value).
    fn contact<'py>(&self, py: Python<'py>, id: i64) -> PyResult<Bound<'py, PyAny>> {
        let v = self.read(py, |tx| {
            Ok(match tx.contact(id)? {
                Some(c) => {
                    let mut v = contact_json(&c);
                    v["events"] = events_json(tx, EventSubject::Contact, id)?;
                    v
                }
                None => Value::Null,
            })
        })?;
        to_py(py, &v)
    }

    /// Billing per workspace for charges recorded in ``since <= created_at < until`` (aware
    /// ``datetime`` or RFC 3339 strings; default: all time). Returns ``{"charges",
    /// "charged_cents", "credits", "credited_cents", "net_cents", "per_workspace": [{
    /// "workspace_id", "charges", "charged_cents", "credits", "credited_cents", "net_cents"}]}``
    /// (amounts in integer cents; workspaces without events are left out).
    #[pyo3(signature = (*, since = None, until = None))]
    fn billing_summary<'py>(
        &self,
        py: Python<'py>,
        since: Option<&Bound<'py, PyAny>>,
        until: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let from = match since {
            Some(s) => time_arg(py, "since", s)?,
            None => OffsetDateTime::UNIX_EPOCH,
        };
        let to = match until {
            Some(u) => time_arg(py, "until", u)?,
            None => time::macros::datetime!(9999-12-31 0:00 UTC),
        };
        let rows = self.read(py, |tx| Ok(tx.billing_summary(from, to)?))?;
        let mut total = [0i64; 5];
        let per: Vec<Value> = rows
            .iter()
            .map(|r| {
                total[0] += r.charges as i64;
                total[1] += r.charged.0;
                total[2] += r.credits as i64;
                total[3] += r.credited.0;
                total[4] += r.net.0;
                json!({"workspace_id": r.workspace_id, "charges": r.charges,
                       "charged_cents": r.charged.0, "credits": r.credits,
                       "credited_cents": r.credited.0, "net_cents": r.net.0})
            })
            .collect();
        to_py(
            py,
            &json!({"charges": total[0], "charged_cents": total[1], "credits": total[2],
                    "credited_cents": total[3], "net_cents": total[4], "per_workspace": per}),
        )
    }

    /// A dry run: how ``(product, zip)`` would route now, with the stored workspaces, tie
    /// state, schedules and caps; the trace as a dict (see ``RoutingTable.explain``). Writes
    /// nothing. Raises ``ValidationError`` for a bad ZIP.
    fn explain<'py>(
        &self,
        py: Python<'py>,
        product: &str,
        zip: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        zip_arg(py, zip)?;
        let v = py
            .detach(|| self.engine.explain(product, zip))
            .map_err(err(py))?;
        to_py(py, &v)
    }

    /// Routes the unrouted queue again against the current rules and workspaces (e.g. after
    /// adding rules), ``batch`` appointments per transaction. Returns ``{"examined",
    /// "routed": {workspace_id: n}, "still_unrouted": {reason: n}}``.
    #[pyo3(signature = (*, batch = 500))]
    fn reroute_unrouted<'py>(&self, py: Python<'py>, batch: usize) -> PyResult<Bound<'py, PyAny>> {
        let r = py
            .detach(|| self.engine.reroute_unrouted(batch))
            .map_err(err(py))?;
        to_py(
            py,
            &json!({"examined": r.examined, "routed": r.routed,
                    "still_unrouted": r.still_unrouted}),
        )
    }

    /// Replays every stored appointment against a proposed rule set (rule dicts as
    /// :meth:`add_rules` takes them) and reports what would change, writing nothing:
    /// ``{"examined", "per_workspace": [{"workspace_id" (None: unrouted), "current",
    /// "proposed"}], "moves": [{"appointment_id", "from", "to"}]}``. Raises
    /// ``ValidationError`` when the proposal does not compile.
    fn backtest<'py>(
        &self,
        py: Python<'py>,
        rules: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let rules = rules_from_py(py, rules)?;
        let r = py
            .detach(|| self.engine.backtest(&rules))
            .map_err(err(py))?;
        let per: Vec<Value> = r
            .per_workspace
            .iter()
            .map(|w| {
                json!({"workspace_id": w.workspace_id, "current": w.current,
                       "proposed": w.proposed})
            })
            .collect();
        let moves: Vec<Value> = r
            .moves
            .iter()
            .map(|m| json!({"appointment_id": m.appointment_id, "from": m.from, "to": m.to}))
            .collect();
        to_py(
            py,
            &json!({"examined": r.examined, "per_workspace": per, "moves": moves}),
        )
    }

    /// Assigns an unrouted appointment to a workspace by hand (``routing_method ==
    /// "manual"``), queues its delivery and records an ``assigned_manually`` event with
    /// ``note``. Raises ``NotFoundError`` for an unknown appointment or workspace and
    /// ``ConflictError`` when the appointment is already routed.
    #[pyo3(signature = (appointment_id, workspace_id, note = ""))]
    fn assign_manually(
        &self,
        py: Python<'_>,
        appointment_id: i64,
        workspace_id: &str,
        note: &str,
    ) -> PyResult<()> {
        py.detach(|| {
            self.engine
                .assign_manually(appointment_id, workspace_id, note)
        })
        .map_err(err(py))
    }

    fn __repr__(&self) -> String {
        format!("Engine.open({:?})", self.path)
    }
}
