"""`serve` on an index built before BM25 vectors and IDF scopes: it answers at once, fills the vectors (from
the stored text) and then the scopes (from the stored ACL) in the background, and keyword search finds the
old chunks once that is done."""

from __future__ import annotations

import time
from pathlib import Path

from access_index.index import open_index
from tests.access_index.test_sparse_backfill import old_chunks, write_previous_layout
from tests.retrieval.conftest import api_client, api_settings
from tests.support.auth import bearer
from tests.support.hashing_embedder import HashingEmbedder
from tests.support.oidc_issuer import OidcIssuer


def test_serve_fills_bm25_vectors_of_an_older_index_while_answering(
    engine: str, data_dir: Path, embedder: HashingEmbedder, issuer: OidcIssuer
) -> None:
    settings = api_settings(data_dir, [issuer], engine=engine, default_tenant="acme")
    chunks = old_chunks(1200)
    client = write_previous_layout(settings, embedder, chunks)
    index = open_index(settings, role="test", client=client)
    token = bearer(issuer.token(preferred_username="alice"))
    salary = {c.document_id for c in chunks if "salary" in c.text.split()}
    try:
        with api_client(settings, index=index, embedder=embedder) as http:
            semantic = http.post("/v1/search", json={"query": "salary", "mode": "semantic"}, headers=token)
            assert semantic.status_code == 200 and semantic.json()["results"]  # answers before the fill ends
            deadline = time.monotonic() + 60
            # 1,200 vectors, then 1,200 scopes.
            while "clearance_sparse_backfill_chunks_total 2400.0" not in http.get("/metrics").text:
                assert time.monotonic() < deadline, "the BM25 backfill did not finish"
                time.sleep(0.05)
            response = http.post("/v1/search", json={"query": "salary", "mode": "keyword", "top_k": 50}, headers=token)
    finally:
        index.close()
    assert response.status_code == 200
    found = [r["document_id"] for r in response.json()["results"]]
    assert len(found) == min(50, len(salary)) and set(found) <= salary
