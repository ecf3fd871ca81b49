//! Outreach: the contact queue ([`ContactQueueRepo`]), the suppression list
//! ([`SuppressionRepo`]), the scheduled-messages outbox ([`MessageRepo`]), range reads of
//! counters ([`CapacityRepo::counters_in_range`]) and [`Reports::contact_timelines`].

use super::*;

/// A contact (number `n`) and one lead of it, record `PA-{n}`. Returns `(contact, lead)`.
fn seed_queued_lead(tx: &dyn Tx, n: u32) -> Result<(ContactId, LeadId), Error> {
    let c = insert_contact(tx, &new_contact("provider:provider-a", &phone(n)))?;
    let l = insert_lead(tx, &new_lead(c, "provider-a", &format!("PA-{n:05}")))?;
    Ok((c, l))
}

/// Another lead of contact `c`, record `PA-{n}`.
fn another_lead(tx: &dyn Tx, c: ContactId, n: u32) -> Result<LeadId, Error> {
    Ok(insert_lead(
        tx,
        &new_lead(c, "provider-a", &format!("PA-{n:05}")),
    )?)
}

fn queue_entry(lead_id: LeadId, contact_id: ContactId, due: Timestamp) -> NewQueueEntry {
    NewQueueEntry {
        lead_id,
        contact_id,
        phone_e164: Some("+13178638426".into()),
        zip_code: "90210".into(),
        lead_type: "solar".into(),
        received_at: at(1),
        next_attempt_at: due,
        suppressed: false,
    }
}

/// A contact, a lead and its queue entry due at `due`. Returns the lead.
fn seed_entry(tx: &dyn Tx, n: u32, due: Timestamp) -> Result<LeadId, Error> {
    let (c, l) = seed_queued_lead(tx, n)?;
    tx.enqueue_contact(&queue_entry(l, c, due))?;
    Ok(l)
}

fn leads(entries: &[QueueEntry]) -> Vec<LeadId> {
    entries.iter().map(|e| e.entry.lead_id).collect()
}

fn claim_queue(
    store: &dyn Store,
    now: Timestamp,
    limit: usize,
    lease: Timestamp,
    worker: &str,
) -> Vec<QueueEntry> {
    tx(store, "claim_contacts", |tx| {
        Ok(tx.claim_contacts(now, limit, lease, worker)?)
    })
}

fn entry_of(store: &dyn Store, lead: LeadId) -> QueueEntry {
    tx(store, "contact_entry", |tx| Ok(tx.contact_entry(lead)?))
        .unwrap_or_else(|| panic!("queue entry of lead {lead} vanished"))
}

fn call(lead_id: LeadId, n: u32, at_: Timestamp, outcome: ContactOutcome) -> ContactAttempt {
    ContactAttempt {
        lead_id,
        attempt_number: n,
        at: at_,
        outcome,
        notes: Some("left voicemail, callback requested after 5pm".into()),
        worker: Some("dialer-1".into()),
    }
}

fn update(status: ContactStatus, next: Option<Timestamp>) -> QueueUpdate {
    QueueUpdate {
        status,
        next_attempt_at: next,
    }
}

fn new_message(
    appointment_id: AppointmentId,
    lead_id: LeadId,
    kind: MessageKind,
    send_at: Timestamp,
) -> NewMessage {
    NewMessage {
        appointment_id,
        lead_id,
        kind,
        to: "+13178638426".into(),
        body: json!({
            "kind": kind.as_str(),
            "appointment_at": "2025-03-18T17:30:00Z",
            "workspace": "Client solar_ca_001",
            "offset_hours": 24
        }),
        send_at,
        created_at: at(3),
    }
}

/// A routed appointment for record `n` with messages due at each of `due`. Returns the
/// appointment, its lead and the message ids.
fn seed_messages(
    tx: &dyn Tx,
    n: u32,
    due: &[(MessageKind, Timestamp)],
) -> Result<(AppointmentId, LeadId, Vec<MessageId>), Error> {
    let (_, l, a) = seed_routed(tx, n, "solar_ca_001", Cents(20000))?;
    let mut ids = Vec::new();
    for &(kind, t) in due {
        ids.push(tx.enqueue_message(&new_message(a, l, kind, t))?);
    }
    Ok((a, l, ids))
}

fn msg_ids(ms: &[Message]) -> Vec<MessageId> {
    ms.iter().map(|m| m.id).collect()
}

fn claim_messages(
    store: &dyn Store,
    now: Timestamp,
    limit: usize,
    lease: Timestamp,
) -> Vec<Message> {
    tx(store, "claim_due_messages", |tx| {
        Ok(tx.claim_due_messages(now, limit, lease)?)
    })
}

fn send_log(message_id: MessageId, n: u32, status: MessageStatus) -> MessageLog {
    MessageLog {
        message_id,
        try_number: n,
        at: at(100 * i64::from(n)),
        status,
        provider_message_id: (status == MessageStatus::Sent)
            .then(|| "SM7a1c2b3d4e5f60718293a4b5c6d7e8f9".to_string()),
        error: (status == MessageStatus::Failed).then(|| "30003 unreachable handset".to_string()),
    }
}

fn suppression(hash: &str, reason: &str) -> Suppression {
    Suppression {
        phone_e164: Some("+13178638426".into()),
        phone_sha256: hash.into(),
        reason: reason.into(),
        source: Some("lead 1".into()),
        created_at: at(5),
    }
}

/// Two listed numbers' hashes: stand-ins shaped like SHA-256 (64 lowercase hex digits); the
/// store compares them as text.
const HASH_A: &str = "5d9f3c1f0b6f8e4a2c7d9b1e3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a";
const HASH_B: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

