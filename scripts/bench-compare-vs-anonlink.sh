#!/usr/bin/env bash
# Compare candidate generation throughput: anonlink 0.15.3 (one thread) vs veil-linkage-matching
# (one and two threads) on the FEBRL4 CLKs, 5k x 5k, threshold 0.8, in the same run.
#
# Usage: scripts/bench-compare-vs-anonlink.sh [DATA_DIR] [SCHEMA] [THRESHOLD]
# Env: VENV (default /work/venv-anonlink, created if missing), CARGO_TARGET_DIR, REPS (default 5).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA="${1:-$ROOT/../shared/data/febrl4}"
SCHEMA="${2:-febrl_v3_blake}"
T="${3:-0.8}"
REPS="${REPS:-5}"
VENV="${VENV:-/work/venv-anonlink}"
A="$DATA/clkhash-0.18.3.febrl4_a.$SCHEMA.json"
B="$DATA/clkhash-0.18.3.febrl4_b.$SCHEMA.json"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q anonlink==0.15.3 clkhash==0.18.3
fi

ANON=$("$VENV/bin/python" - "$A" "$B" "$T" "$REPS" <<'PY'
import json, sys, time, base64
from bitarray import bitarray
import anonlink
a_path, b_path, t, reps = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
def load(p):
    out = []
    for s in json.load(open(p))["clks"]:
        ba = bitarray(); ba.frombytes(base64.b64decode(s)); out.append(ba)
    return out
a, b = load(a_path), load(b_path)
best = float("inf")
for _ in range(reps):
    t0 = time.perf_counter()
    c = anonlink.candidate_generation.find_candidate_pairs(
        [a, b], anonlink.similarities.dice_coefficient_accelerated, t)
    best = min(best, time.perf_counter() - t0)
print(f"{len(a) * len(b) / best:.6e} {len(c[0])} {best:.6f}")
PY
)
read -r ANON_RATE ANON_N ANON_S <<<"$ANON"
echo "anonlink 0.15.3 threads=1 candidates=$ANON_N best_seconds=$ANON_S comparisons_per_s=$ANON_RATE"

cd "$ROOT"
cargo build --release -q -p veil-linkage-matching --example compare_febrl
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/compare_febrl"
for THREADS in 1 2; do
  LINE=$("$BIN" "$A" "$B" "$T" "$THREADS" "$REPS")
  echo "$LINE"
  RATE=$(sed -n 's/.*comparisons_per_s=\([^ ]*\).*/\1/p' <<<"$LINE")
  python3 -c "print(f'ratio rust/anonlink threads=$THREADS: {float(\"$RATE\") / float(\"$ANON_RATE\"):.2f}x')"
done
