#!/usr/bin/env bash
# The main job, end to end on the local ECS emulator: start (and install, if missing) moto with
# berth's extension, seed it with clusters, ECR images and a VPC, then validate the example
# manifests, plan them against the emulator, apply them (following every rollout), and plan
# again to show that ECS now matches git.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${BERTH_DEMO_PORT:-5000}"

bash deploy/local/emulator.sh start --port "$port"
eval "$(bash deploy/local/emulator.sh env --port "$port")"
cargo build --quiet -p berth
berth="${CARGO_TARGET_DIR:-target}/debug/berth"
vars=deploy/local/.run/vars.yaml

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "berth validate manifests (variables from the emulator: $vars)"
"$berth" validate manifests --vars-file "$vars"

step "berth plan manifests (exit 2: there are changes)"
"$berth" plan manifests --vars-file "$vars" --format markdown || [ $? -eq 2 ]

step "berth apply manifests --yes"
"$berth" apply manifests --vars-file "$vars" --yes --poll-interval 1s --progress-deadline 2m

step "berth plan manifests (exit 0: ECS matches git)"
"$berth" plan manifests --vars-file "$vars"

echo
echo "The emulator keeps running at http://127.0.0.1:$port; stop it with: bash deploy/local/emulator.sh stop"
