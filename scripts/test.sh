#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, and all tests (unit and integration).
# Integration tests need the local ECS emulator (moto); it is installed into
# deploy/local/.venv first if missing, so this works on a fresh machine with Rust and Python.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> installing the local ECS emulator (moto) if missing"
bash deploy/local/emulator.sh install
echo "==> emulator extension tests"; deploy/local/.venv/bin/python -m pytest -q deploy/local/tests
# cfn-lint and checkov over the CloudFormation template (installs them into deploy/aws/.venv).
bash scripts/lint-aws.sh

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The status page's browser test (crates/berth/tests/cli/page.rs) drives Debian's headless
# Chromium and fails without it, so install it when missing (BERTH_CHROMIUM names another one).
if [ ! -x /usr/bin/chromium ] && [ -z "${BERTH_CHROMIUM:-}" ]; then
    echo "==> installing chromium (for the status page's browser test)"
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
fi

echo "==> cargo test"
# The first pass runs every corpus test over the repository's own fixtures (testdata/corpus).
env -u BERTH_CORPUS_DIR cargo test --workspace --locked

# BERTH_CORPUS_DIR=DIR runs the same corpus tests once more over another corpus.
if [ -n "${BERTH_CORPUS_DIR:-}" ]; then
    echo "==> corpus tests over $BERTH_CORPUS_DIR"
    cargo test --locked -p berth-core -p berth-aws -p berth -- corpus
fi

echo "==> generated ECS model is up to date"
cargo run --quiet --locked -p berth-codegen -- --check
