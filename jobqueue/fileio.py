"""Durable file replacement: temp file in the same folder, fsync, ``os.replace``, backup, busy retries.

Never remove-then-move: the target always exists, holding either the old or the new bytes.
The previous version is kept as ``<file>.bak`` via a hard link (no copy), or a copy where the
file system has no hard links.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from jobqueue.errors import FileBusy

log = logging.getLogger(__name__)
# Windows: Excel or an antivirus scanner holding the file makes os.replace raise PermissionError
# for a moment (or until the operator closes the file): about 2.5 s of retries, then FileBusy.
REPLACE_RETRY_DELAYS_S = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.6, 0.7)
_TEMP_SUFFIX = re.compile(r"\.[0-9a-f]{12}\.tmp$")


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None if it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _temp_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.{secrets.token_hex(6)}.tmp")


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete temp files a killed writer left next to ``path``; call only while holding the lock."""
    removed = []
    for candidate in path.parent.glob(f"{glob_escape(path.name)}.*.tmp"):
        if _TEMP_SUFFIX.search(candidate.name) and candidate.name[: len(path.name)] == path.name:
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards escaped."""
    return re.sub(r"([\[\]*?])", r"[\1]", name)


def _fsync_directory(folder: Path) -> None:
    flag = getattr(os, "O_DIRECTORY", None)
    if flag is None:  # Windows cannot open a folder; NTFS journals the rename itself.
        return
    descriptor = os.open(folder, os.O_RDONLY | flag)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _keep_backup(path: Path, backup: Path) -> None:
    """Make ``backup`` the current version of ``path``; a backup that cannot be made is only logged."""
    staged = _temp_path(backup)
    try:
        try:
            os.link(path, staged)
        except FileNotFoundError:
            return
        except OSError:  # no hard links here (FAT, some shares) or Windows refused: copy instead
            shutil.copyfile(path, staged)
        os.replace(staged, backup)
        # rename() does nothing when both names already link the same file (a previous write failed
        # after its backup step), so the staged name may still be there.
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()
    except OSError as error:  # e.g. the .bak is open in Excel: never block the queue for it
        log.warning("could not update backup %s: %s", backup, error)
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()


def _replace_with_retries(
    source: Path, target: Path, delays_s: Sequence[float], sleep: Callable[[float], None]
) -> None:
    for delay_s in (*delays_s, None):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if delay_s is None:
                raise FileBusy(target) from None
            sleep(delay_s)


def atomic_write(
    path: Path,
    data: bytes,
    backup: Path | None = None,
    retry_delays_s: Sequence[float] = REPLACE_RETRY_DELAYS_S,
    sleep: Callable[[float], None] = time.sleep,
    durable: bool = True,
    sync_directory: bool = True,
) -> os.stat_result:
    """Replace ``path`` with ``data`` atomically; FileBusy (file untouched) if it stays locked.
    Returns the new file's stat, taken before the rename: it is the file this call wrote even if
    another program replaced it a moment later.

    ``durable`` fsyncs the data, so the new name never points at unwritten bytes after a power cut;
    ``sync_directory`` (with ``durable``) also fsyncs the folder, so the rename itself is on disk
    when this returns. Without ``durable`` the replacement is still atomic for every process.
    """
    temp = _temp_path(path)
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
            written = os.fstat(handle.fileno())
        if backup is not None:
            _keep_backup(path, backup)
        _replace_with_retries(temp, path, retry_delays_s, sleep)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    if durable and sync_directory:
        _fsync_directory(path.parent)
    return written
