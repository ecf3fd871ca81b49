//! Source records, rejections, contacts and leads (`source_records`, `lead_rejections`, `contacts`, `leads`, `lead_status_history`).

use super::*;

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
                    (Some(id), None) => Ok(StoredRecord::Lead(LeadId(id))),
                    (None, Some(id)) => Ok(StoredRecord::Rejection(RejectionId(id))),
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
            let id = RejectionId(self.conn.last_insert_rowid());
            self.claim_record(&rj.provider_id, &rj.record_key, None, Some(id))?;
            Ok(id)
        })();
        in_op("insert_rejection", r)
    }

    fn rejections(
        &self,
        filter: &RejectionFilter,
        after: RejectionId,
        limit: usize,
    ) -> Result<Vec<StoredRejection>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Every filter is optional: a NULL parameter matches all. The reason is looked up in
        // the JSON array of codes.
        self.all(
            "SELECT id, provider_id, record_key, reason_codes, details, raw_payload, \
             received_at, lead_id, reprocessed_at FROM lead_rejections \
             WHERE id > ?1 AND lead_id IS NULL \
               AND (?2 IS NULL OR EXISTS (SELECT 1 FROM json_each(reason_codes) \
                                          WHERE json_each.value = ?2)) \
               AND (?3 IS NULL OR provider_id = ?3) \
               AND (?4 IS NULL OR received_at >= ?4) \
               AND (?5 IS NULL OR received_at < ?5) \
             ORDER BY id LIMIT ?6",
            params![
                after.get(),
                filter.reason.map(|c| c.as_str()),
                filter.provider_id,
                ts_opt(filter.from)?,
                ts_opt(filter.to)?,
                limit
            ],
            |r| {
                let c = Cols::new(r, "lead_rejections");
                Ok(StoredRejection {
                    id: RejectionId(c.get(0)?),
                    rejection: NewRejection {
                        provider_id: c.get(1)?,
                        record_key: c.get(2)?,
                        reason_codes: c.json(3)?,
                        details: c.json(4)?,
                        raw_payload: c.get(5)?,
                        received_at: c.time(6)?,
                    },
                    lead_id: c.get::<Option<i64>>(7)?.map(LeadId),
                    reprocessed_at: c.time_opt(8)?,
                })
            },
        )
    }

    fn release_rejection(&self, id: RejectionId) -> Result<(), StorageError> {
        let r = (|| {
            // One statement: the claim goes only while it still points to this rejection
            // (not once released, nor once the key belongs to a lead).
            let n = self.exec(
                "DELETE FROM source_records \
                 WHERE rejection_id = ?1 \
                   AND (provider_id, record_key) = \
                       (SELECT provider_id, record_key FROM lead_rejections WHERE id = ?1)",
                [id.get()],
            )?;
            if n == 0 {
                return Err(StorageError::conflict(format!(
                    "rejection {id} does not exist or does not hold its record key"
                )));
            }
            Ok(())
        })();
        in_op(&format!("release_rejection {id}"), r)
    }

    fn mark_rejection_reprocessed(
        &self,
        id: RejectionId,
        lead: Option<LeadId>,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        let r = (|| {
            let n = self.exec(
                "UPDATE lead_rejections SET lead_id = ?2, reprocessed_at = ?3 WHERE id = ?1",
                params![id.get(), lead.map(LeadId::get), ts(at)?],
            )?;
            if n == 0 {
                return Err(StorageError::conflict(format!(
                    "rejection {id} does not exist"
                )));
            }
            Ok(())
        })();
        in_op(&format!("mark_rejection_reprocessed {id}"), r)
    }
}

pub(super) const CONTACT_COLS: &str =
    "id, dedup_scope, phone_e164, phone_extension, email, email_key, \
                            first_name, last_name, zip_code, created_at";

pub(super) fn contact_row(r: &Row<'_>) -> Result<Contact, StorageError> {
    let c = Cols::new(r, "contacts");
    Ok(Contact {
        id: ContactId(c.get(0)?),
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
pub(super) fn require_contact_key(c: &NewContact) -> Result<(), StorageError> {
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
                |r| Cols::new(r, "contacts").get(0).map(ContactId),
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
            [id.get()],
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
                return Ok(Inserted::Created(ContactId(self.conn.last_insert_rowid())));
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
                    id.get(),
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

pub(super) const LEAD_COLS: &str =
    "id, contact_id, duplicate_of, provider_id, record_key, external_id, \
                         product_type, zip_code, appointment_date, estimated_value, \
                         tcpa_consent, fields, warnings, raw_payload, received_at";

pub(super) fn lead_row(r: &Row<'_>) -> Result<Lead, StorageError> {
    let c = Cols::new(r, "leads");
    Ok(Lead {
        id: LeadId(c.get(0)?),
        lead: NewLead {
            contact_id: ContactId(c.get(1)?),
            duplicate_of: c.get::<Option<i64>>(2)?.map(LeadId),
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
                l.contact_id.get(),
                l.duplicate_of.map(LeadId::get),
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
                l.provider_id,
                l.record_key,
                l.duplicate_of.map(LeadId::get)
            )));
        }
        let id = LeadId(self.conn.last_insert_rowid());
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
            params![
                provider_id,
                record_key,
                lead_id.map(LeadId::get),
                rejection_id.map(RejectionId::get)
            ],
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
            [id.get()],
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
            params![contact_id.get(), product_type],
            lead_row,
        )
    }

    fn set_lead_appointment_date(
        &self,
        lead_id: LeadId,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        let n = self.exec(
            "UPDATE leads SET appointment_date = ?2 WHERE id = ?1",
            params![lead_id.get(), ts(at)?],
        )?;
        if n == 0 {
            return Err(StorageError::conflict(format!(
                "lead {lead_id} does not exist"
            )));
        }
        Ok(())
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
                params![lead_id.get(), status.as_str(), reason, ts(at)?],
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
            [lead_id.get()],
            |r| {
                let c = Cols::new(r, "lead_status_history");
                Ok(LeadStatusChange {
                    lead_id: LeadId(c.get(0)?),
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
pub(super) fn parse_status(s: &str) -> Result<LeadStatus, StorageError> {
    s.parse()
        .map_err(|e| corrupt(format!("lead_status_history: {e}")))
}
