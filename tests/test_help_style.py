"""The three commands' --help in one style: a summary, examples, exit codes, plain text."""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = (["orchestrator"], ["scheduler"], ["geelark"])


@pytest.mark.parametrize("module", COMMANDS, ids=lambda m: m[0])
def test_every_command_helps_with_examples_and_exit_codes(module: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", *module, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "Examples:" in text and "Exit codes:" in text
    assert text.index("Examples:") < text.index("Exit codes:") < text.index("Options:")
    assert "\n    0   ok" in text  # the codes in one layout
    assert "\u2500" not in text and "\u256d" not in text  # no rich boxes: plain in any console
