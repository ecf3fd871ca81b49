//! The international fast path: numbers written `+<country code> <national number>` in plain
//! digits and punctuation, for every country code (NANP numbers in their common shapes are
//! decided earlier by `nanp`; this path takes the other `+1` input, such as too few digits) (`+44 20 7946 0162`, `+49 (30) 123-456`,
//! `tel:+33.1.23.45.67.89`), decided by libphonenumber's own validity rule on regexes compiled
//! once per country code.
//!
//! Rule (libphonenumber `PhoneNumberUtil`, metadata 9.0.33 read from the `phonenumber`
//! crate's database):
//!
//! - the digits after `+` are the country code (the first 1 to 3 digits that are a known
//!   code) and the national significant number (NSN);
//! - libphonenumber's `parseHelper` then strips a national prefix even after `+`
//!   (`maybeStripNationalPrefixAndCarrierCode`, with the main region's
//!   `nationalPrefixForParsing`, else `nationalPrefix`, and `nationalPrefixTransformRule`):
//!   the prefix is removed (or the number transformed) unless the NSN matched the general
//!   pattern before and does not after; the result is kept unless its length is too short,
//!   local-only or no possible length (`testNumberLength` against the general description's
//!   lengths, the union of the number types' lengths);
//! - the region is the only one for the code, or (`getRegionCodeForNumberFromRegionList`)
//!   the first, main country first, whose `leadingDigits` match the start of the NSN, or that
//!   has no `leadingDigits` and whose number types accept it;
//! - valid (`isValidNumberForRegion`) when the region's general pattern matches the whole
//!   NSN and one of its number types (premium rate, toll free, shared cost, VoIP, personal,
//!   pager, UAN, voicemail, fixed line, mobile) has the NSN's length among its possible
//!   lengths and matches the whole NSN.
//!
//! Unlike the crate, which accepts a pattern matching only a prefix of the NSN, patterns here
//! must match the whole NSN, as in libphonenumber (`matchNationalNumber(…, false)`).
//!
//! Anything else (letters, extensions, other characters, too few or too many digits, an
//! unknown country code, a pattern that does not compile) is declined and goes to the
//! general path, so this path never decides a case it does not fully implement.

use super::PhoneNumber;
use regex::{Regex, RegexBuilder};
use std::collections::HashMap;
use std::sync::OnceLock;

/// This path's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Valid; the E.164 number.
    Valid(PhoneNumber),
    /// A well-formed `+` number that libphonenumber deems invalid.
    Invalid,
}

/// libphonenumber's NSN length bounds (`MIN_LENGTH_FOR_NSN`, `MAX_LENGTH_FOR_NSN`).
const NSN_MIN: usize = 2;
const NSN_MAX: usize = 17;
/// Longest country calling code (`MAX_LENGTH_COUNTRY_CODE`).
const CODE_MAX: usize = 3;

/// One number type (or the general description): its possible NSN lengths (empty: any) and
/// its pattern, anchored at both ends.
struct Desc {
    lengths: Vec<u16>,
    pattern: Regex,
}

impl Desc {
    /// libphonenumber's `isNumberMatchingDesc`.
    fn matches(&self, nsn: &str) -> bool {
        let len = nsn.len() as u16;
        (self.lengths.is_empty() || self.lengths.contains(&len)) && self.pattern.is_match(nsn)
    }
}

/// One region's (or non-geographic entity's) parsing and validity rules.
struct Region {
    /// `leadingDigits`, anchored at the start.
    leading_digits: Option<Regex>,
    /// The general description's pattern, anchored at both ends.
    general: Regex,
    /// The general description's possible lengths (the union of the number types' own,
    /// `noInternationalDialling` aside, as libphonenumber's metadata build computes them),
    /// ascending.
    lengths: Vec<u16>,
    /// The same for local-only lengths.
    local_lengths: Vec<u16>,
    /// The number types `getNumberTypeHelper` checks.
    types: Vec<Desc>,
    /// `nationalPrefixForParsing`, else `nationalPrefix`, anchored at the start.
    national_prefix: Option<Regex>,
    /// `nationalPrefixTransformRule`, in the `regex` crate's replacement syntax.
    transform: Option<String>,
}

