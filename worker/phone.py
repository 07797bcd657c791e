"""The account's cloud phone: start (or reuse), wait running, enable ADB, connect, and stop.

Every phone this worker starts is written to the run's phones ledger *before* the start call (so
the orchestrator can stop it even if we die mid-call) and marked stopped after the stop call.
A boot that does not finish within its deadline is stopped at once (a boot can hang for ever).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from geelark.client import GeeLarkClient
from geelark.errors import GeeLarkError, WaitTimeout
from geelark.status import PhoneStatus
from jobqueue.errors import QueueError
from runtime.logs import register_secret
from runtime.state import RunDir
from worker.adb import Adb
from worker.errors import AdbError, PhoneUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
WAIT_SLICE_POLLS = 5


@dataclass(frozen=True)
class PhoneHandle:
    """A running phone, with ADB connected unless it was acquired for GeeLark's tasks."""

    phone_id: str
    serial_name: str
    serial: str  # adb serial ip:port, also the Appium udid; "" without ADB


@dataclass(frozen=True)
class PhoneTimeouts:
    boot_s: float = 180.0
    adb_s: float = 60.0
    poll_s: float = 2.0


class SharedPhoneLedger(Protocol):
    """The phones every PC on a shared queue started (``PostgresJobStore``)."""

    def phone_started(self, phone_id: str, account: str, worker_id: int | None) -> None: ...

    def phone_stopped(self, phone_id: str, worker_id: int | None = None) -> None: ...


