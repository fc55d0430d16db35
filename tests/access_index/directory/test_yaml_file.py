"""The YAML directory file: the contract's example, and mistakes reported with file, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from access_index.directory import build_snapshot, load_directory_file
from access_index.errors import DirectoryError

EXAMPLE = """\
version: 1
issuer: https://idp.acme.example/realms/acme
groups:                 # ids are stable
  - {id: g-eng, path: /eng}
  - {id: g-backend, path: /eng/backend, roles: [deployer]}
roles:
  - {name: auditor, composites: [viewer, "client-role:crm/reader", "role:crm%2Fwriter"]}
users:
  - {username: alice, email: alice@acme.example, enabled: true, groups: [g-backend], roles: [auditor]}
  - {username: bob, enabled: false}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "directory.yaml"
    path.write_text(text)
    return path


def test_contract_example(tmp_path: Path) -> None:
    data = load_directory_file(write(tmp_path, EXAMPLE))
    assert data.issuer == "https://idp.acme.example/realms/acme"
    assert data.warnings == ()
    snapshot = build_snapshot(data, None)
    assert snapshot.resolve("alice", None).tokens == {
        "user:alice",
        "email:alice@acme.example",
        "group:/eng",
        "group:/eng/backend",
        "role:deployer",
        "role:auditor",
        "role:viewer",
        "client-role:crm/reader",
        "role:crm%2Fwriter",
    }
    assert snapshot.resolve("bob", None).status == "disabled"


def test_the_old_spelling_of_a_client_role_is_read_with_a_warning(tmp_path: Path) -> None:
    path = write(
        tmp_path, "version: 1\nroles:\n  - {name: crm/reader}\nusers:\n  - {username: a, roles: [crm/reader]}\n"
    )
    data = load_directory_file(path)
    assert data.issuer is None
    assert {role.key for role in data.roles} == {"client-role:crm/reader"}
    assert data.users[0].roles == {"client-role:crm/reader"}
    assert data.warnings and all("client-role:crm/reader" in w for w in data.warnings)
    assert data.warnings[0].startswith(f"{path}:3: ")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("version: 2\n", 1, "version: 1"),
        ("version: 1\nusers:\n  - {username: a, groups: [nope]}\n", 3, "unknown group id"),
        ("version: 1\ngroups:\n  - {id: g, path: /a/b}\n", 3, "parent group"),
        ("version: 1\ngroups:\n  - {id: g, path: /a}\n  - {id: g, path: /b}\n", 4, "listed twice"),
        ("version: 1\ngroups:\n  - {id: g, path: a}\n", 3, "path from the root"),
        ("version: 1\nusers:\n  - {username: a, enabled: yes please}\n", 3, "enabled"),
        ("version: 1\nusers:\n  - {username: a, groupz: []}\n", 3, "unknown key"),
        ("version: 1\nusers:\n  - {username: a}\n  - {username: A}\n", 4, "listed twice"),
        ("version: 1\nusers:\n  - {username: 'a b'}\n", 3, "whitespace"),
        ("version: 1\nusers: [\n", 3, "not valid YAML"),
        ('version: 1\nusers:\n  - {username: "\\u212aate"}\n', 3, "NFKC"),
        ("version: 1\nusers:\n  - {username: kate, email: kate}\n", 3, "address"),
        ("version: 1\nusers:\n  - {username: kate}\n  - {username: KATE}\n", 4, "listed twice"),
        ("version: 1\nissuer: [a]\n", 1, "issuer"),
    ],
)
def test_mistakes_name_file_line_and_fix(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DirectoryError) as caught:
        load_directory_file(path)
    message = str(caught.value)
    assert f"{path}:{line}:" in message
    assert words in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DirectoryError, match="CLEARANCE_DIRECTORY_FILE"):
        load_directory_file(tmp_path / "none.yaml")
