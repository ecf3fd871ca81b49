//! Capacity counters, endpoint health and routing state (`capacity_counters`, `endpoint_health`, `routing_rule_state`).

use super::*;

impl SqlTx<'_> {
    /// Takes `count` and `amount` from one counter if it stays within `l`'s limits: one
    /// conditional UPDATE of an existing row, else an INSERT of a new row when the take alone
    /// fits. Returns whether it took.
    fn take_one(&self, l: &CounterLimit, count: i64, amount: Cents) -> Result<bool, StorageError> {
        let max_amount = l.max_amount.map(|m| m.0);
        let r = (|| {
            let updated = self.exec(
                "UPDATE capacity_counters SET count = count + ?2, amount_cents = amount_cents + ?3 \
                 WHERE counter_key = ?1 AND (?4 IS NULL OR count + ?2 <= ?4) \
                 AND (?5 IS NULL OR amount_cents + ?3 <= ?5)",
                params![l.key, count, amount.0, l.max_count, max_amount],
            )?;
            if updated == 1 {
                return Ok(true);
            }
            if self.counter_exists(&l.key)? {
                return Ok(false);
            }
            let fits =
                l.max_count.is_none_or(|m| count <= m) && max_amount.is_none_or(|m| amount.0 <= m);
            if fits {
                self.add_to_counter(&l.key, count, amount)?;
            }
            Ok(fits)
        })();
        in_op(&format!("try_consume {}", l.key), r)
    }

    /// Whether a counter row exists under `key`.
    fn counter_exists(&self, key: &str) -> Result<bool, StorageError> {
        Ok(self
            .one(
                "SELECT 1 FROM capacity_counters WHERE counter_key = ?1",
                [key],
                |_| Ok(()),
            )?
            .is_some())
    }
}

impl CapacityRepo for SqlTx<'_> {
    fn counter(&self, key: &str) -> Result<(i64, Cents), StorageError> {
        let found = self.one(
            "SELECT count, amount_cents FROM capacity_counters WHERE counter_key = ?1",
            [key],
            |r| {
                let c = Cols::new(r, "capacity_counters");
                Ok((c.get::<i64>(0)?, Cents(c.get::<i64>(1)?)))
            },
        )?;
        Ok(found.unwrap_or((0, Cents(0))))
    }

    fn try_consume(
        &self,
        limits: &[CounterLimit],
        count: i64,
        amount: Cents,
    ) -> Result<bool, StorageError> {
        for (i, l) in limits.iter().enumerate() {
            if !self.take_one(l, count, amount)? {
                // Undo the counters already taken from, in this transaction.
                for done in &limits[..i] {
                    self.add_to_counter(&done.key, -count, Cents(-amount.0))?;
                }
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn add_to_counter(&self, key: &str, count: i64, amount: Cents) -> Result<(), StorageError> {
        self.exec(
            "INSERT INTO capacity_counters (counter_key, count, amount_cents) \
             VALUES (?1, ?2, ?3) \
             ON CONFLICT (counter_key) DO UPDATE SET count = count + excluded.count, \
             amount_cents = amount_cents + excluded.amount_cents",
            params![key, count, amount.0],
        )
        .map(|_| ())
        .map_err(|e| prefix(&format!("add_to_counter {key}"), e))
    }

    fn counters_in_range(
        &self,
        from_key: &str,
        to_key: &str,
    ) -> Result<Vec<(String, i64)>, StorageError> {
        // A range scan of the primary key (the table is WITHOUT ROWID, keyed by
        // counter_key): already in key order, BINARY collation compares bytes. Counters
        // back at zero are left out, as the in-memory store does.
        self.all(
            "SELECT counter_key, count FROM capacity_counters \
             WHERE counter_key >= ?1 AND counter_key < ?2 AND count <> 0 \
             ORDER BY counter_key",
            params![from_key, to_key],
            |r| {
                let c = Cols::new(r, "capacity_counters");
                Ok((c.get(0)?, c.get(1)?))
            },
        )
        .map_err(|e| prefix("counters_in_range", e))
    }
}

impl EndpointRepo for SqlTx<'_> {
    fn endpoint_health(&self, workspace_id: &str) -> Result<EndpointHealth, StorageError> {
        let found = self.one(
            "SELECT consecutive_failures, paused_until, disabled, disabled_reason \
             FROM endpoint_health WHERE workspace_id = ?1",
            [workspace_id],
            |r| {
                let c = Cols::new(r, "endpoint_health");
                Ok(EndpointHealth {
                    consecutive_failures: c.get(0)?,
                    paused_until: c.time_opt(1)?,
                    disabled: c.get(2)?,
                    disabled_reason: c.get(3)?,
                })
            },
        )?;
        Ok(found.unwrap_or_default())
    }

    fn put_endpoint_health(
        &self,
        workspace_id: &str,
        h: &EndpointHealth,
    ) -> Result<(), StorageError> {
        self.exec(
            "INSERT INTO endpoint_health (workspace_id, consecutive_failures, paused_until, \
             disabled, disabled_reason) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (workspace_id) DO UPDATE SET \
             consecutive_failures = excluded.consecutive_failures, \
             paused_until = excluded.paused_until, disabled = excluded.disabled, \
             disabled_reason = excluded.disabled_reason",
            params![
                workspace_id,
                h.consecutive_failures,
                ts_opt(h.paused_until)?,
                h.disabled,
                h.disabled_reason
            ],
        )
        .map(|_| ())
        .map_err(|e| prefix(&format!("put_endpoint_health {workspace_id}"), e))
    }
}

impl RoutingStateRepo for SqlTx<'_> {
    fn rule_routing_state(&self, rule_id: i64) -> Result<RuleRoutingState, StorageError> {
        let found = self.one(
            "SELECT current_weight, last_routed_at FROM routing_rule_state WHERE rule_id = ?1",
            [rule_id],
            |r| {
                let c = Cols::new(r, "routing_rule_state");
                Ok(RuleRoutingState {
                    current_weight: c.get(0)?,
                    last_routed_at: c.time_opt(1)?,
                })
            },
        )?;
        Ok(found.unwrap_or_default())
    }

    fn put_rule_routing_state(
        &self,
        rule_id: i64,
        state: &RuleRoutingState,
    ) -> Result<(), StorageError> {
        self.exec(
            "INSERT INTO routing_rule_state (rule_id, current_weight, last_routed_at) \
             VALUES (?1, ?2, ?3) ON CONFLICT (rule_id) DO UPDATE SET \
             current_weight = excluded.current_weight, last_routed_at = excluded.last_routed_at",
            params![rule_id, state.current_weight, ts_opt(state.last_routed_at)?],
        )
        .map(|_| ())
        .map_err(|e| prefix(&format!("put_rule_routing_state {rule_id}"), e))
    }
}
