"""Links a person can open (access_index/links.py, SourceRecord.link): which bases are usable, how a file's path
becomes a link under its source's base, and that the base lives in the source record, the manifest and the
settings with a message naming where a bad one came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from access_index.errors import ConfigError, ManifestError
from access_index.links import check_uri_base, public_link
from access_index.manifest import load_manifest
from access_index.settings import Settings, load_settings
from access_index.sources import SourceRecord, list_sources, save_source

BASE = "https://intranet.acme.example/share/"


@pytest.mark.parametrize(
    "base",
    [
        "https://intranet.acme.example/share/",
        "http://10.0.0.5:8080/",
        "https://[2001:db8::1]/docs/",
        "https://wiki.example.com/a%20b/",
        "HTTPS://Intranet.Example/x/",
    ],
)
def test_absolute_http_bases_ending_with_a_slash_are_usable(base: str) -> None:
    assert check_uri_base(base, "--uri-base") == base


@pytest.mark.parametrize(
    ("base", "why"),
    [
        ("https://intranet.acme.example/share", "end with '/'"),
        ("https://intranet.acme.example", "end with '/'"),
        ("intranet.acme.example/share/", "scheme"),
        ("/share/", "scheme"),
        ("file:///srv/share/", "scheme"),
        ("javascript://x/", "scheme"),
        ("ftp://files.example/", "scheme"),
        ("https:///share/", "host"),
        ("https://user:secret@intranet.example/", "credentials"),
        ("https://token@intranet.example/", "credentials"),
        ("https://intranet.example/share/?sig=1", "query"),
        ("https://intranet.example/share/?", "query"),
        ("https://intranet.example/share/#top", "fragment"),
        ("https://intranet.example:99999/", "out of range"),
        ("https://intranet.example:http/", "port"),
        (" https://intranet.example/", "spaces"),
        ("https://intranet.example/a b/", "spaces"),
        ("https://intranet.example/\n/", "control"),
    ],
)
def test_other_bases_are_refused_naming_where_they_came_from(base: str, why: str) -> None:
    with pytest.raises(ConfigError) as raised:
        check_uri_base(base, "--uri-base")
    message = str(raised.value)
    assert message.startswith("--uri-base: ") and why in message and "https://" in message


@pytest.mark.parametrize(
    ("relpath", "link"),
    [
        ("finance/budget-2027.xlsx", "finance/budget-2027.xlsx"),
        ("reports 2027/budget #1.md", "reports%202027/budget%20%231.md"),
        ("a?b/c%20d.md", "a%3Fb/c%2520d.md"),  # a literal '%20' in a name stays those three characters
        ("über/naïve.txt", "%C3%BCber/na%C3%AFve.txt"),
        ("x/..md", "x/..md"),
        ("semi;colon/@at/+plus&amp=.md", "semi%3Bcolon/%40at/%2Bplus%26amp%3D.md"),
    ],
)
def test_each_segment_of_the_path_is_percent_encoded(relpath: str, link: str) -> None:
    assert public_link(BASE, relpath) == BASE + link


def test_a_name_cannot_leave_the_base_or_change_its_host() -> None:
    """Whatever a file is called, its link stays under the base: no '?', '#', '//' or '\\' can take effect."""
    for name in ["#frag", "?q=1", "\\..\\evil", "@evil.example", "%2e%2e", "http:", "a:b"]:
        link = public_link(BASE, f"dir/{name}")
        assert link.startswith(BASE + "dir/")
        tail = link[len(BASE) :]
        assert not set("?#\\@") & set(tail) and "//" not in tail, link


def test_a_record_links_documents_under_its_roots_only(tmp_path: Path) -> None:
    root, other = tmp_path / "share", tmp_path / "other"
    record = SourceRecord("docs", "acme", (str(root), str(other)), str(tmp_path / "acl.yaml"), uri_base=BASE)
    held = (root / "hr" / "pay slip.pdf").as_uri()
    assert record.link("docs/hr/pay slip.pdf", held) == BASE + "hr/pay%20slip.pdf"
    # Another root of the same source: ids are relative to it, and so is the link.
    assert record.link("docs/x.md", (other / "x.md").as_uri()) == BASE + "x.md"
    # Indexed from elsewhere (an older layout): the record says nothing about it, so the file URI stays.
    stray = (tmp_path / "elsewhere" / "hr" / "pay slip.pdf").as_uri()
    assert record.link("docs/hr/pay slip.pdf", stray) == stray
    assert SourceRecord("docs", "acme", (str(root),), "/m.yaml").link("docs/hr/pay slip.pdf", held) == held
    assert record.file_link(root / "hr" / "pay slip.pdf") == BASE + "hr/pay%20slip.pdf"
    assert record.file_link(tmp_path / "elsewhere" / "a.md") is None


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


def test_the_base_is_kept_in_the_source_record(settings: Settings, tmp_path: Path) -> None:
    record = SourceRecord("docs", "acme", (str(tmp_path / "share"),), str(tmp_path / "acl.yaml"), uri_base=BASE)
    save_source(settings, record)
    assert list_sources(settings) == [record]
    path = settings.paths.source_record("acme", "docs")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["uri_base"] = "https://user:pw@intranet.example/"  # edited by hand
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        list_sources(settings)
    assert str(path) in str(raised.value) and "credentials" in str(raised.value)


def test_the_manifest_may_give_the_base_and_a_bad_one_names_its_line(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(f'version: 1\nuri_base: "{BASE}"\nrules:\n  - {{paths: ["**"], allow: [authenticated]}}\n')
    assert load_manifest(good).uri_base == BASE
    bad = tmp_path / "bad.yaml"
    bad.write_text('version: 1\nuri_base: "https://intranet.example/share?x=1"\nrules: []\n')
    with pytest.raises(ManifestError) as raised:
        load_manifest(bad)
    assert f"{bad}:2:" in str(raised.value) and "'uri_base'" in str(raised.value)
    delegating = tmp_path / "keycloak.yaml"
    delegating.write_text(f'version: 1\nsource: keycloak\nuri_base: "{BASE}"\n')
    assert load_manifest(delegating).uri_base == BASE  # a source whose ACLs come from the IAM links the same way
    typo = tmp_path / "typo.yaml"
    typo.write_text(f'version: 1\nurl_base: "{BASE}"\nrules:\n  - {{paths: ["**"], allow: [authenticated]}}\n')
    with pytest.raises(ManifestError, match="unknown key 'url_base'"):
        load_manifest(typo)


def test_the_variable_is_checked_at_start_and_empty_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARANCE_URI_BASE", "")
    assert load_settings().uri_base is None
    monkeypatch.setenv("CLEARANCE_URI_BASE", BASE)
    assert load_settings().uri_base == BASE
    monkeypatch.setenv("CLEARANCE_URI_BASE", "intranet.example/share/")
    with pytest.raises(ConfigError, match=r"CLEARANCE_URI_BASE: .*--uri-base.*scheme"):
        load_settings()
