//! Provider authentication at the intake wall: API keys, inbound request signatures and
//! fixed-window rate limits, as pure functions (no storage, no I/O, no clock).
//!
//! # API keys
//!
//! [`hash_api_key`] gives what is stored (`sha256:<hex>`), never the key itself;
//! [`verify_api_key`] compares a presented key against that hash in constant time. A plain
//! SHA-256 (no salt, no stretching) is the right tool here because API keys are long random
//! tokens, not passwords: there is nothing to brute-force, and an unsalted hash can be looked up
//! by value.
//!
//! # Inbound signatures
//!
//! [`verify_request`] checks an HMAC-SHA256 over the raw request body in one of the formats
//! providers use ([`SignatureScheme`]), in constant time, and refuses with a typed
//! [`AuthError`] whose [`code`](AuthError::code) is a stable snake_case reason.
//!
//! | scheme | header | signed content | timestamp | message id |
//! |---|---|---|---|---|
//! | GitHub | `X-Hub-Signature-256: sha256=<hex>` | body | – | – |
//! | Cal.com | `X-Cal-Signature-256: <hex>` | body | – | – |
//! | Standard Webhooks | `webhook-id`, `webhook-timestamp`, `webhook-signature` | `{id}.{ts}.{body}` | ±5 min | `webhook-id` |
//! | Stripe | `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` | `{t}.{body}` | ±5 min | – |
//!
//! Schemes with a signed timestamp are checked against [`TIMESTAMP_TOLERANCE_SECONDS`] either
//! way. The signature is checked first, so a timestamp error is only ever reported for an
//! authentic (if late or early) message. Replay protection by message id needs storage, so it
//! is the caller's: [`verify_request_once`] takes an "insert if new" callback that the engine
//! backs with a `UNIQUE` table (see [`Verified::signed_at`] for how long ids must be kept).
//!
//! # Rate limits
//!
//! [`check_rate`] is a fixed-window decision over a count the store keeps per
//! (provider or webhook, [`window_start`]): per provider in requests per hour, per webhook
//! `rate_limit` per `rate_window` seconds ([`RateLimit`]).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::kind::ErrorKind;
use crate::signature::{self, SignatureError};

/// How far a signed timestamp may be from `now`, in seconds, in either direction: 5 minutes,
/// the tolerance of the Standard Webhooks reference libraries and of Stripe's.
///
/// The boundary is inclusive: a timestamp exactly 300 s old (or ahead) is accepted, 301 s is
/// refused.
pub const TIMESTAMP_TOLERANCE_SECONDS: i64 = 300;

/// The GitHub-style signature header (`sha256=<hex>`).
pub const GITHUB_SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// The Cal.com signature header (`<hex>`).
pub const CAL_SIGNATURE_HEADER: &str = "X-Cal-Signature-256";
/// The Stripe signature header (`t=<unix>,v1=<hex>`).
pub const STRIPE_SIGNATURE_HEADER: &str = "Stripe-Signature";
/// The Standard Webhooks message id header.
pub const WEBHOOK_ID_HEADER: &str = "webhook-id";
/// The Standard Webhooks timestamp header (Unix seconds).
pub const WEBHOOK_TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The Standard Webhooks signature header (`v1,<base64>`, space-separated).
pub const WEBHOOK_SIGNATURE_HEADER: &str = "webhook-signature";

/// The value Cal.com sends in [`CAL_SIGNATURE_HEADER`] when the webhook has no secret: such a
/// request is unsigned and always refused ([`AuthError::NoSecret`]).
pub const CAL_NO_SECRET: &str = "no-secret-provided";

