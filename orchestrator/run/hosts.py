"""Several PCs on one PostgreSQL queue: this PC joins, beats, watches for silent PCs and leaves.

A PC judges others silent only after its own beats went through for a whole lease: after a database
outage every PC's last beat is old, and none may take the others for lost.

Each orchestrator is one host (``[queue] host``, the computer's name by default). It recovers its
own dead workers' claims at once, as on one PC. A host not heard of for the lease
(``[orchestrator] heartbeat_timeout_s``, by the database's clock) has its claims recovered by any
other (before the checkpoint: due again with no attempt used; after it: review). `--stop-all --fleet`
sets a flag every host reads at its next beat. A CSV queue has one host: none of this applies.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from jobqueue.errors import QueueError, QueueUnavailable
from jobqueue.pgstore import HostRow, PostgresJobStore
from orchestrator.run.context import Run

log = logging.getLogger(__name__)
BEAT_EVERY_S = 2.0


@dataclass
class HostBeat:
    next_at: float = 0.0
    stop_requested: bool = False
    healthy_since: float | None = None  # since when this PC's beats go through without a break


def shared_store(run: Run, loop: bool = False) -> PostgresJobStore | None:
    """The run's PostgreSQL store (``loop``: the supervision loop's, quick to give up), or None."""
    store = run.loop_store if loop else run.store
    return store if isinstance(store, PostgresJobStore) else None


def lease_s(run: Run) -> float:
    return max(run.settings.orchestrator.heartbeat_timeout_s, 3 * BEAT_EVERY_S)


def join_fleet(run: Run) -> None:
    """Say this PC works the queue; HostNameTaken (nothing started) if a live one has its name."""
    store = shared_store(run)
    if store is None:
        return
    store.join(str(run.cwd.resolve()), os.getpid(), lease_s(run))
    loop = shared_store(run, loop=True)
    if loop is not None and loop is not store:  # the loop's store beats: it must know the folder too
        loop.join(str(run.cwd.resolve()), os.getpid(), lease_s(run))
    others = [h for h in store.hosts() if h.host != store.host]
    names = ", ".join(h.host for h in others) or "none"
    run.say(f"Queue: shared PostgreSQL queue as host {store.host!r} (other hosts working it: {names})")


def beat_fleet(run: Run, beat: HostBeat, mono: float) -> None:
    """Every few seconds: this PC is alive; claims of silent PCs go back; a fleet stop is noticed."""
    store = shared_store(run, loop=True)
    if store is None or mono < beat.next_at:
        return
    beat.next_at = mono + BEAT_EVERY_S
    try:
        stop = store.beat()
    except QueueUnavailable:
        beat.healthy_since = None  # while the database is away, nobody can beat
        raise
    if beat.healthy_since is None:
        beat.healthy_since = mono
    if stop and not beat.stop_requested:
        beat.stop_requested = True
        run.say("Stop: `--stop-all --fleet` asked every host to stop")
    if mono - beat.healthy_since < lease_s(run):
        return  # others get a whole lease of a reachable database to beat before being judged
    for host, jobs in store.recover_silent_hosts(lease_s(run), run.now()).items():
        run.say(
            f"Host {host} went silent (no heartbeat for {lease_s(run):.0f}s): recovered {len(jobs)} claim(s)"
        )
        for job in jobs:
            run.say(f"Recovered job {job.job_id} @{job.account} of host {host} -> {job.status.value}")


def leave_fleet(run: Run) -> None:
    store = shared_store(run)
    if store is not None:
        try:
            store.leave(running_phones=run.run_dir.phones_left_running().keys())
        except Exception as exc:
            log.warning("could not leave the shared queue's host list: %s", exc)


def hosts_of(run: Run) -> list[HostRow]:
    store = shared_store(run)
    return store.hosts() if store is not None else []


def busy_elsewhere(run: Run) -> set[str]:
    """Accounts another live PC is posting to now: their phones are not this run's to stop, even
    when this PC started them (the other PC's worker took the running phone over)."""
    store = shared_store(run)
    if store is None:
        return set()
    try:
        from orchestrator.run.stop_all import accounts_of_live_hosts

        return accounts_of_live_hosts(store, store.snapshot().jobs, lease_s(run))
    except QueueError as exc:
        log.warning("could not tell which phones other PCs use (%s): stopping this run's own", exc)
        return set()
