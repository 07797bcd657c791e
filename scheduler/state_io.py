"""Reading and writing scheduler_state.json: validated load, atomic save, one writer at a time."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from scheduler.errors import StateBusy, StateFileCorrupt, StateWriteError
from scheduler.model import SchedulerState
from scheduler.state_codec import decode_state, encode_state

LOCK_TIMEOUT_S = 10.0


def utc_now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def load_state(path: Path) -> SchedulerState:
    """The state in ``path``; an empty state if the file does not exist.

    Raises StateFileCorrupt (names the key and the problem) or LegacyStateFile; never returns an empty
    state for a file that exists but cannot be read.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return SchedulerState()
    except OSError as exc:
        raise StateFileCorrupt(path, "(file)", f"cannot be read: {exc.strerror or exc}") from exc
    if not raw.strip():
        raise StateFileCorrupt(path, "(file)", "the file is empty")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise StateFileCorrupt(path, "(file)", f"not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise StateFileCorrupt(
            path, "(file)", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    return decode_state(path, data)


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def save_state(path: Path, state: SchedulerState, saved_at: str | None = None) -> None:
    """Write ``state`` atomically: temp file in the same folder, fsync, os.replace. The file it
    replaces is kept as ``<name>.bak`` first (also atomically), like the progress file's.

    Raises StateWriteError; the previous file is then unchanged.
    """
    text = json.dumps(encode_state(state, saved_at or utc_now_text()), indent=2, ensure_ascii=False)
    try:
        previous = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        previous = None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateWriteError(path, OSError(f"the current file cannot be read to back it up: {exc}")) from exc
    if previous is not None and previous.strip():
        write_text_atomic(backup_path(path), previous)
    write_text_atomic(path, text + "\n")


def write_text_atomic(path: Path, text: str, *, newline: str = "\n", encoding: str = "utf-8") -> None:
    """Replace ``path`` with ``text`` so that readers see the old or the new file, never half."""
    folder = path.parent if str(path.parent) else Path(".")
    tmp_name = ""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "w", encoding=encoding, newline=newline) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except OSError as exc:
        if tmp_name:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
        raise StateWriteError(path, exc) from exc


@contextlib.contextmanager
def state_lock(path: Path, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold ``<state>.lock`` so that two scheduler commands never interleave load and save."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        with FileLock(str(lock_path), timeout=timeout_s):
            yield
    except Timeout as exc:
        raise StateBusy(lock_path, timeout_s) from exc
