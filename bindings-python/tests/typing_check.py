"""Typed use of the leadroute API, for ``mypy --strict`` (``scripts/test.sh``).

Every call's result has the precise type the stub promises (``assert_type``): TypedDicts for
dicts in and out, ``Literal`` options and statuses, ``datetime`` times, and the outcome
classes narrowed by ``match``. ``run()`` also executes the checks on an in-memory engine
(``tests/test_stubs.py``), so the types describe what the module really returns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pathlib
import sys
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

import leadroute

if sys.version_info >= (3, 11):
    from typing import assert_never, assert_type
else:  # pragma: no cover
    from typing_extensions import assert_never, assert_type

if TYPE_CHECKING:
    from leadroute._leadroute import (
        AcceptedDict,
        BacktestReport,
        BillingEvent,
        BillingSummary,
        Booked,
        BookedSlot,
        BookingResult,
        ClaimedContact,
        Contact,
        ContactAttempt,
        ContactMetrics,
        Delivery,
        DeliveryReport,
        EndpointHealth,
        Event,
        FreeSlot,
        Lead,
        LeadStatusChange,
        Message,
        MessageLog,
        MessageReport,
        OutgoingMessage,
        ProviderConfig,
        ProviderTotals,
        ProviderUsage,
        QueueEntry,
        ReassignResult,
        ReprocessedLead,
        ReprocessReport,
        RerouteReport,
        ReturnRecord,
        ReturnResult,
        RoutedAppointmentDetail,
        RoutingTrace,
        RuleConfig,
        StoreCounts,
        SuppressionImport,
        TransitionResult,
        UnroutedAppointment,
        UnroutedAppointmentDetail,
        WebhookConfig,
        WorkspaceConfig,
    )

PROVIDERS: list[ProviderConfig] = [
    {"provider_id": "p", "format": "json", "lead_types": ["solar"], "api_key": "k-1"},
    {"provider_id": "c", "format": "csv", "field_map": {"phone": "Phone"}},
]
WORKSPACES: list[WorkspaceConfig] = [
    {
        "id": "w",
        "outbound_webhook_url": "http://127.0.0.1:9/hooks/w",
        "payment_rate": 25.0,
        "capacity": {"caps": [{"period": "day", "limit": 50}]},
        "schedule": None,
        "delivery": {"envelope": True, "events": ["appointment.cancelled"]},
        "returns": {
            "window_days": 30,
            "allowed_reasons": ["wrong_number"],
            "max_per_period": {"percent": 10.0},
            "review": True,
            "credit_no_show": True,
            "credit_late_cancel_hours": 24,
        },
    }
]
RULES: list[RuleConfig] = [
    {
        "id": 1,
        "workspace_id": "w",
        "product_types": ["Solar"],
        "zip_codes": ["46262"],
        "priority": 1,
        "is_active": True,
        "excluded_zips": [],
        "radius": {"zip": "46262", "miles": 0.0},
    }
]
CAL_SECRET = "cal-secret"
WEBHOOKS: list[WebhookConfig] = [
    {"id": "wh", "lead_type": "solar", "signature_scheme": "github", "webhook_secret": "s"},
    {
        "id": "cal",
        "signature_scheme": "cal_com",
        "webhook_secret": CAL_SECRET,
        "calcom": {"provider_id": "p", "products": {"solar-consultation": "Solar"}},
    },
]
_AppointmentStatus = Literal[
    "scheduled", "confirmed", "completed", "cancelled", "no_show", "rescheduled"
]


def record(n: int, zip_code: str = "46262") -> dict[str, object]:
    return {
        "lead_id": f"t{n}",
        "phone": f"317863{n:04d}",
        "zip_code": zip_code,
        "product_type": "Solar",
        "appointment_date": "2026-11-24T13:00:00Z",
    }


def check_outcomes(engine: leadroute.Engine) -> int:
    """The outcome classes: a union narrowed by ``match``; returns the routed lead's id."""
    out = engine.ingest("p", record(1))
    assert_type(out, leadroute.IngestOutcome)
    lead_id = 0
    match out:
        case leadroute.Accepted(lid, contact_id, appointment_id):
            assert_type(lid, int)
            assert_type(contact_id, int)
            assert_type(appointment_id, int | None)
            assert_type(out.routing, Literal["routed", "unrouted"] | None)
            assert_type(out.trace, "RoutingTrace | None")
            d = out.to_dict()
            assert_type(d, "AcceptedDict")
            assert d["status"] == "accepted" and out.routing == "routed"
            lead_id = lid
        case leadroute.Rejected(rejection_id, codes):
            assert_type(rejection_id, int)
            assert_type(codes, list[str])
            raise AssertionError(codes)
        case leadroute.Replayed(lead_id=replayed_lead):
            assert_type(replayed_lead, int | None)
            raise AssertionError(out)
        case _:
            assert_never(out)
    many = engine.ingest_many("p", [record(2, "10001"), {"phone": "555"}], batch_size=10)
    assert_type(many, list[leadroute.IngestOutcome])
    assert [o.status for o in many] == ["accepted", "rejected"]
    body = engine.ingest_body("c", b"Phone,zip_code,product_type\n3178639999,46262,Solar\n")
    assert_type(body, list[leadroute.IngestOutcome])
    wall = engine.ingest_request("p", record(4), api_key="k-1", headers={"x-request-id": "1"})
    assert_type(wall, list[leadroute.IngestOutcome])
    assert [o.status for o in wall] == ["accepted"]
    try:
        engine.ingest_request("p", record(5))
    except leadroute.UnauthorizedError as e:
        assert_type(e.code, str)
        assert e.code == "missing_api_key"
    return lead_id


