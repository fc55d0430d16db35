#!/usr/bin/env bash
# Set up Clearance in ./.venv on a fresh machine: CPU torch pinned first, then the project and its tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch==2.13.0 first: the local CPU build. Any looser spec would pull several GB of CUDA wheels.
.venv/bin/pip install -q "torch==2.13.0"
# The constraint keeps every later resolution on that torch.
.venv/bin/pip install -q -c scripts/constraints.txt -e ".[dev]"
# The int8 export of the bundled model (the default onnx backend), once per installation: no command and no
# data dir pays its minute later.
HF_HUB_OFFLINE=1 DO_NOT_TRACK=1 .venv/bin/python -m access_index.onnx_embedder
