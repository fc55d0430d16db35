"""The `onnx` embedding backend: the same sentence-transformers model, exported locally to ONNX with
int8 weights and run by onnxruntime: one query in about a quarter of torch's time on CPU, batches at about
torch's rate (docs/benchmarks.md, "ONNX int8 recipe").

sentence-transformers' own ONNX backend needs `optimum`, which would pin an older transformers;
this module does the three steps itself, from the model files on this machine (never a download):
  1. export the transformer with torch.onnx (fp32), once per installation: into this installation's model
     cache (`<sys.prefix>/share/clearance/models`, where scripts/setup.sh and the image build put it by
     running `python -m access_index.onnx_embedder`), or, when that cannot be written, `<data dir>/models/`;
  2. quantize every MatMul's weights to int8 per channel (the recipe chosen by retrieval quality: see
     RECIPES below);
  3. check the result against the fp32 torch model on a fixed sample and refuse it below
     MIN_COSINE: a broken export must never reach an index.
Tokenization uses the model's tokenizer.json through `tokenizers` (the same ids as transformers, without
importing torch); mean pooling and L2 normalization are done here in numpy, as the model's Pooling/Normalize
modules do.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from access_index.errors import EmbeddingError
from access_index.index.base import ModelInfo

log = logging.getLogger("clearance.model")
Vectors = np.ndarray[Any, np.dtype[np.float32]]
# Catches a broken export, not a slightly worse one: every MatMul per-channel int8 reaches 0.990 on the sample,
# per-tensor int8 0.92. Whether a recipe is good enough is judged by nDCG@10 (bench/quality_bench.py --recipes).
MIN_COSINE = 0.98
EXPORT_VERSION = "1"
# Which MatMul weights become int8 (bench/quality_bench.py --recipes judges each by nDCG@10 against fp32):
# "all" quantizes every MatMul; "ffn-out-fp32" keeps the feed-forward output projections fp32. On SciFact (2,000
# documents, 809 queries) both stay within 0.5 nDCG@10 points of fp32 (-0.32 and -0.12), and "all" embeds
# 19-38% more chunks per second, so it is shipped.
Recipe = Literal["ffn-out-fp32", "all"]
RECIPES: tuple[Recipe, ...] = ("ffn-out-fp32", "all")
DEFAULT_RECIPE: Recipe = "all"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")

# A fixed, varied sample for the quality check at export time: short and long, several domains.
QUALITY_SAMPLE = (
    "Employees receive 27 days of paid annual leave per calendar year.",
    "The board approved exclusive negotiations to acquire Globex Robotics for up to 42 million euros.",
    "How do I reset my password?",
    "Revenue for the third quarter was 14.2 million euros, up 18 percent year over year.",
    "If the primary PostgreSQL node is down for more than two minutes, promote the read replica.",
    "Lunch",
    "Die Kantine öffnet um halb zwölf und schließt um vierzehn Uhr.",
    "Visitors park in the orange zone next to the loading dock; badges are issued at reception.",
    " ".join(
        f"Paragraph {n}: the warehouse in zone {n} ships parcels to customers every weekday morning." for n in range(20)
    ),
    "SELECT count(*) FROM orders WHERE status = 'delayed' AND region = 'EU';",
)


class OnnxEmbedder:
    """An int8 ONNX export of a mean-pooling sentence-transformers model, run with onnxruntime."""

    def __init__(
        self,
        name: str,
        model_dir: Path,
        cache_dirs: Sequence[Path],
        batch_size: int = 64,
        recipe: Recipe = DEFAULT_RECIPE,
        min_cosine: float = MIN_COSINE,
    ) -> None:
        self.batch_size = batch_size
        config = _read_model_config(model_dir)
        self.max_tokens = config.max_tokens
        self.info = ModelInfo(name=name, dimension=config.dimension)
        self.model_path = prepared_export(name, model_dir, cache_dirs, recipe, min_cosine)
        self.quality: dict[str, Any] = json.loads(self.model_path.with_suffix(".json").read_text(encoding="utf-8"))
        try:
            import onnxruntime as ort  # type: ignore[import-untyped]

            options = ort.SessionOptions()
            options.intra_op_num_threads = max(1, os.cpu_count() or 1)
            self._session = ort.InferenceSession(str(self.model_path), options, providers=["CPUExecutionProvider"])
            # The model's own fast tokenizer through `tokenizers` itself: transformers' AutoTokenizer would import
            # torch (seconds and hundreds of MB per process) for the same ids.
            self._tokenizer = _load_tokenizer(model_dir, max_tokens=self.max_tokens)
            # A second instance for counting (no truncation, no padding, no special tokens).
            self._counter = _load_tokenizer(model_dir, max_tokens=None)
        except Exception as error:
            raise EmbeddingError(f"cannot load the ONNX model {self.model_path}: {error}") from error
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.info.dimension), dtype=np.float32)
        # Batches of similar length waste little compute on padding.
        order = np.argsort([len(text) for text in texts], kind="stable")
        result = np.zeros((len(texts), self.info.dimension), dtype=np.float32)
        with self._lock:
            for start in range(0, len(texts), self.batch_size):
                rows = order[start : start + self.batch_size]
                result[rows] = self._run([texts[i] for i in rows])
        return result

    def count_tokens(self, text: str) -> int:
        with self._count_lock:
            return len(self._counter.encode(text, add_special_tokens=False).ids)

    def _run(self, texts: list[str]) -> Vectors:
        encoded = self._tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([item.ids for item in encoded], dtype=np.int64),
            "attention_mask": np.array([item.attention_mask for item in encoded], dtype=np.int64),
            "token_type_ids": np.array([item.type_ids for item in encoded], dtype=np.int64),
        }
        hidden = self._session.run(None, feeds)[0]
        return mean_pool_normalize(hidden, feeds["attention_mask"])


def _load_tokenizer(model_dir: Path, max_tokens: int | None) -> Any:
    """The model's tokenizer.json: truncated to `max_tokens` and padded to the longest text of a batch (as
    sentence-transformers calls it), or, with None, neither (for counting)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    padding = tokenizer.padding or {}
    tokenizer.no_truncation()
    tokenizer.no_padding()
    if max_tokens is not None:
        tokenizer.enable_truncation(max_length=max_tokens)
        tokenizer.enable_padding(pad_id=padding.get("pad_id", 0), pad_token=padding.get("pad_token", "[PAD]"))
    return tokenizer


