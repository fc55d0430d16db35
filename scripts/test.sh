#!/usr/bin/env bash
# Set up (if needed) and run every check: lint, types, and the whole test suite (both index engines,
# the real model, the fake Keycloak and OIDC servers on 127.0.0.1). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 DO_NOT_TRACK=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
