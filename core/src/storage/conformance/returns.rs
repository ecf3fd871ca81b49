//! Returns: [`ReturnRepo`] insert-if-absent per (appointment, workspace), the one-time
//! decision, the period counts, pending returns in the billing summary, and the workspace's
//! return policy.

use super::*;

fn new_return(
    appointment_id: AppointmentId,
    workspace_id: &str,
    requested_at: Timestamp,
) -> NewReturn {
    NewReturn {
        appointment_id,
        workspace_id: workspace_id.into(),
        reason: "wrong_number".into(),
        status: ReturnStatus::Pending,
        actor: "client".into(),
        credit: Cents(-20000),
        requested_at,
        decided_at: None,
        decision_note: None,
    }
}

/// A workspace's return policy, and the lifecycle events it receives (inside its delivery
/// options), are stored and read back as given.
pub fn workspace_return_policy_round_trip(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let strict = Workspace {
        returns: ReturnPolicy {
            window_days: Some(7),
            allowed_reasons: vec!["wrong_number".into(), "duplicate".into()],
            max_per_period: Some(ReturnLimit::Percent(12.5)),
            review: true,
            credit_no_show: true,
            credit_late_cancel_hours: Some(24),
        },
        delivery: DeliveryOptions {
            events: Some(vec![
                WebhookEventType::AppointmentCancelled,
                WebhookEventType::AppointmentRescheduled,
            ]),
            ..DeliveryOptions::default()
        },
        ..workspace("solar_ca_001", Cents(20000))
    };
    let counted = Workspace {
        returns: ReturnPolicy {
            max_per_period: Some(ReturnLimit::Count(3)),
            ..ReturnPolicy::default()
        },
        delivery: DeliveryOptions {
            events: Some(Vec::new()),
            ..DeliveryOptions::default()
        },
        ..workspace("hvac_tx_002", Cents(7550))
    };
    let plain = workspace("roof_fl_003", Cents(15000));
    tx(s, "put", |tx| {
        tx.put_workspace(&strict)?;
        tx.put_workspace(&counted)?;
        Ok(tx.put_workspace(&plain)?)
    });
    assert_eq!(
        tx(s, "get", |tx| Ok(tx.workspaces()?)),
        vec![counted.clone(), plain.clone(), strict.clone()],
        "return policies and event lists round-trip (no list and an empty list differ)"
    );
    let relaxed = Workspace {
        returns: ReturnPolicy::default(),
        ..strict.clone()
    };
    tx(s, "replace", |tx| Ok(tx.put_workspace(&relaxed)?));
    assert_eq!(
        tx(s, "get", |tx| Ok(tx.workspace("solar_ca_001")?)),
        Some(relaxed),
        "put_workspace replaces the return policy"
    );
}

/// `insert_return` stores a return unless the workspace already returned the appointment
/// (`Existing` with the stored id, nothing written, whatever its status); another workspace
/// may return the same appointment; a missing appointment is a `Conflict`.
pub fn returns_insert_if_absent(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let a = tx(s, "seed", |tx| {
        Ok(seed_routed(tx, 1, "solar_ca_001", Cents(20000))?.2)
    });
    let r1 = new_return(a, "solar_ca_001", at(100));
    let first = tx(s, "insert", |tx| Ok(tx.insert_return(&r1)?));
    let Inserted::Created(id) = first else {
        panic!("the first return must be Created, got {first:?}");
    };
    let again = NewReturn {
        reason: "not_interested".into(),
        status: ReturnStatus::Approved,
        credit: Cents(-1),
        requested_at: at(200),
        ..r1.clone()
    };
    assert_eq!(
        tx(s, "insert again", |tx| Ok(tx.insert_return(&again)?)),
        Inserted::Existing(id),
        "a second return of the appointment by the workspace finds the first"
    );
    let other = NewReturn {
        status: ReturnStatus::Approved,
        decided_at: Some(at(150)),
        decision_note: Some("auto-approved".into()),
        ..new_return(a, "roof_fl_003", at(150))
    };
    let other_id = tx(s, "another workspace", |tx| Ok(tx.insert_return(&other)?));
    assert!(
        matches!(other_id, Inserted::Created(o) if o != id),
        "another workspace's return of the same appointment is its own: {other_id:?}"
    );
    let (by_id, by_key, other_back, none, missing) = tx(s, "read back", |tx| {
        Ok((
            tx.return_record(id)?,
            tx.return_for(a, "solar_ca_001")?,
            tx.return_for(a, "roof_fl_003")?,
            tx.return_for(a, "hvac_tx_002")?,
            tx.return_record(ReturnId(id.0 + 100))?,
        ))
    });
    let stored = ReturnRecord { id, ret: r1 };
    assert_eq!(
        by_id,
        Some(stored.clone()),
        "the return reads back as first stored"
    );
    assert_eq!(by_key, Some(stored));
    assert_eq!(
        other_back,
        Some(ReturnRecord {
            id: other_id.id(),
            ret: other
        }),
        "every field round-trips, decided ones included"
    );
    assert_eq!((none, missing), (None, None));
    let r = tx(s, "missing appointment", |tx| {
        Ok(tx.insert_return(&new_return(AppointmentId(a.0 + 100), "solar_ca_001", at(1))))
    });
    expect_conflict("insert_return for an appointment that does not exist", r);
}

