"""The simulated GeeLark account: phones, uploads, tasks, billing, quotas, fault dice and counters.

All state sits behind one lock; every public method takes it, advances the phones to the
current simulated time and then acts. Methods raise :class:`Refusal` for envelope errors.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from geelark.simulator.config import SimClock, SimulatorConfig
from geelark.simulator.faults import FaultConfig
from geelark.simulator.phones import SimPhone
from geelark.simulator.quota import Quotas, Refusal
from geelark.simulator.storage import Storage
from geelark.simulator.taskbook import TaskBook
from geelark.status import Code, PhoneStatus, UploadStatus


@dataclass
class UploadTask:
    phone_id: str
    file_name: str
    created_at: float
    done_at: float
    fails: bool


class Cloud:
    """The account behind one simulator instance."""

    def __init__(self, config: SimulatorConfig, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()
        self.rng = random.Random(config.seed)
        self.faults: FaultConfig = config.faults
        self.phones: dict[str, SimPhone] = {}
        for name in config.phones:
            phone_id = str(self.rng.randrange(10**17, 10**18))
            self.phones[phone_id] = SimPhone(phone_id, name, f"SN{self.rng.randrange(10**9, 10**10)}")
            if name in config.expired:
                self.phones[phone_id].status = PhoneStatus.EXPIRED
        self.storage = Storage(config.upload_url_ttl_s, config.storage_ttl_s)
        self.tasks: dict[str, UploadTask] = {}
        self.calls: Counter[str] = Counter()
        self.fault_counts: Counter[str] = Counter()
        self.scenario_counts: Counter[str] = Counter()
        self.publishes: list[dict[str, Any]] = []
        self.quotas = Quotas(
            config.rate_limit_per_minute,
            config.wallet_limit_per_minute,
            config.rate_limit_per_hour,
            config.lockout_s,
        )
        self.bursts: Counter[str] = Counter()
        self.scheduled_kills: dict[str, float] = {}
        self._next_port = config.adb_port_base
        self.taskbook = TaskBook(self)

    # -- time and bookkeeping ------------------------------------------------------------
    def now(self) -> float:
        """Simulated now, after applying every due transition."""
        now = self.clock.now()
        for phone_id, at in sorted(self.scheduled_kills.items(), key=lambda kill: kill[1]):
            if now >= at:
                del self.scheduled_kills[phone_id]
                phone = self.phones[phone_id]
                if phone.is_up:
                    for other in self.phones.values():
                        other.advance(at)
                    self.taskbook.advance(at)
                    self.taskbook.phone_lost(phone_id, at)
                    phone.shut_down(at)
                    self.fault_counts["phone_stopped"] += 1
        for phone in self.phones.values():
            phone.advance(now)
        self.taskbook.advance(now)
        return now

    def chance(self, kind: str, probability: float) -> bool:
        """Roll the dice for one fault; count it when it fires."""
        if probability > 0 and self.rng.random() < probability:
            self.fault_counts[kind] += 1
            return True
        return False

    def phone(self, phone_id: str) -> SimPhone:
        """The phone an API call names (which counts as activity for energySavingMode)."""
        found = self.phones.get(str(phone_id))
        if found is None:
            raise Refusal(Code.PHONE_NOT_FOUND)
        found.last_active_at = max(found.last_active_at, self.clock.now())
        return found

    def phone_faults(self, phone: SimPhone) -> Any:
        return self.faults.for_phone(phone.id, phone.serial_name)

    # -- quotas and API-level faults ------------------------------------------------------
    def admit(self, path: str) -> None:
        """Count one authenticated call against the quotas; raise 40014/40007 when over."""
        self.quotas.admit(path, self.now())

    def draw_api_fault(self, path: str) -> str | None:
        """The injected fault for this request, if any (bursts keep hitting the same kind)."""
        api = self.faults.api
        if api.paths and path not in api.paths and path.removeprefix("/open/v1") not in api.paths:
            return None
        for kind, remaining in list(self.bursts.items()):
            if remaining > 0:
                self.bursts[kind] -= 1
                self.fault_counts[kind] += 1
                return kind
        kinds = (
            ("http_502", api.http_502),
            ("http_524", api.http_524),
            ("drop", api.drop),
            ("slow", api.slow),
            ("server_error", api.server_error),
            ("rate_limit", api.rate_limit),
            ("hour_lock", api.hour_lock),
        )
        for kind, probability in kinds:
            if self.chance(kind, probability):
                if kind != "slow":
                    self.bursts[kind] = max(0, api.burst - 1)
                if kind == "hour_lock":
                    self.quotas.lock(self.now())
                return kind
        return None

    # -- phones ----------------------------------------------------------------------------
    def start(self, phone_id: str, *, energy_saving: bool = False) -> dict[str, Any]:
        """Start one phone; returns its successDetails item or raises Refusal (per item)."""
        now = self.now()
        phone = self.phone(phone_id)
        faults = self.phone_faults(phone)
        if phone.status is PhoneStatus.EXPIRED:
            raise Refusal(Code.PHONE_EXPIRED)
        if not phone.is_up:
            if self.balance(now) <= 0:
                raise Refusal(Code.BALANCE_LOW)
            if faults.start_fail_codes and self.chance("start_fail", faults.start_fail):
                raise Refusal(self.rng.choice(faults.start_fail_codes))
            stuck = self.chance("stuck_starting", faults.stuck_starting)
            broken = self.chance("adb_never_ready", faults.adb_never_ready)
            phone.boot(
                now, self.config.boot_time_s, stuck=stuck, adb_broken=broken, energy_saving=energy_saving
            )
            phone.live_token = f"{self.rng.getrandbits(64):016x}"
        else:
            phone.stop_done_at = None  # a start during shutdown keeps it up
        return {
            "id": phone.id,
            "url": f"https://live.geelark.invalid/{phone.id}?token={phone.live_token}",
            "chargingMethod": "Per-minute usage",
        }

    def stop(self, phone_id: str) -> dict[str, Any]:
        now = self.now()
        phone = self.phone(phone_id)
        if phone.running_task:
            raise Refusal(Code.PHONE_BUSY_TASK)
        if phone.is_up:
            phone.request_stop(now, self.config.shutdown_delay_s)
            phone.advance(now)
        return {"id": phone.id, "serialName": phone.serial_name, "status": int(phone.status)}

    def kill(self, phone_id: str) -> None:
        """Stop a phone at once, underneath whoever uses it."""
        now = self.now()
        phone = self.phones[phone_id]
        if phone.is_up:
            self.taskbook.phone_lost(phone_id, now)
            phone.shut_down(now)
            self.fault_counts["phone_killed"] += 1

    def set_adb(self, phone_ids: list[str], enable: bool) -> None:
        now = self.now()
        phones = [self.phone(i) for i in phone_ids]
        if any(p.status is not PhoneStatus.RUNNING for p in phones):
            raise Refusal(Code.PHONE_NOT_RUNNING)
        for phone in phones:
            if not enable:
                phone.adb_enabled, phone.adb_ready_at = False, None
            elif not phone.adb_enabled:
                phone.adb_enabled = True
                phone.adb_ready_at = None if phone.adb_broken else now + self.config.adb_delay_s
                if phone.adb_port == 0:
                    phone.adb_port, self._next_port = self._next_port, self._next_port + 1
                    phone.adb_pwd = f"{self.rng.getrandbits(24):06x}"

    def adb_item(self, phone_id: str) -> dict[str, Any]:
        now = self.now()
        phone = self.phones.get(str(phone_id))
        if phone is None:
            return {"code": int(Code.PHONE_NOT_FOUND), "id": str(phone_id), "ip": "", "port": "", "pwd": ""}
        if phone.status is not PhoneStatus.RUNNING:
            return {"code": int(Code.PHONE_NOT_RUNNING), "id": phone.id, "ip": "", "port": "", "pwd": ""}
        if not phone.adb_enabled:
            return {"code": int(Code.ADB_NOT_ENABLED), "id": phone.id, "ip": "", "port": "", "pwd": ""}
        if not phone.adb_ready(now):
            return {"code": 0, "id": phone.id, "ip": "", "port": "", "pwd": ""}
        return {
            "code": 0,
            "id": phone.id,
            "ip": self.config.adb_ip,
            "port": str(phone.adb_port),
            "pwd": phone.adb_pwd,
        }

    # -- uploads ----------------------------------------------------------------------------
    def new_upload(self, file_type: str) -> str:
        token = f"{self.rng.getrandbits(64):016x}.{file_type}"
        self.storage.new(token, self.now())
        return token

    def upload_to_phone(self, phone_id: str, token: str) -> str:
        now = self.now()
        phone = self.phone(phone_id)
        if phone.status is not PhoneStatus.RUNNING:
            raise Refusal(Code.PHONE_NOT_RUNNING)
        fails = not self.storage.usable(token, now) or self.chance(
            "upload_fail", self.phone_faults(phone).upload_fail
        )
        task_id = str(self.rng.randrange(10**17, 10**18))
        self.tasks[task_id] = UploadTask(phone.id, token, now, now + self.config.upload_time_s, fails)
        return task_id

    def upload_status(self, task_id: str) -> UploadStatus:
        now = self.now()
        task = self.tasks.get(str(task_id))
        if task is None or now - task.created_at > self.config.upload_result_ttl_s:
            return UploadStatus.UNKNOWN
        if now < task.done_at:
            return UploadStatus.UPLOADING
        phone = self.phones[task.phone_id]
        path = f"/sdcard/Download/{task.file_name}"
        if task.fails or phone.status is not PhoneStatus.RUNNING:
            return UploadStatus.FAILED
        if path not in phone.files:
            phone.files.append(path)
        phone.file_sizes[path] = max(0, self.storage.sizes.get(task.file_name, 0))
        return UploadStatus.SUCCESS

    def shell(self, phone: SimPhone, command: str) -> str:
        """The few shell commands the worker sends (toybox's answers): empty the download folder,
        list it newest first, a file's size. Anything else answers nothing."""
        words = command.split()
        if words[:2] == ["rm", "-f"] and command.rstrip().endswith("/sdcard/Download/*"):
            phone.files = [f for f in phone.files if not f.startswith("/sdcard/Download/")]
            return ""
        if words[:2] == ["ls", "-t"] and len(words) == 3:
            folder = words[2].rstrip("/") + "/"
            return "\n".join(f.removeprefix(folder) for f in reversed(phone.files) if f.startswith(folder))
        if words[:3] == ["stat", "-c", "%s"] and len(words) == 4:
            path = words[3].strip("'\"")
            if path not in phone.files:
                return f"stat: {path}: No such file or directory"
            return str(phone.file_sizes.get(path, 0))
        return ""

    # -- money -------------------------------------------------------------------------------
    def balance(self, now: float) -> float:
        minutes = sum(p.billed_minutes(now) for p in self.phones.values())
        return round(self.config.balance - minutes * self.config.price_per_minute, 6)

    # -- simulated devices (/_sim/) -----------------------------------------------------------
    def draw_session(self, phone_id: str) -> dict[str, Any]:
        now = self.now()
        phone = self.phones[phone_id]
        weights = self.faults.scenarios_for(phone.id, phone.serial_name)
        names = [n for n, w in weights.items() if w > 0]
        scenario = self.rng.choices(names, weights=[weights[n] for n in names])[0]
        self.scenario_counts[scenario] += 1
        faults = self.phone_faults(phone)
        if phone.is_up and self.chance("phone_stopped_scheduled", faults.phone_stopped):
            low, high = faults.stopped_after_s
            self.scheduled_kills[phone.id] = now + self.rng.uniform(low, high)
        delay = self.faults.slow_post_delay_s if scenario == "slow_post" else self.faults.post_delay_s
        return {
            "scenario": scenario,
            "postDelayS": self.clock.real_seconds(delay),
            "interruptions": self.faults.app_interruptions,
            "seed": self.rng.randrange(2**31),
            "account": phone.serial_name,
        }

    def publish(self, phone_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """A post made through the app on a simulated device (the Appium executor)."""
        self.now()
        return self.record_publish(
            self.phones[phone_id],
            video=str(body.get("video", "")),
            caption=str(body.get("caption", "")),
            job_tag=str(body.get("jobTag", "")),
        )

    def record_publish(
        self,
        phone: SimPhone,
        *,
        video: str,
        caption: str,
        job_tag: str,
        at: float | None = None,
        task_id: str = "",
    ) -> dict[str, Any]:
        """Append one post to the publish record (``at``: simulated time, default now)."""
        when = datetime.now(UTC) if at is None else datetime.fromtimestamp(self.clock.real_seconds(at), UTC)
        record = {
            "phoneId": phone.id,
            "serialName": phone.serial_name,
            "video": video,
            "caption": caption,
            "jobTag": job_tag,
            "at": when.isoformat(timespec="milliseconds"),
        }
        if task_id:
            record["taskId"] = task_id
        self.publishes.append(record)
        return record

    def device_at(self, ip: str, port: int) -> SimPhone | None:
        now = self.now()
        for phone in self.phones.values():
            if ip == self.config.adb_ip and phone.adb_port == port and phone.adb_ready(now):
                return phone
        return None

    def state(self) -> dict[str, Any]:
        now = self.now()
        return {
            "phones": [p.to_state(now, self.config.adb_ip) for p in self.phones.values()],
            "calls": dict(self.calls),
            "faults": dict(self.fault_counts),
            "scenarios": dict(self.scenario_counts),
            "rateLimited": dict(self.quotas.refused),
            "publishes": list(self.publishes),
            "balance": self.balance(now),
            "simTime": now,
            "lockedUntil": self.quotas.locked_until,
            "tasks": self.taskbook.state(),
            "taskCredits": self.taskbook.credits,
        }
