"""Simulator configuration and its clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from geelark.simulator.faults import FaultConfig

DEFAULT_APP_ID = "sim-app-id"
DEFAULT_API_KEY = "sim-api-key"
DEFAULT_TOKEN = "sim-token"


def phone_names(spec: str | int) -> tuple[str, ...]:
    """``5`` -> ``phone-01 .. phone-05``; ``"a,b"`` -> ``("a", "b")``."""
    text = str(spec).strip()
    if text.isdigit():
        return tuple(f"phone-{i:02d}" for i in range(1, int(text) + 1))
    return tuple(name.strip() for name in text.split(",") if name.strip())


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything the simulated GeeLark cloud needs. Durations are in *simulated* seconds;
    ``time_scale`` real seconds pass per simulated second (0.01: a 60 s boot takes 0.6 s).

    Rate limits count per endpoint per simulated minute (fixed windows aligned to the epoch,
    "lifted in the next minute"), plus an hourly cap that locks the account (40014).
    """

    phones: tuple[str, ...] = phone_names(5)
    app_id: str = DEFAULT_APP_ID
    api_key: str = DEFAULT_API_KEY
    token: str = DEFAULT_TOKEN
    port: int = 0
    time_scale: float = 1.0
    seed: int = 0
    faults: FaultConfig = field(default_factory=FaultConfig)
    boot_time_s: float = 30.0
    shutdown_delay_s: float = 5.0
    adb_delay_s: float = 3.0
    upload_time_s: float = 4.0
    upload_result_ttl_s: float = 3600.0
    upload_url_ttl_s: float = 30 * 60.0  # the PUT target of /upload/getUrl
    storage_ttl_s: float = 3 * 24 * 3600.0  # a resource URL stops working after three days
    task_time_s: float = 120.0  # one run of a publishing task
    task_credits: int = 10_000  # one per task created; 41000 when they run out
    task_log_page: int = 50  # log lines per /task/detail page
    balance: float = 100.0
    price_per_minute: float = 0.01
    rate_limit_per_minute: int = 200
    wallet_limit_per_minute: int = 10
    rate_limit_per_hour: int = 24_000
    lockout_s: float = 2 * 3600.0
    expired: tuple[str, ...] = ()  # serial names of phones whose status is EXPIRED (3)
    all_failed_code: int = 0  # envelope code of start/stop/status when every id fails (or 40009)
    adb_ip: str = "127.0.0.1"
    adb_port_base: int = 30_000

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if len(set(self.phones)) != len(self.phones):
            raise ValueError("phone names must be unique")


class SimClock:
    """Simulated seconds: ``real_clock() / time_scale`` (epoch-aligned, so simulated minutes
    start at multiples of 60 * time_scale real seconds, like a client's wall-clock minute)."""

    def __init__(self, time_scale: float, real_clock: Callable[[], float] = time.time) -> None:
        self.time_scale = time_scale
        self._real = real_clock

    def now(self) -> float:
        return self._real() / self.time_scale

    def real_seconds(self, sim_seconds: float) -> float:
        return sim_seconds * self.time_scale

    def sim_seconds(self, real_seconds: float) -> float:
        """The simulated time of a wall-clock instant (e.g. a task's ``scheduleAt``)."""
        return real_seconds / self.time_scale