// ---------------------------------------------------------------------------------------------
// Contact queue

/// `enqueue_contact` stores a new entry as `pending` with no attempts, lease, worker or hold
/// reason; enqueueing the lead again is [`Inserted::Existing`] and writes nothing; a lead
/// never enqueued has no entry.
pub fn enqueue_contact_insert_if_absent(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (c, l, other) = tx(s, "seed", |tx| {
        let (c, l) = seed_queued_lead(tx, 1)?;
        Ok((c, l, another_lead(tx, c, 2)?))
    });
    let e = queue_entry(l, c, at(10));
    let first = tx(s, "enqueue", |tx| Ok(tx.enqueue_contact(&e)?));
    assert_eq!(first, Inserted::Created(l), "a new lead is enqueued");
    assert_eq!(
        entry_of(s, l),
        QueueEntry {
            entry: e.clone(),
            status: ContactStatus::Pending,
            attempts: 0,
            last_attempt_at: None,
            worker: None,
            locked_until: None,
            hold_reason: None,
        },
        "an entry reads back as enqueued: pending, no attempts, no lease"
    );
    let changed = NewQueueEntry {
        next_attempt_at: at(9999),
        zip_code: "94103".into(),
        suppressed: true,
        ..e.clone()
    };
    let again = tx(s, "enqueue again", |tx| Ok(tx.enqueue_contact(&changed)?));
    assert_eq!(
        again,
        Inserted::Existing(l),
        "enqueueing a queued lead finds its entry"
    );
    assert_eq!(
        entry_of(s, l).entry,
        e,
        "enqueueing a queued lead again must write nothing"
    );
    assert_eq!(
        tx(s, "entry", |tx| Ok(tx.contact_entry(other)?)),
        None,
        "a lead never enqueued has no entry"
    );
    assert!(
        tx(s, "attempts", |tx| Ok(tx.contact_attempts(l)?)).is_empty(),
        "a new entry has no attempts"
    );
}

/// Enqueueing a lead that does not exist is a `Conflict`, and the transaction goes on.
pub fn enqueue_contact_unknown_lead_conflicts(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (c, l) = tx(s, "seed", |tx| seed_queued_lead(tx, 1));
    let missing = LeadId(l.0 + 100);
    let (r, later) = tx(s, "unknown lead, then a write", |tx| {
        let r = tx.enqueue_contact(&queue_entry(missing, c, at(0)));
        let later = tx.enqueue_contact(&queue_entry(l, c, at(0)))?;
        Ok((r, later))
    });
    expect_conflict("enqueue_contact for a lead that does not exist", r);
    assert_eq!(later, Inserted::Created(l));
    assert_eq!(
        tx(s, "entry", |tx| Ok(tx.contact_entry(missing)?)),
        None,
        "nothing is stored for the unknown lead"
    );
    assert_eq!(
        entry_of(s, l).status,
        ContactStatus::Pending,
        "a write after the Conflict in the same transaction must commit"
    );
}

/// `claim_contacts` hands out due entries ordered by `next_attempt_at`, then lead id, at
/// most `limit` (none for 0); entries not yet due stay.
pub fn claim_contacts_order_and_limit(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (la, lb, lc, ld, le) = tx(s, "seed", |tx| {
        Ok((
            seed_entry(tx, 1, at(10))?,
            seed_entry(tx, 2, at(0))?,
            seed_entry(tx, 3, at(0))?,
            seed_entry(tx, 4, at(3600))?,
            seed_entry(tx, 5, at(-60))?,
        ))
    });
    assert!(
        claim_queue(s, at(20), 0, at(86_400), "dialer-1").is_empty(),
        "a claim with limit 0 returns nothing"
    );
    assert_eq!(
        leads(&claim_queue(s, at(20), 2, at(86_400), "dialer-1")),
        vec![le, lb],
        "oldest due first, at most `limit`"
    );
    assert_eq!(
        leads(&claim_queue(s, at(20), 10, at(86_400), "dialer-1")),
        vec![lc, la],
        "ties on next_attempt_at go by lead id; an entry not yet due is left"
    );
    assert_eq!(
        entry_of(s, ld).status,
        ContactStatus::Pending,
        "an entry not yet due stays pending"
    );
    assert!(
        claim_queue(s, at(-61), 10, at(300), "dialer-1").is_empty(),
        "nothing is due before its next_attempt_at"
    );
    assert_eq!(
        leads(&claim_queue(s, at(3600), 10, at(3900), "dialer-1")),
        vec![ld],
        "an entry is due at exactly next_attempt_at"
    );
}

/// A claimed entry is `attempting`, held by the worker until the lease, as returned and as
/// stored; its other fields are unchanged.
pub fn claim_contacts_leases_as_attempting(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let l = tx(s, "seed", |tx| seed_entry(tx, 1, at(0)));
    let before = entry_of(s, l);
    let got = claim_queue(s, at(5), 5, at(305), "dialer-7");
    let want = QueueEntry {
        status: ContactStatus::Attempting,
        worker: Some("dialer-7".into()),
        locked_until: Some(at(305)),
        ..before
    };
    assert_eq!(
        got,
        vec![want.clone()],
        "the claim returns the leased entry"
    );
    assert_eq!(entry_of(s, l), want, "the lease is stored");
}

