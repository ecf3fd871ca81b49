use super::*;
use proptest::prelude::*;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

fn rules() -> &'static ContactRules {
    ContactRules::bundled().expect("bundled rules")
}

fn zones(zip_zone: Option<&str>, area: &[&str], state: Option<&str>) -> CallZones {
    CallZones {
        zip_zone: zip_zone.map(str::to_string),
        area_zones: area.iter().map(|s| s.to_string()).collect(),
        state: state.map(str::to_string),
    }
}

fn one(zone: &str, state: &str) -> CallZones {
    zones(Some(zone), &[], Some(state))
}

fn zip(s: &str) -> Option<Zip5> {
    Some(Zip5::parse(s).expect("test ZIP"))
}

fn bundled_zones(zip_code: Option<&str>, phone: Option<&str>) -> CallZones {
    call_zones(
        ZipTable::bundled(),
        AreaCodeZones::bundled(),
        zip_code.and_then(zip),
        phone,
    )
}

use CallWindow::{Allowed, Held, NotBefore};

/// Asserts `check` at each `(instant, expected)`.
fn expect(rules: &ContactRules, z: &CallZones, cases: &[(&str, CallWindow)]) {
    for (at, want) in cases {
        assert_eq!(check(rules, z, ts(at)), *want, "at {at} in {z:?}");
    }
}

// ---------------------------------------------------------------- rules data

#[test]
fn bundled_rules_parse_and_cite_their_sources() {
    let r = rules();
    let w = |s: Option<&str>| {
        let w = r.window_for(s);
        (w.start.to_string(), w.end.to_string())
    };
    let federal = ("08:00".to_string(), "21:00".to_string());
    let eight_pm = ("08:00".to_string(), "20:00".to_string());
    assert_eq!(w(None), federal);
    assert_eq!(w(Some("NY")), federal);
    assert_eq!(w(Some("OK")), federal);
    assert_eq!(w(Some("FL")), eight_pm);
    assert_eq!(w(Some("MD")), eight_pm);
    for s in ["FL", "OK", "MD"] {
        assert_eq!(r.max_attempts_for(Some(s)), Some(3), "{s}");
    }
    assert_eq!(r.max_attempts_for(Some("NY")), None);
    assert_eq!(r.max_attempts_for(None), None);
    assert!(r.default_rule().source.contains("47 CFR §64.1200(c)(1)"));
    assert!(r
        .state_rule("FL")
        .unwrap()
        .source
        .contains("Fla. Stat. §501.616"));
    assert!(r.state_rule("MD").unwrap().source.contains("§14-4503"));
    assert!(r.state_rule("OK").unwrap().source.contains("§775C.4"));
    assert_eq!(r.sources_for(Some("FL")).len(), 2);
    assert_eq!(r.sources_for(Some("NY")).len(), 1);
    assert!(!r.closed_on(Some("FL"), Date::constant(2026, 12, 27)));
}

