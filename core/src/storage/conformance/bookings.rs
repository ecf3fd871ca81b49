//! Cal.com booking webhooks: [`BookingRepo`] events stored once per (webhook, event key),
//! uid links to appointments, and the events of a uid lineage.

use super::*;

fn booking(
    webhook_id: &str,
    trigger: &str,
    uid: Option<&str>,
    reschedule_uid: Option<&str>,
    seconds: i64,
) -> NewBookingEvent {
    let created_at = at(seconds);
    let key_uid = uid.unwrap_or("-");
    NewBookingEvent {
        webhook_id: webhook_id.into(),
        event_key: format!("{trigger}:{key_uid}:{created_at}"),
        trigger: trigger.into(),
        uid: uid.map(str::to_string),
        reschedule_uid: reschedule_uid.map(str::to_string),
        created_at,
        received_at: at(seconds + 1),
        body: format!(
            r#"{{"triggerEvent":"{trigger}","createdAt":"{created_at}","payload":{{"uid":"{key_uid}","title":"Solar consultation"}}}}"#
        ),
    }
}

/// `insert_booking_event` stores an event unless its (webhook, event key) is stored: a
/// retried delivery is `Existing` with the stored id and writes nothing; the same key through
/// another webhook is another event.
pub fn booking_events_insert_if_absent(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let e1 = booking("wh_calcom", "BOOKING_CREATED", Some("bk_A"), None, 10);
    let first = tx(s, "insert", |tx| Ok(tx.insert_booking_event(&e1)?));
    let Inserted::Created(id) = first else {
        panic!("a new booking event must be Created, got {first:?}");
    };
    let retried = NewBookingEvent {
        received_at: at(500),
        body: r#"{"retried":true}"#.into(),
        ..e1.clone()
    };
    assert_eq!(
        tx(s, "retry", |tx| Ok(tx.insert_booking_event(&retried)?)),
        Inserted::Existing(id),
        "a retried delivery (same webhook and event key) finds the stored event"
    );
    let elsewhere = NewBookingEvent {
        webhook_id: "wh_calcom_eu".into(),
        ..e1.clone()
    };
    let other = tx(s, "other webhook", |tx| {
        Ok(tx.insert_booking_event(&elsewhere)?)
    });
    assert!(
        matches!(other, Inserted::Created(o) if o != id),
        "the same key through another webhook is another event: {other:?}"
    );
    let stored = tx(
        s,
        "read",
        |tx| Ok(tx.booking_events(&["bk_A".to_string()])?),
    );
    assert_eq!(
        stored,
        vec![
            BookingEvent { id, event: e1 },
            BookingEvent {
                id: other.id(),
                event: elsewhere
            },
        ],
        "booking events read back as first stored, by id"
    );
}

/// `link_booking_uid` links a uid to an appointment once: linking it again is `Existing`
/// with its owner, also when asked for another appointment; `booking_appointment` and
/// `booking_uids` (sorted) read the links; a missing appointment is a `Conflict`.
pub fn booking_uid_links(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (a1, a2) = tx(s, "seed", |tx| {
        Ok((
            seed_routed(tx, 1, "solar_ca_001", Cents(20000))?.2,
            seed_routed(tx, 2, "solar_ca_001", Cents(20000))?.2,
        ))
    });
    let linked = tx(s, "link", |tx| {
        Ok((
            tx.link_booking_uid("bk_Z", a1)?,
            tx.link_booking_uid("bk_A", a1)?,
            tx.link_booking_uid("bk_M", a2)?,
        ))
    });
    assert_eq!(
        linked,
        (
            Inserted::Created(a1),
            Inserted::Created(a1),
            Inserted::Created(a2)
        )
    );
    let again = tx(s, "link again", |tx| {
        Ok((
            tx.link_booking_uid("bk_Z", a1)?,
            tx.link_booking_uid("bk_Z", a2)?,
        ))
    });
    assert_eq!(
        again,
        (Inserted::Existing(a1), Inserted::Existing(a1)),
        "a linked uid keeps its owner, whoever asks"
    );
    let read = tx(s, "read", |tx| {
        Ok((
            tx.booking_appointment("bk_Z")?,
            tx.booking_appointment("bk_M")?,
            tx.booking_appointment("bk_unknown")?,
            tx.booking_uids(a1)?,
            tx.booking_uids(a2)?,
            tx.booking_uids(AppointmentId(a2.0 + 100))?,
        ))
    });
    assert_eq!(
        read,
        (
            Some(a1),
            Some(a2),
            None,
            vec!["bk_A".to_string(), "bk_Z".to_string()],
            vec!["bk_M".to_string()],
            vec![]
        ),
        "links read back by uid and, sorted, by appointment"
    );
    let missing = AppointmentId(a2.0 + 100);
    let r = tx(s, "missing appointment", |tx| {
        Ok(tx.link_booking_uid("bk_new", missing))
    });
    expect_conflict("link_booking_uid to an appointment that does not exist", r);
    let r = tx(s, "missing appointment, linked uid", |tx| {
        Ok(tx.link_booking_uid("bk_Z", missing))
    });
    expect_conflict(
        "link_booking_uid of a linked uid to an appointment that does not exist",
        r,
    );
    assert_eq!(
        tx(s, "read", |tx| Ok(tx.booking_appointment("bk_new")?)),
        None,
        "a refused link is not stored"
    );
}

/// `booking_events` returns the events whose `uid` or `reschedule_uid` is among the uids
/// asked for, each once, by id; none for no uids.
pub fn booking_events_by_uid_lineage(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let events = [
        booking("wh_calcom", "BOOKING_CREATED", Some("bk_A"), None, 10),
        booking(
            "wh_calcom",
            "BOOKING_RESCHEDULED",
            Some("bk_B"),
            Some("bk_A"),
            20,
        ),
        booking("wh_calcom", "BOOKING_CREATED", Some("bk_C"), None, 30),
        booking("wh_calcom", "MEETING_ENDED", None, None, 40),
        booking("wh_calcom", "BOOKING_CANCELLED", Some("bk_B"), None, 50),
        // Its own uid and its previous one both asked for below: listed once.
        booking(
            "wh_calcom",
            "BOOKING_RESCHEDULED",
            Some("bk_A"),
            Some("bk_A"),
            60,
        ),
    ];
    let ids: Vec<i64> = tx(s, "insert", |tx| {
        let mut ids = Vec::new();
        for e in &events {
            ids.push(tx.insert_booking_event(e)?.id());
        }
        Ok(ids)
    });
    let stored = |i: usize| BookingEvent {
        id: ids[i],
        event: events[i].clone(),
    };
    let uids = |u: &[&str]| u.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (a, b, ab, c_and_unknown, none, unknown) = tx(s, "booking_events", |tx| {
        Ok((
            tx.booking_events(&uids(&["bk_A"]))?,
            tx.booking_events(&uids(&["bk_B"]))?,
            tx.booking_events(&uids(&["bk_B", "bk_A"]))?,
            tx.booking_events(&uids(&["bk_unknown", "bk_C"]))?,
            tx.booking_events(&[])?,
            tx.booking_events(&uids(&["bk_unknown"]))?,
        ))
    });
    assert_eq!(
        a,
        vec![stored(0), stored(1), stored(5)],
        "events with the uid, or with it as reschedule_uid, by id"
    );
    assert_eq!(b, vec![stored(1), stored(4)]);
    assert_eq!(
        ab,
        vec![stored(0), stored(1), stored(4), stored(5)],
        "an event matching several uids is listed once"
    );
    assert_eq!(c_and_unknown, vec![stored(2)]);
    assert!(none.is_empty() && unknown.is_empty());
}
