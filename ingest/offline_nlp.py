"""Keeps `unstructured` offline: no telemetry, and no spaCy model download.

unstructured 0.27 classifies text blocks (title vs. narrative) with `unstructured.nlp.tokenize`, whose
`_get_nlp()` loads `en_core_web_sm` and, when it is missing, downloads and pip-installs the wheel from
GitHub at run time. The model is not on PyPI, so instead of installing it we hand unstructured a
local pipeline built from spaCy itself: a blank English tokenizer, the rule-based sentencizer, and a
small verb tagger (the classifier only asks "how many sentences?" and "is there a verb?"). The
download function is replaced by one that raises, so a future unstructured that finds another way to
the network fails loudly here, and tests/ingest/test_offline_parsing.py fails with it.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from access_index.errors import OfflineNlpError

_OFFLINE_ENV = {
    "DO_NOT_TRACK": "1",  # unstructured's telemetry and analytics opt-out
    "SCARF_NO_ANALYTICS": "1",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
    "HF_HUB_OFFLINE": "1",
}

# Auxiliaries, modals and common verbs; plus the -ed/-ing/-ize endings below. Enough for unstructured's
# "does this block contain a verb?" test, which only separates sentences from headings.
_VERBS = frozenset(
    """
    is are was were be been being am do does did done have has had having will would shall should can could
    may might must need needs let lets make makes made get gets got give gives gave take takes took go goes
    went come comes came see sees saw know knows knew use uses find finds found tell tells told ask asks work
    works seem seems feel feels try tries call calls keep keeps provide provides include includes
    require requires receive receives pay pays send sends apply applies follow follows contact
    contacts approve approves review reviews submit submits read reads write writes run runs meet meets set sets
    """.split()  # noqa: SIM905 - a word list reads better as text
)
_VERB_ENDINGS = ("ed", "ing", "ize", "izes", "ise", "ises")


_lock = threading.Lock()
_installed = False


def prepare_offline_parsing() -> None:
    """Set the opt-out variables and install the local pipeline; idempotent, call before any partition."""
    global _installed
    for name, value in _OFFLINE_ENV.items():
        os.environ.setdefault(name, value)
    with _lock:
        if _installed:
            return
        try:
            from unstructured.nlp import tokenize
        except ImportError as error:
            raise OfflineNlpError(f"unstructured is not installed: {error}") from error
        hooks = ("_get_nlp", "_install_spacy_model", "_process_cached")
        missing = [name for name in hooks if not hasattr(tokenize, name)]
        if missing:
            # A newer unstructured changed its NLP loading: refuse rather than risk a run-time download.
            raise OfflineNlpError(
                f"unstructured.nlp.tokenize no longer has {', '.join(missing)}: this unstructured version is not "
                "supported offline; install the version pinned in pyproject.toml"
            )
        nlp = _build_pipeline()
        setattr(tokenize, "_get_nlp", lambda: nlp)  # noqa: B010 - replacing a module function, on purpose
        setattr(tokenize, "_install_spacy_model", _refuse_download)  # noqa: B010
        tokenize._process_cached.cache_clear()
        _installed = True


def _refuse_download() -> None:
    raise OfflineNlpError("unstructured tried to download a spaCy model; Clearance never downloads at run time")


def _build_pipeline() -> Any:
    import spacy
    from spacy.language import Language
    from spacy.tokens import Doc

    if not Language.has_factory("clearance_verb_tagger"):

        @Language.component("clearance_verb_tagger")
        def _tag_verbs(doc: Doc) -> Doc:
            for token in doc:
                lower = token.lower_
                if lower in _VERBS or (len(lower) > 4 and lower.endswith(_VERB_ENDINGS)):
                    token.tag_ = "VB"
            # A run of four or more words closed by . ! or ? is a sentence and has a verb even when the
            # word list does not know it ("Employees book trains."); headings rarely end that way.
            for sentence in doc.sents:
                words = [token for token in sentence if token.is_alpha]
                closed = sentence[-1].text in {".", "!", "?"}
                if closed and len(words) >= 4 and not any(token.tag_ == "VB" for token in words):
                    words[1].tag_ = "VB"
            return doc

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("clearance_verb_tagger")
    return nlp
