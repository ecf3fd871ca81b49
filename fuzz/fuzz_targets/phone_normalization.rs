//! Arbitrary text (UTF-8, lossy) into phone normalization, `normalize` for regions US, GB and
//! DE and `normalize_with` under the strict policy and a NANP-only policy.
//!
//! Invariants, for every input and region:
//!
//! - an `Ok` number is E.164 as leadroute stores and sends it: `+`, then only ASCII digits,
//!   at most [`max_chars`] characters;
//! - normalization is idempotent: normalizing the returned E.164 again (same region) gives
//!   the same number;
//! - an extension, when there is one, is ASCII digits;
//! - the strict policy only removes numbers, with `fictional` or `n11_exchange`, and never
//!   changes one; the NANP-only policy accepts exactly the `+1` numbers.
#![no_main]

use leadroute_core::phone::{normalize, normalize_with, NormalizeOptions, PhoneError};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The longest E.164 string accepted, `+` included: 21 by default, leadroute's documented
/// limit (`PhoneNumber`: at most 20 digits, libphonenumber's), or `FUZZ_E164_MAX_CHARS` from
/// the environment.
///
/// ITU-T E.164 caps a number at 15 digits (16 characters), but libphonenumber 9.0.33, and so
/// leadroute, deems longer numbers valid: `65303303033033` in region DE normalizes to
/// `+4965303303033033` (17 characters) in both, and this target finds such input within
/// seconds. Run with `FUZZ_E164_MAX_CHARS=16` to check the 15-digit cap.
fn max_chars() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| {
        std::env::var("FUZZ_E164_MAX_CHARS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(21)
    })
}

const REGIONS: [&str; 3] = ["US", "GB", "DE"];

struct Policies {
    strict: [NormalizeOptions; 3],
    nanp_only: NormalizeOptions,
}

fn policies() -> &'static Policies {
    static P: OnceLock<Policies> = OnceLock::new();
    P.get_or_init(|| Policies {
        strict: REGIONS.map(|r| NormalizeOptions::new(r).strict(true)),
        nanp_only: NormalizeOptions::new("US").allowed_country_codes([1]),
    })
}

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let raw: &str = &raw;
    let p = policies();
    for (i, region) in REGIONS.into_iter().enumerate() {
        let plain = normalize(raw, region);
        if let Ok(n) = &plain {
            let e164 = n.number.as_str();
            assert!(
                e164.len() <= max_chars()
                    && e164.len() >= 2
                    && e164.starts_with('+')
                    && e164[1..].bytes().all(|c| c.is_ascii_digit()),
                "{raw:?} (region {region}) normalized to {e164:?}, not E.164 of at most {} characters",
                max_chars()
            );
            match normalize(e164, region) {
                Ok(again) => assert_eq!(
                    again.number, n.number,
                    "{raw:?} (region {region}) -> {e164:?} -> {:?}: not idempotent",
                    again.number
                ),
                Err(e) => panic!(
                    "{raw:?} (region {region}) -> {e164:?}, which does not normalize again: {}",
                    e.code()
                ),
            }
            if let Some(ext) = &n.extension {
                assert!(
                    !ext.is_empty() && ext.bytes().all(|c| c.is_ascii_digit()),
                    "{raw:?} (region {region}): extension {ext:?}"
                );
            }
        }
        let strict = normalize_with(raw, &p.strict[i]);
        match (&plain, &strict) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{raw:?} (region {region}): strict differs"),
            (Err(a), Err(b)) => assert_eq!(a, b, "{raw:?} (region {region}): strict differs"),
            (Ok(_), Err(PhoneError::Fictional | PhoneError::N11Exchange)) => {}
            _ => panic!("{raw:?} (region {region}): {plain:?} but strict {strict:?}"),
        }
        if region == "US" {
            match (&plain, normalize_with(raw, &p.nanp_only)) {
                (Ok(a), Ok(b)) => assert!(a == &b && a.number.is_nanp()),
                (Ok(a), Err(PhoneError::RegionNotAllowed(_))) => assert!(!a.number.is_nanp()),
                (Err(a), Err(b)) => assert_eq!(a, &b),
                (a, b) => panic!("{raw:?}: {a:?} but NANP-only {b:?}"),
            }
        }
    }
});
