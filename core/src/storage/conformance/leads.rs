//! Leads and stored outcomes: [`LeadRepo`], [`RecordRepo`] and the lead status history.

use super::*;

/// A lead reads back exactly as stored; `stored_record` finds it; a missing contact is a
/// `Conflict`; a missing lead is `None`.
pub fn leads_round_trip(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let c = tx(s, "insert_contact", |tx| {
        Ok(insert_contact(
            tx,
            &new_contact("provider:provider-a", "+13178638426"),
        )?)
    });
    let full = new_lead(c, "provider-a", "PA-000123");
    let bare = NewLead {
        external_id: None,
        appointment_date: None,
        estimated_value: None,
        tcpa_consent: None,
        fields: json!({}),
        warnings: vec![],
        record_key: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
            .into(),
        ..new_lead(c, "provider-a", "unused")
    };
    let (l1, l2) = tx(s, "insert_lead", |tx| {
        Ok((insert_lead(tx, &full)?, insert_lead(tx, &bare)?))
    });
    assert_ne!(l1, l2, "lead ids must be distinct");
    let (r1, r2, missing) = tx(s, "lead", |tx| {
        Ok((tx.lead(l1)?, tx.lead(l2)?, tx.lead(LeadId(l2.0 + 1000))?))
    });
    assert_eq!(
        r1,
        Some(Lead {
            id: l1,
            lead: full.clone()
        }),
        "a lead must read back unchanged"
    );
    assert_eq!(
        r2,
        Some(Lead {
            id: l2,
            lead: bare.clone()
        }),
        "a lead with every optional field empty must read back unchanged"
    );
    assert_eq!(missing, None, "lead() of a missing id must be Ok(None)");
    let stored = tx(s, "stored_record", |tx| {
        Ok((
            tx.stored_record("provider-a", "PA-000123")?,
            tx.stored_record("provider-a", "PA-999999")?,
            tx.stored_record("provider-b", "PA-000123")?,
        ))
    });
    assert_eq!(
        stored,
        (Some(StoredRecord::Lead(l1)), None, None),
        "stored_record must find the lead by (provider_id, record_key) and nothing else"
    );
    let r = tx(s, "insert_lead", |tx| {
        Ok(insert_lead(
            tx,
            &new_lead(ContactId(c.0 + 1000), "provider-a", "PA-000124"),
        ))
    });
    expect_conflict("insert_lead for a contact that does not exist", r);
}

/// A lead-level duplicate links an existing original lead: it reads back with `duplicate_of`;
/// a missing original is a `Conflict` that stores nothing.
pub fn leads_duplicate_of(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (c, original) = tx(s, "seed", |tx| {
        let c = insert_contact(tx, &new_contact("provider:provider-a", "+13178638426"))?;
        Ok((c, insert_lead(tx, &new_lead(c, "provider-a", "PA-000001"))?))
    });
    let dup = NewLead {
        duplicate_of: Some(original),
        received_at: at(60),
        ..new_lead(c, "provider-a", "PA-000002")
    };
    let d = tx(s, "insert duplicate", |tx| Ok(insert_lead(tx, &dup)?));
    let got = tx(s, "lead", |tx| Ok((tx.lead(d)?, tx.lead(original)?)));
    assert_eq!(
        got.0,
        Some(Lead { id: d, lead: dup }),
        "a duplicate lead must read back with duplicate_of"
    );
    assert_eq!(
        got.1.map(|l| l.lead.duplicate_of),
        Some(None),
        "an original lead reads back with duplicate_of None"
    );
    let orphan = NewLead {
        duplicate_of: Some(LeadId(d.0 + 1000)),
        ..new_lead(c, "provider-a", "PA-000003")
    };
    let (r, stored) = tx(s, "duplicate of a missing lead", |tx| {
        let r = insert_lead(tx, &orphan);
        Ok((r, tx.stored_record("provider-a", "PA-000003")?))
    });
    expect_conflict("insert_lead with duplicate_of naming a missing lead", r);
    assert_eq!(
        stored, None,
        "a refused duplicate must not claim its record key"
    );
    let fixed = tx(s, "the same record with an existing original", |tx| {
        Ok(insert_lead(
            tx,
            &NewLead {
                duplicate_of: Some(original),
                ..orphan.clone()
            },
        )?)
    });
    let n = tx(s, "counts", |tx| Ok(tx.reports().counts()?));
    assert_eq!(n.leads, 3, "exactly the three accepted leads are stored");
    assert_eq!(
        tx(s, "stored_record", |tx| Ok(
            tx.stored_record("provider-a", "PA-000003")?
        )),
        Some(StoredRecord::Lead(fixed))
    );
}