def mean_pool_normalize(hidden: Any, attention_mask: Any) -> Vectors:
    mask = attention_mask[..., None].astype(np.float32)
    pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
    norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return np.asarray(pooled / norms, dtype=np.float32)


class _ModelConfig:
    def __init__(self, max_tokens: int, dimension: int) -> None:
        self.max_tokens = max_tokens
        self.dimension = dimension


def _read_model_config(model_dir: Path) -> _ModelConfig:
    """Only BERT-style models with mean pooling are exported; anything else is refused, not approximated."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        pooling_dir = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
        pooling = json.loads((model_dir / pooling_dir / "config.json").read_text(encoding="utf-8"))
        bert = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, StopIteration) as error:
        raise EmbeddingError(
            f"the ONNX backend needs a sentence-transformers model directory with modules.json and a Pooling "
            f"module ({model_dir}: {error}); set CLEARANCE_EMBEDDING_BACKEND=torch for this model"
        ) from error
    other_modes = [key for key, value in pooling.items() if key.startswith("pooling_mode_") and value]
    if other_modes != ["pooling_mode_mean_tokens"]:
        raise EmbeddingError(
            f"the ONNX backend supports mean pooling only; {model_dir} uses {other_modes}: "
            "set CLEARANCE_EMBEDDING_BACKEND=torch"
        )
    return _ModelConfig(int(bert.get("max_seq_length") or 256), int(pooling["word_embedding_dimension"]))


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(name).name)[:64] or "model"


def _fingerprint(model_dir: Path, recipe: Recipe) -> str:
    """Changes when the weights, the config, the recipe or this exporter change: a stale export is never reused."""
    digest = hashlib.sha256(f"{EXPORT_VERSION}/{recipe}".encode())
    for name in ("config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json"):
        path = model_dir / name
        if path.exists():
            digest.update(path.read_bytes())
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        stat = weights.stat()
        digest.update(f"{weights.name}:{stat.st_size}".encode())
    return digest.hexdigest()[:16]


def installation_cache() -> Path:
    """This installation's model cache: every data dir served by this installation shares its exports."""
    return Path(sys.prefix) / "share" / "clearance" / "models"


def prepared_export(
    name: str,
    model_dir: Path,
    cache_dirs: Sequence[Path],
    recipe: Recipe = DEFAULT_RECIPE,
    min_cosine: float = MIN_COSINE,
) -> Path:
    """The int8 export of `model_dir`: the first of `cache_dirs` that holds it, else exported now (once: under
    a lock, so processes starting together wait for one export) into the first of them that can be written."""
    file_name = f"{_slug(name)}-{_fingerprint(model_dir, recipe)}.int8.onnx"
    for directory in cache_dirs:
        if (directory / file_name).exists():
            return directory / file_name
    writable = [directory for directory in cache_dirs if _can_write(directory)]
    if not writable:
        shown = ", ".join(str(directory) for directory in cache_dirs)
        raise EmbeddingError(
            f"the int8 model of {name} is not prepared and none of {shown} can be written: run "
            "`python -m access_index.onnx_embedder` with this installation's Python as a user who may write it, "
            "or set CLEARANCE_EMBEDDING_BACKEND=torch"
        )
    target = writable[0] / file_name
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(file_name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            log.info("exporting the int8 model of %s into %s (once; about a minute)", name, target.parent)
            max_tokens = _read_model_config(model_dir).max_tokens
            export_int8(model_dir, target, max_tokens, recipe, min_cosine)
    return target


def _can_write(directory: Path) -> bool:
    """Whether `directory` exists and is writable, or could be made in its nearest existing parent."""
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            return candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK)
    return False


