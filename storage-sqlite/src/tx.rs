//! The repository traits over one open SQLite transaction.

use crate::codec::{corrupt, in_op, int, json, prefix, ts, ts_opt, Cols, Db};
use jiff::Timestamp;
use leadroute_core::model::*;
use leadroute_core::routing::RoutingRule;
use leadroute_core::storage::*;
use rusqlite::{params, Connection, OptionalExtension, Row};

/// One open transaction (`BEGIN IMMEDIATE` was issued by [`crate::SqliteStore`]); implements
/// every repository trait, so it is a [`Tx`].
pub(crate) struct SqlTx<'c> {
    pub(crate) conn: &'c Connection,
}

/// Wall-clock time for bookkeeping columns (`created_at`/`updated_at` of mutable rows).
fn now() -> Result<String, StorageError> {
    ts(Timestamp::now())
}

impl SqlTx<'_> {
    /// Executes one cached statement.
    fn exec(&self, sql: &str, p: impl rusqlite::Params) -> Result<usize, StorageError> {
        self.conn.prepare_cached(sql).db()?.execute(p).db()
    }

    /// Runs `f` inside a savepoint: a method that writes several rows writes all or none, so
    /// a caller that handles its `Conflict` and commits leaves no half-written outcome behind.
    fn atomic<T>(&self, f: impl FnOnce() -> Result<T, StorageError>) -> Result<T, StorageError> {
        self.exec("SAVEPOINT leadroute_call", [])?;
        match f() {
            Ok(v) => {
                self.exec("RELEASE leadroute_call", [])?;
                Ok(v)
            }
            Err(e) => {
                let undo = self
                    .exec("ROLLBACK TO leadroute_call", [])
                    .and_then(|_| self.exec("RELEASE leadroute_call", []));
                match undo {
                    Ok(_) => Err(e),
                    Err(u) => Err(StorageError::backend(format!(
                        "{e}; then rolling back to the savepoint failed: {u}"
                    ))),
                }
            }
        }
    }

    /// Collects all rows of a cached query, decoding each with `f`.
    fn all<T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        f: impl Fn(&Row<'_>) -> Result<T, StorageError>,
    ) -> Result<Vec<T>, StorageError> {
        let mut stmt = self.conn.prepare_cached(sql).db()?;
        let mut rows = stmt.query(p).db()?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().db()? {
            out.push(f(row)?);
        }
        Ok(out)
    }

    /// The first row of a cached query, if any, decoded with `f`.
    fn one<T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        f: impl Fn(&Row<'_>) -> Result<T, StorageError>,
    ) -> Result<Option<T>, StorageError> {
        let mut stmt = self.conn.prepare_cached(sql).db()?;
        // The inner result carries decoding errors out of rusqlite's closure untouched.
        stmt.query_row(p, |row| Ok(f(row)))
            .optional()
            .db()?
            .transpose()
    }
}

// ---------------------------------------------------------------------------------------------
// Providers, workspaces, rules

const PROVIDER_COLS: &str = "id, name, lead_types, format, field_map, rate_limit_per_hour, \
                             is_active, api_key_hash, allowed_webhooks, signing_secret, \
                             signature_scheme";

fn provider_row(r: &Row<'_>) -> Result<Provider, StorageError> {
    let c = Cols::new(r, "lead_source_providers");
    let format: String = c.get(3)?;
    let format = RecordFormat::parse(&format)
        .ok_or_else(|| corrupt(format!("lead_source_providers: unknown format {format:?}")))?;
    Ok(Provider {
        id: c.get(0)?,
        name: c.get(1)?,
        lead_types: c.json(2)?,
        format,
        field_map: c.json(4)?,
        rate_limit_per_hour: c.get(5)?,
        is_active: c.get(6)?,
        api_key_hash: c.get(7)?,
        allowed_webhooks: c.json(8)?,
        signing_secret: c.get(9)?,
        signature_scheme: {
            let s: String = c.get(10)?;
            leadroute_core::auth::SignatureScheme::parse(&s).ok_or_else(|| {
                corrupt(format!(
                    "lead_source_providers: unknown signature scheme {s:?}"
                ))
            })?
        },
    })
}

impl ProviderRepo for SqlTx<'_> {
    fn put_provider(&self, p: &Provider) -> Result<(), StorageError> {
        let r = (|| {
            // Only the configuration columns are replaced: total_leads and last_lead_at belong
            // to add_usage. A new row starts from the usage already counted for its id.
            self.exec(
                "INSERT INTO lead_source_providers (id, name, lead_types, format, field_map, \
                 rate_limit_per_hour, is_active, api_key_hash, allowed_webhooks, signing_secret, \
                 signature_scheme, total_leads, last_lead_at, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?9, ?10, ?11, ?12, \
                 (SELECT COALESCE(SUM(total_leads), 0) FROM provider_usage_log \
                  WHERE provider_id = ?1), \
                 (SELECT MAX(last_lead_at) FROM provider_usage_log WHERE provider_id = ?1), \
                 ?8, ?8) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                 lead_types = excluded.lead_types, format = excluded.format, \
                 field_map = excluded.field_map, \
                 rate_limit_per_hour = excluded.rate_limit_per_hour, \
                 is_active = excluded.is_active, api_key_hash = excluded.api_key_hash, \
                 allowed_webhooks = excluded.allowed_webhooks, \
                 signing_secret = excluded.signing_secret, \
                 signature_scheme = excluded.signature_scheme, \
                 updated_at = excluded.updated_at",
                params![
                    p.id,
                    p.name,
                    json(&p.lead_types)?,
                    p.format.as_str(),
                    json(&p.field_map)?,
                    p.rate_limit_per_hour,
                    p.is_active,
                    now()?,
                    p.api_key_hash,
                    json(&p.allowed_webhooks)?,
                    p.signing_secret,
                    p.signature_scheme.as_str()
                ],
            )?;
            Ok(())
        })();
        in_op("put_provider", r)
    }

    fn provider(&self, id: &str) -> Result<Option<Provider>, StorageError> {
        self.one(
            &format!("SELECT {PROVIDER_COLS} FROM lead_source_providers WHERE id = ?1"),
            [id],
            provider_row,
        )
    }

    fn providers(&self) -> Result<Vec<Provider>, StorageError> {
        self.all(
            &format!("SELECT {PROVIDER_COLS} FROM lead_source_providers ORDER BY id"),
            [],
            provider_row,
        )
    }
}

const WORKSPACE_COLS: &str = "id, name, outbound_webhook_url, webhook_active, business_type, \
                              payment_rate_cents, timezone, webhook_secret, duplicate_window_days, \
                              capacity, schedule, delivery, require_consent";

