#!/usr/bin/env bash
# Checks `veil link` against the reference Python tools on freshly generated data:
#   1. encoding: clkhash 0.18.3's Python API vs `veil link encode`, byte for byte, on
#      - `veil link gen` records (FEBRL4 columns) with both febrl_v3 schemas, and
#      - the encoding crate's messy unicode records (tests/data/messy/generate.py, fresh seed)
#        with its three schemas;
#   2. matching: anonlink 0.15.3 `find_candidate_pairs` (dice_coefficient_accelerated) +
#      `greedy_solve` vs `veil link compare` + `veil link solve` on the clkhash CLKs
#      (candidate CSV byte for byte, groups as sets), at two thresholds.
# Prints one verdict line per check and exits non-zero on any mismatch.
#
# Usage: scripts/check-against-reference.sh [VEIL_BIN]
# Env:   VEIL_BIN          the veil binary (when no argument is given)
#        VEIL_VENV         Python venv to use or create (default .venv); gets
#                          clkhash==0.18.3 and anonlink==0.15.3 installed
#        PYTHON            interpreter that creates the venv (default python3)
#        VEIL_CHECK_SEED   generator seed (default: random, printed for reproduction)
#        VEIL_CHECK_RECORDS records per generated dataset (default 3000)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VEIL="${1:-${VEIL_BIN:-}}"
if [ -z "$VEIL" ] || [ ! -x "$VEIL" ]; then
  echo "usage: $0 VEIL_BIN (or set VEIL_BIN): the veil binary, e.g. target/release/veil" >&2
  exit 2
fi
VEIL="$(cd "$(dirname "$VEIL")" && pwd)/$(basename "$VEIL")"
VENV="${VEIL_VENV:-.venv}"
SEED="${VEIL_CHECK_SEED:-$(( (RANDOM << 15) | RANDOM ))}"
RECORDS="${VEIL_CHECK_RECORDS:-3000}"
ENC_DATA="$ROOT/crates/veil-linkage-encoding/tests/data"

