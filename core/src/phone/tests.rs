//! Unit tests of phone normalization.

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

#[test]
fn unicode_digits_vanity_and_prefixes_are_read_as_libphonenumber_does() {
    assert_eq!(e164("３１７-８６３-８４２６"), Ok("+13178638426".into()));
    assert_eq!(
        e164("＋１ ３１７ ８６３ ８４２６"),
        Ok("+13178638426".into())
    );
    assert_eq!(e164("٣١٧٨٦٣٨٤٢٦"), Ok("+13178638426".into()));
    assert_eq!(e164("1-800-FLOWERS"), Ok("+18003569377".into()));
    assert_eq!(e164("011 44 20 7031 3000"), Ok("+442070313000".into()));
    assert_eq!(e164("+1 1 317 863 8426"), Ok("+13178638426".into()));
    assert_eq!(e164("+7 800 123-45-67"), Ok("+78001234567".into()));
    assert_eq!(
        normalize("8 (800) 123-45-67", "RU")
            .unwrap()
            .number
            .as_str(),
        "+78001234567"
    );
    assert_eq!(
        normalize("250 123 456", "RW").unwrap().number.as_str(),
        "+250250123456"
    );
    assert_eq!(
        e164("tel:863-8426;phone-context=+1-317"),
        Ok("+13178638426".into())
    );
}

#[test]
fn the_bundled_metadata_is_the_crates() {
    let bundled = phonenumber::metadata::Database::parse(METADATA_XML).unwrap();
    let ours = phonenumber::metadata::DATABASE.by_id("GB").unwrap();
    let theirs = bundled.by_id("GB").unwrap();
    assert_eq!(ours.country_code(), theirs.country_code());
    for code in 1..1000u16 {
        assert_eq!(
            phonenumber::metadata::DATABASE.region(&code),
            bundled.region(&code),
            "+{code}"
        );
    }
    // Numbers that take the crate path read the same on any database.
    let p = phonenumber::parse_with(&bundled, None, "+44 20 7031 3000").unwrap();
    assert!(phonenumber::is_valid_with(&bundled, &p));
    assert!(phonenumber::is_valid(&p));
}

#[test]
fn one_or_two_letters_are_ignored_three_make_a_vanity_number() {
    // Expected values from phonenumbers 9.0.33 (tests/data/tricky_phones.txt).
    assert_eq!(e164("317x863-8426"), Ok("+13178638426".into()));
    assert_eq!(e164("+44 20a7031 3000"), Ok("+442070313000".into()));
    assert_eq!(
        normalize("651x2303 2530", "DE").map(|p| p.number.to_string()),
        Ok("+4965123032530".into())
    );
    assert_eq!(e164("800 ab 12345"), Err("invalid_number"));
    assert_eq!(e164("3b17-863-8426"), Err("not_a_number"));
    assert_eq!(e164("1-800-FLOWERS"), Ok("+18003569377".into()));
}

#[test]
fn a_label_without_digits_is_not_an_extension() {
    // Expected values from phonenumbers 9.0.33 (tests/data/tricky_phones.txt): with no
    // digits after it, `ext` is three letters of a vanity number (2125551234398).
    assert_eq!(e164("(212)555-1234 ext"), Err("invalid_number"));
    assert_eq!(e164("(212)555-1234 ext."), Err("invalid_number"));
    assert_eq!(e164("2125551234ext"), Err("invalid_number"));
    assert_eq!(e164("+1 212 555 1234 ext"), Err("invalid_number"));
    assert_eq!(e164("317-863-8426 EXT"), Err("invalid_number"));
    assert_eq!(e164("(212) 555-1234 extension"), Err("too_long"));
    // One or two letters are dropped.
    assert_eq!(e164("(212)555-1234 x"), Ok("+12125551234".into()));
    assert_eq!(e164("317-863-8426 xt"), Ok("+13178638426".into()));
    // Not a phone number's characters: a comma or `#` with no digits after it.
    assert_eq!(e164("317-863-8426, ext"), Err("not_a_number"));
    assert_eq!(e164("317-863-8426 x#"), Err("not_a_number"));
    // With digits, an extension.
    for (raw, ext) in [
        ("(212)555-1234 ext 55", "55"),
        ("212.555.1234 x12", "12"),
        ("2125551234ext5", "5"),
        ("(212)555-1234 Ext. 55.", "55"),
        ("+1 212 555 1234\u{A0}ext\u{A0}55", "55"),
    ] {
        let p = normalize(raw, "US").unwrap();
        assert_eq!(p.number.as_str(), "+12125551234", "{raw:?}");
        assert_eq!(p.extension.as_deref(), Some(ext), "{raw:?}");
    }
}

#[test]
fn long_and_unusual_extensions_are_kept() {
    let ext = |raw: &str| normalize(raw, "US").unwrap().extension;
    assert_eq!(
        ext("317-863-8426 ext 12345678901234567890").as_deref(),
        Some("12345678901234567890")
    );
    assert_eq!(ext("317-863-8426;6330").as_deref(), Some("6330"));
    assert_eq!(ext("317-863-8426 - 633#").as_deref(), Some("633"));
    assert_eq!(ext("+44 20 7031 3000 x 12").as_deref(), Some("12"));
    assert_eq!(
        ext("３１７-８６３-８４２６ ｅｘｔ ６３３０").as_deref(),
        Some("6330")
    );
}

#[test]
fn strict_policy_and_allowed_countries() {
    let strict = NormalizeOptions::new("US").strict(true);
    let code = |raw: &str, o: &NormalizeOptions| normalize_with(raw, o).map_err(|e| e.code());
    assert_eq!(code("212-555-0123", &strict).unwrap_err(), "fictional");
    assert_eq!(code("212-555-0199", &strict).unwrap_err(), "fictional");
    assert!(code("212-555-0200", &strict).is_ok());
    assert_eq!(code("212-911-1234", &strict).unwrap_err(), "n11_exchange");
    assert!(code("212-555-0123", &NormalizeOptions::default()).is_ok());
    assert!(code("212-911-1234", &NormalizeOptions::default()).is_ok());
    let nanp = NormalizeOptions::new("US").allowed_country_codes([1]);
    assert_eq!(
        normalize_with("+44 20 7031 3000", &nanp).unwrap_err(),
        PhoneError::RegionNotAllowed(44)
    );
    assert!(code("+1 242 359 1234", &nanp).is_ok());
    let uk = NormalizeOptions::new("GB").allowed_country_codes([44, 353]);
    assert!(code("020 7031 3000", &uk).is_ok());
    assert_eq!(
        code("+1 317 863 8426", &uk).unwrap_err(),
        "region_not_allowed"
    );
    assert_eq!(
        code("+999 1234567", &uk).unwrap_err(),
        "invalid_country_code"
    );
}

#[test]
fn phone_number_is_inline_and_ordered_as_its_string() {
    let a = normalize("+44 20 7031 3000", "US").unwrap().number;
    let b = normalize("317-863-8426", "US").unwrap().number;
    assert!(b < a);
    assert_eq!(format!("{a:?}"), "PhoneNumber(\"+442070313000\")");
    assert!(b.is_nanp() && !a.is_nanp());
    assert_eq!(country_code(&a), 44);
    assert_eq!(country_code(&b), 1);
    assert_eq!(PhoneNumber::from_e164("+123456789012345678901"), None);
    assert!(PhoneNumber::from_e164("+12345678901234567890").is_some());
    assert_eq!(METADATA_VERSION, "9.0.33");
    assert_eq!(NANP_REGIONS[0], "US");
}
