"""Cal.com booking webhooks through Python: deliveries of the 2021-10-20 payload shape,
signed here with ``hmac`` as Cal.com signs them (``X-Cal-Signature-256``: the hex
HMAC-SHA256 of the exact body), become a routed appointment that follows the booking
(duplicates change nothing, a reschedule keeps the appointment's id); refused and malformed
requests raise typed errors with their codes."""

from __future__ import annotations

import hashlib
import hmac
import json
import pathlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import leadroute

SECRET = "cal_whsec_5ddbf2e1a0c94f7e"
HOOK = "cal-acme"


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers(body: bytes) -> dict[str, str]:
    return {"X-Cal-Signature-256": sign(body), "Content-Type": "application/json"}


# Times: bookings ten days from now, events stamped a minute apart from an hour ago.
BASE = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(microsecond=0)
SLOT = (datetime.now(timezone.utc) + timedelta(days=10)).replace(
    hour=15, minute=0, second=0, microsecond=0
)


def created_at(minutes: int) -> str:
    return (BASE + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def slot(minutes: int) -> str:
    return (SLOT + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def booking(uid: str, start: int, **extra: Any) -> dict[str, Any]:
    """A booking payload as Cal.com sends it (2021-10-20), 30 minutes at ``start``."""
    payload: dict[str, Any] = {
        "type": "solar-consultation",
        "title": "Solar consultation between Acme Solar and Dana Whitfield",
        "startTime": slot(start),
        "endTime": slot(start + 30),
        "organizer": {
            "name": "Acme Solar",
            "email": "bookings@acme-solar.example",
            "timeZone": "America/Chicago",
        },
        "attendees": [
            {
                "email": "dana.whitfield@example.com",
                "name": "Dana Whitfield",
                "timeZone": "America/Chicago",
            }
        ],
        "responses": {
            "name": {"label": "your_name", "value": "Dana Whitfield"},
            "email": {"label": "email_address", "value": "dana.whitfield@example.com"},
            "attendeePhoneNumber": {"label": "Phone number", "value": "+15125550147"},
            "zip": {"label": "ZIP code", "value": "78701"},
        },
        "uid": uid,
        "bookingId": 90210,
        "eventTypeId": 1187,
        "status": "ACCEPTED",
        "location": "https://cal.com/video/abc",
        "additionalNotes": "South-facing roof",
    }
    payload.update(extra)
    return payload


def envelope(trigger: str, at: int, payload: dict[str, Any]) -> bytes:
    return json.dumps(
        {"triggerEvent": trigger, "createdAt": created_at(at), "payload": payload}
    ).encode()


@pytest.fixture()
def engine(tmp_path: pathlib.Path) -> Iterator[leadroute.Engine]:
    with leadroute.Engine.open(tmp_path / "leadroute.db") as e:
        e.configure(
            providers=[{"provider_id": "calcom-bookings", "format": "json", "lead_types": ["solar"]}],
            workspaces=[
                {
                    "id": "acme_solar_tx",
                    "outbound_webhook_url": "http://127.0.0.1:9/hooks/acme",
                    "payment_rate": 180.0,
                    "timezone": "America/Chicago",
                }
            ],
            rules=[
                {
                    "id": 1,
                    "workspace_id": "acme_solar_tx",
                    "product_types": ["Solar"],
                    "zip_codes": ["78701"],
                    "priority": 1,
                    "is_active": True,
                }
            ],
            webhooks=[
                {
                    "id": HOOK,
                    "signature_scheme": "cal_com",
                    "webhook_secret": SECRET,
                    "calcom": {
                        "provider_id": "calcom-bookings",
                        "products": {"solar-consultation": "solar"},
                        "phone_field": "attendeePhoneNumber",
                        "zip_field": "zip",
                    },
                }
            ],
        )
        yield e


def test_a_booking_becomes_a_routed_appointment_once(engine: leadroute.Engine) -> None:
    body = envelope("BOOKING_CREATED", 0, booking("uid-a", 0))
    out = engine.ingest_cal_webhook(HOOK, body, headers(body))
    assert out["applied"] is True and out["duplicate"] is False
    assert (out["trigger"], out["uid"], out["status"]) == ("BOOKING_CREATED", "uid-a", "scheduled")
    assert (out["routing"], out["workspace_id"], out["rule_id"]) == ("routed", "acme_solar_tx", 1)
    assert out["rejection_id"] is None and out["unrouted_reason"] is None
    a = out["appointment_id"]
    assert a is not None
    appt = engine.appointment(a)
    assert appt is not None and appt["routing_status"] == "routed"
    assert (appt["status"], appt["service_type"], appt["zip_code"]) == ("scheduled", "Solar", "78701")
    assert appt["appointment_date"] == SLOT
    assert appt["end_time"] == SLOT + timedelta(minutes=30)
    assert (appt["duration_minutes"], appt["cal_booking_uid"]) == (30, "uid-a")
    assert (appt["appointment_type"], appt["location_type"]) == ("solar-consultation", "video")
    assert appt["customer_notes"] == "South-facing roof"
    contact = engine.contact(appt["contact_id"])
    assert contact is not None and contact["phone"] == "+15125550147"

    # The same delivery again (a Cal.com retry) changes nothing; header names are
    # case-insensitive and may come as pairs.
    again = engine.ingest_cal_webhook(HOOK, body, [("x-cal-signature-256", sign(body))])
    assert (again["applied"], again["duplicate"], again["appointment_id"]) == (False, True, a)
    assert again["status"] == "scheduled" and again["routing"] is None
    assert engine.counts()["appointments"] == 1


def test_a_reschedule_keeps_the_appointment_and_a_cancellation_ends_it(
    engine: leadroute.Engine,
) -> None:
    first = envelope("BOOKING_CREATED", 0, booking("uid-a", 0))
    a = engine.ingest_cal_webhook(HOOK, first, headers(first))["appointment_id"]
    assert a is not None

    moved = envelope("BOOKING_RESCHEDULED", 5, booking("uid-b", 60 * 24, rescheduleUid="uid-a"))
    out = engine.ingest_cal_webhook(HOOK, moved, headers(moved))
    assert (out["appointment_id"], out["status"], out["applied"]) == (a, "rescheduled", True)
    appt = engine.appointment(a)
    assert appt is not None
    assert appt["appointment_date"] == SLOT + timedelta(days=1)
    assert appt["end_time"] == SLOT + timedelta(days=1, minutes=30)
    assert appt["reschedule_count"] == 1

    cancel = envelope(
        "BOOKING_CANCELLED",
        10,
        booking("uid-b", 60 * 24, status="CANCELLED", cancellationReason="Went with a competitor"),
    )
    out = engine.ingest_cal_webhook(HOOK, cancel, headers(cancel))
    assert (out["appointment_id"], out["status"], out["applied"]) == (a, "cancelled", True)

    # A late delivery of an older event does not revive it.
    late = envelope("BOOKING_RESCHEDULED", 3, booking("uid-c", 60 * 48, rescheduleUid="uid-a"))
    out = engine.ingest_cal_webhook(HOOK, late, headers(late))
    assert (out["appointment_id"], out["status"]) == (a, "cancelled")
    appt = engine.appointment(a)
    assert appt is not None
    assert (appt["status"], appt["cancellation_reason"]) == ("cancelled", "Went with a competitor")
    assert engine.counts()["appointments"] == 1
    history = engine.appointment_history(a)
    assert [e["event_type"] for e in history] == ["rescheduled", "cancelled"]
    assert {e["detail"]["actor"] for e in history} == {"calcom"}


def test_refused_requests_raise_unauthorized_with_codes(engine: leadroute.Engine) -> None:
    body = envelope("BOOKING_CREATED", 0, booking("uid-a", 0))
    before = engine.counts()
    cases = [
        ({"X-Cal-Signature-256": sign(body, "another secret")}, "calcom_bad_signature"),
        ({"X-Cal-Signature-256": "not hex"}, "calcom_bad_signature"),
        ({"X-Cal-Signature-256": sign(body + b" ")}, "calcom_bad_signature"),
        ({}, "calcom_missing_signature"),
        ({"X-Cal-Signature-256": "no-secret-provided"}, "calcom_no_secret"),
    ]
    for hdrs, code in cases:
        with pytest.raises(leadroute.UnauthorizedError) as refused:
            engine.ingest_cal_webhook(HOOK, body, hdrs)
        assert refused.value.code == code
        assert isinstance(refused.value, leadroute.LeadrouteError)
    assert engine.counts() == before, "a refused request stores nothing"

    with pytest.raises(leadroute.NotFoundError) as unknown:
        engine.ingest_cal_webhook("no-such-hook", body, headers(body))
    assert unknown.value.code == "unknown_webhook"


def test_a_malformed_body_is_a_validation_error_and_kept(engine: leadroute.Engine) -> None:
    for body in (b"{not json", json.dumps({"triggerEvent": "BOOKING_CREATED"}).encode()):
        with pytest.raises(leadroute.ValidationError) as malformed:
            engine.ingest_cal_webhook(HOOK, body, headers(body))
        assert (malformed.value.code, malformed.value.field) == ("calcom_malformed", "body")
        assert isinstance(malformed.value, ValueError)
    counts = engine.counts()
    assert (counts["rejections"], counts["appointments"]) == (2, 0)
    with pytest.raises(TypeError):
        engine.ingest_cal_webhook(HOOK, 12, {})  # type: ignore[arg-type]
