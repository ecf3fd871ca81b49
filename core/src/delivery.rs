//! Delivery: posting an appointment payload to a workspace's webhook, and what to do next.
//!
//! A delivery is an outbox row written in the same transaction as its appointment. Workers
//! claim due rows with a lease, post them through a [`Transport`], and record one attempt per
//! try. This module holds the pure parts:
//!
//! - [`build_request`]: the seed's headers (`Content-Type: application/json`,
//!   `User-Agent: leadroute/<version>`, `X-Webhook-Source: appointment-routing`) plus the
//!   Standard Webhooks headers (`webhook-id`, fixed for the delivery's life and the client's
//!   idempotency key; `webhook-timestamp`, per attempt; `webhook-signature` when the workspace
//!   has a `whsec_` secret), signing the exact bytes sent;
//! - [`classify`]: only 2xx is success; 408, 429, 5xx and transport errors are retried; any
//!   other status (3xx included: redirects are not followed) fails for good;
//! - [`RetryPolicy`]: Svix's schedule after the first try (5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
//!   10 h) with ±20% jitter, and `Retry-After` honored within the schedule's bounds.
//!
//! The default transport, [`UreqTransport`] (feature `http`), uses `ureq` with redirects off.

use crate::model::{AttemptResult, Delivery, EndpointHealth, Workspace};
use crate::signature;
use jiff::Timestamp;
use std::time::Duration;

/// Errors preparing a delivery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The workspace's webhook secret is not `whsec_<base64>`.
    #[error("workspace {0}: bad webhook secret")]
    BadSecret(String),
}

impl DeliveryError {
    /// The error's kind (configuration problems are `InvalidInput`).
    pub fn kind(&self) -> crate::kind::ErrorKind {
        crate::kind::ErrorKind::InvalidInput
    }

    /// Stable snake_case code: `bad_webhook_secret`.
    pub fn code(&self) -> &'static str {
        match self {
            DeliveryError::BadSecret(_) => "bad_webhook_secret",
        }
    }
}

/// One HTTP POST to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// Target URL.
    pub url: String,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// The exact body bytes.
    pub body: Vec<u8>,
}

/// What the webhook answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    /// HTTP status.
    pub status: u16,
    /// Start of the body, at most [`RESPONSE_EXCERPT_BYTES`] bytes, lossily decoded.
    pub body_excerpt: String,
    /// `Retry-After`, when sent in delta-seconds.
    pub retry_after: Option<Duration>,
}

/// Why no response arrived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The request did not complete in time.
    #[error("timeout: {0}")]
    Timeout(String),
    /// No connection could be made (refused, unreachable, DNS).
    #[error("connection failed: {0}")]
    Connect(String),
    /// Anything else (TLS, protocol, I/O).
    #[error("transport error: {0}")]
    Other(String),
}

/// Responses are kept up to this many bytes (attempt rows and `forward_response`).
pub const RESPONSE_EXCERPT_BYTES: usize = 20 * 1024;

/// Sends webhook requests. Embedders with their own HTTP stack implement this.
pub trait Transport: Send + Sync {
    /// POSTs `request` and returns the response, whatever its status.
    ///
    /// # Behavior
    ///
    /// Must not follow redirects (a 3xx is returned as is), must give up after `timeout`, and
    /// must return non-2xx statuses as `Ok`, not as errors.
    ///
    /// # Errors
    ///
    /// [`TransportError`] when no response arrived.
    fn post(
        &self,
        request: &WebhookRequest,
        timeout: Duration,
    ) -> Result<WebhookResponse, TransportError>;
}

/// The default [`Transport`]: blocking `ureq`, no redirects, rustls for HTTPS.
#[cfg(feature = "http")]
#[derive(Debug)]
pub struct UreqTransport {
    agent: ureq::Agent,
}

#[cfg(feature = "http")]
impl Default for UreqTransport {
    fn default() -> Self {
        UreqTransport::new()
    }
}

#[cfg(feature = "http")]
impl UreqTransport {
    /// A transport with its own connection pool.
    pub fn new() -> UreqTransport {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(format!("leadroute/{}", crate::VERSION))
            .build()
            .into();
        UreqTransport { agent }
    }
}

