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
