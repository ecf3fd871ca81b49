//! The appointment's lifecycle: [`AppointmentRepo`] details, the lifecycle compare-and-set
//! ([`AppointmentRepo::update_lifecycle`]) and reassignment.

use super::*;
use crate::lifecycle::Life;

/// Every seed field beside the time and place, as the HVAC and HPP seeds fill them.
fn details() -> AppointmentDetails {
    AppointmentDetails {
        end_time: Some(ts("2025-03-18T18:30:00Z")),
        duration_minutes: Some(60),
        appointment_type: Some("consultation".into()),
        location_type: Some("in_person".into()),
        location_address: Some("1234 Wilshire Blvd, Beverly Hills, CA 90210".into()),
        customer_notes: Some("Gate code 4521; dog in the yard".into()),
        next_action: Some("send_quote".into()),
        next_action_date: Some(jiff::civil::date(2025, 3, 21)),
        cal_booking_uid: Some("bk_8f3Kq2LmZx91".into()),
    }
}

/// A routed appointment with every detail set. Returns its id.
fn seed_detailed(tx: &dyn Tx, n: u32) -> Result<(AppointmentId, NewAppointment), Error> {
    tx.put_workspace(&workspace("solar_ca_001", Cents(20000)))?;
    let c = insert_contact(tx, &new_contact("provider:provider-a", &phone(n)))?;
    let l = insert_lead(tx, &new_lead(c, "provider-a", &format!("LC-{n:05}")))?;
    let a = NewAppointment {
        details: details(),
        ..routed(l, c, "solar_ca_001", Cents(20000))
    };
    Ok((tx.insert_appointment(&a)?, a))
}

/// The lifecycle write that confirms a `scheduled` appointment.
fn confirm(a: &NewAppointment, at_: Timestamp) -> LifecycleUpdate {
    LifecycleUpdate {
        expected_status: AppointmentStatus::Scheduled,
        expected_reschedule_count: 0,
        life: Life {
            status: AppointmentStatus::Confirmed,
            start: a.appointment_date,
            end: a.details.end_time,
            reschedule_count: 0,
            outcome: None,
            cancellation_reason: None,
        },
        reschedule_requested: false,
        at: at_,
    }
}

/// An appointment's details (end, duration, type, location, notes, next action and its date,
/// Cal.com uid) are stored and read back as given, by id, by lead and in pages; a new
/// appointment's lifecycle is the default (`scheduled`, no reschedules, no outcome).
pub fn appointment_details_round_trip(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (id, a, uid, u) = tx(s, "seed", |tx| {
        let (id, a) = seed_detailed(tx, 1)?;
        let c = insert_contact(tx, &new_contact("provider:provider-a", &phone(2)))?;
        let l = insert_lead(tx, &new_lead(c, "provider-a", "LC-UNROUTED"))?;
        let u = NewAppointment {
            details: AppointmentDetails {
                duration_minutes: Some(0),
                next_action_date: Some(jiff::civil::date(2024, 2, 29)),
                ..AppointmentDetails::default()
            },
            ..unrouted(l, c, "no_rule_for_zip")
        };
        Ok((id, a, tx.insert_appointment(&u)?, u))
    });
    let expected = |id, a: &NewAppointment| Appointment {
        id,
        appointment: a.clone(),
        forward_status: ForwardStatus::Pending,
        forward_attempts: 0,
        forwarded_at: None,
        forward_response: None,
        lifecycle: AppointmentLifecycle {
            status: AppointmentStatus::Scheduled,
            reschedule_count: 0,
            outcome: None,
            cancellation_reason: None,
            reschedule_requested: false,
            status_changed_at: None,
        },
    };
    let (by_id, by_lead, page, queue) = tx(s, "read back", |tx| {
        Ok((
            tx.appointment(id)?,
            tx.appointment_for_lead(a.lead_id)?,
            tx.appointments_after(AppointmentId(0), 10)?,
            tx.unrouted_appointments(AppointmentId(0), 10)?,
        ))
    });
    assert_eq!(
        by_id,
        Some(expected(id, &a)),
        "every detail must read back as stored, and the lifecycle starts at scheduled"
    );
    assert_eq!(by_lead, Some(expected(id, &a)));
    assert_eq!(page, vec![expected(id, &a), expected(uid, &u)]);
    assert_eq!(
        queue,
        vec![expected(uid, &u)],
        "an unrouted appointment keeps its details too"
    );
}

