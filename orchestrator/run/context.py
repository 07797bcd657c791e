"""The state of one run, shared by the supervision loop (runner) and the shutdown."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from geelark.client import GeeLarkClient
from geelark.pause import stoppable_sleep
from jobqueue.store import JobStore
from orchestrator.adapters.geelark_api import SIM_APP_ID, ClientPhoneApi, PhoneApi, client_settings
from orchestrator.run.fleet import Fleet
from orchestrator.run.simulation import RunningSimulator, simulator_env
from orchestrator.run.stuck import WorkerWatch
from orchestrator.views.fleet_view import RunTick
from runtime.clock import RunClock
from runtime.queue_url import without_password
from runtime.settings import Settings
from runtime.state import RunDir

log = logging.getLogger("orchestrator.run.runner")
MIN_SCALED_S = 0.05


class RunObserver(Protocol):
    """Where the run tells the operator what happens (the CLI prints; tests collect).

    `event`: something happened (one line); `progress`: the progress line, when it is worth printing;
    `tick`: the run's state every loop round (about twice a second), for a live view to draw from.
    """

    def event(self, message: str) -> None: ...

    def progress(self, line: str) -> None: ...

    def tick(self, state: RunTick) -> None: ...


@dataclass
class StopSignals:
    """Ctrl+C count: 1 = graceful stop, 2 = hard stop. Set from the signal handler.

    A second signal within `debounce_s` of the first is the same keypress delivered twice (a
    console sends Ctrl+C to every attached process, a wrapper may forward it too): ignored, so only
    a deliberate second Ctrl+C forces a hard stop.
    """

    count: int = 0
    first_at: float | None = None
    debounce_s: float = 1.0
    clock: Callable[[], float] = time.monotonic

    def on_signal(self, _n: int = 0) -> None:
        """Count one signal (the handler's own count is not trusted: see the debounce above)."""
        now = self.clock()
        if self.count == 1 and self.first_at is not None and now - self.first_at < self.debounce_s:
            return
        self.count += 1
        if self.count == 1:
            self.first_at = now


def now_local() -> datetime:
    return datetime.now().astimezone()


@dataclass
class Run:
    """The state of one run, shared by the loop and the shutdown."""

    settings: Settings
    cwd: Path
    env: Mapping[str, str]
    observer: RunObserver
    stop: StopSignals
    run_dir: RunDir
    store: JobStore
    loop_store: JobStore  # the same queue with a short lock timeout (the supervision loop's)
    started_at: datetime = field(default_factory=now_local)
    simulator: RunningSimulator | None = None
    simulator_url: str | None = None
    fleet: Fleet | None = None
    watches: dict[int, WorkerWatch] = field(default_factory=dict)  # live workers, monotonic ages
    notes: list[str] = field(default_factory=list)
    next_seed_at: float = 0.0
    clock: Callable[[], float] = time.monotonic  # liveness and intervals
    queue_clock: RunClock = field(default_factory=lambda: RunClock(None))  # queue times (runtime.clock)

    def now(self) -> datetime:
        """The queue's "now" (local zone): real time, or a dry run's simulated clock."""
        return self.queue_clock.now().astimezone()

    def say(self, message: str) -> None:
        log.info("%s", message)
        self.observer.event(message)

    def phone_api(self, sleep: Callable[[float], None] | None = None) -> PhoneApi | None:
        """GeeLark (or the run's simulator) for stopping phones; None without credentials.

        `sleep` is how it waits (retry backoff, GeeLark's rate window): see `stoppable`."""
        client = self.geelark_client(sleep)
        return ClientPhoneApi(client) if client is not None else None

    def geelark_client(self, sleep: Callable[[float], None] | None = None) -> GeeLarkClient | None:
        """A client of GeeLark (or the run's simulator) sharing the workers' request budget; None
        without credentials."""
        gl = client_settings(self.settings, self.env, simulator_url=self.simulator_url)
        if not (gl.token or (gl.app_id and gl.api_key)):
            return None
        return GeeLarkClient(gl, sleep=sleep or time.sleep)

    def on_geelark_clock(self, seconds: float) -> float:
        """A GeeLark-side duration in real seconds: against the simulator, on its clock."""
        if self.simulator_url:
            return max(MIN_SCALED_S, seconds * self.settings.simulate.time_scale)
        return seconds

    def stoppable(self, stop_at: int) -> Callable[[float], None]:
        """A sleep for GeeLark waits that ends (geelark `Interrupted`) once `stop_at` Ctrl+C came in:
        1 while the run goes on (a `--stop-all` too), 2 while it shuts down (so the first Ctrl+C
        still lets the phones be stopped, and a second one cuts that short). Long waits are told."""

        def should_stop() -> bool:
            return self.stop.count >= stop_at or (stop_at == 1 and self.run_dir.stop_all_file.exists())

        def tell(seconds: float) -> None:
            again = "again " if stop_at > 1 else ""
            self.say(f"GeeLark asks us to wait {seconds:.0f}s (rate limit); Ctrl+C {again}ends the wait")

        return stoppable_sleep(should_stop, on_long_wait=tell)

    def worker_env(self) -> dict[str, str]:
        env = dict(self.env)
        if self.simulator_url:
            env.update(simulator_env())
        env["PYTHONUNBUFFERED"] = "1"
        password = without_password(self.settings.queue.url)[1]
        if password:  # the settings file handed to workers holds the URL without it (libpq reads this)
            env["PGPASSWORD"] = password
        return env

    def worker_settings(self) -> Settings:
        """The settings handed to workers: in simulate mode pointed at the run's simulator."""
        if not self.simulator_url:
            return self.settings
        geelark = dataclasses.replace(self.settings.geelark, base_url=self.simulator_url, app_id=SIM_APP_ID)
        simulate = dataclasses.replace(self.settings.simulate, enabled=True)
        return dataclasses.replace(self.settings, geelark=geelark, simulate=simulate)
