"""The chaos run: a fleet under random SIGKILLs of workers and of the orchestrator, and one Ctrl+C.

`run_chaos(fleet, plan)` drives the whole scenario and returns a `ChaosRecord` (plain data) that the
tests check. While it runs, a `Watcher` thread samples the CSV's claimed rows, collects every process
the runs start (recorded PIDs and psutil descendants), and plays the operator who lifts account blocks
(the realistic fault mix blocks most accounts within a minute; lifting them keeps the fleet busy
while the kills happen). The drain runs at the end lift nothing: they stop when nothing is due.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import random
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import psutil

from harness.fleet import Fleet, interrupt, sigkill, wait_for
from jobqueue import JobStatus, QueueError
from jobqueue.outlook import work_outlook
from runtime.platform import ProcessRef
from runtime.settings import load_settings
from tests.chaos.evidence import claimed_rows_per_account
from worker.contract import load_accounts, queue_policy

AIMED_AFTER_CHECKPOINT = ("checkpoint recorded", "step confirm_publish", "step task_")


@dataclass(frozen=True)
class ChaosPlan:
    worker_kills: int = 30
    orchestrator_kills: int = 2
    kill_gap_s: tuple[float, float] = (1.0, 2.5)  # random delay between two kills
    max_blocked: int = 25  # the operator lifts the oldest blocks beyond this many, during the kills
    aim_every: int = 3  # every n-th worker kill waits (briefly) for a worker past its checkpoint
    run_timeout_s: float = 240.0
    drain_runs: int = 4
    outage_segment: int = 1  # in this segment (0-based) GeeLark's API goes down for a while
    outage_after_s: float = 3.0
    outage_s: float = 8.0
    hard_kill: bool = True  # before the drains: kill a run and all it started at once, no clean-up
    seed: int | None = None


@dataclass(frozen=True)
class ParseCheck:
    after: str  # which kill
    rows: int
    unique_ids: int
    missing: tuple[str, ...]
    unknown: tuple[str, ...]
    error: str


@dataclass(frozen=True)
class WorkerKill:
    worker_id: int
    pid: int
    job_id: str | None
    aimed: bool
    at: float


@dataclass(frozen=True)
class RunEnd:
    number: int
    exit_code: int
    how: str  # "sigkill", "interrupt", "hard-kill", "drain"
    stop_s: float | None  # interrupt: seconds from SIGINT to exit


@dataclass(frozen=True)
class LeakedServer:
    """A simdevice (Appium) server that outlived its worker and that no run state names."""

    pid: int
    command: str
    seen_at: datetime


@dataclass
class ChaosRecord:
    worker_kills: list[WorkerKill] = field(default_factory=list)
    orchestrator_kills: int = 0
    interrupts: int = 0
    runs: list[RunEnd] = field(default_factory=list)
    parses: list[ParseCheck] = field(default_factory=list)
    samples: int = 0
    claims_sampled: set[tuple[str, str]] = field(default_factory=set)  # (job_id, claim token)
    double_claims: list[tuple[datetime, dict[str, list[str]]]] = field(default_factory=list)
    sample_errors: list[str] = field(default_factory=list)
    processes: set[ProcessRef] = field(default_factory=set)
    unblocked: Counter[str] = field(default_factory=Counter)
    leaked_servers: list[LeakedServer] = field(default_factory=list)
    left_in_folder: list[str] = field(default_factory=list)  # processes working in the run's folder
    outages: list[Outage] = field(default_factory=list)
    hard_kill: HardKill | None = None
    editor_saves: list[str] = field(default_factory=list)  # "stale" or "in place", in order
    editor_marked: set[str] = field(default_factory=set)  # jobs its copies marked failed by hand
    duration_s: float = 0.0


@dataclass(frozen=True)
class HardKill:
    """A run and everything it started were SIGKILLed at once; its phones had to stop themselves."""

    phones_up: tuple[str, ...]  # running when everything was killed
    sim_s_until_all_down: float | None  # simulated seconds until the last of them was down


@dataclass(frozen=True)
class Outage:
    """GeeLark's API was down from `start` to `end` (wall clock, UTC) during run `run_number`."""

    start: datetime
    end: datetime
    run_number: int


