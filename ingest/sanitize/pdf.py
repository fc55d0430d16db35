"""PDF: text a reader of the rendered page cannot see, judged by rendering.

The page is rendered as it is and once more with every text object made invisible. A glyph is visible
when, somewhere under its box, its ink moved the page toward the glyph's own colour by at least the
contrast a reader can see (perception.MIN_CONTRAST, per pixel pair). That one test covers CONTRAST
(white or background-coloured text, opacity, blend), OCCLUSION (a later opaque shape or image),
clipping, invisible render modes and switched-off layers together; the cause only names the finding.
Geometry covers the rest: POSITION (a glyph mostly outside the page's visible box, CropBox ∩ MediaBox)
and SIZE (an em under the legibility threshold, or letters squeezed together by the text matrix,
horizontal scaling or character spacing). Invisible text over an image with ink under it is kept:
that is the OCR layer of a scanned page. Hidden annotations and form fields are read from /Annots."""

from __future__ import annotations

import ctypes
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from numpy.typing import NDArray

from access_index.errors import SanitizeError
from ingest.sanitize.colors import luminance_of_levels
from ingest.sanitize.model import HiddenSpan
from ingest.sanitize.perception import (
    MIN_CONTRAST,
    Box,
    Principle,
    illegible,
    level_contrast,
    nominal_advance,
    outside,
)

RENDER_SCALE = 2.0  # 144 dpi: a 5 pt footnote glyph still spans several pixels
MAX_PIXELS = 8_000_000
MIN_INK_RUN = 3  # shorter no-ink runs are rendering noise (a thin glyph at a box edge), not hidden text
MIN_LINE_GLYPHS = 3  # a line needs this many glyphs before its measured advance says anything
_INVISIBLE_MODES = (3, 7)  # FPDF_TEXTRENDERMODE_INVISIBLE, _CLIP
_ANNOTATION_HIDDEN = 1 | 2 | 32  # /F flags Invisible, Hidden, NoView
# Luminance of each grey level, and for each pair of grey levels whether a reader sees the change: the
# per-pixel contrast test is a table lookup.
_LUMINANCE = np.array([luminance_of_levels(level, level, level) for level in range(256)]) + 0.05
_VISIBLE_CHANGE = np.maximum.outer(_LUMINANCE, _LUMINANCE) / np.minimum.outer(_LUMINANCE, _LUMINANCE) >= MIN_CONTRAST

_CAUSES: dict[str, Principle] = {
    "pdf_off_page": "position",
    "pdf_tiny_text": "size",
    "pdf_squeezed_text": "size",
    "pdf_clipped": "size",
    "pdf_low_contrast": "contrast",
    "pdf_transparent_text": "contrast",
    "pdf_covered": "occlusion",
    "pdf_invisible_render_mode": "formatting",
    "pdf_hidden_layer": "formatting",
}
_NOISY = ("pdf_covered", "pdf_low_contrast", "pdf_clipped")  # the causes MIN_INK_RUN applies to


@dataclass(frozen=True)
class _Glyph:
    index: int
    technique: str | None  # None: visible
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class _TextObject:
    """What a glyph's text object says about its display: render mode, layer, clip."""

    mode: int
    on_layer: bool
    clip: Box | None  # bounding box of its clip path, page space


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
        areas: list[Box] = []
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
                    area = _visible_area(page)
                    areas.append(area)
                    spans.extend(self._page(page, number + 1, area))
                finally:
                    page.close()
        finally:
            document.close()
        spans.extend(_annotations(path, areas))
        return spans

    def _page(self, page: Any, number: int, area: Box) -> list[HiddenSpan]:
        textpage = page.get_textpage()
        try:
            count = textpage.count_chars()
            if count <= 0:
                return []
            scale = self._page_scale(area)
            rendered = self._render(page, scale)
            objects: dict[int | None, _TextObject] = {}
            for text_object in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT]):
                objects[_address(text_object.raw)] = _describe(text_object.raw)
                pdfium_c.FPDFTextObj_SetTextRenderMode(text_object.raw, pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE)
            probe = _Probe(textpage.raw, rendered, self._render(page, scale), area, scale, objects)
            advances = _line_advances(textpage.raw, count)
            return _runs(textpage, [probe.glyph(i, advances.get(i)) for i in range(count)], number)
        finally:
            textpage.close()

    def _page_scale(self, area: Box) -> float:
        """The render scale, lowered for posters and drawings so one page never takes more than ~8 Mpx."""
        return min(self._scale, math.sqrt(MAX_PIXELS / max(1.0, area.area)))

    @staticmethod
    def _render(page: Any, scale: float) -> NDArray[np.int16]:
        bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=False)
        try:
            return _gray(bitmap.to_numpy())
        finally:
            bitmap.close()


