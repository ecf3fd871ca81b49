use super::*;

fn sha256_hex(bytes: &[u8]) -> String {
    // Computed independently of `phone_hash`: the digest's bytes, formatted one by one.
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn hash_is_sha256_of_the_e164_text() {
    assert_eq!(phone_hash("+12125550123"), sha256_hex(b"+12125550123"));
    assert_eq!(
        phone_hash("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let h = phone_hash("+13178638426");
    assert_eq!(h.len(), 64);
    assert!(h
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
}

#[test]
fn parses_numbers_in_several_formats() {
    let text = "+13178638426\n\
                317-863-8426\n\
                (317) 863-8426\n\
                317.863.8426\n\
                1 317 863 8426\n\
                tel:+1-317-863-8426\n\
                (254) 240-1519 ext. 313\n\
                +44 20 7031 3000\n";
    let (entries, bad) = parse_list(text, "US");
    assert!(bad.is_empty(), "{bad:?}");
    let phones: Vec<&str> = entries
        .iter()
        .map(|e| match e {
            SuppressionEntry::Phone(p) => p.as_str(),
            SuppressionEntry::Sha256(h) => panic!("unexpected hash {h}"),
        })
        .collect();
    assert_eq!(
        phones,
        [
            "+13178638426",
            "+13178638426",
            "+13178638426",
            "+13178638426",
            "+13178638426",
            "+13178638426",
            "+12542401519",
            "+442070313000",
        ]
    );
}

#[test]
fn national_numbers_follow_the_region() {
    let (entries, bad) = parse_list("020 7031 3000\n", "GB");
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(entries, [SuppressionEntry::Phone("+442070313000".into())]);
}

#[test]
fn hashes_comments_blank_lines_and_bad_lines() {
    let upper = sha256_hex(b"+12125550123").to_ascii_uppercase();
    let text = format!(
        "\u{feff}# imported 2026-06-01\n\
         \n\
         {upper}\n\
         \t+13178638426   # trailing comment\n\
         not a number\n\
         12345\n\
         {short}\n\
         # {upper}\n\
         \x20\x20\n\
         (254) 240-1519\n",
        short = &upper[..63],
    );
    let (entries, bad) = parse_list(&text, "US");
    assert_eq!(
        entries,
        [
            SuppressionEntry::Sha256(sha256_hex(b"+12125550123")),
            SuppressionEntry::Phone("+13178638426".into()),
            SuppressionEntry::Phone("+12542401519".into()),
        ]
    );
    let lines: Vec<usize> = bad.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [5, 6, 7]);
    assert!(bad
        .iter()
        .all(|(_, reason)| reason.starts_with("invalid_suppression_entry")));
}

#[test]
fn entries_match_numbers_by_value_or_hash() {
    let phone = SuppressionEntry::Phone("+13178638426".into());
    let hashed = SuppressionEntry::Sha256(phone_hash("+13178638426"));
    for e in [&phone, &hashed] {
        assert!(e.matches("+13178638426"));
        assert!(!e.matches("+13178638427"));
        assert_eq!(e.hash(), phone_hash("+13178638426"));
    }
}

#[test]
fn parse_entry_and_error_codes() {
    assert_eq!(parse_entry("   ", "US"), Ok(None));
    assert_eq!(parse_entry("# note", "US"), Ok(None));
    let e = parse_entry("hello", "US").unwrap_err();
    assert_eq!(e.code(), "invalid_suppression_entry");
    assert_eq!(e.kind(), crate::kind::ErrorKind::InvalidInput);
}

#[test]
fn suppression_reasons_are_spelled() {
    let spelled: Vec<&str> = SuppressionReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(spelled, ["opt_out", "not_interested", "imported"]);
    for r in SuppressionReason::ALL {
        assert_eq!(r.as_str().parse::<SuppressionReason>(), Ok(*r));
        assert_eq!(
            serde_json::to_string(r).unwrap(),
            format!("\"{}\"", r.as_str())
        );
    }
    assert!("unsubscribed".parse::<SuppressionReason>().is_err());
}
