"""``leadroute.RoutingTable``: construction from rule dicts, route, route_many, explain."""

from __future__ import annotations

import json
import pathlib
import threading
from typing import TYPE_CHECKING, Any, cast

import pytest

import leadroute

if TYPE_CHECKING:
    from leadroute._leadroute import RouteMatch, RuleConfig

CORPUS = pathlib.Path(__file__).resolve().parents[2] / "data" / "corpus"


def rule(
    rid: int, ws: str, products: list[str], zips: list[str], priority: int = 1, **kw: Any
) -> RuleConfig:
    return cast(
        "RuleConfig",
        {
            "id": rid,
            "workspace_id": ws,
            "product_types": products,
            "zip_codes": zips,
            "priority": priority,
            "is_active": kw.pop("is_active", True),
            **kw,
        },
    )


def test_route_exact_products_and_zips() -> None:
    t = leadroute.RoutingTable(
        [
            rule(1, "heat_a", ["Heat Pump"], ["90210"]),
            rule(2, "zero", ["Heat"], ["02100"]),
            rule(3, "low", ["Heat Pump"], ["90210"], priority=5),
        ]
    )
    m = t.route("heat pump", "90210-1234")
    assert m is not None
    assert (m.workspace_id, m.rule_id, m.priority) == ("heat_a", 1, 1)
    assert repr(m) == 'RouteMatch(workspace_id="heat_a", rule_id=1, priority=1)'
    assert hash(m) == hash(t.route("Heat Pump", "90210"))
    # "Heat" is not "Heat Pump", and 02100 is not 90210.
    assert t.route("Heat", "90210") is None
    assert t.route("Heat Pump", "02100") is None
    assert t.route("Kitchen", "90210") is None
    assert t.rule_count == 3
    assert t.products == ["Heat Pump", "Heat"]
    assert "3 active rules" in repr(t)


def test_geographic_targeting_and_exclusions() -> None:
    t = leadroute.RoutingTable(
        [
            rule(1, "nv", ["Solar"], [], states=["NV"], excluded_zips=["89101"]),
            rule(2, "beverly", ["Solar"], [], priority=2, zip3_prefixes=["902"]),
            rule(3, "radius", ["Solar"], [], priority=3, radius={"zip": "22737", "miles": 50}),
        ]
    )
    assert t.route("Solar", "89109").workspace_id == "nv"  # type: ignore[union-attr]
    assert t.route("Solar", "89101") is None  # excluded, and nothing else covers it
    assert t.route("Solar", "90210").workspace_id == "beverly"  # type: ignore[union-attr]
    assert t.route("Solar", "22737").workspace_id == "radius"  # type: ignore[union-attr]
    trace = t.explain("Solar", "89101")
    assert trace["outcome"] == {"unrouted": "no_rule_for_zip"}
    assert [(e["rule_id"], e["reason"]["code"]) for e in trace["excluded"]] == [(1, "excluded_zip")]


def test_inactive_rules_are_explained_not_routed() -> None:
    t = leadroute.RoutingTable(
        [rule(1, "a", ["Solar"], ["46262"], is_active=False), rule(2, "b", ["Solar"], ["46262"], 9)]
    )
    assert t.route("Solar", "46262").rule_id == 2  # type: ignore[union-attr]
    trace = t.explain("solar", "46262")
    assert trace["product"] == "Solar" and trace["zip"] == "46262"
    assert trace["policy"] == "lowest_id"
    assert [c["status"] for c in trace["candidates"]] == ["matched"]
    assert [r["rule_id"] for r in trace["inactive"]] == [1]


def test_products_keyword_adds_known_products() -> None:
    rules = [rule(1, "a", ["Solar"], ["46262"])]
    plain = leadroute.RoutingTable(rules)
    assert plain.explain("Roofing", "46262")["outcome"] == {"unrouted": "unknown_product"}
    known = leadroute.RoutingTable(rules, products=["Roofing"])
    assert known.explain("Roofing", "46262")["outcome"] == {"unrouted": "no_rule_for_product"}
    assert known.route("Roofing", "46262") is None
    assert known.products == ["Solar", "Roofing"]


