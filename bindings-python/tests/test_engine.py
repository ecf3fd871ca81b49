"""``leadroute.Engine`` end to end on a temporary SQLite file with the vendored corpus:
configure, ingest 300 records, check the stored identities, deliver to a local webhook
receiver (signatures checked), bill, query, reroute, backtest, assign by hand, return an
appointment, disable and re-enable an endpoint; the engine's lifecycle (``close``, ``with``,
``os.PathLike`` paths) and the outcome classes with ``match``."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import pathlib
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast

import pytest

import leadroute

if TYPE_CHECKING:
    from leadroute._leadroute import ProviderConfig, RuleConfig, WorkspaceConfig

CORPUS = pathlib.Path(__file__).resolve().parents[2] / "data" / "corpus"


def load(name: str) -> Any:
    return json.loads((CORPUS / name).read_text())


PROVIDERS = load("providers.json")
WORKSPACES = load("workspaces.json")
RULES = load("routing_rules.json")
LINES_A = (CORPUS / "provider_a.jsonl").read_text().splitlines()[:300]
SECRETS = {w["id"]: w.get("webhook_secret") for w in WORKSPACES}


def is_utc(t: object) -> bool:
    """An aware ``datetime`` in UTC."""
    return isinstance(t, datetime) and t.tzinfo is not None and t.utcoffset() == timezone.utc.utcoffset(None)


class Receiver:
    """A local stand-in for the clients' webhooks: answers 200 (or ``status[path]``) and
    keeps every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.status: dict[str, int] = {}
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with lock:
                    outer.requests.append((self.path, dict(self.headers.items()), body))
                    status = outer.status.get(self.path, 200)
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture()
def engine(tmp_path: pathlib.Path, receiver: Receiver) -> leadroute.Engine:
    e = leadroute.Engine.open(str(tmp_path / "leadroute.db"))
    e.configure(
        providers=PROVIDERS, workspaces=WORKSPACES, rules=RULES, webhook_base=receiver.base
    )
    return e


def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(s == f"v1,{want}" for s in headers["webhook-signature"].split())


