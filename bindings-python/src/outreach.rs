//! Outreach from Python: the contact queue (claims, attempts, the suppression list, speed to
//! lead), booking into a workspace's calendar, and confirmations and reminders sent through a
//! Python callable.
//!
//! The `#[pymethods]` of `Engine` live in [`crate::engine`] (one block per class); each
//! outreach method there is a thin wrapper over a function here.

use crate::convert::to_py;
use crate::engine::{option_error, record_text, time_arg, value_of, PyEngine};
use crate::errors::validation;
use jiff::Timestamp;
use leadroute_core::contact_queue::ContactQueueConfig;
use leadroute_core::engine::ClaimedContact;
use leadroute_core::messages::{MessageTransport, OutgoingMessage};
use leadroute_core::model::{AppointmentId, LeadId, MessageId};
use leadroute_core::status::ContactOutcome;
use leadroute_core::Error;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use serde_json::Value;
use std::sync::{Mutex, PoisonError};

/// The keys of a `contact_queue=` dict, and of its settings.
const QUEUE_KEYS: [&str; 4] = [
    "settings",
    "per_lead_type",
    "always_contact",
    "never_contact",
];
const SETTINGS_KEYS: [&str; 4] = [
    "automation_enabled",
    "max_batch",
    "retry_interval_seconds",
    "max_attempts",
];

fn queue_option_error(py: Python<'_>, message: &str) -> PyErr {
    validation(
        py,
        &format!("contact_queue: {message}"),
        "invalid_option",
        Some("contact_queue"),
    )
}

/// Refuses keys a dict of the `contact_queue=` option does not have (a typo would otherwise
/// be ignored silently).
fn known_keys(py: Python<'_>, what: &str, v: &Value, known: &[&str]) -> PyResult<()> {
    let Value::Object(map) = v else {
        return Err(queue_option_error(py, &format!("{what} is not a dict")));
    };
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(queue_option_error(
            py,
            &format!(
                "unknown key {k:?} in {what} (expected {})",
                known.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// `Engine.open(contact_queue=...)`: `{"settings": {...}, "per_lead_type": {lead_type:
/// {...}}, "always_contact": [...], "never_contact": [...]}`, every key optional.
pub(crate) fn contact_queue_config(
    py: Python<'_>,
    obj: Option<&Bound<'_, PyAny>>,
) -> PyResult<ContactQueueConfig> {
    let Some(obj) = obj else {
        return Ok(ContactQueueConfig::default());
    };
    let v = crate::convert::from_py(obj)?;
    known_keys(py, "contact_queue", &v, &QUEUE_KEYS)?;
    if let Some(s) = v.get("settings") {
        known_keys(py, "settings", s, &SETTINGS_KEYS)?;
    }
    if let Some(Value::Object(per)) = v.get("per_lead_type") {
        for (t, s) in per {
            known_keys(py, &format!("per_lead_type[{t:?}]"), s, &SETTINGS_KEYS)?;
        }
    }
    let mut config: ContactQueueConfig =
        serde_json::from_value(v).map_err(|e| queue_option_error(py, &e.to_string()))?;
    // Lead types are stored lowercase (as the queue's entries name them).
    let lower = |v: &mut Vec<String>| {
        for t in v.iter_mut() {
            *t = t.trim().to_ascii_lowercase();
        }
    };
    lower(&mut config.always_contact);
    lower(&mut config.never_contact);
    config.per_lead_type = std::mem::take(&mut config.per_lead_type)
        .into_iter()
        .map(|(k, s)| (k.trim().to_ascii_lowercase(), s))
        .collect();
    Ok(config)
}

/// `contact_lease=` seconds as a duration.
pub(crate) fn lease_option(py: Python<'_>, seconds: f64) -> PyResult<std::time::Duration> {
    if seconds.is_finite() && seconds > 0.0 && seconds < 1e9 {
        Ok(std::time::Duration::from_secs_f64(seconds))
    } else {
        Err(validation(
            py,
            "contact_lease: positive seconds expected",
            "invalid_option",
            Some("contact_lease"),
        ))
    }
}

/// A claimed lead as a dict, its `local_time` an aware `datetime` in the called party's
/// zone (a `zoneinfo.ZoneInfo`).
fn claimed_to_py<'py>(py: Python<'py>, c: &ClaimedContact) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("lead_id", c.lead_id.0)?;
    d.set_item("contact_id", c.contact_id.0)?;
    d.set_item("phone", &c.phone)?;
    d.set_item("zip_code", &c.zip_code)?;
    d.set_item("lead_type", &c.lead_type)?;
    d.set_item("attempts", c.attempts)?;
    match &c.local_time {
        Some(z) => d.set_item("local_time", z)?,
        None => d.set_item("local_time", py.None())?,
    }
    d.set_item("received_at", c.received_at)?;
    Ok(d)
}

/// The worker name used when none is given: this process.
fn default_worker() -> String {
    format!("pid-{}", std::process::id())
}

pub(crate) fn claim_contact_batch<'py>(
    engine: &PyEngine,
    py: Python<'py>,
    now: Option<&Bound<'py, PyAny>>,
    limit: usize,
    worker: Option<String>,
) -> PyResult<Bound<'py, PyList>> {
    let now = now.map(|t| time_arg(py, "now", t)).transpose()?;
    let worker = worker.unwrap_or_else(default_worker);
    let e = engine.engine()?;
    let claimed = py
        .detach(|| e.claim_contact_batch(now, limit, &worker))
        .map_err(crate::errors::err(py))?;
    let list = PyList::empty(py);
    for c in &claimed {
        list.append(claimed_to_py(py, c)?)?;
    }
    Ok(list)
}

