//! The NANP fast path: validity and E.164 of `+1` numbers in their common shapes, without the
//! `phonenumber` crate.
//!
//! # What validity depends on
//!
//! libphonenumber decides whether a `+1` number is valid from its 10-digit national number
//! (NPA-NXX-XXXX) with regular expressions per NANP region (US, CA and 23 Caribbean and
//! Pacific regions). For all but three of the 1,000,000 NPA-NXX prefixes the answer is the
//! same for all 10,000 line numbers; [`nanp_table`](super::nanp_table), generated offline from
//! the crate's own metadata by `core/examples/gen_nanp_table.rs`, holds one bit per prefix
//! (29 distinct 1,000-bit NPA rows, 3.6 KB) and a 10,000-bit map of valid line numbers for each
//! of the three exceptions (246-521, 246-522, 876-606). The table is static data: nothing is
//! loaded or compiled at first use.
//!
//! # Shapes read here
//!
//! After trimming: an optional `tel:` prefix, an optional `+`, then digits separated by
//! spaces, `.`, `-`, `(` and `)`: 10 digits, or 11 starting with `1` (with `+`, exactly 11
//! starting with `1`), then optionally an extension: a label `x`, `#`, `~`, `int`, `ext`,
//! `ext.`, `extn`, `extension`, `xt` (any case, after optional spaces) or `;ext=`, then the
//! extension digits (at most 9 after a one-character or `int` label, at most 20 after the
//! others, as in libphonenumber), optionally followed by `#`. Without `+`, the default region
//! must be US or CA. With US, other digit counts libphonenumber certainly rejects are decided
//! too (see [`read`]). Anything else returns `None` and goes to the general path.

use super::nanp_table::{MIXED, NPA_ROW, ROWS};

/// Whether a 10-digit national number (`0..10_000_000_000`) is a valid `+1` number per
/// libphonenumber 9.0.33.
#[inline]
pub(crate) fn is_valid_national(n: u64) -> bool {
    let prefix = (n / 10_000) as usize;
    let (npa, nxx) = (prefix / 1000, prefix % 1000);
    let Some(&row) = NPA_ROW.get(npa) else {
        return false;
    };
    if (ROWS[usize::from(row)][nxx >> 3] >> (nxx & 7)) & 1 == 1 {
        return true;
    }
    match MIXED.binary_search_by_key(&(prefix as u32), |m| m.0) {
        Ok(i) => {
            let line = (n % 10_000) as usize;
            (MIXED[i].1[line >> 3] >> (line & 7)) & 1 == 1
        }
        Err(_) => false,
    }
}

/// What the fast path read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fast<'a> {
    /// The 10-digit national number.
    pub national: u64,
    /// The extension digits, if any (ASCII digits).
    pub extension: Option<&'a str>,
}

/// What the fast path concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict<'a> {
    /// A valid `+1` number.
    Valid(Fast<'a>),
    /// libphonenumber reads it but deems it invalid.
    Invalid,
    /// `+` and fewer than 3 digits: libphonenumber finds no number.
    NotANumber,
}

/// Reads a NANP number in a common shape; `None`: not a shape read here.
///
/// With region US (`us_region`), digit strings of another length than 10 or 11 are also
/// decided here when libphonenumber's answer is certain: 3 to 17 digits that start neither
/// with `1` (a country code or national prefix) nor with `011` (the international prefix),
/// and are not 7 digits starting with `3` (US general pattern `[2-9]\d{9}|3\d{6}`), parse to a
/// national number of that length, which no US pattern accepts: invalid.
#[inline]
pub(crate) fn read(text: &str, nanp_region: bool, us_region: bool) -> Option<Verdict<'_>> {
    let b = text.as_bytes();
    let mut i = 0;
    if b.len() >= 4 && b[..4].eq_ignore_ascii_case(b"tel:") {
        i = 4;
    }
    let plus = b.get(i) == Some(&b'+');
    if plus {
        i += 1;
    } else if !nanp_region {
        return None;
    }
    // The number: digits and separators.
    let mut value: u64 = 0;
    let mut count = 0u32;
    let mut lead = [0u8; 3];
    while let Some(&c) = b.get(i) {
        match c {
            b'0'..=b'9' => {
                if count < 3 {
                    lead[count as usize] = c;
                }
                count += 1;
                if count > 17 {
                    return None;
                }
                value = value * 10 + u64::from(c - b'0');
            }
            b' ' | b'-' | b'.' | b'(' | b')' => {}
            _ => break,
        }
        i += 1;
    }
    let extension = match extension(&b[i..]) {
        Ok(e) => e.map(|(s, e)| &text[i + s..i + e]),
        Err(()) => return None,
    };
    const TEN: u64 = 10_000_000_000;
    let national = match (plus, count, lead) {
        (true, 0..=2, _) if extension.is_none() => return Some(Verdict::NotANumber),
        (_, 11, [b'1', ..]) => value - TEN,
        // `+1 1 NPA...`: libphonenumber strips the national prefix 1 after the country code.
        (true, 12, [b'1', b'1', _]) => value - 11 * TEN,
        // 011 is the international prefix: another country's number may follow.
        (false, _, [b'0', b'1', b'1']) => return None,
        (false, 10, _) => value,
        (false, 3..=17, [first, ..])
            if us_region && first != b'1' && !(count == 7 && first == b'3') =>
        {
            return Some(Verdict::Invalid)
        }
        _ => return None,
    };
    if national >= 2_000_000_000 && is_valid_national(national) {
        Some(Verdict::Valid(Fast {
            national,
            extension,
        }))
    } else {
        Some(Verdict::Invalid)
    }
}

