//! Booking: a lead becomes an appointment in a free slot of a workspace's calendar.
//!
//! A slot's bookings are a capacity counter (`slot:<workspace>:<start>`), taken with the
//! same one-statement conditional update as caps ([`CapacityRepo::try_consume`]), so two
//! bookings for the last place of a slot, in two threads or two processes, cannot both win:
//! one succeeds and the other gets `Conflict` with code `slot_taken`. A reschedule moves
//! the booking (the new slot is taken, the old one given back) and a cancellation frees it,
//! in the lifecycle's transaction. Intake of a ready appointment (`appointment_date`) for a
//! workspace with a calendar takes its slot too; a full slot makes the record a rejection
//! (`slot_taken`).

use super::audit::Audit;
use super::{gate, route, Engine, Step};
use crate::booking::{self, BookingError, FreeSlot, Slot, SlotGrid};
use crate::model::*;
use crate::status::{ContactStatus, LeadStatus};
use crate::storage::{with_tx, CounterLimit, StorageError, Tx};
use crate::zip::Zip5;
use crate::{Error, Result};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// What a booking did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Booked {
    /// The new appointment.
    pub appointment_id: AppointmentId,
    /// The lead.
    pub lead_id: LeadId,
    /// The workspace it is booked with (`None`: no workspace matched; the appointment waits
    /// in the unrouted queue).
    pub workspace_id: Option<String>,
    /// The slot taken, when the workspace has a calendar.
    pub slot: Option<Slot>,
}

/// Rounds of routing a booking may take while workspaces turn out to be full.
const MAX_BOOKING_ROUNDS: usize = 16;

