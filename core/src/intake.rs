//! Intake: from a provider's raw body to canonical fields.
//!
//! A provider posts records in its own shape: JSON objects (a request body or a JSON Lines
//! file) or CSV rows, with its own field names. Intake
//!
//! 1. splits a body into [`RawRecord`]s, each keeping its exact text (what is stored as the
//!    raw payload, whatever happens next): [`split_json_lines`], [`split_csv`];
//! 2. parses one record into a field map ([`parse_fields`]); a record that does not parse is
//!    still a record, and becomes a rejection with reason `malformed_record`;
//! 3. maps the provider's names to canonical ones through its [`FieldMap`] and coerces types
//!    ([`map_fields`] → [`LeadInput`]): numbers in strings, `yes`/`1`/`true`, full names split
//!    into first and last. Fields the map does not name are kept as custom fields.
//!
//! Nothing here can panic on any input, and nothing is dropped: a blank line in JSON Lines is
//! not a record (JSON Lines allows none), and [`split_json_lines`] counts them.

use crate::model::{Provider, RecordFormat};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Errors of intake that concern the request, not one record.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntakeError {
    /// No provider has this id.
    #[error("unknown provider {0:?}")]
    UnknownProvider(String),
    /// The provider exists but is deactivated.
    #[error("provider {0:?} is inactive")]
    InactiveProvider(String),
    /// A CSV body has no header row.
    #[error("CSV body has no header row")]
    MissingCsvHeader,
    /// A body could not be read at all (I/O or encoding).
    #[error("unreadable body: {0}")]
    Unreadable(String),
}

impl IntakeError {
    /// The error's kind: an unknown provider is `NotFound`, an inactive one `Unauthorized`,
    /// a bad body `InvalidInput`.
    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            IntakeError::UnknownProvider(_) => crate::ErrorKind::NotFound,
            IntakeError::InactiveProvider(_) => crate::ErrorKind::Unauthorized,
            IntakeError::MissingCsvHeader | IntakeError::Unreadable(_) => {
                crate::ErrorKind::InvalidInput
            }
        }
    }
}

/// One source record as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawRecord {
    /// One JSON object (text), e.g. a request body or a JSON Lines line.
    Json(String),
    /// One CSV row (its exact text) with the header row of its file.
    Csv {
        /// Column names from the header row.
        header: Arc<[String]>,
        /// The row, verbatim (without its line terminator).
        row: String,
    },
}

impl RawRecord {
    /// The text stored as the raw payload: the JSON text, or the CSV row.
    pub fn text(&self) -> &str {
        match self {
            RawRecord::Json(t) => t,
            RawRecord::Csv { row, .. } => row,
        }
    }

    /// The record's content hash, `sha256:<hex>` of [`RawRecord::text`]: its idempotency key
    /// when the provider sends no lead id.
    pub fn content_key(&self) -> String {
        let digest = Sha256::digest(self.text().as_bytes());
        let mut s = String::with_capacity(7 + 64);
        s.push_str("sha256:");
        for b in digest {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

/// The records of a JSON Lines body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split {
    /// The records, in order.
    pub records: Vec<RawRecord>,
    /// Lines that were blank (not records).
    pub blank_lines: usize,
}

/// Splits a JSON Lines body into records: one per non-blank line. Lines are not parsed here:
/// a line of bad JSON is still a record (it is rejected later, with its text kept).
pub fn split_json_lines(body: &str) -> Split {
    let mut out = Split::default();
    for line in body.lines() {
        let t = line.trim();
        if t.is_empty() {
            out.blank_lines += 1;
        } else {
            out.records.push(RawRecord::Json(t.to_string()));
        }
    }
    out
}

/// Splits a CSV body (with a header row) into one record per row, each keeping its exact
/// text. Rows with the wrong number of fields are still records (rejected later).
///
/// # Errors
///
/// [`IntakeError::MissingCsvHeader`] when the body has no header row.
pub fn split_csv(body: &str) -> Result<Split, IntakeError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body.as_bytes());
    let mut rec = csv::ByteRecord::new();
    let header: Arc<[String]> = match rdr.read_byte_record(&mut rec) {
        Ok(true) => rec
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_string())
            .collect(),
        Ok(false) => return Err(IntakeError::MissingCsvHeader),
        Err(e) => return Err(IntakeError::Unreadable(e.to_string())),
    };
    let mut out = Split::default();
    loop {
        let start = rdr.position().byte() as usize;
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(IntakeError::Unreadable(e.to_string())),
        }
        let end = (rdr.position().byte() as usize).min(body.len());
        // The slice starts with any blank lines the reader skipped; after a CRLF row the
        // reader's position sits between `\r` and `\n`, so that `\n` is no blank line.
        let mut slice = body.get(start..end).unwrap_or_default();
        if start > 0 && body.as_bytes().get(start - 1) == Some(&b'\r') {
            slice = slice.strip_prefix('\n').unwrap_or(slice);
        }
        let row = slice.trim_start_matches(['\r', '\n']);
        out.blank_lines += slice[..slice.len() - row.len()].matches('\n').count();
        let row = row.trim_end_matches(['\r', '\n']);
        if row.trim().is_empty() {
            out.blank_lines += 1;
            continue;
        }
        out.records.push(RawRecord::Csv {
            header: header.clone(),
            row: row.to_string(),
        });
    }
    Ok(out)
}

