"""The formats Clearance reads: one table from file suffix to format. Parsing (ingest/parsing.py) and the
hidden-text check (ingest/sanitize/pipeline.py) both look a file's format up here, so they cannot disagree
about which files exist."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

Format = Literal["text", "markdown", "html", "csv", "pdf", "docx", "pptx", "xlsx", "email"]

FORMATS: dict[str, Format] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".csv": "csv",
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",  # a workbook with macros: the macros are never run, the cells are read like .xlsx
    ".eml": "email",
}


def format_of(path: Path) -> Format | None:
    """The file's format by its suffix (case-insensitive), or None when Clearance does not read it."""
    return FORMATS.get(path.suffix.lower())


def is_supported(path: Path) -> bool:
    return format_of(path) is not None