class Watcher(threading.Thread):
    """Samples the queue and the process tree every `interval_s`; lifts blocks while `operator` is set."""

    def __init__(self, fleet: Fleet, record: ChaosRecord, max_blocked: int, interval_s: float = 0.25) -> None:
        super().__init__(name="chaos-watcher", daemon=True)
        self.max_blocked = max_blocked
        self.fleet = fleet
        self.record = record
        self.interval_s = interval_s
        self.halted = threading.Event()
        self.operator = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        n = 0
        while not self.halted.wait(self.interval_s):
            self.sample()
            n += 1
            if n % 4 == 0:
                self.sweep_leaked_servers()

    def sweep_leaked_servers(self) -> None:
        """Detector: a server of this run that no heartbeat names and whose parent is no worker has
        outlived its worker (it would hold the worker's port for every later run). It is killed by
        its ProcessRef so the run can go on, and recorded: `test_no_appium_server_outlives_its_worker`
        fails on any."""
        recorded = {hb.appium for hb in self.fleet.run_dir.read_heartbeats().values() if hb.appium}
        for proc in processes_in(self.fleet.path):
            if any(ref.pid == proc.pid for ref in recorded):
                continue  # named by its worker's heartbeat: the orchestrator's cleanup finds it
            try:
                command = proc.cmdline()
                parent = proc.parent()
                parent_command = parent.cmdline() if parent is not None else []
            except psutil.Error:
                continue
            if command[1:3] != ["-m", "worker.simdevice"] or parent_command[1:3] == ["-m", "worker"]:
                continue
            ref = ProcessRef.of(proc.pid)
            if ref is not None and sigkill(ref):
                when = datetime.now().astimezone()
                self.record.leaked_servers.append(LeakedServer(proc.pid, " ".join(command[2:5]), when))

    def sample(self) -> None:
        with self.lock:
            self._sample_processes()
            try:
                snapshot = self.fleet.snapshot()
            except QueueError as exc:  # busy for longer than the lock timeout: worth knowing
                self.record.sample_errors.append(f"{type(exc).__name__}: {exc}")
                return
            claimed = [j for j in snapshot.jobs if j.status is JobStatus.CLAIMED]
            self.record.samples += 1
            self.record.claims_sampled |= {(j.job_id, j.claim_token) for j in claimed}
            doubles = claimed_rows_per_account((j.job_id, j.account) for j in claimed)
            if doubles:
                self.record.double_claims.append((datetime.now().astimezone(), doubles))
            if self.operator.is_set():
                blocks = sorted(snapshot.accounts.blocked.values(), key=lambda b: b.blocked_at)
                for block in blocks[: max(0, len(blocks) - self.max_blocked)]:
                    if self.fleet.store().unblock_account(block.account):
                        self.record.unblocked[block.account] += 1

    def _sample_processes(self) -> None:
        refs = self.fleet.recorded_refs()
        for proc in self.fleet.runs:
            ref = ProcessRef.of(proc.pid) if proc.poll() is None else None
            if ref is None:
                continue
            refs.add(ref)
            process = ref.process()
            try:
                children = process.children(recursive=True) if process is not None else []
            except psutil.NoSuchProcess:  # the run ended between the two calls
                children = []
            for child in children:
                child_ref = ProcessRef.of(child.pid)
                if child_ref is not None:
                    refs.add(child_ref)
        self.record.processes |= refs

    def halt(self) -> None:
        self.halted.set()
        self.join(timeout=10)


