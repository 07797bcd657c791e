"""The port plan: which local ports worker N owns (pure data, imported by the orchestrator).

Worker N owns the Appium port `4723 + 2N`, the UiAutomator2 systemPort range `8200 + 10N .. +9`, one
MJPEG server port and one chromedriver port, each in its own band so no two workers and no two
purposes collide (Appium's parallel-execution rules: unique systemPort, mjpegServerPort and
chromedriverPort per session). Tests shift the whole plan with `offset` to land on free ports.
`ensure_port_free` is the one impure helper: it checks a port before a server is started on it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

APPIUM_BASE = 4723
APPIUM_STRIDE = 2
SYSTEM_PORT_BASE = 8200
SYSTEM_PORT_SPAN = 10
MJPEG_BASE = 7810
CHROMEDRIVER_BASE = 9515
MAX_WORKERS = 64
MAX_PORT = 65535


class PortPlanError(ValueError):
    """The plan is impossible: a negative worker id, a port out of range, or two workers colliding."""


class PortInUse(RuntimeError):
    """A port this worker needs is taken; names the port and, when the OS tells us, the holder."""

    def __init__(self, port: int, holder: str | None) -> None:
        self.port = port
        self.holder = holder
        who = f" by {holder}" if holder else " (the holding process is not visible to us)"
        super().__init__(f"port {port} is already in use{who}; stop it or change worker.appium_port_base")


@dataclass(frozen=True)
class PortBases:
    """Where each band starts (settings: worker.appium_port_base, worker.system_port_base)."""

    appium: int = APPIUM_BASE
    system: int = SYSTEM_PORT_BASE
    mjpeg: int = MJPEG_BASE
    chromedriver: int = CHROMEDRIVER_BASE


@dataclass(frozen=True)
class WorkerPorts:
    """The ports one worker owns."""

    worker_id: int
    appium: int
    system_port_first: int
    system_port_last: int
    mjpeg: int
    chromedriver: int

    @property
    def system_port(self) -> int:
        """The systemPort given to the UiAutomator2 session (first of the worker's range)."""
        return self.system_port_first

    def all_ports(self) -> list[int]:
        """Every port of this worker, the whole systemPort range included."""
        system = range(self.system_port_first, self.system_port_last + 1)
        return [self.appium, *system, self.mjpeg, self.chromedriver]

    def to_json(self) -> dict[str, int]:
        return {
            "appium": self.appium,
            "system_port_first": self.system_port_first,
            "system_port_last": self.system_port_last,
            "mjpeg": self.mjpeg,
            "chromedriver": self.chromedriver,
        }


def port_plan(worker_id: int, offset: int = 0, bases: PortBases = PortBases()) -> WorkerPorts:
    """The ports of worker `worker_id`, every base shifted by `offset`. Raises PortPlanError."""
    if worker_id < 0 or worker_id >= MAX_WORKERS:
        raise PortPlanError(f"worker id {worker_id} is outside 0..{MAX_WORKERS - 1}")
    system_first = bases.system + offset + SYSTEM_PORT_SPAN * worker_id
    ports = WorkerPorts(
        worker_id=worker_id,
        appium=bases.appium + offset + APPIUM_STRIDE * worker_id,
        system_port_first=system_first,
        system_port_last=system_first + SYSTEM_PORT_SPAN - 1,
        mjpeg=bases.mjpeg + offset + worker_id,
        chromedriver=bases.chromedriver + offset + worker_id,
    )
    bad = [p for p in ports.all_ports() if not 1 <= p <= MAX_PORT]
    if bad:
        raise PortPlanError(f"worker {worker_id} with offset {offset} gets ports out of range: {bad[:3]}")
    return ports


def fleet_plan(
    worker_ids: Iterable[int], offset: int = 0, bases: PortBases = PortBases()
) -> list[WorkerPorts]:
    """The plans of several workers, checked for collisions. Raises PortPlanError."""
    plans = [port_plan(w, offset, bases) for w in worker_ids]
    check_collisions(plans)
    return plans


def check_collisions(plans: Iterable[WorkerPorts]) -> None:
    """Raise PortPlanError naming the first port owned twice (by two workers or two purposes)."""
    owner: dict[int, int] = {}
    for plan in plans:
        for port in plan.all_ports():
            if port in owner:
                raise PortPlanError(f"port {port} is planned for worker {owner[port]} and {plan.worker_id}")
            owner[port] = plan.worker_id


def ensure_port_free(port: int, host: str = "127.0.0.1") -> None:
    """Raise PortInUse if something listens on `port`.

    A connect probe rather than a bind: a bind without SO_REUSEADDR fails for minutes after our own
    server stopped (TIME_WAIT), and SO_REUSEADDR means "steal the port" on Windows. A port bound but
    not listening is caught later: the server exits at once with EADDRINUSE.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        if sock.connect_ex((host, port)) == 0:
            raise PortInUse(port, port_holder(port))


def port_holder(port: int) -> str | None:
    """'pid 123 (node)' for the process listening on `port`, or None when the OS will not say."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    for conn in conns:
        if conn.laddr and conn.laddr.port == port and conn.pid:
            return f"pid {conn.pid} ({_process_name(conn.pid)})"
    return None


def _process_name(pid: int) -> str:
    try:
        return psutil.Process(pid).name()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "?"
