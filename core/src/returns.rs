//! Returns and credits: the pure rules of a workspace's [`ReturnPolicy`].
//!
//! Lead-distribution platforms (boberdoo, LeadConduit, Phonexa) let a buyer return a lead
//! it was charged for within a window, for an accepted reason, up to a share of what it
//! bought in the billing period, approved at once or after review. Clients pay for
//! appointments that happen, so a policy can also credit a no-show or a late customer
//! cancellation by itself. The engine (`engine::returns`) applies these decisions in one
//! transaction with the credit, the capacity given back and the audit trail.
//!
//! # Behavior
//!
//! - The billing period is the calendar month (UTC) of the request.
//! - A request is checked in this order: the reason (`return_reason_not_allowed`), the
//!   window counted from delivery (`return_window_closed`), the period maximum
//!   (`return_limit_reached`; pending and approved returns count, denied ones do not). A
//!   request that passes is approved at once, or waits for review when the policy says so.
//! - Automatic credits ([`auto_credit`]) skip the window, reasons and maximum: they are the
//!   policy's own terms, not a dispute.

use crate::kind::ErrorKind;
use crate::lifecycle::{Actor, Life};
use crate::model::{ReturnLimit, ReturnPolicy};
use crate::status::{AppointmentStatus, ReturnStatus};
use jiff::{SignedDuration, Timestamp};

/// A return the policy refuses, or one the store refuses to decide.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReturnError {
    /// The reason is not one the workspace's policy accepts.
    #[error("return reason {reason:?} is not allowed (allowed: {allowed:?})")]
    ReasonNotAllowed {
        /// The reason given.
        reason: String,
        /// The policy's reasons.
        allowed: Vec<String>,
    },
    /// The window after delivery has closed.
    #[error("the return window of {days} days after delivery at {delivered_at} has closed")]
    WindowClosed {
        /// The policy's window (days).
        days: u32,
        /// When the appointment was delivered (UTC).
        delivered_at: Timestamp,
    },
    /// The workspace has used its returns for the billing period.
    #[error("return limit reached: {returns} returns of {charges} charges this period")]
    LimitReached {
        /// Returns already counted this period.
        returns: u64,
        /// Charges this period.
        charges: u64,
    },
    /// The appointment was never charged to this workspace, so there is nothing to return.
    #[error("appointment {0} was never billed")]
    NotBilled(i64),
    /// The workspace already returned this appointment.
    #[error("appointment {appointment_id} was already returned (return {return_id} is {status})")]
    AlreadyReturned {
        /// The appointment.
        appointment_id: i64,
        /// The existing return.
        return_id: i64,
        /// Its status.
        status: ReturnStatus,
    },
    /// The workspace reviews returns, and the caller asked for a credit at once
    /// ([`crate::engine::Engine::return_appointment`]); nothing was written.
    #[error("the returns of workspace {workspace_id} are reviewed: request the return and wait for approval")]
    ReviewRequired {
        /// The workspace whose policy reviews returns.
        workspace_id: String,
    },
    /// The return is not pending (approved or denied already).
    #[error("return {id} is {status}, not pending")]
    NotPending {
        /// The return.
        id: i64,
        /// Its status.
        status: ReturnStatus,
    },
}

impl ReturnError {
    /// `InvalidInput` for a reason not allowed; `Conflict` for the rest.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ReturnError::ReasonNotAllowed { .. } => ErrorKind::InvalidInput,
            _ => ErrorKind::Conflict,
        }
    }

    /// A stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            ReturnError::ReasonNotAllowed { .. } => "return_reason_not_allowed",
            ReturnError::WindowClosed { .. } => "return_window_closed",
            ReturnError::LimitReached { .. } => "return_limit_reached",
            ReturnError::NotBilled(_) => "not_billed",
            ReturnError::AlreadyReturned { .. } => "already_returned",
            ReturnError::NotPending { .. } => "return_not_pending",
            ReturnError::ReviewRequired { .. } => "return_needs_review",
        }
    }
}

/// The facts a return request is judged on.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnRequest<'a> {
    /// The reason given.
    pub reason: &'a str,
    /// When the appointment was delivered (UTC; `forwarded_at`), if known.
    pub delivered_at: Option<Timestamp>,
    /// When the return is requested (UTC).
    pub at: Timestamp,
    /// Pending and approved returns of the workspace in the period, before this one.
    pub period_returns: u64,
    /// Charges of the workspace in the period.
    pub period_charges: u64,
}

