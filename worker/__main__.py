"""`python -m worker --id N [--settings FILE | --config FILE] [--parent-pid P] [--simulate]`.

Runs one worker until nothing is due or it is asked to stop (SIGINT/SIGTERM, Windows CTRL_BREAK,
the run's stop files, or the parent process going away). Exit codes: worker.contract.WorkerExit.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import sys
from pathlib import Path

from geelark.client import GeeLarkClient
from geelark.errors import ConfigError as GeeLarkConfigError
from geelark.pause import stoppable_sleep
from geelark.settings import GeeLarkSettings
from jobqueue import JobStatus, JobStore
from jobqueue.pgstore import PostgresJobStore
from jobqueue.roster import RosterError
from jobqueue.stores import open_job_store
from runtime.logs import register_secret, setup_process_logging
from runtime.platform import ProcessRef, install_stop_handlers
from runtime.ports import PortInUse, ensure_port_free
from runtime.settings import ConfigError, Settings, install_path, load_settings, queue_host, read_settings
from runtime.tools import resolve_adb
from worker.adb import Adb, RealAdb, SimAdb
from worker.appium_server import ServerProcess, ServerSpec, appium_spec, simdevice_spec
from worker.config import WorkerConfig, build_config
from worker.contract import PortPlanError, WorkerExit
from worker.errors import AppiumServerError, FlowFileError
from worker.flow import FlowBook
from worker.heartbeat import HeartbeatThread, StopControl, WorkerStatus
from worker.loop import WorkerLoop
from worker.phone import PhoneManager, PhoneTimeouts
from worker.rig import Rig

log = logging.getLogger("worker")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    parser.add_argument("--id", type=int, required=True, help="worker number N (ports 4723+2N ...)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--settings", type=Path, help="resolved settings JSON from the orchestrator")
    source.add_argument("--config", type=Path, help="TOML config file (running a worker alone)")
    parser.add_argument("--parent-pid", type=int, default=None, help="stop when this process is gone")
    parser.add_argument("--simulate", action="store_true", help="GeeLark simulator + simulated phone")
    return parser.parse_args(argv)


def load(args: argparse.Namespace) -> Settings:
    if args.settings is not None:
        return read_settings(args.settings)
    return load_settings(args.config, {}, dict(os.environ)).settings


def server_spec(cfg: WorkerConfig) -> ServerSpec:
    if cfg.simulate:
        return simdevice_spec(cfg.ports.appium, cfg.geelark.base_url, cfg.server_log)
    return appium_spec(
        install_path(cfg.settings.worker.appium_home), cfg.ports.appium, log_path=cfg.server_log
    )


def check_usable(cfg: WorkerConfig) -> None:
    """Refuse settings that would fail every job (raises before anything is started)."""
    _ = cfg.geelark.auth_mode  # GeeLarkConfigError without credentials
    if cfg.simulate and cfg.settings.worker.video_transfer == "adb_push":
        raise ConfigError("worker.video_transfer = 'adb_push' is not simulated; use 'upload' with --simulate")


def claimed_elsewhere(store: JobStore, account: str, worker_id: int) -> bool:
    """True if another worker (of this PC, or of another one on a shared queue) holds a claim on
    `account` (and so may be using its phone)."""
    if isinstance(store, PostgresJobStore):
        holder = store.claim_holder(account)
        return holder is not None and holder != (worker_id, store.host)
    return any(
        job.status is JobStatus.CLAIMED and job.account == account and job.worker_id != worker_id
        for job in store.snapshot().jobs
    )


def build_rig(cfg: WorkerConfig, status: WorkerStatus, stop: StopControl) -> Rig:
    geelark: GeeLarkSettings = cfg.geelark
    register_secret(geelark.token)
    register_secret(geelark.api_key)
    register_secret(os.environ.get("PGPASSWORD"))  # the queue database's, when it has one
    client = GeeLarkClient(geelark, sleep=stoppable_sleep(stop.should_cut_waits))
    adb: Adb = (
        SimAdb(geelark.base_url, cfg.poll_s)
        if cfg.simulate
        else RealAdb(resolve_adb(cfg.settings.worker.adb_path, os.environ))
    )
    queue = cfg.settings.queue
    store = open_job_store(
        cfg.settings.paths.progress_file,
        queue.url,
        cfg.policy,
        journal=queue.journal,
        host=queue_host(cfg.settings),
    )
    timeouts = PhoneTimeouts(
        boot_s=cfg.scaled(cfg.settings.worker.phone_boot_timeout_s),
        adb_s=cfg.scaled(cfg.settings.worker.adb_timeout_s),
        poll_s=cfg.poll_s,
    )
    return Rig(
        cfg=cfg,
        store=store,
        client=client,
        adb=adb,
        phones=PhoneManager(
            client,
            adb,
            cfg.run_dir,
            cfg.worker_id,
            timeouts=timeouts,
            now=cfg.now,
            energy_saving=cfg.settings.worker.energy_saving,
            check_stop=stop.check,
            in_use_elsewhere=lambda account: claimed_elsewhere(store, account, cfg.worker_id),
            ledger=store if isinstance(store, PostgresJobStore) else None,
        ),
        server=ServerProcess(server_spec(cfg), on_change=lambda ref: record_server(cfg, status, ref)),
        flows=FlowBook(cfg.app_of, cfg.settings.worker.flow_file),
        status=status,
        stop=stop,
    )


def record_server(cfg: WorkerConfig, status: WorkerStatus, ref: ProcessRef | None) -> None:
    """Name the server in the heartbeat file at once (not at the next beat): see ServerProcess."""
    status.update(appium=ref)
    cfg.run_dir.write_heartbeat(status.snapshot())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load(args)
        cfg = build_config(
            args.id, settings, env=os.environ, simulate=args.simulate, parent_pid=args.parent_pid
        )
    except (ConfigError, PortPlanError, RosterError, ValueError) as exc:
        print(f"worker {args.id}: {exc}", file=sys.stderr)
        return WorkerExit.CONFIG
    setup_process_logging(cfg.worker_log, f"W{cfg.worker_id}")
    stop = StopControl(
        cfg.run_dir, cfg.worker_id, parent=cfg.parent, parent_expected=args.parent_pid is not None
    )
    install_stop_handlers(stop.on_signal)
    status = WorkerStatus(cfg.worker_id, ProcessRef.current(), cfg.ports.appium)
    try:
        check_usable(cfg)
        rig = build_rig(cfg, status, stop)
        rig.flows.check(cfg.roster.names())
        ensure_port_free(cfg.ports.appium)
    except (FlowFileError, AppiumServerError, ConfigError, GeeLarkConfigError, ValueError) as exc:
        log.error("cannot start: %s", exc)
        return WorkerExit.CONFIG
    except PortInUse as exc:
        log.error("cannot start: %s", exc)
        return WorkerExit.PORT_IN_USE
    atexit.register(rig.server.stop)  # last resort; the loop's finally stops it first
    heartbeat = HeartbeatThread(
        cfg.run_dir, status, stop, interval_s=cfg.settings.worker.heartbeat_interval_s
    )
    heartbeat.beat()
    heartbeat.start()
    log.info(
        "worker %s started (pid %s, %s, port %s)",
        cfg.worker_id,
        os.getpid(),
        "simulate" if cfg.simulate else "real phones",
        cfg.ports.appium,
    )
    code = WorkerExit.CRASHED
    try:
        code = WorkerLoop(rig).run()
    except Exception:
        log.exception("worker crashed")
        raise
    finally:
        heartbeat.halt()
        if code is not WorkerExit.CRASHED:
            cfg.run_dir.remove_heartbeat(cfg.worker_id)
        rig.client.close()
        log.info("worker %s exits with %s (%d)", cfg.worker_id, code.name, int(code))
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