def test_ingest_300_records_end_to_end(engine: leadroute.Engine, receiver: Receiver) -> None:
    out = engine.ingest_many("provider-a", LINES_A)
    assert len(out) == 300
    assert all(isinstance(o, (leadroute.Accepted, leadroute.Rejected)) for o in out)
    accepted = [o for o in out if isinstance(o, leadroute.Accepted)]
    rejected = [o for o in out if isinstance(o, leadroute.Rejected)]
    assert all(o.status == "accepted" for o in accepted)
    assert all(o.status == "rejected" for o in rejected)
    assert len(accepted) + len(rejected) == 300
    c = engine.counts()
    # Every record is exactly one stored outcome.
    assert c["leads"] == len(accepted) and c["rejections"] == len(rejected)
    assert c["contacts"] == sum(bool(o.new_contact) for o in accepted)
    with_appt = [o for o in accepted if o.appointment_id is not None]
    routed = [o for o in with_appt if o.routing == "routed"]
    assert c["appointments"] == len(with_appt)
    assert c["appointments"] == c["appointments_routed"] + c["appointments_unrouted"]
    assert c["appointments_routed"] == len(routed) > 0
    assert c["deliveries"] == len(routed)  # one outbox row per routed appointment
    assert c["billing_events"] == 0 and c["billed_cents"] == 0
    # Outcome fields are consistent with what was stored.
    for r in rejected:
        assert r.rejection_id is not None and r.rejection_codes
        assert len(r.rejection_codes) == len(r.rejection_details)
        # A rejection has no lead and no trace.
        assert "lead_id" not in r.to_dict() and "trace" not in r.to_dict()
        assert not hasattr(r, "lead_id") and not hasattr(r, "trace")
    for o in accepted:
        lead = engine.lead(o.lead_id)
        assert lead is not None and lead["contact_id"] == o.contact_id
        assert lead["record_key"] == o.record_key
        assert lead["raw_payload"] in LINES_A
        assert lead["events"][0]["event_type"] == "received"
        assert is_utc(lead["received_at"]) and is_utc(lead["events"][0]["created_at"])
        contact = engine.contact(o.contact_id)
        assert contact is not None and contact["phone"] is not None
        assert contact["phone"].startswith("+")
        assert contact["dedup_scope"] == "provider:provider-a"
        assert is_utc(contact["created_at"])
    for o in routed:
        assert o.workspace_id and o.rule_id and o.unrouted_reason is None
        trace = o.trace
        assert trace is not None and trace["outcome"].get("workspace_id") == o.workspace_id
        assert o.appointment_id is not None
        a = engine.appointment(o.appointment_id)
        assert a is not None and a["routing_status"] == "routed" and a["status"] == "scheduled"
        assert (a["routing_status"], a["workspace_id"], a["rule_id"]) == (
            "routed", o.workspace_id, o.rule_id
        )
        assert is_utc(a["appointment_date"]) and is_utc(a["matched_at"]) and is_utc(a["created_at"])
        assert a["forwarded_at"] is None
        assert a["routing_method"] == "auto" and a["forward_status"] == "pending"
        assert a["events"][0]["event_type"] == "routed" and a["events"][0]["detail"] == trace
        d = o.to_dict()
        assert d["appointment_id"] == o.appointment_id and d["trace"] == trace
    for o in with_appt:
        if o.routing == "unrouted":
            assert o.unrouted_reason and o.workspace_id is None
    # The first corpus record, as in the README.
    first = json.loads(LINES_A[0])
    assert out[0].record_key == first["lead_id"]

    # Re-ingesting is a replay: nothing is stored twice.
    again = engine.ingest_many("provider-a", LINES_A, batch_size=7)
    assert [o.status for o in again] == ["replayed"] * 300
    replays = [o for o in again if isinstance(o, leadroute.Replayed)]
    assert len(replays) == 300
    assert [o.lead_id for o in replays] == [
        o.lead_id if isinstance(o, leadroute.Accepted) else None for o in out
    ]
    assert [o.rejection_id for o in replays] == [
        o.rejection_id if isinstance(o, leadroute.Rejected) else None for o in out
    ]
    assert engine.counts() == c

    # The unrouted queue.
    queue = engine.unrouted(limit=1000)
    assert len(queue) == c["appointments_unrouted"]
    assert all(a["routing_status"] == "unrouted" and a["unrouted_reason"] for a in queue)
    assert all(is_utc(a["appointment_date"]) and "events" not in a for a in queue)
    assert [a["id"] for a in engine.unrouted(2, after=queue[0]["id"])] == [
        a["id"] for a in queue[1:3]
    ]

    # Deliver to the receiver: every routed appointment to an active webhook, signed.
    report = engine.deliver_due()
    assert report["attempted"] == len(routed)
    assert report["delivered"] + report["retrying"] + report["failed"] == report["attempted"]
    assert report["delivered"] == len(receiver.requests) > 0
    for path, headers, body in receiver.requests:
        ws = path.rsplit("/", 1)[-1]
        headers = {k.lower(): v for k, v in headers.items()}
        payload = json.loads(body)
        assert payload["appointment_id"] in {o.appointment_id for o in routed}
        if SECRETS.get(ws):
            assert verify_signature(SECRETS[ws], headers, body)
    c2 = engine.counts()
    assert c2["deliveries_succeeded"] == report["delivered"]
    assert c2["billing_events"] == report["delivered"]
    assert c2["billed_cents"] == report["billed_cents"] > 0
    assert engine.deliver_due()["attempted"] == 0  # nothing due any more

    # Billing: per workspace, adding up to the store's total.
    # The appointments say so too, with the delivery time as a UTC datetime.
    succeeded = 0
    for o in routed:
        a = engine.appointment(o.appointment_id or 0)
        assert a is not None
        if a["forward_status"] == "success":
            succeeded += 1
            assert is_utc(a["forwarded_at"]) and a["forward_attempts"] == 1
    assert succeeded == report["delivered"]
    bill = engine.billing_summary()
    assert bill["charges"] == c2["billing_events"]
    assert bill["charged_cents"] == bill["net_cents"] == c2["billed_cents"]
    assert sum(r["charged_cents"] for r in bill["per_workspace"]) == c2["billed_cents"]
    delivered_ws = {o.workspace_id for o in routed}
    assert {r["workspace_id"] for r in bill["per_workspace"]} <= delivered_ws
    assert engine.billing_summary(until="2000-01-01T00:00:00Z")["charges"] == 0
    assert engine.billing_summary(since=datetime(2000, 1, 1, tzinfo=timezone.utc)) == bill
    with pytest.raises(leadroute.ValidationError) as e:
        engine.billing_summary(since="yesterday")
    assert e.value.field == "since"
    with pytest.raises(leadroute.ValidationError) as e:
        engine.billing_summary(until=datetime(2000, 1, 1))  # naive: no offset, refused
    assert (e.value.code, e.value.field) == ("invalid_time", "until")


