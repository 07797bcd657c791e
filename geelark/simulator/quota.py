"""GeeLark's request quotas as the simulator enforces them, and the envelope refusal type.

Per endpoint: ``rate_limit_per_minute`` calls per simulated minute (fixed windows, "lifted in
the next minute") -> 40007; ``/pay/wallet`` has its own, tighter limit. Per account:
``rate_limit_per_hour`` calls per simulated hour -> 40014 and a lock of ``lockout_s``.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from geelark.status import Code, message_for


class Refusal(Exception):
    """An API-level refusal: the handler answers HTTP 200 with this envelope code (and data)."""

    def __init__(self, code: int, msg: str | None = None, data: Any = None) -> None:
        super().__init__(msg or message_for(code))
        self.code = code
        self.msg = msg or message_for(code)
        self.data = data


class Quotas:
    """Counts authenticated calls; ``admit`` raises Refusal(40007 / 40014) when over."""

    def __init__(self, per_minute: int, wallet_per_minute: int, per_hour: int, lockout_s: float) -> None:
        self.per_minute = per_minute
        self.wallet_per_minute = wallet_per_minute
        self.per_hour = per_hour
        self.lockout_s = lockout_s
        self.locked_until: float | None = None
        self.refused: Counter[str] = Counter()  # genuine 40007 / 40014 answers per path
        self._minutes: dict[str, tuple[int, int]] = {}  # path -> (minute index, calls)
        self._hour: tuple[int, int] = (0, 0)

    def lock(self, now: float) -> None:
        """Lock the account (40014) from ``now`` for ``lockout_s``."""
        self.locked_until = now + self.lockout_s

    def admit(self, path: str, now: float) -> None:
        if self.locked_until is not None and now < self.locked_until:
            raise Refusal(Code.HOURLY_LOCK)
        hour = math.floor(now / 3600)
        self._hour = (hour, self._hour[1] + 1 if self._hour[0] == hour else 1)
        if self._hour[1] > self.per_hour:
            self.lock(now)
            self.refused[path] += 1
            raise Refusal(Code.HOURLY_LOCK)
        minute = math.floor(now / 60)
        last_minute, calls = self._minutes.get(path, (minute, 0))
        calls = calls + 1 if last_minute == minute else 1
        self._minutes[path] = (minute, calls)
        limit = self.per_minute
        if path.endswith("/pay/wallet"):
            limit = min(limit, self.wallet_per_minute)
        if calls > limit:
            self.refused[path] += 1
            raise Refusal(Code.RATE_LIMITED)
