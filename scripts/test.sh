#!/usr/bin/env bash
# Runs every check and test of leadroute from a fresh clone: Rust format, lints, docs, tests
# (unit, integration, doctests, README examples), the Python package's tests in a local
# virtualenv (.venv, created here), the Python stubs (stubtest, mypy --strict), and the
# criterion benchmarks in quick mode.
#
#   scripts/test.sh            everything
#   LEADROUTE_SKIP_BENCH=1 scripts/test.sh    everything but the benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features

step "cargo test (unit, integration, doctests, README Rust quick start)"
cargo test --workspace --all-features

step "Python: build the wheel into .venv and run pytest"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r bindings-python/requirements-dev.txt
VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH" \
  .venv/bin/maturin develop --quiet -m bindings-python/Cargo.toml
.venv/bin/python -m pytest -q bindings-python/tests

step "Python: the stubs against the module (stubtest) and typed use of the API (mypy --strict)"
# stubtest imports the installed package; mypy checks tests/typing_check.py (assert_type on
# every result) and the tests against the stubs. Caches stay out of the tree.
(cd bindings-python && MYPY_CACHE_DIR="${TMPDIR:-/tmp}/leadroute-mypy-cache" \
  ../.venv/bin/python -m mypy.stubtest leadroute)
(cd bindings-python && MYPY_CACHE_DIR="${TMPDIR:-/tmp}/leadroute-mypy-cache" \
  ../.venv/bin/python -m mypy --strict tests)

if [ "${LEADROUTE_SKIP_BENCH:-0}" != "1" ]; then
  step "criterion benchmarks (quick mode)"
  cargo bench --bench pipeline --bench routing --bench phone --bench delivery --bench booking --bench contact_queue -- --quick
  cargo bench --bench intake -- --quick
fi
step "all checks passed"