def test_manual_assignment_reroute_and_backtest(engine: leadroute.Engine) -> None:
    engine.ingest_many("provider-a", LINES_A)
    queue = engine.unrouted(limit=1000)
    assert queue
    appt = queue[0]
    active_ws = next(w["id"] for w in WORKSPACES if w["webhook_active"])

    # explain: a dry run that writes nothing.
    before = engine.counts()
    trace = engine.explain(appt["service_type"], appt["zip_code"])
    assert trace["outcome"] == {"unrouted": appt["unrouted_reason"]}
    assert engine.counts() == before

    # backtest: a rule for the unrouted appointment's (product, ZIP) moves it.
    proposal = RULES + [
        {
            "id": 10_000,
            "workspace_id": active_ws,
            "product_types": [appt["service_type"]],
            "zip_codes": [appt["zip_code"]],
            "priority": 0,
            "is_active": True,
        }
    ]
    bt = engine.backtest(proposal)
    assert bt["examined"] == before["appointments"]
    assert {"appointment_id": appt["id"], "from": None, "to": active_ws} in bt["moves"]
    rows = {r["workspace_id"]: r for r in bt["per_workspace"]}
    assert rows[None]["current"] == before["appointments_unrouted"]
    assert sum(r["current"] for r in bt["per_workspace"]) == bt["examined"]
    assert sum(r["proposed"] for r in bt["per_workspace"]) == bt["examined"]
    assert engine.counts() == before

    # assign_manually routes it by hand; a routed appointment is never moved.
    engine.assign_manually(appt["id"], active_ws, note="called the client")
    a = engine.appointment(appt["id"])
    assert a is not None and a["routing_status"] == "routed"
    assert (a["routing_status"], a["workspace_id"], a["routing_method"]) == (
        "routed", active_ws, "manual"
    )
    assert a["events"][-1]["event_type"] == "assigned_manually"
    assert a["events"][-1]["detail"]["note"] == "called the client"
    with pytest.raises(leadroute.ConflictError):
        engine.assign_manually(appt["id"], active_ws)
    with pytest.raises(leadroute.NotFoundError) as e:
        engine.assign_manually(10**9, active_ws)
    assert e.value.code == "unknown_appointment"
    with pytest.raises(leadroute.NotFoundError) as e:
        engine.assign_manually(queue[1]["id"], "no_such_workspace")
    assert e.value.code == "unknown_workspace"

    # reroute_unrouted after adding the proposed rule.
    engine.add_rules(proposal[-1:])
    second = queue[1:]
    rr = engine.reroute_unrouted(batch=10)
    assert rr["examined"] == len(second)
    routed_now = sum(rr["routed"].values())
    assert routed_now + sum(rr["still_unrouted"].values()) == rr["examined"]
    c = engine.counts()
    assert c["appointments_unrouted"] == len(second) - routed_now
    assert c["deliveries"] == c["appointments_routed"]


