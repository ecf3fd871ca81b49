//! The do-not-contact (suppression) list: its pure parts.
//!
//! A suppressed number is never called. Numbers join the list when a person opts out, when a
//! `not_interested` lead asks not to be called again, and from imported lists
//! ([`SuppressionReason`]). An imported list is text, one entry per line:
//!
//! - a phone number, in E.164 (`+12125550123`) or national form (`(212) 555-0123`,
//!   `212.555.0123`), normalized to E.164 by [`crate::phone::normalize`] under a default region;
//! - or the SHA-256 of a number's E.164 text, as 64 hex digits (either case), for lists shared
//!   without the numbers themselves ([`phone_hash`]).
//!
//! Blank lines and `#` comments (whole-line or trailing) are skipped; an extension after the
//! number is dropped (the number is what is suppressed). Bad lines are reported with their
//! 1-based line number and a reason, and do not stop the rest of the list.
//!
//! # Examples
//!
//! ```
//! use leadroute_core::suppression::{parse_list, phone_hash, SuppressionEntry};
//! let text = "# opt-outs\n+12125550123\n(317) 863-8426\nnot a number\n";
//! let (entries, bad) = parse_list(text, "US");
//! assert_eq!(entries[1], SuppressionEntry::Phone("+13178638426".into()));
//! assert_eq!(bad[0].0, 4);
//! assert!(entries[0].matches("+12125550123"));
//! assert_eq!(phone_hash("+12125550123").len(), 64);
//! ```

use sha2::{Digest, Sha256};

use crate::phone::{normalize, PhoneError};
pub use crate::status::SuppressionReason;

/// Length of a SHA-256 digest in hex digits.
const SHA256_HEX_LEN: usize = 64;

/// One entry of a suppression list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SuppressionEntry {
    /// A number in E.164 (`+12125550123`).
    Phone(String),
    /// The SHA-256 of a number's E.164 text, 64 lowercase hex digits ([`phone_hash`]).
    Sha256(String),
}

impl SuppressionEntry {
    /// The entry as a hash (64 lowercase hex digits): a phone's [`phone_hash`], or the hash
    /// itself. Lists mixing both forms compare on this.
    pub fn hash(&self) -> String {
        match self {
            SuppressionEntry::Phone(e164) => phone_hash(e164),
            SuppressionEntry::Sha256(h) => h.clone(),
        }
    }

    /// Whether the entry suppresses the number `e164` (E.164 text, as normalized).
    pub fn matches(&self, e164: &str) -> bool {
        match self {
            SuppressionEntry::Phone(p) => p == e164,
            SuppressionEntry::Sha256(h) => *h == phone_hash(e164),
        }
    }
}

/// Why a line of a suppression list was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SuppressionError {
    /// The line is neither a phone number nor a SHA-256 hash.
    #[error("invalid_suppression_entry: not a phone number nor a SHA-256 hash ({0})")]
    InvalidEntry(PhoneError),
}

impl SuppressionError {
    /// Stable snake_case code: `invalid_suppression_entry`.
    pub fn code(&self) -> &'static str {
        match self {
            SuppressionError::InvalidEntry(_) => "invalid_suppression_entry",
        }
    }

    /// [`ErrorKind::InvalidInput`](crate::kind::ErrorKind::InvalidInput).
    pub fn kind(&self) -> crate::kind::ErrorKind {
        crate::kind::ErrorKind::InvalidInput
    }
}

/// The SHA-256 of the E.164 text `e164` (its UTF-8 bytes, no newline), as 64 lowercase hex
/// digits.
///
/// # Examples
///
/// ```
/// use leadroute_core::suppression::phone_hash;
/// assert_eq!(
///     phone_hash(""),
///     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/// );
/// ```
pub fn phone_hash(e164: &str) -> String {
    hex::encode(Sha256::digest(e164.as_bytes()))
}

/// Reads one line of a list: `Ok(None)` for a blank or comment line.
///
/// `region` is the CLDR region (`"US"`) for numbers written without a country code.
///
/// # Errors
///
/// [`SuppressionError::InvalidEntry`] for text that is neither a valid phone number nor 64
/// hex digits.
pub fn parse_entry(line: &str, region: &str) -> Result<Option<SuppressionEntry>, SuppressionError> {
    let text = strip_comment(line).trim();
    if text.is_empty() {
        return Ok(None);
    }
    if is_sha256_hex(text) {
        return Ok(Some(SuppressionEntry::Sha256(text.to_ascii_lowercase())));
    }
    normalize(text, region)
        .map(|p| Some(SuppressionEntry::Phone(p.number.as_str().to_string())))
        .map_err(SuppressionError::InvalidEntry)
}

/// Reads a list, one entry per line (see the [module docs](self)).
///
/// Returns the entries in file order (duplicates kept) and the bad lines as `(1-based line
/// number, reason)`; the reason starts with the error's snake_case code. A leading byte-order
/// mark is ignored.
pub fn parse_list(text: &str, region: &str) -> (Vec<SuppressionEntry>, Vec<(usize, String)>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match parse_entry(line, region) {
            Ok(Some(entry)) => entries.push(entry),
            Ok(None) => {}
            Err(e) => bad.push((i + 1, e.to_string())),
        }
    }
    (entries, bad)
}

/// The line up to its first `#`.
fn strip_comment(line: &str) -> &str {
    line.split_once('#').map_or(line, |(before, _)| before)
}

/// Exactly 64 ASCII hex digits.
fn is_sha256_hex(s: &str) -> bool {
    s.len() == SHA256_HEX_LEN && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests;
