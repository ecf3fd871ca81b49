use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

#[test]
fn timestamps_are_rfc3339_or_utc_civil_text() {
    let at = |s: &str| parse_timestamp(s).map(|t| t.to_string());
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        at(" 2026-11-24T08:00:00-05:00 "),
        some("2026-11-24T13:00:00Z")
    );
    assert_eq!(at("2026-11-24 13:00:00"), some("2026-11-24T13:00:00Z"));
    assert_eq!(at("+2026-11-24 13:00:00"), some("2026-11-24T13:00:00Z"));
    assert_eq!(at("-0001-12-31 23:00:00"), some("-000001-12-31T23:00:00Z"));
    for bad in [
        "",
        "2026-11-24",
        "2026-11-24 13:00",
        "2026-11-24 13:00:00.5",
        "2026-11-24T13:00:00",
        "2026-11-24  13:00:00",
        "2026-11-24 24:00:00",
        "2026-11-24 13:00:60",
        "2026-02-29 00:00:00",
        "2026-00-10 00:00:00",
        "20261-01-01 00:00:00",
        "+20261-01-01 00:00:00",
        "+002026-11-24 13:00:00",
        "+026-01-01 00:00:00",
        "2026-11-24T13:00Z",
        "Tuesday",
    ] {
        assert_eq!(at(bad), None, "{bad:?}");
    }
}

fn ctx<'a>(catalog: &'a Catalog, allowed: &'a [String]) -> ValidationContext<'a> {
    ValidationContext {
        zips: ZipTable::bundled(),
        catalog,
        allowed_lead_types: allowed,
        default_region: "US",
        require_phone: true,
    }
}

fn input() -> LeadInput {
    LeadInput {
        phone: Some("(317) 863-8426".into()),
        zip_code: Some("46262-1234".into()),
        product_type: Some("solar".into()),
        email: Some(" JM@Example.NET ".into()),
        appointment_date: Some("2026-11-24T08:00:00-05:00".into()),
        ..LeadInput::default()
    }
}

fn codes(r: Result<ValidLead, ValidationError>) -> Vec<&'static str> {
    r.unwrap_err()
        .reasons
        .iter()
        .map(|r| r.code.as_str())
        .collect()
}

#[test]
fn a_good_record_is_normalized() {
    let cat = Catalog::from_names(["Solar"]);
    let v = validate(&input(), &ctx(&cat, &["solar".into()])).unwrap();
    assert_eq!(v.phone.unwrap().number.as_str(), "+13178638426");
    assert_eq!(v.zip.to_string(), "46262");
    assert_eq!(v.product_name, "Solar");
    assert_eq!(v.email.as_deref(), Some("jm@example.net"));
    assert_eq!(v.appointment_date.unwrap(), ts("2026-11-24T13:00:00Z"));
}

#[test]
fn every_reason_is_reported() {
    let cat = Catalog::from_names(["Solar", "Gutters"]);
    let allowed = ["solar".to_string()];
    let mut i = input();
    i.phone = Some("555".into());
    i.zip_code = Some("ABCDE".into());
    i.product_type = Some("Gutters".into());
    i.appointment_date = Some("next tuesday".into());
    assert_eq!(
        codes(validate(&i, &ctx(&cat, &allowed))),
        vec![
            "invalid_phone",
            "invalid_zip",
            "lead_type_not_allowed",
            "invalid_appointment_date"
        ]
    );
    let empty = LeadInput::default();
    assert_eq!(
        codes(validate(&empty, &ctx(&cat, &allowed))),
        vec!["missing_phone", "missing_zip", "missing_product"]
    );
    let mut i = input();
    i.zip_code = Some("99999".into());
    i.product_type = Some("Heat".into());
    assert_eq!(
        codes(validate(&i, &ctx(&cat, &allowed))),
        vec!["unknown_zip", "unknown_product"]
    );
}