def test_records_as_dict_str_bytes_and_csv(tmp_path: pathlib.Path) -> None:
    e = leadroute.Engine.open(str(tmp_path / "x.db"))
    assert e.path == str(tmp_path / "x.db")
    e.configure(providers=PROVIDERS, workspaces=WORKSPACES, rules=RULES)
    record = json.loads(LINES_A[0])
    # Through the intake wall (ingest_request) the seed's key works, a wrong one does not.
    with pytest.raises(leadroute.UnauthorizedError):
        e.ingest_request("provider-a", record, api_key="wrong", headers={"x": "y"})
    key = PROVIDERS[0]["api_key"]
    [as_dict] = e.ingest_request("provider-a", record, api_key=key, headers={"x": "y"})
    assert isinstance(as_dict, leadroute.Accepted)
    assert as_dict.status == "accepted" and as_dict.new_contact is True
    # The same provider lead id again, as text or bytes: replays.
    assert e.ingest("provider-a", LINES_A[0]).status == "replayed"
    replay = e.ingest("provider-a", LINES_A[0].encode())
    assert isinstance(replay, leadroute.Replayed) and replay.lead_id == as_dict.lead_id
    # A returning person (same phone, new record key): same contact, duplicate lead.
    again = dict(record, lead_id="a-new-id")
    dup = e.ingest("provider-a", again)
    assert isinstance(dup, leadroute.Accepted)
    assert (dup.contact_id, dup.new_contact, dup.duplicate_of) == (
        as_dict.contact_id,
        False,
        as_dict.lead_id,
    )
    assert dup.appointment_id is None
    # Bytes that are not UTF-8 are decoded lossily and stored as a rejection.
    bad = e.ingest("provider-a", b"\xff\xfe{not json")
    assert isinstance(bad, leadroute.Rejected)
    assert bad.status == "rejected" and bad.rejection_codes == ["malformed_record"]
    # A rejection as in the README.
    r = e.ingest("provider-a", {"phone": "555"})
    assert isinstance(r, leadroute.Rejected)
    assert r.rejection_codes == ["invalid_phone", "missing_zip", "missing_product"]
    assert repr(r).startswith("Rejected(")
    # The rejection's audit trail.
    kinds = [ev["event_type"] for ev in e.events("rejection", r.rejection_id)]
    assert kinds == ["received", "rejected"]

    # CSV: a header line and one row, or a dict; a whole body through ingest_body.
    body = (CORPUS / "provider_c.csv").read_text()
    header, row1, row2 = body.splitlines()[:3]
    one = e.ingest("provider-c", f"{header}\n{row1}\n")
    assert one.status in {"accepted", "rejected"}
    with pytest.raises(leadroute.ValidationError) as err:
        e.ingest("provider-c", f"{header}\n{row1}\n{row2}\n")
    assert (err.value.code, err.value.field) == ("csv_row_count", "record")
    with pytest.raises(leadroute.ValidationError):
        e.ingest("provider-c", header)
    many = e.ingest_body("provider-c", body.encode())
    assert len(many) == body.count("\n") - 1 or len(many) > 1000
    assert many[0].status == "replayed"
    assert e.counts()["leads"] + e.counts()["rejections"] == 4 + len(many)
    with pytest.raises(TypeError):
        e.ingest("provider-a", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        e.ingest_body("provider-a", {"a": 1})  # type: ignore[arg-type]


def test_options_and_persistence(tmp_path: pathlib.Path) -> None:
    db = str(tmp_path / "p.db")
    e = leadroute.Engine.open(db, require_phone=False, dedup_scope="global", gmail_rules=True)
    e.add_providers(PROVIDERS)
    e.add_workspaces(WORKSPACES)
    e.add_rules(RULES)
    no_phone = {"email": "Jo.Ann+x@gmail.com", "zip": "46262", "product": "Solar"}
    out = e.ingest("provider-a", no_phone)
    assert isinstance(out, leadroute.Accepted) and out.status == "accepted"
    same = e.ingest("provider-a", dict(no_phone, email="joann@gmail.com", first_name="Jo"))
    assert isinstance(same, leadroute.Accepted)
    assert same.contact_id == out.contact_id and same.new_contact is False
    contact = e.contact(out.contact_id)
    assert contact is not None and contact["dedup_scope"] == "global"
    assert contact["first_name"] == "Jo"
    assert [ev["event_type"] for ev in contact["events"]][0] == "created"
    del e
    # A second engine on the same file sees the same configuration and data.
    e2 = leadroute.Engine.open(db)
    assert e2.counts()["leads"] == 2
    assert e2.ingest("provider-a", dict(no_phone, phone="317-863-8426")).status == "accepted"
    assert e2.lead(10**9) is None and e2.contact(10**9) is None and e2.appointment(10**9) is None
    assert repr(e2) == f"Engine.open({db!r})".replace("'", '"')


def test_in_memory_and_concurrent_ingest() -> None:
    e = leadroute.Engine.open(":memory:", tie_policy="weighted_round_robin")
    e.configure(providers=PROVIDERS, workspaces=WORKSPACES, rules=RULES)
    chunks = [LINES_A[i::4] for i in range(4)]
    results: list[list[leadroute.IngestOutcome]] = []
    lock = threading.Lock()

    def work(lines: list[str]) -> None:
        out = e.ingest_many("provider-a", lines, batch_size=10)
        with lock:
            results.append(out)

    threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r) for r in results) == 300
    c = e.counts()
    assert c["leads"] + c["rejections"] == 300