impl Region {
    /// libphonenumber's `getNumberTypeHelper(nsn) != UNKNOWN`.
    fn accepts(&self, nsn: &str) -> bool {
        self.general.is_match(nsn) && self.types.iter().any(|t| t.matches(nsn))
    }

    /// libphonenumber's `maybeStripNationalPrefixAndCarrierCode` (carrier code dropped).
    fn strip_national_prefix(&self, nsn: &str) -> Option<String> {
        let caps = self.national_prefix.as_ref()?.captures(nsn)?;
        let whole = caps.get(0)?;
        let viable = self.general.is_match(nsn);
        // `group(groupCount())`: the last group, or the whole match when there is none.
        let last = caps.get(caps.len() - 1);
        let out = match (&self.transform, last) {
            (Some(rule), Some(_)) => {
                let mut out = String::with_capacity(nsn.len() + rule.len());
                caps.expand(rule, &mut out);
                out.push_str(&nsn[whole.end()..]);
                out
            }
            _ => nsn[whole.end()..].to_string(),
        };
        (!viable || self.general.is_match(&out)).then_some(out)
    }

    /// Whether `parseHelper` keeps a stripped NSN: `testNumberLength` is not `TOO_SHORT`,
    /// `IS_POSSIBLE_LOCAL_ONLY` or `INVALID_LENGTH` (a number too long is kept).
    fn keeps(&self, nsn: &str) -> bool {
        let len = nsn.len() as u16;
        if self.local_lengths.contains(&len) {
            return false;
        }
        match (self.lengths.first(), self.lengths.last()) {
            (Some(&min), Some(&max)) => len > max || (len >= min && self.lengths.contains(&len)),
            _ => false,
        }
    }
}

/// The regions sharing one country calling code, main country first.
struct Country {
    regions: Vec<Region>,
}

impl Country {
    /// Whether the NSN is valid: libphonenumber's `getRegionCodeForNumber`, then
    /// `isValidNumberForRegion`.
    fn is_valid(&self, nsn: &str) -> bool {
        if let [only] = self.regions.as_slice() {
            return only.accepts(nsn);
        }
        for region in &self.regions {
            match &region.leading_digits {
                Some(leading) => {
                    if leading.is_match(nsn) {
                        return region.accepts(nsn);
                    }
                }
                None => {
                    if region.accepts(nsn) {
                        return true;
                    }
                }
            }
        }
        false
    }
}

/// Every known country calling code, each compiled on first use (`None`: a pattern failed to
/// compile, so the code is left to the general path).
fn countries() -> &'static HashMap<u16, OnceLock<Option<Country>>> {
    static COUNTRIES: OnceLock<HashMap<u16, OnceLock<Option<Country>>>> = OnceLock::new();
    COUNTRIES.get_or_init(|| {
        // By code: the database's iteration is by region id, where the non-geographic
        // entities all share `001`.
        (1..1000u16)
            .filter(|code| phonenumber::metadata::DATABASE.region(code).is_some())
            .map(|code| (code, OnceLock::new()))
            .collect()
    })
}

fn compile(pattern: &str, anchor_end: bool) -> Option<Regex> {
    let source = if anchor_end {
        format!("^(?:{pattern})$")
    } else {
        format!("^(?:{pattern})")
    };
    // Metadata patterns are written with insignificant whitespace (the crate compiles them
    // the same way) and only ever see ASCII digits here.
    RegexBuilder::new(&source)
        .ignore_whitespace(true)
        .unicode(false)
        .build()
        .ok()
}

fn desc(d: &phonenumber::metadata::Descriptor) -> Option<Desc> {
    Some(Desc {
        lengths: d.possible_length().to_vec(),
        pattern: compile(d.national_number().as_str(), true)?,
    })
}

