//! Appointments: [`AppointmentRepo`], one per lead, forward state, the unrouted queue.

use super::*;

/// One appointment per lead; it starts pending with no attempts, `scheduled`; missing →
/// `None`.
pub fn appointments_one_per_lead(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (c, l1, l2, l3) = tx(s, "seed leads", |tx| {
        tx.put_workspace(&workspace("solar_ca_001", Cents(20000)))?;
        let c = insert_contact(tx, &new_contact("provider:provider-a", "+13178638426"))?;
        Ok((
            c,
            insert_lead(tx, &new_lead(c, "provider-a", "PA-000001"))?,
            insert_lead(tx, &new_lead(c, "provider-a", "PA-000002"))?,
            insert_lead(tx, &new_lead(c, "provider-a", "PA-000003"))?,
        ))
    });
    let a_routed = routed(l1, c, "solar_ca_001", Cents(20000));
    let a_unrouted = unrouted(l2, c, "no_rule_for_zip");
    let mut a_manual = routed(l3, c, "solar_ca_001", Cents(19999));
    a_manual.assignment = Assignment::Routed {
        workspace_id: "solar_ca_001".into(),
        rule_id: None,
        method: RoutingMethod::Manual,
        matched_at: at(30),
        payment_rate: Cents(19999),
    };
    let (id1, id2, id3) = tx(s, "insert_appointment", |tx| {
        Ok((
            tx.insert_appointment(&a_routed)?,
            tx.insert_appointment(&a_unrouted)?,
            tx.insert_appointment(&a_manual)?,
        ))
    });
    let fresh = |id, a: &NewAppointment| Appointment {
        id,
        appointment: a.clone(),
        forward_status: ForwardStatus::Pending,
        forward_attempts: 0,
        forwarded_at: None,
        forward_response: None,
        lifecycle: AppointmentLifecycle::default(),
    };
    let got = tx(s, "appointment", |tx| {
        Ok((
            tx.appointment(id1)?,
            tx.appointment(id2)?,
            tx.appointment(id3)?,
        ))
    });
    assert_eq!(
        got,
        (
            Some(fresh(id1, &a_routed)),
            Some(fresh(id2, &a_unrouted)),
            Some(fresh(id3, &a_manual))
        ),
        "appointments must read back unchanged, pending with no attempts, scheduled"
    );
    let by_lead = tx(s, "appointment_for_lead", |tx| {
        Ok((
            tx.appointment_for_lead(l2)?,
            tx.appointment_for_lead(LeadId(l3.0 + 100))?,
        ))
    });
    assert_eq!(by_lead, (Some(fresh(id2, &a_unrouted)), None));
    let missing = tx(s, "appointment", |tx| {
        Ok(tx.appointment(AppointmentId(id3.0 + 100))?)
    });
    assert_eq!(
        missing, None,
        "appointment() of a missing id must be Ok(None)"
    );

    let r = tx(s, "second appointment", |tx| {
        Ok(tx.insert_appointment(&unrouted(l1, c, "no_rule_for_product")))
    });
    expect_conflict("insert_appointment for a lead that has one", r);
    let r = tx(s, "appointment for a missing lead", |tx| {
        Ok(tx.insert_appointment(&routed(LeadId(l3.0 + 100), c, "solar_ca_001", Cents(20000))))
    });
    expect_conflict("insert_appointment for a lead that does not exist", r);
    let still = tx(s, "appointment_for_lead", |tx| {
        Ok(tx.appointment_for_lead(l1)?)
    });
    assert_eq!(
        still,
        Some(fresh(id1, &a_routed)),
        "a refused insert must not change the lead's appointment"
    );
    assert_eq!(
        tx(s, "counts", |tx| Ok(tx.reports().counts()?)).appointments,
        3
    );
}

