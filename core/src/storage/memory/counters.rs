//! Capacity counters, routing state and endpoint health.

use super::*;

impl CapacityRepo for MemTx {
    fn counter(&self, key: &str) -> Result<(i64, Cents), StorageError> {
        self.read(|s| s.counters.get(key).copied().unwrap_or((0, Cents(0))))
    }
    fn try_consume(
        &self,
        limits: &[CounterLimit],
        count: i64,
        amount: Cents,
    ) -> Result<bool, StorageError> {
        let fits = self.read(|s| {
            limits.iter().all(|l| {
                let (c, a) = s.counters.get(&l.key).copied().unwrap_or((0, Cents(0)));
                l.max_count.is_none_or(|m| c + count <= m)
                    && l.max_amount.is_none_or(|m| a.0 + amount.0 <= m.0)
            })
        })?;
        if fits {
            for l in limits {
                self.add_to_counter(&l.key, count, amount)?;
            }
        }
        Ok(fits)
    }
    fn add_to_counter(&self, key: &str, count: i64, amount: Cents) -> Result<(), StorageError> {
        self.write(|s| {
            let (c, a) = s.counters.get(key).copied().unwrap_or((0, Cents(0)));
            let sum = (c + count, Cents(a.0 + amount.0));
            let undo = put_undoable(&mut s.counters, key.to_string(), sum, |s| &mut s.counters);
            Ok(((), undo))
        })
    }
    fn counters_in_range(
        &self,
        from_key: &str,
        to_key: &str,
    ) -> Result<Vec<(String, i64)>, StorageError> {
        self.read(|s| {
            let mut v: Vec<(String, i64)> = s
                .counters
                .iter()
                .filter(|(k, (c, _))| k.as_str() >= from_key && k.as_str() < to_key && *c != 0)
                .map(|(k, (c, _))| (k.clone(), *c))
                .collect();
            v.sort();
            v
        })
    }
}

impl RoutingStateRepo for MemTx {
    fn rule_routing_state(&self, rule_id: i64) -> Result<RuleRoutingState, StorageError> {
        self.read(|s| s.rule_state.get(&rule_id).copied().unwrap_or_default())
    }
    fn put_rule_routing_state(
        &self,
        rule_id: i64,
        state: &RuleRoutingState,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            let undo = put_undoable(&mut s.rule_state, rule_id, *state, |s| &mut s.rule_state);
            Ok(((), undo))
        })
    }
}

impl EndpointRepo for MemTx {
    fn endpoint_health(&self, workspace_id: &str) -> Result<EndpointHealth, StorageError> {
        self.read(|s| s.endpoints.get(workspace_id).cloned().unwrap_or_default())
    }
    fn put_endpoint_health(
        &self,
        workspace_id: &str,
        health: &EndpointHealth,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            let key = workspace_id.to_string();
            let undo = put_undoable(&mut s.endpoints, key, health.clone(), |s| &mut s.endpoints);
            Ok(((), undo))
        })
    }
}
