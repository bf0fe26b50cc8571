#!/usr/bin/env bash
# Compares single-process clkhash 0.18.3 with veil-linkage-encoding on one thread, on FEBRL4 A.
#
# Usage: scripts/bench-encode-vs-clkhash.sh [DATA_DIR]
#   DATA_DIR defaults to the crate's test fixtures (febrl4_a.csv, febrl_v3_*.json, secret.txt).
# Env: VENV (default /work/venv-clkhash; created with clkhash==0.18.3 if missing),
#      CARGO_TARGET_DIR (default /work/target-enc), PASSES (default 20).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${1:-$ROOT/crates/veil-linkage-encoding/tests/data}"
VENV="${VENV:-/work/venv-clkhash}"
PASSES="${PASSES:-20}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-enc}"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import clkhash' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q clkhash==0.18.3
fi

(cd "$ROOT" && cargo build -q --release -p veil-linkage-encoding --example encode_rate)
RUST_BIN="$CARGO_TARGET_DIR/release/examples/encode_rate"

# clkhash: Python API, max_workers=1 (no subprocesses). First run in a fresh process is "cold";
# later runs in the same process hit clkhash's lru_caches ("best").
PY_SCRIPT='
import io, sys, time
from clkhash import clk, schema
data, schema_path, secret_path = sys.argv[1:4]
secret = open(secret_path, encoding="utf-8").read().rstrip("\n")
sch = schema.from_json_file(open(schema_path))
text = open(data, encoding="utf-8").read()
rates = []
for _ in range(3):
    t = time.perf_counter()
    clks = clk.generate_clk_from_csv(io.StringIO(text), secret, sch, progress_bar=False, max_workers=1)
    rates.append(len(clks) / (time.perf_counter() - t))
print(f"{rates[0]:.0f} {max(rates):.0f}")
'

printf '%-22s %14s %14s %14s %14s %10s %10s\n' schema clkhash_cold clkhash_best rust_cold rust_warm x_cold x_best
for s in febrl_v3_blake febrl_v3_doublehash; do
  read -r py_cold py_best < <("$VENV/bin/python" -c "$PY_SCRIPT" "$DATA/febrl4_a.csv" "$DATA/$s.json" "$DATA/secret.txt")
  line="$("$RUST_BIN" "$DATA/febrl4_a.csv" "$DATA/$s.json" "$DATA/secret.txt" "$PASSES")"
  rust_cold="$(sed -E 's/.*encode_record_rate=([0-9]+).*/\1/' <<<"$line")"
  rust_warm="$(sed -E 's/.*warm_cache_rate=([0-9]+).*/\1/' <<<"$line")"
  printf '%-22s %14s %14s %14s %14s %10s %10s\n' "$s" "$py_cold" "$py_best" "$rust_cold" "$rust_warm" \
    "$(awk -v a="$rust_cold" -v b="$py_cold" 'BEGIN{printf "%.1fx", a/b}')" \
    "$(awk -v a="$rust_cold" -v b="$py_best" 'BEGIN{printf "%.1fx", a/b}')"
done
echo "rates in records/s, one thread/process; rust_cold = fresh Encoder per pass (median of $PASSES);"
echo "x_cold = rust_cold / clkhash first run, x_best = rust_cold / clkhash best of 3 runs (warm lru caches)."