#[test]
fn bad_email_is_a_warning_not_a_rejection() {
    let cat = Catalog::from_names(["Solar"]);
    let mut i = input();
    i.email = Some("not-an-email".into());
    let v = validate(&i, &ctx(&cat, &[])).unwrap();
    assert_eq!(v.email, None);
    assert_eq!(v.warnings, vec!["invalid_email"]);
}

#[test]
fn email_can_stand_in_for_the_phone_when_allowed() {
    let cat = Catalog::from_names(["Solar"]);
    let mut lenient = ctx(&cat, &[]);
    lenient.require_phone = false;
    let mut i = input();
    i.phone = Some("555".into());
    let v = validate(&i, &lenient).unwrap();
    assert_eq!(v.phone, None);
    assert_eq!(v.warnings, vec!["invalid_phone"]);
    assert_eq!(codes(validate(&i, &ctx(&cat, &[]))), vec!["invalid_phone"]);
    i.email = Some("nope".into());
    assert_eq!(
        codes(validate(&i, &lenient)),
        vec!["invalid_phone", "invalid_email"]
    );
    i.phone = None;
    i.email = None;
    assert_eq!(
        codes(validate(&i, &lenient)),
        vec!["missing_phone", "missing_email"]
    );
}

#[test]
fn timestamps() {
    assert_eq!(
        parse_timestamp("2026-11-24 13:00:00"),
        Some(ts("2026-11-24T13:00:00Z"))
    );
    assert_eq!(parse_timestamp("2026-13-01T00:00:00Z"), None);
}

fn with_rules(rules: VerticalRules) -> ValidationOptions {
    ValidationOptions {
        vertical_rules: rules,
        ..ValidationOptions::default()
    }
}

#[test]
fn vertical_rules_are_off_by_default_and_name_the_missing_field() {
    let cat = Catalog::from_names(["Solar", "HVAC"]);
    let c = ctx(&cat, &[]);
    let mut i = input();
    assert!(validate(&i, &c).is_ok());
    let opts = with_rules(VerticalRules::seed_defaults());
    let err = validate_with(&i, &c, &opts).unwrap_err();
    let got: Vec<_> = err
        .reasons
        .iter()
        .map(|r| (r.code.as_str(), r.detail.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "missing_required_field",
                "monthly_electric_bill is required for lead type \"solar\""
            ),
            (
                "missing_required_field",
                "roof_age is required for lead type \"solar\""
            ),
        ]
    );
    i.custom.insert("Monthly-Electric-Bill".into(), 450.into());
    i.custom.insert("roof_age".into(), " ".into());
    assert_eq!(
        codes(validate_with(&i, &c, &opts)),
        vec!["missing_required_field"]
    );
    i.custom.insert("roof_age".into(), "28".into());
    assert!(validate_with(&i, &c, &opts).is_ok());
    // Canonical names are checked on the mapped fields; other lead types are untouched.
    let mut rules = VerticalRules::default();
    rules.require("HVAC", ["estimated_value", "utm_source", "system_type"]);
    let opts = with_rules(rules);
    assert!(validate_with(&input(), &c, &opts).is_ok());
    let mut i = input();
    i.product_type = Some("hvac".into());
    i.utm_source = Some("bing".into());
    i.custom.insert("SystemType".into(), "boiler".into());
    let err = validate_with(&i, &c, &opts).unwrap_err();
    assert_eq!(err.reasons.len(), 1);
    assert!(err.reasons[0].detail.starts_with("estimated_value"));
    i.estimated_value = Some(1.0);
    assert!(validate_with(&i, &c, &opts).is_ok());
    assert!(VerticalRules::default().is_empty());
    assert!(!VerticalRules::seed_defaults().is_empty());
    let table = VerticalRules::new([("Bath".to_string(), vec!["budget".to_string()])].into());
    assert_eq!(table.required("bath"), ["budget"]);
}