/// Reads the extension after the number: `Ok(None)` when there is nothing, `Ok(Some(range))`
/// for the digits, `Err` for anything this fast path does not read.
fn extension(b: &[u8]) -> Result<Option<(usize, usize)>, ()> {
    if b.is_empty() {
        return Ok(None);
    }
    let mut i = 0;
    let limit;
    if b.starts_with(b";ext=") {
        i = 5;
        limit = 20;
    } else {
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        let rest = &b[i..];
        let label = |l: &[u8]| rest.len() >= l.len() && rest[..l.len()].eq_ignore_ascii_case(l);
        // Longest labels first.
        let (len, lim) = if label(b"extension") {
            (9, 20)
        } else if label(b"xtension") {
            (8, 20)
        } else if label(b"extn") {
            (4, 20)
        } else if label(b"ext") || label(b"xtn") {
            (3, 20)
        } else if label(b"xt") {
            (2, 20)
        } else if label(b"int") {
            (3, 9)
        } else if label(b"x") || label(b"#") || label(b"~") {
            (1, 9)
        } else {
            return Err(());
        };
        i += len;
        limit = lim;
        if matches!(b.get(i), Some(b':' | b'.')) {
            i += 1;
        }
        while matches!(b.get(i), Some(b' ' | b'\t' | b'-')) {
            i += 1;
        }
    }
    let start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let end = i;
    if end == start || end - start > limit {
        return Err(());
    }
    if b.get(i) == Some(&b'#') {
        i += 1;
    }
    if i != b.len() {
        return Err(());
    }
    Ok(Some((start, end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Option<(u64, Option<&str>)> {
        match read(text, true, true) {
            Some(Verdict::Valid(f)) => Some((f.national, f.extension)),
            _ => None,
        }
    }

    #[test]
    fn reads_common_shapes() {
        for s in [
            "3178638426",
            "(317) 863-8426",
            "317.863.8426",
            "1-317-863-8426",
            "+1 317 863 8426",
            "tel:+1-317-863-8426",
            "+1(317)863-8426",
        ] {
            assert_eq!(ok(s), Some((3_178_638_426, None)), "{s}");
        }
        assert_eq!(ok("317-863-8426 x12"), Some((3_178_638_426, Some("12"))));
        assert_eq!(
            ok("317-863-8426 ext. 12"),
            Some((3_178_638_426, Some("12")))
        );
        assert_eq!(
            ok("317-863-8426 EXT: 12#"),
            Some((3_178_638_426, Some("12")))
        );
        assert_eq!(
            ok("tel:+1-317-863-8426;ext=12"),
            Some((3_178_638_426, Some("12")))
        );
        assert_eq!(ok("317-863-8426#12"), Some((3_178_638_426, Some("12"))));
    }

    #[test]
    fn leaves_other_shapes_to_the_general_path() {
        for s in [
            "+44 20 7031 3000",
            "011 44 20 7031 3000",
            "0116834002",
            "863-8426",
            "1-800-FLOWERS",
            "317-863-8426#",
            "317-863-8426 x1234567890",
            "317\t863\t8426",
            "3178638426;isub=1",
        ] {
            assert!(
                !matches!(read(s, true, true), Some(Verdict::Valid(_))),
                "{s}: {:?}",
                read(s, true, true)
            );
        }
        assert_eq!(read("3178638426", false, false), None);
        assert_eq!(read("123-456-7890", true, true), Some(Verdict::Invalid));
        assert_eq!(read("+5", true, true), Some(Verdict::NotANumber));
        assert_eq!(read("31786384261", true, true), Some(Verdict::Invalid));
        assert_eq!(read("31786384261", true, false), None);
        assert_eq!(read("318-6384", true, true), None);
        assert_eq!(read("418-6384", true, true), Some(Verdict::Invalid));
        assert_eq!(read("1-418-6384", true, true), None);
    }

    #[test]
    fn the_exceptions_depend_on_the_line_number() {
        assert_eq!(MIXED.len(), 3);
        let valid = |n| is_valid_national(n);
        assert!(valid(2_465_210_000));
        assert!(valid(8_766_060_999));
        assert!(!valid(8_766_061_000));
    }
}
