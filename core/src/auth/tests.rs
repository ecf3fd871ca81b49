use super::*;

fn hdrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---- API keys -------------------------------------------------------------------------

#[test]
fn api_key_hash_is_sha256_hex_and_verifies() {
    // FIPS 180-2 vector: SHA-256("abc").
    let h = hash_api_key("abc");
    assert_eq!(
        h,
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(verify_api_key("abc", &h));
    let key = "lr_live_4f1c2a9e7b3d5f6a8c0e1b2d3f4a5c6e";
    let stored = hash_api_key(key);
    assert!(!stored.contains(key));
    assert!(verify_api_key(key, &stored));
}

#[test]
fn api_key_refusals() {
    let stored = hash_api_key("secret-key");
    assert!(!verify_api_key("secret-kez", &stored));
    assert!(!verify_api_key("Secret-key", &stored));
    assert!(!verify_api_key("secret-key ", &stored));
    assert!(!verify_api_key("", &stored));
    assert!(!verify_api_key("", &hash_api_key("")));
    // Stored value not in sha256:<hex> form, truncated, or the raw key itself.
    assert!(!verify_api_key("secret-key", "secret-key"));
    assert!(!verify_api_key("secret-key", &stored[..stored.len() - 1]));
    assert!(!verify_api_key(
        "secret-key",
        &stored.replace("sha256:", "")
    ));
    assert!(!verify_api_key("secret-key", ""));
}

// ---- GitHub ---------------------------------------------------------------------------

// GitHub's documented vector ("Validating webhook deliveries").
const GH_SECRET: &str = "It's a Secret to Everybody";
const GH_BODY: &[u8] = b"Hello, World!";
const GH_SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

fn gh(headers: &[(&str, &str)], secret: &str, body: &[u8]) -> Result<Verified, AuthError> {
    verify_request(SignatureScheme::GitHub, secret, &hdrs(headers), body, 0)
}

#[test]
fn github_vector_verifies_with_any_header_case() {
    for name in [
        "X-Hub-Signature-256",
        "x-hub-signature-256",
        "X-HUB-SIGNATURE-256",
    ] {
        let v = gh(&[(name, GH_SIG)], GH_SECRET, GH_BODY).unwrap();
        assert_eq!(v.message_id, None);
        assert_eq!(v.signed_at, None);
    }
    // Uppercase hex and surrounding whitespace are accepted.
    let upper = format!("sha256={}", GH_SIG[7..].to_uppercase());
    assert!(gh(&[(GITHUB_SIGNATURE_HEADER, &upper)], GH_SECRET, GH_BODY).is_ok());
    let padded = format!("  {GH_SIG} ");
    assert!(gh(&[(GITHUB_SIGNATURE_HEADER, &padded)], GH_SECRET, GH_BODY).is_ok());
}

#[test]
fn github_refusals() {
    let h = GITHUB_SIGNATURE_HEADER;
    let ok = [(h, GH_SIG)];
    assert_eq!(
        gh(&ok, "wrong secret", GH_BODY),
        Err(AuthError::BadSignature)
    );
    assert_eq!(
        gh(&ok, GH_SECRET, b"Hello, World?"),
        Err(AuthError::BadSignature)
    );
    assert_eq!(gh(&ok, "", GH_BODY), Err(AuthError::BadSecret));
    assert_eq!(
        gh(&[], GH_SECRET, GH_BODY),
        Err(AuthError::MissingSignature { header: h })
    );
    assert_eq!(
        gh(&[(h, "")], GH_SECRET, GH_BODY).unwrap_err().code(),
        "missing_signature"
    );
    // The SHA-1 header alone is not accepted.
    assert_eq!(
        gh(&[("X-Hub-Signature", "sha1=abc")], GH_SECRET, GH_BODY)
            .unwrap_err()
            .code(),
        "missing_signature"
    );
    let bare = &GH_SIG[7..];
    let nonhex = format!("sha256={}zz", &GH_SIG[7..69]);
    let short = &GH_SIG[..GH_SIG.len() - 2];
    let sha1 = "sha1=757107ea0eb2509fc211221cce984b8a37570b6d";
    for bad in [bare, nonhex.as_str(), short, sha1, "sha256="] {
        let err = gh(&[(h, bad)], GH_SECRET, GH_BODY).unwrap_err();
        assert_eq!(err.code(), "malformed_signature", "{bad}");
    }
    // Sent twice: refused rather than guessed at.
    let twice = [(h, GH_SIG), ("x-hub-signature-256", GH_SIG)];
    assert_eq!(
        gh(&twice, GH_SECRET, GH_BODY).unwrap_err().code(),
        "malformed_signature"
    );
}

// ---- Cal.com --------------------------------------------------------------------------

// Computed independently: printf '<body>' | openssl dgst -sha256 -hmac cal_secret
const CAL_SECRET: &str = "cal_secret";
const CAL_BODY: &[u8] = br#"{"triggerEvent":"BOOKING_CREATED"}"#;
const CAL_SIG: &str = "e29d6d36429a74c72c513cc6fabc611ce5dacc41e4a1e63b6e5624abc62865b3";

fn cal(headers: &[(&str, &str)], secret: &str, body: &[u8]) -> Result<Verified, AuthError> {
    verify_request(SignatureScheme::CalCom, secret, &hdrs(headers), body, 0)
}

#[test]
fn cal_good_and_refusals() {
    let h = CAL_SIGNATURE_HEADER;
    assert!(cal(&[("x-cal-signature-256", CAL_SIG)], CAL_SECRET, CAL_BODY).is_ok());
    assert_eq!(
        cal(&[(h, CAL_NO_SECRET)], CAL_SECRET, CAL_BODY),
        Err(AuthError::NoSecret)
    );
    assert_eq!(AuthError::NoSecret.code(), "no_secret");
    assert_eq!(
        cal(&[(h, CAL_SIG)], "other", CAL_BODY),
        Err(AuthError::BadSignature)
    );
    assert_eq!(
        cal(&[(h, CAL_SIG)], CAL_SECRET, b"{}"),
        Err(AuthError::BadSignature)
    );
    assert_eq!(
        cal(&[], CAL_SECRET, CAL_BODY),
        Err(AuthError::MissingSignature { header: h })
    );
    let prefixed = format!("sha256={CAL_SIG}");
    let nonhex = format!("{}gg", &CAL_SIG[..62]);
    for bad in [prefixed.as_str(), nonhex.as_str(), &CAL_SIG[..10]] {
        let err = cal(&[(h, bad)], CAL_SECRET, CAL_BODY).unwrap_err();
        assert_eq!(err.code(), "malformed_signature", "{bad}");
    }
}

// ---- Standard Webhooks ----------------------------------------------------------------

// The specification's test vector (docs/DESIGN.md, Standard Webhooks facts).
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SW_TS: i64 = 1614265330;
const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SW_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn sw_headers(id: &str, ts: &str, sig: &str) -> Vec<(String, String)> {
    hdrs(&[
        ("webhook-id", id),
        ("webhook-timestamp", ts),
        ("webhook-signature", sig),
    ])
}

fn sw(headers: &[(String, String)], body: &[u8], now: i64) -> Result<Verified, AuthError> {
    verify_request(
        SignatureScheme::StandardWebhooks,
        SW_SECRET,
        headers,
        body,
        now,
    )
}

#[test]
fn standard_webhooks_vector_and_tolerance_boundaries() {
    let h = sw_headers(SW_ID, "1614265330", SW_SIG);
    let v = sw(&h, SW_BODY, SW_TS).unwrap();
    assert_eq!(v.message_id.as_deref(), Some(SW_ID));
    assert_eq!(v.signed_at, Some(SW_TS));
    // Exactly 5 minutes either way is accepted; one second more is not.
    assert!(sw(&h, SW_BODY, SW_TS + 300).is_ok());
    assert!(sw(&h, SW_BODY, SW_TS - 300).is_ok());
    assert_eq!(
        sw(&h, SW_BODY, SW_TS + 301),
        Err(AuthError::StaleTimestamp {
            timestamp: SW_TS,
            now: SW_TS + 301
        })
    );
    assert_eq!(
        sw(&h, SW_BODY, SW_TS - 301),
        Err(AuthError::FutureTimestamp {
            timestamp: SW_TS,
            now: SW_TS - 301
        })
    );
    // Extreme clocks do not overflow.
    assert_eq!(
        sw(&h, SW_BODY, i64::MAX).unwrap_err().code(),
        "stale_timestamp"
    );
    assert_eq!(
        sw(&h, SW_BODY, i64::MIN).unwrap_err().code(),
        "future_timestamp"
    );
}

#[test]
fn standard_webhooks_rotation_and_header_case() {
    let rotated = format!("v1,bm90IGl0 {SW_SIG}");
    let h = hdrs(&[
        ("Webhook-Id", SW_ID),
        ("WEBHOOK-TIMESTAMP", "1614265330"),
        ("Webhook-Signature", &rotated),
    ]);
    assert!(sw(&h, SW_BODY, SW_TS).is_ok());
}

#[test]
fn standard_webhooks_refusals() {
    let now = SW_TS;
    let e = |h: Vec<(String, String)>, body: &[u8]| sw(&h, body, now).unwrap_err();
    // Tampered body, id or timestamp (the timestamp is signed, so moving it is a bad
    // signature, not a fresh message).
    assert_eq!(
        e(sw_headers(SW_ID, "1614265330", SW_SIG), b"{}"),
        AuthError::BadSignature
    );
    assert_eq!(
        e(sw_headers("msg_other", "1614265330", SW_SIG), SW_BODY),
        AuthError::BadSignature
    );
    assert_eq!(
        e(sw_headers(SW_ID, "1614265331", SW_SIG), SW_BODY),
        AuthError::BadSignature
    );
    // Wrong secret.
    let other = "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldA==";
    let h = sw_headers(SW_ID, "1614265330", SW_SIG);
    assert_eq!(
        verify_request(SignatureScheme::StandardWebhooks, other, &h, SW_BODY, now),
        Err(AuthError::BadSignature)
    );
    // Our secret unusable.
    for bad in ["", "whsec_!!!", "whsec_"] {
        assert_eq!(
            verify_request(SignatureScheme::StandardWebhooks, bad, &h, SW_BODY, now),
            Err(AuthError::BadSecret),
            "{bad}"
        );
    }
    assert_eq!(AuthError::BadSecret.kind(), ErrorKind::Internal);
    // Missing headers.
    let only = |keep: &str| -> Vec<(String, String)> {
        sw_headers(SW_ID, "1614265330", SW_SIG)
            .into_iter()
            .filter(|(k, _)| k != keep)
            .collect()
    };
    assert_eq!(
        e(only(WEBHOOK_SIGNATURE_HEADER), SW_BODY),
        AuthError::MissingSignature {
            header: WEBHOOK_SIGNATURE_HEADER
        }
    );
    assert_eq!(
        e(only(WEBHOOK_ID_HEADER), SW_BODY),
        AuthError::MissingHeader {
            header: WEBHOOK_ID_HEADER
        }
    );
    assert_eq!(
        e(only(WEBHOOK_TIMESTAMP_HEADER), SW_BODY),
        AuthError::MissingHeader {
            header: WEBHOOK_TIMESTAMP_HEADER
        }
    );
    // Malformed timestamp and signature.
    for ts in [
        "-1614265330",
        "1614265330.0",
        "abc",
        "+1614265330",
        "99999999999999999999",
    ] {
        assert_eq!(
            e(sw_headers(SW_ID, ts, SW_SIG), SW_BODY).code(),
            "malformed_signature",
            "{ts}"
        );
    }
    for sig in [
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "v1a,xyz",
    ] {
        assert_eq!(
            e(sw_headers(SW_ID, "1614265330", sig), SW_BODY).code(),
            "malformed_signature",
            "{sig}"
        );
    }
    // A v1 entry that is not base64 simply does not match.
    assert_eq!(
        e(sw_headers(SW_ID, "1614265330", "v1,!!!"), SW_BODY),
        AuthError::BadSignature
    );
}

#[test]
fn standard_webhooks_replay_is_refused_after_verification() {
    use std::collections::HashSet;
    let h = sw_headers(SW_ID, "1614265330", SW_SIG);
    let mut seen: HashSet<String> = HashSet::new();
    let mut calls = 0;
    let mut insert = |id: &str| {
        calls += 1;
        seen.insert(id.to_string())
    };
    let s = SignatureScheme::StandardWebhooks;
    let first = verify_request_once(s, SW_SECRET, &h, SW_BODY, SW_TS, &mut insert).unwrap();
    assert_eq!(first.message_id.as_deref(), Some(SW_ID));
    let again = verify_request_once(s, SW_SECRET, &h, SW_BODY, SW_TS + 10, &mut insert);
    assert_eq!(
        again,
        Err(AuthError::Replayed {
            message_id: SW_ID.to_string()
        })
    );
    assert_eq!(again.unwrap_err().code(), "replayed");
    // A forged or stale copy never reaches the store, so it cannot burn an id.
    let forged = sw_headers("msg_new", "1614265330", SW_SIG);
    let r = verify_request_once(s, SW_SECRET, &forged, SW_BODY, SW_TS, &mut insert);
    assert_eq!(r, Err(AuthError::BadSignature));
    let r = verify_request_once(s, SW_SECRET, &h, SW_BODY, SW_TS + 301, &mut insert);
    assert_eq!(r.unwrap_err().code(), "stale_timestamp");
    assert_eq!(calls, 2);
    // Schemes without a signed id never consult the store.
    let mut never = |_: &str| -> bool { panic!("no id to record") };
    let gh_h = hdrs(&[(GITHUB_SIGNATURE_HEADER, GH_SIG)]);
    let r = verify_request_once(
        SignatureScheme::GitHub,
        GH_SECRET,
        &gh_h,
        GH_BODY,
        0,
        &mut never,
    );
    assert!(r.is_ok());
}

// ---- Stripe ---------------------------------------------------------------------------

// Computed independently:
// printf '1614265330.<body>' | openssl dgst -sha256 -hmac whsec_stripe_test
const ST_SECRET: &str = "whsec_stripe_test";
const ST_TS: i64 = 1614265330;
const ST_BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;
const ST_V1: &str = "9c9379ea619be80305ec5c1534bf4ffe1d24f331ac1ce9fbd296db4aaea3c199";

fn stripe(value: &str, secret: &str, body: &[u8], now: i64) -> Result<Verified, AuthError> {
    let h = hdrs(&[("stripe-signature", value)]);
    verify_request(SignatureScheme::Stripe, secret, &h, body, now)
}

#[test]
fn stripe_good_multiple_v1_and_boundaries() {
    let value = format!("t={ST_TS},v1={ST_V1}");
    let v = stripe(&value, ST_SECRET, ST_BODY, ST_TS).unwrap();
    assert_eq!(v.signed_at, Some(ST_TS));
    assert_eq!(v.message_id, None);
    // Several v1 entries (rotation), one matching, in any position; v0 ignored; spaces ok.
    let wrong = "0".repeat(64);
    for value in [
        format!("t={ST_TS},v1={wrong},v1={ST_V1}"),
        format!("t={ST_TS}, v1={ST_V1}, v1={wrong}, v0={wrong}"),
        format!("v1=nothex,v1={ST_V1},t={ST_TS}"),
    ] {
        assert!(stripe(&value, ST_SECRET, ST_BODY, ST_TS).is_ok(), "{value}");
    }
    assert!(stripe(&value, ST_SECRET, ST_BODY, ST_TS + 300).is_ok());
    assert!(stripe(&value, ST_SECRET, ST_BODY, ST_TS - 300).is_ok());
    assert_eq!(
        stripe(&value, ST_SECRET, ST_BODY, ST_TS + 301)
            .unwrap_err()
            .code(),
        "stale_timestamp"
    );
    assert_eq!(
        stripe(&value, ST_SECRET, ST_BODY, ST_TS - 301)
            .unwrap_err()
            .code(),
        "future_timestamp"
    );
}

#[test]
fn stripe_refusals() {
    let value = format!("t={ST_TS},v1={ST_V1}");
    let now = ST_TS;
    assert_eq!(
        stripe(&value, "whsec_other", ST_BODY, now),
        Err(AuthError::BadSignature)
    );
    assert_eq!(
        stripe(&value, ST_SECRET, b"{}", now),
        Err(AuthError::BadSignature)
    );
    // t is signed: moving it breaks the signature.
    let moved = format!("t={},v1={ST_V1}", ST_TS + 1);
    assert_eq!(
        stripe(&moved, ST_SECRET, ST_BODY, now),
        Err(AuthError::BadSignature)
    );
    let wrong = "0".repeat(64);
    let all_wrong = format!("t={ST_TS},v1={wrong},v1={}", "f".repeat(64));
    assert_eq!(
        stripe(&all_wrong, ST_SECRET, ST_BODY, now),
        Err(AuthError::BadSignature)
    );
    assert_eq!(
        verify_request(SignatureScheme::Stripe, ST_SECRET, &[], ST_BODY, now),
        Err(AuthError::MissingSignature {
            header: STRIPE_SIGNATURE_HEADER
        })
    );
    for bad in [
        format!("v1={ST_V1}"),                     // no t
        format!("t={ST_TS}"),                      // no v1
        format!("t={ST_TS},v0={ST_V1}"),           // only v0
        format!("t={ST_TS},t={ST_TS},v1={ST_V1}"), // t twice
        format!("t=abc,v1={ST_V1}"),               // non-numeric t
        format!("t=-5,v1={ST_V1}"),                // negative t
        format!("t={ST_TS},v1=xyz"),               // non-hex only
        format!("t={ST_TS},v1={}", &ST_V1[..40]),  // short
        format!("t={ST_TS};v1={ST_V1}"),           // wrong separator
        format!("t={ST_TS},v1={ST_V1},garbage"),   // item without '='
    ] {
        assert_eq!(
            stripe(&bad, ST_SECRET, ST_BODY, now).unwrap_err().code(),
            "malformed_signature",
            "{bad}"
        );
    }
}

#[test]
fn codes_and_kinds() {
    let all = [
        AuthError::MissingApiKey,
        AuthError::InvalidApiKey,
        AuthError::MissingSignature { header: "h" },
        AuthError::MissingHeader { header: "h" },
        AuthError::MalformedSignature {
            header: "h",
            reason: "r",
        },
        AuthError::BadSignature,
        AuthError::StaleTimestamp {
            timestamp: 0,
            now: 0,
        },
        AuthError::FutureTimestamp {
            timestamp: 0,
            now: 0,
        },
        AuthError::Replayed {
            message_id: "m".into(),
        },
        AuthError::NoSecret,
        AuthError::BadSecret,
        AuthError::RateLimited(RateLimited {
            retry_after_seconds: 5,
        }),
    ];
    let mut codes: Vec<_> = all.iter().map(AuthError::code).collect();
    for c in &codes {
        assert!(
            c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{c}"
        );
    }
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), all.len());
    assert_eq!(AuthError::BadSignature.kind(), ErrorKind::Unauthorized);
    assert_eq!(all[11].kind(), ErrorKind::RateLimited);
    assert!(all[11].kind().is_retryable());
    assert_eq!(
        SignatureScheme::StandardWebhooks.as_str(),
        "standard_webhooks"
    );
}

