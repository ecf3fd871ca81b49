-- leadroute-sqlite schema, version 6: webhook endpoint health (issue 5).
--
-- One row per workspace endpoint that has failed or been disabled: failures in a row, the end
-- of the current pause, and whether a `410 Gone` disabled it. No row means healthy.

CREATE TABLE endpoint_health (
    workspace_id         TEXT PRIMARY KEY NOT NULL REFERENCES workspaces (id),
    consecutive_failures INTEGER NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    paused_until         TEXT,
    disabled             INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    disabled_reason      TEXT
) STRICT;

CREATE INDEX deliveries_workspace_pending ON deliveries (workspace_id) WHERE status = 'pending';
