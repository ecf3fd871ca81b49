-- leadroute-sqlite schema, version 9: the appointment's life after delivery (lifecycle, returns,
-- Cal.com bookings, reprocessing of rejections) and an ordered, per-event outbox.
--
-- Changed tables:
--   appointments     the lifecycle (lifecycle_status, reschedule_count, outcome,
--                    cancellation_reason, reschedule_requested, status_changed_at) and the seed's
--                    other fields (end_time, duration_minutes, appointment_type, location_type,
--                    location_address, customer_notes, next_action, next_action_date,
--                    cal_booking_uid). `appointments.status` keeps its meaning, the ROUTING status
--                    (routed / unrouted), which every query and CHECK of versions 1 to 8 relies
--                    on; the lifecycle status is the new lifecycle_status column.
--   lead_rejections  lead_id (the lead a reprocessed rejection became) and reprocessed_at.
--   workspaces       return_policy (JSON ReturnPolicy). DeliveryOptions.events lives in the
--                    existing `delivery` JSON column and needs no change.
--   deliveries       event (the webhook event type) and sequence (its place among the
--                    appointment's deliveries), retry_base (the attempt count at the last
--                    redelivery); UNIQUE (appointment_id, sequence) replaces UNIQUE (appointment_id).
--   billing_events   UNIQUE (appointment_id, workspace_id, kind) replaces UNIQUE (appointment_id,
--                    kind): an appointment reassigned after a return is charged once per workspace.
-- New tables:
--   appointment_returns     one return per (appointment, workspace), pending until decided.
--   calcom_booking_events   Cal.com webhook deliveries as received, once per (webhook, event key).
--   calcom_booking_links    booking uid -> appointment (the uid lineage of reschedules).
--
-- Schema invariants after this migration: version 7's, except that the first two replace
-- "one delivery per appointment" and "one charge per appointment", and the last three are new:
--   one delivery per (appointment, sequence)    deliveries            UNIQUE (appointment_id, sequence), UNIQUE (webhook_id)
--   one charge per (appointment, workspace)     billing_events        UNIQUE (appointment_id, workspace_id, kind)
--   one return per (appointment, workspace)     appointment_returns   UNIQUE (appointment_id, workspace_id)
--   one stored Cal.com event per (webhook, key) calcom_booking_events UNIQUE (webhook_id, event_key)
--   a booking uid belongs to one appointment    calcom_booking_links  PRIMARY KEY (uid)
--
-- SQLite cannot drop an inline UNIQUE, so deliveries and billing_events are rebuilt with the
-- 12-step procedure (https://sqlite.org/lang_altertable.html, "Making Other Kinds Of Table
-- Schema Changes"), as versions 2 and 7 rebuilt their tables. The migration runner turns
-- `foreign_keys` OFF before this transaction and runs `PRAGMA foreign_key_check` before
-- committing. delivery_attempts references deliveries (id); ids are copied (plain INTEGER
-- PRIMARY KEY, no AUTOINCREMENT), so its rows keep their delivery. Neither table has triggers
-- or views; their indexes are recreated below. Existing deliveries were all the appointment's
-- own delivery: event 'appointment.created', sequence 0, retry_base 0.

-- appointments -------------------------------------------------------------------------------

ALTER TABLE appointments ADD COLUMN lifecycle_status TEXT NOT NULL DEFAULT 'scheduled'
    CHECK (lifecycle_status IN ('scheduled', 'confirmed', 'completed', 'cancelled', 'no_show',
                                'rescheduled'));
ALTER TABLE appointments ADD COLUMN reschedule_count INTEGER NOT NULL DEFAULT 0
    CHECK (reschedule_count >= 0);
ALTER TABLE appointments ADD COLUMN outcome TEXT;
ALTER TABLE appointments ADD COLUMN cancellation_reason TEXT;
ALTER TABLE appointments ADD COLUMN reschedule_requested INTEGER NOT NULL DEFAULT 0
    CHECK (reschedule_requested IN (0, 1));
ALTER TABLE appointments ADD COLUMN status_changed_at TEXT;   -- NULL: the status at creation
ALTER TABLE appointments ADD COLUMN end_time TEXT;
ALTER TABLE appointments ADD COLUMN duration_minutes INTEGER
    CHECK (duration_minutes IS NULL OR duration_minutes >= 0);
ALTER TABLE appointments ADD COLUMN appointment_type TEXT;
ALTER TABLE appointments ADD COLUMN location_type TEXT;       -- free text: in_person, phone, ...
ALTER TABLE appointments ADD COLUMN location_address TEXT;
ALTER TABLE appointments ADD COLUMN customer_notes TEXT;
ALTER TABLE appointments ADD COLUMN next_action TEXT;
ALTER TABLE appointments ADD COLUMN next_action_date TEXT;    -- calendar date, YYYY-MM-DD
ALTER TABLE appointments ADD COLUMN cal_booking_uid TEXT;     -- the uid it was created from

-- lead_rejections ----------------------------------------------------------------------------

-- Set by mark_rejection_reprocessed; a rejection with a lead_id is no longer listed for
-- reprocessing. release_rejection deletes its source_records claim instead.
ALTER TABLE lead_rejections ADD COLUMN lead_id INTEGER REFERENCES leads (id);
ALTER TABLE lead_rejections ADD COLUMN reprocessed_at TEXT;

-- workspaces ---------------------------------------------------------------------------------

-- JSON ReturnPolicy: window_days, allowed_reasons, max_per_period, review, credit_no_show,
-- credit_late_cancel_hours. '{}' is the default policy (any reason, any time, no review).
ALTER TABLE workspaces ADD COLUMN return_policy TEXT NOT NULL DEFAULT '{}';

-- deliveries ---------------------------------------------------------------------------------

CREATE TABLE deliveries_v9 (
    id              INTEGER PRIMARY KEY,
    appointment_id  INTEGER NOT NULL REFERENCES appointments (id),
    event           TEXT NOT NULL DEFAULT 'appointment.created'
                    CHECK (event IN ('appointment.created', 'appointment.confirmed',
                                     'appointment.rescheduled', 'appointment.cancelled',
                                     'appointment.completed', 'appointment.no_show')),
    sequence        INTEGER NOT NULL DEFAULT 0 CHECK (sequence >= 0),
    workspace_id    TEXT NOT NULL,
    webhook_id      TEXT NOT NULL UNIQUE,
    url             TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'success', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    retry_base      INTEGER NOT NULL DEFAULT 0 CHECK (retry_base >= 0),
    next_attempt_at TEXT NOT NULL,
    locked_until    TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    -- Its index also serves deliveries_for_appointment (by sequence) without a sort.
    UNIQUE (appointment_id, sequence)
) STRICT;

INSERT INTO deliveries_v9 (id, appointment_id, event, sequence, workspace_id, webhook_id, url,
                           payload, status, attempts, retry_base, next_attempt_at, locked_until,
                           created_at, updated_at)
SELECT id, appointment_id, 'appointment.created', 0, workspace_id, webhook_id, url, payload,
       status, attempts, 0, next_attempt_at, locked_until, created_at, updated_at
FROM deliveries ORDER BY id;

DROP TABLE deliveries;
ALTER TABLE deliveries_v9 RENAME TO deliveries;

CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_workspace_pending ON deliveries (workspace_id) WHERE status = 'pending';
-- The in-order claim: "is an earlier delivery of this appointment still pending?" looks up
-- only pending rows.
CREATE INDEX deliveries_pending_sequence ON deliveries (appointment_id, sequence)
    WHERE status = 'pending';

-- billing_events -----------------------------------------------------------------------------

CREATE TABLE billing_events_v9 (
    id             INTEGER PRIMARY KEY,
    appointment_id INTEGER NOT NULL REFERENCES appointments (id),
    workspace_id   TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('charge', 'credit')),
    amount_cents   INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    UNIQUE (appointment_id, workspace_id, kind)
) STRICT;