def test_configuration_errors(tmp_path: pathlib.Path) -> None:
    e = leadroute.Engine.open(str(tmp_path / "c.db"))
    with pytest.raises(leadroute.NotFoundError) as nf:
        e.ingest("provider-a", {"phone": "555"})
    assert nf.value.code == "unknown_provider"
    assert isinstance(nf.value, LookupError)
    with pytest.raises(leadroute.NotFoundError):
        e.ingest_many("nope", [])
    e.configure(providers=PROVIDERS, workspaces=WORKSPACES)
    bad_rule = cast("RuleConfig", dict(RULES[0], zip_codes=["9021"]))
    with pytest.raises(leadroute.ValidationError) as v:
        e.add_rules([bad_rule])
    assert (v.value.code, v.value.field) == ("invalid_zip", "rules")
    with pytest.raises(leadroute.ValidationError) as v:
        e.add_workspaces([cast("WorkspaceConfig", {"id": "w"})])
    assert (v.value.code, v.value.field) == ("invalid_shape", "workspaces")
    with pytest.raises(leadroute.ValidationError) as v:
        e.add_providers([cast("ProviderConfig", {"provider_id": "p", "format": "xml"})])
    assert v.value.field == "providers"
    orphan = cast("RuleConfig", dict(RULES[0], id=99_999, workspace_id="no_such_workspace"))
    with pytest.raises(leadroute.ConflictError):
        e.add_rules([orphan])
    assert e.counts()["leads"] == 0
    inactive = copy.deepcopy(PROVIDERS[0])
    inactive.update(provider_id="sleepy", is_active=False)
    e.add_providers([inactive])
    with pytest.raises(leadroute.ForbiddenError) as u:
        e.ingest("sleepy", {"phone": "317-863-8426"})
    assert u.value.code == "provider_inactive"
    with pytest.raises(leadroute.ValidationError) as v:
        e.explain("Solar", "123")
    assert v.value.code == "invalid_zip"
    with pytest.raises(leadroute.ValidationError):
        e.backtest([cast("RuleConfig", {"id": 1})])
    opts: list[dict[str, Any]] = [
        {"tie_policy": "random"},
        {"dedup_scope": "planet"},
        {"request_timeout": 0.0},
    ]
    for opt in opts:
        with pytest.raises(leadroute.ValidationError) as v:
            leadroute.Engine.open(":memory:", **opt)
        assert v.value.code == "invalid_option" and v.value.field == next(iter(opt))
    with pytest.raises(leadroute.StorageError) as s:
        leadroute.Engine.open(str(tmp_path / "missing" / "dir" / "x.db"))
    assert s.value.code == "backend"


