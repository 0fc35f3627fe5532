#!/usr/bin/env bash
# The latency bench of docs/performance.md: a 20-service image bump by `berth apply` and by
# ecs-deploy (`ecs deploy` per service) against the local ECS emulator, every AWS call delayed by
# 50 ms. Installs ecs-deploy into a virtualenv under target/, builds berth (release) and runs
# `cargo bench -p berth --bench latency` with both programs. Fails when ecs-deploy cannot be
# installed: a comparison without it is not this bench.
#
# Usage: scripts/bench-latency.sh [cargo bench args...]
# Environment: BERTH_BENCH_LATENCY_MS (default 50), BERTH_BENCH_ROLLOUT_SECONDS (default 2),
# PYTHON (default python3).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

ecs_deploy_version="1.17.0"
venv="$root/target/bench-venv"
python="${PYTHON:-python3}"

# The emulator (moto) has its own venv; make sure it is there before timing anything.
bash deploy/local/emulator.sh install

# ecs-deploy gets a venv of its own: its boto3 pin must not move moto's.
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" || {
        echo "bench-latency: cannot create a virtualenv at $venv with $python" >&2
        exit 1
    }
fi
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "ecs-deploy==$ecs_deploy_version"; then
    echo "bench-latency: FAILED to install ecs-deploy==$ecs_deploy_version from PyPI;" \
        "the comparison needs it (no partial run)" >&2
    exit 1
fi
ecs="$venv/bin/ecs"
installed="$("$venv/bin/python" -m pip show ecs-deploy 2>/dev/null | sed -n 's/^Version: //p')"
if [ ! -x "$ecs" ] || [ "$installed" != "$ecs_deploy_version" ]; then
    echo "bench-latency: ecs-deploy $ecs_deploy_version not usable at $ecs (found: ${installed:-none})" >&2
    exit 1
fi

cargo build --release -p berth --bin berth
berth="$root/target/release/berth"

echo "bench-latency: berth $berth; ecs-deploy $installed at $ecs"
BERTH_BENCH_BERTH="$berth" BERTH_BENCH_ECS="$ecs" \
    cargo bench -p berth --bench latency "$@"
