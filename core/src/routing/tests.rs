//! Unit tests of the routing module.

use super::*;
use crate::catalog::Catalog;
use crate::model::{Cents, Workspace};
use crate::zip::{Zip5, ZipTable};
use jiff::Timestamp;
use proptest::prelude::*;

fn ws(id: &str, active: bool) -> Workspace {
    Workspace {
        id: id.into(),
        name: id.into(),
        outbound_webhook_url: format!("http://127.0.0.1:1/hooks/{id}"),
        webhook_active: active,
        business_type: None,
        payment_rate: Cents(100),
        timezone: None,
        webhook_secret: None,
        duplicate_window_days: None,
        capacity: Default::default(),
        schedule: None,
        delivery: Default::default(),
        require_consent: false,
        returns: Default::default(),
        messages: None,
        calendar: None,
    }
}

fn rule(id: i64, w: &str, products: &[&str], zips: &[&str], priority: i32) -> RoutingRule {
    RoutingRule {
        id,
        workspace_id: w.into(),
        product_types: products.iter().map(|s| s.to_string()).collect(),
        zip_codes: zips.iter().map(|s| s.to_string()).collect(),
        priority,
        is_active: true,
        notes: None,
        targeting: RuleTargeting::default(),
        capacity: Default::default(),
    }
}

fn z(s: &str) -> Zip5 {
    Zip5::parse(s).unwrap()
}

#[test]
fn priority_then_lowest_id_and_exact_matches() {
    let cat = Catalog::from_names(["Solar", "Heat Pump", "Water Heater", "HVAC"]);
    let rules = vec![
        rule(7, "b", &["Solar"], &["90210"], 2),
        rule(3, "a", &["Solar"], &["90210", "10001"], 2),
        rule(9, "c", &["Solar"], &["90210"], 1),
        rule(4, "d", &["Heat Pump"], &["02101"], 1),
    ];
    let wss = [ws("a", true), ws("b", true), ws("c", true), ws("d", true)];
    let t = RoutingTable::compile(&rules, &wss, &cat).unwrap();
    assert_eq!(t.route("solar", z("90210")).outcome.unwrap().rule_id, 9);
    assert_eq!(t.route("Solar", z("10001")).outcome.unwrap().rule_id, 3);
    // `0210` is not `90210`; `02101` is not `2101`.
    assert_eq!(
        t.route("Solar", z("02101")).outcome,
        Err(UnroutedReason::NoRuleForZip)
    );
    assert_eq!(
        t.route("Water Heater", z("02101")).outcome,
        Err(UnroutedReason::NoRuleForProduct)
    );
    assert_eq!(
        t.route("Heat", z("02101")).outcome,
        Err(UnroutedReason::UnknownProduct)
    );
}

#[test]
fn inactive_webhooks_are_skipped_with_reason() {
    let cat = Catalog::from_names(["Solar"]);
    let rules = vec![
        rule(1, "off", &["Solar"], &["90210"], 1),
        rule(2, "gone", &["Solar"], &["90210"], 1),
        rule(3, "on", &["Solar"], &["90210"], 5),
    ];
    let mut inactive = rule(4, "on", &["Solar"], &["10001"], 1);
    inactive.is_active = false;
    let mut all = rules.clone();
    all.push(inactive);
    let t = RoutingTable::compile(&all, &[ws("off", false), ws("on", true)], &cat).unwrap();
    let d = t.route("Solar", z("90210"));
    assert_eq!(d.outcome.unwrap().workspace_id, "on");
    let reasons: Vec<_> = d.skipped.iter().map(|s| (s.rule_id, s.reason)).collect();
    assert_eq!(
        reasons,
        vec![
            (1, SkipReason::WebhookInactive),
            (2, SkipReason::WorkspaceMissing)
        ]
    );
    assert_eq!(
        t.route("Solar", z("10001")).outcome,
        Err(UnroutedReason::NoRuleForZip)
    );
    let t2 = RoutingTable::compile(&rules[..2], &[ws("off", false)], &cat).unwrap();
    assert_eq!(
        t2.route("Solar", z("90210")).outcome,
        Err(UnroutedReason::NoEligibleWorkspace)
    );
}

