//! The storage conformance suite: the behavior every [`Store`] adapter must have.
//!
//! Each check is a public function that builds a fresh, empty store with `make`, exercises one
//! group of the contracts documented under `# Behavior` on the storage traits, and panics with
//! a message naming the check and the broken contract on the first violation. [`run_all`] runs
//! every check in [`CHECKS`]; an adapter's test suite calls it once:
//!
//! ```
//! use leadroute_core::storage::{conformance, MemoryStore, Store};
//!
//! conformance::run_all(&|| Box::new(MemoryStore::new()) as Box<dyn Store>);
//! ```
//!
//! The checks go through [`with_tx`] only, so they are black-box: they do not look at ids
//! beyond "distinct" and "returned by the insert", and they compare times that carry
//! microsecond precision (an adapter must keep at least microseconds; PostgreSQL's
//! `timestamptz` keeps exactly that).
//!
//! Fixtures are realistic: E.164 phones such as `+13178638426`, dedup scopes such as
//! `provider:provider-a`, workspaces such as `solar_ca_001` paid `Cents(20000)` per delivered
//! appointment, reason codes from the validator and the router.

use super::*;
use crate::routing::RoutingRule;
use serde_json::json;
use std::fmt::Debug;
use time::macros::datetime;
use time::Duration;

/// Builds a fresh, empty store.
pub type MakeStore<'a> = &'a dyn Fn() -> Box<dyn Store>;

/// One check: a name for messages and the function that runs it.
pub type Check = (&'static str, fn(MakeStore<'_>));

/// Every check, in the order [`run_all`] runs them.
pub const CHECKS: &[Check] = &[
    ("providers_upsert_and_missing", providers_upsert_and_missing),
    (
        "workspaces_upsert_and_missing",
        workspaces_upsert_and_missing,
    ),
    (
        "rules_upsert_order_and_workspace",
        rules_upsert_order_and_workspace,
    ),
    ("contacts_unique_dedup_key", contacts_unique_dedup_key),
    (
        "conflict_leaves_transaction_usable",
        conflict_leaves_transaction_usable,
    ),
    ("contacts_email_only", contacts_email_only),
    ("contacts_need_a_key", contacts_need_a_key),
    (
        "update_contact_replaces_fields",
        update_contact_replaces_fields,
    ),
    (
        "update_contact_keeps_uniqueness",
        update_contact_keeps_uniqueness,
    ),
    (
        "update_contact_rolls_back_with_the_transaction",
        update_contact_rolls_back_with_the_transaction,
    ),
    ("leads_round_trip", leads_round_trip),
    ("leads_duplicate_of", leads_duplicate_of),
    (
        "latest_original_lead_selection",
        latest_original_lead_selection,
    ),
    (
        "record_keys_unique_across_leads_and_rejections",
        record_keys_unique_across_leads_and_rejections,
    ),
    (
        "failed_insert_leaves_no_outcome",
        failed_insert_leaves_no_outcome,
    ),
    ("appointments_one_per_lead", appointments_one_per_lead),
    (
        "update_forward_replaces_state",
        update_forward_replaces_state,
    ),
    ("deliveries_unique", deliveries_unique),
    (
        "claim_due_deliveries_selection",
        claim_due_deliveries_selection,
    ),
    ("claim_lease_expiry", claim_lease_expiry),
    ("record_attempt_transitions", record_attempt_transitions),
    ("billing_exactly_once", billing_exactly_once),
    ("events_per_subject", events_per_subject),
    ("rollback_discards_everything", rollback_discards_everything),
    (
        "transactions_are_serializable",
        transactions_are_serializable,
    ),
    ("counts_and_breakdowns", counts_and_breakdowns),
    (
        "unrouted_queue_and_assignment",
        unrouted_queue_and_assignment,
    ),
    ("capacity_counters", capacity_counters),
    ("rule_routing_state", rule_routing_state),
    ("billing_credits_and_summary", billing_credits_and_summary),
    ("workspace_options_round_trip", workspace_options_round_trip),
    ("endpoint_health_and_deferral", endpoint_health_and_deferral),
    (
        "webhook_configs_round_trip_and_upsert",
        webhook_configs_round_trip_and_upsert,
    ),
    (
        "providers_intake_fields_round_trip",
        providers_intake_fields_round_trip,
    ),
    (
        "workspace_require_consent_round_trip",
        workspace_require_consent_round_trip,
    ),
    (
        "remember_message_once_per_scope",
        remember_message_once_per_scope,
    ),
    ("provider_usage_accumulates", provider_usage_accumulates),
    ("lead_status_history_changes", lead_status_history_changes),
    (
        "insert_lead_as_equals_insert_then_set",
        insert_lead_as_equals_insert_then_set,
    ),
    ("rejection_events_round_trip", rejection_events_round_trip),
];

