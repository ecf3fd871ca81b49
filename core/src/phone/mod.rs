//! Phone normalization to E.164.
//!
//! Rules come from libphonenumber (metadata 9.0.33): results equal those of its Python port
//! `phonenumbers==9.0.33` for validity and E.164, which `bindings-python/tests` checks on the
//! corpus, on libphonenumber's example numbers of every region and on a file of tricky inputs.
//! Three paths produce them:
//!
//! - **The NANP fast path** (`nanp`): `+1` numbers in their common shapes (10 digits, or 11
//!   starting with `1`, optionally after `+` or `tel:`, separated by spaces, dots, dashes and
//!   parentheses, with an optional extension) are decided from a static table derived from the
//!   `phonenumber` crate's own metadata by `core/examples/gen_nanp_table.rs`: about 20 ns, and
//!   nothing to load on first use.
//! - **The international fast path** (`intl`): other input written `+<code> <number>` in
//!   digits and plain separators (`+44 20 7946 0162`, `tel:+49-30-1234567`), for every
//!   country code, is decided by libphonenumber's own rules (country code, national prefix
//!   stripping, region choice for shared codes, validity by number type) on regexes compiled
//!   from the crate's metadata once per country code: about 0.5 µs, against about 12 µs
//!   through the crate. It also corrects the crate where it differs from libphonenumber (it
//!   accepts a pattern matching only the start of a number, and strips national prefixes
//!   differently after `+`).
//! - **The general path**: everything else goes to the `phonenumber` crate (libphonenumber's
//!   Rust port), after fixing its input where it is known to differ from libphonenumber:
//!   Unicode decimal digits (`３`, `٣`, ...) become ASCII digits, input whose number starts
//!   with `+` is parsed with no default region (the crate corrupts some under a US default
//!   region), and leadroute reads the text as libphonenumber does up to its digits (the
//!   possible number in it, the extension cut off, the viability check, letters read as
//!   keypad digits only when there are three or more: `212-555-1234 ext` is 2125551234398,
//!   too long), so that the crate gets only a `+` and digits.
//!   Each thread on this path works on a metadata database of its own, built from the bundled
//!   `core/data/PhoneNumberMetadata.xml` (the crate's own 9.0.33 file) on first use (about
//!   50 ms per concurrent thread), because the crate's regex cache is one mutex per database;
//!   then a few microseconds per number.
//!
//! The extension (`x123`, `ext. 123`, `;ext=123`) is kept apart from the number, not lost.
//!
//! An optional strict policy ([`NormalizeOptions::strict`]) also rejects fictional 555-01XX
//! numbers and N11 exchanges, and [`NormalizeOptions::allowed_country_codes`] restricts the
//! countries accepted.

mod digits;
mod intl;
mod nanp;
#[rustfmt::skip]
mod nanp_table;

use phonenumber::country;
use phonenumber::Mode;
use std::fmt;
use std::str::FromStr;

/// The libphonenumber metadata version whose rules [`normalize`] implements (that of the
/// `phonenumber` crate and of the NANP table derived from it).
pub const METADATA_VERSION: &str = nanp_table::METADATA_VERSION;

/// The CLDR regions sharing the NANP country calling code 1 (US first, then metadata order).
pub static NANP_REGIONS: &[&str] = &nanp_table::REGIONS;

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
    /// A valid number whose country calling code is not in
    /// [`NormalizeOptions::allowed_country_codes`].
    #[error("country calling code {0} is not allowed")]
    RegionNotAllowed(u16),
    /// Strict policy: a NANP number reserved for fiction, 555-0100 to 555-0199 in any area
    /// code (NANPA).
    #[error("fictional number (555-01XX)")]
    Fictional,
    /// Strict policy: a NANP number whose exchange (NXX) is an N11 service code (211, 311,
    /// ..., 911), which is never assigned to a subscriber line.
    #[error("N11 service code used as an exchange")]
    N11Exchange,
}

