"""Fixtures: simulators on free loopback ports (always stopped) and clients bound to them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from geelark import GeeLarkClient, GeeLarkSettings
from geelark.simulator import SimulatorConfig, SimulatorServer, parse_faults

APP_ID, API_KEY, TOKEN = "test-app", "test-key-SECRET-0123", "test-token-SECRET-4567"


class FakeClock:
    """Wall-clock seconds that only move when someone sleeps (shared by simulator and client)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def sim_config(**overrides: Any) -> SimulatorConfig:
    base: dict[str, Any] = {
        "app_id": APP_ID,
        "api_key": API_KEY,
        "token": TOKEN,
        "boot_time_s": 30.0,
        "shutdown_delay_s": 5.0,
        "adb_delay_s": 3.0,
    }
    if isinstance(overrides.get("faults"), dict):
        overrides["faults"] = parse_faults(overrides["faults"])
    base.update(overrides)
    return SimulatorConfig(**base)


def client_settings(url: str, mode: str = "token", **overrides: Any) -> GeeLarkSettings:
    creds = {"token": TOKEN} if mode == "token" else {"app_id": APP_ID, "api_key": API_KEY}
    values: dict[str, Any] = {
        "base_url": url,
        "connect_timeout_s": 2.0,
        "read_timeout_s": 5.0,
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
        **creds,
    }
    values.update(overrides)
    return GeeLarkSettings(**values)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_sim() -> Iterator[Callable[..., SimulatorServer]]:
    """Start simulators with ``sim_config(**overrides)``; all are stopped after the test."""
    started: list[SimulatorServer] = []

    def make(*, real_clock: Callable[[], float] | None = None, **overrides: Any) -> SimulatorServer:
        kwargs = {"real_clock": real_clock} if real_clock is not None else {}
        sim = SimulatorServer(sim_config(**overrides), **kwargs).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def make_client() -> Iterator[Callable[..., GeeLarkClient]]:
    """Clients for a simulator; closed after the test."""
    clients: list[GeeLarkClient] = []

    def make(
        sim: SimulatorServer, mode: str = "token", *, clock: FakeClock | None = None, **overrides: Any
    ) -> GeeLarkClient:
        kwargs: dict[str, Any] = {"clock": clock, "sleep": clock.sleep} if clock is not None else {}
        client = GeeLarkClient(client_settings(sim.url, mode, **overrides), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def sim_clocked(make_sim: Callable[..., SimulatorServer], clock: FakeClock) -> SimulatorServer:
    """A simulator on the fake clock with five phones."""
    return make_sim(real_clock=clock)


def sim_get(sim: SimulatorServer, path: str) -> requests.Response:
    return requests.get(sim.url + path, timeout=5)


def sim_post(sim: SimulatorServer, path: str, body: Any = None) -> requests.Response:
    return requests.post(sim.url + path, json=body if body is not None else {}, timeout=5)


def boot_phone(client: GeeLarkClient, sim: SimulatorServer, name: str = "phone-01") -> str:
    """Start the phone called ``name`` and wait until it runs; returns its id."""
    phone_id = sim.phone_id(name)
    client.start_phone(phone_id)
    client.wait_until_running(phone_id, timeout_s=300, poll_s=5)
    return phone_id


def stored_video_url(client: GeeLarkClient, folder: Path) -> str:
    """A small video put into the simulator's storage; its resource URL."""
    video = folder / "stored.mp4"
    video.write_bytes(b"\x00" * 64)
    return client.upload_to_storage(video).resource_url
