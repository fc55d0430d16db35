"""The repo's example-document builders (examples/build_examples.py), loaded by file path: examples/ is
a folder of scripts, not a package. bench/ingest_bench.py keeps its own copy of this loader (it runs as
a script, without the repo root on sys.path)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

BUILD_EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "build_examples.py"


def load_builders() -> ModuleType:
    """A fresh module object for build_examples.py (write_pdf, write_docx, smuggle, build, ...)."""
    spec = importlib.util.spec_from_file_location("acme_builders", BUILD_EXAMPLES)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