impl PhoneError {
    /// snake_case reason code: `empty`, `not_a_number`, `too_short`, `too_long`,
    /// `invalid_country_code`, `invalid_number`, `unknown_region`, `region_not_allowed`,
    /// `fictional` or `n11_exchange`.
    pub fn code(&self) -> &'static str {
        match self {
            PhoneError::Empty => "empty",
            PhoneError::NotANumber => "not_a_number",
            PhoneError::TooShort => "too_short",
            PhoneError::TooLong => "too_long",
            PhoneError::InvalidCountryCode => "invalid_country_code",
            PhoneError::InvalidNumber => "invalid_number",
            PhoneError::UnknownRegion(_) => "unknown_region",
            PhoneError::RegionNotAllowed(_) => "region_not_allowed",
            PhoneError::Fictional => "fictional",
            PhoneError::N11Exchange => "n11_exchange",
        }
    }

    /// [`ErrorKind::InvalidInput`](crate::kind::ErrorKind::InvalidInput): a number that
    /// cannot be normalized is bad input.
    pub fn kind(&self) -> crate::kind::ErrorKind {
        crate::kind::ErrorKind::InvalidInput
    }
}

/// Longest string: `+`, a country code of up to 3 digits and a national number of up to 17
/// (libphonenumber's limit; E.164 itself allows 15 digits, but libphonenumber formats longer
/// valid numbers, e.g. some German ones, the same way).
const E164_MAX: usize = 21;

/// A phone number in E.164 form: `+`, country code, national number (`+12125550123`); at most
/// 20 digits (libphonenumber's limit). Stored inline (no allocation); ordered, compared and hashed as its string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PhoneNumber {
    // Zero-padded, so that the derived order is the order of the strings.
    buf: [u8; E164_MAX],
    len: u8,
}

impl PhoneNumber {
    /// From an E.164 string produced by a formatter (`+` and 1 to 20 ASCII digits).
    fn from_e164(s: &str) -> Option<PhoneNumber> {
        let b = s.as_bytes();
        if b.len() < 2 || b.len() > E164_MAX || b[0] != b'+' {
            return None;
        }
        if !b[1..].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut buf = [0u8; E164_MAX];
        buf[..b.len()].copy_from_slice(b);
        Some(PhoneNumber {
            buf,
            len: b.len() as u8,
        })
    }

    /// `+1` followed by a 10-digit NANP national number.
    fn nanp(national: u64) -> PhoneNumber {
        let mut buf = [0u8; E164_MAX];
        buf[0] = b'+';
        buf[1] = b'1';
        let mut n = national;
        for slot in buf[2..12].iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
        }
        PhoneNumber { buf, len: 12 }
    }

    /// The E.164 string.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }

    /// Whether this is a NANP number (`+1`).
    pub fn is_nanp(&self) -> bool {
        self.as_str().starts_with("+1")
    }

    /// The national significant number of a NANP number (NPA-NXX-XXXX, 10 digits), if it is
    /// one.
    fn nanp_digits(&self) -> Option<&[u8]> {
        (self.len == 12 && self.buf[1] == b'1').then(|| &self.buf[2..12])
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PhoneNumber").field(&self.as_str()).finish()
    }
}

impl AsRef<str> for PhoneNumber {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// A normalized phone number and its extension.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NormalizedPhone {
    /// The number in E.164.
    pub number: PhoneNumber,
    /// The extension digits (ASCII), if the input had one.
    pub extension: Option<String>,
}

/// How [`normalize_with`] reads and checks numbers. The default: region `US`, not strict,
/// every country allowed.
///
/// # Examples
///
/// ```
/// use leadroute_core::phone::{normalize_with, NormalizeOptions};
/// let opts = NormalizeOptions::new("US").strict(true).allowed_country_codes([1]);
/// assert_eq!(normalize_with("212-555-0123", &opts).unwrap_err().code(), "fictional");
/// assert_eq!(normalize_with("+44 20 7031 3000", &opts).unwrap_err().code(), "region_not_allowed");
/// assert_eq!(normalize_with("317-863-8426", &opts).unwrap().number.as_str(), "+13178638426");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NormalizeOptions {
    /// CLDR region code (`"US"`) for numbers written without a country code.
    pub default_region: String,
    /// Also reject NANP numbers that libphonenumber accepts but no person answers: the
    /// fictional 555-0100..555-0199 ([`PhoneError::Fictional`]) and N11 exchanges
    /// ([`PhoneError::N11Exchange`]). Off by default.
    pub strict: bool,
    /// Country calling codes accepted (e.g. `[1]` for NANP only); `None` accepts all. A valid
    /// number of another country is [`PhoneError::RegionNotAllowed`].
    pub allowed_country_codes: Option<Vec<u16>>,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        NormalizeOptions::new("US")
    }
}

