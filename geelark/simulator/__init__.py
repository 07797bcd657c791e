"""A faithful local simulator of the GeeLark cloud, served over HTTP on loopback.

``SimulatorServer(SimulatorConfig(...))`` in process, or ``python -m geelark.simulator``.
"""

from geelark.simulator.config import SimulatorConfig, phone_names
from geelark.simulator.faults import PRESETS, ApiFaults, FaultConfig, PhoneFaults, parse_faults
from geelark.simulator.server import SimulatorServer

__all__ = [
    "PRESETS",
    "ApiFaults",
    "FaultConfig",
    "PhoneFaults",
    "SimulatorConfig",
    "SimulatorServer",
    "parse_faults",
    "phone_names",
]
