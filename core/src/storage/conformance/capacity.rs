//! Capacity counters and rule routing state: [`CapacityRepo`] and [`RoutingStateRepo`].

use super::*;

/// Counters start at zero, add (also negative deltas), are per key, and roll back.
pub fn capacity_counters(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let k = "workspace:solar_ca_001:day:2025-03-14T07:00:00Z";
    assert_eq!(
        tx(s, "empty", |tx| Ok(tx.counter(k)?)),
        (0, Cents(0)),
        "a missing counter reads as zero"
    );
    tx(s, "add", |tx| {
        tx.add_to_counter(k, 1, Cents(20000))?;
        tx.add_to_counter(k, 2, Cents(500))?;
        Ok(tx.add_to_counter("rule:1:hour:2025-03-14T15:00:00Z", 1, Cents(0))?)
    });
    assert_eq!(tx(s, "read", |tx| Ok(tx.counter(k)?)), (3, Cents(20500)));
    tx(s, "give back", |tx| {
        Ok(tx.add_to_counter(k, -1, Cents(-20000))?)
    });
    assert_eq!(tx(s, "read", |tx| Ok(tx.counter(k)?)), (2, Cents(500)));
    let rolled = with_tx(s, |tx| {
        tx.add_to_counter(k, 5, Cents(1))?;
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    assert!(rolled.is_err());
    assert_eq!(
        tx(s, "after rollback", |tx| Ok(tx.counter(k)?)),
        (2, Cents(500)),
        "a rolled-back increment must not count"
    );
    assert_eq!(
        tx(s, "other key", |tx| Ok(
            tx.counter("rule:1:hour:2025-03-14T15:00:00Z")?
        )),
        (1, Cents(0))
    );
}

/// `try_consume` takes from every counter only when all stay within their limits, counts
/// from zero for a missing counter, leaves everything unchanged when one refuses, and lets
/// the transaction go on after a refusal.
pub fn try_consume_all_or_nothing(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let day = "workspace:w:day:2025-03-14T07:00:00Z";
    let month = "workspace:w:month:2025-03-01T08:00:00Z";
    let limit = |key: &str, count: Option<i64>, cents: Option<i64>| CounterLimit {
        key: key.to_string(),
        max_count: count,
        max_amount: cents.map(Cents),
    };
    let both = [limit(day, Some(2), None), limit(month, None, Some(30_000))];
    let takes = tx(s, "take", |tx| {
        Ok([
            tx.try_consume(&both, 1, Cents(10_000))?,
            tx.try_consume(&both, 1, Cents(10_000))?,
            // The day cap is reached: nothing is taken from the month either.
            tx.try_consume(&both, 1, Cents(10_000))?,
        ])
    });
    assert_eq!(takes, [true, true, false]);
    let read = |s: &dyn Store| tx(s, "read", |tx| Ok((tx.counter(day)?, tx.counter(month)?)));
    assert_eq!(read(s), ((2, Cents(20_000)), (2, Cents(20_000))));
    // The budget refuses the second counter after the first was taken: the first is undone.
    let next_day = [
        limit("workspace:w:day:2025-03-15T07:00:00Z", Some(2), None),
        limit(month, None, Some(30_000)),
    ];
    let (refused, after) = tx(s, "budget", |tx| {
        let refused = !tx.try_consume(&next_day, 1, Cents(15_000))?;
        // The transaction goes on after a refusal.
        let after = tx.try_consume(&next_day, 1, Cents(10_000))?;
        Ok((refused, after))
    });
    assert!(
        refused && after,
        "refused over budget, then a smaller take fits"
    );
    assert_eq!(
        tx(s, "read", |tx| Ok(
            tx.counter("workspace:w:day:2025-03-15T07:00:00Z")?
        )),
        (1, Cents(10_000)),
        "the refused take left no trace on the first counter"
    );
    // A limit of zero refuses even a missing counter; no limit always takes.
    let zero = tx(s, "zero", |tx| {
        Ok((
            tx.try_consume(&[limit("rate:provider:p:0", Some(0), None)], 1, Cents(0))?,
            tx.try_consume(&[limit("rate:provider:p:0", None, None)], 1, Cents(0))?,
        ))
    });
    assert_eq!(zero, (false, true));
}

/// Rule routing state defaults to zero / never, upserts, and rolls back.
pub fn rule_routing_state(make: MakeStore<'_>) {
    use crate::storage::RuleRoutingState;
    let store = make();
    let s = &*store;
    assert_eq!(
        tx(s, "default", |tx| Ok(tx.rule_routing_state(7)?)),
        RuleRoutingState::default()
    );
    let st = RuleRoutingState {
        current_weight: -3,
        last_routed_at: Some(at(30)),
    };
    tx(s, "put", |tx| Ok(tx.put_rule_routing_state(7, &st)?));
    assert_eq!(tx(s, "get", |tx| Ok(tx.rule_routing_state(7)?)), st);
    let st2 = RuleRoutingState {
        current_weight: 4,
        last_routed_at: None,
    };
    let rolled = with_tx(s, |tx| {
        tx.put_rule_routing_state(7, &st2)?;
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    assert!(rolled.is_err());
    assert_eq!(
        tx(s, "after rollback", |tx| Ok(tx.rule_routing_state(7)?)),
        st
    );
    tx(s, "replace", |tx| Ok(tx.put_rule_routing_state(7, &st2)?));
    assert_eq!(tx(s, "replaced", |tx| Ok(tx.rule_routing_state(7)?)), st2);
}