def check_queries(engine: leadroute.Engine, lead_id: int) -> None:
    lead = engine.lead(lead_id)
    assert_type(lead, "Lead | None")
    assert lead is not None
    assert_type(lead["received_at"], datetime)
    assert_type(lead["appointment_date"], datetime | None)
    assert_type(lead["events"], "list[Event]")
    assert lead["received_at"].tzinfo is not None
    contact = engine.contact(lead["contact_id"])
    assert_type(contact, "Contact | None")
    assert contact is not None and contact["phone"] == "+13178630001"
    a = engine.appointment(1)
    assert_type(a, "RoutedAppointmentDetail | UnroutedAppointmentDetail | None")
    assert a is not None
    assert_type(
        a["status"],
        Literal["scheduled", "confirmed", "completed", "cancelled", "no_show", "rescheduled"],
    )
    assert_type(a["end_time"], datetime | None)
    assert_type(a["next_action_date"], date | None)
    if a["routing_status"] == "routed":
        assert_type(a["workspace_id"], str)
        assert_type(a["routing_method"], Literal["auto", "manual"])
        assert_type(a["matched_at"], datetime)
    else:
        assert_type(
            a["unrouted_reason"],
            Literal[
                "unknown_product", "no_rule_for_product", "no_rule_for_zip", "no_eligible_workspace"
            ],
        )
    assert_type(a["forward_status"], Literal["pending", "success", "failed"])
    queue = engine.unrouted(10, after=0)
    assert_type(queue, "list[UnroutedAppointment]")
    assert [q["unrouted_reason"] for q in queue] == ["no_rule_for_zip"]
    events = engine.events("lead", lead_id)
    assert_type(events, "list[Event]")
    assert_type(events[0]["subject"], Literal["contact", "lead", "appointment", "rejection"])
    history = engine.lead_status_history(lead_id)
    assert_type(history, "list[LeadStatusChange]")
    assert [h["to_status"] for h in history] == ["new", "routed"]
    counts = engine.counts()
    assert_type(counts, "StoreCounts")
    assert_type(counts["billed_cents"], int)
    bill = engine.billing_summary(since=datetime(2000, 1, 1, tzinfo=timezone.utc), until=None)
    assert_type(bill, "BillingSummary")
    assert_type(bill["per_workspace"][0]["net_cents"] if bill["per_workspace"] else 0, int)
    usage = engine.provider_usage("p")
    assert_type(usage, "list[ProviderUsage]")
    assert_type(usage[0]["webhook_id"], str | None)
    assert_type(usage[0]["day"], date)
    totals = engine.provider_totals("p")
    assert_type(totals, "ProviderTotals")
    assert_type(totals["last_lead_at"], datetime | None)
    health = engine.endpoint_health("w")
    assert_type(health, "EndpointHealth")
    assert_type(health["paused_until"], datetime | None)
    trace = engine.explain("Solar", "46262")
    assert_type(trace, "RoutingTrace")
    outcome = trace["outcome"]
    if "unrouted" in outcome:
        raise AssertionError(outcome)
    assert outcome["workspace_id"] == "w"
    assert_type(engine.reroute_unrouted(batch=10), "RerouteReport")
    bt = engine.backtest(RULES)
    assert_type(bt, "BacktestReport")
    assert all(m["from"] == m["to"] for m in bt["moves"])
    table = leadroute.RoutingTable(RULES, products=["Roofing"])
    assert_type(table.explain("Solar", "46262"), "RoutingTrace")
    match table.route("Solar", "46262"):
        case leadroute.RouteMatch() as m:
            assert_type(m.workspace_id, str)
        case None:
            raise AssertionError("no route")


