"""Fixtures for the sanitizer tests: generated documents, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.hidden_text.registry import fixtures


@pytest.fixture(scope="session")
def fixture_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hidden_text")


@pytest.fixture(scope="session")
def built(fixture_dir: Path) -> dict[str, Path]:
    """Every variant-0 fixture written to disk, by technique name."""
    return {fixture.technique: fixture.build(fixture_dir) for fixture in fixtures(0)}
