//! `Engine` (over SQLite): configuration, trusted intake, the intake wall, delivery, queries,
//! and the appointment's life after delivery (lifecycle, returns, redelivery, reassignment,
//! reprocessing, Cal.com bookings).
//!
//! Results are the engine's own records and reports, serialized by serde and handed to Python
//! by [`crate::convert::result_to_py`] (times become `datetime`). Every call that touches the
//! store goes through an [`Engine`] method, with the GIL released.

use crate::convert::{from_py, result_to_py, to_json_text, to_py};
use crate::errors::{err, validation};
use crate::outcome::{outcome_to_py, outcomes_to_py};
use crate::reports::{
    report_value, BillingSummary, Booking, DeliveryRecord, ProviderTotals, Reassigned, Reprocessed,
    WithEvents,
};
use crate::routing::{rules_from_py, zip_arg};
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::Offset;
use jiff::{SignedDuration, Timestamp};
use leadroute_core::contact::DedupScope;
use leadroute_core::delivery::UreqTransport;
use leadroute_core::email::EmailKeyRules;
use leadroute_core::engine::{DeliveryReport, InboundRequest, IngestOutcome as CoreOutcome};
use leadroute_core::intake::{self, RawRecord};
use leadroute_core::lifecycle::Actor;
use leadroute_core::model::{
    AppointmentId, ContactId, DeliveryId, EventSubject, LeadId, RecordFormat, RejectionFilter,
    ReturnId, ReturnPolicy, Workspace,
};
use leadroute_core::routing::TiePolicy;
use leadroute_core::seed;
use leadroute_core::status::ReasonCode;
use leadroute_core::validate::{ValidationOptions, VerticalRules};
use leadroute_core::{Engine, EngineConfig, Error};
use leadroute_sqlite::SqliteStore;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDateTime, PyDict, PyString, PyType};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

/// The leadroute engine over a SQLite database: configuration, intake, routing, delivery and
/// billing. Create it with :meth:`Engine.open`; release it with :meth:`close` or a ``with``
/// block. Thread-safe: methods release the GIL while they work, and one ``Engine`` may be
/// shared by threads.
#[pyclass(frozen, module = "leadroute._leadroute", name = "Engine")]
pub struct PyEngine {
    /// `None` once closed. Calls clone the `Arc` and work outside the lock, so closing waits
    /// for no call; the store is released when the last running call ends.
    engine: RwLock<Option<Arc<Engine>>>,
    path: String,
    transport: OnceLock<UreqTransport>,
}

pub(crate) fn option_error(py: Python<'_>, field: &str, value: &str, expected: &str) -> PyErr {
    validation(
        py,
        &format!("{field}: unknown value {value:?} (expected {expected})"),
        "invalid_option",
        Some(field),
    )
}

/// `required_fields=`: `None` (no per-vertical rules), `"seed"` (the table drawn from the
/// corpus), or a mapping of lead type to field names.
fn vertical_rules(
    py: Python<'_>,
    required_fields: Option<&Bound<'_, PyAny>>,
) -> PyResult<VerticalRules> {
    Ok(match required_fields {
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
    })
}

/// `dedup_scope=`: `"provider"`, `"webhook"` or `"global"`.
fn dedup_scope_of(py: Python<'_>, dedup_scope: &str) -> PyResult<DedupScope> {
    match dedup_scope.trim() {
        "provider" => Ok(DedupScope::Provider),
        "webhook" => Ok(DedupScope::Webhook),
        "global" => Ok(DedupScope::Global),
        other => Err(option_error(
            py,
            "dedup_scope",
            other,
            "provider, webhook or global",
        )),
    }
}

/// Parses an aware `datetime` or an RFC 3339 string.
///
/// A `datetime` is read through pyo3's `jiff` conversions: its wall clock and the UTC offset
/// its `tzinfo` gives (`utcoffset()`, so folds and gaps resolve as Python resolves them).
/// Anything else (a naive `datetime`, a sub-minute offset, a `datetime` subclass, another
/// object) is read from its `isoformat()` text, as RFC 3339.
pub(crate) fn time_arg(py: Python<'_>, field: &str, v: &Bound<'_, PyAny>) -> PyResult<Timestamp> {
    let datetime_type = py.import("datetime")?.getattr("datetime")?;
    if v.get_type().as_any().is(&datetime_type) {
        if let Some(t) = aware_datetime(v.cast::<PyDateTime>()?)? {
            return Ok(t);
        }
    }
    let text = match v.cast::<PyString>() {
        Ok(s) => s.to_cow()?.into_owned(),
        Err(_) => v.call_method0("isoformat")?.extract::<String>()?,
    };
    leadroute_core::rfc3339::parse(&text).map_err(|e| {
        validation(
            py,
            &format!("{field}: {text:?} is not an RFC 3339 time with an offset ({e})"),
            "invalid_time",
            Some(field),
        )
    })
}

/// The instant of an aware `datetime` whose UTC offset is whole minutes; `None` otherwise.
fn aware_datetime(dt: &Bound<'_, PyDateTime>) -> PyResult<Option<Timestamp>> {
    let offset = dt.call_method0("utcoffset")?;
    if offset.is_none() {
        return Ok(None);
    }
    let offset: SignedDuration = offset.extract()?;
    if offset.as_secs() % 60 != 0 || offset.subsec_nanos() != 0 {
        return Ok(None);
    }
    let Ok(offset) = i32::try_from(offset.as_secs()).map(Offset::from_seconds) else {
        return Ok(None);
    };
    let Ok(offset) = offset else {
        return Ok(None);
    };
    let date: Date = dt.extract()?;
    let time: Time = dt.call_method0("time")?.extract()?;
    Ok(offset.to_timestamp(DateTime::from_parts(date, time)).ok())
}

/// The text of a `str`, `bytes` or `bytearray` record (bytes are decoded as UTF-8, lossily).
pub(crate) fn record_text(obj: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
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
        "a body is a dict, str or bytes, not {}",
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

/// One record as the engine takes it (see `Engine.ingest`).
fn raw_record(
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

/// `serde_json::Value` of an engine record, as an engine error when it does not serialize.
pub(crate) fn value_of<T: serde::Serialize>(v: &T) -> Result<Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::Internal(format!("serializing a result: {e}")))
}

/// Workspaces from their dicts in the seed's shape, with each one's ``returns`` policy
/// (which `seed::load_workspaces` does not read) parsed here and set.
fn workspaces_from(py: Python<'_>, value: &Value, webhook_base: &str) -> PyResult<Vec<Workspace>> {
    let mut workspaces =
        seed::load_workspaces(&value.to_string(), webhook_base).map_err(|e| err(py)(e.into()))?;
    let Value::Array(items) = value else {
        return Ok(workspaces);
    };
    for (workspace, item) in workspaces.iter_mut().zip(items) {
        match item.get("returns") {
            None | Some(Value::Null) => {}
            Some(policy) => {
                workspace.returns = serde_json::from_value::<ReturnPolicy>(policy.clone())
                    .map_err(|e| {
                        validation(
                            py,
                            &format!("workspaces.json: workspace {}: returns: {e}", workspace.id),
                            "invalid_shape",
                            Some("workspaces"),
                        )
                    })?;
            }
        }
    }
    Ok(workspaces)
}

/// `actor=`: `None` is `api`; otherwise `api`, `client`, `calcom`, `system` or a user id.
fn actor_arg(actor: Option<&str>) -> Actor {
    actor.map_or(Actor::Api, Actor::parse)
}

/// `reason=` of `reprocess_rejections`: a rejection reason code.
fn reason_code_arg(py: Python<'_>, reason: &str) -> PyResult<ReasonCode> {
    reason.trim().parse().map_err(|_| {
        option_error(
            py,
            "reason",
            reason,
            "a rejection reason code such as unknown_product or missing_phone",
        )
    })
}

