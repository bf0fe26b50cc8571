#!/usr/bin/env bash
# Runs the real Entity Service client, anonlink-client 0.1.5 from PyPI (the last release with the
# REST commands), through its whole command-line flow against a freshly started `veil serve`:
#   hash the fixtures (scripts/data/anonlink-client/party-{a,b,c}.csv) with `anonlink hash`, check
#   `anonlink status`, then for each of
#     groups (2 parties), permutations (2), similarity_scores (2), groups (3 parties):
#   `anonlink create-project`, `anonlink upload` for every party, the project's description through
#   the client's own RestClient, `anonlink create` (a run), `anonlink results --watch` (with every
#   party's receipt token too for permutations), `anonlink delete` (the run) and
#   `anonlink delete-project`; the results are checked against the fixtures' ground truth and the
#   CLKs' own Dice scores (scripts/data/anonlink-client/check.py). One line per flow; exits non-zero
#   on the first failure, printing the server log's tail.
#
# Usage: scripts/check-anonlink-client.sh [VEIL_BIN]
# Env:   VEIL_BIN          the veil binary (default: `cargo build --release -p veil` and use it)
#        VEIL_CI_CACHE     cache root (default ~/.cache/veil-ci); the client's venv is
#                          $VEIL_CI_CACHE/venv-anonlink-client, rebuilt only when
#                          scripts/data/anonlink-client/requirements.txt or the interpreter changes
#        PYTHON            interpreter for the venv (default: python3.11, else python3 if it is
#                          3.11); the pinned set is for CPython 3.11 (see requirements.txt)
#        VEIL_ANONLINK_THRESHOLD  run threshold (default 0.75)
#        VEIL_ANONLINK_TIMEOUT    seconds one `anonlink results --watch` may take (default 300)
#        VEIL_ANONLINK_FLOWS      which flows, in order (default: all four:
#                                 groups-2p permutations-2p similarity-2p groups-3p)
#        VEIL_ANONLINK_KEEP       1: keep the work directory (CLKs, tokens, results, server log)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/scripts/data/anonlink-client"
CACHE="${VEIL_CI_CACHE:-$HOME/.cache/veil-ci}"
VENV="$CACHE/venv-anonlink-client"
REQUIREMENTS="$DATA/requirements.txt"
THRESHOLD="${VEIL_ANONLINK_THRESHOLD:-0.75}"
RESULT_TIMEOUT="${VEIL_ANONLINK_TIMEOUT:-300}"
# The parties' shared secret for `anonlink hash` (test data only).
SECRET="veil-anonlink-client-check"
STARTED=$SECONDS

say() { printf '%s\n' "$*"; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# --- the client's venv ------------------------------------------------------------------------
python_minor() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }

pick_python() {
  if [ -n "${PYTHON:-}" ]; then
    printf '%s\n' "$PYTHON"
    return
  fi
  local candidate
  for candidate in python3.11 python3; do
    if [ "$(python_minor "$candidate")" = 3.11 ]; then
      command -v "$candidate"
      return
    fi
  done
  die "no CPython 3.11 found: the pinned set (scripts/data/anonlink-client/requirements.txt) is for 3.11; set PYTHON"
}

ensure_venv() {
  local python version stamp_want
  python="$(pick_python)"
  version="$("$python" -c 'import sys; print(sys.version.split()[0])')" ||
    die "$python does not run"
  stamp_want="python $version
$(cat "$REQUIREMENTS")"
  if [ -x "$VENV/bin/anonlink" ] && [ "$(cat "$VENV/.veil-stamp" 2>/dev/null)" = "$stamp_want" ]; then
    return
  fi
  say "installing anonlink-client 0.1.5 into $VENV (Python $version)"
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$python" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$REQUIREMENTS"
  "$VENV/bin/anonlink" --version >/dev/null || die "anonlink-client does not start in $VENV"
  printf '%s' "$stamp_want" >"$VENV/.veil-stamp"
}

ensure_venv
PY="$VENV/bin/python"
CLIENT="$VENV/bin/anonlink"
CHECK=("$PY" "$DATA/check.py")
say "anonlink-client: $("$CLIENT" --version 2>&1 | tail -n 1) ($("$PY" --version 2>&1)) ($((SECONDS - STARTED)) s)"