/// While their leases hold, two claims (two workers) never return the same entry, and
/// together they hand out every due entry once.
pub fn claim_contacts_never_twice(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let all: Vec<LeadId> = tx(s, "seed", |tx| {
        (1..=7)
            .map(|n| seed_entry(tx, n, at(i64::from(n))))
            .collect()
    });
    let a = claim_queue(s, at(60), 4, at(600), "dialer-a");
    let b = claim_queue(s, at(61), 10, at(600), "dialer-b");
    let c = claim_queue(s, at(62), 10, at(600), "dialer-c");
    assert_eq!(leads(&a), all[..4].to_vec());
    assert_eq!(
        leads(&b),
        all[4..].to_vec(),
        "a second claim gets only the entries the first left"
    );
    assert!(c.is_empty(), "every due entry is leased");
    for (e, w) in a
        .iter()
        .map(|e| (e, "dialer-a"))
        .chain(b.iter().map(|e| (e, "dialer-b")))
    {
        assert_eq!(
            entry_of(s, e.entry.lead_id).worker.as_deref(),
            Some(w),
            "each entry is held by the worker that claimed it"
        );
    }
}

/// An `attempting` entry whose lease expired (its worker died) is due again at
/// `locked_until`, not before, and goes out by `next_attempt_at` among the waiting ones.
pub fn claim_contacts_expired_lease_comes_back(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let la = tx(s, "seed", |tx| seed_entry(tx, 1, at(0)));
    assert_eq!(
        leads(&claim_queue(s, at(0), 5, at(100), "dialer-dead")),
        vec![la]
    );
    let lb = tx(s, "a later entry", |tx| seed_entry(tx, 2, at(50)));
    assert_eq!(
        leads(&claim_queue(s, at(99), 5, at(400), "dialer-2")),
        vec![lb],
        "the lease holds until locked_until"
    );
    let lc = tx(s, "another entry", |tx| seed_entry(tx, 3, at(60)));
    let again = claim_queue(s, at(100), 1, at(500), "dialer-3");
    assert_eq!(
        leads(&again),
        vec![la],
        "a lease expires at locked_until; the expired entry (due at 0) goes before a \
         waiting one due at 60: claims are ordered by next_attempt_at"
    );
    assert_eq!(
        (
            again[0].status,
            again[0].worker.as_deref(),
            again[0].locked_until
        ),
        (ContactStatus::Attempting, Some("dialer-3"), Some(at(500))),
        "the new claim carries the new worker and lease"
    );
    assert_eq!(
        leads(&claim_queue(s, at(100), 5, at(500), "dialer-3")),
        vec![lc]
    );
}

/// Entries in a final status (`scheduled`, `not_interested`, `unreachable`,
/// `do_not_contact`) are never claimed; a `no_answer` entry is claimed once due again.
pub fn claim_contacts_skips_final_statuses(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let finals = [
        ContactStatus::Scheduled,
        ContactStatus::NotInterested,
        ContactStatus::Unreachable,
        ContactStatus::DoNotContact,
    ];
    let ls: Vec<LeadId> = tx(s, "seed", |tx| {
        (1..=6).map(|n| seed_entry(tx, n, at(0))).collect()
    });
    assert_eq!(leads(&claim_queue(s, at(0), 10, at(60), "dialer-1")), ls);
    tx(s, "attempts", |tx| {
        for (l, st) in ls.iter().zip(finals) {
            let outcome: ContactOutcome = st
                .as_str()
                .parse()
                .map_err(|e| Error::Internal(format!("{e}: a final status is an outcome")))?;
            tx.record_contact_attempt(&call(*l, 1, at(10), outcome), &update(st, Some(at(20))))?;
        }
        tx.record_contact_attempt(
            &call(ls[4], 1, at(10), ContactOutcome::NoAnswer),
            &update(ContactStatus::NoAnswer, Some(at(14400))),
        )?;
        tx.defer_contact(ls[5], at(20), None, Some(ContactStatus::DoNotContact))?;
        Ok(())
    });
    assert!(
        claim_queue(s, at(10_000), 10, at(10_060), "dialer-1").is_empty(),
        "final statuses are never due, a no_answer entry not before its retry time"
    );
    assert_eq!(
        leads(&claim_queue(s, at(14400), 10, at(14460), "dialer-1")),
        vec![ls[4]],
        "a no_answer entry is due again at its next_attempt_at; final ones never"
    );
    for (l, st) in ls.iter().zip(finals) {
        assert_eq!(entry_of(s, *l).status, st);
    }
}

