"""The mark of a dry run's copy of a queue: a folder holding this note is never a source of real
posts (the scheduler refuses to import or seed from it; see orchestrator.run.dryrun)."""

from __future__ import annotations

from pathlib import Path

NOTE = "DRY RUN - NOT REAL.txt"
NOTE_TEXT = (
    "This folder is a dry run's copy (parallel-orchestrator --run --simulate).\n"
    "Nothing in it was posted: its successes are simulated, its times are a simulated clock's.\n"
    "It is replaced by the next dry run. Never copy its parallel_progress.csv over the real one.\n"
)


def is_dry_run_folder(folder: Path) -> bool:
    """True for a dry run's folder: never a source of real posts."""
    return (folder / NOTE).exists()


def in_dry_run_folder(path: Path) -> bool:
    """True for a file in a dry run's folder, or such a folder itself."""
    return is_dry_run_folder(path) or is_dry_run_folder(path.parent)
