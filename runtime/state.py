"""The run-state folder (`.orchestrator/` by default), shared by the orchestrator and its workers.

Every file is written atomically (temp + fsync + replace) so a reader never sees half a file, and
each worker writes only its own files, so no lock is needed: the orchestrator reads, workers write.
The phones ledger is append-only, one JSON line per event.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from runtime.platform import ProcessRef

PhoneEvent = Literal["started", "stopped"]


def write_json_atomic(path: Path, data: object) -> None:
    """Write JSON so that readers see the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, ensure_ascii=False, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        _replace_with_retry(Path(tmp), path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _replace_with_retry(src: Path, dst: Path, attempts: int = 20) -> None:
    # Windows refuses a replace while another process has the target open for reading; readers
    # here hold files for microseconds, so a short retry loop is enough.
    import time

    for i in range(attempts):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if i == attempts - 1:
                raise
            time.sleep(0.005 * (i + 1))


def read_json(path: Path) -> Any | None:
    """The parsed file, or None if it does not exist or is not valid JSON (a torn legacy write)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError, PermissionError):
        return None


@dataclass(frozen=True)
class Heartbeat:
    """What a worker says about itself every few seconds."""

    worker_id: int
    process: ProcessRef
    heartbeat_at: datetime
    step: str = "idle"
    job_id: str | None = None
    account: str | None = None
    phone_id: str | None = None
    job_started_at: datetime | None = None
    appium: ProcessRef | None = None
    appium_port: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["process"] = self.process.to_json()
        data["appium"] = self.appium.to_json() if self.appium else None
        data["heartbeat_at"] = self.heartbeat_at.isoformat()
        data["job_started_at"] = self.job_started_at.isoformat() if self.job_started_at else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Heartbeat | None:
        process = ProcessRef.from_json(data.get("process"))
        if process is None:
            return None
        try:
            started = data.get("job_started_at")
            return cls(
                worker_id=int(data["worker_id"]),
                process=process,
                heartbeat_at=datetime.fromisoformat(data["heartbeat_at"]),
                step=str(data.get("step") or "idle"),
                job_id=data.get("job_id"),
                account=data.get("account"),
                phone_id=data.get("phone_id"),
                job_started_at=datetime.fromisoformat(started) if started else None,
                appium=ProcessRef.from_json(data.get("appium")),
                appium_port=data.get("appium_port"),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class RunInfo:
    """The orchestrator's record of a run: enough to find and stop everything it started."""

    process: ProcessRef
    started_at: datetime
    workers: int
    simulate: bool = False
    simulator: ProcessRef | None = None
    simulator_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "process": self.process.to_json(),
            "started_at": self.started_at.isoformat(),
            "workers": self.workers,
            "simulate": self.simulate,
            "simulator": self.simulator.to_json() if self.simulator else None,
            "simulator_url": self.simulator_url,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: Any) -> RunInfo | None:
        if not isinstance(data, dict):
            return None
        process = ProcessRef.from_json(data.get("process"))
        if process is None:
            return None
        try:
            return cls(
                process=process,
                started_at=datetime.fromisoformat(data["started_at"]),
                workers=int(data.get("workers", 0)),
                simulate=bool(data.get("simulate", False)),
                simulator=ProcessRef.from_json(data.get("simulator")),
                simulator_url=data.get("simulator_url"),
                extra=dict(data.get("extra") or {}),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class PhoneRecord:
    phone_id: str
    serial_name: str
    worker_id: int | None
    started_at: str


def _at_or_after(at: str, moment: datetime) -> bool:
    try:
        return datetime.fromisoformat(at) >= moment
    except ValueError:
        return False


def _started_after(started_at: str, stop_asked_at: object) -> bool:
    """True if a phone's "started" line is later than the moment a stop was asked (see the ledger)."""
    try:
        started = datetime.fromisoformat(started_at)
        asked = datetime.fromisoformat(str(stop_asked_at))
        return started > asked
    except (TypeError, ValueError):  # unreadable or naive/aware mix: the line order decides
        return False


class RunDir:
    """Paths and readers/writers of the run-state folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def run_file(self) -> Path:
        return self.root / "run.json"

    @property
    def lock_file(self) -> Path:
        return self.root / "orchestrator.lock"

    @property
    def settings_file(self) -> Path:
        return self.root / "settings.json"

    @property
    def workers_dir(self) -> Path:
        return self.root / "workers"

    @property
    def phones_ledger(self) -> Path:
        return self.root / "phones.jsonl"

    @property
    def stop_all_file(self) -> Path:
        return self.root / "stop"

    @property
    def geelark_budget_dir(self) -> Path:
        """The GeeLark request budget shared by every process of a run (workers, orchestrator)."""
        return self.root / "geelark-budget"

    def ensure(self) -> None:
        self.workers_dir.mkdir(parents=True, exist_ok=True)

    # -- the run ---------------------------------------------------------------------------------

    def write_run(self, info: RunInfo) -> None:
        write_json_atomic(self.run_file, info.to_json())

    def read_run(self) -> RunInfo | None:
        return RunInfo.from_json(read_json(self.run_file))

    def live_run(self) -> RunInfo | None:
        """The run recorded in run.json if its orchestrator process is still alive, else None."""
        info = self.read_run()
        return info if info is not None and info.process.is_alive() else None

    def clear_run(self) -> None:
        self.run_file.unlink(missing_ok=True)

    # -- heartbeats ------------------------------------------------------------------------------

    def heartbeat_file(self, worker_id: int) -> Path:
        return self.workers_dir / f"{worker_id}.json"

    def write_heartbeat(self, hb: Heartbeat) -> None:
        write_json_atomic(self.heartbeat_file(hb.worker_id), hb.to_json())

    def read_heartbeats(self) -> dict[int, Heartbeat]:
        beats: dict[int, Heartbeat] = {}
        for path in sorted(self.workers_dir.glob("*.json")):
            data = read_json(path)
            hb = Heartbeat.from_json(data) if isinstance(data, dict) else None
            if hb is not None:
                beats[hb.worker_id] = hb
        return beats

    def remove_heartbeat(self, worker_id: int) -> None:
        self.heartbeat_file(worker_id).unlink(missing_ok=True)

    # -- stop requests ---------------------------------------------------------------------------

    def worker_stop_file(self, worker_id: int) -> Path:
        return self.workers_dir / f"{worker_id}.stop"

    def request_stop(self, worker_id: int | None = None) -> None:
        """Ask one worker (or, with None, the whole run) to stop at its next safe point."""
        target = self.stop_all_file if worker_id is None else self.worker_stop_file(worker_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            target.write_text(datetime.now().astimezone().isoformat(), encoding="utf-8")
        except OSError:  # a full disk: the file's presence is the request, its text only says when
            target.touch()

    def stop_requested(self, worker_id: int | None = None) -> bool:
        if self.stop_all_file.exists():
            return True
        return worker_id is not None and self.worker_stop_file(worker_id).exists()

    def clear_stops(self) -> None:
        self.stop_all_file.unlink(missing_ok=True)
        for path in self.workers_dir.glob("*.stop"):
            path.unlink(missing_ok=True)

    # -- phones we started -----------------------------------------------------------------------

    def record_phone(
        self,
        event: PhoneEvent,
        *,
        phone_id: str,
        serial_name: str,
        worker_id: int | None,
        at: datetime,
        auto_stop: bool = False,
    ) -> None:
        """Append one started/stopped event; one short line per write so appends do not interleave.

        `at`: for "started", when it was recorded (before the start request); for "stopped", when
        the stop was asked, not when it was confirmed (see `phones_left_running`)."""
        line = json.dumps(
            {
                "event": event,
                "phone_id": str(phone_id),
                "serial_name": serial_name,
                "worker_id": worker_id,
                "at": at.isoformat(),
                **({"auto_stop": True} if auto_stop else {}),  # energySavingMode: it stops itself
            },
            ensure_ascii=False,
        )
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.phones_ledger, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def phone_events(self) -> Iterator[dict[str, Any]]:
        try:
            text = self.phones_ledger.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        for line in text.splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill mid-append; the next event for that phone still counts
            if isinstance(event, dict) and "phone_id" in event:
                yield event

    def phone_starts_since(self, moment: datetime) -> tuple[int, int]:
        """(phones started, of which with GeeLark's auto-stop) recorded at or after ``moment``."""
        started = [
            e
            for e in self.phone_events()
            if e.get("event") == "started" and _at_or_after(str(e.get("at", "")), moment)
        ]
        return len(started), sum(1 for e in started if e.get("auto_stop"))

    def phones_left_running(self) -> dict[str, PhoneRecord]:
        """Phones whose last recorded event is "started": ours, and maybe still billing.

        A "stopped" line carries the time the stop was *asked*: it does not close a "started" line
        recorded after that moment (another worker claimed the account meanwhile and started the
        phone again while the stop was on its way), whatever order the two lines were appended in.
        """
        running: dict[str, PhoneRecord] = {}
        for event in self.phone_events():
            phone_id = str(event["phone_id"])
            if event.get("event") == "started":
                running[phone_id] = PhoneRecord(
                    phone_id=phone_id,
                    serial_name=str(event.get("serial_name", "")),
                    worker_id=event.get("worker_id"),
                    started_at=str(event.get("at", "")),
                )
            elif phone_id in running and not _started_after(running[phone_id].started_at, event.get("at")):
                del running[phone_id]
        return running
