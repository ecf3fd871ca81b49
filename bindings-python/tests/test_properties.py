"""Property tests (hypothesis): phone normalization round trips and renderings, and
``RoutingTable`` against a pure-Python reference router over random rule sets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadroute

if TYPE_CHECKING:
    from leadroute._leadroute import RuleConfig

# ---------------------------------------------------------------------------------------------
# Phones


def outcome(raw: str, region: str = "US") -> str:
    """E.164, or ``!<code>`` when leadroute refuses the input."""
    try:
        return leadroute.normalize_phone(raw, region)
    except leadroute.InvalidPhoneError as e:
        return "!" + e.code


def reference(raw: str, region: str = "US") -> str | None:
    try:
        n = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(n):
        return None
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)


FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

nanp = st.tuples(
    st.integers(200, 999),  # NPA
    st.integers(200, 999),  # NXX
    st.integers(0, 9999),  # line
)


def renderings(npa: int, nxx: int, line: int, ext: int | None) -> list[str]:
    a, b, c = f"{npa:03d}", f"{nxx:03d}", f"{line:04d}"
    out = [
        f"{a}{b}{c}",
        f"({a}) {b}-{c}",
        f"{a}-{b}-{c}",
        f"{a}.{b}.{c}",
        f"{a} {b} {c}",
        f"1{a}{b}{c}",
        f"1-{a}-{b}-{c}",
        f"+1 {a} {b} {c}",
        f"+1 ({a}) {b}-{c}",
        f"+1-{a}-{b}-{c}",
        f"tel:+1-{a}-{b}-{c}",
        f"  {a}{b}{c}\t",
        f"{a}{b}{c}".translate(FULLWIDTH),
    ]
    if ext is not None:
        out += [f"{a}-{b}-{c} x{ext}", f"({a}) {b}-{c} ext. {ext}", f"+1 {a} {b} {c} ext {ext}"]
    return out


@settings(max_examples=300, deadline=None)
@given(nanp, st.one_of(st.none(), st.integers(1, 99999)))
def test_every_rendering_normalizes_the_same_and_round_trips(
    number: tuple[int, int, int], ext: int | None
) -> None:
    npa, nxx, line = number
    forms = renderings(npa, nxx, line, ext)
    results = {f: outcome(f) for f in forms}
    valid = {r for r in results.values() if not r.startswith("!")}
    # All renderings of one number agree: one E.164, or all refused.
    assert len(valid) <= 1, results
    if valid:
        (e164,) = valid
        assert all(r == e164 for r in results.values()), results
        assert e164 == f"+1{npa:03d}{nxx:03d}{line:04d}"
        # Round trip: normalizing the E.164 output gives it back, from any default region.
        assert outcome(e164) == e164
        assert outcome(e164, "GB") == e164
    # Agreement with libphonenumber on the plain rendering.
    plain = forms[0]
    want = reference(plain)
    got = results[plain]
    assert (got if not got.startswith("!") else None) == want, (plain, got, want)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_idempotent_on_arbitrary_text(raw: str) -> None:
    first = outcome(raw)
    if not first.startswith("!"):
        assert outcome(first) == first


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="0123456789 ()-.+x", max_size=20),
            nanp.map(lambda t: f"({t[0]}) {t[1]}-{t[2]:04d}"),
        ),
        max_size=40,
    ),
    st.booleans(),
)
def test_batch_equals_one_by_one(raws: list[str], strict: bool) -> None:
    batch = leadroute.normalize_phones(raws, strict=strict)
    assert len(batch) == len(raws)
    for raw, got in zip(raws, batch):
        try:
            want: object = leadroute.normalize_phone(raw, strict=strict)
        except leadroute.InvalidPhoneError as e:
            assert isinstance(got, leadroute.InvalidPhoneError)
            assert (got.code, str(got)) == (e.code, str(e))
        else:
            assert got == want


# ---------------------------------------------------------------------------------------------
# Routing

PRODUCTS = ["Solar", "Roofing", "HVAC", "Heat Pump", "Heat", "Battery"]
ZIPS = [f"{z:05d}" for z in (210, 2101, 90210, 90211, 46262, 10001, 99999, 501, 33101, 60601)]
WORKSPACES = [f"ws_{i}" for i in range(6)]


@st.composite
def rule_sets(draw: st.DrawFn) -> list[RuleConfig]:
    n = draw(st.integers(0, 25))
    ids = draw(st.lists(st.integers(1, 10_000), min_size=n, max_size=n, unique=True))
    rules: list[RuleConfig] = []
    for rid in ids:
        zips = draw(st.lists(st.sampled_from(ZIPS), max_size=5, unique=True))
        rule: RuleConfig = {
            "id": rid,
            "workspace_id": draw(st.sampled_from(WORKSPACES)),
            "product_types": draw(
                st.lists(st.sampled_from(PRODUCTS), min_size=1, max_size=3, unique=True)
            ),
            "zip_codes": zips,
            "priority": draw(st.integers(1, 4)),
            "is_active": draw(st.sampled_from([True, True, True, False])),
            "notes": None,
        }
        if draw(st.booleans()):
            rule["excluded_zips"] = draw(st.lists(st.sampled_from(ZIPS), max_size=2, unique=True))
        rules.append(rule)
    return rules


def reference_route(rules: list[RuleConfig], product: str, zip5: str) -> tuple[str, int, int] | None:
    """The rules as the README states them, naively: active rules whose products include the
    product (exact, trimmed, ASCII case-insensitive) and whose ZIPs include the ZIP and do not
    exclude it; the lowest priority wins, then the lowest id."""
    key = product.strip().lower()
    candidates = [
        r
        for r in rules
        if r["is_active"]
        and any(p.lower() == key for p in r["product_types"])
        and zip5 in r["zip_codes"]
        and zip5 not in r.get("excluded_zips", [])
    ]
    if not candidates:
        return None
    best = min(candidates, key=lambda r: (r["priority"], r["id"]))
    return (best["workspace_id"], best["id"], best["priority"])


def spelled(product: str, upper: list[bool], pad: bool) -> str:
    s = "".join(c.upper() if u else c.lower() for c, u in zip(product, upper + [False] * 20))
    return f" {s} " if pad else s


queries = st.lists(
    st.tuples(
        st.sampled_from(PRODUCTS + ["Heat Pumps", "Solar Panels", "Kitchen"]),
        st.lists(st.booleans(), max_size=12),
        st.booleans(),
        st.sampled_from(ZIPS + ["12345", "00000"]),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_sets(), queries)
def test_routing_table_matches_the_reference(rules: list[RuleConfig], qs: list[Any]) -> None:
    table = leadroute.RoutingTable(rules)
    pairs = [(spelled(p, up, pad), z) for p, up, pad, z in qs]
    many = table.route_many(pairs)
    assert len(many) == len(pairs)
    for (product, zip5), batch in zip(pairs, many):
        want = reference_route(rules, product, zip5)
        got = table.route(product, zip5)
        assert got == batch
        assert (None if got is None else (got.workspace_id, got.rule_id, got.priority)) == want, (
            product,
            zip5,
        )
        trace = table.explain(product, zip5)
        if want is None:
            assert "unrouted" in trace["outcome"]
        else:
            assert trace["outcome"] == {
                "workspace_id": want[0],
                "rule_id": want[1],
                "priority": want[2],
            }
            matched = [c for c in trace["candidates"] if c["status"] == "matched"]
            assert [c["rule_id"] for c in matched] == [want[1]]