// ---- Rate limits ----------------------------------------------------------------------

#[test]
fn window_start_aligns_to_epoch() {
    assert_eq!(window_start(0, 3600), 0);
    assert_eq!(window_start(3599, 3600), 0);
    assert_eq!(window_start(3600, 3600), 3600);
    assert_eq!(window_start(1_700_000_123, 60), 1_700_000_100);
    assert_eq!(window_start(-1, 3600), -3600);
    assert_eq!(window_start(12_345, 0), 12_345);
    assert_eq!(window_start(12_345, 1), 12_345);
    assert_eq!(window_start(i64::MIN, 7), i64::MIN);
    assert_eq!(window_start(i64::MAX, 3600), i64::MAX - i64::MAX % 3600);
}

#[test]
fn check_rate_allows_up_to_limit_then_refuses_until_window_end() {
    // Limit 3 per 60 s; window [120, 180).
    for used in 0..3 {
        assert_eq!(check_rate(3, 60, used, 150), Ok(()));
    }
    // The N+1th request in the window.
    assert_eq!(
        check_rate(3, 60, 3, 150),
        Err(RateLimited {
            retry_after_seconds: 30
        })
    );
    assert_eq!(
        check_rate(3, 60, 3, 120),
        Err(RateLimited {
            retry_after_seconds: 60
        })
    );
    assert_eq!(
        check_rate(3, 60, 3, 179),
        Err(RateLimited {
            retry_after_seconds: 1
        })
    );
    assert_eq!(
        check_rate(3, 60, u32::MAX, 179),
        Err(RateLimited {
            retry_after_seconds: 1
        })
    );
    // At 180 a new window starts: the store's counter for it is 0.
    assert_eq!(window_start(179, 60), 120);
    assert_eq!(window_start(180, 60), 180);
    assert_eq!(check_rate(3, 60, 0, 180), Ok(()));
}

