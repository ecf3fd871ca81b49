//! Billing: [`BillingRepo`] charges once per appointment and workspace, credits and
//! summaries.

use super::*;

/// `insert_billing_event` writes once per `(appointment_id, workspace_id, kind)` and returns
/// `None` after.
pub fn billing_exactly_once(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (a1, a2) = tx(s, "seed", |tx| {
        Ok((
            seed_routed(tx, 1, "solar_ca_001", Cents(20000))?.2,
            seed_routed(tx, 2, "hvac_tx_002", Cents(7550))?.2,
        ))
    });
    let (first, second) = tx(s, "charge twice in one transaction", |tx| {
        Ok((
            tx.insert_billing_event(&charge(a1, "solar_ca_001", Cents(20000)))?,
            tx.insert_billing_event(&charge(a1, "solar_ca_001", Cents(20000)))?,
        ))
    });
    assert!(
        first.is_some(),
        "the first charge of an appointment must be written"
    );
    assert_eq!(
        second, None,
        "a second charge in the same transaction must return None"
    );
    let third = tx(s, "charge again later", |tx| {
        Ok(tx.insert_billing_event(&charge(a1, "solar_ca_001", Cents(99999)))?)
    });
    assert_eq!(
        third, None,
        "a charge for an already charged appointment must return None"
    );
    let other = tx(s, "charge another appointment", |tx| {
        Ok(tx.insert_billing_event(&charge(a2, "hvac_tx_002", Cents(7550)))?)
    });
    assert!(
        other.is_some() && other != first,
        "another appointment gets its own charge"
    );
    let n = tx(s, "counts", |tx| Ok(tx.reports().counts()?));
    assert_eq!(
        (n.billing_events, n.billed),
        (2, Cents(27550)),
        "exactly one charge per appointment and workspace, at the first amount"
    );
}

/// A credit is one more event per appointment and workspace beside its charge;
/// `billing_event` reads each kind back; `billing_summary` sums per workspace inside
/// `[from, to)`.
pub fn billing_credits_and_summary(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (a1, a2) = tx(s, "seed", |tx| {
        Ok((
            seed_routed(tx, 1, "solar_ca_001", Cents(20000))?.2,
            seed_routed(tx, 2, "hvac_tx_002", Cents(7550))?.2,
        ))
    });
    let credit = NewBillingEvent {
        kind: BillingKind::Credit,
        amount: Cents(-20000),
        created_at: at(60),
        ..charge(a1, "solar_ca_001", Cents(0))
    };
    tx(s, "charges and a credit", |tx| {
        tx.insert_billing_event(&charge(a1, "solar_ca_001", Cents(20000)))?;
        tx.insert_billing_event(&charge(a2, "hvac_tx_002", Cents(7550)))?;
        Ok(tx.insert_billing_event(&credit)?)
    });
    let again = tx(
        s,
        "credit twice",
        |tx| Ok(tx.insert_billing_event(&credit)?),
    );
    assert_eq!(again, None, "one credit per appointment and workspace");
    let (c, k, none) = tx(s, "billing_event", |tx| {
        Ok((
            tx.billing_event(a1, "solar_ca_001", BillingKind::Charge)?,
            tx.billing_event(a1, "solar_ca_001", BillingKind::Credit)?,
            tx.billing_event(a2, "hvac_tx_002", BillingKind::Credit)?,
        ))
    });
    assert_eq!(c.map(|e| e.amount), Some(Cents(20000)));
    assert_eq!(k, Some(credit.clone()), "the credit reads back as written");
    assert_eq!(none, None);
    let all = tx(s, "summary", |tx| {
        Ok(tx
            .reports()
            .billing_summary(at(-1_000_000), at(1_000_000))?)
    });
    assert_eq!(
        all,
        vec![
            BillingSummaryRow {
                workspace_id: "hvac_tx_002".into(),
                charges: 1,
                charged: Cents(7550),
                credits: 0,
                credited: Cents(0),
                net: Cents(7550),
                ..BillingSummaryRow::default()
            },
            BillingSummaryRow {
                workspace_id: "solar_ca_001".into(),
                charges: 1,
                charged: Cents(20000),
                credits: 1,
                credited: Cents(-20000),
                net: Cents(0),
                ..BillingSummaryRow::default()
            },
        ],
        "billing_summary per workspace, ordered by id"
    );
    let only_credit = tx(s, "window", |tx| {
        Ok(tx.reports().billing_summary(at(60), at(61))?)
    });
    assert_eq!(
        only_credit
            .iter()
            .map(|r| (r.credits, r.charges))
            .collect::<Vec<_>>(),
        vec![(1, 0)],
        "the window is [from, to) on created_at"
    );
}

/// Billing is per workspace: an appointment charged to one workspace can be charged to
/// another (after a reassignment), each once; `billing_event` reads each workspace's event,
/// `billing_events_for` lists them all in the order written.
pub fn billing_once_per_workspace(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (a1, a2) = tx(s, "seed", |tx| {
        tx.put_workspace(&workspace("roof_fl_003", Cents(15000)))?;
        Ok((
            seed_routed(tx, 1, "solar_ca_001", Cents(20000))?.2,
            seed_routed(tx, 2, "solar_ca_001", Cents(20000))?.2,
        ))
    });
    let first = charge(a1, "solar_ca_001", Cents(20000));
    let credit = NewBillingEvent {
        kind: BillingKind::Credit,
        amount: Cents(-20000),
        created_at: at(40),
        ..first.clone()
    };
    let second = NewBillingEvent {
        created_at: at(60),
        ..charge(a1, "roof_fl_003", Cents(15000))
    };
    let written = tx(s, "charge, credit, charge another workspace", |tx| {
        Ok((
            tx.insert_billing_event(&first)?,
            tx.insert_billing_event(&credit)?,
            tx.insert_billing_event(&second)?,
        ))
    });
    assert!(
        written.0.is_some() && written.1.is_some() && written.2.is_some(),
        "a charge to a second workspace must be written beside the first workspace's \
         charge and credit: {written:?}"
    );
    let again = tx(s, "charge the second workspace again", |tx| {
        Ok((
            tx.insert_billing_event(&charge(a1, "roof_fl_003", Cents(1)))?,
            tx.insert_billing_event(&charge(a1, "solar_ca_001", Cents(1)))?,
        ))
    });
    assert_eq!(
        again,
        (None, None),
        "a second charge of the same appointment to the same workspace is ignored"
    );
    let (by_ws, none, all, other) = tx(s, "read back", |tx| {
        Ok((
            (
                tx.billing_event(a1, "solar_ca_001", BillingKind::Charge)?,
                tx.billing_event(a1, "roof_fl_003", BillingKind::Charge)?,
            ),
            tx.billing_event(a1, "roof_fl_003", BillingKind::Credit)?,
            tx.billing_events_for(a1)?,
            tx.billing_events_for(a2)?,
        ))
    });
    assert_eq!(
        by_ws,
        (Some(first.clone()), Some(second.clone())),
        "billing_event reads the event of the workspace asked for"
    );
    assert_eq!(none, None, "the second workspace has no credit");
    assert_eq!(
        all,
        vec![first, credit, second],
        "billing_events_for lists an appointment's events in the order written"
    );
    assert!(
        other.is_empty(),
        "an appointment never billed has no events"
    );
    let n = tx(s, "counts", |tx| Ok(tx.reports().counts()?));
    assert_eq!((n.billing_events, n.billed), (3, Cents(15000)));
}