#[test]
fn compile_errors_are_typed() {
    let cat = Catalog::from_names(["Solar"]);
    let bad_zip = [rule(1, "a", &["Solar"], &["9021"], 1)];
    assert!(matches!(
        RoutingTable::compile(&bad_zip, &[], &cat),
        Err(RoutingError::InvalidZip { rule_id: 1, .. })
    ));
    let bad_product = [rule(1, "a", &["Roof"], &["90210"], 1)];
    assert!(matches!(
        RoutingTable::compile(&bad_product, &[], &cat),
        Err(RoutingError::UnknownProduct { .. })
    ));
    let dup = [
        rule(1, "a", &["Solar"], &["90210"], 1),
        rule(1, "b", &["Solar"], &["90210"], 1),
    ];
    assert_eq!(
        RoutingTable::compile(&dup, &[], &cat).unwrap_err(),
        RoutingError::DuplicateRule(1)
    );
}

fn arb_rules() -> impl Strategy<Value = Vec<RoutingRule>> {
    let products = ["Solar", "HVAC", "Roofing"];
    prop::collection::vec(
        (
            0usize..5,
            prop::sample::subsequence(products.to_vec(), 1..=3),
            prop::collection::vec(0u32..40, 0..12),
            0i32..4,
            any::<bool>(),
        ),
        0..25,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (w, ps, zs, prio, active))| RoutingRule {
                id: (i as i64 * 7919) % 101,
                workspace_id: format!("w{w}"),
                product_types: ps.iter().map(|s| s.to_string()).collect(),
                zip_codes: zs.iter().map(|z| format!("{:05}", 10000 + z)).collect(),
                priority: prio,
                is_active: active,
                notes: None,
                targeting: RuleTargeting::default(),
                capacity: Default::default(),
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn compiled_table_equals_linear_scan(
        rules in arb_rules(),
        inactive in prop::collection::vec(any::<bool>(), 5),
        queries in prop::collection::vec((0usize..4, 0u32..45), 1..40),
    ) {
        let cat = Catalog::from_names(["Solar", "HVAC", "Roofing", "Bath"]);
        let wss: Vec<_> = (0..4).map(|i| ws(&format!("w{i}"), !inactive[i])).collect();
        let t = RoutingTable::compile(&rules, &wss, &cat).unwrap();
        for (p, zoff) in queries {
            let product = ["solar", "HVAC", "roofing", "Bath"][p];
            let zip = Zip5::from_u32(10000 + zoff).unwrap();
            let got = t.route(product, zip).outcome.ok().map(|m| m.rule_id);
            let want = route_linear(&rules, &wss, product, zip).map(|r| r.id);
            prop_assert_eq!(got, want);
        }
    }
}

fn geo(id: i64, w: &str, priority: i32, t: RuleTargeting) -> RoutingRule {
    RoutingRule {
        targeting: t,
        ..rule(id, w, &["Solar"], &[], priority)
    }
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn states_prefixes_radius_and_exclusions() {
    let zips = ZipTable::bundled();
    let cat = Catalog::from_names(["Solar"]);
    let wss = [ws("a", true), ws("b", true), ws("c", true)];
    let rules = vec![
        geo(
            1,
            "a",
            1,
            RuleTargeting {
                states: strs(&["nv"]),
                excluded_zips: strs(&["89101"]),
                ..Default::default()
            },
        ),
        geo(
            2,
            "b",
            2,
            RuleTargeting {
                zip3_prefixes: strs(&["902", "891"]),
                ..Default::default()
            },
        ),
        geo(
            3,
            "c",
            1,
            RuleTargeting {
                radius: Some(Radius {
                    zip: "22737".into(),
                    miles: 150.0,
                }),
                ..Default::default()
            },
        ),
    ];
    let t = RoutingTable::compile_with(&rules, &wss, &cat, zips).unwrap();
    let id = |z: &str| {
        t.route("Solar", Zip5::parse(z).unwrap())
            .outcome
            .map(|m| m.rule_id)
    };
    assert_eq!(id("89501"), Ok(1)); // Reno, NV
    assert_eq!(id("90210"), Ok(2)); // Beverly Hills, prefix 902
                                    // Las Vegas 89101: rule 1 covers Nevada but excludes it; rule 2's prefix 891 wins.
    let d = t.route("Solar", Zip5::parse("89101").unwrap());
    assert_eq!(d.outcome.unwrap().rule_id, 2);
    assert_eq!(
        d.skipped,
        vec![Skipped {
            rule_id: 1,
            workspace_id: "a",
            reason: SkipReason::ExcludedZip
        }]
    );
    assert_eq!(id("20001"), Ok(3)); // Washington, DC: about 60 miles from Rixeyville, VA
    assert_eq!(id("10001"), Err(UnroutedReason::NoRuleForZip)); // New York: too far
    let e = t.explain("solar", Zip5::parse("89101").unwrap());
    assert_eq!(e.excluded.len(), 1);
    assert_eq!(e.excluded[0].reason.code(), "excluded_zip");
    // Every radius ZIP is within 150 miles, and the resolver agrees with the table.
    let r = targeting::resolve(&rules[2], zips).unwrap();
    let c = zips.get(Zip5::parse("22737").unwrap()).unwrap();
    assert!(r.zips.len() > 500);
    for z in &r.zips {
        let i = zips.get(*z).unwrap();
        assert!(i.active);
        assert!(targeting::haversine_miles(c.lat, c.lon, i.lat, i.lon) <= 150.0);
    }
    let nv = targeting::resolve(&rules[0], zips).unwrap();
    assert_eq!(nv.excluded, vec![Zip5::parse("89101").unwrap()]);
    assert!(nv.zips.iter().all(|z| zips.get(*z).unwrap().state == "NV"));
}

#[test]
fn excluded_zip_wins_over_an_explicit_listing() {
    let cat = Catalog::from_names(["Solar"]);
    let mut r = rule(1, "a", &["Solar"], &["90210", "10001"], 1);
    r.targeting.excluded_zips = strs(&["90210", "33101"]);
    let t = RoutingTable::compile(&[r], &[ws("a", true)], &cat).unwrap();
    let d = t.route("Solar", z("90210"));
    assert_eq!(d.outcome, Err(UnroutedReason::NoRuleForZip));
    assert_eq!(d.skipped[0].reason, SkipReason::ExcludedZip);
    // 33101 is excluded but was never targeted: nothing to report.
    assert!(t.route("Solar", z("33101")).skipped.is_empty());
    assert_eq!(t.route("Solar", z("10001")).outcome.unwrap().rule_id, 1);
}

#[test]
fn targeting_errors_are_typed() {
    let zips = ZipTable::bundled();
    let cat = Catalog::from_names(["Solar"]);
    let compile = |t: RuleTargeting| {
        RoutingTable::compile_with(&[geo(7, "a", 1, t)], &[], &cat, zips).unwrap_err()
    };
    assert!(matches!(
        compile(RuleTargeting {
            states: strs(&["XX"]),
            ..Default::default()
        }),
        RoutingError::UnknownState { rule_id: 7, .. }
    ));
    assert!(matches!(
        compile(RuleTargeting {
            states: strs(&["California"]),
            ..Default::default()
        }),
        RoutingError::UnknownState { .. }
    ));
    for bad in ["90", "9021", "9a2"] {
        assert!(matches!(
            compile(RuleTargeting {
                zip3_prefixes: strs(&[bad]),
                ..Default::default()
            }),
            RoutingError::InvalidZipPrefix { .. }
        ));
    }
    let radius = |zip: &str, miles: f64| RuleTargeting {
        radius: Some(Radius {
            zip: zip.into(),
            miles,
        }),
        ..Default::default()
    };
    assert!(matches!(
        compile(radius("99999", 10.0)),
        RoutingError::UnknownRadiusZip { .. }
    ));
    assert!(matches!(
        compile(radius("2273", 10.0)),
        RoutingError::InvalidZip { .. }
    ));
    for miles in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            compile(radius("22737", miles)),
            RoutingError::InvalidRadius { .. }
        ));
    }
    assert!(matches!(
        compile(RuleTargeting {
            excluded_zips: strs(&["123"]),
            ..Default::default()
        }),
        RoutingError::InvalidZip { .. }
    ));
    assert_eq!(
        compile(RuleTargeting {
            weight: 0,
            ..Default::default()
        }),
        RoutingError::InvalidWeight { rule_id: 7 }
    );
    // An inactive rule with bad targeting compiles (left out of explanations).
    let mut off = geo(
        8,
        "a",
        1,
        RuleTargeting {
            states: strs(&["XX"]),
            ..Default::default()
        },
    );
    off.is_active = false;
    assert!(RoutingTable::compile_with(&[off], &[], &cat, zips).is_ok());
}

