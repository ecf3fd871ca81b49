"""An appointment's life after delivery, through Python on a real SQLite file: the lifecycle
(confirm, reschedule, cancel, complete, no-show) and its client webhook events, verified by
the official ``standardwebhooks`` package at a loopback receiver, in order and across a
retry; returns under a workspace's policy (review, approval, denial, window, period limit,
automatic credits) and the billing summary's pending returns; redelivery, reassignment and
reprocessing of stored rejections."""

from __future__ import annotations

import pathlib
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from loopback import SECRET, Loopback, Request, deliver_until

import leadroute

if TYPE_CHECKING:
    from leadroute._leadroute import ReturnPolicyConfig, RuleConfig, WorkspaceConfig

PROVIDER = "provider-a"


def workspace(
    hooks: Loopback,
    id: str,
    *,
    returns: ReturnPolicyConfig | None = None,
    events: list[Any] | None = None,
) -> WorkspaceConfig:
    """A workspace posting to the loopback receiver, signed, in the Standard Webhooks
    envelope (so the creation event has a ``type`` too), at $180."""
    w: WorkspaceConfig = {
        "id": id,
        "outbound_webhook_url": hooks.url(id),
        "payment_rate": 180.0,
        "webhook_secret": SECRET,
        "delivery": {"envelope": True, "events": events},
    }
    if returns is not None:
        w["returns"] = returns
    return w


def rule(id: int, workspace_id: str, product: str, zip_code: str, priority: int = 1) -> RuleConfig:
    return {
        "id": id,
        "workspace_id": workspace_id,
        "product_types": [product],
        "zip_codes": [zip_code],
        "priority": priority,
        "is_active": True,
    }


def when(days: float) -> datetime:
    """Now plus ``days``, whole minutes, UTC."""
    return (datetime.now(timezone.utc) + timedelta(days=days)).replace(second=0, microsecond=0)


def book(
    engine: leadroute.Engine,
    n: int,
    *,
    product: str = "Solar",
    zip_code: str = "46262",
    start: datetime | None = None,
    provider: str = PROVIDER,
) -> int:
    """Ingests one record with an appointment (an hour long, ``start`` or ten days from now);
    returns the appointment's id."""
    record = {
        "lead_id": f"lead-{n}",
        "phone": f"317863{n:04d}",
        "zip_code": zip_code,
        "product_type": product,
        "appointment_date": (start or when(10)).isoformat(),
        "duration_minutes": 60,
    }
    out = engine.ingest(provider, record)
    assert isinstance(out, leadroute.Accepted), out
    assert out.appointment_id is not None
    return out.appointment_id


@pytest.fixture()
def hooks() -> Iterator[Loopback]:
    h = Loopback({"acme": SECRET, "backup": SECRET, "strict": SECRET, "capped": SECRET})
    yield h
    h.close()
    assert h.failures == [], "every request verifies with standardwebhooks"