/// `update_lifecycle` with the stored status and reschedule count as expected writes the
/// status, start (`appointment_date`), end (`end_time`), reschedule count, outcome,
/// cancellation reason, `reschedule_requested` and `status_changed_at`, and nothing else.
pub fn update_lifecycle_writes_every_field(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (id, a) = tx(s, "seed", |tx| seed_detailed(tx, 1));
    let before = tx(s, "read", |tx| Ok(tx.appointment(id)?)).expect("appointment exists");

    let moved = LifecycleUpdate {
        expected_status: AppointmentStatus::Scheduled,
        expected_reschedule_count: 0,
        life: Life {
            status: AppointmentStatus::Rescheduled,
            start: ts("2025-03-20T16:00:00Z"),
            end: Some(ts("2025-03-20T17:15:00Z")),
            reschedule_count: 1,
            outcome: None,
            cancellation_reason: None,
        },
        reschedule_requested: true,
        at: at(90),
    };
    tx(s, "reschedule", |tx| Ok(tx.update_lifecycle(id, &moved)?));
    let got = tx(s, "read", |tx| Ok(tx.appointment(id)?)).expect("appointment exists");
    let mut want = before.clone();
    want.appointment.appointment_date = moved.life.start;
    want.appointment.details.end_time = moved.life.end;
    want.lifecycle = AppointmentLifecycle {
        status: AppointmentStatus::Rescheduled,
        reschedule_count: 1,
        outcome: None,
        cancellation_reason: None,
        reschedule_requested: true,
        status_changed_at: Some(at(90)),
    };
    assert_eq!(
        got, want,
        "update_lifecycle writes the new life, the flag and the time, and nothing else"
    );
    assert_eq!(got.life(), moved.life, "the stored life is the one written");

    // The next change expects the written state; it may clear the end and set the outcome.
    let cancelled = LifecycleUpdate {
        expected_status: AppointmentStatus::Rescheduled,
        expected_reschedule_count: 1,
        life: Life {
            status: AppointmentStatus::Cancelled,
            start: moved.life.start,
            end: None,
            reschedule_count: 1,
            outcome: Some("customer_went_elsewhere".into()),
            cancellation_reason: Some("Chose another installer".into()),
        },
        reschedule_requested: false,
        at: at(120),
    };
    tx(s, "cancel", |tx| Ok(tx.update_lifecycle(id, &cancelled)?));
    let got = tx(s, "read", |tx| Ok(tx.appointment(id)?)).expect("appointment exists");
    assert_eq!(
        (
            got.life(),
            got.lifecycle.reschedule_requested,
            got.lifecycle.status_changed_at,
            &got.appointment.details.next_action,
            &got.appointment.assignment,
        ),
        (
            cancelled.life.clone(),
            false,
            Some(at(120)),
            &a.details.next_action,
            &a.assignment,
        ),
        "a second update replaces (and clears) every lifecycle field, keeping the rest"
    );
}

