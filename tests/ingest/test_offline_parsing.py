"""Parsing never reaches the network: unstructured's spaCy download path, telemetry, or anything else.

Every socket connection and spaCy model load is made to fail; then one real file of every format is
parsed. If a future unstructured finds a new way to the network (or to en_core_web_sm), this fails.
"""

from __future__ import annotations

import socket
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ingest.encoding import decode_text
from ingest.parsing import ParseError, parse_file
from tests.ingest.conftest import write_every_format


class NetworkUsed(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NetworkUsed(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    import spacy
    import unstructured.nlp.tokenize as tokenize

    monkeypatch.setattr(spacy, "load", refuse)
    monkeypatch.setattr(tokenize, "_download_with_timeout", refuse)
    # Drop cached results so classification really runs under the guard.
    for cached in ("_process_cached", "pos_tag", "word_tokenize", "_tokenize_for_cache"):
        getattr(tokenize, cached).cache_clear()


def test_every_format_parses_with_the_network_and_spacy_models_refused(
    tmp_path: Path, builders: ModuleType, no_network: None
) -> None:
    expected = write_every_format(tmp_path, builders)
    for relpath, phrase in expected.items():
        elements = parse_file(tmp_path / relpath, max_bytes=10_000_000)
        text = " ".join(element.text for element in elements)
        assert phrase.lower() in text.lower(), relpath


def test_plain_text_classification_still_finds_titles_and_sentences(tmp_path: Path, no_network: None) -> None:
    path = tmp_path / "memo.txt"
    path.write_text("Travel policy\n\nEmployees book trains for trips under five hours.\n", encoding="utf-8")
    categories = [(element.category, element.text) for element in parse_file(path, max_bytes=1_000)]
    assert categories == [
        ("Title", "Travel policy"),
        ("NarrativeText", "Employees book trains for trips under five hours."),
    ]


def test_unstructured_cannot_download_even_when_asked() -> None:
    from unstructured.nlp import tokenize

    from ingest.offline_nlp import OfflineNlpError, prepare_offline_parsing

    prepare_offline_parsing()
    with pytest.raises(OfflineNlpError, match="never downloads"):
        tokenize._install_spacy_model()


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Grüße aus Köln, das Café öffnet um acht.", "utf-8"),
        ("Grüße aus Köln, das Café öffnet um acht.", "utf-8-sig"),
        ("Grüße aus Köln, das Café öffnet um acht – “bald”.", "cp1252"),
        ("Munich office: the café in München serves Käsespätzle.", "latin-1"),
        ("Привет, это тестовый документ на русском языке о погоде.", "cp1251"),
    ],
)
def test_text_encodings_are_detected(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding)).text == text


def test_binary_bytes_are_undecodable(tmp_path: Path) -> None:
    path = tmp_path / "blob.txt"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ParseError, match="undecodable"):
        parse_file(path, max_bytes=1_000_000)