impl NormalizeOptions {
    /// Options with this default region, not strict, all countries allowed.
    pub fn new(default_region: &str) -> Self {
        NormalizeOptions {
            default_region: default_region.to_string(),
            strict: false,
            allowed_country_codes: None,
        }
    }

    /// Sets [`strict`](NormalizeOptions::strict).
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Sets [`allowed_country_codes`](NormalizeOptions::allowed_country_codes).
    pub fn allowed_country_codes(mut self, codes: impl IntoIterator<Item = u16>) -> Self {
        self.allowed_country_codes = Some(codes.into_iter().collect());
        self
    }
}

/// Normalizes a phone number as typed by a person to E.164, and checks that it is valid, with
/// the default policy (not strict, all countries). Same as [`normalize_with`] with
/// `NormalizeOptions::new(default_region)`.
///
/// `default_region` is a CLDR region code (`"US"`) for numbers written without a country
/// code; a number written with `+` (or `tel:+`) ignores it.
///
/// Validity and E.164 are libphonenumber's (metadata 9.0.33); see the module docs.
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
/// assert_eq!(normalize("１-８００-FLOWERS", "US").unwrap().number.as_str(), "+18003569377");
/// assert_eq!(normalize("555", "US").unwrap_err().code(), "invalid_number");
/// ```
pub fn normalize(raw: &str, default_region: &str) -> Result<NormalizedPhone, PhoneError> {
    parse(raw, default_region)
}

/// Normalizes a phone number as typed by a person to E.164 under `options`: libphonenumber's
/// validity (metadata 9.0.33), then the strict policy and the allowed countries, if set.
///
/// # Errors
///
/// Those of [`normalize`]; with [`NormalizeOptions::strict`], [`PhoneError::Fictional`] and
/// [`PhoneError::N11Exchange`]; with [`NormalizeOptions::allowed_country_codes`],
/// [`PhoneError::RegionNotAllowed`].
pub fn normalize_with(
    raw: &str,
    options: &NormalizeOptions,
) -> Result<NormalizedPhone, PhoneError> {
    let p = parse(raw, &options.default_region)?;
    if let Some(codes) = &options.allowed_country_codes {
        let code = country_code(&p.number);
        if !codes.contains(&code) {
            return Err(PhoneError::RegionNotAllowed(code));
        }
    }
    if options.strict {
        if let Some(d) = p.number.nanp_digits() {
            if d[4] == b'1' && d[5] == b'1' {
                return Err(PhoneError::N11Exchange);
            }
            if &d[3..8] == b"55501" {
                return Err(PhoneError::Fictional);
            }
        }
    }
    Ok(p)
}

/// The country calling code of a number, from its E.164 form (`+1` → 1, `+44` → 44).
fn country_code(n: &PhoneNumber) -> u16 {
    intl::split_country_code(&n.as_str()[1..]).map_or(0, |(code, _)| code)
}

/// Regions the fast path reads numbers without `+` for.
fn fast_region(region: &str) -> bool {
    region == "US" || region == "CA"
}

