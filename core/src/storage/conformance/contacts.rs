//! Contacts: [`ContactRepo`] dedup keys, email-only contacts and updates.

use super::*;

/// One contact per `(dedup_scope, phone_e164)`; lookups by key and id; missing → `None`.
pub fn contacts_unique_dedup_key(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let none = tx(s, "contact_by_phone", |tx| {
        Ok((
            tx.contact_by_phone("provider:provider-a", "+13178638426")?,
            tx.contact(ContactId(1))?,
            tx.contact(ContactId(0))?,
            tx.contact(ContactId(-5))?,
        ))
    });
    assert_eq!(
        none,
        (None, None, None, None),
        "lookups on an empty store must be Ok(None)"
    );

    let c = new_contact("provider:provider-a", "+13178638426");
    let id = tx(s, "insert_contact", |tx| Ok(insert_contact(tx, &c)?));
    let expected = Contact {
        id,
        contact: c.clone(),
    };
    let (by_key, by_id) = tx(s, "contact lookups", |tx| {
        Ok((
            tx.contact_by_phone("provider:provider-a", "+13178638426")?,
            tx.contact(id)?,
        ))
    });
    assert_eq!(
        by_key,
        Some(expected.clone()),
        "contact_by_phone must return the stored contact"
    );
    assert_eq!(
        by_id,
        Some(expected.clone()),
        "contact(id) must return the stored contact"
    );

    let mut dup = c.clone();
    dup.first_name = Some("Steph".into());
    dup.email = None;
    let r = tx(s, "insert duplicate contact", |tx| {
        Ok(insert_contact(tx, &dup))
    });
    expect_conflict(
        "insert_contact with an existing (dedup_scope, phone_e164)",
        r,
    );
    let r = tx(
        s,
        "insert duplicate contact in the same transaction",
        |tx| {
            let other = insert_contact(tx, &new_contact("provider:provider-b", "+12125550123"))?;
            let again = insert_contact(tx, &new_contact("provider:provider-b", "+12125550123"));
            Ok((other, again))
        },
    );
    expect_conflict("insert_contact twice with one key in one transaction", r.1);

    let (global, other_phone) = tx(s, "insert contacts with other keys", |tx| {
        Ok((
            insert_contact(tx, &new_contact("global", "+13178638426"))?,
            insert_contact(tx, &new_contact("provider:provider-a", "+13178638427"))?,
        ))
    });
    let all = [id, r.0, global, other_phone];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a, b, "contact ids must be distinct");
        }
    }
    let again = tx(s, "contact_by_phone", |tx| {
        Ok(tx.contact_by_phone("provider:provider-a", "+13178638426")?)
    });
    assert_eq!(
        again,
        Some(expected),
        "a refused duplicate must not change the stored contact"
    );
    let g = tx(s, "contact_by_phone", |tx| {
        Ok(tx.contact_by_phone("global", "+13178638426")?)
    });
    assert_eq!(
        g.map(|c| c.id),
        Some(global),
        "the same phone in another scope is another contact"
    );
}