INSERT INTO billing_events_v9 (id, appointment_id, workspace_id, kind, amount_cents, created_at)
SELECT id, appointment_id, workspace_id, kind, amount_cents, created_at
FROM billing_events ORDER BY id;

DROP TABLE billing_events;
ALTER TABLE billing_events_v9 RENAME TO billing_events;

-- return_counts: a workspace's charges in a period.
CREATE INDEX billing_events_workspace ON billing_events (workspace_id, created_at);

-- appointment_returns ------------------------------------------------------------------------

-- insert_return inserts with ON CONFLICT DO NOTHING; decide_return moves a row out of
-- 'pending' with one conditional UPDATE (WHERE status = 'pending'), so a return is decided
-- once whoever races for it.
CREATE TABLE appointment_returns (
    id             INTEGER PRIMARY KEY,
    appointment_id INTEGER NOT NULL REFERENCES appointments (id),
    workspace_id   TEXT NOT NULL,
    reason         TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
    actor          TEXT NOT NULL,          -- api, client, system, or a user id
    credit_cents   INTEGER NOT NULL,       -- the credit it is worth (negative)
    requested_at   TEXT NOT NULL,
    decided_at     TEXT,
    decision_note  TEXT,
    UNIQUE (appointment_id, workspace_id)
) STRICT;

-- return_counts (a workspace's returns in a period) and billing_summary (pending returns).
CREATE INDEX appointment_returns_workspace ON appointment_returns (workspace_id, requested_at);

-- calcom_booking_events ----------------------------------------------------------------------

CREATE TABLE calcom_booking_events (
    id             INTEGER PRIMARY KEY,
    webhook_id     TEXT NOT NULL,          -- the inbound webhook config it came through
    event_key      TEXT NOT NULL,          -- (trigger, uid, createdAt): a retry has the same key
    trigger_event  TEXT NOT NULL,          -- Cal.com's triggerEvent, as sent
    uid            TEXT,
    reschedule_uid TEXT,
    created_at     TEXT NOT NULL,          -- the event's createdAt
    received_at    TEXT NOT NULL,
    body           TEXT NOT NULL,          -- the exact body received (JSON text, unparsed)
    UNIQUE (webhook_id, event_key)
) STRICT;

-- booking_events: the events of a lineage, by uid or by the uid they rescheduled.
CREATE INDEX calcom_booking_events_uid ON calcom_booking_events (uid) WHERE uid IS NOT NULL;
CREATE INDEX calcom_booking_events_reschedule_uid ON calcom_booking_events (reschedule_uid)
    WHERE reschedule_uid IS NOT NULL;

-- calcom_booking_links -----------------------------------------------------------------------

CREATE TABLE calcom_booking_links (
    uid            TEXT PRIMARY KEY NOT NULL,
    appointment_id INTEGER NOT NULL REFERENCES appointments (id)
) STRICT, WITHOUT ROWID;

-- booking_uids: every uid of an appointment, sorted.
CREATE INDEX calcom_booking_links_appointment ON calcom_booking_links (appointment_id, uid);

-- webhook_configs: a Cal.com booking webhook's settings (JSON: provider_id, products,
-- phone_field, zip_field).
ALTER TABLE webhook_configs ADD COLUMN calcom TEXT;
