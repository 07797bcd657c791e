"""Daily success counts per calendar day in the policy timezone, across midnight and DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jobqueue import Job, JobStatus, day_bounds, local_day, successes_on_day

NY = "America/New_York"
BERLIN = "Europe/Berlin"


def done_at(moment: datetime, account: str = "a") -> Job:
    return Job("j", account, "v", "c", status=JobStatus.SUCCESS, completed_at=moment)


def at(zone: str, *ymd_hms: int, fold: int = 0) -> datetime:
    year, month, day, hour, minute, second = (*ymd_hms, 0, 0, 0)[:6]
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone), fold=fold)


@pytest.mark.parametrize("zone", [NY, BERLIN])
def test_a_success_just_before_local_midnight_does_not_count_the_next_day(zone: str) -> None:
    before = at(zone, 2026, 6, 15, 23, 59, 59)
    after = at(zone, 2026, 6, 16, 0, 0, 1)
    assert successes_on_day([done_at(before)], after, zone)["a"] == 0
    assert successes_on_day([done_at(before)], before, zone)["a"] == 1


def test_the_day_is_local_not_utc() -> None:
    # 02:00 UTC on the 16th is still the evening of the 15th in New York.
    success = done_at(datetime(2026, 6, 16, 2, 0, tzinfo=UTC))
    assert successes_on_day([success], at(NY, 2026, 6, 15, 9, 0), NY)["a"] == 1
    assert successes_on_day([success], at(BERLIN, 2026, 6, 16, 9, 0), BERLIN)["a"] == 1
    assert successes_on_day([success], at(BERLIN, 2026, 6, 15, 23, 0), BERLIN)["a"] == 0


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [(NY, (2026, 3, 8), (2026, 11, 1)), (BERLIN, (2026, 3, 29), (2026, 10, 25))],
)
def test_dst_days_are_23_and_25_hours_long(
    zone: str, spring: tuple[int, int, int], autumn: tuple[int, ...]
) -> None:
    start, end = day_bounds(at(zone, *spring, 12), zone)
    assert end - start == timedelta(hours=23)
    start, end = day_bounds(at(zone, *autumn, 12), zone)
    assert end - start == timedelta(hours=25)


@pytest.mark.parametrize(("zone", "day"), [(NY, (2026, 11, 1)), (BERLIN, (2026, 10, 25))])
def test_both_repeated_hours_of_the_autumn_change_count_on_that_day(
    zone: str, day: tuple[int, int, int]
) -> None:
    hour = 1 if zone == NY else 2
    first = at(zone, *day, hour, 30, fold=0)
    second = at(zone, *day, hour, 30, fold=1)
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
    jobs = [done_at(first), done_at(second)]
    assert successes_on_day(jobs, at(zone, *day, 23, 59), zone)["a"] == 2
    next_day = at(zone, day[0], day[1], day[2] + 1, 0, 0)
    assert successes_on_day(jobs, next_day, zone)["a"] == 0


@pytest.mark.parametrize(("zone", "day"), [(NY, (2026, 3, 8)), (BERLIN, (2026, 3, 29))])
def test_spring_forward_day_counts_from_midnight_to_midnight(zone: str, day: tuple[int, int, int]) -> None:
    early = at(zone, *day, 0, 30)
    late = at(zone, *day, 23, 30)
    assert local_day(early, zone) == local_day(late, zone)
    assert successes_on_day([done_at(early), done_at(late, "b")], late, zone) == {"a": 1, "b": 1}


def test_machine_local_zone_when_none() -> None:
    now = datetime.now(UTC)
    assert local_day(now, None) == now.astimezone().date()