/// A contact without a phone is unique by `(dedup_scope, email_key)` among contacts without a
/// phone; contacts with a phone may share an email key with each other and with it;
/// `contact_by_email_key` returns the lowest id with the key, with or without a phone.
pub fn contacts_email_only(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let scope = "provider:provider-a";
    let key = "jmonroe@example.net";
    let missing = tx(s, "contact_by_email_key", |tx| {
        Ok(tx.contact_by_email_key(scope, key)?)
    });
    assert_eq!(
        missing, None,
        "contact_by_email_key on an empty store is None"
    );

    let e = email_contact(scope, key);
    let e_id = tx(s, "insert email-only contact", |tx| {
        Ok(insert_contact(tx, &e)?)
    });
    let expected = Contact {
        id: e_id,
        contact: e.clone(),
    };
    let (by_key, by_id) = tx(s, "lookups", |tx| {
        Ok((tx.contact_by_email_key(scope, key)?, tx.contact(e_id)?))
    });
    assert_eq!(
        by_key,
        Some(expected.clone()),
        "contact_by_email_key must return the email-only contact"
    );
    assert_eq!(
        by_id,
        Some(expected.clone()),
        "an email-only contact must read back with phone_e164 None"
    );

    let mut again = email_contact(scope, key);
    again.first_name = Some("Jordan M.".into());
    let r = tx(s, "second email-only contact with the key", |tx| {
        Ok(insert_contact(tx, &again))
    });
    expect_conflict(
        "insert_contact without a phone and with an existing (dedup_scope, email_key)",
        r,
    );

    // Phone contacts may share the key, with each other and with the email-only contact.
    let with_phone = |p: &str| NewContact {
        email: Some(key.into()),
        email_key: Some(key.into()),
        ..new_contact(scope, p)
    };
    let (p1, p2, other_scope, other_key) = tx(s, "contacts sharing the key", |tx| {
        Ok((
            insert_contact(tx, &with_phone("+13178638426"))?,
            insert_contact(tx, &with_phone("+19198233590"))?,
            insert_contact(tx, &email_contact("global", key))?,
            insert_contact(tx, &email_contact(scope, "sh@example.org"))?,
        ))
    });
    let all = [e_id, p1, p2, other_scope, other_key];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a, b, "contact ids must be distinct");
        }
    }
    let got = tx(s, "lookups", |tx| {
        Ok((
            tx.contact_by_email_key(scope, key)?.map(|c| c.id),
            tx.contact_by_email_key("global", key)?.map(|c| c.id),
            tx.contact_by_email_key(scope, "sh@example.org")?
                .map(|c| c.id),
            tx.contact_by_email_key(scope, "nobody@example.com")?,
            tx.contact_by_phone(scope, "+19198233590")?.map(|c| c.id),
        ))
    });
    assert_eq!(
        got,
        (
            Some(e_id),
            Some(other_scope),
            Some(other_key),
            None,
            Some(p2)
        ),
        "contact_by_email_key is per scope and returns the oldest contact with the key"
    );

    // A phone contact first, then an email-only one with its key: allowed, and the lookup
    // returns the older phone contact.
    let k2 = "dana.lee@example.com";
    let (first, second) = tx(s, "phone contact, then email-only with its key", |tx| {
        let first = insert_contact(
            tx,
            &NewContact {
                email: Some(k2.into()),
                email_key: Some(k2.into()),
                ..new_contact(scope, "+14155550132")
            },
        )?;
        let second = insert_contact(tx, &email_contact(scope, k2))?;
        Ok((first, second))
    });
    assert_ne!(first, second);
    let found = tx(s, "contact_by_email_key", |tx| {
        Ok(tx.contact_by_email_key(scope, k2)?)
    });
    assert_eq!(
        found.map(|c| (c.id, c.contact.phone_e164)),
        Some((first, Some("+14155550132".to_string()))),
        "contact_by_email_key returns the lowest id, with or without a phone"
    );
    let again = tx(s, "contact", |tx| Ok(tx.contact(e_id)?));
    assert_eq!(
        again,
        Some(expected),
        "a refused duplicate must not change the stored contact"
    );
    assert_eq!(tx(s, "counts", |tx| Ok(tx.reports().counts()?)).contacts, 7);
}

/// A contact needs a phone or an email key: neither is a `Conflict`, on insert and on update,
/// and the transaction stays usable.
pub fn contacts_need_a_key(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let keyless = NewContact {
        phone_e164: None,
        email_key: None,
        email: Some("not an email".into()),
        ..new_contact("provider:provider-a", "+13178638426")
    };
    let (r, later) = tx(s, "insert a contact with neither key", |tx| {
        let r = insert_contact(tx, &keyless);
        let later = insert_contact(tx, &email_contact("provider:provider-a", "a@example.com"))?;
        Ok((r, later))
    });
    expect_conflict("insert_contact with neither a phone nor an email key", r);
    let r = tx(s, "update a contact to neither key", |tx| {
        Ok(tx.update_contact(later, &keyless))
    });
    expect_conflict("update_contact to neither a phone nor an email key", r);
    let (n, stored) = tx(s, "read back", |tx| {
        Ok((tx.reports().counts()?.contacts, tx.contact(later)?))
    });
    assert_eq!(n, 1, "the keyless contact must not be stored");
    assert_eq!(
        stored.map(|c| c.contact),
        Some(email_contact("provider:provider-a", "a@example.com")),
        "a refused update must leave the contact unchanged"
    );
}

