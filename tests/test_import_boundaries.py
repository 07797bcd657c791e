"""The package layout of docs/design.md: who may import whom."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"jobqueue", "geelark", "runtime", "worker", "scheduler", "orchestrator"}
ALLOWED = {
    "jobqueue": set(),
    "geelark": set(),
    "runtime": set(),
    "worker": {"jobqueue", "geelark", "runtime"},
    "scheduler": {"jobqueue"},
    "orchestrator": {"jobqueue", "geelark", "runtime", "scheduler", "worker"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_the_design_allows(package: str) -> None:
    offenders = {}
    for path in (ROOT / package).rglob("*.py"):
        bad = imported_packages(path) - ALLOWED[package] - {package}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_orchestrator_uses_only_the_pure_port_plan_of_worker() -> None:
    for path in (ROOT / "orchestrator").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("worker"):
                assert node.module in {"worker.ports", "worker.settings"}, path
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("worker") for a in node.names), path
