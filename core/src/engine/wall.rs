//! The intake wall: which requests may post records, through which inbound webhook, and how
//! often. The checks are [`crate::auth`]'s pure functions; this module applies them to the
//! configuration snapshot ([`admit`]) and, inside the ingesting transaction, to the store
//! ([`consume_quota`]: replay protection and rate limits).
//!
//! Order of checks, so that nothing is revealed to an unauthenticated caller:
//!
//! 1. Authentication: the provider's API key when it has one (`api_key_hash`), and a
//!    signature when a secret applies: the inbound webhook's, else the provider's own
//!    (`signing_secret`). At least one must be configured; an unknown provider is refused
//!    exactly like a wrong key (`invalid_api_key`).
//! 2. Permission (HTTP 403): the provider is active; the webhook exists, is active, is in
//!    the provider's `allowed_webhooks`, and its lead type is one the provider may send.
//! 3. In the transaction: a signed message id not seen before (Standard Webhooks), then the
//!    provider's hourly limit and the webhook's `rate_limit` per `rate_window`, each checked
//!    and consumed with the records' writes, so two processes cannot both take the last slot
//!    and a rolled-back batch gives its slot back.

use super::Snapshot;
use crate::auth::{self, AuthError, RateLimit};
use crate::intake::FieldMap;
use crate::model::{Cents, Provider, WebhookConfig};
use crate::storage::{CounterLimit, Tx};
use crate::Error;
use jiff::Timestamp;

/// One inbound HTTP request from a provider, as the embedding service received it.
#[derive(Debug, Clone, Copy)]
pub struct InboundRequest<'a> {
    /// The provider the request claims to come from (e.g. from the URL path).
    pub provider_id: &'a str,
    /// The inbound webhook (`webhook_configs.id`) the request was posted to, if any.
    pub webhook_id: Option<&'a str>,
    /// The API key presented (e.g. the `X-API-Key` header or a bearer token), if any.
    pub api_key: Option<&'a str>,
    /// The request headers, `(name, value)`; names are matched case-insensitively.
    pub headers: &'a [(String, String)],
    /// The raw body, exactly as received (signatures are over these bytes).
    pub body: &'a [u8],
}

/// A request that passed authentication and permission checks.
pub(super) struct Admitted<'s> {
    pub(super) provider: &'s Provider,
    pub(super) map: &'s FieldMap,
    pub(super) webhook: Option<&'s WebhookConfig>,
    /// The signed message id, for the replay check.
    pub(super) message_id: Option<String>,
}

impl Admitted<'_> {
    /// The lead types records may have: the webhook's one lead type when it has one (which
    /// [`admit`] checked the provider may send), else the provider's.
    pub(super) fn lead_types(&self) -> Vec<String> {
        match self.webhook.and_then(|w| w.lead_type.as_ref()) {
            Some(t) => vec![t.to_ascii_lowercase()],
            None => self.provider.lead_types.clone(),
        }
    }
}