fn workspace_row(r: &Row<'_>) -> Result<Workspace, StorageError> {
    let c = Cols::new(r, "workspaces");
    Ok(Workspace {
        id: c.get(0)?,
        name: c.get(1)?,
        outbound_webhook_url: c.get(2)?,
        webhook_active: c.get(3)?,
        business_type: c.get(4)?,
        payment_rate: Cents(c.get(5)?),
        timezone: c.get(6)?,
        webhook_secret: c.get(7)?,
        duplicate_window_days: c.get(8)?,
        capacity: c.json(9)?,
        schedule: match c.get::<Option<String>>(10)? {
            None => None,
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| StorageError::corrupt(format!("workspaces.schedule: {e}")))?,
        },
        delivery: c.json(11)?,
        require_consent: c.get(12)?,
    })
}

impl WorkspaceRepo for SqlTx<'_> {
    fn put_workspace(&self, w: &Workspace) -> Result<(), StorageError> {
        let r = (|| {
            self.exec(
                "INSERT INTO workspaces (id, name, outbound_webhook_url, webhook_active, \
                 business_type, payment_rate_cents, timezone, webhook_secret, \
                 duplicate_window_days, capacity, schedule, delivery, require_consent, \
                 created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11, ?12, ?13, ?14, ?10, ?10) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                 outbound_webhook_url = excluded.outbound_webhook_url, \
                 webhook_active = excluded.webhook_active, \
                 business_type = excluded.business_type, \
                 payment_rate_cents = excluded.payment_rate_cents, \
                 timezone = excluded.timezone, webhook_secret = excluded.webhook_secret, \
                 duplicate_window_days = excluded.duplicate_window_days, \
                 capacity = excluded.capacity, schedule = excluded.schedule, \
                 delivery = excluded.delivery, require_consent = excluded.require_consent, \
                 updated_at = excluded.updated_at",
                params![
                    w.id,
                    w.name,
                    w.outbound_webhook_url,
                    w.webhook_active,
                    w.business_type,
                    w.payment_rate.0,
                    w.timezone,
                    w.webhook_secret,
                    w.duplicate_window_days,
                    now()?,
                    json(&w.capacity)?,
                    w.schedule.as_ref().map(json).transpose()?,
                    json(&w.delivery)?,
                    w.require_consent
                ],
            )?;
            Ok(())
        })();
        in_op("put_workspace", r)
    }

    fn workspace(&self, id: &str) -> Result<Option<Workspace>, StorageError> {
        self.one(
            &format!("SELECT {WORKSPACE_COLS} FROM workspaces WHERE id = ?1"),
            [id],
            workspace_row,
        )
    }

    fn workspaces(&self) -> Result<Vec<Workspace>, StorageError> {
        self.all(
            &format!("SELECT {WORKSPACE_COLS} FROM workspaces ORDER BY id"),
            [],
            workspace_row,
        )
    }
}

impl RuleRepo for SqlTx<'_> {
    fn put_rule(&self, rule: &RoutingRule) -> Result<(), StorageError> {
        let r = (|| {
            self.exec(
                "INSERT INTO appointment_routing_rules (id, workspace_id, product_types, \
                 zip_codes, priority, is_active, notes, targeting, capacity) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (id) DO UPDATE SET workspace_id = excluded.workspace_id, \
                 product_types = excluded.product_types, zip_codes = excluded.zip_codes, \
                 priority = excluded.priority, is_active = excluded.is_active, \
                 notes = excluded.notes, targeting = excluded.targeting, \
                 capacity = excluded.capacity",
                params![
                    rule.id,
                    rule.workspace_id,
                    json(&rule.product_types)?,
                    json(&rule.zip_codes)?,
                    rule.priority,
                    rule.is_active,
                    rule.notes,
                    json(&rule.targeting)?,
                    json(&rule.capacity)?
                ],
            )?;
            Ok(())
        })();
        in_op(&format!("put_rule {}", rule.id), r)
    }

    fn rules(&self) -> Result<Vec<RoutingRule>, StorageError> {
        self.all(
            "SELECT id, workspace_id, product_types, zip_codes, priority, is_active, notes, \
             targeting, capacity FROM appointment_routing_rules ORDER BY id",
            [],
            |r| {
                let c = Cols::new(r, "appointment_routing_rules");
                Ok(RoutingRule {
                    id: c.get(0)?,
                    workspace_id: c.get(1)?,
                    product_types: c.json(2)?,
                    zip_codes: c.json(3)?,
                    priority: c.get(4)?,
                    is_active: c.get(5)?,
                    notes: c.get(6)?,
                    targeting: c.json(7)?,
                    capacity: c.json(8)?,
                })
            },
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Source records, rejections, contacts, leads

impl RecordRepo for SqlTx<'_> {
    fn stored_record(
        &self,
        provider_id: &str,
        record_key: &str,
    ) -> Result<Option<StoredRecord>, StorageError> {
        self.one(
            "SELECT lead_id, rejection_id FROM source_records \
             WHERE provider_id = ?1 AND record_key = ?2",
            [provider_id, record_key],
            |r| {
                let c = Cols::new(r, "source_records");
                match (c.get::<Option<i64>>(0)?, c.get::<Option<i64>>(1)?) {
                    (Some(id), None) => Ok(StoredRecord::Lead(id)),
                    (None, Some(id)) => Ok(StoredRecord::Rejection(id)),
                    _ => Err(corrupt(format!(
                        "source_records: ({provider_id:?}, {record_key:?}) points to neither \
                         exactly one lead nor one rejection"
                    ))),
                }
            },
        )
    }

    fn insert_rejection(&self, rj: &NewRejection) -> Result<RejectionId, StorageError> {
        // As insert_lead: the row only if the key is free, then the claim.
        let r = (|| {
            let written = self
                .conn
                .prepare_cached(
                    "INSERT INTO lead_rejections (provider_id, record_key, reason_codes, \
                     details, raw_payload, received_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6 \
                     WHERE NOT EXISTS (SELECT 1 FROM source_records \
                                       WHERE provider_id = ?1 AND record_key = ?2)",
                )
                .db()?
                .execute(params![
                    rj.provider_id,
                    rj.record_key,
                    json(&rj.reason_codes)?,
                    json(&rj.details)?,
                    rj.raw_payload,
                    ts(rj.received_at)?
                ])
                .db()?;
            if written == 0 {
                return Err(StorageError::conflict(format!(
                    "record ({:?}, {:?}) is already stored",
                    rj.provider_id, rj.record_key
                )));
            }
            let id = self.conn.last_insert_rowid();
            self.claim_record(&rj.provider_id, &rj.record_key, None, Some(id))?;
            Ok(id)
        })();
        in_op("insert_rejection", r)
    }
}

const CONTACT_COLS: &str = "id, dedup_scope, phone_e164, phone_extension, email, email_key, \
                            first_name, last_name, zip_code, created_at";

fn contact_row(r: &Row<'_>) -> Result<Contact, StorageError> {
    let c = Cols::new(r, "contacts");
    Ok(Contact {
        id: c.get(0)?,
        contact: NewContact {
            dedup_scope: c.get(1)?,
            phone_e164: c.get(2)?,
            phone_extension: c.get(3)?,
            email: c.get(4)?,
            email_key: c.get(5)?,
            first_name: c.get(6)?,
            last_name: c.get(7)?,
            zip_code: c.get(8)?,
            created_at: c.time(9)?,
        },
    })
}

/// A contact needs a key: its phone, or its email key. The schema's `CHECK` refuses the row
/// too; this gives the `Conflict` a clearer message.
fn require_contact_key(c: &NewContact) -> Result<(), StorageError> {
    if c.phone_e164.is_none() && c.email_key.is_none() {
        return Err(StorageError::conflict(
            "a contact needs a phone or an email key",
        ));
    }
    Ok(())
}

impl SqlTx<'_> {
    /// The id of the contact holding `c`'s key: its phone in the scope, or, without a phone,
    /// its email key among the scope's contacts without a phone.
    fn existing_contact(&self, c: &NewContact) -> Result<Option<ContactId>, StorageError> {
        match (&c.phone_e164, &c.email_key) {
            (Some(phone), _) => Ok(self.contact_by_phone(&c.dedup_scope, phone)?.map(|x| x.id)),
            (None, Some(key)) => self.one(
                "SELECT id FROM contacts WHERE dedup_scope = ?1 AND email_key = ?2 \
                 AND phone_e164 IS NULL",
                [&c.dedup_scope, key],
                |r| Cols::new(r, "contacts").get(0),
            ),
            (None, None) => Ok(None),
        }
    }
}

