#!/usr/bin/env bash
# The README's main job: set up, build and ingest examples/, serve them in dev mode, and show that two
# users asking the same question get different answers. Keeps serving until Ctrl-C.
#   bash scripts/demo.sh            (CLEARANCE_PORT=8001 bash scripts/demo.sh for another port)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DO_NOT_TRACK=1
export CLEARANCE_DATA_DIR=${CLEARANCE_DATA_DIR:-./.clearance-demo}
export CLEARANCE_DEV_MODE=true                       # trusts `clearance token`; binds loopback only
export CLEARANCE_DIRECTORY_FILE=examples/directory.yaml
export CLEARANCE_DEFAULT_TENANT=acme                 # the tenant of examples/acl.yaml
export CLEARANCE_ACL_SYNC_INTERVAL=${CLEARANCE_ACL_SYNC_INTERVAL:-60}
PORT=${CLEARANCE_PORT:-8000}
URL="http://127.0.0.1:${PORT}"

echo "== building the example documents"
python examples/build_examples.py

echo "== ingesting examples/acme (idempotent: a second run skips unchanged files)"
status=0
clearance ingest examples/acme --acl examples/acl.yaml --source acme || status=$?
if [ "$status" -gt 1 ]; then
  echo "demo: ingest failed (exit $status)" >&2
  exit "$status"
fi

echo "== syncing the directory (examples/directory.yaml)"
clearance acl-sync --once >/dev/null

echo "== minting development tokens for alice (engineering) and hannah (HR)"
ALICE=$(clearance token --user alice)
HANNAH=$(clearance token --user hannah)

echo "== starting clearance serve on ${URL}"
clearance serve --port "$PORT" 2>"${CLEARANCE_DATA_DIR}/serve.log" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT
trap 'echo; echo "stopping"; exit 0' INT TERM

python - "$URL" <<'PY'
import sys, time
import httpx

url = sys.argv[1]
for _ in range(240):
    try:
        if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
            sys.exit(0)
    except httpx.HTTPError:
        pass
    time.sleep(0.5)
sys.exit("demo: the service did not become ready; see $CLEARANCE_DATA_DIR/serve.log")
PY

search() {  # search USER TOKEN QUERY
  python - "$URL" "$1" "$2" "$3" <<'PY'
import sys
import httpx

url, user, token, query = sys.argv[1:]
response = httpx.post(
    f"{url}/v1/search", json={"query": query, "top_k": 5}, headers={"Authorization": f"Bearer {token}"}, timeout=30
)
print(f"\n$ search as {user}: {query!r}  -> HTTP {response.status_code}")
if response.status_code != 200:
    print(response.text)
    sys.exit(1)
for result in response.json()["results"]:
    text = " ".join(result["text"].split())[:90]
    print(f"  {result['score']:.3f}  {result['document_id']:<45} {text}")
PY
}

search alice "$ALICE" "salary and bonus payments"
search hannah "$HANNAH" "salary and bonus payments"

cat <<TXT

Same question, different answers: each caller only ever sees chunks their identity may read.
Serving ${URL} (docs at ${URL}/docs). Try:
  TOKEN=\$(CLEARANCE_DEV_MODE=true CLEARANCE_DATA_DIR=${CLEARANCE_DATA_DIR} clearance token --user frank)
  curl -s ${URL}/v1/search -H "Authorization: Bearer \$TOKEN" -H 'content-type: application/json' -d '{"query":"budget"}'
Press Ctrl-C to stop.
TXT
wait "$SERVER"