fn outcome_arg(py: Python<'_>, outcome: &str) -> PyResult<ContactOutcome> {
    outcome.trim().parse().map_err(|_| {
        option_error(
            py,
            "outcome",
            outcome,
            "no_answer, scheduled, not_interested, unreachable or do_not_contact",
        )
    })
}

pub(crate) fn record_contact_attempt<'py>(
    engine: &PyEngine,
    py: Python<'py>,
    lead_id: i64,
    outcome: &str,
    at: Option<&Bound<'py, PyAny>>,
    notes: Option<String>,
    worker: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let outcome = outcome_arg(py, outcome)?;
    let at = at.map(|t| time_arg(py, "at", t)).transpose()?;
    engine.query(py, |e| {
        value_of(&e.record_contact_attempt(
            LeadId(lead_id),
            outcome,
            at,
            notes.as_deref(),
            worker.as_deref(),
        )?)
    })
}

pub(crate) fn import_suppressions<'py>(
    engine: &PyEngine,
    py: Python<'py>,
    text: &Bound<'py, PyAny>,
    source: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let text = record_text(text)?.ok_or_else(|| {
        PyTypeError::new_err("a suppression list is str or bytes (one entry per line)")
    })?;
    let e = engine.engine()?;
    let out = py
        .detach(|| e.import_suppressions(&text, source))
        .map_err(crate::errors::err(py))?;
    let d = PyDict::new(py);
    d.set_item("added", out.added)?;
    d.set_item("already_listed", out.already_listed)?;
    let rejected = PyList::empty(py);
    for (line, reason) in &out.rejected_lines {
        rejected.append(PyTuple::new(
            py,
            [
                line.into_pyobject(py)?.into_any(),
                PyString::new(py, reason).into_any(),
            ],
        )?)?;
    }
    d.set_item("rejected_lines", rejected)?;
    Ok(d)
}

pub(crate) fn contact_metrics<'py>(
    engine: &PyEngine,
    py: Python<'py>,
    since: &Bound<'py, PyAny>,
    until: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let from = time_arg(py, "since", since)?;
    let to = time_arg(py, "until", until)?;
    engine.query(py, |e| value_of(&e.contact_metrics(from, to)?))
}

pub(crate) fn available_slots<'py>(
    engine: &PyEngine,
    py: Python<'py>,
    workspace_id: &str,
    since: &Bound<'py, PyAny>,
    until: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let from = time_arg(py, "since", since)?;
    let to = time_arg(py, "until", until)?;
    engine.query(py, |e| {
        value_of(&e.available_slots(workspace_id, from, to)?)
    })
}

pub(crate) fn book<'py>(
    engine: &PyEngine,
    py: Python<'py>,
    lead_id: i64,
    start: &Bound<'py, PyAny>,
    workspace_id: Option<String>,
    end: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let start: Timestamp = time_arg(py, "start", start)?;
    let end = end.map(|t| time_arg(py, "end", t)).transpose()?;
    engine.query(py, |e| {
        value_of(&e.book(LeadId(lead_id), start, workspace_id.as_deref(), end)?)
    })
}

