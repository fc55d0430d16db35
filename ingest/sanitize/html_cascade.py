"""The CSS cascade of an HTML document as a default screen applies it: stylesheet rules matched to
elements (media queries evaluated, interaction states skipped), `!important`, specificity and order,
inline styles, presentational attributes, and the ::before/::after boxes rules give elements."""

from __future__ import annotations

import re
from dataclasses import dataclass

import soupsieve
from bs4 import BeautifulSoup
from bs4.element import Tag

from ingest.sanitize.css import media_matches, parse_declarations, parse_stylesheet

INLINE = (1, 0, 0, 0)  # a style attribute outranks every selector
_INTERACTION = re.compile(r":(?:hover|focus|focus-within|focus-visible|active|visited|target|checked)\b")
_PSEUDO_ELEMENT = re.compile(r"::?(before|after)\s*$")
_SUBJECT = re.compile(r"(?P<name>[a-zA-Z][\w-]*|\*)?(?P<rest>(?:[.#][\w-]+)*)")
_FONT_SIZES = {
    "1": "x-small",
    "2": "small",
    "3": "medium",
    "4": "large",
    "5": "x-large",
    "6": "xx-large",
    "7": "xxx-large",
}


class _TagIndex:
    """Elements by name, class and id, so a rule is only matched against elements that could be its subject."""

    def __init__(self, soup: BeautifulSoup) -> None:
        self._soup = soup
        self._all: list[Tag] = list(soup.find_all(True))
        self._by_name: dict[str, list[Tag]] = {}
        self._by_class: dict[str, list[Tag]] = {}
        self._by_id: dict[str, list[Tag]] = {}
        for tag in self._all:
            self._by_name.setdefault(tag.name, []).append(tag)
            classes = tag.get("class")
            for name in classes if isinstance(classes, list) else []:
                self._by_class.setdefault(name, []).append(tag)
            ident = tag.get("id")
            if isinstance(ident, str):
                self._by_id.setdefault(ident, []).append(tag)

    def select(self, selector: str) -> list[Tag]:
        """The elements `selector` matches (soupsieve decides; the index only narrows the candidates)."""
        compounds = re.split(r"\s*[\s>+~]\s*", selector.strip())
        subject = _SUBJECT.fullmatch(compounds[-1])
        if subject is None:
            return list(self._soup.select(selector))
        candidates = self._narrowest(subject)
        first = _SUBJECT.fullmatch(compounds[0])
        if len(compounds) > 1 and first is not None and first.group("rest") and not re.search(r"[+~]", selector):
            # Descendant and child combinators: the subject must sit inside an element the first part matches.
            inside: dict[int, Tag] = {}
            for root in self._narrowest(first):
                for tag in root.find_all(True):
                    inside[id(tag)] = tag
            candidates = [tag for tag in candidates if id(tag) in inside]
        compiled = soupsieve.compile(selector)
        return [tag for tag in candidates if compiled.match(tag)]

    def _narrowest(self, compound: re.Match[str]) -> list[Tag]:
        """The smallest index list that holds every element the compound selector could match."""
        candidates = self._all
        name = compound.group("name")
        if name and name != "*":
            candidates = self._by_name.get(name.lower(), [])
        for part in re.findall(r"[.#][\w-]+", compound.group("rest")):
            table = self._by_class if part[0] == "." else self._by_id
            narrowed = table.get(part[1:], [])
            if len(narrowed) < len(candidates):
                candidates = narrowed
        return candidates


@dataclass(frozen=True)
class Declared:
    important: bool
    weight: tuple[int, int, int, int]
    order: int
    name: str
    value: str


def declared(weight: tuple[int, int, int, int], order: int, name: str, value: str) -> Declared:
    important = value.endswith("!important")
    return Declared(important, weight, order, name, value.removesuffix("!important").strip())


def specificity(selector: str) -> tuple[int, int, int, int]:
    """CSS specificity (inline, ids, classes/attributes/pseudo-classes, elements) of one selector."""
    bare = re.sub(r"\([^)]*\)", "", selector)
    ids = len(re.findall(r"#[\w-]+", bare))
    classes = len(re.findall(r"\.[\w-]+|\[[^\]]*\]|(?<!:):[\w-]+", bare))
    elements = len(re.findall(r"(?:^|[\s>+~])[a-zA-Z][\w-]*|::[\w-]+", bare))
    return (0, ids, classes, elements)


class Cascade:
    """Each element's declared style (one dict per element, computed once), and its pseudo-element boxes."""

    def __init__(self, soup: BeautifulSoup) -> None:
        self._styles: dict[int, list[Declared]] = {}
        self._pseudo: dict[int, list[tuple[str, dict[str, str]]]] = {}
        self._computed: dict[int, dict[str, str]] = {}
        styles = [
            style for style in soup.find_all("style")
            if not isinstance(style.get("media"), str) or media_matches(str(style.get("media")))
        ]  # fmt: skip
        if styles:
            self._match(soup, styles)

    def _match(self, soup: BeautifulSoup, styles: list[Tag]) -> None:
        index = _TagIndex(soup)
        for style in styles:
            for rule in parse_stylesheet(style.get_text()):
                if _INTERACTION.search(rule.selector):
                    continue  # interaction states do not hide the resting text
                pseudo = _PSEUDO_ELEMENT.search(rule.selector)
                selector = rule.selector[: pseudo.start()] if pseudo else rule.selector
                if "::" in selector or not selector.strip():
                    continue
                try:
                    matches = index.select(selector)
                except Exception:  # noqa: S112 - soupsieve rejects selectors it does not know; they are skipped
                    continue
                weight = specificity(rule.selector)
                for tag in matches:
                    if pseudo:
                        entries = [declared(weight, i, n, v) for i, (n, v) in enumerate(rule.declarations)]
                        self._pseudo.setdefault(id(tag), []).append((pseudo.group(1), _winners(entries)))
                        continue
                    own = self._styles.setdefault(id(tag), [])
                    for name, value in rule.declarations:
                        own.append(declared(weight, len(own), name, value))

    def declarations(self, tag: Tag) -> dict[str, str]:
        """The cascade for one element: !important first, then specificity (inline highest), then order."""
        known = self._computed.get(id(tag))
        if known is not None:
            return known
        entries = list(self._styles.get(id(tag), []))
        inline = tag.get("style")
        if isinstance(inline, str):
            for name, value in parse_declarations(inline):
                entries.append(declared(INLINE, len(entries), name, value))
        result = _winners(entries)
        for attribute, name in (("bgcolor", "background-color"), ("color", "color")):
            presentational = tag.get(attribute)
            if (
                isinstance(presentational, str)
                and name not in result
                and (attribute == "bgcolor" or tag.name == "font")
            ):
                result[name] = presentational.lower()
        size = tag.get("size")
        if tag.name == "font" and isinstance(size, str) and "font-size" not in result:
            result["font-size"] = _FONT_SIZES.get(size.strip(), "medium")
        for attribute in ("width", "height"):
            given = tag.get(attribute)
            if isinstance(given, str) and attribute not in result and tag.name in ("td", "table", "div", "img"):
                result[attribute] = given if given.strip().endswith("%") else given.strip() + "px"
        self._computed[id(tag)] = result
        return result

    def pseudo_elements(self, tag: Tag) -> list[tuple[str, dict[str, str]]]:
        """("before" or "after", declarations) for each rule giving the element a pseudo-element."""
        return self._pseudo.get(id(tag), [])


def _winners(entries: list[Declared]) -> dict[str, str]:
    return {entry.name: entry.value for entry in sorted(entries, key=lambda e: (e.important, e.weight, e.order))}