/// Splits a body of the given format (see [`split_json_lines`], [`split_csv`]).
///
/// # Errors
///
/// As [`split_csv`] for CSV; JSON Lines never fails.
pub fn split(format: RecordFormat, body: &str) -> Result<Split, IntakeError> {
    match format {
        RecordFormat::Json => Ok(split_json_lines(body)),
        RecordFormat::Csv => split_csv(body),
    }
}

/// A record's fields by the provider's names.
pub type Fields = Map<String, Value>;

/// Why a record could not be parsed into fields. Its code is `malformed_record`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed record: {0}")]
pub struct MalformedRecord(pub String);

/// Maximum nesting depth accepted in a JSON record.
pub const MAX_JSON_DEPTH: usize = 32;
/// Maximum size of one record's text, in bytes.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Parses one record into its fields.
///
/// # Errors
///
/// [`MalformedRecord`] when the text is over [`MAX_RECORD_BYTES`], is not JSON, is JSON but
/// not an object or nested deeper than [`MAX_JSON_DEPTH`], or is a CSV row whose field count
/// differs from its header's.
pub fn parse_fields(record: &RawRecord) -> Result<Fields, MalformedRecord> {
    if record.text().len() > MAX_RECORD_BYTES {
        return Err(MalformedRecord(format!(
            "record is {} bytes, over the {} byte limit",
            record.text().len(),
            MAX_RECORD_BYTES
        )));
    }
    match record {
        RawRecord::Json(text) => {
            // serde_json refuses nesting past 128 levels by itself, so this cannot overflow
            // the stack; the tighter depth limit is ours.
            let v: Value = serde_json::from_str(text)
                .map_err(|e| MalformedRecord(format!("invalid JSON: {e}")))?;
            if depth(&v) > MAX_JSON_DEPTH {
                return Err(MalformedRecord(format!(
                    "JSON nested deeper than {MAX_JSON_DEPTH} levels"
                )));
            }
            match v {
                Value::Object(m) => Ok(m),
                other => Err(MalformedRecord(format!(
                    "expected a JSON object, got {}",
                    type_name(&other)
                ))),
            }
        }
        RawRecord::Csv { header, row } => {
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(row.as_bytes());
            let mut rec = csv::StringRecord::new();
            match rdr.read_record(&mut rec) {
                Ok(true) => {}
                Ok(false) => return Err(MalformedRecord("empty CSV row".into())),
                Err(e) => return Err(MalformedRecord(format!("invalid CSV row: {e}"))),
            }
            if rec.len() != header.len() {
                return Err(MalformedRecord(format!(
                    "CSV row has {} fields, header has {}",
                    rec.len(),
                    header.len()
                )));
            }
            Ok(header
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.clone(), Value::String(v.to_string())))
                .collect())
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Canonical field names, as keys of a provider's `field_map`.
pub mod canonical {
    /// Given name.
    pub const FIRST_NAME: &str = "first_name";
    /// Family name.
    pub const LAST_NAME: &str = "last_name";
    /// Full name, split into first and last when those are absent.
    pub const FULL_NAME: &str = "full_name";
    /// Phone, any format.
    pub const PHONE: &str = "phone";
    /// Email.
    pub const EMAIL: &str = "email";
    /// ZIP5 or ZIP+4.
    pub const ZIP_CODE: &str = "zip_code";
    /// Product (the seed's `lead_type`/`service_type`).
    pub const PRODUCT_TYPE: &str = "product_type";
    /// Requested appointment time, RFC 3339.
    pub const APPOINTMENT_DATE: &str = "appointment_date";
    /// The provider's own lead id, the record's idempotency key.
    pub const LEAD_ID: &str = "lead_id";
    /// Estimated job value, dollars.
    pub const ESTIMATED_VALUE: &str = "estimated_value";
    /// TCPA consent flag.
    pub const TCPA_CONSENT: &str = "tcpa_consent";
    /// Free-text notes.
    pub const NOTES: &str = "notes";
    /// Every canonical name, in a fixed order.
    pub const ALL: &[&str] = &[
        FIRST_NAME,
        LAST_NAME,
        FULL_NAME,
        PHONE,
        EMAIL,
        ZIP_CODE,
        PRODUCT_TYPE,
        APPOINTMENT_DATE,
        LEAD_ID,
        ESTIMATED_VALUE,
        TCPA_CONSENT,
        NOTES,
    ];
}

/// A provider's field map: canonical name → the provider's field name.
///
/// Canonical names the map does not mention are looked up under their own name (so
/// `lead_id` is read from `lead_id`), except `zip_code`, `product_type` and `full_name`,
/// which must be mapped or named exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMap {
    map: BTreeMap<String, String>,
}

