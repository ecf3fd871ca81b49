//! Storage traits: narrow per aggregate, synchronous, object-safe, `&self` receivers.
//!
//! A [`Store`] hands out one transaction at a time through [`Store::transaction`]; inside it the
//! engine sees a [`Tx`], which is every repository trait at once. Everything written inside one
//! call commits together or not at all, which is how the engine keeps its promises: a lead, its
//! appointment and its outbox row appear together; a delivery's success, its attempt row and its
//! billing event appear together.
//!
//! Invariants are the adapter's to enforce, not the caller's to check first: one contact per
//! (dedup scope, phone), one stored outcome per (provider, record key), one appointment per
//! lead, one delivery per (appointment, sequence), one charge per (appointment, workspace),
//! one return per (appointment, workspace), one stored booking event per (webhook, event key).
//! An adapter backed by a database enforces them with `UNIQUE` constraints so that two
//! processes sharing a file cannot break them; `storage::conformance` (feature `testing`)
//! checks every adapter against these contracts.
//!
//! The contract names no database: each method's `# Behavior` says what it guarantees and
//! the isolation it needs, in terms any SQL database can keep (constraints, conditional
//! updates, insert-if-absent, leased claims). How an adapter keeps it (SQLite's
//! `UPDATE ... RETURNING` claim, a PostgreSQL `FOR UPDATE SKIP LOCKED`) is in the adapter's
//! own docs. Reports and statistics are not part of a transaction's methods: see
//! [`Reports`].

use crate::model::*;
use crate::routing::RoutingRule;
use crate::Error;
use jiff::Timestamp;

#[cfg(feature = "testing")]
pub mod conformance;
mod memory;

pub use crate::storage_error::{StorageError, StorageErrorKind};

pub use memory::MemoryStore;

/// A storage backend.
pub trait Store: Send + Sync {
    /// Runs `f` inside one transaction and commits if it returns `Ok`.
    ///
    /// # Behavior
    ///
    /// - All writes made through the [`Tx`] commit atomically when `f` returns `Ok(())`; when
    ///   `f` returns `Err`, none of them is visible, ever, and the error is returned unchanged.
    /// - Isolation: what the engine relies on is written per method. The hot paths (intake,
    ///   routing, delivery) need no more than READ COMMITTED: invariants are `UNIQUE`
    ///   constraints, contacts are an insert-if-absent
    ///   ([`ContactRepo::insert_contact_if_absent`]), caps, budgets and rate limits are taken
    ///   by one conditional update ([`CapacityRepo::try_consume`]), outbox rows are claimed
    ///   with leases, and no statement is expected to fail and be survived (PostgreSQL aborts
    ///   the transaction on any error). Beyond that, a transaction that reads a row and
    ///   writes it back must not lose a concurrent writer's update (the conformance check
    ///   `transactions_are_serializable`): an adapter serializes writers (SQLite takes the
    ///   write lock at `BEGIN IMMEDIATE`) or runs them SERIALIZABLE and calls `f` again on a
    ///   serialization failure.
    /// - The adapter may call `f` more than once if the backend reports a transient conflict
    ///   before anything was committed; `f` must therefore have no side effects outside the
    ///   transaction.
    /// - Not reentrant: calling `transaction` on the same store from inside `f` blocks
    ///   forever. Use the [`Tx`] you were given.
    /// - Times are kept to the microsecond; finer precision may be truncated.
    ///
    /// # Errors
    ///
    /// Whatever `f` returns, or [`StorageError`] (wrapped in [`Error`]) when the backend fails
    /// to begin or commit.
    fn transaction(&self, f: &mut dyn FnMut(&dyn Tx) -> Result<(), Error>) -> Result<(), Error>;
}

/// Runs `f` in a transaction of `store` and returns its value (see [`Store::transaction`]).
///
/// # Errors
///
/// As [`Store::transaction`].
pub fn with_tx<T>(
    store: &dyn Store,
    mut f: impl FnMut(&dyn Tx) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut out = None;
    store.transaction(&mut |tx| {
        out = Some(f(tx)?);
        Ok(())
    })?;
    out.ok_or_else(|| Error::Internal("transaction committed without a result".into()))
}

/// Everything a transaction can write and read: the repository traits, plus a view of the
/// [`Reports`] (which are not among its methods).
pub trait Tx:
    ProviderRepo
    + WorkspaceRepo
    + RuleRepo
    + RecordRepo
    + ContactRepo
    + LeadRepo
    + AppointmentRepo
    + OutboxRepo
    + BillingRepo
    + EventRepo
    + CapacityRepo
    + RoutingStateRepo
    + EndpointRepo
    + WebhookConfigRepo
    + IntakeRepo
    + ReturnRepo
    + BookingRepo
    + ContactQueueRepo
    + SuppressionRepo
    + MessageRepo
{
    /// The store's reports, read in this transaction (see [`Reports`]).
    fn reports(&self) -> &dyn Reports;
}

impl<T> Tx for T
where
    T: ProviderRepo
        + WorkspaceRepo
        + RuleRepo
        + RecordRepo
        + ContactRepo
        + LeadRepo
        + AppointmentRepo
        + OutboxRepo
        + BillingRepo
        + EventRepo
        + CapacityRepo
        + RoutingStateRepo
        + EndpointRepo
        + WebhookConfigRepo
        + IntakeRepo
        + ReturnRepo
        + BookingRepo
        + ContactQueueRepo
        + SuppressionRepo
        + MessageRepo
        + Reports,
{
    fn reports(&self) -> &dyn Reports {
        self
    }
}

