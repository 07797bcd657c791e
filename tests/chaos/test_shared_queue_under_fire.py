"""The chaos suite's invariants on a shared PostgreSQL queue: two PCs (two orchestrators in two
folders, one database, one GeeLark cloud) with 3 workers each, 180 jobs over 18 accounts (half
through Appium, half through GeeLark's tasks). Under fire: SIGKILLs of random workers on both PCs,
a restart of PostgreSQL mid-run, then one whole PC killed at once (orchestrator, workers and all
they started: a lost PC) and brought back later. The scenario runs once per module; each test checks
one invariant on the database's own history, the simulator's record and the processes.
"""

from __future__ import annotations

import contextlib
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from harness.fleet import Fleet, FleetConfig, Simulator, fast_flow_file, start_simulator
from harness.postgres import Cluster, find_bin, start_cluster
from harness.processes import free_port_base, wait_for
from jobqueue import JobStatus, NewJob, QueuePolicy
from jobqueue.pgstore import PostgresJobStore
from runtime.platform import ProcessRef
from tests.chaos.conftest import FIGURES
from tests.chaos.evidence import JournalReplay, check_publishes, replay_journal

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.timeout(420),
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and a throwaway PostgreSQL"),
]

JOBS, ACCOUNTS, WORKERS = 180, 18, 3
TIME_SCALE = 0.01
WORKER_KILLS = 8
HOSTS = ("pc1", "pc2")


@dataclass
class SharedOutcome:
    url: str
    fleets: dict[str, Fleet]
    simulator: Simulator
    sim_state: dict[str, Any]
    history: list[dict[str, Any]]
    statuses: dict[str, str]
    killed: set[tuple[int, int]]  # (worker id, pid) incarnations SIGKILLed
    processes: set[ProcessRef]  # everything the runs recorded, seen while they ran
    said: dict[str, str]  # every console of each PC, joined
    hosts_left: list[str]
    replay: JournalReplay
    exits: list[int | None] = field(default_factory=list)


def workers_of(fleet: Fleet) -> list[tuple[int, ProcessRef]]:
    return [(wid, hb.process) for wid, hb in fleet.run_dir.read_heartbeats().items() if hb.process.is_alive()]


def kill_whole_pc(fleet: Fleet) -> None:
    """Everything the PC's run started, SIGKILL at once: no clean-up, no stop of its phones."""
    procs: list[psutil.Process] = []
    for ref in fleet.recorded_refs() | {r for r in (ProcessRef.of(p.pid) for p in fleet.runs) if r}:
        process = ref.process()
        if process is not None and (fleet.simulator is None or ref != fleet.simulator.ref):
            with contextlib.suppress(psutil.NoSuchProcess):
                procs += [process, *process.children(recursive=True)]
    for process in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(procs, timeout=10)


