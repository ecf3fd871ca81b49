//! Appointments.

use super::*;

impl AppointmentRepo for MemTx {
    fn insert_appointment(&self, a: &NewAppointment) -> Result<AppointmentId, StorageError> {
        self.write(|s| {
            if a.lead_id.0 < 1 || a.lead_id.0 as usize > s.leads.len() {
                return Err(conflict(format!("lead {} does not exist", a.lead_id)));
            }
            if s.appointment_by_lead.contains_key(&a.lead_id) {
                return Err(conflict(format!("lead {} has an appointment", a.lead_id)));
            }
            let id = next_id(s.appointments.len());
            s.appointments.push(Appointment {
                id,
                appointment: a.clone(),
                forward_status: ForwardStatus::Pending,
                forward_attempts: 0,
                forwarded_at: None,
                forward_response: None,
                lifecycle: Default::default(),
            });
            let lead = a.lead_id;
            s.appointment_by_lead.insert(lead, id);
            Ok((
                id,
                Box::new(move |s: &mut State| {
                    s.appointments.pop();
                    s.appointment_by_lead.remove(&lead);
                }),
            ))
        })
    }
    fn appointment(&self, id: AppointmentId) -> Result<Option<Appointment>, StorageError> {
        self.read(|s| {
            usize::try_from(id.0 - 1)
                .ok()
                .and_then(|i| s.appointments.get(i))
                .cloned()
        })
    }
    fn appointment_for_lead(&self, lead_id: LeadId) -> Result<Option<Appointment>, StorageError> {
        self.read(|s| {
            s.appointment_by_lead
                .get(&lead_id)
                .map(|&id| s.appointments[(id.0 - 1) as usize].clone())
        })
    }
    fn update_forward(
        &self,
        id: AppointmentId,
        status: ForwardStatus,
        attempts: u32,
        forwarded_at: Option<Timestamp>,
        response: Option<&str>,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            let a = usize::try_from(id.0 - 1)
                .ok()
                .and_then(|i| s.appointments.get_mut(i))
                .ok_or_else(|| conflict(format!("appointment {id} does not exist")))?;
            let old = (
                a.forward_status,
                a.forward_attempts,
                a.forwarded_at,
                a.forward_response.clone(),
            );
            a.forward_status = status;
            a.forward_attempts = attempts;
            a.forwarded_at = forwarded_at;
            a.forward_response = response.map(str::to_string);
            Ok((
                (),
                Box::new(move |s: &mut State| {
                    let a = &mut s.appointments[(id.0 - 1) as usize];
                    (
                        a.forward_status,
                        a.forward_attempts,
                        a.forwarded_at,
                        a.forward_response,
                    ) = old;
                }),
            ))
        })
    }
    fn appointments_after(
        &self,
        after: AppointmentId,
        limit: usize,
    ) -> Result<Vec<Appointment>, StorageError> {
        self.read(|s| {
            s.appointments
                .iter()
                .filter(|a| a.id > after)
                .take(limit)
                .cloned()
                .collect()
        })
    }
    fn unrouted_appointments(
        &self,
        after: AppointmentId,
        limit: usize,
    ) -> Result<Vec<Appointment>, StorageError> {
        self.read(|s| {
            s.appointments
                .iter()
                .filter(|a| {
                    a.id > after && matches!(a.appointment.assignment, Assignment::Unrouted { .. })
                })
                .take(limit)
                .cloned()
                .collect()
        })
    }
    fn assign_appointment(
        &self,
        id: AppointmentId,
        assignment: &Assignment,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            let Assignment::Routed { workspace_id, .. } = assignment else {
                return Err(conflict("assign_appointment needs a routed assignment"));
            };
            if !s.workspaces.contains_key(workspace_id) {
                return Err(conflict(format!("workspace {workspace_id} does not exist")));
            }
            let a = usize::try_from(id.0 - 1)
                .ok()
                .and_then(|i| s.appointments.get_mut(i))
                .ok_or_else(|| conflict(format!("appointment {id} does not exist")))?;
            if !matches!(a.appointment.assignment, Assignment::Unrouted { .. }) {
                return Err(conflict(format!("appointment {id} is already routed")));
            }
            let old = std::mem::replace(&mut a.appointment.assignment, assignment.clone());
            Ok((
                (),
                Box::new(move |s: &mut State| {
                    s.appointments[(id.0 - 1) as usize].appointment.assignment = old;
                }),
            ))
        })
    }
    fn reassign_appointment(
        &self,
        id: AppointmentId,
        assignment: &Assignment,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            if let Assignment::Routed { workspace_id, .. } = assignment {
                if !s.workspaces.contains_key(workspace_id) {
                    return Err(conflict(format!("workspace {workspace_id} does not exist")));
                }
            }
            let a = usize::try_from(id.0 - 1)
                .ok()
                .and_then(|i| s.appointments.get_mut(i))
                .ok_or_else(|| conflict(format!("appointment {id} does not exist")))?;
            let old = a.clone();
            a.appointment.assignment = assignment.clone();
            a.forward_status = ForwardStatus::Pending;
            a.forward_attempts = 0;
            a.forwarded_at = None;
            a.forward_response = None;
            Ok((
                (),
                Box::new(move |s: &mut State| {
                    s.appointments[(id.0 - 1) as usize] = old;
                }),
            ))
        })
    }
    fn update_lifecycle(&self, id: AppointmentId, u: &LifecycleUpdate) -> Result<(), StorageError> {
        self.write(|s| {
            let a = usize::try_from(id.0 - 1)
                .ok()
                .and_then(|i| s.appointments.get_mut(i))
                .ok_or_else(|| conflict(format!("appointment {id} does not exist")))?;
            if a.lifecycle.status != u.expected_status
                || a.lifecycle.reschedule_count != u.expected_reschedule_count
            {
                return Err(conflict(format!(
                    "appointment {id} changed: it is {} after {} reschedules",
                    a.lifecycle.status, a.lifecycle.reschedule_count
                )));
            }
            let old = a.clone();
            a.appointment.appointment_date = u.life.start;
            a.appointment.details.end_time = u.life.end;
            a.lifecycle.status = u.life.status;
            a.lifecycle.reschedule_count = u.life.reschedule_count;
            a.lifecycle.outcome = u.life.outcome.clone();
            a.lifecycle.cancellation_reason = u.life.cancellation_reason.clone();
            a.lifecycle.reschedule_requested = u.reschedule_requested;
            a.lifecycle.status_changed_at = Some(u.at);
            Ok((
                (),
                Box::new(move |s: &mut State| {
                    s.appointments[(id.0 - 1) as usize] = old;
                }),
            ))
        })
    }
    fn set_appointment_details(
        &self,
        id: AppointmentId,
        details: &AppointmentDetails,
    ) -> Result<(), StorageError> {
        self.write(|s| {
            let a = usize::try_from(id.0 - 1)
                .ok()
                .and_then(|i| s.appointments.get_mut(i))
                .ok_or_else(|| conflict(format!("appointment {id} does not exist")))?;
            let old = std::mem::replace(&mut a.appointment.details, details.clone());
            Ok((
                (),
                Box::new(move |s: &mut State| {
                    s.appointments[(id.0 - 1) as usize].appointment.details = old;
                }),
            ))
        })
    }
}