/// Lead source providers (`lead_source_providers`).
pub trait ProviderRepo {
    /// Inserts or replaces the provider with `provider.id`.
    ///
    /// # Behavior
    ///
    /// Upsert by id; every field is replaced.
    fn put_provider(&self, provider: &Provider) -> Result<(), StorageError>;
    /// The provider with this id.
    ///
    /// # Behavior
    ///
    /// `Ok(None)` when there is none.
    fn provider(&self, id: &str) -> Result<Option<Provider>, StorageError>;
    /// All providers, ordered by id.
    fn providers(&self) -> Result<Vec<Provider>, StorageError>;
}

/// Client workspaces (`workspaces`).
pub trait WorkspaceRepo {
    /// Inserts or replaces the workspace with `workspace.id`.
    ///
    /// # Behavior
    ///
    /// Upsert by id; every field is replaced.
    fn put_workspace(&self, workspace: &Workspace) -> Result<(), StorageError>;
    /// The workspace with this id.
    ///
    /// # Behavior
    ///
    /// `Ok(None)` when there is none.
    fn workspace(&self, id: &str) -> Result<Option<Workspace>, StorageError>;
    /// All workspaces, ordered by id.
    fn workspaces(&self) -> Result<Vec<Workspace>, StorageError>;
}

/// Routing rules (`appointment_routing_rules`).
pub trait RuleRepo {
    /// Inserts or replaces the rule with `rule.id`.
    ///
    /// # Behavior
    ///
    /// Upsert by id. The rule's workspace must exist ([`StorageErrorKind::Conflict`] otherwise).
    fn put_rule(&self, rule: &RoutingRule) -> Result<(), StorageError>;
    /// All rules, active or not, ordered by id.
    fn rules(&self) -> Result<Vec<RoutingRule>, StorageError>;
}

/// Stored outcomes of source records: the idempotency of intake, and rejections.
pub trait RecordRepo {
    /// What the record `(provider_id, record_key)` already became, if it was ingested before.
    ///
    /// # Behavior
    ///
    /// Looks in leads and rejections; `Ok(None)` when the key is new.
    fn stored_record(
        &self,
        provider_id: &str,
        record_key: &str,
    ) -> Result<Option<StoredRecord>, StorageError>;
    /// Stores a rejection with its reason codes and raw payload.
    ///
    /// # Behavior
    ///
    /// [`StorageErrorKind::Conflict`] when `(provider_id, record_key)` is already stored, as a lead
    /// or as a rejection.
    fn insert_rejection(&self, rejection: &NewRejection) -> Result<RejectionId, StorageError>;
    /// Stored rejections not yet reprocessed into a lead that match `filter`, with
    /// `id > after`, by id, at most `limit`.
    ///
    /// # Behavior
    ///
    /// `filter.reason` matches a rejection carrying that code among its `reason_codes`;
    /// `from <= received_at < to`. Rejections with a `lead_id` are left out.
    fn rejections(
        &self,
        filter: &RejectionFilter,
        after: RejectionId,
        limit: usize,
    ) -> Result<Vec<StoredRejection>, StorageError>;
    /// Frees the record key a rejection holds (its `source_records` claim), so that the
    /// record can be stored again as a lead in the same transaction.
    ///
    /// # Behavior
    ///
    /// Deletes the `(provider_id, record_key)` claim only while it points to this
    /// rejection. [`StorageErrorKind::Conflict`] when it does not (the rejection does not
    /// exist or was already reprocessed into a lead).
    fn release_rejection(&self, id: RejectionId) -> Result<(), StorageError>;
    /// Notes that a rejection was reprocessed at `at`: into `lead` when it was accepted, or
    /// still rejected (`None`).
    ///
    /// # Behavior
    ///
    /// Sets `reprocessed_at` (and `lead_id`). [`StorageErrorKind::Conflict`] when the
    /// rejection does not exist.
    fn mark_rejection_reprocessed(
        &self,
        id: RejectionId,
        lead: Option<LeadId>,
        at: Timestamp,
    ) -> Result<(), StorageError>;
}

/// What an insert-if-absent found: a row it created, or the row that already held the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted<T> {
    /// Stored now.
    Created(T),
    /// Already stored (by an earlier record or a concurrent writer); nothing was written.
    Existing(T),
}

impl<T> Inserted<T> {
    /// The id, created or existing.
    pub fn id(self) -> T {
        match self {
            Inserted::Created(id) | Inserted::Existing(id) => id,
        }
    }
}

