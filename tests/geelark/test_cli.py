"""The operator CLI against the simulator, and the simulator's own CLI with its ready file."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from geelark import GeeLarkClient, GeeLarkSettings
from geelark.cli import main
from geelark.simulator import SimulatorServer
from tests.geelark.conftest import API_KEY, APP_ID

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env_for(monkeypatch: pytest.MonkeyPatch, sim_clocked: SimulatorServer) -> SimulatorServer:
    monkeypatch.setenv("GEELARK_BASE_URL", sim_clocked.url)
    monkeypatch.setenv("GEELARK_APP_ID", APP_ID)
    monkeypatch.setenv("GEELARK_API_KEY", API_KEY)
    monkeypatch.delenv("GEELARK_TOKEN", raising=False)
    monkeypatch.delenv("GEELARK_RATE_LIMIT_DIR", raising=False)
    return sim_clocked


def test_check_prints_auth_and_balance(env_for: SimulatorServer) -> None:
    out = io.StringIO()
    assert main(["--json", "check"], out=out) == 0
    assert json.loads(out.getvalue()) == {"auth": "ok", "mode": "key", "balance": 100.0, "giftMoney": 0.0}


def test_phones_lists_and_filters_by_name(env_for: SimulatorServer) -> None:
    out = io.StringIO()
    assert main(["phones"], out=out) == 0
    assert "5 phone(s)" in out.getvalue() and "stopped" in out.getvalue()
    out = io.StringIO()
    assert main(["--json", "phones", "--name", "phone-03"], out=out) == 0
    assert [p["serialName"] for p in json.loads(out.getvalue())] == ["phone-03"]


def test_bad_credentials_exit_1_without_the_key(
    env_for: SimulatorServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GEELARK_API_KEY", "WRONGKEY")
    assert main(["check"], out=io.StringIO()) == 1
    err = capsys.readouterr().err
    assert "40003" in err and "WRONGKEY" not in err


def wait_for_file(path: Path, proc: subprocess.Popen[str], timeout_s: float = 30.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            return dict(json.loads(path.read_text(encoding="utf-8")))
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.05)
    raise AssertionError("simulator did not write its ready file")


def test_simulator_cli_writes_ready_file_serves_and_stops(tmp_path: Path) -> None:
    ready = tmp_path / "sim.json"
    cmd = [
        sys.executable,
        "-m",
        "geelark.simulator",
        "--port",
        "0",
        "--ready-file",
        str(ready),
        "--phones",
        "alice,bob",
        "--token",
        "cli-token",
        "--faults",
        "realistic",
        "--time-scale",
        "0.01",
        "--seed",
        "1",
        "--task-credits",
        "3",
    ]
    proc = subprocess.Popen(
        cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True
    )
    try:
        info = wait_for_file(ready, proc)
        assert info["pid"] == proc.pid
        settings = GeeLarkSettings(base_url=f"http://127.0.0.1:{info['port']}", token="cli-token")
        with GeeLarkClient(settings) as client:
            assert [p.serial_name for p in client.iter_phones()] == ["alice", "bob"]
        state = requests.get(f"http://127.0.0.1:{info['port']}/_sim/state", timeout=5).json()
        assert (state["taskCredits"], state["tasks"]) == (3, [])
        proc.terminate()
        proc.wait(timeout=15)
        assert not ready.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()  # type: ignore[union-attr]


def test_simulator_cli_rejects_a_bad_fault_file(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"api": {"bogus": 1}}), encoding="utf-8")
    cmd = [sys.executable, "-m", "geelark.simulator", "--faults", str(faults)]
    result = subprocess.run(
        cmd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2 and "bogus" in result.stderr


def test_simulator_exits_by_itself_when_its_parent_is_gone(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ready = tmp_path / "sim.json"
    cmd = [
        sys.executable,
        "-m",
        "geelark.simulator",
        "--ready-file",
        str(ready),
        "--parent-pid",
        str(parent.pid),
    ]
    proc = subprocess.Popen(
        cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_file(ready, proc)
        assert proc.poll() is None
        parent.kill()
        parent.wait()
        assert proc.wait(timeout=20) == 0
        assert not ready.exists()
    finally:
        for p in (parent, proc):
            if p.poll() is None:
                p.kill()
                p.wait()
        proc.stderr.close()  # type: ignore[union-attr]
