"""An ingest with nothing to embed never loads the model's weights: its name and dimension come from its
configuration files (the collection's model check needs no more), the weights from the first chunk to embed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from access_index.cli import main
from access_index.embedder import Embedder, LazyEmbedder, configured_model_info, open_embedder
from access_index.errors import EmbeddingError
from access_index.index.base import ModelInfo
from access_index.settings import load_settings
from tests.ingest.conftest import REPO
from tests.support.hashing_embedder import HashingEmbedder

BUNDLED = ModelInfo("all-MiniLM-L6-v2", 384)


def write_corpus(root: Path) -> None:
    for n in range(4):
        path = root / "public" / f"note-{n}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# Note {n}\n\nThe canteen serves soup number {n} on Mondays.\n", encoding="utf-8")


def test_the_bundled_models_files_give_its_name_and_dimension(tmp_path: Path) -> None:
    assert configured_model_info(load_settings(data_dir=tmp_path)) == BUNDLED


def test_a_model_the_files_do_not_describe_is_loaded_at_once(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, embedding_model=str(tmp_path / "no-model-here"))
    assert configured_model_info(settings) is None
    loaded = HashingEmbedder()
    assert open_embedder(settings, load=lambda: loaded) is loaded


def test_loaded_weights_must_match_what_the_files_said() -> None:
    lazy = LazyEmbedder(BUNDLED, lambda: HashingEmbedder(dimension=64, name=BUNDLED.name))
    with pytest.raises(EmbeddingError, match="configuration files say"):
        lazy.embed(["x"])


class CountingLoads:
    """Stands in for `load_embedder`: counts loads, returns a model that reports the bundled model's info."""

    def __init__(self) -> None:
        self.loads = 0

    def __call__(self, settings: object) -> Embedder:
        self.loads += 1
        return HashingEmbedder(dimension=BUNDLED.dimension, name=BUNDLED.name)


def test_an_unchanged_tree_never_loads_the_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loads = CountingLoads()
    monkeypatch.setattr("access_index.embedder.load_embedder", loads)
    root, manifest, data_dir = tmp_path / "share", tmp_path / "acl.yaml", tmp_path / "data"
    write_corpus(root)
    manifest.write_text('version: 1\nrules:\n  - paths: ["**"]\n    allow: [authenticated]\n', encoding="utf-8")
    args = ["--data-dir", str(data_dir), "ingest", str(root), "--acl", str(manifest), "--json"]

    assert main(args) == 0
    assert loads.loads == 1
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["counts"]["unchanged"] == 4
    assert loads.loads == 1, "a run with nothing to embed loaded the model"
    (root / "public" / "note-1.md").write_text("# Note 1\n\nSoup moved to Tuesdays.\n", encoding="utf-8")
    assert main(args) == 0
    assert loads.loads == 2


@pytest.mark.model
@pytest.mark.slow
def test_a_real_no_change_run_imports_no_model_code(tmp_path: Path) -> None:
    """A real `clearance ingest` process: after a first run with the real model (the default onnx backend), a
    second run over the same tree finishes without importing any model code at all."""
    root, manifest, data_dir = tmp_path / "share", tmp_path / "acl.yaml", tmp_path / "data"
    write_corpus(root)
    manifest.write_text('version: 1\nrules:\n  - paths: ["**"]\n    allow: [authenticated]\n', encoding="utf-8")
    args = ["--data-dir", str(data_dir), "ingest", str(root), "--acl", str(manifest), "--json"]
    probe = textwrap.dedent(
        f"""
        import json, sys
        from access_index.cli import main
        code = main({args!r})
        model_code = ("onnxruntime", "sentence_transformers", "torch", "transformers")
        print(json.dumps({{"code": code, "loaded": sorted(m for m in model_code if m in sys.modules)}}))
        """
    )
    runs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, done.stderr
        runs.append(json.loads(done.stdout.splitlines()[-1]))
    assert runs[0]["code"] == 0 and "onnxruntime" in runs[0]["loaded"]
    assert runs[1] == {"code": 0, "loaded": []}