/// Why a request was refused at the intake wall.
///
/// Every variant has a stable snake_case [`code`](AuthError::code) for logs and rejection
/// records, and a [`kind`](AuthError::kind) the embedding service maps to an HTTP status.
/// Messages never contain secrets, keys or computed signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No API key was presented. Code `missing_api_key`.
    #[error("no API key presented")]
    MissingApiKey,
    /// The presented API key matches no active provider. Code `invalid_api_key`.
    #[error("invalid API key")]
    InvalidApiKey,
    /// Neither an API key nor a signing secret is configured for this provider and endpoint,
    /// so no request can be authenticated. Code `no_credentials_configured`.
    #[error("no API key or signing secret is configured for this provider and endpoint")]
    NoCredentials,
    /// The provider is known and authenticated but inactive. Code `provider_inactive`;
    /// forbidden (HTTP 403).
    #[error("provider {0} is inactive")]
    ProviderInactive(String),
    /// The inbound webhook does not exist, is inactive, or is not in the provider's
    /// `allowed_webhooks`. Code `webhook_not_allowed`; forbidden (HTTP 403).
    #[error("provider may not post through webhook {webhook_id}")]
    WebhookNotAllowed {
        /// The webhook the request named.
        webhook_id: String,
    },
    /// The scheme's signature header is absent. Code `missing_signature`.
    #[error("missing signature header {header}")]
    MissingSignature {
        /// The header that was expected, e.g. `X-Hub-Signature-256`.
        header: &'static str,
    },
    /// A header other than the signature the scheme needs (e.g. `webhook-id`) is absent.
    /// Code `missing_header`.
    #[error("missing header {header}")]
    MissingHeader {
        /// The header that was expected.
        header: &'static str,
    },
    /// A header is present but not in the scheme's format (no `sha256=` prefix, non-hex,
    /// wrong length, non-numeric timestamp, no `v1` entry, sent more than once).
    /// Code `malformed_signature`.
    #[error("malformed header {header}: {reason}")]
    MalformedSignature {
        /// The offending header.
        header: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The signature is well formed but does not match the body under the secret.
    /// Code `bad_signature`.
    #[error("signature does not match")]
    BadSignature,
    /// The signed timestamp is more than [`TIMESTAMP_TOLERANCE_SECONDS`] in the past.
    /// Code `stale_timestamp`.
    #[error("signed timestamp {timestamp} is too old (now {now})")]
    StaleTimestamp {
        /// The signed timestamp, Unix seconds.
        timestamp: i64,
        /// The receiver's clock, Unix seconds.
        now: i64,
    },
    /// The signed timestamp is more than [`TIMESTAMP_TOLERANCE_SECONDS`] in the future.
    /// Code `future_timestamp`.
    #[error("signed timestamp {timestamp} is in the future (now {now})")]
    FutureTimestamp {
        /// The signed timestamp, Unix seconds.
        timestamp: i64,
        /// The receiver's clock, Unix seconds.
        now: i64,
    },
    /// An authentic message whose id was already accepted. Code `replayed`.
    #[error("message {message_id} was already received")]
    Replayed {
        /// The Standard Webhooks `webhook-id`.
        message_id: String,
    },
    /// The sender says it has no secret (Cal.com's `no-secret-provided`): the request is
    /// unsigned. Code `no_secret`.
    #[error("sender has no signing secret configured")]
    NoSecret,
    /// Our configured secret is unusable: empty, or for Standard Webhooks not
    /// `whsec_<base64>`. A configuration error, not the caller's. Code `bad_secret`.
    #[error("configured signing secret is empty or malformed")]
    BadSecret,
    /// Too many requests in the current window. Code `rate_limited`.
    #[error(transparent)]
    RateLimited(#[from] RateLimited),
}

impl AuthError {
    /// Stable snake_case reason code, e.g. `bad_signature`.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingApiKey => "missing_api_key",
            AuthError::InvalidApiKey => "invalid_api_key",
            AuthError::NoCredentials => "no_credentials_configured",
            AuthError::ProviderInactive(_) => "provider_inactive",
            AuthError::WebhookNotAllowed { .. } => "webhook_not_allowed",
            AuthError::MissingSignature { .. } => "missing_signature",
            AuthError::MissingHeader { .. } => "missing_header",
            AuthError::MalformedSignature { .. } => "malformed_signature",
            AuthError::BadSignature => "bad_signature",
            AuthError::StaleTimestamp { .. } => "stale_timestamp",
            AuthError::FutureTimestamp { .. } => "future_timestamp",
            AuthError::Replayed { .. } => "replayed",
            AuthError::NoSecret => "no_secret",
            AuthError::BadSecret => "bad_secret",
            AuthError::RateLimited(_) => "rate_limited",
        }
    }

    /// The [`ErrorKind`]: [`ErrorKind::RateLimited`] (HTTP 429) for rate limits,
    /// [`ErrorKind::Forbidden`] (HTTP 403) for an inactive provider or a webhook it may not
    /// use, [`ErrorKind::Internal`] for our own unusable secret, [`ErrorKind::Unauthorized`]
    /// (HTTP 401) for everything else.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AuthError::RateLimited(_) => ErrorKind::RateLimited,
            AuthError::ProviderInactive(_) | AuthError::WebhookNotAllowed { .. } => {
                ErrorKind::Forbidden
            }
            AuthError::BadSecret => ErrorKind::Internal,
            _ => ErrorKind::Unauthorized,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// API keys

