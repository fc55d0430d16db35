"""Principals in an ACL manifest: today's spellings, the old ones still read (with a warning naming the file,
the rule's line and the new spelling), and look-alike names refused at load, in allow and in deny."""

from __future__ import annotations

from pathlib import Path

import pytest

from access_index.document_acl import DocumentAcl
from access_index.errors import ManifestError
from access_index.manifest import load_manifest

OLD = """\
version: 1
rules:
  - paths: ["crm/**"]
    allow: ["role:crm/reader", "user:Alice@Acme.Example"]
    deny: ["user:mallory@acme.example"]
  - paths: ["**"]
    allow:
      - "authenticated"
      - "client:https://sp.example/saml"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acl.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_old_spellings_load_as_what_they_meant_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, OLD)
    manifest = load_manifest(path)
    crm = manifest.rule_for("crm/pipeline.md")
    assert crm is not None
    acl = DocumentAcl.from_rule(crm)
    assert acl.allow == ("client-role:crm/reader", "email:alice@acme.example")
    assert acl.deny == ("email:mallory@acme.example",)
    rest = manifest.rule_for("x.md")
    assert rest is not None
    assert DocumentAcl.from_rule(rest).allow == ("authenticated", "client:https:%2F%2Fsp.example%2Fsaml")
    assert len(manifest.warnings) == 4
    first = manifest.warnings[0]
    # The file, the line, the rule's line, the old and the new spelling.
    assert first.startswith(f"{path}:4: the rule at line 3 ")
    assert "'role:crm/reader'" in first and "'client-role:crm/reader'" in first
    assert any(
        w.startswith(f"{path}:5: the rule at line 3 ") and "'email:mallory@acme.example'" in w
        for w in manifest.warnings
    )
    assert any(w.startswith(f"{path}:9: the rule at line 6 ") for w in manifest.warnings)


def test_todays_spellings_load_without_warnings(tmp_path: Path) -> None:
    manifest = load_manifest(
        write(
            tmp_path,
            'version: 1\nrules:\n  - paths: ["**"]\n'
            '    allow: ["client-role:crm/reader", "role:crm%2Freader", "email:a@acme.example", "user:bob@"]\n',
        )
    )
    assert manifest.warnings == ()
    rule = manifest.rule_for("x")
    assert rule is not None
    assert DocumentAcl.from_rule(rule).allow == (
        "client-role:crm/reader",
        "email:a@acme.example",
        "role:crm%2Freader",
        "user:bob@",
    )


@pytest.mark.parametrize("where", ["allow", "deny"])
@pytest.mark.parametrize("name", ["\u212aate", "\uff4dallory", "\u017fam"])
def test_a_look_alike_name_is_refused_at_load_with_its_line(tmp_path: Path, where: str, name: str) -> None:
    """A deny that silently matched nobody would fail open: such a manifest does not load."""
    lists = {"allow": '["authenticated"]', "deny": '["group:/x"]'}
    lists[where] = f'["user:{name}"]'
    text = f'version: 1\nrules:\n  - paths: ["**"]\n    allow: {lists["allow"]}\n    deny: {lists["deny"]}\n'
    with pytest.raises(ManifestError) as error:
        load_manifest(write(tmp_path, text))
    line = 4 if where == "allow" else 5
    assert f"acl.yaml:{line}:" in str(error.value)
    assert "NFKC" in str(error.value)
