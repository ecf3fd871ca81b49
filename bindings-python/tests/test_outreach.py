"""Outreach through Python on a real SQLite file: the contact queue (claims under the calling
rules, in the called party's zone, never one lead to two workers; attempts; opt-outs and
imported hashed suppression lists; speed to lead), booking into a workspace's calendar, and
confirmations and reminders sent through a Python callable (retries, logs, suppression)."""

from __future__ import annotations

import hashlib
import pathlib
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

import leadroute

if TYPE_CHECKING:
    from leadroute._leadroute import (
        ContactQueueConfig,
        FreeSlot,
        OutgoingMessage,
        WorkspaceConfig,
    )

NY = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")
PROVIDER = "provider-a"
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def crew(id: str, *, messages: bool = True) -> WorkspaceConfig:
    """A New York workspace taking bookings Monday to Friday, 9:00-17:00, in 60-minute slots
    of one crew; with confirmations and reminders (24 h and 1 h before) retried at once."""
    w: WorkspaceConfig = {
        "id": id,
        "outbound_webhook_url": f"http://127.0.0.1:9/hooks/{id}",
        "payment_rate": 150.0,
        "timezone": "America/New_York",
        "schedule": {"hours": [{"days": WEEKDAYS, "start": "09:00", "end": "17:00"}]},
        "calendar": {"slot_minutes": 60, "capacity": 1},
    }
    if messages:
        w["messages"] = {
            "confirmation": True,
            "reminder_offsets_minutes": [1440, 60],
            "retry_backoff_seconds": [0, 0],
        }
    return w


def open_engine(db: pathlib.Path, queue: ContactQueueConfig | None = None) -> leadroute.Engine:
    """An engine on ``db`` with one JSON provider and two New York crews for Solar in
    10001 and 90012 (``ny_crew`` first, ``ny_backup`` second)."""
    engine = leadroute.Engine.open(
        db, contact_queue=queue if queue is not None else {"settings": {"max_batch": 50}}
    )
    engine.configure(
        providers=[{"provider_id": PROVIDER, "format": "json"}],
        workspaces=[crew("ny_crew"), crew("ny_backup")],
        rules=[
            {
                "id": 1,
                "workspace_id": "ny_crew",
                "product_types": ["Solar"],
                "zip_codes": ["10001", "90012"],
                "priority": 1,
                "is_active": True,
            },
            {
                "id": 2,
                "workspace_id": "ny_backup",
                "product_types": ["Solar"],
                "zip_codes": ["10001", "90012"],
                "priority": 2,
                "is_active": True,
            },
        ],
    )
    return engine


@pytest.fixture()
def engine(tmp_path: pathlib.Path) -> Iterator[leadroute.Engine]:
    with open_engine(tmp_path / "leadroute.db") as e:
        yield e


def lead(
    engine: leadroute.Engine, n: int, *, zip_code: str = "10001", area: str = "212", **extra: Any
) -> int:
    """Ingests a lead (no appointment time unless given); returns its id."""
    record = {
        "lead_id": f"lead-{n}",
        "phone": f"{area}863{n:04d}",
        "zip_code": zip_code,
        "product_type": "Solar",
        **extra,
    }
    out = engine.ingest(PROVIDER, record)
    assert isinstance(out, leadroute.Accepted), out
    return out.lead_id


def weekday_ahead(hour: int, minute: int = 0, tz: ZoneInfo = NY, weekday: int = 1) -> datetime:
    """A local time on a coming weekday (Tuesday by default) at least three days ahead."""
    d = (datetime.now(tz) + timedelta(days=3)).date()
    while d.weekday() != weekday:
        d += timedelta(days=1)
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=tz)


# ---------------------------------------------------------------------------------------------
# The contact queue