impl ContactRepo for SqlTx<'_> {
    fn contact_by_phone(
        &self,
        dedup_scope: &str,
        phone_e164: &str,
    ) -> Result<Option<Contact>, StorageError> {
        self.one(
            &format!(
                "SELECT {CONTACT_COLS} FROM contacts WHERE dedup_scope = ?1 AND phone_e164 = ?2"
            ),
            [dedup_scope, phone_e164],
            contact_row,
        )
    }

    fn contact_by_email_key(
        &self,
        dedup_scope: &str,
        email_key: &str,
    ) -> Result<Option<Contact>, StorageError> {
        // Index contacts_email_key (dedup_scope, email_key) ends in the rowid: no sort.
        self.one(
            &format!(
                "SELECT {CONTACT_COLS} FROM contacts WHERE dedup_scope = ?1 AND email_key = ?2 \
                 ORDER BY id LIMIT 1"
            ),
            [dedup_scope, email_key],
            contact_row,
        )
    }

    fn contact(&self, id: ContactId) -> Result<Option<Contact>, StorageError> {
        self.one(
            &format!("SELECT {CONTACT_COLS} FROM contacts WHERE id = ?1"),
            [id],
            contact_row,
        )
    }

    fn insert_contact_if_absent(
        &self,
        c: &NewContact,
    ) -> Result<Inserted<ContactId>, StorageError> {
        let r = (|| {
            require_contact_key(c)?;
            let written = self
                .conn
                .prepare_cached(
                    "INSERT INTO contacts (dedup_scope, phone_e164, phone_extension, email, \
                     email_key, first_name, last_name, zip_code, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
                )
                .db()?
                .execute(params![
                    c.dedup_scope,
                    c.phone_e164,
                    c.phone_extension,
                    c.email,
                    c.email_key,
                    c.first_name,
                    c.last_name,
                    c.zip_code,
                    ts(c.created_at)?
                ])
                .db()?;
            if written == 1 {
                return Ok(Inserted::Created(self.conn.last_insert_rowid()));
            }
            self.existing_contact(c)?
                .map(Inserted::Existing)
                .ok_or_else(|| StorageError::conflict("contact refused by a constraint"))
        })();
        in_op("insert_contact_if_absent", r)
    }

    fn update_contact(&self, id: ContactId, c: &NewContact) -> Result<(), StorageError> {
        let r = (|| {
            require_contact_key(c)?;
            // One statement: a UNIQUE or CHECK failure undoes it entirely.
            let n = self.exec(
                "UPDATE contacts SET phone_e164 = ?2, phone_extension = ?3, email = ?4, \
                 email_key = ?5, first_name = ?6, last_name = ?7, zip_code = ?8 WHERE id = ?1",
                params![
                    id,
                    c.phone_e164,
                    c.phone_extension,
                    c.email,
                    c.email_key,
                    c.first_name,
                    c.last_name,
                    c.zip_code
                ],
            )?;
            if n == 0 {
                return Err(StorageError::conflict(format!(
                    "contact {id} does not exist"
                )));
            }
            Ok(())
        })();
        in_op(&format!("update_contact {id}"), r)
    }
}

const LEAD_COLS: &str = "id, contact_id, duplicate_of, provider_id, record_key, external_id, \
                         product_type, zip_code, appointment_date, estimated_value, \
                         tcpa_consent, fields, warnings, raw_payload, received_at";

fn lead_row(r: &Row<'_>) -> Result<Lead, StorageError> {
    let c = Cols::new(r, "leads");
    Ok(Lead {
        id: c.get(0)?,
        lead: NewLead {
            contact_id: c.get(1)?,
            duplicate_of: c.get(2)?,
            provider_id: c.get(3)?,
            record_key: c.get(4)?,
            external_id: c.get(5)?,
            product_type: c.get(6)?,
            zip_code: c.get(7)?,
            appointment_date: c.time_opt(8)?,
            estimated_value: c.get(9)?,
            tcpa_consent: c.get(10)?,
            fields: c.json(11)?,
            warnings: c.json(12)?,
            raw_payload: c.get(13)?,
            received_at: c.time(14)?,
        },
    })
}

