"""Typed results of the GeeLark API: frozen dataclasses, ids always ``str``.

Parsing from the wire lives here too (``from_api``), as pure functions of plain dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from geelark.status import PhoneStatus

T = TypeVar("T")


def chunks(ids: Sequence[str], size: int) -> Iterator[list[str]]:
    """``ids`` as strings, in lists of at most ``size`` (GeeLark's per-call maxima)."""
    for i in range(0, len(ids), size):
        yield [str(x) for x in ids[i : i + size]]


@dataclass(frozen=True)
class ItemError:
    """One failed id of a batch call: GeeLark's per-item ``code`` and ``msg``."""

    id: str
    code: int
    msg: str

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> ItemError:
        return cls(id=str(raw.get("id", "")), code=int(raw.get("code", 0)), msg=str(raw.get("msg", "")))


@dataclass(frozen=True)
class BatchResult(Generic[T]):
    """Outcome of a batch call: ``ok`` by id, ``failed`` by id. Always check ``failed``."""

    ok: Mapping[str, T] = field(default_factory=dict)
    failed: Mapping[str, ItemError] = field(default_factory=dict)

    @classmethod
    def from_details(cls, data: Any, parse: Callable[[Mapping[str, Any]], T]) -> BatchResult[T]:
        """Parse GeeLark's ``successDetails`` / ``failDetails`` (a failed id is never also ok)."""
        data = data or {}
        failed = {str(raw.get("id", "")): ItemError.from_api(raw) for raw in data.get("failDetails") or ()}
        ok = {
            str(raw["id"]): parse(raw)
            for raw in data.get("successDetails") or ()
            if str(raw["id"]) not in failed
        }
        return cls(ok=ok, failed=failed)

    @property
    def all_ok(self) -> bool:
        return not self.failed

    def merged(self, other: BatchResult[T]) -> BatchResult[T]:
        """This result plus ``other`` (later wins per id; an ok id is no longer failed)."""
        ok = {**self.ok, **other.ok}
        failed = {k: v for k, v in {**self.failed, **other.failed}.items() if k not in other.ok}
        return BatchResult(ok=ok, failed=failed)


@dataclass(frozen=True)
class Phone:
    """One cloud phone as ``/phone/list`` describes it."""

    id: str
    serial_name: str
    serial_no: str
    status: PhoneStatus
    group_name: str = ""
    remark: str = ""
    tags: tuple[str, ...] = ()
    charge_mode: int = 0
    os_version: str = ""
    rpa_running: bool = False

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Phone:
        group = raw.get("group") or {}
        equipment = raw.get("equipmentInfo") or {}
        return cls(
            id=str(raw["id"]),
            serial_name=str(raw.get("serialName", "")),
            serial_no=str(raw.get("serialNo", "")),
            status=PhoneStatus(int(raw.get("status", PhoneStatus.STOPPED))),
            group_name=str(group.get("name", "")),
            remark=str(raw.get("remark", "")),
            tags=tuple(str(t.get("name", "")) for t in raw.get("tags") or ()),
            charge_mode=int(raw.get("chargeMode", 0)),
            os_version=str(equipment.get("osVersion", "")),
            rpa_running=int(raw.get("rpaStatus", 0) or 0) == 1,
        )


@dataclass(frozen=True)
class PhonePage:
    """One page of ``/phone/list``."""

    items: tuple[Phone, ...]
    total: int
    page: int
    page_size: int

    @property
    def is_last(self) -> bool:
        return self.page * self.page_size >= self.total or not self.items


@dataclass(frozen=True)
class PhoneState:
    """One phone's ``/phone/status`` answer."""

    id: str
    serial_name: str
    status: PhoneStatus

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> PhoneState:
        return cls(str(raw["id"]), str(raw.get("serialName", "")), PhoneStatus(int(raw["status"])))


@dataclass(frozen=True)
class StartedPhone:
    """A phone ``/phone/start`` accepted. ``url`` is a secret live-view link (empty when the
    start was confirmed by re-reading the status instead)."""

    id: str
    charging_method: str = ""
    url: str = field(default="", repr=False)

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> StartedPhone:
        return cls(str(raw["id"]), str(raw.get("chargingMethod", "")), str(raw.get("url", "")))


@dataclass(frozen=True)
class AdbInfo:
    """``/adb/getData`` for one phone. ``ready`` is False while ip/port are still empty."""

    id: str
    ip: str
    port: int
    pwd: str = field(default="", repr=False)

    @property
    def ready(self) -> bool:
        return bool(self.ip) and self.port > 0

    @property
    def serial(self) -> str:
        """The adb serial ``ip:port``."""
        return f"{self.ip}:{self.port}"

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> AdbInfo:
        port = str(raw.get("port") or "0")
        return cls(
            str(raw["id"]),
            str(raw.get("ip") or ""),
            int(port) if port.isdigit() else 0,
            str(raw.get("pwd") or ""),
        )


@dataclass(frozen=True)
class UploadUrl:
    """``/upload/getUrl``: PUT the bytes to ``upload_url``, then hand ``resource_url`` to a phone."""

    upload_url: str = field(repr=False)
    resource_url: str


@dataclass(frozen=True)
class Wallet:
    """``/pay/wallet``."""

    balance: float
    gift_money: float = 0.0
    available_time_add_on: int = 0

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Wallet:
        return cls(
            float(raw.get("balance", 0.0)),
            float(raw.get("giftMoney", 0.0)),
            int(raw.get("availableTimeAddOn", 0)),
        )
