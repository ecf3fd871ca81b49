//! The storage conformance suite: the behavior every [`Store`] adapter must have.
//!
//! Each check is a public function that builds a fresh, empty store with `make`, exercises one
//! group of the contracts documented under `# Behavior` on the storage traits, and panics with
//! a message naming the check and the broken contract on the first violation. The checks live
//! in one file per storage trait or aggregate (providers, contacts, leads, appointments,
//! lifecycle, outbox, billing, returns, bookings, reprocessing of rejections, events,
//! capacity, intake, outreach, transactions, stats) and are re-exported here.
//!
//! An adapter's test suite runs them with [`conformance_tests!`](crate::conformance_tests),
//! which expands to one `#[test]` per check, so a failure names its check and the other checks
//! still run:
//!
//! ```
//! use leadroute_core::storage::{MemoryStore, Store};
//!
//! mod memory {
//!     use super::*;
//!
//!     leadroute_core::conformance_tests!(|| Box::new(MemoryStore::new()) as Box<dyn Store>);
//! }
//! # fn main() {}
//! ```
//!
//! [`CHECKS`] lists every check by name, and [`run_all`] runs them one after another, stopping
//! at the first failure; both are kept for callers that predate the macro.
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
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use std::fmt::Debug;

mod appointments;
mod billing;
mod bookings;
mod capacity;
mod contacts;
mod events;
mod intake;
mod leads;
mod lifecycle;
mod outbox;
mod outreach;
mod providers;
mod reprocess;
mod returns;
mod stats;
mod transactions;

pub use appointments::*;
pub use billing::*;
pub use bookings::*;
pub use capacity::*;
pub use contacts::*;
pub use events::*;
pub use intake::*;
pub use leads::*;
pub use lifecycle::*;
pub use outbox::*;
pub use outreach::*;
pub use providers::*;
pub use reprocess::*;
pub use returns::*;
pub use stats::*;
pub use transactions::*;

/// Builds a fresh, empty store.
pub type MakeStore<'a> = &'a dyn Fn() -> Box<dyn Store>;

/// One check: a name for messages and the function that runs it.
pub type Check = (&'static str, fn(MakeStore<'_>));

