"""The package layout of docs/design.md: who may import whom."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"jobqueue", "geelark", "runtime", "worker", "scheduler", "orchestrator", "harness", "tests", "bench"}
ALLOWED = {
    "jobqueue": set(),
    "geelark": set(),
    "runtime": set(),
    "worker": {"jobqueue", "geelark", "runtime"},
    "scheduler": {"jobqueue", "runtime"},  # runtime: the [accounts] settings it plans with
    "orchestrator": {"jobqueue", "geelark", "runtime", "scheduler", "worker"},
    "harness": {"jobqueue", "geelark", "runtime", "worker", "scheduler", "orchestrator"},
    "bench": {"jobqueue", "geelark", "runtime", "worker", "scheduler", "orchestrator", "harness"},
}
# The orchestrator starts workers as processes; of `worker/` it may import only the pure contract.
WORKER_CONTRACT = "worker.contract"
# The orchestrator's rooms: the CLI renders, the engine runs, views read; none reaches into the CLI.
ROOMS = {
    "orchestrator/run": {"orchestrator.cli"},
    "orchestrator/views": {"orchestrator.cli", "orchestrator.run"},
    "orchestrator/adapters": {"orchestrator.cli", "orchestrator.run", "orchestrator.views"},
}


def imported_modules(path: Path) -> Iterator[str]:
    """Every absolute module name `path` imports (``from x.y import z`` gives ``x.y``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def imported_packages(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imported_modules(path)} & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_the_design_allows(package: str) -> None:
    offenders = {}
    for path in (ROOT / package).rglob("*.py"):
        bad = imported_packages(path) - ALLOWED[package] - {package}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_orchestrator_imports_only_the_worker_contract() -> None:
    offenders = {
        str(path.relative_to(ROOT)): name
        for path in (ROOT / "orchestrator").rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] == "worker" and name != WORKER_CONTRACT
    }
    assert offenders == {}


def test_the_worker_contract_is_pure() -> None:
    names = set(imported_modules(ROOT / "worker" / "contract.py"))
    ours = {n for n in names if n.split(".")[0] in OURS}
    assert {n.split(".")[0] for n in ours} <= {"jobqueue", "runtime"}
    assert ours - {n for n in ours if n.startswith("jobqueue")} <= {"runtime.settings"}
    assert not names & {"socket", "subprocess", "psutil", "os", "requests", "threading"}


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_orchestrator_rooms_do_not_reach_into_each_other(room: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): name
        for path in (ROOT / room).rglob("*.py")
        for name in imported_modules(path)
        if any(name == f or name.startswith(f + ".") for f in ROOMS[room])
    }
    assert offenders == {}


def test_nothing_imports_the_test_folder() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for package in sorted(set(ALLOWED))
        for path in (ROOT / package).rglob("*.py")
        if "tests" in imported_packages(path)
    ]
    assert offenders == []