/// The event subject named in Python.
fn subject_arg(py: Python<'_>, subject: &str) -> PyResult<EventSubject> {
    match subject {
        "contact" => Ok(EventSubject::Contact),
        "lead" => Ok(EventSubject::Lead),
        "appointment" => Ok(EventSubject::Appointment),
        "rejection" => Ok(EventSubject::Rejection),
        other => Err(option_error(
            py,
            "subject",
            other,
            "contact, lead, appointment or rejection",
        )),
    }
}

impl PyEngine {
    /// The engine, or `ValueError("engine is closed")`.
    pub(crate) fn engine(&self) -> PyResult<Arc<Engine>> {
        self.engine
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| PyValueError::new_err("engine is closed"))
    }

    /// Runs `f` on the engine with the GIL released and hands its value to Python as a result
    /// (see [`result_to_py`]).
    pub(crate) fn query<'py>(
        &self,
        py: Python<'py>,
        f: impl FnOnce(&Engine) -> Result<Value, Error> + Send,
    ) -> PyResult<Bound<'py, PyAny>> {
        let engine = self.engine()?;
        let v = py.detach(|| f(&engine)).map_err(err(py))?;
        result_to_py(py, &v)
    }

    /// The provider's record format for splitting records in Python-side calls (JSON for an
    /// unknown provider, which the engine then refuses).
    fn format_of(engine: &Engine, provider_id: &str) -> RecordFormat {
        engine
            .record_format(provider_id)
            .unwrap_or(RecordFormat::Json)
    }

    /// Trusted records in batches of `batch_size`, one transaction each, GIL released.
    fn ingest_records(
        &self,
        py: Python<'_>,
        engine: &Engine,
        provider_id: &str,
        records: Vec<RawRecord>,
        batch_size: usize,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let out = py.detach(|| -> Result<Vec<CoreOutcome>, Error> {
            if records.is_empty() {
                // Still checks the provider.
                return engine.ingest_batch(provider_id, &[]);
            }
            let mut out = Vec::with_capacity(records.len());
            for chunk in records.chunks(batch_size.max(1)) {
                out.extend(engine.ingest_batch(provider_id, chunk)?);
            }
            Ok(out)
        });
        outcomes_to_py(py, out.map_err(err(py))?)
    }
}

