#!/usr/bin/env bash
# Lints the CloudFormation template(s) in deploy/aws/: cfn-lint (schemas, references, best
# practice) and checkov (security rules). Both are pinned in deploy/aws/requirements.txt and
# installed into deploy/aws/.venv first if missing or out of date, so this works on a fresh
# machine with Python 3.10 or newer. A check checkov skips is skipped in the resource's
# `Metadata` in the template, with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=deploy/aws/.venv
REQUIREMENTS=deploy/aws/requirements.txt
STAMP="$VENV/.berth-requirements.txt"

if [[ ! -x "$VENV/bin/python" ]] || ! cmp -s "$REQUIREMENTS" "$STAMP"; then
    echo "==> installing cfn-lint and checkov into $VENV"
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet -r "$REQUIREMENTS"
    cp "$REQUIREMENTS" "$STAMP"
fi

# Only the top-level files are templates: deploy/aws/manifest/ holds berth manifests.
echo "==> cfn-lint"
"$VENV/bin/cfn-lint" deploy/aws/*.yaml

echo "==> checkov"
# Exits non-zero on any failed check; --quiet lists only the failures. --skip-download: no call
# to the vendor's platform (it only adds guideline links, and skips are by CKV_ ids here).
"$VENV/bin/checkov" -f deploy/aws/berth.yaml --framework cloudformation --quiet --compact \
    --skip-download