/// Contacts (`contacts`).
pub trait ContactRepo {
    /// The contact with this phone in this scope.
    ///
    /// # Behavior
    ///
    /// `Ok(None)` when there is none.
    fn contact_by_phone(
        &self,
        dedup_scope: &str,
        phone_e164: &str,
    ) -> Result<Option<Contact>, StorageError>;
    /// The oldest contact (lowest id) in this scope with this email key, with or without a
    /// phone.
    ///
    /// # Behavior
    ///
    /// `Ok(None)` when there is none.
    fn contact_by_email_key(
        &self,
        dedup_scope: &str,
        email_key: &str,
    ) -> Result<Option<Contact>, StorageError>;
    /// The contact with this id.
    ///
    /// # Behavior
    ///
    /// `Ok(None)` when there is none.
    fn contact(&self, id: ContactId) -> Result<Option<Contact>, StorageError>;
    /// Stores a new contact unless one with the same key exists in its scope: the same
    /// `(dedup_scope, phone_e164)`, or, for a contact without a phone, another contact
    /// without a phone with the same `(dedup_scope, email_key)`. Returns
    /// [`Inserted::Created`] with the new id, or [`Inserted::Existing`] with the stored
    /// contact's id (nothing written).
    ///
    /// # Behavior
    ///
    /// Insert-if-absent in one step, backed by `UNIQUE` constraints: a contact committed by
    /// another writer after this transaction began is found, not duplicated, and no
    /// statement fails, so the transaction stays usable on every database (SQL: `INSERT ...
    /// ON CONFLICT DO NOTHING`, then a read of the winner, which READ COMMITTED sees once it
    /// committed). A contact needs a phone or an email key ([`StorageErrorKind::Conflict`]
    /// otherwise).
    fn insert_contact_if_absent(
        &self,
        contact: &NewContact,
    ) -> Result<Inserted<ContactId>, StorageError>;
    /// Replaces a contact's stored fields with `contact`'s (`dedup_scope` and `created_at`
    /// are kept).
    ///
    /// # Behavior
    ///
    /// The same uniqueness as [`ContactRepo::insert_contact_if_absent`] holds afterwards
    /// ([`StorageErrorKind::Conflict`] otherwise, e.g. when the new phone is another contact's);
    /// `Conflict` when the contact does not exist.
    fn update_contact(&self, id: ContactId, contact: &NewContact) -> Result<(), StorageError>;
}

/// Leads (`leads`).
pub trait LeadRepo {
    /// Stores a lead with its decided status (the engine routes before it stores the lead).
    /// The history is `None -> new` at `lead.received_at`, then, unless `status` is
    /// [`LeadStatus::New`], `new -> status` with `reason` at `at`: the same rows as storing
    /// the lead at `new` and then calling [`set_lead_status`](LeadRepo::set_lead_status).
    ///
    /// # Behavior
    ///
    /// [`StorageErrorKind::Conflict`] when `(provider_id, record_key)` is already stored, as
    /// a lead or as a rejection (a `UNIQUE` constraint across both, so two writers cannot
    /// both store one key), when the contact does not exist, or when `duplicate_of` names a
    /// lead that does not exist.
    fn insert_lead_as(
        &self,
        lead: &NewLead,
        status: LeadStatus,
        reason: Option<&str>,
        at: Timestamp,
    ) -> Result<LeadId, StorageError>;
    /// The lead with this id.
    ///
    /// # Behavior
    ///
    /// `Ok(None)` when there is none.
    fn lead(&self, id: LeadId) -> Result<Option<Lead>, StorageError>;
    /// The most recently received original (non-duplicate) lead of a contact for a product.
    ///
    /// # Behavior
    ///
    /// Latest `received_at`, then highest id; leads with `duplicate_of` set are ignored;
    /// `product_type` matches exactly. `Ok(None)` when there is none.
    fn latest_original_lead(
        &self,
        contact_id: ContactId,
        product_type: &str,
    ) -> Result<Option<Lead>, StorageError>;
    /// Gives a lead its appointment time (a booking: the lead came in without one).
    ///
    /// # Behavior
    ///
    /// Sets `leads.appointment_date` (UTC). [`StorageErrorKind::Conflict`] when the lead
    /// does not exist.
    fn set_lead_appointment_date(&self, lead_id: LeadId, at: Timestamp)
        -> Result<(), StorageError>;
    /// Sets a lead's status (`leads.status`) and appends the change to
    /// `lead_status_history`.
    ///
    /// # Behavior
    ///
    /// [`insert_lead_as`](LeadRepo::insert_lead_as) starts a lead at `new` with a first
    /// history row (`from_status` `None`). Setting the status it already has changes nothing and appends
    /// nothing. [`StorageErrorKind::Conflict`] when the lead does not exist.
    fn set_lead_status(
        &self,
        lead_id: LeadId,
        status: LeadStatus,
        reason: Option<&str>,
        at: Timestamp,
    ) -> Result<(), StorageError>;
    /// The lead's status changes, oldest first; empty when the lead does not exist.
    fn lead_status_history(&self, lead_id: LeadId) -> Result<Vec<LeadStatusChange>, StorageError>;
}