#[cfg(feature = "http")]
impl Transport for UreqTransport {
    fn post(
        &self,
        request: &WebhookRequest,
        timeout: Duration,
    ) -> Result<WebhookResponse, TransportError> {
        use std::io::Read;
        let mut req = self
            .agent
            .post(&request.url)
            .config()
            .timeout_global(Some(timeout))
            .build();
        for (k, v) in &request.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut resp = req.send(&request.body[..]).map_err(|e| match e {
            ureq::Error::Timeout(t) => TransportError::Timeout(t.to_string()),
            ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                TransportError::Connect(e.to_string())
            }
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                TransportError::Connect(io.to_string())
            }
            other => TransportError::Other(other.to_string()),
        })?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut buf = Vec::new();
        let _ = resp
            .body_mut()
            .as_reader()
            .take(RESPONSE_EXCERPT_BYTES as u64)
            .read_to_end(&mut buf);
        Ok(WebhookResponse {
            status,
            body_excerpt: String::from_utf8_lossy(&buf).into_owned(),
            retry_after,
        })
    }
}

/// Builds the request for one attempt of a delivery to a workspace, at time `now`.
///
/// # Errors
///
/// [`DeliveryError::BadSecret`] when the workspace's secret cannot be used to sign.
pub fn build_request(
    delivery: &Delivery,
    workspace: &Workspace,
    now: Timestamp,
) -> Result<WebhookRequest, DeliveryError> {
    let body = delivery.delivery.payload.as_bytes().to_vec();
    let ts = crate::tz::unix_seconds(now);
    let mut headers = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        (
            "User-Agent".to_string(),
            format!("leadroute/{}", crate::VERSION),
        ),
        (
            "X-Webhook-Source".to_string(),
            "appointment-routing".to_string(),
        ),
        (
            "webhook-id".to_string(),
            delivery.delivery.webhook_id.clone(),
        ),
        ("webhook-timestamp".to_string(), ts.to_string()),
    ];
    // One `v1,` signature per secret: the current one, then those kept during rotation.
    let secrets = workspace
        .webhook_secret
        .iter()
        .chain(workspace.delivery.additional_secrets.iter())
        .filter(|s| !s.is_empty());
    let mut signatures = Vec::new();
    for secret in secrets {
        signatures.push(
            signature::sign(secret, &delivery.delivery.webhook_id, ts, &body)
                .map_err(|_| DeliveryError::BadSecret(workspace.id.clone()))?,
        );
    }
    if !signatures.is_empty() {
        headers.push(("webhook-signature".to_string(), signatures.join(" ")));
    }
    Ok(WebhookRequest {
        url: workspace.outbound_webhook_url.clone(),
        headers,
        body,
    })
}

/// What an attempt's result means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx.
    Success,
    /// Worth retrying, optionally not before this delay.
    Retry(Option<Duration>),
    /// Will never succeed as is.
    Fail,
    /// `410 Gone`: the endpoint is disabled; the delivery waits for it to be re-enabled.
    Gone,
}

/// When an endpoint pauses, and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointPolicy {
    /// Failed attempts in a row that pause the endpoint. Default 5.
    pub failures_to_pause: u32,
    /// How long a pause lasts before one probe is let through. Default 5 minutes.
    pub cool_down: Duration,
    /// How long a delivery to a disabled or inactive endpoint waits before it is looked at
    /// again (re-enabling resumes them at once). Default 1 hour.
    pub recheck: Duration,
}

impl Default for EndpointPolicy {
    fn default() -> Self {
        EndpointPolicy {
            failures_to_pause: 5,
            cool_down: Duration::from_secs(300),
            recheck: Duration::from_secs(3600),
        }
    }
}

/// Whether a delivery to an endpoint may be attempted now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointGate {
    /// Healthy: attempt.
    Open,
    /// The pause is over: attempt one delivery (the probe); the others wait for its result.
    Probe,
    /// Wait until this time (UTC), then look again.
    Wait(Timestamp),
}

impl EndpointPolicy {
    /// The gate of an endpoint with this health at `now`; `active` is the workspace's
    /// `webhook_active`.
    pub fn gate(&self, health: &EndpointHealth, active: bool, now: Timestamp) -> EndpointGate {
        if health.disabled || !active {
            return EndpointGate::Wait(now + self.recheck);
        }
        match health.paused_until {
            Some(until) if until > now => EndpointGate::Wait(until),
            Some(_) => EndpointGate::Probe,
            None => EndpointGate::Open,
        }
    }

