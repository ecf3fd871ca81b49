//! The outbox: [`OutboxRepo`] deliveries, claims, leases and attempts, and [`EndpointRepo`] health.

use super::*;

/// One delivery per (appointment, sequence), unique `webhook_id`; it starts pending,
/// unleased, with no attempts and `retry_base` 0; missing → `None`.
pub fn deliveries_unique(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (a1, a2) = tx(s, "seed", |tx| {
        Ok((
            seed_routed(tx, 1, "solar_ca_001", Cents(20000))?.2,
            seed_routed(tx, 2, "solar_ca_001", Cents(20000))?.2,
        ))
    });
    let nd = new_delivery(a1, "solar_ca_001", at(5));
    let d = tx(s, "enqueue_delivery", |tx| Ok(tx.enqueue_delivery(&nd)?));
    let got = tx(s, "delivery", |tx| Ok(tx.delivery(d)?));
    assert_eq!(
        got,
        Some(Delivery {
            id: d,
            delivery: nd.clone(),
            status: ForwardStatus::Pending,
            attempts: 0,
            locked_until: None,
            retry_base: 0,
        }),
        "a delivery must read back as enqueued: pending, no attempts, no lease"
    );
    let mut again = new_delivery(a1, "solar_ca_001", at(5));
    again.webhook_id = "msg_2mL4Hq0bXAtwbE0nBDUWxVZXYr1".into();
    let r = tx(s, "second delivery", |tx| Ok(tx.enqueue_delivery(&again)));
    expect_conflict(
        "enqueue_delivery for an appointment that has one with the same sequence",
        r,
    );
    let mut same_id = new_delivery(a2, "solar_ca_001", at(5));
    same_id.webhook_id = nd.webhook_id.clone();
    let r = tx(
        s,
        "webhook id taken",
        |tx| Ok(tx.enqueue_delivery(&same_id)),
    );
    expect_conflict("enqueue_delivery with a webhook_id that is taken", r);
    let r = tx(s, "missing appointment", |tx| {
        Ok(tx.enqueue_delivery(&new_delivery(
            AppointmentId(a2.0 + 100),
            "solar_ca_001",
            at(5),
        )))
    });
    expect_conflict("enqueue_delivery for an appointment that does not exist", r);
    let (missing, no_attempts) = tx(s, "delivery", |tx| {
        Ok((tx.delivery(DeliveryId(d.0 + 100))?, tx.attempts(d)?))
    });
    assert_eq!(missing, None, "delivery() of a missing id must be Ok(None)");
    assert!(no_attempts.is_empty(), "a new delivery has no attempts");
    let d2 = tx(s, "enqueue for a2", |tx| {
        Ok(tx.enqueue_delivery(&new_delivery(a2, "solar_ca_001", at(5)))?)
    });
    assert_ne!(d, d2);
    assert_eq!(
        tx(s, "counts", |tx| Ok(tx.reports().counts()?)).deliveries,
        2
    );
}

