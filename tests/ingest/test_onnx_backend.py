"""The ONNX int8 backend ingest uses for throughput: exported locally, and as good as fp32 on real text."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from access_index import onnx_embedder
from access_index.embedder import bundled_model_path, load_embedder
from access_index.onnx_embedder import MIN_COSINE, OnnxEmbedder, installation_cache, prepared_export
from access_index.settings import DEFAULT_EMBEDDING_MODEL, load_settings

pytestmark = [pytest.mark.model, pytest.mark.slow]

TEXTS = [
    "Every employee receives 27 days of paid annual leave per calendar year.",
    "The routing engine returned errors for 42 minutes during the morning peak.",
    "Kantine: Käsespätzle am Donnerstag.",
    "Q3 revenue 14.2 MEUR (+18% YoY)",
]


def test_onnx_is_the_default_backend(tmp_path: Path) -> None:
    assert load_settings(data_dir=tmp_path).embedding_backend == "onnx"


def test_int8_export_is_cached_and_close_to_fp32(tmp_path: Path) -> None:
    onnx = load_embedder(load_settings(data_dir=tmp_path))
    torch = load_embedder(load_settings(data_dir=tmp_path, embedding_backend="torch"))

    assert onnx.info == torch.info
    assert onnx.max_tokens == torch.max_tokens
    cosines = (onnx.embed(TEXTS) * torch.embed(TEXTS)).sum(axis=1)
    assert float(cosines.min()) >= MIN_COSINE
    assert np.allclose(np.linalg.norm(onnx.embed(TEXTS), axis=1), 1.0, atol=1e-5)
    assert [onnx.count_tokens(t) for t in TEXTS] == [torch.count_tokens(t) for t in TEXTS]
    # One export per installation (scripts/setup.sh made it), shared by every data dir: none in this one.
    assert isinstance(onnx, OnnxEmbedder)
    assert onnx.model_path.parent == installation_cache()
    assert not (tmp_path / "models").exists()
    # Another data dir reuses it instead of exporting again.
    mtime = onnx.model_path.stat().st_mtime
    again = load_embedder(load_settings(data_dir=tmp_path / "other"))
    assert isinstance(again, OnnxEmbedder) and again.model_path == onnx.model_path
    assert onnx.model_path.stat().st_mtime == mtime


def test_the_export_is_looked_up_in_order_and_made_where_it_can_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found: the first cache that holds the file is used as is. Not found: exported into the first cache that
    can be written (one that cannot be, like an installation owned by another user, is passed over), once."""
    model_dir = bundled_model_path()
    prepared = prepared_export(DEFAULT_EMBEDDING_MODEL, model_dir, [installation_cache()])
    first, second = tmp_path / "first", tmp_path / "second"
    second.mkdir()
    shutil.copy(prepared, second / prepared.name)
    assert prepared_export(DEFAULT_EMBEDDING_MODEL, model_dir, [first, second]) == second / prepared.name

    exports: list[Path] = []

    def copy_export(source: Path, target: Path, *args: object) -> None:  # the export itself is tested above
        exports.append(target)
        shutil.copy(prepared, target)

    monkeypatch.setattr(onnx_embedder, "export_int8", copy_export)
    blocked = tmp_path / "installation"
    blocked.write_text("a file where the installation's cache would be: nothing can be made under it")
    caches = [blocked / "models", tmp_path / "data" / "models"]
    made = prepared_export(DEFAULT_EMBEDDING_MODEL, model_dir, caches)
    assert made == tmp_path / "data" / "models" / prepared.name
    assert prepared_export(DEFAULT_EMBEDDING_MODEL, model_dir, caches) == made
    assert exports == [made]


def test_the_tokenizer_gives_the_ids_transformers_gives_without_importing_torch(tmp_path: Path) -> None:
    """The onnx backend tokenizes with the model's tokenizer.json through `tokenizers` alone: the same ids,
    attention masks, type ids and counts as transformers' AutoTokenizer (what sentence-transformers uses), on
    texts that truncate, pad, normalize and split oddly; and a process that loads it never imports torch."""
    from transformers import AutoTokenizer

    texts = [
        *TEXTS,
        "",
        "x" * 3000,
        " ".join(["word"] * 400),
        "naïve café ﬁle Ⅻ ＡＢＣ",
        "INC-20431 §4.2 ✓ 日本語のテキスト\u200b and tabs\tand\nlines",
    ]
    onnx = load_embedder(load_settings(data_dir=tmp_path))
    assert isinstance(onnx, OnnxEmbedder)
    reference = AutoTokenizer.from_pretrained(str(bundled_model_path()), local_files_only=True)
    expected = reference(texts, padding=True, truncation=True, max_length=onnx.max_tokens, return_tensors="np")
    ours = onnx._tokenizer.encode_batch(texts)
    assert expected["input_ids"].tolist() == [item.ids for item in ours]
    assert expected["attention_mask"].tolist() == [item.attention_mask for item in ours]
    assert expected["token_type_ids"].tolist() == [item.type_ids for item in ours]
    reference.model_max_length = 1 << 30
    assert [onnx.count_tokens(text) for text in texts] == [
        len(reference.encode(text, add_special_tokens=False)) for text in texts
    ]

    probe = (
        "import sys; from pathlib import Path; from access_index.embedder import load_embedder; "
        "from access_index.settings import load_settings; "
        f"load_embedder(load_settings(data_dir=Path({str(tmp_path)!r}))).embed(['hello']); "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True)
    assert done.stdout.strip() == "False"
