"""Fault configuration of the simulator: every injected failure's probability lives here.

A config is plain data (frozen dataclasses) read from a preset (``none``, ``realistic``) plus
JSON overrides, the same schema for ``--faults <file>`` and ``POST /_sim/faults``::

    {"preset": "none",
     "api": {"http_502": 0.01, "slow": 0.02, "slow_s": 3, "paths": ["/open/v1/phone/status"]},
     "phone": {"start_fail": 0.05, "start_fail_codes": [47002, 43020],
               "task_fail": 0.05, "task_fail_codes": [20116, 20003], "task_slow_create": 0.01},
     "phones": {"phone-02": {"adb_never_ready": 1.0}},
     "scenarios": {"ok": 0.9, "captcha": 0.1},
     "post_delay_s": 5, "slow_post_delay_s": 90}

``phones`` keys are phone ids or serial names; each entry overrides ``phone`` field by field
(and may carry its own ``scenarios``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from geelark.status import Code, FailCode

SCENARIOS = (
    "ok",
    "suspended",
    "captcha",
    "loggedout",
    "actionblocked",
    "banned",
    "verification",
    "session_lost",
    "element_missing",
    "slow_post",
    "post_fails",
)


@dataclass(frozen=True)
class ApiFaults:
    """Per-request faults on ``/open/v1`` calls (probabilities in 0..1).

    after_effect: chance that a 502/524/drop/timeout happens after the call took effect (so a
    state-changing call is ambiguous for the client). burst: how many consecutive requests a
    fault keeps hitting once it fires (GeeLark errors come in bursts). paths: restrict to these.
    """

    http_502: float = 0.0
    http_524: float = 0.0
    drop: float = 0.0
    slow: float = 0.0
    slow_s: float = 3.0  # real seconds, not time-scaled: it is about client timeouts
    server_error: float = 0.0  # 50000
    rate_limit: float = 0.0  # injected 40007
    hour_lock: float = 0.0  # injected 40014 (locks the account for two simulated hours)
    after_effect: float = 0.5
    burst: int = 1
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class PhoneFaults:
    """Per-phone faults. phone_stopped: chance, per app session, that the phone is stopped
    underneath the job between ``stopped_after_s`` (simulated seconds) after the session began.

    Publishing tasks on the phone: task_fail (per run) ends it FAILED with a code drawn from
    task_fail_codes; task_false_complete reports COMPLETED with a failed Next/Post/Share step in
    the log and posts nothing; task_stuck (per task) keeps it WAITING for ever; task_slow_create
    (per create) makes the task and then answers ``api.slow_s`` real seconds late, so a client
    with a shorter read timeout sees an ambiguous create.
    """

    start_fail: float = 0.0
    start_fail_codes: tuple[int, ...] = (
        Code.RESOURCES_BUSY,
        Code.UNAVAILABLE_TRY_LATER,
        Code.PROXY_UNAVAILABLE,
    )
    stuck_starting: float = 0.0
    adb_never_ready: float = 0.0
    phone_stopped: float = 0.0
    stopped_after_s: tuple[float, float] = (5.0, 60.0)
    upload_fail: float = 0.0
    task_fail: float = 0.0
    task_fail_codes: tuple[int, ...] = (
        FailCode.NO_NETWORK,
        FailCode.DEVICE_OFFLINE,
        FailCode.UPLOAD_FAILED,
        FailCode.UPLOAD_TIMEOUT,
        FailCode.EXECUTION_TIMEOUT,
        FailCode.SAVED_TO_DRAFTS,
        FailCode.NOT_LOGGED_IN,
        FailCode.ACCOUNT_BLOCKED,
        FailCode.UNKNOWN,
    )
    task_false_complete: float = 0.0
    task_stuck: float = 0.0
    task_slow_create: float = 0.0
    scenarios: Mapping[str, float] | None = None  # None: use FaultConfig.scenarios


@dataclass(frozen=True)
class FaultConfig:
    """The whole fault mix; see the module docstring for the JSON form."""

    api: ApiFaults = field(default_factory=ApiFaults)
    phone: PhoneFaults = field(default_factory=PhoneFaults)
    phones: Mapping[str, PhoneFaults] = field(default_factory=dict)
    scenarios: Mapping[str, float] = field(default_factory=lambda: {"ok": 1.0})
    post_delay_s: float = 5.0  # simulated seconds the "sharing" takes
    slow_post_delay_s: float = 90.0
    # the simulated Instagram's own interruptions on an "ok" session (a card to dismiss, "Not
    # now", a rating prompt, the camera in another mode, a gallery tap that does not take): the
    # chance of each, per session
    app_interruptions: float = 0.0

    def for_phone(self, phone_id: str, serial_name: str) -> PhoneFaults:
        """The faults that apply to one phone (override by id, then by serial name)."""
        return self.phones.get(phone_id) or self.phones.get(serial_name) or self.phone

    def scenarios_for(self, phone_id: str, serial_name: str) -> Mapping[str, float]:
        return self.for_phone(phone_id, serial_name).scenarios or self.scenarios

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Calibrated from seed-ancestor.md §5.6 (per attempt: ~55 % success; of the failures roughly
# 30 % connect/ADB, 30 % UI navigation, 12 % Appium session, 12 % account states, 5-10 %
# GeeLark API errors in bursts). One attempt makes ~15-25 API calls, hence the small per-call rates.
REALISTIC = FaultConfig(
    api=ApiFaults(
        http_502=0.002,
        http_524=0.002,
        drop=0.001,
        slow=0.004,
        slow_s=3.0,
        server_error=0.003,
        rate_limit=0.002,
        burst=3,
    ),
    phone=PhoneFaults(
        start_fail=0.03,
        stuck_starting=0.02,
        adb_never_ready=0.06,
        phone_stopped=0.02,
        upload_fail=0.01,
        # Publishing tasks: no public failure rates exist; these give every path a few hits per
        # thousand tasks (a failure code drawn evenly from task_fail_codes, i.e. ~1 % account).
        task_fail=0.05,
        task_false_complete=0.02,
        task_stuck=0.01,
        task_slow_create=0.01,
    ),
    scenarios={
        "ok": 0.58,
        "element_missing": 0.16,
        "session_lost": 0.06,
        "suspended": 0.012,
        "captcha": 0.015,
        "loggedout": 0.012,
        "verification": 0.01,
        "banned": 0.005,
        "actionblocked": 0.008,
        "post_fails": 0.028,
        "slow_post": 0.11,
    },
    app_interruptions=0.1,
)
PRESETS: Mapping[str, FaultConfig] = {"none": FaultConfig(), "realistic": REALISTIC}


def _build(cls: type[Any], base: Any, raw: Mapping[str, Any], where: str) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(raw) - names
    if unknown:
        raise ValueError(f"unknown fault setting(s) in {where}: {sorted(unknown)}")
    values = {}
    for key, value in raw.items():
        values[key] = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(base, **values)


def _phone_faults(base: PhoneFaults, raw: Mapping[str, Any], where: str) -> PhoneFaults:
    raw = dict(raw)
    if "scenarios" in raw and raw["scenarios"] is not None:
        raw["scenarios"] = _scenarios(raw["scenarios"], where)
    faults: PhoneFaults = _build(PhoneFaults, base, raw, where)
    return faults


def _scenarios(raw: Mapping[str, Any], where: str) -> dict[str, float]:
    unknown = set(raw) - set(SCENARIOS)
    if unknown:
        raise ValueError(f"unknown scenario(s) in {where}: {sorted(unknown)}")
    weights = {k: float(v) for k, v in raw.items()}
    if sum(weights.values()) <= 0:
        raise ValueError(f"scenario weights in {where} must not all be zero")
    return weights


def parse_faults(raw: Mapping[str, Any]) -> FaultConfig:
    """A FaultConfig from its JSON form: ``preset`` (default ``none``) plus overrides."""
    raw = dict(raw)
    preset = raw.pop("preset", "none")
    if preset not in PRESETS:
        raise ValueError(f"unknown fault preset {preset!r}; choose one of {sorted(PRESETS)}")
    base = PRESETS[preset]
    unknown = set(raw) - {f.name for f in dataclasses.fields(FaultConfig)}
    if unknown:
        raise ValueError(f"unknown fault setting(s): {sorted(unknown)}")
    api = _build(ApiFaults, base.api, raw.get("api", {}), "api")
    phone = _phone_faults(base.phone, raw.get("phone", {}), "phone")
    phones = {str(k): _phone_faults(phone, v, f"phones.{k}") for k, v in raw.get("phones", {}).items()}
    scenarios = _scenarios(raw["scenarios"], "scenarios") if "scenarios" in raw else dict(base.scenarios)
    return FaultConfig(
        api=api,
        phone=phone,
        phones=phones,
        scenarios=scenarios,
        post_delay_s=float(raw.get("post_delay_s", base.post_delay_s)),
        slow_post_delay_s=float(raw.get("slow_post_delay_s", base.slow_post_delay_s)),
        app_interruptions=_probability(
            raw.get("app_interruptions", base.app_interruptions), "app_interruptions"
        ),
    )


def _probability(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{where} must be a probability between 0 and 1, not {value!r}")
    return float(value)
