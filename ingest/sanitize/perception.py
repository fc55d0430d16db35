"""What a reader at normal zoom can perceive: the five principles every format scanner applies.

Text is hidden when its SIZE (glyphs below one legibility threshold, a box or clip with no room for a
glyph), its CONTRAST (against what is really behind it, alpha composited), its POSITION (mostly outside
the page, slide, sheet window or viewport), OCCLUSION (mostly under an opaque object painted above
it) or its FORMATTING (a state or style that suppresses display) takes it away. The thresholds live
here, once, so that every format draws the line in the same place; a scanner only translates its
format's units and geometry into these calls (README.md has the principle × format table).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ingest.sanitize.colors import Rgba, luminance_of_levels

Principle = Literal["size", "contrast", "position", "occlusion", "formatting"]
PRINCIPLES: tuple[Principle, ...] = ("size", "contrast", "position", "occlusion", "formatting")

PX_PER_PT = 4 / 3  # CSS px at 96 dpi; normal zoom is 100 % (1 pt = 1/72 in on screen)

# SIZE. Below a 3 pt em (4 CSS px at 100 % zoom) the x-height is about 2 screen pixels: lower-case
# letters cannot be told apart. Legible fine print (5-8 pt footnotes, footers, legal text) is well above.
MIN_LEGIBLE_PT = 3.0
# Horizontally, text of average proportions advances about half an em per character. A glyph needs at
# least the advance of threshold-size text (1.5 pt: narrower, squeezed by a horizontal scale, letters are
# slivers), and letters that advance less than a quarter em overlap their neighbours by more than half
# (a condensed spacing, a negative character spacing): they merge into a bar.
AVERAGE_ADVANCE_EM = 0.5
MIN_ADVANCE_EM = 0.25
MIN_ADVANCE_PT = MIN_LEGIBLE_PT * AVERAGE_ADVANCE_EM

# CONTRAST. Below this WCAG contrast ratio a reader does not see the text (WCAG asks 4.5 for body text;
# 1.0 is none). 1.12 is #f0f0f0 on white: faint watermarks and captions are lighter than body text but
# still seen; #f5f5f5 on white (1.09) is not.
MIN_CONTRAST = 1.12

# POSITION and OCCLUSION. Text is hidden when less than half of it can be seen: a glyph mostly off the
# page, a text box mostly off the slide, a line mostly under a cover. A heading cut at the edge, a box
# sticking out of the slide or a stamp over part of a line leaves the text readable, and is kept.
MIN_VISIBLE_FRACTION = 0.5


def illegible(em_pt: float, advance_pt: float | None = None) -> bool:
    """SIZE: glyphs of this em height (points, at normal zoom) and average advance cannot be read."""
    if em_pt < MIN_LEGIBLE_PT:
        return True
    if advance_pt is None:
        return False
    return advance_pt < max(MIN_ADVANCE_PT, MIN_ADVANCE_EM * em_pt)


def nominal_advance(em_pt: float, width_scale: float = 1.0, spacing_pt: float = 0.0) -> float:
    """The average advance of text with a horizontal scale and extra letter spacing (points)."""
    return AVERAGE_ADVANCE_EM * em_pt * width_scale + spacing_pt


def contrast_ratio(foreground: Rgba, backdrop: Rgba) -> float:
    """WCAG contrast of `foreground` (alpha composited) on an opaque `backdrop`: 1.0 none, 21 black on white."""
    ink = foreground.over(backdrop)
    light, dark = sorted((ink.luminance(), backdrop.luminance()), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def unreadable(inks: Sequence[Rgba], backdrop: Rgba) -> bool:
    """CONTRAST: none of the text's inks (fill, outline, shadow) stands out from what is behind it."""
    return all(contrast_ratio(ink, backdrop) < MIN_CONTRAST for ink in inks)


def level_contrast(level_a: float, level_b: float) -> float:
    """The contrast ratio of two grey levels (0..255), e.g. two rendered pixels."""
    light, dark = sorted(
        (luminance_of_levels(level_a, level_a, level_a), luminance_of_levels(level_b, level_b, level_b))
    )[::-1]
    return (light + 0.05) / (dark + 0.05)


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in any one unit, `left < right` and `top < bottom` (y may point either way
    as long as every box of one check uses the same convention)."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def area(self) -> float:
        return max(0.0, self.right - self.left) * max(0.0, self.bottom - self.top)

    def intersection(self, other: Box) -> Box:
        return Box(
            max(self.left, other.left),
            max(self.top, other.top),
            min(self.right, other.right),
            min(self.bottom, other.bottom),
        )

    def moved(self, dx: float, dy: float) -> Box:
        return Box(self.left + dx, self.top + dy, self.right + dx, self.bottom + dy)


def visible_fraction(text: Box, area: Box) -> float:
    """How much of the text's box lies inside the visible area (a degenerate box counts by its edges)."""
    if text.area <= 0:
        inside = area.left <= (text.left + text.right) / 2 <= area.right
        return 1.0 if inside and area.top <= (text.top + text.bottom) / 2 <= area.bottom else 0.0
    return text.intersection(area).area / text.area


def outside(text: Box, area: Box) -> bool:
    """POSITION: less than half of the text lies inside the visible area."""
    return visible_fraction(text, area) < MIN_VISIBLE_FRACTION


def covered_fraction(text: Box, covers: Sequence[Box]) -> float:
    """How much of the text's box the union of `covers` hides (exact, by coordinate compression)."""
    if text.area <= 0 or not covers:
        return 0.0
    clipped = [box for cover in covers if (box := cover.intersection(text)).area > 0]
    if not clipped:
        return 0.0
    xs = sorted({text.left, text.right, *(b.left for b in clipped), *(b.right for b in clipped)})
    ys = sorted({text.top, text.bottom, *(b.top for b in clipped), *(b.bottom for b in clipped)})
    hidden = 0.0
    for x0, x1 in itertools.pairwise(xs):
        for y0, y1 in itertools.pairwise(ys):
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            if any(b.left <= cx <= b.right and b.top <= cy <= b.bottom for b in clipped):
                hidden += (x1 - x0) * (y1 - y0)
    return hidden / text.area


def occluded(text: Box, covers: Sequence[Box]) -> bool:
    """OCCLUSION: more than half of the text lies under opaque objects painted above it."""
    return covered_fraction(text, covers) > 1 - MIN_VISIBLE_FRACTION


def text_extent(
    box: Box,
    chars: int,
    em: float,
    *,
    align: Literal["start", "center", "end"] = "start",
    anchor: Literal["start", "center", "end"] = "start",
    line_height: float = 1.2,
    wrap: bool = True,
) -> Box:
    """Where the text of a box most likely lies when no layout engine is at hand: lines of `chars`
    characters at the average advance, wrapped at the box width, aligned and anchored as the format says.
    Office and HTML scanners use it to judge position and occlusion of text, not of its (often larger) box."""
    width = max(box.right - box.left, em)
    text_width = chars * AVERAGE_ADVANCE_EM * em
    lines = max(1, -(-text_width // width)) if wrap else 1
    used_width = min(width, text_width) if wrap else text_width
    height = lines * line_height * em
    offsets = {"start": 0.0, "center": 0.5, "end": 1.0}
    left = box.left + (width - used_width) * offsets[align]  # text wider than an unwrapped box spills both ways
    top = box.top + max(0.0, (box.bottom - box.top) - height) * offsets[anchor]
    return Box(left, top, left + used_width, top + height)