def test_leads_without_an_appointment_are_queued_and_claimed_in_their_zone(
    engine: leadroute.Engine,
) -> None:
    ny = lead(engine, 1)
    la = lead(engine, 2, zip_code="90012", area="213")
    booked = lead(engine, 3, appointment_date=weekday_ahead(10).isoformat())
    assert engine.contact_entry(booked) is None, "a lead with an appointment time is not queued"
    entry = engine.contact_entry(ny)
    assert entry is not None
    assert (entry["status"], entry["attempts"]) == ("pending", 0)
    assert entry["phone_e164"] == "+12128630001"
    assert entry["received_at"].tzinfo is not None

    at = weekday_ahead(13)  # 13:00 in New York is 10:00 in Los Angeles
    rows = engine.claim_contact_batch(at, 10, worker="caller-1")
    assert [r["lead_id"] for r in rows] == [ny, la]
    by_lead = {r["lead_id"]: r for r in rows}
    assert by_lead[ny]["phone"] == "+12128630001"
    assert by_lead[la]["phone"] == "+12138630002"
    for r, zone, hour in ((by_lead[ny], NY, 13), (by_lead[la], LA, 10)):
        local = r["local_time"]
        assert local is not None and isinstance(local.tzinfo, ZoneInfo)
        assert local.tzinfo == zone and local.hour == hour
        assert local == at
        assert (r["attempts"], r["lead_type"]) == (0, "solar")
        assert r["received_at"] <= datetime.now(timezone.utc)
    claimed = engine.contact_entry(ny)
    assert claimed is not None
    assert (claimed["status"], claimed["worker"]) == ("attempting", "caller-1")
    assert claimed["locked_until"] == at + timedelta(minutes=15)
    assert engine.claim_contact_batch(at, 10, worker="caller-2") == [], "leased"


def test_quiet_hours_hold_a_lead_until_8_local(engine: leadroute.Engine) -> None:
    ny = lead(engine, 1)
    early = weekday_ahead(6)
    assert engine.claim_contact_batch(now=early, worker="w") == []
    held = engine.contact_entry(ny)
    assert held is not None
    assert held["hold_reason"] == "quiet_hours"
    assert held["next_attempt_at"] == early.replace(hour=8)
    rows = engine.claim_contact_batch(now=early.replace(hour=9), worker="w")
    assert [r["lead_id"] for r in rows] == [ny]
    assert rows[0]["local_time"] is not None and rows[0]["local_time"].hour == 9


def test_four_workers_never_get_the_same_lead(engine: leadroute.Engine) -> None:
    leads = [lead(engine, n) for n in range(1, 61)]
    at = weekday_ahead(11)
    got: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(name: str) -> None:
        try:
            mine = got.setdefault(name, [])
            start.wait()
            while True:
                batch = engine.claim_contact_batch(at, 3, worker=name)
                if not batch:
                    return
                for row in batch:
                    mine.append(row["lead_id"])
                    # Due again 4 hours after `at`: not claimable at `at`.
                    engine.record_contact_attempt(row["lead_id"], "no_answer", at=at, worker=name)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    claimed = [lead_id for ids in got.values() for lead_id in ids]
    assert sorted(claimed) == leads, "every lead claimed exactly once"
    assert sum(1 for ids in got.values() if ids) >= 2, "the work was shared"
    for name, ids in got.items():
        for lead_id in ids:
            attempts = engine.contact_attempts(lead_id)
            assert [(a["attempt_number"], a["worker"]) for a in attempts] == [(1, name)]