fn now() -> Timestamp {
    Timestamp::UNIX_EPOCH
}

fn weighted(id: i64, w: &str, weight: u32) -> RoutingRule {
    let mut r = rule(id, w, &["Solar"], &["90210"], 1);
    r.targeting.weight = weight;
    r
}

#[test]
fn smooth_weighted_round_robin_is_fair() {
    let cat = Catalog::from_names(["Solar"]);
    let rules = [weighted(1, "a", 3), weighted(2, "b", 1)];
    let t = RoutingTable::compile(&rules, &[ws("a", true), ws("b", true)], &cat).unwrap();
    let solar = cat.lookup("Solar").unwrap();
    let mut state = MemoryTieState::new();
    let mut wins = [0usize; 2];
    let mut first = Vec::new();
    for i in 0..400 {
        let d = t.decide(
            solar,
            z("90210"),
            TiePolicy::WeightedRoundRobin,
            &mut state,
            &mut NoGate,
            now(),
        );
        let id = d.outcome.unwrap().rule_id;
        wins[id as usize - 1] += 1;
        if i < 8 {
            first.push(id);
        }
    }
    assert_eq!(wins, [300, 100]);
    // Smooth: never more than three in a row for the heavy rule, one for the light one.
    assert_eq!(first, [1, 1, 2, 1, 1, 1, 2, 1]);
    // After whole cycles the weights are back to zero.
    assert_eq!(state.current_weight(1), 0);
    assert_eq!(state.current_weight(2), 0);
}

