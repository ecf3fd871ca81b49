//! Rust errors to the Python exception classes of `leadroute.errors`.
//!
//! One helper, [`to_py_err`], maps every [`leadroute_core::Error`] by its [`ErrorKind`] to a
//! class, and by its variant to a stable snake_case `.code` (and, for validation errors, the
//! `.field` it concerns). The message is the Rust error's `Display`, so the cause is kept.

use leadroute_core::auth::AuthError;
use leadroute_core::calcom::CalcomError;
use leadroute_core::capacity::CapacityError;
use leadroute_core::lifecycle::LifecycleError;
use leadroute_core::phone::PhoneError;
use leadroute_core::returns::ReturnError;
use leadroute_core::seed::SeedError;
use leadroute_core::{Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// An instance of `leadroute.errors.<class>(message, code, **extra)`.
pub fn error_object<'py>(
    py: Python<'py>,
    class: &str,
    message: &str,
    code: &str,
    extra: &[(&str, Bound<'py, PyAny>)],
) -> PyResult<Bound<'py, PyAny>> {
    let module = ERRORS.get_or_try_init(py, || py.import("leadroute.errors").map(Bound::unbind))?;
    let cls = module.bind(py).getattr(class)?;
    if extra.is_empty() {
        cls.call1((message, code))
    } else {
        let kwargs = PyDict::new(py);
        for (k, v) in extra {
            kwargs.set_item(k, v)?;
        }
        cls.call((message, code), Some(&kwargs))
    }
}

/// The `PyErr` raising `leadroute.errors.<class>(message, code, **extra)`.
pub fn new_err(
    py: Python<'_>,
    class: &str,
    message: &str,
    code: &str,
    extra: &[(&str, Bound<'_, PyAny>)],
) -> PyErr {
    match error_object(py, class, message, code, extra) {
        Ok(obj) => PyErr::from_value(obj),
        Err(e) => e,
    }
}

/// `ValidationError(message, code, field=field)`.
pub fn validation(py: Python<'_>, message: &str, code: &str, field: Option<&str>) -> PyErr {
    let field = match field {
        Some(f) => pyo3::types::PyString::new(py, f).into_any(),
        None => py.None().into_bound(py),
    };
    new_err(py, "ValidationError", message, code, &[("field", field)])
}

/// The `InvalidPhoneError` instance for a phone error (not raised: batch results hold it).
pub fn phone_error_object<'py>(py: Python<'py>, e: &PhoneError) -> PyResult<Bound<'py, PyAny>> {
    error_object(py, "InvalidPhoneError", &e.to_string(), e.code(), &[])
}

/// The exception class name, code and validation field of a leadroute error.
fn classify(e: &Error) -> (&'static str, String, Option<&'static str>) {
    let code = e.code().to_string();
    let field = match e {
        Error::Phone(_) => Some("phone"),
        Error::Zip(_) => Some("zip"),
        Error::Intake(_) => Some("record"),
        Error::Routing(_) => Some("rules"),
        Error::Capacity(CapacityError::UnknownTimeZone { .. }) => Some("timezone"),
        Error::Capacity(_) => Some("capacity"),
        Error::Schedule(_) => Some("schedule"),
        Error::Seed(SeedError::Shape { file, .. }) => Some(match *file {
            "providers.json" => "providers",
            "workspaces.json" => "workspaces",
            _ => "rules",
        }),
        Error::Delivery(_) => Some("webhook_secret"),
        Error::Lifecycle(LifecycleError::EndBeforeStart { .. }) => Some("end"),
        Error::Return(ReturnError::ReasonNotAllowed { .. }) => Some("reason"),
        Error::Calcom(CalcomError::Malformed { .. }) => Some("body"),
        Error::Booking(b) => Some(match b.code() {
            "not_a_slot" | "too_soon" | "beyond_horizon" | "blackout" | "closed" | "slot_taken" => {
                "start"
            }
            _ => "calendar",
        }),
        _ => None,
    };
    let class = match (e.kind(), e) {
        (ErrorKind::InvalidInput, Error::Phone(_)) => "InvalidPhoneError",
        (ErrorKind::InvalidInput, _) => "ValidationError",
        (ErrorKind::Unauthorized, _) => "UnauthorizedError",
        (ErrorKind::Forbidden, _) => "ForbiddenError",
        (ErrorKind::RateLimited, _) => "RateLimitedError",
        (ErrorKind::NotFound, _) => "NotFoundError",
        (ErrorKind::Conflict, _) => "ConflictError",
        (ErrorKind::Temporary | ErrorKind::Storage, _) => "StorageError",
        _ => "LeadrouteError",
    };
    (class, code, field)
}

/// Maps a leadroute error to its Python exception (see the module docs).
pub fn to_py_err(py: Python<'_>, e: &Error) -> PyErr {
    let (class, code, field) = classify(e);
    let message = e.to_string();
    match class {
        "ValidationError" => validation(py, &message, &code, field),
        "RateLimitedError" => {
            let retry_after = match e {
                Error::Auth(AuthError::RateLimited(r)) => {
                    pyo3::types::PyFloat::new(py, f64::from(r.retry_after_seconds)).into_any()
                }
                _ => py.None().into_bound(py),
            };
            new_err(py, class, &message, &code, &[("retry_after", retry_after)])
        }
        _ => new_err(py, class, &message, &code, &[]),
    }
}

/// `map_err` adapter: `result.map_err(err(py))`.
pub fn err(py: Python<'_>) -> impl Fn(Error) -> PyErr + '_ {
    move |e| to_py_err(py, &e)
}