/// `claim_due_deliveries` returns only pending, due, unleased rows, oldest due first then
/// lowest id, at most `limit`, and leases them until `lease_until`.
pub fn claim_due_deliveries_selection(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (da, db, dc, dd, de, df) = tx(s, "seed deliveries", |tx| {
        Ok((
            seed_delivery(tx, 1, at(10))?,
            seed_delivery(tx, 2, at(0))?,
            seed_delivery(tx, 3, at(0))?,
            seed_delivery(tx, 4, at(3600))?,
            seed_delivery(tx, 5, at(-60))?,
            seed_delivery(tx, 6, at(-30))?,
        ))
    });
    tx(s, "finish two deliveries", |tx| {
        tx.record_attempt(&attempt(de, 1, Some(410)), &AttemptResult::Failed)?;
        tx.record_attempt(
            &attempt(df, 1, Some(200)),
            &AttemptResult::Delivered {
                billing: Some(charge(AppointmentId(1), "solar_ca_001", Cents(20000))),
            },
        )?;
        Ok(())
    });
    assert!(
        claim(s, at(20), 0, at(300)).is_empty(),
        "a claim with limit 0 must return nothing"
    );
    let lease = at(300);
    let first = claim(s, at(20), 2, lease);
    assert_eq!(
        ids(&first),
        vec![db, dc],
        "claim must return the oldest due rows first, then the lowest id, at most `limit` \
         (failed, delivered and future rows are never due)"
    );
    for d in &first {
        assert_eq!(
            d.locked_until,
            Some(lease),
            "claimed rows must carry the lease"
        );
        assert_eq!(d.status, ForwardStatus::Pending);
    }
    let stored = tx(s, "delivery", |tx| Ok(tx.delivery(db)?));
    assert_eq!(
        stored.and_then(|d| d.locked_until),
        Some(lease),
        "the lease must be stored on the claimed row"
    );
    let second = claim(s, at(20), 10, lease);
    assert_eq!(
        ids(&second),
        vec![da],
        "leased rows must not be claimed again while the lease holds"
    );
    assert!(
        claim(s, at(20), 10, lease).is_empty(),
        "every due row is leased now"
    );
    let unclaimed = tx(s, "delivery", |tx| Ok(tx.delivery(dd)?));
    assert_eq!(
        unclaimed.and_then(|d| d.locked_until),
        None,
        "rows not yet due stay unleased"
    );

    let later = claim(s, at(7200), 10, at(7500));
    assert_eq!(
        ids(&later),
        vec![db, dc, da, dd],
        "after the leases expire every pending due row is claimable again, in due order"
    );
}

/// A lease blocks claims strictly before `locked_until` and expires at it; a row is due at
/// exactly `next_attempt_at`.
pub fn claim_lease_expiry(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let d = tx(s, "seed", |tx| seed_delivery(tx, 1, at(0)));
    assert!(
        claim(s, at(-1), 5, at(60)).is_empty(),
        "a row is not due before next_attempt_at"
    );
    assert_eq!(
        ids(&claim(s, at(0), 5, at(60))),
        vec![d],
        "a row is due at next_attempt_at"
    );
    assert!(
        claim(s, at(59), 5, at(120)).is_empty(),
        "the lease holds until locked_until"
    );
    let again = claim(s, at(60), 5, at(120));
    assert_eq!(
        ids(&again),
        vec![d],
        "a lease expires at locked_until (the worker died)"
    );
    assert_eq!(
        again[0].locked_until,
        Some(at(120)),
        "the new claim carries the new lease"
    );
}

