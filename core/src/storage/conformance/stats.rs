//! Whole-store counts: [`Reports`].

use super::*;

/// `counts` over a known store (the per-reason and per-workspace breakdowns, which had no
/// caller, are gone from the contract).
pub fn counts_and_breakdowns(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let empty = tx(s, "counts", |tx| Ok(tx.reports().counts()?));
    assert_eq!(empty, StoreCounts::default(), "an empty store counts zero");

    tx(s, "seed", |tx| {
        tx.put_workspace(&workspace("solar_ca_001", Cents(20000)))?;
        tx.put_workspace(&workspace("hvac_tx_002", Cents(7550)))?;
        tx.put_workspace(&workspace("roof_fl_003", Cents(15000)))?;
        let mut contacts = Vec::new();
        for n in 0..3 {
            contacts.push(insert_contact(
                tx,
                &new_contact("provider:provider-a", &phone(n)),
            )?);
        }
        let plan: [(&str, Option<(&str, Cents)>); 7] = [
            ("solar", Some(("solar_ca_001", Cents(20000)))),
            ("hvac", Some(("hvac_tx_002", Cents(7550)))),
            ("solar", Some(("solar_ca_001", Cents(20000)))),
            ("roof", Some(("roof_fl_003", Cents(15000)))),
            ("hvac", Some(("hvac_tx_002", Cents(7550)))),
            ("no_rule_for_zip", None),
            ("no_eligible_workspace", None),
        ];
        let mut deliveries = Vec::new();
        for (i, (tag, target)) in plan.iter().enumerate() {
            let c = contacts[i % contacts.len()];
            let l = insert_lead(tx, &new_lead(c, "provider-a", &format!("PA-{i:05}")))?;
            match target {
                Some((ws, rate)) => {
                    let a = tx.insert_appointment(&routed(l, c, ws, *rate))?;
                    let d = tx.enqueue_delivery(&new_delivery(a, ws, at(0)))?;
                    deliveries.push((d, a, *ws, *rate));
                }
                None => {
                    tx.insert_appointment(&unrouted(l, c, tag))?;
                }
            }
        }
        tx.insert_rejection(&new_rejection("provider-a", "R1", &["invalid_phone"]))?;
        tx.insert_rejection(&new_rejection(
            "provider-a",
            "R2",
            &["unknown_zip", "invalid_phone"],
        ))?;
        tx.insert_rejection(&new_rejection(
            "provider-b",
            "R1",
            &["lead_type_not_allowed"],
        ))?;
        // Two delivered and charged, one failed, one retrying, one untouched.
        for &(d, a, ws, rate) in &deliveries[..2] {
            let billing = charge(a, ws, rate);
            tx.record_attempt(
                &attempt(d, 1, Some(200)),
                &AttemptResult::Delivered {
                    billing: Some(billing.clone()),
                },
            )?;
            tx.insert_billing_event(&billing)?;
        }
        tx.record_attempt(
            &attempt(deliveries[2].0, 1, Some(410)),
            &AttemptResult::Failed,
        )?;
        tx.record_attempt(
            &attempt(deliveries[3].0, 1, None),
            &AttemptResult::Retry {
                next_attempt_at: at(600),
            },
        )?;
        Ok(())
    });
    let got = tx(s, "counts", |tx| Ok(tx.reports().counts()?));
    let expected_counts = StoreCounts {
        contacts: 3,
        leads: 7,
        rejections: 3,
        appointments: 7,
        appointments_routed: 5,
        appointments_unrouted: 2,
        deliveries: 5,
        deliveries_succeeded: 2,
        deliveries_failed: 1,
        attempts: 4,
        billing_events: 2,
        billed: Cents(27550),
    };
    assert_eq!(got, expected_counts, "counts() must match the rows stored");
}