/// Appointments (`appointments`).
pub trait AppointmentRepo {
    /// Stores an appointment with `forward_status = pending` and no attempts.
    ///
    /// # Behavior
    ///
    /// [`StorageErrorKind::Conflict`] when the lead already has an appointment, or when the lead,
    /// contact or routed workspace does not exist (an adapter with foreign keys checks all
    /// three; the in-memory store checks the lead).
    fn insert_appointment(
        &self,
        appointment: &NewAppointment,
    ) -> Result<AppointmentId, StorageError>;
    /// The appointment with this id, with its delivery state.
    ///
    /// # Behavior
    ///
    /// `Ok(None)` when there is none.
    fn appointment(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError>;
    /// The appointment of this lead, if it has one.
    fn appointment_for_lead(&self, lead_id: LeadId) -> Result<Option<Appointment>, StorageError>;
    /// Sets the delivery state kept on the appointment.
    ///
    /// # Behavior
    ///
    /// Replaces `forward_status`, `forward_attempts`, `forwarded_at` and `forward_response`.
    /// [`StorageErrorKind::Conflict`] when the appointment does not exist.
    fn update_forward(
        &self,
        id: AppointmentId,
        status: ForwardStatus,
        attempts: u32,
        forwarded_at: Option<Timestamp>,
        response: Option<&str>,
    ) -> Result<(), StorageError>;
    /// Up to `limit` appointments with an id above `after`, by id (a page of all of them).
    fn appointments_after(
        &self,
        after: AppointmentId,
        limit: usize,
    ) -> Result<Vec<Appointment>, StorageError>;
    /// The unrouted queue: up to `limit` unrouted appointments with an id above `after`, by
    /// id (oldest first; page with the last id seen).
    fn unrouted_appointments(
        &self,
        after: AppointmentId,
        limit: usize,
    ) -> Result<Vec<Appointment>, StorageError>;
    /// Routes an unrouted appointment (from the queue, or by hand).
    ///
    /// # Behavior
    ///
    /// `assignment` must be [`Assignment::Routed`]; the appointment must exist and be
    /// unrouted. [`StorageErrorKind::Conflict`] otherwise (an appointment is routed at most once;
    /// a routed one is never silently moved), or when the workspace does not exist.
    fn assign_appointment(
        &self,
        id: AppointmentId,
        assignment: &Assignment,
    ) -> Result<(), StorageError>;
    /// Moves a routed or unrouted appointment to a new assignment (a reassignment after a
    /// return or a failed delivery), resetting its forward state to pending.
    ///
    /// # Behavior
    ///
    /// Unconditional on the current assignment, unlike
    /// [`assign_appointment`](Self::assign_appointment); `forward_status = pending`, `forward_attempts = 0`,
    /// `forwarded_at` and `forward_response` cleared. [`StorageErrorKind::Conflict`] when the
    /// appointment does not exist, or the assignment is routed to a workspace that does not.
    fn reassign_appointment(
        &self,
        id: AppointmentId,
        assignment: &Assignment,
    ) -> Result<(), StorageError>;
    /// Writes a lifecycle change (status, start, end, reschedule count, outcome,
    /// cancellation reason, `reschedule_requested`, `status_changed_at = update.at`).
    ///
    /// # Behavior
    ///
    /// A compare-and-set: written only when the stored status and reschedule count equal
    /// `update.expected_status` and `update.expected_reschedule_count` (one conditional
    /// `UPDATE`); otherwise [`StorageErrorKind::Conflict`] (a concurrent change, or no such
    /// appointment), and nothing is written. `appointment_date` takes `life.start` and
    /// `end_time` takes `life.end`.
    fn update_lifecycle(
        &self,
        id: AppointmentId,
        update: &LifecycleUpdate,
    ) -> Result<(), StorageError>;
    /// Replaces the appointment's seed details (end time, duration, type, location, notes,
    /// next action, Cal.com uid).
    ///
    /// # Behavior
    ///
    /// Writes every field of `details` (`None` clears). [`StorageErrorKind::Conflict`] when
    /// the appointment does not exist.
    fn set_appointment_details(
        &self,
        id: AppointmentId,
        details: &AppointmentDetails,
    ) -> Result<(), StorageError>;
}

/// The delivery outbox (`deliveries`, `delivery_attempts`).
pub trait OutboxRepo {
    /// Enqueues a delivery with status pending and no attempts.
    ///
    /// # Behavior
    ///
    /// [`StorageErrorKind::Conflict`] when the appointment already has a delivery with this
    /// `sequence` (`UNIQUE (appointment_id, sequence)`) or does not exist, or when
    /// `webhook_id` is taken.
    fn enqueue_delivery(&self, delivery: &NewDelivery) -> Result<DeliveryId, StorageError>;
    /// Claims up to `limit` due deliveries for one worker until `lease_until`.
    ///
    /// # Behavior
    ///
    /// A delivery is due when its status is pending, `next_attempt_at <= now`, it is not
    /// leased (`locked_until` is unset or `<= now`), and no delivery of the same appointment
    /// with a lower `sequence` is pending (so the events of one appointment go out in order,
    /// across retries and workers; a failed or delivered predecessor does not block). Claimed rows get `locked_until =
    /// lease_until` and are returned oldest due first (then lowest id). While the lease holds,
    /// no other claim, in this process or another, returns them; when it expires (the worker
    /// died) they are due again. Two concurrent claims never return the same row, under
    /// READ COMMITTED: the claim selects and leases its rows in one statement that locks them
    /// (a conditional `UPDATE ... RETURNING`, or `SELECT ... FOR UPDATE SKIP LOCKED`).
    fn claim_due_deliveries(
        &self,
        now: Timestamp,
        limit: usize,
        lease_until: Timestamp,
    ) -> Result<Vec<Delivery>, StorageError>;
    /// Records one attempt and moves the delivery to its next state.
    ///
    /// # Behavior
    ///
    /// Inserts the attempt row (`UNIQUE (delivery_id, attempt_number)`), sets the delivery's
    /// `attempts` to `attempt.attempt_number`, clears its lease, and sets status and
    /// `next_attempt_at` from `result` (success, pending at the new time, or failed). Billing is
    /// not written here: the caller writes it through [`BillingRepo`] in the same transaction.
    /// [`StorageErrorKind::Conflict`] when the delivery does not exist or the attempt number is
    /// already recorded.
    fn record_attempt(&self, attempt: &Attempt, result: &AttemptResult)
        -> Result<(), StorageError>;
    /// Puts a claimed delivery back without an attempt, due again at `next_attempt_at`
    /// (its endpoint is paused, disabled or inactive).
    ///
    /// # Behavior
    ///
    /// Sets `next_attempt_at`, clears the lease; status and attempts are unchanged.
    /// [`StorageErrorKind::Conflict`] when the delivery does not exist.
    fn defer_delivery(
        &self,
        id: DeliveryId,
        next_attempt_at: Timestamp,
    ) -> Result<(), StorageError>;
    /// Makes every pending delivery of a workspace due at `at` (its endpoint was re-enabled).
    /// Returns how many.
    fn resume_workspace_deliveries(
        &self,
        workspace_id: &str,
        at: Timestamp,
    ) -> Result<u64, StorageError>;
    /// The delivery with this id.
    ///
    /// # Behavior
    ///
    /// `Ok(None)` when there is none.
    fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>, StorageError>;
    /// All attempts of a delivery, by attempt number.
    fn attempts(&self, delivery_id: DeliveryId) -> Result<Vec<Attempt>, StorageError>;
    /// All deliveries of an appointment, by `sequence`.
    fn deliveries_for_appointment(
        &self,
        appointment_id: AppointmentId,
    ) -> Result<Vec<Delivery>, StorageError>;
    /// Queues a failed or waiting delivery again, due at `at`, with the same `webhook-id`.
    ///
    /// # Behavior
    ///
    /// A failed or pending delivery becomes pending, due at `at`, unleased, with
    /// `retry_base = attempts` (its retry schedule starts over; attempt numbers go on).
    /// Returns the updated row; `None` when it does not exist. [`StorageErrorKind::Conflict`]
    /// when it was delivered (status success).
    fn redeliver(&self, id: DeliveryId, at: Timestamp) -> Result<Option<Delivery>, StorageError>;
}

/// Billing events (`billing_events`).
pub trait BillingRepo {
    /// Stores a billing event unless the appointment already has one of the same kind for
    /// the same workspace.
    ///
    /// # Behavior
    ///
    /// Returns `Some(id)` when written and `None` when `(appointment_id, workspace_id, kind)`
    /// already exists (exactly-once billing per workspace the appointment was delivered to; a
    /// `UNIQUE` constraint backs it). [`StorageErrorKind::Conflict`] when
    /// the appointment does not exist.
    fn insert_billing_event(
        &self,
        event: &NewBillingEvent,
    ) -> Result<Option<BillingEventId>, StorageError>;
    /// The appointment's billing event of this kind for this workspace, if any.
    fn billing_event(
        &self,
        appointment_id: AppointmentId,
        workspace_id: &str,
        kind: BillingKind,
    ) -> Result<Option<NewBillingEvent>, StorageError>;
    /// Every billing event of an appointment, in the order written.
    fn billing_events_for(
        &self,
        appointment_id: AppointmentId,
    ) -> Result<Vec<NewBillingEvent>, StorageError>;
}

/// Returns of delivered appointments (`appointment_returns`).
pub trait ReturnRepo {
    /// Stores a return unless the workspace already returned the appointment.
    ///
    /// # Behavior
    ///
    /// Insert-if-absent on `UNIQUE (appointment_id, workspace_id)`: `Existing(id)` when a
    /// return exists (whatever its status). [`StorageErrorKind::Conflict`] when the
    /// appointment does not exist.
    fn insert_return(&self, ret: &NewReturn) -> Result<Inserted<ReturnId>, StorageError>;
    /// A return by id.
    fn return_record(&self, id: ReturnId) -> Result<Option<ReturnRecord>, StorageError>;
    /// The workspace's return of an appointment, if any.
    fn return_for(
        &self,
        appointment_id: AppointmentId,
        workspace_id: &str,
    ) -> Result<Option<ReturnRecord>, StorageError>;
    /// Approves or denies a pending return.
    ///
    /// # Behavior
    ///
    /// One conditional update: only a `pending` return moves to `status` (with
    /// `decided_at = at` and the note). Returns `true` when it moved, `false` when it was
    /// not pending (decided already, by this caller or a concurrent one).
    /// [`StorageErrorKind::Conflict`] when it does not exist.
    fn decide_return(
        &self,
        id: ReturnId,
        status: ReturnStatus,
        at: Timestamp,
        note: Option<&str>,
    ) -> Result<bool, StorageError>;
    /// The workspace's returns and charges in `[from, to)` (UTC), for the period maximum:
    /// `(pending and approved returns requested in the period, charges written in it)`.
    fn return_counts(
        &self,
        workspace_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<(u64, u64), StorageError>;
}

/// Cal.com booking webhooks (`calcom_booking_events`, `calcom_booking_links`).
pub trait BookingRepo {
    /// Stores a received booking event unless its (webhook, event key) is stored.
    ///
    /// # Behavior
    ///
    /// Insert-if-absent on `UNIQUE (webhook_id, event_key)`: `Existing(id)` for a retried
    /// delivery.
    fn insert_booking_event(&self, event: &NewBookingEvent) -> Result<Inserted<i64>, StorageError>;
    /// Links a booking uid to the appointment it belongs to (the uid lineage).
    ///
    /// # Behavior
    ///
    /// Insert-if-absent on `UNIQUE (uid)` (the HVAC seed's unique `cal_booking_uid`):
    /// `Existing(owner)` when the uid already belongs to an appointment (possibly another).
    /// [`StorageErrorKind::Conflict`] when the appointment does not exist.
    fn link_booking_uid(
        &self,
        uid: &str,
        appointment_id: AppointmentId,
    ) -> Result<Inserted<AppointmentId>, StorageError>;
    /// The appointment a booking uid belongs to.
    fn booking_appointment(&self, uid: &str) -> Result<Option<AppointmentId>, StorageError>;
    /// Every uid linked to an appointment, sorted.
    fn booking_uids(&self, appointment_id: AppointmentId) -> Result<Vec<String>, StorageError>;
    /// The booking events whose `uid` or `reschedule_uid` is among `uids`, by id.
    fn booking_events(&self, uids: &[String]) -> Result<Vec<BookingEvent>, StorageError>;
}

/// Audit events (`contact_events`, `lead_events`, `appointment_events`).
pub trait EventRepo {
    /// Appends one event to the table of its subject.
    ///
    /// # Behavior
    ///
    /// An adapter with foreign keys refuses an event whose subject row does not exist
    /// ([`StorageErrorKind::Conflict`]).
    fn append_event(&self, event: &NewEvent) -> Result<(), StorageError>;
    /// Appends several events: as [`append_event`](EventRepo::append_event) for each, with
    /// the order kept among the events of one subject row.
    ///
    /// # Behavior
    ///
    /// On an error, events before the failing one may be stored; the caller's transaction
    /// rolls back. An adapter may write them in fewer statements (e.g. one multi-row
    /// `INSERT` per table).
    fn append_events(&self, events: &[NewEvent]) -> Result<(), StorageError> {
        for e in events {
            self.append_event(e)?;
        }
        Ok(())
    }
    /// Events of one subject row, in insertion order.
    fn events(&self, subject: EventSubject, subject_id: i64)
        -> Result<Vec<NewEvent>, StorageError>;
}

/// One counter a [`CapacityRepo::try_consume`] takes from, with the limits that must still
/// hold after the take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterLimit {
    /// The counter's key (`capacity::counter_key`, or `rate:{kind}:{id}:{window}` for rate
    /// limits).
    pub key: String,
    /// The most the count may reach; `None`: no count limit.
    pub max_count: Option<i64>,
    /// The most the amount may reach, in cents; `None`: no amount limit.
    pub max_amount: Option<Cents>,
}

/// Counters of capacity (appointments and cents per cap window of a workspace or rule) and of
/// rate limits (requests per window). Keys come from `capacity::counter_key` and the intake
/// wall.
pub trait CapacityRepo {
    /// The count and amount recorded under `key`; `(0, Cents(0))` when none.
    ///
    /// # Behavior
    ///
    /// A plain read: under READ COMMITTED it may be stale by the time the transaction
    /// writes. Use it to explain decisions (the routing trace), never to decide whether a
    /// take fits: that is [`try_consume`](CapacityRepo::try_consume).
    fn counter(&self, key: &str) -> Result<(i64, Cents), StorageError>;
    /// Takes `count` and `amount` from every counter in `limits` if, after the take, each
    /// stays within its `max_count` and `max_amount`; otherwise takes nothing. Returns
    /// whether it took. Missing counters start at zero.
    ///
    /// # Behavior
    ///
    /// Atomic against concurrent transactions at any isolation level: two transactions
    /// racing for the last unit never both get `true`. A database adapter checks and adds in
    /// one conditional statement per counter (`UPDATE ... SET count = count + $n WHERE
    /// count + $n <= $max`, which takes the row lock and re-checks after waiting), and undoes
    /// its earlier counters in the same transaction when a later one refuses. The caller's
    /// transaction may go on after `false`.
    fn try_consume(
        &self,
        limits: &[CounterLimit],
        count: i64,
        amount: Cents,
    ) -> Result<bool, StorageError>;
    /// Adds to the counter under `key` without a limit, creating it at zero first; negative
    /// deltas give capacity back (a return).
    ///
    /// # Behavior
    ///
    /// One atomic statement (an upsert adding to the stored values), so concurrent writers'
    /// adds are never lost.
    fn add_to_counter(&self, key: &str, count: i64, amount: Cents) -> Result<(), StorageError>;
    /// The counters whose keys lie in `[from_key, to_key)` (byte order), with their counts,
    /// ordered by key; counters at zero may be left out.
    ///
    /// # Behavior
    ///
    /// One range read over the key index (booking slots keep one counter per slot, keyed so
    /// that key order is time order).
    fn counters_in_range(
        &self,
        from_key: &str,
        to_key: &str,
    ) -> Result<Vec<(String, i64)>, StorageError>;
}

/// Persisted tie-break state of a routing rule, so that restarts keep round-robin fairness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RuleRoutingState {
    /// Smooth weighted round-robin's current weight.
    pub current_weight: i64,
    /// When the rule last won an appointment (UTC).
    pub last_routed_at: Option<Timestamp>,
}

