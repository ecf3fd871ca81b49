-- leadroute-sqlite schema, version 4: capacity, schedules, and routing state (issue 4).
--
--   capacity_counters    one row per (scope, owner, cap period, window start), keyed by
--                        `leadroute_core::capacity::counter_key`: appointments and cents taken
--                        in that window. Read and incremented in the same transaction as the
--                        assignment (SQLite's write lock is taken at BEGIN IMMEDIATE), so
--                        concurrent writers never over-assign the last slot.
--   routing_rule_state   tie-break state per rule (smooth weighted round-robin's current
--                        weight, last time the rule won), so restarts keep fairness.
--   workspaces.capacity, workspaces.schedule, appointment_routing_rules.capacity
--                        JSON configuration (caps, budget, weekly hours).

CREATE TABLE capacity_counters (
    counter_key  TEXT PRIMARY KEY NOT NULL,
    count        INTEGER NOT NULL DEFAULT 0,
    amount_cents INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE TABLE routing_rule_state (
    rule_id        INTEGER PRIMARY KEY NOT NULL,
    current_weight INTEGER NOT NULL DEFAULT 0,
    last_routed_at TEXT
) STRICT;

ALTER TABLE workspaces ADD COLUMN capacity TEXT NOT NULL DEFAULT '{}';
ALTER TABLE workspaces ADD COLUMN schedule TEXT;
ALTER TABLE appointment_routing_rules ADD COLUMN capacity TEXT NOT NULL DEFAULT '{}';

CREATE INDEX appointments_unrouted ON appointments (id) WHERE status = 'unrouted';