#[pymethods]
impl PyEngine {
    /// Opens (creating and migrating if needed) the SQLite database at ``path`` (a ``str`` or
    /// ``os.PathLike``) and loads its configuration. ``":memory:"`` opens a private in-memory
    /// database.
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
    /// The contact queue (leads without an appointment time wait there to be called; see
    /// :meth:`claim_contact_batch`): ``contact_queue`` is ``{"settings": {"automation_enabled"
    /// (default ``True``), "max_batch" (the most leads one claim hands out, default 5),
    /// "retry_interval_seconds" (after a no-answer, default 14400), "max_attempts" (default
    /// 3)}, "per_lead_type": {lead_type: settings}, "always_contact": [lead types queued even
    /// with an appointment time], "never_contact": [lead types never queued]}``, every key
    /// optional; ``contact_lease`` is how long a claimed lead stays with its worker (seconds,
    /// default 900) before another may claim it.
    ///
    /// Raises ``StorageError`` when the file cannot be opened or migrated, and
    /// ``ValidationError`` (``.code == "invalid_option"``) for a bad option.
    #[staticmethod]
    #[pyo3(signature = (
        path = PathBuf::from("leadroute.db"), *, require_phone = true, tie_policy = "lowest_id",
        dedup_scope = "provider", default_region = "US", duplicate_window_days = 30,
        gmail_rules = false, delivery_workers = 8, request_timeout = 15.0,
        extra_products = None, product_aliases = None, required_fields = None,
        contact_queue = None, contact_lease = 900.0
    ))]
    // The generated signature would show the default path as `...` (not a literal).
    #[pyo3(text_signature = "(path='leadroute.db', *, require_phone=True, \
        tie_policy='lowest_id', dedup_scope='provider', default_region='US', \
        duplicate_window_days=30, gmail_rules=False, delivery_workers=8, request_timeout=15.0, \
        extra_products=None, product_aliases=None, required_fields=None, \
        contact_queue=None, contact_lease=900.0)")]
    #[allow(clippy::too_many_arguments)]
    fn open(
        py: Python<'_>,
        path: PathBuf,
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
        contact_queue: Option<&Bound<'_, PyAny>>,
        contact_lease: f64,
    ) -> PyResult<PyEngine> {
        let vertical_rules = vertical_rules(py, required_fields)?;
        let contact_queue = crate::outreach::contact_queue_config(py, contact_queue)?;
        let contact_lease = crate::outreach::lease_option(py, contact_lease)?;
        let tie_policy = TiePolicy::from_code(tie_policy).ok_or_else(|| {
            option_error(
                py,
                "tie_policy",
                tie_policy,
                "lowest_id, weighted_round_robin or least_recently_routed",
            )
        })?;
        let dedup_scope = dedup_scope_of(py, dedup_scope)?;
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
            duplicate_window: SignedDuration::from_hours(i64::from(duplicate_window_days) * 24),
            request_timeout: Duration::from_secs_f64(request_timeout),
            delivery_workers: delivery_workers.max(1),
            extra_products: extra_products.unwrap_or_default(),
            product_aliases: product_aliases.unwrap_or_default().into_iter().collect(),
            tie_policy,
            validation: ValidationOptions {
                vertical_rules,
                ..ValidationOptions::default()
            },
            contact_queue,
            contact_lease,
            ..EngineConfig::default()
        };
        let shown = path.to_string_lossy().into_owned();
        let engine = py
            .detach(|| -> Result<Engine, Error> {
                let store = if path.as_os_str() == ":memory:" {
                    SqliteStore::open_in_memory()?
                } else {
                    SqliteStore::open(&path)?
                };
                Engine::new(Arc::new(store), config)
            })
            .map_err(err(py))?;
        Ok(PyEngine {
            engine: RwLock::new(Some(Arc::new(engine))),
            path: shown,
            transport: OnceLock::new(),
        })
    }

    /// The database path given to :meth:`open`, as a ``str``.
    #[getter]
    fn path(&self) -> &str {
        &self.path
    }

    /// Whether :meth:`close` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.engine
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    /// Releases the database: the engine lets go of the store (for a file, its connections;
    /// for ``":memory:"``, the data). Calls already running finish first, with the GIL
    /// released; every later call raises ``ValueError("engine is closed")``. Closing again
    /// does nothing.
    fn close(&self, py: Python<'_>) {
        let engine = self
            .engine
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // Dropping the last reference closes the store, which may wait for SQLite.
        py.detach(move || drop(engine));
    }

    /// Returns the engine itself, for ``with Engine.open(...) as engine:``.
    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Closes the engine (see :meth:`close`); exceptions propagate.
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyType>>,
        exc_value: Option<&Bound<'_, PyAny>>,
        traceback: Option<&Bound<'_, PyAny>>,
    ) {
        let _ = (exc_type, exc_value, traceback);
        self.close(py);
    }

    /// Adds or updates providers, workspaces, routing rules and inbound webhooks (upserts by
    /// id) from lists of dicts in the seed's shapes (``providers.json``, ``workspaces.json``
    /// with ``payment_rate`` in dollars, ``routing_rules.json`` plus the targeting fields,
    /// ``webhook_configs``). ``webhook_base`` (e.g. ``"http://127.0.0.1:8080"``) replaces the
    /// ``http://127.0.0.1:{port}`` placeholder in workspace webhook URLs. Providers,
    /// workspaces and rules are written in one transaction.
    ///
    /// A workspace may carry ``returns``, its return policy: ``{"window_days" (days after
    /// delivery; None: no limit), "allowed_reasons" ([]: any), "max_per_period" ({"count": n}
    /// or {"percent": x} per calendar month, UTC; None: no limit), "review" (True: returns
    /// wait for approval), "credit_no_show", "credit_late_cancel_hours"}``, and
    /// ``delivery.events``, the lifecycle webhook events it receives (e.g.
    /// ``["appointment.cancelled"]``; ``None``: all; ``appointment.created`` is always sent).
    /// An inbound webhook with scheme ``cal_com`` takes a ``calcom`` block: ``{"provider_id",
    /// "products" ({event type slug or id: product}), "phone_field", "zip_field"}`` (see
    /// :meth:`ingest_cal_webhook`).
    ///
    /// A workspace may also carry ``calendar``, its booking calendar cut from its weekly
    /// ``schedule`` in its time zone: ``{"slot_minutes" (60), "capacity" (bookings per slot,
    /// 1), "buffer_minutes" (0), "min_lead_minutes" (120), "horizon_days" (30),
    /// "blackout_dates" (local ``YYYY-MM-DD`` dates or ``date`` objects)}`` (see
    /// :meth:`available_slots` and :meth:`book`); and ``messages``, its confirmations and
    /// reminders: ``{"confirmation" (True), "reminder_offsets_minutes" ([1440, 60]),
    /// "retry_backoff_seconds" ([60, 300, 1800])}`` (see :meth:`send_due_messages`; a
    /// workspace without one sends none).
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
        let engine = self.engine()?;
        if let Some(w) = webhooks {
            let configs = seed::load_webhook_configs(&from_py(w)?.to_string())
                .map_err(|e| err(py)(Error::from(e)))?;
            py.detach(|| engine.configure_webhooks(&configs))
                .map_err(err(py))?;
        }
        let providers = match providers {
            Some(p) => seed::load_providers(&from_py(p)?.to_string())
                .map_err(|e| err(py)(Error::from(e)))?,
            None => Vec::new(),
        };
        let workspaces = match workspaces {
            Some(w) => workspaces_from(
                py,
                &from_py(w)?,
                webhook_base.unwrap_or(seed::URL_TEMPLATE_ORIGIN),
            )?,
            None => Vec::new(),
        };
        let rules = match rules {
            Some(r) => rules_from_py(py, r)?,
            None => Vec::new(),
        };
        py.detach(|| engine.configure(&providers, &workspaces, &rules))
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
    /// ``rate_window`` (seconds), ``is_active``, and for a Cal.com booking webhook
    /// ``calcom``). Providers post through one when it is in their ``allowed_webhooks``. See
    /// :meth:`configure`.
    fn add_webhooks(&self, py: Python<'_>, webhooks: &Bound<'_, PyAny>) -> PyResult<()> {
        self.configure(py, None, None, None, None, Some(webhooks))
    }

    /// Adds or updates routing rules (dicts in the shape of ``routing_rules.json`` plus
    /// targeting). See :meth:`configure`.
    fn add_rules(&self, py: Python<'_>, rules: &Bound<'_, PyAny>) -> PyResult<()> {
        self.configure(py, None, None, Some(rules), None, None)
    }

    /// Ingests one record from a provider, **trusted**, and returns its outcome:
    /// :class:`Accepted`, :class:`Rejected` or :class:`Replayed`.
    ///
    /// Trusted means the caller has already authenticated the record's sender (an
    /// in-process script, or a service that checked the provider itself): no API key,
    /// signature, rate limit or replay check applies, and nothing here takes credentials. A
    /// provider's HTTP request goes through :meth:`ingest_request` instead.
    ///
    /// ``record`` is a dict (sent as JSON), a ``str``, or ``bytes`` (decoded as UTF-8, invalid
    /// sequences replaced). For a JSON provider the text is one JSON object; for a CSV provider
    /// it is a header line followed by exactly one row (a dict is accepted for either).
    ///
    /// A bad record is not an error: it is stored as a rejection (:class:`Rejected`).
    /// Raises ``NotFoundError`` (``unknown_provider``), ``ForbiddenError`` for an inactive
    /// provider (``provider_inactive``), ``ValidationError`` for CSV text without exactly one row, ``TypeError`` for
    /// another record type, ``StorageError`` when the database fails.
    fn ingest(
        &self,
        py: Python<'_>,
        provider_id: &str,
        record: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let engine = self.engine()?;
        let raw = raw_record(py, Self::format_of(&engine, provider_id), record)?;
        let mut out = py
            .detach(|| engine.ingest_batch(provider_id, std::slice::from_ref(&raw)))
            .map_err(err(py))?;
        let one = out
            .pop()
            .ok_or_else(|| err(py)(Error::Internal("no outcome for one record".into())))?;
        outcome_to_py(py, one)
    }

    /// Ingests many records from one provider, **trusted** (see :meth:`ingest`): any iterable
    /// of records as :meth:`ingest` takes them; one outcome per record, in order. Records are
    /// written ``batch_size`` per transaction, with the GIL released; re-ingesting the same
    /// records is a replay. When the database fails, the batches before the failing one stay
    /// stored and the error is raised (ingesting again is safe).
    #[pyo3(signature = (provider_id, records, *, batch_size = 1000))]
    fn ingest_many(
        &self,
        py: Python<'_>,
        provider_id: &str,
        records: &Bound<'_, PyAny>,
        batch_size: usize,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let engine = self.engine()?;
        let format = Self::format_of(&engine, provider_id);
        let mut raws = Vec::new();
        for r in records.try_iter()? {
            raws.push(raw_record(py, format, &r?)?);
        }
        self.ingest_records(py, &engine, provider_id, raws, batch_size)
    }

    /// Splits a whole body in the provider's format (JSON Lines: one object per non-blank
    /// line; CSV: a header row, then one record per row) and ingests every record,
    /// **trusted**, as :meth:`ingest_many`. ``body`` is ``str`` or ``bytes``.
    #[pyo3(signature = (provider_id, body, *, batch_size = 1000))]
    fn ingest_body(
        &self,
        py: Python<'_>,
        provider_id: &str,
        body: &Bound<'_, PyAny>,
        batch_size: usize,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let engine = self.engine()?;
        let text =
            record_text(body)?.ok_or_else(|| PyTypeError::new_err("a body is str or bytes"))?;
        let format = Self::format_of(&engine, provider_id);
        let split = py
            .detach(|| intake::split(format, &text))
            .map_err(|e| err(py)(Error::from(e)))?;
        self.ingest_records(py, &engine, provider_id, split.records, batch_size)
    }

    /// Ingests one HTTP request from a provider through the **intake wall**, as a service
    /// that receives provider requests would: every call is authenticated, with or without
    /// credentials (a provider with an API key and no key given is ``UnauthorizedError``
    /// ``missing_api_key``, never a bypass). Returns one outcome per record in the body.
    ///
    /// ``body`` is the request's exact bytes (``str`` is sent as UTF-8, a dict as JSON text);
    /// it is split by the provider's format (JSON: one object, an array of objects or JSON
    /// Lines; CSV with a header row; one form-encoded record) and stored in one transaction.
    /// ``api_key`` is checked against the provider's stored hash; ``headers`` (a mapping or
    /// ``(name, value)`` pairs) carry the signature of the inbound webhook ``webhook_id`` when
    /// it has a secret, or of the provider's own signing secret; rate limits and replay
    /// protection apply and are counted in :meth:`provider_usage`.
    ///
    /// A bad record is not an error: it is stored as a rejection. Raises
    /// ``UnauthorizedError`` (``.code`` ``missing_api_key``, ``invalid_api_key``,
    /// ``bad_signature``, ``stale_timestamp``, ``replayed``, ``no_credentials_configured``,
    /// ...), ``ForbiddenError`` (``provider_inactive``, ``webhook_not_allowed``, ...),
    /// ``RateLimitedError`` (with ``.retry_after`` seconds), ``ValidationError`` for a body
    /// over the size limit or a CSV body without a header, ``TypeError`` for another body
    /// type, ``StorageError`` when the database fails.
    #[pyo3(signature = (provider_id, body, *, headers = None, api_key = None, webhook_id = None))]
    fn ingest_request(
        &self,
        py: Python<'_>,
        provider_id: &str,
        body: &Bound<'_, PyAny>,
        headers: Option<&Bound<'_, PyAny>>,
        api_key: Option<String>,
        webhook_id: Option<String>,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let engine = self.engine()?;
        let body = body_bytes(body)?;
        let headers = header_pairs(headers)?;
        let request = InboundRequest {
            provider_id,
            webhook_id: webhook_id.as_deref(),
            api_key: api_key.as_deref(),
            headers: &headers,
            body: &body,
        };
        let out = py
            .detach(|| engine.ingest_request(&request))
            .map_err(err(py))?;
        outcomes_to_py(py, out)
    }

    /// Posts due deliveries to the workspaces' webhooks (signed per Standard Webhooks, over
    /// HTTP with ``ureq``) and records every attempt and, on a 2xx answer, the billing event.
    /// ``limit`` caps the deliveries claimed; ``None`` repeats in batches of 100 until nothing
    /// is due (retries scheduled for later stay queued). Returns ``{"attempted", "delivered",
    /// "retrying", "failed", "deferred", "billed_cents"}`` (``deferred``: put back without an
    /// attempt, the endpoint being paused, disabled or inactive). Runs with the GIL released.
    #[pyo3(signature = (limit = None))]
    fn deliver_due<'py>(
        &self,
        py: Python<'py>,
        limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let transport = self.transport.get_or_init(UreqTransport::new);
        self.query(py, |e| {
            let mut total = DeliveryReport::default();
            loop {
                let r = e.deliver_due(transport, limit.unwrap_or(100))?;
                total.add(&r);
                if limit.is_some() || r.attempted == 0 {
                    return report_value(&total);
                }
            }
        })
    }

    /// Whole-store counts: ``contacts``, ``leads``, ``rejections``, ``appointments``,
    /// ``appointments_routed``, ``appointments_unrouted``, ``deliveries``,
    /// ``deliveries_succeeded``, ``deliveries_failed``, ``attempts``, ``billing_events`` and
    /// ``billed_cents`` (all int).
    fn counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| value_of(&e.counts()?))
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
        self.query(py, |e| value_of(&e.unrouted(AppointmentId(after), limit)?))
    }

    /// The appointment with this id as a dict, or ``None``: ``id``, ``lead_id``,
    /// ``contact_id``, ``service_type``, ``zip_code``, ``appointment_date`` (its start),
    /// ``estimated_value`` (dollars), ``notes``; ``routing_status`` and, when ``"routed"``,
    /// ``workspace_id``, ``rule_id`` (``None`` when assigned by hand), ``routing_method``
    /// (``"auto"``/``"manual"``), ``matched_at``, ``payment_rate_cents``, or, when
    /// ``"unrouted"``, ``unrouted_reason``; the seed details ``end_time``,
    /// ``duration_minutes``, ``appointment_type``, ``location_type``, ``location_address``,
    /// ``customer_notes``, ``next_action``, ``next_action_date`` (a ``datetime.date``),
    /// ``cal_booking_uid``; ``created_at``, ``forward_status``, ``forward_attempts``,
    /// ``forwarded_at``, ``forward_response``; the lifecycle: ``status`` (``"scheduled"``,
    /// ``"confirmed"``, ``"completed"``, ``"cancelled"``, ``"no_show"``, ``"rescheduled"``),
    /// ``reschedule_count``, ``outcome``, ``cancellation_reason``, ``reschedule_requested``,
    /// ``status_changed_at``; and ``events`` (the audit trail; a routing event's ``detail`` is
    /// its trace). Times are aware ``datetime`` objects in UTC.
    fn appointment<'py>(&self, py: Python<'py>, id: i64) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| match e.appointment(AppointmentId(id))? {
            Some(record) => value_of(&WithEvents {
                record,
                events: e.events(EventSubject::Appointment, id)?,
            }),
            None => Ok(Value::Null),
        })
    }

    /// The lead with this id as a dict, or ``None``: ``id``, ``contact_id``,
    /// ``duplicate_of``, ``provider_id``, ``record_key``, ``external_id``, ``product_type``,
    /// ``zip_code``, ``appointment_date``, ``estimated_value``, ``tcpa_consent``, ``fields``
    /// (normalized canonical fields and the provider's other fields), ``warnings``,
    /// ``raw_payload`` (verbatim), ``received_at``, ``events``.
    fn lead<'py>(&self, py: Python<'py>, id: i64) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| match e.lead(LeadId(id))? {
            Some(record) => value_of(&WithEvents {
                record,
                events: e.events(EventSubject::Lead, id)?,
            }),
            None => Ok(Value::Null),
        })
    }

    /// The contact with this id as a dict, or ``None``: ``id``, ``dedup_scope``, ``phone``
    /// (E.164), ``phone_extension``, ``email``, ``email_key``, ``first_name``, ``last_name``,
    /// ``zip_code``, ``created_at``, ``events`` (creation and every field change with its old
    /// and new value).
    fn contact<'py>(&self, py: Python<'py>, id: i64) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| match e.contact(ContactId(id))? {
            Some(record) => value_of(&WithEvents {
                record,
                events: e.events(EventSubject::Contact, id)?,
            }),
            None => Ok(Value::Null),
        })
    }

    /// The audit trail of one subject, oldest first: ``subject`` is ``"lead"``,
    /// ``"contact"``, ``"appointment"`` or ``"rejection"`` (the events of a stored rejection,
    /// by its ``rejection_id``). Each event is ``{"subject", "subject_id", "event_type",
    /// "detail", "created_at"}``. Raises ``ValidationError`` for another subject.
    fn events<'py>(&self, py: Python<'py>, subject: &str, id: i64) -> PyResult<Bound<'py, PyAny>> {
        let subject = subject_arg(py, subject)?;
        self.query(py, |e| value_of(&e.events(subject, id)?))
    }

    /// A lead's status changes, oldest first: ``new``, then ``duplicate``, ``routed`` or
    /// ``unrouted``, then ``delivered``, ``delivery_failed`` or ``returned``. Each is
    /// ``{"lead_id", "from_status", "to_status", "reason", "changed_at"}`` (``from_status``
    /// ``None`` for the first). An unknown lead has none.
    fn lead_status_history<'py>(
        &self,
        py: Python<'py>,
        lead_id: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| value_of(&e.lead_status_history(LeadId(lead_id))?))
    }

    /// Billing per workspace for charges recorded in ``since <= created_at < until`` (aware
    /// ``datetime`` or RFC 3339 strings; default: all time). Returns ``{"charges",
    /// "charged_cents", "credits", "credited_cents", "net_cents", "pending_returns",
    /// "pending_return_cents", "per_workspace": [{"workspace_id", "charges", "charged_cents",
    /// "credits", "credited_cents", "net_cents", "pending_returns", "pending_return_cents"}]}``
    /// (amounts in integer cents; ``pending_returns`` counts returns waiting for review, and
    /// ``pending_return_cents``, negative, is what they would credit; workspaces without
    /// events are left out).
    #[pyo3(signature = (*, since = None, until = None))]
    fn billing_summary<'py>(
        &self,
        py: Python<'py>,
        since: Option<&Bound<'py, PyAny>>,
        until: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let from = match since {
            Some(s) => time_arg(py, "since", s)?,
            None => Timestamp::UNIX_EPOCH,
        };
        let to = match until {
            Some(u) => time_arg(py, "until", u)?,
            None => Timestamp::MAX,
        };
        self.query(py, |e| {
            value_of(&BillingSummary::new(e.billing_summary(from, to)?))
        })
    }

    /// A provider's intake per (inbound webhook, UTC day), as ``provider_usage_log`` keeps
    /// it, ordered by day: ``[{"provider_id", "webhook_id", "day", "requests", "refused",
    /// "total_leads", "accepted", "rejected", "last_lead_at"}]`` (``webhook_id`` ``None`` for
    /// records ingested directly; ``day`` a ``datetime.date``; ``last_lead_at`` an aware
    /// ``datetime`` or ``None``).
    fn provider_usage<'py>(
        &self,
        py: Python<'py>,
        provider_id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| value_of(&e.provider_usage(provider_id)?))
    }

    /// A provider's totals over all time: ``{"total_leads", "last_lead_at"}``, the records
    /// stored (leads and rejections, replays not counted) and when the last one was (an
    /// aware ``datetime``, or ``None`` before the first). An unknown provider has none.
    fn provider_totals<'py>(
        &self,
        py: Python<'py>,
        provider_id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| {
            let (total_leads, last_lead_at) = e.provider_totals(provider_id)?;
            value_of(&ProviderTotals {
                total_leads,
                last_lead_at,
            })
        })
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
        let engine = self.engine()?;
        let v = py
            .detach(|| engine.explain(product, zip))
            .map_err(err(py))?;
        to_py(py, &v)
    }

    /// Routes the unrouted queue again against the current rules and workspaces (e.g. after
    /// adding rules), ``batch`` appointments per transaction. Returns ``{"examined",
    /// "routed": {workspace_id: n}, "still_unrouted": {reason: n}}``.
    #[pyo3(signature = (*, batch = 500))]
    fn reroute_unrouted<'py>(&self, py: Python<'py>, batch: usize) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| report_value(&e.reroute_unrouted(batch)?))
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
        self.query(py, |e| report_value(&e.backtest(&rules)?))
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
        let engine = self.engine()?;
        py.detach(|| engine.assign_manually(AppointmentId(appointment_id), workspace_id, note))
            .map_err(err(py))
    }

    /// Returns a delivered appointment (the client disputes it): writes a credit that
    /// reverses its charge, gives back what it used of the workspace's and the rule's caps
    /// and budget, records a ``returned`` event with ``reason`` and sets the lead's status to
    /// ``returned``, in one transaction. Returns the credit: ``{"appointment_id",
    /// "workspace_id", "kind": "credit", "amount_cents" (negative), "created_at"}``.
    ///
    /// This is :meth:`request_return` by ``"api"`` under the workspace's return policy, for
    /// a return approved at once.
    ///
    /// Raises ``NotFoundError`` (``unknown_appointment``), ``ConflictError`` when the
    /// appointment was never billed (``not_billed``), was already returned
    /// (``already_returned``) or the policy refuses it (``return_window_closed``,
    /// ``return_limit_reached``) or reviews returns (``return_needs_review``; nothing is
    /// written: use ``request_return``),
    /// and ``ValidationError`` (``return_reason_not_allowed``).
    fn return_appointment<'py>(
        &self,
        py: Python<'py>,
        appointment_id: i64,
        reason: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| {
            value_of(&e.return_appointment(AppointmentId(appointment_id), reason)?)
        })
    }

    /// Confirms an appointment (``scheduled`` or ``rescheduled`` → ``confirmed``).
    ///
    /// ``actor`` says who made the change: ``None`` (``"api"``), ``"api"``, ``"client"``,
    /// ``"calcom"``, ``"system"`` or a user id; it is kept in the appointment's history. In
    /// one transaction the engine writes the new status, a ``confirmed`` history event and,
    /// for a routed appointment whose workspace receives ``appointment.confirmed`` (see
    /// ``delivery.events``), the client's webhook event, queued behind the appointment's
    /// earlier deliveries.
    ///
    /// Returns ``{"appointment_id", "status", "previous_status", "applied", "delivery_id",
    /// "credit"}``: ``applied`` is ``False`` for a no-op (it already is confirmed; nothing is
    /// written), ``delivery_id`` the queued event or ``None``, ``credit`` the billing event a
    /// return policy wrote or ``None``.
    ///
    /// Raises ``NotFoundError`` (``unknown_appointment``) and ``ConflictError``
    /// (``invalid_transition``: the status does not allow it, e.g. a cancelled appointment;
    /// nothing is written).
    #[pyo3(signature = (id, *, actor = None))]
    fn confirm_appointment<'py>(
        &self,
        py: Python<'py>,
        id: i64,
        actor: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = actor_arg(actor);
        self.query(py, |e| {
            value_of(&e.confirm_appointment(AppointmentId(id), &actor)?)
        })
    }

    /// Moves an appointment to ``start``, and to ``end`` when given (else its duration is
    /// kept): the id stays, ``reschedule_count`` goes up and the status becomes
    /// ``rescheduled`` (from ``scheduled``, ``confirmed`` or ``rescheduled``). ``start`` and
    /// ``end`` are aware ``datetime`` objects (or RFC 3339 strings with an offset); ``reason``
    /// is kept in the history and sent to the client. Rescheduling to the time it already has
    /// is a no-op. Returns the result as :meth:`confirm_appointment` does.
    ///
    /// Raises ``ValidationError`` (a ``ValueError``; ``invalid_time`` for a naive
    /// ``datetime``, ``end_before_start`` with ``.field == "end"``), ``NotFoundError``, and
    /// ``ConflictError`` (``invalid_transition``).
    #[pyo3(signature = (id, start, *, end = None, reason = None, actor = None))]
    fn reschedule_appointment<'py>(
        &self,
        py: Python<'py>,
        id: i64,
        start: &Bound<'py, PyAny>,
        end: Option<&Bound<'py, PyAny>>,
        reason: Option<String>,
        actor: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let start = time_arg(py, "start", start)?;
        let end = end.map(|t| time_arg(py, "end", t)).transpose()?;
        let actor = actor_arg(actor);
        self.query(py, |e| {
            value_of(&e.reschedule_appointment(
                AppointmentId(id),
                start,
                end,
                reason.as_deref(),
                &actor,
            )?)
        })
    }

    /// Cancels an appointment (from any live status: ``scheduled``, ``confirmed``,
    /// ``rescheduled``), with an optional ``reason`` (kept as ``cancellation_reason``). A
    /// cancelled appointment is never revived. Under a workspace policy with
    /// ``credit_late_cancel_hours``, a cancellation by anyone but ``"client"`` less than that
    /// many hours before the start credits the charge (``credit``). Returns the result as
    /// :meth:`confirm_appointment` does; raises as it does.
    #[pyo3(signature = (id, *, reason = None, actor = None))]
    fn cancel_appointment<'py>(
        &self,
        py: Python<'py>,
        id: i64,
        reason: Option<String>,
        actor: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = actor_arg(actor);
        self.query(py, |e| {
            value_of(&e.cancel_appointment(AppointmentId(id), reason.as_deref(), &actor)?)
        })
    }

    /// Replaces an appointment's seed details and returns the appointment (as
    /// :meth:`appointment`, without ``events``). ``details`` is a dict of ``end_time``
    /// (aware ``datetime`` or RFC 3339), ``duration_minutes`` (int), ``appointment_type``,
    /// ``location_type``, ``location_address``, ``customer_notes``, ``next_action`` (str) and
    /// ``next_action_date`` (``date`` or ``YYYY-MM-DD``); a missing key clears the field. The
    /// Cal.com uid is kept. Writes an ``updated`` appointment event with the old and new
    /// values and the actor.
    ///
    /// Raises ``NotFoundError`` (``unknown_appointment``) and ``ValidationError``
    /// (``invalid_option``) for a details dict of the wrong shape.
    #[pyo3(signature = (id, details, *, actor = None))]
    fn update_appointment_details<'py>(
        &self,
        py: Python<'py>,
        id: i64,
        details: &Bound<'py, PyAny>,
        actor: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = actor_arg(actor);
        let details: leadroute_core::model::AppointmentDetails =
            serde_json::from_value(crate::convert::from_py(details)?).map_err(|e| {
                crate::errors::validation(
                    py,
                    &format!("appointment details: {e}"),
                    "invalid_option",
                    Some("details"),
                )
            })?;
        self.query(py, |e| {
            value_of(&e.update_appointment_details(AppointmentId(id), &details, &actor)?)
        })
    }

    /// Marks an appointment ``completed`` (from a live status, or from ``no_show`` as an
    /// outcome correction), with an optional ``outcome`` (free text, e.g. ``"sold"``).
    /// Returns the result as :meth:`confirm_appointment` does; raises as it does.
    #[pyo3(signature = (id, *, outcome = None, actor = None))]
    fn complete_appointment<'py>(
        &self,
        py: Python<'py>,
        id: i64,
        outcome: Option<String>,
        actor: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = actor_arg(actor);
        self.query(py, |e| {
            value_of(&e.complete_appointment(AppointmentId(id), outcome.as_deref(), &actor)?)
        })
    }

    /// Marks the customer a no-show (from a live status, or from ``completed`` as an outcome
    /// correction). Under a workspace policy with ``credit_no_show`` a delivered
    /// appointment's charge is credited at once (``credit``). Returns the result as
    /// :meth:`confirm_appointment` does; raises as it does.
    #[pyo3(signature = (id, *, actor = None))]
    fn mark_no_show<'py>(
        &self,
        py: Python<'py>,
        id: i64,
        actor: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = actor_arg(actor);
        self.query(py, |e| {
            value_of(&e.mark_no_show(AppointmentId(id), &actor)?)
        })
    }

    /// The appointment's lifecycle history, oldest first: its events of the kinds
    /// ``confirmed``, ``rescheduled``, ``cancelled``, ``completed`` and ``no_show`` (event
    /// dicts as :meth:`events` returns; ``detail`` holds the old and new values, the actor
    /// and the reason). An unknown appointment has none.
    fn appointment_history<'py>(&self, py: Python<'py>, id: i64) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| value_of(&e.appointment_history(AppointmentId(id))?))
    }

    /// Requests the return of a delivered appointment on behalf of the workspace it was
    /// charged to, under that workspace's ``returns`` policy: approved at once (the credit is
    /// written, the capacity given back, the lead set ``returned``) or, with ``review``,
    /// left ``pending`` until :meth:`approve_return` or :meth:`deny_return`.
    ///
    /// Returns ``{"return_id", "appointment_id", "workspace_id", "status" ("pending",
    /// "approved"), "credit"}`` (``credit`` ``None`` while pending).
    ///
    /// Raises ``NotFoundError`` (``unknown_appointment``); ``ValidationError``
    /// (``return_reason_not_allowed``, ``.field == "reason"``); ``ConflictError``
    /// (``return_window_closed``, ``return_limit_reached``, ``not_billed``: never charged,
    /// ``already_returned``). Nothing is written on error.
    #[pyo3(signature = (appointment_id, reason, *, actor = None))]
    fn request_return<'py>(
        &self,
        py: Python<'py>,
        appointment_id: i64,
        reason: &str,
        actor: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let actor = actor_arg(actor);
        self.query(py, |e| {
            value_of(&e.request_return(AppointmentId(appointment_id), reason, &actor)?)
        })
    }

    /// Approves a pending return: writes its credit (``credit``), gives the capacity back and
    /// sets the lead ``returned``; ``note`` is kept with the decision. Returns the result as
    /// :meth:`request_return` does, with ``status == "approved"``.
    ///
    /// Raises ``NotFoundError`` (code ``not_found``) and ``ConflictError``
    /// (``return_not_pending``: already approved or denied).
    #[pyo3(signature = (return_id, *, note = None))]
    fn approve_return<'py>(
        &self,
        py: Python<'py>,
        return_id: i64,
        note: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| {
            value_of(&e.approve_return(ReturnId(return_id), note.as_deref())?)
        })
    }

    /// Denies a pending return: no credit (``credit`` is ``None``, ``status == "denied"``).
    /// Raises as :meth:`approve_return` does.
    #[pyo3(signature = (return_id, *, note = None))]
    fn deny_return<'py>(
        &self,
        py: Python<'py>,
        return_id: i64,
        note: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| {
            value_of(&e.deny_return(ReturnId(return_id), note.as_deref())?)
        })
    }

    /// The stored return with this id, or ``None``: ``{"id", "appointment_id",
    /// "workspace_id", "reason", "status", "actor", "credit_cents" (negative: the charge
    /// reversed), "requested_at", "decided_at", "decision_note"}``.
    fn return_record<'py>(&self, py: Python<'py>, return_id: i64) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| value_of(&e.return_record(ReturnId(return_id))?))
    }

    /// The appointment's deliveries (its own ``appointment.created`` and its lifecycle
    /// events), by ``sequence``: ``{"id", "appointment_id", "event", "sequence",
    /// "workspace_id", "webhook_id", "url", "payload" (the exact JSON text posted),
    /// "next_attempt_at", "created_at", "status" ("pending", "success", "failed"),
    /// "attempts", "locked_until", "retry_base"}``. An unknown appointment has none.
    fn deliveries<'py>(&self, py: Python<'py>, appointment_id: i64) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| {
            let rows = e.deliveries(AppointmentId(appointment_id))?;
            value_of(
                &rows
                    .into_iter()
                    .map(DeliveryRecord::from)
                    .collect::<Vec<_>>(),
            )
        })
    }

    /// Sends a failed or abandoned delivery again: due now, with the same ``webhook-id``
    /// (the client's idempotency key) and a fresh retry schedule; attempt numbers go on. For
    /// the appointment's own delivery, its ``forward_status`` is ``pending`` again and a lead
    /// marked ``delivery_failed`` is ``routed`` again. Post it with :meth:`deliver_due`.
    /// Returns the delivery as queued (a dict as :meth:`deliveries` returns).
    ///
    /// Raises ``NotFoundError`` (``unknown_delivery``) and ``ConflictError`` for a delivery
    /// already delivered.
    fn redeliver<'py>(&self, py: Python<'py>, delivery_id: i64) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| {
            value_of(&DeliveryRecord::from(e.redeliver(DeliveryId(delivery_id))?))
        })
    }

    /// Routes a returned, undeliverable or unrouted appointment again, to the next eligible
    /// workspace (skipping the current one when ``exclude_current``); it keeps its id and
    /// lifecycle. A routed result queues its delivery to the new workspace.
    ///
    /// Returns ``{"appointment_id", "from_workspace_id", "routing" ("routed" or
    /// "unrouted"), "workspace_id", "rule_id", "unrouted_reason", "delivery_id", "trace"}``
    /// (``workspace_id``/``rule_id`` when routed, ``unrouted_reason`` when not; ``trace`` the
    /// routing trace, where the excluded workspace shows as ``excluded_workspace``).
    ///
    /// Raises ``NotFoundError`` (``unknown_appointment``) and ``ConflictError`` when the
    /// appointment is with a workspace and neither returned nor undeliverable, or is no
    /// longer live (completed, cancelled, no-show).
    #[pyo3(signature = (appointment_id, *, exclude_current = true))]
    fn reassign<'py>(
        &self,
        py: Python<'py>,
        appointment_id: i64,
        exclude_current: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| {
            value_of(&Reassigned::from(
                e.reassign(AppointmentId(appointment_id), exclude_current)?,
            ))
        })
    }

    /// Runs stored rejections again through today's configuration (e.g. after adding a
    /// provider's product or fixing its field map), ``batch`` per transaction. Every filter
    /// set must match: ``reason`` (a rejection reason code such as ``"unknown_product"``),
    /// ``provider_id``, ``since <= received_at < until`` (aware ``datetime`` or RFC 3339).
    /// An accepted record becomes a lead (and an appointment, routed and queued); the others
    /// stay rejected, noted as reprocessed.
    ///
    /// Returns ``{"examined", "accepted": [{"rejection_id", "lead_id"}], "still_rejected":
    /// {first reason code: n}, "unreplayable"}`` (``unreplayable``: the provider is gone).
    /// Raises ``ValidationError`` (``invalid_option``) for an unknown reason code.
    #[pyo3(signature = (*, reason = None, provider_id = None, since = None, until = None, batch = 500))]
    fn reprocess_rejections<'py>(
        &self,
        py: Python<'py>,
        reason: Option<&str>,
        provider_id: Option<String>,
        since: Option<&Bound<'py, PyAny>>,
        until: Option<&Bound<'py, PyAny>>,
        batch: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = RejectionFilter {
            reason: reason.map(|r| reason_code_arg(py, r)).transpose()?,
            provider_id,
            from: since.map(|t| time_arg(py, "since", t)).transpose()?,
            to: until.map(|t| time_arg(py, "until", t)).transpose()?,
        };
        self.query(py, |e| {
            value_of(&Reprocessed::from(e.reprocess_rejections(&filter, batch)?))
        })
    }

    /// Takes one Cal.com booking webhook delivery (payload version 2021-10-20) for the
    /// inbound webhook ``webhook_id`` (scheme ``cal_com``, with a secret and a ``calcom``
    /// block; see :meth:`configure`). ``body`` is the request's exact bytes; ``headers`` (a
    /// mapping or ``(name, value)`` pairs, names compared case-insensitively) must carry
    /// ``X-Cal-Signature-256``, the hex HMAC-SHA256 of the body under the secret.
    ///
    /// ``BOOKING_CREATED`` creates the lead and appointment (routed and queued like any
    /// other); later triggers move the same appointment (a reschedule keeps its id) to the
    /// state the booking's whole event history folds to, with the actor ``calcom``. Every
    /// delivery is stored once: the same one again changes nothing.
    ///
    /// Returns ``{"trigger", "uid", "appointment_id", "status" (the lifecycle status after
    /// this delivery), "applied", "duplicate", "routing", "workspace_id", "rule_id",
    /// "unrouted_reason", "rejection_id"}``: ``applied`` is ``False`` for a duplicate, a stale
    /// event or an unknown trigger; ``routing`` (and its fields) is set when this delivery
    /// created the appointment; ``rejection_id`` when the booking did not make a valid lead.
    ///
    /// Raises ``NotFoundError`` (``unknown_webhook``: unknown, inactive or not a Cal.com
    /// webhook); ``UnauthorizedError`` (``calcom_no_secret``, ``calcom_missing_signature``,
    /// ``calcom_bad_signature``; nothing is stored); ``ValidationError`` (``calcom_malformed``,
    /// ``.field == "body"``; the bytes are kept as a rejection); ``TypeError`` for another body
    /// type.
    fn ingest_cal_webhook<'py>(
        &self,
        py: Python<'py>,
        webhook_id: &str,
        body: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let body = body_bytes(body)?;
        let headers = header_pairs(Some(headers))?;
        self.query(py, |e| {
            let pairs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            value_of(&Booking::from(
                e.ingest_cal_webhook(webhook_id, &body, &pairs)?,
            ))
        })
    }

    /// Re-enables a workspace's webhook endpoint (after a ``410 Gone`` disabled it, or to end
    /// a pause): its health is reset and every pending delivery to it is due now. Returns how
    /// many deliveries resume. Raises ``NotFoundError`` (``unknown_workspace``).
    fn enable_endpoint(&self, py: Python<'_>, workspace_id: &str) -> PyResult<u64> {
        let engine = self.engine()?;
        py.detach(|| engine.enable_endpoint(workspace_id))
            .map_err(err(py))
    }

    /// The health of a workspace's webhook endpoint: ``{"consecutive_failures",
    /// "paused_until" (an aware ``datetime`` while paused, else ``None``), "disabled" (set by a
    /// ``410 Gone``), "disabled_reason"}``. A workspace never delivered to is healthy.
    fn endpoint_health<'py>(
        &self,
        py: Python<'py>,
        workspace_id: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| value_of(&e.endpoint_health(workspace_id)?))
    }

    /// Claims up to ``limit`` leads of the contact queue to call now, for ``worker`` (a name
    /// kept with the lease and the attempts; default ``"pid-<process id>"``). ``now`` (an
    /// aware ``datetime`` or RFC 3339; default the engine's clock) is the time the calling
    /// rules are checked at. The claim is one statement per round, so two workers (threads or
    /// processes) never get the same lead; a lead stays leased for ``contact_lease`` seconds
    /// (see :meth:`open`), after which it may be claimed again.
    ///
    /// Only leads that may be called now are handed out; the others are put back with the
    /// reason and the time they may be (see :meth:`contact_entry`'s ``hold_reason``): quiet
    /// hours (8:00-21:00 in the ZIP's zone and the area code's, and stricter state rules),
    /// a state's attempts per 24 hours, no zone known (``unknown_zone``). A suppressed number
    /// ends ``do_not_contact``; no phone, or the attempts used up, ``unreachable``.
    /// ``limit`` is capped by the settings' ``max_batch``; nothing is handed out while
    /// ``automation_enabled`` is off.
    ///
    /// Returns ``[{"lead_id", "contact_id", "phone" (E.164), "zip_code", "lead_type",
    /// "attempts" (made before this one), "local_time" (an aware ``datetime`` in the called
    /// party's zone, a ``zoneinfo.ZoneInfo``), "received_at"}]``, oldest first.
    #[pyo3(signature = (now = None, limit = 5, *, worker = None))]
    fn claim_contact_batch<'py>(
        &self,
        py: Python<'py>,
        now: Option<&Bound<'py, PyAny>>,
        limit: usize,
        worker: Option<String>,
    ) -> PyResult<Bound<'py, pyo3::types::PyList>> {
        crate::outreach::claim_contact_batch(self, py, now, limit, worker)
    }

    /// Records the result of a call to a queued lead: ``outcome`` is ``"no_answer"`` (due
    /// again after the retry interval, ``unreachable`` once ``max_attempts`` are used),
    /// ``"scheduled"``, ``"not_interested"``, ``"unreachable"`` or ``"do_not_contact"`` (the
    /// number goes on the suppression list). ``at`` defaults to the engine's clock; ``notes``
    /// and ``worker`` are kept with the attempt. Returns the lead's queue entry as it is now
    /// (as :meth:`contact_entry`).
    ///
    /// Raises ``NotFoundError`` (``unknown_lead``) for a lead not in the queue and
    /// ``ValidationError`` (``invalid_option``, ``.field == "outcome"``) for another outcome.
    #[pyo3(signature = (lead_id, outcome, *, at = None, notes = None, worker = None))]
    fn record_contact_attempt<'py>(
        &self,
        py: Python<'py>,
        lead_id: i64,
        outcome: &str,
        at: Option<&Bound<'py, PyAny>>,
        notes: Option<String>,
        worker: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::outreach::record_contact_attempt(self, py, lead_id, outcome, at, notes, worker)
    }

    /// Puts a phone number (any format intake takes) on the suppression list, as an opt-out
    /// (``source``: where it came from). Its leads are not called nor sent messages again.
    /// Returns ``False`` when it was listed already. Raises ``InvalidPhoneError``.
    #[pyo3(signature = (phone, *, source = None))]
    fn record_opt_out(&self, py: Python<'_>, phone: &str, source: Option<&str>) -> PyResult<bool> {
        let engine = self.engine()?;
        py.detach(|| engine.record_opt_out(phone, source))
            .map_err(err(py))
    }

    /// Imports a suppression list (``str`` or ``bytes``): per line, one phone number (E.164
    /// or national) or the lowercase hex SHA-256 of an E.164 number (for lists shared
    /// hashed); ``#`` comments and blank lines are skipped. ``source`` names the list.
    /// Returns ``{"added", "already_listed", "rejected_lines": [(line number, reason)]}``;
    /// bad lines are reported, not fatal.
    #[pyo3(signature = (text, *, source))]
    fn import_suppressions<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyAny>,
        source: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        crate::outreach::import_suppressions(self, py, text, source)
    }

    /// Whether a phone number (any format intake takes) is on the suppression list, in
    /// clear or hashed. Raises ``InvalidPhoneError``.
    fn is_suppressed(&self, py: Python<'_>, phone: &str) -> PyResult<bool> {
        let engine = self.engine()?;
        py.detach(|| engine.is_suppressed(phone)).map_err(err(py))
    }

    /// A lead's place in the contact queue, or ``None``: ``{"lead_id", "contact_id",
    /// "phone_e164", "zip_code", "lead_type", "received_at", "next_attempt_at",
    /// "suppressed" (listed at intake), "status" ("pending", "attempting", "no_answer",
    /// "scheduled", "not_interested", "unreachable", "do_not_contact"), "attempts",
    /// "last_attempt_at", "worker", "locked_until", "hold_reason" ("quiet_hours",
    /// "unknown_zone", "attempt_limit_24h", ... while held back)}``.
    fn contact_entry<'py>(&self, py: Python<'py>, lead_id: i64) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| value_of(&e.contact_entry(LeadId(lead_id))?))
    }

    /// A lead's contact attempts, by number: ``[{"lead_id", "attempt_number", "at",
    /// "outcome", "notes", "worker"}]``.
    fn contact_attempts<'py>(&self, py: Python<'py>, lead_id: i64) -> PyResult<Bound<'py, PyAny>> {
        self.query(py, |e| value_of(&e.contact_attempts(LeadId(lead_id))?))
    }

    /// Speed to lead for the leads queued with ``since <= received_at < until`` (aware
    /// ``datetime`` or RFC 3339): ``{"leads", "contacted", "first_attempt_p50_seconds",
    /// "first_attempt_p90_seconds" (from receipt to first attempt; ``None`` when none was
    /// attempted), "contact_rate", "attempts_per_lead", "appointment_rate"}``.
    fn contact_metrics<'py>(
        &self,
        py: Python<'py>,
        since: &Bound<'py, PyAny>,
        until: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::outreach::contact_metrics(self, py, since, until)
    }

    /// The free slots of a workspace's calendar (its ``calendar`` and weekly ``schedule``,
    /// see :meth:`configure`) that start in ``[since, until)``, as of now (the calendar's
    /// minimum lead time and horizon applied): ``[{"start", "end", "remaining"}]`` (aware
    /// ``datetime`` in UTC; ``remaining`` bookings the slot still takes).
    ///
    /// Raises ``NotFoundError`` (``unknown_workspace``) for a workspace without a calendar.
    fn available_slots<'py>(
        &self,
        py: Python<'py>,
        workspace_id: &str,
        since: &Bound<'py, PyAny>,
        until: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::outreach::available_slots(self, py, workspace_id, since, until)
    }

    /// Books a lead into the slot starting at ``start`` (aware ``datetime`` or RFC 3339), in
    /// one transaction: the appointment is created (ending at ``end``, else with the slot),
    /// routed and queued for delivery, its confirmation and reminders scheduled (for a
    /// workspace with ``messages``), the slot taken, and the lead's contact-queue entry
    /// ``scheduled``. With ``workspace_id`` that workspace takes it; without, routing chooses
    /// among the matching workspaces with room at that time.
    ///
    /// Returns ``{"appointment_id", "lead_id", "workspace_id" (``None``: unrouted), "slot"
    /// ({"start", "end"}, or ``None`` for a workspace without a calendar)}``.
    ///
    /// Raises ``ConflictError`` (``slot_taken``: full, or no matching workspace has room;
    /// ``conflict``: the lead already has an appointment), ``ValidationError``
    /// (``.field == "start"``; ``not_a_slot``, ``too_soon``, ``beyond_horizon``,
    /// ``blackout``, ``closed``) and ``NotFoundError`` (``unknown_lead``,
    /// ``unknown_workspace``).
    #[pyo3(signature = (lead_id, start, *, workspace_id = None, end = None))]
    fn book<'py>(
        &self,
        py: Python<'py>,
        lead_id: i64,
        start: &Bound<'py, PyAny>,
        workspace_id: Option<String>,
        end: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::outreach::book(self, py, lead_id, start, workspace_id, end)
    }

    /// Sends up to ``limit`` due confirmations and reminders through ``transport``, any
    /// callable that takes the message, ``{"id", "appointment_id", "lead_id", "kind"
    /// ("confirmation", "reminder"), "to" (E.164), "body" (a dict to render: "kind",
    /// "appointment_id", "workspace_id", "start", "service_type", "offset_minutes"),
    /// "try_number"}``, and returns the provider's message id (a ``str``). An exception (its
    /// text) or another return value is logged as the try's error and the message is tried
    /// again after the workspace's ``retry_backoff_seconds``, then given up. A message to a
    /// suppressed number is not handed to the callable and is logged ``suppressed``. The
    /// message ``id`` is the same on every try (an idempotency key for the provider).
    ///
    /// The callable is called in this thread, one message at a time. A ``KeyboardInterrupt``
    /// or ``SystemExit`` it raises stops the batch (the messages left are logged failed and
    /// retried) and is raised again once the batch is logged.
    ///
    /// Returns ``{"attempted", "sent", "retrying", "failed", "suppressed"}``; call it again
    /// until ``attempted`` is 0. Raises ``TypeError`` when ``transport`` is not callable.
    #[pyo3(signature = (transport, limit = 100))]
    fn send_due_messages<'py>(
        &self,
        py: Python<'py>,
        transport: &Bound<'py, PyAny>,
        limit: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::outreach::send_due_messages(self, py, transport, limit)
    }

    /// An appointment's scheduled messages, by id: ``[{"id", "appointment_id", "lead_id",
    /// "kind", "to", "body", "send_at", "created_at", "status" ("pending", "sent", "failed",
    /// "cancelled", "suppressed"), "tries", "next_try_at", "locked_until"}]``.
    fn messages<'py>(&self, py: Python<'py>, appointment_id: i64) -> PyResult<Bound<'py, PyAny>> {
        crate::outreach::messages(self, py, appointment_id)
    }

    /// A message's send log, by try: ``[{"message_id", "try_number", "at", "status"
    /// ("sent", "failed", "suppressed"), "provider_message_id", "error"}]``.
    fn message_logs<'py>(&self, py: Python<'py>, message_id: i64) -> PyResult<Bound<'py, PyAny>> {
        crate::outreach::message_logs(self, py, message_id)
    }

    fn __repr__(&self) -> String {
        if self.closed() {
            format!("<closed Engine.open({:?})>", self.path)
        } else {
            format!("Engine.open({:?})", self.path)
        }
    }
}