def test_attempts_follow_the_settings(tmp_path: pathlib.Path) -> None:
    queue: ContactQueueConfig = {
        "settings": {"max_batch": 5, "retry_interval_seconds": 3600, "max_attempts": 2}
    }
    with open_engine(tmp_path / "q.db", queue) as engine:
        a, b, c = (lead(engine, n) for n in (1, 2, 3))
        at = weekday_ahead(10)
        assert len(engine.claim_contact_batch(at, 50, worker="w")) == 3
        declined = engine.record_contact_attempt(b, "not_interested", at=at)
        assert declined["status"] == "not_interested"
        assert engine.record_contact_attempt(c, "scheduled", at=at)["status"] == "scheduled"
        first = engine.record_contact_attempt(a, "no_answer", at=at, notes="voicemail", worker="w")
        assert (first["status"], first["attempts"]) == ("no_answer", 1)
        assert first["next_attempt_at"] == at + timedelta(hours=1)
        assert first["last_attempt_at"] == at
        assert engine.claim_contact_batch(at + timedelta(minutes=59), worker="w") == []
        again = engine.claim_contact_batch(at + timedelta(hours=1), worker="w")
        assert [(r["lead_id"], r["attempts"]) for r in again] == [(a, 1)]
        last = engine.record_contact_attempt(a, "no_answer", at=at + timedelta(hours=1))
        assert last["status"] == "unreachable", "max_attempts is 2"
        assert engine.claim_contact_batch(at + timedelta(days=1), worker="w") == [], "all done"
        attempts = engine.contact_attempts(a)
        assert [(x["attempt_number"], x["outcome"], x["notes"]) for x in attempts] == [
            (1, "no_answer", "voicemail"),
            (2, "no_answer", None),
        ]
        assert attempts[0]["at"] == at

        metrics = engine.contact_metrics(at - timedelta(days=30), at + timedelta(days=1))
        assert (metrics["leads"], metrics["contacted"]) == (3, 3)
        assert metrics["contact_rate"] == 1.0
        assert metrics["attempts_per_lead"] == pytest.approx(4 / 3)
        assert metrics["appointment_rate"] == pytest.approx(1 / 3)
        assert metrics["first_attempt_p50_seconds"] is not None

        with pytest.raises(leadroute.ValidationError) as bad:
            engine.record_contact_attempt(a, "voicemail")  # type: ignore[arg-type]
        assert (bad.value.code, bad.value.field) == ("invalid_option", "outcome")
        with pytest.raises(leadroute.NotFoundError) as missing:
            engine.record_contact_attempt(999, "no_answer")
        assert missing.value.code == "unknown_lead"


def test_do_not_contact_and_opt_outs_suppress(engine: leadroute.Engine) -> None:
    a, b = lead(engine, 1), lead(engine, 2)
    at = weekday_ahead(10)
    engine.claim_contact_batch(at, worker="w")
    ended = engine.record_contact_attempt(a, "do_not_contact", at=at)
    assert ended["status"] == "do_not_contact"
    assert engine.is_suppressed("+12128630001")

    assert engine.record_opt_out("(212) 863-0002", source="sms STOP") is True
    assert engine.record_opt_out("212.863.0002") is False, "already listed"
    assert engine.is_suppressed("2128630002")
    assert not engine.is_suppressed("2128630003")
    # b's lease ends; on the next claim it is put aside as do_not_contact, never handed out.
    later = at + timedelta(hours=1)
    assert engine.claim_contact_batch(later, worker="w") == []
    entry = engine.contact_entry(b)
    assert entry is not None and entry["status"] == "do_not_contact"
    # A new lead with a listed number is flagged at intake, and never claimed either.
    engine.record_opt_out("+12128630003")
    c = lead(engine, 3)
    flagged = engine.contact_entry(c)
    assert flagged is not None and flagged["suppressed"] is True
    assert engine.claim_contact_batch(later, worker="w") == []
    with pytest.raises(leadroute.InvalidPhoneError):
        engine.record_opt_out("12")


def test_an_imported_hashed_list_suppresses(engine: leadroute.Engine) -> None:
    hashed = hashlib.sha256(b"+12128630007").hexdigest()
    text = f"# do-not-call list, 2026-12\n{hashed}\n\n+12128630008\nnot a number\n"
    report = engine.import_suppressions(text, source="dnc-2026-12.txt")
    assert (report["added"], report["already_listed"]) == (2, 0)
    assert [line for line, _ in report["rejected_lines"]] == [5]
    assert engine.import_suppressions(text.encode(), source="again")["already_listed"] == 2
    assert engine.is_suppressed("(212) 863-0007"), "matched by its hash"
    assert engine.is_suppressed("+12128630008")
    listed, free = lead(engine, 7), lead(engine, 9)
    rows = engine.claim_contact_batch(weekday_ahead(10), worker="w")
    assert [r["lead_id"] for r in rows] == [free]
    entry = engine.contact_entry(listed)
    assert entry is not None and entry["status"] == "do_not_contact"


