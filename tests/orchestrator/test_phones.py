"""Which phones `--stop-all` stops, and that a stop is verified, never assumed."""

from __future__ import annotations

from collections.abc import Sequence

from geelark.status import PhoneStatus
from orchestrator.adapters.geelark_api import ListedPhone
from orchestrator.run.phones import PhoneTarget, choose_phones, stop_and_verify
from runtime.state import PhoneRecord

LEDGER = {"p1": PhoneRecord("p1", "acct1", 0, "t")}
LISTED = [
    ListedPhone("p1", "acct1", PhoneStatus.RUNNING),
    ListedPhone("p2", "acct2", PhoneStatus.RUNNING),
    ListedPhone("p3", "va-phone", PhoneStatus.RUNNING),
    ListedPhone("p4", "acct3", PhoneStatus.STOPPED),
]


def test_by_default_our_started_phones_and_our_accounts_phones_are_stopped_not_others() -> None:
    targets = choose_phones(LEDGER, LISTED, project_accounts={"acct1", "acct2", "acct3"}, all_phones=False)
    assert [(t.phone_id, t.why) for t in targets] == [
        ("p1", "started by worker 0"),
        ("p2", "account of this project"),
    ]


def test_every_running_phone_only_with_the_explicit_flag() -> None:
    targets = choose_phones(LEDGER, LISTED, project_accounts=set(), all_phones=True)
    assert {t.phone_id for t in targets} == {"p1", "p2", "p3"}


def test_when_geelark_cannot_list_the_ledger_still_counts() -> None:
    assert [
        t.phone_id for t in choose_phones(LEDGER, None, project_accounts={"acct2"}, all_phones=False)
    ] == ["p1"]


class FakeApi:
    def __init__(self, stops_after_polls: dict[str, int]) -> None:
        self.left = dict(stops_after_polls)
        self.stop_calls: list[list[str]] = []

    def list_phones(self) -> list[ListedPhone]:
        return []

    def stop(self, phone_ids: Sequence[str]) -> dict[str, str]:
        self.stop_calls.append(list(phone_ids))
        return {}

    def statuses(self, phone_ids: Sequence[str]) -> dict[str, PhoneStatus]:
        out = {}
        for pid in phone_ids:
            self.left[pid] -= 1
            out[pid] = PhoneStatus.STOPPED if self.left[pid] <= 0 else PhoneStatus.RUNNING
        return out


def test_a_stop_is_verified_by_polling_until_shut_down() -> None:
    api = FakeApi({"p1": 3})
    clock = iter(float(n) for n in range(100))
    results = stop_and_verify(
        api, [PhoneTarget("p1", "acct1", "x")], deadline_s=30, clock=lambda: next(clock), sleep=lambda s: None
    )
    assert results[0].stopped and results[0].final_status is PhoneStatus.STOPPED


def test_a_phone_still_running_at_the_deadline_is_reported_not_hidden() -> None:
    api = FakeApi({"p1": 1000})
    clock = iter(float(n) for n in range(1000))
    results = stop_and_verify(
        api, [PhoneTarget("p1", "acct1", "x")], deadline_s=10, clock=lambda: next(clock), sleep=lambda s: None
    )
    assert not results[0].stopped and results[0].final_status is PhoneStatus.RUNNING
    assert len(api.stop_calls) > 1  # asked again while waiting