def test_open_pathlike_close_and_context_manager(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "life.db"  # a pathlib.Path: os.PathLike
    with leadroute.Engine.open(db) as e:
        assert isinstance(e, leadroute.Engine) and not e.closed
        assert e.path == str(db)
        e.configure(providers=PROVIDERS, workspaces=WORKSPACES, rules=RULES)
        assert e.ingest("provider-a", LINES_A[0]).status == "accepted"
    # Leaving the block closed the engine: every call now raises.
    assert e.closed and repr(e) == f"<closed Engine.open({str(db)!r})>".replace("'", '"')
    for call in (
        e.counts,
        lambda: e.ingest("provider-a", LINES_A[1]),
        lambda: e.ingest_request("provider-a", LINES_A[1], api_key="k"),
        lambda: e.lead(1),
        lambda: e.configure(providers=PROVIDERS),
        lambda: e.deliver_due(),
    ):
        with pytest.raises(ValueError, match="engine is closed"):
            call()
    e.close()  # again: nothing happens
    # The file was released and keeps the data: it opens again, here with a str path.
    e2 = leadroute.Engine.open(str(db))
    assert e2.counts()["leads"] == 1
    e2.close()
    # An exception in the block propagates, and the engine is closed anyway.
    with pytest.raises(KeyError):
        with leadroute.Engine.open(":memory:") as e3:
            raise KeyError("boom")
    assert e3.closed


def test_outcomes_work_with_match() -> None:
    e = leadroute.Engine.open(":memory:")
    e.configure(providers=PROVIDERS, workspaces=WORKSPACES, rules=RULES)
    seen: list[str] = []
    for o in e.ingest_many("provider-a", LINES_A[:60]) + [e.ingest("provider-a", LINES_A[0])]:
        match o:
            case leadroute.Accepted(lead_id, contact_id, appointment_id):
                assert (lead_id, contact_id, appointment_id) == (
                    o.lead_id,
                    o.contact_id,
                    o.appointment_id,
                )
                assert o.to_dict()["status"] == "accepted" and o.to_dict()["lead_id"] == lead_id
                seen.append("accepted")
            case leadroute.Rejected(rejection_id, codes):
                assert rejection_id == o.rejection_id and codes == o.rejection_codes and codes
                seen.append("rejected")
            case leadroute.Replayed(lead_id=lead_id, rejection_id=None):
                assert lead_id == 1 and o.record_key == json.loads(LINES_A[0])["lead_id"]
                seen.append("replayed")
            case _:
                pytest.fail(f"unexpected outcome {o!r}")
    assert seen[-1] == "replayed" and {"accepted", "rejected"} <= set(seen)
    assert leadroute.Accepted.__match_args__ == ("lead_id", "contact_id", "appointment_id")
    assert e.ingest("provider-a", LINES_A[0]) == e.ingest("provider-a", LINES_A[0])


def test_return_appointment_credits_and_lead_status_history(
    engine: leadroute.Engine, receiver: Receiver
) -> None:
    out = engine.ingest_many("provider-a", LINES_A)
    routed = [o for o in out if isinstance(o, leadroute.Accepted) and o.routing == "routed"]
    unrouted = [o for o in out if isinstance(o, leadroute.Accepted) and o.routing == "unrouted"]
    assert routed and unrouted
    report = engine.deliver_due()
    assert report["delivered"] > 0
    done = []
    for o in routed:
        a = engine.appointment(o.appointment_id or 0)
        if a is not None and a["forward_status"] == "success":
            done.append((o, a))
    o, a = done[0]
    assert a["routing_status"] == "routed" and a["status"] == "scheduled"
    before = engine.billing_summary()
    assert before["credits"] == 0

    # The history of a delivered lead: new, routed, delivered.
    history = engine.lead_status_history(o.lead_id)
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "new"),
        ("new", "routed"),
        ("routed", "delivered"),
    ]
    assert all(h["lead_id"] == o.lead_id and is_utc(h["changed_at"]) for h in history)

    credit = engine.return_appointment(a["id"], "customer cancelled")
    assert credit["kind"] == "credit" and credit["appointment_id"] == a["id"]
    assert credit["workspace_id"] == a["workspace_id"]
    assert credit["amount_cents"] == -a["payment_rate_cents"] < 0
    assert is_utc(credit["created_at"])
    after = engine.billing_summary()
    assert (after["credits"], after["credited_cents"]) == (1, credit["amount_cents"])
    assert after["charges"] == before["charges"]
    assert after["net_cents"] == before["net_cents"] + credit["amount_cents"]
    row = next(r for r in after["per_workspace"] if r["workspace_id"] == a["workspace_id"])
    assert row["credits"] == 1 and row["net_cents"] == row["charged_cents"] + row["credited_cents"]
    last = engine.lead_status_history(o.lead_id)[-1]
    assert (last["from_status"], last["to_status"], last["reason"]) == (
        "delivered",
        "returned",
        "customer cancelled",
    )
    a2 = engine.appointment(a["id"])
    assert a2 is not None and a2["events"][-1]["event_type"] == "returned"
    assert a2["events"][-1]["detail"] == {
        "reason": "customer cancelled",
        "credit_cents": credit["amount_cents"],
    }
    c = engine.counts()
    assert c["billing_events"] == report["delivered"] + 1
    assert c["billed_cents"] == report["billed_cents"] + credit["amount_cents"]

    # Once only; never for an appointment that was not billed; never for an unknown one.
    with pytest.raises(leadroute.ConflictError):
        engine.return_appointment(a["id"], "again")
    with pytest.raises(leadroute.ConflictError):
        engine.return_appointment(unrouted[0].appointment_id or 0, "never delivered")
    with pytest.raises(leadroute.NotFoundError) as nf:
        engine.return_appointment(10**9, "x")
    assert nf.value.code == "unknown_appointment"
    # An unrouted lead's history stops at unrouted, with the reason.
    h = engine.lead_status_history(unrouted[0].lead_id)
    assert [x["to_status"] for x in h] == ["new", "unrouted"]
    assert h[-1]["reason"] == unrouted[0].unrouted_reason
    assert engine.lead_status_history(10**9) == []


