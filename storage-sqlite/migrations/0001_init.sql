-- leadroute-sqlite schema, version 1.
--
-- Table and column names follow the seed schema. Times are RFC 3339 UTC text in one fixed
-- format (`YYYY-MM-DDTHH:MM:SS.ffffffZ`, always six fractional digits), so text order is time
-- order. Money is integer cents. JSON columns hold serde_json text.
--
-- Every storage invariant is a constraint here, so that two processes sharing the file cannot
-- break it:
--   one contact per (dedup scope, phone)       contacts        UNIQUE (dedup_scope, phone_e164)
--   one outcome per (provider, record key)     source_records  PRIMARY KEY (provider_id, record_key)
--   one appointment per lead                   appointments    UNIQUE (lead_id)
--   one delivery per appointment               deliveries      UNIQUE (appointment_id), UNIQUE (webhook_id)
--   one attempt row per attempt number         delivery_attempts UNIQUE (delivery_id, attempt_number)
--   one charge per appointment                 billing_events  UNIQUE (appointment_id, kind)

CREATE TABLE lead_source_providers (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL,
    lead_types          TEXT NOT NULL DEFAULT '[]',   -- JSON array of lowercase lead types
    format              TEXT NOT NULL CHECK (format IN ('json', 'csv')),
    field_map           TEXT NOT NULL DEFAULT '{}',   -- JSON object: canonical -> provider field
    rate_limit_per_hour INTEGER CHECK (rate_limit_per_hour IS NULL OR rate_limit_per_hour >= 0),
    is_active           INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
) STRICT;

CREATE TABLE workspaces (
    id                   TEXT PRIMARY KEY NOT NULL,
    name                 TEXT NOT NULL,
    outbound_webhook_url TEXT NOT NULL,
    webhook_active       INTEGER NOT NULL DEFAULT 1 CHECK (webhook_active IN (0, 1)),
    business_type        TEXT,
    payment_rate_cents   INTEGER NOT NULL DEFAULT 0,
    timezone             TEXT,
    webhook_secret       TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
) STRICT;

CREATE TABLE appointment_routing_rules (
    id            INTEGER PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id),
    product_types TEXT NOT NULL DEFAULT '[]',   -- JSON array
    zip_codes     TEXT NOT NULL DEFAULT '[]',   -- JSON array of ZIP5
    priority      INTEGER NOT NULL,
    is_active     INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    notes         TEXT
) STRICT;

CREATE INDEX appointment_routing_rules_workspace ON appointment_routing_rules (workspace_id);

CREATE TABLE contacts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_scope     TEXT NOT NULL,
    phone_e164      TEXT NOT NULL,
    phone_extension TEXT,
    email           TEXT,
    first_name      TEXT,
    last_name       TEXT,
    zip_code        TEXT,
    created_at      TEXT NOT NULL,
    UNIQUE (dedup_scope, phone_e164)
) STRICT;

-- One stored outcome per (provider, record key) across leads AND lead_rejections: a key is
-- claimed here first, in the same savepoint as the lead or rejection row it points to.
CREATE TABLE source_records (
    provider_id  TEXT NOT NULL,
    record_key   TEXT NOT NULL,
    lead_id      INTEGER REFERENCES leads (id),
    rejection_id INTEGER REFERENCES lead_rejections (id),
    PRIMARY KEY (provider_id, record_key),
    CHECK (lead_id IS NULL OR rejection_id IS NULL)
) STRICT, WITHOUT ROWID;

CREATE TABLE leads (
    id               INTEGER PRIMARY KEY,
    contact_id       INTEGER NOT NULL REFERENCES contacts (id),
    provider_id      TEXT NOT NULL,
    record_key       TEXT NOT NULL,
    external_id      TEXT,
    product_type     TEXT NOT NULL,
    zip_code         TEXT NOT NULL,
    appointment_date TEXT,
    estimated_value  REAL,                         -- dollars, as sent by the provider
    tcpa_consent     INTEGER CHECK (tcpa_consent IS NULL OR tcpa_consent IN (0, 1)),
    fields           TEXT NOT NULL DEFAULT '{}',   -- JSON object
    warnings         TEXT NOT NULL DEFAULT '[]',   -- JSON array of snake_case codes
    raw_payload      TEXT NOT NULL,
    received_at      TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'new',
    UNIQUE (provider_id, record_key)
) STRICT;