/// The first instant of the billing period (calendar month, UTC) holding `at`, and the first
/// instant of the next.
pub fn billing_period(at: Timestamp) -> (Timestamp, Timestamp) {
    let day = at.to_zoned(jiff::tz::TimeZone::UTC).date();
    let first = day.first_of_month();
    let next = first
        .checked_add(jiff::Span::new().months(1))
        .unwrap_or(jiff::civil::Date::MAX);
    let start = |d: jiff::civil::Date| {
        d.to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MAX)
    };
    (start(first), start(next))
}

/// Judges a return request against the policy (see the module's `# Behavior`).
///
/// Returns the status the return starts in: `approved`, or `pending` under review.
///
/// # Errors
///
/// [`ReturnError::ReasonNotAllowed`], [`ReturnError::WindowClosed`],
/// [`ReturnError::LimitReached`].
pub fn evaluate(
    policy: &ReturnPolicy,
    req: &ReturnRequest<'_>,
) -> Result<ReturnStatus, ReturnError> {
    if !policy.allowed_reasons.is_empty()
        && !policy
            .allowed_reasons
            .iter()
            .any(|r| r.trim().eq_ignore_ascii_case(req.reason.trim()))
    {
        return Err(ReturnError::ReasonNotAllowed {
            reason: req.reason.to_string(),
            allowed: policy.allowed_reasons.clone(),
        });
    }
    if let (Some(days), Some(delivered_at)) = (policy.window_days, req.delivered_at) {
        let closes = delivered_at + SignedDuration::from_hours(24 * i64::from(days));
        if req.at > closes {
            return Err(ReturnError::WindowClosed { days, delivered_at });
        }
    }
    if let Some(limit) = policy.max_per_period {
        let allowed = match limit {
            ReturnLimit::Count(n) => u64::from(n),
            // Floor: 10% of 25 charges allows 2 returns.
            ReturnLimit::Percent(p) => {
                ((req.period_charges as f64) * p.clamp(0.0, 100.0) / 100.0).floor() as u64
            }
        };
        if req.period_returns >= allowed {
            return Err(ReturnError::LimitReached {
                returns: req.period_returns,
                charges: req.period_charges,
            });
        }
    }
    Ok(if policy.review {
        ReturnStatus::Pending
    } else {
        ReturnStatus::Approved
    })
}

