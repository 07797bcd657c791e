"""GeeLark as the orchestrator uses it: which endpoint (real or the run's simulator), short timeouts
for status, the `PhoneApi` adapter for stopping phones, and billed minutes from the simulator."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from geelark.errors import GeeLarkError
from geelark.settings import GeeLarkSettings
from geelark.status import PhoneStatus
from orchestrator.phones import ListedPhone, status_name
from orchestrator.simulation import SIM_API_KEY, SIM_APP_ID
from orchestrator.status import PhoneLine, PhonesView
from runtime.settings import Settings
from runtime.state import RunDir, RunInfo

if TYPE_CHECKING:  # the client (and requests) are imported where used: --status must start fast
    from geelark.client import GeeLarkClient

STATUS_TIMEOUT_S = 3.0


def client_settings(
    settings: Settings, env: Mapping[str, str], simulator_url: str | None, quick: bool = False
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
    """`phones.PhoneApi` over a `GeeLarkClient`."""

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


def billed_minutes(simulator_url: str | None) -> float | None:
    """Billed phone minutes: the simulator's meter (real GeeLark has no per-phone meter), else None."""
    if not simulator_url:
        return None
    import requests  # imported here: --status must start fast

    try:
        data = requests.get(f"{simulator_url}/_sim/state", timeout=STATUS_TIMEOUT_S).json()
        return round(sum(float(p.get("billedMinutes", 0.0)) for p in data.get("phones", [])), 2)
    except (requests.RequestException, ValueError, TypeError, AttributeError):
        return None


def probe_phones(
    settings: Settings,
    run: RunInfo | None,
    ours: Collection[str],
    env: Mapping[str, str] | None = None,
) -> PhonesView:
    """Running phones and billed minutes for `--status`; never raises, never waits long.

    `ours`: phone ids from the ledger and account names of this project (marked in the list).
    """
    sim_url = simulator_url_of(run)
    if settings.simulate.enabled and not sim_url:
        return PhonesView(False, "simulate mode and no run active: the simulator only lives during a run")
    gl = client_settings(settings, env if env is not None else os.environ, sim_url, quick=True)
    try:
        gl.auth_mode  # noqa: B018 - raises when no credentials are configured
        from geelark.client import GeeLarkClient  # imported here: --status must start fast

        with GeeLarkClient(gl) as client:
            phones = [p for p in client.iter_phones() if p.status.is_up]
    except GeeLarkError as exc:
        return PhonesView(False, str(exc))
    running = tuple(
        PhoneLine(p.id, p.serial_name, status_name(p.status), None, p.id in ours or p.serial_name in ours)
        for p in phones
    )
    return PhonesView(True, "", running, billed_minutes(sim_url))
