#!/usr/bin/env bash
# The local ECS/ECR emulator: moto in server mode with berth's extension (berth_moto/), installed
# into its own virtualenv.
#
# Usage: deploy/local/emulator.sh COMMAND [--port N]
#
#   install          create deploy/local/.venv and install the pinned requirements.txt (and
#                    requirements-dev.txt, for the extension's tests) into it
#   start [--port N] install if needed, start moto (python -m berth_moto) on 127.0.0.1:N (default
#                    5000), wait until it answers, then seed it
#   seed             create the demo clusters, repositories and images (idempotent) and write
#                    deploy/local/.run/vars.yaml
#   stop             stop the emulator started by `start`
#   status           say whether it runs, and where (exit status 3 when it does not)
#   env [--port N]   print `export AWS_...` lines for `eval "$(deploy/local/emulator.sh env)"`
#
# Runtime state (pid, port, log, vars.yaml) lives in deploy/local/.run/. `start` passes
# BERTH_MOTO_ROLLOUT_SECONDS and BERTH_MOTO_FAILING_IMAGES (default: bad:broken, the seeded image
# meant to fail; set it empty for none) on to the emulator: see README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
RUN_DIR="$HERE/.run"
REQUIREMENTS="$HERE/requirements.txt"
DEV_REQUIREMENTS="$HERE/requirements-dev.txt"
STAMP="$VENV/.berth-requirements.txt"
PID_FILE="$RUN_DIR/moto.pid"
PORT_FILE="$RUN_DIR/port"
LOG_FILE="$RUN_DIR/moto.log"
VARS_FILE="$RUN_DIR/vars.yaml"
DEFAULT_PORT=5000
READY_TIMEOUT_SECONDS=30