/// `update_contact` replaces every stored field but `dedup_scope` and `created_at`, including
/// setting a phone on an email-only contact (a merge) and clearing optional fields.
pub fn update_contact_replaces_fields(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let scope = "provider:provider-a";
    let key = "jmonroe@example.net";
    let e = email_contact(scope, key);
    let id = tx(s, "insert", |tx| Ok(insert_contact(tx, &e)?));
    let merged = NewContact {
        dedup_scope: "global".into(),
        phone_e164: Some("+13178638426".into()),
        phone_extension: Some("12".into()),
        email: Some("J.Monroe@Example.net".into()),
        email_key: Some(key.into()),
        first_name: Some("Jordan".into()),
        last_name: Some("Monroe".into()),
        zip_code: Some("46262".into()),
        created_at: at(500),
    };
    tx(s, "merge a phone into the email-only contact", |tx| {
        Ok(tx.update_contact(id, &merged)?)
    });
    let expected = Contact {
        id,
        contact: NewContact {
            dedup_scope: scope.into(),
            created_at: T0,
            ..merged.clone()
        },
    };
    let got = tx(s, "lookups", |tx| {
        Ok((
            tx.contact(id)?,
            tx.contact_by_phone(scope, "+13178638426")?,
            tx.contact_by_email_key(scope, key)?,
            tx.contact_by_phone("global", "+13178638426")?,
        ))
    });
    assert_eq!(
        got,
        (
            Some(expected.clone()),
            Some(expected.clone()),
            Some(expected.clone()),
            None
        ),
        "update_contact must replace the fields, keep dedup_scope and created_at, and make \
         the new phone find the contact"
    );
    // Now that it has a phone, the email key is free for a new email-only contact; the
    // lookup by key still returns the older contact.
    let newer = tx(
        s,
        "email-only contact with the merged contact's key",
        |tx| Ok(insert_contact(tx, &email_contact(scope, key))?),
    );
    assert_ne!(newer, id);
    let found = tx(s, "contact_by_email_key", |tx| {
        Ok(tx.contact_by_email_key(scope, key)?.map(|c| c.id))
    });
    assert_eq!(
        found,
        Some(id),
        "contact_by_email_key returns the lowest id"
    );

    // Clearing optional fields and changing the email key of a phone contact.
    let cleared = NewContact {
        phone_extension: None,
        email: None,
        email_key: None,
        first_name: None,
        last_name: None,
        zip_code: None,
        ..merged.clone()
    };
    tx(s, "clear optional fields", |tx| {
        Ok(tx.update_contact(id, &cleared)?)
    });
    let got = tx(s, "contact", |tx| Ok(tx.contact(id)?));
    assert_eq!(
        got,
        Some(Contact {
            id,
            contact: NewContact {
                dedup_scope: scope.into(),
                created_at: T0,
                ..cleared
            }
        }),
        "update_contact must clear fields set to None"
    );
    let found = tx(s, "contact_by_email_key", |tx| {
        Ok(tx.contact_by_email_key(scope, key)?.map(|c| c.id))
    });
    assert_eq!(
        found,
        Some(newer),
        "a contact whose email key was cleared is no longer found by it"
    );
    // An unchanged update is fine.
    let same = tx(s, "contact", |tx| Ok(tx.contact(newer)?)).map(|c| c.contact);
    let same = same.unwrap_or_else(|| panic!("contact {newer} vanished"));
    tx(s, "update with the same fields", |tx| {
        Ok(tx.update_contact(newer, &same)?)
    });
    assert_eq!(
        tx(s, "contact", |tx| Ok(tx.contact(newer)?)).map(|c| c.contact),
        Some(same)
    );
}