def check_aftercare(engine: leadroute.Engine) -> None:
    """The lifecycle, deliveries, reprocessing and Cal.com results (appointment 1 is routed
    and not delivered)."""
    t = engine.confirm_appointment(1, actor="client")
    assert_type(t, "TransitionResult")
    assert_type(t["status"], _AppointmentStatus)
    assert_type(t["delivery_id"], int | None)
    assert_type(t["credit"], "BillingEvent | None")
    assert (t["status"], t["applied"], t["delivery_id"]) == ("confirmed", True, None)
    moved = engine.reschedule_appointment(
        1, datetime(2031, 1, 2, 15, 0, tzinfo=timezone.utc), end=None, reason="asked"
    )
    assert_type(moved, "TransitionResult")
    assert moved["previous_status"] == "confirmed" and moved["status"] == "rescheduled"
    done = engine.complete_appointment(1, outcome="sold")
    assert done["status"] == "completed"
    assert engine.mark_no_show(1, actor=None)["status"] == "no_show"
    history = engine.appointment_history(1)
    assert_type(history, "list[Event]")
    assert [e["event_type"] for e in history] == ["confirmed", "rescheduled", "completed", "no_show"]
    deliveries = engine.deliveries(1)
    assert_type(deliveries, "list[Delivery]")
    assert_type(deliveries[0]["next_attempt_at"], datetime)
    assert [d["event"] for d in deliveries] == ["appointment.created"]
    try:
        engine.request_return(1, "wrong_number")
    except leadroute.ConflictError as e:
        assert e.code == "not_billed"
    assert_type(engine.return_record(1), "ReturnRecord | None")
    report = engine.reprocess_rejections(reason="invalid_phone", provider_id="p", batch=10)
    assert_type(report, "ReprocessReport")
    assert_type(report["accepted"], "list[ReprocessedLead]")
    assert report["accepted"] == []
    body = json.dumps(
        {
            "triggerEvent": "BOOKING_CREATED",
            "createdAt": "2030-12-01T10:00:00.000Z",
            "payload": {
                "type": "solar-consultation",
                "uid": "bk-1",
                "startTime": "2031-01-05T15:00:00Z",
                "endTime": "2031-01-05T15:30:00Z",
                "attendees": [{"name": "Dana Whitfield", "email": "dana@example.com"}],
                "responses": {
                    "attendeePhoneNumber": {"value": "+13178637777"},
                    "zip": {"value": "46262"},
                },
            },
        }
    ).encode()
    signature = hmac.new(CAL_SECRET.encode(), body, hashlib.sha256).hexdigest()
    booking = engine.ingest_cal_webhook("cal", body, {"X-Cal-Signature-256": signature})
    assert_type(booking, "BookingResult")
    assert_type(booking["status"], _AppointmentStatus | None)
    assert_type(booking["routing"], Literal["routed", "unrouted"] | None)
    assert booking["applied"] and booking["routing"] == "routed"
    assert booking["appointment_id"] is not None
    cancelled = engine.cancel_appointment(booking["appointment_id"], reason="moved away")
    assert cancelled["delivery_id"] is not None, "the workspace receives cancellations"