/// `update_forward` replaces the four delivery-state fields; a missing appointment is a
/// `Conflict`.
pub fn update_forward_replaces_state(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (_, _, a) = tx(s, "seed", |tx| {
        seed_routed(tx, 1, "solar_ca_001", Cents(20000))
    });
    tx(s, "update_forward", |tx| {
        Ok(tx.update_forward(
            a,
            ForwardStatus::Success,
            2,
            Some(at(60)),
            Some(r#"{"ok":true}"#),
        )?)
    });
    let got = tx(s, "appointment", |tx| Ok(tx.appointment(a)?))
        .unwrap_or_else(|| panic!("appointment {a} vanished"));
    assert_eq!(
        (
            got.forward_status,
            got.forward_attempts,
            got.forwarded_at,
            got.forward_response.as_deref()
        ),
        (
            ForwardStatus::Success,
            2,
            Some(at(60)),
            Some(r#"{"ok":true}"#)
        ),
        "update_forward must set status, attempts, forwarded_at and response"
    );
    tx(s, "update_forward again", |tx| {
        Ok(tx.update_forward(a, ForwardStatus::Failed, 8, None, None)?)
    });
    let got = tx(s, "appointment", |tx| Ok(tx.appointment(a)?))
        .unwrap_or_else(|| panic!("appointment {a} vanished"));
    assert_eq!(
        (
            got.forward_status,
            got.forward_attempts,
            got.forwarded_at,
            got.forward_response
        ),
        (ForwardStatus::Failed, 8, None, None),
        "update_forward must replace (and clear) every delivery-state field"
    );
    let r = tx(s, "update_forward missing", |tx| {
        Ok(tx.update_forward(
            AppointmentId(a.0 + 100),
            ForwardStatus::Success,
            1,
            Some(at(60)),
            None,
        ))
    });
    expect_conflict("update_forward of an appointment that does not exist", r);
}

/// The unrouted queue lists unrouted appointments by id; `assign_appointment` routes
/// one exactly once, refuses routed ones and unknown workspaces, and rolls back.
pub fn unrouted_queue_and_assignment(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (a1, a2, routed_id) = tx(s, "seed", |tx| {
        tx.put_workspace(&workspace("solar_ca_001", Cents(20000)))?;
        let mut made = Vec::new();
        for n in 0..2 {
            let c = insert_contact(tx, &new_contact("provider:provider-a", &phone(100 + n)))?;
            let l = insert_lead(tx, &new_lead(c, "provider-a", &format!("UQ-{n}")))?;
            made.push(tx.insert_appointment(&unrouted(l, c, "no_rule_for_zip"))?);
        }
        let (_, _, r) = seed_routed(tx, 7, "solar_ca_001", Cents(20000))?;
        Ok((made[0], made[1], r))
    });
    let page = tx(s, "appointments_after", |tx| {
        Ok((
            tx.appointments_after(AppointmentId(0), 2)?,
            tx.appointments_after(a1, 10)?,
        ))
    });
    assert_eq!(
        (ids_of(&page.0), ids_of(&page.1)),
        (vec![a1, a2], vec![a2, routed_id]),
        "appointments_after pages through all appointments by id"
    );
    let queue = tx(s, "unrouted_appointments", |tx| {
        Ok(tx.unrouted_appointments(AppointmentId(0), 10)?)
    });
    assert_eq!(
        ids_of(&queue),
        vec![a1, a2],
        "the unrouted queue is by id and holds only unrouted appointments"
    );
    let paged = tx(s, "paging", |tx| {
        Ok((
            tx.unrouted_appointments(AppointmentId(0), 1)?,
            tx.unrouted_appointments(a1, 10)?,
        ))
    });
    assert_eq!(
        (ids_of(&paged.0), ids_of(&paged.1)),
        (vec![a1], vec![a2]),
        "unrouted_appointments honours its limit and pages after an id"
    );
    let assignment = Assignment::Routed {
        workspace_id: "solar_ca_001".into(),
        rule_id: None,
        method: RoutingMethod::Manual,
        matched_at: at(20),
        payment_rate: Cents(15000),
    };
    // Rolled back: still unrouted.
    let rolled = with_tx(s, |tx| {
        tx.assign_appointment(a1, &assignment)?;
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    assert!(rolled.is_err());
    let still = tx(s, "after rollback", |tx| Ok(tx.appointment(a1)?));
    assert!(
        matches!(
            still.map(|a| a.appointment.assignment),
            Some(Assignment::Unrouted { .. })
        ),
        "a rolled-back assignment must leave the appointment unrouted"
    );
    tx(
        s,
        "assign",
        |tx| Ok(tx.assign_appointment(a1, &assignment)?),
    );
    let got =
        tx(s, "read assigned", |tx| Ok(tx.appointment(a1)?)).expect("assigned appointment exists");
    assert_eq!(
        got.appointment.assignment, assignment,
        "assignment stored as given"
    );
    let left = tx(s, "queue after", |tx| {
        Ok(tx.unrouted_appointments(AppointmentId(0), 10)?)
    });
    assert_eq!(left.iter().map(|a| a.id).collect::<Vec<_>>(), vec![a2]);
    let again = with_tx(s, |tx| Ok(tx.assign_appointment(a1, &assignment)));
    expect_conflict("assigning a routed appointment", again.expect("tx"));
    let routed_again = with_tx(s, |tx| Ok(tx.assign_appointment(routed_id, &assignment)));
    expect_conflict(
        "assigning an auto-routed appointment",
        routed_again.expect("tx"),
    );
    let mut unknown = assignment.clone();
    if let Assignment::Routed { workspace_id, .. } = &mut unknown {
        *workspace_id = "nobody".into();
    }
    let missing_ws = with_tx(s, |tx| Ok(tx.assign_appointment(a2, &unknown)));
    expect_conflict("assigning to an unknown workspace", missing_ws.expect("tx"));
    let missing = with_tx(s, |tx| {
        Ok(tx.assign_appointment(AppointmentId(9_999), &assignment))
    });
    expect_conflict("assigning a missing appointment", missing.expect("tx"));
    let unrouted_assignment = Assignment::Unrouted {
        reason: UnroutedReason::NoRuleForZip,
    };
    let bad = with_tx(s, |tx| Ok(tx.assign_appointment(a2, &unrouted_assignment)));
    expect_conflict("assigning an unrouted assignment", bad.expect("tx"));
}

fn ids_of(v: &[Appointment]) -> Vec<AppointmentId> {
    v.iter().map(|a| a.id).collect()
}
