"""Benchmarks of the ``leadroute`` wheel beside pure-Python peers, in the same run.

Run from the repository root on a release build (the test command's debug build is several
times slower)::

    VIRTUAL_ENV=$PWD/.venv PATH=$PWD/.venv/bin:$PATH maturin develop --release -m bindings-python/Cargo.toml
    .venv/bin/python bindings-python/bench/bench.py [--data DIR] [--pairs N]

Prints one table:

- ``normalize_phone`` called once per number from Python, against ``normalize_phones`` on
  the same numbers in one batch (the Rust cost plus one copy per item); the difference is
  the per-call overhead of crossing into Rust. ``phonenumbers`` (parse, ``is_valid_number``,
  E.164 formatting) is the pure-Python peer.
- ``RoutingTable.route_many`` over N (default 1,000,000) corpus (product, ZIP5) pairs against
  a dict-based router in pure Python (every (product, ZIP5) precomputed to its winner, so a
  lookup is one ``dict.get``); both answers are checked to agree.
- ``Engine.ingest_many`` of the corpus's JSON records into a fresh SQLite file (parse, map,
  validate, normalize, dedup, route, outbox, one transaction per 1,000 records) against
  plain ``sqlite3``: inserting the raw lines, and a minimal pure-Python pipeline (``json``
  parse, ``phonenumbers`` normalization, insert).

Figures are the best of ``--repeat`` runs (default 3). Not part of the test command.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sqlite3
import tempfile
import time
from collections.abc import Callable
from typing import Any

import phonenumbers

import leadroute

ROOT = pathlib.Path(__file__).resolve().parents[2]


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs (seconds) and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def corpus_phones(data: pathlib.Path) -> list[str]:
    phones = []
    for name, key in (("provider_a.jsonl", "phone"), ("provider_b.jsonl", "PhoneNumber")):
        for line in (data / name).read_text().splitlines():
            v = json.loads(line).get(key)
            if isinstance(v, str):
                phones.append(v)
    return phones


def bench_phones(data: pathlib.Path, repeat: int) -> list[tuple[str, str, str]]:
    phones = corpus_phones(data)
    n = len(phones)
    normalize = leadroute.normalize_phone
    err = leadroute.InvalidPhoneError

    def one_by_one() -> int:
        ok = 0
        for p in phones:
            try:
                normalize(p)
                ok += 1
            except err:
                pass
        return ok

    valid = [p for p in phones if not isinstance(leadroute.normalize_phones([p])[0], err)]

    def one_by_one_valid() -> None:
        for p in valid:
            normalize(p)

    def noop_loop() -> None:
        f = len
        for p in valid:
            f(p)

    def batch() -> list:
        return leadroute.normalize_phones(phones)

    def batch_valid() -> list:
        return leadroute.normalize_phones(valid)

    def reference() -> int:
        ok = 0
        for p in phones:
            try:
                x = phonenumbers.parse(p, "US")
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(x):
                phonenumbers.format_number(x, phonenumbers.PhoneNumberFormat.E164)
                ok += 1
        return ok

    t_call, ok1 = best(one_by_one, repeat)
    t_valid, _ = best(one_by_one_valid, repeat)
    t_noop, _ = best(noop_loop, repeat)
    t_batch, res = best(batch, repeat)
    t_batch_valid, _ = best(batch_valid, repeat)
    t_ref, ok2 = best(reference, repeat)
    ok3 = sum(not isinstance(r, err) for r in res)
    assert ok1 == ok2 == ok3, (ok1, ok2, ok3)
    per_call = t_call / n * 1e9
    per_valid = t_valid / len(valid) * 1e9
    per_batch = t_batch / n * 1e9
    per_batch_valid = t_batch_valid / len(valid) * 1e9
    per_noop = t_noop / len(valid) * 1e9
    per_ref = t_ref / n * 1e9
    return [
        (f"normalize_phone, one call per number ({n:,} corpus phones)", f"{per_call:,.0f} ns/number", f"{per_ref / per_call:,.0f}x faster than phonenumbers (invalid ones raise)"),
        (f"normalize_phones, one batch, same phones", f"{per_batch:,.0f} ns/number", f"{per_ref / per_batch:,.0f}x faster than phonenumbers (errors returned)"),
        (f"normalize_phone, one call per number, the {len(valid):,} valid", f"{per_valid:,.0f} ns/number", f"of which the Python loop: {per_noop:,.0f} ns"),
        ("normalize_phones, one batch, the valid (Rust cost + copies)", f"{per_batch_valid:,.0f} ns/number", ""),
        ("per-call overhead from Python (one call minus batch)", f"{per_valid - per_batch_valid:,.0f} ns/call", "target <= 1,000 ns"),
        ("phonenumbers: parse + is_valid_number + E.164", f"{per_ref:,.0f} ns/number", "the pure-Python peer"),
    ]


def corpus_pairs(data: pathlib.Path) -> list[tuple[str, str]]:
    pairs = []
    for name, pk, zk in (("provider_a.jsonl", "product", "zip"), ("provider_b.jsonl", "ServiceType", "PostalCode")):
        for line in (data / name).read_text().splitlines():
            rec = json.loads(line)
            p, z = rec.get(pk), rec.get(zk)
            if isinstance(p, str) and isinstance(z, str) and len(z) == 5 and z.isdigit():
                pairs.append((p, z))
    return pairs


def dict_router(rules: list[dict]) -> Callable[[str, str], tuple[str, int, int] | None]:
    """Every (product, ZIP5) of the active explicit-ZIP rules, precomputed to its winner."""
    table: dict[tuple[str, str], tuple[int, int, str]] = {}
    for r in rules:
        if not r["is_active"]:
            continue
        excluded = set(r.get("excluded_zips", []))
        for p in r["product_types"]:
            for z in r["zip_codes"]:
                if z in excluded:
                    continue
                key = (p.strip().lower(), z)
                cand = (r["priority"], r["id"], r["workspace_id"])
                if key not in table or cand < table[key]:
                    table[key] = cand
    final = {k: (ws, rid, prio) for k, (prio, rid, ws) in table.items()}
    get = final.get
    return lambda product, zip5: get((product.strip().lower(), zip5))


def bench_routing(data: pathlib.Path, n_pairs: int, repeat: int) -> list[tuple[str, str, str]]:
    rules = json.loads((data / "routing_rules.json").read_text())
    base = corpus_pairs(data)
    pairs = (base * (n_pairs // len(base) + 1))[:n_pairs]
    t_build, table = best(lambda: leadroute.RoutingTable(rules), 1)
    route = dict_router(rules)
    t_rust, got = best(lambda: table.route_many(pairs), repeat)
    t_py, want = best(lambda: [route(p, z) for p, z in pairs], repeat)
    agree = sum(
        (g is None and w is None) or (g is not None and (g.workspace_id, g.rule_id, g.priority) == w)
        for g, w in zip(got[: len(base)], want[: len(base)])
    )
    assert agree == len(base), (agree, len(base))
    matched = sum(g is not None for g in got)
    return [
        (f"RoutingTable.route_many, {n_pairs:,} pairs ({matched:,} matched)", f"{t_rust:.3f} s ({t_rust / n_pairs * 1e9:,.0f} ns/pair)", f"target <= 1 s; {t_py / t_rust:.1f}x the dict router"),
        ("dict-based pure-Python router, same pairs", f"{t_py:.3f} s ({t_py / n_pairs * 1e9:,.0f} ns/pair)", "1x"),
        (f"RoutingTable(rules) build, {len(rules)} corpus rules", f"{t_build * 1e3:,.1f} ms", ""),
    ]


def bench_ingest(data: pathlib.Path, repeat: int) -> list[tuple[str, str, str]]:
    providers = json.loads((data / "providers.json").read_text())
    workspaces = json.loads((data / "workspaces.json").read_text())
    rules = json.loads((data / "routing_rules.json").read_text())
    batches = [
        ("provider-a", (data / "provider_a.jsonl").read_text().splitlines()),
        ("provider-b", (data / "provider_b.jsonl").read_text().splitlines()),
    ]
    n = sum(len(lines) for _, lines in batches)
    phone_key = {"provider-a": "phone", "provider-b": "PhoneNumber"}

    def engine_run() -> dict[str, int]:
        with tempfile.TemporaryDirectory() as d:
            e = leadroute.Engine.open(str(pathlib.Path(d) / "bench.db"))
            e.configure(providers=providers, workspaces=workspaces, rules=rules)
            t = time.perf_counter()
            for pid, lines in batches:
                e.ingest_many(pid, lines)
            elapsed = time.perf_counter() - t
            counts = e.counts()
            del e
            return {"elapsed_ns": int(elapsed * 1e9), **counts}

    def sqlite_raw() -> None:
        with tempfile.TemporaryDirectory() as d:
            con = sqlite3.connect(str(pathlib.Path(d) / "raw.db"))
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("CREATE TABLE records (id INTEGER PRIMARY KEY, provider TEXT, raw TEXT)")
            for pid, lines in batches:
                with con:
                    con.executemany(
                        "INSERT INTO records (provider, raw) VALUES (?, ?)",
                        ((pid, line) for line in lines),
                    )
            con.close()

    def sqlite_pipeline() -> None:
        with tempfile.TemporaryDirectory() as d:
            con = sqlite3.connect(str(pathlib.Path(d) / "py.db"))
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(
                "CREATE TABLE leads (id INTEGER PRIMARY KEY, provider TEXT, phone TEXT, raw TEXT)"
            )
            for pid, lines in batches:
                rows = []
                for line in lines:
                    rec = json.loads(line)
                    phone = None
                    try:
                        x = phonenumbers.parse(str(rec.get(phone_key[pid], "")), "US")
                        if phonenumbers.is_valid_number(x):
                            phone = phonenumbers.format_number(x, phonenumbers.PhoneNumberFormat.E164)
                    except phonenumbers.NumberParseException:
                        pass
                    rows.append((pid, phone, line))
                with con:
                    con.executemany("INSERT INTO leads (provider, phone, raw) VALUES (?, ?, ?)", rows)
            con.close()

    runs = [engine_run() for _ in range(repeat)]
    t_engine = min(r["elapsed_ns"] for r in runs) / 1e9
    c = runs[-1]
    assert c["leads"] + c["rejections"] == n, c
    t_raw, _ = best(sqlite_raw, repeat)
    t_pipe, _ = best(sqlite_pipeline, repeat)
    return [
        (f"Engine.ingest_many into SQLite, {n:,} JSON records", f"{n / t_engine:,.0f} records/s", f"target >= 10,000/s; {c['leads']:,} leads, {c['rejections']:,} rejections, {c['appointments']:,} appointments"),
        ("sqlite3: json.loads + phonenumbers + INSERT", f"{n / t_pipe:,.0f} records/s", "parses and normalizes phones only: no validation, dedup, routing, outbox"),
        ("sqlite3: INSERT the raw lines only", f"{n / t_raw:,.0f} records/s", "floor: storage alone"),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=pathlib.Path, default=ROOT / "data" / "corpus")
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rows = bench_phones(args.data, args.repeat)
    rows += bench_routing(args.data, args.pairs, args.repeat)
    rows += bench_ingest(args.data, args.repeat)
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print(f"leadroute {leadroute.__version__}, corpus {args.data}")
    print(f"| {'benchmark':<{w0}} | {'result':<{w1}} | note |")
    print(f"| {'-' * w0} | {'-' * w1} | --- |")
    for a, b, c in rows:
        print(f"| {a:<{w0}} | {b:<{w1}} | {c} |")


if __name__ == "__main__":
    main()
