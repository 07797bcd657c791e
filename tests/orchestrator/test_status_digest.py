"""One-shot `--status` reads a digest of the queue (``jobqueue.digest``): the plain jobs collapsed.
Every view must say for it exactly what it says for the whole queue, and the cache behind it must
never describe a file other than the one on disk."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from jobqueue import CsvJobStore, Job, JobStatus, NewJob, Outcome, OutcomeKind, QueuePolicy, QueueSnapshot
from jobqueue.digest import decode, digest_of, encode, expand
from jobqueue.policy import AccountRules
from orchestrator.jsonable import dumps
from orchestrator.views.status_report import StatusReport, build_status
from runtime.state import ProcessRef, RunInfo

NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # Europe/Berlin changes to summer time that night
ACCOUNTS = ("a1", "a2", "a3", "")
POLICY = QueuePolicy(
    daily_limit=2,
    timezone="UTC",
    accounts={
        "a2": AccountRules(daily_limit=5, timezone="Europe/Berlin"),
        "a3": AccountRules(daily_limit=10, min_spacing_s=3600),  # its last post matters
    },
)
LOGS = Path("logs")

# Around the edges the views care about: the day's start (00:00 UTC, 01:00 Berlin), the runs' starts.
moments = st.sampled_from(
    [
        None,
        *(NOW + timedelta(minutes=m) for m in (-3000, -1801, -1799, -600, -31, -29, -21, -19, 0, 60, 1800)),
    ]
)


@st.composite
def jobs(draw: st.DrawFn) -> Job:
    status = draw(st.sampled_from(list(JobStatus)))
    claimed = status is JobStatus.CLAIMED
    return Job(
        job_id="",  # numbered below
        account=draw(st.sampled_from(ACCOUNTS)),
        video_path=draw(st.sampled_from(["/v/a.mp4", "/v/b.mp4"])),
        caption=draw(st.sampled_from(["one", "two"])),
        status=status,
        worker_id=draw(st.sampled_from([None, 0, 1])) if not claimed else draw(st.sampled_from([0, 1])),
        claimed_at=draw(moments),
        completed_at=draw(moments),
        error=draw(st.sampled_from(["", "", "", "timeout"])),
        attempts=draw(st.integers(0, 2)),
        max_attempts=3,
        retry_at=draw(moments),
        error_type=draw(st.sampled_from(["", "", "network"])),
        checkpoint_at=draw(st.sampled_from([None, None, NOW])),
        infra_attempts=draw(st.integers(0, 1)),
        not_before=draw(st.sampled_from([None, None, NOW + timedelta(hours=3)])),
    )


@st.composite
def plain_jobs(draw: st.DrawFn) -> Job:
    """What most of a big queue is: never tried, or posted without an error."""
    account = draw(st.sampled_from(ACCOUNTS))
    if draw(st.booleans()):
        not_before = draw(st.sampled_from([None, NOW - timedelta(hours=1), NOW + timedelta(hours=3)]))
        return Job("", account, "/v/a.mp4", "c", attempts=draw(st.integers(0, 1)), not_before=not_before)
    completed = draw(moments)
    claimed = completed - timedelta(minutes=draw(st.sampled_from([1, 5, 90]))) if completed else draw(moments)
    return Job(
        "",
        account,
        "/v/a.mp4",
        "c",
        JobStatus.SUCCESS,
        worker_id=draw(st.sampled_from([None, 0])),
        claimed_at=claimed,
        completed_at=completed,
        attempts=draw(st.integers(0, 1)),
    )


def numbered(found: list[Job]) -> tuple[Job, ...]:
    return tuple(replace(job, job_id=f"j{n}") for n, job in enumerate(found))


def status(snap: QueueSnapshot, started_at: datetime | None) -> StatusReport:
    run = RunInfo(ProcessRef(os.getpid(), 0.0), started_at, workers=2) if started_at is not None else None
    return build_status(
        snap,
        NOW,
        policy=POLICY,
        progress_file=Path("parallel_progress.csv"),
        logs_dir=LOGS,
        heartbeats={},
        alive_workers=set(),
        run=run,
        run_active=run is not None,
        phones=None,
    )


def posted(account: str, minutes_ago: int) -> Job:
    done_at = NOW - timedelta(minutes=minutes_ago)
    return Job("", account, "/v.mp4", "c", JobStatus.SUCCESS, claimed_at=done_at, completed_at=done_at)


@settings(max_examples=300)
@example(  # the latest post decides the spacing, wherever it is in the file
    found=[posted("a3", 1), posted("a3", 10), Job("", "a3", "/v.mp4", "c")], copies=1, started_at=None
)
@example(  # two days' posts, one before the run started and one since: only one is the run's
    found=[posted("a1", 50 * 60), posted("a1", 10 * 60)], copies=1, started_at=NOW - timedelta(hours=30)
)
@given(
    found=st.lists(st.one_of(jobs(), plain_jobs(), plain_jobs()), max_size=40),
    copies=st.integers(1, 4),
    started_at=st.sampled_from([None, NOW - timedelta(hours=30), NOW - timedelta(minutes=20), NOW]),
)
def test_every_view_says_the_same_of_the_digest_as_of_the_whole_queue(
    found: list[Job], copies: int, started_at: datetime | None
) -> None:
    whole = numbered(found * copies)  # copies: jobs that differ only in their ids collapse
    digest = decode(encode(digest_of(whole, "key")))
    assert digest is not None and digest.total == len(whole)
    collapsed = QueueSnapshot(expand(digest, NOW, started_at, POLICY))
    assert dumps(status(collapsed, started_at)) == dumps(status(QueueSnapshot(whole), started_at))


def test_plain_jobs_collapse_and_the_others_are_kept_whole() -> None:
    plain = [Job(f"p{n}", "a1", "/v.mp4", "c") for n in range(1000)]
    posted = [
        Job(f"s{n}", "a1", "/v.mp4", "c", JobStatus.SUCCESS, completed_at=NOW - timedelta(hours=n))
        for n in range(50)
    ]
    failed = Job("f", "a1", "/v.mp4", "c", JobStatus.FAILED, error="suspended", error_type="suspended")
    digest = digest_of([*plain, *posted, failed], "key")
    assert len(digest.kept) == 1 and len(digest.pending) == 1 and len(digest.posted) == 1
    assert len(encode(digest)) < 5_000
    jobs_now = expand(digest, NOW, None, POLICY)
    assert len(jobs_now) == 1051 and len({id(j) for j in jobs_now}) == 4  # failed, plain, today, before


def test_a_damaged_or_foreign_cache_is_not_a_digest() -> None:
    assert decode(b"") is None
    assert decode(b"\x00garbage") is None
    assert decode(encode(digest_of([], "k"))[:-3]) is None


def view(store: CsvJobStore, cache: Path) -> dict[str, int]:
    return {s.value: n for s, n in store.view_snapshot(cache, NOW, None).counts().items() if n}


def test_the_cache_follows_every_write_and_every_outside_edit(tmp_path: Path) -> None:
    progress = tmp_path / "parallel_progress.csv"
    cache = tmp_path / ".orchestrator" / "status-digest.bin"
    store = CsvJobStore(progress, POLICY, durable=False)
    store.seed(NewJob(f"j{n}", "a1", f"/v/{n}.mp4", "c") for n in range(5))
    assert view(store, cache) == {"pending": 5}
    assert cache.is_file()
    assert view(CsvJobStore(progress, POLICY), cache) == {"pending": 5}  # a new process, from the cache

    claim = store.claim_next(0, os.getpid(), NOW)
    assert claim is not None
    assert view(CsvJobStore(progress, POLICY), cache) == {"pending": 4, "claimed": 1}
    store.record(claim, Outcome(OutcomeKind.SUCCESS), NOW)
    assert view(CsvJobStore(progress, POLICY), cache) == {"pending": 4, "success": 1}

    # Excel saves the file: the cache no longer describes it, the edit shows at once.
    text = progress.read_text(encoding="utf-8-sig").replace(",pending,", ",failed,", 1)
    progress.write_text(text, encoding="utf-8-sig")
    assert view(CsvJobStore(progress, POLICY), cache) == {"pending": 3, "failed": 1, "success": 1}


def test_a_cache_from_other_settings_or_a_damaged_one_is_not_used(tmp_path: Path) -> None:
    progress = tmp_path / "parallel_progress.csv"
    cache = tmp_path / "status-digest.bin"
    CsvJobStore(progress, POLICY).seed([NewJob("j1", "a1", "/v.mp4", "c")])
    assert view(CsvJobStore(progress, POLICY), cache)["pending"] == 1
    made = cache.read_bytes()
    other = QueuePolicy(daily_limit=2, timezone="Asia/Tokyo")  # times read in another zone
    assert view(CsvJobStore(progress, other), cache) == {"pending": 1}
    assert cache.read_bytes() != made  # not taken from the cache: made anew for these settings
    cache.write_bytes(b"\x00damaged")
    assert view(CsvJobStore(progress, POLICY), cache) == {"pending": 1}
    assert decode(cache.read_bytes()) is not None  # written anew
