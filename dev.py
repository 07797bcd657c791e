"""Project tasks that work the same on a fresh clone, on Windows and on Linux.

    python dev.py demo    run the orchestrator on the GeeLark simulator (no cloud, no phones)
    python dev.py test    run the whole test suite (installs what it needs first)
    python dev.py lint    ruff and mypy (linux and win32; --strict for the pure packages)

The first call creates `.venv/` and installs the project with its dev extras, and, for the
Appium integration tests, the pinned Appium server under `tools/appium/` (needs Node and npm).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
APPIUM_HOME = ROOT / "tools" / "appium"
STRICT = ("-p", "jobqueue", "-p", "runtime", "-p", "geelark")  # packages held to mypy --strict


def venv_python() -> Path:
    sub = "Scripts/python.exe" if os.name == "nt" else "bin/python"
    return VENV / sub


def run(*args: str | Path, cwd: Path = ROOT) -> int:
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.call([str(a) for a in args], cwd=cwd)


def must(*args: str | Path, cwd: Path = ROOT) -> None:
    code = run(*args, cwd=cwd)
    if code != 0:
        raise SystemExit(code)


def ensure_venv() -> Path:
    py = venv_python()
    if not py.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != digest:
        must(py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", ".[dev]")
        stamp.write_text(digest)
    return py


def ensure_appium() -> None:
    """Install the pinned Appium server (npm ci) if Node is here; the Appium tests skip without it."""
    npm = shutil.which("npm")
    if npm is None or not (APPIUM_HOME / "package-lock.json").exists():
        if os.environ.get("CI"):
            raise SystemExit("CI needs Node and npm for the Appium integration tests")
        print("npm not found: the Appium integration tests will be skipped", flush=True)
        return
    stamp = APPIUM_HOME / "node_modules" / ".installed"
    digest = hashlib.sha256((APPIUM_HOME / "package-lock.json").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    must(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error", cwd=APPIUM_HOME)
    stamp.write_text(digest)


def cmd_test(extra: list[str]) -> int:
    py = ensure_venv()
    ensure_appium()
    code = run(py, "-m", "pytest", *extra)
    return 0 if code == 5 and extra else code


def cmd_lint(_: list[str]) -> int:
    py = ensure_venv()
    failed = 0
    failed |= run(py, "-m", "ruff", "check", ".")
    failed |= run(py, "-m", "ruff", "format", "--check", ".")
    for platform in ("linux", "win32"):
        failed |= run(py, "-m", "mypy", "--platform", platform)
        failed |= run(py, "-m", "mypy", "--platform", platform, "--strict", *STRICT)
    return 1 if failed else 0


def cmd_demo(extra: list[str]) -> int:
    py = ensure_venv()
    return run(py, "-m", "orchestrator", "demo", *extra)


COMMANDS = {"test": cmd_test, "lint": cmd_lint, "demo": cmd_demo}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