def history_of(url: str) -> list[dict[str, Any]]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT entry FROM po_history ORDER BY id")]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[SharedOutcome]:
    if find_bin() is None:
        pytest.fail("the shared-queue chaos run needs PostgreSQL's server programs (.ci/run installs them)")
    root = tmp_path_factory.mktemp("shared")
    cluster: Cluster = start_cluster(Path(tempfile.mkdtemp(prefix="po-pg-chaos-")))
    rng = random.Random(7)
    fleets: dict[str, Fleet] = {}
    simulator: Simulator | None = None
    try:
        url = cluster.new_database()
        accounts = tuple(f"acct{n:02d}" for n in range(1, ACCOUNTS + 1))
        simulator = start_simulator(root, accounts, "none", TIME_SCALE)
        media = root / "videos"
        media.mkdir()
        jobs = []
        for n in range(JOBS):
            video = media / f"v{n:04d}.mp4"
            video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + n.to_bytes(4, "big"))
            jobs.append(NewJob(f"job{n:04d}", accounts[n % ACCOUNTS], str(video), f"caption {n}"))
        PostgresJobStore(url, QueuePolicy(daily_limit=100_000)).seed(jobs)
        for name in HOSTS:
            folder = root / name
            folder.mkdir()
            fleet = Fleet(folder, accounts=accounts)
            fleet.mixed_accounts()
            config = FleetConfig(
                simulator.url,
                free_port_base(WORKERS),
                workers=WORKERS,
                time_scale=TIME_SCALE,
                heartbeat_timeout_s=5.0,
                flow_file=fast_flow_file(folder),
                extra="heartbeat_interval_s = 1\n",
            )
            toml = config.toml().replace("[queue]\n", f'[queue]\nurl = "{url}"\nhost = "{name}"\n', 1)
            (folder / "parallel-orchestrator.toml").write_text(toml, encoding="utf-8")
            fleets[name] = fleet
        seen: set[ProcessRef] = set()

        def watch() -> bool:
            """Note every process the runs recorded so far (False: a condition's filler)."""
            for fleet in fleets.values():
                seen.update(fleet.recorded_refs())
            return False

        def claims_by(host: str) -> int:
            return sum(1 for e in history_of(url) if e.get("op") == "claim" and e.get("host") == host)

        pc1, pc2 = fleets["pc1"], fleets["pc2"]
        pc1.start_run("--plain")
        pc2.start_run("--plain")
        wait_for(lambda: watch() or (claims_by("pc1") >= 3 and claims_by("pc2") >= 3), 90, "both PCs working")

        killed: set[tuple[int, int]] = set()
        for n in range(WORKER_KILLS):  # random workers, both PCs in turn
            fleet = fleets[HOSTS[n % 2]]
            watch()
            alive = wait_for(partial(workers_of, fleet), 30, "a live worker")
            wid, ref = rng.choice(alive)
            process = ref.process()
            if process is not None:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.kill()
                    killed.add((wid, ref.pid))
            time.sleep(rng.uniform(0.5, 1.5))  # the gap between two kills is part of the plan

        watch()
        cluster.stop_server()  # PostgreSQL restarts mid-run
        wait_for(
            lambda: all("cannot be reached" in f.console(1) for f in fleets.values()),
            30,
            "both see the outage",
        )
        cluster.start_server()
        wait_for(lambda: watch() or claims_by("pc1") >= 6, 60, "pc1 working again")

        watch()
        for wid, ref in workers_of(pc1):
            killed.add((wid, ref.pid))
        silent_before = pc2.console(1).count(
            "Host pc1 went silent"
        )  # a slow beat may have been taken for one
        kill_whole_pc(pc1)  # a PC lost at once
        wait_for(
            lambda: pc2.console(1).count("Host pc1 went silent") > silent_before,
            60,
            "pc2 recovering pc1's claims",
        )
        pc1.start_run("--plain")  # the PC comes back: its run stops the phones it had left running

        exits: list[int | None] = []
        for fleet in fleets.values():
            proc = fleet.runs[-1]
            while proc.poll() is None:
                watch()
                with contextlib.suppress(Exception):
                    proc.wait(timeout=0.5)
            exits.append(proc.returncode)
        for _ in range(3):  # drain what came due again (a kill's retry) on pc2
            snapshot = PostgresJobStore(url).snapshot()
            if not [j for j in snapshot.jobs if j.status in (JobStatus.PENDING, JobStatus.RETRYING)]:
                break
            pc2.start_run("--plain").wait(timeout=240)
        watch()
        sim_state = simulator.state()
        history = history_of(url)
        store = PostgresJobStore(url)
        outcome = SharedOutcome(
            url=url,
            fleets=fleets,
            simulator=simulator,
            sim_state=sim_state,
            history=history,
            statuses={j.job_id: j.status.value for j in store.snapshot().jobs},
            killed=killed,
            processes=seen,
            said={
                name: "\n".join(f.console(n + 1) for n in range(len(f.runs))) for name, f in fleets.items()
            },
            hosts_left=[h.host for h in store.hosts()],
            replay=replay_journal(history, killed),
            exits=exits,
        )
        store.close()
        counts = Counter(outcome.statuses.values())
        pytestconfig.stash[FIGURES] = [
            *pytestconfig.stash.get(FIGURES, []),
            f"shared PostgreSQL queue, 2 PCs x {WORKERS} workers: {JOBS} jobs -> {dict(counts)}; "
            f"{len(killed)} worker incarnations killed (one whole PC among them), one PostgreSQL restart; "
            f"{outcome.replay.claims} claims replayed from the history; "
            f"publishes {len(sim_state['publishes'])}",
        ]
        yield outcome
    finally:
        for fleet in fleets.values():
            fleet.close()
        if simulator is not None:
            simulator.stop()
        cluster.stop()


def test_the_plan_was_carried_out(shared: SharedOutcome) -> None:
    assert len(shared.killed) >= WORKER_KILLS
    assert all("cannot be reached" in said for said in shared.said.values())
    assert "Host pc1 went silent" in shared.said["pc2"]
    assert all(code in (0, 1) for code in shared.exits), shared.exits


def test_every_job_ended_and_none_is_left_claimed(shared: SharedOutcome) -> None:
    counts = Counter(shared.statuses.values())
    assert set(counts) <= {"success", "review", "failed"}, counts
    assert counts["success"] >= JOBS // 2


def test_the_history_never_shows_two_claims_on_one_job_or_one_account(shared: SharedOutcome) -> None:
    assert shared.replay.double_job == ()
    assert shared.replay.double_account == ()
    assert shared.replay.claimed_after_checkpoint == ()


def test_no_job_was_posted_twice_and_every_success_was_posted_once(shared: SharedOutcome) -> None:
    check = check_publishes(shared.sim_state["publishes"], shared.statuses)
    assert check.posted_twice == {}
    assert check.success_without_one_publish == {}
    assert check.published_but_not_done == {}


def test_every_claim_names_its_pc(shared: SharedOutcome) -> None:
    hosts = Counter(e.get("host") for e in shared.history if e.get("op") == "claim")
    assert set(hosts) == set(HOSTS), hosts


def test_no_process_and_no_phone_is_left_running(shared: SharedOutcome) -> None:
    assert [ref for ref in shared.processes if ref.is_alive() and ref != shared.simulator.ref] == []
    for fleet in shared.fleets.values():
        assert [ref for ref in fleet.recorded_refs() if ref.is_alive() and ref != shared.simulator.ref] == []
        assert fleet.run_dir.phones_left_running() == {}
    assert [p["serialName"] for p in shared.sim_state["phones"] if p["status"] != 2] == []
    assert shared.hosts_left == []
