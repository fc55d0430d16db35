"""Attacks on the manifest's glob grammar (issue 10, flaw 4): a glob that mistranslates silently hands a file to
a broader rule (first match wins, and the last rule is typically the catch-all). Every glob either means exactly
what docs/acl-semantics.md says, or the manifest is refused when it loads, naming the file, the line and why."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from access_index.errors import ManifestError
from access_index.manifest import load_manifest

CATCH_ALL = '  - paths: ["**"]\n    allow: ["authenticated"]\n'


def manifest_with(tmp_path: Path, *globs: str) -> Path:
    """A manifest whose first rule holds `globs` (HR only) and whose last rule is the catch-all."""
    quoted = ", ".join('"' + glob.replace("\\", "\\\\").replace('"', '\\"') + '"' for glob in globs)
    path = tmp_path / "acl.yaml"
    path.write_text(f'version: 1\nrules:\n  - paths: [{quoted}]\n    allow: ["group:/hr"]\n{CATCH_ALL}')
    return path


def governing_allow(manifest: Path, relpath: str) -> set[str] | None:
    rule = load_manifest(manifest).rule_for(relpath)
    return None if rule is None else {str(principal) for principal in rule.allow}


@pytest.mark.parametrize(
    ("glob", "relpath"),
    [
        ("hr/salaries-[0-9][0-9][0-9][0-9].md", "hr/salaries-2027.md"),  # ranges match
        ("hr/[a-c]*.md", "hr/bonus.md"),
        ("hr/[!x]*.md", "hr/bonus.md"),
        ("**", "hr/line one\nline two.md"),  # ** matches a name containing a newline
        ("hr/**", "hr/line one\nline two.md"),
        ("hr/**", "hr/deep/er/still\n/x.md"),
        ("hr/*", "hr/tab\there.md"),
        ("hr/?.md", "hr/\n.md"),
        ("**/*.md", "hr/a]b[c.md"),  # brackets in names are ordinary characters
        ("hr/**/payroll/*", "hr/payroll/2027.xlsx"),  # ** may be zero segments
        ("hr/**", "hr/résumé/Ünïcödé.md"),
    ],
)
def test_the_hr_rule_governs_hr_files_not_the_catch_all(tmp_path: Path, glob: str, relpath: str) -> None:
    assert governing_allow(manifest_with(tmp_path, glob), relpath) == {"group:/hr"}


@pytest.mark.parametrize(
    ("glob", "relpath"),
    [
        ("hr[!x]salaries.md", "hr/salaries.md"),  # a negated class never matches '/'
        ("hr?salaries.md", "hr/salaries.md"),  # nor does '?'
        ("hr*", "hr/salaries.md"),  # nor does '*'
        ("hr/[0-9].md", "hr/x.md"),
        ("hr/[!0-9].md", "hr/7.md"),
        ("hr/**", "hr"),  # a trailing /** is everything inside hr/, not a file named hr
        ("hr/**", "hrx/a.md"),
    ],
)
def test_globs_do_not_match_more_than_they_say(tmp_path: Path, glob: str, relpath: str) -> None:
    assert governing_allow(manifest_with(tmp_path, glob), relpath) == {"authenticated"}


@pytest.mark.parametrize(
    ("glob", "why"),
    [
        ("./hr/**", "'.'"),
        ("hr/./x", "'.'"),
        ("{hr,finance}/**", "brace"),
        ("hr/{a,b}.md", "brace"),
        ("hr/[abc", "unbalanced"),
        ("hr/[", "unbalanced"),
        ("hr/[]", "empty"),
        ("hr/[!]", "empty"),
        ("hr\\salaries.md", "backslash"),
        ("hr/\\*", "backslash"),
        ("/hr/**", "relative POSIX path"),
        ("hr/../finance/**", "relative POSIX path"),
        ("hr/", "empty segment"),
        ("hr//x", "empty segment"),
        ("", "empty"),
        ("hr/**.md", "whole segment"),
        ("a**/x", "whole segment"),
        ("hr/[z-a].md", "range"),
        ("hr/[[:digit:]].md", "POSIX"),
        ("hr/[^x].md", "[!"),
        ("hr/[a/b].md", "'/'"),
        ("!hr/**", "negation"),
        ("hr/@(a|b).md", "extended"),
        ("hr/\tx", "control"),
        (" hr/**", "whitespace"),
    ],
)
def test_globs_outside_the_grammar_are_refused_with_file_line_and_why(tmp_path: Path, glob: str, why: str) -> None:
    path = manifest_with(tmp_path, "finance/**", glob)
    with pytest.raises(ManifestError) as raised:
        load_manifest(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:3:"), message
    assert "rule 1" in message, message
    assert why in message, message


def test_25_adjacent_double_stars_match_in_milliseconds(tmp_path: Path) -> None:
    """A backtracking translation of `**/**/...` is exponential in the number of `**`: a manifest must never
    be able to hang ingest or the sync. Run in a child process so that a hang fails the test instead of
    stalling the suite."""
    glob = "**/" * 30 + "x"
    path = manifest_with(tmp_path, glob)
    relpath = "/".join(f"d{i}" for i in range(60)) + "/y"
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from access_index.manifest import load_manifest
        manifest = load_manifest(Path({str(path)!r}))
        started = time.perf_counter()
        rule = manifest.rule_for({relpath!r})
        hit = manifest.rule_for({relpath[:-1] + "x"!r})
        print(time.perf_counter() - started, rule.line, hit.line)
        """
    )
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("matching 30 adjacent '**/' against a 61-segment path did not finish in 20 s")
    assert done.returncode == 0, done.stderr
    seconds, catch_all_line, hr_line = done.stdout.split()
    assert (int(catch_all_line), int(hr_line)) == (5, 3)  # the non-matching path fell to the catch-all
    assert float(seconds) < 0.25, seconds


def test_many_stars_in_one_segment_match_in_milliseconds(tmp_path: Path) -> None:
    glob = "hr/" + "*a" * 20 + "*b"
    path = manifest_with(tmp_path, glob)
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from access_index.manifest import load_manifest
        manifest = load_manifest(Path({str(path)!r}))
        started = time.perf_counter()
        rule = manifest.rule_for("hr/" + "a" * 200)
        print(time.perf_counter() - started, rule.line)
        """
    )
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("matching 21 stars against a 200-character name did not finish in 20 s")
    assert done.returncode == 0, done.stderr
    seconds, line = done.stdout.split()
    assert int(line) == 5
    assert float(seconds) < 0.25, seconds
