"""The intake wall from Python (``Engine.ingest_request``): API keys, Standard Webhooks
signatures made by the reference ``standardwebhooks`` library (a differential check of
leadroute's verifier), GitHub-style signatures, rate limits with ``retry_after``, forbidden
webhooks, usage counts; and the trusted methods, which take no credentials at all."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timezone
from typing import Any, cast

import pytest
from standardwebhooks.webhooks import Webhook

import leadroute

KEY = "pa_live_1_3918e5326ff1b16b"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HUB = "It's a Secret to Everybody"


def engine(**options: Any) -> leadroute.Engine:
    e = leadroute.Engine.open(":memory:", **options)
    e.configure(
        providers=[
            {
                "provider_id": "keyed",
                "format": "json",
                "lead_types": ["solar"],
                "api_key": KEY,  # the seed's shape: hashed on load
                "rate_limit_per_hour": 2,
                "allowed_webhooks": ["wh_solar"],
            },
            {"provider_id": "signed", "format": "json", "allowed_webhooks": ["wh_std", "wh_hub"]},
        ],
        workspaces=[
            {
                "id": "ws",
                "outbound_webhook_url": "http://127.0.0.1:9/hooks/ws",
                "payment_rate": 100.0,
            }
        ],
        rules=[
            {
                "id": 1,
                "workspace_id": "ws",
                "product_types": ["Solar"],
                "zip_codes": ["46262"],
                "priority": 1,
                "is_active": True,
            }
        ],
        webhooks=[
            {"id": "wh_std", "webhook_secret": SECRET},
            {"id": "wh_hub", "webhook_secret": HUB, "signature_scheme": "github"},
            {"id": "wh_solar", "lead_type": "solar"},
        ],
    )
    return e


def record(n: int) -> dict[str, object]:
    return {
        "lead_id": f"r{n}",
        "phone": f"317863{n:04d}",
        "zip_code": "46262",
        "product_type": "Solar",
        "appointment_date": "2026-11-24T13:00:00Z",
    }


def test_required_fields_per_lead_type() -> None:
    e = engine(required_fields={"solar": ["roof_age"]})
    [missing] = e.ingest_request("keyed", record(9), api_key=KEY)
    assert isinstance(missing, leadroute.Rejected) and missing.status == "rejected"
    assert missing.rejection_codes == ["missing_required_field"]
    complete = dict(record(10), roof_age=12)
    assert [o.status for o in e.ingest_request("keyed", complete, api_key=KEY)] == ["accepted"]
    with pytest.raises(leadroute.ValidationError) as v:
        leadroute.Engine.open(":memory:", required_fields=3)  # type: ignore[arg-type]
    assert v.value.field == "required_fields"


def test_hash_api_key() -> None:
    assert leadroute.hash_api_key("abc") == "sha256:" + hashlib.sha256(b"abc").hexdigest()


def test_api_keys_and_rate_limits() -> None:
    e = engine()
    with pytest.raises(leadroute.UnauthorizedError) as u:
        e.ingest_request("keyed", record(1), api_key="wrong")
    assert u.value.code == "invalid_api_key"
    with pytest.raises(leadroute.UnauthorizedError) as u:
        e.ingest_request("keyed", record(1), webhook_id="wh_solar")
    assert u.value.code == "missing_api_key"
    assert [o.status for o in e.ingest_request("keyed", record(1), api_key=KEY)] == ["accepted"]
    two = e.ingest_request("keyed", record(2), api_key=KEY, webhook_id="wh_solar")
    assert [o.status for o in two] == ["accepted"]
    with pytest.raises(leadroute.RateLimitedError) as r:
        e.ingest_request("keyed", record(3), api_key=KEY)
    assert r.value.code == "rate_limited"
    assert r.value.retry_after is not None and 1 <= r.value.retry_after <= 3600
    with pytest.raises(leadroute.ForbiddenError) as f:
        e.ingest_request("keyed", record(4), api_key=KEY, webhook_id="wh_std")
    assert f.value.code == "webhook_not_allowed"
    # No key and an unsigned webhook: nothing to authenticate with.
    with pytest.raises(leadroute.UnauthorizedError) as u:
        e.ingest_request("signed", record(4), webhook_id="wh_solar")
    assert u.value.code == "no_credentials_configured"
    usage = e.provider_usage("keyed")
    direct = next(u for u in usage if u["webhook_id"] is None)
    assert (direct["requests"], direct["refused"], direct["total_leads"]) == (1, 2, 1)
    by_webhook = {u["webhook_id"]: (u["requests"], u["refused"]) for u in usage}
    assert by_webhook == {None: (1, 2), "wh_solar": (1, 1), "wh_std": (0, 1)}
    last = direct["last_lead_at"]
    assert isinstance(last, datetime) and last.tzinfo is not None
    assert last.utcoffset() == timezone.utc.utcoffset(None)
    assert abs((datetime.now(timezone.utc) - last).total_seconds()) < 600


def test_the_wall_has_no_bypass() -> None:
    e = engine()
    # No credentials at all is a request without a key: refused, never trusted.
    with pytest.raises(leadroute.UnauthorizedError) as u:
        e.ingest_request("keyed", record(20))
    assert u.value.code == "missing_api_key"
    with pytest.raises(leadroute.UnauthorizedError) as u:
        e.ingest_request("keyed", json.dumps(record(20)), headers={})
    assert u.value.code == "missing_api_key"
    # An unknown provider is refused like a wrong key (nothing is revealed).
    with pytest.raises(leadroute.UnauthorizedError) as u:
        e.ingest_request("nobody", record(20), api_key=KEY)
    assert u.value.code == "invalid_api_key"
    # The trusted methods take no credentials: passing one is a TypeError, not a check.
    trusted = cast(Any, e)
    with pytest.raises(TypeError):
        trusted.ingest("keyed", record(20), api_key=KEY)
    with pytest.raises(TypeError):
        trusted.ingest_many("keyed", [record(20)], headers={})
    with pytest.raises(TypeError):
        trusted.ingest_body("keyed", json.dumps(record(20)), webhook_id="wh_solar")
    assert e.counts()["leads"] == 0
    # The trusted path stores without the wall (the caller vouches for the record).
    assert e.ingest("keyed", record(20)).status == "accepted"
    assert [o.status for o in e.ingest_many("keyed", [record(21)])] == ["accepted"]


def test_standard_webhooks_reference_signatures_verify() -> None:
    e = engine()
    body = json.dumps(record(5))
    now = datetime.now(tz=timezone.utc)
    signature = Webhook(SECRET).sign("msg_1", now, body)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    out = e.ingest_request("signed", body, headers=headers, webhook_id="wh_std")
    assert [o.status for o in out] == ["accepted"]
    with pytest.raises(leadroute.UnauthorizedError) as u:
        e.ingest_request("signed", body, headers=headers, webhook_id="wh_std")
    assert u.value.code == "replayed"
    old = datetime.fromtimestamp(time.time() - 600, tz=timezone.utc)
    stale = dict(headers, **{"webhook-id": "msg_2", "webhook-timestamp": str(int(old.timestamp()))})
    stale["webhook-signature"] = Webhook(SECRET).sign("msg_2", old, body)
    with pytest.raises(leadroute.UnauthorizedError) as u:
        e.ingest_request("signed", body, headers=stale, webhook_id="wh_std")
    assert u.value.code == "stale_timestamp"


def test_github_style_signatures_over_exact_bytes() -> None:
    e = engine()
    body = json.dumps([record(6), record(7)]).encode()
    sig = "sha256=" + hmac.new(HUB.encode(), body, hashlib.sha256).hexdigest()
    out = e.ingest_request(
        "signed", body, headers=[("X-Hub-Signature-256", sig)], webhook_id="wh_hub"
    )
    assert len(out) == 2
    with pytest.raises(leadroute.UnauthorizedError) as u:
        e.ingest_request(
            "signed", body + b" ", headers=[("X-Hub-Signature-256", sig)], webhook_id="wh_hub"
        )
    assert u.value.code == "bad_signature"