    /// The health after an attempt with this verdict at `now`: a success resets it; a `410`
    /// disables the endpoint; any other failure counts, and the `failures_to_pause`th in a
    /// row (or a failed probe) pauses it for `cool_down`.
    pub fn after(
        &self,
        health: &EndpointHealth,
        verdict: Verdict,
        status: Option<u16>,
        now: Timestamp,
    ) -> EndpointHealth {
        let mut h = health.clone();
        match verdict {
            Verdict::Success => {
                h.consecutive_failures = 0;
                h.paused_until = None;
            }
            Verdict::Gone => {
                h.disabled = true;
                h.disabled_reason = Some(format!("HTTP {}", status.unwrap_or(410)));
            }
            Verdict::Retry(_) | Verdict::Fail => {
                h.consecutive_failures = h.consecutive_failures.saturating_add(1);
                if h.consecutive_failures >= self.failures_to_pause {
                    h.paused_until = Some(now + self.cool_down);
                }
            }
        }
        h
    }
}

/// Classifies an attempt's outcome (see the module docs).
pub fn classify(result: &Result<WebhookResponse, TransportError>) -> Verdict {
    match result {
        Ok(r) if (200..300).contains(&r.status) => Verdict::Success,
        Ok(r) if r.status == 410 => Verdict::Gone,
        Ok(r) if r.status == 408 || r.status == 429 || r.status >= 500 => {
            Verdict::Retry(r.retry_after)
        }
        Ok(_) => Verdict::Fail,
        Err(_) => Verdict::Retry(None),
    }
}

/// When to try again.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Delay before attempt 2, 3, ...; its length is the number of retries.
    pub schedule: Vec<Duration>,
    /// Relative jitter, e.g. `0.2` for ±20%.
    pub jitter: f64,
    /// Upper bound for an honored `Retry-After`.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Svix's schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; ±20%; `Retry-After` up to
    /// 10 h.
    fn default() -> Self {
        let m = 60;
        let h = 3600;
        RetryPolicy {
            schedule: [5, 5 * m, 30 * m, 2 * h, 5 * h, 10 * h, 10 * h]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            jitter: 0.2,
            max_retry_after: Duration::from_secs(10 * h),
        }
    }
}

impl RetryPolicy {
    /// Total tries, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.schedule.len() as u32 + 1
    }

    /// The delay after failed attempt `attempt_number` (1-based), or `None` when no retry is
    /// left. `unit` is a random sample in `[0, 1)` that places the jitter; a `Retry-After`
    /// longer than the scheduled delay replaces it, capped at `max_retry_after`.
    pub fn delay_after(
        &self,
        attempt_number: u32,
        retry_after: Option<Duration>,
        unit: f64,
    ) -> Option<Duration> {
        let base = *self.schedule.get(attempt_number.checked_sub(1)? as usize)?;
        let factor = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        let jittered = base.mul_f64(factor.max(0.0));
        Some(match retry_after {
            Some(ra) if ra > jittered => ra.min(self.max_retry_after),
            _ => jittered,
        })
    }

    /// The next state of a delivery after attempt `attempt_number` got `verdict` at `now`:
    /// a retry time, or failure when the verdict is `Fail` or no retry is left. For `Success`
    /// it returns `None`: the caller builds [`AttemptResult::Delivered`] with its billing
    /// event.
    pub fn next_state(
        &self,
        attempt_number: u32,
        verdict: Verdict,
        now: Timestamp,
        unit: f64,
    ) -> Option<AttemptResult> {
        match verdict {
            Verdict::Success => None,
            Verdict::Fail => Some(AttemptResult::Failed),
            // The endpoint is disabled; the delivery waits (re-enabling resumes it).
            Verdict::Gone => Some(AttemptResult::Retry {
                next_attempt_at: now + self.max_retry_after,
            }),
            Verdict::Retry(ra) => Some(match self.delay_after(attempt_number, ra, unit) {
                Some(d) => AttemptResult::Retry {
                    next_attempt_at: now + d,
                },
                None => AttemptResult::Failed,
            }),
        }
    }
}

/// A short text for `forward_response`: `HTTP 200: <body start>` or the transport error.
pub fn summarize(result: &Result<WebhookResponse, TransportError>) -> String {
    match result {
        Ok(r) => {
            let body: String = r.body_excerpt.chars().take(500).collect();
            format!("HTTP {}: {}", r.status, body)
        }
        Err(e) => e.to_string(),
    }
}

/// Why a claimed delivery is put back without an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeferReason {
    /// Another delivery to the same endpoint is its probe after a pause.
    ProbePending,
    /// The endpoint is paused, disabled or its workspace's webhook is inactive.
    EndpointUnavailable,
}