/// Tie-break state of routing rules (`routing_rule_state`).
pub trait RoutingStateRepo {
    /// The rule's state; the default (zero, never routed) when none is stored.
    fn rule_routing_state(&self, rule_id: i64) -> Result<RuleRoutingState, StorageError>;
    /// Stores the rule's state (upsert).
    fn put_rule_routing_state(
        &self,
        rule_id: i64,
        state: &RuleRoutingState,
    ) -> Result<(), StorageError>;
}

/// Health of workspace webhook endpoints (`endpoint_health`).
pub trait EndpointRepo {
    /// The endpoint's health; the default (healthy) when none is stored.
    fn endpoint_health(&self, workspace_id: &str) -> Result<EndpointHealth, StorageError>;
    /// Stores the endpoint's health (upsert).
    fn put_endpoint_health(
        &self,
        workspace_id: &str,
        health: &EndpointHealth,
    ) -> Result<(), StorageError>;
}

/// Inbound webhook configurations (`webhook_configs`).
pub trait WebhookConfigRepo {
    /// Inserts or replaces the configuration with this id.
    fn put_webhook_config(&self, config: &WebhookConfig) -> Result<(), StorageError>;
    /// All configurations, ordered by id.
    fn webhook_configs(&self) -> Result<Vec<WebhookConfig>, StorageError>;
}

