//! Events: [`EventRepo`] per subject, lead and rejection events kept apart.

use super::*;

/// Events are kept per subject table and returned oldest first.
pub fn events_per_subject(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (c, l, a) = tx(s, "seed", |tx| {
        seed_routed(tx, 1, "solar_ca_001", Cents(20000))
    });
    let ev = |subject, subject_id, event_type: &str, secs, detail| NewEvent {
        subject,
        subject_id,
        event_type: event_type.parse().expect("an event kind"),
        detail,
        created_at: at(secs),
    };
    let c1 = ev(
        EventSubject::Contact,
        c.get(),
        "created",
        1,
        json!({"provider_id": "provider-a"}),
    );
    let c2 = ev(
        EventSubject::Contact,
        c.get(),
        "merged",
        2,
        json!({"duplicate_of": null, "phones": ["+13178638426"]}),
    );
    let l1 = ev(
        EventSubject::Lead,
        l.get(),
        "received",
        1,
        json!({"record_key": "PA-00001", "warnings": ["invalid_email"]}),
    );
    let a1 = ev(
        EventSubject::Appointment,
        a.get(),
        "routed",
        3,
        json!({"rule_id": 1, "skipped": []}),
    );
    let a2 = ev(
        EventSubject::Appointment,
        a.get(),
        "delivered",
        4,
        json!({"status": 200, "attempt": 1}),
    );
    let empty = tx(s, "events", |tx| {
        Ok(tx.events(EventSubject::Contact, c.get())?)
    });
    assert!(empty.is_empty(), "a subject without events has none");
    tx(s, "append_event", |tx| {
        for e in [&c1, &l1, &a1, &c2, &a2] {
            tx.append_event(e)?;
        }
        Ok(())
    });
    let got = tx(s, "events", |tx| {
        Ok((
            tx.events(EventSubject::Contact, c.get())?,
            tx.events(EventSubject::Lead, l.get())?,
            tx.events(EventSubject::Appointment, a.get())?,
            tx.events(EventSubject::Lead, l.get() + 100)?,
        ))
    });
    assert_eq!(
        got,
        (vec![c1, c2], vec![l1], vec![a1, a2], vec![]),
        "events() must return one subject's events, oldest first, unchanged"
    );

    // One append_events call with a batch's worth of mixed subjects (here 204 lead, 101
    // contact and 66 appointment events, interleaved): every event kept, each subject's in
    // its order.
    let many: Vec<NewEvent> = (0..371i64)
        .map(|i| {
            let (subject, id) = match i % 11 {
                0..=5 => (EventSubject::Lead, l.get()),
                6..=8 => (EventSubject::Contact, c.get()),
                _ => (EventSubject::Appointment, a.get()),
            };
            let kind = EventKind::ALL[i as usize % EventKind::ALL.len()];
            ev(subject, id, kind.as_str(), 10 + i, json!({"i": i}))
        })
        .collect();
    tx(s, "append_events", |tx| Ok(tx.append_events(&many)?));
    let (lead_events, contact_events, appointment_events) = tx(s, "events", |tx| {
        Ok((
            tx.events(EventSubject::Lead, l.get())?,
            tx.events(EventSubject::Contact, c.get())?,
            tx.events(EventSubject::Appointment, a.get())?,
        ))
    });
    let of = |subject: EventSubject| -> Vec<NewEvent> {
        many.iter()
            .filter(|e| e.subject == subject)
            .cloned()
            .collect()
    };
    assert_eq!(
        lead_events[1..],
        of(EventSubject::Lead)[..],
        "lead events in order"
    );
    assert_eq!(
        contact_events[2..],
        of(EventSubject::Contact)[..],
        "contact events in order"
    );
    assert_eq!(
        appointment_events[2..],
        of(EventSubject::Appointment)[..],
        "appointment events in order"
    );
    assert_eq!(
        (
            lead_events.len() - 1,
            contact_events.len() - 2,
            appointment_events.len() - 2
        ),
        (204, 101, 66)
    );
}

/// Events of a rejected record ([`EventSubject::Rejection`]) are kept apart from lead events
/// with the same numeric id, returned oldest first, and roll back.
pub fn rejection_events_round_trip(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (l, r) = tx(s, "seed", |tx| {
        let c = insert_contact(tx, &new_contact("provider:provider-a", &phone(1)))?;
        let l = insert_lead(tx, &new_lead(c, "provider-a", "PA-00001"))?;
        let r = tx.insert_rejection(&new_rejection(
            "provider-a",
            "PA-00002",
            &["invalid_phone", "unknown_zip"],
        ))?;
        Ok((l, r))
    });
    let ev = |subject, subject_id, event_type: &str, secs, detail| NewEvent {
        subject,
        subject_id,
        event_type: event_type.parse().expect("an event kind"),
        detail,
        created_at: at(secs),
    };
    let r1 = ev(
        EventSubject::Rejection,
        r.get(),
        "rejected",
        2,
        json!({"reason_codes": ["invalid_phone", "unknown_zip"], "provider_id": "provider-a"}),
    );
    let r2 = ev(
        EventSubject::Rejection,
        r.get(),
        "updated",
        9,
        json!({"by": "ops", "note": null}),
    );
    let l1 = ev(
        EventSubject::Lead,
        l.get(),
        "received",
        1,
        json!({"record_key": "PA-00001"}),
    );
    assert!(
        tx(s, "none yet", |tx| Ok(
            tx.events(EventSubject::Rejection, r.get())?
        ))
        .is_empty(),
        "a rejection without events has none"
    );
    tx(s, "append_event", |tx| {
        tx.append_event(&r1)?;
        tx.append_event(&l1)?;
        Ok(tx.append_event(&r2)?)
    });
    let got = tx(s, "events", |tx| {
        Ok((
            tx.events(EventSubject::Rejection, r.get())?,
            tx.events(EventSubject::Lead, l.get())?,
            tx.events(EventSubject::Rejection, r.get() + 100)?,
        ))
    });
    assert_eq!(
        got,
        (vec![r1.clone(), r2.clone()], vec![l1.clone()], vec![]),
        "events() must return a rejection's events, oldest first, apart from lead events"
    );
    // Lead and rejection ids are independent: with both at the same number, neither sees
    // the other's events.
    if l.get() == r.get() {
        assert_eq!(got.1, vec![l1.clone()]);
    }
    let rolled = with_tx(s, |tx| {
        tx.append_event(&ev(
            EventSubject::Rejection,
            r.get(),
            "rejected",
            10,
            json!({}),
        ))?;
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    assert!(rolled.is_err());
    assert_eq!(
        tx(s, "events after rollback", |tx| Ok(
            tx.events(EventSubject::Rejection, r.get())?
        )),
        vec![r1, r2],
        "a rolled-back rejection event must not be stored"
    );
}