fn parse(raw: &str, default_region: &str) -> Result<NormalizedPhone, PhoneError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(PhoneError::Empty);
    }
    let region = default_region.trim();
    let fast_region = fast_region(region);
    if fast_region
        || text
            .as_bytes()
            .first()
            .is_some_and(|&c| c == b'+' || c == b't' || c == b'T')
    {
        // A region outside the fast path must still be known (as on the general path).
        if fast_region || country::Id::from_str(region).is_ok() {
            match nanp::read(text, fast_region, region == "US") {
                Some(nanp::Verdict::Valid(f)) => {
                    return Ok(NormalizedPhone {
                        number: PhoneNumber::nanp(f.national),
                        extension: f.extension.map(str::to_string),
                    })
                }
                Some(nanp::Verdict::Invalid) => return Err(PhoneError::InvalidNumber),
                Some(nanp::Verdict::NotANumber) => return Err(PhoneError::NotANumber),
                None => {}
            }
            match intl::read(text) {
                Some(intl::Verdict::Valid(number)) => {
                    return Ok(NormalizedPhone {
                        number,
                        extension: None,
                    })
                }
                Some(intl::Verdict::Invalid) => return Err(PhoneError::InvalidNumber),
                None => {}
            }
        }
    }
    // No digit at all: libphonenumber finds no number to start from.
    let has_digit = if text.is_ascii() {
        text.bytes().any(|c| c.is_ascii_digit())
    } else {
        text.chars().any(|c| digits::decimal_value(c).is_some())
    };
    if !has_digit {
        country::Id::from_str(region)
            .map_err(|_| PhoneError::UnknownRegion(default_region.to_string()))?;
        return Err(PhoneError::NotANumber);
    }
    general(text, default_region)
}

/// libphonenumber's metadata (`PhoneNumberMetadata.xml`, version 9.0.33: the file the
/// `phonenumber` crate builds its own database from), for the crate path's databases.
const METADATA_XML: &str = include_str!("../../data/PhoneNumberMetadata.xml");

/// Idle metadata databases for the crate path. Each `phonenumber::metadata::Database` keeps
/// its compiled regexes in one 100-entry cache behind one mutex, so threads sharing the crate's
/// default database wait on each other at every regex (2 threads ran at 0.8× one thread's
/// throughput); a thread here works on a database no other thread holds (1.8×).
static DATABASES: std::sync::Mutex<Vec<phonenumber::metadata::Database>> =
    std::sync::Mutex::new(Vec::new());

/// Runs `f` with a database no other thread is using: an idle one from [`DATABASES`], or a
/// new one (about 50 ms, once per thread that needs the crate path at the same time), put
/// back afterwards.
fn with_database<T>(f: impl FnOnce(&phonenumber::metadata::Database) -> T) -> T {
    let idle = DATABASES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .pop();
    let db = idle.unwrap_or_else(|| {
        phonenumber::metadata::Database::parse(METADATA_XML)
            // The bundled file parses (a test checks it); never fail a number over it.
            .unwrap_or_else(|_| phonenumber::metadata::DATABASE.clone())
    });
    let out = f(&db);
    DATABASES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(db);
    out
}

/// The general path: the `phonenumber` crate, with leadroute's fixes to its input and output.
///
/// leadroute reads the text as libphonenumber does up to the digits: the possible number in
/// it, the extension cut off, the viability check, the letters read; the crate gets only
/// those digits (after a `+` if there is one). The crate's own reading of text differs from
/// libphonenumber's: its extension pattern allows no digits, so it cuts a word after the
/// number as an empty extension (`212-555-1234 ext` is 2125551234398 to libphonenumber, too
/// long), and then finds viable what libphonenumber does not (`212-555-1234, ext`); it maps
/// one or two letters to digits, which libphonenumber drops; and it misreads some
/// punctuation after a `+` (`+4420703130-00` is no number to it).
fn general(text: &str, default_region: &str) -> Result<NormalizedPhone, PhoneError> {
    let region = country::Id::from_str(default_region.trim())
        .map_err(|_| PhoneError::UnknownRegion(default_region.to_string()))?;
    let raw = text;
    let text = digits::to_ascii_digits(raw);
    // libphonenumber's buildNationalNumberForParsing.
    let context;
    let national = if text.contains(PHONE_CONTEXT) {
        context = phone_context(&text)?;
        &context
    } else {
        possible_number(&text)
    };
    let (number, extension) = split_extension(without_subaddress(national));
    if !viable(original(raw, &text, number)) {
        return Err(PhoneError::NotANumber);
    }
    let digits = national_digits(number);
    let international = digits.starts_with('+');
    with_database(|db| crate_path(db, &digits, extension, international, region))
}

