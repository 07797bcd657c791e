"""The queue in PostgreSQL, from the operator's side: `[queue] url` (or its environment variable),
the password never shown, `import-csv` / `export-csv`, and two hosts (two folders, two orchestrators)
emptying one queue together on a throwaway PostgreSQL cluster."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg
import pytest

from harness.postgres import Cluster
from harness.processes import free_port_base, subprocess_env, wait_for
from jobqueue import CsvJobStore, JobStatus, NewJob, Outcome, OutcomeKind, QueuePolicy
from jobqueue.csvfile import RowReader, parse_file
from jobqueue.pgstore import PostgresJobStore
from runtime.settings import ConfigError, load_settings, settings_to_dict
from runtime.state import RunDir
from tests.orchestrator.conftest import Reaper, Workdir, config_toml, running_phones

ENV = "PARALLEL_ORCHESTRATOR_QUEUE_URL"


def cli(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m orchestrator ARGS` in `folder`, with the queue's environment variable set or not."""
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=folder,
        env={**{k: v for k, v in subprocess_env().items() if k != ENV}, **(env or {})},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=90,
    )


def test_the_url_comes_from_the_config_or_the_environment_and_bad_ones_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "parallel-orchestrator.toml"
    config.write_text('[queue]\nurl = "postgresql://po:secret@db-pc:5432/queue"\n', encoding="utf-8")
    loaded = load_settings(config, env={})
    assert loaded.settings.queue.url == "postgresql://po:secret@db-pc:5432/queue"
    assert settings_to_dict(loaded.settings)["queue"]["url"] == "postgresql://po@db-pc:5432/queue"
    from_env = load_settings(None, env={ENV: "postgresql://po@other/q"})
    assert from_env.settings.queue.url == "postgresql://po@other/q" and from_env.sources["queue.url"] == "env"

    config.write_text("[queue]\nurl = 'C:\\\\queue\\\\parallel_progress.csv'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not a PostgreSQL URL: write it as 'postgresql://"):
        load_settings(config, env={})


def test_show_config_and_logs_never_show_the_password(tmp_path: Path) -> None:
    (tmp_path / "parallel-orchestrator.toml").write_text(
        '[queue]\nurl = "postgresql://po:Sup3rSecret@db-pc:5432/queue"\n', encoding="utf-8"
    )
    out = cli(tmp_path, "--show-config")
    assert out.returncode == 0, out.stderr
    assert "postgresql://po:***@db-pc:5432/queue" in out.stdout
    assert "Sup3rSecret" not in out.stdout + out.stderr


def test_an_unreachable_database_is_a_clear_queue_error(tmp_path: Path) -> None:
    env = {ENV: "postgresql://po:Sup3rSecret@127.0.0.1:9/queue?connect_timeout=2"}
    out = cli(tmp_path, "--status", env=env)
    assert out.returncode == 6, out.stdout + out.stderr
    assert "the queue database cannot be reached" in out.stderr
    assert "Sup3rSecret" not in out.stdout + out.stderr


def csv_queue(folder: Path, jobs: int) -> Path:
    progress = folder / "parallel_progress.csv"
    store = CsvJobStore(progress, QueuePolicy(daily_limit=10, timezone="UTC"))
    store.seed(
        NewJob(f"job{n:02d}", f"acct{n % 3}", f"/v/{n}.mp4", f"caption {n}, with =SUM(1)")
        for n in range(jobs)
    )
    claim = store.claim_next(0, os.getpid(), store_now())
    assert claim is not None
    store.record(claim, Outcome(OutcomeKind.ACCOUNT, "suspended", "account suspended"), store_now())
    return progress


def store_now() -> datetime:
    return datetime.now(UTC)


