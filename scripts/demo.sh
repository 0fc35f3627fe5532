#!/usr/bin/env bash
# The main job, end to end on the local ECS emulator: start (and install, if missing) moto,
# seed it with clusters, ECR images and a VPC, then load, validate and render the example
# manifests against it. Grows into the daemon demo as berth does.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${BERTH_DEMO_PORT:-5000}"

bash deploy/local/emulator.sh start --port "$port"
cargo build --quiet --release -p berth
berth=target/release/berth
vars=deploy/local/.run/vars.yaml

echo
echo "==> berth validate manifests/ (variables from the emulator: $vars)"
"$berth" validate manifests --vars-file "$vars"

echo
echo "==> berth render manifests/ --service web --cluster prod (what berth would send to ECS)"
"$berth" render manifests --vars-file "$vars" --service web --cluster prod

echo
echo "The emulator keeps running at http://127.0.0.1:$port; stop it with: bash deploy/local/emulator.sh stop"
