"""File → unstructured elements, offline. Each format's partitioner is imported only when needed.

Failures a user can act on (empty, too large, corrupt or encrypted PDF, undecodable, no text) raise
`ParseError` with a short reason; anything else a parser throws is mapped to `ParseError` too, so one
bad file never stops a batch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from access_index.errors import ParseError, UndecodableError
from ingest.encoding import decode_text
from ingest.formats import Format, format_of
from ingest.offline_nlp import prepare_offline_parsing

Elements = list[Any]


def _txt(path: Path) -> Elements:
    from unstructured.partition.text import partition_text

    return list(partition_text(text=_decoded(path), metadata_filename=str(path)))


def _md(path: Path) -> Elements:
    from unstructured.partition.md import partition_md

    return list(partition_md(text=_decoded(path), metadata_filename=str(path)))


def _html(path: Path) -> Elements:
    from unstructured.partition.html import partition_html

    return list(partition_html(text=_decoded(path), metadata_filename=str(path)))


def _csv(path: Path) -> Elements:
    from unstructured.partition.csv import partition_csv

    decoded = decode_text(path.read_bytes())
    return list(partition_csv(filename=str(path), encoding=decoded.encoding, infer_table_structure=False))


def _pdf(path: Path) -> Elements:
    """The text layer, read with pdfminer: one element per text box, with its page number.

    unstructured's partition_pdf imports its layout-model package even for the "fast" strategy, and that
    package pulls torchvision and model downloads; reading the text layer directly is the fast strategy
    without them. Boxes are classified (title, narrative, list item) by unstructured's own text rules.
    """
    _check_pdf(path)
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextContainer
    from unstructured.documents.elements import ElementMetadata
    from unstructured.partition.text import element_from_text

    elements: Elements = []
    for page_number, page in enumerate(extract_pages(str(path), laparams=LAParams()), start=1):
        for box in page:
            if not isinstance(box, LTTextContainer):
                continue
            text = " ".join(box.get_text().split())
            if not text:
                continue
            element = element_from_text(text)
            element.metadata = ElementMetadata(filename=path.name, page_number=page_number)
            elements.append(element)
    return elements


def _docx(path: Path) -> Elements:
    from unstructured.partition.docx import partition_docx

    return list(partition_docx(filename=str(path), infer_table_structure=False))


def _pptx(path: Path) -> Elements:
    from unstructured.partition.pptx import partition_pptx

    return list(partition_pptx(filename=str(path), infer_table_structure=False))


def _xlsx(path: Path) -> Elements:
    from unstructured.partition.xlsx import partition_xlsx

    return list(partition_xlsx(filename=str(path), infer_table_structure=False))


def _eml(path: Path) -> Elements:
    from unstructured.partition.email import partition_email

    # Attachments are separate documents with their own ACL question; the body is what is indexed.
    return list(partition_email(filename=str(path), process_attachments=False))


_PARSER_MODULES = (
    *(f"unstructured.partition.{name}" for name in ("text", "md", "html", "csv", "docx", "pptx", "xlsx", "email")),
    "pdfminer.high_level",
    "pypdfium2",
)

PARSERS: dict[Format, Callable[[Path], Elements]] = {
    "text": _txt,
    "markdown": _md,
    "html": _html,
    "csv": _csv,
    "pdf": _pdf,
    "docx": _docx,
    "pptx": _pptx,
    "xlsx": _xlsx,
    "email": _eml,
}


def load_parsers() -> None:
    """Import every format's parser now, not at its first file: the worker process (ingest/isolation/) does
    this before it takes files, so that no file's time limit pays for an import."""
    for module in _PARSER_MODULES:
        importlib.import_module(module)
    prepare_offline_parsing()


def parse_file(path: Path, max_bytes: int) -> Elements:
    """The file's elements with text; ParseError with the reason when there is nothing to index."""
    kind = format_of(path)
    if kind is None:
        raise ParseError(f"unsupported file type {path.suffix or '(none)'!r}")
    parser = PARSERS[kind]
    size = path.stat().st_size
    if size == 0:
        raise ParseError("empty file")
    if size > max_bytes:
        raise ParseError(f"too large: {size} bytes > {max_bytes} (CLEARANCE_MAX_FILE_BYTES)")
    prepare_offline_parsing()
    try:
        elements = parser(path)
    except ParseError:
        raise
    except UndecodableError as error:
        raise ParseError(f"undecodable: {error}") from error
    except Exception as error:  # parsers raise anything from zipfile.BadZipFile to KeyError on bad input
        raise ParseError(f"cannot parse as {path.suffix.lower()}: {type(error).__name__}: {error}"[:300]) from error
    with_text = [element for element in elements if (element.text or "").strip()]
    if not with_text:
        raise ParseError("no text (empty document, or a scanned PDF without a text layer)")
    return with_text


def _decoded(path: Path) -> str:
    text = decode_text(path.read_bytes()).text
    if not text.strip():
        raise ParseError("empty file (whitespace only)")
    return text


def _check_pdf(path: Path) -> None:
    """pdfium tells an encrypted PDF from a corrupt one; pdfminer would only say it found no text."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as error:
        message = str(error)
        if "password" in message.lower():
            raise ParseError("encrypted PDF (password protected)") from error
        raise ParseError(f"corrupt PDF: {message}") from error
    try:
        if len(document) == 0:
            raise ParseError("corrupt PDF: no pages")
    finally:
        document.close()
