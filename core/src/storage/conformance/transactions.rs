//! Transactions: rollback, serializability, and a `Conflict` that leaves the transaction usable.

use super::*;

/// An insert that finds its key taken does not poison the transaction: with
/// `insert_contact_if_absent` it answers `Existing` (reported as a `Conflict` by the suite's
/// `insert_contact` helper) without a failing statement, so later writes in the same
/// transaction still commit, on any database (the engine resolves contact races this way).
pub fn conflict_leaves_transaction_usable(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let c = new_contact("provider:provider-a", "+13178638426");
    tx(s, "insert_contact", |tx| Ok(insert_contact(tx, &c)?));
    let later = tx(s, "conflict then write", |tx| {
        let dup = insert_contact(tx, &c);
        let found = tx.contact_by_phone(&c.dedup_scope, "+13178638426")?;
        let other = insert_contact(tx, &new_contact("provider:provider-a", "+14155550132"))?;
        Ok((dup, found, other))
    });
    expect_conflict("duplicate insert_contact", later.0);
    assert!(
        later.1.is_some(),
        "the existing contact must be readable after the Conflict"
    );
    let seen = tx(s, "contact", |tx| Ok(tx.contact(later.2)?));
    assert_eq!(
        seen.and_then(|c| c.contact.phone_e164),
        Some("+14155550132".to_string()),
        "writes made after a Conflict in the same transaction must commit"
    );
    let n = tx(s, "counts", |tx| Ok(tx.reports().counts()?)).contacts;
    assert_eq!(n, 2, "exactly the two distinct contacts must be stored");
}

/// A transaction whose closure returns `Err` leaves nothing visible and returns the error
/// unchanged.
pub fn rollback_discards_everything(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let p1 = provider("provider-a");
    let w1 = workspace("solar_ca_001", Cents(20000));
    let r1 = rule(1, "solar_ca_001", 10);
    let (c1, l1, a1) = tx(s, "seed", |tx| {
        tx.put_provider(&p1)?;
        tx.put_workspace(&w1)?;
        tx.put_rule(&r1)?;
        seed_routed(tx, 1, "solar_ca_001", Cents(20000))
    });
    let d1 = tx(s, "enqueue", |tx| {
        Ok(tx.enqueue_delivery(&new_delivery(a1, "solar_ca_001", at(0)))?)
    });
    let before = tx(s, "counts", |tx| Ok(tx.reports().counts()?));
    let appt_before = tx(s, "appointment", |tx| Ok(tx.appointment(a1)?));
    let delivery_before = tx(s, "delivery", |tx| Ok(tx.delivery(d1)?));
    let contact_before = tx(s, "contact", |tx| Ok(tx.contact(c1)?));

    let result = with_tx(s, |tx| {
        let mut p2 = p1.clone();
        p2.is_active = false;
        tx.put_provider(&p2)?;
        tx.put_provider(&provider("provider-z"))?;
        let mut w2 = w1.clone();
        w2.payment_rate = Cents(1);
        tx.put_workspace(&w2)?;
        tx.put_rule(&rule(2, "solar_ca_001", 1))?;
        let (c2, l2, a2) = seed_routed(tx, 2, "solar_ca_001", Cents(20000))?;
        tx.update_contact(
            c1,
            &NewContact {
                first_name: Some("Changed".into()),
                phone_e164: Some(phone(99)),
                ..new_contact("provider:provider-a", &phone(1))
            },
        )?;
        insert_contact(
            tx,
            &email_contact("provider:provider-a", "rolled@example.com"),
        )?;
        insert_lead(
            tx,
            &NewLead {
                duplicate_of: Some(l1),
                ..new_lead(c1, "provider-a", "PA-DUP")
            },
        )?;
        tx.insert_rejection(&new_rejection("provider-a", "PA-REJECT", &["invalid_zip"]))?;
        tx.enqueue_delivery(&new_delivery(a2, "solar_ca_001", at(0)))?;
        let claimed = tx.claim_due_deliveries(at(1), 10, at(300))?;
        if claimed.is_empty() {
            return Err(Error::Internal("conformance: nothing to claim".into()));
        }
        tx.record_attempt(
            &attempt(d1, 1, Some(200)),
            &AttemptResult::Delivered {
                billing: Some(charge(a1, "solar_ca_001", Cents(20000))),
            },
        )?;
        tx.update_forward(a1, ForwardStatus::Success, 1, Some(at(11)), Some("ok"))?;
        tx.insert_billing_event(&charge(a1, "solar_ca_001", Cents(20000)))?;
        tx.append_event(&NewEvent {
            subject: EventSubject::Contact,
            subject_id: c2.get(),
            event_type: EventKind::Created,
            detail: json!({}),
            created_at: at(1),
        })?;
        tx.append_event(&NewEvent {
            subject: EventSubject::Lead,
            subject_id: l2.get(),
            event_type: EventKind::Received,
            detail: json!({}),
            created_at: at(1),
        })?;
        tx.append_event(&NewEvent {
            subject: EventSubject::Appointment,
            subject_id: a1.get(),
            event_type: EventKind::Delivered,
            detail: json!({}),
            created_at: at(1),
        })?;
        Err::<(), _>(Error::Internal("conformance: deliberate failure".into()))
    });
    match result {
        Err(Error::Internal(m)) if m == "conformance: deliberate failure" => {}
        other => panic!("transaction must return the closure's error unchanged, got {other:?}"),
    }

    let after = tx(s, "counts", |tx| Ok(tx.reports().counts()?));
    assert_eq!(
        after, before,
        "a failed transaction must leave every count unchanged"
    );
    let seen = tx(s, "read back", |tx| {
        Ok((
            tx.providers()?,
            tx.workspaces()?,
            tx.rules()?,
            tx.contact_by_phone("provider:provider-a", &phone(2))?,
            tx.stored_record("provider-a", "PA-00002")?,
            tx.stored_record("provider-a", "PA-REJECT")?,
        ))
    });
    assert_eq!(
        seen,
        (vec![p1], vec![w1], vec![r1], None, None, None),
        "a failed transaction must leave providers, workspaces, rules, contacts and record keys unchanged"
    );
    let (appt, delivery, attempts) = tx(s, "read back", |tx| {
        Ok((tx.appointment(a1)?, tx.delivery(d1)?, tx.attempts(d1)?))
    });
    let contacts = tx(s, "read back", |tx| {
        Ok((
            tx.contact(c1)?,
            tx.contact_by_phone("provider:provider-a", &phone(99))?,
            tx.contact_by_email_key("provider:provider-a", "rolled@example.com")?,
            tx.stored_record("provider-a", "PA-DUP")?,
            tx.latest_original_lead(c1, "Solar")?.map(|l| l.id),
        ))
    });
    assert_eq!(
        contacts,
        (contact_before, None, None, None, Some(l1)),
        "a failed transaction must not keep contact updates, new contacts or duplicate leads"
    );
    assert_eq!(
        appt, appt_before,
        "a failed transaction must not change an appointment"
    );
    assert_eq!(
        delivery, delivery_before,
        "a failed transaction must not lease or move a delivery"
    );
    assert!(
        attempts.is_empty(),
        "a failed transaction must not store attempts"
    );
    let events = tx(s, "events", |tx| {
        Ok((
            tx.events(EventSubject::Contact, c1.get() + 1)?,
            tx.events(EventSubject::Appointment, a1.get())?,
        ))
    });
    assert_eq!(
        events,
        (vec![], vec![]),
        "a failed transaction must not store events"
    );
    let billed = tx(s, "charge", |tx| {
        Ok(tx.insert_billing_event(&charge(a1, "solar_ca_001", Cents(20000)))?)
    });
    assert!(
        billed.is_some(),
        "a rolled-back charge must not block the real one"
    );
    assert_eq!(
        ids(&claim(s, at(1), 10, at(300))),
        vec![d1],
        "the rolled-back lease must not hold"
    );
}

