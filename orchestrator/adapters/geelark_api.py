"""GeeLark as the orchestrator uses it: which endpoint (real or the run's simulator), short timeouts
for status, the `PhoneApi` adapter for stopping phones, and billed minutes from the simulator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from geelark.settings import GeeLarkSettings
from geelark.status import PhoneStatus
from runtime.settings import Settings
from runtime.state import RunDir, RunInfo

if TYPE_CHECKING:  # the client (and requests) are imported where used: --status must start fast
    from geelark.client import GeeLarkClient

STATUS_TIMEOUT_S = 3.0
# The simulator's credentials: fixed, well-known test values (they protect nothing), so `--stop-all`
# can still reach a crashed run's simulator.
SIM_APP_ID = "sim-app-id"
SIM_API_KEY = "sim-api-key"
SIM_TOKEN = ""  # appId + apiKey auth, like most real accounts


@dataclass(frozen=True)
class ListedPhone:
    """A phone as GeeLark lists it."""

    phone_id: str
    serial_name: str
    status: PhoneStatus


class PhoneApi(Protocol):
    """The three GeeLark calls stopping phones needs (`ClientPhoneApi` over the client; a fake in tests)."""

    def list_phones(self) -> list[ListedPhone]: ...

    def stop(self, phone_ids: Sequence[str]) -> dict[str, str]:
        """Ask to stop; returns {phone_id: error message} for the ids GeeLark refused."""
        ...

    def statuses(self, phone_ids: Sequence[str]) -> dict[str, PhoneStatus]: ...


def status_name(status: PhoneStatus | None) -> str:
    names = {
        PhoneStatus.RUNNING: "running",
        PhoneStatus.STARTING: "starting",
        PhoneStatus.STOPPED: "shut down",
        PhoneStatus.EXPIRED: "expired",
    }
    return "unknown" if status is None else names.get(status, str(int(status)))


def client_settings(
    settings: Settings, env: Mapping[str, str], *, simulator_url: str | None, quick: bool = False
) -> GeeLarkSettings:
    """Settings for a client of the real GeeLark, or of the simulator at `simulator_url`."""
    if simulator_url:
        gl = GeeLarkSettings(base_url=simulator_url, app_id=SIM_APP_ID, api_key=SIM_API_KEY)
    else:
        gl = GeeLarkSettings(
            base_url=settings.geelark.base_url,
            app_id=settings.geelark.app_id or env.get("GEELARK_APP_ID", ""),
            api_key=env.get("GEELARK_API_KEY", ""),
            token=env.get("GEELARK_TOKEN", ""),
            read_timeout_s=settings.geelark.timeout_s,
        )
    if simulator_url:
        gl = gl.time_scaled(settings.simulate.time_scale)
    if quick:
        return gl.with_(connect_timeout_s=2.0, read_timeout_s=STATUS_TIMEOUT_S, max_attempts=1)
    # the budget the run's workers share: our stop calls cannot make theirs trip 40007, nor theirs ours
    return gl.with_(rate_limit_dir=RunDir(settings.paths.runtime_dir).geelark_budget_dir)


def simulator_url_of(run: RunInfo | None) -> str | None:
    return run.simulator_url if run is not None and run.simulate else None


class ClientPhoneApi:
    """`PhoneApi` over a `GeeLarkClient`."""

    def __init__(self, client: GeeLarkClient) -> None:
        self._client = client

    def list_phones(self) -> list[ListedPhone]:
        return [ListedPhone(p.id, p.serial_name, p.status) for p in self._client.iter_phones()]

    def stop(self, phone_ids: Sequence[str]) -> dict[str, str]:
        result = self._client.stop_phones(list(phone_ids))
        return {pid: f"{err.code} {err.msg}" for pid, err in result.failed.items()}

    def statuses(self, phone_ids: Sequence[str]) -> dict[str, PhoneStatus]:
        if not phone_ids:
            return {}
        result = self._client.phone_status(list(phone_ids))
        return {pid: state.status for pid, state in result.ok.items()}


@dataclass(frozen=True)
class SimulatorMeter:
    """What the simulator counted since it started: billed phone minutes (simulated), API calls and
    genuine rate-limit refusals (40007/40014) per path."""

    billed_minutes: float
    calls: Mapping[str, int]
    rate_limited: Mapping[str, int]


def simulator_meter(simulator_url: str | None) -> SimulatorMeter | None:
    """The simulator's meters (real GeeLark has none we can ask), or None when it cannot be read."""
    if not simulator_url:
        return None
    import requests  # imported here: --status must start fast

    try:
        data = requests.get(f"{simulator_url}/_sim/state", timeout=STATUS_TIMEOUT_S).json()
        return SimulatorMeter(
            billed_minutes=round(sum(float(p.get("billedMinutes", 0.0)) for p in data.get("phones", [])), 2),
            calls={str(k): int(v) for k, v in (data.get("calls") or {}).items()},
            rate_limited={str(k): int(v) for k, v in (data.get("rateLimited") or {}).items()},
        )
    except (requests.RequestException, ValueError, TypeError, AttributeError):
        return None


def billed_minutes(simulator_url: str | None) -> float | None:
    """Billed phone minutes: the simulator's meter (real GeeLark has no per-phone meter), else None."""
    meter = simulator_meter(simulator_url)
    return meter.billed_minutes if meter is not None else None
