"""A dry run (`--run --simulate` in an operator's folder): on a copy, on a simulated clock.

It never writes the operator's progress file, scheduler state or posted ledger. It works in
`simulation/` beside them: a fresh copy of the queue (with its account blocks), its own logs and run
state; the scheduler state and the accounts list are only read. The folder carries a note saying what
it is, and nothing in it is ever seeded or imported as a real post. A folder made for simulation (its
config says `[simulate] enabled = true`, as the demo's does) is not a dry run: its runs write its own
files, as any run does.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

from jobqueue.sidecar import sidecar_path
from jobqueue.simulated import NOTE, NOTE_TEXT
from orchestrator.errors import AlreadyRunning
from runtime.settings import Settings
from runtime.state import RunDir

FOLDER = "simulation"


@dataclass(frozen=True)
class DryRun:
    settings: Settings  # the run's settings: queue, logs and run state inside `folder`
    folder: Path
    copied: tuple[str, ...]  # what was copied from the operator's files


def is_dry_run(settings: Settings, simulate_source: str | None) -> bool:
    """Simulated by the `--simulate` flag (not by a folder made for simulation)."""
    return settings.simulate.enabled and simulate_source == "flag"


def prepare_dry_run(settings: Settings, cwd: Path) -> DryRun:
    """Make `simulation/` afresh: a copy of the queue; point the queue, logs and run state there."""
    folder = cwd / FOLDER
    running = RunDir(folder / ".orchestrator").live_run()
    if running is not None:
        raise AlreadyRunning(
            folder / ".orchestrator" / "orchestrator.lock", running.process.pid, running.started_at
        )
    paths = settings.paths
    progress = paths.progress_file if paths.progress_file.is_absolute() else cwd / paths.progress_file
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / NOTE).write_text(NOTE_TEXT, encoding="utf-8")
    copy = folder / progress.name
    copied = []
    if settings.queue.url:  # a shared PostgreSQL queue: the dry run works on a CSV copy of it
        copied.append(copy_database_queue(settings, copy))
    else:
        for source, target in ((progress, copy), (sidecar_path(progress), sidecar_path(copy))):
            if source.exists():
                shutil.copy2(source, target)
                copied.append(source.name)
    run_paths = dataclasses.replace(
        paths, progress_file=copy, logs_dir=folder / "logs", runtime_dir=folder / ".orchestrator"
    )
    simulate = dataclasses.replace(settings.simulate, clock="simulated")
    queue = dataclasses.replace(settings.queue, url="")  # never the real database
    dry = dataclasses.replace(settings, paths=run_paths, simulate=simulate, queue=queue)
    return DryRun(dry, folder, tuple(copied))


def copy_database_queue(settings: Settings, copy: Path) -> str:
    """The database queue's jobs and accounts' state, as a progress file and its sidecar; returns
    what was copied (the URL without its password)."""
    from jobqueue.csvstore import CsvJobStore
    from orchestrator.adapters.queue_store import open_store, queue_label

    store = open_store(settings)
    snapshot = store.snapshot()
    CsvJobStore(copy, store.policy, journal=False).adopt(snapshot.jobs, snapshot.accounts)
    return queue_label(settings)
