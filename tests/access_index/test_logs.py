"""access_index/logs.py: a service's every line is JSON, whoever writes it (a Python warning, a library's own
logger, an uncaught error in a thread, a configuration error at start), and no library draws a progress bar."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.contract.harness import environment


def json_lines(text: str) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in text.splitlines()]  # raises on any line that is not JSON
    assert all(isinstance(entry, dict) and {"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    return entries


def test_warnings_library_loggers_and_uncaught_errors_become_json_lines(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import logging, os, threading, warnings
        from access_index.logs import configure_json_logging
        from access_index.embedder import quiet_transformers

        configure_json_logging()
        assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
        warnings.warn("a library's deprecation notice", UserWarning)
        quiet_transformers()
        from transformers.utils import logging as transformers_logging
        transformers_logging.get_logger("transformers.modeling_utils").warning("some weights were not used")
        bar = transformers_logging.tqdm(range(3), desc="Loading weights")
        list(bar)
        thread = threading.Thread(target=lambda: 1 / 0)
        thread.start()
        thread.join()
        raise RuntimeError("nobody caught this")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=environment(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert done.stdout == ""
    entries = json_lines(done.stderr)
    messages = " | ".join(f"{entry['message']} {entry.get('error', '')}" for entry in entries)
    assert "a library's deprecation notice" in messages
    assert "some weights were not used" in messages
    assert "ZeroDivisionError" in messages and "nobody caught this" in messages
    assert "Loading weights" not in done.stderr


def test_a_service_that_cannot_start_says_why_in_json(tmp_path: Path) -> None:
    for command, setting in (
        (["serve"], {"CLEARANCE_PORT": "eighty"}),
        (["acl-sync", "--interval", "5", "--release", "user:alice"], {}),
    ):
        env = environment(tmp_path / "data", setting)
        done = subprocess.run(
            [sys.executable, "-m", "access_index.cli", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        (entry,) = json_lines(done.stderr)
        assert entry["level"] == "error" and entry["code"] == "config_error" and entry["exit"] == 2


def test_a_person_s_command_keeps_plain_text(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "access_index.cli", "status"],
        env=environment(tmp_path / "data", {"CLEARANCE_PORT": "eighty"}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("clearance: configuration error: ") and "CLEARANCE_PORT" in done.stderr