/// `defer_contact` puts an entry back without an attempt: lease and worker cleared, due at
/// the new time with the hold reason, `pending` unless a status is given (which may end it);
/// a lead not queued is a `Conflict`.
pub fn defer_contact_holds_and_reschedules(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (l, m) = tx(s, "seed", |tx| {
        Ok((seed_entry(tx, 1, at(0))?, seed_entry(tx, 2, at(0))?))
    });
    assert_eq!(claim_queue(s, at(0), 5, at(86_400), "dialer-1").len(), 2);
    tx(s, "defer", |tx| {
        Ok(tx.defer_contact(l, at(3600), Some("quiet_hours"), None)?)
    });
    let e = entry_of(s, l);
    assert_eq!(
        (
            e.status,
            e.entry.next_attempt_at,
            e.hold_reason.as_deref(),
            e.worker.as_deref(),
            e.locked_until,
            e.attempts,
            e.last_attempt_at
        ),
        (
            ContactStatus::Pending,
            at(3600),
            Some("quiet_hours"),
            None,
            None,
            0,
            None
        ),
        "a deferred entry is pending, due later, held for its reason, unleased, unattempted"
    );
    assert!(
        claim_queue(s, at(3599), 5, at(3900), "dialer-1").is_empty(),
        "a deferred entry is not due before its new time"
    );
    assert_eq!(
        leads(&claim_queue(s, at(3600), 5, at(3900), "dialer-1")),
        vec![l],
        "a deferred entry is due at its new time"
    );
    tx(s, "defer without a reason", |tx| {
        Ok(tx.defer_contact(l, at(4000), None, None)?)
    });
    assert_eq!(
        entry_of(s, l).hold_reason,
        None,
        "the hold reason is replaced"
    );
    tx(s, "end", |tx| {
        Ok(tx.defer_contact(
            m,
            at(0),
            Some("suppressed"),
            Some(ContactStatus::DoNotContact),
        )?)
    });
    let ended = entry_of(s, m);
    assert_eq!(
        (
            ended.status,
            ended.hold_reason.as_deref(),
            ended.locked_until
        ),
        (ContactStatus::DoNotContact, Some("suppressed"), None),
        "a given status is stored"
    );
    assert!(
        claim_queue(s, at(99_999), 5, at(100_000), "dialer-1")
            .iter()
            .all(|e| e.entry.lead_id != m),
        "an entry ended by defer is never claimed"
    );
    let unqueued = tx(s, "a lead not queued", |tx| {
        let c = insert_contact(tx, &new_contact("provider:provider-a", &phone(9)))?;
        let lead = insert_lead(tx, &new_lead(c, "provider-a", "PA-00009"))?;
        Ok(tx.defer_contact(lead, at(10), Some("quiet_hours"), None))
    });
    expect_conflict("defer_contact for a lead that is not queued", unqueued);
}

/// `record_contact_attempt` stores the attempt and moves the entry: `attempts` = the
/// attempt number, `last_attempt_at`, status and `next_attempt_at` from the update (kept
/// when the update has none), lease, worker and hold reason cleared.
pub fn record_contact_attempt_moves_the_entry(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let l = tx(s, "seed", |tx| seed_entry(tx, 1, at(0)));
    tx(s, "hold", |tx| {
        Ok(tx.defer_contact(l, at(5), Some("attempt_limit_24h"), None)?)
    });
    assert_eq!(
        leads(&claim_queue(s, at(5), 5, at(300), "dialer-1")),
        vec![l]
    );
    let first = call(l, 1, at(30), ContactOutcome::NoAnswer);
    tx(s, "attempt 1", |tx| {
        Ok(tx.record_contact_attempt(&first, &update(ContactStatus::NoAnswer, Some(at(14_430))))?)
    });
    let e = entry_of(s, l);
    assert_eq!(
        (
            e.attempts,
            e.last_attempt_at,
            e.status,
            e.entry.next_attempt_at,
            e.worker.as_deref(),
            e.locked_until,
            e.hold_reason.as_deref()
        ),
        (
            1,
            Some(at(30)),
            ContactStatus::NoAnswer,
            at(14_430),
            None,
            None,
            None
        ),
        "an attempt moves the entry on and clears lease, worker and hold reason"
    );
    assert_eq!(
        leads(&claim_queue(s, at(14_430), 5, at(14_700), "dialer-2")),
        vec![l]
    );
    let second = ContactAttempt {
        notes: None,
        worker: None,
        ..call(l, 2, at(14_450), ContactOutcome::Scheduled)
    };
    tx(s, "attempt 2", |tx| {
        Ok(tx.record_contact_attempt(&second, &update(ContactStatus::Scheduled, None))?)
    });
    let e = entry_of(s, l);
    assert_eq!(
        (
            e.attempts,
            e.last_attempt_at,
            e.status,
            e.entry.next_attempt_at
        ),
        (2, Some(at(14_450)), ContactStatus::Scheduled, at(14_430)),
        "an update without a next time keeps next_attempt_at"
    );
    assert_eq!(
        tx(s, "attempts", |tx| Ok(tx.contact_attempts(l)?)),
        vec![first, second],
        "attempts read back as recorded, by number"
    );
}

/// An attempt number recorded twice, or an attempt of a lead not queued, is a `Conflict`
/// that writes nothing (the entry and its attempts are unchanged), and the transaction goes
/// on.
pub fn record_contact_attempt_unique_number(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (l, other) = tx(s, "seed", |tx| {
        let l = seed_entry(tx, 1, at(0))?;
        let (_, other) = seed_queued_lead(tx, 2)?;
        Ok((l, other))
    });
    tx(s, "attempt 1", |tx| {
        Ok(tx.record_contact_attempt(
            &call(l, 1, at(30), ContactOutcome::NoAnswer),
            &update(ContactStatus::NoAnswer, Some(at(14_430))),
        )?)
    });
    let before = entry_of(s, l);
    let (dup, unqueued, after, attempts) = tx(s, "duplicates", |tx| {
        let dup = tx.record_contact_attempt(
            &call(l, 1, at(60), ContactOutcome::Scheduled),
            &update(ContactStatus::Scheduled, Some(at(99))),
        );
        let unqueued = tx.record_contact_attempt(
            &call(other, 1, at(60), ContactOutcome::NoAnswer),
            &update(ContactStatus::NoAnswer, None),
        );
        Ok((dup, unqueued, tx.contact_entry(l)?, tx.contact_attempts(l)?))
    });
    expect_conflict("record_contact_attempt with a recorded attempt number", dup);
    expect_conflict(
        "record_contact_attempt for a lead that is not queued",
        unqueued,
    );
    assert_eq!(
        after,
        Some(before.clone()),
        "a refused attempt leaves the entry as it was"
    );
    assert_eq!(attempts.len(), 1, "a refused attempt is not stored");
    assert_eq!(entry_of(s, l), before);
    assert!(tx(s, "other attempts", |tx| Ok(tx.contact_attempts(other)?)).is_empty());
}

