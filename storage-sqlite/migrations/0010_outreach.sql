-- leadroute-sqlite schema, version 10: outreach. The contact queue (leads waiting to be
-- called) with its attempts, the suppression list, and the scheduled-messages outbox
-- (confirmations and reminders) with its send log. Only new tables and indexes: no existing
-- table changes, so no rebuild.
--
-- New tables:
--   contact_queue       one entry per lead, claimed by workers with a lease.
--   contact_attempts    one row per call attempt of a queued lead.
--   suppression_list    numbers (by SHA-256 of the E.164 text) never to contact.
--   scheduled_messages  messages about an appointment, claimed by senders with a lease.
--   message_logs        one row per send try of a message.
--
-- Schema invariants added by this migration:
--   one queue entry per lead                   contact_queue       PRIMARY KEY (lead_id)
--   one row per attempt number of a lead       contact_attempts    UNIQUE (lead_id, attempt_number)
--   a number is listed once                    suppression_list    PRIMARY KEY (phone_sha256)
--   one log row per try number of a message    message_logs        UNIQUE (message_id, try_number)
--
-- Times are fixed-width RFC 3339 UTC text (see the crate docs), so `<=` on them is time order.

-- contact_queue -----------------------------------------------------------------------------

-- enqueue_contact inserts with ON CONFLICT (lead_id) DO NOTHING. claim_contacts leases due
-- entries with one UPDATE ... WHERE lead_id IN (...) RETURNING (status 'attempting', worker,
-- locked_until); defer_contact and record_contact_attempt clear the lease and the worker, so
-- only 'attempting' entries are ever leased.
CREATE TABLE contact_queue (
    lead_id         INTEGER PRIMARY KEY NOT NULL REFERENCES leads (id),
    contact_id      INTEGER NOT NULL REFERENCES contacts (id),
    phone_e164      TEXT,                  -- the number to call, if the lead has one
    zip_code        TEXT NOT NULL,         -- ZIP5
    lead_type       TEXT NOT NULL,         -- lowercase vertical
    received_at     TEXT NOT NULL,         -- the start of speed to lead
    next_attempt_at TEXT NOT NULL,
    suppressed      INTEGER NOT NULL DEFAULT 0 CHECK (suppressed IN (0, 1)),
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'attempting', 'no_answer', 'scheduled',
                                      'not_interested', 'unreachable', 'do_not_contact')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_attempt_at TEXT,
    worker          TEXT,                  -- the worker holding the lease
    locked_until    TEXT,                  -- lease expiry, while 'attempting'
    hold_reason     TEXT                   -- quiet_hours, unknown_zone, attempt_limit_24h, ...
) STRICT;

-- The claim's two due sets, each read in claim order from the front of its own partial index
-- (so a claim touches about `limit` entries however long the queue is):
--   waiting entries, by next_attempt_at (the rowid lead_id breaks ties in index order);
CREATE INDEX contact_queue_due ON contact_queue (next_attempt_at, lead_id)
    WHERE status IN ('pending', 'no_answer');
--   entries being attempted, by lease expiry (an expired lease: its worker died).
CREATE INDEX contact_queue_leased ON contact_queue (locked_until)
    WHERE status = 'attempting';
-- contact_attempt_times: the leads of one contact.
CREATE INDEX contact_queue_contact ON contact_queue (contact_id);
-- contact_timelines: the leads received in a range.
CREATE INDEX contact_queue_received ON contact_queue (received_at);

-- contact_attempts --------------------------------------------------------------------------

-- The UNIQUE index (lead_id, attempt_number) also serves a lead's attempts in order and the
-- per-lead lookups of contact_attempt_times and contact_timelines.
CREATE TABLE contact_attempts (
    id             INTEGER PRIMARY KEY,
    lead_id        INTEGER NOT NULL REFERENCES contact_queue (lead_id),
    attempt_number INTEGER NOT NULL CHECK (attempt_number >= 0),   -- 1-based by convention
    attempted_at   TEXT NOT NULL,
    outcome        TEXT NOT NULL
                   CHECK (outcome IN ('no_answer', 'scheduled', 'not_interested',
                                      'unreachable', 'do_not_contact')),
    notes          TEXT,
    worker         TEXT,
    UNIQUE (lead_id, attempt_number)
) STRICT;

-- suppression_list --------------------------------------------------------------------------

-- suppress inserts with ON CONFLICT (phone_sha256) DO NOTHING.
CREATE TABLE suppression_list (
    phone_sha256 TEXT PRIMARY KEY NOT NULL,  -- lowercase hex SHA-256 of the E.164 text
    phone_e164   TEXT,                       -- the number in clear, when known
    reason       TEXT NOT NULL,              -- opt_out, not_interested, imported
    source       TEXT,                       -- a lead id, a file name
    created_at   TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- scheduled_messages ------------------------------------------------------------------------

-- claim_due_messages leases pending due rows with one UPDATE ... WHERE id IN (...) RETURNING,
-- as claim_due_deliveries does; a claimed row stays 'pending' with locked_until set until
-- record_message_try clears the lease.
CREATE TABLE scheduled_messages (
    id             INTEGER PRIMARY KEY,
    appointment_id INTEGER NOT NULL REFERENCES appointments (id),
    lead_id        INTEGER NOT NULL REFERENCES leads (id),
    kind           TEXT NOT NULL CHECK (kind IN ('confirmation', 'reminder')),
    recipient      TEXT NOT NULL,         -- E.164 phone
    -- JSON object the transport renders (appointment time, workspace, kind, offset).
    body           TEXT NOT NULL,
    send_at        TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'sent', 'failed', 'cancelled', 'suppressed')),
    tries          INTEGER NOT NULL DEFAULT 0 CHECK (tries >= 0),
    next_try_at    TEXT NOT NULL,         -- send_at, or the next retry
    locked_until   TEXT                   -- lease expiry while a sender holds it
) STRICT;

-- The claim: pending rows in due order (the rowid id breaks ties in index order).
CREATE INDEX scheduled_messages_due ON scheduled_messages (next_try_at)
    WHERE status = 'pending';
-- messages_for (by id) and cancel_pending_messages.
CREATE INDEX scheduled_messages_appointment ON scheduled_messages (appointment_id);

-- message_logs ------------------------------------------------------------------------------

CREATE TABLE message_logs (
    id                  INTEGER PRIMARY KEY,
    message_id          INTEGER NOT NULL REFERENCES scheduled_messages (id),
    try_number          INTEGER NOT NULL CHECK (try_number >= 0),  -- 1-based by convention
    tried_at            TEXT NOT NULL,
    status              TEXT NOT NULL
                        CHECK (status IN ('pending', 'sent', 'failed', 'cancelled',
                                          'suppressed')),
    provider_message_id TEXT,             -- the provider's id on success
    error               TEXT,             -- the error on failure
    UNIQUE (message_id, try_number)
) STRICT;

-- workspaces: the messaging policy (JSON MessagePolicy; NULL: no messages) and the booking
-- calendar (JSON Calendar; NULL: no slots).
ALTER TABLE workspaces ADD COLUMN message_policy TEXT;
ALTER TABLE workspaces ADD COLUMN calendar TEXT;
