"""Benchmark (not a test): median claim+complete cycle of CsvJobStore vs a naive store vs the cost floor.

    .venv/bin/python bench/queue_ops.py [--sizes 1000,10000,100000]

Workload as in shared/research/perf.md: 100 accounts round-robin, one third of the rows succeeded
yesterday, two thirds pending, ~150-character captions with accents, CJK, emoji, commas, quotes and
every 10th with a line break. A cycle is claim + complete with zero work between, in one process.
- ours: ``CsvJobStore.claim_next`` + ``record(SUCCESS)`` (fsync, backup, atomic replace);
- naive: the original tool's way: under the lock ``csv.DictReader`` the whole file, pick, then
  ``csv.DictWriter`` the whole file to a temp file + fsync + ``os.replace``, for both steps;
- floor: under the lock, read the file's bytes, write them to a temp file, fsync, ``os.replace``,
  twice (a cycle is two writes).
The three are measured in interleaved rounds (so they share the machine's load of the moment).
The last line is ``ratios: vs_naive_10k=<naive/ours> vs_floor_10k=<ours/floor>``.

``--store postgres [--url URL] [--quick]``: the PostgreSQL queue against procrastinate on the same
server (``bench/pg_queue.py``; it starts a throwaway server unless ``--url`` names one).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import filelock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobqueue import CsvJobStore, Outcome, OutcomeKind, QueuePolicy
from jobqueue.csvrow import SEED_COLUMNS, STORE_COLUMNS

ACCOUNTS = 100
ITERATIONS = {1000: (200, 20, 200), 10000: (60, 6, 60), 100000: (8, 2, 8)}
CAPTION = 'Café "naïve" 東京 — 🎉👨‍👩‍👧 🇩🇪, best moments, part {i}; don\'t miss it #reels #viral {pad}'


def make_file(path: Path, n_rows: int) -> None:
    """Write the benchmark queue (13 seed + 4 store columns) directly with csv.writer."""
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow((*SEED_COLUMNS, *STORE_COLUMNS))
        for i in range(n_rows):
            caption = CAPTION.format(i=i, pad="x" * 40) + ("\nsecond line" if i % 10 == 0 else "")
            done = i % 3 == 0
            writer.writerow(
                (f"SC{i:06d}", f"acc{i % ACCOUNTS:03d}", f"videos\\SC{i:06d}.mp4", caption,
                 "success" if done else "pending", "1" if done else "", yesterday if done else "",
                 yesterday if done else "", "", "0", "3", "", "", "", "", "", "0")
            )  # fmt: skip


def interleaved_medians_ms(cycles: dict[str, Callable[[], None]], counts: dict[str, int]) -> dict[str, float]:
    """Median cycle time of each store, measured in interleaved rounds so all see the same machine load."""
    samples: dict[str, list[float]] = {name: [] for name in cycles}
    rounds = min(counts.values())
    for round_number in range(rounds):
        for name, cycle in cycles.items():
            share = counts[name] // rounds + (1 if round_number < counts[name] % rounds else 0)
            for _ in range(share):
                start = time.perf_counter()
                cycle()
                samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1000 for name, values in samples.items()}


def ours(path: Path) -> Callable[[], None]:
    store = CsvJobStore(path, QueuePolicy(daily_limit=10**9))
    store.snapshot()  # opening (the first parse) is not timed, as in perf.md

    def cycle() -> None:
        now = datetime.now(UTC)
        claim = store.claim_next(1, os.getpid(), now)
        assert claim is not None
        store.record(claim, Outcome(OutcomeKind.SUCCESS), now)

    return cycle


def _naive_op(path: Path, lock: filelock.FileLock, change: Callable[[list[dict[str, str]]], None]) -> None:
    with lock:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            fields = list(reader.fieldnames or [])
            rows = list(reader)
        change(rows)
        temp = path.with_name(path.name + ".naive.tmp")
        with open(temp, "w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)


def naive(path: Path) -> Callable[[], None]:
    lock = filelock.FileLock(str(path) + ".lock")
    today = datetime.now(UTC).date().isoformat()
    claimed: list[str] = []

    def claim(rows: list[dict[str, str]]) -> None:
        busy = {row["account"] for row in rows if row["status"] == "claimed"}
        done = Counter(r["account"] for r in rows if r["status"] == "success" and r["completed_at"] >= today)
        for row in rows:
            if row["status"] == "pending" and row["account"] not in busy and done[row["account"]] < 10**9:
                row.update(status="claimed", worker_id="1", claimed_at=datetime.now(UTC).isoformat())
                claimed.append(row["job_id"])
                return

    def complete(rows: list[dict[str, str]]) -> None:
        job_id = claimed.pop()
        for row in rows:
            if row["job_id"] == job_id:
                row.update(status="success", completed_at=datetime.now(UTC).isoformat())

    def cycle() -> None:
        _naive_op(path, lock, claim)
        _naive_op(path, lock, complete)

    return cycle


def floor(path: Path) -> Callable[[], None]:
    lock = filelock.FileLock(str(path) + ".lock")
    temp = path.with_name(path.name + ".floor.tmp")

    def write_once() -> None:
        with lock:
            data = path.read_bytes()
            with open(temp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)

    def cycle() -> None:
        write_once()
        write_once()

    return cycle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--store", choices=("csv", "postgres"), default="csv")
    parser.add_argument("--url", help="--store postgres: a server to use (default: a throwaway one)")
    parser.add_argument("--quick", action="store_true", help="--store postgres: 10k jobs, 1 and 8 workers")
    args = parser.parse_args()
    if args.store == "postgres":
        from bench.pg_queue import run

        raise SystemExit(run(args.url, args.quick))
    sizes = [int(size) for size in args.sizes.split(",")]
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for n_rows in sizes:
            n_ours, n_naive, n_floor = ITERATIONS.get(n_rows, (20, 3, 20))
            cycles, counts = {}, {}
            for name, factory, iterations in (("ours", ours, n_ours), ("naive", naive, n_naive),
                                              ("floor", floor, n_floor)):  # fmt: skip
                path = Path(folder) / f"{name}_{n_rows}.csv"
                make_file(path, n_rows)
                cycles[name], counts[name] = factory(path), iterations
            figures = interleaved_medians_ms(cycles, counts)
            results[n_rows] = figures
            size_mb = (Path(folder) / f"floor_{n_rows}.csv").stat().st_size / 1e6
            print(
                f"{n_rows:>7} rows ({size_mb:5.1f} MB): ours {figures['ours']:8.2f} ms  "
                f"naive {figures['naive']:9.2f} ms  floor {figures['floor']:7.2f} ms  "
                f"naive/ours {figures['naive'] / figures['ours']:6.1f}x  "
                f"ours/floor {figures['ours'] / figures['floor']:4.2f}x",
                flush=True,
            )
    key = 10000 if 10000 in results else sizes[0]
    figures = results[key]
    vs_naive, vs_floor = figures["naive"] / figures["ours"], figures["ours"] / figures["floor"]
    print(f"ratios: vs_naive_10k={vs_naive:.1f} vs_floor_10k={vs_floor:.2f}")


if __name__ == "__main__":
    main()
