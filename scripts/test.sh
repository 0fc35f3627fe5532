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
