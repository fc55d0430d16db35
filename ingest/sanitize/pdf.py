"""PDF: text a reader of the rendered page cannot see.

Visibility is decided by rendering: the page is rendered as it is and once more with every text object
made invisible. A glyph is visible when, somewhere under its box, the first rendering is closer to the
glyph's own colour than the text-free one: its ink reached the page. That one test catches white or
background-coloured text, text covered by a later opaque image or shape, clipped text, opacity 0,
render modes 3 and 7, switched-off optional-content layers, and hidden text drawn under other text,
together. Glyphs outside the crop box and tiny glyphs are caught by geometry. Invisible text over an
image with ink under it is kept: that is the OCR text layer of a scanned page. Hidden annotations and
form fields are read from the page's /Annots."""

from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from numpy.typing import NDArray

from access_index.errors import SanitizeError
from ingest.sanitize.model import HiddenSpan

RENDER_SCALE = 2.0  # 144 dpi: a 6pt footnote glyph still spans several pixels
INK_CONTRAST = 12  # grey levels (of 255): a 0.95-grey mark on white is about the faintest a reader notices
TINY_POINTS = 2.0  # glyph height (loose box) under which text is unreadable at any zoom a reader uses
MAX_PIXELS = 8_000_000
MIN_INK_RUN = 3  # shorter no-ink runs are rendering noise (a thin glyph at a box edge), not hidden text
_INVISIBLE_MODES = (3, 7)  # FPDF_TEXTRENDERMODE_INVISIBLE, _CLIP
_ANNOTATION_HIDDEN = 2 | 32  # /F flags Hidden and NoView


@dataclass(frozen=True)
class _Glyph:
    index: int
    technique: str | None  # None: visible
    box: tuple[float, float, float, float]


class PdfScanner:
    """Hidden text of a PDF file, page by page."""

    def __init__(self, scale: float = RENDER_SCALE) -> None:
        self._scale = scale

    def scan(self, path: Path) -> list[HiddenSpan]:
        """Hidden spans of the PDF at `path` (page numbers 1-based)."""
        try:
            document = pdfium.PdfDocument(str(path))
        except (pdfium.PdfiumError, OSError) as error:
            raise SanitizeError(f"{path}: cannot open the PDF for the hidden-text check: {error}") from error
        spans: list[HiddenSpan] = []
        try:
            for number in range(len(document)):
                page = document[number]
                if page.get_rotation():
                    # Glyph boxes are in unrotated page space: render in that space too (the file is never
                    # saved); the page is loaded again so that pdfium recomputes its size.
                    page.set_rotation(0)
                    page.close()
                    page = document[number]
                try:
                    spans.extend(self._page(page, number + 1))
                finally:
                    page.close()
        finally:
            document.close()
        spans.extend(_annotations(path))
        return spans

    def _page(self, page: Any, number: int) -> list[HiddenSpan]:
        textpage = page.get_textpage()
        try:
            count = textpage.count_chars()
            if count <= 0:
                return []
            scale = self._page_scale(page)
            rendered = self._render(page, scale)
            modes: dict[int | None, int] = {}
            for text_object in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT]):
                modes[_address(text_object.raw)] = pdfium_c.FPDFTextObj_GetTextRenderMode(text_object.raw)
                pdfium_c.FPDFTextObj_SetTextRenderMode(text_object.raw, pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE)
            probe = _Probe(textpage.raw, rendered, self._render(page, scale), page.get_cropbox(), scale, modes)
            return _runs(textpage, [probe.glyph(i) for i in range(count)], number)
        finally:
            textpage.close()

    def _page_scale(self, page: Any) -> float:
        """The render scale, lowered for posters and drawings so one page never takes more than ~8 Mpx."""
        width, height = page.get_size()
        area = max(1.0, float(width) * float(height))
        return min(self._scale, math.sqrt(MAX_PIXELS / area))

    @staticmethod
    def _render(page: Any, scale: float) -> NDArray[np.int16]:
        bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=False)
        try:
            return _gray(bitmap.to_numpy())
        finally:
            bitmap.close()