const API_KEY_HASH_PREFIX: &str = "sha256:";

/// The stored form of an API key: `sha256:` followed by the 64 lowercase hex digits of
/// SHA-256 over the key's UTF-8 bytes. Store this, never the key.
///
/// The key is hashed as given (no trimming or case folding). Keys must be long random tokens
/// (at least 128 bits of entropy); that is what makes an unsalted fast hash adequate.
///
/// # Examples
///
/// ```
/// use leadroute_core::auth::{hash_api_key, verify_api_key};
/// let stored = hash_api_key("abc");
/// assert_eq!(stored, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
/// assert!(verify_api_key("abc", &stored));
/// assert!(!verify_api_key("abd", &stored));
/// ```
pub fn hash_api_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut out = String::with_capacity(API_KEY_HASH_PREFIX.len() + 64);
    out.push_str(API_KEY_HASH_PREFIX);
    out.push_str(&hex::encode(digest));
    out
}

/// Whether `presented` is the key whose [`hash_api_key`] is `stored_hash`.
///
/// The hashes are compared in constant time (`subtle::ConstantTimeEq`), so the time taken
/// does not reveal how much of the hash matched. An empty presented key is never valid, and a
/// `stored_hash` not in the `sha256:<hex>` form matches nothing.
pub fn verify_api_key(presented: &str, stored_hash: &str) -> bool {
    if presented.is_empty() || !stored_hash.starts_with(API_KEY_HASH_PREFIX) {
        return false;
    }
    let computed = hash_api_key(presented);
    // `ct_eq` on slices of different lengths is false; the length is public anyway.
    computed.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

// ---------------------------------------------------------------------------------------------
// Inbound signatures

/// How an inbound request is signed. All use HMAC-SHA256 over the exact raw body bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SignatureScheme {
    /// GitHub style: `X-Hub-Signature-256: sha256=<hex>` = HMAC-SHA256(secret, body). The
    /// secret's UTF-8 bytes are the key. No timestamp and no signed id, so no replay check.
    #[serde(rename = "github")]
    GitHub,
    /// Cal.com: `X-Cal-Signature-256: <hex>` = HMAC-SHA256(secret, body); the literal
    /// `no-secret-provided` is refused. No timestamp and no signed id.
    CalCom,
    /// Standard Webhooks v1 (<https://www.standardwebhooks.com/>): `webhook-id`,
    /// `webhook-timestamp` (Unix seconds), `webhook-signature` (`v1,<base64>`, space-separated)
    /// over `{id}.{timestamp}.{body}`, keyed by the base64-decoded part of a `whsec_` secret;
    /// timestamp within [`TIMESTAMP_TOLERANCE_SECONDS`]; the id is returned for replay checks.
    StandardWebhooks,
    /// Stripe style: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` over `{t}.{body}`;
    /// the secret's UTF-8 bytes are the key (a `whsec_` prefix is part of the key, as with
    /// Stripe); any matching `v1` entry is accepted (secret rotation); other schemes (`v0`)
    /// are ignored; `t` within [`TIMESTAMP_TOLERANCE_SECONDS`].
    Stripe,
}

