//! Property tests: the compiled routing table equals the naive linear-scan reference
//! (`routing::reference`) over random rule sets (explicit ZIPs, states, ZIP prefixes, radii,
//! exclusions, weights), random gates and random queries, for every tie policy.

use jiff::{SignedDuration, Timestamp};
use leadroute_core::catalog::Catalog;
use leadroute_core::model::{Cents, Workspace};
use leadroute_core::routing::reference::{decide_linear, RejectRules};
use leadroute_core::routing::{
    CandidateStatus, MemoryTieState, Radius, RoutingRule, RoutingTable, RuleTargeting, SkipReason,
    TiePolicy, TieState,
};
use leadroute_core::zip::{Zip5, ZipTable};
use proptest::prelude::*;
use std::sync::OnceLock;

/// A small synthetic ZIP table: 60 ZIPs in 10000..10060 over three states, on a grid about
/// 7 miles apart, every seventh one inactive.
fn zips() -> &'static ZipTable {
    static T: OnceLock<ZipTable> = OnceLock::new();
    T.get_or_init(|| {
        let mut csv =
            String::from("zip,type,active,city,state,county,timezone,area_codes,lat,lon\n");
        for i in 0..60u32 {
            let state = ["AA", "BB", "CC"][(i / 20) as usize];
            let active = u8::from(i % 7 != 3);
            let lat = 40.0 + f64::from(i % 8) * 0.1;
            let lon = -75.0 + f64::from(i / 8) * 0.1;
            csv.push_str(&format!(
                "{:05},STANDARD,{active},X,{state},Y,,,{lat},{lon}\n",
                10000 + i
            ));
        }
        ZipTable::from_csv(csv.as_bytes()).unwrap()
    })
}

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

/// ZIPs `10000 + n` for n in 0..70: 60 in the table, 10 not (explicit listings only).
fn zip_text(n: u32) -> String {
    format!("{:05}", 10000 + n)
}

fn arb_targeting() -> impl Strategy<Value = RuleTargeting> {
    (
        prop::collection::vec(prop::sample::select(vec!["AA", "bb", "CC"]), 0..2),
        prop::collection::vec(prop::sample::select(vec!["100", "999"]), 0..2),
        prop::option::weighted(0.3, (0u32..60, 0.0f64..25.0)),
        prop::collection::vec(0u32..70, 0..6),
        1u32..4,
    )
        .prop_map(
            |(states, prefixes, radius, excluded, weight)| RuleTargeting {
                states: states.into_iter().map(String::from).collect(),
                zip3_prefixes: prefixes.into_iter().map(String::from).collect(),
                radius: radius.map(|(z, miles)| Radius {
                    zip: zip_text(z),
                    miles,
                }),
                excluded_zips: excluded.into_iter().map(zip_text).collect(),
                weight,
            },
        )
}

fn arb_rules() -> impl Strategy<Value = Vec<RoutingRule>> {
    let products = ["Solar", "HVAC", "Roofing"];
    prop::collection::vec(
        (
            0usize..5,
            prop::sample::subsequence(products.to_vec(), 1..=3),
            prop::collection::vec(0u32..70, 0..12),
            0i32..3,
            prop::bool::weighted(0.85),
            prop::option::weighted(0.5, arb_targeting()),
        ),
        0..16,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (w, ps, zs, prio, active, t))| RoutingRule {
                id: (i as i64 * 7919) % 101,
                workspace_id: format!("w{w}"),
                product_types: ps.iter().map(|s| s.to_string()).collect(),
                zip_codes: zs.into_iter().map(zip_text).collect(),
                priority: prio,
                is_active: active,
                notes: None,
                targeting: t.unwrap_or_default(),
                capacity: Default::default(),
            })
            .collect()
    })
}