/// `contact_attempt_times` returns the attempt times of every lead of the contact strictly
/// after `since`, oldest first, and no other contact's.
pub fn contact_attempt_times_span_the_contact(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (c, d) = tx(s, "seed", |tx| {
        let (c, l1) = seed_queued_lead(tx, 1)?;
        let l2 = another_lead(tx, c, 2)?;
        let (d, l3) = seed_queued_lead(tx, 3)?;
        for (l, who) in [(l1, c), (l2, c), (l3, d)] {
            tx.enqueue_contact(&queue_entry(l, who, at(0)))?;
        }
        let no = |l: LeadId, n: u32, t: i64| {
            tx.record_contact_attempt(
                &call(l, n, at(t), ContactOutcome::NoAnswer),
                &update(ContactStatus::NoAnswer, Some(at(t + 14_400))),
            )
        };
        no(l1, 1, 200)?;
        no(l2, 1, 150)?;
        no(l3, 1, 120)?;
        no(l1, 2, 100)?;
        Ok((c, d))
    });
    let times = |who: ContactId, since: i64| {
        tx(s, "contact_attempt_times", |tx| {
            Ok(tx.contact_attempt_times(who, at(since))?)
        })
    };
    assert_eq!(
        times(c, 0),
        vec![at(100), at(150), at(200)],
        "every lead of the contact, oldest first"
    );
    assert_eq!(
        times(c, 100),
        vec![at(150), at(200)],
        "only attempts strictly after `since`"
    );
    assert_eq!(
        times(d, 0),
        vec![at(120)],
        "another contact's attempts only"
    );
    assert!(times(c, 200).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Suppression list

/// `suppress` adds a hash once (`true`), then finds it (`false`, nothing written);
/// `is_suppressed` looks up the hash; `suppression_count` counts entries.
pub fn suppression_insert_if_absent(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (empty, none) = tx(s, "empty", |tx| {
        Ok((tx.suppression_count()?, tx.is_suppressed(HASH_A)?))
    });
    assert_eq!(
        (empty, none),
        (0, false),
        "an empty list suppresses nothing"
    );
    let (first, again, other) = tx(s, "suppress", |tx| {
        Ok((
            tx.suppress(&suppression(HASH_A, "opt_out"))?,
            tx.suppress(&Suppression {
                phone_e164: None,
                ..suppression(HASH_A, "imported")
            })?,
            tx.suppress(&suppression(HASH_B, "not_interested"))?,
        ))
    });
    assert!(first, "a new hash is added");
    assert!(!again, "a listed hash is not added again");
    assert!(other);
    let (a, b, c, n) = tx(s, "lookup", |tx| {
        Ok((
            tx.is_suppressed(HASH_A)?,
            tx.is_suppressed(HASH_B)?,
            tx.is_suppressed(&HASH_B.replace('a', "b"))?,
            tx.suppression_count()?,
        ))
    });
    assert_eq!((a, b, c, n), (true, true, false, 2));
}

// ---------------------------------------------------------------------------------------------
// Scheduled messages

/// `enqueue_message` stores a pending message due at `send_at`, with no tries and no lease,
/// under a new id; `messages_for` lists an appointment's messages by id; an unknown
/// appointment is a `Conflict`.
pub fn messages_enqueue_and_list(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (a, l, ids) = tx(s, "seed", |tx| {
        seed_messages(
            tx,
            1,
            &[
                (MessageKind::Confirmation, at(5)),
                (MessageKind::Reminder, at(86_400)),
            ],
        )
    });
    assert_ne!(ids[0], ids[1], "message ids are distinct");
    let (_, _, other_ids) = tx(s, "another appointment", |tx| {
        seed_messages(tx, 2, &[(MessageKind::Reminder, at(7))])
    });
    let got = tx(s, "messages_for", |tx| Ok(tx.messages_for(a)?));
    let want: Vec<Message> = [
        (ids[0], MessageKind::Confirmation, at(5)),
        (ids[1], MessageKind::Reminder, at(86_400)),
    ]
    .into_iter()
    .map(|(id, kind, t)| Message {
        id,
        message: new_message(a, l, kind, t),
        status: MessageStatus::Pending,
        tries: 0,
        next_try_at: t,
        locked_until: None,
    })
    .collect();
    assert_eq!(
        got, want,
        "messages read back as scheduled, pending, due at send_at, by id"
    );
    assert!(!msg_ids(&got).contains(&other_ids[0]));
    let r = tx(s, "unknown appointment", |tx| {
        Ok(tx.enqueue_message(&new_message(
            AppointmentId(a.0 + 100),
            l,
            MessageKind::Confirmation,
            at(5),
        )))
    });
    expect_conflict("enqueue_message for an appointment that does not exist", r);
    assert!(tx(s, "logs", |tx| Ok(tx.message_logs(ids[0])?)).is_empty());
    assert!(tx(s, "none", |tx| Ok(
        tx.messages_for(AppointmentId(a.0 + 100))?
    ))
    .is_empty());
}

/// `claim_due_messages` leases pending due messages, oldest due first then lowest id, at
/// most `limit`; while leased they are not claimed again; at the lease's expiry they are.
pub fn claim_due_messages_order_and_lease(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (_, _, ids) = tx(s, "seed", |tx| {
        seed_messages(
            tx,
            1,
            &[
                (MessageKind::Reminder, at(10)),
                (MessageKind::Confirmation, at(0)),
                (MessageKind::Reminder, at(0)),
                (MessageKind::Reminder, at(3600)),
            ],
        )
    });
    assert!(claim_messages(s, at(20), 0, at(300)).is_empty());
    let first = claim_messages(s, at(20), 2, at(300));
    assert_eq!(
        msg_ids(&first),
        vec![ids[1], ids[2]],
        "oldest due first, then id"
    );
    for m in &first {
        assert_eq!(
            (m.status, m.locked_until),
            (MessageStatus::Pending, Some(at(300))),
            "a claimed message stays pending and carries the lease"
        );
    }
    assert_eq!(
        msg_ids(&claim_messages(s, at(20), 10, at(300))),
        vec![ids[0]]
    );
    assert!(
        claim_messages(s, at(299), 10, at(600)).is_empty(),
        "leased messages are not claimed while the lease holds"
    );
    assert_eq!(
        msg_ids(&claim_messages(s, at(300), 10, at(86_400))),
        vec![ids[1], ids[2], ids[0]],
        "at the lease's expiry they are due again, in due order"
    );
    assert_eq!(
        msg_ids(&claim_messages(s, at(3600), 10, at(3900))),
        vec![ids[3]],
        "a message is due at exactly its send time"
    );
}

/// `record_message_try` logs the try, sets `tries`, clears the lease and either retries at a
/// new time (still pending) or ends the message with its status; a logged try number or an
/// unknown message is a `Conflict` that writes nothing; the log reads back by try number.
pub fn record_message_try_retry_and_done(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (a, _, ids) = tx(s, "seed", |tx| {
        seed_messages(tx, 1, &[(MessageKind::Confirmation, at(0))])
    });
    let m = ids[0];
    assert_eq!(msg_ids(&claim_messages(s, at(0), 5, at(60))), vec![m]);
    let failed = send_log(m, 1, MessageStatus::Failed);
    tx(s, "retry", |tx| {
        Ok(tx.record_message_try(&failed, MessageNext::Retry(at(300)))?)
    });
    let got = tx(s, "messages_for", |tx| Ok(tx.messages_for(a)?));
    assert_eq!(
        (
            got[0].status,
            got[0].tries,
            got[0].locked_until,
            got[0].next_try_at
        ),
        (MessageStatus::Pending, 1, None, at(300)),
        "a retry keeps the message pending, unleased, due at the new time"
    );
    assert!(claim_messages(s, at(299), 5, at(600)).is_empty());
    assert_eq!(msg_ids(&claim_messages(s, at(300), 5, at(600))), vec![m]);
    let sent = send_log(m, 2, MessageStatus::Sent);
    tx(s, "sent", |tx| {
        Ok(tx.record_message_try(&sent, MessageNext::Done(MessageStatus::Sent))?)
    });
    let got = tx(s, "messages_for", |tx| Ok(tx.messages_for(a)?));
    assert_eq!(
        (got[0].status, got[0].tries, got[0].locked_until),
        (MessageStatus::Sent, 2, None),
        "a finished message has its status"
    );
    assert!(
        claim_messages(s, at(99_999), 5, at(100_000)).is_empty(),
        "a finished message is never claimed"
    );
    let (dup, unknown, after) = tx(s, "duplicates", |tx| {
        let dup = tx.record_message_try(
            &send_log(m, 2, MessageStatus::Failed),
            MessageNext::Done(MessageStatus::Failed),
        );
        let unknown = tx.record_message_try(
            &send_log(MessageId(m.0 + 100), 1, MessageStatus::Sent),
            MessageNext::Done(MessageStatus::Sent),
        );
        Ok((dup, unknown, tx.messages_for(a)?))
    });
    expect_conflict("record_message_try with a logged try number", dup);
    expect_conflict(
        "record_message_try for a message that does not exist",
        unknown,
    );
    assert_eq!(
        (after[0].status, after[0].tries),
        (MessageStatus::Sent, 2),
        "a refused try changes nothing"
    );
    assert_eq!(
        tx(s, "logs", |tx| Ok(tx.message_logs(m)?)),
        vec![failed, sent],
        "the log reads back as written, by try number"
    );
}

/// `cancel_pending_messages` cancels the appointment's pending messages of a kind (all kinds
/// for `None`) and returns how many; finished messages and other appointments' are left;
/// cancelled messages are never claimed.
pub fn cancel_pending_messages_by_kind(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (a, _, ids) = tx(s, "seed", |tx| {
        seed_messages(
            tx,
            1,
            &[
                (MessageKind::Confirmation, at(0)),
                (MessageKind::Reminder, at(3600)),
                (MessageKind::Reminder, at(7200)),
                (MessageKind::Confirmation, at(0)),
            ],
        )
    });
    let (b, _, other) = tx(s, "another appointment", |tx| {
        seed_messages(tx, 2, &[(MessageKind::Reminder, at(3600))])
    });
    tx(s, "send one", |tx| {
        Ok(tx.record_message_try(
            &send_log(ids[3], 1, MessageStatus::Sent),
            MessageNext::Done(MessageStatus::Sent),
        )?)
    });
    let reminders = tx(s, "cancel reminders", |tx| {
        Ok(tx.cancel_pending_messages(a, Some(MessageKind::Reminder))?)
    });
    assert_eq!(reminders, 2, "both pending reminders are cancelled");
    let status = |store: &dyn Store, appt: AppointmentId| -> Vec<(MessageId, MessageStatus)> {
        tx(store, "messages_for", |tx| Ok(tx.messages_for(appt)?))
            .into_iter()
            .map(|m| (m.id, m.status))
            .collect()
    };
    assert_eq!(
        status(s, a),
        vec![
            (ids[0], MessageStatus::Pending),
            (ids[1], MessageStatus::Cancelled),
            (ids[2], MessageStatus::Cancelled),
            (ids[3], MessageStatus::Sent),
        ],
        "only the kind asked for is cancelled"
    );
    let rest = tx(s, "cancel all", |tx| {
        Ok(tx.cancel_pending_messages(a, None)?)
    });
    assert_eq!(rest, 1, "the pending confirmation; the sent one is left");
    assert_eq!(
        tx(s, "nothing left", |tx| Ok(
            tx.cancel_pending_messages(a, None)?
        )),
        0
    );
    assert_eq!(status(s, a)[0], (ids[0], MessageStatus::Cancelled));
    assert_eq!(status(s, b), vec![(other[0], MessageStatus::Pending)]);
    assert_eq!(
        msg_ids(&claim_messages(s, at(99_999), 10, at(100_000))),
        vec![other[0]],
        "cancelled messages are never claimed"
    );
}

// ---------------------------------------------------------------------------------------------
// Counters and reports

/// `counters_in_range` returns the counters with `from <= key < to` in byte order, with
/// their counts (counters at zero may be left out).
pub fn counters_in_range_order_and_bounds(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let slot = |t: &str| format!("slot:solar_ca_001:{t}");
    tx(s, "seed", |tx| {
        for (k, n) in [
            (slot("2025-03-14T16:00:00Z"), 2),
            (slot("2025-03-14T15:00:00Z"), 1),
            (slot("2025-03-14T15:30:00Z"), 3),
            (slot("2025-03-14T17:00:00Z"), 4),
            (slot("2025-03-14T14:30:00Z"), 5),
            ("slot:solar_ca_001:Z".to_string(), 1),
            ("slot:solar_ca_002:2025-03-14T15:00:00Z".to_string(), 6),
            ("slot:solar_ca_001".to_string(), 7),
        ] {
            tx.add_to_counter(&k, n, Cents(0))?;
        }
        // Back at zero: may be listed with 0 or left out.
        tx.add_to_counter(&slot("2025-03-14T16:30:00Z"), 1, Cents(0))?;
        tx.add_to_counter(&slot("2025-03-14T16:30:00Z"), -1, Cents(0))?;
        Ok(())
    });
    let range = |from: &str, to: &str| -> Vec<(String, i64)> {
        tx(s, "counters_in_range", |tx| {
            Ok(tx.counters_in_range(from, to)?)
        })
    };
    let got = range(&slot("2025-03-14T15:00:00Z"), &slot("2025-03-14T17:00:00Z"));
    assert_eq!(
        got.iter()
            .filter(|(_, n)| *n != 0)
            .cloned()
            .collect::<Vec<_>>(),
        vec![
            (slot("2025-03-14T15:00:00Z"), 1),
            (slot("2025-03-14T15:30:00Z"), 3),
            (slot("2025-03-14T16:00:00Z"), 2),
        ],
        "from is included, to is excluded, keys in order"
    );
    assert!(
        got.iter()
            .all(|(k, n)| *n != 0 || *k == slot("2025-03-14T16:30:00Z")),
        "only the counter back at zero may be listed with 0"
    );
    let all = range("slot:solar_ca_001:", "slot:solar_ca_001;");
    let keys: Vec<&str> = all
        .iter()
        .filter(|(_, n)| *n != 0)
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        keys,
        vec![
            "slot:solar_ca_001:2025-03-14T14:30:00Z",
            "slot:solar_ca_001:2025-03-14T15:00:00Z",
            "slot:solar_ca_001:2025-03-14T15:30:00Z",
            "slot:solar_ca_001:2025-03-14T16:00:00Z",
            "slot:solar_ca_001:2025-03-14T17:00:00Z",
            "slot:solar_ca_001:Z",
        ],
        "a prefix range in byte order ('2' < 'Z'), without the bare prefix or other keys"
    );
    assert!(range("slot:solar_ca_001:Z", "slot:solar_ca_001:Z").is_empty());
    assert!(range("slot:solar_ca_003", "slot:solar_ca_004").is_empty());
}

/// `contact_timelines` lists the queued leads received in `[from, to)` by lead id, with
/// their first attempt (the earliest), attempt count and status.
pub fn contact_timelines_report(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (l1, l2, l3) = tx(s, "seed", |tx| {
        let mut ls = Vec::new();
        for (n, received) in [(1, 100), (2, 0), (3, 200), (4, 300), (5, -1)] {
            let (c, l) = seed_queued_lead(tx, n)?;
            tx.enqueue_contact(&NewQueueEntry {
                received_at: at(received),
                ..queue_entry(l, c, at(received))
            })?;
            ls.push(l);
        }
        // A lead received in range but never queued is not listed.
        let (_, _) = seed_queued_lead(tx, 6)?;
        tx.record_contact_attempt(
            &call(ls[0], 1, at(160), ContactOutcome::NoAnswer),
            &update(ContactStatus::NoAnswer, Some(at(14_560))),
        )?;
        tx.record_contact_attempt(
            &call(ls[0], 2, at(15_000), ContactOutcome::Scheduled),
            &update(ContactStatus::Scheduled, None),
        )?;
        tx.record_contact_attempt(
            &call(ls[2], 1, at(230), ContactOutcome::Unreachable),
            &update(ContactStatus::Unreachable, None),
        )?;
        Ok((ls[0], ls[1], ls[2]))
    });
    let got = tx(s, "contact_timelines", |tx| {
        Ok(tx.reports().contact_timelines(at(0), at(300))?)
    });
    assert_eq!(
        got,
        vec![
            ContactTimeline {
                lead_id: l1,
                received_at: at(100),
                first_attempt_at: Some(at(160)),
                attempts: 2,
                status: ContactStatus::Scheduled,
            },
            ContactTimeline {
                lead_id: l2,
                received_at: at(0),
                first_attempt_at: None,
                attempts: 0,
                status: ContactStatus::Pending,
            },
            ContactTimeline {
                lead_id: l3,
                received_at: at(200),
                first_attempt_at: Some(at(230)),
                attempts: 1,
                status: ContactStatus::Unreachable,
            },
        ],
        "the range is [from, to) on received_at, ordered by lead id"
    );
    assert!(tx(s, "empty range", |tx| Ok(tx
        .reports()
        .contact_timelines(at(1000), at(2000))?))
    .is_empty());
}

/// Every outreach write inside a transaction that fails is undone: enqueue, claim, defer,
/// attempt, suppression, message enqueue, claim, try and cancel, each alone and all together.
pub fn rollback_discards_outreach_writes(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (l, a, m) = tx(s, "seed", |tx| {
        let l = seed_entry(tx, 1, at(0))?;
        tx.record_contact_attempt(
            &call(l, 1, at(10), ContactOutcome::NoAnswer),
            &update(ContactStatus::NoAnswer, Some(at(20))),
        )?;
        tx.suppress(&suppression(HASH_A, "opt_out"))?;
        let (a, _, ids) = seed_messages(tx, 2, &[(MessageKind::Reminder, at(0))])?;
        tx.record_message_try(
            &send_log(ids[0], 1, MessageStatus::Failed),
            MessageNext::Retry(at(30)),
        )?;
        Ok((l, a, ids[0]))
    });
    let (lead2, contact2) = tx(s, "a lead to enqueue", |tx| {
        let (c, l) = seed_queued_lead(tx, 3)?;
        Ok((l, c))
    });
    type Snapshot = (
        Option<QueueEntry>,
        Option<QueueEntry>,
        Vec<ContactAttempt>,
        bool,
        u64,
        Vec<Message>,
        Vec<MessageLog>,
        Vec<ContactTimeline>,
    );
    let snapshot = |s: &dyn Store| -> Snapshot {
        tx(s, "snapshot", |tx| {
            Ok((
                tx.contact_entry(l)?,
                tx.contact_entry(lead2)?,
                tx.contact_attempts(l)?,
                tx.is_suppressed(HASH_B)?,
                tx.suppression_count()?,
                tx.messages_for(a)?,
                tx.message_logs(m)?,
                tx.reports().contact_timelines(at(-1000), at(1000))?,
            ))
        })
    };
    let before = snapshot(s);
    /// The ids the writes use.
    struct Ids {
        lead: LeadId,
        appointment: AppointmentId,
        message: MessageId,
        msg_lead: LeadId,
        new_lead: LeadId,
        new_contact: ContactId,
    }
    type Write = (&'static str, fn(&dyn Tx, &Ids) -> Result<(), Error>);
    let writes: &[Write] = &[
        ("enqueue_contact", |tx, i| {
            tx.enqueue_contact(&queue_entry(i.new_lead, i.new_contact, at(0)))?;
            Ok(())
        }),
        ("claim_contacts", |tx, _| {
            tx.claim_contacts(at(100), 10, at(400), "dialer-1")?;
            Ok(())
        }),
        ("defer_contact", |tx, i| {
            Ok(tx.defer_contact(i.lead, at(5000), Some("quiet_hours"), None)?)
        }),
        ("record_contact_attempt", |tx, i| {
            Ok(tx.record_contact_attempt(
                &call(i.lead, 2, at(50), ContactOutcome::Scheduled),
                &update(ContactStatus::Scheduled, None),
            )?)
        }),
        ("suppress", |tx, _| {
            tx.suppress(&suppression(HASH_B, "opt_out"))?;
            Ok(())
        }),
        ("enqueue_message", |tx, i| {
            tx.enqueue_message(&new_message(
                i.appointment,
                i.msg_lead,
                MessageKind::Confirmation,
                at(0),
            ))?;
            Ok(())
        }),
        ("claim_due_messages", |tx, _| {
            tx.claim_due_messages(at(100), 10, at(400))?;
            Ok(())
        }),
        ("record_message_try", |tx, i| {
            Ok(tx.record_message_try(
                &send_log(i.message, 2, MessageStatus::Sent),
                MessageNext::Done(MessageStatus::Sent),
            )?)
        }),
        ("cancel_pending_messages", |tx, i| {
            tx.cancel_pending_messages(i.appointment, None)?;
            Ok(())
        }),
    ];
    let ids = Ids {
        lead: l,
        appointment: a,
        message: m,
        msg_lead: before.5[0].message.lead_id,
        new_lead: lead2,
        new_contact: contact2,
    };
    for (name, write) in writes {
        let r = with_tx(s, |tx| {
            write(tx, &ids)?;
            Err::<(), Error>(Error::Internal("roll back".into()))
        });
        assert!(r.is_err());
        assert_eq!(
            snapshot(s),
            before,
            "a rolled-back {name} must leave nothing behind"
        );
    }
    let r = with_tx(s, |tx| {
        for (_, write) in writes {
            write(tx, &ids)?;
        }
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    assert!(r.is_err());
    assert_eq!(
        snapshot(s),
        before,
        "rolled-back outreach writes together must leave nothing behind"
    );
}
