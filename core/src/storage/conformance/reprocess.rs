//! Reprocessing rejections: [`RecordRepo::rejections`] (filter and pages),
//! [`RecordRepo::release_rejection`] and [`RecordRepo::mark_rejection_reprocessed`].

use super::*;

fn rejection_at(provider_id: &str, record_key: &str, codes: &[&str], seconds: i64) -> NewRejection {
    NewRejection {
        received_at: at(seconds),
        ..new_rejection(provider_id, record_key, codes)
    }
}

fn stored(id: RejectionId, r: &NewRejection) -> StoredRejection {
    StoredRejection {
        id,
        rejection: r.clone(),
        lead_id: None,
        reprocessed_at: None,
    }
}

/// `rejections` lists the rejections matching every set field of the filter (a reason
/// among its codes, the provider, `from <= received_at < to`), with `id > after`, by id, at
/// most `limit`, read back as stored.
pub fn rejections_filter_and_page(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let rs = [
        rejection_at("provider-a", "R-1", &["invalid_phone"], 10),
        rejection_at("provider-a", "R-2", &["unknown_zip", "invalid_phone"], 20),
        rejection_at("provider-b", "R-3", &["unknown_zip"], 30),
        rejection_at("provider-a", "R-4", &["lead_type_not_allowed"], 40),
        rejection_at("provider-b", "R-5", &["invalid_phone"], 50),
    ];
    let ids: Vec<RejectionId> = tx(s, "seed", |tx| {
        rs.iter()
            .map(|r| Ok(tx.insert_rejection(r)?))
            .collect::<Result<Vec<_>, Error>>()
    });
    let all: Vec<StoredRejection> = ids.iter().zip(&rs).map(|(&id, r)| stored(id, r)).collect();
    let pick = |i: &[usize]| i.iter().map(|&i| all[i].clone()).collect::<Vec<_>>();
    let list = |f: RejectionFilter, after: RejectionId, limit: usize| {
        tx(s, "rejections", |tx| Ok(tx.rejections(&f, after, limit)?))
    };
    let none = RejectionId(0);
    assert_eq!(
        list(RejectionFilter::default(), none, 100),
        all,
        "no filter: every rejection, by id, as stored"
    );
    let phone = RejectionFilter {
        reason: Some(ReasonCode::InvalidPhone),
        ..RejectionFilter::default()
    };
    assert_eq!(
        list(phone.clone(), none, 100),
        pick(&[0, 1, 4]),
        "a reason matches rejections carrying it among their codes"
    );
    assert_eq!(
        list(
            RejectionFilter {
                provider_id: Some("provider-a".into()),
                ..phone.clone()
            },
            none,
            100
        ),
        pick(&[0, 1]),
        "every set field must match"
    );
    assert_eq!(
        list(
            RejectionFilter {
                from: Some(at(20)),
                to: Some(at(50)),
                ..RejectionFilter::default()
            },
            none,
            100
        ),
        pick(&[1, 2, 3]),
        "from <= received_at < to"
    );
    assert_eq!(
        list(
            RejectionFilter {
                provider_id: Some("provider-c".into()),
                ..RejectionFilter::default()
            },
            none,
            100
        ),
        vec![]
    );
    assert_eq!(list(phone.clone(), none, 2), pick(&[0, 1]), "at most limit");
    assert_eq!(
        list(phone, ids[1], 2),
        pick(&[4]),
        "after an id: the next page"
    );
}