/// Intake bookkeeping: replay protection of signed inbound messages and per-day provider
/// usage (`inbound_messages`, `provider_usage_log`, and the `total_leads` / `last_lead_at`
/// columns of `lead_source_providers`).
pub trait IntakeRepo {
    /// Records that the signed message `message_id` was accepted in `scope` (the inbound
    /// webhook or provider it came through).
    ///
    /// # Behavior
    ///
    /// Returns `true` if the (scope, id) pair is new, `false` if it was already recorded; a
    /// `UNIQUE (scope, message_id)` constraint backs it, so two processes cannot both see it
    /// as new.
    fn remember_message(
        &self,
        scope: &str,
        message_id: &str,
        at: Timestamp,
    ) -> Result<bool, StorageError>;
    /// Adds `delta`'s counts to the row of (`provider_id`, `webhook_id`, `day`), creating it
    /// at zero first, and moves `last_lead_at` forward when `delta` has a later one.
    ///
    /// # Behavior
    ///
    /// One row per (provider, webhook, day) (`UNIQUE`). The provider's `total_leads` grows by
    /// `delta.total_leads` and its `last_lead_at` moves forward likewise, in the same
    /// transaction.
    fn add_usage(&self, delta: &ProviderUsage) -> Result<(), StorageError>;
}