#[test]
fn invalid_rules_are_typed_errors() {
    let code = |json: &str| ContactRules::from_json(json).unwrap_err().code();
    let w = r#""window": {"start": "08:00", "end": "21:00"}"#;
    assert_eq!(code("{"), "invalid_contact_rules_json");
    assert_eq!(
        code(r#"{"default": {"source": "x"}}"#),
        "missing_default_window"
    );
    assert_eq!(
        code(r#"{"default": {"window": {"start": "21:00", "end": "08:00"}, "source": "x"}}"#),
        "invalid_call_window"
    );
    assert_eq!(
        code(&format!(
            r#"{{"default": {{{w}, "source": "x"}}, "states": {{"FL": {{"window": {{"start": "09:00", "end": "09:00"}}, "source": "y"}}}}}}"#
        )),
        "invalid_call_window"
    );
    assert_eq!(
        code(&format!(
            r#"{{"default": {{{w}, "source": "x"}}, "states": {{"fl": {{"source": "y"}}}}}}"#
        )),
        "invalid_state_code"
    );
    assert_eq!(
        code(&format!(
            r#"{{"default": {{{w}, "source": "x"}}, "states": {{"FL": {{"max_attempts_per_24h": 0, "source": "y"}}}}}}"#
        )),
        "invalid_attempt_cap"
    );
    assert_eq!(
        code(&format!(r#"{{"default": {{{w}, "source": " "}}}}"#)),
        "missing_rule_source"
    );
    assert_eq!(
        code(&format!(r#"{{"default": {{{w}}}}}"#)),
        "invalid_contact_rules_json"
    );
    // A misspelt field is refused, not ignored.
    assert_eq!(
        code(&format!(
            r#"{{"default": {{{w}, "source": "x"}}, "states": {{"TX": {{"no_sunday": true, "source": "y"}}}}}}"#
        )),
        "invalid_contact_rules_json"
    );
    assert_eq!(
        code(r#"{"default": {"window": {"start": "8am", "end": "21:00"}, "source": "x"}}"#),
        "invalid_contact_rules_json"
    );
    assert_eq!(
        code(&format!(
            r#"{{"default": {{{w}, "holidays": ["12/25/2026"], "source": "x"}}}}"#
        )),
        "invalid_contact_rules_json"
    );
    let e = ContactRules::from_json("{").unwrap_err();
    assert_eq!(e.kind(), crate::kind::ErrorKind::InvalidInput);
}

// ---------------------------------------------------------------- zones from data

#[test]
fn area_code_index_from_the_bundled_table() {
    let idx = AreaCodeZones::bundled();
    assert_eq!(idx.zones(415), ["America/Los_Angeles"]);
    assert_eq!(idx.zones(850), ["America/Chicago", "America/New_York"]);
    assert_eq!(idx.state(850), Some("FL"));
    assert!(idx.zones(800).is_empty());
    assert_eq!(idx.state(800), None);
    assert!(idx.zones(999).is_empty());
    // 907 lists a ZIP whose zone is not an IANA name (`Napakiak`): it is left out.
    assert!(idx.zones(907).contains(&"America/Adak".to_string()));
    assert!(idx.zones(907).iter().all(|z| z.contains('/')));
    assert_eq!(area_code("+14155550123"), Some(415));
    assert_eq!(area_code("+1415555012"), None);
    assert_eq!(area_code("14155550123"), None);
    assert_eq!(area_code("+442070313000"), None);
}

#[test]
fn call_zones_from_zip_and_phone() {
    let z = bundled_zones(Some("10001"), Some("+14155550123"));
    assert_eq!(z.zip_zone.as_deref(), Some("America/New_York"));
    assert_eq!(z.area_zones, ["America/Los_Angeles"]);
    assert_eq!(z.state.as_deref(), Some("NY"));
    assert_eq!(z.all(), ["America/New_York", "America/Los_Angeles"]);

    // No ZIP: the state of the area code.
    let z = bundled_zones(None, Some("+13055550123"));
    assert_eq!(z.zip_zone, None);
    assert_eq!(z.state.as_deref(), Some("FL"));

    // A ZIP with no zone (military) and no phone: nothing known.
    let z = bundled_zones(Some("09001"), None);
    assert!(z.all().is_empty());
    assert_eq!(z.state.as_deref(), Some("AE"));
}

// ---------------------------------------------------------------- named zones

#[test]
fn new_york_spring_forward_2026() {
    // DST starts Sunday 2026-03-08 at 02:00 EST (07:00Z): 8:00 EDT is 12:00Z that day,
    // while 8:00 EST on Saturday was 13:00Z.
    let z = one("America/New_York", "NY");
    expect(
        rules(),
        &z,
        &[
            (
                "2026-03-07T12:59:59Z",
                NotBefore(ts("2026-03-07T13:00:00Z")),
            ),
            ("2026-03-07T13:00:00Z", Allowed),
            ("2026-03-08T01:59:59Z", Allowed), // Saturday 20:59:59 EST
            (
                "2026-03-08T02:00:00Z",
                NotBefore(ts("2026-03-08T12:00:00Z")),
            ),
            (
                "2026-03-08T07:30:00Z",
                NotBefore(ts("2026-03-08T12:00:00Z")),
            ), // 03:30 EDT
            (
                "2026-03-08T11:59:59.999Z",
                NotBefore(ts("2026-03-08T12:00:00Z")),
            ),
            ("2026-03-08T12:00:00Z", Allowed),
            ("2026-03-09T00:59:59Z", Allowed), // 20:59:59 EDT
            (
                "2026-03-09T01:00:00Z",
                NotBefore(ts("2026-03-09T12:00:00Z")),
            ),
        ],
    );
}

#[test]
fn new_york_fall_back_2026() {
    // DST ends Sunday 2026-11-01 at 02:00 EDT (06:00Z): 8:00 EST is 13:00Z that day.
    let z = one("America/New_York", "NY");
    expect(
        rules(),
        &z,
        &[
            (
                "2026-10-31T11:59:59Z",
                NotBefore(ts("2026-10-31T12:00:00Z")),
            ),
            ("2026-10-31T12:00:00Z", Allowed),
            (
                "2026-11-01T05:30:00Z",
                NotBefore(ts("2026-11-01T13:00:00Z")),
            ), // 01:30 EDT
            (
                "2026-11-01T06:30:00Z",
                NotBefore(ts("2026-11-01T13:00:00Z")),
            ), // 01:30 EST
            (
                "2026-11-01T12:00:00Z",
                NotBefore(ts("2026-11-01T13:00:00Z")),
            ), // 07:00 EST
            (
                "2026-11-01T12:59:59Z",
                NotBefore(ts("2026-11-01T13:00:00Z")),
            ),
            ("2026-11-01T13:00:00Z", Allowed),
            ("2026-11-02T01:59:59Z", Allowed), // 20:59:59 EST
            (
                "2026-11-02T02:00:00Z",
                NotBefore(ts("2026-11-02T13:00:00Z")),
            ),
        ],
    );
}

#[test]
fn zones_without_dst_and_far_away() {
    let r = rules();
    // Arizona: MST all year, 8:00 is 15:00Z in January and in July.
    let az = one("America/Phoenix", "AZ");
    expect(
        r,
        &az,
        &[
            (
                "2026-01-15T14:59:00Z",
                NotBefore(ts("2026-01-15T15:00:00Z")),
            ),
            (
                "2026-07-15T14:59:00Z",
                NotBefore(ts("2026-07-15T15:00:00Z")),
            ),
            ("2026-03-08T15:00:00Z", Allowed),
            ("2026-07-16T03:59:59Z", Allowed),
            (
                "2026-07-16T04:00:00Z",
                NotBefore(ts("2026-07-16T15:00:00Z")),
            ),
        ],
    );
    // Indiana follows Eastern time and its DST.
    let ind = one("America/Indiana/Indianapolis", "IN");
    expect(
        r,
        &ind,
        &[
            (
                "2026-03-08T11:00:00Z",
                NotBefore(ts("2026-03-08T12:00:00Z")),
            ),
            (
                "2026-03-07T12:30:00Z",
                NotBefore(ts("2026-03-07T13:00:00Z")),
            ),
        ],
    );
    // Hawaii: HST (UTC-10), no DST; 21:00 is 07:00Z the next day.
    let hi = one("Pacific/Honolulu", "HI");
    expect(
        r,
        &hi,
        &[
            (
                "2026-07-01T17:59:59Z",
                NotBefore(ts("2026-07-01T18:00:00Z")),
            ),
            ("2026-07-02T06:59:59Z", Allowed),
            (
                "2026-07-02T07:00:00Z",
                NotBefore(ts("2026-07-02T18:00:00Z")),
            ),
            ("2026-01-10T18:00:00Z", Allowed),
        ],
    );
    // Alaska: AKST (UTC-9) in winter, AKDT (UTC-8) in summer.
    let ak = one("America/Anchorage", "AK");
    expect(
        r,
        &ak,
        &[
            (
                "2026-01-15T16:00:00Z",
                NotBefore(ts("2026-01-15T17:00:00Z")),
            ),
            (
                "2026-07-15T15:00:00Z",
                NotBefore(ts("2026-07-15T16:00:00Z")),
            ),
            ("2026-07-15T16:00:00Z", Allowed),
        ],
    );
    // Puerto Rico: AST (UTC-4), no DST.
    let pr = one("America/Puerto_Rico", "PR");
    expect(
        r,
        &pr,
        &[
            (
                "2026-01-15T11:59:00Z",
                NotBefore(ts("2026-01-15T12:00:00Z")),
            ),
            (
                "2026-07-15T11:59:00Z",
                NotBefore(ts("2026-07-15T12:00:00Z")),
            ),
            ("2026-07-16T00:59:59Z", Allowed),
            (
                "2026-07-16T01:00:00Z",
                NotBefore(ts("2026-07-16T12:00:00Z")),
            ),
        ],
    );
}

#[test]
fn new_york_zip_with_a_california_cell_allows_only_the_overlap() {
    // 10001 (Manhattan) with a 415 (San Francisco) number: allowed 11:00–21:00 Eastern,
    // i.e. 8:00–18:00 Pacific. 2026-06-10 is EDT (UTC-4) / PDT (UTC-7).
    let z = bundled_zones(Some("10001"), Some("+14155550123"));
    expect(
        rules(),
        &z,
        &[
            (
                "2026-06-10T12:00:00Z",
                NotBefore(ts("2026-06-10T15:00:00Z")),
            ), // 8:00 ET
            (
                "2026-06-10T14:59:59Z",
                NotBefore(ts("2026-06-10T15:00:00Z")),
            ),
            ("2026-06-10T15:00:00Z", Allowed), // 11:00 ET, 8:00 PT
            ("2026-06-11T00:59:59Z", Allowed), // 20:59:59 ET
            (
                "2026-06-11T01:00:00Z",
                NotBefore(ts("2026-06-11T15:00:00Z")),
            ), // 21:00 ET
        ],
    );
    // The last allowed instant before 9:00 ET is 20:59 ET the evening before.
    assert_eq!(
        last_allowed_at_or_before(rules(), &z, ts("2026-06-10T13:00:00Z")),
        Some(ts("2026-06-10T00:59:00Z"))
    );
}

#[test]
fn a_zip_whose_area_code_spans_two_zones() {
    // Pensacola (32501, Central) with an 850 number (the panhandle: Central and Eastern),
    // Florida's 8:00–20:00: allowed 8:00–19:00 Central. 2026-06-10: CDT (UTC-5).
    let z = bundled_zones(Some("32501"), Some("+18505550123"));
    assert_eq!(z.state.as_deref(), Some("FL"));
    assert_eq!(z.all(), ["America/Chicago", "America/New_York"]);
    expect(
        rules(),
        &z,
        &[
            (
                "2026-06-10T12:30:00Z",
                NotBefore(ts("2026-06-10T13:00:00Z")),
            ), // 8:00 CT
            ("2026-06-10T13:00:00Z", Allowed),
            ("2026-06-10T23:59:59Z", Allowed), // 18:59:59 CT, 19:59:59 ET
            (
                "2026-06-11T00:00:00Z",
                NotBefore(ts("2026-06-11T13:00:00Z")),
            ),
        ],
    );
}

#[test]
fn alaska_area_code_narrows_to_every_alaskan_zone() {
    // 907 also serves Adak (UTC-9 in summer): 8:00 there is 9:00 in Anchorage.
    let z = bundled_zones(Some("99501"), Some("+19075550123"));
    assert!(z.area_zones.contains(&"America/Adak".to_string()));
    expect(
        rules(),
        &z,
        &[
            (
                "2026-07-15T16:00:00Z",
                NotBefore(ts("2026-07-15T17:00:00Z")),
            ),
            ("2026-07-15T17:00:00Z", Allowed),
        ],
    );
}

#[test]
fn unknown_zone_is_held() {
    let r = rules();
    let at = ts("2026-06-10T15:00:00Z");
    let held = Held(HoldReason::UnknownZone);
    assert_eq!(check(r, &bundled_zones(Some("09001"), None), at), held);
    assert_eq!(check(r, &bundled_zones(None, None), at), held);
    assert_eq!(
        check(r, &bundled_zones(None, Some("+442070313000")), at),
        held
    );
    assert_eq!(
        check(r, &bundled_zones(None, Some("+18005550123")), at),
        held
    );
    assert_eq!(check(r, &bundled_zones(Some("99999"), None), at), held);
    // A zone name the tz database does not know is not guessed at.
    assert_eq!(check(r, &zones(Some("Napakiak"), &[], None), at), held);
    assert_eq!(
        check(
            r,
            &zones(Some("America/New_York"), &["Mars/Olympus"], None),
            at
        ),
        held
    );
    assert_eq!(
        last_allowed_at_or_before(r, &zones(None, &[], None), at),
        None
    );
    assert_eq!(HoldReason::UnknownZone.code(), "unknown_zone");
    assert_eq!(HoldReason::NoCommonWindow.to_string(), "no_common_window");
    // The area code alone is enough.
    assert_eq!(
        check(r, &bundled_zones(Some("09001"), Some("+12125550123")), at),
        Allowed
    );
}

// ---------------------------------------------------------------- state rules

#[test]
fn florida_and_maryland_end_at_20_00() {
    let r = rules();
    // 2026-06-10, EDT: 20:00 is 00:00Z on the 11th.
    for (zip_code, state) in [("33101", "FL"), ("21201", "MD")] {
        let z = bundled_zones(Some(zip_code), None);
        assert_eq!(z.state.as_deref(), Some(state));
        expect(
            r,
            &z,
            &[
                ("2026-06-10T23:59:59Z", Allowed),
                (
                    "2026-06-11T00:00:00Z",
                    NotBefore(ts("2026-06-11T12:00:00Z")),
                ),
                (
                    "2026-06-11T00:30:00Z",
                    NotBefore(ts("2026-06-11T12:00:00Z")),
                ),
            ],
        );
        assert_eq!(
            last_allowed_at_or_before(r, &z, ts("2026-06-11T00:30:00Z")),
            Some(ts("2026-06-10T23:59:00Z"))
        );
    }
    // Florida by area code only (no ZIP).
    let z = bundled_zones(None, Some("+13055550123"));
    assert_eq!(
        check(r, &z, ts("2026-06-11T00:30:00Z")),
        NotBefore(ts("2026-06-11T12:00:00Z"))
    );
    // Oklahoma keeps 21:00 (CDT, UTC-5): 20:30 is allowed.
    let ok = bundled_zones(Some("73102"), None);
    assert_eq!(check(r, &ok, ts("2026-06-11T01:30:00Z")), Allowed);
    assert_eq!(
        check(r, &ok, ts("2026-06-11T02:00:00Z")),
        NotBefore(ts("2026-06-11T13:00:00Z"))
    );
}

#[test]
fn oklahoma_three_attempts_per_24_hours() {
    let r = rules();
    let t0 = ts("2026-06-10T15:00:00Z");
    let h = |n: i64| t0 + SignedDuration::from_hours(n);
    // Two attempts: a third is allowed.
    assert_eq!(attempts_check(r, Some("OK"), &[t0, h(1)], h(2)), Ok(()));
    // Three attempts within 24 h: the next is allowed 24 h after the oldest of them.
    assert_eq!(
        attempts_check(r, Some("OK"), &[h(2), t0, h(1)], h(3)),
        Err(h(24))
    );
    assert_eq!(
        attempts_check(
            r,
            Some("OK"),
            &[t0, h(1), h(2)],
            h(24) - SignedDuration::from_nanos(1)
        ),
        Err(h(24))
    );
    // An attempt exactly 24 h ago no longer counts; one later than `at` is ignored.
    assert_eq!(
        attempts_check(r, Some("OK"), &[t0, h(1), h(2)], h(24)),
        Ok(())
    );
    assert_eq!(
        attempts_check(r, Some("OK"), &[t0, h(1), h(30)], h(2)),
        Ok(())
    );
    // Four attempts: the third most recent decides.
    assert_eq!(
        attempts_check(r, Some("OK"), &[t0, h(1), h(2), h(3)], h(4)),
        Err(h(25))
    );
    // Florida and Maryland too; New York has no cap, nor does an unknown state.
    assert_eq!(
        attempts_check(r, Some("FL"), &[t0, h(1), h(2)], h(3)),
        Err(h(24))
    );
    assert_eq!(
        attempts_check(r, Some("MD"), &[t0, h(1), h(2)], h(3)),
        Err(h(24))
    );
    let many: Vec<Timestamp> = (0..10).map(h).collect();
    assert_eq!(attempts_check(r, Some("NY"), &many, h(10)), Ok(()));
    assert_eq!(attempts_check(r, None, &many, h(10)), Ok(()));
}

const CUSTOM: &str = r#"{
  "default": {"window": {"start": "08:00", "end": "21:00"}, "source": "47 CFR §64.1200(c)(1)",
              "holidays": ["2026-01-01"]},
  "states": {
    "TX": {"no_sundays": true, "holidays": ["2026-12-25"], "max_attempts_per_24h": 2,
           "source": "test rule"},
    "XX": {"window": {"start": "08:00", "end": "09:00"}, "source": "test: a short window"},
    "GP": {"window": {"start": "02:30", "end": "05:00"}, "source": "test: a window in the gap"},
    "FD": {"window": {"start": "01:30", "end": "03:00"}, "source": "test: a window in the fold"}
  }
}"#;

fn custom() -> ContactRules {
    ContactRules::from_json(CUSTOM).expect("custom rules")
}

#[test]
fn sundays_and_holidays_from_custom_rules() {
    let r = custom();
    let tx = one("America/Chicago", "TX");
    // Saturday 2026-06-13 21:00 CDT: Sunday is skipped, Monday 8:00 CDT is 13:00Z.
    expect(
        &r,
        &tx,
        &[
            (
                "2026-06-14T02:00:00Z",
                NotBefore(ts("2026-06-15T13:00:00Z")),
            ),
            (
                "2026-06-14T15:00:00Z",
                NotBefore(ts("2026-06-15T13:00:00Z")),
            ),
            ("2026-06-15T13:00:00Z", Allowed),
            // Thursday 2026-12-24 21:00 CST: Christmas is skipped, Saturday 8:00 CST.
            (
                "2026-12-25T03:00:00Z",
                NotBefore(ts("2026-12-26T14:00:00Z")),
            ),
            // The default's holiday applies to every state.
            (
                "2026-01-01T15:00:00Z",
                NotBefore(ts("2026-01-02T14:00:00Z")),
            ),
        ],
    );
    // Another state: Sundays allowed, Christmas allowed, New Year's Day not.
    let ny = one("America/New_York", "NY");
    expect(
        &r,
        &ny,
        &[
            ("2026-06-14T15:00:00Z", Allowed),
            ("2026-12-25T15:00:00Z", Allowed),
            (
                "2026-01-01T15:00:00Z",
                NotBefore(ts("2026-01-02T13:00:00Z")),
            ),
        ],
    );
    assert!(r.closed_on(Some("TX"), Date::constant(2026, 6, 14)));
    assert!(!r.closed_on(Some("NY"), Date::constant(2026, 6, 14)));
    assert_eq!(r.max_attempts_for(Some("TX")), Some(2));
    // The last allowed time before Monday 7:00 CDT is Saturday 20:59 CDT.
    assert_eq!(
        last_allowed_at_or_before(&r, &tx, ts("2026-06-15T12:00:00Z")),
        Some(ts("2026-06-14T01:59:00Z"))
    );
}

#[test]
fn windows_that_never_overlap_are_held_not_looped() {
    let r = custom();
    // 8:00–9:00 in New York and in Los Angeles never meet.
    let z = zones(
        Some("America/New_York"),
        &["America/Los_Angeles"],
        Some("XX"),
    );
    let at = ts("2026-06-10T12:00:00Z");
    assert_eq!(check(&r, &z, at), Held(HoldReason::NoCommonWindow));
    assert_eq!(last_allowed_at_or_before(&r, &z, at), None);
    // Alone, each zone has its hour.
    let ny = one("America/New_York", "XX");
    assert_eq!(check(&r, &ny, at), Allowed);
    assert_eq!(
        check(&r, &ny, ts("2026-06-10T13:00:00Z")),
        NotBefore(ts("2026-06-11T12:00:00Z"))
    );
}

#[test]
fn window_edges_in_a_dst_gap_and_fold() {
    let r = custom();
    // 02:30 does not exist in New York on 2026-03-08: the window opens at the transition
    // (03:00 EDT, 07:00Z), where the wall clock lands inside it.
    let gap = one("America/New_York", "GP");
    expect(
        &r,
        &gap,
        &[
            (
                "2026-03-08T06:00:00Z",
                NotBefore(ts("2026-03-08T07:00:00Z")),
            ),
            ("2026-03-08T07:00:00Z", Allowed),
            ("2026-03-08T08:59:59Z", Allowed), // 04:59:59 EDT
            (
                "2026-03-08T09:00:00Z",
                NotBefore(ts("2026-03-09T06:30:00Z")),
            ),
        ],
    );
    // 01:30–03:00 on 2026-11-01: 01:30 EDT (05:30Z) to the fall-back (06:00Z), then from
    // 01:30 EST (06:30Z) to 03:00 EST (08:00Z).
    let fold = one("America/New_York", "FD");
    expect(
        &r,
        &fold,
        &[
            (
                "2026-11-01T05:29:59Z",
                NotBefore(ts("2026-11-01T05:30:00Z")),
            ),
            ("2026-11-01T05:59:59Z", Allowed),
            (
                "2026-11-01T06:00:00Z",
                NotBefore(ts("2026-11-01T06:30:00Z")),
            ),
            ("2026-11-01T06:30:00Z", Allowed),
            ("2026-11-01T07:59:59Z", Allowed),
            (
                "2026-11-01T08:00:00Z",
                NotBefore(ts("2026-11-02T06:30:00Z")),
            ),
        ],
    );
    assert_eq!(
        last_allowed_at_or_before(&r, &fold, ts("2026-11-01T06:15:00Z")),
        Some(ts("2026-11-01T05:59:00Z"))
    );
}

#[test]
fn last_allowed_at_or_before_named_cases() {
    let r = rules();
    let ny = one("America/New_York", "NY");
    // Allowed: the instant itself.
    let t = ts("2026-06-10T15:00:00.5Z");
    assert_eq!(last_allowed_at_or_before(r, &ny, t), Some(t));
    // 22:00 EDT: 20:59 EDT.
    assert_eq!(
        last_allowed_at_or_before(r, &ny, ts("2026-06-11T02:00:00Z")),
        Some(ts("2026-06-11T00:59:00Z"))
    );
    // 21:00 exactly is already quiet.
    assert_eq!(
        last_allowed_at_or_before(r, &ny, ts("2026-06-11T01:00:00Z")),
        Some(ts("2026-06-11T00:59:00Z"))
    );
    // Sunday 2026-03-08 07:00 EDT: Saturday 20:59 EST (01:59Z).
    assert_eq!(
        last_allowed_at_or_before(r, &ny, ts("2026-03-08T11:00:00Z")),
        Some(ts("2026-03-08T01:59:00Z"))
    );
}

// ---------------------------------------------------------------- properties

/// The rule evaluated directly on each zone's wall clock, independently of the span code.
fn oracle(rules: &ContactRules, z: &CallZones, at: Timestamp) -> bool {
    let state = z.state.as_deref();
    let w = rules.window_for(state);
    let names = z.all();
    !names.is_empty()
        && names.into_iter().all(|name| {
            let Some(tz) = lookup_zone(name) else {
                return false;
            };
            let dt = tz.to_datetime(at);
            let minute = dt.hour() as u16 * 60 + dt.minute() as u16;
            !rules.closed_on(state, dt.date())
                && w.start.minutes() <= minute
                && minute < w.end.minutes()
        })
}

/// Every ZIP of the bundled table, and every area code it lists.
fn table_samples() -> &'static (Vec<Zip5>, Vec<u16>) {
    static SAMPLES: OnceLock<(Vec<Zip5>, Vec<u16>)> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let t = ZipTable::bundled();
        let zips: Vec<Zip5> = (0..Zip5::COUNT as u32)
            .filter_map(Zip5::from_u32)
            .filter(|z| t.get(*z).is_some())
            .collect();
        let mut npas: Vec<u16> = zips
            .iter()
            .filter_map(|z| t.get(*z))
            .flat_map(|i| i.area_codes.iter().copied())
            .collect();
        npas.sort_unstable();
        npas.dedup();
        (zips, npas)
    })
}

const STEP: SignedDuration = SignedDuration::from_mins(7);

fn lead() -> impl Strategy<Value = CallZones> {
    (
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        0..4u8,
    )
        .prop_map(|(zi, ai, shape)| {
            let (zips, npas) = table_samples();
            let zip_code = zips[zi.index(zips.len())];
            let phone = format!("+1{}5550123", npas[ai.index(npas.len())]);
            // Mostly both; sometimes only one of them.
            let (zip_code, phone) = match shape {
                0 => (None, Some(phone.as_str())),
                1 => (Some(zip_code), None),
                _ => (Some(zip_code), Some(phone.as_str())),
            };
            call_zones(
                ZipTable::bundled(),
                AreaCodeZones::bundled(),
                zip_code,
                phone,
            )
        })
}

fn instant_between(start: &str, end: &str) -> impl Strategy<Value = Timestamp> {
    (
        ts(start).as_second()..ts(end).as_second(),
        0..1_000_000_000i32,
    )
        .prop_map(|(s, n)| Timestamp::new(s, n).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// Any instant of 2026, half of them within two days of the US DST transitions (2026-03-08
/// and 2026-11-01, 02:00 local in each zone).
fn instant_2026() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        2 => instant_between("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        1 => instant_between("2026-03-06T12:00:00Z", "2026-03-09T12:00:00Z"),
        1 => instant_between("2026-10-30T12:00:00Z", "2026-11-02T12:00:00Z"),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn check_agrees_with_every_wall_clock(z in lead(), at in instant_2026()) {
        let r = rules();
        match check(r, &z, at) {
            Allowed => prop_assert!(oracle(r, &z, at), "{at} {z:?}"),
            NotBefore(t) => {
                prop_assert!(t > at);
                prop_assert!(!oracle(r, &z, at));
                prop_assert!(oracle(r, &z, t), "{t} {z:?}");
                prop_assert_eq!(check(r, &z, t), Allowed);
                // Exact: the instant before is not allowed.
                prop_assert!(!oracle(r, &z, t - SignedDuration::from_nanos(1)));
                let mut g = at;
                while g < t {
                    prop_assert!(!oracle(r, &z, g), "{g} allowed before {t} {z:?}");
                    g += STEP;
                }
            }
            Held(HoldReason::UnknownZone) => prop_assert!(z.all().is_empty()),
            Held(reason) => {
                let mut g = at;
                for _ in 0..(SEARCH_DAYS * 24) {
                    prop_assert!(!oracle(r, &z, g), "{reason} but {g} is allowed");
                    g += SignedDuration::from_hours(1);
                }
            }
        }
    }

    #[test]
    fn last_allowed_is_allowed_and_not_after(z in lead(), t in instant_2026()) {
        let r = rules();
        match last_allowed_at_or_before(r, &z, t) {
            Some(l) => {
                prop_assert!(l <= t);
                prop_assert!(oracle(r, &z, l), "{l} {z:?}");
                prop_assert_eq!(check(r, &z, l), Allowed);
                if l < t {
                    // The allowed stretch ends one minute after `l`; nothing later is
                    // allowed up to `t`.
                    let mut g = l + SignedDuration::from_mins(1);
                    prop_assert!(!oracle(r, &z, g), "{g} {z:?}");
                    while g <= t {
                        prop_assert!(!oracle(r, &z, g), "{g} allowed after {l}, before {t}");
                        g += STEP;
                    }
                    prop_assert!(!oracle(r, &z, t));
                }
            }
            None => prop_assert!(z.all().is_empty(), "{z:?}"),
        }
    }
}
