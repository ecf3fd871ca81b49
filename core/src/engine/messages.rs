//! The scheduled-messages outbox: confirmations and reminders written with the appointment,
//! moved and cancelled with its life, sent through the embedder's transport.
//!
//! [`crate::messages`] plans; this module writes the plan in the transaction that creates,
//! books or changes the appointment (for a workspace with a
//! [`MessagePolicy`](crate::messages::MessagePolicy)), and sends due messages:
//! [`Engine::send_due_messages`] claims them with a lease, sends each outside any
//! transaction, and logs every try (`message_logs`: sent or failed with the provider's id or
//! the error) with the message's next state in one transaction. A message to a number on the
//! suppression list is not sent and is logged `suppressed`. A sender killed mid-batch leaves
//! its messages leased; they are claimed again when the lease expires (at least once), and
//! the killed try, never logged, is not counted.

use super::Engine;
use crate::lifecycle::Life;
use crate::messages::{self, MessageTransport, OutgoingMessage};
use crate::model::*;
use crate::quiet_hours;
use crate::status::{MessageKind, MessageStatus};
use crate::storage::with_tx;
use crate::suppression;
use crate::zip::Zip5;
use crate::Result;
use jiff::Timestamp;
use serde::Serialize;

/// What a [`Engine::send_due_messages`] call did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MessageReport {
    /// Messages tried.
    pub attempted: u64,
    /// Accepted by the transport.
    pub sent: u64,
    /// Failed and due again.
    pub retrying: u64,
    /// Failed for good.
    pub failed: u64,
    /// Not sent: the recipient is suppressed.
    pub suppressed: u64,
}

/// Schedules the messages of an appointment for its workspace's policy: the confirmation
/// (when `with_confirmation`) and the reminders, each moved out of the recipient's quiet
/// hours. Returns how many were written (none without a policy or a phone).
pub(crate) fn schedule(
    step: super::Step<'_>,
    appointment_id: AppointmentId,
    appt: &NewAppointment,
    with_confirmation: bool,
) -> Result<usize> {
    let Assignment::Routed { workspace_id, .. } = &appt.assignment else {
        return Ok(0);
    };
    let engine = step.engine;
    let Some(policy) = step
        .snap
        .workspaces
        .get(workspace_id.as_str())
        .and_then(|w| w.messages.as_ref())
    else {
        return Ok(0);
    };
    let Some(phone) = step
        .tx
        .contact(appt.contact_id)?
        .and_then(|c| c.contact.phone_e164)
    else {
        return Ok(0);
    };
    let zip = Zip5::parse(&appt.zip_code).ok();
    let zones = quiet_hours::call_zones(&engine.zips, engine.area_zones(), zip, Some(&phone));
    let rules = engine.contact_rules()?;
    let start = appt.appointment_date;
    let planned = messages::plan(policy, start, step.at, with_confirmation, |t| {
        quiet_hours::last_allowed_at_or_before(rules, &zones, t)
    });
    for p in &planned {
        step.tx.enqueue_message(&NewMessage {
            appointment_id,
            lead_id: appt.lead_id,
            kind: p.kind,
            to: phone.clone(),
            body: serde_json::json!({
                "kind": p.kind,
                "appointment_id": appointment_id,
                "workspace_id": workspace_id,
                "start": crate::payload::rfc3339(start),
                "service_type": appt.service_type,
                "offset_minutes": p.offset_minutes,
            }),
            send_at: p.send_at,
            created_at: step.at,
        })?;
    }
    Ok(planned.len())
}

/// Keeps an appointment's messages in step with a lifecycle change: an outcome (cancelled,
/// completed, no-show) cancels what is pending; a new time cancels the pending reminders and
/// schedules them again for the new time.
pub(crate) fn follow(
    step: super::Step<'_>,
    appt: &Appointment,
    before: &Life,
    after: &Life,
) -> Result<()> {
    if !after.status.is_live() {
        step.tx.cancel_pending_messages(appt.id, None)?;
    } else if before.start != after.start {
        step.tx
            .cancel_pending_messages(appt.id, Some(MessageKind::Reminder))?;
        let mut moved = appt.appointment.clone();
        moved.appointment_date = after.start;
        schedule(step, appt.id, &moved, false)?;
    }
    Ok(())
}