/// `decide_return` moves a pending return once (`true`, with status, `decided_at` and the
/// note); deciding again, or deciding a return stored decided, is `false` and changes
/// nothing; a missing return is a `Conflict`.
pub fn decide_return_once(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (pending, decided) = tx(s, "seed", |tx| {
        let (_, _, a) = seed_routed(tx, 1, "solar_ca_001", Cents(20000))?;
        Ok((
            tx.insert_return(&new_return(a, "solar_ca_001", at(100)))?
                .id(),
            tx.insert_return(&NewReturn {
                status: ReturnStatus::Denied,
                decided_at: Some(at(100)),
                ..new_return(a, "roof_fl_003", at(100))
            })?
            .id(),
        ))
    });
    let moved = tx(s, "approve", |tx| {
        Ok(tx.decide_return(
            pending,
            ReturnStatus::Approved,
            at(300),
            Some("verified: disconnected number"),
        )?)
    });
    assert!(moved, "a pending return is decided");
    let after = tx(s, "read", |tx| Ok(tx.return_record(pending)?)).expect("return exists");
    assert_eq!(
        (
            after.ret.status,
            after.ret.decided_at,
            after.ret.decision_note.as_deref()
        ),
        (
            ReturnStatus::Approved,
            Some(at(300)),
            Some("verified: disconnected number")
        ),
        "the decision writes status, decided_at and the note"
    );
    let again = tx(s, "deny after approval", |tx| {
        Ok(tx.decide_return(pending, ReturnStatus::Denied, at(400), None)?)
    });
    assert!(!again, "a return is decided once");
    assert_eq!(
        tx(s, "read", |tx| Ok(tx.return_record(pending)?)),
        Some(after),
        "a second decision changes nothing"
    );
    let stored_decided = tx(s, "read", |tx| Ok(tx.return_record(decided)?));
    let late = tx(s, "decide a denied return", |tx| {
        Ok(tx.decide_return(decided, ReturnStatus::Approved, at(400), Some("x"))?)
    });
    assert!(!late, "a return stored decided is not pending");
    assert_eq!(
        tx(s, "read", |tx| Ok(tx.return_record(decided)?)),
        stored_decided
    );
    let r = tx(s, "missing", |tx| {
        Ok(tx.decide_return(
            ReturnId(decided.0 + 100),
            ReturnStatus::Approved,
            at(1),
            None,
        ))
    });
    expect_conflict("decide_return of a return that does not exist", r);
}

