"""The port plan: worker N's ports, no collisions across a fleet, and a clear 'port in use' error."""

from __future__ import annotations

import os
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.ports import PortInUse, ensure_port_free
from worker.contract import MAX_WORKERS, PortBases, PortPlanError, check_collisions, fleet_plan, port_plan


def test_worker_n_gets_the_documented_ports() -> None:
    plan = port_plan(3)
    assert plan.appium == 4723 + 2 * 3
    assert (plan.system_port_first, plan.system_port_last) == (8230, 8239)
    assert plan.system_port == 8230
    assert plan.mjpeg == 7813
    assert plan.chromedriver == 9518


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=MAX_WORKERS))
def test_a_fleet_of_up_to_64_workers_never_collides(size: int) -> None:
    plans = fleet_plan(range(size))
    ports = [p for plan in plans for p in plan.all_ports()]
    assert len(ports) == len(set(ports))


@given(st.integers(min_value=0, max_value=MAX_WORKERS - 1), st.integers(min_value=-4000, max_value=40000))
def test_an_offset_shifts_every_port_by_the_same_amount(worker_id: int, offset: int) -> None:
    base, shifted = port_plan(worker_id), port_plan(worker_id, offset)
    assert [p + offset for p in base.all_ports()] == shifted.all_ports()


def test_ports_out_of_range_are_refused() -> None:
    with pytest.raises(PortPlanError, match="out of range"):
        port_plan(0, offset=60000)
    with pytest.raises(PortPlanError, match="outside"):
        port_plan(MAX_WORKERS)
    with pytest.raises(PortPlanError):
        port_plan(-1)


def test_overlapping_bases_are_a_collision() -> None:
    bases = PortBases(appium=8200)  # Appium ports land in the systemPort band
    with pytest.raises(PortPlanError, match="port 82"):
        check_collisions([port_plan(0, 0, bases), port_plan(1, 0, bases)])


def test_a_taken_port_names_the_port_and_the_holder() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUse) as info:
            ensure_port_free(port)
    assert info.value.port == port
    assert str(port) in str(info.value)
    if info.value.holder is not None:  # the OS may refuse to say who holds it
        assert f"pid {os.getpid()}" in info.value.holder


def test_a_free_port_passes() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ensure_port_free(port)