impl SignatureScheme {
    /// snake_case name, e.g. `standard_webhooks`, for configuration and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureScheme::GitHub => "github",
            SignatureScheme::CalCom => "cal_com",
            SignatureScheme::StandardWebhooks => "standard_webhooks",
            SignatureScheme::Stripe => "stripe",
        }
    }

    /// The scheme named by [`SignatureScheme::as_str`], if any.
    pub fn parse(name: &str) -> Option<SignatureScheme> {
        [
            SignatureScheme::GitHub,
            SignatureScheme::CalCom,
            SignatureScheme::StandardWebhooks,
            SignatureScheme::Stripe,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// What a successful [`verify_request`] established beyond authenticity (the default: no
/// message id, no timestamp).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The signed message id (Standard Webhooks `webhook-id`), for replay protection: the
    /// caller records it per provider or webhook in a `UNIQUE` column and refuses a second
    /// copy with [`AuthError::Replayed`]. `None` for schemes without a signed id.
    pub message_id: Option<String>,
    /// The signed timestamp, Unix seconds (Standard Webhooks, Stripe); `None` otherwise.
    ///
    /// A message is only accepted while `|now - signed_at| <=`
    /// [`TIMESTAMP_TOLERANCE_SECONDS`], so a stored message id may be pruned once
    /// `signed_at < now - TIMESTAMP_TOLERANCE_SECONDS`: any replay of it is refused as stale.
    pub signed_at: Option<i64>,
}

/// Verifies an inbound request's signature over its raw body.
///
/// - `scheme`: which format ([`SignatureScheme`]).
/// - `secret`: the provider's or webhook's signing secret as configured.
/// - `headers`: the request headers as `(name, value)`; names are matched
///   case-insensitively, values are trimmed of surrounding whitespace. A needed header sent
///   more than once is refused as malformed rather than guessed at.
/// - `body`: the exact bytes received, before any parsing or re-encoding.
/// - `now_unix`: the receiver's clock, UTC Unix seconds (ignored by schemes without a
///   timestamp).
///
/// Signatures are compared in constant time. This does not check replays: use
/// [`verify_request_once`], or record [`Verified::message_id`] yourself.
///
/// # Errors
///
/// [`AuthError::BadSecret`] when `secret` is empty (or, for Standard Webhooks, not
/// `whsec_<base64>`); [`AuthError::MissingSignature`] / [`AuthError::MissingHeader`] when a
/// header is absent; [`AuthError::MalformedSignature`] when one is not in the scheme's format;
/// [`AuthError::NoSecret`] for Cal.com's `no-secret-provided`; [`AuthError::BadSignature`]
/// when no signature matches; [`AuthError::StaleTimestamp`] / [`AuthError::FutureTimestamp`]
/// when an authentic message's timestamp is outside [`TIMESTAMP_TOLERANCE_SECONDS`].
///
/// # Examples
///
/// The Standard Webhooks specification's test vector:
///
/// ```
/// use leadroute_core::auth::{verify_request, AuthError, SignatureScheme};
/// let headers = [
///     ("Webhook-Id".to_string(), "msg_p5jXN8AQM9LWM0D4loKWxJek".to_string()),
///     ("Webhook-Timestamp".to_string(), "1614265330".to_string()),
///     ("Webhook-Signature".to_string(),
///      "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_string()),
/// ];
/// let body = br#"{"test": 2432232314}"#;
/// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// let ok = verify_request(SignatureScheme::StandardWebhooks, secret, &headers, body,
///                         1614265330 + 60).unwrap();
/// assert_eq!(ok.message_id.as_deref(), Some("msg_p5jXN8AQM9LWM0D4loKWxJek"));
///
/// let late = verify_request(SignatureScheme::StandardWebhooks, secret, &headers, body,
///                           1614265330 + 301);
/// assert_eq!(late.unwrap_err().code(), "stale_timestamp");
/// ```
pub fn verify_request(
    scheme: SignatureScheme,
    secret: &str,
    headers: &[(String, String)],
    body: &[u8],
    now_unix: i64,
) -> Result<Verified, AuthError> {
    if secret.is_empty() {
        return Err(AuthError::BadSecret);
    }
    match scheme {
        SignatureScheme::GitHub => verify_github(secret, headers, body),
        SignatureScheme::CalCom => verify_cal(secret, headers, body),
        SignatureScheme::StandardWebhooks => {
            verify_standard_webhooks(secret, headers, body, now_unix)
        }
        SignatureScheme::Stripe => verify_stripe(secret, headers, body, now_unix),
    }
}

/// [`verify_request`], then replay protection by message id.
///
/// `insert_if_new(message_id)` must atomically record the id (scoped to the provider or
/// webhook) and return `true` if it was not there before, `false` if it was. Backed by a table
/// with a `UNIQUE (provider_id, message_id)` constraint that is
/// `INSERT ... ON CONFLICT DO NOTHING` and "one row changed". It is called only after the
/// signature and timestamp have been verified, so forged requests cannot burn ids, and never
/// for schemes without a signed id. A store that cannot answer should return `false` (fail
/// closed). Ids may be pruned as described at [`Verified::signed_at`].
///
/// # Errors
///
/// Those of [`verify_request`], and [`AuthError::Replayed`] when `insert_if_new` returns
/// `false`.
///
/// # Examples
///
/// ```
/// use std::collections::HashSet;
/// use leadroute_core::auth::{verify_request_once, SignatureScheme};
/// use leadroute_core::signature::sign;
///
/// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// let body = b"{}";
/// let headers = [
///     ("webhook-id".to_string(), "msg_1".to_string()),
///     ("webhook-timestamp".to_string(), "1700000000".to_string()),
///     ("webhook-signature".to_string(), sign(secret, "msg_1", 1700000000, body).unwrap()),
/// ];
/// let mut seen = HashSet::new();
/// let mut insert = |id: &str| seen.insert(id.to_string());
/// let s = SignatureScheme::StandardWebhooks;
/// assert!(verify_request_once(s, secret, &headers, body, 1700000000, &mut insert).is_ok());
/// let again = verify_request_once(s, secret, &headers, body, 1700000000, &mut insert);
/// assert_eq!(again.unwrap_err().code(), "replayed");
/// ```
pub fn verify_request_once(
    scheme: SignatureScheme,
    secret: &str,
    headers: &[(String, String)],
    body: &[u8],
    now_unix: i64,
    insert_if_new: &mut dyn FnMut(&str) -> bool,
) -> Result<Verified, AuthError> {
    let verified = verify_request(scheme, secret, headers, body, now_unix)?;
    if let Some(id) = &verified.message_id {
        if !insert_if_new(id) {
            return Err(AuthError::Replayed {
                message_id: id.clone(),
            });
        }
    }
    Ok(verified)
}

/// The one value of header `name` (case-insensitive), trimmed; `Ok(None)` when absent.
fn header<'a>(
    headers: &'a [(String, String)],
    name: &'static str,
) -> Result<Option<&'a str>, AuthError> {
    let mut found = None;
    for (k, v) in headers {
        if k.trim().eq_ignore_ascii_case(name) {
            if found.is_some() {
                return Err(AuthError::MalformedSignature {
                    header: name,
                    reason: "header sent more than once",
                });
            }
            found = Some(v.trim());
        }
    }
    Ok(found)
}

