"""`logs -f` without tail: polling survives appends, partial lines, truncation and rotation."""

from __future__ import annotations

from pathlib import Path

from orchestrator.views.logs import LogTail, follow, last_lines, log_files


def test_new_complete_lines_are_returned_once_and_partial_lines_wait(tmp_path: Path) -> None:
    log = tmp_path / "worker_0.log"
    log.write_text("old\n")
    tail = LogTail(log, "W0")
    assert tail.read_new() == []
    with open(log, "a") as fh:
        fh.write("one\ntw")
    assert tail.read_new() == ["one"]
    with open(log, "a") as fh:
        fh.write("o\r\n")
    assert tail.read_new() == ["two"]


def test_a_truncated_file_is_read_again_from_the_start(tmp_path: Path) -> None:
    log = tmp_path / "worker_0.log"
    log.write_text("a long first line\n")
    tail = LogTail(log, "W0")
    log.write_text("new\n")
    assert tail.read_new() == ["new"]


def test_a_rotated_file_is_followed_under_its_name(tmp_path: Path) -> None:
    log = tmp_path / "worker_0.log"
    log.write_text("before\n")
    tail = LogTail(log, "W0")
    log.rename(tmp_path / "worker_0.log.1")
    log.write_text("after rotation, much longer than before\n")
    assert tail.read_new() == ["after rotation, much longer than before"]


def test_files_are_found_per_worker_and_a_missing_file_is_no_error(tmp_path: Path) -> None:
    for name in ("worker_1.log", "worker_0.log", "worker_0.console.log", "orchestrator.log"):
        (tmp_path / name).write_text("x\n")
    assert list(log_files(tmp_path, None, True)) == ["ORC", "W0", "W1"]
    assert log_files(tmp_path, 7, True) == {"W7": tmp_path / "worker_7.log"}
    assert LogTail(tmp_path / "worker_7.log", "W7").read_new() == []
    assert last_lines(tmp_path / "missing.log", 5) == []


def test_follow_multiplexes_history_then_new_lines_and_picks_up_new_workers(tmp_path: Path) -> None:
    (tmp_path / "worker_0.log").write_text("h1\nh2\nh3\n")
    steps = iter(range(100))
    now = [0.0]

    def tick(_s: float) -> None:
        now[0] += 0.6  # a fake clock: rediscovery (every second) runs every other poll
        n = next(steps)
        if n == 0:
            with open(tmp_path / "worker_0.log", "a") as fh:
                fh.write("live\n")
        if n == 1:
            (tmp_path / "worker_1.log").write_text("w1 first\n")

    seen: list[tuple[str, str]] = []
    discover = lambda: log_files(tmp_path, None, False)  # noqa: E731
    for item in follow(
        discover, backlog=2, keep_going=lambda: len(seen) < 4, poll_s=0, sleep=tick, clock=lambda: now[0]
    ):
        seen.append(item)
    assert seen[:3] == [("W0", "h2"), ("W0", "h3"), ("W0", "live")]
    assert seen[3] == ("W1", "w1 first")