def _visible_area(page: Any) -> Box:
    """What a viewer shows of the page: CropBox ∩ MediaBox, boxes inherited from /Pages resolved (as
    pdfium renders it). Box.top/bottom are PDF bottom/top here: y grows upward."""
    rect = pdfium_c.FS_RECTF()
    if not pdfium_c.FPDF_GetPageBoundingBox(page.raw, rect):
        width, height = page.get_size()
        return Box(0.0, 0.0, float(width), float(height))
    left, right = sorted((rect.left, rect.right))
    bottom, top = sorted((rect.bottom, rect.top))
    return Box(left, bottom, right, top)


def _describe(handle: Any) -> _TextObject:
    mode = int(pdfium_c.FPDFTextObj_GetTextRenderMode(handle))
    on_layer = False
    for position in range(max(0, pdfium_c.FPDFPageObj_CountMarks(handle))):
        mark = pdfium_c.FPDFPageObj_GetMark(handle, position)
        buffer = (ctypes.c_ushort * 32)()
        length = ctypes.c_ulong()
        if mark and pdfium_c.FPDFPageObjMark_GetName(mark, buffer, ctypes.sizeof(buffer), ctypes.byref(length)):
            name = bytes(buffer)[: max(0, length.value - 2)].decode("utf-16-le", "replace")
            on_layer = on_layer or name == "OC"
    return _TextObject(mode, on_layer, _clip_box(handle))


def _clip_box(handle: Any) -> Box | None:
    """The bounding box of a page object's clip path (the intersection of its paths' boxes), or None."""
    clip = pdfium_c.FPDFPageObj_GetClipPath(handle)
    if not clip:
        return None
    box: Box | None = None
    x, y = ctypes.c_float(), ctypes.c_float()
    for path in range(max(0, pdfium_c.FPDFClipPath_CountPaths(clip))):
        xs: list[float] = []
        ys: list[float] = []
        for segment in range(max(0, pdfium_c.FPDFClipPath_CountPathSegments(clip, path))):
            handle_segment = pdfium_c.FPDFClipPath_GetPathSegment(clip, path, segment)
            if handle_segment and pdfium_c.FPDFPathSegment_GetPoint(handle_segment, x, y):
                xs.append(x.value)
                ys.append(y.value)
        if xs:
            path_box = Box(min(xs), min(ys), max(xs), max(ys))
            box = path_box if box is None else box.intersection(path_box)
    return box


def _line_advances(raw: Any, count: int) -> dict[int, float]:
    """The measured average advance of every glyph's line (origin to origin, along the baseline), for
    lines of at least MIN_LINE_GLYPHS glyphs. Character spacing, word spacing, horizontal scaling and the
    text matrix all show up here, whatever operator produced them."""
    advances: dict[int, float] = {}
    line: list[tuple[int, float, float]] = []
    x, y = ctypes.c_double(), ctypes.c_double()

    def close() -> None:
        if len(line) >= MIN_LINE_GLYPHS:
            travelled = sum(math.hypot(b[1] - a[1], b[2] - a[2]) for a, b in itertools.pairwise(line))
            average = travelled / (len(line) - 1)
            for index, _, _ in line:
                advances[index] = average
        line.clear()

    for index in range(count):
        if pdfium_c.FPDFText_IsGenerated(raw, index) == 1 or pdfium_c.FPDFText_GetUnicode(raw, index) in (10, 13):
            close()
            continue
        pdfium_c.FPDFText_GetCharOrigin(raw, index, x, y)
        line.append((index, x.value, y.value))
    close()
    return advances


