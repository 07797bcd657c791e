"""The scheduler's exception tree: every error an operator can cause, with what, where and how to fix.

SchedulerError
├── InputError                 bad operator input; nothing was written
│   ├── FolderNotFound         --add-folder names a folder that is not there
│   ├── NoVideos               a folder holds no video file at the top or one level down
│   ├── NoUsableVideos         videos exist but none has a caption
│   ├── CaptionColumnMissing   a captions CSV has a caption column but no video column, or the reverse
│   ├── AccountNameError       a duplicate, a case-variant or a malformed account name
│   ├── UnknownAccount         remove-account names an account that is not in the state
│   ├── ProgressFileUnreadable the progress CSV cannot be read (held open, or not a progress file)
│   ├── ImportSourceNotFound   import --from names nothing importable
│   └── NotALegacyFile         import was given a file it cannot read as any of the original formats
└── StateError                 scheduler_state.json cannot be used as is; it was left untouched
    ├── StateFileCorrupt       not JSON, or a key has the wrong type (names the key)
    ├── LegacyStateFile        the original tool's layout: import it instead of using it
    ├── StateBusy              another posting-scheduler holds the state lock
    ├── StateWriteError        the new state could not be written (the old file is unchanged)
    └── QueueLost              jobs were seeded, but the progress file is gone or empty
"""

from __future__ import annotations

from pathlib import Path


class SchedulerError(Exception):
    """Root of the scheduler's errors; ``str(err)`` says what, where and how to fix it."""


class InputError(SchedulerError):
    """Bad operator input; the command wrote nothing."""


class DryRunCopy(InputError):
    """A dry run's folder: its successes are simulated, never real posts."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        super().__init__(
            f"{path} is in a dry run's folder (it holds 'DRY RUN - NOT REAL.txt'): nothing there was "
            f"posted, so it is never {what}; run posting-scheduler in your real working folder"
        )


class FolderNotFound(InputError):
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        super().__init__(
            f"folder not found: {folder} (working folder {Path.cwd()}); "
            "give the full path, or run from the folder that contains it"
        )


class NoVideos(InputError):
    def __init__(self, folder: Path, extensions: tuple[str, ...]) -> None:
        self.folder = folder
        super().__init__(
            f"no video files in {folder}: looked for {', '.join(extensions)} at the top of the folder "
            "and one level down; check the folder name, or move the videos there"
        )


class NoUsableVideos(InputError):
    def __init__(self, folder: Path, reasons: list[str]) -> None:
        self.folder = folder
        shown = "; ".join(reasons[:5]) + (f"; ... and {len(reasons) - 5} more" if len(reasons) > 5 else "")
        super().__init__(
            f"none of the videos in {folder} can be used ({shown}); "
            "add a captions CSV (filename,caption) or a .txt caption next to each video"
        )


class CaptionColumnMissing(InputError):
    def __init__(self, csv_file: Path, missing: str, columns: list[str]) -> None:
        self.csv_file = csv_file
        self.missing = missing
        shown = ", ".join(repr(c) for c in columns) or "(no header)"
        super().__init__(
            f"{csv_file}: no {missing} column (columns: {shown}); the caption column is one of "
            "'caption', 'post_caption', 'Text', and the video column one of 'filename', 'video', "
            "'shortcode' or a header containing 'Video'/'Image'; rename the header and retry"
        )


class AccountNameError(InputError):
    def __init__(self, name: str, where: str, problem: str) -> None:
        self.name = name
        super().__init__(f"account {name!r} ({where}): {problem}")


class UnknownAccount(InputError):
    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        shown = ", ".join(known[:20]) or "none"
        super().__init__(f"no account named {name!r} in the state (accounts: {shown})")


class ProgressFileUnreadable(InputError):
    def __init__(self, path: Path, detail: str) -> None:
        self.path = path
        super().__init__(
            f"cannot read the progress file {path}: {detail}; close it in Excel or any editor, "
            "or point --progress at the right file"
        )


class QueueDatabaseUnreachable(InputError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            f"cannot work with the queue database: {detail}; check that PostgreSQL runs and [queue] url"
            " in parallel-orchestrator.toml (or PARALLEL_ORCHESTRATOR_QUEUE_URL)"
        )


class ImportSourceNotFound(InputError):
    def __init__(self, source: Path, detail: str = "") -> None:
        self.source = source
        super().__init__(
            f"nothing to import at {source}{': ' + detail if detail else ''}; give the original tool's "
            "folder or its files (parallel_progress*.csv, scheduler_state*.json, accounts.txt, "
            "all_posted_videos.txt)"
        )


class NotALegacyFile(InputError):
    def __init__(self, source: Path, reason: str) -> None:
        self.source = source
        super().__init__(f"cannot import {source}: {reason}")


class StateError(SchedulerError):
    """The state file cannot be used as is; it was left untouched."""


class StateFileCorrupt(StateError):
    def __init__(self, path: Path, key: str, reason: str) -> None:
        self.path = path
        self.key = key
        self.reason = reason
        backup = path.with_name(path.name + ".bak")
        restore = (
            f", or restore the last good copy {backup.name} (copy it over {path.name})"
            if backup.is_file()
            else ""
        )
        super().__init__(
            f"{path}: {key}: {reason}; the file was left as it is: fix it by hand{restore}, or move it away "
            "and import it with `posting-scheduler import --from <file>`"
        )


class LegacyStateFile(StateError):
    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"{path} is the original posting_scheduler.py's layout (top-level 'jobs'); convert it once "
            f"with `posting-scheduler import --from {path}` (it keeps a copy of the original)"
        )


class StateBusy(StateError):
    def __init__(self, lock_path: Path, timeout_s: float) -> None:
        self.lock_path = lock_path
        super().__init__(
            f"another posting-scheduler holds {lock_path} (waited {timeout_s:g} s); "
            "wait for it to finish and retry"
        )


class StateWriteError(StateError):
    def __init__(self, path: Path, cause: OSError) -> None:
        self.path = path
        super().__init__(
            f"could not write {path}: {cause.strerror or cause}; the previous file is unchanged "
            "(close it in any editor holding it open, check free space and permissions, and retry)"
        )


class QueueLost(StateError):
    """The state says jobs were seeded into the progress file, but it holds none: seeding them again
    would forget which were posted. Nothing was written."""

    def __init__(self, progress: Path | None, seeded: int, backup: Path | None) -> None:
        where = str(progress) if progress is not None else "the progress file"
        restore = (
            f" Restore it from {backup} (copy it over {where}),"
            if backup is not None and backup.exists()
            else " Restore it from a backup,"
        )
        super().__init__(
            f"{seeded} job(s) were seeded into {where}, but it is missing or empty: it was deleted,"
            f" emptied, or [paths] progress_file points somewhere else.{restore} or check"
            " the setting; nothing was written."
        )
