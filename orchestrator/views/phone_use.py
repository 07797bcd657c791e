"""Phones running and phone minutes billed, from our phone ledger (`.orchestrator/phones.jsonl`).

GeeLark bills a phone per started minute of each boot. The real service has no meter we can ask per
phone, so outside simulation the minutes are estimated from the ledger: every "started" line opens a
session, the next "stopped" line of that phone (or now) closes it, each session is rounded up to whole
minutes. The simulator's own meter replaces the estimate in simulation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PhoneUse:
    """Phones running now and the phone minutes billed so far."""

    running: int = 0
    billed_minutes: float | None = None
    simulated: bool = False  # simulated minutes: the simulator's meter, no cost
    source: str = ""  # "simulator", "ledger" (our phone log), "" unknown


def _moment(value: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def ledger_sessions(
    events: Iterable[Mapping[str, Any]], now: datetime
) -> list[tuple[str, datetime, datetime | None]]:
    """(phone id, started, stopped or None while it runs) for every boot in the ledger. Which phones
    run now is `RunDir.phones_left_running`'s answer; this only measures the sessions."""
    sessions: list[tuple[str, datetime, datetime | None]] = []
    open_at: dict[str, int] = {}
    for event in events:
        phone = str(event.get("phone_id", ""))
        at = _moment(event.get("at"))
        if not phone or at is None:
            continue
        if event.get("event") == "started":
            if phone not in open_at:
                open_at[phone] = len(sessions)
                sessions.append((phone, at, None))
        elif phone in open_at and at >= sessions[open_at[phone]][1]:
            index = open_at.pop(phone)
            sessions[index] = (phone, sessions[index][1], min(at, now))
    return sessions


def ledger_minutes(events: Iterable[Mapping[str, Any]], *, since: datetime, now: datetime) -> float:
    """Billed minutes of the boots started since `since` (the run's start), each rounded up."""
    return float(
        sum(
            math.ceil(max(0.0, ((stopped or now) - started).total_seconds()) / 60)
            for _, started, stopped in ledger_sessions(events, now)
            if started >= since
        )
    )