def test_endpoint_health_disable_and_enable(engine: leadroute.Engine, receiver: Receiver) -> None:
    out = engine.ingest_many("provider-a", LINES_A)
    routed = [o for o in out if isinstance(o, leadroute.Accepted) and o.routing == "routed"]
    ws = routed[0].workspace_id
    assert ws is not None
    mine = [o for o in routed if o.workspace_id == ws]
    healthy = engine.endpoint_health(ws)
    assert healthy == {
        "consecutive_failures": 0,
        "paused_until": None,
        "disabled": False,
        "disabled_reason": None,
    }
    # The client's endpoint answers 410 Gone: it is disabled, its deliveries wait.
    receiver.status[f"/hooks/{ws}"] = 410
    first = engine.deliver_due()
    health = engine.endpoint_health(ws)
    assert health["disabled"] is True and health["disabled_reason"] == "HTTP 410"
    # Only the deliveries already under way when the first 410 came reached the endpoint.
    gone = [p for p, _, _ in receiver.requests if p == f"/hooks/{ws}"]
    assert 1 <= len(gone) <= len(mine)
    assert first["delivered"] == first["attempted"] - len(gone)
    assert (first["retrying"], first["failed"]) == (len(gone), 0)
    for o in mine:
        a = engine.appointment(o.appointment_id or 0)
        assert a is not None and a["forward_status"] == "pending"
    # Re-enabled (and fixed): every pending delivery to it is due again, and goes out.
    receiver.status.clear()
    assert engine.enable_endpoint(ws) == len(mine)
    assert engine.endpoint_health(ws) == healthy
    second = engine.deliver_due()
    assert second["delivered"] == len(mine)
    for o in mine:
        a = engine.appointment(o.appointment_id or 0)
        assert a is not None and a["forward_status"] == "success"
    with pytest.raises(leadroute.NotFoundError) as nf:
        engine.enable_endpoint("no_such_workspace")
    assert nf.value.code == "unknown_workspace"


def test_provider_totals_usage_and_events(engine: leadroute.Engine) -> None:
    assert engine.provider_totals("provider-a") == {"total_leads": 0, "last_lead_at": None}
    out = engine.ingest_many("provider-a", LINES_A[:50])
    engine.ingest_many("provider-a", LINES_A[:50])  # replays are not counted
    totals = engine.provider_totals("provider-a")
    assert totals["total_leads"] == 50
    assert is_utc(totals["last_lead_at"])
    c = engine.counts()
    assert totals["total_leads"] == c["leads"] + c["rejections"]
    usage = engine.provider_usage("provider-a")
    assert [u["webhook_id"] for u in usage] == [None]
    assert usage[0]["provider_id"] == "provider-a" and usage[0]["total_leads"] == 50
    assert usage[0]["day"] == datetime.now(timezone.utc).date()
    assert usage[0]["last_lead_at"] == totals["last_lead_at"]
    assert engine.provider_totals("nobody") == {"total_leads": 0, "last_lead_at": None}
    first = out[0]
    assert isinstance(first, leadroute.Accepted)
    lead = engine.lead(first.lead_id)
    assert lead is not None
    assert engine.events("lead", first.lead_id) == lead["events"]
    assert all(ev["subject"] == "lead" and ev["subject_id"] == first.lead_id for ev in lead["events"])
    with pytest.raises(leadroute.ValidationError) as v:
        engine.events("planet", 1)  # type: ignore[arg-type]
    assert (v.value.code, v.value.field) == ("invalid_option", "subject")