_ContactStatus = Literal[
    "pending",
    "attempting",
    "no_answer",
    "scheduled",
    "not_interested",
    "unreachable",
    "do_not_contact",
]


def queue_record(lead_id: str, phone: str) -> dict[str, object]:
    """A record without an appointment time: the lead waits in the contact queue."""
    return {"lead_id": lead_id, "phone": phone, "zip_code": "46262", "product_type": "Solar"}


def check_outreach(engine: leadroute.Engine) -> None:
    """The contact queue, the suppression list, booking and messages, on a workspace with a
    calendar and a messaging policy."""
    calendar_workspace: WorkspaceConfig = {
        "id": "cal",
        "outbound_webhook_url": "http://127.0.0.1:9/hooks/cal",
        "payment_rate": 40.0,
        "timezone": "America/Indiana/Indianapolis",
        "schedule": {
            "hours": [
                {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}
            ]
        },
        "calendar": {
            "slot_minutes": 30,
            "capacity": 2,
            "buffer_minutes": 0,
            "min_lead_minutes": 60,
            "horizon_days": 14,
            "blackout_dates": [date(2031, 12, 25), "2031-12-26"],
        },
        "messages": {
            "confirmation": True,
            "reminder_offsets_minutes": [60],
            "retry_backoff_seconds": [0],
        },
    }
    engine.add_workspaces([calendar_workspace])
    queued = engine.ingest("p", queue_record("q1", "3178630042"))
    assert isinstance(queued, leadroute.Accepted)
    at = datetime(2031, 1, 7, 15, 0, tzinfo=timezone.utc)  # a Tuesday, 10:00 in Indianapolis
    rows = engine.claim_contact_batch(at, 10, worker="typed")
    assert_type(rows, "list[ClaimedContact]")
    row = next(r for r in rows if r["lead_id"] == queued.lead_id)
    assert_type(row["local_time"], datetime | None)
    assert_type(row["received_at"], datetime)
    assert_type(row["attempts"], int)
    assert row["local_time"] is not None and row["local_time"].hour == 10
    entry = engine.record_contact_attempt(
        queued.lead_id, "no_answer", at=at, notes="vm", worker="typed"
    )
    assert_type(entry, "QueueEntry")
    assert_type(entry["status"], _ContactStatus)
    assert_type(entry["next_attempt_at"], datetime)
    assert entry["status"] == "no_answer"
    assert_type(engine.contact_entry(queued.lead_id), "QueueEntry | None")
    attempts = engine.contact_attempts(queued.lead_id)
    assert_type(attempts, "list[ContactAttempt]")
    assert_type(attempts[0]["at"], datetime)
    assert_type(
        attempts[0]["outcome"],
        Literal["no_answer", "scheduled", "not_interested", "unreachable", "do_not_contact"],
    )
    metrics = engine.contact_metrics(
        datetime(2000, 1, 1, tzinfo=timezone.utc), "2100-01-01T00:00:00Z"
    )
    assert_type(metrics, "ContactMetrics")
    assert_type(metrics["first_attempt_p50_seconds"], float | None)
    assert metrics["contacted"] == 1
    assert_type(engine.record_opt_out("3178630043", source="STOP"), bool)
    imported = engine.import_suppressions("+13178630044\nbad\n", source="list.txt")
    assert_type(imported, "SuppressionImport")
    assert_type(imported["rejected_lines"], list[tuple[int, str]])
    assert imported["added"] == 1 and imported["rejected_lines"][0][0] == 2
    assert_type(engine.is_suppressed("(317) 863-0043"), bool)

    now = datetime.now(timezone.utc)
    slots = engine.available_slots("cal", now, now + timedelta(days=8))
    assert_type(slots, "list[FreeSlot]")
    assert_type(slots[0]["start"], datetime)
    assert_type(slots[0]["remaining"], int)
    to_book = engine.ingest("p", queue_record("q2", "3178630045"))
    assert isinstance(to_book, leadroute.Accepted)
    booked = engine.book(to_book.lead_id, slots[0]["start"], workspace_id="cal", end=None)
    assert_type(booked, "Booked")
    assert_type(booked["slot"], "BookedSlot | None")
    assert_type(booked["workspace_id"], str | None)
    assert booked["slot"] is not None and booked["slot"]["start"] == slots[0]["start"]

    seen: list[OutgoingMessage] = []

    def transport(message: OutgoingMessage) -> str:
        assert_type(message["kind"], Literal["confirmation", "reminder"])
        assert_type(message["body"], dict[str, Any])
        seen.append(message)
        return f"sms-{message['id']}"

    report = engine.send_due_messages(transport, limit=10)
    assert_type(report, "MessageReport")
    assert report["sent"] == 1 and seen[0]["kind"] == "confirmation"
    messages = engine.messages(booked["appointment_id"])
    assert_type(messages, "list[Message]")
    assert_type(
        messages[0]["status"], Literal["pending", "sent", "failed", "cancelled", "suppressed"]
    )
    assert_type(messages[0]["send_at"], datetime)
    logs = engine.message_logs(messages[0]["id"])
    assert_type(logs, "list[MessageLog]")
    assert_type(logs[0]["status"], Literal["sent", "failed", "suppressed"])
    assert_type(logs[0]["provider_message_id"], str | None)
    assert logs[0]["provider_message_id"] == f"sms-{messages[0]['id']}"