/// `latest_original_lead`: latest `received_at`, then highest id; duplicates, other
/// products (matched exactly) and other contacts are ignored.
pub fn latest_original_lead_selection(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (c, c2) = tx(s, "contacts", |tx| {
        Ok((
            insert_contact(tx, &new_contact("provider:provider-a", "+13178638426"))?,
            insert_contact(tx, &new_contact("provider:provider-a", "+19198233590"))?,
        ))
    });
    let latest = |contact: ContactId, product: &str| {
        let product = product.to_string();
        tx(s, "latest_original_lead", move |tx| {
            Ok(tx.latest_original_lead(contact, &product)?.map(|l| l.id))
        })
    };
    assert_eq!(latest(c, "Solar"), None, "no leads: None");
    let mut n = 0;
    let mut add = |contact: ContactId, product: &str, secs: i64, duplicate_of: Option<LeadId>| {
        n += 1;
        let lead = NewLead {
            product_type: product.into(),
            received_at: at(secs),
            duplicate_of,
            ..new_lead(contact, "provider-a", &format!("PA-{n:06}"))
        };
        tx(s, "insert_lead", |tx| Ok(insert_lead(tx, &lead)?))
    };
    let l1 = add(c, "Solar", 10, None);
    assert_eq!(latest(c, "Solar"), Some(l1), "the only lead");
    let l2 = add(c, "Solar", 30, None);
    let _l3 = add(c, "Solar", 20, None);
    assert_eq!(
        latest(c, "Solar"),
        Some(l2),
        "the latest received_at wins, not the latest inserted"
    );
    let l4 = add(c, "Solar", 30, None);
    assert_eq!(
        latest(c, "Solar"),
        Some(l4),
        "on equal received_at the highest id wins"
    );
    let _d = add(c, "Solar", 100, Some(l4));
    assert_eq!(
        latest(c, "Solar"),
        Some(l4),
        "duplicates are ignored, however recent"
    );
    let r = add(c, "Roofing", 200, None);
    let _other = add(c2, "Solar", 500, None);
    assert_eq!(
        (
            latest(c, "Solar"),
            latest(c, "Roofing"),
            latest(c, "solar"),
            latest(c, "Battery"),
            latest(ContactId(c.0 + c2.0 + 1000), "Solar"),
        ),
        (Some(l4), Some(r), None, None, None),
        "other products (matched exactly), other contacts and missing contacts are ignored"
    );
    // Times are compared as times, to the microsecond.
    let fine = NewLead {
        received_at: at(30) + SignedDuration::from_micros(1),
        ..new_lead(c, "provider-a", "PA-FINE")
    };
    let f = tx(s, "insert_lead", |tx| Ok(insert_lead(tx, &fine)?));
    assert_eq!(
        latest(c, "Solar"),
        Some(f),
        "one microsecond later is later"
    );
}

/// One stored outcome per `(provider_id, record_key)` across leads and rejections.
pub fn record_keys_unique_across_leads_and_rejections(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let c = tx(s, "insert_contact", |tx| {
        Ok(insert_contact(
            tx,
            &new_contact("provider:provider-a", "+13178638426"),
        )?)
    });
    let (rej, lead) = tx(s, "insert outcomes", |tx| {
        Ok((
            tx.insert_rejection(&new_rejection(
                "provider-a",
                "PA-000001",
                &["invalid_phone"],
            ))?,
            insert_lead(tx, &new_lead(c, "provider-a", "PA-000002"))?,
        ))
    });
    let found = tx(s, "stored_record", |tx| {
        Ok((
            tx.stored_record("provider-a", "PA-000001")?,
            tx.stored_record("provider-a", "PA-000002")?,
            tx.stored_record("provider-a", "PA-000003")?,
        ))
    });
    assert_eq!(
        found,
        (
            Some(StoredRecord::Rejection(rej)),
            Some(StoredRecord::Lead(lead)),
            None
        ),
        "stored_record must report the rejection and the lead, and None for a new key"
    );
    let r = tx(s, "lead over rejection", |tx| {
        Ok(insert_lead(tx, &new_lead(c, "provider-a", "PA-000001")))
    });
    expect_conflict("insert_lead with the record key of a stored rejection", r);
    let r = tx(s, "rejection over lead", |tx| {
        Ok(tx.insert_rejection(&new_rejection("provider-a", "PA-000002", &["unknown_zip"])))
    });
    expect_conflict("insert_rejection with the record key of a stored lead", r);
    let r = tx(s, "rejection twice", |tx| {
        Ok(tx.insert_rejection(&new_rejection("provider-a", "PA-000001", &["unknown_zip"])))
    });
    expect_conflict(
        "insert_rejection with the record key of a stored rejection",
        r,
    );
    let r = tx(s, "lead twice", |tx| {
        Ok(insert_lead(tx, &new_lead(c, "provider-a", "PA-000002")))
    });
    expect_conflict("insert_lead with the record key of a stored lead", r);

    // The key is per provider: the same key from another provider is a new record.
    let (l2, r2) = tx(s, "other provider", |tx| {
        Ok((
            insert_lead(tx, &new_lead(c, "provider-b", "PA-000001"))?,
            tx.insert_rejection(&new_rejection("provider-c", "PA-000002", &["wrong_type"]))?,
        ))
    });
    let found = tx(s, "stored_record", |tx| {
        Ok((
            tx.stored_record("provider-a", "PA-000001")?,
            tx.stored_record("provider-b", "PA-000001")?,
            tx.stored_record("provider-c", "PA-000002")?,
        ))
    });
    assert_eq!(
        found,
        (
            Some(StoredRecord::Rejection(rej)),
            Some(StoredRecord::Lead(l2)),
            Some(StoredRecord::Rejection(r2))
        ),
        "record keys are scoped by provider, and refused inserts change nothing"
    );
    let n = tx(s, "counts", |tx| Ok(tx.reports().counts()?));
    assert_eq!(
        (n.leads, n.rejections),
        (2, 2),
        "refused inserts must store no row"
    );
}

