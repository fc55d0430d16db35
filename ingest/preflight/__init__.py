"""Cheap facts about a file, checked before any parser sees it: the first of ingest's two defences against
parser bombs (the second is the worker process and its hard limits, ingest/isolation/). Each check reads what
the format declares, or a streamed and capped look at it, and raises LimitExceededError naming the limit:

    docx, pptx, xlsx   the zip directory: parts, inflated size and ratio; then paragraphs (Word,
                       PowerPoint), rows and the area a sheet spans (Excel), streamed      (ooxml.py)
    pdf                every stream inflated with a capped decompressor                     (pdf.py)
    csv                columns, and the area rows × columns                                 (text.py)
    markdown           how deep lists and quotes nest                                       (text.py)
    text, html, email  nothing beyond the file size: their parsers are linear in it, and lxml caps
                       HTML nesting itself

A file that is not what its suffix says (a broken zip, a PDF without streams) passes: the parser then says
what is wrong with it in its own words. The checks run inside the worker process, under its limits too.
"""

from __future__ import annotations

from pathlib import Path

from ingest.formats import format_of
from ingest.limits import ParseLimits
from ingest.preflight.ooxml import check_package
from ingest.preflight.pdf import check_pdf
from ingest.preflight.text import check_csv, check_markdown


def preflight(path: Path, limits: ParseLimits) -> None:
    """Raise LimitExceededError when the file at `path` would cost more than `limits` to parse."""
    kind = format_of(path)
    if kind in ("docx", "pptx", "xlsx"):
        check_package(path, kind, limits)
    elif kind == "pdf":
        check_pdf(path, limits)
    elif kind == "csv":
        check_csv(path)
    elif kind == "markdown":
        check_markdown(path)
