"""`clearance ingest` and `clearance inspect` as CONTRACT.md (Command line, ACL manifest) describes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.contract import corpus
from tests.contract.conftest import World
from tests.contract.harness import clearance, environment

pytestmark = [pytest.mark.model, pytest.mark.slow]  # `clearance` processes end to end, with the real model

COUNT_NAMES = ("new", "updated", "unchanged", "deleted", "no_acl", "failed", "quarantined")


def counts(summary: dict[str, object]) -> dict[str, int]:
    """The seven counts, wherever the summary nests them (top level or under "counts")."""
    nested = summary.get("counts")
    source: dict[str, Any] = nested if isinstance(nested, dict) else summary
    missing = [name for name in COUNT_NAMES if not isinstance(source.get(name), int)]
    assert not missing, f"summary lacks counts {missing}: {summary}"
    return {name: source[name] for name in COUNT_NAMES}


def summary_of(world: World, run: str) -> dict[str, object]:
    done = world.run(run)
    try:
        parsed = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"--json stdout is not one JSON object:\n{done.explain()}")
    assert isinstance(parsed, dict), done.explain()
    return parsed


def test_json_summary_is_exactly_one_object_on_stdout(world: World) -> None:
    for run in ("main", "acme", "lib-initial", "lib-dry-run", "lib-delete"):
        stdout = world.run(run).stdout.strip()
        assert stdout.startswith("{") and stdout.endswith("}"), world.run(run).explain()
        assert isinstance(json.loads(stdout), dict)


def test_failed_file_exits_1_and_the_rest_is_indexed(world: World) -> None:
    done = world.run("main")
    assert done.returncode == 1, done.explain()
    got = counts(summary_of(world, "main"))
    assert got["failed"] == 1
    assert got["new"] == corpus.MAIN_INDEXED
    assert (got["updated"], got["unchanged"], got["deleted"]) == (0, 0, 0)


def test_file_matching_no_rule_is_reported_no_acl(world: World) -> None:
    assert counts(summary_of(world, "main"))["no_acl"] == 1


def test_instruction_in_hidden_text_is_quarantined_and_findings_reported(world: World) -> None:
    summary = summary_of(world, "main")
    assert counts(summary)["quarantined"] == 1
    findings = {key: value for key, value in summary.items() if "finding" in key.lower()}
    assert findings and any(findings.values()), f"no hidden-text findings by technique in {summary}"


def test_clean_ingest_exits_0(world: World) -> None:
    for run in ("acme", "lib-initial", "lib-delete"):
        assert world.run(run).returncode == 0, world.run(run).explain()
    assert counts(summary_of(world, "acme"))["new"] == 1
    assert counts(summary_of(world, "lib-initial")) == {
        "new": 8,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "no_acl": 0,
        "failed": 0,
        "quarantined": 0,
    }


def test_summary_without_json_names_every_count(world: World) -> None:
    done = world.run("human")
    assert done.returncode == 0, done.explain()
    shown = (done.stdout + done.stderr).lower()
    missing = [name for name in COUNT_NAMES if name not in shown and name.replace("_", " ") not in shown]
    assert not missing, f"the summary does not show {missing}:\n{done.explain()}"


def test_dry_run_reports_what_would_change_and_changes_nothing(world: World) -> None:
    done = world.run("lib-dry-run")
    assert done.returncode == 0, done.explain()
    got = counts(summary_of(world, "lib-dry-run"))
    # Without --delete-missing a vanished file is not deleted.
    assert (got["new"], got["updated"], got["unchanged"], got["deleted"]) == (1, 1, 6, 0)
    # The next real run still finds the same changes: the dry run wrote nothing.
    after = counts(summary_of(world, "lib-delete"))
    assert after["new"] == 1 and after["updated"] >= 1


def test_delete_missing_removes_vanished_files_and_skips_unchanged_ones(world: World) -> None:
    got = counts(summary_of(world, "lib-delete"))
    assert (got["new"], got["deleted"], got["no_acl"], got["failed"], got["quarantined"]) == (1, 1, 0, 0, 0)
    # l00 changed; l03's ACL changed (it may count as updated or unchanged); the 5 others are skipped by hash.
    assert got["updated"] + got["unchanged"] == 7 and 1 <= got["updated"] <= 2, got


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["ingest", "{corpus}"], id="no --acl"),
        pytest.param(["ingest", "{corpus}", "--acl", "{root}/absent.yaml"], id="absent manifest"),
        pytest.param(["ingest", "{root}/absent-dir", "--acl", "{root}/ok.yaml"], id="absent path"),
        pytest.param(["ingest", "{corpus}", "--acl", "{root}/bad.yaml"], id="invalid manifest"),
        pytest.param(["ingest", "--acl", "{root}/ok.yaml"], id="no path"),
        pytest.param(["ingest", "{corpus}", "--acl", "{root}/ok.yaml", "--bogus"], id="unknown flag"),
    ],
)
def test_usage_errors_exit_2_and_index_nothing(tmp_path: Path, args: list[str]) -> None:
    corpus.write(tmp_path / "c/a.md", corpus.markdown("MKX", "text"))
    corpus.write_yaml(tmp_path / "ok.yaml", {"version": 1, "rules": [{"paths": ["**"], "allow": ["authenticated"]}]})
    corpus.write_yaml(tmp_path / "bad.yaml", {"version": 1, "rules": [{"paths": "not-a-list", "allow": 7}]})
    argv = [arg.format(corpus=tmp_path / "c", root=tmp_path) for arg in args]
    done = clearance(argv, environment(tmp_path / "data"))
    assert done.returncode == 2, done.explain()


def test_token_is_refused_without_dev_mode(tmp_path: Path) -> None:
    done = clearance(["token", "--user", "alice"], environment(tmp_path / "data"))
    assert done.returncode != 0
    assert done.stdout.strip() == "", "a token was printed although dev mode is off"
    explicit_off = clearance(["token", "--user", "alice"], environment(tmp_path / "d", {"CLEARANCE_DEV_MODE": "false"}))
    assert explicit_off.returncode != 0 and explicit_off.stdout.strip() == ""


# --- inspect -------------------------------------------------------------------------------------------------


def inspect_lines(world: World, run: str = "inspect") -> list[dict[str, object]]:
    done = world.run(run)
    assert done.returncode == 0, done.explain()
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert lines and all(isinstance(line, dict) for line in lines)
    return lines


def test_inspect_prints_one_json_line_per_chunk(world: World) -> None:
    chunks = [line for line in inspect_lines(world) if "chunk_index" in line]
    assert chunks
    for line in chunks:
        assert {"document", "chunk_index", "text", "findings"} <= set(line)
        assert isinstance(line["chunk_index"], int) and isinstance(line["text"], str)
        assert isinstance(line["findings"], list)
    plain = [line for line in chunks if str(line["document"]).endswith("p00.md")]
    assert [line["chunk_index"] for line in plain] == list(range(len(plain))) and plain
    assert "MKPUB00" in str(plain[0]["text"])


@pytest.mark.parametrize(
    ("name", "marker"),
    [
        pytest.param("benign-inline.html", "MKINLINE", id="hidden span inside a paragraph"),
        pytest.param("benign-hidden.html", "MKBENIGN", id="hidden element of its own"),
    ],
)
def test_inspect_strips_hidden_text_and_reports_it(world: World, name: str, marker: str) -> None:
    lines = [line for line in inspect_lines(world) if str(line["document"]).endswith(name)]
    assert lines and not any(line.get("quarantined") for line in lines)
    assert all(corpus.HIDDEN_BENIGN_WORD not in str(line["text"]) for line in lines)
    assert any(marker in str(line["text"]) for line in lines)
    assert any(line["findings"] for line in lines), "the removed hidden text is not reported by inspect"


def test_inspect_shows_quarantined_document(world: World) -> None:
    injected = [line for line in inspect_lines(world) if str(line["document"]).endswith("injected.html")]
    assert len(injected) == 1, injected
    assert injected[0]["quarantined"] is True
    assert isinstance(injected[0]["findings"], list) and injected[0]["findings"]
    assert "chunk_index" not in injected[0]


def test_inspect_indexes_nothing(world: World) -> None:
    data = world.root / "inspect-data"
    leftovers = [p for p in data.rglob("*") if p.is_file()] if data.exists() else []
    assert not [p for p in leftovers if "index" in p.parts], leftovers


@pytest.mark.parametrize("name", [*corpus.HIDDEN_HTML, *corpus.HIDDEN_BINARY, "tags.md"])
def test_hidden_instructions_are_quarantined_whatever_the_technique(world: World, name: str) -> None:
    lines = [line for line in inspect_lines(world) if str(line["document"]).endswith(name)]
    assert len(lines) == 1 and lines[0].get("quarantined") is True, lines
    assert lines[0]["findings"]


def test_zero_width_characters_are_removed(world: World) -> None:
    lines = [line for line in inspect_lines(world) if str(line["document"]).endswith(".md")]
    zero = [line for line in lines if "MKTZERO" in str(line.get("text", ""))]
    assert zero, lines
    text = str(zero[0]["text"])
    assert "invoice" in text and "Friday" in text
    assert not any(char in text for char in "\u200b\u200c\u200d")


def test_strip_policy_indexes_the_rest_of_the_document(world: World) -> None:
    lines = inspect_lines(world, "inspect-strip")
    assert lines and not any(line.get("quarantined") for line in lines), lines
    text = " ".join(str(line["text"]) for line in lines)
    assert corpus.INJECTED_MARKER in text and "Ignore all previous instructions" not in text