def delivered_and_returned(engine: leadroute.Engine, appointment_id: int) -> None:
    """Types only (needs a webhook receiver): delivery, returns, endpoints."""
    report = engine.deliver_due(limit=None)
    assert_type(report, "DeliveryReport")
    assert_type(report["deferred"], int)
    credit = engine.return_appointment(appointment_id, "customer cancelled")
    assert_type(credit, "BillingEvent")
    assert_type(credit["kind"], Literal["charge", "credit"])
    assert_type(engine.enable_endpoint("w"), int)
    engine.assign_manually(appointment_id, "w", note="by hand")
    asked = engine.request_return(appointment_id, "wrong_number", actor="client")
    assert_type(asked, "ReturnResult")
    assert_type(asked["status"], Literal["pending", "approved", "denied"])
    assert_type(engine.approve_return(asked["return_id"], note="ok"), "ReturnResult")
    assert_type(engine.deny_return(asked["return_id"]), "ReturnResult")
    assert_type(engine.redeliver(1), "Delivery")
    moved = engine.reassign(appointment_id, exclude_current=True)
    assert_type(moved, "ReassignResult")
    assert_type(moved["trace"], "RoutingTrace | None")


def run(path: str | os.PathLike[str] = ":memory:") -> None:
    """Opens an engine, configures it, and runs the checks above."""
    with leadroute.Engine.open(
        path,
        tie_policy="weighted_round_robin",
        contact_queue={"settings": {"max_batch": 20, "retry_interval_seconds": 3600}},
        contact_lease=300.0,
    ) as engine:
        assert_type(engine, leadroute.Engine)
        engine.configure(providers=PROVIDERS, workspaces=WORKSPACES, rules=RULES)
        engine.add_webhooks(WEBHOOKS)
        lead_id = check_outcomes(engine)
        check_queries(engine, lead_id)
        check_aftercare(engine)
        check_outreach(engine)
        assert not engine.closed
    assert engine.closed
    assert_type(engine.path, str)


if __name__ == "__main__":
    run(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ":memory:")
    print("ok")
