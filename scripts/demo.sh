#!/usr/bin/env bash
# The main job, end to end on the local ECS emulator: start (and install, if missing) moto with
# berth's extension, seed it with clusters, ECR images and a VPC, then run the berth daemon on a
# copy of the example manifests (a watched directory). The daemon creates the estate; the script
# then bumps prod/web's image in the copy and shows the daemon deploying it within seconds.
#
# On a terminal the daemon keeps running afterwards: edit files under deploy/local/.run/manifests
# and watch the reconcile log; Ctrl-C stops it. Otherwise (CI, a pipe) it stops after the tour.
#
# Environment: BERTH_DEMO_PORT (emulator, default 5000), BERTH_DEMO_LISTEN (berth's HTTP
# listener, default 127.0.0.1:8080), BERTH_DEMO_KEEP_RUNNING=0|1 (default: 1 on a terminal).
set -euo pipefail
cd "$(dirname "$0")/.."
port="${BERTH_DEMO_PORT:-5000}"
listen="${BERTH_DEMO_LISTEN:-127.0.0.1:8080}"
if [ -t 0 ] && [ -t 1 ]; then keep_running="${BERTH_DEMO_KEEP_RUNNING:-1}"; else keep_running="${BERTH_DEMO_KEEP_RUNNING:-0}"; fi
run_dir=deploy/local/.run
estate="$run_dir/manifests"
config="$run_dir/berth.yaml"
log="$run_dir/berth.log"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
# status QUERY: runs a Python expression over GET /status (bound to `s`); exit 1 when it is falsy.
status() {
    python3 - "$listen" "$1" <<'PY'
import json, sys, urllib.request
s = json.load(urllib.request.urlopen(f"http://{sys.argv[1]}/status", timeout=5))
result = eval(sys.argv[2])
if isinstance(result, str):
    print(result)
sys.exit(0 if result else 1)
PY
}
status_table() {
    python3 - "$listen" <<'PY'
import json, sys, urllib.request
s = json.load(urllib.request.urlopen(f"http://{sys.argv[1]}/status", timeout=5))
print("revision", (s.get("revision") or "-")[:16])
for name, v in sorted(s["services"].items()):
    live = (v.get("liveTaskDefinition") or "-").rsplit("/", 1)[-1]
    print(f"  {name:<16} {v['status']:<12} {live:<20} {v.get('rollout') or ''}")
PY
}
get() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "http://$listen$1"; }
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
    local deadline=$((SECONDS + $1)) what="$2"
    shift 2
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "demo: timed out waiting for $what; the daemon's log is $log" >&2
            exit 1
        fi
        sleep 0.5
    done
}

bash deploy/local/emulator.sh start --port "$port"
eval "$(bash deploy/local/emulator.sh env --port "$port")"
cargo build --quiet -p berth
berth="${CARGO_TARGET_DIR:-target}/debug/berth"

step "berth validate manifests (variables from the emulator: $run_dir/vars.yaml)"
"$berth" validate manifests --vars-file "$run_dir/vars.yaml"

# A copy, so that the demo's edits never touch the repository's own manifests.
rm -rf "$estate"
cp -R manifests "$estate"
{
    echo "# Written by scripts/demo.sh: berth run on the example manifests against the emulator."
    echo "source:"
    echo "  url: $estate"
    echo "aws:"
    echo "  region: us-east-1"
    echo "  endpointUrl: http://127.0.0.1:$port"
    echo "reconcile:"
    echo "  interval: 30s"
    echo "vars:"
    sed 's/^/  /' "$run_dir/vars.yaml"
    echo "server:"
    echo "  listen: $listen"
} >"$config"

step "berth run --config $config   (the daemon; its log follows)"
cat "$config"
"$berth" run --config "$config" 2> >(tee "$log" >&2) &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon 2>/dev/null || true' EXIT
wait_for 60 "the first reconcile (/readyz)" get /readyz
wait_for 120 "every service Synced" status 's["services"] and all(v["status"] == "Synced" for v in s["services"].values())'

step "GET /status: the estate is created and Synced"
status_table

step "Edit $estate/prod/web.yaml: image web:1.4.2 -> web:1.5.0 (a merged pull request, in git)"
before="$(status 's["services"]["prod/web"]["liveTaskDefinition"]')"
sed -i.bak 's|/web:1.4.2|/web:1.5.0|' "$estate/prod/web.yaml" && rm -f "$estate/prod/web.yaml.bak"
edited_at=$SECONDS
wait_for 30 "prod/web to get a new task definition" status "s['services']['prod/web']['liveTaskDefinition'] != '$before'"
echo "prod/web runs a new revision $((SECONDS - edited_at))s after the edit (the daemon's log above shows the reconcile)"
wait_for 60 "prod/web Synced" status 's["services"]["prod/web"]["status"] == "Synced"'
step "GET /status after the edit"
status_table
step "GET /metrics (excerpt)"
get /metrics | grep -E '^berth_(reconcile_total|apply_actions_total|source_revision_info)' || true

if [ "$keep_running" = 1 ]; then
    step "berth keeps running: edit files under $estate and watch its log; Ctrl-C stops it"
    echo "  page:    http://$listen/ in a browser (the status page)"
    echo "  status:  curl -s http://$listen/status"
    echo "  metrics: curl -s http://$listen/metrics"
    wait "$daemon" || true
else
    step "Stopping the daemon (SIGTERM: it finishes the reconcile in progress and exits 0)"
    kill -TERM "$daemon"
    wait "$daemon"
    trap - EXIT
fi
echo
echo "The emulator keeps running at http://127.0.0.1:$port; stop it with: bash deploy/local/emulator.sh stop"