fn require_signature<'a>(
    headers: &'a [(String, String)],
    name: &'static str,
) -> Result<&'a str, AuthError> {
    match header(headers, name)? {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(AuthError::MissingSignature { header: name }),
    }
}

fn require_header<'a>(
    headers: &'a [(String, String)],
    name: &'static str,
) -> Result<&'a str, AuthError> {
    match header(headers, name)? {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(AuthError::MissingHeader { header: name }),
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Constant-time comparison of a computed tag with a presented one.
fn tag_matches(computed: &[u8; 32], presented: &[u8; 32]) -> bool {
    computed.ct_eq(presented).into()
}

/// 64 hex digits (either case) to 32 bytes.
fn parse_hex_tag(header: &'static str, hex: &str) -> Result<[u8; 32], AuthError> {
    if hex.len() != 64 {
        return Err(AuthError::MalformedSignature {
            header,
            reason: "expected 64 hex digits",
        });
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex, &mut out)
        .map(|()| out)
        .map_err(|_| AuthError::MalformedSignature {
            header,
            reason: "not hexadecimal",
        })
}

fn verify_github(
    secret: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Verified, AuthError> {
    let h = GITHUB_SIGNATURE_HEADER;
    let value = require_signature(headers, h)?;
    let hex = value
        .strip_prefix("sha256=")
        .ok_or(AuthError::MalformedSignature {
            header: h,
            reason: "expected sha256=<hex>",
        })?;
    let presented = parse_hex_tag(h, hex)?;
    let computed = hmac_sha256(secret.as_bytes(), &[body]);
    if !tag_matches(&computed, &presented) {
        return Err(AuthError::BadSignature);
    }
    Ok(Verified {
        message_id: None,
        signed_at: None,
    })
}

fn verify_cal(
    secret: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Verified, AuthError> {
    let h = CAL_SIGNATURE_HEADER;
    let value = require_signature(headers, h)?;
    if value == CAL_NO_SECRET {
        return Err(AuthError::NoSecret);
    }
    let presented = parse_hex_tag(h, value)?;
    let computed = hmac_sha256(secret.as_bytes(), &[body]);
    if !tag_matches(&computed, &presented) {
        return Err(AuthError::BadSignature);
    }
    Ok(Verified {
        message_id: None,
        signed_at: None,
    })
}

/// Parses a Unix-seconds timestamp: ASCII digits only (no sign, no spaces), fitting in `i64`.
fn parse_unix(header: &'static str, s: &str) -> Result<i64, AuthError> {
    let malformed = AuthError::MalformedSignature {
        header,
        reason: "timestamp is not Unix seconds",
    };
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed);
    }
    s.parse::<i64>().map_err(|_| malformed)
}

/// Refuses `timestamp` when it is more than [`TIMESTAMP_TOLERANCE_SECONDS`] from `now`.
fn check_timestamp(timestamp: i64, now: i64) -> Result<(), AuthError> {
    if now.saturating_sub(timestamp) > TIMESTAMP_TOLERANCE_SECONDS {
        return Err(AuthError::StaleTimestamp { timestamp, now });
    }
    if timestamp.saturating_sub(now) > TIMESTAMP_TOLERANCE_SECONDS {
        return Err(AuthError::FutureTimestamp { timestamp, now });
    }
    Ok(())
}

fn verify_standard_webhooks(
    secret: &str,
    headers: &[(String, String)],
    body: &[u8],
    now: i64,
) -> Result<Verified, AuthError> {
    let sig = require_signature(headers, WEBHOOK_SIGNATURE_HEADER)?;
    let id = require_header(headers, WEBHOOK_ID_HEADER)?;
    let ts_raw = require_header(headers, WEBHOOK_TIMESTAMP_HEADER)?;
    let timestamp = parse_unix(WEBHOOK_TIMESTAMP_HEADER, ts_raw)?;
    if !sig.split_whitespace().any(|entry| entry.starts_with("v1,")) {
        return Err(AuthError::MalformedSignature {
            header: WEBHOOK_SIGNATURE_HEADER,
            reason: "no v1,<base64> entry",
        });
    }
    match signature::verify(secret, id, timestamp, body, sig) {
        Ok(()) => {}
        Err(SignatureError::BadSecret) => return Err(AuthError::BadSecret),
        Err(_) => return Err(AuthError::BadSignature),
    }
    check_timestamp(timestamp, now)?;
    Ok(Verified {
        message_id: Some(id.to_string()),
        signed_at: Some(timestamp),
    })
}

fn verify_stripe(
    secret: &str,
    headers: &[(String, String)],
    body: &[u8],
    now: i64,
) -> Result<Verified, AuthError> {
    let h = STRIPE_SIGNATURE_HEADER;
    let value = require_signature(headers, h)?;
    let malformed = |reason| AuthError::MalformedSignature { header: h, reason };
    let mut t = None;
    let mut v1 = Vec::new();
    for item in value.split(',') {
        let (k, v) = item
            .trim()
            .split_once('=')
            .ok_or_else(|| malformed("expected key=value items"))?;
        match k {
            "t" if t.is_some() => return Err(malformed("t given more than once")),
            "t" => t = Some(parse_unix(h, v)?),
            "v1" => v1.push(v),
            _ => {} // v0 and future schemes are ignored, as Stripe does.
        }
    }
    let timestamp = t.ok_or_else(|| malformed("no t=<unix> item"))?;
    if v1.is_empty() {
        return Err(malformed("no v1=<hex> item"));
    }
    let computed = hmac_sha256(
        secret.as_bytes(),
        &[timestamp.to_string().as_bytes(), b".", body],
    );
    // Every entry is compared (no early exit), so timing does not reveal which one matched.
    let mut any = false;
    let mut any_wellformed = false;
    for hex in v1 {
        if let Ok(presented) = parse_hex_tag(h, hex) {
            any_wellformed = true;
            any |= tag_matches(&computed, &presented);
        }
    }
    if !any_wellformed {
        return Err(malformed("no v1 entry is 64 hex digits"));
    }
    if !any {
        return Err(AuthError::BadSignature);
    }
    check_timestamp(timestamp, now)?;
    Ok(Verified {
        message_id: None,
        signed_at: Some(timestamp),
    })
}

// ---------------------------------------------------------------------------------------------
// Rate limits

/// A refusal by [`check_rate`]: the limit for the current window is used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("rate limit exceeded; retry after {retry_after_seconds} s")]
pub struct RateLimited {
    /// Seconds until the current window ends (1 ..= window), for the `Retry-After` header.
    pub retry_after_seconds: u32,
}

/// A fixed-window rate limit: at most `limit` requests per `window_seconds`, windows aligned
/// to the Unix epoch (so an hourly window starts on the UTC hour).
///
/// Per provider: [`RateLimit::per_hour`] with the provider's requests-per-hour. Per webhook:
/// `RateLimit { limit: rate_limit, window_seconds: rate_window }` from `webhook_configs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// Requests allowed per window; 0 refuses everything.
    pub limit: u32,
    /// Window length in seconds; 0 is treated as 1.
    pub window_seconds: u32,
}

