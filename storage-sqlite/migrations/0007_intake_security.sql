-- leadroute-sqlite schema, version 7: intake security (issue 6).
--
-- New tables:
--   webhook_configs      inbound endpoints: lead type, signing secret and scheme, rate limit.
--   inbound_messages     replay protection: one row per accepted signed (scope, message id).
--   provider_usage_log   per (provider, inbound webhook, UTC day) request and record counts.
--   lead_status_history  every change of leads.status, the first one (NULL -> 'new') included.
-- Changed tables:
--   lead_source_providers  format may be 'form'; api_key_hash (`sha256:<hex>`, never the key),
--                          allowed_webhooks (JSON array of webhook_configs ids), the provider's
--                          own signing_secret and signature_scheme, and the seed's
--                          total_leads / last_lead_at, kept current by add_usage.
--   workspaces             require_consent: only leads with TCPA consent are routed to it.
--   leads                  status_reason, status_changed_at: set with status; the triggers
--                          lead_status_initial and lead_status_change write lead_status_history.
--   lead_events            also holds the events of rejected records: lead_id becomes nullable
--                          and rejection_id (lead_rejections) is added; exactly one is set.
--
-- Schema invariants after this migration (version 2's, plus):
--   one replay-protection row per message      inbound_messages    PRIMARY KEY (scope, message_id)
--   one usage row per (provider, webhook, day) provider_usage_log  UNIQUE (provider_id, day, webhook_id)
--   a lead event has exactly one subject       lead_events         CHECK ((lead_id IS NULL) <> (rejection_id IS NULL))
--   a status change changes the status         lead_status_history CHECK (from_status IS NULL OR from_status <> to_status)
--   one contact per (dedup scope, phone)       contacts        UNIQUE (dedup_scope, phone_e164)
--   one phone-less contact per (scope, email key)
--                                              contacts        UNIQUE INDEX contacts_email_only
--   one outcome per (provider, record key)     source_records  PRIMARY KEY (provider_id, record_key)
--   one appointment per lead                   appointments    UNIQUE (lead_id)
--   one delivery per appointment               deliveries      UNIQUE (appointment_id), UNIQUE (webhook_id)
--   one attempt row per attempt number         delivery_attempts UNIQUE (delivery_id, attempt_number)
--   one charge per appointment                 billing_events  UNIQUE (appointment_id, kind)
--
-- provider_usage_log has no foreign key to lead_source_providers: usage is counted for the
-- provider id a request names, whether or not that provider row exists (as the in-memory
-- store does), and the provider's totals are the sums over its usage rows.
--
-- SQLite cannot change a CHECK or make a column nullable in place, so lead_source_providers
-- and lead_events are rebuilt with the 12-step procedure (https://sqlite.org/lang_altertable.html,
-- "Making Other Kinds Of Table Schema Changes"), as version 2 rebuilt contacts. The migration
-- runner turns `foreign_keys` OFF before this transaction and runs `PRAGMA foreign_key_check`
-- before committing. No table references either of them; neither has triggers or views;
-- lead_events' only index, lead_events_subject, is recreated. Both use plain INTEGER PRIMARY
-- KEY / TEXT ids (no AUTOINCREMENT), so copying the ids keeps them.

-- lead_source_providers ----------------------------------------------------------------------

CREATE TABLE lead_source_providers_v7 (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL,
    lead_types          TEXT NOT NULL DEFAULT '[]',   -- JSON array of lowercase lead types
    format              TEXT NOT NULL CHECK (format IN ('json', 'csv', 'form')),
    field_map           TEXT NOT NULL DEFAULT '{}',   -- JSON object: canonical -> provider field
    rate_limit_per_hour INTEGER CHECK (rate_limit_per_hour IS NULL OR rate_limit_per_hour >= 0),
    is_active           INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    api_key_hash        TEXT,                         -- `sha256:<hex>` of the API key; NULL: none
    allowed_webhooks    TEXT NOT NULL DEFAULT '[]',   -- JSON array of webhook_configs ids
    signing_secret      TEXT,                         -- the provider's own signing secret
    signature_scheme    TEXT NOT NULL DEFAULT 'github'
                        CHECK (signature_scheme IN ('github', 'cal_com', 'standard_webhooks',
                                                    'stripe')),
    total_leads         INTEGER NOT NULL DEFAULT 0 CHECK (total_leads >= 0),
    last_lead_at        TEXT,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
) STRICT;

INSERT INTO lead_source_providers_v7 (id, name, lead_types, format, field_map,
                                      rate_limit_per_hour, is_active, created_at, updated_at)
SELECT id, name, lead_types, format, field_map, rate_limit_per_hour, is_active, created_at,
       updated_at
FROM lead_source_providers ORDER BY id;

DROP TABLE lead_source_providers;
ALTER TABLE lead_source_providers_v7 RENAME TO lead_source_providers;

-- workspaces ---------------------------------------------------------------------------------

ALTER TABLE workspaces ADD COLUMN require_consent INTEGER NOT NULL DEFAULT 0
    CHECK (require_consent IN (0, 1));

-- lead_events --------------------------------------------------------------------------------

CREATE TABLE lead_events_v7 (
    id           INTEGER PRIMARY KEY,
    lead_id      INTEGER REFERENCES leads (id),
    rejection_id INTEGER REFERENCES lead_rejections (id),
    event_type   TEXT NOT NULL,
    detail       TEXT NOT NULL DEFAULT '{}',   -- JSON
    created_at   TEXT NOT NULL,
    CHECK ((lead_id IS NULL) <> (rejection_id IS NULL))
) STRICT;

INSERT INTO lead_events_v7 (id, lead_id, rejection_id, event_type, detail, created_at)
SELECT id, lead_id, NULL, event_type, detail, created_at FROM lead_events ORDER BY id;

DROP TABLE lead_events;
ALTER TABLE lead_events_v7 RENAME TO lead_events;

-- Partial: each event row has one subject, so it enters only that subject's index.
CREATE INDEX lead_events_subject ON lead_events (lead_id, id) WHERE lead_id IS NOT NULL;
CREATE INDEX lead_events_rejection ON lead_events (rejection_id, id)
    WHERE rejection_id IS NOT NULL;

-- webhook_configs ----------------------------------------------------------------------------

CREATE TABLE webhook_configs (
    id               TEXT PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL,
    lead_type        TEXT,                        -- the one lead type accepted; NULL: any
    secret           TEXT,                        -- signing secret; NULL: unsigned
    signature_scheme TEXT NOT NULL
                     CHECK (signature_scheme IN ('github', 'cal_com', 'standard_webhooks', 'stripe')),
    rate_limit       INTEGER CHECK (rate_limit IS NULL OR rate_limit >= 0),  -- per window; NULL: unlimited
    rate_window      INTEGER NOT NULL DEFAULT 3600 CHECK (rate_window >= 0), -- seconds
    is_active        INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;

-- inbound_messages ---------------------------------------------------------------------------

-- remember_message inserts with ON CONFLICT DO NOTHING: exactly one transaction, in whichever
-- process, sees a (scope, message id) as new.
CREATE TABLE inbound_messages (
    scope       TEXT NOT NULL,   -- the inbound webhook or provider the message came through
    message_id  TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (scope, message_id)
) STRICT, WITHOUT ROWID;

-- provider_usage_log -------------------------------------------------------------------------

-- The UNIQUE constraint's column order also serves provider_usage (by provider, ordered by
-- day, then webhook) without a sort.
CREATE TABLE provider_usage_log (
    id           INTEGER PRIMARY KEY,
    provider_id  TEXT NOT NULL,
    webhook_id   TEXT NOT NULL DEFAULT '',           -- '' for records ingested directly
    day          TEXT NOT NULL,                      -- UTC day, YYYY-MM-DD
    requests     INTEGER NOT NULL DEFAULT 0 CHECK (requests >= 0),
    refused      INTEGER NOT NULL DEFAULT 0 CHECK (refused >= 0),
    total_leads  INTEGER NOT NULL DEFAULT 0 CHECK (total_leads >= 0),
    accepted     INTEGER NOT NULL DEFAULT 0 CHECK (accepted >= 0),
    rejected     INTEGER NOT NULL DEFAULT 0 CHECK (rejected >= 0),
    last_lead_at TEXT,
    UNIQUE (provider_id, day, webhook_id)
) STRICT;

-- lead_status_history ------------------------------------------------------------------------

CREATE TABLE lead_status_history (
    id          INTEGER PRIMARY KEY,
    lead_id     INTEGER NOT NULL REFERENCES leads (id),
    from_status TEXT,                 -- NULL for the first row of a lead
    to_status   TEXT NOT NULL,
    reason      TEXT,
    changed_at  TEXT NOT NULL,
    CHECK (from_status IS NULL OR from_status <> to_status)
) STRICT;

CREATE INDEX lead_status_history_lead ON lead_status_history (lead_id, id);

-- Why and when leads.status last changed, for the trigger below.
ALTER TABLE leads ADD COLUMN status_reason TEXT;
ALTER TABLE leads ADD COLUMN status_changed_at TEXT;

-- Existing leads get the history they would have had: every lead started at 'new' when it was
-- received; version 2 to 6 stored duplicates directly as 'duplicate', which becomes a second
-- change at the same time.
INSERT INTO lead_status_history (lead_id, from_status, to_status, reason, changed_at)
SELECT id, NULL, 'new', NULL, received_at FROM leads ORDER BY id;
INSERT INTO lead_status_history (lead_id, from_status, to_status, reason, changed_at)
SELECT id, 'new', status, NULL, received_at FROM leads WHERE status <> 'new' ORDER BY id;

-- From now on the database keeps the history itself: a new lead's first row, and one row per
-- change of leads.status (set together with status_reason and status_changed_at).
CREATE TRIGGER lead_status_initial AFTER INSERT ON leads
BEGIN
    INSERT INTO lead_status_history (lead_id, from_status, to_status, reason, changed_at)
    VALUES (NEW.id, NULL, NEW.status, NULL, NEW.received_at);
END;

CREATE TRIGGER lead_status_change AFTER UPDATE OF status ON leads
WHEN OLD.status <> NEW.status
BEGIN
    INSERT INTO lead_status_history (lead_id, from_status, to_status, reason, changed_at)
    VALUES (NEW.id, OLD.status, NEW.status, NEW.status_reason,
            COALESCE(NEW.status_changed_at, NEW.received_at));
END;
