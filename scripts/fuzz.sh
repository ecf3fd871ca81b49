#!/usr/bin/env bash
# Fuzzes leadroute's intake with cargo-fuzz (libFuzzer): the targets in fuzz/fuzz_targets/,
# one after the other, each for a fixed time, and prints one summary line per target.
#
#   scripts/fuzz.sh                 every target, 600 s (10 minutes) each
#   scripts/fuzz.sh 20              every target, 20 s each (the CI smoke run)
#   scripts/fuzz.sh 60 phone_normalization field_mapping    only these targets
#
# Targets: record_parsing (body splitting and per-record parsing of JSON, CSV and form
# bodies), field_mapping (parse, map_fields, validate), phone_normalization (phone::normalize
# and normalize_with, with E.164 and idempotence invariants).
#
# Environment:
#   FUZZ_SANITIZER   cargo fuzz --sanitizer: address (default), none, ... (`none` builds and
#                    runs faster; safe Rust rarely needs ASan, but C code and `unsafe` do)
#   FUZZ_ARGS        extra libFuzzer flags for every target, e.g. "-max_len=512"
#   FUZZ_E164_MAX_CHARS  phone_normalization's length bound on an E.164 result (default 21,
#                    leadroute's documented limit; 16 checks ITU-T's 15-digit cap, which
#                    libphonenumber and leadroute do not keep: see the target's docs)
#
# What it does: installs cargo-fuzz (pinned) if it is missing, builds every target into
# fuzz/target (the fuzz project is its own workspace, not part of the root one), then for each
# target copies the committed seeds fuzz/corpus/<target>/ into the scratch corpus
# fuzz/work/<target>/ (gitignored; the corpus grows while fuzzing, the seeds stay small) and
# runs it with -max_total_time=<seconds> -rss_limit_mb=2048. Full logs: fuzz/work/<target>.log.
#
# Exit status: 0 when no target failed; 1 when any found a crash (panic, failed assertion,
# sanitizer report), a timeout or an out-of-memory input, or did not run. The failing input is
# in fuzz/artifacts/<target>/; reproduce with `RUSTC_BOOTSTRAP=1 cargo fuzz run <target>
# <file>` and minimize with `RUSTC_BOOTSTRAP=1 cargo fuzz tmin <target> <file>`.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
ALL_TARGETS=(record_parsing field_mapping phone_normalization)

secs=${1:-600}
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -eq 0 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET (default 600)] [TARGET...]" >&2
  exit 2
fi
shift || true
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${ALL_TARGETS[@]}"); fi
sanitizer=${FUZZ_SANITIZER:-address}
read -r -a extra_args <<<"${FUZZ_ARGS:-}"

# cargo-fuzz passes nightly-only flags to rustc (-Zsanitizer=address with the default
# sanitizer, and cargo/rustc unstable options around it), and this project builds with the
# stable toolchain only. RUSTC_BOOTSTRAP=1 lets the stable compiler accept them. It is set for
# this script's cargo commands only, never for the main workspace's builds; the fuzz project
# has its own target directory, so nothing built here is mixed with them.
export RUSTC_BOOTSTRAP=1

step() { printf '\n==> %s\n' "$*"; }

if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  step "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

step "building fuzz targets (sanitizer: $sanitizer): ${targets[*]}"
build_start=$SECONDS
for t in "${targets[@]}"; do
  cargo fuzz build --sanitizer "$sanitizer" "$t"
done
echo "built in $((SECONDS - build_start)) s"

summary=()
failed=0
for t in "${targets[@]}"; do
  step "fuzzing $t for $secs s"
  work=fuzz/work/$t
  log=fuzz/work/$t.log
  rm -rf "$work"
  mkdir -p "$work"
  if [ -d "fuzz/corpus/$t" ]; then
    cp -R "fuzz/corpus/$t/." "$work/"
  fi
  seeds=$(find "$work" -type f | wc -l)
  start=$SECONDS
  set +e
  cargo fuzz run --sanitizer "$sanitizer" "$t" "$work" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
    "${extra_args[@]}" >"$log" 2>&1
  rc=$?
  set -e
  took=$((SECONDS - start))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ -z "$runs" ]; then
    # No final stats (e.g. the run died): the last status line's count.
    runs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
  fi
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  corpus=$(find "$work" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    failed=1
    artifact=$(grep -o 'fuzz/artifacts/[^ ]*' "$log" | tail -n 1 || true)
    kind=$(grep -o -m 1 -E 'deadly signal|ERROR: libFuzzer: [a-z-]+|panicked at [^: ]*:[0-9]+:[0-9]+|AddressSanitizer: [a-z-]+' "$log" || true)
    result="FAILED (exit $rc${kind:+, $kind}${artifact:+, input $artifact})"
    {
      echo "--- $t failed; full log: $log"
      sed -n '/panicked at/,/^stack backtrace/p' "$log" | head -n 20
      sed -n '/==ERROR: /,+12p' "$log" | head -n 26
      sed -n '/^SUMMARY: /,/^Base64/p' "$log" | cut -c 1-300 | head -n 12
      sed -n '/^Failing input:/,/^Minimize test case/p' "$log" | grep -v '^$' | head -n 8
      echo "    minimize: RUSTC_BOOTSTRAP=1 cargo fuzz tmin --sanitizer $sanitizer $t ${artifact:-<input>}"
      [ -n "$runs" ] || tail -n 30 "$log"
    } || true
  fi
  line=$(printf '%-20s %5ss fuzzing (%4ss wall)  runs %10s  exec/s %6s  corpus %4s -> %5s  %s' \
    "$t" "$secs" "$took" "${runs:-?}" "${rate:-?}" "$seeds" "$corpus" "$result")
  echo "$line"
  summary+=("$line")
done

step "summary (sanitizer: $sanitizer)"
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "fuzzing found a problem: see the lines above, fuzz/work/<target>.log and fuzz/artifacts/" >&2
  exit 1
fi