class PhoneManager:
    """Holds at most one phone at a time for this worker."""

    def __init__(
        self,
        client: GeeLarkClient,
        adb: Adb,
        run_dir: RunDir,
        worker_id: int,
        *,
        timeouts: PhoneTimeouts = PhoneTimeouts(),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        check_stop: Callable[[], None] = lambda: None,
        in_use_elsewhere: Callable[[str], bool] = lambda account: False,
        energy_saving: bool = True,
        ledger: SharedPhoneLedger | None = None,
    ) -> None:
        self.ledger = ledger  # a shared queue's phone ledger, beside the run's own file
        self.energy_saving = energy_saving  # GeeLark stops the phone after 30 idle minutes
        self.check_stop = check_stop
        self.in_use_elsewhere = in_use_elsewhere
        self.client = client
        self.adb = adb
        self.run_dir = run_dir
        self.worker_id = worker_id
        self.timeouts = timeouts
        self.now = now
        self.current: PhoneHandle | None = None

    @property
    def account(self) -> str | None:
        """The account (serial name) whose phone this worker holds, if any."""
        return self.current.serial_name if self.current else None

    def acquire(self, account: str, *, connect: bool = True) -> PhoneHandle:
        """The account's phone, running (and connected through ADB if `connect`: GeeLark's own
        publishing tasks need none); reuses the one we hold when it still runs."""
        if self.current is not None and self.current.serial_name == account:
            if self._still_running(self.current):
                if connect and not self.current.serial:
                    self.current = self._connect(self.current.phone_id, account)
                return self.current
            log.warning(
                "phone %s of %s stopped underneath us; starting it again", self.current.phone_id, account
            )
            self._forget(stopped=True)
        elif self.current is not None:
            self.release(stop=True)
        phone = self.client.find_phone(account)
        # Recorded after the status read and before the start call: a stop asked before we saw the
        # phone cannot close this line (see RunDir.phones_left_running), and a kill after the start
        # call still leaves the phone in the ledger.
        self._record("started", phone_id=phone.id, account=account)
        self.current = PhoneHandle(phone.id, account, "")
        if phone.status is not PhoneStatus.RUNNING:
            if phone.status is not PhoneStatus.STARTING:
                self.client.start_phone(phone.id, energy_saving=self.energy_saving)
            self._wait_running(phone.id, account)
        self.current = self._connect(phone.id, account) if connect else PhoneHandle(phone.id, account, "")
        return self.current

    def release(self, stop: bool) -> None:
        """Let go of the phone; `stop` also stops it (and records that), unless another worker now
        holds a claim on the same account (`in_use_elsewhere`). A failed stop is logged, not raised:
        the ledger keeps the phone "started" for the orchestrator to stop."""
        handle = self.current
        if handle is None:
            return
        if self.in_use_elsewhere(handle.serial_name):
            # Another worker claimed this account's next job and adopted the running phone: it
            # disconnects and stops it when done. Stopping it here would kill its job.
            log.info(
                "phone %s (%s) is in use by another worker: left to it", handle.phone_id, handle.serial_name
            )
            self.current = None
            return
        if handle.serial:
            try:
                self.adb.disconnect(handle.serial)
            except AdbError as exc:
                log.warning("adb disconnect %s failed: %s", handle.serial, exc)
        if not stop:
            self.current = None
            return
        asked_at = self.now()  # the ledger's time of a stop: when asked (see RunDir.phones_left_running)
        try:
            self.client.stop_phone(handle.phone_id)
        except GeeLarkError as exc:
            log.error(
                "could not stop phone %s (%s): %s; left for the orchestrator",
                handle.phone_id,
                handle.serial_name,
                exc,
            )
            self.current = None
            return
        self._forget(stopped=True, asked_at=asked_at)
        log.info("phone %s (%s) stopped", handle.phone_id, handle.serial_name)

    def _forget(self, stopped: bool, asked_at: datetime | None = None) -> None:
        handle, self.current = self.current, None
        if handle is not None and stopped:
            self._record("stopped", phone_id=handle.phone_id, account=handle.serial_name, at=asked_at)

    def _still_running(self, handle: PhoneHandle) -> bool:
        result = self.client.phone_status([handle.phone_id])
        state = result.ok.get(handle.phone_id)
        return state is not None and state.status is PhoneStatus.RUNNING

    def _wait_running(self, phone_id: str, account: str) -> None:
        try:
            self._wait(
                lambda t: self.client.wait_until_running(phone_id, t, self.timeouts.poll_s),
                self.timeouts.boot_s,
            )
        except WaitTimeout as exc:
            self.release(stop=True)
            raise PhoneUnavailable(
                f"phone {account} did not boot within {self.timeouts.boot_s:.0f} s; stopped it",
                account=account,
                error_type="phone_boot_timeout",
            ) from exc

    def _connect(self, phone_id: str, account: str) -> PhoneHandle:
        self.client.set_adb([phone_id], True)
        try:
            info = self._wait(
                lambda t: self.client.wait_for_adb(phone_id, t, self.timeouts.poll_s), self.timeouts.adb_s
            )
        except WaitTimeout as exc:
            raise PhoneUnavailable(
                f"Failed to get ADB info for {account}: ADB did not open within {self.timeouts.adb_s:.0f} s",
                account=account,
                error_type="adb_not_ready",
            ) from exc
        register_secret(info.pwd)
        self.adb.connect(info.serial, info.pwd, self.timeouts.adb_s)
        log.info("phone %s (%s) connected at %s", phone_id, account, info.serial)
        return PhoneHandle(phone_id, account, info.serial)

    def _wait(self, wait: Callable[[float], T], timeout_s: float) -> T:
        """Run a GeeLark wait in slices so a stop request is noticed within a few polls."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.check_stop()
            slice_s = max(0.0, min(deadline - time.monotonic(), self.timeouts.poll_s * WAIT_SLICE_POLLS))
            try:
                return wait(slice_s)
            except WaitTimeout:
                if time.monotonic() >= deadline:
                    raise

    def _record(self, event: str, *, phone_id: str, account: str, at: datetime | None = None) -> None:
        when = self.now() if at is None else at
        if self.ledger is not None:
            try:
                if event == "started":
                    self.ledger.phone_started(phone_id, account, self.worker_id)
                else:
                    self.ledger.phone_stopped(phone_id, self.worker_id)
            except QueueError as exc:  # the run's own file still names the phone
                log.warning("could not record phone %s (%s) in the shared queue: %s", phone_id, account, exc)
        if event == "started":
            self.run_dir.record_phone(
                "started",
                phone_id=phone_id,
                serial_name=account,
                worker_id=self.worker_id,
                at=when,
                auto_stop=self.energy_saving,
            )
        else:
            self.run_dir.record_phone(
                "stopped", phone_id=phone_id, serial_name=account, worker_id=self.worker_id, at=when
            )