/// Runs every check in [`CHECKS`], each on a fresh store from `make`.
///
/// # Panics
///
/// On the first violation, with a message naming the check and the contract it broke.
pub fn run_all(make: MakeStore<'_>) {
    for (name, check) in CHECKS {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(make)));
        if let Err(payload) = result {
            let msg = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)");
            panic!("storage conformance check `{name}` failed: {msg}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers and fixtures

/// The suite's reference time, with microsecond precision.
const T0: OffsetDateTime = datetime!(2025-03-14 15:09:26.535897 UTC);

fn at(seconds: i64) -> OffsetDateTime {
    T0 + Duration::seconds(seconds)
}

/// Runs `f` in a transaction that must commit.
#[track_caller]
fn tx<T>(store: &dyn Store, what: &str, f: impl FnMut(&dyn Tx) -> Result<T, Error>) -> T {
    match with_tx(store, f) {
        Ok(v) => v,
        Err(e) => panic!("{what}: unexpected error: {e} ({:?})", e.kind()),
    }
}

/// Asserts that `r` is a [`StorageError::Conflict`].
#[track_caller]
fn expect_conflict<T: Debug>(what: &str, r: Result<T, StorageError>) {
    match r {
        Err(e) if e.kind() == StorageErrorKind::Conflict => {}
        other => panic!("{what}: expected StorageError::Conflict, got {other:?}"),
    }
}

fn provider(id: &str) -> Provider {
    Provider {
        id: id.into(),
        name: "SunPower Leads Network".into(),
        lead_types: vec!["solar".into(), "roofing".into()],
        format: RecordFormat::Json,
        field_map: [
            ("phone", "phone_number"),
            ("zip_code", "postal"),
            ("first_name", "fname"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect(),
        rate_limit_per_hour: Some(3600),
        is_active: true,
        // sha256 of "test": the stored form of an API key, never the key.
        api_key_hash: Some(
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        ),
        allowed_webhooks: vec!["wh_solar_ca".into(), "wh_roofing_tx".into()],
        signing_secret: Some("pb_secret_589c3485e180ebd4".into()),
        signature_scheme: crate::auth::SignatureScheme::Stripe,
    }
}

fn workspace(id: &str, rate: Cents) -> Workspace {
    Workspace {
        id: id.into(),
        name: format!("Client {id}"),
        outbound_webhook_url: format!("https://hooks.example.com/leadroute/{id}"),
        webhook_active: true,
        business_type: Some("Solar".into()),
        payment_rate: rate,
        timezone: Some("America/Los_Angeles".into()),
        webhook_secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        duplicate_window_days: None,
        capacity: Default::default(),
        schedule: None,
        delivery: Default::default(),
        require_consent: false,
    }
}

fn rule(id: i64, workspace_id: &str, priority: i32) -> RoutingRule {
    RoutingRule {
        id,
        workspace_id: workspace_id.into(),
        product_types: vec!["Solar".into(), "Roofing".into()],
        zip_codes: vec!["90210".into(), "94103".into(), "92101".into()],
        priority,
        is_active: true,
        notes: Some("LA, SF and San Diego".into()),
        targeting: Default::default(),
        capacity: Default::default(),
    }
}

fn phone(n: u32) -> String {
    format!("+1317863{:04}", 8426 + n)
}

fn new_contact(scope: &str, phone_e164: &str) -> NewContact {
    NewContact {
        dedup_scope: scope.into(),
        phone_e164: Some(phone_e164.into()),
        phone_extension: Some("204".into()),
        email: Some("stephanie.ortiz@example.com".into()),
        email_key: Some("stephanie.ortiz@example.com".into()),
        first_name: Some("Stephanie".into()),
        last_name: Some("Ortiz".into()),
        zip_code: Some("46204".into()),
        created_at: T0,
    }
}

/// A contact known by email only: no phone, `email_key` set.
fn email_contact(scope: &str, email_key: &str) -> NewContact {
    NewContact {
        dedup_scope: scope.into(),
        phone_e164: None,
        phone_extension: None,
        email: Some(email_key.into()),
        email_key: Some(email_key.into()),
        first_name: Some("Jordan".into()),
        last_name: None,
        zip_code: Some("27332".into()),
        created_at: T0,
    }
}

fn new_lead(contact_id: ContactId, provider_id: &str, record_key: &str) -> NewLead {
    NewLead {
        contact_id,
        duplicate_of: None,
        provider_id: provider_id.into(),
        record_key: record_key.into(),
        external_id: Some(record_key.into()),
        product_type: "Solar".into(),
        zip_code: "90210".into(),
        appointment_date: Some(datetime!(2025-03-18 17:30:00 UTC)),
        estimated_value: Some(18_500.75),
        tcpa_consent: Some(true),
        fields: json!({
            "first_name": "Stephanie",
            "roof_age_years": 12,
            "monthly_bill": 212.4,
            "utm": {"source": "facebook", "campaign": "spring-solar"},
            "homeowner": true,
            "notes": null
        }),
        warnings: vec!["invalid_email".into()],
        raw_payload: format!(
            r#"{{"lead_id":"{record_key}","phone_number":"(317) 863-8426","postal":"90210"}}"#
        ),
        received_at: at(1),
    }
}

fn new_rejection(provider_id: &str, record_key: &str, codes: &[&str]) -> NewRejection {
    NewRejection {
        provider_id: provider_id.into(),
        record_key: record_key.into(),
        reason_codes: codes.iter().map(|c| c.to_string()).collect(),
        details: codes.iter().map(|c| format!("detail for {c}")).collect(),
        raw_payload: "phone,zip\n555-0100,00000".into(),
        received_at: at(2),
    }
}

fn routed(
    lead_id: LeadId,
    contact_id: ContactId,
    workspace_id: &str,
    rate: Cents,
) -> NewAppointment {
    NewAppointment {
        lead_id,
        contact_id,
        service_type: "Solar".into(),
        zip_code: "90210".into(),
        appointment_date: datetime!(2025-03-18 17:30:00 UTC),
        estimated_value: Some(18_500.75),
        notes: Some("Prefers afternoon; south-facing roof".into()),
        assignment: Assignment::Routed {
            workspace_id: workspace_id.into(),
            rule_id: Some(1),
            method: RoutingMethod::Auto,
            matched_at: at(3),
            payment_rate: rate,
        },
        created_at: at(3),
    }
}

fn unrouted(lead_id: LeadId, contact_id: ContactId, reason: &str) -> NewAppointment {
    NewAppointment {
        lead_id,
        contact_id,
        service_type: "Solar".into(),
        zip_code: "99501".into(),
        appointment_date: datetime!(2025-03-19 09:00:00 UTC),
        estimated_value: None,
        notes: None,
        assignment: Assignment::Unrouted {
            reason: reason.into(),
        },
        created_at: at(3),
    }
}

fn new_delivery(
    appointment_id: AppointmentId,
    workspace_id: &str,
    due: OffsetDateTime,
) -> NewDelivery {
    NewDelivery {
        appointment_id,
        workspace_id: workspace_id.into(),
        webhook_id: format!("msg_appt{appointment_id}_p5jXN8AQM9LWM0D4loKWxJek"),
        url: format!("https://hooks.example.com/leadroute/{workspace_id}"),
        payload: format!(r#"{{"appointment_id":{appointment_id},"service_type":"Solar"}}"#),
        next_attempt_at: due,
        created_at: at(3),
    }
}

fn attempt(delivery_id: DeliveryId, n: u32, status_code: Option<u16>) -> Attempt {
    Attempt {
        delivery_id,
        attempt_number: n,
        requested_at: at(10 * i64::from(n)),
        duration_ms: 183,
        status_code,
        error: if status_code.is_none() {
            Some("connection refused".into())
        } else {
            None
        },
        response_excerpt: status_code.map(|c| format!(r#"{{"status":{c}}}"#)),
    }
}

fn charge(appointment_id: AppointmentId, workspace_id: &str, amount: Cents) -> NewBillingEvent {
    NewBillingEvent {
        appointment_id,
        workspace_id: workspace_id.into(),
        kind: BillingKind::Charge,
        amount,
        created_at: at(20),
    }
}

/// A contact, a lead and a routed appointment for record `n` of `provider-a`, and the
/// workspace if missing. Returns `(contact, lead, appointment)`.
fn seed_routed(
    tx: &dyn Tx,
    n: u32,
    workspace_id: &str,
    rate: Cents,
) -> Result<(ContactId, LeadId, AppointmentId), Error> {
    if tx.workspace(workspace_id)?.is_none() {
        tx.put_workspace(&workspace(workspace_id, rate))?;
    }
    let c = tx.insert_contact(&new_contact("provider:provider-a", &phone(n)))?;
    let l = tx.insert_lead(&new_lead(c, "provider-a", &format!("PA-{n:05}")))?;
    let a = tx.insert_appointment(&routed(l, c, workspace_id, rate))?;
    Ok((c, l, a))
}

/// [`seed_routed`] plus a delivery due at `due`. Returns the delivery id.
fn seed_delivery(tx: &dyn Tx, n: u32, due: OffsetDateTime) -> Result<DeliveryId, Error> {
    let (_, _, a) = seed_routed(tx, n, "solar_ca_001", Cents(20000))?;
    Ok(tx.enqueue_delivery(&new_delivery(a, "solar_ca_001", due))?)
}

fn ids(ds: &[Delivery]) -> Vec<DeliveryId> {
    ds.iter().map(|d| d.id).collect()
}

fn claim(
    store: &dyn Store,
    now: OffsetDateTime,
    limit: usize,
    lease: OffsetDateTime,
) -> Vec<Delivery> {
    tx(store, "claim_due_deliveries", |tx| {
        Ok(tx.claim_due_deliveries(now, limit, lease)?)
    })
}

// ---------------------------------------------------------------------------------------------
// Checks

/// `put_provider` upserts by id replacing every field; `provider` of a missing id is `None`;
/// `providers` is ordered by id.
pub fn providers_upsert_and_missing(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let missing = tx(s, "provider", |tx| Ok(tx.provider("provider-a")?));
    assert_eq!(missing, None, "provider() of a missing id must be Ok(None)");
    assert!(tx(s, "providers", |tx| Ok(tx.providers()?)).is_empty());

    let b = provider("provider-b");
    let mut a = provider("provider-a");
    tx(s, "put_provider", |tx| {
        tx.put_provider(&b)?;
        tx.put_provider(&a)?;
        Ok(())
    });
    assert_eq!(
        tx(s, "provider", |tx| Ok(tx.provider("provider-a")?)),
        Some(a.clone())
    );
    assert_eq!(
        tx(s, "providers", |tx| Ok(tx.providers()?)),
        vec![a.clone(), b.clone()],
        "providers() must return every provider ordered by id"
    );

    a.name = "Renamed Lead Co".into();
    a.lead_types = vec!["hvac".into()];
    a.format = RecordFormat::Csv;
    a.field_map.clear();
    a.rate_limit_per_hour = None;
    a.is_active = false;
    a.api_key_hash = None;
    a.allowed_webhooks.clear();
    a.signing_secret = None;
    a.signature_scheme = crate::auth::SignatureScheme::GitHub;
    tx(s, "put_provider (update)", |tx| Ok(tx.put_provider(&a)?));
    assert_eq!(
        tx(s, "provider", |tx| Ok(tx.provider("provider-a")?)),
        Some(a.clone()),
        "put_provider must replace every field of an existing provider"
    );
    assert_eq!(tx(s, "providers", |tx| Ok(tx.providers()?)), vec![a, b]);
}

/// `put_workspace` upserts by id replacing every field; missing ids are `None`; `workspaces`
/// is ordered by id.
pub fn workspaces_upsert_and_missing(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    assert_eq!(
        tx(s, "workspace", |tx| Ok(tx.workspace("solar_ca_001")?)),
        None
    );
    let mut solar = Workspace {
        duplicate_window_days: Some(45),
        ..workspace("solar_ca_001", Cents(20000))
    };
    // Zero (lead-level dedup off) is a value, not the same as None (the global window).
    let hvac = Workspace {
        duplicate_window_days: Some(0),
        ..workspace("hvac_tx_002", Cents(7550))
    };
    tx(s, "put_workspace", |tx| {
        tx.put_workspace(&solar)?;
        tx.put_workspace(&hvac)?;
        Ok(())
    });
    assert_eq!(
        tx(s, "workspace", |tx| Ok(tx.workspace("solar_ca_001")?)),
        Some(solar.clone()),
        "a stored workspace must read back unchanged (payment rate in cents, duplicate window)"
    );
    assert_eq!(
        tx(s, "workspaces", |tx| Ok(tx.workspaces()?)),
        vec![hvac.clone(), solar.clone()],
        "workspaces() must be ordered by id"
    );
    solar.name = "Golden State Solar".into();
    solar.outbound_webhook_url = "https://crm.goldenstate.example/hooks/appointments".into();
    solar.webhook_active = false;
    solar.business_type = None;
    solar.payment_rate = Cents(22550);
    solar.timezone = None;
    solar.webhook_secret = None;
    solar.duplicate_window_days = None;
    solar.require_consent = true;
    tx(s, "put_workspace (update)", |tx| {
        Ok(tx.put_workspace(&solar)?)
    });
    assert_eq!(
        tx(s, "workspace", |tx| Ok(tx.workspace("solar_ca_001")?)),
        Some(solar.clone()),
        "put_workspace must replace every field, including clearing optional ones"
    );
    assert_eq!(
        tx(s, "workspaces", |tx| Ok(tx.workspaces()?)),
        vec![hvac, solar],
        "workspaces() must read back every field, duplicate_window_days Some(0) included"
    );
}

/// `put_rule` upserts by id, needs its workspace (`Conflict` otherwise); `rules` returns
/// active and inactive rules ordered by id.
pub fn rules_upsert_order_and_workspace(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let orphan = rule(1, "solar_ca_001", 10);
    let r = tx(s, "put_rule", |tx| Ok(tx.put_rule(&orphan)));
    expect_conflict("put_rule with a missing workspace", r);
    assert!(tx(s, "rules", |tx| Ok(tx.rules()?)).is_empty());

    let r7 = rule(7, "solar_ca_001", 10);
    let r3 = rule(3, "solar_ca_001", 5);
    let mut r5 = rule(5, "solar_ca_001", 1);
    r5.is_active = false;
    r5.notes = None;
    // Targeting round-trips (the SQLite adapter stores it as JSON).
    r5.targeting.states = vec!["NV".into()];
    r5.targeting.radius = Some(crate::routing::Radius {
        zip: "22737".into(),
        miles: 150.5,
    });
    r5.targeting.excluded_zips = vec!["89101".into()];
    r5.targeting.weight = 3;
    tx(s, "put rules", |tx| {
        tx.put_workspace(&workspace("solar_ca_001", Cents(20000)))?;
        tx.put_workspace(&workspace("hvac_tx_002", Cents(7550)))?;
        tx.put_rule(&r7)?;
        tx.put_rule(&r3)?;
        tx.put_rule(&r5)?;
        Ok(())
    });
    assert_eq!(
        tx(s, "rules", |tx| Ok(tx.rules()?)),
        vec![r3.clone(), r5.clone(), r7.clone()],
        "rules() must return all rules, inactive ones too, ordered by id"
    );
    let mut r7b = r7.clone();
    r7b.workspace_id = "hvac_tx_002".into();
    r7b.priority = 2;
    r7b.zip_codes = vec!["73301".into()];
    r7b.product_types = vec!["HVAC".into()];
    tx(s, "put_rule (update)", |tx| Ok(tx.put_rule(&r7b)?));
    assert_eq!(
        tx(s, "rules", |tx| Ok(tx.rules()?)),
        vec![r3.clone(), r5.clone(), r7b.clone()],
        "put_rule must replace the rule with the same id"
    );
    let mut bad = r7b.clone();
    bad.workspace_id = "kitchen_va_000".into();
    let r = tx(s, "put_rule", |tx| Ok(tx.put_rule(&bad)));
    expect_conflict("put_rule moving a rule to a missing workspace", r);
    assert_eq!(
        tx(s, "rules", |tx| Ok(tx.rules()?)),
        vec![r3, r5, r7b],
        "a refused put_rule must leave the stored rule unchanged"
    );
}

/// One contact per `(dedup_scope, phone_e164)`; lookups by key and id; missing → `None`.
pub fn contacts_unique_dedup_key(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let none = tx(s, "contact_by_phone", |tx| {
        Ok((
            tx.contact_by_phone("provider:provider-a", "+13178638426")?,
            tx.contact(1)?,
            tx.contact(0)?,
            tx.contact(-5)?,
        ))
    });
    assert_eq!(
        none,
        (None, None, None, None),
        "lookups on an empty store must be Ok(None)"
    );

    let c = new_contact("provider:provider-a", "+13178638426");
    let id = tx(s, "insert_contact", |tx| Ok(tx.insert_contact(&c)?));
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
        Ok(tx.insert_contact(&dup))
    });
    expect_conflict(
        "insert_contact with an existing (dedup_scope, phone_e164)",
        r,
    );
    let r = tx(
        s,
        "insert duplicate contact in the same transaction",
        |tx| {
            let other = tx.insert_contact(&new_contact("provider:provider-b", "+12125550123"))?;
            let again = tx.insert_contact(&new_contact("provider:provider-b", "+12125550123"));
            Ok((other, again))
        },
    );
    expect_conflict("insert_contact twice with one key in one transaction", r.1);

    let (global, other_phone) = tx(s, "insert contacts with other keys", |tx| {
        Ok((
            tx.insert_contact(&new_contact("global", "+13178638426"))?,
            tx.insert_contact(&new_contact("provider:provider-a", "+13178638427"))?,
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

/// A `Conflict` inside a transaction does not poison it: later writes in the same
/// transaction still commit (the engine resolves contact races this way).
pub fn conflict_leaves_transaction_usable(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let c = new_contact("provider:provider-a", "+13178638426");
    tx(s, "insert_contact", |tx| Ok(tx.insert_contact(&c)?));
    let later = tx(s, "conflict then write", |tx| {
        let dup = tx.insert_contact(&c);
        let found = tx.contact_by_phone(&c.dedup_scope, "+13178638426")?;
        let other = tx.insert_contact(&new_contact("provider:provider-a", "+14155550132"))?;
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
    let n = tx(s, "counts", |tx| Ok(tx.counts()?)).contacts;
    assert_eq!(n, 2, "exactly the two distinct contacts must be stored");
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
        Ok(tx.insert_contact(&e)?)
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
        Ok(tx.insert_contact(&again))
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
            tx.insert_contact(&with_phone("+13178638426"))?,
            tx.insert_contact(&with_phone("+19198233590"))?,
            tx.insert_contact(&email_contact("global", key))?,
            tx.insert_contact(&email_contact(scope, "sh@example.org"))?,
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
        let first = tx.insert_contact(&NewContact {
            email: Some(k2.into()),
            email_key: Some(k2.into()),
            ..new_contact(scope, "+14155550132")
        })?;
        let second = tx.insert_contact(&email_contact(scope, k2))?;
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
    assert_eq!(tx(s, "counts", |tx| Ok(tx.counts()?)).contacts, 7);
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
        let r = tx.insert_contact(&keyless);
        let later = tx.insert_contact(&email_contact("provider:provider-a", "a@example.com"))?;
        Ok((r, later))
    });
    expect_conflict("insert_contact with neither a phone nor an email key", r);
    let r = tx(s, "update a contact to neither key", |tx| {
        Ok(tx.update_contact(later, &keyless))
    });
    expect_conflict("update_contact to neither a phone nor an email key", r);
    let (n, stored) = tx(s, "read back", |tx| {
        Ok((tx.counts()?.contacts, tx.contact(later)?))
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
    let id = tx(s, "insert", |tx| Ok(tx.insert_contact(&e)?));
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
        |tx| Ok(tx.insert_contact(&email_contact(scope, key))?),
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
            tx.insert_contact(&new_contact(scope, "+13178638426"))?,
            tx.insert_contact(&new_contact(scope, "+19198233590"))?,
            tx.insert_contact(&email_contact(scope, "one@example.com"))?,
            tx.insert_contact(&email_contact(scope, "two@example.com"))?,
            tx.insert_contact(&new_contact("global", "+14155550132"))?,
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
        let r5 = tx.update_contact(g + 1000, &new_contact(scope, "+12125550123"));
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
            tx.counts()?.contacts,
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
        Ok(tx.insert_contact(&email_contact(scope, key))?)
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
            tx.insert_contact(&email_contact(scope, key)),
            tx.insert_contact(&new_contact(scope, "+13178638426"))?,
        ))
    });
    expect_conflict(
        "the email-only key of a contact whose merge was rolled back still holds",
        dup,
    );
    assert_ne!(free, e, "the rolled-back phone is free for another contact");
}

/// A lead reads back exactly as stored; `stored_record` finds it; a missing contact is a
/// `Conflict`; a missing lead is `None`.
pub fn leads_round_trip(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let c = tx(s, "insert_contact", |tx| {
        Ok(tx.insert_contact(&new_contact("provider:provider-a", "+13178638426"))?)
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
        Ok((tx.insert_lead(&full)?, tx.insert_lead(&bare)?))
    });
    assert_ne!(l1, l2, "lead ids must be distinct");
    let (r1, r2, missing) = tx(s, "lead", |tx| {
        Ok((tx.lead(l1)?, tx.lead(l2)?, tx.lead(l2 + 1000)?))
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
        Ok(tx.insert_lead(&new_lead(c + 1000, "provider-a", "PA-000124")))
    });
    expect_conflict("insert_lead for a contact that does not exist", r);
}

/// A lead-level duplicate links an existing original lead: it reads back with `duplicate_of`;
/// a missing original is a `Conflict` that stores nothing.
pub fn leads_duplicate_of(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (c, original) = tx(s, "seed", |tx| {
        let c = tx.insert_contact(&new_contact("provider:provider-a", "+13178638426"))?;
        Ok((c, tx.insert_lead(&new_lead(c, "provider-a", "PA-000001"))?))
    });
    let dup = NewLead {
        duplicate_of: Some(original),
        received_at: at(60),
        ..new_lead(c, "provider-a", "PA-000002")
    };
    let d = tx(s, "insert duplicate", |tx| Ok(tx.insert_lead(&dup)?));
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
        duplicate_of: Some(d + 1000),
        ..new_lead(c, "provider-a", "PA-000003")
    };
    let (r, stored) = tx(s, "duplicate of a missing lead", |tx| {
        let r = tx.insert_lead(&orphan);
        Ok((r, tx.stored_record("provider-a", "PA-000003")?))
    });
    expect_conflict("insert_lead with duplicate_of naming a missing lead", r);
    assert_eq!(
        stored, None,
        "a refused duplicate must not claim its record key"
    );
    let fixed = tx(s, "the same record with an existing original", |tx| {
        Ok(tx.insert_lead(&NewLead {
            duplicate_of: Some(original),
            ..orphan.clone()
        })?)
    });
    let n = tx(s, "counts", |tx| Ok(tx.counts()?));
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
            tx.insert_contact(&new_contact("provider:provider-a", "+13178638426"))?,
            tx.insert_contact(&new_contact("provider:provider-a", "+19198233590"))?,
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
        tx(s, "insert_lead", |tx| Ok(tx.insert_lead(&lead)?))
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
            latest(c + c2 + 1000, "Solar"),
        ),
        (Some(l4), Some(r), None, None, None),
        "other products (matched exactly), other contacts and missing contacts are ignored"
    );
    // Times are compared as times, to the microsecond.
    let fine = NewLead {
        received_at: at(30) + Duration::microseconds(1),
        ..new_lead(c, "provider-a", "PA-FINE")
    };
    let f = tx(s, "insert_lead", |tx| Ok(tx.insert_lead(&fine)?));
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
        Ok(tx.insert_contact(&new_contact("provider:provider-a", "+13178638426"))?)
    });
    let (rej, lead) = tx(s, "insert outcomes", |tx| {
        Ok((
            tx.insert_rejection(&new_rejection(
                "provider-a",
                "PA-000001",
                &["invalid_phone"],
            ))?,
            tx.insert_lead(&new_lead(c, "provider-a", "PA-000002"))?,
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
        Ok(tx.insert_lead(&new_lead(c, "provider-a", "PA-000001")))
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
        Ok(tx.insert_lead(&new_lead(c, "provider-a", "PA-000002")))
    });
    expect_conflict("insert_lead with the record key of a stored lead", r);

    // The key is per provider: the same key from another provider is a new record.
    let (l2, r2) = tx(s, "other provider", |tx| {
        Ok((
            tx.insert_lead(&new_lead(c, "provider-b", "PA-000001"))?,
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
    let n = tx(s, "counts", |tx| Ok(tx.counts()?));
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
        let r = tx.insert_lead(&new_lead(4242, "provider-a", "PA-000777"));
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
    let n = tx(s, "counts", |tx| Ok(tx.counts()?));
    assert_eq!(
        (n.leads, n.rejections),
        (0, 1),
        "the refused lead must not be stored"
    );
}

/// One appointment per lead; it starts pending with no attempts; missing → `None`.
pub fn appointments_one_per_lead(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (c, l1, l2, l3) = tx(s, "seed leads", |tx| {
        tx.put_workspace(&workspace("solar_ca_001", Cents(20000)))?;
        let c = tx.insert_contact(&new_contact("provider:provider-a", "+13178638426"))?;
        Ok((
            c,
            tx.insert_lead(&new_lead(c, "provider-a", "PA-000001"))?,
            tx.insert_lead(&new_lead(c, "provider-a", "PA-000002"))?,
            tx.insert_lead(&new_lead(c, "provider-a", "PA-000003"))?,
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
        "appointments must read back unchanged, pending with no attempts"
    );
    let by_lead = tx(s, "appointment_for_lead", |tx| {
        Ok((
            tx.appointment_for_lead(l2)?,
            tx.appointment_for_lead(l3 + 100)?,
        ))
    });
    assert_eq!(by_lead, (Some(fresh(id2, &a_unrouted)), None));
    let missing = tx(s, "appointment", |tx| Ok(tx.appointment(id3 + 100)?));
    assert_eq!(
        missing, None,
        "appointment() of a missing id must be Ok(None)"
    );

    let r = tx(s, "second appointment", |tx| {
        Ok(tx.insert_appointment(&unrouted(l1, c, "no_rule_for_product")))
    });
    expect_conflict("insert_appointment for a lead that has one", r);
    let r = tx(s, "appointment for a missing lead", |tx| {
        Ok(tx.insert_appointment(&routed(l3 + 100, c, "solar_ca_001", Cents(20000))))
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
    assert_eq!(tx(s, "counts", |tx| Ok(tx.counts()?)).appointments, 3);
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
        Ok(tx.update_forward(a + 100, ForwardStatus::Success, 1, Some(at(60)), None))
    });
    expect_conflict("update_forward of an appointment that does not exist", r);
}

/// One delivery per appointment, unique `webhook_id`; it starts pending, unleased, with no
/// attempts; missing → `None`.
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
        }),
        "a delivery must read back as enqueued: pending, no attempts, no lease"
    );
    let mut again = new_delivery(a1, "solar_ca_001", at(5));
    again.webhook_id = "msg_2mL4Hq0bXAtwbE0nBDUWxVZXYr1".into();
    let r = tx(s, "second delivery", |tx| Ok(tx.enqueue_delivery(&again)));
    expect_conflict("enqueue_delivery for an appointment that has one", r);
    let mut same_id = new_delivery(a2, "solar_ca_001", at(5));
    same_id.webhook_id = nd.webhook_id.clone();
    let r = tx(
        s,
        "webhook id taken",
        |tx| Ok(tx.enqueue_delivery(&same_id)),
    );
    expect_conflict("enqueue_delivery with a webhook_id that is taken", r);
    let r = tx(s, "missing appointment", |tx| {
        Ok(tx.enqueue_delivery(&new_delivery(a2 + 100, "solar_ca_001", at(5))))
    });
    expect_conflict("enqueue_delivery for an appointment that does not exist", r);
    let (missing, no_attempts) = tx(s, "delivery", |tx| {
        Ok((tx.delivery(d + 100)?, tx.attempts(d)?))
    });
    assert_eq!(missing, None, "delivery() of a missing id must be Ok(None)");
    assert!(no_attempts.is_empty(), "a new delivery has no attempts");
    let d2 = tx(s, "enqueue for a2", |tx| {
        Ok(tx.enqueue_delivery(&new_delivery(a2, "solar_ca_001", at(5)))?)
    });
    assert_ne!(d, d2);
    assert_eq!(tx(s, "counts", |tx| Ok(tx.counts()?)).deliveries, 2);
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
                billing: charge(1, "solar_ca_001", Cents(20000)),
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
                billing: charge(1, "solar_ca_001", Cents(20000)),
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
                billing: charge(1, "solar_ca_001", Cents(20000)),
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
        tx(s, "counts", |tx| Ok(tx.counts()?)).billing_events,
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
        Ok(tx.record_attempt(&attempt(d2 + 100, 1, Some(200)), &AttemptResult::Failed))
    });
    expect_conflict("record_attempt for a delivery that does not exist", r);
    let n = tx(s, "counts", |tx| Ok(tx.counts()?));
    assert_eq!(
        (n.attempts, n.deliveries_succeeded, n.deliveries_failed),
        (3, 1, 1),
        "refused attempts must not be stored"
    );
}

/// `insert_billing_event` writes once per `(appointment_id, kind)` and returns `None` after.
pub fn billing_exactly_once(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (a1, a2) = tx(s, "seed", |tx| {
        Ok((
            seed_routed(tx, 1, "solar_ca_001", Cents(20000))?.2,
            seed_routed(tx, 2, "hvac_tx_002", Cents(7550))?.2,
        ))
    });
    let (first, second) = tx(s, "charge twice in one transaction", |tx| {
        Ok((
            tx.insert_billing_event(&charge(a1, "solar_ca_001", Cents(20000)))?,
            tx.insert_billing_event(&charge(a1, "solar_ca_001", Cents(20000)))?,
        ))
    });
    assert!(
        first.is_some(),
        "the first charge of an appointment must be written"
    );
    assert_eq!(
        second, None,
        "a second charge in the same transaction must return None"
    );
    let third = tx(s, "charge again later", |tx| {
        Ok(tx.insert_billing_event(&charge(a1, "solar_ca_001", Cents(99999)))?)
    });
    assert_eq!(
        third, None,
        "a charge for an already charged appointment must return None"
    );
    let other = tx(s, "charge another appointment", |tx| {
        Ok(tx.insert_billing_event(&charge(a2, "hvac_tx_002", Cents(7550)))?)
    });
    assert!(
        other.is_some() && other != first,
        "another appointment gets its own charge"
    );
    let n = tx(s, "counts", |tx| Ok(tx.counts()?));
    assert_eq!(
        (n.billing_events, n.billed),
        (2, Cents(27550)),
        "exactly one charge per appointment, at the first amount"
    );
}

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
        event_type: event_type.into(),
        detail,
        created_at: at(secs),
    };
    let c1 = ev(
        EventSubject::Contact,
        c,
        "created",
        1,
        json!({"provider_id": "provider-a"}),
    );
    let c2 = ev(
        EventSubject::Contact,
        c,
        "merged",
        2,
        json!({"duplicate_of": null, "phones": ["+13178638426"]}),
    );
    let l1 = ev(
        EventSubject::Lead,
        l,
        "received",
        1,
        json!({"record_key": "PA-00001", "warnings": ["invalid_email"]}),
    );
    let a1 = ev(
        EventSubject::Appointment,
        a,
        "routed",
        3,
        json!({"rule_id": 1, "skipped": []}),
    );
    let a2 = ev(
        EventSubject::Appointment,
        a,
        "delivered",
        4,
        json!({"status": 200, "attempt": 1}),
    );
    let empty = tx(s, "events", |tx| Ok(tx.events(EventSubject::Contact, c)?));
    assert!(empty.is_empty(), "a subject without events has none");
    tx(s, "append_event", |tx| {
        for e in [&c1, &l1, &a1, &c2, &a2] {
            tx.append_event(e)?;
        }
        Ok(())
    });
    let got = tx(s, "events", |tx| {
        Ok((
            tx.events(EventSubject::Contact, c)?,
            tx.events(EventSubject::Lead, l)?,
            tx.events(EventSubject::Appointment, a)?,
            tx.events(EventSubject::Lead, l + 100)?,
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
                0..=5 => (EventSubject::Lead, l),
                6..=8 => (EventSubject::Contact, c),
                _ => (EventSubject::Appointment, a),
            };
            ev(subject, id, &format!("e{i}"), 10 + i, json!({"i": i}))
        })
        .collect();
    tx(s, "append_events", |tx| Ok(tx.append_events(&many)?));
    let (lead_events, contact_events, appointment_events) = tx(s, "events", |tx| {
        Ok((
            tx.events(EventSubject::Lead, l)?,
            tx.events(EventSubject::Contact, c)?,
            tx.events(EventSubject::Appointment, a)?,
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
    let before = tx(s, "counts", |tx| Ok(tx.counts()?));
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
        tx.insert_contact(&email_contact("provider:provider-a", "rolled@example.com"))?;
        tx.insert_lead(&NewLead {
            duplicate_of: Some(l1),
            ..new_lead(c1, "provider-a", "PA-DUP")
        })?;
        tx.insert_rejection(&new_rejection("provider-a", "PA-REJECT", &["invalid_zip"]))?;
        tx.enqueue_delivery(&new_delivery(a2, "solar_ca_001", at(0)))?;
        let claimed = tx.claim_due_deliveries(at(1), 10, at(300))?;
        if claimed.is_empty() {
            return Err(Error::Internal("conformance: nothing to claim".into()));
        }
        tx.record_attempt(
            &attempt(d1, 1, Some(200)),
            &AttemptResult::Delivered {
                billing: charge(a1, "solar_ca_001", Cents(20000)),
            },
        )?;
        tx.update_forward(a1, ForwardStatus::Success, 1, Some(at(11)), Some("ok"))?;
        tx.insert_billing_event(&charge(a1, "solar_ca_001", Cents(20000)))?;
        tx.append_event(&NewEvent {
            subject: EventSubject::Contact,
            subject_id: c2,
            event_type: "created".into(),
            detail: json!({}),
            created_at: at(1),
        })?;
        tx.append_event(&NewEvent {
            subject: EventSubject::Lead,
            subject_id: l2,
            event_type: "received".into(),
            detail: json!({}),
            created_at: at(1),
        })?;
        tx.append_event(&NewEvent {
            subject: EventSubject::Appointment,
            subject_id: a1,
            event_type: "delivered".into(),
            detail: json!({}),
            created_at: at(1),
        })?;
        Err::<(), _>(Error::Internal("conformance: deliberate failure".into()))
    });
    match result {
        Err(Error::Internal(m)) if m == "conformance: deliberate failure" => {}
        other => panic!("transaction must return the closure's error unchanged, got {other:?}"),
    }

    let after = tx(s, "counts", |tx| Ok(tx.counts()?));
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
            tx.events(EventSubject::Contact, c1 + 1)?,
            tx.events(EventSubject::Appointment, a1)?,
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
                            tx.insert_contact(&c)?;
                        }
                        let own = new_contact("provider:provider-a", &phone(1 + t * ROUNDS + r));
                        tx.insert_contact(&own)?;
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
        tx(s, "counts", |tx| Ok(tx.counts()?)).contacts,
        u64::from(1 + THREADS * ROUNDS),
        "exactly one shared contact plus one per transaction"
    );
}

/// `counts`, `rejection_counts`, `routed_counts` and `unrouted_counts` over a known store.
pub fn counts_and_breakdowns(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let empty = tx(s, "counts", |tx| {
        Ok((
            tx.counts()?,
            tx.rejection_counts()?,
            tx.routed_counts()?,
            tx.unrouted_counts()?,
        ))
    });
    assert_eq!(
        empty,
        (StoreCounts::default(), vec![], vec![], vec![]),
        "an empty store counts zero"
    );

    tx(s, "seed", |tx| {
        tx.put_workspace(&workspace("solar_ca_001", Cents(20000)))?;
        tx.put_workspace(&workspace("hvac_tx_002", Cents(7550)))?;
        tx.put_workspace(&workspace("roof_fl_003", Cents(15000)))?;
        let mut contacts = Vec::new();
        for n in 0..3 {
            contacts.push(tx.insert_contact(&new_contact("provider:provider-a", &phone(n)))?);
        }
        let plan: [(&str, Option<(&str, Cents)>); 7] = [
            ("solar", Some(("solar_ca_001", Cents(20000)))),
            ("hvac", Some(("hvac_tx_002", Cents(7550)))),
            ("solar", Some(("solar_ca_001", Cents(20000)))),
            ("roof", Some(("roof_fl_003", Cents(15000)))),
            ("hvac", Some(("hvac_tx_002", Cents(7550)))),
            ("no_rule_for_zip", None),
            ("no_eligible_workspace", None),
        ];
        let mut deliveries = Vec::new();
        for (i, (tag, target)) in plan.iter().enumerate() {
            let c = contacts[i % contacts.len()];
            let l = tx.insert_lead(&new_lead(c, "provider-a", &format!("PA-{i:05}")))?;
            match target {
                Some((ws, rate)) => {
                    let a = tx.insert_appointment(&routed(l, c, ws, *rate))?;
                    let d = tx.enqueue_delivery(&new_delivery(a, ws, at(0)))?;
                    deliveries.push((d, a, *ws, *rate));
                }
                None => {
                    tx.insert_appointment(&unrouted(l, c, tag))?;
                }
            }
        }
        tx.insert_rejection(&new_rejection("provider-a", "R1", &["invalid_phone"]))?;
        tx.insert_rejection(&new_rejection(
            "provider-a",
            "R2",
            &["unknown_zip", "invalid_phone"],
        ))?;
        tx.insert_rejection(&new_rejection(
            "provider-b",
            "R1",
            &["lead_type_not_allowed"],
        ))?;
        // Two delivered and charged, one failed, one retrying, one untouched.
        for &(d, a, ws, rate) in &deliveries[..2] {
            let billing = charge(a, ws, rate);
            tx.record_attempt(
                &attempt(d, 1, Some(200)),
                &AttemptResult::Delivered {
                    billing: billing.clone(),
                },
            )?;
            tx.insert_billing_event(&billing)?;
        }
        tx.record_attempt(
            &attempt(deliveries[2].0, 1, Some(410)),
            &AttemptResult::Failed,
        )?;
        tx.record_attempt(
            &attempt(deliveries[3].0, 1, None),
            &AttemptResult::Retry {
                next_attempt_at: at(600),
            },
        )?;
        Ok(())
    });
    let got = tx(s, "counts", |tx| {
        Ok((
            tx.counts()?,
            tx.rejection_counts()?,
            tx.routed_counts()?,
            tx.unrouted_counts()?,
        ))
    });
    let expected_counts = StoreCounts {
        contacts: 3,
        leads: 7,
        rejections: 3,
        appointments: 7,
        appointments_routed: 5,
        appointments_unrouted: 2,
        deliveries: 5,
        deliveries_succeeded: 2,
        deliveries_failed: 1,
        attempts: 4,
        billing_events: 2,
        billed: Cents(27550),
    };
    assert_eq!(
        got.0, expected_counts,
        "counts() must match the rows stored"
    );
    let owned = |v: &[(&str, u64)]| {
        v.iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        got.1,
        owned(&[
            ("invalid_phone", 2),
            ("lead_type_not_allowed", 1),
            ("unknown_zip", 1)
        ]),
        "rejection_counts() counts each reason of each rejection, ordered by code"
    );
    assert_eq!(
        got.2,
        owned(&[("hvac_tx_002", 2), ("solar_ca_001", 2), ("roof_fl_003", 1)]),
        "routed_counts() is ordered by count descending, then workspace id"
    );
    assert_eq!(
        got.3,
        owned(&[("no_eligible_workspace", 1), ("no_rule_for_zip", 1)]),
        "unrouted_counts() is ordered by reason code"
    );
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
            let c = tx.insert_contact(&new_contact("provider:provider-a", &phone(100 + n)))?;
            let l = tx.insert_lead(&new_lead(c, "provider-a", &format!("UQ-{n}")))?;
            made.push(tx.insert_appointment(&unrouted(l, c, "no_rule_for_zip"))?);
        }
        let (_, _, r) = seed_routed(tx, 7, "solar_ca_001", Cents(20000))?;
        Ok((made[0], made[1], r))
    });
    let page = tx(s, "appointments_after", |tx| {
        Ok((tx.appointments_after(0, 2)?, tx.appointments_after(a1, 10)?))
    });
    assert_eq!(
        (ids_of(&page.0), ids_of(&page.1)),
        (vec![a1, a2], vec![a2, routed_id]),
        "appointments_after pages through all appointments by id"
    );
    let queue = tx(s, "unrouted_appointments", |tx| {
        Ok(tx.unrouted_appointments(0, 10)?)
    });
    assert_eq!(
        ids_of(&queue),
        vec![a1, a2],
        "the unrouted queue is by id and holds only unrouted appointments"
    );
    let paged = tx(s, "paging", |tx| {
        Ok((
            tx.unrouted_appointments(0, 1)?,
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
    let left = tx(s, "queue after", |tx| Ok(tx.unrouted_appointments(0, 10)?));
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
    let missing = with_tx(s, |tx| Ok(tx.assign_appointment(9_999, &assignment)));
    expect_conflict("assigning a missing appointment", missing.expect("tx"));
    let unrouted_assignment = Assignment::Unrouted { reason: "x".into() };
    let bad = with_tx(s, |tx| Ok(tx.assign_appointment(a2, &unrouted_assignment)));
    expect_conflict("assigning an unrouted assignment", bad.expect("tx"));
}

fn ids_of(v: &[Appointment]) -> Vec<AppointmentId> {
    v.iter().map(|a| a.id).collect()
}

/// Counters start at zero, add (also negative deltas), are per key, and roll back.
pub fn capacity_counters(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let k = "workspace:solar_ca_001:day:2025-03-14T07:00:00Z";
    assert_eq!(
        tx(s, "empty", |tx| Ok(tx.counter(k)?)),
        (0, Cents(0)),
        "a missing counter reads as zero"
    );
    tx(s, "add", |tx| {
        tx.add_to_counter(k, 1, Cents(20000))?;
        tx.add_to_counter(k, 2, Cents(500))?;
        Ok(tx.add_to_counter("rule:1:hour:2025-03-14T15:00:00Z", 1, Cents(0))?)
    });
    assert_eq!(tx(s, "read", |tx| Ok(tx.counter(k)?)), (3, Cents(20500)));
    tx(s, "give back", |tx| {
        Ok(tx.add_to_counter(k, -1, Cents(-20000))?)
    });
    assert_eq!(tx(s, "read", |tx| Ok(tx.counter(k)?)), (2, Cents(500)));
    let rolled = with_tx(s, |tx| {
        tx.add_to_counter(k, 5, Cents(1))?;
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    assert!(rolled.is_err());
    assert_eq!(
        tx(s, "after rollback", |tx| Ok(tx.counter(k)?)),
        (2, Cents(500)),
        "a rolled-back increment must not count"
    );
    assert_eq!(
        tx(s, "other key", |tx| Ok(
            tx.counter("rule:1:hour:2025-03-14T15:00:00Z")?
        )),
        (1, Cents(0))
    );
}

/// Rule routing state defaults to zero / never, upserts, and rolls back.
pub fn rule_routing_state(make: MakeStore<'_>) {
    use crate::storage::RuleRoutingState;
    let store = make();
    let s = &*store;
    assert_eq!(
        tx(s, "default", |tx| Ok(tx.rule_routing_state(7)?)),
        RuleRoutingState::default()
    );
    let st = RuleRoutingState {
        current_weight: -3,
        last_routed_at: Some(at(30)),
    };
    tx(s, "put", |tx| Ok(tx.put_rule_routing_state(7, &st)?));
    assert_eq!(tx(s, "get", |tx| Ok(tx.rule_routing_state(7)?)), st);
    let st2 = RuleRoutingState {
        current_weight: 4,
        last_routed_at: None,
    };
    let rolled = with_tx(s, |tx| {
        tx.put_rule_routing_state(7, &st2)?;
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    assert!(rolled.is_err());
    assert_eq!(
        tx(s, "after rollback", |tx| Ok(tx.rule_routing_state(7)?)),
        st
    );
    tx(s, "replace", |tx| Ok(tx.put_rule_routing_state(7, &st2)?));
    assert_eq!(tx(s, "replaced", |tx| Ok(tx.rule_routing_state(7)?)), st2);
}

/// A credit is one more event per appointment beside its charge; `billing_event` reads each
/// kind back; `billing_summary` sums per workspace inside `[from, to)`.
pub fn billing_credits_and_summary(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (a1, a2) = tx(s, "seed", |tx| {
        Ok((
            seed_routed(tx, 1, "solar_ca_001", Cents(20000))?.2,
            seed_routed(tx, 2, "hvac_tx_002", Cents(7550))?.2,
        ))
    });
    let credit = NewBillingEvent {
        kind: BillingKind::Credit,
        amount: Cents(-20000),
        created_at: at(60),
        ..charge(a1, "solar_ca_001", Cents(0))
    };
    tx(s, "charges and a credit", |tx| {
        tx.insert_billing_event(&charge(a1, "solar_ca_001", Cents(20000)))?;
        tx.insert_billing_event(&charge(a2, "hvac_tx_002", Cents(7550)))?;
        Ok(tx.insert_billing_event(&credit)?)
    });
    let again = tx(
        s,
        "credit twice",
        |tx| Ok(tx.insert_billing_event(&credit)?),
    );
    assert_eq!(again, None, "one credit per appointment");
    let (c, k, none) = tx(s, "billing_event", |tx| {
        Ok((
            tx.billing_event(a1, BillingKind::Charge)?,
            tx.billing_event(a1, BillingKind::Credit)?,
            tx.billing_event(a2, BillingKind::Credit)?,
        ))
    });
    assert_eq!(c.map(|e| e.amount), Some(Cents(20000)));
    assert_eq!(k, Some(credit.clone()), "the credit reads back as written");
    assert_eq!(none, None);
    let all = tx(s, "summary", |tx| {
        Ok(tx.billing_summary(at(-1_000_000), at(1_000_000))?)
    });
    assert_eq!(
        all,
        vec![
            BillingSummaryRow {
                workspace_id: "hvac_tx_002".into(),
                charges: 1,
                charged: Cents(7550),
                credits: 0,
                credited: Cents(0),
                net: Cents(7550),
            },
            BillingSummaryRow {
                workspace_id: "solar_ca_001".into(),
                charges: 1,
                charged: Cents(20000),
                credits: 1,
                credited: Cents(-20000),
                net: Cents(0),
            },
        ],
        "billing_summary per workspace, ordered by id"
    );
    let only_credit = tx(s, "window", |tx| Ok(tx.billing_summary(at(60), at(61))?));
    assert_eq!(
        only_credit
            .iter()
            .map(|r| (r.credits, r.charges))
            .collect::<Vec<_>>(),
        vec![(1, 0)],
        "the window is [from, to) on created_at"
    );
}

/// A workspace's capacity, schedule and delivery options are stored and read back as given.
pub fn workspace_options_round_trip(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let mut w = workspace("solar_ca_001", Cents(20000));
    w.capacity = serde_json::from_value(serde_json::json!({
        "caps": [{"period": "day", "limit": 5}],
        "budget": {"amount": 100000, "period": "month"}
    }))
    .expect("capacity fixture");
    w.schedule = Some(
        crate::schedule::WeeklySchedule::from_json(
            r#"{"hours": [{"days": ["mon", "tue"], "start": "08:00", "end": "18:30"}]}"#,
        )
        .expect("schedule fixture"),
    );
    w.delivery = serde_json::from_value(serde_json::json!({
        "rename": {"customer_phone": "phone"},
        "omit": ["notes"],
        "constants": {"source": "leadroute"},
        "envelope": true,
        "additional_secrets": ["whsec_bmV3LXNlY3JldC1rZXktMTIzNA=="]
    }))
    .expect("delivery fixture");
    tx(s, "put", |tx| Ok(tx.put_workspace(&w)?));
    let back = tx(s, "get", |tx| Ok(tx.workspace("solar_ca_001")?));
    assert_eq!(
        back,
        Some(w),
        "capacity, schedule and delivery options round-trip"
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
    let missing = with_tx(s, |tx| Ok(tx.defer_delivery(9_999, at(1))));
    expect_conflict("deferring a missing delivery", missing.expect("tx"));
}

/// Every [`SignatureScheme`](crate::auth::SignatureScheme), for round trips.
const SCHEMES: [crate::auth::SignatureScheme; 4] = [
    crate::auth::SignatureScheme::GitHub,
    crate::auth::SignatureScheme::CalCom,
    crate::auth::SignatureScheme::StandardWebhooks,
    crate::auth::SignatureScheme::Stripe,
];

fn webhook_config(id: &str, scheme: crate::auth::SignatureScheme) -> WebhookConfig {
    WebhookConfig {
        id: id.into(),
        name: format!("Inbound {id}"),
        lead_type: Some("solar".into()),
        secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
        signature_scheme: scheme,
        rate_limit: Some(120),
        rate_window_seconds: 60,
        is_active: true,
    }
}

/// `put_webhook_config` stores every field (each signature scheme, optional fields set and
/// empty) and upserts by id replacing every field; `webhook_configs` is ordered by id; a
/// rolled-back write leaves nothing.
pub fn webhook_configs_round_trip_and_upsert(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    assert!(
        tx(s, "webhook_configs", |tx| Ok(tx.webhook_configs()?)).is_empty(),
        "a new store has no webhook configs"
    );
    // Ids out of order on purpose; one config per scheme, the last one minimal.
    let mut configs: Vec<WebhookConfig> = ["wh_d", "wh_b", "wh_c", "wh_a"]
        .iter()
        .zip(SCHEMES)
        .map(|(id, scheme)| webhook_config(id, scheme))
        .collect();
    configs[3] = WebhookConfig {
        signature_scheme: crate::auth::SignatureScheme::Stripe,
        ..WebhookConfig::new("wh_a")
    };
    configs[1].is_active = false;
    configs[2].rate_window_seconds = 86_400;
    configs[2].rate_limit = Some(0);
    tx(s, "put_webhook_config", |tx| {
        for c in &configs {
            tx.put_webhook_config(c)?;
        }
        Ok(())
    });
    let mut sorted = configs.clone();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        tx(s, "webhook_configs", |tx| Ok(tx.webhook_configs()?)),
        sorted,
        "webhook configs must read back unchanged (every scheme, empty options), ordered by id"
    );

    // Upsert: every field replaced, options cleared and set.
    let mut d = configs[0].clone();
    d.name = "Renamed".into();
    d.lead_type = None;
    d.secret = None;
    d.signature_scheme = crate::auth::SignatureScheme::CalCom;
    d.rate_limit = None;
    d.rate_window_seconds = 3600;
    d.is_active = false;
    let mut a = configs[3].clone();
    a.lead_type = Some("hvac".into());
    a.secret = Some("github-secret".into());
    a.signature_scheme = crate::auth::SignatureScheme::GitHub;
    a.rate_limit = Some(10);
    tx(s, "put_webhook_config (update)", |tx| {
        tx.put_webhook_config(&d)?;
        Ok(tx.put_webhook_config(&a)?)
    });
    let after = tx(s, "webhook_configs", |tx| Ok(tx.webhook_configs()?));
    assert_eq!(
        after,
        vec![a.clone(), sorted[1].clone(), sorted[2].clone(), d.clone()],
        "put_webhook_config must replace every field of an existing config, adding no row"
    );

    let rolled = with_tx(s, |tx| {
        tx.put_webhook_config(&webhook_config(
            "wh_z",
            crate::auth::SignatureScheme::GitHub,
        ))?;
        tx.put_webhook_config(&WebhookConfig {
            is_active: true,
            ..d.clone()
        })?;
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    assert!(rolled.is_err());
    assert_eq!(
        tx(s, "webhook_configs", |tx| Ok(tx.webhook_configs()?)),
        after,
        "a rolled-back put_webhook_config must leave every config as it was"
    );
}

/// A provider's intake fields round-trip: the `form` format, `api_key_hash` set and empty,
/// `allowed_webhooks` with several ids and none; re-putting a provider keeps its totals.
pub fn providers_intake_fields_round_trip(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let form = Provider {
        format: RecordFormat::Form,
        ..provider("provider-f")
    };
    let bare = Provider {
        format: RecordFormat::Csv,
        ..Provider::new("provider-b")
    };
    tx(s, "put_provider", |tx| {
        tx.put_provider(&form)?;
        Ok(tx.put_provider(&bare)?)
    });
    assert_eq!(
        tx(s, "providers", |tx| Ok(tx.providers()?)),
        vec![bare.clone(), form.clone()],
        "format form, api_key_hash and allowed_webhooks must read back unchanged"
    );
    let usage = ProviderUsage {
        provider_id: "provider-f".into(),
        webhook_id: "wh_solar_ca".into(),
        day: "2025-03-14".into(),
        requests: 1,
        total_leads: 3,
        accepted: 2,
        rejected: 1,
        last_lead_at: Some(at(5)),
        ..ProviderUsage::default()
    };
    tx(s, "add_usage", |tx| Ok(tx.add_usage(&usage)?));
    let rotated = Provider {
        api_key_hash: Some(
            "sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752".into(),
        ),
        allowed_webhooks: vec!["wh_hvac_tx".into()],
        format: RecordFormat::Json,
        ..form.clone()
    };
    tx(s, "put_provider (rotate key)", |tx| {
        Ok(tx.put_provider(&rotated)?)
    });
    let (back, totals) = tx(s, "read", |tx| {
        Ok((
            tx.provider("provider-f")?,
            tx.provider_totals("provider-f")?,
        ))
    });
    assert_eq!(
        back,
        Some(rotated),
        "put_provider must replace api_key_hash and allowed_webhooks"
    );
    assert_eq!(
        totals,
        (3, Some(at(5))),
        "put_provider must not reset a provider's totals"
    );
}

/// A workspace's `require_consent` round-trips and is replaced by `put_workspace`.
pub fn workspace_require_consent_round_trip(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let strict = Workspace {
        require_consent: true,
        ..workspace("insurance_fl_003", Cents(4500))
    };
    let lax = workspace("solar_ca_001", Cents(20000));
    tx(s, "put_workspace", |tx| {
        tx.put_workspace(&strict)?;
        Ok(tx.put_workspace(&lax)?)
    });
    assert_eq!(
        tx(s, "workspaces", |tx| Ok(tx.workspaces()?)),
        vec![strict.clone(), lax.clone()],
        "require_consent must read back as stored"
    );
    let relaxed = Workspace {
        require_consent: false,
        ..strict
    };
    let tightened = Workspace {
        require_consent: true,
        ..lax
    };
    tx(s, "put_workspace (update)", |tx| {
        tx.put_workspace(&relaxed)?;
        Ok(tx.put_workspace(&tightened)?)
    });
    assert_eq!(
        tx(s, "workspaces", |tx| Ok(tx.workspaces()?)),
        vec![relaxed, tightened],
        "put_workspace must replace require_consent both ways"
    );
}

/// `remember_message` is `true` once per (scope, message id): again in the same or a later
/// transaction it is `false`; another scope or id is new; a rolled-back transaction forgets
/// what it remembered.
pub fn remember_message_once_per_scope(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    let (first, again) = tx(s, "remember", |tx| {
        Ok((
            tx.remember_message("wh_solar_ca", id, at(0))?,
            tx.remember_message("wh_solar_ca", id, at(1))?,
        ))
    });
    assert!(first, "a message id not seen before is new");
    assert!(
        !again,
        "the same (scope, id) in the same transaction is not new"
    );
    let (later, other_scope, other_id) = tx(s, "remember again", |tx| {
        Ok((
            tx.remember_message("wh_solar_ca", id, at(300))?,
            tx.remember_message("provider:provider-b", id, at(300))?,
            tx.remember_message("wh_solar_ca", "msg_2KWPBgLlAfxdpx2AI54pPJ85f1W", at(300))?,
        ))
    });
    assert!(
        !later,
        "a remembered (scope, id) is not new in a later transaction"
    );
    assert!(other_scope, "the same id in another scope is new");
    assert!(other_id, "another id in the same scope is new");

    let rolled = with_tx(s, |tx| {
        if !tx.remember_message("wh_solar_ca", "msg_rolled_back", at(400))? {
            return Err(Error::Internal(
                "conformance: expected a new message".into(),
            ));
        }
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    match rolled {
        Err(Error::Internal(m)) if m == "roll back" => {}
        other => panic!("the transaction must fail with its own error, got {other:?}"),
    }
    let after = tx(s, "remember after rollback", |tx| {
        Ok(tx.remember_message("wh_solar_ca", "msg_rolled_back", at(500))?)
    });
    assert!(
        after,
        "a message remembered in a rolled-back transaction must be new again"
    );
}

/// `add_usage` adds counts into one row per (provider, webhook, day), moves `last_lead_at`
/// only forward, and rolls back; `provider_usage` orders by day then webhook id;
/// `provider_totals` sums over all rows, with or without a provider row.
pub fn provider_usage_accumulates(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    assert_eq!(
        tx(s, "empty", |tx| Ok((
            tx.provider_usage("provider-a")?,
            tx.provider_totals("provider-a")?
        ))),
        (vec![], (0, None)),
        "a provider without usage has no rows and totals (0, None)"
    );
    tx(s, "provider", |tx| {
        Ok(tx.put_provider(&provider("provider-a"))?)
    });
    let u = |webhook: &str, day: &str, n: [u64; 5], last: Option<OffsetDateTime>| ProviderUsage {
        provider_id: "provider-a".into(),
        webhook_id: webhook.into(),
        day: day.into(),
        requests: n[0],
        refused: n[1],
        total_leads: n[2],
        accepted: n[3],
        rejected: n[4],
        last_lead_at: last,
    };
    tx(s, "add_usage", |tx| {
        // Day 2 first, so that the order must come from the store.
        tx.add_usage(&u(
            "wh_solar_ca",
            "2025-03-15",
            [1, 0, 4, 3, 1],
            Some(at(86_400)),
        ))?;
        tx.add_usage(&u(
            "wh_solar_ca",
            "2025-03-14",
            [1, 0, 2, 2, 0],
            Some(at(60)),
        ))?;
        // A refused request only: no records, no time.
        tx.add_usage(&u("wh_solar_ca", "2025-03-14", [0, 1, 0, 0, 0], None))?;
        // Direct ingestion (webhook "") sorts before every webhook id on the same day.
        tx.add_usage(&u("", "2025-03-14", [1, 0, 1, 0, 1], Some(at(30))))?;
        // Another provider's usage, with no provider row.
        tx.add_usage(&ProviderUsage {
            provider_id: "provider-ghost".into(),
            ..u("wh_solar_ca", "2025-03-14", [1, 0, 7, 7, 0], Some(at(90)))
        })?;
        Ok(())
    });
    tx(s, "add_usage (later transaction)", |tx| {
        // An earlier last_lead_at must not move the row's back.
        tx.add_usage(&u(
            "wh_solar_ca",
            "2025-03-14",
            [2, 1, 3, 1, 2],
            Some(at(10)),
        ))?;
        Ok(tx.add_usage(&u(
            "wh_solar_ca",
            "2025-03-15",
            [1, 0, 1, 1, 0],
            Some(at(90_000)),
        ))?)
    });
    let rows = tx(s, "provider_usage", |tx| {
        Ok(tx.provider_usage("provider-a")?)
    });
    assert_eq!(
        rows,
        vec![
            u("", "2025-03-14", [1, 0, 1, 0, 1], Some(at(30))),
            u("wh_solar_ca", "2025-03-14", [3, 2, 5, 3, 2], Some(at(60))),
            u(
                "wh_solar_ca",
                "2025-03-15",
                [2, 0, 5, 4, 1],
                Some(at(90_000))
            ),
        ],
        "one row per (provider, webhook, day) with summed counts and the latest last_lead_at, \
         ordered by day then webhook id"
    );
    let totals = tx(s, "provider_totals", |tx| {
        Ok((
            tx.provider_totals("provider-a")?,
            tx.provider_totals("provider-ghost")?,
            tx.provider_totals("provider-b")?,
        ))
    });
    assert_eq!(
        totals,
        ((11, Some(at(90_000))), (7, Some(at(90))), (0, None)),
        "provider_totals sums total_leads and takes the latest last_lead_at of the provider's \
         rows, also for usage counted without a provider row"
    );

    let rolled = with_tx(s, |tx| {
        tx.add_usage(&u(
            "wh_solar_ca",
            "2025-03-15",
            [5, 5, 5, 5, 0],
            Some(at(100_000)),
        ))?;
        tx.add_usage(&u(
            "wh_new",
            "2025-03-16",
            [1, 0, 1, 1, 0],
            Some(at(200_000)),
        ))?;
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    assert!(rolled.is_err());
    assert_eq!(
        tx(s, "after rollback", |tx| Ok((
            tx.provider_usage("provider-a")?,
            tx.provider_totals("provider-a")?
        ))),
        (rows, (11, Some(at(90_000)))),
        "rolled-back usage must not count"
    );
}

/// A `lead_status_history` row.
fn status_change(
    lead_id: LeadId,
    from: Option<&str>,
    to: &str,
    reason: Option<&str>,
    changed_at: OffsetDateTime,
) -> LeadStatusChange {
    LeadStatusChange {
        lead_id,
        from_status: from.map(str::to_string),
        to_status: to.into(),
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
        Ok(tx.insert_contact(&new_contact("provider:provider-a", &phone(1)))?)
    });
    let (a, b, n) = tx(s, "leads", |tx| {
        let a = tx.insert_lead(&new_lead(c, "provider-a", "PA-1"))?;
        tx.set_lead_status(a, "unrouted", Some("no_rule_for_zip"), at(5))?;
        let b = tx.insert_lead_as(
            &new_lead(c, "provider-a", "PA-2"),
            "unrouted",
            Some("no_rule_for_zip"),
            at(5),
        )?;
        let n = tx.insert_lead_as(&new_lead(c, "provider-a", "PA-3"), "new", None, at(6))?;
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
        tx.set_lead_status(b, "unrouted", Some("again"), at(7))?;
        tx.set_lead_status(b, "routed", None, at(8))?;
        tx.set_lead_status(n, "new", None, at(8))?;
        Ok((tx.lead_status_history(b)?, tx.lead_status_history(n)?))
    });
    assert_eq!(hb2.len(), 3, "{hb2:?}");
    assert_eq!(
        (hb2[2].from_status.as_deref(), hb2[2].to_status.as_str()),
        (Some("unrouted"), "routed")
    );
    assert_eq!(hn2.len(), 1, "{hn2:?}");
    // A stored key: Conflict, nothing written.
    let (dup, after) = tx(s, "stored key", |tx| {
        let r = tx.insert_lead_as(&new_lead(c, "provider-a", "PA-2"), "routed", None, at(9));
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
        let c = tx.insert_contact(&new_contact("provider:provider-a", &phone(1)))?;
        Ok((c, tx.insert_lead(&new_lead(c, "provider-a", "PA-00001"))?))
    });

    let first = status_change(l, None, "new", None, at(1));
    assert_eq!(
        tx(s, "history", |tx| Ok(tx.lead_status_history(l)?)),
        vec![first.clone()],
        "insert_lead writes the first history row: None -> new at received_at"
    );
    tx(s, "set_lead_status", |tx| {
        tx.set_lead_status(l, "unrouted", Some("no_matching_rule"), at(3))?;
        // The status it already has: no change, no row.
        tx.set_lead_status(l, "unrouted", Some("ignored"), at(4))?;
        Ok(())
    });
    tx(s, "set_lead_status (later)", |tx| {
        tx.set_lead_status(l, "routed", None, at(5))?;
        tx.set_lead_status(l, "routed", None, at(6))?;
        Ok(tx.set_lead_status(l, "delivered", Some("HTTP 200"), at(7))?)
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
        let d = tx.insert_lead(&NewLead {
            duplicate_of: Some(l),
            received_at: at(60),
            ..new_lead(c, "provider-a", "PA-00002")
        })?;
        tx.set_lead_status(d, "duplicate", Some("lead-level duplicate"), at(60))?;
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
        let r = tx.set_lead_status(d + 1000, "routed", None, at(8));
        let h = tx.lead_status_history(d + 1000)?;
        tx.set_lead_status(l, "returned", Some("customer request"), at(9))?;
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
        tx.set_lead_status(l, "delivery_failed", Some("HTTP 500"), at(10))?;
        let n = tx.insert_lead(&new_lead(c, "provider-a", "PA-00003"))?;
        tx.set_lead_status(n, "routed", None, at(11))?;
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
        tx.set_lead_status(l, "returned", None, at(12))?;
        tx.set_lead_status(l, "delivery_failed", None, at(13))?;
        Ok(tx.insert_lead(&new_lead(c, "provider-a", "PA-00003"))?)
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

/// Events of a rejected record ([`EventSubject::Rejection`]) are kept apart from lead events
/// with the same numeric id, returned oldest first, and roll back.
pub fn rejection_events_round_trip(make: MakeStore<'_>) {
    let store = make();
    let s = &*store;
    let (l, r) = tx(s, "seed", |tx| {
        let c = tx.insert_contact(&new_contact("provider:provider-a", &phone(1)))?;
        let l = tx.insert_lead(&new_lead(c, "provider-a", "PA-00001"))?;
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
        event_type: event_type.into(),
        detail,
        created_at: at(secs),
    };
    let r1 = ev(
        EventSubject::Rejection,
        r,
        "rejected",
        2,
        json!({"reason_codes": ["invalid_phone", "unknown_zip"], "provider_id": "provider-a"}),
    );
    let r2 = ev(
        EventSubject::Rejection,
        r,
        "reviewed",
        9,
        json!({"by": "ops", "note": null}),
    );
    let l1 = ev(
        EventSubject::Lead,
        l,
        "received",
        1,
        json!({"record_key": "PA-00001"}),
    );
    assert!(
        tx(s, "none yet", |tx| Ok(
            tx.events(EventSubject::Rejection, r)?
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
            tx.events(EventSubject::Rejection, r)?,
            tx.events(EventSubject::Lead, l)?,
            tx.events(EventSubject::Rejection, r + 100)?,
        ))
    });
    assert_eq!(
        got,
        (vec![r1.clone(), r2.clone()], vec![l1.clone()], vec![]),
        "events() must return a rejection's events, oldest first, apart from lead events"
    );
    // Lead and rejection ids are independent: with both at the same number, neither sees
    // the other's events.
    if l == r {
        assert_eq!(got.1, vec![l1.clone()]);
    }
    let rolled = with_tx(s, |tx| {
        tx.append_event(&ev(EventSubject::Rejection, r, "rolled", 10, json!({})))?;
        Err::<(), Error>(Error::Internal("roll back".into()))
    });
    assert!(rolled.is_err());
    assert_eq!(
        tx(s, "events after rollback", |tx| Ok(
            tx.events(EventSubject::Rejection, r)?
        )),
        vec![r1, r2],
        "a rolled-back rejection event must not be stored"
    );
}