/// `return_counts` counts the workspace's pending and approved returns requested in
/// `[from, to)` (denied ones are left out) and its charges written in `[from, to)` (credits
/// and other workspaces are left out).
pub fn return_counts_in_period(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (from, to) = (at(1000), at(2000));
    tx(s, "seed", |tx| {
        let mut appts = Vec::new();
        for n in 0..6 {
            appts.push(seed_routed(tx, n, "solar_ca_001", Cents(20000))?.2);
        }
        let ret = |i: usize, ws: &str, when, status| NewReturn {
            status,
            ..new_return(appts[i], ws, when)
        };
        for r in [
            ret(0, "solar_ca_001", from, ReturnStatus::Pending),
            ret(1, "solar_ca_001", at(1500), ReturnStatus::Approved),
            ret(2, "solar_ca_001", at(1500), ReturnStatus::Denied),
            ret(3, "solar_ca_001", at(999), ReturnStatus::Pending),
            ret(4, "solar_ca_001", to, ReturnStatus::Approved),
            ret(0, "roof_fl_003", at(1500), ReturnStatus::Pending),
        ] {
            tx.insert_return(&r)?;
        }
        let bill = |i: usize, ws: &str, when, kind| NewBillingEvent {
            kind,
            created_at: when,
            ..charge(appts[i], ws, Cents(20000))
        };
        for b in [
            bill(0, "solar_ca_001", from, BillingKind::Charge),
            bill(1, "solar_ca_001", at(1999), BillingKind::Charge),
            bill(1, "solar_ca_001", at(1999), BillingKind::Credit),
            bill(2, "solar_ca_001", at(500), BillingKind::Charge),
            bill(3, "solar_ca_001", to, BillingKind::Charge),
            bill(4, "roof_fl_003", at(1500), BillingKind::Charge),
        ] {
            tx.insert_billing_event(&b)?;
        }
        Ok(())
    });
    let (solar, roof, nobody, empty) = tx(s, "return_counts", |tx| {
        Ok((
            tx.return_counts("solar_ca_001", from, to)?,
            tx.return_counts("roof_fl_003", from, to)?,
            tx.return_counts("hvac_tx_002", from, to)?,
            tx.return_counts("solar_ca_001", at(3000), at(4000))?,
        ))
    });
    assert_eq!(
        solar,
        (2, 2),
        "returns: pending and approved in [from, to), not denied, not before from, not at to; \
         charges: in [from, to), not credits"
    );
    assert_eq!(roof, (1, 1), "each workspace counts its own");
    assert_eq!((nobody, empty), ((0, 0), (0, 0)));
}

/// `billing_summary` reports, per workspace, the pending returns requested in `[from, to)`
/// and the credit they would be worth; approved and denied returns are not pending; a
/// workspace with only pending returns has a row.
pub fn billing_summary_pending_returns(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    tx(s, "seed", |tx| {
        tx.put_workspace(&workspace("hvac_tx_002", Cents(7550)))?;
        let (_, _, a1) = seed_routed(tx, 1, "solar_ca_001", Cents(20000))?;
        let (_, _, a2) = seed_routed(tx, 2, "solar_ca_001", Cents(20000))?;
        let (_, _, a3) = seed_routed(tx, 3, "solar_ca_001", Cents(20000))?;
        tx.insert_billing_event(&charge(a1, "solar_ca_001", Cents(20000)))?;
        tx.insert_billing_event(&charge(a2, "solar_ca_001", Cents(20000)))?;
        tx.insert_return(&new_return(a1, "solar_ca_001", at(30)))?;
        tx.insert_return(&NewReturn {
            credit: Cents(-19000),
            ..new_return(a2, "solar_ca_001", at(40))
        })?;
        tx.insert_return(&NewReturn {
            status: ReturnStatus::Approved,
            ..new_return(a3, "solar_ca_001", at(40))
        })?;
        tx.insert_return(&NewReturn {
            status: ReturnStatus::Denied,
            ..new_return(a1, "roof_fl_003", at(40))
        })?;
        tx.insert_return(&NewReturn {
            credit: Cents(-7550),
            ..new_return(a3, "hvac_tx_002", at(50))
        })?;
        // Outside the range below.
        tx.insert_return(&new_return(a2, "roof_fl_003", at(5000)))?;
        Ok(())
    });
    let rows = tx(s, "summary", |tx| {
        Ok(tx.reports().billing_summary(at(0), at(1000))?)
    });
    assert_eq!(
        rows,
        vec![
            BillingSummaryRow {
                workspace_id: "hvac_tx_002".into(),
                pending_returns: 1,
                pending_return: Cents(-7550),
                ..BillingSummaryRow::default()
            },
            BillingSummaryRow {
                workspace_id: "solar_ca_001".into(),
                charges: 2,
                charged: Cents(40000),
                net: Cents(40000),
                pending_returns: 2,
                pending_return: Cents(-39000),
                ..BillingSummaryRow::default()
            },
        ],
        "pending returns in the range per workspace; approved, denied and out-of-range \
         returns are not pending returns of the range"
    );
    let later = tx(s, "summary later", |tx| {
        Ok(tx.reports().billing_summary(at(5000), at(5001))?)
    });
    assert_eq!(
        later
            .iter()
            .map(|r| (r.workspace_id.as_str(), r.pending_returns, r.charges))
            .collect::<Vec<_>>(),
        vec![("roof_fl_003", 1, 0)],
        "the range is [from, to) on requested_at"
    );
}
