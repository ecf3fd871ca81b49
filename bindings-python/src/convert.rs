//! JSON values between Rust (`serde_json::Value`) and Python (dict, list, str, int, float,
//! bool, None), and the engine's records as Python results ([`result_to_py`]).
//!
//! # Times in results
//!
//! Result dicts are the engine's own records serialized by serde, where a time is RFC 3339
//! text (see `leadroute_core::model`). On the way to Python one rule turns them back into
//! times: in a result object, the string value of a key that ends in `_at`, `_date` or
//! `_until` (`created_at`, `appointment_date`, `paused_until`, ...) or of the keys `end_time`
//! (an appointment's end), `at` (a contact attempt's or a message try's time), `start` and
//! `end` (a booking slot's) becomes an aware `datetime.datetime` in UTC, and the string value
//! of the keys `day` (a UTC day) and `next_action_date` (a calendar date), both
//! `YYYY-MM-DD`, a `datetime.date`. The rule applies to the result's keys and, through lists
//! and nested objects, to the records it holds (`events`, `per_workspace`, ...), but not inside
//! free-form JSON, which is passed on as stored: the values of `fields` (a lead's normalized
//! and custom fields), `detail` (an event's detail), `trace` (a routing trace) and `body` (a
//! scheduled message's body, as its transport receives it). A value
//! under a time key that is not RFC 3339 text raises `ValueError` (a bug, not bad input).

use jiff::civil::Date;
use jiff::Timestamp;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// Deepest nesting accepted from Python (deeper input is refused, not recursed into).
const MAX_DEPTH: usize = 64;

/// A JSON value as a Python object: objects become dicts, arrays lists.
pub fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let list = PyList::empty(py);
            for x in a {
                list.append(to_py(py, x)?)?;
            }
            list.into_any()
        }
        Value::Object(o) => {
            let d = PyDict::new(py);
            for (k, x) in o {
                d.set_item(k, to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

/// A Python object as a JSON value: dict (str keys), list, tuple, str, int, float (finite),
/// bool, None; `datetime`/`date`/`time` objects become their `isoformat()` text.
///
/// Raises `TypeError` for anything else and `ValueError` for a non-finite float, an integer
/// outside 64 bits, or nesting deeper than 64.
pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    from_py_at(obj, 0)
}

fn from_py_at(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err("value nested too deeply for JSON"));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.cast::<PyInt>().is_ok() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        return Err(PyValueError::new_err("integer out of the 64-bit range"));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| PyValueError::new_err("NaN and infinity are not JSON numbers"));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::new();
        for (k, v) in d.iter() {
            let key = k
                .cast::<PyString>()
                .map_err(|_| PyTypeError::new_err("JSON object keys must be str"))?
                .to_cow()?
                .into_owned();
            map.insert(key, from_py_at(&v, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .map(|x| from_py_at(&x, depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .map(|x| from_py_at(&x, depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if obj.hasattr("isoformat")? {
        let text = obj.call_method0("isoformat")?;
        return Ok(Value::String(text.extract::<String>()?));
    }
    Err(PyTypeError::new_err(format!(
        "cannot convert {} to JSON",
        obj.get_type().name()?
    )))
}

/// JSON text of a Python value (see [`from_py`]).
pub fn to_json_text(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    serde_json::to_string(&from_py(obj)?).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Keys whose values are free-form JSON: passed on as stored (see the module docs).
const OPAQUE_KEYS: [&str; 4] = ["fields", "detail", "trace", "body"];

/// Keys whose values are calendar days (`YYYY-MM-DD`), though some end in `_date`.
const DAY_KEYS: [&str; 2] = ["day", "next_action_date"];

/// Time keys that do not end in `_at`, `_date` or `_until`.
const OTHER_TIME_KEYS: [&str; 4] = ["end_time", "at", "start", "end"];

/// What a result key holds, by the rule in the module docs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Time,
    Day,
    Opaque,
    Other,
}

fn key_kind(key: &str) -> KeyKind {
    if OPAQUE_KEYS.contains(&key) {
        KeyKind::Opaque
    } else if DAY_KEYS.contains(&key) {
        KeyKind::Day
    } else if key.ends_with("_at")
        || key.ends_with("_date")
        || key.ends_with("_until")
        || OTHER_TIME_KEYS.contains(&key)
    {
        KeyKind::Time
    } else {
        KeyKind::Other
    }
}

/// An engine record or report, as serde serialized it, as a Python result: dicts, lists and
/// scalars as [`to_py`] makes them, with times as `datetime` (see the module docs).
pub fn result_to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Array(a) => {
            let list = PyList::empty(py);
            for x in a {
                list.append(result_to_py(py, x)?)?;
            }
            list.into_any()
        }
        Value::Object(o) => {
            let d = PyDict::new(py);
            for (k, x) in o {
                let item = match (key_kind(k), x) {
                    (KeyKind::Time, Value::String(s)) => utc_datetime(py, k, s)?,
                    (KeyKind::Day, Value::String(s)) => utc_day(py, k, s)?,
                    (KeyKind::Opaque, x) => to_py(py, x)?,
                    (_, x) => result_to_py(py, x)?,
                };
                d.set_item(k, item)?;
            }
            d.into_any()
        }
        other => to_py(py, other)?,
    })
}

/// RFC 3339 text as an aware `datetime` in UTC.
fn utc_datetime<'py>(py: Python<'py>, key: &str, text: &str) -> PyResult<Bound<'py, PyAny>> {
    let t: Timestamp = text
        .parse()
        .map_err(|e| PyValueError::new_err(format!("{key}: {text:?} is not RFC 3339 ({e})")))?;
    Ok(t.into_pyobject(py)?.into_any())
}

/// `YYYY-MM-DD` as a `datetime.date`.
fn utc_day<'py>(py: Python<'py>, key: &str, text: &str) -> PyResult<Bound<'py, PyAny>> {
    let d: Date = text
        .parse()
        .map_err(|e| PyValueError::new_err(format!("{key}: {text:?} is not a day ({e})")))?;
    Ok(d.into_pyobject(py)?.into_any())
}