def test_import_moves_a_csv_queue_once_and_export_gives_it_back(tmp_path: Path, pg_cluster: Cluster) -> None:
    url = pg_cluster.new_database()
    env = {ENV: url}
    progress = csv_queue(tmp_path, 6)
    before = CsvJobStore(progress).snapshot()

    out = cli(tmp_path, "import-csv", "parallel_progress.csv", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Imported 6 job(s)" in out.stdout
    assert not progress.exists()  # renamed: a run without the database must not post these again
    assert [p.name for p in tmp_path.glob("parallel_progress.imported-*.csv")]
    db = PostgresJobStore(url).snapshot()
    assert db.jobs == before.jobs
    assert set(db.blocked) == {"acct0"}  # the account problem came along: still blocked

    again = csv_queue(tmp_path, 2)  # job00 and job01 are in the database already
    out = cli(tmp_path, "import-csv", "parallel_progress.csv", env=env)
    assert out.returncode == 6
    assert "already in the queue" in out.stderr and "nothing was imported" in out.stderr
    assert again.exists() and len(PostgresJobStore(url).snapshot().jobs) == 6

    out = cli(tmp_path, "export-csv", "view.csv", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    data = (tmp_path / "view.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data  # Excel: UTF-8 with BOM, CRLF
    assert b"'=SUM(1)" not in data.split(b"\r\n")[0]
    exported = parse_file(data, RowReader(tmp_path / "view.csv", None, 3))
    assert [r.job for r in exported.rows] == list(db.jobs)


def test_import_without_a_database_is_refused(tmp_path: Path) -> None:
    csv_queue(tmp_path, 2)
    out = cli(tmp_path, "import-csv", "parallel_progress.csv", env={ENV: ""})
    assert out.returncode == 2
    assert "set [queue] url" in out.stderr
    assert (tmp_path / "parallel_progress.csv").exists()


def host(
    tmp_path: Path,
    name: str,
    reaper: Reaper,
    url: str,
    workers: int,
    time_scale: float = 0.005,
    quick_to_judge: bool = False,
) -> Workdir:
    """A folder with its own config on the one queue: a PC of the fleet (named by [queue] host).
    Others take it for lost 30 s after its last beat, or with `quick_to_judge` 6 s (3 beats of 2 s,
    over a 5 s timeout): only the tests of a lost PC need that, a loaded machine can stall a beat."""
    folder = tmp_path / name
    folder.mkdir()
    config = (
        config_toml(free_port_base(workers), workers)
        .replace("[queue]\n", f'[queue]\nurl = "{url}"\nhost = "{name}"\n', 1)
        .replace("heartbeat_timeout_s = 30", f"heartbeat_timeout_s = {5 if quick_to_judge else 30}")
        .replace("[worker]\n", "[worker]\nheartbeat_interval_s = 1\n")
        .replace("time_scale = 0.005", f"time_scale = {time_scale}")
    )
    (folder / "parallel-orchestrator.toml").write_text(config, encoding="utf-8")
    wd = Workdir(folder, reaper)
    reaper.run_dirs.append(wd.run_dir)
    return wd


def two_pcs(
    tmp_path: Path, reaper: Reaper, url: str, workers: int, time_scale: float, quick_to_judge: bool = False
) -> tuple[Workdir, Workdir]:
    """Two PCs of a fleet on the queue at ``url`` (folders pc1 and pc2)."""
    return (
        host(tmp_path, "pc1", reaper, url, workers, time_scale, quick_to_judge),
        host(tmp_path, "pc2", reaper, url, workers, time_scale, quick_to_judge),
    )


def seed_videos(tmp_path: Path, url: str, count: int, accounts: int) -> None:
    media = tmp_path / "videos"
    media.mkdir()
    jobs = []
    for n in range(count):
        video = media / f"v{n:02d}.mp4"
        video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes([n]) * 64)
        jobs.append(NewJob(f"job{n:02d}", f"acct{n % accounts}", str(video), f"caption {n}"))
    PostgresJobStore(url).seed(jobs)


def history(url: str) -> list[dict[str, object]]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT entry FROM po_history ORDER BY id")]


def posted_once(url: str) -> Counter[str]:
    """How many times each job was recorded posted (success), from the queue's own history."""
    return Counter(
        str(e["job"]) for e in history(url) if e.get("op") == "record" and e.get("status") == "success"
    )


def claimed_by(url: str) -> Counter[str]:
    return Counter(str(e.get("host")) for e in history(url) if e.get("op") == "claim")


def test_two_hosts_empty_one_queue_together_and_no_job_is_done_twice(
    tmp_path: Path, pg_cluster: Cluster, reaper: Reaper
) -> None:
    url = pg_cluster.new_database()
    seed_videos(tmp_path, url, 24, 8)
    hosts = [host(tmp_path, name, reaper, url, 3) for name in ("pc1", "pc2")]
    procs = [h.start("--run", "--plain") for h in hosts]
    for proc in procs:
        proc.wait(timeout=180)
    for h, proc in zip(hosts, procs, strict=True):
        assert proc.returncode == 0, h.console_text()

    final = PostgresJobStore(url).snapshot()
    assert Counter(j.status for j in final.jobs) == {JobStatus.SUCCESS: 24}
    assert posted_once(url) == {f"job{n:02d}": 1 for n in range(24)}  # each job posted exactly once
    assert set(claimed_by(url)) == {"pc1", "pc2"}  # every claim names its PC, and both PCs worked
    wait_for(lambda: all(not h.run_dir.phones_left_running() for h in hosts), 10, "phones stopped")


def kill_host(wd: Workdir) -> None:
    """A PC lost at once (power, network): its orchestrator, workers and simulator, SIGKILL, no clean-up."""
    pids = {hb.process.pid for hb in wd.run_dir.read_heartbeats().values()}
    run = wd.run_dir.read_run()
    assert run is not None
    pids.add(run.process.pid)
    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc = psutil.Process(pid)
            procs += [proc, *proc.children(recursive=True)]
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(procs, timeout=10)


def test_a_host_lost_mid_run_has_its_claims_recovered_by_the_other(
    tmp_path: Path, pg_cluster: Cluster, reaper: Reaper
) -> None:
    url = pg_cluster.new_database()
    seed_videos(tmp_path, url, 32, 8)
    pc1, pc2 = two_pcs(tmp_path, reaper, url, 3, time_scale=0.02, quick_to_judge=True)
    first = pc1.start("--run", "--plain")
    wait_for(lambda: claimed_by(url)["pc1"] >= 4, 60, "pc1 working")
    second = pc2.start("--run", "--plain")
    wait_for(lambda: claimed_by(url)["pc2"] >= 1, 60, "pc2 working")
    wait_for(
        lambda: any(
            j.host == "pc1" and j.status is JobStatus.CLAIMED for j in PostgresJobStore(url).snapshot().jobs
        ),
        30,
        "a claim of pc1",
    )
    kill_host(pc1)
    first.wait(timeout=10)
    second.wait(timeout=180)
    assert second.returncode in (0, 1), pc2.console_text()
    assert "Host pc1 went silent" in pc2.console_text()

    final = PostgresJobStore(url).snapshot()
    statuses = Counter(j.status for j in final.jobs)
    assert statuses[JobStatus.CLAIMED] == 0 and statuses[JobStatus.PENDING] == 0
    assert set(statuses) <= {JobStatus.SUCCESS, JobStatus.REVIEW}  # review: pc1 died past a checkpoint
    assert all(n == 1 for n in posted_once(url).values())
    reviewed = {j.job_id for j in final.jobs if j.status is JobStatus.REVIEW}
    assert not reviewed & set(posted_once(url))  # a job in review was never also recorded posted
    assert [h.host for h in PostgresJobStore(url).hosts()] == []  # pc1 forgotten, pc2 left


def test_stop_all_fleet_stops_every_host(tmp_path: Path, pg_cluster: Cluster, reaper: Reaper) -> None:
    url = pg_cluster.new_database()
    seed_videos(tmp_path, url, 40, 8)
    pc1, pc2 = two_pcs(tmp_path, reaper, url, 2, time_scale=0.05)
    procs = [pc1.start("--run", "--plain"), pc2.start("--run", "--plain")]
    wait_for(lambda: claimed_by(url)["pc1"] and claimed_by(url)["pc2"], 60, "both hosts working")
    status = cli(pc2.path, "--status")
    assert "Hosts on the shared queue: 2" in status.stdout, status.stdout + status.stderr
    wait_for(lambda: "pc1/W" in cli(pc2.path, "--status").stdout, 30, "pc1's claims in pc2's --status")
    out = cli(pc2.path, "--stop-all", "--fleet")
    assert "Asked every host to stop (pc1)" in out.stdout, out.stdout + out.stderr
    for wd, proc in zip((pc1, pc2), procs, strict=True):
        proc.wait(timeout=60)
        assert proc.returncode == 130, wd.console_text()
    final = PostgresJobStore(url).snapshot()
    assert not [j.job_id for j in final.jobs if j.status is JobStatus.CLAIMED]
    assert all(n == 1 for n in posted_once(url).values())
    for wd in (pc1, pc2):
        assert not [hb for hb in wd.run_dir.read_heartbeats().values() if hb.process.is_alive()]
    assert PostgresJobStore(url).hosts() == []


def test_a_dry_run_of_a_database_queue_works_on_a_csv_copy(
    tmp_path: Path, pg_cluster: Cluster, reaper: Reaper
) -> None:
    url = pg_cluster.new_database()
    seed_videos(tmp_path, url, 4, 2)
    folder = tmp_path / "office"
    folder.mkdir()
    base = free_port_base(2)
    (folder / "parallel-orchestrator.toml").write_text(
        f'[queue]\nurl = "{url}"\n[orchestrator]\nworkers = 2\n[simulate]\ntime_scale = 0.001\n'
        f"[worker]\nappium_port_base = {base}\nsystem_port_base = {base + 200}\n",
        encoding="utf-8",
    )
    reaper.run_dirs.append(RunDir(folder / "simulation" / ".orchestrator"))
    out = cli(folder, "--run", "--simulate")
    assert out.returncode == 0, out.stdout + out.stderr
    copy = CsvJobStore(folder / "simulation" / "parallel_progress.csv").snapshot().jobs
    assert [j.status for j in copy] == [JobStatus.SUCCESS] * 4
    real = PostgresJobStore(url)
    assert [j.status for j in real.snapshot().jobs] == [JobStatus.PENDING] * 4  # the database untouched
    assert history(url)[-1].get("op") == "seed"
    assert real.hosts() == []


def test_two_hosts_wait_out_a_database_restart_and_lose_nothing(
    tmp_path: Path, own_cluster: Cluster, reaper: Reaper
) -> None:
    url = own_cluster.new_database()
    seed_videos(tmp_path, url, 32, 8)
    pc1, pc2 = two_pcs(tmp_path, reaper, url, 3, time_scale=0.02, quick_to_judge=True)
    procs = [pc1.start("--run", "--plain"), pc2.start("--run", "--plain")]
    wait_for(lambda: claimed_by(url)["pc1"] >= 2 and claimed_by(url)["pc2"] >= 2, 60, "both hosts working")
    own_cluster.stop_server()
    wait_for(
        lambda: all("cannot be reached" in wd.console_text() for wd in (pc1, pc2)),
        30,
        "both runs see the outage",
    )
    time.sleep(8)  # the outage outlasts the 6 s lease: no PC may take the other for lost afterwards
    own_cluster.start_server()
    for wd, proc in zip((pc1, pc2), procs, strict=True):
        proc.wait(timeout=240)
        assert proc.returncode in (0, 1), wd.console_text()
    final = PostgresJobStore(url).snapshot()
    statuses = Counter(j.status for j in final.jobs)
    assert statuses[JobStatus.CLAIMED] == 0 and statuses[JobStatus.PENDING] == 0, statuses
    assert all(n == 1 for n in posted_once(url).values())
    reviewed = {j.job_id for j in final.jobs if j.status is JobStatus.REVIEW}
    assert not reviewed & set(posted_once(url))
    assert statuses[JobStatus.SUCCESS] + len(reviewed) == 32
    assert not any("went silent" in wd.console_text() for wd in (pc1, pc2))


def two_pcs_one_cloud(
    tmp_path: Path,
    pg_cluster: Cluster,
    reaper: Reaper,
    simulator: Callable[[tuple[str, ...]], str],
    quick_to_judge: bool = False,
) -> tuple[str, str, Workdir, Workdir]:
    """Two PCs (2 workers each) on a new queue of 8 videos for acct0 and acct1, sharing one GeeLark
    cloud: the simulator. Returns (queue URL, simulator URL, pc1, pc2)."""
    url = pg_cluster.new_database()
    seed_videos(tmp_path, url, 8, 2)
    sim_url = simulator(("acct0", "acct1"))
    pcs = two_pcs(tmp_path, reaper, url, 2, time_scale=0.05, quick_to_judge=quick_to_judge)
    for wd in pcs:
        config = wd.path / "parallel-orchestrator.toml"
        config.write_text(
            config.read_text(encoding="utf-8").replace(
                "[orchestrator]\n", f'[orchestrator]\nsimulator_url = "{sim_url}"\n'
            ),
            encoding="utf-8",
        )
    return url, sim_url, pcs[0], pcs[1]


def test_stop_all_on_one_pc_leaves_the_phones_another_live_pc_posts_with(
    tmp_path: Path, pg_cluster: Cluster, reaper: Reaper, simulator: Callable[[tuple[str, ...]], str]
) -> None:
    url, sim_url, pc1, pc2 = two_pcs_one_cloud(tmp_path, pg_cluster, reaper, simulator)
    run = pc1.start("--run", "--plain")
    wait_for(lambda: set(running_phones(sim_url)) & busy_accounts(url, "pc1"), 60, "pc1 posting with a phone")
    out = cli(pc2.path, "--stop-all")
    assert out.returncode == 0, out.stdout + out.stderr
    run.wait(timeout=180)
    assert run.returncode == 0, pc1.console_text()
    final = PostgresJobStore(url).snapshot().jobs
    assert [(j.status, j.attempts, j.infra_attempts) for j in final] == [(JobStatus.SUCCESS, 0, 0)] * 8
    assert "underneath" not in "".join(p.read_text() for p in pc1.path.glob("logs/worker_*.log"))


def shared_phones(url: str) -> set[tuple[str, str]]:
    """(account, PC) of every phone in the shared phone ledger."""
    return {(account, pc) for _phone, account, pc in PostgresJobStore(url).phones()}


def test_a_lost_pcs_phones_are_in_the_shared_ledger_and_stop_all_on_another_pc_stops_them(
    tmp_path: Path, pg_cluster: Cluster, reaper: Reaper, simulator: Callable[[tuple[str, ...]], str]
) -> None:
    url, sim_url, pc1, pc2 = two_pcs_one_cloud(tmp_path, pg_cluster, reaper, simulator, quick_to_judge=True)
    run = pc1.start("--run", "--plain")
    wait_for(lambda: any(pc == "pc1" for _a, pc in shared_phones(url)), 60, "a phone of pc1 in the ledger")
    wait_for(lambda: running_phones(sim_url), 60, "a phone running")
    kill_host(pc1)  # orchestrator and workers gone at once: nobody stops pc1's phones
    run.wait(timeout=10)
    assert running_phones(sim_url) and shared_phones(url)
    wait_for(lambda: all(h.seen_s > 5 for h in PostgresJobStore(url).hosts()), 30, "pc1 silent")

    out = cli(pc2.path, "--stop-all")
    assert out.returncode == 0, out.stdout + out.stderr
    assert running_phones(sim_url) == []  # found through the ledger (and the accounts), stopped
    assert shared_phones(url) == set()  # and forgotten once stopped


def busy_accounts(url: str, host_name: str) -> set[str]:
    return {
        j.account
        for j in PostgresJobStore(url).snapshot().jobs
        if j.status is JobStatus.CLAIMED and j.host == host_name
    }


def test_posting_scheduler_seeds_into_the_configured_database(tmp_path: Path, pg_cluster: Cluster) -> None:
    url = pg_cluster.new_database()
    (tmp_path / "parallel-orchestrator.toml").write_text(f'[queue]\nurl = "{url}"\n', encoding="utf-8")
    folder = tmp_path / "chunk_01"
    folder.mkdir()
    for n in range(3):
        (folder / f"clip{n}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes([n]) * 32)
        (folder / f"clip{n}.txt").write_text(f"caption {n}", encoding="utf-8")
    env = {**{k: v for k, v in subprocess_env().items() if k != ENV}}

    def scheduler(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scheduler", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=60,
        )

    added = scheduler("--add-folder", "chunk_01", "--add-accounts", "phone1", "phone2", "phone3")
    assert added.returncode == 0, added.stdout + added.stderr
    seeded = scheduler("seed")
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert "seeded: 3 new job(s)" in seeded.stdout
    assert not (tmp_path / "parallel_progress.csv").exists()  # into the database, not a CSV
    jobs = PostgresJobStore(url).snapshot().jobs
    assert sorted(j.account for j in jobs) == ["phone1", "phone2", "phone3"]
    assert "seeded: 0 new job(s)" in scheduler("seed").stdout  # a second seed adds nothing
    assert len(PostgresJobStore(url).snapshot().jobs) == 3

    # The scheduler reads and changes the database queue, not a CSV: a post there enters its posted
    # ledger, a removed account's waiting job is cancelled there (else a run would still post it).
    store = PostgresJobStore(url, QueuePolicy(daily_limit=5, timezone="UTC"), host="pc1")
    claim = store.claim_next(0, 1, datetime.now(UTC), prefer_account="phone1")
    assert claim is not None and claim.job.account == "phone1"
    store.record(claim, Outcome(OutcomeKind.SUCCESS), datetime.now(UTC))
    store.close()
    status = scheduler("status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    report = json.loads(status.stdout)
    assert report["queue_counts"] == {"success": 1, "pending": 2}
    assert report["successes_not_in_ledger"] == 1
    removed = scheduler("--remove-account", "phone3")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert json.loads(scheduler("status", "--json").stdout)["posted_entries"] == 1  # now in the ledger
    by_account = {j.account: j for j in PostgresJobStore(url).snapshot().jobs}
    assert (by_account["phone3"].status, by_account["phone3"].error_type) == (JobStatus.FAILED, "cancelled")
    assert by_account["phone2"].status is JobStatus.PENDING