def test_queue_options(tmp_path: pathlib.Path) -> None:
    with pytest.raises(leadroute.ValidationError) as typo:
        leadroute.Engine.open(
            ":memory:", contact_queue={"settings": {"max_bach": 3}}  # type: ignore[arg-type]
        )
    assert (typo.value.code, typo.value.field) == ("invalid_option", "contact_queue")
    with pytest.raises(leadroute.ValidationError) as lease:
        leadroute.Engine.open(":memory:", contact_lease=0)
    assert lease.value.field == "contact_lease"
    off: ContactQueueConfig = {
        "settings": {"automation_enabled": False},
        "never_contact": ["Roofing"],
    }
    with open_engine(tmp_path / "off.db", off) as engine:
        a = lead(engine, 1)
        assert engine.contact_entry(a) is not None
        assert engine.claim_contact_batch(weekday_ahead(10), worker="w") == []
    # Settings per lead type (named in any case), and a short lease: a dead worker's leads
    # come back.
    per: ContactQueueConfig = {"per_lead_type": {"Solar": {"max_attempts": 1}}}
    with leadroute.Engine.open(tmp_path / "per.db", contact_queue=per, contact_lease=60) as engine:
        engine.configure(
            providers=[{"provider_id": PROVIDER, "format": "json"}],
            workspaces=[crew("ny_crew")],
            rules=[
                {
                    "id": 1,
                    "workspace_id": "ny_crew",
                    "product_types": ["Solar"],
                    "zip_codes": ["10001"],
                    "priority": 1,
                    "is_active": True,
                }
            ],
        )
        a, b = lead(engine, 1), lead(engine, 2)
        at = weekday_ahead(10)
        assert [r["lead_id"] for r in engine.claim_contact_batch(at, 5, worker="dead")] == [a, b]
        assert engine.claim_contact_batch(at + timedelta(seconds=59), 5, worker="w") == []
        back = engine.claim_contact_batch(at + timedelta(seconds=61), 5, worker="w")
        assert [r["lead_id"] for r in back] == [a, b]
        once = engine.record_contact_attempt(a, "no_answer", at=at + timedelta(seconds=61))
        assert once["status"] == "unreachable", "solar leads get one attempt"


# ---------------------------------------------------------------------------------------------
# Booking


def week_of_slots(engine: leadroute.Engine, workspace_id: str = "ny_crew") -> list[FreeSlot]:
    now = datetime.now(timezone.utc)
    return engine.available_slots(workspace_id, now, now + timedelta(days=8))


def test_available_slots_follow_the_calendar(engine: leadroute.Engine) -> None:
    slots = week_of_slots(engine)
    assert slots, "a week always has weekday hours"
    earliest = datetime.now(timezone.utc) + timedelta(minutes=120)
    for s in slots:
        local = s["start"].astimezone(NY)
        assert local.weekday() < 5 and 9 <= local.hour < 17 and local.minute == 0
        assert s["end"] - s["start"] == timedelta(minutes=60)
        assert s["remaining"] == 1 and s["start"] >= earliest - timedelta(seconds=5)
        assert s["start"].tzinfo is not None
    assert [s["start"] for s in slots] == sorted(s["start"] for s in slots)
    with pytest.raises(leadroute.NotFoundError):
        engine.available_slots("nowhere", slots[0]["start"], slots[-1]["end"])


def test_a_bad_calendar_is_refused(engine: leadroute.Engine) -> None:
    bad = crew("broken")
    bad["calendar"] = {"slot_minutes": 0}
    with pytest.raises(leadroute.ValidationError) as e:
        engine.add_workspaces([bad])
    assert (e.value.code, e.value.field) == ("invalid_slot_length", "calendar")
    with pytest.raises(leadroute.NotFoundError):
        week_of_slots(engine, "broken")