impl Engine {
    /// Sends up to `limit` due messages through `transport` (see the module docs). Call it
    /// in a loop until it attempts nothing.
    ///
    /// # Errors
    ///
    /// Storage errors. Transport failures are not errors: they are logged tries.
    pub fn send_due_messages(
        &self,
        transport: &dyn MessageTransport,
        limit: usize,
    ) -> Result<MessageReport> {
        let start = self.now();
        let lease_until = start + self.config.lease;
        let claimed = with_tx(&*self.store, |tx| {
            Ok(tx.claim_due_messages(start, limit, lease_until)?)
        })?;
        let snap = self.snapshot();
        let mut tries = Vec::with_capacity(claimed.len());
        for m in &claimed {
            let try_number = m.tries + 1;
            let hash = suppression::phone_hash(&m.message.to);
            let listed = with_tx(&*self.store, |tx| Ok(tx.is_suppressed(&hash)?))?;
            let result = if listed {
                None
            } else {
                Some(transport.send(&OutgoingMessage {
                    id: m.id,
                    appointment_id: m.message.appointment_id,
                    lead_id: m.message.lead_id,
                    kind: m.message.kind,
                    to: m.message.to.clone(),
                    body: m.message.body.clone(),
                    try_number,
                }))
            };
            tries.push((m, try_number, result, self.now()));
        }
        with_tx(&*self.store, |tx| {
            let mut report = MessageReport::default();
            for (m, n, result, at) in &tries {
                report.attempted += 1;
                let policy = tx
                    .appointment(m.message.appointment_id)?
                    .and_then(|a| {
                        a.workspace_id()
                            .and_then(|w| snap.workspaces.get(w))
                            .and_then(|w| w.messages.clone())
                    })
                    .unwrap_or_default();
                let (log_status, provider_id, error, next) = match result {
                    None => {
                        report.suppressed += 1;
                        let s = MessageStatus::Suppressed;
                        (s, None, None, MessageNext::Done(s))
                    }
                    Some(Ok(id)) => {
                        report.sent += 1;
                        let s = MessageStatus::Sent;
                        (s, Some(id.clone()), None, MessageNext::Done(s))
                    }
                    Some(Err(e)) => {
                        let next = messages::after_failure(&policy, *n, *at);
                        match next {
                            MessageNext::Retry(_) => report.retrying += 1,
                            MessageNext::Done(_) => report.failed += 1,
                        }
                        (MessageStatus::Failed, None, Some(e.clone()), next)
                    }
                };
                tx.record_message_try(
                    &MessageLog {
                        message_id: m.id,
                        try_number: *n,
                        at: *at,
                        status: log_status,
                        provider_message_id: provider_id,
                        error,
                    },
                    next,
                )?;
            }
            Ok(report)
        })
    }

    /// An appointment's scheduled messages, by id.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn messages(&self, appointment_id: AppointmentId) -> Result<Vec<Message>> {
        with_tx(&*self.store, |tx| Ok(tx.messages_for(appointment_id)?))
    }

    /// A message's send log, by try.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub fn message_logs(&self, message_id: MessageId) -> Result<Vec<MessageLog>> {
        with_tx(&*self.store, |tx| Ok(tx.message_logs(message_id)?))
    }

    /// The last instant at or before `t` (UTC) a lead at `zip` with `phone` may be
    /// contacted under the quiet-hours rules, if any (for planning sends).
    ///
    /// # Errors
    ///
    /// The calling rules could not be read (a broken custom rules file).
    pub fn last_contact_time(
        &self,
        zip: &str,
        phone: &str,
        t: Timestamp,
    ) -> Result<Option<Timestamp>> {
        let zones = quiet_hours::call_zones(
            &self.zips,
            self.area_zones(),
            Zip5::parse(zip).ok(),
            Some(phone),
        );
        Ok(quiet_hours::last_allowed_at_or_before(
            self.contact_rules()?,
            &zones,
            t,
        ))
    }
}