/// A refused `insert_lead` (missing contact) or `insert_rejection` leaves no trace: the key is
/// still free and no row was added, even when the transaction commits afterwards.
pub fn failed_insert_leaves_no_outcome(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (r, after) = tx(s, "insert_lead with a missing contact", |tx| {
        let r = insert_lead(tx, &new_lead(ContactId(4242), "provider-a", "PA-000777"));
        Ok((r, tx.stored_record("provider-a", "PA-000777")?))
    });
    expect_conflict("insert_lead for a contact that does not exist", r);
    assert_eq!(
        after, None,
        "a refused insert_lead must not claim its record key"
    );
    let rej = tx(s, "insert_rejection after the refused lead", |tx| {
        Ok(tx.insert_rejection(&new_rejection(
            "provider-a",
            "PA-000777",
            &["missing_phone"],
        ))?)
    });
    let found = tx(s, "stored_record", |tx| {
        Ok(tx.stored_record("provider-a", "PA-000777")?)
    });
    assert_eq!(found, Some(StoredRecord::Rejection(rej)));
    let n = tx(s, "counts", |tx| Ok(tx.reports().counts()?));
    assert_eq!(
        (n.leads, n.rejections),
        (0, 1),
        "the refused lead must not be stored"
    );
}

/// A `lead_status_history` row.
fn status_change(
    lead_id: LeadId,
    from: Option<&str>,
    to: &str,
    reason: Option<&str>,
    changed_at: Timestamp,
) -> LeadStatusChange {
    LeadStatusChange {
        lead_id,
        from_status: from.map(|s| s.parse().expect("a lead status")),
        to_status: to.parse().expect("a lead status"),
        reason: reason.map(str::to_string),
        changed_at,
    }
}

