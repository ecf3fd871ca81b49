-- leadroute-sqlite schema, version 2: contacts known by email only, lead-level duplicates.
--
-- Schema invariants after this migration (version 1's, plus the email key):
--   one contact per (dedup scope, phone)       contacts        UNIQUE (dedup_scope, phone_e164)
--   one phone-less contact per (scope, email key)
--                                              contacts        UNIQUE INDEX contacts_email_only
--                                                              (dedup_scope, email_key) WHERE phone_e164 IS NULL
--   a contact has a phone or an email key      contacts        CHECK (phone_e164 IS NOT NULL OR email_key IS NOT NULL)
--   a duplicate lead names an existing lead    leads           duplicate_of REFERENCES leads (id)
--   one outcome per (provider, record key)     source_records  PRIMARY KEY (provider_id, record_key)
--   one appointment per lead                   appointments    UNIQUE (lead_id)
--   one delivery per appointment               deliveries      UNIQUE (appointment_id), UNIQUE (webhook_id)
--   one attempt row per attempt number         delivery_attempts UNIQUE (delivery_id, attempt_number)
--   one charge per appointment                 billing_events  UNIQUE (appointment_id, kind)
--
-- `contacts.phone_e164` becomes nullable, which SQLite's ALTER TABLE cannot do in place: the
-- table is rebuilt with the documented 12-step procedure (https://sqlite.org/lang_altertable.html,
-- "Making Other Kinds Of Table Schema Changes"). leads, appointments and contact_events
-- reference contacts (id), so the migration runner turns `foreign_keys` OFF before this
-- transaction, runs `PRAGMA foreign_key_check` before committing, and turns it back ON after.
-- contacts has no triggers or views, and no indexes besides its UNIQUE constraint.

CREATE TABLE contacts_v2 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_scope     TEXT NOT NULL,
    phone_e164      TEXT,                      -- NULL: known by email only
    phone_extension TEXT,
    email           TEXT,
    email_key       TEXT,                      -- the email's dedup key (core::email::dedup_key)
    first_name      TEXT,
    last_name       TEXT,
    zip_code        TEXT,
    created_at      TEXT NOT NULL,
    UNIQUE (dedup_scope, phone_e164),
    CHECK (phone_e164 IS NOT NULL OR email_key IS NOT NULL)
) STRICT;

-- Version 1 stored the normalized email; its dedup key is the email itself unless the engine
-- is configured with mailbox-provider rules, which version 1 did not have.
INSERT INTO contacts_v2 (id, dedup_scope, phone_e164, phone_extension, email, email_key,
                         first_name, last_name, zip_code, created_at)
SELECT id, dedup_scope, phone_e164, phone_extension, email, email,
       first_name, last_name, zip_code, created_at
FROM contacts ORDER BY id;

-- AUTOINCREMENT never reuses an id, even of a deleted row: carry the old high-water mark over
-- (DROP TABLE deletes contacts' sqlite_sequence row; RENAME renames contacts_v2's).
DELETE FROM sqlite_sequence WHERE name = 'contacts_v2';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'contacts_v2', MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'contacts'), 0),
                          COALESCE((SELECT MAX(id) FROM contacts_v2), 0));

DROP TABLE contacts;
ALTER TABLE contacts_v2 RENAME TO contacts;

-- A contact without a phone is unique by its email key; contacts with a phone may share one.
CREATE UNIQUE INDEX contacts_email_only ON contacts (dedup_scope, email_key)
    WHERE phone_e164 IS NULL;
-- contact_by_email_key: the lowest id with this key, with or without a phone.
CREATE INDEX contacts_email_key ON contacts (dedup_scope, email_key);

-- Lead-level duplicates: a duplicate links its original and has status 'duplicate'.
ALTER TABLE leads ADD COLUMN duplicate_of INTEGER REFERENCES leads (id);

-- latest_original_lead: (contact, product) then newest first. It also serves every look-up
-- by contact_id, so it replaces version 1's leads_contact.
CREATE INDEX leads_contact_product ON leads (contact_id, product_type, received_at);
DROP INDEX leads_contact;

-- Per-workspace duplicate window in days; NULL uses the engine's global window.
ALTER TABLE workspaces ADD COLUMN duplicate_window_days INTEGER
    CHECK (duplicate_window_days IS NULL OR duplicate_window_days >= 0);