def test_booking_takes_a_slot_and_routes_to_a_workspace_with_room(
    engine: leadroute.Engine,
) -> None:
    a, b, c, d = (lead(engine, n) for n in (1, 2, 3, 4))
    slots = week_of_slots(engine)
    slot = slots[0]

    booked = engine.book(a, slot["start"], workspace_id="ny_crew")
    assert (booked["lead_id"], booked["workspace_id"]) == (a, "ny_crew")
    assert booked["slot"] == {"start": slot["start"], "end": slot["end"]}
    assert slot["start"] not in [s["start"] for s in week_of_slots(engine)]
    appointment = engine.appointment(booked["appointment_id"])
    assert appointment is not None and appointment["routing_status"] == "routed"
    assert appointment["routing_method"] == "manual"
    assert appointment["appointment_date"] == slot["start"]
    assert appointment["end_time"] == slot["end"]
    entry = engine.contact_entry(a)
    assert entry is not None and entry["status"] == "scheduled"

    with pytest.raises(leadroute.ConflictError) as taken:
        engine.book(b, slot["start"], workspace_id="ny_crew")
    assert taken.value.code == "slot_taken"
    with pytest.raises(leadroute.ValidationError) as off_grid:
        engine.book(b, slot["start"] + timedelta(minutes=30), workspace_id="ny_crew")
    assert (off_grid.value.code, off_grid.value.field) == ("not_a_slot", "start")
    with pytest.raises(leadroute.ValidationError) as soon:
        engine.book(b, datetime.now(timezone.utc), workspace_id="ny_crew")
    assert soon.value.code in {"too_soon", "not_a_slot", "closed"}

    # Without a workspace: routing passes over the full crew to the one with room.
    routed = engine.book(b, slot["start"].isoformat())
    assert routed["workspace_id"] == "ny_backup"
    with pytest.raises(leadroute.ConflictError) as full:
        engine.book(c, slot["start"])
    assert full.value.code == "slot_taken"
    # Another slot is free at the first crew again.
    other = engine.book(c, slots[1]["start"])
    assert other["workspace_id"] == "ny_crew"
    with pytest.raises(leadroute.ConflictError) as twice:
        engine.book(c, slots[2]["start"])
    assert twice.value.code == "conflict", "the lead already has an appointment"
    with pytest.raises(leadroute.NotFoundError):
        engine.book(d, slots[2]["start"], workspace_id="nowhere")
    with pytest.raises(leadroute.NotFoundError):
        engine.book(999, slots[2]["start"])


# ---------------------------------------------------------------------------------------------
# Confirmations and reminders


class Transport:
    """A message transport: records what it is given, raises the scripted errors first."""

    def __init__(self, *failures: str) -> None:
        self.failures = list(failures)
        self.calls: list[OutgoingMessage] = []

    def __call__(self, message: OutgoingMessage) -> str:
        self.calls.append(message)
        if self.failures:
            raise RuntimeError(self.failures.pop(0))
        return f"sms-{message['id']}-{message['try_number']}"


def book_ahead(engine: leadroute.Engine, lead_id: int) -> tuple[int, datetime]:
    """Books ``lead_id`` with ``ny_crew`` in a slot two days ahead or more, at 10:00 or later
    local (so both reminders fall in calling hours); returns the appointment and its start."""
    after = datetime.now(timezone.utc) + timedelta(days=2)
    slot = next(
        s
        for s in engine.available_slots("ny_crew", after, after + timedelta(days=8))
        if s["start"].astimezone(NY).hour >= 10
    )
    booked = engine.book(lead_id, slot["start"], workspace_id="ny_crew")
    return booked["appointment_id"], slot["start"]