/// The one list of checks, in run order, behind [`CHECKS`] and
/// [`conformance_tests!`](crate::conformance_tests): a check added here is in both.
///
/// `@checks ()` builds the `(name, fn)` slice, `@names ()` the names, and
/// `@tests (make)` one `#[test]` per check. Not part of the API.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_checks {
    (@$mode:ident $args:tt) => {
        $crate::__conformance_checks! {@$mode $args [
            providers_upsert_and_missing,
            workspaces_upsert_and_missing,
            rules_upsert_order_and_workspace,
            contacts_unique_dedup_key,
            insert_contact_if_absent_finds_the_holder,
            conflict_leaves_transaction_usable,
            contacts_email_only,
            contacts_need_a_key,
            update_contact_replaces_fields,
            update_contact_keeps_uniqueness,
            update_contact_rolls_back_with_the_transaction,
            leads_round_trip,
            lead_appointment_date_set,
            leads_duplicate_of,
            latest_original_lead_selection,
            record_keys_unique_across_leads_and_rejections,
            failed_insert_leaves_no_outcome,
            appointments_one_per_lead,
            update_forward_replaces_state,
            deliveries_unique,
            claim_due_deliveries_selection,
            claim_lease_expiry,
            record_attempt_transitions,
            billing_exactly_once,
            events_per_subject,
            rollback_discards_everything,
            transactions_are_serializable,
            counts_and_breakdowns,
            unrouted_queue_and_assignment,
            capacity_counters,
            try_consume_all_or_nothing,
            rule_routing_state,
            billing_credits_and_summary,
            workspace_options_round_trip,
            endpoint_health_and_deferral,
            webhook_configs_round_trip_and_upsert,
            providers_intake_fields_round_trip,
            workspace_require_consent_round_trip,
            remember_message_once_per_scope,
            provider_usage_accumulates,
            lead_status_history_changes,
            insert_lead_as_equals_insert_then_set,
            rejection_events_round_trip,
            appointment_details_round_trip,
            appointment_details_replaced,
            update_lifecycle_writes_every_field,
            update_lifecycle_refuses_a_stale_expectation,
            reassign_resets_forward_state,
            deliveries_unique_per_sequence,
            claim_waits_for_earlier_sequence,
            redeliver_requeues_failed_and_waiting,
            redeliver_refuses_delivered,
            redeliver_unknown_is_none,
            billing_once_per_workspace,
            workspace_return_policy_round_trip,
            returns_insert_if_absent,
            decide_return_once,
            return_counts_in_period,
            billing_summary_pending_returns,
            booking_events_insert_if_absent,
            booking_uid_links,
            booking_events_by_uid_lineage,
            rejections_filter_and_page,
            release_rejection_frees_the_key,
            reprocessed_rejections_leave_the_list,
            rollback_discards_aftercare_writes,
            enqueue_contact_insert_if_absent,
            enqueue_contact_unknown_lead_conflicts,
            claim_contacts_order_and_limit,
            claim_contacts_leases_as_attempting,
            claim_contacts_never_twice,
            claim_contacts_expired_lease_comes_back,
            claim_contacts_skips_final_statuses,
            defer_contact_holds_and_reschedules,
            record_contact_attempt_moves_the_entry,
            record_contact_attempt_unique_number,
            contact_attempt_times_span_the_contact,
            suppression_insert_if_absent,
            messages_enqueue_and_list,
            claim_due_messages_order_and_lease,
            record_message_try_retry_and_done,
            cancel_pending_messages_by_kind,
            counters_in_range_order_and_bounds,
            contact_timelines_report,
            rollback_discards_outreach_writes,
        ]}
    };
    (@checks () [$($name:ident),* $(,)?]) => {
        &[$((::core::stringify!($name), $crate::storage::conformance::$name)),*]
    };
    (@names () [$($name:ident),* $(,)?]) => {
        &[$(::core::stringify!($name)),*]
    };
    (@tests ($make:expr) [$($name:ident),* $(,)?]) => {
        $(
            #[test]
            fn $name() {
                let make_store: $crate::storage::conformance::MakeStore<'_> = &$make;
                $crate::storage::conformance::$name(make_store);
            }
        )*
    };
}

/// Expands to one `#[test] fn <check>()` per conformance check, each running that check of
/// [`storage::conformance`](crate::storage::conformance) on stores from `$make`.
///
/// `$make` is an expression evaluated once per test whose reference is a
/// [`MakeStore`](crate::storage::conformance::MakeStore): a `fn() -> Box<dyn Store>`, a
/// closure, or a call returning one (which can own per-test state such as a temporary
/// directory). Each test is named after its check, so a failure names the check and the other
/// checks still run. Invoke it once per module; wrap it in `mod name { ... }` to run the suite
/// against several stores in one test target. Needs feature `testing`.
///
/// ```
/// mod memory {
///     use leadroute_core::storage::{MemoryStore, Store};
///
///     fn make() -> Box<dyn Store> {
///         Box::new(MemoryStore::new())
///     }
///
///     leadroute_core::conformance_tests!(make);
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr $(,)?) => {
        $crate::__conformance_checks!(@tests ($make));
    };
}

/// Every check, in the order [`run_all`] runs them (and [`conformance_tests!`] lists them).
///
/// [`conformance_tests!`]: crate::conformance_tests
pub const CHECKS: &[Check] = crate::__conformance_checks!(@checks ());

/// Runs every check in [`CHECKS`], each on a fresh store from `make`.
///
/// Stops at the first failure; prefer [`conformance_tests!`](crate::conformance_tests), which
/// runs each check as its own test.
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

