"""Agent policy files: parsed into narrowings; mistakes are refused with the file and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from access_index.errors import AccessDeniedError, ConfigError
from retrieval.agents import load_agent_policies


def policies(tmp_path: Path, text: str, unknown: str = "allow"):
    path = tmp_path / "agents.yaml"
    path.write_text(text)
    return load_agent_policies(path, unknown)  # type: ignore[arg-type]


def test_policy_becomes_a_narrowing(tmp_path: Path) -> None:
    loaded = policies(
        tmp_path,
        "version: 1\nagents:\n  bot:\n    sources: [wiki]\n"
        "    labels: ['classification != confidential', 'region == eu']\n",
    )
    narrowing = loaded.narrowing_for("bot")
    assert narrowing.sources == {"wiki"}
    assert narrowing.labels_equal == {"region": "eu"}
    assert narrowing.labels_not_equal == {"classification": {"confidential"}}
    assert loaded.narrowing_for("someone-else").sources is None


def test_default_deny_and_blocked_agents(tmp_path: Path) -> None:
    loaded = policies(tmp_path, "version: 1\ndefault: deny\nagents:\n  ok: {}\n  off: {access: none}\n")
    assert loaded.narrowing_for("ok").sources is None
    for agent in ("off", "stranger", None):
        with pytest.raises(AccessDeniedError):
            loaded.narrowing_for(agent)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("agents: {}\n", "version: 1"),
        ("version: 1\nagents:\n  bot: {labels: ['classification ~ x']}\n", "key == value"),
        ("version: 1\nagents:\n  bot: {sourcez: [a]}\n", "unknown keys"),
        ("version: 1\nagents:\n  bot: {labels: ['a == 1', 'a == 2']}\n", "cannot equal both"),
        ("version: 1\nagents: [\n", "line"),
    ],
)
def test_bad_policy_files_name_file_and_fix(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        policies(tmp_path, text)
    assert "agents.yaml" in str(raised.value) and message in str(raised.value)