class _Probe:
    """Decides, glyph by glyph, whether a page's text can be seen (one instance per page; ctypes buffers reused)."""

    def __init__(
        self,
        textpage: Any,
        rendered: NDArray[np.int16],
        without_text: NDArray[np.int16],
        area: Box,
        scale: float,
        objects: dict[int | None, _TextObject],
    ) -> None:
        self._raw = textpage
        self._rendered = rendered
        self._without = without_text
        self._changed = _changed(rendered, without_text)
        self._area = area
        self._scale = scale
        self._objects = objects
        # Most pages draw all their text one way: then no per-glyph object lookup is needed.
        kinds = set(objects.values())
        self._single = next(iter(kinds)) if len(kinds) == 1 else None
        self._box = [ctypes.c_double() for _ in range(4)]
        self._loose = pdfium_c.FS_RECTF()
        self._matrix = pdfium_c.FS_MATRIX()
        self._rgba = [ctypes.c_uint() for _ in range(4)]

    def glyph(self, index: int, line_advance: float | None) -> _Glyph:
        raw = self._raw
        code = pdfium_c.FPDFText_GetUnicode(raw, index)
        if code == 0 or chr(code).isspace() or pdfium_c.FPDFText_IsGenerated(raw, index) == 1:
            return _Glyph(index, None, (0, 0, 0, 0))
        left, right, bottom, top = self._box
        pdfium_c.FPDFText_GetCharBox(raw, index, left, right, bottom, top)
        box = (left.value, bottom.value, right.value, top.value)
        pdfium_c.FPDFText_GetLooseCharBox(raw, index, self._loose)
        loose, area = self._loose, self._area
        inside = (
            area.left <= loose.left
            and loose.right <= area.right
            and area.top <= loose.bottom <= loose.top <= area.bottom
        )
        if not inside:  # the common case, a glyph well inside the page, needs no geometry
            glyph_box = Box(loose.left, loose.bottom, loose.right, loose.top)
            if outside(glyph_box if glyph_box.area > 0 else Box(*box), area):
                return _Glyph(index, "pdf_off_page", box)
        size = self._size(index, line_advance)
        if size is not None:
            return _Glyph(index, size, box)
        rows, columns = self._region(box)
        with_ink, without_ink = self._rendered[rows, columns], self._without[rows, columns]
        described = self._object(index)
        tones = self._tones(index, described.mode)
        if _inked(self._changed[rows, columns], with_ink, without_ink, tones):
            return _Glyph(index, None, box)
        invisible_mode = described.mode in _INVISIBLE_MODES
        if invisible_mode and _has_ink(without_ink):
            return _Glyph(index, None, box)  # an OCR layer over the scanned image of its words
        return _Glyph(index, self._why_no_ink(index, described, Box(*box), without_ink), box)

    def _size(self, index: int, line_advance: float | None) -> str | None:
        """SIZE: the em the reader sees (font size × text matrix × CTM) and how far each letter advances."""
        size = pdfium_c.FPDFText_GetFontSize(self._raw, index)
        matrix = self._matrix
        if not pdfium_c.FPDFText_GetMatrix(self._raw, index, matrix):
            return None
        vertical, horizontal = math.hypot(matrix.c, matrix.d), math.hypot(matrix.a, matrix.b)
        em = size * vertical
        if illegible(em):
            return "pdf_tiny_text"
        advance = line_advance if line_advance is not None else nominal_advance(em, horizontal / max(vertical, 1e-9))
        return "pdf_squeezed_text" if illegible(em, advance) else None

    def _object(self, index: int) -> _TextObject:
        if self._single is not None:
            return self._single
        found = self._objects.get(_address(pdfium_c.FPDFText_GetTextObject(self._raw, index)))
        return found or _TextObject(0, False, None)

    def _region(self, box: tuple[float, float, float, float]) -> tuple[slice, slice]:
        """The pixels under a glyph box, shrunk so a neighbour's ink at the edges does not count."""
        height, width = self._rendered.shape[0], self._rendered.shape[1]
        scale, area = self._scale, self._area
        x0, x1 = (box[0] - area.left) * scale, (box[2] - area.left) * scale
        y0, y1 = (area.bottom - box[3]) * scale, (area.bottom - box[1]) * scale
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

    def _why_no_ink(self, index: int, described: _TextObject, box: Box, without_ink: NDArray[np.int16]) -> str:
        """Why a glyph left no ink, for the report and the principle (all are removed alike)."""
        if described.mode in _INVISIBLE_MODES:
            return "pdf_invisible_render_mode"
        if described.clip is not None and outside(box, described.clip):
            return "pdf_clipped"
        r, g, b, a = self._rgba
        if described.mode in (0, 2, 4, 6) and pdfium_c.FPDFText_GetFillColor(self._raw, index, r, g, b, a):
            if a.value == 0:
                return "pdf_transparent_text"
            backdrop = float(np.median(without_ink))
            tone = (r.value * 30 + g.value * 59 + b.value * 11) / 100
            painted = tone * a.value / 255 + backdrop * (1 - a.value / 255)
            if level_contrast(painted, backdrop) < MIN_CONTRAST:
                return "pdf_low_contrast"  # its colour, alpha included, is the colour of what lies behind it
        if described.on_layer:
            return "pdf_hidden_layer"  # optional content a viewer does not show
        return "pdf_covered"  # a later shape or image, or translucent paint over it


