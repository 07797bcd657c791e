"""Pure task logic: failCode classes, "completed" verification, task names, post limits."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from geelark import (
    AccountError,
    AuthError,
    CircuitOpen,
    CreateAmbiguous,
    GeeLarkError,
    InvalidPost,
    InvalidRequest,
    NotFound,
    RateLimited,
    ReelsPost,
    Task,
    TaskOutcome,
    TaskStatus,
    TikTokPost,
    UnsupportedFile,
    classify_create_error,
    classify_fail_code,
    job_id_from_task_name,
    judge_task,
    task_name,
    verify_completed,
)
from geelark.errors import RequestTimeout
from geelark.tasks import TASK_NAME_MAX, StoredFile, upload_file_type
from geelark.verdict import failed_step

# Log lines in the shape third parties published (time in UTC, full-width colon after "text").
CLEAN = [
    "[2026-08-24 15:01:10 100] Waiting for execution",
    "[2026-08-24 15:01:18 739] Click element: Selector: text：Next",
    "[2026-08-24 15:01:35 321] Input text: Selector: text：Describe your video",
    "[2026-08-24 15:01:42 785] Click element: Selector: text：Post",
    "[2026-08-24 15:03:49 263] Run successfully:",
]
CLICK_FAILED_ON_POST = [
    "[2026-08-27 12:40:05 369] Click element: Selector condition: Equal  Selector: text：Post",
    "[2026-08-27 12:40:08 378] Click failed, please check whether the element exists:",
    "[2026-08-27 12:42:45 885] Close app: Package name: com.zhiliaoapp.musically",
    "[2026-08-27 12:42:46 001] Run successfully:",
]
NO_ELEMENT_ON_NEXT = [
    "[2026-08-28 09:51:07 730] Click element: Selector: text：Next  Waiting time: 20000",
    "[2026-08-28 09:51:27 805] No element found. Check whether the element properties are filled in "
    "properly or whether the current page contains an element:",
    "[2026-08-28 09:54:15 610] Run successfully:",
]
CLICK_FAILED_ON_PASTE = [
    "Click element: Selector: text：Paste",
    "Click failed, please check whether the element exists:",
    "Click element: Selector: text：Share",
    "Run successfully:",
]


BASE = Task("5571", "po:job-1", 1, "42", "acc", 1, TaskStatus.WAITING, 1, None, "reason text")


def task(status: TaskStatus, fail_code: int | None = None, **extra: Any) -> Task:
    return dataclasses.replace(BASE, status=status, status_code=int(status), fail_code=fail_code, **extra)


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (20116, TaskOutcome.ACCOUNT),
        (20136, TaskOutcome.ACCOUNT),
        (20137, TaskOutcome.ACCOUNT),
        (20145, TaskOutcome.ACCOUNT),
        (20264, TaskOutcome.ACCOUNT),
        (20003, TaskOutcome.REVIEW),
        (20251, TaskOutcome.REVIEW),
        (20100, TaskOutcome.INFRASTRUCTURE),
        (20129, TaskOutcome.INFRASTRUCTURE),
        (20201, TaskOutcome.INFRASTRUCTURE),
        (20202, TaskOutcome.INFRASTRUCTURE),
        (20203, TaskOutcome.INFRASTRUCTURE),
        (20257, TaskOutcome.INFRASTRUCTURE),
        (20002, TaskOutcome.INFRASTRUCTURE),
        (29997, TaskOutcome.RUN_STOPPING),
        (41000, TaskOutcome.RUN_STOPPING),
        (20213, TaskOutcome.REVIEW),
        (29999, TaskOutcome.REVIEW),
        (None, TaskOutcome.REVIEW),
    ],
)
def test_fail_codes_fall_into_their_classes(code: int | None, outcome: TaskOutcome) -> None:
    assert classify_fail_code(code) is outcome


def test_an_unknown_fail_code_is_review_keeping_code_and_text() -> None:
    verdict = judge_task(
        task(TaskStatus.FAILED, 20213, fail_desc="Clicking Publish on the publish page fails")
    )
    assert verdict.outcome is TaskOutcome.REVIEW and verdict.code == 20213
    assert "20213" in verdict.reason and "Clicking Publish" in verdict.reason
    assert "unclassified" in verdict.reason


def test_a_known_account_failure_names_its_code() -> None:
    verdict = judge_task(task(TaskStatus.FAILED, 20136, fail_desc="Account blocked"))
    assert (verdict.outcome, verdict.code) == (TaskOutcome.ACCOUNT, 20136)
    assert "Account blocked" in verdict.reason and "unclassified" not in verdict.reason


@pytest.mark.parametrize("status", [TaskStatus.WAITING, TaskStatus.RUNNING, TaskStatus.UNDOCUMENTED])
def test_unfinished_tasks_are_pending(status: TaskStatus) -> None:
    assert judge_task(task(status)).outcome is TaskOutcome.PENDING


def test_a_cancelled_task_says_whether_it_ran() -> None:
    assert judge_task(task(TaskStatus.CANCELLED)).reason == "task cancelled"
    verdict = judge_task(task(TaskStatus.CANCELLED, cost_s=40))
    assert verdict.outcome is TaskOutcome.CANCELLED and "40s" in verdict.reason


def test_completed_with_clean_logs_is_success_with_the_share_link() -> None:
    verdict = verify_completed(task(TaskStatus.COMPLETED, share_link="https://vm.tiktok.com/x"), CLEAN)
    assert verdict.outcome is TaskOutcome.SUCCESS and verdict.share_link == "https://vm.tiktok.com/x"


@pytest.mark.parametrize("logs", [CLICK_FAILED_ON_POST, NO_ELEMENT_ON_NEXT])
def test_completed_with_a_failed_publishing_step_is_review(logs: list[str]) -> None:
    verdict = verify_completed(task(TaskStatus.COMPLETED, share_link="https://x"), logs)
    assert verdict.outcome is TaskOutcome.REVIEW
    assert "publishing step failed" in verdict.reason and verdict.share_link == ""


def test_a_failed_click_on_another_control_is_not_a_failure_sign() -> None:
    assert failed_step(CLICK_FAILED_ON_PASTE) is None
    assert verify_completed(task(TaskStatus.COMPLETED), CLICK_FAILED_ON_PASTE).outcome is TaskOutcome.SUCCESS


def test_the_failed_step_is_the_action_line_before_the_failure() -> None:
    step, failure = failed_step(CLICK_FAILED_ON_POST) or ("", "")
    assert step.endswith("text：Post") and failure.split("] ", 1)[1].startswith("Click failed")
    assert failed_step(["Run failed: could not tap Share"]) == ("", "Run failed: could not tap Share")


def test_completed_without_logs_is_review_unless_allowed() -> None:
    assert verify_completed(task(TaskStatus.COMPLETED), []).outcome is TaskOutcome.REVIEW
    allowed = verify_completed(task(TaskStatus.COMPLETED), [], allow_empty_logs=True)
    assert allowed.outcome is TaskOutcome.SUCCESS


def test_verify_completed_refuses_other_states() -> None:
    with pytest.raises(ValueError, match="FAILED"):
        verify_completed(task(TaskStatus.FAILED, 20003), CLEAN)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (AccountError("x", code=41000), TaskOutcome.RUN_STOPPING),
        (AccountError("x", code=41001), TaskOutcome.RUN_STOPPING),
        (AccountError("x", code=43004), TaskOutcome.ACCOUNT),
        (AccountError("x", code=48004), TaskOutcome.ACCOUNT),
        (NotFound("x", code=42001), TaskOutcome.ACCOUNT),
        (AuthError("x", code=40003), TaskOutcome.RUN_STOPPING),
        (RateLimited("x", code=40007), TaskOutcome.INFRASTRUCTURE),
        (InvalidRequest("x", code=40004), TaskOutcome.INVALID_JOB),
        (InvalidPost("j", "too long"), TaskOutcome.INVALID_JOB),
        (UnsupportedFile("a.mov", "bad type"), TaskOutcome.INVALID_JOB),
        (
            CreateAmbiguous(task_name="po:j", job_id="j", phone_id="1", cause=RequestTimeout("t")),
            TaskOutcome.REVIEW,
        ),
    ],
)
def test_create_errors_fall_into_their_classes(error: GeeLarkError, outcome: TaskOutcome) -> None:
    assert classify_create_error(error) is outcome


def test_circuit_open_on_create_is_infrastructure() -> None:
    from datetime import UTC, datetime

    assert (
        classify_create_error(CircuitOpen(until=datetime.now(UTC), reason="r")) is TaskOutcome.INFRASTRUCTURE
    )


def test_task_names_carry_the_job_id_and_stay_within_128_characters() -> None:
    assert task_name("clip.mp4@acc01") == "po:clip.mp4@acc01"
    assert job_id_from_task_name("po:clip.mp4@acc01") == "clip.mp4@acc01"
    assert job_id_from_task_name("someone else's plan") == "someone else's plan"
    long_a, long_b = "a" * 200, "a" * 199 + "b"
    assert len(task_name(long_a)) == TASK_NAME_MAX
    assert task_name(long_a) == task_name(long_a) != task_name(long_b)
    with pytest.raises(InvalidPost):
        task_name("")


def test_posts_refuse_fields_over_geelarks_limits() -> None:
    with pytest.raises(InvalidPost, match="4000"):
        TikTokPost("job-1", "42", "https://r/v.mp4", description="x" * 4001)
    with pytest.raises(InvalidPost, match=r"30\.\.80"):
        TikTokPost("job-1", "42", "https://r/v.mp4", timeout_min=20)
    with pytest.raises(InvalidPost, match="upload it first"):
        TikTokPost("job-1", "42", "")
    with pytest.raises(InvalidPost, match="2200"):
        ReelsPost("job-1", "42", ("https://r/v.mp4",), description="x" * 2201)
    with pytest.raises(InvalidPost, match="at most 10"):
        ReelsPost("job-1", "42", tuple(f"https://r/{i}.mp4" for i in range(11)))


def test_a_tiktok_body_never_lets_geelark_retry_and_carries_the_name() -> None:
    body = TikTokPost("job-1", "42", "https://r/v.mp4", description="hi").body(now=1_700_000_000)
    assert body["planName"] == "po:job-1" and body["taskType"] == 1 and len(body["list"]) == 1
    item = body["list"][0]
    assert item["maxTryTimes"] == 0 and item["scheduleAt"] == 1_700_000_000 and item["envId"] == "42"
    reels = ReelsPost("job-2", "42", ("https://r/v.mp4",), "cap", schedule_at=5).body(now=9)
    assert (reels["name"], reels["scheduleAt"], reels["video"]) == ("po:job-2", 5, ["https://r/v.mp4"])


def test_upload_file_types_and_storage_lifetime() -> None:
    assert upload_file_type(Path("clip.MP4")) == "mp4"
    with pytest.raises(UnsupportedFile, match=r"\.mp4"):
        upload_file_type(Path("clip.mov"))
    stored = StoredFile("https://r/v.mp4", "mp4", uploaded_at=1000.0)
    assert stored.expires_at == 1000.0 + 3 * 86400
    assert stored.usable(1000.0) and not stored.usable(1000.0 + 3 * 86400 - 60, margin_s=3600)
