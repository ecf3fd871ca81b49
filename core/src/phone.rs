//! Phone normalization to E.164.
//!
//! Rules come from libphonenumber, through its Rust port, the `phonenumber` crate (metadata
//! 9.0.33). Two facts about that crate shape this module (see `DESIGN.md`):
//!
//! - With a default region of US, numbers written with `+` and a country code whose national
//!   part starts with `1` come out wrong. Input that starts with `+` (or `tel:+`) is therefore
//!   parsed with no default region: the `+` already says which country it is.
//! - Its first use loads metadata (about 50 ms); later calls take a few microseconds.
//!
//! The extension (`x123`, `ext. 123`, `;ext=123`) is kept apart from the number, not lost.

use phonenumber::country;
use phonenumber::Mode;
use std::fmt;
use std::str::FromStr;

/// Why a phone number could not be normalized. Each has a stable snake_case [`code`].
///
/// [`code`]: PhoneError::code
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PhoneError {
    /// Empty or only whitespace.
    #[error("phone number is empty")]
    Empty,
    /// No phone number could be read from the text.
    #[error("not a phone number")]
    NotANumber,
    /// Too few digits for any number of the country.
    #[error("phone number is too short")]
    TooShort,
    /// Too many digits.
    #[error("phone number is too long")]
    TooLong,
    /// The country calling code after `+` does not exist.
    #[error("invalid country calling code")]
    InvalidCountryCode,
    /// It parses, but no number of its country has this shape (libphonenumber's
    /// `isValidNumber` is false).
    #[error("not a valid phone number for its country")]
    InvalidNumber,
    /// The default region is not a CLDR region code libphonenumber knows.
    #[error("unknown region {0:?}")]
    UnknownRegion(String),
}

impl PhoneError {
    /// snake_case reason code, e.g. `too_short`.
    pub fn code(&self) -> &'static str {
        match self {
            PhoneError::Empty => "empty",
            PhoneError::NotANumber => "not_a_number",
            PhoneError::TooShort => "too_short",
            PhoneError::TooLong => "too_long",
            PhoneError::InvalidCountryCode => "invalid_country_code",
            PhoneError::InvalidNumber => "invalid_number",
            PhoneError::UnknownRegion(_) => "unknown_region",
        }
    }
}

/// A phone number in E.164 form: `+`, country code, national number (`+12125550123`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// The E.164 string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a NANP number (`+1`).
    pub fn is_nanp(&self) -> bool {
        self.0.starts_with("+1")
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A normalized phone number and its extension.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NormalizedPhone {
    /// The number in E.164.
    pub number: PhoneNumber,
    /// The extension digits, if the input had one.
    pub extension: Option<String>,
}

/// Normalizes a phone number as typed by a person to E.164, and checks that it is valid.
///
/// `default_region` is a CLDR region code (`"US"`) for numbers written without a country
/// code; input starting with `+` or `tel:+` ignores it (see the module docs).
///
/// # Errors
///
/// [`PhoneError`]: empty input, text that holds no number, too short or too long, an unknown
/// country code, a number libphonenumber deems invalid, or an unknown `default_region`.
///
/// # Examples
///
/// ```
/// use leadroute_core::phone::normalize;
/// let p = normalize("(254) 240-1519 ext. 313", "US").unwrap();
/// assert_eq!(p.number.as_str(), "+12542401519");
/// assert_eq!(p.extension.as_deref(), Some("313"));
/// assert_eq!(normalize("+44 20 7031 3000", "US").unwrap().number.as_str(), "+442070313000");
/// assert_eq!(normalize("555", "US").unwrap_err().code(), "invalid_number");
/// ```
pub fn normalize(raw: &str, default_region: &str) -> Result<NormalizedPhone, PhoneError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(PhoneError::Empty);
    }
    let region = country::Id::from_str(default_region.trim())
        .map_err(|_| PhoneError::UnknownRegion(default_region.to_string()))?;
    let international = {
        let t = text
            .strip_prefix("tel:")
            .or_else(|| text.strip_prefix("TEL:"));
        t.unwrap_or(text).trim_start().starts_with('+')
    };
    let parsed = phonenumber::parse((!international).then_some(region), text).map_err(|e| {
        use phonenumber::ParseError as P;
        match e {
            P::NoNumber | P::MalformedInteger(_) => PhoneError::NotANumber,
            P::InvalidCountryCode => PhoneError::InvalidCountryCode,
            P::TooShortAfterIdd | P::TooShortNsn => PhoneError::TooShort,
            P::TooLong => PhoneError::TooLong,
        }
    })?;
    if !phonenumber::is_valid(&parsed) {
        return Err(PhoneError::InvalidNumber);
    }
    let number = PhoneNumber(parsed.format().mode(Mode::E164).to_string());
    let extension = parsed
        .extension()
        .map(|e| e.to_string())
        .filter(|e| !e.is_empty());
    Ok(NormalizedPhone { number, extension })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(raw: &str) -> Result<String, &'static str> {
        normalize(raw, "US")
            .map(|p| p.number.to_string())
            .map_err(|e| e.code())
    }

    #[test]
    fn corpus_shapes_normalize_to_e164() {
        for raw in [
            "317 863 8426",
            "  317-863-8426 ",
            "(317)863-8426",
            "317.863.8426",
            "13178638426",
            "1-317-863-8426",
            "+13178638426",
            "+1 (317) 863-8426",
            "+1.317.863.8426",
            "tel:+1-317-863-8426",
            "3178638426",
        ] {
            assert_eq!(e164(raw), Ok("+13178638426".to_string()), "{raw:?}");
        }
    }

    #[test]
    fn extensions_are_kept_apart() {
        for (raw, ext) in [
            ("402-326-6991 x6330", "6330"),
            ("(860)929-1895 ext. 507", "507"),
            ("tel:+1-402-326-6991;ext=6330", "6330"),
        ] {
            let p = normalize(raw, "US").unwrap();
            assert_eq!(p.extension.as_deref(), Some(ext), "{raw:?}");
        }
        assert_eq!(normalize("402-326-6991", "US").unwrap().extension, None);
    }

    #[test]
    fn plus_input_ignores_the_default_region() {
        // A `+` number whose national part starts with 1 (the crate's known US-region bug).
        assert_eq!(e164("+44 1212 345678").unwrap(), "+441212345678");
        assert_eq!(e164("+61 1300 975 707").unwrap(), "+611300975707");
        assert_eq!(e164("+49 1512 3456789").unwrap(), "+4915123456789");
    }

    #[test]
    fn failures_have_codes() {
        assert_eq!(e164(""), Err("empty"));
        assert_eq!(e164("   "), Err("empty"));
        assert_eq!(e164("not a phone"), Err("not_a_number"));
        assert_eq!(e164("80850267956795"), Err("invalid_number"));
        assert_eq!(e164("123-456-7890"), Err("invalid_number"));
        assert_eq!(e164("+999 1234567"), Err("invalid_country_code"));
        assert_eq!(
            normalize("2125550123", "XX").unwrap_err(),
            PhoneError::UnknownRegion("XX".into())
        );
    }
}