impl RateLimit {
    /// `limit` requests per hour (3,600 s).
    pub fn per_hour(limit: u32) -> RateLimit {
        RateLimit {
            limit,
            window_seconds: 3600,
        }
    }

    /// [`window_start`] for this limit's window.
    pub fn window_start(self, now_unix: i64) -> i64 {
        window_start(now_unix, self.window_seconds)
    }

    /// [`check_rate`] for this limit.
    ///
    /// # Errors
    ///
    /// [`RateLimited`] when `used_in_window >= limit`.
    pub fn check(self, used_in_window: u32, now_unix: i64) -> Result<(), RateLimited> {
        check_rate(self.limit, self.window_seconds, used_in_window, now_unix)
    }

    /// The refusal of a request at `now_unix` once the window is full: `retry_after_seconds`
    /// until the window ends (between 1 and `window_seconds`). For a store that counts and
    /// refuses in one atomic take instead of reading the count first.
    pub fn refusal(self, now_unix: i64) -> RateLimited {
        let w = self.window_seconds.max(1);
        let elapsed = now_unix.rem_euclid(i64::from(w));
        // 0 <= elapsed < w, so the difference is in 1..=w and fits in u32.
        let retry_after_seconds = u32::try_from(i64::from(w) - elapsed).unwrap_or(w);
        RateLimited {
            retry_after_seconds,
        }
    }
}

