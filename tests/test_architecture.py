"""docs/architecture.md matches the code: the files it names exist, and imports go the way it draws."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("access_index", "ingest", "acl_sync", "retrieval")
# Which of Clearance's packages each package may import (docs/architecture.md, "direction").
ALLOWED = {
    "access_index": {"access_index"},
    "ingest": {"access_index", "ingest"},
    "acl_sync": {"access_index", "acl_sync"},
    "retrieval": {"access_index", "acl_sync", "retrieval"},
}


def _imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_go_one_way(package: str) -> None:
    wrong = {
        str(path.relative_to(ROOT)): sorted(_imported_packages(path) - ALLOWED[package])
        for path in sorted((ROOT / package).rglob("*.py"))
        if _imported_packages(path) - ALLOWED[package]
    }
    assert not wrong, f"imports against the direction in docs/architecture.md: {wrong}"


def test_every_file_the_architecture_page_names_exists() -> None:
    text = (ROOT / "docs/architecture.md").read_text(encoding="utf-8")
    named = {
        match
        for match in re.findall(r"`([A-Za-z_][\w./-]*)`", text)
        if "/" in match and (match.endswith((".py", "/", ".md", ".sh")))
    }
    assert len(named) > 40
    missing = sorted(name for name in named if not (ROOT / name).exists())
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"