/// `insert_lead_as` stores what `insert_lead` then `set_lead_status` store: the same lead,
/// the same history (`None -> new` at `received_at`, then `new -> status` with its reason,
/// nothing more for `new`), the same later changes, and the same `Conflict` for a stored key.
pub fn insert_lead_as_equals_insert_then_set(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let c = tx(s, "contact", |tx| {
        Ok(insert_contact(
            tx,
            &new_contact("provider:provider-a", &phone(1)),
        )?)
    });
    let (a, b, n) = tx(s, "leads", |tx| {
        let a = insert_lead(tx, &new_lead(c, "provider-a", "PA-1"))?;
        tx.set_lead_status(a, LeadStatus::Unrouted, Some("no_rule_for_zip"), at(5))?;
        let b = tx.insert_lead_as(
            &new_lead(c, "provider-a", "PA-2"),
            LeadStatus::Unrouted,
            Some("no_rule_for_zip"),
            at(5),
        )?;
        let n = tx.insert_lead_as(
            &new_lead(c, "provider-a", "PA-3"),
            LeadStatus::New,
            None,
            at(6),
        )?;
        Ok((a, b, n))
    });
    let (la, lb, ha, hb, hn) = tx(s, "read back", |tx| {
        Ok((
            tx.lead(a)?,
            tx.lead(b)?,
            tx.lead_status_history(a)?,
            tx.lead_status_history(b)?,
            tx.lead_status_history(n)?,
        ))
    });
    let key_free = |l: Option<Lead>| {
        let mut l = l.expect("stored").lead;
        l.record_key.clear();
        l.external_id = None;
        l.raw_payload.clear();
        l
    };
    assert_eq!(key_free(la), key_free(lb), "the same lead is stored");
    let relabeled: Vec<LeadStatusChange> = ha
        .into_iter()
        .map(|h| LeadStatusChange { lead_id: b, ..h })
        .collect();
    assert_eq!(
        hb, relabeled,
        "the same history as insert_lead + set_lead_status"
    );
    assert_eq!(hb.len(), 2, "None -> new, then new -> unrouted");
    assert_eq!(
        hn,
        vec![status_change(n, None, "new", None, at(1))],
        "staying at new writes only the first row"
    );
    // The stored status really is the one given: a change appends from it, a repeat does not.
    let (hb2, hn2) = tx(s, "later changes", |tx| {
        tx.set_lead_status(b, LeadStatus::Unrouted, Some("again"), at(7))?;
        tx.set_lead_status(b, LeadStatus::Routed, None, at(8))?;
        tx.set_lead_status(n, LeadStatus::New, None, at(8))?;
        Ok((tx.lead_status_history(b)?, tx.lead_status_history(n)?))
    });
    assert_eq!(hb2.len(), 3, "{hb2:?}");
    assert_eq!(
        (
            hb2[2].from_status.map(|s| s.as_str()),
            hb2[2].to_status.as_str()
        ),
        (Some("unrouted"), "routed")
    );
    assert_eq!(hn2.len(), 1, "{hn2:?}");
    // A stored key: Conflict, nothing written.
    let (dup, after) = tx(s, "stored key", |tx| {
        let r = tx.insert_lead_as(
            &new_lead(c, "provider-a", "PA-2"),
            LeadStatus::Routed,
            None,
            at(9),
        );
        Ok((r, tx.lead_status_history(b)?.len()))
    });
    expect_conflict("insert_lead_as of a stored record key", dup);
    assert_eq!(after, 3, "a refused lead writes no history");
}