impl DeferReason {
    /// snake_case code: `probe_pending`, `endpoint_unavailable`.
    pub fn code(self) -> &'static str {
        match self {
            DeferReason::ProbePending => "probe_pending",
            DeferReason::EndpointUnavailable => "endpoint_unavailable",
        }
    }
}

/// What to do with each claimed delivery of one batch.
#[derive(Debug, Default, PartialEq)]
pub struct AttemptPlan {
    /// Indexes (into the claimed batch) to attempt now.
    pub attempt: Vec<usize>,
    /// Indexes to put back, with the time they are due again (UTC) and why.
    pub defer: Vec<(usize, Timestamp, DeferReason)>,
}

/// Decides, for a claimed batch, which deliveries are attempted now: each delivery's
/// endpoint gate ([`EndpointPolicy::gate`]) with its workspace's `health` and `active`
/// (`webhook_active`); an endpoint whose pause is over gets exactly one attempt (the probe)
/// and its other deliveries wait `cool_down`.
///
/// `endpoint(i)` gives delivery `i`'s workspace id, health and whether its webhook is
/// active. Pure: it reads nothing else and writes nothing.
pub fn plan_attempts<'a>(
    policy: &EndpointPolicy,
    count: usize,
    endpoint: impl Fn(usize) -> (&'a str, &'a EndpointHealth, bool),
    now: Timestamp,
) -> AttemptPlan {
    let mut plan = AttemptPlan::default();
    let mut probing = std::collections::HashSet::new();
    for i in 0..count {
        let (workspace_id, health, active) = endpoint(i);
        match policy.gate(health, active, now) {
            EndpointGate::Open => plan.attempt.push(i),
            EndpointGate::Probe if probing.insert(workspace_id) => plan.attempt.push(i),
            EndpointGate::Probe => {
                plan.defer
                    .push((i, now + policy.cool_down, DeferReason::ProbePending))
            }
            EndpointGate::Wait(until) => {
                plan.defer
                    .push((i, until, DeferReason::EndpointUnavailable))
            }
        }
    }
    plan
}

/// The delivery's next state after attempt `attempt_number` got `verdict`, the attempt
/// having ended at `ended` (UTC): a retry time or failure per [`RetryPolicy::next_state`],
/// or, on success, [`AttemptResult::Delivered`] with `charge` (the billing event, written in
/// the same transaction). `attempt_number` counts from the delivery's last redelivery.
///
/// `charge` is `Some(f)` for a delivery that bills (the appointment's own); `None` when the
/// verdict is a success but `f` gives nothing (an unrouted appointment was delivered: a
/// broken invariant the caller reports). A lifecycle event passes `None` for `charge` and is
/// delivered without billing.
pub fn settle(
    retry: &RetryPolicy,
    attempt_number: u32,
    verdict: Verdict,
    ended: Timestamp,
    unit: f64,
    charge: Option<impl FnOnce() -> Option<crate::model::NewBillingEvent>>,
) -> Option<AttemptResult> {
    match retry.next_state(attempt_number, verdict, ended, unit) {
        Some(next) => Some(next),
        None => match charge {
            Some(f) => f().map(|billing| AttemptResult::Delivered {
                billing: Some(billing),
            }),
            None => Some(AttemptResult::Delivered { billing: None }),
        },
    }
}

/// What an attempt's result means for the rest of the store: the appointment's
/// `forward_status`, the audit event's kind, and the lead's new status when the delivery is
/// final (delivered or given up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consequences {
    /// The appointment's `forward_status` after the attempt.
    pub forward_status: crate::model::ForwardStatus,
    /// The attempt's audit event kind.
    pub event: crate::status::EventKind,
    /// The lead's status when the delivery is final.
    pub lead_status: Option<crate::status::LeadStatus>,
}

