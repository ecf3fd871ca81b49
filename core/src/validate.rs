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
//! - fields whose JSON type cannot be text (an object where the phone should be).
//!
//! An unreadable email is not a reason to lose a lead with a good phone: it is dropped and
//! the lead carries the warning `invalid_email` (its raw text stays in the raw payload).

use crate::catalog::{Catalog, ProductId};
use crate::intake::LeadInput;
use crate::phone::{self, NormalizedPhone};
use crate::zip::{Zip5, ZipTable};
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime};

/// Machine-readable reason a record is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ReasonCode {
    /// The record is not parseable (bad JSON, not an object, bad CSV row, too large).
    MalformedRecord,
    /// A field has a JSON type that cannot be read as text.
    WrongType,
    /// No phone.
    MissingPhone,
    /// The phone is not a valid number.
    InvalidPhone,
    /// No ZIP.
    MissingZip,
    /// The ZIP is neither ZIP5 nor ZIP+4.
    InvalidZip,
    /// The ZIP5 is not in the ZIP table.
    UnknownZip,
    /// The ZIP5 is in the table but no longer active.
    InactiveZip,
    /// No product.
    MissingProduct,
    /// The product is not in the catalog.
    UnknownProduct,
    /// The product's lead type is not one the provider may send.
    LeadTypeNotAllowed,
    /// The appointment time is not RFC 3339.
    InvalidAppointmentDate,
    /// No email, where one is needed (no valid phone and the phone is not required).
    MissingEmail,
    /// The email is not a valid address, where one is needed.
    InvalidEmail,
}

impl ReasonCode {
    /// The snake_case code, e.g. `invalid_phone`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::MalformedRecord => "malformed_record",
            ReasonCode::WrongType => "wrong_type",
            ReasonCode::MissingPhone => "missing_phone",
            ReasonCode::InvalidPhone => "invalid_phone",
            ReasonCode::MissingZip => "missing_zip",
            ReasonCode::InvalidZip => "invalid_zip",
            ReasonCode::UnknownZip => "unknown_zip",
            ReasonCode::InactiveZip => "inactive_zip",
            ReasonCode::MissingProduct => "missing_product",
            ReasonCode::UnknownProduct => "unknown_product",
            ReasonCode::LeadTypeNotAllowed => "lead_type_not_allowed",
            ReasonCode::InvalidAppointmentDate => "invalid_appointment_date",
            ReasonCode::MissingEmail => "missing_email",
            ReasonCode::InvalidEmail => "invalid_email",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    pub appointment_date: Option<OffsetDateTime>,
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

/// Parses a timestamp as RFC 3339 (`2026-11-24T13:00:00Z`, any offset) or as
/// `YYYY-MM-DD HH:MM:SS` taken as UTC, and returns it in UTC.
pub fn parse_timestamp(raw: &str) -> Option<OffsetDateTime> {
    let s = raw.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.to_offset(time::UtcOffset::UTC));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(s, fmt)
        .ok()
        .map(|p| p.assume_utc())
}

fn quoted(s: &str) -> String {
    let short: String = s.chars().take(64).collect();
    format!("{short:?}")
}

