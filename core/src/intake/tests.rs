use super::*;
use serde_json::json;

fn provider_b_map() -> FieldMap {
    FieldMap::new(
        [
            ("first_name", "FirstName"),
            ("last_name", "LastName"),
            ("phone", "PhoneNumber"),
            ("email", "EmailAddress"),
            ("zip_code", "PostalCode"),
            ("product_type", "ServiceType"),
            ("appointment_date", "ApptTime"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect(),
    )
}

#[test]
fn json_lines_split_keeps_bad_lines_as_records() {
    let s = split_json_lines("{\"a\":1}\n\n   \nnot json\n[1,2]\n");
    assert_eq!(s.records.len(), 3);
    assert_eq!(s.blank_lines, 2);
    assert!(parse_fields(&s.records[0]).is_ok());
    assert!(parse_fields(&s.records[1])
        .unwrap_err()
        .0
        .contains("invalid JSON"));
    assert!(parse_fields(&s.records[2]).unwrap_err().0.contains("array"));
}

#[test]
fn csv_split_keeps_exact_rows_and_flags_bad_ones() {
    let body = "name,phone1,notes\nKim Harris,402.886.3431,\"two\nlines\"\r\nshort,row\n\nA,B,C\n";
    let s = split_csv(body).unwrap();
    assert_eq!(s.records.len(), 3);
    assert_eq!(s.blank_lines, 1);
    assert_eq!(
        s.records[0].text(),
        "Kim Harris,402.886.3431,\"two\nlines\""
    );
    let f = parse_fields(&s.records[0]).unwrap();
    assert_eq!(f["notes"], json!("two\nlines"));
    assert!(parse_fields(&s.records[1])
        .unwrap_err()
        .0
        .contains("2 fields"));
    assert_eq!(parse_fields(&s.records[2]).unwrap()["phone1"], json!("B"));
    assert!(matches!(split_csv(""), Err(IntakeError::MissingCsvHeader)));
}

#[test]
fn maps_provider_names_and_coerces_types() {
    let rec = json!({
        "FirstName": "Jessica", "LastName": " Harrison ", "PhoneNumber": 2542401519u64,
        "EmailAddress": "JADE99@EXAMPLE.NET", "PostalCode": "76642", "ServiceType": "Heat Pump",
        "ApptTime": "", "lead_id": "b0000002", "tcpa_consent": "yes",
        "estimated_value": "$12,000", "SystemType": "boiler"
    });
    let Value::Object(m) = rec else {
        unreachable!()
    };
    let i = map_fields(m, &provider_b_map());
    assert_eq!(i.first_name.as_deref(), Some("Jessica"));
    assert_eq!(i.last_name.as_deref(), Some("Harrison"));
    assert_eq!(i.phone.as_deref(), Some("2542401519"));
    assert_eq!(i.appointment_date, None);
    assert_eq!(i.external_id.as_deref(), Some("b0000002"));
    assert_eq!(i.tcpa_consent, Some(true));
    assert_eq!(i.estimated_value, Some(12000.0));
    assert_eq!(i.custom.keys().collect::<Vec<_>>(), vec!["SystemType"]);
}

#[test]
fn wrong_types_are_reported_not_panicked() {
    let Value::Object(m) = json!({"phone": {"n": 1}, "zip_code": [1], "tcpa_consent": "maybe"})
    else {
        unreachable!()
    };
    let i = map_fields(m, &FieldMap::default());
    assert_eq!(i.phone, None);
    let fields: Vec<_> = i.wrong_types.iter().map(|w| (w.field, w.found)).collect();
    assert_eq!(fields, vec![("phone", "object"), ("zip_code", "array")]);
    assert_eq!(i.warnings, vec!["unreadable_tcpa_consent"]);
}

#[test]
fn full_names_split() {
    let Value::Object(m) = json!({"name": "Pamela  Charles"}) else {
        unreachable!()
    };
    let map = FieldMap::new([("full_name".to_string(), "name".to_string())].into());
    let i = map_fields(m, &map);
    assert_eq!(
        (i.first_name.as_deref(), i.last_name.as_deref()),
        (Some("Pamela"), Some("Charles"))
    );
    assert_eq!(split_full_name("  "), (None, None));
    assert_eq!(
        split_full_name("Mrs. Jane Doe MD"),
        (Some("Jane".into()), Some("Doe".into()))
    );
}

#[test]
fn content_key_is_stable_sha256() {
    let r = RawRecord::Json("abc".into());
    assert_eq!(
        r.content_key(),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn deep_json_is_refused() {
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(40), "]".repeat(40));
    assert!(parse_fields(&RawRecord::Json(deep))
        .unwrap_err()
        .0
        .contains("nested"));
}

#[test]
fn form_bodies_decode_plus_and_percent() {
    let body = "first_name=Mary+Ann&last_name=O%27Brien&phone=%28317%29%20863-8426\
                    &email=jm%40example.net&zip_code=46262&note=100%25+sure%zz&empty=&flag\n";
    let s = split_form(body);
    assert_eq!(s.records.len(), 1);
    assert_eq!(s.records[0].text(), body);
    let f = parse_fields(&s.records[0]).unwrap();
    assert_eq!(f["first_name"], json!("Mary Ann"));
    assert_eq!(f["last_name"], json!("O'Brien"));
    assert_eq!(f["phone"], json!("(317) 863-8426"));
    assert_eq!(f["email"], json!("jm@example.net"));
    assert_eq!(f["note"], json!("100% sure%zz"));
    assert_eq!(f["empty"], json!(""));
    assert_eq!(f["flag"], json!(""));
    assert_eq!(f.len(), 8);
    // UTF-8 percent-encoded, and invalid UTF-8 replaced rather than refused.
    let f = parse_form("city=Ca%C3%B1on+City&bad=%E9t%C3").unwrap();
    assert_eq!(f["city"], json!("Cañon City"));
    assert_eq!(f["bad"], json!("\u{FFFD}t\u{FFFD}"));
    // A truncated escape at the very end does not panic.
    assert_eq!(parse_form("a=%4").unwrap()["a"], json!("%4"));
    assert_eq!(parse_form("a=%").unwrap()["a"], json!("%"));
}

#[test]
fn form_repeated_keys_become_arrays_and_empty_bodies_are_malformed() {
    let f = parse_form("tag=a&&tag=b&tag=c&phone=1&phone=2").unwrap();
    assert_eq!(f["tag"], json!(["a", "b", "c"]));
    let i = map_fields(f, &FieldMap::default());
    assert_eq!(i.wrong_types.len(), 1);
    assert_eq!(
        (i.wrong_types[0].field, i.wrong_types[0].found),
        ("phone", "array")
    );
    for body in ["", "&&", " \n"] {
        let r = parse_fields(&RawRecord::Form(body.into()));
        assert!(r.unwrap_err().0.contains("no field"), "{body:?}");
    }
    assert_eq!(split_form("  \n").records.len(), 0);
    let big = RawRecord::Form("a=".to_string() + &"x".repeat(MAX_RECORD_BYTES));
    assert!(parse_fields(&big).unwrap_err().0.contains("byte limit"));
}

#[test]
fn form_records_map_and_coerce_like_json() {
    let r = RawRecord::Form(
        "FirstName=Jessica&PhoneNumber=2542401519&PostalCode=76642&ServiceType=Heat+Pump\
             &tcpa_consent=yes&estimated_value=%2412%2C000&SystemType=boiler"
            .into(),
    );
    assert!(r.content_key().starts_with("sha256:"));
    assert_eq!(r.content_key(), sha256_key(r.text()));
    let i = map_fields(parse_fields(&r).unwrap(), &provider_b_map());
    assert_eq!(i.first_name.as_deref(), Some("Jessica"));
    assert_eq!(i.product_type.as_deref(), Some("Heat Pump"));
    assert_eq!(i.tcpa_consent, Some(true));
    assert_eq!(i.estimated_value, Some(12000.0));
    assert_eq!(i.custom.keys().collect::<Vec<_>>(), vec!["SystemType"]);
}

#[test]
fn csv_rows_parse_as_the_csv_crate_reads_them() {
    let rows = [
        "a,b,c",
        r#""quoted, with comma","say ""hi""",plain"#,
        "trailing,empty,",
        ",,",
        "  spaced  , x ",
        "one",
        "crlf,end\r",
        "\"multi\nline\",next",
        "unterminated,\"quote",
        "first,row\nsecond,row",
        "é,ü,日本",
    ];
    for row in rows {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(row.as_bytes());
        let mut rec = csv::StringRecord::new();
        assert!(rdr.read_record(&mut rec).unwrap(), "{row:?}");
        let want: Vec<String> = rec.iter().map(str::to_string).collect();
        assert_eq!(csv_row_fields(row).unwrap(), want, "{row:?}");
    }
    assert!(csv_row_fields("").is_err());
}

#[test]
fn extended_fields_are_read_with_identity_defaults_and_consumed() {
    let Value::Object(m) = json!({
        "utm_source": "bing", "utm_medium": "cpc", "utm_campaign": "solar-17",
        "utm_term": "solar panels", "utm_content": "ad-3", "campaign_id": 42,
        "ip_address": "166.75.45.43", "user_agent": "Mozilla/5.0", "address": "1 Main St",
        "city": "Indianapolis", "state": "IN", "consent_text": "  I agree. ",
        "trustedform_cert_url": "https://cert.trustedform.com/abc", "roof_age": 28
    }) else {
        unreachable!()
    };
    let i = map_fields(m, &FieldMap::default());
    assert_eq!(i.utm_source.as_deref(), Some("bing"));
    assert_eq!(i.utm_medium.as_deref(), Some("cpc"));
    assert_eq!(i.utm_campaign.as_deref(), Some("solar-17"));
    assert_eq!(i.utm_term.as_deref(), Some("solar panels"));
    assert_eq!(i.utm_content.as_deref(), Some("ad-3"));
    assert_eq!(i.campaign_id.as_deref(), Some("42"));
    assert_eq!(i.ip_address.as_deref(), Some("166.75.45.43"));
    assert_eq!(i.user_agent.as_deref(), Some("Mozilla/5.0"));
    assert_eq!(i.address.as_deref(), Some("1 Main St"));
    assert_eq!(i.city.as_deref(), Some("Indianapolis"));
    assert_eq!(i.state.as_deref(), Some("IN"));
    assert_eq!(i.consent_text.as_deref(), Some("I agree."));
    assert_eq!(
        i.consent_hash.as_deref(),
        Some("sha256:826ff0dab649a97ffdd7779a332accafb35cc161012253a19383db19289d6e02")
    );
    assert_eq!(
        i.consent_certificate_url.as_deref(),
        Some("https://cert.trustedform.com/abc")
    );
    // Consumed: only the field nothing maps stays in the custom metadata.
    assert_eq!(i.custom.keys().collect::<Vec<_>>(), ["roof_age"]);
    assert!(i.warnings.is_empty() && i.wrong_types.is_empty());
    assert_eq!(i.has_canonical("utm_source"), Some(true));
    assert_eq!(i.has_canonical("utm_medium"), Some(true));
    assert_eq!(i.has_canonical("phone"), Some(false));
    assert_eq!(i.has_canonical("full_name"), Some(false));
    assert_eq!(i.has_canonical("roof_age"), None);
}

#[test]
fn extended_fields_follow_the_map_then_aliases() {
    let Value::Object(m) = json!({
        "consent_description": "Alias text", "Src": "google", "utm_source": "ignored",
        "consent_certificate_url": "https://a", "xxTrustedFormCertUrl": "https://b",
        "state": {"code": "IN"}
    }) else {
        unreachable!()
    };
    let map = FieldMap::new([("utm_source".to_string(), "Src".to_string())].into());
    let i = map_fields(m, &map);
    assert_eq!(i.utm_source.as_deref(), Some("google"));
    assert_eq!(i.consent_text.as_deref(), Some("Alias text"));
    assert_eq!(i.consent_certificate_url.as_deref(), Some("https://a"));
    assert_eq!(i.state, None);
    assert_eq!(i.warnings, vec!["unreadable_state"]);
    assert!(i.wrong_types.is_empty());
    // A map that names a field reads only that name.
    let Value::Object(m) = json!({"consent_text": "x"}) else {
        unreachable!()
    };
    let map = FieldMap::new([("consent_text".to_string(), "Tcpa".to_string())].into());
    let i = map_fields(m, &map);
    assert_eq!((i.consent_text, i.consent_hash), (None, None));
}
