//! Unicode decimal digits, mapped to ASCII as libphonenumber does before parsing.
//!
//! libphonenumber reads any Unicode decimal digit (general category `Nd`: full-width `３`,
//! Arabic-Indic `٣`, Devanagari `३`, ...) as the ASCII digit of the same value, and the
//! full-width plus `＋` as `+`. The `phonenumber` crate rejects them, so leadroute maps them
//! first. Full-width ASCII punctuation and letters (U+FF01..U+FF5E) are mapped to their ASCII
//! forms too, so that full-width extension labels (`ｅｘｔ`) and separators read as typed.

use std::borrow::Cow;

/// The code point of `0` of every run of ten Unicode `Nd` digits (Unicode 14.0; each run holds
/// the values 0-9 in order).
const ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// The value of a Unicode decimal digit (`Nd`), if `c` is one.
pub(crate) fn decimal_value(c: char) -> Option<u8> {
    let c = c as u32;
    let i = ZEROS.partition_point(|&z| z <= c);
    let zero = *ZEROS.get(i.checked_sub(1)?)?;
    (c - zero < 10).then(|| (c - zero) as u8)
}

/// `text` with every non-ASCII decimal digit replaced by its ASCII digit and full-width ASCII
/// forms replaced by ASCII; borrowed when `text` is ASCII.
pub(crate) fn to_ascii_digits(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if let Some(d) = decimal_value(c) {
                    char::from(b'0' + d)
                } else if ('\u{FF01}'..='\u{FF5E}').contains(&c) {
                    char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
                } else {
                    c
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_unicode_digits() {
        assert_eq!(
            to_ascii_digits("＋１ (３１７) ８６３-８４２６"),
            "+1 (317) 863-8426"
        );
        assert_eq!(to_ascii_digits("٣١٧٨٦٣٨٤٢٦"), "3178638426");
        assert_eq!(to_ascii_digits("۳۱۷"), "317");
        assert_eq!(to_ascii_digits("३१७"), "317");
        assert_eq!(decimal_value('a'), None);
        assert_eq!(decimal_value('\u{2F}'), None);
        assert_eq!(decimal_value('\u{3A}'), None);
        assert_eq!(decimal_value('²'), None);
        assert!(matches!(to_ascii_digits("317"), Cow::Borrowed(_)));
    }
}
