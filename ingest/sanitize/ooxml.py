"""Reading Office Open XML packages (docx, pptx) safely: no entities, no network, bounded parts."""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path

from lxml import etree

from access_index.errors import SanitizeError

MAX_PART_BYTES = 64 * 1024 * 1024  # a zip bomb part is refused rather than inflated

NS = {
    "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "p": "http://schemas.openxmlformats.org/presentationml/2006/main",
    "x": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
    "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
    "dc": "http://purl.org/dc/elements/1.1/",
    "ep": "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties",
    "op": "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties",
}
_PREFIX = {uri: prefix for prefix, uri in NS.items()}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)


def q(name: str) -> str:
    """`w:p` as lxml's `{namespace}p`."""
    prefix, _, local = name.partition(":")
    return f"{{{NS[prefix]}}}{local}"


class Package:
    """An OOXML zip opened for reading parts by name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as error:
            raise SanitizeError(f"{path}: not a readable Office file: {error}") from error
        self._names = set(self._zip.namelist())

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def xml(self, name: str) -> etree._Element | None:
        """The parsed part, or None when the package does not have it."""
        if name not in self._names:
            return None
        info = self._zip.getinfo(name)
        if info.file_size > MAX_PART_BYTES:
            raise SanitizeError(f"{self.path}: part {name} is {info.file_size} bytes, over the {MAX_PART_BYTES} limit")
        try:
            return etree.fromstring(self._zip.read(name), _PARSER)
        except (etree.XMLSyntaxError, zipfile.BadZipFile, OSError) as error:
            raise SanitizeError(f"{self.path}: part {name} is not valid XML: {error}") from error

    def read(self, name: str) -> bytes | None:
        """A binary part (an image), None when the package does not have it."""
        if name not in self._names:
            return None
        info = self._zip.getinfo(name)
        if info.file_size > MAX_PART_BYTES:
            raise SanitizeError(f"{self.path}: part {name} is {info.file_size} bytes, over the {MAX_PART_BYTES} limit")
        try:
            return self._zip.read(name)
        except (zipfile.BadZipFile, OSError) as error:
            raise SanitizeError(f"{self.path}: part {name} cannot be read: {error}") from error

    def related(self, part: str) -> dict[str, str]:
        """Relationship id -> target part name for one part."""
        folder, file = posixpath.split(part)
        rels = self.xml(posixpath.join(folder, "_rels", f"{file}.rels"))
        targets: dict[str, str] = {}
        if rels is None:
            return targets
        for rel in rels.iter(q("rel:Relationship")):
            target = rel.get("Target", "")
            if rel.get("TargetMode") == "External" or not target:
                continue
            resolved = (
                target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            )
            targets[rel.get("Id", "")] = resolved
        return targets

    def related_by_type(self, part: str, suffix: str) -> list[str]:
        """Targets of this part's relationships whose type ends with `suffix` (e.g. "/notesSlide")."""
        folder, file = posixpath.split(part)
        rels = self.xml(posixpath.join(folder, "_rels", f"{file}.rels"))
        if rels is None:
            return []
        return [
            posixpath.normpath(posixpath.join(folder, rel.get("Target", "")))
            for rel in rels.iter(q("rel:Relationship"))
            if rel.get("Type", "").endswith(suffix) and rel.get("TargetMode") != "External"
        ]


def xml_path(element: etree._Element) -> str:
    """`/w:document/w:body/w:p[3]/w:r[2]`: where to find an element with any XML tool."""
    parts: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        tag = etree.QName(node)
        name = f"{_PREFIX.get(tag.namespace or '', 'x')}:{tag.localname}"
        parent = node.getparent()
        if parent is not None:
            same = [child for child in parent if child.tag == node.tag]
            if len(same) > 1:
                name += f"[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/" + "/".join(reversed(parts))


def text_of(element: etree._Element, text_tag: str) -> str:
    """All text of the `text_tag` descendants (w:t or a:t), tabs and breaks as spaces."""
    pieces: list[str] = []
    for node in element.iter(q(text_tag), q("w:tab"), q("w:br"), q("a:br")):
        if node.tag == q(text_tag):
            pieces.append(node.text or "")
        else:
            pieces.append(" ")
    return "".join(pieces)