/// The start (Unix seconds, UTC) of the fixed window of `window_seconds` that contains
/// `now_unix`; windows are aligned to the Unix epoch. A store keys its counters by
/// (provider or webhook, this value). A `window_seconds` of 0 is treated as 1.
///
/// # Examples
///
/// ```
/// use leadroute_core::auth::window_start;
/// assert_eq!(window_start(7_199, 3600), 3_600);
/// assert_eq!(window_start(7_200, 3600), 7_200);
/// ```
pub fn window_start(now_unix: i64, window_seconds: u32) -> i64 {
    let w = i64::from(window_seconds.max(1));
    now_unix.saturating_sub(now_unix.rem_euclid(w))
}

/// Fixed-window decision: may one more request be accepted when `used_in_window` requests
/// were already accepted in the window (of `window_seconds`, see [`window_start`]) containing
/// `now_unix`?
///
/// Allowed while `used_in_window < limit`; the caller then increments its counter (in the
/// same transaction as the check, so two processes cannot both take the last slot). A
/// `window_seconds` of 0 is treated as 1.
///
/// # Errors
///
/// [`RateLimited`] with `retry_after_seconds` = seconds until the window ends (between 1 and
/// `window_seconds`).
///
/// # Examples
///
/// ```
/// use leadroute_core::auth::{check_rate, RateLimited};
/// assert_eq!(check_rate(100, 3600, 99, 7_200), Ok(()));
/// assert_eq!(check_rate(100, 3600, 100, 7_200),
///            Err(RateLimited { retry_after_seconds: 3600 }));
/// assert_eq!(check_rate(100, 3600, 100, 10_799),
///            Err(RateLimited { retry_after_seconds: 1 }));
/// ```
pub fn check_rate(
    limit: u32,
    window_seconds: u32,
    used_in_window: u32,
    now_unix: i64,
) -> Result<(), RateLimited> {
    if used_in_window < limit {
        return Ok(());
    }
    Err(RateLimit {
        limit,
        window_seconds,
    }
    .refusal(now_unix))
}

#[cfg(test)]
mod tests;
