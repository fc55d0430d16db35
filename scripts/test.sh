#!/usr/bin/env bash
# Set up (if needed) and run every check: lint, types, and the whole test suite (both index engines,
# the real model, the fake Keycloak and OIDC servers on 127.0.0.1). Extra arguments go to pytest.
#
#   bash scripts/test.sh            everything (what .ci/run calls)
#   bash scripts/test.sh --fast     the inner loop: lint, types, and the tests marked neither `model`
#                                   (loads the real embedding model, directly or in a `clearance`
#                                   process) nor `slow` (long-running end to end); setup is skipped
#                                   while .venv is newer than pyproject.toml and the setup scripts
set -euo pipefail
cd "$(dirname "$0")/.."
fast=0
args=()
for arg in "$@"; do
    if [ "$arg" = "--fast" ]; then fast=1; else args+=("$arg"); fi
done
stamp=.venv/.setup-done
if [ "$fast" = 0 ] || [ ! -e "$stamp" ] || [ pyproject.toml -nt "$stamp" ] \
    || [ scripts/setup.sh -nt "$stamp" ] || [ scripts/constraints.txt -nt "$stamp" ]; then
    bash scripts/setup.sh
    touch "$stamp"
fi
export HF_HUB_OFFLINE=1 DO_NOT_TRACK=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# Two workers (CLEARANCE_TEST_WORKERS; 0 runs in this process): most tests wait on processes, sockets and
# disks, so two workers on two cores take ~40 % less wall time. `loadgroup` keeps the contract suite, which
# builds one shared world of processes, on one worker.
workers=(-n "${CLEARANCE_TEST_WORKERS:-2}" --dist loadgroup)
if [ "$fast" = 1 ]; then
    .venv/bin/python -m pytest -q "${workers[@]}" -m "not model and not slow" ${args[@]+"${args[@]}"}
else
    .venv/bin/python -m pytest -q "${workers[@]}" ${args[@]+"${args[@]}"}
fi
