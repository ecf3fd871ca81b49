//! Intake: from a provider's raw body to canonical fields.
//!
//! A provider posts records in its own shape: JSON objects (a request body or a JSON Lines
//! file), CSV rows or form-encoded bodies (`application/x-www-form-urlencoded`), with its own
//! field names. Intake
//!
//! 1. splits a body into [`RawRecord`]s, each keeping its exact text (what is stored as the
//!    raw payload, whatever happens next): [`split_json_lines`], [`split_csv`],
//!    [`split_form`];
//! 2. parses one record into a field map ([`parse_fields`]); a record that does not parse is
//!    still a record, and becomes a rejection with reason `malformed_record`;
//! 3. maps the provider's names to canonical ones through its [`FieldMap`] and coerces types
//!    ([`map_fields`] → [`LeadInput`]): numbers in strings, `yes`/`1`/`true`, full names split
//!    into first and last. Fields the map does not name are kept as custom fields.
//!
//! Besides the core canonical fields, [`map_fields`] reads the seed's attribution and
//! compliance fields (UTM, campaign, IP address, user agent, postal address, TCPA consent
//! text, its hash and certificate URL) into typed [`LeadInput`] fields; see
//! [`canonical::EXTENDED`].
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
    /// A request body is over the engine's `max_body_bytes` (HTTP 413).
    #[error("request body of {size} bytes is over the limit of {limit} bytes")]
    BodyTooLarge {
        /// The body's size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
}

impl IntakeError {
    /// The error's kind: an unknown provider is `NotFound`, an inactive one `Forbidden`,
    /// a bad body `InvalidInput`.
    pub fn kind(&self) -> crate::kind::ErrorKind {
        use crate::kind::ErrorKind;
        match self {
            IntakeError::UnknownProvider(_) => ErrorKind::NotFound,
            IntakeError::InactiveProvider(_) => ErrorKind::Forbidden,
            IntakeError::MissingCsvHeader
            | IntakeError::Unreadable(_)
            | IntakeError::BodyTooLarge { .. } => ErrorKind::InvalidInput,
        }
    }

    /// Stable snake_case code: `unknown_provider`, `provider_inactive` (the same code as the
    /// intake wall's [`AuthError::ProviderInactive`](crate::auth::AuthError)),
    /// `missing_csv_header`, `unreadable`, `body_too_large`.
    pub fn code(&self) -> &'static str {
        match self {
            IntakeError::UnknownProvider(_) => "unknown_provider",
            IntakeError::InactiveProvider(_) => "provider_inactive",
            IntakeError::MissingCsvHeader => "missing_csv_header",
            IntakeError::Unreadable(_) => "unreadable",
            IntakeError::BodyTooLarge { .. } => "body_too_large",
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
    /// One form-encoded body (`application/x-www-form-urlencoded`), verbatim.
    Form(String),
}

impl RawRecord {
    /// The text stored as the raw payload: the JSON text, the CSV row, or the form body.
    pub fn text(&self) -> &str {
        match self {
            RawRecord::Json(t) | RawRecord::Form(t) => t,
            RawRecord::Csv { row, .. } => row,
        }
    }

    /// What a rejection stores as the record's raw payload: the text itself for JSON and
    /// form records; for a CSV record, a two-line CSV document (the body's header row, then
    /// the record's row), so that the stored record can be read again on its own
    /// (reprocessing). The idempotency key stays the row's ([`RawRecord::content_key`]).
    pub fn stored_payload(&self) -> String {
        match self {
            RawRecord::Json(t) | RawRecord::Form(t) => t.clone(),
            RawRecord::Csv { header, row } => {
                let mut w = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::Any(b'\n'))
                    .from_writer(Vec::new());
                let line = w
                    .write_record(header.iter())
                    .ok()
                    .and_then(|()| w.into_inner().ok())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                format!("{line}{row}")
            }
        }
    }