/// `update_lifecycle` is a compare-and-set: when the stored status or reschedule count is
/// not the expected one it is a `Conflict` and writes nothing (the transaction goes on and
/// commits); a missing appointment is a `Conflict`.
pub fn update_lifecycle_refuses_a_stale_expectation(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (id, a) = tx(s, "seed", |tx| seed_detailed(tx, 1));
    let first = confirm(&a, at(60));
    tx(s, "confirm", |tx| Ok(tx.update_lifecycle(id, &first)?));
    let stored = tx(s, "read", |tx| Ok(tx.appointment(id)?));

    // A concurrent writer read `scheduled` too: its write must be refused.
    let stale = LifecycleUpdate {
        life: Life {
            status: AppointmentStatus::Cancelled,
            cancellation_reason: Some("stale".into()),
            ..first.life.clone()
        },
        at: at(61),
        ..first.clone()
    };
    let r = tx(s, "stale status", |tx| Ok(tx.update_lifecycle(id, &stale)));
    expect_conflict("update_lifecycle expecting a status that is not stored", r);
    let wrong_count = LifecycleUpdate {
        expected_status: AppointmentStatus::Confirmed,
        expected_reschedule_count: 3,
        ..stale.clone()
    };
    let r = tx(s, "stale count", |tx| {
        Ok(tx.update_lifecycle(id, &wrong_count))
    });
    expect_conflict(
        "update_lifecycle expecting a reschedule count that is not stored",
        r,
    );
    assert_eq!(
        tx(s, "read", |tx| Ok(tx.appointment(id)?)),
        stored,
        "a refused update_lifecycle writes nothing"
    );
    let r = tx(s, "missing", |tx| {
        Ok(tx.update_lifecycle(AppointmentId(id.0 + 100), &first))
    });
    expect_conflict("update_lifecycle of an appointment that does not exist", r);

    // After a refusal the caller re-reads and retries in the same transaction.
    let retried = tx(s, "refused, then retried", |tx| {
        let refused = tx.update_lifecycle(id, &stale).is_err();
        tx.update_lifecycle(
            id,
            &LifecycleUpdate {
                expected_status: AppointmentStatus::Confirmed,
                ..stale.clone()
            },
        )?;
        Ok(refused)
    });
    assert!(retried, "the stale write is refused");
    let got = tx(s, "read", |tx| Ok(tx.appointment(id)?)).expect("appointment exists");
    assert_eq!(
        (got.lifecycle.status, got.lifecycle.status_changed_at),
        (AppointmentStatus::Cancelled, Some(at(61))),
        "the retried write with the current expectation is stored"
    );
}

