"""What a worker holds for its whole life (`Rig`), shared by the loop, the attempt and the executors."""

from __future__ import annotations

from dataclasses import dataclass

from geelark.client import GeeLarkClient
from jobqueue import JobStore
from worker.adb import Adb
from worker.appium_server import ServerProcess
from worker.config import WorkerConfig
from worker.flow import FlowBook
from worker.heartbeat import StopControl, WorkerStatus
from worker.phone import PhoneManager


@dataclass
class Rig:
    """Everything a worker holds for its whole life. The server is launched by the first Appium
    job only: a worker whose jobs all go to GeeLark's tasks never starts one."""

    cfg: WorkerConfig
    store: JobStore
    client: GeeLarkClient
    adb: Adb
    phones: PhoneManager
    server: ServerProcess
    flows: FlowBook  # each account's flow, by its app
    status: WorkerStatus
    stop: StopControl
