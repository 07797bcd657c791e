"""Probing local ports: is one taken, and by whom (used by workers before they start a server, and by
the orchestrator before it starts workers)."""

from __future__ import annotations

import socket

import psutil


class PortInUse(RuntimeError):
    """A port this worker needs is taken; names the port and, when the OS tells us, the holder."""

    def __init__(self, port: int, holder: str | None) -> None:
        self.port = port
        self.holder = holder
        who = f" by {holder}" if holder else " (the holding process is not visible to us)"
        super().__init__(f"port {port} is already in use{who}; stop it or change worker.appium_port_base")


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
