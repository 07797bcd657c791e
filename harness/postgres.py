"""A throwaway PostgreSQL cluster for tests and benchmarks: its own data folder, a Unix socket in
it and no TCP port; trust authentication; fsync off for tests, or the server's own durable defaults
(``durable=True``: fsync, full-page writes, synchronous commit, as an operator's server runs; what a
benchmark must measure). Run as root, it runs the server as the `postgres` user (initdb refuses
root). Stopped (immediate) and its folder removed by `stop`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BIN_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin")


def find_bin() -> Path | None:
    """The folder of `initdb` and `pg_ctl`: on PATH, else Debian's versioned folders (newest)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    for pattern in BIN_GLOBS:
        candidates = sorted(Path("/").glob(pattern.lstrip("/")), key=lambda p: p.parts)
        for folder in reversed(candidates):
            if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
                return folder
    return None


@dataclass
class Cluster:
    folder: Path
    bin: Path
    as_user: list[str]
    durable: bool = False
    _databases: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def socket_dir(self) -> Path:
        return self.folder / "sock"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port=5432"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=120, check=True, cwd="/"
        )

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._databases)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop_server(self) -> None:
        """The server goes down at once (as a crash or a restart would take it): clients lose
        their connections; the data stays for ``start_server``."""
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")

    def start_server(self) -> None:
        options = f"-c listen_addresses='' -k {self.socket_dir}"
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        self.run(
            str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-o", options,
            "-l", str(self.folder / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.run(
                str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop"
            )
        shutil.rmtree(self.folder, ignore_errors=True)


def start_cluster(folder: Path, *, durable: bool = False) -> Cluster:
    """Initialise and start a cluster in ``folder`` (created). Raises RuntimeError with the reason
    when PostgreSQL's server programs are missing or the server does not start."""
    bindir = find_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
    folder.mkdir(parents=True, exist_ok=True)
    as_user: list[str] = []
    if sys.platform != "win32" and os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            raise RuntimeError("running as root needs `runuser` to start PostgreSQL as `postgres`")
        as_user = [runuser, "-u", "postgres", "--"]
        shutil.chown(folder, user="postgres")
        os.chmod(folder, 0o700)
    cluster = Cluster(folder, bindir, as_user, durable)
    (folder / "sock").mkdir(exist_ok=True)
    if as_user:
        shutil.chown(folder / "sock", user="postgres")
    try:
        cluster.run(
            str(bindir / "initdb"), "-D", str(folder / "data"), "-U", "postgres", "-A", "trust",
            "--no-sync", "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        cluster.start_server()
    except subprocess.CalledProcessError as exc:
        log = (folder / "server.log").read_text(errors="replace") if (folder / "server.log").exists() else ""
        cluster.stop()
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr or exc.stdout}{log[-2000:]}") from exc
    return cluster