#[test]
fn over_long_fields_are_refused_with_their_name() {
    let cat = Catalog::from_names(["Solar"]);
    let c = ctx(&cat, &[]);
    let mut i = input();
    i.first_name = Some("é".repeat(MAX_FIELD_CHARS)); // 2,000 bytes, 1,000 characters
    i.notes = Some("n".repeat(MAX_FIELD_CHARS + 1));
    assert!(validate(&i, &c).is_ok());
    i.city = Some("x".repeat(MAX_FIELD_CHARS + 1));
    i.consent_text = Some("c".repeat(MAX_LONG_FIELD_CHARS + 1));
    i.custom
        .insert("blob".into(), "b".repeat(MAX_LONG_FIELD_CHARS + 1).into());
    let err = validate(&i, &c).unwrap_err();
    let got: Vec<_> = err
        .reasons
        .iter()
        .map(|r| (r.code.as_str(), r.detail.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "field_too_long",
                "city: 1001 characters, over the 1000 limit"
            ),
            (
                "field_too_long",
                "consent_text: 10001 characters, over the 10000 limit"
            ),
            (
                "field_too_long",
                "\"blob\": 10001 characters, over the 10000 limit"
            ),
        ]
    );
    let tight = ValidationOptions {
        max_field_chars: 3,
        ..ValidationOptions::default()
    };
    let mut i = input();
    i.last_name = Some("Smith".into());
    let err = validate_with(&i, &c, &tight).unwrap_err();
    let fields: Vec<_> = err
        .reasons
        .iter()
        .map(|r| r.detail.split(':').next().unwrap())
        .collect();
    // The phone, email, ZIP, product and appointment are over 3 characters too.
    assert_eq!(
        fields,
        vec![
            "last_name",
            "phone",
            "email",
            "zip_code",
            "product_type",
            "appointment_date"
        ]
    );
}

#[test]
fn a_state_that_disagrees_with_the_zip_is_a_warning() {
    let cat = Catalog::from_names(["Solar"]);
    let c = ctx(&cat, &[]);
    let mut i = input(); // ZIP 46262 is in Indiana.
    for ok in ["IN", "in", "Indiana", " indiana ", "I.N."] {
        i.state = Some(ok.into());
        assert!(validate(&i, &c).unwrap().warnings.is_empty(), "{ok}");
    }
    i.state = Some("OH".into());
    assert_eq!(validate(&i, &c).unwrap().warnings, vec!["state_mismatch"]);
    i.state = Some("New York".into());
    assert_eq!(validate(&i, &c).unwrap().warnings, vec!["state_mismatch"]);
    i.state = Some("Atlantis".into());
    assert_eq!(validate(&i, &c).unwrap().warnings, vec!["unreadable_state"]);
    let off = ValidationOptions {
        check_state: false,
        ..ValidationOptions::default()
    };
    assert!(validate_with(&i, &c, &off).unwrap().warnings.is_empty());
    // No ZIP state to compare against: the ZIP's own problem is the reason.
    i.state = Some("OH".into());
    i.zip_code = Some("99999".into());
    assert_eq!(codes(validate(&i, &c)), vec!["unknown_zip"]);
    assert_eq!(state_code("district of columbia"), Some("DC"));
    assert_eq!(state_code("D.C."), Some("DC"));
    assert_eq!(state_code(""), None);
}

#[test]
fn attribution_fields_warn_but_never_reject() {
    let cat = Catalog::from_names(["Solar"]);
    let c = ctx(&cat, &[]);
    let mut i = input();
    i.ip_address = Some("2001:db8::1".into());
    i.consent_certificate_url = Some("https://cert.trustedform.com/0123abcd".into());
    assert!(validate(&i, &c).unwrap().warnings.is_empty());
    i.ip_address = Some("300.1.1.1".into());
    i.consent_certificate_url = Some("cert.trustedform.com/x".into());
    assert_eq!(
        validate(&i, &c).unwrap().warnings,
        vec!["invalid_ip_address", "invalid_consent_certificate_url"]
    );
    i.consent_certificate_url = Some("é".into());
    assert_eq!(
        validate(&i, &c).unwrap().warnings,
        vec!["invalid_ip_address", "invalid_consent_certificate_url"]
    );
}