/// The suite's reference time, with microsecond precision: 2025-03-14T15:09:26.535897Z.
const T0: Timestamp = Timestamp::constant(1_741_964_966, 535_897_000);

fn at(seconds: i64) -> Timestamp {
    T0 + SignedDuration::from_secs(seconds)
}

/// A time written as RFC 3339 text.
fn ts(s: &str) -> Timestamp {
    s.parse().expect("conformance timestamp")
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
        returns: ReturnPolicy::default(),
        messages: None,
        calendar: None,
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
        appointment_date: Some(ts("2025-03-18T17:30:00Z")),
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

/// Stores a new contact: its id, or `Conflict` when its key is taken (the contract's
/// [`Inserted::Existing`], which the contact checks expect to refuse a second insert).
fn insert_contact(tx: &dyn Tx, c: &NewContact) -> Result<ContactId, StorageError> {
    match tx.insert_contact_if_absent(c)? {
        Inserted::Created(id) => Ok(id),
        Inserted::Existing(id) => Err(StorageError::conflict(format!("contact {id} exists"))),
    }
}

/// Stores a lead at `new` (history `None -> new` at its `received_at`), as intake does for a
/// lead without an appointment time.
fn insert_lead(tx: &dyn Tx, lead: &NewLead) -> Result<LeadId, StorageError> {
    tx.insert_lead_as(lead, LeadStatus::New, None, lead.received_at)
}

fn new_rejection(provider_id: &str, record_key: &str, codes: &[&str]) -> NewRejection {
    NewRejection {
        provider_id: provider_id.into(),
        record_key: record_key.into(),
        reason_codes: codes
            .iter()
            .map(|c| c.parse().expect("a reason code"))
            .collect(),
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
        appointment_date: ts("2025-03-18T17:30:00Z"),
        estimated_value: Some(18_500.75),
        notes: Some("Prefers afternoon; south-facing roof".into()),
        assignment: Assignment::Routed {
            workspace_id: workspace_id.into(),
            rule_id: Some(1),
            method: RoutingMethod::Auto,
            matched_at: at(3),
            payment_rate: rate,
        },
        details: AppointmentDetails::default(),
        created_at: at(3),
    }
}

fn unrouted(lead_id: LeadId, contact_id: ContactId, reason: &str) -> NewAppointment {
    NewAppointment {
        lead_id,
        contact_id,
        service_type: "Solar".into(),
        zip_code: "99501".into(),
        appointment_date: ts("2025-03-19T09:00:00Z"),
        estimated_value: None,
        notes: None,
        assignment: Assignment::Unrouted {
            reason: reason.parse().expect("an unrouted reason"),
        },
        details: AppointmentDetails::default(),
        created_at: at(3),
    }
}

/// The appointment's own delivery (`appointment.created`, sequence 0).
fn new_delivery(appointment_id: AppointmentId, workspace_id: &str, due: Timestamp) -> NewDelivery {
    NewDelivery {
        appointment_id,
        event: WebhookEventType::AppointmentCreated,
        sequence: 0,
        workspace_id: workspace_id.into(),
        webhook_id: format!("msg_appt{appointment_id}_p5jXN8AQM9LWM0D4loKWxJek"),
        url: format!("https://hooks.example.com/leadroute/{workspace_id}"),
        payload: format!(r#"{{"appointment_id":{appointment_id},"service_type":"Solar"}}"#),
        next_attempt_at: due,
        created_at: at(3),
    }
}

/// A later delivery of an appointment: a lifecycle `event` at `sequence`, with its own
/// `webhook-id`.
fn event_delivery(
    appointment_id: AppointmentId,
    workspace_id: &str,
    due: Timestamp,
    event: WebhookEventType,
    sequence: u32,
) -> NewDelivery {
    NewDelivery {
        event,
        sequence,
        webhook_id: format!("msg_appt{appointment_id}_seq{sequence}_2mL4Hq0bXAtwbE0nBDUWxVZ"),
        payload: format!(r#"{{"type":"{event}","data":{{"appointment_id":{appointment_id}}}}}"#),
        ..new_delivery(appointment_id, workspace_id, due)
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
    let c = insert_contact(tx, &new_contact("provider:provider-a", &phone(n)))?;
    let l = insert_lead(tx, &new_lead(c, "provider-a", &format!("PA-{n:05}")))?;
    let a = tx.insert_appointment(&routed(l, c, workspace_id, rate))?;
    Ok((c, l, a))
}

/// [`seed_routed`] plus a delivery due at `due`. Returns the delivery id.
fn seed_delivery(tx: &dyn Tx, n: u32, due: Timestamp) -> Result<DeliveryId, Error> {
    let (_, _, a) = seed_routed(tx, n, "solar_ca_001", Cents(20000))?;
    Ok(tx.enqueue_delivery(&new_delivery(a, "solar_ca_001", due))?)
}

fn ids(ds: &[Delivery]) -> Vec<DeliveryId> {
    ds.iter().map(|d| d.id).collect()
}

fn claim(store: &dyn Store, now: Timestamp, limit: usize, lease: Timestamp) -> Vec<Delivery> {
    tx(store, "claim_due_deliveries", |tx| {
        Ok(tx.claim_due_deliveries(now, limit, lease)?)
    })
}

#[cfg(test)]
mod tests {
    use super::CHECKS;

    /// Every file of checks; each `pub fn` in them is a check.
    const SOURCES: &[(&str, &str)] = &[
        ("appointments.rs", include_str!("appointments.rs")),
        ("billing.rs", include_str!("billing.rs")),
        ("bookings.rs", include_str!("bookings.rs")),
        ("capacity.rs", include_str!("capacity.rs")),
        ("contacts.rs", include_str!("contacts.rs")),
        ("events.rs", include_str!("events.rs")),
        ("intake.rs", include_str!("intake.rs")),
        ("leads.rs", include_str!("leads.rs")),
        ("lifecycle.rs", include_str!("lifecycle.rs")),
        ("outbox.rs", include_str!("outbox.rs")),
        ("outreach.rs", include_str!("outreach.rs")),
        ("providers.rs", include_str!("providers.rs")),
        ("reprocess.rs", include_str!("reprocess.rs")),
        ("returns.rs", include_str!("returns.rs")),
        ("stats.rs", include_str!("stats.rs")),
        ("transactions.rs", include_str!("transactions.rs")),
    ];

    #[test]
    fn the_macro_and_checks_list_the_same_checks() {
        let from_macro: &[&str] = crate::__conformance_checks!(@names ());
        let from_checks: Vec<&str> = CHECKS.iter().map(|(name, _)| *name).collect();
        assert_eq!(from_macro.len(), CHECKS.len(), "one test per check");
        assert_eq!(from_macro, from_checks.as_slice());
        let mut unique = from_checks.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), CHECKS.len(), "a check is listed twice");
    }

    #[test]
    fn every_check_function_is_listed() {
        let declared = include_str!("mod.rs")
            .lines()
            .filter(|l| l.starts_with("mod ") && l.ends_with(';'))
            .count();
        assert_eq!(
            declared,
            SOURCES.len(),
            "a file of checks is missing from SOURCES"
        );
        let mut defined: Vec<&str> = SOURCES
            .iter()
            .flat_map(|(_, text)| text.lines())
            .filter_map(|l| l.strip_prefix("pub fn "))
            .map(|l| l.split(['(', '<']).next().unwrap_or(l))
            .collect();
        defined.sort_unstable();
        let mut listed: Vec<&str> = CHECKS.iter().map(|(name, _)| *name).collect();
        listed.sort_unstable();
        assert_eq!(
            defined, listed,
            "every `pub fn` check is in the list and nothing else"
        );
    }
}