impl Engine {
    /// The free slots of a workspace's calendar that start in `[from, to)` (UTC), with
    /// their remaining capacity, as of now (minimum lead time and horizon applied).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] (`unknown_workspace`) for a workspace without a calendar;
    /// storage errors.
    pub fn available_slots(
        &self,
        workspace_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<FreeSlot>> {
        let snap = self.snapshot();
        let grid = calendar_of(&snap, workspace_id)?;
        let slots = grid.slots(from, to, self.now());
        let Some(first) = slots.first() else {
            return Ok(Vec::new());
        };
        let last = slots.last().map_or(first.start, |s| s.start);
        let (lo, hi) = booking::slot_key_range(
            workspace_id,
            first.start,
            last + SignedDuration::from_secs(1),
        );
        let rows = with_tx(&*self.store, |tx| Ok(tx.counters_in_range(&lo, &hi)?))?;
        let used: Vec<(Timestamp, u32)> = rows
            .iter()
            .filter_map(|(k, n)| {
                let (w, at) = booking::parse_slot_counter_key(k)?;
                (w == workspace_id).then(|| (at, u32::try_from(*n).unwrap_or(0)))
            })
            .collect();
        Ok(booking::available_sorted(&slots, &used, grid.capacity()))
    }

    /// Books a lead into the slot starting at `start` (UTC), in one transaction: the
    /// appointment is created (its end `end`, else the slot's), routed and queued for
    /// delivery, its messages scheduled, the slot's capacity consumed, the lead `routed`
    /// and its contact-queue entry `scheduled`.
    ///
    /// With `workspace_id`, that workspace takes it (assigned by hand). Without, routing
    /// chooses among the matching workspaces that have room at that time (a workspace
    /// without a calendar always has).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown lead or workspace; [`BookingError`] for a start
    /// that is not a free slot of the workspace's calendar (`not_a_slot`, `too_soon`,
    /// `beyond_horizon`, `blackout`, `closed`, and `slot_taken` (`Conflict`) when it is
    /// full, or when no matching workspace has room); a `Conflict` storage error when the
    /// lead already has an appointment.
    pub fn book(
        &self,
        lead_id: LeadId,
        start: Timestamp,
        workspace_id: Option<&str>,
        end: Option<Timestamp>,
    ) -> Result<Booked> {
        let snap = self.snapshot();
        let at = self.now();
        with_tx(&*self.store, |tx| {
            let step = self.step(tx, &snap, at);
            let lead = tx.lead(lead_id)?.ok_or_else(|| Error::NotFound {
                entity: "lead",
                id: lead_id.to_string(),
            })?;
            if tx.appointment_for_lead(lead_id)?.is_some() {
                return Err(StorageError::conflict(format!(
                    "lead {lead_id} already has an appointment"
                ))
                .into());
            }
            let (assignment, slot) = match workspace_id {
                Some(w) => assign_by_hand(step, w, start)?,
                None => route_with_room(step, &lead, start)?,
            };
            let new_appt = NewAppointment {
                lead_id,
                contact_id: lead.lead.contact_id,
                service_type: lead.lead.product_type.clone(),
                zip_code: lead.lead.zip_code.clone(),
                appointment_date: start,
                estimated_value: lead.lead.estimated_value,
                notes: None,
                assignment: assignment.clone(),
                details: AppointmentDetails {
                    end_time: end.or(slot.map(|s| s.end)),
                    duration_minutes: end
                        .or(slot.map(|s| s.end))
                        .and_then(|e| u32::try_from(start.duration_until(e).as_secs() / 60).ok()),
                    ..Default::default()
                },
                created_at: at,
            };
            let appointment_id = tx.insert_appointment(&new_appt)?;
            tx.set_lead_appointment_date(lead_id, start)?;
            let stored = super::stored_appointment(tx, appointment_id)?;
            route::announce(step, &stored, &assignment)?;
            super::messages::schedule(step, appointment_id, &new_appt, true)?;
            if let Assignment::Unrouted { reason } = &assignment {
                tx.set_lead_status(lead_id, LeadStatus::Unrouted, Some(reason.code()), at)?;
            }
            if tx
                .contact_entry(lead_id)?
                .is_some_and(|e| !matches!(e.status, ContactStatus::Scheduled))
            {
                tx.defer_contact(lead_id, at, Some("booked"), Some(ContactStatus::Scheduled))?;
            }
            let workspace = stored.workspace_id().map(str::to_string);
            let audit = Audit::Booked {
                appointment_id,
                workspace_id: workspace.as_deref(),
                start,
                slot_taken: slot.is_some(),
            };
            tx.append_event(&audit.on(EventSubject::Lead, lead_id, at))?;
            Ok(Booked {
                appointment_id,
                lead_id,
                workspace_id: workspace,
                slot,
            })
        })
    }
}

/// The slot grid of a workspace.
fn calendar_of<'s>(snap: &'s super::Snapshot, workspace_id: &str) -> Result<&'s SlotGrid> {
    snap.slot_grids
        .get(workspace_id)
        .ok_or_else(|| Error::NotFound {
            entity: "workspace",
            id: format!("{workspace_id} (with a calendar)"),
        })
}

/// Takes one place of the slot (one conditional update). `false` when it is full.
pub(crate) fn take_slot(
    tx: &dyn Tx,
    grid: &SlotGrid,
    workspace_id: &str,
    slot: &Slot,
) -> Result<bool> {
    let limit = CounterLimit {
        key: booking::slot_counter_key(workspace_id, slot.start),
        max_count: Some(i64::from(grid.capacity())),
        max_amount: None,
    };
    Ok(tx.try_consume(&[limit], 1, Cents(0))?)
}

/// Gives one place of the slot starting at `start` back, if one is taken.
pub(crate) fn give_slot_back(tx: &dyn Tx, workspace_id: &str, start: Timestamp) -> Result<()> {
    let key = booking::slot_counter_key(workspace_id, start);
    if tx.counter(&key)?.0 > 0 {
        tx.add_to_counter(&key, -1, Cents(0))?;
    }
    Ok(())
}

/// A booking with a workspace named by the caller.
fn assign_by_hand(
    step: Step<'_>,
    workspace_id: &str,
    start: Timestamp,
) -> Result<(Assignment, Option<Slot>)> {
    let w = step
        .snap
        .workspaces
        .get(workspace_id)
        .ok_or_else(|| Error::NotFound {
            entity: "workspace",
            id: workspace_id.to_string(),
        })?;
    let slot = match step.snap.slot_grids.get(workspace_id) {
        Some(grid) => {
            let slot = grid.slot_at(start, step.at)?;
            if !take_slot(step.tx, grid, workspace_id, &slot)? {
                return Err(BookingError::SlotTaken { start }.into());
            }
            Some(slot)
        }
        None => None,
    };
    let assignment = Assignment::Routed {
        workspace_id: workspace_id.to_string(),
        rule_id: None,
        method: RoutingMethod::Manual,
        matched_at: step.at,
        payment_rate: w.payment_rate,
    };
    Ok((assignment, slot))
}