/// The [`Consequences`] of an attempt's result.
pub fn consequences(result: &AttemptResult) -> Consequences {
    use crate::model::ForwardStatus;
    use crate::status::{EventKind, LeadStatus};
    let (forward_status, event, lead_status) = match result {
        AttemptResult::Delivered { .. } => (
            ForwardStatus::Success,
            EventKind::Delivered,
            Some(LeadStatus::Delivered),
        ),
        AttemptResult::Retry { .. } => (ForwardStatus::Pending, EventKind::DeliveryRetry, None),
        AttemptResult::Failed => (
            ForwardStatus::Failed,
            EventKind::DeliveryFailed,
            Some(LeadStatus::DeliveryFailed),
        ),
    };
    Consequences {
        forward_status,
        event,
        lead_status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppointmentId, Cents, DeliveryId, ForwardStatus, NewDelivery};
    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().expect("test timestamp")
    }

    #[test]
    fn plan_attempts_lets_one_probe_through_per_endpoint() {
        let now = ts("2026-01-01T12:00:00Z");
        let policy = EndpointPolicy::default();
        let healthy = EndpointHealth::default();
        let paused_over = EndpointHealth {
            paused_until: Some(now - std::time::Duration::from_secs(1)),
            ..EndpointHealth::default()
        };
        let paused = EndpointHealth {
            paused_until: Some(now + std::time::Duration::from_secs(60)),
            ..EndpointHealth::default()
        };
        // 0, 1: probed endpoint "p"; 2: healthy "h"; 3: paused "w"; 4: inactive "h".
        let endpoints = [
            ("p", &paused_over, true),
            ("p", &paused_over, true),
            ("h", &healthy, true),
            ("w", &paused, true),
            ("h", &healthy, false),
        ];
        let plan = plan_attempts(&policy, endpoints.len(), |i| endpoints[i], now);
        assert_eq!(plan.attempt, vec![0, 2]);
        assert_eq!(
            plan.defer,
            vec![
                (1, now + policy.cool_down, DeferReason::ProbePending),
                (
                    3,
                    now + std::time::Duration::from_secs(60),
                    DeferReason::EndpointUnavailable
                ),
                (4, now + policy.recheck, DeferReason::EndpointUnavailable),
            ]
        );
    }

    #[test]
    fn settle_bills_successes_and_schedules_retries() {
        let now = ts("2026-01-01T12:00:00Z");
        let retry = RetryPolicy::default();
        let bill = || {
            Some(crate::model::NewBillingEvent {
                appointment_id: crate::model::AppointmentId(7),
                workspace_id: "w".into(),
                kind: crate::model::BillingKind::Charge,
                amount: Cents(15_000),
                created_at: now,
            })
        };
        let ok = settle(&retry, 1, Verdict::Success, now, 0.5, Some(bill));
        assert!(
            matches!(ok, Some(AttemptResult::Delivered { billing: Some(ref billing) }) if billing.amount == Cents(15_000))
        );
        assert_eq!(
            settle(&retry, 1, Verdict::Success, now, 0.5, Some(|| None)),
            None
        );
        assert_eq!(
            settle(&retry, 1, Verdict::Retry(None), now, 0.5, Some(bill)),
            Some(AttemptResult::Retry {
                next_attempt_at: now + std::time::Duration::from_secs(5)
            })
        );
        assert_eq!(
            settle(
                &retry,
                retry.max_attempts(),
                Verdict::Retry(None),
                now,
                0.5,
                Some(bill)
            ),
            Some(AttemptResult::Failed)
        );
        let c = consequences(&AttemptResult::Failed);
        assert_eq!(c.forward_status, ForwardStatus::Failed);
        assert_eq!(
            c.lead_status,
            Some(crate::status::LeadStatus::DeliveryFailed)
        );
        assert_eq!(
            consequences(&AttemptResult::Retry {
                next_attempt_at: now
            })
            .lead_status,
            None
        );
    }

    fn resp(status: u16, retry_after: Option<u64>) -> Result<WebhookResponse, TransportError> {
        Ok(WebhookResponse {
            status,
            body_excerpt: String::new(),
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    #[test]
    fn classification_follows_the_rules() {
        assert_eq!(classify(&resp(200, None)), Verdict::Success);
        assert_eq!(classify(&resp(204, None)), Verdict::Success);
        assert_eq!(classify(&resp(301, None)), Verdict::Fail);
        assert_eq!(classify(&resp(400, None)), Verdict::Fail);
        assert_eq!(classify(&resp(410, None)), Verdict::Gone);
        assert_eq!(classify(&resp(408, None)), Verdict::Retry(None));
        assert_eq!(
            classify(&resp(429, Some(60))),
            Verdict::Retry(Some(Duration::from_secs(60)))
        );
        assert_eq!(classify(&resp(503, None)), Verdict::Retry(None));
        assert_eq!(
            classify(&Err(TransportError::Connect("refused".into()))),
            Verdict::Retry(None)
        );
    }

    #[test]
    fn svix_schedule_with_jitter_and_retry_after() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_attempts(), 8);
        assert_eq!(p.delay_after(1, None, 0.5), Some(Duration::from_secs(5)));
        assert_eq!(p.delay_after(2, None, 0.0), Some(Duration::from_secs(240)));
        assert_eq!(p.delay_after(2, None, 1.0), Some(Duration::from_secs(360)));
        assert_eq!(
            p.delay_after(7, None, 0.5),
            Some(Duration::from_secs(36_000))
        );
        assert_eq!(p.delay_after(8, None, 0.5), None);
        assert_eq!(
            p.delay_after(1, Some(Duration::from_secs(120)), 0.5),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            p.delay_after(1, Some(Duration::from_secs(1_000_000)), 0.5),
            Some(Duration::from_secs(36_000))
        );
        let now = ts("2026-11-21T00:00:00Z");
        assert_eq!(
            p.next_state(1, Verdict::Retry(None), now, 0.5),
            Some(AttemptResult::Retry {
                next_attempt_at: now + Duration::from_secs(5)
            })
        );
        assert_eq!(
            p.next_state(8, Verdict::Retry(None), now, 0.5),
            Some(AttemptResult::Failed)
        );
        assert_eq!(
            p.next_state(1, Verdict::Fail, now, 0.5),
            Some(AttemptResult::Failed)
        );
        assert_eq!(p.next_state(1, Verdict::Success, now, 0.5), None);
    }

    #[test]
    fn request_has_seed_and_standard_webhooks_headers() {
        let now = ts("2021-02-21T16:22:10Z");
        let d = Delivery {
            id: DeliveryId(1),
            delivery: NewDelivery {
                appointment_id: AppointmentId(1),
                event: Default::default(),
                sequence: 0,
                workspace_id: "w".into(),
                webhook_id: "msg_p5jXN8AQM9LWM0D4loKWxJek".into(),
                url: "http://old".into(),
                payload: r#"{"test": 2432232314}"#.into(),
                next_attempt_at: now,
                created_at: now,
            },
            status: ForwardStatus::Pending,
            attempts: 0,
            locked_until: None,
            retry_base: 0,
        };
        let w = Workspace {
            id: "w".into(),
            name: "W".into(),
            outbound_webhook_url: "http://127.0.0.1:9/hooks/w".into(),
            webhook_active: true,
            business_type: None,
            payment_rate: Cents(100),
            timezone: None,
            webhook_secret: Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
            duplicate_window_days: None,
            capacity: Default::default(),
            schedule: None,
            delivery: Default::default(),
            require_consent: false,
            returns: Default::default(),
            messages: None,
            calendar: None,
        };
        let r = build_request(&d, &w, now).unwrap();
        let h = |k: &str| {
            r.headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(r.url, "http://127.0.0.1:9/hooks/w");
        assert_eq!(h("Content-Type"), Some("application/json"));
        assert_eq!(h("X-Webhook-Source"), Some("appointment-routing"));
        assert_eq!(
            h("User-Agent"),
            Some(format!("leadroute/{}", crate::VERSION).as_str())
        );
        assert_eq!(h("webhook-timestamp"), Some("1613924530"));
        let sig = crate::signature::sign(
            w.webhook_secret.as_deref().unwrap(),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1613924530,
            &r.body,
        )
        .unwrap();
        assert_eq!(h("webhook-signature"), Some(sig.as_str()));
        // Rotation: the old and the new secret both sign; either verifies.
        let mut rotating = w.clone();
        rotating.delivery.additional_secrets = vec!["whsec_bmV3LXNlY3JldC1rZXktMTIzNA==".into()];
        let r2 = build_request(&d, &rotating, now).unwrap();
        let both = r2
            .headers
            .iter()
            .find(|(k, _)| k == "webhook-signature")
            .map(|(_, v)| v.clone())
            .unwrap();
        assert_eq!(both.split(' ').count(), 2);
        for secret in [
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_bmV3LXNlY3JldC1rZXktMTIzNA==",
        ] {
            crate::signature::verify(
                secret,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1613924530,
                &r2.body,
                &both,
            )
            .unwrap();
        }
        let mut unsigned = w.clone();
        unsigned.webhook_secret = None;
        assert_eq!(
            build_request(&d, &unsigned, now)
                .unwrap()
                .headers
                .iter()
                .filter(|(k, _)| k == "webhook-signature")
                .count(),
            0
        );
    }
}