/// Validates and normalizes one record.
///
/// # Errors
///
/// [`ValidationError`] with every reason found (see the module docs).
pub fn validate(
    input: &LeadInput,
    ctx: &ValidationContext<'_>,
) -> Result<ValidLead, ValidationError> {
    let mut reasons = Vec::new();
    let mut reject = |code: ReasonCode, detail: String| reasons.push(Reason { code, detail });
    let wrong = |field: &str| input.wrong_types.iter().any(|w| w.field == field);
    for w in &input.wrong_types {
        reject(
            ReasonCode::WrongType,
            format!("{}: expected text, got {}", w.field, w.found),
        );
    }

    let mut phone_problem: Option<Reason> = None;
    let phone = match input.phone.as_deref() {
        None if wrong("phone") => None,
        None => {
            phone_problem = Some(Reason {
                code: ReasonCode::MissingPhone,
                detail: "no phone".into(),
            });
            None
        }
        Some(raw) => match phone::normalize(raw, ctx.default_region) {
            Ok(p) => Some(p),
            Err(e) => {
                phone_problem = Some(Reason {
                    code: ReasonCode::InvalidPhone,
                    detail: format!("phone {}: {}", quoted(raw), e.code()),
                });
                None
            }
        },
    };
    let mut warnings = input.warnings.clone();
    let email = match input.email.as_deref().map(crate::email::normalize) {
        Some(Ok(e)) => Some(e),
        Some(Err(_)) => {
            warnings.push("invalid_email".into());
            None
        }
        None => None,
    };
    if wrong("email") {
        warnings.push("invalid_email".into());
    }
    if let Some(problem) = phone_problem {
        if !ctx.require_phone && email.is_some() {
            warnings.push(problem.code.as_str().to_string());
        } else {
            reject(problem.code, problem.detail);
            if !ctx.require_phone {
                match input.email.as_deref() {
                    None => reject(ReasonCode::MissingEmail, "no email either".into()),
                    Some(raw) => reject(
                        ReasonCode::InvalidEmail,
                        format!("email {} is not an address either", quoted(raw)),
                    ),
                }
            }
        }
    }
    if phone.is_none() && wrong("phone") && !ctx.require_phone && email.is_none() {
        reject(ReasonCode::MissingEmail, "no usable email either".into());
    }

    let zip = match input.zip_code.as_deref() {
        None if wrong("zip_code") => None,
        None => {
            reject(ReasonCode::MissingZip, "no ZIP code".into());
            None
        }
        Some(raw) => match Zip5::parse(raw) {
            Err(_) => {
                reject(
                    ReasonCode::InvalidZip,
                    format!("ZIP {} is not ZIP5 or ZIP+4", quoted(raw)),
                );
                None
            }
            Ok(z) => match ctx.zips.get(z) {
                None => {
                    reject(ReasonCode::UnknownZip, format!("ZIP {z} does not exist"));
                    None
                }
                Some(info) if !info.active => {
                    reject(ReasonCode::InactiveZip, format!("ZIP {z} is not active"));
                    None
                }
                Some(_) => Some(z),
            },
        },
    };

    let product = match input.product_type.as_deref() {
        None if wrong("product_type") => None,
        None => {
            reject(ReasonCode::MissingProduct, "no product".into());
            None
        }
        Some(raw) => match ctx.catalog.lookup(raw) {
            None => {
                reject(
                    ReasonCode::UnknownProduct,
                    format!("product {} is not in the catalog", quoted(raw)),
                );
                None
            }
            Some(p) => {
                let lead_type = ctx.catalog.lead_type(p);
                if ctx.allowed_lead_types.is_empty()
                    || ctx
                        .allowed_lead_types
                        .iter()
                        .any(|t| t.eq_ignore_ascii_case(lead_type))
                {
                    Some(p)
                } else {
                    reject(
                        ReasonCode::LeadTypeNotAllowed,
                        format!(
                            "lead type {lead_type:?} (product {:?}) is not one of the provider's {:?}",
                            ctx.catalog.name(p),
                            ctx.allowed_lead_types
                        ),
                    );
                    None
                }
            }
        },
    };

    let appointment_date = match input.appointment_date.as_deref() {
        None => None,
        Some(raw) => {
            let t = parse_timestamp(raw);
            if t.is_none() {
                reject(
                    ReasonCode::InvalidAppointmentDate,
                    format!("appointment time {} is not RFC 3339", quoted(raw)),
                );
            }
            t
        }
    };

    let phone_ok = phone.is_some() || (!ctx.require_phone && email.is_some());
    match (zip, product) {
        (Some(zip), Some(product)) if phone_ok && reasons.is_empty() => Ok(ValidLead {
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
            warnings,
        }),
        _ => Err(ValidationError { reasons }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(catalog: &'a Catalog, allowed: &'a [String]) -> ValidationContext<'a> {
        ValidationContext {
            zips: ZipTable::bundled(),
            catalog,
            allowed_lead_types: allowed,
            default_region: "US",
            require_phone: true,
        }
    }

    fn input() -> LeadInput {
        LeadInput {
            phone: Some("(317) 863-8426".into()),
            zip_code: Some("46262-1234".into()),
            product_type: Some("solar".into()),
            email: Some(" JM@Example.NET ".into()),
            appointment_date: Some("2026-11-24T08:00:00-05:00".into()),
            ..LeadInput::default()
        }
    }

    fn codes(r: Result<ValidLead, ValidationError>) -> Vec<&'static str> {
        r.unwrap_err()
            .reasons
            .iter()
            .map(|r| r.code.as_str())
            .collect()
    }

    #[test]
    fn a_good_record_is_normalized() {
        let cat = Catalog::from_names(["Solar"]);
        let v = validate(&input(), &ctx(&cat, &["solar".into()])).unwrap();
        assert_eq!(v.phone.unwrap().number.as_str(), "+13178638426");
        assert_eq!(v.zip.to_string(), "46262");
        assert_eq!(v.product_name, "Solar");
        assert_eq!(v.email.as_deref(), Some("jm@example.net"));
        assert_eq!(
            v.appointment_date.unwrap(),
            time::macros::datetime!(2026-11-24 13:00 UTC)
        );
    }

    #[test]
    fn every_reason_is_reported() {
        let cat = Catalog::from_names(["Solar", "Gutters"]);
        let allowed = ["solar".to_string()];
        let mut i = input();
        i.phone = Some("555".into());
        i.zip_code = Some("ABCDE".into());
        i.product_type = Some("Gutters".into());
        i.appointment_date = Some("next tuesday".into());
        assert_eq!(
            codes(validate(&i, &ctx(&cat, &allowed))),
            vec![
                "invalid_phone",
                "invalid_zip",
                "lead_type_not_allowed",
                "invalid_appointment_date"
            ]
        );
        let empty = LeadInput::default();
        assert_eq!(
            codes(validate(&empty, &ctx(&cat, &allowed))),
            vec!["missing_phone", "missing_zip", "missing_product"]
        );
        let mut i = input();
        i.zip_code = Some("99999".into());
        i.product_type = Some("Heat".into());
        assert_eq!(
            codes(validate(&i, &ctx(&cat, &allowed))),
            vec!["unknown_zip", "unknown_product"]
        );
    }

    #[test]
    fn bad_email_is_a_warning_not_a_rejection() {
        let cat = Catalog::from_names(["Solar"]);
        let mut i = input();
        i.email = Some("not-an-email".into());
        let v = validate(&i, &ctx(&cat, &[])).unwrap();
        assert_eq!(v.email, None);
        assert_eq!(v.warnings, vec!["invalid_email"]);
    }

    #[test]
    fn email_can_stand_in_for_the_phone_when_allowed() {
        let cat = Catalog::from_names(["Solar"]);
        let mut lenient = ctx(&cat, &[]);
        lenient.require_phone = false;
        let mut i = input();
        i.phone = Some("555".into());
        let v = validate(&i, &lenient).unwrap();
        assert_eq!(v.phone, None);
        assert_eq!(v.warnings, vec!["invalid_phone"]);
        assert_eq!(codes(validate(&i, &ctx(&cat, &[]))), vec!["invalid_phone"]);
        i.email = Some("nope".into());
        assert_eq!(
            codes(validate(&i, &lenient)),
            vec!["invalid_phone", "invalid_email"]
        );
        i.phone = None;
        i.email = None;
        assert_eq!(
            codes(validate(&i, &lenient)),
            vec!["missing_phone", "missing_email"]
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            parse_timestamp("2026-11-24 13:00:00"),
            Some(time::macros::datetime!(2026-11-24 13:00 UTC))
        );
        assert_eq!(parse_timestamp("2026-13-01T00:00:00Z"), None);
    }
}