fn policy(n: u8) -> TiePolicy {
    [
        TiePolicy::LowestId,
        TiePolicy::WeightedRoundRobin,
        TiePolicy::LeastRecentlyRouted,
    ][n as usize % 3]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn compiled_table_equals_linear_scan(
        rules in arb_rules(),
        inactive in prop::collection::vec(any::<bool>(), 5),
        rejected in prop::collection::vec(0i64..101, 0..4),
        pol in 0u8..3,
        queries in prop::collection::vec((0usize..4, 0u32..75), 1..60),
    ) {
        let cat = Catalog::from_names(["Solar", "HVAC", "Roofing", "Bath"]);
        // w4 is missing: its rules are skipped as `workspace_missing`.
        let wss: Vec<_> = (0..4).map(|i| ws(&format!("w{i}"), !inactive[i])).collect();
        let t = RoutingTable::compile_with(&rules, &wss, &cat, zips()).unwrap();
        let policy = policy(pol);
        let mut fast_state = MemoryTieState::new();
        let mut slow_state = MemoryTieState::new();
        for (step, (p, zoff)) in queries.into_iter().enumerate() {
            let product = ["solar", "HVAC", "roofing", "Bath"][p];
            let zip = Zip5::from_u32(10000 + zoff).unwrap();
            let now = Timestamp::UNIX_EPOCH + SignedDuration::from_secs(step as i64);
            let mut gate = RejectRules(rejected.clone());
            let pid = cat.lookup(product).unwrap();
            let e = t.decide_explained(pid, zip, policy, &mut fast_state, &mut gate, now);
            let got = e.outcome.ok().map(|m| m.rule_id);
            let mut eligible = |r: &RoutingRule| !rejected.contains(&r.id);
            let want = decide_linear(
                &rules, &wss, zips(), product, zip, policy, &mut slow_state, &mut eligible, now,
            )
            .map(|r| r.id);
            prop_assert_eq!(got, want, "{} {} {:?}", product, zip, policy);
            for r in &rules {
                prop_assert_eq!(fast_state.current_weight(r.id), slow_state.current_weight(r.id));
                prop_assert_eq!(fast_state.last_routed(r.id), slow_state.last_routed(r.id));
            }
            // The trace is consistent: skipped candidates carry the right reason, and with
            // LowestId and no gate the table's shortcut agrees.
            for c in &e.candidates {
                if let CandidateStatus::Skipped { reason } = c.status {
                    let ws_ok = wss.iter().any(|w| w.id == c.workspace_id && w.webhook_active);
                    let expected = if !wss.iter().any(|w| w.id == c.workspace_id) {
                        SkipReason::WorkspaceMissing
                    } else if !ws_ok {
                        SkipReason::WebhookInactive
                    } else {
                        SkipReason::OutsideSchedule
                    };
                    prop_assert_eq!(reason, expected);
                }
            }
            if policy == TiePolicy::LowestId && rejected.is_empty() {
                prop_assert_eq!(t.route(product, zip), e.to_decision());
            }
            // Excluded rules are exactly those the reference sees as targeted but excluded.
            let text = zip.to_string();
            let mut want_excluded: Vec<_> = rules
                .iter()
                .filter(|r| r.is_active)
                .filter(|r| r.product_types.iter().any(|p| p.eq_ignore_ascii_case(product)))
                .filter(|r| r.targeting.excluded_zips.contains(&text))
                .filter(|r| {
                    let mut probe = (*r).clone();
                    probe.targeting.excluded_zips.clear();
                    probe.is_active = true;
                    decide_linear(
                        std::slice::from_ref(&probe), &[ws(&probe.workspace_id, true)], zips(),
                        product, zip, TiePolicy::LowestId, &mut MemoryTieState::new(),
                        &mut |_| true, now,
                    )
                    .is_some()
                })
                .map(|r| r.id)
                .collect();
            want_excluded.sort_unstable();
            let mut got_excluded: Vec<_> = e.excluded.iter().map(|x| x.rule_id).collect();
            got_excluded.sort_unstable();
            prop_assert_eq!(got_excluded, want_excluded);
        }
    }
}