class Editor(threading.Thread):
    """The operator with a spreadsheet open during the run: every few seconds it reads the progress
    file, waits while the fleet goes on, marks one job that was pending in its copy as failed and
    saves that (now stale) copy over the file; every third save writes it in place, in two halves,
    as some editors do. The queue must keep what it owns (tests: no double post, no double claim)."""

    def __init__(self, fleet: Fleet, record: ChaosRecord, rng: random.Random, every_s: float = 4.0) -> None:
        super().__init__(name="chaos-editor", daemon=True)
        self.fleet, self.record, self.rng, self.every_s = fleet, record, rng, every_s
        self.halted = threading.Event()

    def run(self) -> None:
        while not self.halted.wait(self.every_s):
            path = self.fleet.progress_file
            stale = path.read_bytes()
            if self.halted.wait(self.rng.uniform(1.0, 3.0)):
                return
            edited, marked = mark_one_pending_failed(stale, self.rng)
            self.record.editor_marked |= marked
            if len(self.record.editor_saves) % 3 == 2:
                with open(path, "r+b") as handle:  # in place: readers may see half of it
                    handle.write(edited[: len(edited) // 2])
                    handle.flush()
                    time.sleep(0.2)
                    handle.write(edited[len(edited) // 2 :])
                    handle.truncate()
                self.record.editor_saves.append("in place")
            else:
                temp = path.with_name(path.name + ".~excel")
                temp.write_bytes(edited)
                temp.replace(path)
                self.record.editor_saves.append("stale")

    def halt(self) -> None:
        self.halted.set()
        self.join(timeout=15)


def mark_one_pending_failed(data: bytes, rng: random.Random) -> tuple[bytes, set[str]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    status = rows[0].index("status")
    pending = [row for row in rows[1:] if row[status] == "pending"]
    marked: set[str] = set()
    if pending:
        row = rng.choice(pending)
        row[status] = "failed"
        marked.add(row[0])
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)  # as a spreadsheet saves: no BOM, LF
    return out.getvalue().encode("utf-8"), marked


def check_parse(fleet: Fleet, after: str) -> ParseCheck:
    """Parse the CSV right now, both with the store and as plain CSV; compare with the seeded ids."""
    expected = set(fleet.job_ids)
    try:
        fleet.snapshot()
        with open(fleet.progress_file, encoding="utf-8-sig", newline="") as fh:
            ids = [row["job_id"] for row in csv.DictReader(io.StringIO(fh.read()))]
    except (QueueError, OSError, csv.Error, KeyError) as exc:
        return ParseCheck(after, 0, 0, (), (), f"{type(exc).__name__}: {exc}")
    found = set(ids)
    return ParseCheck(
        after, len(ids), len(found), tuple(sorted(expected - found)), tuple(sorted(found - expected)), ""
    )


def live_workers(fleet: Fleet, parent_pid: int) -> dict[int, ProcessRef]:
    """Workers of the current run that are alive now (by their heartbeat's ProcessRef)."""
    found = {}
    for wid, hb in fleet.run_dir.read_heartbeats().items():
        process = hb.process.process()
        try:
            if process is not None and process.ppid() == parent_pid:
                found[wid] = hb.process
        except psutil.NoSuchProcess:  # it died between the two calls
            continue
    return found


def last_log_line(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 600))
            tail = fh.read().decode("utf-8", errors="replace").rstrip("\n")
    except OSError:
        return ""
    return tail.rsplit("\n", 1)[-1]


def pick_victim(
    fleet: Fleet, run: subprocess.Popen[bytes], aimed: bool, rng: random.Random
) -> tuple[int, ProcessRef, bool]:
    """A live worker of `run`; `aimed`: prefer one whose log says it is past its publish checkpoint."""
    deadline = time.monotonic() + (3.0 if aimed else 0.0)
    while True:
        workers = live_workers(fleet, run.pid)
        if aimed:
            for wid, ref in workers.items():
                line = last_log_line(fleet.logs_dir / f"worker_{wid}.log")
                if any(marker in line for marker in AIMED_AFTER_CHECKPOINT):
                    return wid, ref, True
        if workers and time.monotonic() >= deadline:
            wid = rng.choice(sorted(workers))
            return wid, workers[wid], False
        assert run.poll() is None, f"the run ended (exit {run.returncode}) before the chaos plan was done"
        time.sleep(0.02)


def kill_workers(
    fleet: Fleet,
    run: subprocess.Popen[bytes],
    count: int,
    plan: ChaosPlan,
    record: ChaosRecord,
    rng: random.Random,
) -> None:
    for _ in range(count):
        time.sleep(rng.uniform(*plan.kill_gap_s))  # a random gap between kills, not a wait for a condition
        wait_for(lambda: live_workers(fleet, run.pid) or run.poll() is not None, 60, "a live worker to kill")
        aimed = (len(record.worker_kills) + 1) % plan.aim_every == 0
        wid, ref, on_target = pick_victim(fleet, run, aimed, rng)
        heartbeat = fleet.run_dir.read_heartbeats().get(wid)
        if sigkill(ref):
            job = heartbeat.job_id if heartbeat is not None else None
            record.worker_kills.append(WorkerKill(wid, ref.pid, job, on_target, time.monotonic()))
            wait_for(partial(is_dead, ref), 10, f"worker {wid} to die")
            record.parses.append(check_parse(fleet, f"SIGKILL of W{wid} (pid {ref.pid})"))


def start_run(fleet: Fleet) -> subprocess.Popen[bytes]:
    run = fleet.start_run()
    number = len(fleet.runs)
    wait_for(lambda: live_workers(fleet, run.pid) or run.poll() is not None, 60, f"workers of run {number}")
    assert run.poll() is None, f"run {number} ended at once:\n{fleet.console(number)}"
    return run


def nothing_due(fleet: Fleet) -> bool:
    """As the run's own end rule sees it: with the accounts' posting rules (a paced account whose
    next post is only allowed later does not call for another drain run)."""
    settings = load_settings(fleet.path / "parallel-orchestrator.toml").settings
    paths = dataclasses.replace(settings.paths, accounts_file=fleet.path / "accounts.csv")
    settings = dataclasses.replace(settings, paths=paths)
    policy = queue_policy(settings, load_accounts(settings))
    return work_outlook(fleet.snapshot(), datetime.now().astimezone(), policy).finished()


def is_dead(ref: ProcessRef) -> bool:
    return not ref.is_alive()


def kill_everything(fleet: Fleet, record: ChaosRecord) -> HardKill:
    """Start a run, let phones come up, then SIGKILL the orchestrator, its workers and their servers
    at once (a power cut of the operator's PC, as far as the cloud can tell): no process is left to
    stop the phones, so GeeLark's energySavingMode must."""
    run = start_run(fleet)
    assert fleet.simulator is not None
    simulator = fleet.simulator
    wait_for(partial(phones_up, fleet), 60, "phones to come up")
    tree = [psutil.Process(run.pid), *psutil.Process(run.pid).children(recursive=True)]
    record.processes |= {ref for ref in (ProcessRef.of(p.pid) for p in tree) if ref is not None}
    for proc in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    run.wait(timeout=10)
    record.runs.append(RunEnd(len(fleet.runs), run.returncode, "hard-kill", None))
    up = phones_up(fleet)
    killed_at = float(simulator.state()["simTime"])
    down_at = wait_for(partial(all_down_at, fleet), 60, "the phones to stop themselves")
    return HardKill(tuple(up), down_at - killed_at)


def phones_up(fleet: Fleet) -> list[str]:
    assert fleet.simulator is not None
    return [p["serialName"] for p in fleet.simulator.state()["phones"] if p["status"] != 2]


def all_down_at(fleet: Fleet) -> float | None:
    """The simulator's time once no phone is up (None while some still run)."""
    assert fleet.simulator is not None
    state = fleet.simulator.state()
    return float(state["simTime"]) if all(p["status"] == 2 for p in state["phones"]) else None


def resumed(fleet: Fleet, run_number: int) -> bool:
    return "GeeLark answers again" in fleet.console(run_number)


def take_geelark_down(fleet: Fleet, plan: ChaosPlan, record: ChaosRecord) -> None:
    assert fleet.simulator is not None
    start = datetime.now(UTC)
    fleet.simulator.outage(plan.outage_s)
    record.outages.append(Outage(start, start + timedelta(seconds=plan.outage_s), len(fleet.runs)))


def kills_per_segment(plan: ChaosPlan) -> list[int]:
    """The worker kills spread over the runs between orchestrator kills (and the Ctrl+C)."""
    segments = plan.orchestrator_kills + 1
    return [plan.worker_kills // segments + (i < plan.worker_kills % segments) for i in range(segments)]


def run_chaos(fleet: Fleet, plan: ChaosPlan, grace_s: float) -> ChaosRecord:
    rng = random.Random(plan.seed)
    record = ChaosRecord()
    watcher = Watcher(fleet, record, plan.max_blocked)
    watcher.operator.set()
    watcher.start()
    editor = Editor(fleet, record, random.Random(rng.random()))
    editor.start()
    started = time.monotonic()
    try:
        for n, kills in enumerate(kills_per_segment(plan)):
            run = start_run(fleet)
            if n == plan.outage_segment:
                outage = threading.Timer(plan.outage_after_s, take_geelark_down, (fleet, plan, record))
                outage.start()
            kill_workers(fleet, run, kills, plan, record, rng)
            if n == plan.outage_segment:
                outage.join()  # the run must live through the whole outage and see GeeLark come back
                wait_for(partial(resumed, fleet, len(fleet.runs)), 60, "the run to resume after the outage")
            number = len(fleet.runs)
            if n < plan.orchestrator_kills:
                assert sigkill(ProcessRef.of(run.pid) or ProcessRef(run.pid, 0.0)), "the run was gone"
                run.wait(timeout=10)
                record.orchestrator_kills += 1
                record.runs.append(RunEnd(number, run.returncode, "sigkill", None))
                record.parses.append(check_parse(fleet, f"SIGKILL of the orchestrator (run {number})"))
            else:
                interrupt(run)
                asked = time.monotonic()
                try:
                    code = run.wait(timeout=grace_s + 30)
                except subprocess.TimeoutExpired:
                    tail = "\n".join(fleet.console(number).splitlines()[-15:])
                    message = f"Ctrl+C did not stop run {number}; its console ends:\n{tail}"
                    raise AssertionError(message) from None
                record.interrupts += 1
                record.runs.append(RunEnd(number, code, "interrupt", time.monotonic() - asked))
                record.parses.append(check_parse(fleet, f"Ctrl+C of the orchestrator (run {number})"))
        editor.halt()
        if plan.hard_kill:  # the operator still lifts blocks: some accounts must have work
            record.hard_kill = kill_everything(fleet, record)
        watcher.operator.clear()
        for _ in range(plan.drain_runs):
            run = fleet.start_run()
            code = run.wait(timeout=plan.run_timeout_s)
            record.runs.append(RunEnd(len(fleet.runs), code, "drain", None))
            if nothing_due(fleet):
                break
    finally:
        editor.halt()
        watcher.halt()
        watcher.sample()
        record.duration_s = time.monotonic() - started
    record.left_in_folder = [describe(p) for p in processes_in(fleet.path)]
    return record


def processes_in(folder: Path) -> list[psutil.Process]:
    """Processes whose working folder is `folder`: only a run started there (and its children)."""
    found = []
    for proc in psutil.process_iter(["cwd"]):
        cwd = proc.info.get("cwd")
        if cwd and Path(cwd) == folder:
            found.append(proc)
    return found


def describe(proc: psutil.Process) -> str:
    try:
        return f"pid {proc.pid}: {' '.join(proc.cmdline()[:6])}"
    except psutil.Error:
        return f"pid {proc.pid}: (gone)"