/// The contact queue (`contact_queue`, `contact_attempts`).
pub trait ContactQueueRepo {
    /// Puts a lead in the queue as `pending` unless it is there.
    ///
    /// # Behavior
    ///
    /// Insert-if-absent on `UNIQUE (lead_id)`. [`StorageErrorKind::Conflict`] when the lead
    /// does not exist.
    fn enqueue_contact(&self, entry: &NewQueueEntry) -> Result<Inserted<LeadId>, StorageError>;
    /// Claims up to `limit` due entries for `worker` until `lease_until`, oldest due first.
    ///
    /// # Behavior
    ///
    /// Due: status `pending` or `no_answer`, `next_attempt_at <= now`, and not leased
    /// (`locked_until` unset or `<= now`); a leased `attempting` entry whose lease expired
    /// (its worker died) is due again too. Claimed rows become `attempting` with the worker
    /// and the lease, in one statement that locks them (a conditional `UPDATE ... RETURNING`,
    /// or `FOR UPDATE SKIP LOCKED`): two concurrent claims never return the same entry.
    /// Ordered by `next_attempt_at`, then lead id.
    fn claim_contacts(
        &self,
        now: Timestamp,
        limit: usize,
        lease_until: Timestamp,
        worker: &str,
    ) -> Result<Vec<QueueEntry>, StorageError>;
    /// Puts a claimed entry back without an attempt, due at `next_attempt_at`, with the
    /// reason it is held (quiet hours, unknown zone, the 24-hour limit, suppression); a
    /// `status` ends it instead (e.g. `do_not_contact`).
    ///
    /// # Behavior
    ///
    /// Clears the lease and the worker; sets `next_attempt_at`, `hold_reason` and the status
    /// (`pending` unless given). [`StorageErrorKind::Conflict`] when the lead is not queued.
    fn defer_contact(
        &self,
        lead_id: LeadId,
        next_attempt_at: Timestamp,
        hold_reason: Option<&str>,
        status: Option<ContactStatus>,
    ) -> Result<(), StorageError>;
    /// Records an attempt and moves the entry on.
    ///
    /// # Behavior
    ///
    /// Inserts the attempt (`UNIQUE (lead_id, attempt_number)`), sets `attempts =
    /// attempt_number`, `last_attempt_at`, the status and `next_attempt_at` from `update`,
    /// clears the lease, worker and hold reason. [`StorageErrorKind::Conflict`] when the
    /// lead is not queued or the attempt number is recorded.
    fn record_contact_attempt(
        &self,
        attempt: &ContactAttempt,
        update: &QueueUpdate,
    ) -> Result<(), StorageError>;
    /// The queue entry of a lead.
    fn contact_entry(&self, lead_id: LeadId) -> Result<Option<QueueEntry>, StorageError>;
    /// A lead's attempts, by number.
    fn contact_attempts(&self, lead_id: LeadId) -> Result<Vec<ContactAttempt>, StorageError>;
    /// The attempt times of every lead of `contact_id`, after `since` (UTC), for the
    /// per-24-hour state limits ("on the same subject": the same person).
    fn contact_attempt_times(
        &self,
        contact_id: ContactId,
        since: Timestamp,
    ) -> Result<Vec<Timestamp>, StorageError>;
}

