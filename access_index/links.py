"""Links a person can open: a source may map its root(s) to a public base URL, and a search result's
`source.uri` is then `<base><path relative to the root>`, each segment percent-encoded; without a base it stays
the `file:` URI of the file ingest read.

The base is part of the source record (access_index/sources.py); `serve` derives each result's link from the
record when it answers (retrieval/source_links.py), so a new base reaches every chunk already indexed without
re-embedding or rewriting a payload. The chunk's own `uri` keeps the file location, which ingest and acl-sync
compare against the recorded roots (`SourceRecord.holds`, `Scope.covers`).
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from access_index.errors import ConfigError


def check_uri_base(value: str, where: str) -> str:
    """`value` if it is an absolute http(s) URL ending with '/' and without credentials, query or fragment;
    ConfigError naming `where` (the flag, variable or manifest key that gave it) otherwise."""
    problem = uri_base_problem(value)
    if problem is not None:
        raise ConfigError(f"{where}: {value!r} is not a usable link base ({problem}): {BASE_FIX}")
    return value


BASE_FIX = (
    "give an absolute http(s) URL of the source's root that ends with '/', e.g. https://intranet.example.com/share/"
)


def uri_base_problem(value: str) -> str | None:
    """What makes `value` unusable as a link base, or None when it is usable."""
    if value != value.strip() or any(ord(character) < 0x21 or ord(character) == 0x7F for character in value):
        return "it contains spaces or control characters"
    try:
        parts = urlsplit(value)
        port = parts.port  # a port that is not a number in range raises here
    except ValueError as error:
        return f"its host or port cannot be read: {error}"
    if parts.scheme not in ("http", "https"):
        return "the scheme must be http or https"
    if not parts.hostname:
        return "it names no host"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "it must not carry credentials"
    if port == 0:
        return "port 0"
    if parts.query or "?" in value:
        return "it must not have a query"
    if parts.fragment or "#" in value:
        return "it must not have a fragment"
    if not parts.path.endswith("/"):
        return "it must end with '/', so that paths are appended below it"
    return None


def public_link(base: str, relpath: str) -> str:
    """`base` followed by `relpath` (POSIX, relative to the source's root), each segment percent-encoded as
    UTF-8, so a name with '#', '?', '%' or spaces stays one path segment of the link."""
    return base + "/".join(quote(segment, safe="") for segment in relpath.split("/"))
