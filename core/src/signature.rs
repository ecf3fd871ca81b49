//! Webhook signatures per the Standard Webhooks specification (v1).
//!
//! Signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the key is the base64-decoded
//! part of a `whsec_` secret; the signature is HMAC-SHA256, sent as `v1,<base64>` in the
//! `webhook-signature` header (several space-separated during secret rotation). Verification
//! compares in constant time.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a secret or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The secret is not `whsec_` followed by base64.
    #[error("webhook secret is not whsec_<base64>")]
    BadSecret,
    /// No `v1` signature in the header matches.
    #[error("no matching webhook signature")]
    Mismatch,
}

fn key(secret: &str) -> Result<Vec<u8>, SignatureError> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    let k = BASE64.decode(b64).map_err(|_| SignatureError::BadSecret)?;
    if k.is_empty() {
        return Err(SignatureError::BadSecret);
    }
    Ok(k)
}

fn mac(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(msg_id.as_bytes());
    m.update(b".");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The `webhook-signature` value for one message: `v1,<base64 HMAC-SHA256>`.
///
/// `timestamp` is Unix seconds (the `webhook-timestamp` header); `body` is the exact bytes
/// sent.
///
/// # Errors
///
/// [`SignatureError::BadSecret`] when `secret` is not `whsec_<base64>` (the prefix is
/// optional).
///
/// # Examples
///
/// The specification's test vector:
///
/// ```
/// use leadroute_core::signature::sign;
/// let sig = sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
///                1614265330, br#"{"test": 2432232314}"#).unwrap();
/// assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
/// ```
pub fn sign(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SignatureError> {
    let tag = mac(&key(secret)?, msg_id, timestamp, body)
        .finalize()
        .into_bytes();
    Ok(format!("v1,{}", BASE64.encode(tag)))
}

/// Checks a `webhook-signature` header (space-separated `v1,<base64>` entries) against the
/// message, in constant time. Timestamp tolerance is the receiver's policy, not checked here.
///
/// # Errors
///
/// [`SignatureError::BadSecret`] for a bad secret, [`SignatureError::Mismatch`] when no
/// entry matches.
pub fn verify(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
) -> Result<(), SignatureError> {
    let key = key(secret)?;
    for entry in header.split_whitespace() {
        let Some(b64) = entry.strip_prefix("v1,") else {
            continue;
        };
        let Ok(sig) = BASE64.decode(b64) else {
            continue;
        };
        if mac(&key, msg_id, timestamp, body)
            .verify_slice(&sig)
            .is_ok()
        {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn spec_vector_signs_and_verifies() {
        let sig = sign(SECRET, ID, 1614265330, BODY).unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(verify(SECRET, ID, 1614265330, BODY, &sig), Ok(()));
        // Rotation: any matching entry among several.
        let both = format!("v1,bm90IGl0 {sig}");
        assert_eq!(verify(SECRET, ID, 1614265330, BODY, &both), Ok(()));
    }

    #[test]
    fn tampering_is_detected() {
        let sig = sign(SECRET, ID, 1614265330, BODY).unwrap();
        let err = Err(SignatureError::Mismatch);
        assert_eq!(verify(SECRET, ID, 1614265331, BODY, &sig), err);
        assert_eq!(verify(SECRET, "msg_other", 1614265330, BODY, &sig), err);
        assert_eq!(verify(SECRET, ID, 1614265330, b"{}", &sig), err);
        assert_eq!(verify(SECRET, ID, 1614265330, BODY, "v2,abc"), err);
        assert_eq!(
            sign("whsec_!!", ID, 1, BODY),
            Err(SignatureError::BadSecret)
        );
    }
}