    /// The record's content hash, `sha256:<hex>` of [`RawRecord::text`]: its idempotency key
    /// when the provider sends no lead id.
    pub fn content_key(&self) -> String {
        sha256_key(self.text())
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

/// Splits a form-encoded body: one record (the body, verbatim) unless it is blank.
///
/// A form body carries one record; there is no batch form format.
pub fn split_form(body: &str) -> Split {
    let mut out = Split::default();
    if body.trim().is_empty() {
        out.blank_lines = 1;
    } else {
        out.records.push(RawRecord::Form(body.to_string()));
    }
    out
}

/// Splits a JSON request body: a JSON array of objects is one record per element (each
/// element's text verbatim), a body that is one JSON value (e.g. a pretty-printed object) is
/// one record, anything else is JSON Lines ([`split_json_lines`]).
///
/// A JSON Lines body fails the whole-value parse at its second line, so the common case
/// costs one extra parse of the first record only.
pub fn split_json_body(body: &str) -> Split {
    let trimmed = body.trim();
    if trimmed.starts_with('[') {
        if let Ok(items) = serde_json::from_str::<Vec<&serde_json::value::RawValue>>(trimmed) {
            return Split {
                records: items
                    .into_iter()
                    .map(|r| RawRecord::Json(r.get().to_string()))
                    .collect(),
                blank_lines: 0,
            };
        }
    } else if trimmed.starts_with('{')
        && trimmed.contains('\n')
        && serde_json::from_str::<serde::de::IgnoredAny>(trimmed).is_ok()
    {
        return Split {
            records: vec![RawRecord::Json(trimmed.to_string())],
            blank_lines: 0,
        };
    }
    split_json_lines(body)
}

/// Splits a body of the given format (see [`split_json_body`], [`split_csv`],
/// [`split_form`]).
///
/// # Errors
///
/// As [`split_csv`] for CSV; JSON and form bodies never fail.
pub fn split(format: RecordFormat, body: &str) -> Result<Split, IntakeError> {
    match format {
        RecordFormat::Json => Ok(split_json_body(body)),
        RecordFormat::Csv => split_csv(body),
        RecordFormat::Form => Ok(split_form(body)),
    }
}

/// Splits a provider's records file (see [`RecordFormat::file_extension`]): as [`split`],
/// except that a form file holds one form-encoded body per line.
///
/// # Errors
///
/// As [`split`].
pub fn split_file(format: RecordFormat, body: &str) -> Result<Split, IntakeError> {
    match format {
        RecordFormat::Form => {
            let mut out = Split::default();
            for line in body.lines() {
                let one = split_form(line);
                out.blank_lines += one.blank_lines;
                out.records.extend(one.records);
            }
            Ok(out)
        }
        RecordFormat::Json | RecordFormat::Csv => split(format, body),
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
/// not an object or nested deeper than [`MAX_JSON_DEPTH`], is a CSV row whose field count
/// differs from its header's, or is a form body with no field (see [`parse_form`]).
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
            let rec = csv_row_fields(row)?;
            if rec.len() != header.len() {
                return Err(MalformedRecord(format!(
                    "CSV row has {} fields, header has {}",
                    rec.len(),
                    header.len()
                )));
            }
            Ok(header
                .iter()
                .zip(rec)
                .map(|(h, v)| (h.clone(), Value::String(v)))
                .collect())
        }
        RawRecord::Form(body) => parse_form(body),
    }
}

thread_local! {
    /// One CSV row parser per thread, reset for each row: building a parser (its DFA) costs
    /// more than parsing a row.
    static ROW_PARSER: std::cell::RefCell<csv_core::Reader> =
        std::cell::RefCell::new(csv_core::Reader::new());
}

/// The fields of one CSV row: its first record in the `csv` crate's default dialect (comma,
/// `"` quotes with `""` escapes), as `csv::Reader` reads it.
fn csv_row_fields(row: &str) -> Result<Vec<String>, MalformedRecord> {
    use csv_core::ReadRecordResult as R;
    ROW_PARSER.with(|parser| {
        let mut rdr = parser.borrow_mut();
        rdr.reset();
        let mut input = row.as_bytes();
        let mut out = vec![0u8; row.len() + 1];
        let mut ends = vec![0usize; 32];
        let (mut n_out, mut n_ends) = (0, 0);
        loop {
            let (res, n_in, o, e) = rdr.read_record(input, &mut out[n_out..], &mut ends[n_ends..]);
            input = &input[n_in..];
            n_out += o;
            n_ends += e;
            match res {
                // All input consumed: the next call, with no input, ends the record.
                R::InputEmpty => {}
                R::OutputFull => out.resize(out.len() * 2, 0),
                R::OutputEndsFull => ends.resize(ends.len() * 2, 0),
                R::Record => break,
                R::End => return Err(MalformedRecord("empty CSV row".into())),
            }
        }
        let mut start = 0;
        Ok(ends[..n_ends]
            .iter()
            .map(|&end| {
                let field = String::from_utf8_lossy(&out[start..end]).into_owned();
                start = end;
                field
            })
            .collect())
    })
}

/// Parses an `application/x-www-form-urlencoded` body into fields, following the WHATWG URL
/// Standard's urlencoded parser: the body is split on `&` (empty pieces skipped), each piece
/// on its first `=` (a piece without one is a name with an empty value), `+` becomes a space,
/// `%XX` is percent-decoded (a `%` not followed by two hex digits is kept as is), and the
/// bytes are read as UTF-8 with invalid sequences replaced by U+FFFD. Leading and trailing
/// ASCII whitespace of the whole body (a trailing newline) is ignored.
///
/// Every value is a JSON string ([`map_fields`] coerces numbers and booleans). A name that
/// occurs more than once becomes an array of its values, in order: nothing is dropped, and a
/// repeated canonical field (two phones) is then rejected as `wrong_type` rather than
/// silently picking one.
///
/// # Errors
///
/// [`MalformedRecord`] when the body has no field at all.
///
/// # Examples
///
/// ```
/// use leadroute_core::intake::parse_form;
/// use serde_json::json;
/// let f = parse_form("first_name=Mary+Ann&phone=%28317%29+863-8426&tag=a&tag=b").unwrap();
/// assert_eq!(f["first_name"], json!("Mary Ann"));
/// assert_eq!(f["phone"], json!("(317) 863-8426"));
/// assert_eq!(f["tag"], json!(["a", "b"]));
/// ```
pub fn parse_form(body: &str) -> Result<Fields, MalformedRecord> {
    let mut out = Fields::new();
    for piece in body
        .trim_matches(|c: char| c.is_ascii_whitespace())
        .split('&')
    {
        if piece.is_empty() {
            continue;
        }
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        let name = form_decode(name);
        let value = Value::String(form_decode(value));
        match out.get_mut(&name) {
            None => {
                out.insert(name, value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(prev) => {
                let first = prev.take();
                *prev = Value::Array(vec![first, value]);
            }
        }
    }
    if out.is_empty() {
        return Err(MalformedRecord("form body has no field".into()));
    }
    Ok(out)
}

/// Decodes one form-encoded name or value: `+` → space, `%XX` → byte, then UTF-8 (lossy).
fn form_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if !bytes.iter().any(|b| *b == b'+' || *b == b'%') {
        return s.to_string();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex);
                let lo = bytes.get(i + 2).copied().and_then(hex);
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
    /// UTM source (`utm_source`).
    pub const UTM_SOURCE: &str = "utm_source";
    /// UTM medium.
    pub const UTM_MEDIUM: &str = "utm_medium";
    /// UTM campaign.
    pub const UTM_CAMPAIGN: &str = "utm_campaign";
    /// UTM term.
    pub const UTM_TERM: &str = "utm_term";
    /// UTM content.
    pub const UTM_CONTENT: &str = "utm_content";
    /// The provider's campaign id.
    pub const CAMPAIGN_ID: &str = "campaign_id";
    /// The consumer's IP address at submission (IPv4 or IPv6).
    pub const IP_ADDRESS: &str = "ip_address";
    /// The consumer's browser user agent at submission.
    pub const USER_AGENT: &str = "user_agent";
    /// Street address.
    pub const ADDRESS: &str = "address";
    /// City.
    pub const CITY: &str = "city";
    /// State: a USPS two-letter code or a state name (checked against the ZIP's state).
    pub const STATE: &str = "state";
    /// The TCPA consent language the consumer agreed to (the seed's `consent_description`).
    /// When the field map does not name it, it is read from `consent_text`, else from
    /// `consent_description`.
    pub const CONSENT_TEXT: &str = "consent_text";
    /// A consent certificate URL (TrustedForm or Jornaya style). When the field map does not
    /// name it, it is read from `consent_certificate_url`, else `trustedform_cert_url`, else
    /// `xxTrustedFormCertUrl`.
    pub const CONSENT_CERTIFICATE_URL: &str = "consent_certificate_url";
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
        UTM_SOURCE,
        UTM_MEDIUM,
        UTM_CAMPAIGN,
        UTM_TERM,
        UTM_CONTENT,
        CAMPAIGN_ID,
        IP_ADDRESS,
        USER_AGENT,
        ADDRESS,
        CITY,
        STATE,
        CONSENT_TEXT,
        CONSENT_CERTIFICATE_URL,
    ];
    /// The extended (attribution and compliance) fields. Unlike the core fields, they are
    /// read but not consumed: they stay in [`super::LeadInput::custom`] too, so the stored
    /// custom metadata keeps them until storage has columns of their own.
    pub const EXTENDED: &[&str] = &[
        UTM_SOURCE,
        UTM_MEDIUM,
        UTM_CAMPAIGN,
        UTM_TERM,
        UTM_CONTENT,
        CAMPAIGN_ID,
        IP_ADDRESS,
        USER_AGENT,
        ADDRESS,
        CITY,
        STATE,
        CONSENT_TEXT,
        CONSENT_CERTIFICATE_URL,
    ];
    /// Other names an extended field is read from when the field map does not name it and
    /// its canonical name is absent, in order of preference.
    pub(crate) fn aliases(canonical: &str) -> &'static [&'static str] {
        match canonical {
            CONSENT_TEXT => &["consent_description"],
            CONSENT_CERTIFICATE_URL => &["trustedform_cert_url", "xxTrustedFormCertUrl"],
            _ => &[],
        }
    }
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
    /// Whether the map names the canonical field explicitly.
    pub fn names(&self, canonical: &str) -> bool {
        self.map.contains_key(canonical)
    }

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
    /// UTM source.
    pub utm_source: Option<String>,
    /// UTM medium.
    pub utm_medium: Option<String>,
    /// UTM campaign.
    pub utm_campaign: Option<String>,
    /// UTM term.
    pub utm_term: Option<String>,
    /// UTM content.
    pub utm_content: Option<String>,
    /// The provider's campaign id.
    pub campaign_id: Option<String>,
    /// IP address as sent (validation warns `invalid_ip_address` when it is not one).
    pub ip_address: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Street address.
    pub address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State as sent (validation compares it with the ZIP's state).
    pub state: Option<String>,
    /// TCPA consent language, trimmed.
    pub consent_text: Option<String>,
    /// `sha256:<64 lowercase hex>` of [`LeadInput::consent_text`] (its UTF-8 bytes, trimmed),
    /// computed here; proves which language was agreed to without storing it per lead.
    pub consent_hash: Option<String>,
    /// Consent certificate URL (TrustedForm/Jornaya style), as sent.
    pub consent_certificate_url: Option<String>,
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
    for &name in canonical::EXTENDED {
        let v = read_extended(&mut fields, map, name, &mut input);
        match name {
            canonical::UTM_SOURCE => input.utm_source = v,
            canonical::UTM_MEDIUM => input.utm_medium = v,
            canonical::UTM_CAMPAIGN => input.utm_campaign = v,
            canonical::UTM_TERM => input.utm_term = v,
            canonical::UTM_CONTENT => input.utm_content = v,
            canonical::CAMPAIGN_ID => input.campaign_id = v,
            canonical::IP_ADDRESS => input.ip_address = v,
            canonical::USER_AGENT => input.user_agent = v,
            canonical::ADDRESS => input.address = v,
            canonical::CITY => input.city = v,
            canonical::STATE => input.state = v,
            canonical::CONSENT_TEXT => input.consent_text = v,
            canonical::CONSENT_CERTIFICATE_URL => input.consent_certificate_url = v,
            _ => {}
        }
    }
    input.consent_hash = input.consent_text.as_deref().map(sha256_key);
    input.custom = fields;
    input
}

/// Reads an extended field: the map's name if it names the field, else the canonical name,
/// else its aliases. A readable value is consumed (it is stored under its canonical name,
/// not again in the custom fields); a value that cannot be text stays in the custom fields
/// with a warning `unreadable_<field>`, not a rejection (these fields are informational).
fn read_extended(
    fields: &mut Fields,
    map: &FieldMap,
    name: &'static str,
    input: &mut LeadInput,
) -> Option<String> {
    let key = if map.names(name) {
        Some(map.source_name(name))
    } else {
        std::iter::once(name)
            .chain(canonical::aliases(name).iter().copied())
            .find(|n| fields.contains_key(*n))
    }?
    .to_string();
    match as_text(fields.get(&key)?) {
        Ok(v) => {
            fields.remove(&key);
            v
        }
        Err(_) => {
            input.warnings.push(format!("unreadable_{name}"));
            None
        }
    }
}

/// `sha256:<hex>` of a text's UTF-8 bytes.
fn sha256_key(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in digest {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

impl LeadInput {
    /// The text fields by canonical name (`None` when absent), core then extended, for
    /// checks that apply to every field (length limits, required fields). The full name is
    /// not listed: it is split into first and last name.
    pub fn text_fields(&self) -> [(&'static str, Option<&str>); 22] {
        use canonical as c;
        [
            (c::FIRST_NAME, self.first_name.as_deref()),
            (c::LAST_NAME, self.last_name.as_deref()),
            (c::PHONE, self.phone.as_deref()),
            (c::EMAIL, self.email.as_deref()),
            (c::ZIP_CODE, self.zip_code.as_deref()),
            (c::PRODUCT_TYPE, self.product_type.as_deref()),
            (c::APPOINTMENT_DATE, self.appointment_date.as_deref()),
            (c::LEAD_ID, self.external_id.as_deref()),
            (c::NOTES, self.notes.as_deref()),
            (c::UTM_SOURCE, self.utm_source.as_deref()),
            (c::UTM_MEDIUM, self.utm_medium.as_deref()),
            (c::UTM_CAMPAIGN, self.utm_campaign.as_deref()),
            (c::UTM_TERM, self.utm_term.as_deref()),
            (c::UTM_CONTENT, self.utm_content.as_deref()),
            (c::CAMPAIGN_ID, self.campaign_id.as_deref()),
            (c::IP_ADDRESS, self.ip_address.as_deref()),
            (c::USER_AGENT, self.user_agent.as_deref()),
            (c::ADDRESS, self.address.as_deref()),
            (c::CITY, self.city.as_deref()),
            (c::STATE, self.state.as_deref()),
            (c::CONSENT_TEXT, self.consent_text.as_deref()),
            (
                c::CONSENT_CERTIFICATE_URL,
                self.consent_certificate_url.as_deref(),
            ),
        ]
    }

    /// Whether a canonical field has a value: `Some(present)` for a canonical name (the
    /// full name counts as present when a first or last name is), `None` for any other name.
    pub fn has_canonical(&self, name: &str) -> Option<bool> {
        match name {
            canonical::ESTIMATED_VALUE => Some(self.estimated_value.is_some()),
            canonical::TCPA_CONSENT => Some(self.tcpa_consent.is_some()),
            canonical::FULL_NAME => Some(self.first_name.is_some() || self.last_name.is_some()),
            _ => self
                .text_fields()
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.is_some()),
        }
    }
}

#[cfg(test)]
mod tests;