def test_a_confirmation_and_reminders_sent_through_a_callable(engine: leadroute.Engine) -> None:
    appointment_id, start = book_ahead(engine, lead(engine, 1))
    planned = engine.messages(appointment_id)
    assert [m["kind"] for m in planned] == ["confirmation", "reminder", "reminder"]
    assert [m["send_at"] for m in planned[1:]] == [
        start - timedelta(hours=24),
        start - timedelta(hours=1),
    ]
    assert all(m["status"] == "pending" and m["to"] == "+12128630001" for m in planned)
    assert [m["body"]["offset_minutes"] for m in planned] == [None, 1440, 60]

    transport = Transport("provider timeout")
    first = engine.send_due_messages(transport)
    assert first == {"attempted": 1, "sent": 0, "retrying": 1, "failed": 0, "suppressed": 0}
    second = engine.send_due_messages(transport, limit=10)
    assert (second["attempted"], second["sent"]) == (1, 1)
    assert engine.send_due_messages(transport)["attempted"] == 0, "the reminders are not due"

    confirmation = planned[0]
    assert [m["id"] for m in transport.calls] == [confirmation["id"]] * 2
    assert [m["try_number"] for m in transport.calls] == [1, 2]
    sent = transport.calls[0]
    assert (sent["kind"], sent["to"], sent["appointment_id"]) == (
        "confirmation",
        "+12128630001",
        appointment_id,
    )
    assert datetime.fromisoformat(sent["body"]["start"].replace("Z", "+00:00")) == start
    assert sent["body"]["workspace_id"] == "ny_crew"

    logs = engine.message_logs(confirmation["id"])
    assert [(g["try_number"], g["status"], g["error"], g["provider_message_id"]) for g in logs] == [
        (1, "failed", "provider timeout", None),
        (2, "sent", None, f"sms-{confirmation['id']}-2"),
    ]
    assert logs[0]["at"] <= logs[1]["at"]
    after = engine.messages(appointment_id)
    assert [(m["status"], m["tries"]) for m in after] == [
        ("sent", 2),
        ("pending", 0),
        ("pending", 0),
    ]


def test_a_suppressed_number_is_logged_and_never_handed_over(engine: leadroute.Engine) -> None:
    appointment_id, _ = book_ahead(engine, lead(engine, 1))
    engine.record_opt_out("+12128630001", source="STOP")
    transport = Transport()
    report = engine.send_due_messages(transport)
    assert (report["attempted"], report["suppressed"], report["sent"]) == (1, 1, 0)
    assert transport.calls == []
    confirmation = engine.messages(appointment_id)[0]
    assert confirmation["status"] == "suppressed"
    logs = engine.message_logs(confirmation["id"])
    assert [(g["try_number"], g["status"], g["provider_message_id"]) for g in logs] == [
        (1, "suppressed", None)
    ]


def test_what_a_transport_returns_or_raises(engine: leadroute.Engine) -> None:
    appointment_id, _ = book_ahead(engine, lead(engine, 1))
    with pytest.raises(TypeError):
        engine.send_due_messages("not callable")  # type: ignore[arg-type]
    assert engine.messages(appointment_id)[0]["tries"] == 0, "nothing was claimed"

    def no_id(message: OutgoingMessage) -> Any:
        return None

    def silent(message: OutgoingMessage) -> str:
        raise ValueError()

    assert engine.send_due_messages(no_id)["retrying"] == 1
    assert engine.send_due_messages(silent)["retrying"] == 1
    assert engine.send_due_messages(no_id)["failed"] == 1, "three tries, then given up"
    confirmation = engine.messages(appointment_id)[0]
    assert (confirmation["status"], confirmation["tries"]) == ("failed", 3)
    errors = [g["error"] for g in engine.message_logs(confirmation["id"])]
    assert errors[0] is not None and "NoneType, not a str" in errors[0]
    assert errors[1] == "ValueError"

    # A KeyboardInterrupt is raised again, after the try is logged.
    _, _ = book_ahead(engine, lead(engine, 2))

    def interrupted(message: OutgoingMessage) -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.send_due_messages(interrupted)
    retried = engine.send_due_messages(Transport())
    assert (retried["attempted"], retried["sent"]) == (1, 1)