/// `insert_lead` starts every lead (duplicates too) at `new` with one history row at its
/// `received_at`; `set_lead_status` appends a change with the previous status and reason,
/// does nothing for the current status, is a `Conflict` for a missing lead (the transaction
/// stays usable), and rolls back with its transaction.
pub fn lead_status_history_changes(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (c, l) = tx(s, "seed", |tx| {
        let c = insert_contact(tx, &new_contact("provider:provider-a", &phone(1)))?;
        Ok((c, insert_lead(tx, &new_lead(c, "provider-a", "PA-00001"))?))
    });

    let first = status_change(l, None, "new", None, at(1));
    assert_eq!(
        tx(s, "history", |tx| Ok(tx.lead_status_history(l)?)),
        vec![first.clone()],
        "insert_lead writes the first history row: None -> new at received_at"
    );
    tx(s, "set_lead_status", |tx| {
        tx.set_lead_status(l, LeadStatus::Unrouted, Some("no_matching_rule"), at(3))?;
        // The status it already has: no change, no row.
        tx.set_lead_status(l, LeadStatus::Unrouted, Some("ignored"), at(4))?;
        Ok(())
    });
    tx(s, "set_lead_status (later)", |tx| {
        tx.set_lead_status(l, LeadStatus::Routed, None, at(5))?;
        tx.set_lead_status(l, LeadStatus::Routed, None, at(6))?;
        Ok(tx.set_lead_status(l, LeadStatus::Delivered, Some("HTTP 200"), at(7))?)
    });
    let expected = vec![
        first.clone(),
        status_change(l, Some("new"), "unrouted", Some("no_matching_rule"), at(3)),
        status_change(l, Some("unrouted"), "routed", None, at(5)),
        status_change(l, Some("routed"), "delivered", Some("HTTP 200"), at(7)),
    ];
    assert_eq!(
        tx(s, "history", |tx| Ok(tx.lead_status_history(l)?)),
        expected,
        "each change is appended oldest first with its previous status; a repeat is ignored"
    );

    // A duplicate starts at `new` too; the engine moves it on.
    let d = tx(s, "duplicate", |tx| {
        let d = insert_lead(
            tx,
            &NewLead {
                duplicate_of: Some(l),
                received_at: at(60),
                ..new_lead(c, "provider-a", "PA-00002")
            },
        )?;
        tx.set_lead_status(
            d,
            LeadStatus::Duplicate,
            Some("lead-level duplicate"),
            at(60),
        )?;
        Ok(d)
    });
    assert_eq!(
        tx(s, "history", |tx| Ok(tx.lead_status_history(d)?)),
        vec![
            status_change(d, None, "new", None, at(60)),
            status_change(
                d,
                Some("new"),
                "duplicate",
                Some("lead-level duplicate"),
                at(60)
            ),
        ],
        "a duplicate lead also starts at new"
    );

    // A missing lead: Conflict, nothing written, the transaction stays usable.
    let (missing, history_of_missing, usable) = tx(s, "missing lead", |tx| {
        let r = tx.set_lead_status(LeadId(d.0 + 1000), LeadStatus::Routed, None, at(8));
        let h = tx.lead_status_history(LeadId(d.0 + 1000))?;
        tx.set_lead_status(l, LeadStatus::Returned, Some("customer request"), at(9))?;
        Ok((r, h, tx.lead_status_history(l)?.len()))
    });
    expect_conflict("set_lead_status of a missing lead", missing);
    assert!(
        history_of_missing.is_empty(),
        "a missing lead has no history"
    );
    assert_eq!(usable, 5, "the transaction stays usable after the Conflict");

    // Rollback: the status and the rows go back, and so does a rolled-back lead's first row.
    let before = tx(s, "history", |tx| Ok(tx.lead_status_history(l)?));
    let rolled = with_tx(s, |tx| {
        tx.set_lead_status(l, LeadStatus::DeliveryFailed, Some("HTTP 500"), at(10))?;
        let n = insert_lead(tx, &new_lead(c, "provider-a", "PA-00003"))?;
        tx.set_lead_status(n, LeadStatus::Routed, None, at(11))?;
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    assert!(rolled.is_err());
    assert_eq!(
        tx(s, "history after rollback", |tx| Ok(
            tx.lead_status_history(l)?
        )),
        before,
        "a rolled-back status change must leave no row"
    );
    let n = tx(s, "the rolled-back record again", |tx| {
        // The status went back to `returned`: setting it is a no-op, `delivery_failed` is not.
        tx.set_lead_status(l, LeadStatus::Returned, None, at(12))?;
        tx.set_lead_status(l, LeadStatus::DeliveryFailed, None, at(13))?;
        Ok(insert_lead(tx, &new_lead(c, "provider-a", "PA-00003"))?)
    });
    let (h, hn) = tx(s, "history", |tx| {
        Ok((tx.lead_status_history(l)?, tx.lead_status_history(n)?))
    });
    assert_eq!(
        h.last(),
        Some(&status_change(
            l,
            Some("returned"),
            "delivery_failed",
            None,
            at(13)
        )),
        "after a rollback the lead's status is the one committed before it"
    );
    assert_eq!(h.len(), before.len() + 1);
    assert_eq!(
        hn,
        vec![status_change(n, None, "new", None, at(1))],
        "a lead inserted after a rolled-back one has exactly its own first row"
    );
}

/// [`LeadRepo::set_lead_appointment_date`] gives a lead without a time its time and changes
/// nothing else; an unknown lead is a `Conflict`; a rolled-back write leaves it unset.
pub fn lead_appointment_date_set(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let lead = NewLead {
        appointment_date: None,
        ..new_lead(ContactId(0), "provider-a", "PA-000777")
    };
    let id = tx(s, "seed", |tx| {
        let c = insert_contact(tx, &new_contact("provider:provider-a", "+13178638426"))?;
        Ok(insert_lead(
            tx,
            &NewLead {
                contact_id: c,
                ..lead.clone()
            },
        )?)
    });
    let at = ts("2026-03-03T15:00:00Z");
    let rolled = with_tx(s, |tx| {
        tx.set_lead_appointment_date(id, at)?;
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    assert!(rolled.is_err());
    let before = tx(s, "read", |tx| Ok(tx.lead(id)?)).expect("stored");
    assert_eq!(
        before.lead.appointment_date, None,
        "a rolled-back write changes nothing"
    );
    tx(s, "set", |tx| Ok(tx.set_lead_appointment_date(id, at)?));
    let after = tx(s, "read", |tx| Ok(tx.lead(id)?)).expect("stored");
    assert_eq!(after.lead.appointment_date, Some(at));
    let mut expected = before.clone();
    expected.lead.appointment_date = Some(at);
    assert_eq!(after, expected, "nothing else changes");
    expect_conflict(
        "set_lead_appointment_date of an unknown lead",
        with_tx(s, |tx| Ok(tx.set_lead_appointment_date(LeadId(9_999), at))).expect("transaction"),
    );
}