die() {
    echo "emulator.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '2,19s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

pinned_moto_version() {
    sed -n 's/^moto\[server\]==\([^[:space:]]*\).*/\1/p' "$REQUIREMENTS"
}

installed_moto_version() {
    "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null
}

# Both requirement files, as installed; kept in the venv as its stamp.
requirements_stamp() {
    cat "$REQUIREMENTS" "$DEV_REQUIREMENTS"
}

# True when the venv holds exactly what the requirement files pin.
venv_is_current() {
    [[ -x "$VENV/bin/python" && -x "$VENV/bin/moto_server" && -f "$STAMP" ]] || return 1
    requirements_stamp | cmp -s - "$STAMP" || return 1
    [[ "$(installed_moto_version || true)" == "$(pinned_moto_version)" ]]
}

cmd_install() {
    local version
    version="$(pinned_moto_version)"
    [[ -n "$version" ]] || die "no moto[server]==VERSION pin in $REQUIREMENTS"
    if venv_is_current; then
        echo "moto $version is installed in $VENV"
        return 0
    fi
    command -v python3 >/dev/null || die "python3 is required (3.10 or newer)"
    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "creating virtualenv $VENV"
        python3 -m venv "$VENV" ||
            die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
    fi
    echo "installing moto $version into $VENV (this takes a minute the first time)"
    # requirements-dev.txt includes requirements.txt.
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet -r "$DEV_REQUIREMENTS" ||
        die "pip install -r $DEV_REQUIREMENTS failed"
    requirements_stamp >"$STAMP"
    venv_is_current || die "moto $version did not install into $VENV"
    echo "moto $version is installed in $VENV"
}

# The pid of the emulator started by `start`, if it still runs.
running_pid() {
    local pid
    [[ -f "$PID_FILE" ]] || return 1
    pid="$(cat "$PID_FILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Guard against a recycled pid: on Linux, check that it is still the emulator.
    if [[ -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q berth_moto || return 1
    fi
    echo "$pid"
}

running_port() {
    running_pid >/dev/null && [[ -f "$PORT_FILE" ]] && cat "$PORT_FILE"
}

# Exit status 0 when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
    python3 - "$1" <<'PY'
import socket, sys
with socket.socket() as s:
    s.settimeout(1)
    sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}

# Exit status 0 when moto answers GET /moto-api/ on 127.0.0.1:$1.
moto_answers() {
    python3 - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

log_tail() {
    if [[ -f "$LOG_FILE" ]]; then
        echo "--- last lines of $LOG_FILE ---"
        tail -n 20 "$LOG_FILE"
    fi
}

cmd_start() {
    local port="$1" pid existing deadline
    if pid="$(running_pid)"; then
        existing="$(cat "$PORT_FILE" 2>/dev/null || echo '?')"
        [[ "$existing" == "$port" ]] ||
            die "the emulator already runs on port $existing (pid $pid); run 'stop' first"
        echo "the emulator already runs at http://127.0.0.1:$port (pid $pid)"
    else
        venv_is_current || cmd_install
        if port_in_use "$port"; then
            die "something already listens on 127.0.0.1:$port; pick another with --port N"
        fi
        mkdir -p "$RUN_DIR"
        BERTH_MOTO_FAILING_IMAGES="${BERTH_MOTO_FAILING_IMAGES-bad:broken}" \
            PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}" \
            nohup "$VENV/bin/python" -m berth_moto -H 127.0.0.1 -p "$port" >"$LOG_FILE" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$PID_FILE"
        echo "$port" >"$PORT_FILE"
        deadline=$((SECONDS + READY_TIMEOUT_SECONDS))
        until moto_answers "$port"; do
            if ! kill -0 "$pid" 2>/dev/null; then
                rm -f "$PID_FILE" "$PORT_FILE"
                log_tail >&2
                die "moto exited while starting on port $port"
            fi
            if ((SECONDS >= deadline)); then
                kill "$pid" 2>/dev/null || true
                rm -f "$PID_FILE" "$PORT_FILE"
                log_tail >&2
                die "moto did not answer on http://127.0.0.1:$port/moto-api/ within ${READY_TIMEOUT_SECONDS}s"
            fi
            sleep 0.2
        done
        echo "moto $(pinned_moto_version) with berth's extension runs at http://127.0.0.1:$port (pid $pid, log $LOG_FILE)"
    fi
    cmd_seed
}

cmd_seed() {
    local port
    port="$(running_port)" || die "the emulator is not running; start it with: bash $0 start"
    "$VENV/bin/python" "$HERE/seed.py" --endpoint "http://127.0.0.1:$port" --out "$VARS_FILE"
}

cmd_stop() {
    local pid waited=0
    if ! pid="$(running_pid)"; then
        rm -f "$PID_FILE" "$PORT_FILE"
        echo "the emulator is not running"
        return 0
    fi
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if ((waited >= 50)); then
            kill -9 "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
        waited=$((waited + 1))
    done
    # The ids in vars.yaml die with the emulator: the next start writes new ones.
    rm -f "$PID_FILE" "$PORT_FILE" "$VARS_FILE"
    echo "stopped the emulator (pid $pid)"
}

cmd_status() {
    local pid
    if pid="$(running_pid)"; then
        echo "the emulator runs at http://127.0.0.1:$(cat "$PORT_FILE") (pid $pid, log $LOG_FILE)"
        if [[ -f "$VARS_FILE" ]]; then
            echo "manifest variables: $VARS_FILE"
        fi
    else
        echo "the emulator is not running"
        return 3
    fi
}

cmd_env() {
    local port="$1" endpoint
    endpoint="http://127.0.0.1:$port"
    echo "export AWS_ENDPOINT_URL=$endpoint"
    echo "export AWS_ACCESS_KEY_ID=testing"
    echo "export AWS_SECRET_ACCESS_KEY=testing"
    echo "export AWS_REGION=us-east-1"
    echo "export AWS_DEFAULT_REGION=us-east-1"
    echo "export AWS_EC2_METADATA_DISABLED=true"
}

main() {
    local command="${1:-}" port=""
    [[ $# -gt 0 ]] && shift
    while [[ $# -gt 0 ]]; do
        case "$1" in
        --port)
            [[ $# -ge 2 ]] || die "--port needs a value"
            port="$2"
            shift 2
            ;;
        --port=*)
            port="${1#--port=}"
            shift
            ;;
        -h | --help)
            usage
            return 0
            ;;
        *) die "unknown argument: $1 (see --help)" ;;
        esac
    done
    if [[ -n "$port" ]] && ! [[ "$port" =~ ^[0-9]+$ && "$port" -ge 1 && "$port" -le 65535 ]]; then
        die "--port must be a TCP port number, not '$port'"
    fi

    case "$command" in
    install) cmd_install ;;
    start) cmd_start "${port:-$DEFAULT_PORT}" ;;
    seed) cmd_seed ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env "${port:-$(running_port || echo "$DEFAULT_PORT")}" ;;
    -h | --help | help) usage ;;
    "") usage >&2 && exit 2 ;;
    *) die "unknown command: $command (see --help)" ;;
    esac
}

main "$@"