/// The crate's parse, validation and E.164 formatting of `number` (see [`national_digits`]),
/// on `db`.
fn crate_path(
    db: &phonenumber::metadata::Database,
    number: &str,
    extension: Option<&str>,
    international: bool,
    region: country::Id,
) -> Result<NormalizedPhone, PhoneError> {
    let parsed =
        phonenumber::parse_with(db, (!international).then_some(region), number).map_err(|e| {
            use phonenumber::ParseError as P;
            match e {
                P::NoNumber | P::MalformedInteger(_) => PhoneError::NotANumber,
                P::InvalidCountryCode => PhoneError::InvalidCountryCode,
                P::TooShortAfterIdd | P::TooShortNsn => PhoneError::TooShort,
                P::TooLong => PhoneError::TooLong,
            }
        });
    let parsed = match parsed {
        Ok(p) if is_valid(db, &p) => p,
        Ok(p) => retry(db, number, international, p.code().value(), region)
            .ok_or(PhoneError::InvalidNumber)?,
        Err(e) => return Err(e),
    };
    let number = PhoneNumber::from_e164(
        &phonenumber::format_with(db, &parsed)
            .mode(Mode::E164)
            .to_string(),
    )
    .ok_or(PhoneError::InvalidNumber)?;
    let extension = extension.map(str::to_string).or_else(|| {
        parsed
            .extension()
            .map(|e| e.to_string())
            .filter(|e| !e.is_empty())
    });
    Ok(NormalizedPhone { number, extension })
}

/// libphonenumber's validity of a number the crate parsed: leadroute's own validator (whole
/// pattern matches and possible lengths, see `intl`), which the crate gets wrong where a
/// pattern matches only the start of the number (`+21 310123.1232)` is valid to the crate,
/// not to libphonenumber); the crate's own check only if that country's patterns did not
/// compile.
fn is_valid(db: &phonenumber::metadata::Database, n: &phonenumber::PhoneNumber) -> bool {
    let code = n.code().value();
    let e164 = phonenumber::format_with(db, n).mode(Mode::E164).to_string();
    e164.strip_prefix('+')
        .and_then(|s| s.strip_prefix(code.to_string().as_str()))
        .and_then(|nsn| intl::is_valid(code, nsn))
        .unwrap_or_else(|| phonenumber::is_valid_with(db, n))
}

/// The number as libphonenumber normalizes it once it is viable (see [`viable`]) and its
/// extension is cut off: a leading `+` if it has one, then its digits. Its ASCII letters are
/// keypad digits when there are three or more (`VALID_ALPHA_PHONE_PATTERN`, then
/// `ALPHA_PHONE_MAPPINGS`): a vanity number (`1-800-FLOWERS`), or a word written after a
/// number with no digits after it, which is no extension (`212-555-1234 ext` is
/// 2125551234398, too long); fewer are dropped (`normalizeDigitsOnly`: `212-555-1234 x`,
/// `800 ab 12345`). Anything else is dropped.
fn national_digits(number: &str) -> String {
    let vanity = number.bytes().filter(u8::is_ascii_alphabetic).count() >= 3;
    let plus = number.starts_with('+');
    let digits = number.chars().filter_map(|c| match c.to_ascii_uppercase() {
        '0'..='9' => Some(c),
        'A'..='Z' if !vanity => None,
        'A'..='C' => Some('2'),
        'D'..='F' => Some('3'),
        'G'..='I' => Some('4'),
        'J'..='L' => Some('5'),
        'M'..='O' => Some('6'),
        'P'..='S' => Some('7'),
        'T'..='V' => Some('8'),
        'W'..='Z' => Some('9'),
        _ => None,
    });
    plus.then_some('+').into_iter().chain(digits).collect()
}

/// libphonenumber's viability check (`VALID_PHONE_NUMBER`, matched case-insensitively against
/// the whole number, here without its extension): two digits, or optional pluses then at least
/// three digits with only punctuation or `*` before each, then punctuation, `*`, ASCII letters
/// and digits. A word after a number must be letters (`212-555-1234, ext` and
/// `212-555-1234 x#` are not numbers). Digits are any Unicode decimal digits; `number` is the
/// text as typed (see [`original`]), as full-width letters are not allowed.
fn viable(number: &str) -> bool {
    let is_digit = |c: char| c.is_ascii_digit() || digits::decimal_value(c).is_some();
    if number.chars().count() == 2 && number.chars().all(is_digit) {
        return true;
    }
    let mut chars = number.chars().peekable();
    while chars.next_if(|&c| c == '+' || c == '\u{FF0B}').is_some() {}
    let mut digits = 0;
    for c in chars {
        if is_digit(c) {
            digits += 1;
        } else if !(c == '*' || is_punctuation(c) || (digits >= 3 && c.is_ascii_alphabetic())) {
            return false;
        }
    }
    digits >= 3
}