/// Why a lifecycle change earns an automatic credit under the policy, if it does:
///
/// - `no_show`: the appointment became `no_show` and `credit_no_show` is set;
/// - `reschedule_requested`: it was cancelled because the host asked for a new time
///   (Cal.com `requestReschedule`): it is not billed as a show;
/// - `late_cancellation`: it was cancelled by anyone but the client workspace (`actor`
///   other than `client`) less than `credit_late_cancel_hours` before its start.
pub fn auto_credit(
    policy: &ReturnPolicy,
    before: &Life,
    after: &Life,
    actor: &Actor,
    reschedule_requested: bool,
    at: Timestamp,
) -> Option<&'static str> {
    if before.status == after.status {
        return None;
    }
    match after.status {
        AppointmentStatus::NoShow if policy.credit_no_show => Some("no_show"),
        AppointmentStatus::Cancelled if reschedule_requested => Some("reschedule_requested"),
        AppointmentStatus::Cancelled => {
            let hours = policy.credit_late_cancel_hours?;
            let late = at + SignedDuration::from_hours(i64::from(hours)) > after.start;
            (late && *actor != Actor::Client).then_some("late_cancellation")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn req(reason: &str, at: &str, returns: u64, charges: u64) -> ReturnRequest<'static> {
        ReturnRequest {
            reason: Box::leak(reason.to_string().into_boxed_str()),
            delivered_at: Some(t("2026-03-01T12:00:00Z")),
            at: t(at),
            period_returns: returns,
            period_charges: charges,
        }
    }

    #[test]
    fn default_policy_approves_anything() {
        let p = ReturnPolicy::default();
        assert_eq!(
            evaluate(&p, &req("whatever", "2027-01-01T00:00:00Z", 99, 0)),
            Ok(ReturnStatus::Approved)
        );
    }

    #[test]
    fn window_is_inclusive_of_its_last_instant() {
        let p = ReturnPolicy {
            window_days: Some(7),
            ..Default::default()
        };
        assert!(evaluate(&p, &req("x", "2026-03-08T12:00:00Z", 0, 1)).is_ok());
        let e = evaluate(&p, &req("x", "2026-03-08T12:00:01Z", 0, 1)).unwrap_err();
        assert_eq!(e.code(), "return_window_closed");
        assert_eq!(e.kind(), ErrorKind::Conflict);
    }

    #[test]
    fn reasons_match_case_insensitively() {
        let p = ReturnPolicy {
            allowed_reasons: vec!["wrong_number".into(), "duplicate".into()],
            ..Default::default()
        };
        assert!(evaluate(&p, &req("Wrong_Number", "2026-03-02T00:00:00Z", 0, 1)).is_ok());
        let e = evaluate(&p, &req("changed mind", "2026-03-02T00:00:00Z", 0, 1)).unwrap_err();
        assert_eq!(e.code(), "return_reason_not_allowed");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn period_maximum_by_count_and_percent() {
        let count = ReturnPolicy {
            max_per_period: Some(ReturnLimit::Count(2)),
            ..Default::default()
        };
        assert!(evaluate(&count, &req("x", "2026-03-02T00:00:00Z", 1, 10)).is_ok());
        assert_eq!(
            evaluate(&count, &req("x", "2026-03-02T00:00:00Z", 2, 10))
                .unwrap_err()
                .code(),
            "return_limit_reached"
        );
        let pct = ReturnPolicy {
            max_per_period: Some(ReturnLimit::Percent(10.0)),
            ..Default::default()
        };
        assert!(evaluate(&pct, &req("x", "2026-03-02T00:00:00Z", 1, 25)).is_ok());
        assert!(evaluate(&pct, &req("x", "2026-03-02T00:00:00Z", 2, 25)).is_err());
        assert!(evaluate(&pct, &req("x", "2026-03-02T00:00:00Z", 0, 9)).is_err());
    }

    #[test]
    fn review_leaves_the_return_pending() {
        let p = ReturnPolicy {
            review: true,
            ..Default::default()
        };
        assert_eq!(
            evaluate(&p, &req("x", "2026-03-02T00:00:00Z", 0, 1)),
            Ok(ReturnStatus::Pending)
        );
    }

    #[test]
    fn billing_period_is_the_utc_month() {
        assert_eq!(
            billing_period(t("2026-12-31T23:59:59Z")),
            (t("2026-12-01T00:00:00Z"), t("2027-01-01T00:00:00Z"))
        );
        assert_eq!(
            billing_period(t("2026-02-01T00:00:00Z")),
            (t("2026-02-01T00:00:00Z"), t("2026-03-01T00:00:00Z"))
        );
    }

    #[test]
    fn automatic_credits() {
        let start = t("2026-03-10T15:00:00Z");
        let live = Life::scheduled(start, None);
        let mut no_show = live.clone();
        no_show.status = AppointmentStatus::NoShow;
        let mut cancelled = live.clone();
        cancelled.status = AppointmentStatus::Cancelled;
        let off = ReturnPolicy::default();
        let on = ReturnPolicy {
            credit_no_show: true,
            credit_late_cancel_hours: Some(24),
            ..Default::default()
        };
        let at_late = t("2026-03-10T01:00:00Z");
        let at_early = t("2026-03-08T01:00:00Z");
        assert_eq!(
            auto_credit(&off, &live, &no_show, &Actor::Api, false, at_late),
            None
        );
        assert_eq!(
            auto_credit(&on, &live, &no_show, &Actor::Api, false, at_late),
            Some("no_show")
        );
        assert_eq!(
            auto_credit(&on, &live, &cancelled, &Actor::Calcom, false, at_late),
            Some("late_cancellation")
        );
        assert_eq!(
            auto_credit(&on, &live, &cancelled, &Actor::Calcom, false, at_early),
            None
        );
        assert_eq!(
            auto_credit(&on, &live, &cancelled, &Actor::Client, false, at_late),
            None
        );
        assert_eq!(
            auto_credit(&off, &live, &cancelled, &Actor::Calcom, true, at_early),
            Some("reschedule_requested")
        );
        assert_eq!(
            auto_credit(&on, &no_show, &no_show, &Actor::Api, false, at_late),
            None
        );
    }
}