/// The suppression list (`suppression_list`).
pub trait SuppressionRepo {
    /// Adds a number (or its hash) unless its hash is listed.
    ///
    /// # Behavior
    ///
    /// Insert-if-absent on `UNIQUE (phone_sha256)`; returns `true` when added.
    fn suppress(&self, entry: &Suppression) -> Result<bool, StorageError>;
    /// Whether the number's hash is listed (the caller hashes the E.164 text).
    fn is_suppressed(&self, phone_sha256: &str) -> Result<bool, StorageError>;
    /// How many entries the list has.
    fn suppression_count(&self) -> Result<u64, StorageError>;
}

/// The scheduled-messages outbox (`scheduled_messages`, `message_logs`).
pub trait MessageRepo {
    /// Schedules a message (status pending, due at `send_at`).
    ///
    /// # Behavior
    ///
    /// [`StorageErrorKind::Conflict`] when the appointment does not exist.
    fn enqueue_message(&self, message: &NewMessage) -> Result<MessageId, StorageError>;
    /// Claims up to `limit` due messages until `lease_until`, oldest due first.
    ///
    /// # Behavior
    ///
    /// Due: pending, `next_try_at <= now`, unleased (or the lease expired). Leased in one
    /// statement that locks the rows, as [`OutboxRepo::claim_due_deliveries`].
    fn claim_due_messages(
        &self,
        now: Timestamp,
        limit: usize,
        lease_until: Timestamp,
    ) -> Result<Vec<Message>, StorageError>;
    /// Logs one try and moves the message on.
    ///
    /// # Behavior
    ///
    /// Inserts the log row (`UNIQUE (message_id, try_number)`), sets `tries`, clears the
    /// lease, and sets the status (or `next_try_at` for a retry).
    /// [`StorageErrorKind::Conflict`] when the message does not exist or the try is logged.
    fn record_message_try(&self, log: &MessageLog, next: MessageNext) -> Result<(), StorageError>;
    /// Cancels the appointment's pending messages of `kind` (all kinds when `None`).
    /// Returns how many.
    fn cancel_pending_messages(
        &self,
        appointment_id: AppointmentId,
        kind: Option<MessageKind>,
    ) -> Result<u64, StorageError>;
    /// The appointment's messages, by id.
    fn messages_for(&self, appointment_id: AppointmentId) -> Result<Vec<Message>, StorageError>;
    /// A message's log, by try number.
    fn message_logs(&self, message_id: MessageId) -> Result<Vec<MessageLog>, StorageError>;
}

/// One lead's way through the contact queue, for speed-to-lead metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactTimeline {
    /// The lead.
    pub lead_id: LeadId,
    /// When it was received (UTC).
    pub received_at: Timestamp,
    /// Its first attempt (UTC).
    pub first_attempt_at: Option<Timestamp>,
    /// Attempts made.
    pub attempts: u32,
    /// Where it stands.
    pub status: ContactStatus,
}

/// Reports and statistics over the whole store: not part of [`Tx`], so that no use case
/// computes them inside its writing transaction. Reach them with [`Tx::reports`] in a
/// transaction of their own (the engine's query methods do).
///
/// # Behavior
///
/// Reads only. A consistent snapshot is enough (READ COMMITTED within one statement, or the
/// transaction's snapshot); a report may run on a replica.
pub trait Reports {
    /// Row counts and the billed total (see [`StoreCounts`]).
    fn counts(&self) -> Result<StoreCounts, StorageError>;
    /// Charges and credits per workspace with `from <= created_at < to`, and the returns
    /// pending review requested in that range, ordered by workspace id; workspaces with
    /// none of them are left out.
    fn billing_summary(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<BillingSummaryRow>, StorageError>;
    /// The usage rows of a provider, ordered by day, then webhook id.
    fn provider_usage(&self, provider_id: &str) -> Result<Vec<ProviderUsage>, StorageError>;
    /// The provider's `total_leads` and `last_lead_at`; `(0, None)` when it has none.
    fn provider_totals(&self, provider_id: &str) -> Result<(u64, Option<Timestamp>), StorageError>;
    /// The queued leads received in `[from, to)` (UTC), with their first attempt, attempt
    /// count and status, ordered by lead id.
    fn contact_timelines(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ContactTimeline>, StorageError>;
}
