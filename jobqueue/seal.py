"""How the store knows that the progress file was changed by someone else, and what it wrote last.

After every write the store leaves two things beside the file (under the queue lock):

- ``<file>.seal``: size, modification time and SHA-256 of the bytes it wrote;
- ``<file>.written``: a copy of those bytes (the reconciliation's reference).

A file whose bytes do not match the seal was written by someone else (Excel, an editor, a copy
over it, in place or by replacing the file). ``.written`` is a copy, not a link, so an editor that
writes in place (Notepad) cannot change it too. If it is missing or does not match the seal, the
store's own last parse serves when it matches, else the ``.bak`` (the version before the latest
write).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from jobqueue.fileio import read_bytes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Seal:
    size: int
    mtime_ns: int
    inode: int
    digest: str


def seal_path(path: Path) -> Path:
    return path.with_name(path.name + ".seal")


def written_path(path: Path) -> Path:
    return path.with_name(path.name + ".written")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_seal(path: Path) -> Seal | None:
    """The seal of the store's last write; None if there is none (or it cannot be read: then the
    file is trusted as it is, as before seals existed)."""
    try:
        raw = json.loads(seal_path(path).read_text(encoding="utf-8"))
        return Seal(int(raw["size"]), int(raw["mtime_ns"]), int(raw["inode"]), str(raw["digest"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_seal(path: Path, data: bytes, stat: os.stat_result | None = None) -> None:
    """After the store replaced ``path`` with ``data``: copy it to ``.written`` and write the seal.
    ``stat`` is the written file's own (from ``atomic_write``): a program that replaced the file
    since cannot pass for the queue. Failing here never fails the write: it is logged."""
    written = written_path(path)
    staged = written.with_name(written.name + ".tmp")
    try:
        staged.write_bytes(data)
        os.replace(staged, written)
        stat = stat or path.stat()
        body = json.dumps(
            {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino, "digest": digest(data)}
        )
        seal = seal_path(path)
        seal_tmp = seal.with_name(seal.name + ".tmp")
        seal_tmp.write_text(body, encoding="utf-8")
        os.replace(seal_tmp, seal)
    except OSError as error:
        log.warning("could not record the queue's seal beside %s: %s", path, error)


def changed_outside(path: Path, data: bytes, seal: Seal | None) -> bool:
    """True if ``data`` (the file as just read) is not what the store last wrote."""
    if seal is None:
        return False
    with contextlib.suppress(OSError):
        stat = path.stat()
        same = (stat.st_size, stat.st_mtime_ns, stat.st_ino) == (seal.size, seal.mtime_ns, seal.inode)
        if same and len(data) == seal.size:
            return False
    return digest(data) != seal.digest


def reference_version(path: Path, seal: Seal, last_seen: bytes | None, backup: Path) -> bytes | None:
    """The queue's own last version, for reconciling an outside edit (see the module docstring)."""
    data = read_bytes(written_path(path))
    if data is not None and digest(data) == seal.digest:
        return data
    if last_seen is not None and digest(last_seen) == seal.digest:
        return last_seen
    return read_bytes(backup)