# --- reference tools --------------------------------------------------------------------------
if ! "$VENV/bin/python" -c '
import importlib.metadata as m, sys
sys.exit(0 if (m.version("clkhash"), m.version("anonlink")) == ("0.18.3", "0.15.3") else 1)
' 2>/dev/null; then
  echo "installing clkhash 0.18.3 and anonlink 0.15.3 into $VENV" >&2
  [ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check clkhash==0.18.3 anonlink==0.15.3
fi
PY="$VENV/bin/python"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/veil-reference-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

cat >"$WORK/reference.py" <<'PY'
"""Reference side: clkhash encoding, anonlink candidates and greedy groups, group comparison."""
import csv, io, json, sys


def encode(data, schema_path, secret_path, out):
    from clkhash import clk, schema
    from clkhash.serialization import serialize_bitarray
    with open(secret_path, encoding="utf-8") as f:
        secret = f.read().rstrip("\r\n")
    with open(schema_path, encoding="utf-8") as f:
        sch = schema.from_json_file(f)
    with open(data, encoding="utf-8", newline="") as f:
        clks = clk.generate_clk_from_csv(f, secret, sch, progress_bar=False, max_workers=1)
    with open(out, "w") as f:
        json.dump({"clks": [serialize_bitarray(c) for c in clks]}, f)


def match(threshold, out_csv, out_groups, *clk_files):
    import anonlink
    from clkhash.serialization import deserialize_bitarray
    datasets = []
    for path in clk_files:
        with open(path) as f:
            datasets.append([deserialize_bitarray(s) for s in json.load(f)["clks"]])
    candidates = anonlink.candidate_generation.find_candidate_pairs(
        datasets, anonlink.similarities.dice_coefficient_accelerated, float(threshold))
    scores, (dataset_a, dataset_b), (row_a, row_b) = candidates
    with open(out_csv, "w", newline="") as f:
        f.write("dataset_a,row_a,dataset_b,row_b,score\n")
        for i in range(len(scores)):
            f.write(f"{dataset_a[i]},{row_a[i]},{dataset_b[i]},{row_b[i]},{float(scores[i])!r}\n")
    groups = anonlink.solving.greedy_solve(candidates)
    with open(out_groups, "w") as f:
        json.dump({"groups": sorted(sorted([int(d), int(r)] for d, r in g) for g in groups)}, f)


def same_groups(a, b):
    def load(path):
        with open(path) as f:
            return {frozenset((d, r) for d, r in g) for g in json.load(f)["groups"]}
    ga, gb = load(a), load(b)
    if ga != gb:
        print(f"{len(ga - gb)} groups only in {a}, {len(gb - ga)} only in {b}", file=sys.stderr)
        sys.exit(1)
    print(len(ga))


def generate_messy(generator, seed):
    """Runs the encoding crate's messy fixture generator in the current directory with a new seed."""
    with open(generator, encoding="utf-8") as f:
        source = f.read()
    fixed = "random.seed(20240611)"
    if fixed not in source:
        sys.exit(f"{generator}: seed line {fixed!r} not found")
    exec(compile(source.replace(fixed, f"random.seed({int(seed)})"), generator, "exec"), {"__name__": "__main__"})


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
PY

failures=0
verdict() { # verdict OK|MISMATCH NAME DETAIL
  printf '%-8s %-44s %s\n' "$1" "$2" "$3"
  [ "$1" = OK ] || failures=$((failures + 1))
}
quietly() { "$@" >"$WORK/last.log" 2>&1 || { cat "$WORK/last.log" >&2; return 1; }; }

echo "veil: $VEIL; seed $SEED; $RECORDS records per dataset; work dir $WORK"

# --- 1a. FEBRL-style records from `veil link gen` ----------------------------------------------
quietly "$VEIL" link gen --records "$RECORDS" --seed "$SEED" -o "$WORK/gen"
for schema in febrl_v3_blake febrl_v3_doublehash; do
  for party in a b; do
    quietly "$PY" "$WORK/reference.py" encode "$WORK/gen/$party.csv" "$ENC_DATA/$schema.json" \
      "$ENC_DATA/secret.txt" "$WORK/clkhash.$party.$schema.json"
    quietly "$VEIL" link encode "$WORK/gen/$party.csv" "$ENC_DATA/$schema.json" \
      --secret-file "$ENC_DATA/secret.txt" -o "$WORK/veil.$party.$schema.json"
    if cmp -s "$WORK/clkhash.$party.$schema.json" "$WORK/veil.$party.$schema.json"; then
      verdict OK "encode gen/$party.csv $schema" "$RECORDS CLKs byte-identical to clkhash"
    else
      verdict MISMATCH "encode gen/$party.csv $schema" "CLK JSON differs from clkhash"
    fi
  done
done

# --- 1b. messy unicode records (fresh seed) with the crate's three schemas ---------------------
mkdir "$WORK/messy"
(cd "$WORK/messy" && quietly "$PY" "$WORK/reference.py" generate_messy \
  "$ENC_DATA/messy/generate.py" "$SEED")
printf '%s\n' 'pässwörd 🔑' >"$WORK/messy/secret.txt"
for schema in schema_a schema_b schema_c; do
  quietly "$VEIL" link encode "$WORK/messy/messy.csv" "$WORK/messy/$schema.json" \
    --secret-file "$WORK/messy/secret.txt" -o "$WORK/messy/veil.$schema.json"
  if cmp -s "$WORK/messy/clkhash-0.18.3.messy.$schema.json" "$WORK/messy/veil.$schema.json"; then
    verdict OK "encode messy.csv $schema" "CLKs byte-identical to clkhash"
  else
    verdict MISMATCH "encode messy.csv $schema" "CLK JSON differs from clkhash"
  fi
done

# --- 2. candidates and groups on the clkhash CLKs ----------------------------------------------
for schema in febrl_v3_blake febrl_v3_doublehash; do
  for threshold in 0.8 0.7; do
    name="compare+solve $schema t$threshold"
    prefix="$WORK/$schema.t$threshold"
    clks_a="$WORK/clkhash.a.$schema.json"
    clks_b="$WORK/clkhash.b.$schema.json"
    quietly "$PY" "$WORK/reference.py" match "$threshold" "$prefix.anonlink.csv" \
      "$prefix.anonlink.groups.json" "$clks_a" "$clks_b"
    quietly "$VEIL" link compare "$clks_a" "$clks_b" --threshold "$threshold" -o "$prefix.veil.csv"
    quietly "$VEIL" link solve "$prefix.veil.csv" -o "$prefix.veil.groups.json"
    pairs=$(($(wc -l <"$prefix.anonlink.csv") - 1))
    if ! cmp -s "$prefix.anonlink.csv" "$prefix.veil.csv"; then
      verdict MISMATCH "$name" "candidate CSV differs from anonlink ($pairs reference pairs)"
    elif groups=$("$PY" "$WORK/reference.py" same_groups "$prefix.anonlink.groups.json" \
      "$prefix.veil.groups.json"); then
      verdict OK "$name" "$pairs candidates byte-identical, $groups groups equal"
    else
      verdict MISMATCH "$name" "candidates identical but groups differ from anonlink"
    fi
  done
done

if [ "$failures" -gt 0 ]; then
  echo "FAILED: $failures check(s) differ from the reference tools (seed $SEED)"
  exit 1
fi
echo "PASSED: veil link matches clkhash 0.18.3 and anonlink 0.15.3 (seed $SEED)"
