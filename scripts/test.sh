#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, and all tests (unit and integration).
# Integration tests need the local ECS emulator (moto); it is installed into
# deploy/local/.venv first if missing, so this works on a fresh machine with Rust and Python.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> installing the local ECS emulator (moto) if missing"
bash deploy/local/emulator.sh install
echo "==> emulator extension tests"; deploy/local/.venv/bin/python -m pytest -q deploy/local/tests

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> cargo test"
cargo test --workspace --locked

echo "==> generated ECS model is up to date"
cargo run --quiet --locked -p berth-codegen -- --check
