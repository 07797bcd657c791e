"""`logs -f` without `tail -f` (Windows has none): poll log files, survive rotation and truncation.

A `LogTail` remembers its file's identity and offset; each `read_new()` returns the complete lines
written since. A file replaced by rotation (new identity) or truncated (shorter than the offset) is
read again from its start. Files are opened only while reading, so Windows can rotate them.
"""

from __future__ import annotations

import heapq
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

WORKER_LOG = re.compile(r"worker_(\d+)\.log$")
READ_CHUNK = 1 << 16


class LogTail:
    """New complete lines of one file, polled."""

    def __init__(self, path: Path, prefix: str, start_at_end: bool = True) -> None:
        self.path = path
        self.prefix = prefix
        self._identity: tuple[int, int] | None = None
        self._offset = 0
        self._partial = b""
        if start_at_end:
            stat = self._stat()
            if stat is not None:
                self._identity, self._offset = (stat.st_dev, stat.st_ino), stat.st_size

    def _stat(self) -> os.stat_result | None:
        try:
            return os.stat(self.path)
        except OSError:
            return None

    def read_new(self) -> list[str]:
        """Complete lines added since the last call (decoded as UTF-8, bad bytes replaced)."""
        stat = self._stat()
        if stat is None:
            return []
        identity = (stat.st_dev, stat.st_ino)
        if identity != self._identity or stat.st_size < self._offset:
            self._identity, self._offset, self._partial = identity, 0, b""
        if stat.st_size == self._offset:
            return []
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read(max(READ_CHUNK, stat.st_size - self._offset))
        except OSError:
            return []
        self._offset += len(data)
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        return [line.rstrip(b"\r").decode("utf-8", errors="replace") for line in complete]


def last_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines of a file (all of it read as a stream; logs are line-sized)."""
    if count <= 0:
        return []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return [line.rstrip("\r\n") for line in deque(fh, maxlen=count)]
    except OSError:
        return []


def last_error(path: Path, scan: int = 200) -> str | None:
    """The last ERROR or CRITICAL line among the last `scan` lines of one of our logs (None if none)."""
    for line in reversed(last_lines(path, scan)):
        if " ERROR " in line or " CRITICAL " in line:
            return line
    return None


def line_time(line: str) -> datetime | None:
    """The time an event line of ours starts with (`2026-11-23T11:22:33.123+0000 W0 INFO ...`)."""
    stamp = line.split(" ", 1)[0]
    if len(stamp) < 19 or stamp[4:5] != "-":
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def merged_by_time(histories: Mapping[str, list[str]]) -> list[tuple[str, str]]:
    """(prefix, line) of several logs in the order their events happened. A line without a time (a
    traceback's) stays with the event above it; equal times keep the order the files were given."""
    streams = []
    for order, (prefix, lines) in enumerate(histories.items()):
        entries: list[tuple[datetime | None, int, int, list[str]]] = []
        for line in lines:
            moment = line_time(line)
            if moment is None and entries:
                entries[-1][3].append(line)
            else:
                entries.append((moment, order, len(entries), [line]))
        streams.append([(m, order, n, prefix, block) for m, order, n, block in entries])
    merged = heapq.merge(*streams, key=lambda e: (e[0] is not None, e[0] or datetime.min, e[1], e[2]))
    return [(prefix, line) for _, _, _, prefix, block in merged for line in block]


def log_files(logs_dir: Path, worker: int | None, include_orchestrator: bool) -> dict[str, Path]:
    """Prefix -> file: `W0`, `W1`, ... (and `ORC`), or only the one worker asked for."""
    if worker is not None:
        return {f"W{worker}": logs_dir / f"worker_{worker}.log"}
    found: dict[str, Path] = {}
    if include_orchestrator:
        found["ORC"] = logs_dir / "orchestrator.log"
    workers = sorted(
        ((int(m.group(1)), p) for p in logs_dir.glob("worker_*.log") if (m := WORKER_LOG.search(p.name))),
    )
    found.update({f"W{n}": p for n, p in workers})
    return found


def follow(
    discover: Callable[[], dict[str, Path]],
    *,
    backlog: int,
    keep_going: Callable[[], bool],
    poll_s: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[tuple[str, str]]:
    """Yield (prefix, line): first the last `backlog` lines of each file merged by time, then new lines
    as they come.

    Files that appear later (a worker started after us) are picked up from their start.
    """
    files = discover()
    tails = {prefix: LogTail(path, prefix, start_at_end=True) for prefix, path in files.items()}
    yield from merged_by_time({prefix: last_lines(path, backlog) for prefix, path in files.items()})
    rediscover_at = clock() + 1.0
    while keep_going():
        if clock() >= rediscover_at:
            for prefix, path in discover().items():
                if prefix not in tails:
                    tails[prefix] = LogTail(path, prefix, start_at_end=False)
            rediscover_at = clock() + 1.0
        for prefix, tail in tails.items():
            for line in tail.read_new():
                yield prefix, line
        sleep(poll_s)
