"""Publishing tasks end to end: the client against the simulator on loopback (real HTTP), on a
fake clock shared by both so task durations and timeouts take no real time."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from geelark import (
    AccountError,
    GeeLarkClient,
    ReelsPost,
    StoredFile,
    TaskOutcome,
    TaskStatus,
    TaskType,
    TikTokPost,
    UnsupportedFile,
    UploadFailed,
    classify_create_error,
)
from geelark.simulator import SimulatorServer
from tests.geelark.conftest import FakeClock, boot_phone

MakeClient = Callable[..., GeeLarkClient]
MakeSim = Callable[..., SimulatorServer]
TASK_S = 120.0  # the simulator's default run time of a task (simulated seconds)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00" * 2048)
    return path


class Rig:
    """A simulator and a client on one fake clock."""

    def __init__(self, sim: SimulatorServer, client: GeeLarkClient, clock: FakeClock) -> None:
        self.sim, self.client, self.clock = sim, client, clock

    def boot(self, name: str = "phone-01") -> str:
        return boot_phone(self.client, self.sim, name)

    def tiktok(self, job_id: str, phone_id: str, stored: StoredFile, **extra: Any) -> str:
        post = TikTokPost(job_id, phone_id, stored.resource_url, description=f"caption of {job_id}", **extra)
        return self.client.create_or_find_task(post, look_first=False).id

    def finish(self, task_id: str) -> Any:
        task = self.client.wait_for_task(task_id, timeout_s=3600, poll_s=10)
        return self.client.task_verdict(task)

    def publishes(self) -> list[dict[str, Any]]:
        return list(self.sim.state()["publishes"])

    def sim_task(self, task_id: str) -> dict[str, Any]:
        return next(t for t in self.sim.state()["tasks"] if t["id"] == task_id)


@pytest.fixture
def make_rig(make_sim: MakeSim, make_client: MakeClient, clock: FakeClock) -> Callable[..., Rig]:
    def make(**sim_overrides: Any) -> Rig:
        sim = make_sim(real_clock=clock, **sim_overrides)
        return Rig(sim, make_client(sim, clock=clock), clock)

    return make


def test_a_tiktok_task_posts_once_and_is_verified_from_its_log(
    make_rig: Callable[..., Rig], video: Path
) -> None:
    rig = make_rig()
    phone_id = rig.boot()
    stored = rig.client.upload_to_storage(video)
    assert stored.file_type == "mp4" and stored.resource_url.endswith(".mp4")
    task_id = rig.tiktok("clip.mp4@acc01", phone_id, stored)
    running = rig.client.task(task_id)
    assert running.status is TaskStatus.RUNNING and running.name == "po:clip.mp4@acc01"
    assert running.job_id == "clip.mp4@acc01" and running.task_type == TaskType.TIKTOK_VIDEO
    assert rig.client.list_phones(ids=[phone_id]).items[0].rpa_running
    assert rig.client.task_detail(task_id).logs == ()  # GeeLark gives the log once the task ended
    verdict = rig.finish(task_id)
    assert verdict.outcome is TaskOutcome.SUCCESS and verdict.share_link.startswith("https://www.tiktok.com/")
    assert verdict.task.cost_s == TASK_S
    [post] = rig.publishes()
    assert (post["jobTag"], post["taskId"], post["phoneId"]) == ("clip.mp4@acc01", task_id, phone_id)
    assert post["caption"] == "caption of clip.mp4@acc01"
    assert not rig.client.list_phones(ids=[phone_id]).items[0].rpa_running


def test_a_reels_task_posts_once(make_rig: Callable[..., Rig], video: Path) -> None:
    rig = make_rig()
    phone_id = rig.boot("phone-02")
    stored = rig.client.upload_to_storage(video)
    post = ReelsPost("reel-1", phone_id, (stored.resource_url,), description="a reel")
    ref = rig.client.create_or_find_task(post)
    assert not ref.found_by_lookup and ref.name == "po:reel-1"
    verdict = rig.finish(ref.id)
    assert verdict.outcome is TaskOutcome.SUCCESS and verdict.task.task_type == TaskType.CUSTOM
    assert [(p["jobTag"], p["serialName"]) for p in rig.publishes()] == [("reel-1", "phone-02")]


def test_an_unsupported_file_is_refused_before_any_request(
    make_rig: Callable[..., Rig], tmp_path: Path
) -> None:
    rig = make_rig()
    clip = tmp_path / "clip.mov"
    clip.write_bytes(b"x")
    with pytest.raises(UnsupportedFile, match=r"clip\.mov.*\.mp4"):
        rig.client.upload_to_storage(clip)
    with pytest.raises(UnsupportedFile, match="no such file"):
        rig.client.upload_to_storage(tmp_path / "gone.mp4")
    assert "/open/v1/upload/getUrl" not in rig.sim.state()["calls"]


def test_a_task_waits_for_its_phone_to_run(make_rig: Callable[..., Rig], video: Path) -> None:
    rig = make_rig()
    phone_id = rig.sim.phone_id("phone-03")
    task_id = rig.tiktok("job-w", phone_id, rig.client.upload_to_storage(video))
    rig.clock.advance(600)
    assert rig.client.task(task_id).status is TaskStatus.WAITING  # the simulator never starts a phone
    rig.boot("phone-03")
    assert rig.finish(task_id).outcome is TaskOutcome.SUCCESS


def test_a_task_whose_phone_never_runs_fails_offline_after_its_timeout(
    make_rig: Callable[..., Rig], video: Path
) -> None:
    rig = make_rig()
    task_id = rig.tiktok(
        "job-o", rig.sim.phone_id("phone-03"), rig.client.upload_to_storage(video), timeout_min=30
    )
    rig.clock.advance(30 * 60 - 1)
    assert rig.client.task(task_id).status is TaskStatus.WAITING
    rig.clock.advance(1)
    verdict = rig.client.task_verdict(rig.client.task(task_id))
    assert (verdict.outcome, verdict.code) == (TaskOutcome.INFRASTRUCTURE, 20129)
    assert rig.publishes() == []


def test_a_second_task_on_a_busy_phone_fails_20002(make_rig: Callable[..., Rig], video: Path) -> None:
    rig = make_rig()
    phone_id = rig.boot()
    stored = rig.client.upload_to_storage(video)
    first = rig.tiktok("job-1", phone_id, stored)
    second = rig.tiktok("job-2", phone_id, stored)
    failed = rig.client.task(second)
    assert (failed.status, failed.fail_code) == (TaskStatus.FAILED, 20002)
    assert rig.finish(first).outcome is TaskOutcome.SUCCESS
    assert [p["jobTag"] for p in rig.publishes()] == ["job-1"]


def test_a_phone_running_a_task_cannot_be_stopped_until_it_ends(
    make_rig: Callable[..., Rig], video: Path
) -> None:
    rig = make_rig()
    phone_id = rig.boot()
    task_id = rig.tiktok("job-s", phone_id, rig.client.upload_to_storage(video))
    refused = rig.client.stop_phones([phone_id])
    assert refused.failed[phone_id].code == 43005
    rig.finish(task_id)
    assert rig.client.stop_phones([phone_id]).all_ok


def test_task_credits_run_out_with_41000(make_rig: Callable[..., Rig], video: Path) -> None:
    rig = make_rig(task_credits=1)
    phone_id = rig.boot()
    stored = rig.client.upload_to_storage(video)
    rig.tiktok("job-1", phone_id, stored)
    with pytest.raises(AccountError) as caught:
        rig.tiktok("job-2", phone_id, stored)
    assert caught.value.code == 41000 and classify_create_error(caught.value) is TaskOutcome.RUN_STOPPING
    assert rig.sim.state()["taskCredits"] == 0 and len(rig.sim.state()["tasks"]) == 1


def test_a_task_that_starts_without_money_fails_29997(make_rig: Callable[..., Rig], video: Path) -> None:
    rig = make_rig(balance=0.05)  # five phone minutes
    phone_id = rig.boot()
    start = int(rig.clock()) + 600
    task_id = rig.tiktok("job-b", phone_id, rig.client.upload_to_storage(video), schedule_at=start)
    verdict = rig.finish(task_id)
    assert (verdict.outcome, verdict.code) == (TaskOutcome.RUN_STOPPING, 29997)


def test_cancel_stops_a_waiting_task_and_reports_a_finished_one(
    make_rig: Callable[..., Rig], video: Path
) -> None:
    rig = make_rig()
    stored = rig.client.upload_to_storage(video)
    waiting = rig.tiktok("job-c", rig.sim.phone_id("phone-04"), stored)
    assert rig.client.cancel_task(waiting).status is TaskStatus.CANCELLED
    again = rig.client.cancel_tasks([waiting, "123"])
    assert again.failed[waiting].code == 48001 and again.failed["123"].code == 48002 and not again.ok
    assert rig.client.cancel_task(waiting).status is TaskStatus.CANCELLED  # repeating is harmless
    phone_id = rig.boot()
    done = rig.tiktok("job-d", phone_id, stored)
    rig.finish(done)
    assert rig.client.cancel_task(done).status is TaskStatus.COMPLETED
    assert [p["jobTag"] for p in rig.publishes()] == ["job-d"]


def test_a_cancelled_running_task_posts_nothing(make_rig: Callable[..., Rig], video: Path) -> None:
    rig = make_rig()
    phone_id = rig.boot()
    task_id = rig.tiktok("job-r", phone_id, rig.client.upload_to_storage(video))
    rig.clock.advance(TASK_S / 2)
    cancelled = rig.client.cancel_task(task_id)
    assert cancelled.status is TaskStatus.CANCELLED and rig.client.task_verdict(cancelled).reason.endswith(
        "60s"
    )
    rig.clock.advance(TASK_S)
    assert rig.publishes() == [] and rig.client.stop_phones([phone_id]).all_ok


def test_a_task_whose_video_was_never_put_fails_download_20200(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    phone_id = rig.boot()
    target = rig.client.get_upload_url("mp4")
    post = TikTokPost("job-n", phone_id, target.resource_url)
    verdict = rig.finish(rig.client.create_task(post))
    assert (verdict.outcome, verdict.code) == (TaskOutcome.INFRASTRUCTURE, 20200)


def test_storage_expires_after_three_days_and_upload_urls_after_30_minutes(
    make_rig: Callable[..., Rig], video: Path
) -> None:
    rig = make_rig()
    stored = rig.client.upload_to_storage(video)
    target = rig.client.get_upload_url("mp4")
    rig.clock.advance(31 * 60)
    with pytest.raises(UploadFailed, match="403"):
        rig.client.put_file(target.upload_url, video)
    rig.clock.advance(3 * 86400)
    assert not stored.usable(rig.clock())
    phone_id = rig.boot()
    verdict = rig.finish(rig.tiktok("job-x", phone_id, stored))
    assert verdict.code == 20200


def test_a_killed_phone_fails_its_running_task(make_rig: Callable[..., Rig], video: Path) -> None:
    rig = make_rig()
    phone_id = rig.boot()
    task_id = rig.tiktok("job-k", phone_id, rig.client.upload_to_storage(video))
    rig.clock.advance(10)
    rig.sim.kill_phone(phone_id)
    verdict = rig.finish(task_id)
    assert (verdict.outcome, verdict.code) == (TaskOutcome.INFRASTRUCTURE, 20129)
    assert rig.publishes() == []


def test_logs_are_read_across_pages(make_rig: Callable[..., Rig], video: Path) -> None:
    rig = make_rig(task_log_page=3)
    phone_id = rig.boot()
    task_id = rig.tiktok("job-l", phone_id, rig.client.upload_to_storage(video))
    rig.clock.advance(TASK_S)
    first = rig.client.task_detail(task_id)
    assert len(first.logs) == 3 and first.log_continue
    whole = rig.client.task_logs(task_id)
    assert whole.logs[:3] == first.logs and not whole.log_continue
    assert whole.logs[0].endswith("Waiting for execution") and whole.logs[-1].endswith("Run successfully:")
    assert len(whole.logs) == 11  # waiting, start, six steps, "Posted", close, success
    assert rig.sim.state()["calls"]["/open/v1/task/detail"] == 1 + 4  # 11 lines in pages of 3
    assert len(set(whole.logs)) == 11 and whole.logs[0].startswith("[20")


def test_history_pages_and_find_by_name(make_rig: Callable[..., Rig], video: Path) -> None:
    rig = make_rig()
    stored = rig.client.upload_to_storage(video)
    phone_id = rig.sim.phone_id("phone-05")
    ids = [rig.tiktok(f"job-{i}", phone_id, stored) for i in range(7)]
    page = rig.client.task_history(size=3)
    assert page.total == 7 and [t.id for t in page.items] == ids[::-1][:3]  # newest first
    assert [t.id for t in rig.client.iter_task_history(size=3)] == ids[::-1]
    found = rig.client.find_task_by_name("po:job-0")
    assert found is not None and found.id == ids[0]
    assert rig.client.find_task_by_name("po:job-99") is None
    # one page, then three pages of 3 (3 + 3 + 1), then one page of 100 per name looked up
    assert rig.sim.state()["calls"]["/open/v1/task/historyRecords"] == 1 + 3 + 2


def test_history_keeps_seven_days(make_rig: Callable[..., Rig], video: Path) -> None:
    rig = make_rig()
    task_id = rig.tiktok("job-old", rig.sim.phone_id("phone-05"), rig.client.upload_to_storage(video))
    rig.clock.advance(7 * 86400 + 1)
    assert rig.client.find_task_by_name("po:job-old") is None
    assert rig.client.task(task_id).status is TaskStatus.FAILED  # still readable by id