# --- veil ---------------------------------------------------------------------------------------
VEIL="${1:-${VEIL_BIN:-}}"
if [ -z "$VEIL" ]; then
  say "building veil (cargo build --release -p veil)"
  (cd "$ROOT" && cargo build --release -q -p veil)
  VEIL="$(cd "$ROOT" && cd "${CARGO_TARGET_DIR:-target}/release" && pwd)/veil"
fi
[ -x "$VEIL" ] || die "$VEIL is not an executable veil binary"
VEIL="$(cd "$(dirname "$VEIL")" && pwd)/$(basename "$VEIL")"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/veil-anonlink-client.XXXXXX")"
SERVER_PID=""
WATCHER_PID=""
WATCHED=0
SERVER_LOG="$WORK/serve.log"

finish() {
  local status=$?
  if [ -n "$WATCHER_PID" ]; then
    kill -TERM "$WATCHER_PID" 2>/dev/null || true
    wait "$WATCHER_PID" 2>/dev/null || true
  fi
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ]; then
    say "--- last 40 lines of the veil serve log ($SERVER_LOG) ---" >&2
    tail -n 40 "$SERVER_LOG" >&2 2>/dev/null || true
    say "anonlink-client check FAILED after $((SECONDS - STARTED)) s" >&2
  fi
  if [ "${VEIL_ANONLINK_KEEP:-0}" = 1 ]; then
    say "work directory kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap finish EXIT

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
SERVER="http://127.0.0.1:$PORT"
# A fresh data dir (SQLite metadata and file blobs inside it), no config file, and none of the
# caller's VEIL_* overrides, so the server is exactly the default one.
(
  cd "$WORK"
  while IFS= read -r name; do
    case "$name" in VEIL_*) unset "$name" ;; esac
  done < <(compgen -e)
  export VEIL_DATA_DIR="$WORK/data" NO_COLOR=1
  exec "$VEIL" serve --listen "127.0.0.1:$PORT"
) >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
ready=""
for _ in $(seq 1 300); do
  if "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "$SERVER/healthz" 2>/dev/null; then
    ready=yes
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || die "veil serve exited"
  sleep 0.1
done
[ -n "$ready" ] || die "veil serve did not answer $SERVER/healthz within 30 s"
say "veil serve: $SERVER ($VEIL)"

# Runs one `anonlink` command, its stdout and stderr kept in $WORK/logs/NAME.log; on failure, or when
# the log shows one of the errors that the client reports without failing, prints the log and stops.
client() {
  local name="$1"
  shift
  mkdir -p "$WORK/logs"
  local log="$WORK/logs/$name.log"
  if ! "$CLIENT" "$@" >"$log" 2>&1; then
    tail -n 12 "$log" >&2
    die "anonlink $1 ($name) failed"
  fi
  if grep -q -E 'Unexpected response|Traceback|There was an error|No result yet' "$log"; then
    tail -n 12 "$log" >&2
    die "anonlink $1 ($name) reported an error"
  fi
}

# --- the fixtures, hashed by the client ---------------------------------------------------------
PARTIES=(a b c)
for i in 0 1 2; do
  csv="$DATA/party-${PARTIES[$i]}.csv"
  client "hash-$i" hash "$csv" "$SECRET" "$DATA/schema.json" "$WORK/clks-$i.json"
  "${CHECK[@]}" clks "$WORK/clks-$i.json" "$csv"
done
client status status --server "$SERVER" -o "$WORK/status.json"
"${CHECK[@]}" status "$WORK/status.json"
say "hashed 3 x 50 records with anonlink hash; anonlink status ok ($((SECONDS - STARTED)) s)"

