//! What became of one ingested record: `Accepted`, `Rejected` or `Replayed`, one class per
//! outcome, each with only the attributes that apply to it. They work with `match`
//! (`__match_args__`) and `isinstance`.

use crate::convert::to_py;
use leadroute_core::engine::{IngestOutcome, Outcome, RoutingOutcome};
use leadroute_core::model::{LeadId, StoredRecord};
use pyo3::prelude::*;
use serde::Serialize;
use serde_json::Value;

/// A record stored as a lead.
///
/// ``lead_id``, ``contact_id``, ``new_contact`` (``False`` for a returning person),
/// ``duplicate_of`` (the original lead when this one is a lead-level duplicate; it gets no
/// appointment), ``appointment_id`` (when the record carried an appointment time),
/// ``routing`` (``"routed"`` or ``"unrouted"`` with an appointment), ``workspace_id`` and
/// ``rule_id`` (routed) or ``unrouted_reason`` (unrouted), ``trace`` (the stored routing
/// trace) and ``warnings``. ``match`` takes ``Accepted(lead_id, contact_id, appointment_id)``.
#[pyclass(frozen, eq, module = "leadroute._leadroute")]
#[derive(Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename = "accepted")]
pub struct Accepted {
    /// The record's idempotency key: the provider's ``lead_id``, or ``sha256:<hex>`` of the
    /// raw record.
    #[pyo3(get)]
    record_key: String,
    /// The new lead.
    #[pyo3(get)]
    lead_id: i64,
    /// The lead's contact.
    #[pyo3(get)]
    contact_id: i64,
    /// Whether this record created the contact (``False``: a returning person).
    #[pyo3(get)]
    new_contact: bool,
    /// The original lead when this one is a lead-level duplicate, else ``None``.
    #[pyo3(get)]
    duplicate_of: Option<i64>,
    /// The appointment, when the record carried an appointment time, else ``None``.
    #[pyo3(get)]
    appointment_id: Option<i64>,
    /// ``"routed"`` or ``"unrouted"`` when there is an appointment, else ``None``.
    #[pyo3(get)]
    routing: Option<&'static str>,
    /// The workspace a routed appointment went to, else ``None``.
    #[pyo3(get)]
    workspace_id: Option<String>,
    /// The rule that routed the appointment, else ``None``.
    #[pyo3(get)]
    rule_id: Option<i64>,
    /// Why the appointment is unrouted (e.g. ``"no_rule_for_zip"``), else ``None``.
    #[pyo3(get)]
    unrouted_reason: Option<&'static str>,
    /// Non-fatal findings (snake_case codes, e.g. ``"invalid_email"``).
    #[pyo3(get)]
    warnings: Vec<String>,
    #[serde(rename = "trace")]
    trace_json: Option<Value>,
}

#[pymethods]
impl Accepted {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str) {
        ("lead_id", "contact_id", "appointment_id")
    }

    /// ``"accepted"``.
    #[getter]
    fn status(&self) -> &'static str {
        "accepted"
    }

    /// The routing decision's full trace (as stored with the appointment), or ``None``
    /// without an appointment.
    #[getter]
    fn trace<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.trace_json {
            Some(t) => to_py(py, t),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// Every attribute as a plain dict, with ``status`` and ``trace``.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        dict_of(py, self)
    }

    fn __repr__(&self) -> String {
        format!(
            "Accepted(record_key={:?}, lead_id={}, contact_id={}, new_contact={}, \
             duplicate_of={}, appointment_id={}, routing={}, workspace_id={})",
            self.record_key,
            self.lead_id,
            self.contact_id,
            if self.new_contact { "True" } else { "False" },
            opt(&self.duplicate_of),
            opt(&self.appointment_id),
            opt(&self.routing),
            opt(&self.workspace_id),
        )
    }
}

/// A record stored as a rejection, with its reason codes and its raw payload.
///
/// ``rejection_id``, ``rejection_codes`` (e.g. ``["invalid_phone"]``) and
/// ``rejection_details`` (one human-readable detail per code). ``match`` takes
/// ``Rejected(rejection_id, rejection_codes)``.
#[pyclass(frozen, eq, module = "leadroute._leadroute")]
#[derive(Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename = "rejected")]
pub struct Rejected {
    /// The record's idempotency key.
    #[pyo3(get)]
    record_key: String,
    /// The stored rejection.
    #[pyo3(get)]
    rejection_id: i64,
    /// Reason codes (snake_case), e.g. ``["invalid_phone", "missing_zip"]``.
    #[pyo3(get)]
    rejection_codes: Vec<String>,
    /// Human-readable detail per reason code, in the same order.
    #[pyo3(get)]
    rejection_details: Vec<String>,
}

#[pymethods]
impl Rejected {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("rejection_id", "rejection_codes")
    }

    /// ``"rejected"``.
    #[getter]
    fn status(&self) -> &'static str {
        "rejected"
    }

    /// Every attribute as a plain dict, with ``status``.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        dict_of(py, self)
    }

    fn __repr__(&self) -> String {
        format!(
            "Rejected(record_key={:?}, rejection_id={}, rejection_codes={:?})",
            self.record_key, self.rejection_id, self.rejection_codes
        )
    }
}

