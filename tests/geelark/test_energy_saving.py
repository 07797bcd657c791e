"""GeeLark's energySavingMode, as the simulator plays it: a phone nobody uses for 30 minutes shuts
itself down and stops billing; a phone in use, or started without it, keeps running."""

from __future__ import annotations

from collections.abc import Callable

from geelark.client import GeeLarkClient
from geelark.simulator import SimulatorServer
from geelark.status import PhoneStatus
from tests.geelark.conftest import FakeClock, client_settings

PHONES = ("saver", "plain", "busy")


def test_an_idle_phone_started_with_energy_saving_stops_itself_after_30_minutes(
    make_sim: Callable[..., SimulatorServer], clock: FakeClock
) -> None:
    sim = make_sim(real_clock=clock, phones=PHONES)
    ids = {name: sim.phone_id(name) for name in PHONES}
    with GeeLarkClient(client_settings(sim.url), clock=clock, sleep=clock.sleep) as client:
        client.start_phones([ids["saver"], ids["busy"]], energy_saving=True)
        client.start_phone(ids["plain"])
        for _ in range(12):  # 40 minutes; "busy" is asked about every 200 s
            clock.advance(200)
            client.phone_status([ids["busy"]])
        states = {p["serialName"]: p for p in sim.state()["phones"]}
    assert states["saver"]["status"] == PhoneStatus.STOPPED
    assert states["saver"]["billedMinutes"] == 30  # billing ended when it stopped itself
    assert states["saver"]["autoStops"] == 1
    assert states["plain"]["status"] == PhoneStatus.RUNNING
    assert states["busy"]["status"] == PhoneStatus.RUNNING