# flow NAME RESULT_TYPE PARTY_COUNT [early]: the whole client flow for one project. Normally the run
# is created after every upload; with `early` it is created, and `anonlink results --watch` started,
# before the last party uploads, so the client polls a waiting run (state "created") until the last
# upload queues it.
flow() {
  local name="$1" type="$2" count="$3" early="${4:-}"
  local dir="$WORK/$name" flow_started=$SECONDS
  local -a csvs=() receipts=()
  local project result_token run="" update_token i results_started=0
  mkdir -p "$dir"
  local common=(--server "$SERVER")

  client "$name-create-project" create-project --type "$type" --schema "$DATA/schema.json" \
    --parties "$count" --name "veil check $name" "${common[@]}" -o "$dir/project.json"
  project="$("${CHECK[@]}" get "$dir/project.json" project_id)"
  result_token="$("${CHECK[@]}" get "$dir/project.json" result_token)"

  for ((i = 0; i < count; i++)); do
    if [ -n "$early" ] && [ "$i" -eq $((count - 1)) ]; then
      create_run
      start_watch
      wait_for_log "$dir/results.log" 'State: created' ||
        die "$name: anonlink results --watch never reported the waiting run as created"
    fi
    cp "$WORK/clks-$i.json" "$dir/clks-$i.json"
    csvs+=("$DATA/party-${PARTIES[$i]}.csv")
    update_token="$("${CHECK[@]}" get "$dir/project.json" update_tokens "$i")"
    client "$name-upload-$i" upload --project "$project" --apikey "$update_token" \
      "${common[@]}" -o "$dir/upload-$i.json" "$dir/clks-$i.json"
    receipts+=("$("${CHECK[@]}" get "$dir/upload-$i.json" receipt_token)")
  done
  "${CHECK[@]}" describe "$SERVER" "$project" "$result_token" "$type" "$count"
  if [ -z "$run" ]; then
    create_run
    start_watch
  fi
  finish_watch

  if [ "$type" = permutations ]; then
    # Each data provider fetches its own permutation with its upload's receipt token.
    for ((i = 0; i < count; i++)); do
      client "$name-results-party-$i" results --project "$project" --run "$run" \
        --apikey "${receipts[$i]}" "${common[@]}" -o "$dir/permutation-$i.json"
    done
  fi

  local summary
  summary="$("${CHECK[@]}" verify "$type" "$THRESHOLD" "$dir" "${csvs[@]}")" ||
    die "$name: the results are wrong (files in $dir)"

  client "$name-delete-run" delete --project "$project" --run "$run" --apikey "$result_token" \
    "${common[@]}"
  grep -q 'Run deleted' "$WORK/logs/$name-delete-run.log" || die "$name: the run was not deleted"
  client "$name-delete-project" delete-project --project "$project" --apikey "$result_token" \
    "${common[@]}"
  grep -q 'Project deleted' "$WORK/logs/$name-delete-project.log" ||
    die "$name: the project was not deleted"
  "${CHECK[@]}" gone "$SERVER" "$project" "$result_token"

  local when="after all uploads"
  [ -z "$early" ] || when="before the last upload"
  say "ok  $name: $count parties, threshold $THRESHOLD, run created $when: $summary; results ${WATCHED} s after the watch began, flow $((SECONDS - flow_started)) s"
}

# The helpers below share flow()'s locals (bash scoping is dynamic).
create_run() {
  client "$name-create-run" create --project "$project" --apikey "$result_token" \
    --threshold "$THRESHOLD" --name "veil check $name" "${common[@]}" -o "$dir/run.json"
  run="$("${CHECK[@]}" get "$dir/run.json" run_id)"
}

start_watch() {
  results_started=$SECONDS
  timeout "$RESULT_TIMEOUT" "$CLIENT" results --watch --project "$project" --run "$run" \
    --apikey "$result_token" "${common[@]}" -o "$dir/result.json" >"$dir/results.log" 2>&1 &
  WATCHER_PID=$!
}

finish_watch() {
  local status=0
  wait "$WATCHER_PID" || status=$?
  WATCHER_PID=""
  WATCHED=$((SECONDS - results_started))
  if [ "$status" -ne 0 ] || ! grep -q 'Received result' "$dir/results.log"; then
    tail -n 12 "$dir/results.log" >&2
    die "$name: anonlink results --watch exited with $status (124: over $RESULT_TIMEOUT s) without the result"
  fi
}

# wait_for_log FILE TEXT: up to 60 s for TEXT to appear in FILE (while the watcher runs).
wait_for_log() {
  local _
  for _ in $(seq 1 600); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$WATCHER_PID" 2>/dev/null || { cat "$1" >&2; return 1; }
    sleep 0.1
  done
  return 1
}

FLOWS="${VEIL_ANONLINK_FLOWS:-groups-2p permutations-2p similarity-2p groups-3p}"
passed=0
for name in $FLOWS; do
  case "$name" in
    groups-2p) flow groups-2p groups 2 ;;
    permutations-2p) flow permutations-2p permutations 2 ;;
    similarity-2p) flow similarity-2p similarity_scores 2 ;;
    groups-3p) flow groups-3p groups 3 early ;;
    *) die "unknown flow $name in VEIL_ANONLINK_FLOWS" ;;
  esac
  passed=$((passed + 1))
done

say "anonlink-client 0.1.5 against veil serve: $passed flows passed in $((SECONDS - STARTED)) s"