/// `update_contact` keeps uniqueness: `Conflict` when the new phone is another contact's in
/// the scope, when a phone-less contact's new email key is another phone-less contact's, or
/// when the contact does not exist; a refused update changes nothing and the transaction
/// stays usable.
pub fn update_contact_keeps_uniqueness(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let scope = "provider:provider-a";
    let (a, b, e1, e2, g) = tx(s, "seed", |tx| {
        Ok((
            insert_contact(tx, &new_contact(scope, "+13178638426"))?,
            insert_contact(tx, &new_contact(scope, "+19198233590"))?,
            insert_contact(tx, &email_contact(scope, "one@example.com"))?,
            insert_contact(tx, &email_contact(scope, "two@example.com"))?,
            insert_contact(tx, &new_contact("global", "+14155550132"))?,
        ))
    });
    let before = tx(s, "read", |tx| {
        Ok([a, b, e1, e2, g].map(|id| tx.contact(id)))
    });
    let before: Vec<_> = before
        .into_iter()
        .map(|c| c.unwrap_or_else(|e| panic!("read: {e}")))
        .collect();

    let (r1, r2, r3, r4, r5, ok) = tx(s, "refused updates, then a good one", |tx| {
        // b takes a's phone.
        let r1 = tx.update_contact(b, &new_contact(scope, "+13178638426"));
        // An email-only contact takes a's phone (a merge onto a taken phone).
        let r2 = tx.update_contact(
            e1,
            &NewContact {
                phone_e164: Some("+13178638426".into()),
                ..email_contact(scope, "one@example.com")
            },
        );
        // An email-only contact takes another email-only contact's key.
        let r3 = tx.update_contact(e2, &email_contact(scope, "one@example.com"));
        // A phone contact drops its phone while an email-only contact holds its key.
        let r4 = tx.update_contact(
            a,
            &NewContact {
                phone_e164: None,
                email_key: Some("one@example.com".into()),
                ..new_contact(scope, "+13178638426")
            },
        );
        // A missing contact.
        let r5 = tx.update_contact(ContactId(g.0 + 1000), &new_contact(scope, "+12125550123"));
        // The same phone in another scope is not a conflict: g is in "global", so this
        // moves nothing, and the transaction is still usable after the refusals.
        let ok = tx.update_contact(g, &new_contact("global", "+13178638426"));
        Ok((r1, r2, r3, r4, r5, ok))
    });
    expect_conflict("update_contact to another contact's phone", r1);
    expect_conflict(
        "update_contact setting a phone that another contact in the scope has",
        r2,
    );
    expect_conflict(
        "update_contact giving a phone-less contact another phone-less contact's email key",
        r3,
    );
    expect_conflict(
        "update_contact removing the phone of a contact whose email key a phone-less contact holds",
        r4,
    );
    expect_conflict("update_contact of a contact that does not exist", r5);
    assert!(
        ok.is_ok(),
        "writes after refused updates in one transaction must still work: {ok:?}"
    );
    let after = tx(s, "read", |tx| Ok([a, b, e1, e2].map(|id| tx.contact(id))));
    let after: Vec<_> = after
        .into_iter()
        .map(|c| c.unwrap_or_else(|e| panic!("read: {e}")))
        .collect();
    assert_eq!(
        after,
        before[..4].to_vec(),
        "refused updates must leave every contact unchanged"
    );
    let got = tx(s, "lookups", |tx| {
        Ok((
            tx.contact_by_phone(scope, "+13178638426")?.map(|c| c.id),
            tx.contact_by_phone("global", "+13178638426")?.map(|c| c.id),
            tx.contact_by_phone("global", "+14155550132")?,
            tx.reports().counts()?.contacts,
        ))
    });
    assert_eq!(
        got,
        (Some(a), Some(g), None, 5),
        "the scope's phone stays with its contact; the other scope's update moved its phone"
    );
}

