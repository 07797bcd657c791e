"""One simulated cloud phone: its state machine and its billing meter (simulated time).

    STOPPED --start--> STARTING --boot_time--> RUNNING --stop--> (RUNNING for shutdown delay) --> STOPPED
    (stuck boots never leave STARTING; EXPIRED is terminal)

Billing: every boot is one session, billed per started minute, rounded up, from the start
call until the phone is down. A phone started with ``energySavingMode`` 1 shuts itself down after
30 simulated minutes without an API or device call naming it (and its billing ends there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from geelark.status import PhoneStatus

ENERGY_SAVING_IDLE_S = 30 * 60.0


@dataclass
class SimPhone:
    id: str
    serial_name: str
    serial_no: str
    status: PhoneStatus = PhoneStatus.STOPPED
    boot_done_at: float | None = None  # None while STARTING: stuck
    stop_done_at: float | None = None  # set while a stop is pending
    session_started_at: float | None = None
    closed_minutes: int = 0
    boots: int = 0
    adb_broken: bool = False  # drawn per boot: ADB never becomes ready
    adb_enabled: bool = False
    adb_ready_at: float | None = None
    adb_port: int = 0
    adb_pwd: str = ""
    live_token: str = ""
    files: list[str] = field(default_factory=list)  # oldest first
    file_sizes: dict[str, int] = field(default_factory=dict)
    running_task: str = ""  # id of the publishing task running on it (blocks /phone/stop: 43005)
    energy_saving: bool = False  # started with energySavingMode 1: shuts down after 30 idle minutes
    last_active_at: float = 0.0  # the last API or device call naming it
    auto_stops: int = 0

    def advance(self, now: float) -> None:
        """Apply every transition that is due at ``now``."""
        if self.status is PhoneStatus.STARTING and self.boot_done_at is not None and now >= self.boot_done_at:
            self.status = PhoneStatus.RUNNING
        if self.stop_done_at is not None and now >= self.stop_done_at:
            self.shut_down(self.stop_done_at)
        idle_end = self.last_active_at + ENERGY_SAVING_IDLE_S
        if self.energy_saving and self.is_up and not self.running_task and now >= idle_end:
            self.shut_down(idle_end)  # GeeLark's energySavingMode: nobody used it for 30 minutes
            self.auto_stops += 1

    def boot(
        self, now: float, boot_time_s: float, *, stuck: bool, adb_broken: bool, energy_saving: bool = False
    ) -> None:
        self.energy_saving = energy_saving
        self.last_active_at = now
        self.status = PhoneStatus.STARTING
        self.boot_done_at = None if stuck else now + boot_time_s
        self.stop_done_at = None
        self.session_started_at = now
        self.boots += 1
        self.adb_broken = adb_broken
        self.adb_enabled = False
        self.adb_ready_at = None

    def request_stop(self, now: float, shutdown_delay_s: float) -> None:
        if self.stop_done_at is None:
            self.stop_done_at = now + shutdown_delay_s

    def shut_down(self, at: float) -> None:
        """Down now (stop completed, or killed underneath its user)."""
        if self.session_started_at is not None:
            self.closed_minutes += billed_minutes(at - self.session_started_at)
        self.status = PhoneStatus.STOPPED
        self.session_started_at = None
        self.boot_done_at = None
        self.stop_done_at = None
        self.adb_enabled = False
        self.adb_ready_at = None
        self.adb_port = 0
        self.adb_pwd = ""

    @property
    def is_up(self) -> bool:
        return self.status.is_up

    @property
    def accepts_work(self) -> bool:
        """Running and not about to shut down."""
        return self.status is PhoneStatus.RUNNING and self.stop_done_at is None

    def adb_ready(self, now: float) -> bool:
        return (
            self.status is PhoneStatus.RUNNING
            and self.adb_enabled
            and self.adb_ready_at is not None
            and now >= self.adb_ready_at
        )

    def billed_minutes(self, now: float) -> int:
        """Minutes billed so far, including the running session."""
        running = billed_minutes(now - self.session_started_at) if self.session_started_at is not None else 0
        return self.closed_minutes + running

    def to_state(self, now: float, adb_ip: str) -> dict[str, Any]:
        """The phone's entry in ``GET /_sim/state``."""
        adb = {"ip": adb_ip, "port": self.adb_port} if self.adb_ready(now) else None
        return {
            "id": self.id,
            "serialName": self.serial_name,
            "status": int(self.status),
            "adb": adb,
            "billedMinutes": self.billed_minutes(now),
            "boots": self.boots,
            "stopping": self.stop_done_at is not None,
            "task": self.running_task or None,
            "energySaving": self.energy_saving,
            "autoStops": self.auto_stops,
        }

    def to_list_item(self) -> dict[str, Any]:
        """The phone as ``/phone/list`` shows it."""
        return {
            "id": self.id,
            "serialName": self.serial_name,
            "serialNo": self.serial_no,
            "group": {"id": "1", "name": "simulated", "remark": ""},
            "remark": "",
            "status": int(self.status),
            "tags": [{"name": "sim"}],
            "equipmentInfo": {
                "countryName": "Simulated",
                "osVersion": "Android 12",
                "deviceBrand": "GeeLark",
                "deviceModel": "SIM",
                "language": "en",
                "timeZone": "UTC",
            },
            "proxy": None,
            "chargeMode": 0,
            "hasBind": False,
            "monthlyExpire": 0,
            "rpaStatus": 1 if self.running_task else 0,
        }


def billed_minutes(elapsed_s: float) -> int:
    """GeeLark bills every started minute: 0 s..60 s -> 1, 60.001 s -> 2."""
    return max(1, math.ceil(elapsed_s / 60.0 - 1e-9))
