"""The chaos suite's figures reach the CI log through the terminal summary (pytest hides `print`)."""

from __future__ import annotations

import pytest

FIGURES = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.write_sep("=", "chaos figures")
        for line in lines:
            terminalreporter.write_line(line)