impl SqlTx<'_> {
    /// One `leads` row with its status, and its `source_records` claim. The trigger
    /// lead_status_initial writes the history (`None -> new`, then `new -> status` unless it
    /// is `new`), as LeadRepo::insert_lead_as specifies.
    fn insert_lead_row(
        &self,
        l: &NewLead,
        status: &str,
        reason: Option<&str>,
        at: Option<Timestamp>,
    ) -> Result<LeadId, StorageError> {
        // One statement writes the lead only if its record key is not claimed (by a lead or a
        // rejection) and its original, if any, is an existing lead (so not itself); a refused
        // lead writes nothing, without a savepoint. The claim after it cannot conflict.
        let written = self
            .conn
            .prepare_cached(
                "INSERT INTO leads (contact_id, duplicate_of, provider_id, record_key, \
                 external_id, product_type, zip_code, appointment_date, estimated_value, \
                 tcpa_consent, fields, warnings, raw_payload, received_at, status, \
                 status_reason, status_changed_at) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
                 ?17 \
                 WHERE NOT EXISTS (SELECT 1 FROM source_records \
                                   WHERE provider_id = ?3 AND record_key = ?4) \
                 AND (?2 IS NULL OR EXISTS (SELECT 1 FROM leads WHERE id = ?2))",
            )
            .db()?
            .execute(params![
                l.contact_id,
                l.duplicate_of,
                l.provider_id,
                l.record_key,
                l.external_id,
                l.product_type,
                l.zip_code,
                ts_opt(l.appointment_date)?,
                l.estimated_value,
                l.tcpa_consent,
                json(&l.fields)?,
                json(&l.warnings)?,
                l.raw_payload,
                ts(l.received_at)?,
                status,
                reason,
                ts_opt(at)?
            ])
            .map_err(|e| {
                let e = crate::codec::db(e);
                match e.kind() {
                    StorageErrorKind::Conflict => {
                        e.context(&format!("contact {} does not exist", l.contact_id))
                    }
                    _ => e,
                }
            })?;
        if written == 0 {
            return Err(StorageError::conflict(format!(
                "record ({:?}, {:?}) is already stored, or original lead {:?} does not exist",
                l.provider_id, l.record_key, l.duplicate_of
            )));
        }
        let id = self.conn.last_insert_rowid();
        self.claim_record(&l.provider_id, &l.record_key, Some(id), None)?;
        Ok(id)
    }

    /// Points the unclaimed `(provider_id, record_key)` at its lead or rejection, just
    /// written after checking the key was free: a conflict here means the database is
    /// inconsistent, so it is a backend error (the caller's transaction must not commit).
    fn claim_record(
        &self,
        provider_id: &str,
        record_key: &str,
        lead_id: Option<LeadId>,
        rejection_id: Option<RejectionId>,
    ) -> Result<(), StorageError> {
        self.exec(
            "INSERT INTO source_records (provider_id, record_key, lead_id, rejection_id) \
             VALUES (?1, ?2, ?3, ?4)",
            params![provider_id, record_key, lead_id, rejection_id],
        )
        .map(|_| ())
        .map_err(|e| match e.kind() {
            StorageErrorKind::Conflict => StorageError::backend(format!(
                "record ({provider_id:?}, {record_key:?}) was claimed while free: {}",
                e.message()
            ))
            .with_source(e),
            _ => e,
        })
    }
}

impl LeadRepo for SqlTx<'_> {
    fn insert_lead_as(
        &self,
        l: &NewLead,
        status: LeadStatus,
        reason: Option<&str>,
        at: Timestamp,
    ) -> Result<LeadId, StorageError> {
        // One row with its final status: no UPDATE of the (large) row afterwards. Staying
        // at `new` is no change: no reason, no time (as set_lead_status would leave it).
        let row = if status == LeadStatus::New {
            self.insert_lead_row(l, status.as_str(), None, None)
        } else {
            self.insert_lead_row(l, status.as_str(), reason, Some(at))
        };
        in_op("insert_lead_as", row)
    }

    fn lead(&self, id: LeadId) -> Result<Option<Lead>, StorageError> {
        self.one(
            &format!("SELECT {LEAD_COLS} FROM leads WHERE id = ?1"),
            [id],
            lead_row,
        )
    }

    fn latest_original_lead(
        &self,
        contact_id: ContactId,
        product_type: &str,
    ) -> Result<Option<Lead>, StorageError> {
        // Index leads_contact_product (contact_id, product_type, received_at) ends in the
        // rowid, so this walks it backwards from the newest lead: no sort.
        self.one(
            &format!(
                "SELECT {LEAD_COLS} FROM leads \
                 WHERE contact_id = ?1 AND product_type = ?2 AND duplicate_of IS NULL \
                 ORDER BY received_at DESC, id DESC LIMIT 1"
            ),
            params![contact_id, product_type],
            lead_row,
        )
    }

    fn set_lead_status(
        &self,
        lead_id: LeadId,
        status: LeadStatus,
        reason: Option<&str>,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        // One statement: the trigger lead_status_change appends the history row from the
        // old status to the new one, with the reason and time set here.
        let r = (|| {
            let changed = self.exec(
                "UPDATE leads SET status = ?2, status_reason = ?3, status_changed_at = ?4 \
                 WHERE id = ?1 AND status <> ?2",
                params![lead_id, status.as_str(), reason, ts(at)?],
            )?;
            if changed == 0 && self.lead(lead_id)?.is_none() {
                return Err(StorageError::conflict(format!(
                    "lead {lead_id} does not exist"
                )));
            }
            Ok(())
        })();
        in_op(&format!("set_lead_status {lead_id}"), r)
    }

    fn lead_status_history(&self, lead_id: LeadId) -> Result<Vec<LeadStatusChange>, StorageError> {
        // Index lead_status_history_lead (lead_id, id): no sort.
        self.all(
            "SELECT lead_id, from_status, to_status, reason, changed_at \
             FROM lead_status_history WHERE lead_id = ?1 ORDER BY id",
            [lead_id],
            |r| {
                let c = Cols::new(r, "lead_status_history");
                Ok(LeadStatusChange {
                    lead_id: c.get(0)?,
                    from_status: c
                        .get::<Option<String>>(1)?
                        .map(|s| parse_status(&s))
                        .transpose()?,
                    to_status: parse_status(&c.get::<String>(2)?)?,
                    reason: c.get(3)?,
                    changed_at: c.time(4)?,
                })
            },
        )
    }
}