/// Transactions do not lose each other's updates: concurrent read-modify-write transactions
/// on one store from several threads behave as if run one after another.
pub fn transactions_are_serializable(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let mut p = provider("provider-a");
    p.rate_limit_per_hour = Some(0);
    tx(s, "seed", |tx| Ok(tx.put_provider(&p)?));
    const THREADS: u32 = 4;
    const ROUNDS: u32 = 25;
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            scope.spawn(move || {
                for r in 0..ROUNDS {
                    tx(s, "read-modify-write", |tx| {
                        let mut p = tx
                            .provider("provider-a")?
                            .ok_or_else(|| Error::Internal("provider vanished".into()))?;
                        p.rate_limit_per_hour = p.rate_limit_per_hour.map(|n| n + 1);
                        tx.put_provider(&p)?;
                        // Every thread races to create the same contact, the engine's way.
                        let c = new_contact("provider:provider-a", "+13178638426");
                        if tx
                            .contact_by_phone(&c.dedup_scope, "+13178638426")?
                            .is_none()
                        {
                            insert_contact(tx, &c)?;
                        }
                        let own = new_contact("provider:provider-a", &phone(1 + t * ROUNDS + r));
                        insert_contact(tx, &own)?;
                        Ok(())
                    });
                }
            });
        }
    });
    let got =
        tx(s, "provider", |tx| Ok(tx.provider("provider-a")?)).and_then(|p| p.rate_limit_per_hour);
    assert_eq!(
        got,
        Some(THREADS * ROUNDS),
        "concurrent read-modify-write transactions must not lose updates"
    );
    assert_eq!(
        tx(s, "counts", |tx| Ok(tx.reports().counts()?)).contacts,
        u64::from(1 + THREADS * ROUNDS),
        "exactly one shared contact plus one per transaction"
    );
}