def export_int8(
    model_dir: Path, target: Path, max_tokens: int, recipe: Recipe = DEFAULT_RECIPE, min_cosine: float = MIN_COSINE
) -> dict[str, Any]:
    """Export, quantize and quality-check `model_dir` into `target` (+ a .json with the measured cosine).
    `min_cosine` below MIN_COSINE is for benchmarks that judge a recipe by retrieval quality instead."""
    try:
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise EmbeddingError(f"the ONNX backend needs onnxruntime and onnx installed: {error}") from error
    target.parent.mkdir(parents=True, exist_ok=True)
    fp32 = target.with_name(target.name + ".fp32.tmp")
    int8 = target.with_name(target.name + ".tmp")
    try:
        model = SentenceTransformer(str(model_dir), device="cpu")
        first: Any = model[0]
        transformer = first.auto_model.eval()
        sample = model.tokenizer(["export sample", "a second, longer export sample"], padding=True, return_tensors="pt")

        class _Hidden(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.inner(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                ).last_hidden_state

        axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, "last_hidden_state")}
        # The tracer warns about branches it freezes (causal masking, padding offsets); for a bidirectional
        # encoder they are constant, and the quality check below runs the export on varied lengths anyway.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Hidden(transformer),
                tuple(sample[name] for name in INPUTS),
                str(fp32),
                input_names=list(INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        import onnx

        graph = onnx.load(str(fp32)).graph
        keep_fp32 = [
            node.name
            for node in graph.node
            if recipe == "ffn-out-fp32"
            and node.op_type == "MatMul"
            and node.name.endswith("/output/dense/MatMul")
            and "attention" not in node.name
        ]
        quantize_dynamic(
            str(fp32),
            str(int8),
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=keep_fp32,
        )
        quality = _compare(model, int8, max_tokens, recipe)
        if quality["cosine_min"] < min_cosine:
            raise EmbeddingError(
                f"the int8 export of {model_dir} reaches cosine {quality['cosine_min']:.4f} to fp32 on the sample, "
                f"below {min_cosine}: set CLEARANCE_EMBEDDING_BACKEND=torch"
            )
        target.with_suffix(".json").write_text(json.dumps(quality, indent=2), encoding="utf-8")
        os.replace(int8, target)
        return quality
    except EmbeddingError:
        raise
    except Exception as error:
        raise EmbeddingError(f"cannot export {model_dir} to ONNX: {error}") from error
    finally:
        for leftover in (fp32, int8):
            leftover.unlink(missing_ok=True)


def _compare(model: Any, onnx_path: Path, max_tokens: int, recipe: Recipe) -> dict[str, Any]:
    import onnxruntime as ort

    reference = np.asarray(model.encode(list(QUALITY_SAMPLE), normalize_embeddings=True), dtype=np.float32)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    encoded = model.tokenizer(
        list(QUALITY_SAMPLE), padding=True, truncation=True, max_length=max_tokens, return_tensors="np"
    )
    feeds = {name: encoded[name].astype(np.int64) for name in INPUTS}
    vectors = mean_pool_normalize(session.run(None, feeds)[0], feeds["attention_mask"])
    cosines = (vectors * reference).sum(axis=1)
    return {
        "cosine_min": round(float(cosines.min()), 5),
        "cosine_mean": round(float(cosines.mean()), 5),
        "sample_size": len(QUALITY_SAMPLE),
        "quantization": "dynamic int8, per-channel MatMul weights"
        + ("; FFN output projections fp32" if recipe == "ffn-out-fp32" else "; every MatMul"),
    }


def main() -> int:
    """`python -m access_index.onnx_embedder`: export the bundled model to int8 into this installation's cache
    now (scripts/setup.sh and the image build run it), so no command and no data dir pays the export later."""
    from access_index.embedder import bundled_model_path, offline_environment, quiet_transformers
    from access_index.settings import DEFAULT_EMBEDDING_MODEL

    offline_environment()
    quiet_transformers()
    path = prepared_export(DEFAULT_EMBEDDING_MODEL, bundled_model_path(), [installation_cache()])
    print(f"int8 model ready: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
