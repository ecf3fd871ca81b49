//! Python bindings for leadroute: the `leadroute._leadroute` extension module.
//!
//! The Python package `leadroute` (in `python/leadroute`) re-exports these functions and
//! classes and defines the exception classes in `leadroute.errors`, which this module raises:
//! all derive from `leadroute.LeadrouteError`, and input errors also from `ValueError`
//! (`errors::to_py_err` maps every Rust error). Batch calls copy their inputs into Rust
//! values, release the GIL while they work, and return one result per item.
#![deny(missing_docs)]

mod convert;
mod engine;
mod errors;
mod outcome;
mod outreach;
mod reports;
mod routing;

use leadroute_core::email;
use leadroute_core::phone::{self, NormalizeOptions, NormalizedPhone, PhoneError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

fn normalize_one(raw: &str, region: &str, strict: bool) -> Result<NormalizedPhone, PhoneError> {
    if strict {
        phone::normalize_with(raw, &NormalizeOptions::new(region).strict(true))
    } else {
        phone::normalize(raw, region)
    }
}

/// Normalizes a phone number to E.164 (``"+12125550123"``).
///
/// ``region`` is a CLDR region code for numbers written without a country code; input that
/// starts with ``+`` ignores it. Validity and formatting are libphonenumber's (metadata
/// 9.0.33); an extension (``x12``, ``ext. 12``) is dropped. ``strict=True`` also refuses NANP
/// numbers no person answers: the fictional 555-0100..555-0199 (``fictional``) and N11
/// exchanges (``n11_exchange``).
///
/// Raises ``InvalidPhoneError`` (a ``ValueError``) with ``.code`` in ``empty``,
/// ``not_a_number``, ``too_short``, ``too_long``, ``invalid_country_code``,
/// ``invalid_number``, ``unknown_region``, ``fictional``, ``n11_exchange``.
#[pyfunction]
#[pyo3(signature = (raw, region = "US", *, strict = false))]
fn normalize_phone(py: Python<'_>, raw: &str, region: &str, strict: bool) -> PyResult<String> {
    // No GIL release: the work (tens of nanoseconds) is cheaper than releasing it.
    normalize_one(raw, region, strict)
        .map(|p| p.number.as_str().to_owned())
        .map_err(|e| match errors::phone_error_object(py, &e) {
            Ok(obj) => PyErr::from_value(obj),
            Err(e) => e,
        })
}

/// Normalizes many phone numbers (any iterable of ``str``) with the GIL released; returns a
/// list with, per input in order, its E.164 string or the ``InvalidPhoneError`` it would
/// raise (returned, not raised). ``region`` and ``strict`` are as in ``normalize_phone``.
/// Raises ``TypeError`` only for an item that is not a ``str``.
#[pyfunction]
#[pyo3(signature = (raws, region = "US", *, strict = false))]
fn normalize_phones<'py>(
    py: Python<'py>,
    raws: &Bound<'py, PyAny>,
    region: &str,
    strict: bool,
) -> PyResult<Bound<'py, PyList>> {
    let mut input: Vec<String> = Vec::with_capacity(raws.len().unwrap_or(0));
    for item in raws.try_iter()? {
        let item = item?;
        input.push(item.cast::<PyString>()?.to_cow()?.into_owned());
    }
    let results: Vec<Result<NormalizedPhone, PhoneError>> = py.detach(|| {
        input
            .iter()
            .map(|raw| normalize_one(raw, region, strict))
            .collect()
    });
    let list = PyList::empty(py);
    for r in results {
        match r {
            Ok(p) => list.append(PyString::new(py, p.number.as_str()))?,
            Err(e) => list.append(errors::phone_error_object(py, &e)?)?,
        }
    }
    Ok(list)
}

/// Trims and lowercases an email address and checks its syntax (RFC 5321/5322).
///
/// Raises ``ValidationError`` (a ``ValueError``) with ``.code`` ``empty`` or
/// ``invalid_email`` and ``.field`` ``"email"``.
#[pyfunction]
fn normalize_email(py: Python<'_>, raw: &str) -> PyResult<String> {
    email::normalize(raw)
        .map_err(|e| errors::validation(py, &e.to_string(), e.code(), Some("email")))
}

/// The `leadroute._leadroute` module.
/// The stored form of a provider API key, ``"sha256:<64 hex>"``: put it in a provider dict
/// as ``api_key_hash`` and keep the key itself out of the database. (A provider dict in the
/// seed's shape may instead carry ``api_key``; it is hashed on load.)
#[pyfunction]
fn hash_api_key(key: &str) -> String {
    leadroute_core::auth::hash_api_key(key)
}

#[pymodule]
fn _leadroute(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", leadroute_core::VERSION)?;
    m.add_function(wrap_pyfunction!(normalize_phone, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_phones, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_email, m)?)?;
    m.add_function(wrap_pyfunction!(hash_api_key, m)?)?;
    m.add_class::<routing::RouteMatch>()?;
    m.add_class::<routing::PyRoutingTable>()?;
    m.add_class::<outcome::Accepted>()?;
    m.add_class::<outcome::Rejected>()?;
    m.add_class::<outcome::Replayed>()?;
    m.add_class::<engine::PyEngine>()?;
    Ok(())
}
