//! Intake: [`IntakeRepo`] message ids remembered once per scope and provider usage.

use super::*;
use jiff::civil::{date, Date};

/// `remember_message` is `true` once per (scope, message id): again in the same or a later
/// transaction it is `false`; another scope or id is new; a rolled-back transaction forgets
/// what it remembered.
pub fn remember_message_once_per_scope(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    let (first, again) = tx(s, "remember", |tx| {
        Ok((
            tx.remember_message("wh_solar_ca", id, at(0))?,
            tx.remember_message("wh_solar_ca", id, at(1))?,
        ))
    });
    assert!(first, "a message id not seen before is new");
    assert!(
        !again,
        "the same (scope, id) in the same transaction is not new"
    );
    let (later, other_scope, other_id) = tx(s, "remember again", |tx| {
        Ok((
            tx.remember_message("wh_solar_ca", id, at(300))?,
            tx.remember_message("provider:provider-b", id, at(300))?,
            tx.remember_message("wh_solar_ca", "msg_2KWPBgLlAfxdpx2AI54pPJ85f1W", at(300))?,
        ))
    });
    assert!(
        !later,
        "a remembered (scope, id) is not new in a later transaction"
    );
    assert!(other_scope, "the same id in another scope is new");
    assert!(other_id, "another id in the same scope is new");

    let rolled = with_tx(s, |tx| {
        if !tx.remember_message("wh_solar_ca", "msg_rolled_back", at(400))? {
            return Err(Error::Internal(
                "conformance: expected a new message".into(),
            ));
        }
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    match rolled {
        Err(Error::Internal(m)) if m == "roll back" => {}
        other => panic!("the transaction must fail with its own error, got {other:?}"),
    }
    let after = tx(s, "remember after rollback", |tx| {
        Ok(tx.remember_message("wh_solar_ca", "msg_rolled_back", at(500))?)
    });
    assert!(
        after,
        "a message remembered in a rolled-back transaction must be new again"
    );
}

/// `add_usage` adds counts into one row per (provider, webhook, day), moves `last_lead_at`
/// only forward, and rolls back; `provider_usage` orders by day then webhook id;
/// `provider_totals` sums over all rows, with or without a provider row.
pub fn provider_usage_accumulates(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    assert_eq!(
        tx(s, "empty", |tx| Ok((
            tx.reports().provider_usage("provider-a")?,
            tx.reports().provider_totals("provider-a")?
        ))),
        (vec![], (0, None)),
        "a provider without usage has no rows and totals (0, None)"
    );
    tx(s, "provider", |tx| {
        Ok(tx.put_provider(&provider("provider-a"))?)
    });
    let u =
        |webhook: Option<&str>, day: Date, n: [u64; 5], last: Option<Timestamp>| ProviderUsage {
            provider_id: "provider-a".into(),
            webhook_id: webhook.map(str::to_string),
            day,
            requests: n[0],
            refused: n[1],
            total_leads: n[2],
            accepted: n[3],
            rejected: n[4],
            last_lead_at: last,
        };
    tx(s, "add_usage", |tx| {
        // Day 2 first, so that the order must come from the store.
        tx.add_usage(&u(
            Some("wh_solar_ca"),
            date(2025, 3, 15),
            [1, 0, 4, 3, 1],
            Some(at(86_400)),
        ))?;
        tx.add_usage(&u(
            Some("wh_solar_ca"),
            date(2025, 3, 14),
            [1, 0, 2, 2, 0],
            Some(at(60)),
        ))?;
        // A refused request only: no records, no time.
        tx.add_usage(&u(
            Some("wh_solar_ca"),
            date(2025, 3, 14),
            [0, 1, 0, 0, 0],
            None,
        ))?;
        // Direct ingestion (no webhook) sorts before every webhook id on the same day.
        tx.add_usage(&u(None, date(2025, 3, 14), [1, 0, 1, 0, 1], Some(at(30))))?;
        // Another provider's usage, with no provider row.
        tx.add_usage(&ProviderUsage {
            provider_id: "provider-ghost".into(),
            ..u(
                Some("wh_solar_ca"),
                date(2025, 3, 14),
                [1, 0, 7, 7, 0],
                Some(at(90)),
            )
        })?;
        Ok(())
    });
    tx(s, "add_usage (later transaction)", |tx| {
        // An earlier last_lead_at must not move the row's back.
        tx.add_usage(&u(
            Some("wh_solar_ca"),
            date(2025, 3, 14),
            [2, 1, 3, 1, 2],
            Some(at(10)),
        ))?;
        Ok(tx.add_usage(&u(
            Some("wh_solar_ca"),
            date(2025, 3, 15),
            [1, 0, 1, 1, 0],
            Some(at(90_000)),
        ))?)
    });
    let rows = tx(s, "provider_usage", |tx| {
        Ok(tx.reports().provider_usage("provider-a")?)
    });
    assert_eq!(
        rows,
        vec![
            u(None, date(2025, 3, 14), [1, 0, 1, 0, 1], Some(at(30))),
            u(
                Some("wh_solar_ca"),
                date(2025, 3, 14),
                [3, 2, 5, 3, 2],
                Some(at(60))
            ),
            u(
                Some("wh_solar_ca"),
                date(2025, 3, 15),
                [2, 0, 5, 4, 1],
                Some(at(90_000))
            ),
        ],
        "one row per (provider, webhook, day) with summed counts and the latest last_lead_at, \
         ordered by day then webhook id"
    );
    let totals = tx(s, "provider_totals", |tx| {
        Ok((
            tx.reports().provider_totals("provider-a")?,
            tx.reports().provider_totals("provider-ghost")?,
            tx.reports().provider_totals("provider-b")?,
        ))
    });
    assert_eq!(
        totals,
        ((11, Some(at(90_000))), (7, Some(at(90))), (0, None)),
        "provider_totals sums total_leads and takes the latest last_lead_at of the provider's \
         rows, also for usage counted without a provider row"
    );

    let rolled = with_tx(s, |tx| {
        tx.add_usage(&u(
            Some("wh_solar_ca"),
            date(2025, 3, 15),
            [5, 5, 5, 5, 0],
            Some(at(100_000)),
        ))?;
        tx.add_usage(&u(
            Some("wh_new"),
            date(2025, 3, 16),
            [1, 0, 1, 1, 0],
            Some(at(200_000)),
        ))?;
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    assert!(rolled.is_err());
    assert_eq!(
        tx(s, "after rollback", |tx| Ok((
            tx.reports().provider_usage("provider-a")?,
            tx.reports().provider_totals("provider-a")?
        ))),
        (rows, (11, Some(at(90_000)))),
        "rolled-back usage must not count"
    );
}