#[test]
fn round_robin_skipped_rules_sit_out_and_state_is_per_rule() {
    let cat = Catalog::from_names(["Solar"]);
    let rules = [
        weighted(1, "a", 1),
        weighted(2, "b", 1),
        weighted(3, "c", 2),
    ];
    let wss = [ws("a", true), ws("b", true), ws("c", true)];
    let t = RoutingTable::compile(&rules, &wss, &cat).unwrap();
    let solar = cat.lookup("Solar").unwrap();
    let mut state = MemoryTieState::new();
    // Rule 3 (weight 2) is closed: 1 and 2 share the picks evenly, and rule 3's credit stays
    // bounded (it is tried first once its credit is the highest, and then sits out).
    let mut closed = |c: &Candidate<'_>| (c.rule_id == 3).then_some(SkipReason::OutsideSchedule);
    let mut wins = [0usize; 3];
    for _ in 0..400 {
        let d = t.decide(
            solar,
            z("90210"),
            TiePolicy::WeightedRoundRobin,
            &mut state,
            &mut closed,
            now(),
        );
        assert!(d
            .skipped
            .iter()
            .all(|s| (s.rule_id, s.reason) == (3, SkipReason::OutsideSchedule)));
        wins[d.outcome.unwrap().rule_id as usize - 1] += 1;
        assert!(state.current_weight(3) <= 4, "{state:?}");
    }
    assert_eq!(wins[2], 0);
    assert!(wins[0].abs_diff(wins[1]) <= 2, "{wins:?}");
    // A decision without a winner changes nothing.
    let before = state.clone();
    let mut none = |_: &Candidate<'_>| Some(SkipReason::BudgetSpent);
    let d = t.decide(
        solar,
        z("90210"),
        TiePolicy::WeightedRoundRobin,
        &mut state,
        &mut none,
        now(),
    );
    assert_eq!(d.outcome, Err(UnroutedReason::NoEligibleWorkspace));
    assert_eq!(state, before);
}

#[test]
fn least_recently_routed_rotates() {
    let cat = Catalog::from_names(["Solar"]);
    let rules = [
        weighted(5, "a", 1),
        weighted(2, "b", 1),
        weighted(9, "c", 1),
    ];
    let wss = [ws("a", true), ws("b", true), ws("c", true)];
    let t = RoutingTable::compile(&rules, &wss, &cat).unwrap();
    let solar = cat.lookup("Solar").unwrap();
    let mut state = MemoryTieState::new();
    state.set_last_routed(2, now());
    let mut picks = Vec::new();
    for i in 1..=5 {
        let at = now() + jiff::SignedDuration::from_mins(i);
        let d = t.decide(
            solar,
            z("90210"),
            TiePolicy::LeastRecentlyRouted,
            &mut state,
            &mut NoGate,
            at,
        );
        picks.push(d.outcome.unwrap().rule_id);
    }
    // Never routed first (5, then 9, by id), then the oldest.
    assert_eq!(picks, [5, 9, 2, 5, 9]);
    assert_eq!(
        state.last_routed(9),
        Some(now() + jiff::SignedDuration::from_mins(5))
    );
}

