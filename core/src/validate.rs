//! Validation: decides whether a [`LeadInput`] becomes a lead, and normalizes it.
//!
//! Every check runs, so a rejection lists all its reasons at once, each with a stable
//! snake_case [`ReasonCode`] and a human-readable detail. Checks:
//!
//! - phone: present, and valid per libphonenumber ([`crate::phone::normalize`]); when the
//!   context does not require a phone, a valid email is enough and the phone's problem is a
//!   warning instead (the record needs one way to reach the person);
//! - ZIP: present, ZIP5 or ZIP+4 ([`crate::zip::Zip5::parse`]), listed in the ZIP table and
//!   active;
//! - product: present, known to the catalog, and of a lead type the provider may send;
//! - appointment time: absent, or RFC 3339;
//! - fields whose JSON type cannot be text (an object where the phone should be);
//! - field length: every text field at most [`MAX_FIELD_CHARS`] characters, the long-text
//!   fields (`notes`, `consent_text`) and the provider's custom text fields at most
//!   [`MAX_LONG_FIELD_CHARS`] (reason `field_too_long`); the whole record is already bounded
//!   by [`crate::intake::MAX_RECORD_BYTES`] and JSON nesting by
//!   [`crate::intake::MAX_JSON_DEPTH`];
//! - required fields per lead type (vertical), from [`VerticalRules`] (reason
//!   `missing_required_field`); none by default, see [`validate_with`].
//!
//! Warnings (the lead is kept): `state_mismatch` when the record's state is not the ZIP's,
//! `unreadable_state` when it is neither a USPS code nor a state name, `invalid_ip_address`,
//! and `invalid_consent_certificate_url` when that URL is not `http(s)://`.
//!
//! An unreadable email is not a reason to lose a lead with a good phone: it is dropped and
//! the lead carries the warning `invalid_email` (its raw text stays in the raw payload).

use crate::catalog::{Catalog, ProductId};
use crate::intake::{canonical, LeadInput};
use crate::phone::{self, NormalizedPhone};
use crate::zip::{Zip5, ZipTable};
use jiff::Timestamp;
use std::collections::BTreeMap;

pub use crate::status::ReasonCode;

/// One reason, with detail for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// The code.
    pub code: ReasonCode,
    /// What exactly was wrong, e.g. `phone "555": too_short`.
    pub detail: String,
}

/// A rejected record's reasons (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record rejected: {}", .reasons.iter().map(|r| r.code.as_str()).collect::<Vec<_>>().join(", "))]
pub struct ValidationError {
    /// All reasons, in check order.
    pub reasons: Vec<Reason>,
}

/// What validation needs to know besides the record.
#[derive(Debug, Clone, Copy)]
pub struct ValidationContext<'a> {
    /// The ZIP table.
    pub zips: &'a ZipTable,
    /// The product catalog.
    pub catalog: &'a Catalog,
    /// Lead types the provider may send (lowercase); empty means any.
    pub allowed_lead_types: &'a [String],
    /// CLDR region for phones written without a country code, e.g. `US`.
    pub default_region: &'a str,
    /// Whether a valid phone is required (the seed's rule). When `false`, a record with a
    /// valid email and no valid phone is accepted with the phone problem as a warning.
    pub require_phone: bool,
}

/// Maximum length of a text field, in characters (Unicode scalar values), after trimming.
/// Generous for names, addresses, URLs and user agents (the corpus's longest is 147).
pub const MAX_FIELD_CHARS: usize = 1_000;
/// Maximum length of a long-text field (`notes`, `consent_text`) and of each of the
/// provider's custom text fields, in characters. TCPA disclosures can run to a few thousand.
pub const MAX_LONG_FIELD_CHARS: usize = 10_000;

/// Required fields per lead type (vertical): lead type (lowercase, as in the catalog) → field
/// names. A name is either canonical (see [`crate::intake::canonical`]; it is present when
/// the mapped field has a value) or one of the provider's custom field names, matched
/// ignoring ASCII case, `_`, `-` and spaces (so `system_type` matches `SystemType`); a custom
/// field is present when it is not null and not blank.
///
/// The default table is empty: nothing beyond the core checks is required.
///
/// # Examples
///
/// ```
/// use leadroute_core::validate::VerticalRules;
/// let mut rules = VerticalRules::default();
/// rules.require("Solar", ["monthly_electric_bill", "roof_age"]);
/// assert_eq!(rules.required("solar"), ["monthly_electric_bill", "roof_age"]);
/// assert!(rules.required("hvac").is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerticalRules {
    required: BTreeMap<String, Vec<String>>,
}