/// libphonenumber's `VALID_PUNCTUATION` (matched case-insensitively, so `X` too).
fn is_punctuation(c: char) -> bool {
    matches!(
        c,
        '-' | 'x'
            | 'X'
            | '\u{2010}'..='\u{2015}'
            | '\u{2212}'
            | '\u{30FC}'
            | '\u{FF0D}'..='\u{FF0F}'
            | ' '
            | '\u{A0}'
            | '\u{AD}'
            | '\u{200B}'
            | '\u{2060}'
            | '\u{3000}'
            | '('
            | ')'
            | '\u{FF08}'
            | '\u{FF09}'
            | '\u{FF3B}'
            | '\u{FF3D}'
            | '.'
            | '['
            | ']'
            | '/'
            | '~'
            | '\u{2053}'
            | '\u{223C}'
            | '\u{FF5E}'
    )
}

/// The part of `raw` that `part`, a slice of `text = digits::to_ascii_digits(raw)`, was mapped
/// from (the mapping is one character for one); `part` itself if it is not a slice of `text`
/// (a `;phone-context=` number) or nothing was mapped.
fn original<'a>(raw: &'a str, text: &str, part: &'a str) -> &'a str {
    let Some(start) = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize) else {
        return part;
    };
    if raw.len() == text.len() || start + part.len() > text.len() {
        return part;
    }
    let skip = text[..start].chars().count();
    let take = part.chars().count();
    let mut bounds = raw
        .char_indices()
        .map(|(i, _)| i)
        .chain([raw.len()])
        .skip(skip);
    match (bounds.next(), bounds.nth(take.saturating_sub(1))) {
        (Some(a), Some(b)) if take > 0 => &raw[a..b],
        (Some(a), _) => &raw[a..a],
        _ => part,
    }
}

/// `text` without an RFC 3966 ISDN subaddress (`;isub=`), as libphonenumber reads it.
fn without_subaddress(text: &str) -> &str {
    match text.find(";isub=") {
        Some(i) if i > 0 => &text[..i],
        _ => text,
    }
}

/// libphonenumber's `extractPossibleNumber`: from the first `+` or digit, without trailing
/// characters other than letters, digits and `#` (or `_`), and without a second number
/// written after `/x` or `\\x` (see [`before_second_number`]).
fn possible_number(text: &str) -> &str {
    let Some(start) = text.find(|c: char| c == '+' || c.is_ascii_digit()) else {
        return "";
    };
    let text = text[start..].trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '#'));
    // Deliberately not libphonenumber's: a space before the second number does not join the
    // first number's extension to it (`... x 6330 / x 7000`, see the Python reference test).
    before_second_number(text).trim_end_matches(' ')
}

/// When the crate finds a number invalid, libphonenumber may still read it as valid: the
/// crate strips a national prefix even after `+` and twice after none (`+7 800 123-45-67`,
/// `8 (800) 123-45-67` in RU), and takes a region's own country code for a prefix where the
/// whole number is national (`250 123 456` in RW). libphonenumber strips a national prefix at
/// most once; this tries the national number with no strip and with one strip, and returns
/// the first the crate's validator accepts.
fn retry(
    db: &phonenumber::metadata::Database,
    number: &str,
    international: bool,
    code: u16,
    region: country::Id,
) -> Option<phonenumber::PhoneNumber> {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let (code, national) = if international {
        let cc = code.to_string();
        (code, digits.strip_prefix(&cc)?.to_string())
    } else {
        let meta = db.by_id(region.as_ref())?;
        if let Some(idd) = meta.international_prefix() {
            if idd.find(&digits).is_some_and(|m| m.start() == 0) {
                return None;
            }
        }
        (meta.country_code(), digits)
    };
    let meta = db.by_code(&code)?.into_iter().next()?;
    let once = meta
        .national_prefix()
        .and_then(|p| national.strip_prefix(p))
        .map(str::to_string);
    [Some(national), once]
        .into_iter()
        .flatten()
        .filter_map(|n| crate_number(code, &n))
        .find(|n| is_valid(db, n))
}