/// A booking routed to a matching workspace with room at `start`: each round routes with
/// the full workspaces excluded, then takes the winner's slot; a winner without room (full,
/// or `start` is not one of its slots) gives its capacity back and is excluded.
fn route_with_room(
    step: Step<'_>,
    lead: &Lead,
    start: Timestamp,
) -> Result<(Assignment, Option<Slot>)> {
    let product = step.snap.routing.catalog().lookup(&lead.lead.product_type);
    let zip = Zip5::parse(&lead.lead.zip_code);
    let (Some(product), Ok(zip)) = (product, zip) else {
        return Ok((
            Assignment::Unrouted {
                reason: UnroutedReason::UnknownProduct,
            },
            None,
        ));
    };
    let consent = lead.lead.tcpa_consent == Some(true);
    let mut excluded: Vec<String> = Vec::new();
    for _ in 0..MAX_BOOKING_ROUNDS {
        // The workspaces' hours are checked at the slot's start, not now.
        let routed = route::decide_open_at(step, product, zip, consent, &excluded, start)?;
        let Assignment::Routed {
            workspace_id,
            rule_id,
            payment_rate,
            matched_at,
            ..
        } = &routed.assignment
        else {
            if !excluded.is_empty() {
                return Err(BookingError::SlotTaken { start }.into());
            }
            return Ok((routed.assignment, None));
        };
        let Some(grid) = step.snap.slot_grids.get(workspace_id.as_str()) else {
            return Ok((routed.assignment.clone(), None));
        };
        if let Ok(slot) = grid.slot_at(start, step.at) {
            if take_slot(step.tx, grid, workspace_id, &slot)? {
                return Ok((routed.assignment.clone(), Some(slot)));
            }
        }
        gate::give_back(
            step.tx,
            step.snap,
            workspace_id,
            *rule_id,
            *payment_rate,
            *matched_at,
        )?;
        excluded.push(workspace_id.clone());
    }
    Err(StorageError::unavailable("workspaces kept filling up while booking").into())
}

/// Keeps an appointment's slot in step with a lifecycle change (in its transaction): a
/// cancellation gives the slot back; a new time takes the new slot and gives the old one
/// back. `strict` (API calls) refuses a new time that is not a free slot; a Cal.com
/// reconciliation (not strict) takes the slot when it can and never refuses.
///
/// # Errors
///
/// Strict: [`BookingError`] for a time that is not a slot, and `slot_taken` when it is
/// full; storage errors.
pub(crate) fn follow(
    step: Step<'_>,
    appt: &Appointment,
    before: &crate::lifecycle::Life,
    after: &crate::lifecycle::Life,
    strict: bool,
) -> Result<()> {
    let Some(workspace_id) = appt.workspace_id() else {
        return Ok(());
    };
    let Some(grid) = step.snap.slot_grids.get(workspace_id) else {
        return Ok(());
    };
    let old = grid.slot_containing(before.start);
    let was_live = before.status.is_live();
    if was_live && after.status == crate::status::AppointmentStatus::Cancelled {
        if let Some(s) = old {
            give_slot_back(step.tx, workspace_id, s.start)?;
        }
        return Ok(());
    }
    if before.start == after.start || !after.status.is_live() {
        return Ok(());
    }
    let new = if strict {
        Some(grid.slot_at(after.start, step.at)?)
    } else {
        grid.slot_containing(after.start)
    };
    if let Some(s) = new {
        if !take_slot(step.tx, grid, workspace_id, &s)? && strict {
            return Err(BookingError::SlotTaken { start: s.start }.into());
        }
    }
    if let Some(s) = old {
        give_slot_back(step.tx, workspace_id, s.start)?;
    }
    Ok(())
}