def test_route_many_one_result_per_pair_and_bad_zips_are_none() -> None:
    t = leadroute.RoutingTable([rule(1, "a", ["Solar"], ["46262"])])
    pairs = [("Solar", "46262"), ("Solar", "4626"), ("Solar", "hello"), ("Roof", "46262")]
    out = t.route_many(pairs)
    assert [m.rule_id if m else None for m in out] == [1, None, None, None]
    assert out[0] is t.route_many(iter([["Solar", "46262"]]))[0]  # one shared match per rule
    assert t.route_many([]) == []
    with pytest.raises(TypeError):
        t.route_many([("Solar",)])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        t.route_many([("Solar", 46262)])  # type: ignore[list-item]


def test_single_calls_reject_bad_zips() -> None:
    t = leadroute.RoutingTable([rule(1, "a", ["Solar"], ["46262"])])
    for bad in ["4626", "abcde", ""]:
        with pytest.raises(leadroute.ValidationError) as e:
            t.route("Solar", bad)
        assert (e.value.code, e.value.field) == ("invalid_zip", "zip")
        with pytest.raises(leadroute.ValidationError):
            t.explain("Solar", bad)


@pytest.mark.parametrize(
    ("rules", "code"),
    [
        ([rule(1, "a", ["Solar"], ["9021"])], "invalid_zip"),
        ([rule(1, "a", ["Solar"], [], states=["XX"])], "unknown_state"),
        ([rule(1, "a", ["Solar"], [], zip3_prefixes=["90"])], "invalid_zip_prefix"),
        ([rule(1, "a", ["Solar"], [], radius={"zip": "00000", "miles": 5})], "unknown_radius_zip"),
        ([rule(1, "a", ["Solar"], [], radius={"zip": "22737", "miles": -1})], "invalid_radius"),
        ([rule(1, "a", ["Solar"], ["90210"], weight=0)], "invalid_weight"),
        ([rule(1, "a", ["Solar"], ["90210"]), rule(1, "b", ["Solar"], ["90211"])], "duplicate_rule"),
        ([{"id": 1}], "invalid_shape"),
        ({"id": 1}, "invalid_shape"),
    ],
)
def test_bad_rules_raise_validation_errors(rules: object, code: str) -> None:
    with pytest.raises(leadroute.ValidationError) as e:
        leadroute.RoutingTable(rules)  # type: ignore[arg-type]
    assert e.value.code == code
    assert e.value.field == "rules"
    assert isinstance(e.value, ValueError) and isinstance(e.value, leadroute.LeadrouteError)
    assert str(e.value)  # the Rust cause


def test_rules_must_be_json_values() -> None:
    with pytest.raises(TypeError):
        leadroute.RoutingTable([cast("RuleConfig", {"id": 1, "x": object()})])
    with pytest.raises(ValueError):
        leadroute.RoutingTable([cast("RuleConfig", {"id": float("nan")})])


def test_corpus_rules_and_concurrent_route_many() -> None:
    rules = json.loads((CORPUS / "routing_rules.json").read_text())
    t = leadroute.RoutingTable(rules)
    pairs = []
    for line in (CORPUS / "provider_a.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if isinstance(rec.get("product"), str) and isinstance(rec.get("zip"), str):
            pairs.append((rec["product"], rec["zip"]))
    expected = [t.route(p, z) if len(z.strip()) >= 5 and _ok(z) else None for p, z in pairs]
    assert t.route_many(pairs) == expected
    assert sum(m is not None for m in expected) > 100
    # route_many releases the GIL; threads sharing one table agree.
    results: list[list[RouteMatch | None]] = []
    threads = [threading.Thread(target=lambda: results.append(t.route_many(pairs))) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(r == expected for r in results) and len(results) == 4


def _ok(z: str) -> bool:
    try:
        leadroute.RoutingTable([]).route("x", z)
    except leadroute.ValidationError:
        return False
    return True