def _changed(rendered: NDArray[np.int16], without_text: NDArray[np.int16]) -> NDArray[np.bool_]:
    """Pixels where the page's text changed the rendering by at least the contrast a reader sees (most
    pixels do not change at all, so only the changed ones are looked up)."""
    changed = np.zeros(rendered.shape, dtype=bool)
    moved = rendered != without_text
    changed[moved] = _VISIBLE_CHANGE[rendered[moved], without_text[moved]]
    return changed


def _inked(
    visible: NDArray[np.bool_], with_ink: NDArray[np.int16], without_ink: NDArray[np.int16], tones: list[int] | None
) -> bool:
    """Did the glyph's paint reach the page? Some pixel changed by a visible contrast, toward its colour."""
    if not visible.any():
        return False
    if tones is None:
        return bool(visible.any())  # a pattern or shading fill has no single colour: any visible change
    return any(bool((visible & (np.abs(without_ink - tone) > np.abs(with_ink - tone))).any()) for tone in tones)


def _address(handle: Any) -> int | None:
    return ctypes.cast(handle, ctypes.c_void_p).value if handle else None


def _has_ink(pixels: NDArray[np.int16]) -> bool:
    """Any visible contrast in a region of the text-free rendering (an image of words, a drawing)."""
    return level_contrast(int(pixels.max()), int(pixels.min())) >= MIN_CONTRAST


def _gray(array: NDArray[Any]) -> NDArray[np.int16]:
    if array.ndim == 3:
        array = array[:, :, :3].mean(axis=2) if array.shape[2] >= 3 else array[:, :, 0]
    return np.asarray(np.clip(array, 0, 255), dtype=np.int16)


def _runs(textpage: Any, glyphs: list[_Glyph], page: int) -> list[HiddenSpan]:
    """Consecutive hidden glyphs of one cause as spans (whitespace between them joins a run)."""
    spans: list[HiddenSpan] = []
    run: list[_Glyph] = []

    def close() -> None:
        if not run:
            return
        technique = run[0].technique or ""
        if technique in _NOISY and len(run) < MIN_INK_RUN:
            run.clear()
            return
        first, last = run[0].index, run[-1].index
        text = " ".join(textpage.get_text_range(first, last - first + 1).split())
        left = min(g.box[0] for g in run)
        bottom = min(g.box[1] for g in run)
        right = max(g.box[2] for g in run)
        top = max(g.box[3] for g in run)
        location = f"page {page}, box ({left:.0f}, {bottom:.0f}, {right:.0f}, {top:.0f}) pt"
        spans.append(HiddenSpan(technique, _CAUSES[technique], location, text, page=page))
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


def _annotations(path: Path, areas: list[Box]) -> list[HiddenSpan]:
    """Text of annotations and form fields a viewer does not display: FORMATTING (Invisible, Hidden or
    NoView flags), SIZE (no area) or POSITION (outside the page's visible box)."""
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
                x0, y0, x1, y1 = [float(v) for v in annotation.get("/Rect", [0, 0, 0, 0])]
                rect = Box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
                cause: tuple[str, Principle] | None = None
                if flags & _ANNOTATION_HIDDEN:
                    cause = ("pdf_hidden_annotation", "formatting")
                elif rect.right - rect.left < 1 or rect.bottom - rect.top < 1:
                    cause = ("pdf_hidden_annotation", "size")
                elif number <= len(areas) and outside(rect, areas[number - 1]):
                    cause = ("pdf_off_page_annotation", "position")
                if cause is not None:
                    subtype = str(annotation.get("/Subtype", "/Annot")).lstrip("/")
                    location = f"page {number}, annotation {position} ({subtype})"
                    spans.append(HiddenSpan(cause[0], cause[1], location, text, page=number, body=False))
    except (PyPdfError, ValueError, TypeError, KeyError) as error:
        raise SanitizeError(f"{path}: cannot read the PDF annotations: {error}") from error
    return spans
