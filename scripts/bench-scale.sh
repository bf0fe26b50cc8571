#!/usr/bin/env bash
# Scale benchmark of the local linkage pipeline (`veil link …`) on generated data:
#   gen N x N records -> encode both sides (febrl_v3_blake: as fast as doublehash, the
#   default of the test suite) -> block (lambda-fold LSH, scripts/data/blocking-lsh-1m.json:
#   Lambda = 20 bands of K = 12 bits) -> compare blocked -> solve -> eval,
#   then compare all pairs -> solve -> eval.
# Each step's wall time and peak RSS come from /usr/bin/time. Prints a table, the totals of
# both pipelines (encode + [block +] compare + solve), comparisons/s, F1 of both runs, and the
# fraction of the unblocked run's true links that the blocked run lost.
#
# Usage: scripts/bench-scale.sh [N]            (default N = 1000000)
# Env:   THRESHOLD (0.8), SEED (42), THREADS (all cores), BLOCKING (schema path),
#        SCHEMA (febrl_v3_blake), SKIP_ALL_PAIRS=1 (blocked run only), KEEP=1 (keep work dir),
#        CARGO_TARGET_DIR. Work dir: a fresh directory under ${TMPDIR:-/tmp}.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-1000000}"
T="${THRESHOLD:-0.8}"
SEED="${SEED:-42}"
SCHEMA="${SCHEMA:-febrl_v3_blake}"
BLOCKING="${BLOCKING:-$ROOT/scripts/data/blocking-lsh-1m.json}"
ENC="$ROOT/crates/veil-linkage-encoding/tests/data"
TIME=/usr/bin/time
if [ ! -x "$TIME" ]; then
  echo "needs GNU time: apt-get update && apt-get install -y time" >&2
  exit 1
fi
THREAD_ARGS=()
if [ -n "${THREADS:-}" ]; then THREAD_ARGS=(--threads "$THREADS"); fi

cd "$ROOT"
cargo build --release -q -p veil
VEIL="${CARGO_TARGET_DIR:-$ROOT/target}/release/veil"

W="$(mktemp -d "${TMPDIR:-/tmp}/veil-scale.XXXXXX")"
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "kept work dir $W"; else rm -rf "$W"; fi; }
trap cleanup EXIT

STEPS=()
# step NAME COMMAND…: runs COMMAND with its stderr in $W/NAME.log, records wall s and peak RSS.
step() {
  local name="$1"; shift
  if ! "$TIME" -f "%e %M" -o "$W/$name.time" "$@" >"$W/$name.out" 2>"$W/$name.log"; then
    echo "step $name failed:" >&2; cat "$W/$name.log" >&2; exit 1
  fi
  STEPS+=("$name")
  read -r s kb <"$W/$name.time"
  printf '  %-18s %9.2f s %9.0f MiB\n' "$name" "$s" "$(echo "$kb / 1024" | bc -l)" >&2
}
secs() { cut -d' ' -f1 "$W/$1.time"; }
rss_mib() { echo "$(cut -d' ' -f2 "$W/$1.time") / 1024" | bc -l; }

echo "veil link scale benchmark: N=$N threshold=$T seed=$SEED schema=$SCHEMA blocking=$(basename "$BLOCKING")" >&2
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores" >&2
step gen "$VEIL" link gen --records "$N" --seed "$SEED" -o "$W/data" "${THREAD_ARGS[@]}"
for p in a b; do
  step "encode_$p" "$VEIL" link encode "$W/data/$p.csv" "$ENC/$SCHEMA.json" \
    --secret-file "$ENC/secret.txt" -o "$W/$p.clks.json" "${THREAD_ARGS[@]}"
done
rm -f "$W/data/a.csv" "$W/data/b.csv"
for p in a b; do
  step "block_$p" "$VEIL" link block "$W/$p.clks.json" "$BLOCKING" -o "$W/$p.blocks.json"
done
step compare_blocked "$VEIL" link compare "$W/a.blocks.json" "$W/b.blocks.json" \
  --threshold "$T" -o "$W/blocked.csv" "${THREAD_ARGS[@]}"