impl FieldMap {
    /// A field map from `providers.json`'s `field_map` (canonical → provider name).
    pub fn new(map: BTreeMap<String, String>) -> FieldMap {
        FieldMap { map }
    }

    /// The provider's name for a canonical field.
    pub fn source_name<'a>(&'a self, canonical: &'a str) -> &'a str {
        self.map
            .get(canonical)
            .map(String::as_str)
            .unwrap_or(canonical)
    }
}

impl From<&Provider> for FieldMap {
    fn from(p: &Provider) -> FieldMap {
        FieldMap::new(p.field_map.clone())
    }
}

/// A field whose value had a type that cannot be read as text (an object or array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongType {
    /// Canonical name.
    pub field: &'static str,
    /// The JSON type found.
    pub found: &'static str,
}

/// A record in canonical terms, before validation. All text is trimmed; empty text is `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadInput {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Phone as sent.
    pub phone: Option<String>,
    /// Email as sent.
    pub email: Option<String>,
    /// ZIP as sent.
    pub zip_code: Option<String>,
    /// Product as sent.
    pub product_type: Option<String>,
    /// Appointment time as sent.
    pub appointment_date: Option<String>,
    /// The provider's lead id.
    pub external_id: Option<String>,
    /// Estimated value in dollars, when it reads as a number.
    pub estimated_value: Option<f64>,
    /// TCPA consent, when it reads as a boolean.
    pub tcpa_consent: Option<bool>,
    /// Notes.
    pub notes: Option<String>,
    /// Fields of a type that cannot be text.
    pub wrong_types: Vec<WrongType>,
    /// Non-fatal findings (snake_case), e.g. `unreadable_estimated_value`.
    pub warnings: Vec<String>,
    /// Every field not consumed by the mapping, by the provider's name (custom metadata).
    pub custom: Fields,
}

/// Reads a JSON value as trimmed text: strings as they are, numbers and booleans in their
/// JSON spelling, null and empty as `None`.
fn as_text(v: &Value) -> Result<Option<String>, &'static str> {
    let s = match v {
        Value::Null => return Ok(None),
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => return Err(type_name(other)),
    };
    Ok((!s.is_empty()).then_some(s))
}

/// Reads yes/no spellings: `true`/`yes`/`y`/`1`/`on` and `false`/`no`/`n`/`0`/`off`, any case.
pub fn coerce_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "on" => Some(true),
            "false" | "no" | "n" | "0" | "off" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Reads a number, or a string holding one (`"25000"`, `"$25,000.50"`).
