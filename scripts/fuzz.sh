#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ (one per parser that takes outside input) for a bounded time each.
#
#   scripts/fuzz.sh                 # 60 s per target
#   scripts/fuzz.sh 1800            # 30 min per target
#   FUZZ_RUNS=1000000 scripts/fuzz.sh   # a fixed number of executions per target instead
#   scripts/fuzz.sh 60 task_message     # one target
#
# The machine has only the stable toolchain; cargo-fuzz needs nightly-only compiler flags, so the
# build runs with RUSTC_BOOTSTRAP=1 (the stable compiler accepting them) and without a sanitizer
# (libFuzzer's own checks plus Rust's: panics, overflow checks in debug assertions, OOM and
# timeouts). A crash leaves its input in fuzz/artifacts/<target>/ and fails the script: add it to
# fuzz/seeds/<target>/ and to the parser's unit tests once fixed.
set -euo pipefail

cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(clk_upload_json clk_files linkage_schema blocking_schema config_file task_message sealed_envelope)
fi
cache="${VEIL_CI_CACHE:-$HOME/.cache/veil-ci}"
export CARGO_TARGET_DIR="${VEIL_FUZZ_TARGET_DIR:-$cache/target-fuzz}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz 0.13.2"
  cargo install cargo-fuzz --locked --version 0.13.2
fi

cargo fuzz build --sanitizer none -O
failed=0
for target in "${targets[@]}"; do
  corpus="$cache/fuzz-corpus/$target"
  mkdir -p "$corpus" "artifacts/$target"
  limit=(-max_total_time="$seconds")
  if [ -n "${FUZZ_RUNS:-}" ]; then limit=(-runs="$FUZZ_RUNS"); fi
  log=$(mktemp)
  if cargo fuzz run --sanitizer none -O "$target" "$corpus" "seeds/$target" -- \
      "${limit[@]}" -rss_limit_mb=2048 -timeout=10 -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")
    rate=$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")
    printf 'ok    %-16s %12s executions (%s/s), no crash\n' "$target" "$runs" "$rate"
  else
    failed=1
    printf 'FAIL  %-16s\n' "$target"
    tail -n 40 "$log"
  fi
  rm -f "$log"
done
exit "$failed"