#[test]
fn explain_lists_every_candidate() {
    let cat = Catalog::from_names(["Solar"]);
    let mut inactive = rule(8, "a", &["Solar"], &["90210"], 0);
    inactive.is_active = false;
    let rules = vec![
        rule(1, "off", &["Solar"], &["90210"], 1),
        rule(2, "a", &["Solar"], &["90210"], 2),
        rule(3, "b", &["Solar"], &["90210"], 3),
        rule(4, "c", &["Solar"], &["90210"], 4),
        inactive,
    ];
    let wss = [
        ws("off", false),
        ws("a", true),
        ws("b", true),
        ws("c", true),
    ];
    let t = RoutingTable::compile(&rules, &wss, &cat).unwrap();
    let solar = cat.lookup("Solar").unwrap();
    let cap = SkipReason::CapReached {
        scope: CapScope::Workspace,
        period: CapPeriod::Day,
    };
    let mut gate = |c: &Candidate<'_>| (c.workspace_id == "a").then_some(cap);
    let state = MemoryTieState::new();
    let e = t.explain_with(solar, z("90210"), TiePolicy::LowestId, &state, &mut gate);
    let statuses: Vec<_> = e.candidates.iter().map(|c| (c.rule_id, c.status)).collect();
    assert_eq!(
        statuses,
        vec![
            (
                1,
                CandidateStatus::Skipped {
                    reason: SkipReason::WebhookInactive
                }
            ),
            (2, CandidateStatus::Skipped { reason: cap }),
            (3, CandidateStatus::Matched),
            (4, CandidateStatus::NotReached),
        ]
    );
    assert_eq!(e.outcome.unwrap().rule_id, 3);
    assert_eq!(e.inactive.len(), 1);
    assert_eq!(e.inactive[0].reason, SkipReason::RuleInactive);
    assert_eq!(e.product, Some("Solar"));
    let json = e.to_json();
    assert_eq!(json["candidates"][1]["status"], "skipped");
    assert_eq!(json["candidates"][1]["reason"]["code"], "cap_reached");
    assert_eq!(json["candidates"][1]["reason"]["period"], "day");
    assert_eq!(json["inactive"][0]["reason"]["code"], "rule_inactive");
    // The short form agrees.
    let mut gate2 = |c: &Candidate<'_>| (c.workspace_id == "a").then_some(cap);
    let mut st = MemoryTieState::new();
    let d = t.decide(
        solar,
        z("90210"),
        TiePolicy::LowestId,
        &mut st,
        &mut gate2,
        now(),
    );
    assert_eq!(d, e.to_decision());
    assert_eq!(
        t.explain("nope", z("90210")).outcome,
        Err(UnroutedReason::UnknownProduct)
    );
}

#[test]
fn overlaps_report_equal_priority_sharing() {
    let cat = Catalog::from_names(["Solar", "HVAC"]);
    let rules = vec![
        rule(1, "a", &["Solar", "HVAC"], &["90210", "90211", "90212"], 1),
        rule(2, "b", &["Solar"], &["90211", "90212", "90213"], 1),
        rule(3, "c", &["Solar"], &["90210"], 2),
        rule(4, "d", &["HVAC"], &["90210"], 1),
    ];
    let t = RoutingTable::compile(&rules, &[], &cat).unwrap();
    let o = t.overlaps();
    assert_eq!(o.len(), 2);
    assert_eq!(o[0].rule_ids, (1, 2));
    assert_eq!(o[0].product, "Solar");
    assert_eq!(o[0].shared_zips, 2);
    assert_eq!(o[0].sample_zips, ["90211", "90212"]);
    assert_eq!(o[1].rule_ids, (1, 4));
    assert_eq!(o[1].product, "HVAC");
    assert_eq!((o[1].shared_zips, o[1].priority), (1, 1));
}

#[test]
fn serde_shapes() {
    assert_eq!(
        serde_json::to_value(SkipReason::CapReached {
            scope: CapScope::Rule,
            period: CapPeriod::Month
        })
        .unwrap(),
        serde_json::json!({"code": "cap_reached", "scope": "rule", "period": "month"})
    );
    assert_eq!(
        serde_json::to_value(SkipReason::OutsideSchedule).unwrap(),
        serde_json::json!({"code": "outside_schedule"})
    );
    let back: SkipReason = serde_json::from_str(r#"{"code":"budget_spent"}"#).unwrap();
    assert_eq!(back, SkipReason::BudgetSpent);
    assert_eq!(
        serde_json::to_string(&RuleTargeting::default()).unwrap(),
        "{}"
    );
    let seed: RoutingRule = serde_json::from_str(
        r#"{"id":1,"workspace_id":"w","product_types":["Solar"],"zip_codes":["90210"],
            "priority":1,"is_active":true,"notes":null}"#,
    )
    .unwrap();
    assert_eq!(seed.targeting, RuleTargeting::default());
    let mut r = seed.clone();
    r.targeting.radius = Some(Radius {
        zip: "22737".into(),
        miles: 12.5,
    });
    r.targeting.weight = 4;
    let json = serde_json::to_string(&r).unwrap();
    assert!(
        json.contains(r#""radius":{"zip":"22737","miles":12.5}"#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<RoutingRule>(&json).unwrap(), r);
    assert_eq!(
        TiePolicy::from_code("least_recently_routed"),
        Some(TiePolicy::LeastRecentlyRouted)
    );
    assert_eq!(TiePolicy::default().code(), "lowest_id");
}