rm -f "$W/a.blocks.json" "$W/b.blocks.json"
step solve_blocked "$VEIL" link solve "$W/blocked.csv" -o "$W/blocked.groups.json"
step eval_blocked "$VEIL" link eval "$W/blocked.groups.json" "$W/data/truth.csv"
if [ "${SKIP_ALL_PAIRS:-0}" != 1 ]; then
  step compare_all "$VEIL" link compare "$W/a.clks.json" "$W/b.clks.json" \
    --threshold "$T" -o "$W/all.csv" "${THREAD_ARGS[@]}"
  step solve_all "$VEIL" link solve "$W/all.csv" -o "$W/all.groups.json"
  step eval_all "$VEIL" link eval "$W/all.groups.json" "$W/data/truth.csv"
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# ---- report ----
sum() { local t=0; for s in "$@"; do t=$(echo "$t + $(secs "$s")" | bc -l); done; echo "$t"; }
maxrss() { local m=0; for s in "$@"; do m=$(echo "r=$(rss_mib "$s"); if (r > $m) r else $m" | bc -l); done; echo "$m"; }
f1() { sed -n 's/^F1 *//p' "$W/$1.out"; }
tp() { sed -n 's/^precision.*(\([0-9]*\) of .*/\1/p' "$W/$1.out"; }
rate_of() { sed -n 's/.*(\([0-9.e+]*\) comparisons\/s.*/\1/p' "$W/$1.log"; }
pairs_of() { sed -n 's/^compared \([0-9]*\) .*/\1/p' "$W/$1.log"; }
cands_of() { sed -n 's/^\([0-9]*\) candidates .*/\1/p' "$W/$1.log"; }

echo
echo "| step | wall s | peak RSS MiB |"
echo "|---|---:|---:|"
for s in "${STEPS[@]}"; do printf '| %s | %.2f | %.0f |\n' "$s" "$(secs "$s")" "$(rss_mib "$s")"; done
echo
BLOCKED=(encode_a encode_b block_a block_b compare_blocked solve_blocked)
printf 'blocked pipeline (encode + block + compare + solve): %.1f s, peak RSS %.0f MiB (target <= 120 s, <= 4096 MiB)\n' \
  "$(sum "${BLOCKED[@]}")" "$(maxrss "${BLOCKED[@]}")"
echo "  $(grep '^blocking:' "$W/compare_blocked.log")"
printf '  compare: %s in-block pairs, %s comparisons/s (in-block pairs / compare wall incl. parsing: %.3e), %s candidates\n' \
  "$(pairs_of compare_blocked)" "$(rate_of compare_blocked)" \
  "$(echo "$(pairs_of compare_blocked) / $(secs compare_blocked)" | bc -l)" "$(cands_of compare_blocked)"
echo "  F1 $(f1 eval_blocked), true links $(tp eval_blocked)"
if [ "${SKIP_ALL_PAIRS:-0}" != 1 ]; then
  ALL=(encode_a encode_b compare_all solve_all)
  printf 'all-pairs pipeline (encode + compare + solve): %.1f s, peak RSS %.0f MiB (target: compare <= 600 s, <= 4096 MiB)\n' \
    "$(sum "${ALL[@]}")" "$(maxrss "${ALL[@]}")"
  printf '  compare: %s pairs, %s comparisons/s (pairs / compare wall incl. parsing: %.3e), %s candidates\n' \
    "$(pairs_of compare_all)" "$(rate_of compare_all)" \
    "$(echo "$(pairs_of compare_all) / $(secs compare_all)" | bc -l)" "$(cands_of compare_all)"
  echo "  F1 $(f1 eval_all), true links $(tp eval_all)"
  python3 - "$W/all.groups.json" "$W/blocked.groups.json" "$W/data/truth.csv" <<'PY'
import csv, json, sys
def links(path):
    out = set()
    for g in json.load(open(path))["groups"]:
        a = [r for d, r in g if d == 0]
        b = [r for d, r in g if d == 1]
        out.update((x, y) for x in a for y in b)
    return out
truth = {(int(r["row_a"]), int(r["row_b"])) for r in csv.DictReader(open(sys.argv[3]))}
full, blocked = links(sys.argv[1]) & truth, links(sys.argv[2]) & truth
lost = len(full - blocked)
print(f"true links lost by blocking: {lost} of the unblocked run's {len(full)} "
      f"({100.0 * lost / max(len(full), 1):.3f}%, target <= 0.5%); "
      f"found only by the blocked run: {len(blocked - full)}")
PY
fi
