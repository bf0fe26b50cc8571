#!/usr/bin/env bash
# Compare candidate generation throughput: anonlink 0.15.3 (one thread) vs veil-linkage-matching
# (one and two threads) on the FEBRL4 CLKs, 5k x 5k, threshold 0.8, in the same run; then on
# generated data (`veil link gen`, encoded with SCHEMA), GEN_N x GEN_N (default 100k x 100k),
# one repetition each. anonlink on 100k x 100k takes about 10^10 / 1.25e8 = 80 s on one
# thread; ANON_ROWS (default GEN_N) limits its first dataset to a slice (e.g. 20000 for a
# 20k x 100k slice) when that is too slow, and the rate is reported for the slice.
#
# Usage: scripts/bench-compare-vs-anonlink.sh [DATA_DIR] [SCHEMA] [THRESHOLD]
# Env: VENV (default /work/venv-anonlink, created if missing), CARGO_TARGET_DIR, REPS (default 5),
#      GEN_N (default 100000; 0 skips the generated case), ANON_ROWS, KEEP=1 (keep its work dir).
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

ANON_PY=$(cat <<'PY'
import json, sys, time, base64
from bitarray import bitarray
import anonlink
a_path, b_path, t, reps = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
rows = int(sys.argv[5]) if len(sys.argv) > 5 else 0
def load(p):
    out = []
    for s in json.load(open(p))["clks"]:
        ba = bitarray(); ba.frombytes(base64.b64decode(s)); out.append(ba)
    return out
a, b = load(a_path), load(b_path)
if rows:
    a = a[:rows]
best = float("inf")
for _ in range(reps):
    t0 = time.perf_counter()
    c = anonlink.candidate_generation.find_candidate_pairs(
        [a, b], anonlink.similarities.dice_coefficient_accelerated, t)
    best = min(best, time.perf_counter() - t0)
print(f"{len(a) * len(b) / best:.6e} {len(c[0])} {best:.6f}")
PY
)
ANON=$("$VENV/bin/python" -c "$ANON_PY" "$A" "$B" "$T" "$REPS")
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

# ---- generated GEN_N x GEN_N ----
GEN_N="${GEN_N:-100000}"
if [ "$GEN_N" -gt 0 ]; then
  ANON_ROWS="${ANON_ROWS:-$GEN_N}"
  cargo build --release -q -p veil
  VEIL="${CARGO_TARGET_DIR:-$ROOT/target}/release/veil"
  W="$(mktemp -d "${TMPDIR:-/tmp}/veil-anonlink.XXXXXX")"
  trap 'if [ "${KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi' EXIT
  ENC="$ROOT/crates/veil-linkage-encoding/tests/data"
  "$VEIL" link gen --records "$GEN_N" --seed 7 -o "$W/data" 2>/dev/null
  for p in a b; do
    "$VEIL" link encode "$W/data/$p.csv" "$ENC/$SCHEMA.json" --secret-file "$ENC/secret.txt" \
      -o "$W/$p.json" 2>/dev/null
  done
  if [ "$ANON_ROWS" -lt "$GEN_N" ]; then
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); json.dump({'clks': d['clks'][:int(sys.argv[3])]}, open(sys.argv[2],'w'))" \
      "$W/a.json" "$W/a.slice.json" "$ANON_ROWS"
  else
    cp "$W/a.json" "$W/a.slice.json"
  fi
  echo "generated ${ANON_ROWS} x ${GEN_N} (anonlink) and ${GEN_N} x ${GEN_N} (rust), threshold $T, one repetition:"
  GEN=$("$VENV/bin/python" -c "$ANON_PY" "$W/a.slice.json" "$W/b.json" "$T" 1)
  read -r GEN_RATE GEN_NC GEN_S <<<"$GEN"
  echo "anonlink 0.15.3 threads=1 size=${ANON_ROWS}x${GEN_N} candidates=$GEN_NC seconds=$GEN_S comparisons_per_s=$GEN_RATE"
  for THREADS in 1 2; do
    for SIDE in slice full; do
      if [ "$SIDE" = slice ] && [ "$ANON_ROWS" -ge "$GEN_N" ]; then continue; fi
      if [ "$SIDE" = slice ]; then AFILE="$W/a.slice.json"; SIZE="${ANON_ROWS}x${GEN_N}"; else AFILE="$W/a.json"; SIZE="${GEN_N}x${GEN_N}"; fi
      LINE=$("$BIN" "$AFILE" "$W/b.json" "$T" "$THREADS" 1)
      echo "$LINE size=$SIZE"
      RATE=$(sed -n 's/.*comparisons_per_s=\([^ ]*\).*/\1/p' <<<"$LINE")
      python3 -c "print(f'ratio rust/anonlink size=$SIZE threads=$THREADS: {float(\"$RATE\") / float(\"$GEN_RATE\"):.2f}x')"
    done
  done
fi