pub fn coerce_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let cleaned: String = s
                .trim()
                .trim_start_matches('$')
                .chars()
                .filter(|c| *c != ',')
                .collect();
            cleaned.parse::<f64>().ok().filter(|f| f.is_finite())
        }
        _ => None,
    }
    .filter(|f| f.is_finite())
}

const NAME_PREFIXES: &[&str] = &["mr", "mrs", "ms", "miss", "mx", "dr", "prof"];
const NAME_SUFFIXES: &[&str] = &[
    "jr", "sr", "ii", "iii", "iv", "v", "md", "dds", "phd", "dvm", "esq",
];

fn is_affix(word: &str, list: &[&str]) -> bool {
    let w = word.trim_end_matches('.').trim_end_matches(',');
    list.iter().any(|a| a.eq_ignore_ascii_case(w))
}

/// Splits a full name into (first, last): honorifics (`Dr.`) and suffixes (`Jr.`, `MD`) are
/// dropped, the first remaining word is the first name and the rest the last name.
///
/// # Examples
///
/// ```
/// use leadroute_core::intake::split_full_name;
/// assert_eq!(split_full_name("Dr. Mary Ann Smith Jr."),
///            (Some("Mary".into()), Some("Ann Smith".into())));
/// assert_eq!(split_full_name("Cher"), (Some("Cher".into()), None));
/// ```
pub fn split_full_name(full: &str) -> (Option<String>, Option<String>) {
    let mut words: Vec<&str> = full.split_whitespace().collect();
    while words.len() > 1 && is_affix(words[0], NAME_PREFIXES) {
        words.remove(0);
    }
    while words.len() > 1 && is_affix(words[words.len() - 1], NAME_SUFFIXES) {
        words.pop();
    }
    let words: Vec<&str> = words
        .into_iter()
        .map(|w| w.trim_end_matches(','))
        .filter(|w| !w.is_empty())
        .collect();
    match words.split_first() {
        None => (None, None),
        Some((first, rest)) => (
            Some(first.to_string()),
            (!rest.is_empty()).then(|| rest.join(" ")),
        ),
    }
}