/// A failed transaction leaves no trace of the lifecycle, outbox, billing, return, booking
/// and reprocessing writes either: lifecycle changes, reassignments, later deliveries,
/// redeliveries, per-workspace charges, returns and their decisions, booking events and
/// links, released and reprocessed rejections.
pub fn rollback_discards_aftercare_writes(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (a, d, ret, rej) = tx(s, "seed", |tx| {
        tx.put_workspace(&workspace("roof_fl_003", Cents(15000)))?;
        let (_, _, a) = seed_routed(tx, 1, "solar_ca_001", Cents(20000))?;
        let d = tx.enqueue_delivery(&new_delivery(a, "solar_ca_001", at(0)))?;
        tx.record_attempt(&attempt(d, 1, Some(410)), &AttemptResult::Failed)?;
        tx.insert_billing_event(&charge(a, "solar_ca_001", Cents(20000)))?;
        let ret = tx
            .insert_return(&NewReturn {
                appointment_id: a,
                workspace_id: "solar_ca_001".into(),
                reason: "wrong_number".into(),
                status: ReturnStatus::Pending,
                actor: "client".into(),
                credit: Cents(-20000),
                requested_at: at(50),
                decided_at: None,
                decision_note: None,
            })?
            .id();
        let rej = tx.insert_rejection(&new_rejection("provider-a", "PA-R", &["unknown_zip"]))?;
        Ok((a, d, ret, rej))
    });
    let read = |s: &dyn Store| {
        tx(s, "read back", |tx| {
            Ok((
                tx.appointment(a)?,
                tx.deliveries_for_appointment(a)?,
                tx.billing_events_for(a)?,
                (tx.return_record(ret)?, tx.return_for(a, "roof_fl_003")?),
                (
                    tx.booking_events(&["bk_rolled".to_string()])?,
                    tx.booking_uids(a)?,
                ),
                (
                    tx.stored_record("provider-a", "PA-R")?,
                    tx.rejections(&RejectionFilter::default(), RejectionId(0), 10)?,
                ),
                tx.reports().counts()?,
            ))
        })
    };
    let before = read(s);
    let result = with_tx(s, |tx| {
        let now = tx
            .appointment(a)?
            .ok_or_else(|| Error::Internal("appointment vanished".into()))?;
        tx.update_lifecycle(
            a,
            &LifecycleUpdate {
                expected_status: now.lifecycle.status,
                expected_reschedule_count: now.lifecycle.reschedule_count,
                life: crate::lifecycle::Life {
                    status: AppointmentStatus::Cancelled,
                    cancellation_reason: Some("rolled back".into()),
                    ..now.life()
                },
                reschedule_requested: true,
                at: at(60),
            },
        )?;
        tx.reassign_appointment(
            a,
            &Assignment::Routed {
                workspace_id: "roof_fl_003".into(),
                rule_id: None,
                method: RoutingMethod::Manual,
                matched_at: at(60),
                payment_rate: Cents(15000),
            },
        )?;
        tx.enqueue_delivery(&event_delivery(
            a,
            "roof_fl_003",
            at(60),
            WebhookEventType::AppointmentCancelled,
            1,
        ))?;
        tx.redeliver(d, at(60))?;
        tx.insert_billing_event(&charge(a, "roof_fl_003", Cents(15000)))?;
        tx.decide_return(ret, ReturnStatus::Approved, at(60), Some("rolled back"))?;
        tx.insert_return(&NewReturn {
            appointment_id: a,
            workspace_id: "roof_fl_003".into(),
            reason: "no_show".into(),
            status: ReturnStatus::Pending,
            actor: "system".into(),
            credit: Cents(-15000),
            requested_at: at(60),
            decided_at: None,
            decision_note: None,
        })?;
        tx.insert_booking_event(&NewBookingEvent {
            webhook_id: "wh_calcom".into(),
            event_key: "BOOKING_CANCELLED:bk_rolled".into(),
            trigger: "BOOKING_CANCELLED".into(),
            uid: Some("bk_rolled".into()),
            reschedule_uid: None,
            created_at: at(60),
            received_at: at(61),
            body: "{}".into(),
        })?;
        tx.link_booking_uid("bk_rolled", a)?;
        tx.release_rejection(rej)?;
        tx.mark_rejection_reprocessed(rej, None, at(60))?;
        Err::<(), _>(Error::Internal("conformance: deliberate failure".into()))
    });
    assert!(result.is_err());
    assert_eq!(
        read(s),
        before,
        "a failed transaction must leave appointments, deliveries, billing, returns, booking \
         events and links, and rejections as they were"
    );
}