/// A record whose key was already stored: nothing was written.
///
/// ``lead_id`` (the record was accepted before) or ``rejection_id`` (it was rejected
/// before); the other is ``None``. ``match`` takes ``Replayed(lead_id, rejection_id)``.
#[pyclass(frozen, eq, module = "leadroute._leadroute")]
#[derive(Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename = "replayed")]
pub struct Replayed {
    /// The record's idempotency key.
    #[pyo3(get)]
    record_key: String,
    /// The lead stored for this key, or ``None``.
    #[pyo3(get)]
    lead_id: Option<i64>,
    /// The rejection stored for this key, or ``None``.
    #[pyo3(get)]
    rejection_id: Option<i64>,
}

#[pymethods]
impl Replayed {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("lead_id", "rejection_id")
    }

    /// ``"replayed"``.
    #[getter]
    fn status(&self) -> &'static str {
        "replayed"
    }

    /// Every attribute as a plain dict, with ``status``.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        dict_of(py, self)
    }

    fn __repr__(&self) -> String {
        format!(
            "Replayed(record_key={:?}, lead_id={}, rejection_id={})",
            self.record_key,
            opt(&self.lead_id),
            opt(&self.rejection_id)
        )
    }
}

/// A routing outcome as the flat attributes results carry: ``routing`` (``"routed"`` or
/// ``"unrouted"``), then ``workspace_id`` and ``rule_id``, or ``unrouted_reason``; all
/// ``None`` without an outcome.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct RoutingParts {
    /// `"routed"` or `"unrouted"`.
    pub routing: Option<&'static str>,
    /// The workspace of a routed outcome.
    pub workspace_id: Option<String>,
    /// The rule of a routed outcome.
    pub rule_id: Option<i64>,
    /// The reason code of an unrouted outcome.
    pub unrouted_reason: Option<&'static str>,
}

impl RoutingParts {
    /// The parts of `routing`.
    pub fn of(routing: Option<RoutingOutcome>) -> RoutingParts {
        match routing {
            Some(RoutingOutcome::Routed {
                workspace_id,
                rule_id,
            }) => RoutingParts {
                routing: Some("routed"),
                workspace_id: Some(workspace_id),
                rule_id: Some(rule_id),
                unrouted_reason: None,
            },
            Some(RoutingOutcome::Unrouted(reason)) => RoutingParts {
                routing: Some("unrouted"),
                unrouted_reason: Some(reason.code()),
                ..RoutingParts::default()
            },
            None => RoutingParts::default(),
        }
    }
}

fn opt<T: std::fmt::Debug>(v: &Option<T>) -> String {
    v.as_ref().map_or("None".to_string(), |x| format!("{x:?}"))
}

fn dict_of<'py, T: Serialize>(py: Python<'py>, v: &T) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(v)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    to_py(py, &value)
}

/// The Python object (`Accepted`, `Rejected` or `Replayed`) of one outcome.
pub fn outcome_to_py(py: Python<'_>, o: IngestOutcome) -> PyResult<Py<PyAny>> {
    let record_key = o.record_key;
    Ok(match o.outcome {
        Outcome::Accepted(a) => {
            let (appointment_id, routing) = match a.appointment {
                Some((id, routing)) => (Some(id.get()), Some(routing)),
                None => (None, None),
            };
            let RoutingParts {
                routing,
                workspace_id,
                rule_id,
                unrouted_reason,
            } = RoutingParts::of(routing);
            Py::new(
                py,
                Accepted {
                    record_key,
                    lead_id: a.lead_id.get(),
                    contact_id: a.contact_id.get(),
                    new_contact: a.new_contact,
                    duplicate_of: a.duplicate_of.map(LeadId::get),
                    appointment_id,
                    routing,
                    workspace_id,
                    rule_id,
                    unrouted_reason,
                    warnings: a.warnings,
                    trace_json: a.routing_trace,
                },
            )?
            .into_any()
        }
        Outcome::Rejected {
            rejection_id,
            reasons,
        } => {
            let (codes, details) = reasons
                .into_iter()
                .map(|r| (r.code.as_str().to_string(), r.detail))
                .unzip();
            Py::new(
                py,
                Rejected {
                    record_key,
                    rejection_id: rejection_id.get(),
                    rejection_codes: codes,
                    rejection_details: details,
                },
            )?
            .into_any()
        }
        Outcome::Replayed(stored) => {
            let (lead_id, rejection_id) = match stored {
                StoredRecord::Lead(id) => (Some(id.get()), None),
                StoredRecord::Rejection(id) => (None, Some(id.get())),
            };
            Py::new(
                py,
                Replayed {
                    record_key,
                    lead_id,
                    rejection_id,
                },
            )?
            .into_any()
        }
    })
}

/// One Python object per outcome, in order.
pub fn outcomes_to_py(py: Python<'_>, outcomes: Vec<IngestOutcome>) -> PyResult<Vec<Py<PyAny>>> {
    outcomes.into_iter().map(|o| outcome_to_py(py, o)).collect()
}