#[test]
fn check_rate_degenerate_inputs() {
    assert_eq!(
        check_rate(0, 3600, 0, 3600),
        Err(RateLimited {
            retry_after_seconds: 3600
        })
    );
    assert_eq!(
        check_rate(1, 0, 1, 42),
        Err(RateLimited {
            retry_after_seconds: 1
        })
    );
    assert_eq!(
        check_rate(1, u32::MAX, 1, 0),
        Err(RateLimited {
            retry_after_seconds: u32::MAX
        })
    );
    assert_eq!(
        check_rate(1, 3600, 1, -1),
        Err(RateLimited {
            retry_after_seconds: 1
        })
    );
    assert_eq!(
        check_rate(1, 3600, 1, i64::MIN)
            .unwrap_err()
            .retry_after_seconds,
        3600 - i64::MIN.rem_euclid(3600) as u32
    );
}

#[test]
fn provider_and_webhook_limits() {
    let provider = RateLimit::per_hour(1000);
    assert_eq!(provider.window_seconds, 3600);
    assert_eq!(provider.window_start(7_250), 7_200);
    assert_eq!(provider.check(999, 7_250), Ok(()));
    assert_eq!(
        provider.check(1000, 7_250),
        Err(RateLimited {
            retry_after_seconds: 3550
        })
    );
    let webhook = RateLimit {
        limit: 10,
        window_seconds: 60,
    };
    let err: AuthError = webhook.check(10, 61).unwrap_err().into();
    assert_eq!(err.code(), "rate_limited");
    assert_eq!(err.to_string(), "rate limit exceeded; retry after 59 s");
}
