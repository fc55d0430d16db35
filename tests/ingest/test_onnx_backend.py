"""The ONNX int8 backend ingest uses for throughput: exported locally, and as good as fp32 on real text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from access_index.embedder import load_embedder
from access_index.onnx_embedder import MIN_COSINE
from access_index.settings import load_settings

pytestmark = [pytest.mark.model, pytest.mark.slow]

TEXTS = [
    "Every employee receives 27 days of paid annual leave per calendar year.",
    "The routing engine returned errors for 42 minutes during the morning peak.",
    "Kantine: Käsespätzle am Donnerstag.",
    "Q3 revenue 14.2 MEUR (+18% YoY)",
]


def test_int8_export_is_cached_and_close_to_fp32(tmp_path: Path) -> None:
    onnx = load_embedder(load_settings(data_dir=tmp_path, embedding_backend="onnx"))
    torch = load_embedder(load_settings(data_dir=tmp_path, embedding_backend="torch"))

    assert onnx.info == torch.info
    assert onnx.max_tokens == torch.max_tokens
    cosines = (onnx.embed(TEXTS) * torch.embed(TEXTS)).sum(axis=1)
    assert float(cosines.min()) >= MIN_COSINE
    assert np.allclose(np.linalg.norm(onnx.embed(TEXTS), axis=1), 1.0, atol=1e-5)
    assert [onnx.count_tokens(t) for t in TEXTS] == [torch.count_tokens(t) for t in TEXTS]
    exported = list((tmp_path / "models").glob("*.int8.onnx"))
    assert len(exported) == 1
    # A second load reuses the export instead of redoing it.
    mtime = exported[0].stat().st_mtime
    load_embedder(load_settings(data_dir=tmp_path, embedding_backend="onnx"))
    assert exported[0].stat().st_mtime == mtime