/// `reassign_appointment` moves an appointment (routed or unrouted) to a new assignment,
/// whatever it had, and resets its forward state to pending; its lifecycle and details stay.
/// An unknown workspace or appointment is a `Conflict` that changes nothing.
pub fn reassign_resets_forward_state(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (id, a, queued) = tx(s, "seed", |tx| {
        let (id, a) = seed_detailed(tx, 1)?;
        tx.put_workspace(&workspace("roof_fl_003", Cents(15000)))?;
        tx.update_forward(
            id,
            ForwardStatus::Success,
            2,
            Some(at(30)),
            Some(r#"{"ok":true}"#),
        )?;
        tx.update_lifecycle(id, &confirm(&a, at(40)))?;
        let c = insert_contact(tx, &new_contact("provider:provider-a", &phone(2)))?;
        let l = insert_lead(tx, &new_lead(c, "provider-a", "LC-QUEUED"))?;
        let queued = tx.insert_appointment(&unrouted(l, c, "no_eligible_workspace"))?;
        Ok((id, a, queued))
    });
    let before = tx(s, "read", |tx| Ok(tx.appointment(id)?)).expect("appointment exists");
    let to_roof = Assignment::Routed {
        workspace_id: "roof_fl_003".into(),
        rule_id: None,
        method: RoutingMethod::Manual,
        matched_at: at(50),
        payment_rate: Cents(15000),
    };
    tx(s, "reassign", |tx| {
        Ok(tx.reassign_appointment(id, &to_roof)?)
    });
    let got = tx(s, "read", |tx| Ok(tx.appointment(id)?)).expect("appointment exists");
    let mut want = before.clone();
    want.appointment.assignment = to_roof.clone();
    want.forward_status = ForwardStatus::Pending;
    want.forward_attempts = 0;
    want.forwarded_at = None;
    want.forward_response = None;
    assert_eq!(
        got, want,
        "reassign replaces the assignment and resets the forward state, nothing else"
    );
    assert_eq!(got.lifecycle.status, AppointmentStatus::Confirmed);
    assert_eq!(got.appointment.details, a.details);

    // Unrouted → routed, and routed → unrouted (back to the queue).
    let to_solar = Assignment::Routed {
        workspace_id: "solar_ca_001".into(),
        rule_id: Some(1),
        method: RoutingMethod::Auto,
        matched_at: at(55),
        payment_rate: Cents(20000),
    };
    let back_to_queue = Assignment::Unrouted {
        reason: UnroutedReason::NoEligibleWorkspace,
    };
    tx(s, "reassign both ways", |tx| {
        tx.reassign_appointment(queued, &to_solar)?;
        Ok(tx.reassign_appointment(id, &back_to_queue)?)
    });
    let (q, r, queue) = tx(s, "read", |tx| {
        Ok((
            tx.appointment(queued)?,
            tx.appointment(id)?,
            tx.unrouted_appointments(AppointmentId(0), 10)?,
        ))
    });
    assert_eq!(
        q.map(|a| a.appointment.assignment),
        Some(to_solar),
        "an unrouted appointment is reassigned like a routed one"
    );
    assert_eq!(
        r.map(|a| a.appointment.assignment),
        Some(back_to_queue.clone())
    );
    assert_eq!(
        queue.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![id],
        "an appointment reassigned to unrouted is in the queue"
    );

    let stored = tx(s, "read", |tx| Ok(tx.appointment(id)?));
    let mut unknown = to_roof.clone();
    if let Assignment::Routed { workspace_id, .. } = &mut unknown {
        *workspace_id = "nobody".into();
    }
    let r = tx(s, "unknown workspace", |tx| {
        Ok(tx.reassign_appointment(id, &unknown))
    });
    expect_conflict("reassign_appointment to a workspace that does not exist", r);
    assert_eq!(
        tx(s, "read", |tx| Ok(tx.appointment(id)?)),
        stored,
        "a refused reassignment changes nothing"
    );
    let r = tx(s, "missing", |tx| {
        Ok(tx.reassign_appointment(AppointmentId(9_999), &to_roof))
    });
    expect_conflict(
        "reassign_appointment of an appointment that does not exist",
        r,
    );
}

/// [`AppointmentRepo::set_appointment_details`] replaces every detail (`None` clears) and
/// leaves the rest of the appointment alone; an unknown appointment is a `Conflict`; a
/// rolled-back write leaves the details as they were.
pub fn appointment_details_replaced(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (id, _) = tx(s, "seed", |tx| seed_detailed(tx, 1));
    let before = tx(s, "read", |tx| Ok(tx.appointment(id)?)).expect("stored");
    let new = AppointmentDetails {
        end_time: Some(ts("2025-03-18T19:00:00Z")),
        location_type: Some("video".into()),
        location_address: Some("https://cal.com/video/xyz".into()),
        cal_booking_uid: Some("bk_9".into()),
        ..AppointmentDetails::default()
    };
    tx(s, "set_appointment_details", |tx| {
        Ok(tx.set_appointment_details(id, &new)?)
    });
    let after = tx(s, "read", |tx| Ok(tx.appointment(id)?)).expect("stored");
    assert_eq!(after.appointment.details, new, "every detail is replaced");
    let mut expected = before.clone();
    expected.appointment.details = new.clone();
    assert_eq!(after, expected, "nothing else changes");
    expect_conflict(
        "set_appointment_details of an unknown appointment",
        with_tx(s, |tx| {
            Ok(tx.set_appointment_details(AppointmentId(999), &new))
        })
        .expect("transaction"),
    );
    let rolled = with_tx(s, |tx| {
        tx.set_appointment_details(id, &AppointmentDetails::default())?;
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    assert!(rolled.is_err());
    let kept = tx(s, "read", |tx| Ok(tx.appointment(id)?)).expect("stored");
    assert_eq!(
        kept.appointment.details, new,
        "a rolled-back write changes nothing"
    );
}