/// `record_attempt` writes the attempt row, sets `attempts`, clears the lease and moves the
/// delivery to success, pending at a new time, or failed; duplicates and missing deliveries
/// are `Conflict`s; it does not write billing.
pub fn record_attempt_transitions(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (d1, d2) = tx(s, "seed", |tx| {
        Ok((seed_delivery(tx, 1, at(0))?, seed_delivery(tx, 2, at(0))?))
    });
    assert_eq!(ids(&claim(s, at(0), 10, at(300))), vec![d1, d2]);

    let a1 = attempt(d1, 1, Some(503));
    tx(s, "retry", |tx| {
        Ok(tx.record_attempt(
            &a1,
            &AttemptResult::Retry {
                next_attempt_at: at(5),
            },
        )?)
    });
    let got =
        tx(s, "delivery", |tx| Ok(tx.delivery(d1)?)).unwrap_or_else(|| panic!("delivery vanished"));
    assert_eq!(
        (got.status, got.attempts, got.locked_until, got.delivery.next_attempt_at),
        (ForwardStatus::Pending, 1, None, at(5)),
        "Retry must leave the delivery pending at the new time, count the attempt and clear the lease"
    );
    assert!(
        claim(s, at(4), 10, at(400)).is_empty(),
        "a retried delivery is not due before its new time"
    );
    assert_eq!(
        ids(&claim(s, at(5), 10, at(400))),
        vec![d1],
        "a retried delivery is due at its new time"
    );

    let dup = attempt(d1, 1, Some(200));
    let r = tx(s, "duplicate attempt", |tx| {
        Ok(tx.record_attempt(
            &dup,
            &AttemptResult::Delivered {
                billing: Some(charge(AppointmentId(1), "solar_ca_001", Cents(20000))),
            },
        ))
    });
    expect_conflict("record_attempt with an attempt number already recorded", r);
    let unchanged =
        tx(s, "delivery", |tx| Ok(tx.delivery(d1)?)).unwrap_or_else(|| panic!("delivery vanished"));
    assert_eq!(
        (unchanged.status, unchanged.attempts, unchanged.locked_until),
        (ForwardStatus::Pending, 1, Some(at(400))),
        "a refused record_attempt must not change the delivery"
    );

    let a2 = Attempt {
        error: None,
        response_excerpt: Some(r#"{"received":true,"id":"apt_88213"}"#.into()),
        ..attempt(d1, 2, Some(200))
    };
    tx(s, "delivered", |tx| {
        Ok(tx.record_attempt(
            &a2,
            &AttemptResult::Delivered {
                billing: Some(charge(AppointmentId(1), "solar_ca_001", Cents(20000))),
            },
        )?)
    });
    let got =
        tx(s, "delivery", |tx| Ok(tx.delivery(d1)?)).unwrap_or_else(|| panic!("delivery vanished"));
    assert_eq!(
        (got.status, got.attempts, got.locked_until),
        (ForwardStatus::Success, 2, None),
        "Delivered must mark the delivery success and clear the lease"
    );
    let listed = tx(s, "attempts", |tx| Ok(tx.attempts(d1)?));
    assert_eq!(
        listed,
        vec![a1, a2],
        "attempts() must return every attempt by number, unchanged"
    );
    assert_eq!(
        tx(s, "counts", |tx| Ok(tx.reports().counts()?)).billing_events,
        0,
        "record_attempt must not write billing (the caller does, through BillingRepo)"
    );

    let timeout = Attempt {
        duration_ms: 30_000,
        ..attempt(d2, 1, None)
    };
    tx(s, "failed", |tx| {
        Ok(tx.record_attempt(&timeout, &AttemptResult::Failed)?)
    });
    let got =
        tx(s, "delivery", |tx| Ok(tx.delivery(d2)?)).unwrap_or_else(|| panic!("delivery vanished"));
    assert_eq!(
        (got.status, got.attempts, got.locked_until),
        (ForwardStatus::Failed, 1, None),
        "Failed must mark the delivery failed and clear the lease"
    );
    assert_eq!(tx(s, "attempts", |tx| Ok(tx.attempts(d2)?)), vec![timeout]);
    assert!(
        claim(s, at(100_000), 10, at(100_300)).is_empty(),
        "delivered and failed deliveries are never claimed"
    );
    let r = tx(s, "missing delivery", |tx| {
        Ok(tx.record_attempt(
            &attempt(DeliveryId(d2.0 + 100), 1, Some(200)),
            &AttemptResult::Failed,
        ))
    });
    expect_conflict("record_attempt for a delivery that does not exist", r);
    let n = tx(s, "counts", |tx| Ok(tx.reports().counts()?));
    assert_eq!(
        (n.attempts, n.deliveries_succeeded, n.deliveries_failed),
        (3, 1, 1),
        "refused attempts must not be stored"
    );
}

/// Endpoint health defaults to healthy and round-trips; `defer_delivery` moves a claimed
/// delivery's due time without an attempt and frees its lease; `resume_workspace_deliveries`
/// makes a workspace's pending deliveries due.
pub fn endpoint_health_and_deferral(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    assert_eq!(
        tx(s, "default", |tx| Ok(tx.endpoint_health("solar_ca_001")?)),
        EndpointHealth::default()
    );
    let d = tx(s, "seed", |tx| seed_delivery(tx, 1, at(0)));
    let h = EndpointHealth {
        consecutive_failures: 3,
        paused_until: Some(at(300)),
        disabled: true,
        disabled_reason: Some("HTTP 410".into()),
    };
    tx(s, "put", |tx| {
        Ok(tx.put_endpoint_health("solar_ca_001", &h)?)
    });
    assert_eq!(
        tx(s, "get", |tx| Ok(tx.endpoint_health("solar_ca_001")?)),
        h
    );
    let claimed = tx(s, "claim", |tx| {
        Ok(tx.claim_due_deliveries(at(1), 10, at(100))?)
    });
    assert_eq!(ids(&claimed), vec![d]);
    tx(s, "defer", |tx| Ok(tx.defer_delivery(d, at(3600))?));
    let after = tx(s, "read", |tx| Ok(tx.delivery(d)?)).expect("delivery exists");
    assert_eq!(
        (
            after.delivery.next_attempt_at,
            after.locked_until,
            after.attempts,
            after.status
        ),
        (at(3600), None, 0, ForwardStatus::Pending),
        "defer moves the due time, frees the lease, and records no attempt"
    );
    assert!(
        tx(s, "not due", |tx| Ok(tx.claim_due_deliveries(
            at(2),
            10,
            at(100)
        )?))
        .is_empty(),
        "a deferred delivery is not due before its new time"
    );
    let n = tx(s, "resume", |tx| {
        Ok(tx.resume_workspace_deliveries("solar_ca_001", at(2))?)
    });
    assert_eq!(n, 1);
    assert_eq!(
        ids(&tx(s, "due again", |tx| Ok(tx.claim_due_deliveries(
            at(2),
            10,
            at(100)
        )?))),
        vec![d]
    );
    assert_eq!(
        tx(s, "other workspace", |tx| Ok(
            tx.resume_workspace_deliveries("nobody", at(2))?
        )),
        0
    );
    let missing = with_tx(s, |tx| Ok(tx.defer_delivery(DeliveryId(9_999), at(1))));
    expect_conflict("deferring a missing delivery", missing.expect("tx"));
}

/// An appointment has one delivery per `sequence`: a later one (a lifecycle event) is
/// accepted beside the first, the same sequence again is a `Conflict`; event and sequence read
/// back; `deliveries_for_appointment` lists them by sequence.
pub fn deliveries_unique_per_sequence(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (a1, a2) = tx(s, "seed", |tx| {
        Ok((
            seed_routed(tx, 1, "solar_ca_001", Cents(20000))?.2,
            seed_routed(tx, 2, "solar_ca_001", Cents(20000))?.2,
        ))
    });
    let created = new_delivery(a1, "solar_ca_001", at(5));
    let cancelled = event_delivery(
        a1,
        "solar_ca_001",
        at(9),
        WebhookEventType::AppointmentCancelled,
        2,
    );
    let confirmed = event_delivery(
        a1,
        "solar_ca_001",
        at(7),
        WebhookEventType::AppointmentConfirmed,
        1,
    );
    // Enqueued out of sequence order on purpose.
    let (d0, d2, d1) = tx(s, "enqueue three deliveries", |tx| {
        Ok((
            tx.enqueue_delivery(&created)?,
            tx.enqueue_delivery(&cancelled)?,
            tx.enqueue_delivery(&confirmed)?,
        ))
    });
    assert!(
        d0 != d1 && d1 != d2 && d0 != d2,
        "every delivery has its own id"
    );
    let mut same_sequence = event_delivery(
        a1,
        "solar_ca_001",
        at(9),
        WebhookEventType::AppointmentRescheduled,
        1,
    );
    same_sequence.webhook_id = "msg_2zV3hQ1N3RrKXc2q4u4C7m0fS1d".into();
    let r = tx(s, "same sequence", |tx| {
        Ok(tx.enqueue_delivery(&same_sequence))
    });
    expect_conflict("enqueue_delivery with a sequence the appointment has", r);
    let (listed, other, single) = tx(s, "deliveries_for_appointment", |tx| {
        Ok((
            tx.deliveries_for_appointment(a1)?,
            tx.deliveries_for_appointment(a2)?,
            tx.delivery(d1)?,
        ))
    });
    let fresh = |id, d: &NewDelivery| Delivery {
        id,
        delivery: d.clone(),
        status: ForwardStatus::Pending,
        attempts: 0,
        locked_until: None,
        retry_base: 0,
    };
    assert_eq!(
        listed,
        vec![
            fresh(d0, &created),
            fresh(d1, &confirmed),
            fresh(d2, &cancelled)
        ],
        "deliveries_for_appointment lists every delivery by sequence, with its event"
    );
    assert_eq!(single, Some(fresh(d1, &confirmed)));
    assert!(
        other.is_empty(),
        "an appointment without deliveries lists none"
    );
    assert_eq!(
        tx(s, "counts", |tx| Ok(tx.reports().counts()?)).deliveries,
        3,
        "the refused delivery is not stored"
    );
}

/// A delivery is not claimed while an earlier-sequence delivery of the same appointment is
/// pending (due or not, leased or not); it is once that one failed or succeeded. Other
/// appointments are not held back.
pub fn claim_waits_for_earlier_sequence(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let ws = "solar_ca_001";
    let ev = WebhookEventType::AppointmentConfirmed;
    let (a0, a1_seq1, b0, b1, c1) = tx(s, "seed", |tx| {
        let (_, _, a) = seed_routed(tx, 1, ws, Cents(20000))?;
        let (_, _, b) = seed_routed(tx, 2, ws, Cents(20000))?;
        let (_, _, c) = seed_routed(tx, 3, ws, Cents(20000))?;
        Ok((
            tx.enqueue_delivery(&new_delivery(a, ws, at(0)))?,
            tx.enqueue_delivery(&event_delivery(a, ws, at(0), ev, 1))?,
            tx.enqueue_delivery(&new_delivery(b, ws, at(0)))?,
            tx.enqueue_delivery(&event_delivery(b, ws, at(0), ev, 1))?,
            // An appointment whose only delivery has sequence 1: nothing before it.
            tx.enqueue_delivery(&event_delivery(c, ws, at(0), ev, 1))?,
        ))
    });
    let first = claim(s, at(1), 10, at(100));
    assert_eq!(
        ids(&first),
        vec![a0, b0, c1],
        "only the earliest pending delivery of each appointment is claimed"
    );
    assert!(
        claim(s, at(1), 10, at(100)).is_empty(),
        "a later delivery waits while the earlier one is leased (still pending)"
    );
    tx(s, "a0 retries later, b0 fails", |tx| {
        tx.record_attempt(
            &attempt(a0, 1, Some(503)),
            &AttemptResult::Retry {
                next_attempt_at: at(1000),
            },
        )?;
        tx.record_attempt(&attempt(b0, 1, Some(410)), &AttemptResult::Failed)?;
        Ok(())
    });
    assert_eq!(
        ids(&claim(s, at(2), 10, at(100))),
        vec![b1],
        "a failed predecessor does not block; a pending one that is not due yet does"
    );
    tx(s, "b1 and c1 delivered", |tx| {
        for d in [b1, c1] {
            tx.record_attempt(
                &attempt(d, 1, Some(200)),
                &AttemptResult::Delivered { billing: None },
            )?;
        }
        Ok(())
    });
    assert_eq!(
        ids(&claim(s, at(1000), 10, at(1100))),
        vec![a0],
        "the retried predecessor is claimed first, its successor still waits"
    );
    tx(s, "a0 delivered", |tx| {
        Ok(tx.record_attempt(
            &attempt(a0, 2, Some(200)),
            &AttemptResult::Delivered { billing: None },
        )?)
    });
    assert_eq!(
        ids(&claim(s, at(1000), 10, at(1100))),
        vec![a1_seq1],
        "once the predecessor succeeded its successor is claimed"
    );
}

/// `redeliver` queues a failed delivery, or a waiting one, again: pending, due at the given
/// time, unleased, `retry_base = attempts`, same `webhook_id` and attempts; it returns the
/// stored row, and attempt numbers go on.
pub fn redeliver_requeues_failed_and_waiting(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (failed, waiting) = tx(s, "seed", |tx| {
        Ok((seed_delivery(tx, 1, at(0))?, seed_delivery(tx, 2, at(0))?))
    });
    assert_eq!(ids(&claim(s, at(0), 10, at(300))), vec![failed, waiting]);
    tx(s, "three attempts, then give up; one retry", |tx| {
        for n in 1..=2 {
            tx.record_attempt(
                &attempt(failed, n, Some(503)),
                &AttemptResult::Retry {
                    next_attempt_at: at(0),
                },
            )?;
        }
        tx.record_attempt(&attempt(failed, 3, Some(503)), &AttemptResult::Failed)?;
        tx.record_attempt(
            &attempt(waiting, 1, None),
            &AttemptResult::Retry {
                next_attempt_at: at(5000),
            },
        )?;
        Ok(())
    });
    let before = tx(s, "read", |tx| Ok(tx.delivery(failed)?)).expect("delivery exists");
    let back = tx(s, "redeliver", |tx| Ok(tx.redeliver(failed, at(700))?));
    let expected = Delivery {
        status: ForwardStatus::Pending,
        locked_until: None,
        retry_base: 3,
        delivery: NewDelivery {
            next_attempt_at: at(700),
            ..before.delivery.clone()
        },
        ..before.clone()
    };
    assert_eq!(
        back.as_ref(),
        Some(&expected),
        "a failed delivery becomes pending at the new time, unleased, with retry_base = \
         attempts and the same webhook id"
    );
    assert_eq!(
        tx(s, "read", |tx| Ok(tx.delivery(failed)?)),
        back,
        "redeliver returns the row it stored"
    );
    assert!(
        claim(s, at(699), 10, at(800)).is_empty(),
        "not due before the new time"
    );
    assert_eq!(ids(&claim(s, at(700), 10, at(800))), vec![failed]);
    tx(s, "attempt 4", |tx| {
        Ok(tx.record_attempt(
            &attempt(failed, 4, Some(200)),
            &AttemptResult::Delivered { billing: None },
        )?)
    });
    assert_eq!(
        tx(s, "attempts", |tx| Ok(tx.attempts(failed)?)).len(),
        4,
        "attempt numbers go on after a redelivery"
    );

    // A waiting (pending, leased) delivery is queued again too, its lease cleared.
    assert_eq!(ids(&claim(s, at(5000), 10, at(5300))), vec![waiting]);
    let back = tx(s, "redeliver waiting", |tx| {
        Ok(tx.redeliver(waiting, at(10))?)
    })
    .expect("the delivery exists");
    assert_eq!(
        (
            back.status,
            back.delivery.next_attempt_at,
            back.locked_until,
            back.attempts,
            back.retry_base
        ),
        (ForwardStatus::Pending, at(10), None, 1, 1),
        "a pending delivery is due at the new time, unleased, retry_base = attempts"
    );
}

/// `redeliver` of a delivered (success) delivery is a `Conflict` and changes nothing.
pub fn redeliver_refuses_delivered(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let d = tx(s, "seed", |tx| seed_delivery(tx, 1, at(0)));
    tx(s, "delivered", |tx| {
        Ok(tx.record_attempt(
            &attempt(d, 1, Some(200)),
            &AttemptResult::Delivered { billing: None },
        )?)
    });
    let before = tx(s, "read", |tx| Ok(tx.delivery(d)?));
    let r = tx(s, "redeliver", |tx| Ok(tx.redeliver(d, at(700))));
    expect_conflict("redeliver of a delivered delivery", r);
    assert_eq!(
        tx(s, "read", |tx| Ok(tx.delivery(d)?)),
        before,
        "a refused redeliver changes nothing"
    );
}

/// `redeliver` of a delivery that does not exist is `Ok(None)`.
pub fn redeliver_unknown_is_none(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let d = tx(s, "seed", |tx| seed_delivery(tx, 1, at(0)));
    let r = tx(s, "redeliver", |tx| {
        Ok(tx.redeliver(DeliveryId(d.0 + 100), at(700))?)
    });
    assert_eq!(r, None, "redeliver of an unknown delivery is Ok(None)");
    assert_eq!(
        tx(s, "counts", |tx| Ok(tx.reports().counts()?)).deliveries,
        1
    );
}