/// Authenticates and authorizes `req` against the snapshot (no storage, no clock but
/// `now_unix`, UTC seconds).
///
/// # Errors
///
/// [`AuthError`]: `invalid_api_key` / `missing_api_key` / `no_credentials_configured` and
/// the signature errors (401); `provider_inactive` / `webhook_not_allowed` (403).
pub(super) fn admit<'s>(
    snap: &'s Snapshot,
    req: &InboundRequest<'_>,
    now_unix: i64,
) -> Result<Admitted<'s>, AuthError> {
    let (provider, map) = snap
        .providers
        .get(req.provider_id)
        .ok_or(AuthError::InvalidApiKey)?;
    let keyed = match (&provider.api_key_hash, req.api_key) {
        (None, _) => false,
        (Some(_), None) => return Err(AuthError::MissingApiKey),
        (Some(hash), Some(key)) if auth::verify_api_key(key, hash) => true,
        (Some(_), Some(_)) => return Err(AuthError::InvalidApiKey),
    };
    let config = req.webhook_id.and_then(|id| snap.webhooks.get(id));
    // The webhook's secret signs requests through it; otherwise the provider's own.
    let secret = config
        .and_then(|w| w.secret.as_deref().map(|s| (w.signature_scheme, s)))
        .or_else(|| {
            provider
                .signing_secret
                .as_deref()
                .map(|s| (provider.signature_scheme, s))
        });
    let verify = |(scheme, secret): (auth::SignatureScheme, &str)| {
        auth::verify_request(scheme, secret, req.headers, req.body, now_unix)
    };
    // Without a key, the webhook's signature is what authenticates the caller, so it is
    // checked before anything about permissions is revealed.
    let mut verified = match (keyed, secret) {
        (true, _) => None,
        (false, Some(s)) => Some(verify(s)?),
        (false, None) => return Err(AuthError::NoCredentials),
    };
    if !provider.is_active {
        return Err(AuthError::ProviderInactive(provider.id.clone()));
    }
    let webhook = match req.webhook_id {
        None => None,
        Some(id) => Some(
            config
                .filter(|w| may_post_through(provider, w))
                .ok_or_else(|| AuthError::WebhookNotAllowed {
                    webhook_id: id.to_string(),
                })?,
        ),
    };
    // A keyed provider with a secret (its own or the webhook's) must sign too.
    if let (None, Some(s)) = (&verified, secret) {
        verified = Some(verify(s)?);
    }
    Ok(Admitted {
        provider,
        map,
        webhook,
        message_id: verified.and_then(|v| v.message_id),
    })
}

/// Whether `provider` may post through `webhook`: it is active, in the provider's
/// `allowed_webhooks`, and its lead type (if any) is one the provider may send.
fn may_post_through(provider: &Provider, webhook: &WebhookConfig) -> bool {
    webhook.is_active
        && provider.allowed_webhooks.contains(&webhook.id)
        && webhook.lead_type.as_ref().is_none_or(|t| {
            provider.lead_types.is_empty()
                || provider
                    .lead_types
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(t))
        })
}

/// Inside the ingesting transaction: refuses a replayed message id, then checks and consumes
/// one request of the provider's and the webhook's rate limits. Counters are the store's
/// capacity counters under `rate:provider:<id>:<window start>` and
/// `rate:webhook:<id>:<window start>`.
///
/// # Errors
///
/// [`AuthError::Replayed`], [`AuthError::RateLimited`] (with the seconds until the window
/// ends); storage errors.
pub(super) fn consume_quota(
    tx: &dyn Tx,
    admitted: &Admitted<'_>,
    at: Timestamp,
) -> Result<(), Error> {
    let now = crate::tz::unix_seconds(at);
    if let Some(id) = &admitted.message_id {
        let scope = match admitted.webhook {
            Some(w) => format!("webhook:{}", w.id),
            None => format!("provider:{}", admitted.provider.id),
        };
        if !tx.remember_message(&scope, id, at)? {
            return Err(AuthError::Replayed {
                message_id: id.clone(),
            }
            .into());
        }
    }
    let limits = [
        admitted.provider.rate_limit_per_hour.map(|l| {
            (
                "provider",
                admitted.provider.id.as_str(),
                RateLimit::per_hour(l),
            )
        }),
        admitted.webhook.and_then(|w| {
            w.rate_limit.map(|l| {
                (
                    "webhook",
                    w.id.as_str(),
                    RateLimit {
                        limit: l,
                        window_seconds: w.rate_window_seconds,
                    },
                )
            })
        }),
    ];
    for (kind, id, limit) in limits.into_iter().flatten() {
        let take = CounterLimit {
            key: format!("rate:{kind}:{id}:{}", limit.window_start(now)),
            max_count: Some(i64::from(limit.limit)),
            max_amount: None,
        };
        // Checked and counted in one atomic take, so concurrent batches cannot both pass
        // the last request of a window.
        if !tx.try_consume(std::slice::from_ref(&take), 1, Cents(0))? {
            return Err(AuthError::from(limit.refusal(now)).into());
        }
    }
    Ok(())
}
