#!/usr/bin/env bash
# Synthetic data: Veil vs SDV on UCI Adult, in one run, scored by the standard scorers.
#   (a) SDV GaussianCopulaSynthesizer fit + sample on adult_train (timed in Python, metadata
#       from adult_metadata.json);
#   (b) Veil gaussian-copula, cart and bayes-net at ε 0.1, 1, 10, ∞ (examples/synth_bench.rs,
#       release build), each sampling as many rows as adult_train has;
#   (c) scripts/bench_synth.py scores every synthetic table: sdmetrics QualityReport against the
#       real train, train-synthetic-test-real AUC with sklearn HistGradientBoostingClassifier on
#       adult_test (plus the real-train baseline), exact-copy rate and the share of synthetic rows
#       closer to train than to the holdout; it prints a markdown table, the speed ratio and the
#       issue's targets.
#
# Usage: scripts/bench-synth.sh [ADULT_DIR]     (default ../shared/data/adult from the repo root)
# Env:   VEIL_BENCH_CACHE (~/.cache/veil-bench; the Python venv lives there), SEED (0),
#        CARGO_TARGET_DIR, KEEP=1 (keep the work dir with the synthetic tables).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ADULT="${1:-$ROOT/../shared/data/adult}"
SEED="${SEED:-0}"
CACHE="${VEIL_BENCH_CACHE:-$HOME/.cache/veil-bench}"
VENV="$CACHE/venv"
REQUIREMENTS="$ROOT/scripts/bench-synth-requirements.txt"

for file in adult_train.csv adult_test.csv adult_metadata.json; do
  if [ ! -f "$ADULT/$file" ]; then
    echo "error: $ADULT/$file not found; pass the UCI Adult directory as the first argument" >&2
    exit 1
  fi
done
ADULT="$(cd "$ADULT" && pwd)"

echo "== Python venv $VENV" >&2
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
fi
if ! cmp -s "$REQUIREMENTS" "$VENV/.requirements" 2>/dev/null; then
  echo "   installing pinned packages (SDV pulls torch: large, first time only)" >&2
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -r "$REQUIREMENTS"
  cp "$REQUIREMENTS" "$VENV/.requirements"
fi
PY="$VENV/bin/python"

echo "== building the synth_bench example (release)" >&2
cd "$ROOT"
cargo build --release -q -p veil-synth --example synth_bench
BENCH="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/synth_bench"

W="$(mktemp -d "${TMPDIR:-/tmp}/veil-bench-synth.XXXXXX")"
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "kept work dir $W" >&2; else rm -rf "$W"; fi; }
trap cleanup EXIT
RUNS="$W/runs.jsonl"

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "== SDV GaussianCopulaSynthesizer" >&2
"$PY" "$ROOT/scripts/bench_synth.py" sdv "$ADULT/adult_train.csv" "$ADULT/adult_metadata.json" "$W" \
  --seed "$SEED" | tee -a "$RUNS" >&2

run_veil() {
  echo "== Veil $*" >&2
  "$BENCH" "$ADULT/adult_train.csv" "$W" --seed "$SEED" "$@" | tee -a "$RUNS" >&2
}
run_veil --model gaussian-copula
run_veil --model cart
for epsilon in 0.1 1 10 inf; do
  run_veil --model bayes-net --epsilon "$epsilon"
done

echo "== scoring (sdmetrics QualityReport, HistGradientBoosting TSTR, copies, closest records)" >&2
echo "Run $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores (load average at end of fitting: $(cut -d' ' -f1-3 /proc/loadavg)), seed $SEED."
echo
"$PY" "$ROOT/scripts/bench_synth.py" score "$ADULT/adult_train.csv" "$ADULT/adult_test.csv" \
  "$ADULT/adult_metadata.json" "$RUNS" --seed "$SEED"
echo
echo "Versions: $("$PY" -c 'import importlib.metadata as m; print(", ".join(f"{p} {m.version(p)}" for p in ["sdv", "sdmetrics", "scikit-learn", "pandas", "numpy", "torch"]))' 2>/dev/null || echo unknown)."