impl VerticalRules {
    /// A table from lead type → required field names (lead types are lowercased).
    pub fn new(required: BTreeMap<String, Vec<String>>) -> VerticalRules {
        let mut rules = VerticalRules::default();
        for (lead_type, fields) in required {
            rules.require(&lead_type, fields);
        }
        rules
    }

    /// A table drawn from the fields the seed corpus's providers send for each vertical:
    ///
    /// | lead type | required |
    /// | --- | --- |
    /// | `solar` | `monthly_electric_bill`, `roof_age` |
    /// | `battery` | `monthly_electric_bill` |
    /// | `hvac` | `system_type` (provider B's `SystemType`) |
    /// | `kitchen`, `bath`, `roofing`, `windows`, `gutters` | `budget` |
    ///
    /// Not used unless passed to [`validate_with`]: turning it on changes which records are
    /// accepted.
    pub fn seed_defaults() -> VerticalRules {
        let mut rules = VerticalRules::default();
        rules.require("solar", ["monthly_electric_bill", "roof_age"]);
        rules.require("battery", ["monthly_electric_bill"]);
        rules.require("hvac", ["system_type"]);
        for t in ["kitchen", "bath", "roofing", "windows", "gutters"] {
            rules.require(t, ["budget"]);
        }
        rules
    }

    /// Adds required fields for a lead type (case-insensitive), keeping earlier ones.
    pub fn require<I, S>(&mut self, lead_type: &str, fields: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let list = self
            .required
            .entry(lead_type.trim().to_ascii_lowercase())
            .or_default();
        for f in fields {
            let f = f.into();
            if !list.contains(&f) {
                list.push(f);
            }
        }
    }