/// `release_rejection` frees the record key a rejection holds, so a lead with the same key
/// can be stored in the same transaction; it is a `Conflict` when the rejection does not hold
/// its key (released already, the key now a lead's, or no such rejection). A rolled-back
/// release frees nothing.
pub fn release_rejection_frees_the_key(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (c, r1, r2) = tx(s, "seed", |tx| {
        let c = insert_contact(tx, &new_contact("provider:provider-a", &phone(1)))?;
        Ok((
            c,
            tx.insert_rejection(&new_rejection("provider-a", "PA-7", &["unknown_zip"]))?,
            tx.insert_rejection(&new_rejection("provider-a", "PA-8", &["invalid_zip"]))?,
        ))
    });
    let rolled = with_tx(s, |tx| {
        tx.release_rejection(r2)?;
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    assert!(rolled.is_err());
    assert_eq!(
        tx(s, "stored_record", |tx| Ok(
            tx.stored_record("provider-a", "PA-8")?
        )),
        Some(StoredRecord::Rejection(r2)),
        "a rolled-back release leaves the key with its rejection"
    );

    let (freed, lead, twice) = tx(s, "release, then store the lead", |tx| {
        tx.release_rejection(r1)?;
        let freed = tx.stored_record("provider-a", "PA-7")?;
        let lead = insert_lead(tx, &new_lead(c, "provider-a", "PA-7"))?;
        let twice = tx.release_rejection(r1);
        Ok((freed, lead, twice))
    });
    assert_eq!(freed, None, "a released key is free");
    expect_conflict("release_rejection of a key now held by a lead", twice);
    assert_eq!(
        tx(s, "stored_record", |tx| Ok(
            tx.stored_record("provider-a", "PA-7")?
        )),
        Some(StoredRecord::Lead(lead)),
        "the record key now resolves to the lead"
    );

    let twice = tx(s, "release twice", |tx| {
        tx.release_rejection(r2)?;
        Ok(tx.release_rejection(r2))
    });
    expect_conflict("release_rejection of a rejection released already", twice);
    let r = tx(s, "unknown", |tx| {
        Ok(tx.release_rejection(RejectionId(r2.0 + 100)))
    });
    expect_conflict("release_rejection of a rejection that does not exist", r);
    let n = tx(s, "counts", |tx| Ok(tx.reports().counts()?));
    assert_eq!(
        (n.rejections, n.leads),
        (2, 1),
        "a release keeps the rejection row"
    );
}

/// `mark_rejection_reprocessed` sets `lead_id` and `reprocessed_at`: a rejection reprocessed
/// into a lead leaves the `rejections` list, one reprocessed and still rejected stays in it
/// with its time; an unknown rejection is a `Conflict`.
pub fn reprocessed_rejections_leave_the_list(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let r1 = new_rejection("provider-a", "PA-1", &["unknown_zip"]);
    let r2 = new_rejection("provider-a", "PA-2", &["unknown_zip"]);
    let (i1, i2) = tx(s, "seed and reprocess", |tx| {
        let c = insert_contact(tx, &new_contact("provider:provider-a", &phone(1)))?;
        let i1 = tx.insert_rejection(&r1)?;
        let i2 = tx.insert_rejection(&r2)?;
        tx.release_rejection(i1)?;
        let lead = insert_lead(tx, &new_lead(c, "provider-a", "PA-1"))?;
        tx.mark_rejection_reprocessed(i1, Some(lead), at(100))?;
        tx.mark_rejection_reprocessed(i2, None, at(110))?;
        Ok((i1, i2))
    });
    let listed = tx(s, "rejections", |tx| {
        Ok(tx.rejections(&RejectionFilter::default(), RejectionId(0), 10)?)
    });
    assert_eq!(
        listed,
        vec![StoredRejection {
            reprocessed_at: Some(at(110)),
            ..stored(i2, &r2)
        }],
        "a rejection that became a lead leaves the list; one still rejected stays, with \
         reprocessed_at"
    );
    assert!(!listed.iter().any(|r| r.id == i1));
    let r = tx(s, "unknown", |tx| {
        Ok(tx.mark_rejection_reprocessed(RejectionId(i2.0 + 100), None, at(120)))
    });
    expect_conflict(
        "mark_rejection_reprocessed of a rejection that does not exist",
        r,
    );
    // Reprocessed again later, into a lead this time.
    let lead2 = tx(s, "reprocess again", |tx| {
        let c = insert_contact(tx, &new_contact("provider:provider-a", &phone(2)))?;
        tx.release_rejection(i2)?;
        let l = insert_lead(tx, &new_lead(c, "provider-a", "PA-2"))?;
        tx.mark_rejection_reprocessed(i2, Some(l), at(130))?;
        Ok(l)
    });
    assert_eq!(
        tx(s, "stored_record", |tx| Ok(
            tx.stored_record("provider-a", "PA-2")?
        )),
        Some(StoredRecord::Lead(lead2))
    );
    assert!(
        tx(s, "rejections", |tx| Ok(tx.rejections(
            &RejectionFilter::default(),
            RejectionId(0),
            10
        )?))
        .is_empty(),
        "every rejection was reprocessed into a lead"
    );
}