/// A `phonenumber::PhoneNumber` with this country code and national significant number
/// (leading zeros kept), built through its serde form (the crate has no constructor).
fn crate_number(code: u16, national: &str) -> Option<phonenumber::PhoneNumber> {
    if national.len() < 2 || national.len() > 17 || !national.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let zeros = national.bytes().take_while(|&c| c == b'0').count() as u64;
    let value: u64 = national.parse().ok()?;
    if value >= 1 << 56 {
        return None;
    }
    let json = serde_json::json!({
        "code": { "value": code, "source": "plus" },
        "national": { "value": (zeros << 56) | value },
        "extension": null,
        "carrier": null,
    });
    serde_json::from_value(json).ok()
}

/// libphonenumber ignores a second number written after `/x` or `\\x` (`... x302/x2303`).
fn before_second_number(text: &str) -> &str {
    let b = text.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'/' || c == b'\\' {
            let mut j = i + 1;
            while b.get(j) == Some(&b' ') {
                j += 1;
            }
            if b.get(j) == Some(&b'x') {
                return &text[..i];
            }
        }
    }
    text
}

/// RFC 3966's phone-context parameter.
const PHONE_CONTEXT: &str = ";phone-context=";

/// RFC 3966 `;phone-context=`: libphonenumber reads `tel:863-8426;phone-context=+1-317` as
/// the context's digits followed by the number (the crate does not). Other text is returned
/// unchanged.
fn phone_context(text: &str) -> Result<std::borrow::Cow<'_, str>, PhoneError> {
    let Some(at) = text.find(PHONE_CONTEXT) else {
        return Ok(text.into());
    };
    let context = &text[at + PHONE_CONTEXT.len()..];
    let context = &context[..context.find(';').unwrap_or(context.len())];
    if context.is_empty() {
        return Err(PhoneError::NotANumber);
    }
    let start = text.find("tel:").map_or(0, |i| i + 4);
    let local = text.get(start..at).unwrap_or("");
    if context.starts_with('+') {
        Ok(format!("{context}{local}").into())
    } else {
        Ok(local.to_string().into())
    }
}

/// Cuts a trailing extension off `text` as libphonenumber's extension pattern does (leftmost
/// match that reaches the end): `;ext=` and explicit labels (`ext`, `extn`, `extension`, `xt`)
/// with up to 20 digits, one-character or `int` labels (`x`, `#`, `~`) with up to 9, `,,` or
/// `;` with up to 15, commas with up to 9, and `- 123#` with up to 6; only if the number
/// before it is viable (see [`viable`]; from its first `+` or digit). Returns the number part
/// and the extension digits; text without an extension comes back whole.
fn split_extension(text: &str) -> (&str, Option<&str>) {
    let b = text.as_bytes();
    let Some((start, (s, e))) = (0..b.len())
        .filter(|&i| text.is_char_boundary(i))
        .find_map(|i| extension_at(b, i).map(|r| (i, r)))
    else {
        return (text, None);
    };
    let head = &text[..start];
    let from = head.find(|c: char| c == '+' || c.is_ascii_digit());
    if from.is_some_and(|i| viable(&head[i..])) {
        (head, Some(&text[s..e]))
    } else {
        (text, None)
    }
}

/// libphonenumber's explicit extension labels, longest first: `e?xt(ensi(o|ó))?n?`, `доб`,
/// `anexo`.
const EXPLICIT_LABELS: [&str; 12] = [
    "extension",
    "extensión",
    "xtension",
    "xtensión",
    "extensio",
    "xtensio",
    "extn",
    "xtn",
    "ext",
    "xt",
    "доб",
    "anexo",
];