/// An update inside a transaction that fails is rolled back with it: the contact reads back
/// unchanged, its old key still holds and its new one is free.
pub fn update_contact_rolls_back_with_the_transaction(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let scope = "provider:provider-a";
    let key = "jmonroe@example.net";
    let e = tx(s, "seed", |tx| {
        Ok(insert_contact(tx, &email_contact(scope, key))?)
    });
    let before = tx(s, "read", |tx| Ok(tx.contact(e)?));
    let result = with_tx(s, |tx| {
        tx.update_contact(
            e,
            &NewContact {
                phone_e164: Some("+13178638426".into()),
                first_name: Some("Changed".into()),
                ..email_contact(scope, key)
            },
        )?;
        // Inside the transaction the update is visible.
        let seen = tx.contact_by_phone(scope, "+13178638426")?.map(|c| c.id);
        if seen != Some(e) {
            return Err(Error::Internal(format!(
                "update not visible inside its transaction: {seen:?}"
            )));
        }
        Err::<(), _>(Error::Internal("conformance: deliberate failure".into()))
    });
    match result {
        Err(Error::Internal(m)) if m == "conformance: deliberate failure" => {}
        other => panic!("transaction must return the closure's error unchanged, got {other:?}"),
    }
    let (after, by_phone) = tx(s, "read back", |tx| {
        Ok((tx.contact(e)?, tx.contact_by_phone(scope, "+13178638426")?))
    });
    assert_eq!(
        after, before,
        "a rolled-back update must not change the contact"
    );
    assert_eq!(
        by_phone, None,
        "a rolled-back update must not keep the new phone"
    );
    let (dup, free) = tx(s, "keys after the rollback", |tx| {
        Ok((
            insert_contact(tx, &email_contact(scope, key)),
            insert_contact(tx, &new_contact(scope, "+13178638426"))?,
        ))
    });
    expect_conflict(
        "the email-only key of a contact whose merge was rolled back still holds",
        dup,
    );
    assert_ne!(free, e, "the rolled-back phone is free for another contact");
}

/// `insert_contact_if_absent` creates a contact once and then answers `Existing` with the
/// holder's id for its phone key, or (without a phone) for its email key among contacts
/// without a phone; it writes nothing then, fails no statement, and the transaction goes on.
pub fn insert_contact_if_absent_finds_the_holder(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let scope = "provider:provider-a";
    let (first, again, other_scope, by_email, by_email_again, count) = tx(s, "insert", |tx| {
        let first = tx.insert_contact_if_absent(&new_contact(scope, &phone(1)))?;
        let mut changed = new_contact(scope, &phone(1));
        changed.first_name = Some("Other".into());
        let again = tx.insert_contact_if_absent(&changed)?;
        let other_scope =
            tx.insert_contact_if_absent(&new_contact("provider:provider-b", &phone(1)))?;
        let by_email = tx.insert_contact_if_absent(&email_contact(scope, "ann@example.com"))?;
        let by_email_again =
            tx.insert_contact_if_absent(&email_contact(scope, "ann@example.com"))?;
        Ok((
            first,
            again,
            other_scope,
            by_email,
            by_email_again,
            tx.reports().counts()?.contacts,
        ))
    });
    assert!(matches!(first, Inserted::Created(_)), "{first:?}");
    assert_eq!(
        again,
        Inserted::Existing(first.id()),
        "same phone, same scope"
    );
    assert!(matches!(other_scope, Inserted::Created(id) if id != first.id()));
    assert!(matches!(by_email, Inserted::Created(_)), "{by_email:?}");
    assert_eq!(by_email_again, Inserted::Existing(by_email.id()));
    assert_eq!(count, 3, "an existing key writes no row");
    let stored = tx(s, "read", |tx| Ok(tx.contact(first.id())?));
    assert_eq!(
        stored.and_then(|c| c.contact.first_name),
        new_contact(scope, &phone(1)).first_name,
        "an existing contact is not overwritten"
    );
}
