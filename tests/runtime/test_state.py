from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from runtime.platform import ProcessRef
from runtime.state import Heartbeat, RunDir, RunInfo, read_json, write_json_atomic

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_heartbeat_round_trips_through_its_file(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    hb = Heartbeat(
        worker_id=2,
        process=ProcessRef(123, 1.5),
        heartbeat_at=NOW,
        step="post",
        job_id="J1",
        account="acc",
        appium=ProcessRef(456, 2.5),
        appium_port=4727,
        job_started_at=NOW,
    )
    run.write_heartbeat(hb)
    assert run.read_heartbeats() == {2: hb}
    run.remove_heartbeat(2)
    assert run.read_heartbeats() == {}


def test_a_garbled_heartbeat_file_is_ignored_not_fatal(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.ensure()
    (run.workers_dir / "0.json").write_text("{not json", encoding="utf-8")
    assert run.read_heartbeats() == {}


def test_phones_left_running_are_those_started_and_not_stopped(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.record_phone("started", phone_id="p1", serial_name="phone1", worker_id=0, at=NOW)
    run.record_phone("started", phone_id="p2", serial_name="phone2", worker_id=1, at=NOW)
    run.record_phone("stopped", phone_id="p1", serial_name="phone1", worker_id=0, at=NOW)
    with open(run.phones_ledger, "a", encoding="utf-8") as fh:
        fh.write('{"event": "sto')  # torn by a kill mid-append
    assert set(run.phones_left_running()) == {"p2"}


def test_a_stop_asked_before_another_worker_started_the_phone_again_leaves_it_running(
    tmp_path: Path,
) -> None:
    # W0 asks GeeLark to stop p1; meanwhile W1 claims the account and starts p1 again; W0's
    # "stopped" line is appended last. The phone runs for W1: it must stay in the ledger.
    run = RunDir(tmp_path)
    run.record_phone("started", phone_id="p1", serial_name="phone1", worker_id=0, at=NOW)
    run.record_phone(
        "started", phone_id="p1", serial_name="phone1", worker_id=1, at=NOW + timedelta(seconds=2)
    )
    run.record_phone(
        "stopped", phone_id="p1", serial_name="phone1", worker_id=0, at=NOW + timedelta(seconds=1)
    )
    left = run.phones_left_running()
    assert set(left) == {"p1"} and left["p1"].worker_id == 1
    run.record_phone(
        "stopped", phone_id="p1", serial_name="phone1", worker_id=1, at=NOW + timedelta(seconds=3)
    )
    assert run.phones_left_running() == {}


def test_an_unreadable_stop_time_falls_back_to_the_line_order(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    run.record_phone("started", phone_id="p1", serial_name="phone1", worker_id=0, at=NOW)
    with open(run.phones_ledger, "a", encoding="utf-8") as fh:
        fh.write('{"event": "stopped", "phone_id": "p1", "serial_name": "phone1", "at": "yesterday"}\n')
    assert run.phones_left_running() == {}


def test_stop_requests_for_one_worker_and_for_all(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    assert not run.stop_requested(0)
    run.request_stop(1)
    assert run.stop_requested(1) and not run.stop_requested(0)
    run.request_stop()
    assert run.stop_requested(0)
    run.clear_stops()
    assert not run.stop_requested(0) and not run.stop_requested(1)


def test_run_info_round_trips(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    info = RunInfo(ProcessRef(1, 2.0), NOW, workers=3, simulate=True, simulator=ProcessRef(5, 6.0))
    run.write_run(info)
    assert run.read_run() == info
    run.clear_run()
    assert run.read_run() is None


def test_atomic_json_write_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    for i in range(5):
        write_json_atomic(target, {"i": i})
    assert read_json(target) == {"i": 4}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