/// Maps a record's fields to canonical terms through the provider's field map.
pub fn map_fields(mut fields: Fields, map: &FieldMap) -> LeadInput {
    let mut input = LeadInput::default();
    let mut text = |name: &'static str, input: &mut LeadInput| -> Option<String> {
        let v = fields.remove(map.source_name(name))?;
        as_text(&v).unwrap_or_else(|found| {
            input.wrong_types.push(WrongType { field: name, found });
            None
        })
    };
    input.first_name = text(canonical::FIRST_NAME, &mut input);
    input.last_name = text(canonical::LAST_NAME, &mut input);
    if let Some(full) = text(canonical::FULL_NAME, &mut input) {
        let (first, last) = split_full_name(&full);
        input.first_name = input.first_name.take().or(first);
        input.last_name = input.last_name.take().or(last);
    }
    input.phone = text(canonical::PHONE, &mut input);
    input.email = text(canonical::EMAIL, &mut input);
    input.zip_code = text(canonical::ZIP_CODE, &mut input);
    input.product_type = text(canonical::PRODUCT_TYPE, &mut input);
    input.appointment_date = text(canonical::APPOINTMENT_DATE, &mut input);
    input.external_id = text(canonical::LEAD_ID, &mut input);
    input.notes = text(canonical::NOTES, &mut input);
    if let Some(v) = fields.remove(map.source_name(canonical::ESTIMATED_VALUE)) {
        input.estimated_value = coerce_number(&v);
        if input.estimated_value.is_none() && !v.is_null() {
            input.warnings.push("unreadable_estimated_value".into());
        }
    }
    if let Some(v) = fields.remove(map.source_name(canonical::TCPA_CONSENT)) {
        input.tcpa_consent = coerce_bool(&v);
        if input.tcpa_consent.is_none() && !v.is_null() {
            input.warnings.push("unreadable_tcpa_consent".into());
        }
    }
    input.custom = fields;
    input
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn provider_b_map() -> FieldMap {
        FieldMap::new(
            [
                ("first_name", "FirstName"),
                ("last_name", "LastName"),
                ("phone", "PhoneNumber"),
                ("email", "EmailAddress"),
                ("zip_code", "PostalCode"),
                ("product_type", "ServiceType"),
                ("appointment_date", "ApptTime"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        )
    }

    #[test]
    fn json_lines_split_keeps_bad_lines_as_records() {
        let s = split_json_lines("{\"a\":1}\n\n   \nnot json\n[1,2]\n");
        assert_eq!(s.records.len(), 3);
        assert_eq!(s.blank_lines, 2);
        assert!(parse_fields(&s.records[0]).is_ok());
        assert!(parse_fields(&s.records[1])
            .unwrap_err()
            .0
            .contains("invalid JSON"));
        assert!(parse_fields(&s.records[2]).unwrap_err().0.contains("array"));
    }

    #[test]
    fn csv_split_keeps_exact_rows_and_flags_bad_ones() {
        let body =
            "name,phone1,notes\nKim Harris,402.886.3431,\"two\nlines\"\r\nshort,row\n\nA,B,C\n";
        let s = split_csv(body).unwrap();
        assert_eq!(s.records.len(), 3);
        assert_eq!(s.blank_lines, 1);
        assert_eq!(
            s.records[0].text(),
            "Kim Harris,402.886.3431,\"two\nlines\""
        );
        let f = parse_fields(&s.records[0]).unwrap();
        assert_eq!(f["notes"], json!("two\nlines"));
        assert!(parse_fields(&s.records[1])
            .unwrap_err()
            .0
            .contains("2 fields"));
        assert_eq!(parse_fields(&s.records[2]).unwrap()["phone1"], json!("B"));
        assert!(matches!(split_csv(""), Err(IntakeError::MissingCsvHeader)));
    }

    #[test]
    fn maps_provider_names_and_coerces_types() {
        let rec = json!({
            "FirstName": "Jessica", "LastName": " Harrison ", "PhoneNumber": 2542401519u64,
            "EmailAddress": "JADE99@EXAMPLE.NET", "PostalCode": "76642", "ServiceType": "Heat Pump",
            "ApptTime": "", "lead_id": "b0000002", "tcpa_consent": "yes",
            "estimated_value": "$12,000", "SystemType": "boiler"
        });
        let Value::Object(m) = rec else {
            unreachable!()
        };
        let i = map_fields(m, &provider_b_map());
        assert_eq!(i.first_name.as_deref(), Some("Jessica"));
        assert_eq!(i.last_name.as_deref(), Some("Harrison"));
        assert_eq!(i.phone.as_deref(), Some("2542401519"));
        assert_eq!(i.appointment_date, None);
        assert_eq!(i.external_id.as_deref(), Some("b0000002"));
        assert_eq!(i.tcpa_consent, Some(true));
        assert_eq!(i.estimated_value, Some(12000.0));
        assert_eq!(i.custom.keys().collect::<Vec<_>>(), vec!["SystemType"]);
    }

    #[test]
    fn wrong_types_are_reported_not_panicked() {
        let Value::Object(m) = json!({"phone": {"n": 1}, "zip_code": [1], "tcpa_consent": "maybe"})
        else {
            unreachable!()
        };
        let i = map_fields(m, &FieldMap::default());
        assert_eq!(i.phone, None);
        let fields: Vec<_> = i.wrong_types.iter().map(|w| (w.field, w.found)).collect();
        assert_eq!(fields, vec![("phone", "object"), ("zip_code", "array")]);
        assert_eq!(i.warnings, vec!["unreadable_tcpa_consent"]);
    }

    #[test]
    fn full_names_split() {
        let Value::Object(m) = json!({"name": "Pamela  Charles"}) else {
            unreachable!()
        };
        let map = FieldMap::new([("full_name".to_string(), "name".to_string())].into());
        let i = map_fields(m, &map);
        assert_eq!(
            (i.first_name.as_deref(), i.last_name.as_deref()),
            (Some("Pamela"), Some("Charles"))
        );
        assert_eq!(split_full_name("  "), (None, None));
        assert_eq!(
            split_full_name("Mrs. Jane Doe MD"),
            (Some("Jane".into()), Some("Doe".into()))
        );
    }

    #[test]
    fn content_key_is_stable_sha256() {
        let r = RawRecord::Json("abc".into());
        assert_eq!(
            r.content_key(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn deep_json_is_refused() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
        assert!(parse_fields(&RawRecord::Json(deep))
            .unwrap_err()
            .0
            .contains("nested"));
    }
}
