#!/usr/bin/env bash
# Start a local S3-compatible test server (moto) for veil-blob's S3 tests.
#
# Usage:
#   scripts/start-s3-test-server.sh            # start (or reuse) the server
#   scripts/start-s3-test-server.sh --stop     # stop the server it started
#   eval "$(scripts/start-s3-test-server.sh)"  # start and export the endpoint
#   source scripts/start-s3-test-server.sh     # same, when sourced from bash
#
# Creates a Python venv (if missing), installs 'moto[server]' into it, starts
# moto_server on 127.0.0.1 in the background, waits (bounded) until it
# answers, writes its PID to a file, and prints on stdout:
#   export VEIL_TEST_S3_ENDPOINT=http://127.0.0.1:<port>
# Everything else (progress, errors) goes to stderr, so the output can be
# eval'ed or appended to $GITHUB_ENV-style files.
#
# Environment (all optional):
#   VEIL_VENV                 venv directory              (default: .venv)
#   VEIL_TEST_S3_PORT         port to listen on           (default: 9090)
#   VEIL_TEST_S3_PID_FILE     PID file                    (default: $VEIL_VENV/moto-<port>.pid)
#   VEIL_TEST_S3_LOG_FILE     server log                  (default: $VEIL_VENV/moto-<port>.log)
#   VEIL_TEST_S3_WAIT_SECS    max seconds to wait for it  (default: 30)
#   VEIL_MOTO_SPEC            pip requirement for moto    (default: moto[server])
#   PYTHON                    interpreter for the venv    (default: python3)
#
# The tests then read VEIL_TEST_S3_ENDPOINT, and optionally VEIL_TEST_S3_BUCKET
# (default veil-test), VEIL_TEST_S3_ACCESS_KEY_ID / VEIL_TEST_S3_SECRET_ACCESS_KEY
# (default testing/testing) and VEIL_TEST_REQUIRE_SERVICES=1.

# Sourced (bash): do the work in a child shell so the caller's shell options
# are untouched and a failure cannot exit the caller, then export the result.
if (return 0 2>/dev/null); then
    if __veil_s3_out="$(bash "${BASH_SOURCE[0]}" "$@")"; then
        eval "$__veil_s3_out"
        [ -z "$__veil_s3_out" ] || echo "$__veil_s3_out"
        unset __veil_s3_out
        return 0
    fi
    unset __veil_s3_out
    return 1
fi

set -euo pipefail

VENV="${VEIL_VENV:-.venv}"
PORT="${VEIL_TEST_S3_PORT:-9090}"
PID_FILE="${VEIL_TEST_S3_PID_FILE:-$VENV/moto-$PORT.pid}"
LOG_FILE="${VEIL_TEST_S3_LOG_FILE:-$VENV/moto-$PORT.log}"
WAIT_SECS="${VEIL_TEST_S3_WAIT_SECS:-30}"
MOTO_SPEC="${VEIL_MOTO_SPEC:-moto[server]}"
PYTHON="${PYTHON:-python3}"
ENDPOINT="http://127.0.0.1:$PORT"

log() { echo "start-s3-test-server: $*" >&2; }
die() { log "error: $*"; exit 1; }

case "$PORT" in
    '' | *[!0-9]*) die "VEIL_TEST_S3_PORT must be a port number, got '$PORT'" ;;
esac
case "$WAIT_SECS" in
    '' | *[!0-9]*) die "VEIL_TEST_S3_WAIT_SECS must be a whole number, got '$WAIT_SECS'" ;;
esac

# Prints the PID from the PID file if that process is still alive.
running_pid() {
    local pid
    [ -f "$PID_FILE" ] || return 1
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    case "$pid" in '' | *[!0-9]*) return 1 ;; esac
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

# True if an S3 server answers on the endpoint (any HTTP response counts).
answers() {
    "$VENV/bin/python" - "$ENDPOINT" <<'PY' 2>/dev/null
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1] + "/", timeout=2)
except urllib.error.HTTPError:
    pass  # the server answered, just not with 2xx
except Exception:
    sys.exit(1)
PY
}

if [ "${1:-}" = "--stop" ]; then
    if pid="$(running_pid)"; then
        kill "$pid"
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        log "stopped moto_server (pid $pid)"
    else
        log "no running moto_server recorded in $PID_FILE"
    fi
    rm -f "$PID_FILE"
    exit 0
elif [ $# -gt 0 ]; then
    die "unknown argument '$1' (usage: $0 [--stop])"
fi

command -v "$PYTHON" >/dev/null 2>&1 || die "'$PYTHON' not found; install Python 3 (with the venv module)"

if [ ! -x "$VENV/bin/python" ]; then
    log "creating venv in $VENV"
    "$PYTHON" -m venv "$VENV" ||
        die "'$PYTHON -m venv $VENV' failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi
if [ ! -x "$VENV/bin/moto_server" ]; then
    log "installing $MOTO_SPEC into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$MOTO_SPEC" >&2 ||
        die "pip install '$MOTO_SPEC' failed"
fi
[ -x "$VENV/bin/moto_server" ] || die "moto_server missing from $VENV/bin after install"

if pid="$(running_pid)" && answers; then
    log "moto_server already running (pid $pid) at $ENDPOINT"
else
    if answers; then
        die "something else already answers on $ENDPOINT; set VEIL_TEST_S3_PORT to a free port"
    fi
    mkdir -p "$(dirname "$PID_FILE")" "$(dirname "$LOG_FILE")"
    log "starting moto_server on $ENDPOINT (log: $LOG_FILE)"
    nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_FILE"
    deadline=$((SECONDS + WAIT_SECS))
    until answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            tail -n 20 "$LOG_FILE" >&2 || true
            die "moto_server exited during startup (see $LOG_FILE)"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            kill "$pid" 2>/dev/null || true
            rm -f "$PID_FILE"
            tail -n 20 "$LOG_FILE" >&2 || true
            die "moto_server did not answer on $ENDPOINT within ${WAIT_SECS}s"
        fi
        sleep 0.5
    done
    log "moto_server is up (pid $pid, pid file $PID_FILE)"
fi

echo "export VEIL_TEST_S3_ENDPOINT=$ENDPOINT"
