"""scheduler_state.json: atomic writes, validation naming the key, unknown keys kept on round-trip."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scheduler import LegacyStateFile, StateFileCorrupt, load_state, save_state
from scheduler.errors import StateBusy, StateWriteError
from scheduler.model import Account, SchedulerState
from scheduler.state_io import state_lock

VIDEO = {"video_id": "v", "path": "/v.mp4", "caption": "c"}


def test_missing_file_is_an_empty_state(tmp_path: Path) -> None:
    assert load_state(tmp_path / "scheduler_state.json") == SchedulerState()


def test_unknown_keys_survive_a_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "scheduler_state.json"
    data = {
        "format": 1,
        "operator_note": "keep me",
        "settings": {"daily_limit": 2, "humanize": True},
        "accounts": [{"name": "p1", "added_at": "", "in_use": False, "cooldown_until": "2026-01-01"}],
        "videos": [{"video_id": "v", "path": "/v.mp4", "caption": "c 😀\nx", "future": [1, 2]}],
        "assignments": [{"job_id": "v@p1", "video_id": "v", "account": "p1", "priority": 3}],
        "posted": [{"account": "p1", "video": "old.mp4", "at": "rebuilt", "source": "x", "n": 1}],
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    state = load_state(path)
    save_state(path, state, saved_at="2026-11-23T00:00:00+00:00")
    again = json.loads(path.read_text(encoding="utf-8"))
    assert again["operator_note"] == "keep me"
    assert again["settings"]["humanize"] is True and again["settings"]["daily_limit"] == 2
    assert again["accounts"][0]["in_use"] is False and again["accounts"][0]["cooldown_until"] == "2026-01-01"
    assert again["videos"][0]["future"] == [1, 2] and again["videos"][0]["caption"] == "c 😀\nx"
    assert again["assignments"][0]["priority"] == 3
    assert again["posted"][0]["n"] == 1
    assert load_state(path) == state


def test_save_leaves_no_temp_file_and_writes_utf8(tmp_path: Path) -> None:
    path = tmp_path / "scheduler_state.json"
    save_state(path, SchedulerState(accounts=(Account("é😀", ""),)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scheduler_state.json"]
    assert "é😀" in path.read_text(encoding="utf-8")


def test_a_failed_save_keeps_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "scheduler_state.json"
    save_state(path, SchedulerState())
    before = path.read_bytes()

    def refuse(src: str, dst: str) -> None:
        raise PermissionError(13, "The process cannot access the file", dst)

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(StateWriteError, match="previous file is unchanged"):
        save_state(path, SchedulerState(accounts=(Account("x", ""),)))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scheduler_state.json"]


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(b'\xef\xbb\xbf{"format": 1, "accounts": [{"name": "p"}]}')
    assert load_state(path).account_names == ["p"]


def test_a_wrong_type_names_file_key_and_problem(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"format": 1, "assignments": [{"job_id": "j", "video_id": "v", "account": 3}]}')
    with pytest.raises(StateFileCorrupt) as err:
        load_state(path)
    assert err.value.key == "assignments[0].account"
    assert str(path) in str(err.value) and "expected text, found 3" in str(err.value)


@pytest.mark.parametrize("name", ["scheduler_state.json", "scheduler_state_parallel.json"])
def test_the_original_layout_is_refused_with_the_import_command(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text('{"jobs": [{"id": "SC1"}], "accounts": [], "last_saved": "x"}')
    with pytest.raises(LegacyStateFile, match="posting-scheduler import --from"):
        load_state(path)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"videos": [VIDEO, {**VIDEO, "video_id": "V"}]}, "videos[1].video_id"),
        ({"accounts": [{"name": "p"}, {"name": "p"}]}, "accounts[1].name"),
        (
            {"videos": [VIDEO], "assignments": [{"job_id": "j", "video_id": "nope", "account": "p"}]},
            "assignments[0].video_id",
        ),
    ],
)
def test_broken_references_are_named(tmp_path: Path, data: dict, key: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"format": 1, **data}), encoding="utf-8")
    with pytest.raises(StateFileCorrupt) as err:
        load_state(path)
    assert err.value.key == key


def test_a_second_writer_waits_then_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "scheduler_state.json"
    with (
        state_lock(path),
        pytest.raises(StateBusy, match="another posting-scheduler"),
        state_lock(path, 0.05),
    ):
        pass


def test_each_save_keeps_the_previous_file_as_bak_and_a_corrupt_file_names_it(tmp_path: Path) -> None:
    from scheduler.errors import StateFileCorrupt
    from scheduler.model import SchedulerState
    from scheduler.state_io import load_state, save_state

    path = tmp_path / "scheduler_state.json"
    save_state(path, SchedulerState(), "2026-01-01T00:00:00+00:00")
    assert not (tmp_path / "scheduler_state.json.bak").exists()  # nothing to keep the first time
    first = path.read_text(encoding="utf-8")
    save_state(path, SchedulerState(), "2026-01-02T00:00:00+00:00")
    assert (tmp_path / "scheduler_state.json.bak").read_text(encoding="utf-8") == first
    path.write_text('{"settings": ', encoding="utf-8")  # cut short by a crash of some editor
    with pytest.raises(StateFileCorrupt, match=r"restore the last good copy scheduler_state\.json\.bak"):
        load_state(path)