class _Probe:
    """Decides, glyph by glyph, whether a page's text left ink (one instance per page; ctypes buffers reused)."""

    def __init__(
        self,
        textpage: Any,
        rendered: NDArray[np.int16],
        without_text: NDArray[np.int16],
        crop: tuple[float, float, float, float],
        scale: float,
        modes: dict[int | None, int],
    ) -> None:
        self._raw = textpage
        self._rendered = rendered
        self._without = without_text
        self._crop = crop
        self._scale = scale
        self._modes = modes
        # Most pages use one render mode for all their text: then no per-glyph object lookup is needed.
        self._single_mode = next(iter(set(modes.values()))) if len(set(modes.values())) == 1 else None
        self._box = [ctypes.c_double() for _ in range(4)]
        self._loose = pdfium_c.FS_RECTF()
        self._rgba = [ctypes.c_uint() for _ in range(4)]

    def glyph(self, index: int) -> _Glyph:
        raw = self._raw
        code = pdfium_c.FPDFText_GetUnicode(raw, index)
        if code == 0 or chr(code).isspace() or pdfium_c.FPDFText_IsGenerated(raw, index) == 1:
            return _Glyph(index, None, (0, 0, 0, 0))
        left, right, bottom, top = self._box
        pdfium_c.FPDFText_GetCharBox(raw, index, left, right, bottom, top)
        box = (left.value, bottom.value, right.value, top.value)
        c_left, c_bottom, c_right, c_top = self._crop
        middle_x, middle_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        if not (c_left <= middle_x <= c_right and c_bottom <= middle_y <= c_top):
            return _Glyph(index, "pdf_off_page", box)
        pdfium_c.FPDFText_GetLooseCharBox(raw, index, self._loose)
        if self._loose.top - self._loose.bottom < TINY_POINTS:
            return _Glyph(index, "pdf_tiny_text", box)
        rows, columns = self._region(box)
        with_ink, without_ink = self._rendered[rows, columns], self._without[rows, columns]
        mode = self._mode(index)
        tones = self._tones(index, mode)
        if tones is None:
            # A pattern or shading fill has no single colour: any change the text made counts as ink.
            if int(np.abs(with_ink - without_ink).max()) >= INK_CONTRAST:
                return _Glyph(index, None, box)
            tones = []
        for tone in tones:
            # How much closer to the glyph's colour the page got where the glyph was painted.
            moved = np.abs(without_ink - tone) - np.abs(with_ink - tone)
            if int(moved.max()) >= INK_CONTRAST:
                return _Glyph(index, None, box)
        invisible_mode = mode in _INVISIBLE_MODES
        if invisible_mode and _has_ink(without_ink):
            return _Glyph(index, None, box)  # an OCR layer over the scanned image of its words
        return _Glyph(index, _why_no_ink(raw, index, invisible_mode), box)

    def _mode(self, index: int) -> int:
        if self._single_mode is not None:
            return self._single_mode
        return self._modes.get(_address(pdfium_c.FPDFText_GetTextObject(self._raw, index)), 0)

    def _region(self, box: tuple[float, float, float, float]) -> tuple[slice, slice]:
        """The pixels under a glyph box, shrunk so a neighbour's ink at the edges does not count."""
        height, width = self._rendered.shape[0], self._rendered.shape[1]
        scale, crop = self._scale, self._crop
        x0, x1 = (box[0] - crop[0]) * scale, (box[2] - crop[0]) * scale
        y0, y1 = (crop[3] - box[3]) * scale, (crop[3] - box[1]) * scale
        inset_x, inset_y = (x1 - x0) * 0.15, (y1 - y0) * 0.15
        ix0 = max(0, min(int(x0 + inset_x), width - 1))
        iy0 = max(0, min(int(y0 + inset_y), height - 1))
        ix1 = max(ix0 + 1, min(math.ceil(x1 - inset_x), width))
        iy1 = max(iy0 + 1, min(math.ceil(y1 - inset_y), height))
        return slice(iy0, iy1), slice(ix0, ix1)

    def _tones(self, index: int, mode: int) -> list[int] | None:
        """The grey levels the glyph paints with, as pdfium's grey rendering computes them: the fill colour
        in render modes that fill (0, 2, 4, 6), the stroke colour in those that stroke (1, 2, 5, 6).
        None when a colour cannot be read (pattern or shading)."""
        tones: list[int] = []
        r, g, b, a = self._rgba
        for modes, getter in (
            ((0, 2, 4, 6), pdfium_c.FPDFText_GetFillColor),
            ((1, 2, 5, 6), pdfium_c.FPDFText_GetStrokeColor),
        ):
            if mode not in modes:
                continue
            if not getter(self._raw, index, r, g, b, a):
                return None
            if a.value > 0:
                tones.append((r.value * 30 + g.value * 59 + b.value * 11) // 100)
        return tones


def _address(handle: Any) -> int | None:
    return ctypes.cast(handle, ctypes.c_void_p).value if handle else None


def _has_ink(pixels: NDArray[np.int16]) -> bool:
    """Any contrast at all in a region of the text-free rendering (an image of words, a drawing)."""
    return int(pixels.max()) - int(pixels.min()) >= INK_CONTRAST


def _gray(array: NDArray[Any]) -> NDArray[np.int16]:
    if array.ndim == 3:
        array = array[:, :, :3].mean(axis=2) if array.shape[2] >= 3 else array[:, :, 0]
    return np.asarray(array, dtype=np.int16)


def _why_no_ink(raw: Any, index: int, invisible_mode: bool) -> str:
    """The most likely reason a glyph left no ink, for the report (all are removed alike)."""
    if invisible_mode:
        return "pdf_invisible_render_mode"
    r, g, b, a = (ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint())
    if pdfium_c.FPDFText_GetFillColor(raw, index, r, g, b, a) and a.value == 0:
        return "pdf_transparent_text"
    if r.value > 230 and g.value > 230 and b.value > 230:
        return "pdf_background_color"
    return "pdf_no_ink"  # covered by a later shape or image, clipped away, on a hidden layer, or same colour


def _runs(textpage: Any, glyphs: list[_Glyph], page: int) -> list[HiddenSpan]:
    """Consecutive hidden glyphs of one technique as spans (whitespace between them joins a run)."""
    spans: list[HiddenSpan] = []
    run: list[_Glyph] = []

    def close() -> None:
        if not run:
            return
        technique = run[0].technique or ""
        if technique in ("pdf_no_ink", "pdf_background_color") and len(run) < MIN_INK_RUN:
            run.clear()
            return
        first, last = run[0].index, run[-1].index
        text = " ".join(textpage.get_text_range(first, last - first + 1).split())
        left = min(g.box[0] for g in run)
        bottom = min(g.box[1] for g in run)
        right = max(g.box[2] for g in run)
        top = max(g.box[3] for g in run)
        location = f"page {page}, box ({left:.0f}, {bottom:.0f}, {right:.0f}, {top:.0f}) pt"
        spans.append(HiddenSpan(technique, location, text, page=page))
        run.clear()

    for glyph in glyphs:
        if glyph.box == (0, 0, 0, 0):
            continue  # whitespace: neither starts nor ends a run
        if glyph.technique is None or (run and run[0].technique != glyph.technique):
            close()
        if glyph.technique is not None:
            run.append(glyph)
    close()
    return spans


def _annotations(path: Path) -> list[HiddenSpan]:
    """Text of annotations and form fields a viewer does not display (Hidden/NoView flags, no area)."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    spans: list[HiddenSpan] = []
    try:
        reader = PdfReader(str(path))
        for number, page in enumerate(reader.pages, start=1):
            annotations = page.get("/Annots")
            if annotations is None:
                continue
            for position, reference in enumerate(annotations.get_object()):
                annotation = reference.get_object()
                text = " ".join(
                    str(annotation.get(key, "")).strip() for key in ("/Contents", "/V", "/TU") if annotation.get(key)
                ).strip()
                if not text:
                    continue
                flags = int(annotation.get("/F", 0))
                rect = [float(v) for v in annotation.get("/Rect", [0, 0, 0, 0])]
                no_area = abs(rect[2] - rect[0]) < 1 or abs(rect[3] - rect[1]) < 1
                if flags & _ANNOTATION_HIDDEN or no_area:
                    subtype = str(annotation.get("/Subtype", "/Annot")).lstrip("/")
                    location = f"page {number}, annotation {position} ({subtype})"
                    spans.append(HiddenSpan("pdf_hidden_annotation", location, text, page=number, body=False))
    except (PyPdfError, ValueError, TypeError, KeyError) as error:
        raise SanitizeError(f"{path}: cannot read the PDF annotations: {error}") from error
    return spans