CREATE INDEX leads_contact ON leads (contact_id);

CREATE TABLE lead_rejections (
    id           INTEGER PRIMARY KEY,
    provider_id  TEXT NOT NULL,
    record_key   TEXT NOT NULL,
    reason_codes TEXT NOT NULL DEFAULT '[]',   -- JSON array of snake_case codes
    details      TEXT NOT NULL DEFAULT '[]',   -- JSON array, same order as reason_codes
    raw_payload  TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    UNIQUE (provider_id, record_key)
) STRICT;

CREATE TABLE appointments (
    id                 INTEGER PRIMARY KEY,
    lead_id            INTEGER NOT NULL UNIQUE REFERENCES leads (id),
    contact_id         INTEGER NOT NULL REFERENCES contacts (id),
    service_type       TEXT NOT NULL,
    zip_code           TEXT NOT NULL,
    appointment_date   TEXT NOT NULL,
    estimated_value    REAL,
    notes              TEXT,
    workspace_id       TEXT REFERENCES workspaces (id),
    routing_rule_id    INTEGER,
    routing_method     TEXT CHECK (routing_method IS NULL OR routing_method IN ('auto', 'manual')),
    matched_at         TEXT,
    payment_rate_cents INTEGER,
    unrouted_reason    TEXT,
    status             TEXT NOT NULL CHECK (status IN ('routed', 'unrouted')),
    forward_status     TEXT NOT NULL DEFAULT 'pending'
                       CHECK (forward_status IN ('pending', 'success', 'failed')),
    forward_attempts   INTEGER NOT NULL DEFAULT 0 CHECK (forward_attempts >= 0),
    forwarded_at       TEXT,
    forward_response   TEXT,
    created_at         TEXT NOT NULL,
    CHECK (status <> 'routed' OR (workspace_id IS NOT NULL AND routing_method IS NOT NULL
                                  AND matched_at IS NOT NULL AND payment_rate_cents IS NOT NULL
                                  AND unrouted_reason IS NULL)),
    CHECK (status <> 'unrouted' OR (unrouted_reason IS NOT NULL AND workspace_id IS NULL))
) STRICT;

CREATE INDEX appointments_workspace ON appointments (workspace_id);

-- The outbox. A row is claimable when status = 'pending', next_attempt_at <= now and its lease
-- (locked_until) is unset or expired.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    appointment_id  INTEGER NOT NULL UNIQUE REFERENCES appointments (id),
    workspace_id    TEXT NOT NULL,
    webhook_id      TEXT NOT NULL UNIQUE,
    url             TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'success', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT NOT NULL,
    locked_until    TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;

CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);

CREATE TABLE delivery_attempts (
    id               INTEGER PRIMARY KEY,
    delivery_id      INTEGER NOT NULL REFERENCES deliveries (id),
    attempt_number   INTEGER NOT NULL CHECK (attempt_number >= 0),
    requested_at     TEXT NOT NULL,
    duration_ms      INTEGER NOT NULL CHECK (duration_ms >= 0),
    status_code      INTEGER,
    error            TEXT,
    response_excerpt TEXT,
    UNIQUE (delivery_id, attempt_number)
) STRICT;

CREATE TABLE billing_events (
    id             INTEGER PRIMARY KEY,
    appointment_id INTEGER NOT NULL REFERENCES appointments (id),
    workspace_id   TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('charge', 'credit')),
    amount_cents   INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    UNIQUE (appointment_id, kind)
) STRICT;

CREATE TABLE contact_events (
    id         INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    event_type TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}',   -- JSON
    created_at TEXT NOT NULL
) STRICT;

CREATE INDEX contact_events_subject ON contact_events (contact_id, id);

CREATE TABLE lead_events (
    id         INTEGER PRIMARY KEY,
    lead_id    INTEGER NOT NULL REFERENCES leads (id),
    event_type TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}',   -- JSON
    created_at TEXT NOT NULL
) STRICT;

CREATE INDEX lead_events_subject ON lead_events (lead_id, id);

CREATE TABLE appointment_events (
    id             INTEGER PRIMARY KEY,
    appointment_id INTEGER NOT NULL REFERENCES appointments (id),
    event_type     TEXT NOT NULL,
    detail         TEXT NOT NULL DEFAULT '{}',   -- JSON
    created_at     TEXT NOT NULL
) STRICT;

CREATE INDEX appointment_events_subject ON appointment_events (appointment_id, id);