/// A Java replacement (`268$1`) in the `regex` crate's syntax (`268${1}`).
fn replacement(rule: &str) -> String {
    let mut out = String::with_capacity(rule.len() + 4);
    let mut chars = rule.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('$', Some(d)) if d.is_ascii_digit() => {
                out.push_str("${");
                out.push(*d);
                out.push('}');
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

fn region(meta: &phonenumber::metadata::Metadata) -> Option<Region> {
    let d = meta.descriptors();
    // The number types getNumberTypeHelper checks, in its order (validity needs one to
    // match); also the types whose lengths make the general description's (the build
    // leaves out only noInternationalDialling).
    let all_types = [
        d.premium_rate(),
        d.toll_free(),
        d.shared_cost(),
        d.voip(),
        d.personal_number(),
        d.pager(),
        d.uan(),
        d.voicemail(),
        d.fixed_line(),
        d.mobile(),
    ];
    let types = all_types
        .into_iter()
        .flatten()
        .map(desc)
        .collect::<Option<Vec<_>>>()?;
    let union = |f: fn(&phonenumber::metadata::Descriptor) -> &[u16]| -> Vec<u16> {
        let set: std::collections::BTreeSet<u16> = all_types
            .iter()
            .flatten()
            .flat_map(|t| f(t))
            .copied()
            .collect();
        set.into_iter().collect()
    };
    let national_prefix = match meta.national_prefix_for_parsing() {
        Some(p) => Some(compile(p.as_str(), false)?),
        None => match meta.national_prefix() {
            Some(p) if !p.is_empty() => Some(compile(p, false)?),
            _ => None,
        },
    };
    let lengths = union(|t| t.possible_length());
    Some(Region {
        leading_digits: match meta.leading_digits() {
            Some(p) => Some(compile(p.as_str(), false)?),
            None => None,
        },
        general: compile(d.general().national_number().as_str(), true)?,
        // A local-only length that is also a national one is not local-only (the build's
        // `setPossibleLengths`).
        local_lengths: union(|t| t.possible_local_length())
            .into_iter()
            .filter(|l| !lengths.contains(l))
            .collect(),
        lengths,
        types,
        national_prefix,
        transform: meta.national_prefix_transform_rule().map(replacement),
    })
}

fn country(code: u16) -> Option<&'static Country> {
    countries()
        .get(&code)?
        .get_or_init(|| {
            // The crate keeps the main country first, then the file's order.
            let metas = phonenumber::metadata::DATABASE.by_code(&code)?;
            Some(Country {
                regions: metas.into_iter().map(region).collect::<Option<Vec<_>>>()?,
            })
        })
        .as_ref()
}

/// libphonenumber's validity of the national significant number `nsn` (digits, leading
/// zeros kept) under country calling code `code`; `None` for an unknown code or one whose
/// patterns did not compile.
pub(super) fn is_valid(code: u16, nsn: &str) -> Option<bool> {
    Some(country(code)?.is_valid(nsn))
}

/// `digits` (ASCII, after `+`) as its country calling code and the rest: the first 1 to 3
/// digits that are a known code (codes are prefix-free; libphonenumber's
/// `extractCountryCode`). `None` when no prefix is one.
pub(super) fn split_country_code(digits: &str) -> Option<(u16, &str)> {
    let map = countries();
    (1..=CODE_MAX.min(digits.len())).find_map(|len| {
        let code = digits.get(..len)?.parse::<u16>().ok()?;
        map.contains_key(&code).then(|| (code, &digits[len..]))
    })
}

/// The digits of `text` if it is `+` (optionally after `tel:`) followed by digits and the
/// separators people type (space, `-`, `.`, `(`, `)`), at most `CODE_MAX + NSN_MAX` digits.
fn plus_digits(text: &str) -> Option<([u8; CODE_MAX + NSN_MAX], usize)> {
    let b = text.as_bytes();
    let b = if b.len() > 4 && b[..4].eq_ignore_ascii_case(b"tel:") {
        &b[4..]
    } else {
        b
    };
    let rest = b.strip_prefix(b"+")?;
    let mut digits = [0u8; CODE_MAX + NSN_MAX];
    let mut n = 0;
    for &c in rest {
        match c {
            b'0'..=b'9' => {
                *digits.get_mut(n)? = c;
                n += 1;
            }
            b' ' | b'-' | b'.' | b'(' | b')' => {}
            _ => return None,
        }
    }
    Some((digits, n))
}

/// Decides a `+` number, or `None` to leave it to the general path.
pub(super) fn read(text: &str) -> Option<Verdict> {
    let (digits, n) = plus_digits(text)?;
    let digits = std::str::from_utf8(&digits[..n]).ok()?;
    if digits.starts_with('0') {
        return None;
    }
    let (code, nsn) = split_country_code(digits)?;
    if !(NSN_MIN..=NSN_MAX).contains(&nsn.len()) {
        return None;
    }
    let country = country(code)?;
    let main = country.regions.first()?;
    let stripped = main.strip_national_prefix(nsn).filter(|s| main.keeps(s));
    let nsn = stripped.as_deref().unwrap_or(nsn);
    if !(NSN_MIN..=NSN_MAX).contains(&nsn.len()) {
        return None;
    }
    if !country.is_valid(nsn) {
        return Some(Verdict::Invalid);
    }
    PhoneNumber::from_e164(&format!("+{code}{nsn}")).map(Verdict::Valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(text: &str) -> Option<Option<String>> {
        read(text).map(|v| match v {
            Verdict::Valid(p) => Some(p.as_str().to_string()),
            Verdict::Invalid => None,
        })
    }

    #[test]
    fn plain_international_numbers_are_decided() {
        assert_eq!(e164("+44 20 7946 0162"), Some(Some("+442079460162".into())));
        assert_eq!(
            e164("tel:+33.1.23.45.67.89"),
            Some(Some("+33123456789".into()))
        );
        // Too short for any UK type.
        assert_eq!(e164("+44 20 7946"), Some(None));
        // Italian fixed lines keep their leading zero.
        assert_eq!(e164("+39 06 6988 1234"), Some(Some("+390669881234".into())));
    }

    #[test]
    fn the_region_of_a_shared_code_is_chosen_as_libphonenumber_does() {
        // Each answer is Python phonenumbers 9.0.33's (region in the comment).
        for (text, want) in [
            ("+44 7400 123456", Some("+447400123456")),  // GB mobile
            ("+44 1481 256789", Some("+441481256789")),  // GG fixed line
            ("+44 7781 123456", Some("+447781123456")),  // GG mobile
            ("+44 7700 900123", None),                   // GB's reserved drama range
            ("+7 701 123 4567", Some("+77011234567")),   // KZ
            ("+7 912 345 6789", Some("+79123456789")),   // RU
            ("+262 269 61 2345", Some("+262269612345")), // YT
            ("+590 590 27 1234", Some("+590590271234")), // BL
        ] {
            assert_eq!(e164(text), Some(want.map(str::to_string)), "{text}");
        }
    }

    #[test]
    fn a_national_prefix_after_the_code_is_stripped_as_libphonenumber_does() {
        // Each answer is Python phonenumbers 9.0.33's.
        for (text, want) in [
            ("+44 020 7946 0162", Some("+442079460162")), // `0` stripped
            ("+263 0686123456", None),                    // stripped, then invalid in ZW
            ("+46 002345678", None),                      // one `0` stripped: NSN 02345678
            ("+375 80112345670", None),                   // BY strips `80`
            ("+61 8 9162 1234", Some("+61891621234")),    // AU
            ("+1 13101232", None), // `1` stripped leaves 7 digits, local-only: kept, invalid
            ("+1 1 317 863 8426", Some("+13178638426")), // `1` stripped
        ] {
            assert_eq!(e164(text), Some(want.map(str::to_string)), "{text}");
        }
        assert_eq!(replacement("0549$1"), "0549${1}");
    }

    #[test]
    fn what_this_path_does_not_implement_is_declined() {
        for text in [
            "+44 20 7946 0162 x1",            // an extension
            "+44 20 7946 016２",              // a non-ASCII digit
            "+0 12 345",                      // no country code starts with 0
            "+999 123 456",                   // an unknown code
            "+44 1",                          // too short a national number
            "+44 20 7946 0162 123 456 789 0", // too many digits
            "44 20 7946 0162",                // no `+`
        ] {
            assert_eq!(read(text), None, "{text}");
        }
    }

    #[test]
    fn patterns_must_match_the_whole_number() {
        // The crate accepts a pattern matching only a prefix; libphonenumber does not. A UK
        // fixed line with one digit too many is invalid (11 digits is no UK length).
        assert_eq!(e164("+44 20 7946 01623"), Some(None));
    }
}