/// The extension digits' range if an extension pattern matches `b[i..]` to its end, trying
/// libphonenumber's patterns in its order: RFC 3966 `;ext=`, explicit labels, the short
/// labels `x # ~ int`, digits ending in `#`, then auto-dial `,,` / `;` and `,` sequences.
fn extension_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let t = ExtensionText { b };
    t.rfc3966(i)
        .or_else(|| t.labelled(i))
        .or_else(|| t.hash_terminated(i))
        .or_else(|| t.auto_dial(i))
}

/// The text after a number, read with libphonenumber's extension patterns.
struct ExtensionText<'a> {
    b: &'a [u8],
}

impl ExtensionText<'_> {
    /// The index after the bytes of `set` from `i`.
    fn skip(&self, mut i: usize, set: &[u8]) -> usize {
        while self.b.get(i).is_some_and(|c| set.contains(c)) {
            i += 1;
        }
        i
    }

    /// As [`ExtensionText::skip`], where libphonenumber also allows a no-break space
    /// (U+00A0).
    fn skip_space(&self, mut i: usize, set: &[u8]) -> usize {
        loop {
            if self.b.get(i).is_some_and(|c| set.contains(c)) {
                i += 1;
            } else if self.b.get(i..i + 2) == Some(&[0xC2, 0xA0][..]) {
                i += 2;
            } else {
                return i;
            }
        }
    }

    /// The index after label `l` (ASCII case-insensitive) at `i`.
    fn label(&self, i: usize, l: &str) -> Option<usize> {
        let (b, l) = (self.b, l.as_bytes());
        (b.len() >= i + l.len() && b[i..i + l.len()].eq_ignore_ascii_case(l)).then(|| i + l.len())
    }

    /// Digits (1..=`limit`), an optional `#` (when `hash`), then the end.
    fn tail(&self, i: usize, limit: usize, hash: bool) -> Option<(usize, usize)> {
        let e = self.skip(i, b"0123456789");
        let mut end = e;
        if hash && self.b.get(end) == Some(&b'#') {
            end += 1;
        }
        (e > i && e - i <= limit && end == self.b.len()).then_some((i, e))
    }

    /// The index after a label's optional `:` or `.` and its separators.
    fn after_label(&self, i: usize) -> usize {
        let i = if matches!(self.b.get(i), Some(b':' | b'.')) {
            i + 1
        } else {
            i
        };
        self.skip_space(i, b" \t,-")
    }

    /// RFC 3966: `;ext=` and up to 20 digits.
    fn rfc3966(&self, i: usize) -> Option<(usize, usize)> {
        self.tail(self.label(i, ";ext=")?, 20, false)
    }

    /// An explicit label and up to 20 digits, or `x # ~ int` and up to 9.
    fn labelled(&self, i: usize) -> Option<(usize, usize)> {
        let j = self.skip_space(i, b" \t,");
        let explicit = EXPLICIT_LABELS.iter().map(|l| (*l, 20));
        let short = ["x", "#", "~", "int"].into_iter().map(|l| (l, 9));
        explicit.chain(short).find_map(|(l, limit)| {
            let k = self.label(j, l)?;
            self.tail(self.after_label(k), limit, true)
        })
    }

    /// A separator, then up to 6 digits ending in `#`.
    fn hash_terminated(&self, i: usize) -> Option<(usize, usize)> {
        let k = self.skip(i, b"- ");
        let e = self.skip(k, b"0123456789");
        (k > i && e > k && e - k <= 6 && self.b.get(e) == Some(&b'#') && e + 1 == self.b.len())
            .then_some((k, e))
    }

    /// Auto-dial: `,,` or `;` and up to 15 digits, or a run of `,` and up to 9.
    fn auto_dial(&self, i: usize) -> Option<(usize, usize)> {
        let j = self.skip_space(i, b" \t");
        if let Some(k) = self.label(j, ",,").or_else(|| self.label(j, ";")) {
            if let Some(r) = self.tail(self.after_label(k), 15, true) {
                return Some(r);
            }
        }
        let k = self.skip(j, b",");
        (k > j).then(|| self.tail(self.after_label(k), 9, true))?
    }
}

#[cfg(test)]
mod tests;
