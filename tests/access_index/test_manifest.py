"""The ACL manifest: first matching rule wins, and every mistake is reported with its line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from access_index.document_acl import DocumentAcl
from access_index.errors import ManifestError
from access_index.manifest import load_manifest
from access_index.principals import parse_principal

VALID = """\
version: 1
tenant: acme
rules:
  - paths: ["hr/**"]
    allow: ["group:/hr", "role:hr-admin"]
    deny: ["user:Mallory"]
    labels: {classification: confidential}
  - paths: ["**/*.md", "notes/?.txt"]
    allow: ["authenticated"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acl.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_first_matching_rule_wins(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, VALID))
    assert manifest.tenant == "acme"
    hr = manifest.rule_for("hr/handbook.md")
    assert hr is not None
    assert hr.allow == {parse_principal("group:/hr"), parse_principal("role:hr-admin")}
    assert hr.deny == {parse_principal("user:mallory")}
    assert dict(hr.labels) == {"classification": "confidential"}
    public = manifest.rule_for("README.md")
    assert public is not None
    assert public.allow == {parse_principal("authenticated")}
    assert manifest.rule_for("docs/deep/page.md") is public
    assert manifest.rule_for("notes/a.txt") is public
    assert manifest.rule_for("notes/ab.txt") is None
    assert manifest.rule_for("hrx/file.txt") is None
    assert manifest.rule_for("finance/q3.pdf") is None


def test_acl_hash_changes_with_allow_deny_or_labels_only(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, VALID))
    rule = manifest.rule_for("hr/a.txt")
    assert rule is not None
    acl = DocumentAcl.from_rule(rule)
    assert acl.allow == ("group:/hr", "role:hr-admin")
    assert acl.payload("acme")["acl_hash"] == acl.acl_hash
    again = load_manifest(
        write(tmp_path, VALID.replace('["group:/hr", "role:hr-admin"]', '["role:hr-admin", "group:/hr"]'))
    )
    again_rule = again.rule_for("hr/a.txt")
    assert again_rule is not None
    assert DocumentAcl.from_rule(again_rule).acl_hash == acl.acl_hash
    relabelled = load_manifest(write(tmp_path, VALID.replace("confidential", "secret")))
    relabelled_rule = relabelled.rule_for("hr/a.txt")
    assert relabelled_rule is not None
    assert DocumentAcl.from_rule(relabelled_rule).acl_hash != acl.acl_hash


@pytest.mark.parametrize(
    ("text", "line", "fix"),
    [
        ("version: 2\nrules: []\n", 1, "'version' must be 1"),
        ('version: 1\nrules:\n  - paths: [a]\n    allow: ["gruop:/hr"]\n', 4, "unknown type 'gruop'"),
        ('version: 1\nrules:\n  - paths: [a]\n    allow: ["group:hr"]\n', 4, "group:/eng/backend"),
        ("version: 1\nrules:\n  - paths: [a]\n    alow: [authenticated]\n", 4, "unknown key 'alow'"),
        ("version: 1\nrules:\n  - paths: [a]\n", 3, "has no 'allow'"),
        ("version: 1\nrules:\n  - paths: [a]\n    allow: []\n", 4, "nobody could read"),
        ("version: 1\nrules:\n  - allow: [authenticated]\n", 3, "has no 'paths'"),
        ("version: 1\nrules:\n  - paths: [/etc/**]\n    allow: [authenticated]\n", 3, "relative POSIX path"),
        ("version: 1\nrules:\n  - paths: [../x]\n    allow: [authenticated]\n", 3, "relative POSIX path"),
        ("version: 1\nrules:\n  - paths: [a]\n    allow: authenticated\n", 4, "must be a list"),
        ("version: 1\nrules:\n  - paths: [a]\n    allow: [authenticated]\n    labels: {'a=b': c}\n", 5, "label key"),
        ("version: 1\ntenant: 'a b'\nrules:\n  - paths: [a]\n    allow: [authenticated]\n", 2, "tenant"),
        ("version: 1\nrules:\n  - paths: [a\n    allow: [authenticated]\n", 4, "not valid YAML"),
        ("version: 1\n", 1, "'rules' must be a non-empty list"),
        ("- just a list\n", 1, "mapping"),
    ],
)
def test_errors_name_file_line_and_fix(tmp_path: Path, text: str, line: int, fix: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ManifestError) as raised:
        load_manifest(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:{line}:"), message
    assert fix in message


def test_missing_file_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="--acl"):
        load_manifest(tmp_path / "nope.yaml")