@pytest.fixture()
def db(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "leadroute.db"


def open_engine(db: pathlib.Path, hooks: Loopback, **returns: ReturnPolicyConfig) -> leadroute.Engine:
    """An engine on ``db`` with a provider, the workspaces ``acme`` (Solar in 46262) and
    ``backup`` (the same, priority 2), ``strict`` (Solar in 10001) and ``capped`` (Roofing in
    46262), each with the return policy given by its name."""
    engine = leadroute.Engine.open(db)
    engine.configure(
        providers=[{"provider_id": PROVIDER, "format": "json"}],
        workspaces=[
            workspace(hooks, name, returns=returns.get(name))
            for name in ("acme", "backup", "strict", "capped")
        ],
        rules=[
            rule(1, "acme", "Solar", "46262"),
            rule(2, "backup", "Solar", "46262", priority=2),
            rule(3, "strict", "Solar", "10001"),
            rule(4, "capped", "Roofing", "46262"),
        ],
    )
    return engine


# ---------------------------------------------------------------------------------------------
# The lifecycle


def test_lifecycle_transitions_on_a_sqlite_file(db: pathlib.Path, hooks: Loopback) -> None:
    engine = open_engine(db, hooks)
    a = book(engine, 1, start=datetime(2031, 5, 6, 15, 0, tzinfo=timezone.utc))
    appt = engine.appointment(a)
    assert appt is not None
    assert (appt["status"], appt["routing_status"]) == ("scheduled", "routed")
    assert appt["reschedule_count"] == 0 and appt["status_changed_at"] is None
    assert appt["duration_minutes"] == 60
    assert appt["end_time"] == datetime(2031, 5, 6, 16, 0, tzinfo=timezone.utc)

    confirmed = engine.confirm_appointment(a)
    assert confirmed == {
        "appointment_id": a,
        "status": "confirmed",
        "previous_status": "scheduled",
        "applied": True,
        "delivery_id": confirmed["delivery_id"],
        "credit": None,
    }
    assert isinstance(confirmed["delivery_id"], int), "the client's event is queued"
    again = engine.confirm_appointment(a)
    assert (again["applied"], again["status"], again["delivery_id"]) == (False, "confirmed", None)

    # Aware datetimes in any zone; the end keeps the hour's duration.
    eastern = timezone(timedelta(hours=-4))
    moved = engine.reschedule_appointment(
        a, datetime(2031, 5, 7, 9, 30, tzinfo=eastern), reason="customer asked", actor="client"
    )
    assert (moved["applied"], moved["status"], moved["previous_status"]) == (
        True, "rescheduled", "confirmed"
    )
    same = engine.reschedule_appointment(a, datetime(2031, 5, 7, 13, 30, tzinfo=timezone.utc))
    assert same["applied"] is False, "moving it to the time it has is a no-op"
    with pytest.raises(ValueError) as naive:
        engine.reschedule_appointment(a, datetime(2031, 5, 8, 9, 0))
    assert isinstance(naive.value, leadroute.ValidationError) and naive.value.code == "invalid_time"
    with pytest.raises(leadroute.ValidationError) as backwards:
        engine.reschedule_appointment(
            a,
            datetime(2031, 5, 8, 9, 0, tzinfo=timezone.utc),
            end=datetime(2031, 5, 8, 8, 0, tzinfo=timezone.utc),
        )
    assert (backwards.value.code, backwards.value.field) == ("end_before_start", "end")

    done = engine.complete_appointment(a, outcome="sold", actor="user-42")
    assert (done["status"], done["previous_status"], done["applied"]) == (
        "completed", "rescheduled", True
    )
    assert engine.complete_appointment(a)["applied"] is False
    illegal_calls: list[Callable[[], object]] = [
        lambda: engine.confirm_appointment(a),
        lambda: engine.cancel_appointment(a, reason="too late"),
        lambda: engine.reschedule_appointment(a, when(30)),
    ]
    for illegal in illegal_calls:
        with pytest.raises(leadroute.ConflictError) as refused:
            illegal()
        assert refused.value.code == "invalid_transition"
    # completed <-> no_show is an outcome correction.
    assert engine.mark_no_show(a, actor="system")["status"] == "no_show"
    engine.close()

    # Everything is in the file.
    with leadroute.Engine.open(db) as engine:
        appt = engine.appointment(a)
        assert appt is not None
        assert (appt["status"], appt["reschedule_count"], appt["outcome"]) == ("no_show", 1, "sold")
        assert appt["appointment_date"] == datetime(2031, 5, 7, 13, 30, tzinfo=timezone.utc)
        assert appt["end_time"] == datetime(2031, 5, 7, 14, 30, tzinfo=timezone.utc)
        assert isinstance(appt["status_changed_at"], datetime)
        history = engine.appointment_history(a)
        assert [e["event_type"] for e in history] == [
            "confirmed", "rescheduled", "completed", "no_show"
        ]
        assert [e["detail"]["actor"] for e in history] == ["api", "client", "user-42", "system"]
        assert history[1]["detail"]["reason"] == "customer asked"
        assert all(e["subject"] == "appointment" and e["subject_id"] == a for e in history)

        # A cancelled appointment is never revived; cancelling again is a no-op.
        b = book(engine, 2)
        cancelled = engine.cancel_appointment(b, reason="found another installer")
        assert (cancelled["status"], cancelled["applied"]) == ("cancelled", True)
        assert engine.cancel_appointment(b)["applied"] is False
        with pytest.raises(leadroute.ConflictError, match="cancel"):
            engine.confirm_appointment(b)
        appt = engine.appointment(b)
        assert appt is not None and appt["cancellation_reason"] == "found another installer"

        with pytest.raises(leadroute.NotFoundError) as missing:
            engine.confirm_appointment(9999)
        assert missing.value.code == "unknown_appointment"
        assert engine.appointment_history(9999) == []


def test_every_lifecycle_event_verifies_and_arrives_in_order(
    db: pathlib.Path, hooks: Loopback
) -> None:
    """Each event is a Standard Webhooks request with its own webhook-id and the right type;
    one appointment's events arrive in order, even when one of them needs a retry."""
    engine = open_engine(db, hooks)
    a = book(engine, 1)
    b = book(engine, 2)
    # Everything happens before the first delivery: the outbox holds the order.
    engine.confirm_appointment(a)
    engine.reschedule_appointment(a, when(12), reason="rain")
    engine.cancel_appointment(a, reason="changed their mind", actor="client")
    engine.confirm_appointment(b)
    engine.complete_appointment(b, outcome="sold")

    first_tries: set[str] = set()

    def answer(r: Request) -> int:
        # The first try of a's confirmation fails; the retry (same webhook-id) succeeds.
        if r.type == "appointment.confirmed" and r.data["appointment_id"] == a:
            if r.webhook_id not in first_tries:
                first_tries.add(r.webhook_id)
                return 503
        return 200

    hooks.answer = answer
    report = engine.deliver_due()
    assert report["retrying"] == 1 and report["failed"] == 0
    # b is not held up by a; a's later events wait behind its confirmation.
    assert [r.type for r in hooks.delivered(b)] == [
        "appointment.created", "appointment.confirmed", "appointment.completed"
    ]
    assert [r.type for r in hooks.delivered(a)] == ["appointment.created"]

    deliver_until(engine, lambda: len(hooks.delivered(a)) == 4)
    tries = [(r.type, r.answered) for r in hooks.requests if r.data["appointment_id"] == a]
    assert tries == [
        ("appointment.created", 200),
        ("appointment.confirmed", 503),
        ("appointment.confirmed", 200),
        ("appointment.rescheduled", 200),
        ("appointment.cancelled", 200),
    ]
    events = hooks.delivered(a)
    assert len({r.webhook_id for r in events}) == 4, "one webhook-id per event"
    retried = [r.webhook_id for r in hooks.requests if r.type == "appointment.confirmed"
               and r.data["appointment_id"] == a]
    assert retried[0] == retried[1], "a retry keeps its webhook-id"
    statuses = [(r.data.get("previous_status"), r.data.get("status")) for r in events[1:]]
    assert statuses == [
        ("scheduled", "confirmed"), ("confirmed", "rescheduled"), ("rescheduled", "cancelled")
    ]
    assert events[3].data["actor"] == "client"
    assert events[3].data["cancellation_reason"] == "changed their mind"
    assert events[2].data["reason"] == "rain" and events[2].data["reschedule_count"] == 1

    # The outbox agrees: four deliveries in sequence, the confirmation tried twice.
    rows = engine.deliveries(a)
    assert [(d["sequence"], d["event"], d["status"]) for d in rows] == [
        (0, "appointment.created", "success"),
        (1, "appointment.confirmed", "success"),
        (2, "appointment.rescheduled", "success"),
        (3, "appointment.cancelled", "success"),
    ]
    assert [d["attempts"] for d in rows] == [1, 2, 1, 1]
    assert [d["webhook_id"] for d in rows] == [r.webhook_id for r in events]
    # Events are not billed: one charge per appointment.
    assert engine.billing_summary()["charges"] == 2
    engine.close()


def test_a_workspace_chooses_the_events_it_receives(
    db: pathlib.Path, hooks: Loopback
) -> None:
    engine = open_engine(db, hooks)
    engine.add_workspaces(
        [workspace(hooks, "acme", events=["appointment.cancelled"])]
    )
    a = book(engine, 1)
    assert engine.confirm_appointment(a)["delivery_id"] is None
    cancelled = engine.cancel_appointment(a)
    assert cancelled["delivery_id"] is not None
    engine.deliver_due()
    assert [r.type for r in hooks.delivered(a)] == ["appointment.created", "appointment.cancelled"]
    engine.close()


# ---------------------------------------------------------------------------------------------
# Returns


def test_returns_under_review_are_approved_or_denied(db: pathlib.Path, hooks: Loopback) -> None:
    engine = open_engine(
        db,
        hooks,
        acme={"review": True, "allowed_reasons": ["wrong_number", "duplicate"]},
    )
    a1, a2, a3 = (book(engine, n) for n in (1, 2, 3))
    undelivered = book(engine, 4)
    # The fourth is never delivered (never billed).
    hooks.answer = lambda r: 503 if r.data["appointment_id"] == undelivered else 200
    deliver_until(engine, lambda: all(hooks.delivered(x) for x in (a1, a2, a3)))
    with pytest.raises(leadroute.ConflictError) as unbilled:
        engine.request_return(undelivered, "duplicate")
    assert unbilled.value.code == "not_billed"

    with pytest.raises(leadroute.ValidationError) as reason:
        engine.request_return(a1, "changed my mind")
    assert (reason.value.code, reason.value.field) == ("return_reason_not_allowed", "reason")

    asked = engine.request_return(a1, "Wrong_Number", actor="client")
    assert asked == {
        "return_id": asked["return_id"],
        "appointment_id": a1,
        "workspace_id": "acme",
        "status": "pending",
        "credit": None,
    }
    summary = engine.billing_summary()
    assert (summary["pending_returns"], summary["pending_return_cents"]) == (1, -18000)
    assert (summary["credits"], summary["net_cents"]) == (0, 3 * 18000)
    [row] = summary["per_workspace"]
    assert (row["workspace_id"], row["pending_returns"], row["pending_return_cents"]) == (
        "acme", 1, -18000
    )
    record = engine.return_record(asked["return_id"])
    assert record is not None
    assert (record["status"], record["actor"], record["credit_cents"]) == ("pending", "client", -18000)
    assert record["decided_at"] is None and isinstance(record["requested_at"], datetime)
    with pytest.raises(leadroute.ConflictError) as twice:
        engine.request_return(a1, "duplicate")
    assert twice.value.code == "already_returned"

    approved = engine.approve_return(asked["return_id"], note="number is disconnected")
    assert approved["status"] == "approved"
    credit = approved["credit"]
    assert credit is not None
    assert (credit["kind"], credit["amount_cents"], credit["workspace_id"]) == ("credit", -18000, "acme")
    with pytest.raises(leadroute.ConflictError) as decided:
        engine.deny_return(asked["return_id"])
    assert decided.value.code == "return_not_pending"
    record = engine.return_record(asked["return_id"])
    assert record is not None and record["decision_note"] == "number is disconnected"
    lead = engine.appointment(a1)
    assert lead is not None
    assert engine.lead_status_history(lead["lead_id"])[-1]["to_status"] == "returned"

    denied = engine.deny_return(engine.request_return(a2, "duplicate")["return_id"], note="no")
    assert (denied["status"], denied["credit"]) == ("denied", None)

    # return_appointment wants a credit at once: under review it is refused, and nothing
    # is written (request_return is the call that waits for review).
    with pytest.raises(leadroute.ConflictError) as pending:
        engine.return_appointment(a3, "duplicate")
    assert pending.value.code == "return_needs_review"

    summary = engine.billing_summary()
    assert (summary["credits"], summary["credited_cents"]) == (1, -18000)
    assert (summary["pending_returns"], summary["pending_return_cents"]) == (0, 0)
    assert summary["net_cents"] == 2 * 18000
    with pytest.raises(leadroute.NotFoundError):
        engine.approve_return(9999)
    assert engine.return_record(9999) is None
    engine.close()


def test_return_window_and_period_limit(db: pathlib.Path, hooks: Loopback) -> None:
    engine = open_engine(
        db,
        hooks,
        strict={"window_days": 0},
        capped={"max_per_period": {"count": 1}},
    )
    s = book(engine, 1, zip_code="10001")
    c1 = book(engine, 2, product="Roofing")
    c2 = book(engine, 3, product="Roofing")
    deliver_until(engine, lambda: all(hooks.delivered(x) for x in (s, c1, c2)))
    time.sleep(0.01)  # the window of 0 days closed at delivery
    with pytest.raises(leadroute.ConflictError) as window:
        engine.request_return(s, "duplicate")
    assert window.value.code == "return_window_closed"

    first = engine.request_return(c1, "duplicate")
    assert first["status"] == "approved" and first["credit"] is not None
    with pytest.raises(leadroute.ConflictError) as limit:
        engine.request_return(c2, "duplicate")
    assert limit.value.code == "return_limit_reached"
    assert engine.billing_summary()["credits"] == 1
    engine.close()


def test_policy_credits_no_shows_and_late_cancellations(
    db: pathlib.Path, hooks: Loopback
) -> None:
    engine = open_engine(
        db, hooks, acme={"credit_no_show": True, "credit_late_cancel_hours": 48}
    )
    no_show = book(engine, 1)
    late = book(engine, 2, start=when(1))
    by_client = book(engine, 3, start=when(1))
    early = book(engine, 4, start=when(20))
    deliver_until(engine, lambda: all(hooks.delivered(x) for x in (no_show, late, by_client, early)))

    marked = engine.mark_no_show(no_show)
    credit = marked["credit"]
    assert credit is not None and credit["amount_cents"] == -18000
    assert engine.cancel_appointment(late, reason="sick")["credit"] is not None
    assert engine.cancel_appointment(by_client, actor="client")["credit"] is None
    assert engine.cancel_appointment(early)["credit"] is None
    summary = engine.billing_summary()
    assert (summary["charges"], summary["credits"], summary["net_cents"]) == (4, 2, 2 * 18000)
    assert summary["pending_returns"] == 0
    # The client hears of the cancellations after the appointments themselves.
    deliver_until(engine, lambda: len(hooks.delivered(late)) == 2)
    assert [r.type for r in hooks.delivered(no_show)][-1] == "appointment.no_show"
    engine.close()


# ---------------------------------------------------------------------------------------------
# Nothing stays stuck


def test_redeliver_a_failed_delivery_with_the_same_webhook_id(
    db: pathlib.Path, hooks: Loopback
) -> None:
    engine = open_engine(db, hooks)
    a = book(engine, 1)
    hooks.answer = lambda r: 400  # a permanent failure: no retry
    report = engine.deliver_due()
    assert (report["attempted"], report["failed"], report["delivered"]) == (1, 1, 0)
    appt = engine.appointment(a)
    assert appt is not None and appt["forward_status"] == "failed"
    [row] = engine.deliveries(a)
    assert (row["status"], row["attempts"]) == ("failed", 1)

    queued = engine.redeliver(row["id"])
    assert (queued["id"], queued["status"], queued["webhook_id"]) == (row["id"], "pending", row["webhook_id"])
    assert queued["event"] == "appointment.created" and queued["retry_base"] == 1
    appt = engine.appointment(a)
    assert appt is not None and appt["forward_status"] == "pending"

    hooks.answer = lambda r: 200
    assert engine.deliver_due()["delivered"] == 1
    tries = [(r.webhook_id, r.answered) for r in hooks.requests]
    assert tries == [(row["webhook_id"], 400), (row["webhook_id"], 200)]
    appt = engine.appointment(a)
    assert appt is not None and appt["forward_status"] == "success"
    assert engine.billing_summary()["charges"] == 1
    kinds = [e["event_type"] for e in engine.events("appointment", a)]
    assert kinds.index("redelivered") < len(kinds) - 1 - kinds[::-1].index("delivered")

    with pytest.raises(leadroute.ConflictError):
        engine.redeliver(row["id"])
    with pytest.raises(leadroute.NotFoundError) as missing:
        engine.redeliver(9999)
    assert missing.value.code == "unknown_delivery"
    engine.close()


def test_reassign_a_returned_appointment_to_the_next_workspace(
    db: pathlib.Path, hooks: Loopback
) -> None:
    engine = open_engine(db, hooks)
    a = book(engine, 1)
    deliver_until(engine, lambda: bool(hooks.delivered(a)))
    with pytest.raises(leadroute.ConflictError):
        engine.reassign(a)  # delivered and not returned: it stays
    engine.return_appointment(a, "duplicate")

    moved = engine.reassign(a)
    assert (moved["appointment_id"], moved["from_workspace_id"]) == (a, "acme")
    assert (moved["routing"], moved["workspace_id"], moved["rule_id"]) == ("routed", "backup", 2)
    assert moved["unrouted_reason"] is None and moved["delivery_id"] is not None
    trace = moved["trace"]
    assert trace is not None
    skipped = [c for c in trace["candidates"] if c["workspace_id"] == "acme"]
    assert skipped and skipped[0]["status"] == "skipped" and "reason" in skipped[0]
    assert skipped[0]["reason"]["code"] == "excluded_workspace"

    deliver_until(engine, lambda: len(hooks.delivered(a)) == 2)
    assert [r.workspace_id for r in hooks.delivered(a)] == ["acme", "backup"]
    appt = engine.appointment(a)
    assert appt is not None and appt["routing_status"] == "routed"
    assert (appt["id"], appt["workspace_id"], appt["status"]) == (a, "backup", "scheduled")
    rows = engine.billing_summary()["per_workspace"]
    assert {r["workspace_id"]: r["net_cents"] for r in rows} == {"acme": 0, "backup": 18000}
    assert "reassigned" in [e["event_type"] for e in engine.events("appointment", a)]
    engine.close()


def test_reprocess_rejections_after_configuring_the_provider(
    db: pathlib.Path, hooks: Loopback
) -> None:
    engine = open_engine(db, hooks)
    engine.add_providers([{"provider_id": "late", "format": "json", "lead_types": ["solar"]}])
    rejected = []
    for n, phone in ((1, "3178630101"), (2, "3178630102"), (3, "555")):
        out = engine.ingest("late", {"lead_id": f"r{n}", "phone": phone, "zip_code": "46262",
                                     "product_type": "Roofing",
                                     "appointment_date": when(5).isoformat()})
        assert isinstance(out, leadroute.Rejected), out
        assert "lead_type_not_allowed" in out.rejection_codes
        rejected.append(out.rejection_id)

    with pytest.raises(leadroute.ValidationError) as bad:
        engine.reprocess_rejections(reason="no_such_reason")  # type: ignore[arg-type]
    assert bad.value.code == "invalid_option"
    nothing = engine.reprocess_rejections(since=when(1))
    assert nothing == {"examined": 0, "accepted": [], "still_rejected": {}, "unreplayable": 0}

    # Still not set up: examined, still rejected.
    early = engine.reprocess_rejections(provider_id="late", reason="lead_type_not_allowed")
    assert (early["examined"], early["accepted"]) == (3, [])
    assert sum(early["still_rejected"].values()) == 3

    engine.add_providers(
        [{"provider_id": "late", "format": "json", "lead_types": ["solar", "roofing"]}]
    )
    report = engine.reprocess_rejections(provider_id="late", batch=2)
    assert report["examined"] == 3 and report["unreplayable"] == 0
    assert [r["rejection_id"] for r in report["accepted"]] == rejected[:2]
    assert report["still_rejected"] == {"invalid_phone": 1}
    for r in report["accepted"]:
        lead = engine.lead(r["lead_id"])
        assert lead is not None and lead["provider_id"] == "late"
    appts = engine.counts()["appointments_routed"]
    assert appts == 2
    # The accepted ones are leads now; only the still-rejected one is run again.
    assert engine.reprocess_rejections(provider_id="late")["examined"] == 1
    engine.close()


def test_update_appointment_details(db: pathlib.Path, hooks: Loopback) -> None:
    engine = open_engine(db, hooks)
    a = book(engine, 1, start=datetime(2031, 5, 6, 15, 0, tzinfo=timezone.utc))
    updated = engine.update_appointment_details(
        a,
        {
            "end_time": datetime(2031, 5, 6, 16, 30, tzinfo=timezone.utc),
            "duration_minutes": 90,
            "location_type": "in_person",
            "next_action": "send_quote",
            "next_action_date": date(2031, 5, 9),
        },
        actor="agent-7",
    )
    assert updated["next_action"] == "send_quote"
    assert updated["next_action_date"] == date(2031, 5, 9)
    assert updated["end_time"] == datetime(2031, 5, 6, 16, 30, tzinfo=timezone.utc)
    stored = engine.appointment(a)
    assert stored is not None and stored["duration_minutes"] == 90
    last = stored["events"][-1]
    assert last["event_type"] == "updated"
    assert last["detail"]["actor"] == "agent-7"
    assert last["detail"]["old"]["next_action"] is None
    with pytest.raises(leadroute.ValidationError) as bad:
        engine.update_appointment_details(a, {"duration_minutes": "ninety"})  # type: ignore[typeddict-item]
    assert bad.value.code == "invalid_option"
    with pytest.raises(leadroute.NotFoundError):
        engine.update_appointment_details(10**9, {})