pub(crate) fn messages<'py>(
    engine: &PyEngine,
    py: Python<'py>,
    appointment_id: i64,
) -> PyResult<Bound<'py, PyAny>> {
    engine.query(py, |e| {
        value_of(&e.messages(AppointmentId(appointment_id))?)
    })
}

pub(crate) fn message_logs<'py>(
    engine: &PyEngine,
    py: Python<'py>,
    message_id: i64,
) -> PyResult<Bound<'py, PyAny>> {
    engine.query(py, |e| value_of(&e.message_logs(MessageId(message_id))?))
}

/// A Python callable as the engine's [`MessageTransport`]: called with the message as a
/// dict, with the GIL held; a `str` it returns is the provider's message id, anything else
/// (an exception, another type) is a failed try whose text is logged.
///
/// An exception that is not an `Exception` (`KeyboardInterrupt`, `SystemExit`) is a failed
/// try too, but it is kept and raised when the batch is logged, and the rest of the batch is
/// not handed to the callable (each of those messages is logged failed and retried).
struct PyTransport {
    callable: Py<PyAny>,
    interrupted: Mutex<Option<PyErr>>,
}

/// The text logged for an exception: `str(exc)`, or its class name when that is empty.
fn exception_text(py: Python<'_>, e: &PyErr) -> String {
    let text = e
        .value(py)
        .str()
        .and_then(|s| s.to_cow().map(|c| c.into_owned()))
        .unwrap_or_default();
    if text.trim().is_empty() {
        e.get_type(py)
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "exception".to_string())
    } else {
        text
    }
}

fn message_dict<'py>(py: Python<'py>, m: &OutgoingMessage) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("id", m.id.0)?;
    d.set_item("appointment_id", m.appointment_id.0)?;
    d.set_item("lead_id", m.lead_id.0)?;
    d.set_item("kind", m.kind.as_str())?;
    d.set_item("to", &m.to)?;
    d.set_item("body", to_py(py, &m.body)?)?;
    d.set_item("try_number", m.try_number)?;
    Ok(d)
}

impl PyTransport {
    fn call(&self, py: Python<'_>, m: &OutgoingMessage) -> Result<String, String> {
        let message = message_dict(py, m).map_err(|e| exception_text(py, &e))?;
        match self.callable.bind(py).call1((message,)) {
            Ok(v) => match v.cast::<PyString>() {
                Ok(s) => s
                    .to_cow()
                    .map(|c| c.into_owned())
                    .map_err(|e| exception_text(py, &e)),
                Err(_) => Err(format!(
                    "the transport returned {}, not a str (the provider's message id)",
                    v.get_type()
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_else(|_| "an object".to_string())
                )),
            },
            Err(e) => {
                let text = exception_text(py, &e);
                if !e.is_instance_of::<PyException>(py) {
                    let mut slot = self
                        .interrupted
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    slot.get_or_insert(e);
                }
                Err(text)
            }
        }
    }
}

impl MessageTransport for PyTransport {
    fn send(&self, message: &OutgoingMessage) -> Result<String, String> {
        let stopped = self
            .interrupted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        if stopped {
            return Err("not sent: the sender was interrupted".to_string());
        }
        Python::attach(|py| self.call(py, message))
    }
}

pub(crate) fn send_due_messages<'py>(
    engine: &PyEngine,
    py: Python<'py>,
    transport: &Bound<'py, PyAny>,
    limit: usize,
) -> PyResult<Bound<'py, PyAny>> {
    if !transport.is_callable() {
        return Err(PyTypeError::new_err(format!(
            "transport must be callable (a message dict -> the provider's message id), not {}",
            transport.get_type().name()?
        )));
    }
    let t = PyTransport {
        callable: transport.clone().unbind(),
        interrupted: Mutex::new(None),
    };
    let e = engine.engine()?;
    let report = py.detach(|| e.send_due_messages(&t, limit));
    if let Some(stop) = t
        .interrupted
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
    {
        return Err(stop);
    }
    let report = report.map_err(crate::errors::err(py))?;
    let v = value_of(&report).map_err(|e: Error| crate::errors::err(py)(e))?;
    crate::convert::result_to_py(py, &v)
}