    /// The fields required for a lead type (case-insensitive); empty when none.
    pub fn required(&self, lead_type: &str) -> &[String] {
        let key = lead_type.trim().to_ascii_lowercase();
        self.required.get(&key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether no lead type requires anything.
    pub fn is_empty(&self) -> bool {
        self.required.values().all(Vec::is_empty)
    }
}

/// Validation behaviour beyond [`ValidationContext`], with defaults that keep
/// [`validate`]'s behaviour: no vertical rules, the field limits on, the state check on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationOptions {
    /// Required fields per lead type (default: none).
    pub vertical_rules: VerticalRules,
    /// Limit for text fields, in characters (default [`MAX_FIELD_CHARS`]).
    pub max_field_chars: usize,
    /// Limit for long-text and custom text fields, in characters (default
    /// [`MAX_LONG_FIELD_CHARS`]).
    pub max_long_field_chars: usize,
    /// Whether to compare the record's state with its ZIP's (warning `state_mismatch`, or
    /// `unreadable_state` when it names no state); default `true`.
    pub check_state: bool,
}

impl Default for ValidationOptions {
    fn default() -> ValidationOptions {
        ValidationOptions {
            vertical_rules: VerticalRules::default(),
            max_field_chars: MAX_FIELD_CHARS,
            max_long_field_chars: MAX_LONG_FIELD_CHARS,
            check_state: true,
        }
    }
}

/// USPS codes and names of the states, DC and the territories in the ZIP table.
const STATES: &[(&str, &str)] = &[
    ("AL", "Alabama"),
    ("AK", "Alaska"),
    ("AZ", "Arizona"),
    ("AR", "Arkansas"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DE", "Delaware"),
    ("DC", "District of Columbia"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("HI", "Hawaii"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("IA", "Iowa"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("ME", "Maine"),
    ("MD", "Maryland"),
    ("MA", "Massachusetts"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MS", "Mississippi"),
    ("MO", "Missouri"),
    ("MT", "Montana"),
    ("NE", "Nebraska"),
    ("NV", "Nevada"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NY", "New York"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VT", "Vermont"),
    ("VA", "Virginia"),
    ("WA", "Washington"),
    ("WV", "West Virginia"),
    ("WI", "Wisconsin"),
    ("WY", "Wyoming"),
    ("AS", "American Samoa"),
    ("GU", "Guam"),
    ("MP", "Northern Mariana Islands"),
    ("PR", "Puerto Rico"),
    ("VI", "Virgin Islands"),
    ("FM", "Federated States of Micronesia"),
    ("MH", "Marshall Islands"),
    ("PW", "Palau"),
    ("AA", "Armed Forces Americas"),
    ("AE", "Armed Forces Europe"),
    ("AP", "Armed Forces Pacific"),
];

/// The USPS code of a state written as a code (`in`, `IN`) or a name (`Indiana`), any case,
/// dots and extra spaces ignored.
pub fn state_code(raw: &str) -> Option<&'static str> {
    let s: String = raw
        .replace('.', "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    STATES
        .iter()
        .find(|(code, name)| code.eq_ignore_ascii_case(&s) || name.eq_ignore_ascii_case(&s))
        .map(|(code, _)| *code)
}

fn loose_key(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
}

/// Whether the record has a value for a required field (see [`VerticalRules`]).
fn has_field(input: &LeadInput, name: &str) -> bool {
    if let Some(present) = input.has_canonical(name) {
        return present;
    }
    let v = input.custom.get(name).or_else(|| {
        input
            .custom
            .iter()
            .find(|(k, _)| loose_key(k).eq(loose_key(name)))
            .map(|(_, v)| v)
    });
    match v {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::String(s)) => !s.trim().is_empty(),
        Some(_) => true,
    }
}

/// Whether a text is longer than `max` characters (cheap when its bytes already fit).
fn too_long(s: &str, max: usize) -> bool {
    s.len() > max && s.chars().count() > max
}

/// A record that passed validation, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidLead {
    /// E.164 phone and extension (always present when the context requires a phone).
    pub phone: Option<NormalizedPhone>,
    /// Normalized email, if present and valid.
    pub email: Option<String>,
    /// ZIP5.
    pub zip: Zip5,
    /// Catalog product.
    pub product: ProductId,
    /// Canonical product name.
    pub product_name: String,
    /// Appointment time (UTC), if sent.
    pub appointment_date: Option<Timestamp>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Estimated value, dollars.
    pub estimated_value: Option<f64>,
    /// TCPA consent.
    pub tcpa_consent: Option<bool>,
    /// The provider's lead id.
    pub external_id: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Non-fatal findings, snake_case.
    pub warnings: Vec<String>,
}

/// Parses a timestamp as RFC 3339 (`2026-11-24T13:00:00Z`, any offset; see
/// [`crate::rfc3339::parse`]) or as `YYYY-MM-DD HH:MM:SS` taken as UTC.
pub fn parse_timestamp(raw: &str) -> Option<Timestamp> {
    let s = raw.trim();
    if let Ok(t) = crate::rfc3339::parse(s) {
        return Some(t);
    }
    parse_utc_civil(s)
}

/// `YYYY-MM-DD HH:MM:SS` as UTC: the year four digits, optionally signed, every other
/// component exactly two digits, no fraction, no leap second.
fn parse_utc_civil(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let mut i = 0;
    let sign = match b.first() {
        Some(b'-') => Some(-1),
        Some(b'+') => Some(1),
        _ => None,
    };
    if sign.is_some() {
        i += 1;
    }
    let year_digits = b[i..]
        .iter()
        .take(4)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if year_digits < 4 {
        return None;
    }
    let year = b[i..i + year_digits]
        .iter()
        .fold(0i32, |v, c| v * 10 + i32::from(c - b'0'))
        * sign.unwrap_or(1);
    i += year_digits;
    let mut two = |sep: u8| -> Option<u32> {
        let d = b.get(i..i + 3)?;
        if d[0] != sep || !d[1].is_ascii_digit() || !d[2].is_ascii_digit() {
            return None;
        }
        i += 3;
        Some(u32::from(d[1] - b'0') * 10 + u32::from(d[2] - b'0'))
    };
    let month = two(b'-')?;
    let day = two(b'-')?;
    let hour = two(b' ')?;
    let minute = two(b':')?;
    let second = two(b':')?;
    if i != b.len()
        || !(1..=12).contains(&month)
        || day == 0
        || day > crate::rfc3339::days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let civil = jiff::civil::DateTime::new(
        year as i16,
        month as i8,
        day as i8,
        hour as i8,
        minute as i8,
        second as i8,
        0,
    )
    .ok()?;
    jiff::tz::Offset::UTC.to_timestamp(civil).ok()
}

fn quoted(s: &str) -> String {
    let short: String = s.chars().take(64).collect();
    format!("{short:?}")
}

/// Validates and normalizes one record with the default [`ValidationOptions`].
///
/// # Errors
///
/// [`ValidationError`] with every reason found (see the module docs).
pub fn validate(
    input: &LeadInput,
    ctx: &ValidationContext<'_>,
) -> Result<ValidLead, ValidationError> {
    validate_with(input, ctx, &DEFAULT_OPTIONS)
}

static DEFAULT_OPTIONS: ValidationOptions = ValidationOptions {
    vertical_rules: VerticalRules {
        required: BTreeMap::new(),
    },
    max_field_chars: MAX_FIELD_CHARS,
    max_long_field_chars: MAX_LONG_FIELD_CHARS,
    check_state: true,
};

/// Validates and normalizes one record, with options: required fields per lead type, field
/// limits, the state check.
///
/// New reasons come after the core ones: `field_too_long` (each field over its limit), then
/// `missing_required_field` (each required field absent, only when the product is known).
///
/// # Errors
///
/// [`ValidationError`] with every reason found (see the module docs).
pub fn validate_with(
    input: &LeadInput,
    ctx: &ValidationContext<'_>,
    opts: &ValidationOptions,
) -> Result<ValidLead, ValidationError> {
    let mut f = Findings {
        reasons: Vec::new(),
        warnings: input.warnings.clone(),
    };
    check_wrong_types(input, &mut f);
    let (phone, phone_problem) = phone_of(input, ctx.default_region);
    let email = email_of(input, &mut f.warnings);
    settle_contact(
        input,
        ctx,
        phone.is_some(),
        phone_problem,
        email.is_some(),
        &mut f,
    );
    let zip = zip_of(input, ctx, &mut f);
    let product = product_of(input, ctx, &mut f);
    let appointment_date = appointment_of(input, &mut f);
    check_lengths(input, opts, &mut f);
    if let Some(p) = product {
        check_required_fields(input, ctx.catalog.lead_type(p), opts, &mut f);
    }
    if opts.check_state {
        f.warnings
            .extend(state_warning(input, zip.map(|(_, state)| state)));
    }
    f.warnings.extend(attribution_warnings(input));

    let phone_ok = phone.is_some() || (!ctx.require_phone && email.is_some());
    match (zip, product) {
        (Some((zip, _)), Some(product)) if phone_ok && f.reasons.is_empty() => Ok(ValidLead {
            phone,
            email,
            zip,
            product,
            product_name: ctx.catalog.name(product).to_string(),
            appointment_date,
            first_name: input.first_name.clone(),
            last_name: input.last_name.clone(),
            estimated_value: input.estimated_value,
            tcpa_consent: input.tcpa_consent,
            external_id: input.external_id.clone(),
            notes: input.notes.clone(),
            warnings: f.warnings,
        }),
        _ => Err(ValidationError { reasons: f.reasons }),
    }
}

/// What the checks found so far: the reasons to reject, in check order, and the warnings.
struct Findings {
    /// Reasons to reject the record.
    reasons: Vec<Reason>,
    /// Non-fatal findings, starting with the parser's.
    warnings: Vec<String>,
}

impl Findings {
    /// Records a reason to reject the record.
    fn reject(&mut self, code: ReasonCode, detail: String) {
        self.reasons.push(Reason { code, detail });
    }
}

/// Whether the parser found a JSON type that cannot be text in this canonical field (its
/// `wrong_type` reason is already reported, so the field's own "missing" reason is not).
fn wrong(input: &LeadInput, field: &str) -> bool {
    input.wrong_types.iter().any(|w| w.field == field)
}

/// One `wrong_type` reason per field whose JSON type cannot be read as text.
fn check_wrong_types(input: &LeadInput, f: &mut Findings) {
    for w in &input.wrong_types {
        f.reject(
            ReasonCode::WrongType,
            format!("{}: expected text, got {}", w.field, w.found),
        );
    }
}

/// The normalized phone, or the problem with it (none when the phone had a wrong JSON type,
/// already reported).
fn phone_of(input: &LeadInput, region: &str) -> (Option<NormalizedPhone>, Option<Reason>) {
    match input.phone.as_deref() {
        None if wrong(input, "phone") => (None, None),
        None => (
            None,
            Some(Reason {
                code: ReasonCode::MissingPhone,
                detail: "no phone".into(),
            }),
        ),
        Some(raw) => match phone::normalize(raw, region) {
            Ok(p) => (Some(p), None),
            Err(e) => (
                None,
                Some(Reason {
                    code: ReasonCode::InvalidPhone,
                    detail: format!("phone {}: {}", quoted(raw), e.code()),
                }),
            ),
        },
    }
}

/// The normalized email; an unreadable one (or one of a wrong JSON type) is dropped with the
/// warning `invalid_email`.
fn email_of(input: &LeadInput, warnings: &mut Vec<String>) -> Option<String> {
    let email = match input.email.as_deref().map(crate::email::normalize) {
        Some(Ok(e)) => Some(e),
        Some(Err(_)) => {
            warnings.push("invalid_email".into());
            None
        }
        None => None,
    };
    if wrong(input, "email") {
        warnings.push("invalid_email".into());
    }
    email
}

/// Decides whether the phone's problem rejects the record or, when the context does not
/// require a phone and a valid email stands in, is only a warning; without either, the
/// email's problem is a reason too.
fn settle_contact(
    input: &LeadInput,
    ctx: &ValidationContext<'_>,
    has_phone: bool,
    phone_problem: Option<Reason>,
    has_email: bool,
    f: &mut Findings,
) {
    if let Some(problem) = phone_problem {
        if !ctx.require_phone && has_email {
            f.warnings.push(problem.code.as_str().to_string());
        } else {
            f.reject(problem.code, problem.detail);
            if !ctx.require_phone {
                match input.email.as_deref() {
                    None => f.reject(ReasonCode::MissingEmail, "no email either".into()),
                    Some(raw) => f.reject(
                        ReasonCode::InvalidEmail,
                        format!("email {} is not an address either", quoted(raw)),
                    ),
                }
            }
        }
    }
    if !has_phone && wrong(input, "phone") && !ctx.require_phone && !has_email {
        f.reject(ReasonCode::MissingEmail, "no usable email either".into());
    }
}

/// The ZIP5 and its state, when the ZIP is present, well formed, known and active.
fn zip_of<'a>(
    input: &LeadInput,
    ctx: &ValidationContext<'a>,
    f: &mut Findings,
) -> Option<(Zip5, &'a str)> {
    let raw = match input.zip_code.as_deref() {
        None if wrong(input, "zip_code") => return None,
        None => {
            f.reject(ReasonCode::MissingZip, "no ZIP code".into());
            return None;
        }
        Some(raw) => raw,
    };
    let Ok(z) = Zip5::parse(raw) else {
        f.reject(
            ReasonCode::InvalidZip,
            format!("ZIP {} is not ZIP5 or ZIP+4", quoted(raw)),
        );
        return None;
    };
    match ctx.zips.get(z) {
        None => {
            f.reject(ReasonCode::UnknownZip, format!("ZIP {z} does not exist"));
            None
        }
        Some(info) if !info.active => {
            f.reject(ReasonCode::InactiveZip, format!("ZIP {z} is not active"));
            None
        }
        Some(info) => Some((z, info.state.as_str())),
    }
}

/// The catalog product, when present, known, and of a lead type the provider may send.
fn product_of(
    input: &LeadInput,
    ctx: &ValidationContext<'_>,
    f: &mut Findings,
) -> Option<ProductId> {
    let raw = match input.product_type.as_deref() {
        None if wrong(input, "product_type") => return None,
        None => {
            f.reject(ReasonCode::MissingProduct, "no product".into());
            return None;
        }
        Some(raw) => raw,
    };
    let Some(p) = ctx.catalog.lookup(raw) else {
        f.reject(
            ReasonCode::UnknownProduct,
            format!("product {} is not in the catalog", quoted(raw)),
        );
        return None;
    };
    let lead_type = ctx.catalog.lead_type(p);
    if lead_type_allowed(ctx.allowed_lead_types, lead_type) {
        return Some(p);
    }
    f.reject(
        ReasonCode::LeadTypeNotAllowed,
        format!(
            "lead type {lead_type:?} (product {:?}) is not one of the provider's {:?}",
            ctx.catalog.name(p),
            ctx.allowed_lead_types
        ),
    );
    None
}

/// Whether a lead type is one of the allowed ones (any case); an empty list allows any.
fn lead_type_allowed(allowed: &[String], lead_type: &str) -> bool {
    allowed.is_empty() || allowed.iter().any(|t| t.eq_ignore_ascii_case(lead_type))
}

/// The appointment time in UTC, when sent and readable.
fn appointment_of(input: &LeadInput, f: &mut Findings) -> Option<Timestamp> {
    let raw = input.appointment_date.as_deref()?;
    let t = parse_timestamp(raw);
    if t.is_none() {
        f.reject(
            ReasonCode::InvalidAppointmentDate,
            format!("appointment time {} is not RFC 3339", quoted(raw)),
        );
    }
    t
}

/// One `field_too_long` reason per text field over its limit: the canonical fields first,
/// then the provider's custom ones.
fn check_lengths(input: &LeadInput, opts: &ValidationOptions, f: &mut Findings) {
    for (name, value) in input.text_fields() {
        let max = match name {
            canonical::NOTES | canonical::CONSENT_TEXT => opts.max_long_field_chars,
            _ => opts.max_field_chars,
        };
        if let Some(v) = value.filter(|v| too_long(v, max)) {
            f.reject(
                ReasonCode::FieldTooLong,
                format!(
                    "{name}: {} characters, over the {max} limit",
                    v.chars().count()
                ),
            );
        }
    }
    for (name, value) in &input.custom {
        let max = opts.max_long_field_chars;
        if let Some(v) = value.as_str().filter(|v| too_long(v, max)) {
            f.reject(
                ReasonCode::FieldTooLong,
                format!(
                    "{}: {} characters, over the {max} limit",
                    quoted(name),
                    v.chars().count()
                ),
            );
        }
    }
}

/// One `missing_required_field` reason per field the lead type requires and the record
/// lacks.
fn check_required_fields(
    input: &LeadInput,
    lead_type: &str,
    opts: &ValidationOptions,
    f: &mut Findings,
) {
    for field in opts.vertical_rules.required(lead_type) {
        if !has_field(input, field) {
            f.reject(
                ReasonCode::MissingRequiredField,
                format!("{field} is required for lead type {lead_type:?}"),
            );
        }
    }
}

/// The warning about the record's state: `unreadable_state` when it names no state,
/// `state_mismatch` when it is not the ZIP's (only when the ZIP's state is known).
fn state_warning(input: &LeadInput, zip_state: Option<&str>) -> Option<String> {
    let raw = input.state.as_deref()?;
    match state_code(raw) {
        None => Some("unreadable_state".into()),
        Some(code) if zip_state.is_some_and(|z| !z.eq_ignore_ascii_case(code)) => {
            Some("state_mismatch".into())
        }
        Some(_) => None,
    }
}

/// The warnings about attribution fields: `invalid_ip_address`, then
/// `invalid_consent_certificate_url` when that URL is not `http(s)://` or has a space.
fn attribution_warnings(input: &LeadInput) -> Vec<String> {
    let mut warnings = Vec::new();
    if input
        .ip_address
        .as_deref()
        .is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_err())
    {
        warnings.push("invalid_ip_address".into());
    }
    if input
        .consent_certificate_url
        .as_deref()
        .is_some_and(|u| !is_http_url(u))
    {
        warnings.push("invalid_consent_certificate_url".into());
    }
    warnings
}

/// Whether a URL starts with `http://` or `https://` (any case) and has no space.
fn is_http_url(u: &str) -> bool {
    let lower = u.get(..8).unwrap_or(u).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")) && !u.contains(' ')
}

#[cfg(test)]
mod tests;