/// A stored `leads.status` / `lead_status_history` value.
fn parse_status(s: &str) -> Result<LeadStatus, StorageError> {
    s.parse()
        .map_err(|e| corrupt(format!("lead_status_history: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Appointments

const APPOINTMENT_COLS: &str = "id, lead_id, contact_id, service_type, zip_code, \
    appointment_date, estimated_value, notes, workspace_id, routing_rule_id, routing_method, \
    matched_at, payment_rate_cents, unrouted_reason, status, forward_status, forward_attempts, \
    forwarded_at, forward_response, created_at";

fn forward_status(s: &str, table: &str) -> Result<ForwardStatus, StorageError> {
    ForwardStatus::parse(s).ok_or_else(|| corrupt(format!("{table}: unknown status {s:?}")))
}

fn appointment_row(r: &Row<'_>) -> Result<Appointment, StorageError> {
    let c = Cols::new(r, "appointments");
    let id: i64 = c.get(0)?;
    let missing = |col: &str| corrupt(format!("appointments: routed row {id} has no {col}"));
    let status: String = c.get(14)?;
    let assignment = match status.as_str() {
        "routed" => {
            let method: Option<String> = c.get(10)?;
            let method = match method.as_deref() {
                Some("auto") => RoutingMethod::Auto,
                Some("manual") => RoutingMethod::Manual,
                Some(other) => {
                    return Err(corrupt(format!(
                        "appointments: row {id}: unknown routing_method {other:?}"
                    )))
                }
                None => return Err(missing("routing_method")),
            };
            Assignment::Routed {
                workspace_id: c
                    .get::<Option<String>>(8)?
                    .ok_or_else(|| missing("workspace_id"))?,
                rule_id: c.get(9)?,
                method,
                matched_at: c.time_opt(11)?.ok_or_else(|| missing("matched_at"))?,
                payment_rate: Cents(
                    c.get::<Option<i64>>(12)?
                        .ok_or_else(|| missing("payment_rate_cents"))?,
                ),
            }
        }
        "unrouted" => Assignment::Unrouted {
            reason: c.get::<Option<String>>(13)?.ok_or_else(|| {
                corrupt(format!(
                    "appointments: unrouted row {id} has no unrouted_reason"
                ))
            })?,
        },
        other => {
            return Err(corrupt(format!(
                "appointments: row {id}: unknown status {other:?}"
            )))
        }
    };
    let fs: String = c.get(15)?;
    Ok(Appointment {
        id,
        appointment: NewAppointment {
            lead_id: c.get(1)?,
            contact_id: c.get(2)?,
            service_type: c.get(3)?,
            zip_code: c.get(4)?,
            appointment_date: c.time(5)?,
            estimated_value: c.get(6)?,
            notes: c.get(7)?,
            assignment,
            created_at: c.time(19)?,
        },
        forward_status: forward_status(&fs, "appointments")?,
        forward_attempts: c.get(16)?,
        forwarded_at: c.time_opt(17)?,
        forward_response: c.get(18)?,
    })
}

impl AppointmentRepo for SqlTx<'_> {
    fn insert_appointment(&self, a: &NewAppointment) -> Result<AppointmentId, StorageError> {
        let r = (|| {
            let (ws, rule, method, matched, rate, reason, status) = match &a.assignment {
                Assignment::Routed {
                    workspace_id,
                    rule_id,
                    method,
                    matched_at,
                    payment_rate,
                } => (
                    Some(workspace_id.as_str()),
                    *rule_id,
                    Some(method.as_str()),
                    Some(ts(*matched_at)?),
                    Some(payment_rate.0),
                    None,
                    "routed",
                ),
                Assignment::Unrouted { reason } => (
                    None,
                    None,
                    None,
                    None,
                    None,
                    Some(reason.as_str()),
                    "unrouted",
                ),
            };
            self.conn
                .prepare_cached(
                    "INSERT INTO appointments (lead_id, contact_id, service_type, zip_code, \
                     appointment_date, estimated_value, notes, workspace_id, routing_rule_id, \
                     routing_method, matched_at, payment_rate_cents, unrouted_reason, status, \
                     created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                )
                .db()?
                .insert(params![
                    a.lead_id,
                    a.contact_id,
                    a.service_type,
                    a.zip_code,
                    ts(a.appointment_date)?,
                    a.estimated_value,
                    a.notes,
                    ws,
                    rule,
                    method,
                    matched,
                    rate,
                    reason,
                    status,
                    ts(a.created_at)?
                ])
                .db()
        })();
        in_op(&format!("insert_appointment for lead {}", a.lead_id), r)
    }

    fn appointment(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError> {
        self.one(
            &format!("SELECT {APPOINTMENT_COLS} FROM appointments WHERE id = ?1"),
            [id],
            appointment_row,
        )
    }

    fn appointment_for_lead(&self, lead_id: LeadId) -> Result<Option<Appointment>, StorageError> {
        self.one(
            &format!("SELECT {APPOINTMENT_COLS} FROM appointments WHERE lead_id = ?1"),
            [lead_id],
            appointment_row,
        )
    }

    fn update_forward(
        &self,
        id: AppointmentId,
        status: ForwardStatus,
        attempts: u32,
        forwarded_at: Option<Timestamp>,
        response: Option<&str>,
    ) -> Result<(), StorageError> {
        let r = (|| {
            let n = self.exec(
                "UPDATE appointments SET forward_status = ?2, forward_attempts = ?3, \
                 forwarded_at = ?4, forward_response = ?5 WHERE id = ?1",
                params![
                    id,
                    status.as_str(),
                    attempts,
                    ts_opt(forwarded_at)?,
                    response
                ],
            )?;
            if n == 0 {
                return Err(StorageError::conflict(format!(
                    "appointment {id} does not exist"
                )));
            }
            Ok(())
        })();
        in_op("update_forward", r)
    }

    fn appointments_after(
        &self,
        after: AppointmentId,
        limit: usize,
    ) -> Result<Vec<Appointment>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.all(
            &format!(
                "SELECT {APPOINTMENT_COLS} FROM appointments WHERE id > ?1 ORDER BY id LIMIT ?2"
            ),
            params![after, limit],
            appointment_row,
        )
    }

    fn unrouted_appointments(
        &self,
        after: AppointmentId,
        limit: usize,
    ) -> Result<Vec<Appointment>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.all(
            &format!(
                "SELECT {APPOINTMENT_COLS} FROM appointments \
                 WHERE status = 'unrouted' AND id > ?1 ORDER BY id LIMIT ?2"
            ),
            params![after, limit],
            appointment_row,
        )
    }

    fn assign_appointment(
        &self,
        id: AppointmentId,
        assignment: &Assignment,
    ) -> Result<(), StorageError> {
        let Assignment::Routed {
            workspace_id,
            rule_id,
            method,
            matched_at,
            payment_rate,
        } = assignment
        else {
            return Err(StorageError::conflict(
                "assign_appointment needs a routed assignment",
            ));
        };
        let r = (|| {
            let n = self.exec(
                "UPDATE appointments SET status = 'routed', unrouted_reason = NULL, \
                 workspace_id = ?2, routing_rule_id = ?3, routing_method = ?4, matched_at = ?5, \
                 payment_rate_cents = ?6 WHERE id = ?1 AND status = 'unrouted'",
                params![
                    id,
                    workspace_id,
                    rule_id,
                    method.as_str(),
                    ts(*matched_at)?,
                    payment_rate.0
                ],
            )?;
            if n == 0 {
                return Err(StorageError::conflict(format!(
                    "appointment {id} does not exist or is already routed"
                )));
            }
            Ok(())
        })();
        in_op(&format!("assign_appointment {id}"), r)
    }
}

// ---------------------------------------------------------------------------------------------
// Capacity counters and routing state

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

// ---------------------------------------------------------------------------------------------
// Outbox

const DELIVERY_COLS: &str = "id, appointment_id, workspace_id, webhook_id, url, payload, \
                             next_attempt_at, created_at, status, attempts, locked_until";

fn delivery_row(r: &Row<'_>) -> Result<Delivery, StorageError> {
    let c = Cols::new(r, "deliveries");
    let status: String = c.get(8)?;
    Ok(Delivery {
        id: c.get(0)?,
        delivery: NewDelivery {
            appointment_id: c.get(1)?,
            workspace_id: c.get(2)?,
            webhook_id: c.get(3)?,
            url: c.get(4)?,
            payload: c.get(5)?,
            next_attempt_at: c.time(6)?,
            created_at: c.time(7)?,
        },
        status: forward_status(&status, "deliveries")?,
        attempts: c.get(9)?,
        locked_until: c.time_opt(10)?,
    })
}

impl OutboxRepo for SqlTx<'_> {
    fn enqueue_delivery(&self, d: &NewDelivery) -> Result<DeliveryId, StorageError> {
        let r = (|| {
            let created = ts(d.created_at)?;
            self.conn
                .prepare_cached(
                    "INSERT INTO deliveries (appointment_id, workspace_id, webhook_id, url, \
                     payload, next_attempt_at, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                )
                .db()?
                .insert(params![
                    d.appointment_id,
                    d.workspace_id,
                    d.webhook_id,
                    d.url,
                    d.payload,
                    ts(d.next_attempt_at)?,
                    created
                ])
                .db()
        })();
        in_op(
            &format!("enqueue_delivery for appointment {}", d.appointment_id),
            r,
        )
    }

    fn claim_due_deliveries(
        &self,
        now_at: Timestamp,
        limit: usize,
        lease_until: Timestamp,
    ) -> Result<Vec<Delivery>, StorageError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let r = (|| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            // One statement: pick the due rows and lease them. Inside `BEGIN IMMEDIATE` no
            // other connection can write between the pick and the lease.
            let mut out = self.all(
                &format!(
                    "UPDATE deliveries SET locked_until = ?1, updated_at = ?4 \
                     WHERE id IN (SELECT id FROM deliveries \
                                  WHERE status = 'pending' AND next_attempt_at <= ?2 \
                                    AND (locked_until IS NULL OR locked_until <= ?2) \
                                  ORDER BY next_attempt_at, id LIMIT ?3) \
                     RETURNING {DELIVERY_COLS}"
                ),
                params![ts(lease_until)?, ts(now_at)?, limit, now()?],
                delivery_row,
            )?;
            // RETURNING order is unspecified.
            out.sort_by(|a, b| {
                (a.delivery.next_attempt_at, a.id).cmp(&(b.delivery.next_attempt_at, b.id))
            });
            Ok(out)
        })();
        in_op("claim_due_deliveries", r)
    }

    fn record_attempt(&self, a: &Attempt, result: &AttemptResult) -> Result<(), StorageError> {
        let r = self.atomic(|| {
            self.exec(
                "INSERT INTO delivery_attempts (delivery_id, attempt_number, requested_at, \
                 duration_ms, status_code, error, response_excerpt) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    a.delivery_id,
                    a.attempt_number,
                    ts(a.requested_at)?,
                    int(a.duration_ms, "duration_ms")?,
                    a.status_code,
                    a.error,
                    a.response_excerpt
                ],
            )
            .map_err(|e| match e.kind() {
                StorageErrorKind::Conflict => e.context(&format!(
                    "delivery {} does not exist or attempt {} is recorded",
                    a.delivery_id, a.attempt_number
                )),
                _ => e,
            })?;
            let (status, next) = match result {
                AttemptResult::Delivered { .. } => (ForwardStatus::Success, None),
                AttemptResult::Retry { next_attempt_at } => {
                    (ForwardStatus::Pending, Some(ts(*next_attempt_at)?))
                }
                AttemptResult::Failed => (ForwardStatus::Failed, None),
            };
            let n = self.exec(
                "UPDATE deliveries SET attempts = ?2, locked_until = NULL, status = ?3, \
                 next_attempt_at = COALESCE(?4, next_attempt_at), updated_at = ?5 \
                 WHERE id = ?1",
                params![
                    a.delivery_id,
                    a.attempt_number,
                    status.as_str(),
                    next,
                    now()?
                ],
            )?;
            if n == 0 {
                return Err(StorageError::conflict(format!(
                    "delivery {} does not exist",
                    a.delivery_id
                )));
            }
            Ok(())
        });
        in_op("record_attempt", r)
    }

    fn defer_delivery(
        &self,
        id: DeliveryId,
        next_attempt_at: Timestamp,
    ) -> Result<(), StorageError> {
        let n = self.exec(
            "UPDATE deliveries SET next_attempt_at = ?2, locked_until = NULL WHERE id = ?1",
            params![id, ts(next_attempt_at)?],
        )?;
        if n == 0 {
            return Err(StorageError::conflict(format!(
                "delivery {id} does not exist"
            )));
        }
        Ok(())
    }

    fn resume_workspace_deliveries(
        &self,
        workspace_id: &str,
        at: Timestamp,
    ) -> Result<u64, StorageError> {
        let n = self.exec(
            "UPDATE deliveries SET next_attempt_at = ?2 \
             WHERE workspace_id = ?1 AND status = 'pending'",
            params![workspace_id, ts(at)?],
        )?;
        Ok(n as u64)
    }

    fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>, StorageError> {
        self.one(
            &format!("SELECT {DELIVERY_COLS} FROM deliveries WHERE id = ?1"),
            [id],
            delivery_row,
        )
    }

    fn attempts(&self, delivery_id: DeliveryId) -> Result<Vec<Attempt>, StorageError> {
        self.all(
            "SELECT delivery_id, attempt_number, requested_at, duration_ms, status_code, error, \
             response_excerpt FROM delivery_attempts WHERE delivery_id = ?1 \
             ORDER BY attempt_number",
            [delivery_id],
            |r| {
                let c = Cols::new(r, "delivery_attempts");
                Ok(Attempt {
                    delivery_id: c.get(0)?,
                    attempt_number: c.get(1)?,
                    requested_at: c.time(2)?,
                    duration_ms: c.count(3)?,
                    status_code: c.get(4)?,
                    error: c.get(5)?,
                    response_excerpt: c.get(6)?,
                })
            },
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Billing, events, counts

impl BillingRepo for SqlTx<'_> {
    fn insert_billing_event(
        &self,
        e: &NewBillingEvent,
    ) -> Result<Option<BillingEventId>, StorageError> {
        let r = (|| {
            self.one(
                "INSERT INTO billing_events (appointment_id, workspace_id, kind, amount_cents, \
                 created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (appointment_id, kind) DO NOTHING RETURNING id",
                params![
                    e.appointment_id,
                    e.workspace_id,
                    e.kind.as_str(),
                    e.amount.0,
                    ts(e.created_at)?
                ],
                |r| Cols::new(r, "billing_events").get::<i64>(0),
            )
        })();
        in_op(
            &format!("insert_billing_event for appointment {}", e.appointment_id),
            r,
        )
    }

    fn billing_event(
        &self,
        appointment_id: AppointmentId,
        kind: BillingKind,
    ) -> Result<Option<NewBillingEvent>, StorageError> {
        self.one(
            "SELECT appointment_id, workspace_id, kind, amount_cents, created_at \
             FROM billing_events WHERE appointment_id = ?1 AND kind = ?2",
            params![appointment_id, kind.as_str()],
            |r| {
                let c = Cols::new(r, "billing_events");
                let kind: String = c.get(2)?;
                Ok(NewBillingEvent {
                    appointment_id: c.get(0)?,
                    workspace_id: c.get(1)?,
                    kind: BillingKind::parse(&kind)
                        .ok_or_else(|| corrupt(format!("billing_events.kind {kind:?}")))?,
                    amount: Cents(c.get(3)?),
                    created_at: c.time(4)?,
                })
            },
        )
    }
}

/// The table of a subject's events and the column naming the subject. Events of a rejected
/// record live in `lead_events` beside those of leads, with `rejection_id` set instead of
/// `lead_id` (a `CHECK` requires exactly one).
fn event_table(subject: EventSubject) -> (&'static str, &'static str) {
    match subject {
        EventSubject::Contact => ("contact_events", "contact_id"),
        EventSubject::Lead => ("lead_events", "lead_id"),
        EventSubject::Appointment => ("appointment_events", "appointment_id"),
        EventSubject::Rejection => ("lead_events", "rejection_id"),
    }
}

impl EventRepo for SqlTx<'_> {
    fn append_event(&self, ev: &NewEvent) -> Result<(), StorageError> {
        let (table, col) = event_table(ev.subject);
        let r = (|| {
            self.exec(
                &format!(
                    "INSERT INTO {table} ({col}, event_type, detail, created_at) \
                     VALUES (?1, ?2, ?3, ?4)"
                ),
                params![
                    ev.subject_id,
                    ev.event_type.as_str(),
                    json(&ev.detail)?,
                    ts(ev.created_at)?
                ],
            )?;
            Ok(())
        })();
        r.map_err(|e| {
            prefix(
                &format!("append_event to {table} ({col} {})", ev.subject_id),
                e,
            )
        })
    }

    fn append_events(&self, events: &[NewEvent]) -> Result<(), StorageError> {
        // One multi-row INSERT per subject, each subject's events in their order.
        for subject in [
            EventSubject::Contact,
            EventSubject::Lead,
            EventSubject::Rejection,
            EventSubject::Appointment,
        ] {
            let rows: Vec<&NewEvent> = events.iter().filter(|e| e.subject == subject).collect();
            if rows.is_empty() {
                continue;
            }
            let (table, col) = event_table(subject);
            let mut sql =
                format!("INSERT INTO {table} ({col}, event_type, detail, created_at) VALUES ");
            let mut values: Vec<rusqlite::types::Value> = Vec::with_capacity(rows.len() * 4);
            for (i, ev) in rows.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                let n = i * 4;
                sql.push_str(&format!("(?{}, ?{}, ?{}, ?{})", n + 1, n + 2, n + 3, n + 4));
                values.extend([
                    ev.subject_id.into(),
                    ev.event_type.as_str().to_string().into(),
                    json(&ev.detail)?.into(),
                    ts(ev.created_at)?.into(),
                ]);
            }
            self.exec(&sql, rusqlite::params_from_iter(values))
                .map_err(|e| prefix(&format!("append_events to {table}"), e))?;
        }
        Ok(())
    }

    fn events(
        &self,
        subject: EventSubject,
        subject_id: i64,
    ) -> Result<Vec<NewEvent>, StorageError> {
        let (table, col) = event_table(subject);
        self.all(
            &format!(
                "SELECT event_type, detail, created_at FROM {table} WHERE {col} = ?1 ORDER BY id"
            ),
            [subject_id],
            |r| {
                let c = Cols::new(r, table);
                Ok(NewEvent {
                    subject,
                    subject_id,
                    event_type: c
                        .get::<String>(0)?
                        .parse()
                        .map_err(|e| corrupt(format!("{table}.event_type: {e}")))?,
                    detail: c.json(1)?,
                    created_at: c.time(2)?,
                })
            },
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Intake: inbound webhook configurations, replay protection, provider usage

const WEBHOOK_CONFIG_COLS: &str =
    "id, name, lead_type, secret, signature_scheme, rate_limit, rate_window, is_active";

fn webhook_config_row(r: &Row<'_>) -> Result<WebhookConfig, StorageError> {
    let c = Cols::new(r, "webhook_configs");
    let scheme: String = c.get(4)?;
    Ok(WebhookConfig {
        id: c.get(0)?,
        name: c.get(1)?,
        lead_type: c.get(2)?,
        secret: c.get(3)?,
        signature_scheme: leadroute_core::auth::SignatureScheme::parse(&scheme).ok_or_else(
            || {
                corrupt(format!(
                    "webhook_configs: unknown signature_scheme {scheme:?}"
                ))
            },
        )?,
        rate_limit: c.get(5)?,
        rate_window_seconds: c.get(6)?,
        is_active: c.get(7)?,
    })
}

impl WebhookConfigRepo for SqlTx<'_> {
    fn put_webhook_config(&self, w: &WebhookConfig) -> Result<(), StorageError> {
        let r = (|| {
            self.exec(
                "INSERT INTO webhook_configs (id, name, lead_type, secret, signature_scheme, \
                 rate_limit, rate_window, is_active, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                 lead_type = excluded.lead_type, secret = excluded.secret, \
                 signature_scheme = excluded.signature_scheme, \
                 rate_limit = excluded.rate_limit, rate_window = excluded.rate_window, \
                 is_active = excluded.is_active, updated_at = excluded.updated_at",
                params![
                    w.id,
                    w.name,
                    w.lead_type,
                    w.secret,
                    w.signature_scheme.as_str(),
                    w.rate_limit,
                    w.rate_window_seconds,
                    w.is_active,
                    now()?
                ],
            )?;
            Ok(())
        })();
        in_op(&format!("put_webhook_config {}", w.id), r)
    }

    fn webhook_configs(&self) -> Result<Vec<WebhookConfig>, StorageError> {
        self.all(
            &format!("SELECT {WEBHOOK_CONFIG_COLS} FROM webhook_configs ORDER BY id"),
            [],
            webhook_config_row,
        )
    }
}

impl IntakeRepo for SqlTx<'_> {
    fn remember_message(
        &self,
        scope: &str,
        message_id: &str,
        at: Timestamp,
    ) -> Result<bool, StorageError> {
        // The primary key decides: whichever transaction inserts the row first sees it as
        // new, in this process or another.
        let n = self
            .exec(
                "INSERT INTO inbound_messages (scope, message_id, received_at) \
                 VALUES (?1, ?2, ?3) ON CONFLICT (scope, message_id) DO NOTHING",
                params![scope, message_id, ts(at)?],
            )
            .map_err(|e| prefix("remember_message", e))?;
        Ok(n == 1)
    }

    fn add_usage(&self, d: &ProviderUsage) -> Result<(), StorageError> {
        // The key columns keep their text: no webhook is `''`, the day is `YYYY-MM-DD`.
        let webhook_id = d.webhook_id.as_deref().unwrap_or("");
        let day = d.day.to_string();
        let r = self.atomic(|| {
            let last = ts_opt(d.last_lead_at)?;
            let total = int(d.total_leads, "total_leads")?;
            // max() of SQL is NULL when either side is: COALESCE keeps the one that is set.
            self.exec(
                "INSERT INTO provider_usage_log (provider_id, webhook_id, day, requests, \
                 refused, total_leads, accepted, rejected, last_lead_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (provider_id, day, webhook_id) DO UPDATE SET \
                 requests = requests + excluded.requests, \
                 refused = refused + excluded.refused, \
                 total_leads = total_leads + excluded.total_leads, \
                 accepted = accepted + excluded.accepted, \
                 rejected = rejected + excluded.rejected, \
                 last_lead_at = COALESCE(max(last_lead_at, excluded.last_lead_at), \
                                         last_lead_at, excluded.last_lead_at)",
                params![
                    d.provider_id,
                    webhook_id,
                    day,
                    int(d.requests, "requests")?,
                    int(d.refused, "refused")?,
                    total,
                    int(d.accepted, "accepted")?,
                    int(d.rejected, "rejected")?,
                    last
                ],
            )?;
            // The seed's running totals on the provider row, when there is one.
            self.exec(
                "UPDATE lead_source_providers SET total_leads = total_leads + ?2, \
                 last_lead_at = COALESCE(max(last_lead_at, ?3), last_lead_at, ?3) \
                 WHERE id = ?1",
                params![d.provider_id, total, last],
            )?;
            Ok(())
        });
        in_op(
            &format!(
                "add_usage for ({:?}, {:?}, {:?})",
                d.provider_id, webhook_id, day
            ),
            r,
        )
    }
}

impl Reports for SqlTx<'_> {
    fn billing_summary(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<BillingSummaryRow>, StorageError> {
        self.all(
            "SELECT workspace_id, \
             SUM(kind = 'charge'), COALESCE(SUM(CASE WHEN kind = 'charge' THEN amount_cents END), 0), \
             SUM(kind = 'credit'), COALESCE(SUM(CASE WHEN kind = 'credit' THEN amount_cents END), 0), \
             SUM(amount_cents) \
             FROM billing_events WHERE created_at >= ?1 AND created_at < ?2 \
             GROUP BY workspace_id ORDER BY workspace_id",
            params![ts(from)?, ts(to)?],
            |r| {
                let c = Cols::new(r, "billing_events");
                Ok(BillingSummaryRow {
                    workspace_id: c.get(0)?,
                    charges: c.count(1)?,
                    charged: Cents(c.get(2)?),
                    credits: c.count(3)?,
                    credited: Cents(c.get(4)?),
                    net: Cents(c.get(5)?),
                })
            },
        )
    }
    fn provider_usage(&self, provider_id: &str) -> Result<Vec<ProviderUsage>, StorageError> {
        // The UNIQUE index (provider_id, day, webhook_id) gives the order: no sort.
        self.all(
            "SELECT provider_id, webhook_id, day, requests, refused, total_leads, accepted, \
             rejected, last_lead_at FROM provider_usage_log WHERE provider_id = ?1 \
             ORDER BY day, webhook_id",
            [provider_id],
            |r| {
                let c = Cols::new(r, "provider_usage_log");
                let webhook_id: String = c.get(1)?;
                Ok(ProviderUsage {
                    provider_id: c.get(0)?,
                    webhook_id: Some(webhook_id).filter(|w| !w.is_empty()),
                    day: c.day(2)?,
                    requests: c.count(3)?,
                    refused: c.count(4)?,
                    total_leads: c.count(5)?,
                    accepted: c.count(6)?,
                    rejected: c.count(7)?,
                    last_lead_at: c.time_opt(8)?,
                })
            },
        )
    }
    fn provider_totals(&self, provider_id: &str) -> Result<(u64, Option<Timestamp>), StorageError> {
        // Summed over the usage rows rather than read from lead_source_providers, so that
        // usage counted before (or without) the provider row is included, as in the in-memory
        // store; add_usage keeps the provider's columns equal to these sums.
        let found = self.one(
            "SELECT COALESCE(SUM(total_leads), 0), MAX(last_lead_at) \
             FROM provider_usage_log WHERE provider_id = ?1",
            [provider_id],
            |r| {
                let c = Cols::new(r, "provider_usage_log");
                Ok((c.count(0)?, c.time_opt(1)?))
            },
        )?;
        Ok(found.unwrap_or((0, None)))
    }
    fn counts(&self) -> Result<StoreCounts, StorageError> {
        let counts = self.one(
            "SELECT (SELECT COUNT(*) FROM contacts), \
                    (SELECT COUNT(*) FROM leads), \
                    (SELECT COUNT(*) FROM lead_rejections), \
                    (SELECT COUNT(*) FROM appointments), \
                    (SELECT COUNT(*) FROM appointments WHERE status = 'routed'), \
                    (SELECT COUNT(*) FROM appointments WHERE status = 'unrouted'), \
                    (SELECT COUNT(*) FROM deliveries), \
                    (SELECT COUNT(*) FROM deliveries WHERE status = 'success'), \
                    (SELECT COUNT(*) FROM deliveries WHERE status = 'failed'), \
                    (SELECT COUNT(*) FROM delivery_attempts), \
                    (SELECT COUNT(*) FROM billing_events), \
                    (SELECT COALESCE(SUM(amount_cents), 0) FROM billing_events)",
            [],
            |r| {
                let c = Cols::new(r, "counts");
                Ok(StoreCounts {
                    contacts: c.count(0)?,
                    leads: c.count(1)?,
                    rejections: c.count(2)?,
                    appointments: c.count(3)?,
                    appointments_routed: c.count(4)?,
                    appointments_unrouted: c.count(5)?,
                    deliveries: c.count(6)?,
                    deliveries_succeeded: c.count(7)?,
                    deliveries_failed: c.count(8)?,
                    attempts: c.count(9)?,
                    billing_events: c.count(10)?,
                    billed: Cents(c.get(11)?),
                })
            },
        )?;
        counts.ok_or_else(|| StorageError::backend("counts: the query returned no row"))
    }
}
