//! Python bindings for leadroute: the `leadroute._leadroute` extension module.
//!
//! The Python package `leadroute` (in `python/leadroute`) re-exports these functions and
//! defines the exception classes in `leadroute.errors`, which this module raises: all derive
//! from `leadroute.LeadrouteError`, and input errors also from `ValueError`.
#![deny(missing_docs)]

use leadroute_core::{email, phone};
use pyo3::prelude::*;

/// Raises `leadroute.errors.<class_name>(message, code)`.
fn raise(py: Python<'_>, class_name: &str, message: String, code: &str) -> PyErr {
    let made = py
        .import("leadroute.errors")
        .and_then(|m| m.getattr(class_name))
        .and_then(|cls| cls.call1((message, code)));
    match made {
        Ok(obj) => PyErr::from_value(obj),
        Err(e) => e,
    }
}

/// Normalizes a phone number to E.164 (`"+12125550123"`).
///
/// `region` is a CLDR region code for numbers written without a country code; input that
/// starts with `+` ignores it. Rules are libphonenumber's (metadata 9.0.33).
///
/// Raises `InvalidPhoneError` (a `ValueError`) with `.code` in `empty`, `not_a_number`,
/// `too_short`, `too_long`, `invalid_country_code`, `invalid_number`, `unknown_region`.
#[pyfunction]
#[pyo3(signature = (raw, region = "US"))]
fn normalize_phone(py: Python<'_>, raw: &str, region: &str) -> PyResult<String> {
    let raw = raw.to_owned();
    let region = region.to_owned();
    py.detach(move || phone::normalize(&raw, &region))
        .map(|p| p.number.as_str().to_owned())
        .map_err(|e| raise(py, "InvalidPhoneError", e.to_string(), e.code()))
}

/// Trims and lowercases an email address and checks its syntax.
///
/// Raises `ValidationError` (a `ValueError`) with `.code` `empty` or `invalid_email` and
/// `.field` `"email"`.
#[pyfunction]
fn normalize_email(py: Python<'_>, raw: &str) -> PyResult<String> {
    email::normalize(raw).map_err(|e| raise(py, "ValidationError", e.to_string(), e.code()))
}

/// The `leadroute._leadroute` module.
#[pymodule]
fn _leadroute(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", leadroute_core::VERSION)?;
    m.add_function(wrap_pyfunction!(normalize_phone, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_email, m)?)?;
    Ok(())
}
