"""A digest of the queue for its views (`--status`): the jobs no view tells apart, collapsed.

At 100k rows most jobs are plain: pending and never tried, or posted without an error. A view needs
their number per account, not their ids, videos or captions; decoding each into a ``Job`` is what
made `--status` slow. ``digest_of`` keeps every other job whole and collapses the plain ones:

- plain pending jobs with the same account, attempts and plan (``not_before``) -> one job and a count;
- plain posted jobs (``success``, no error) with the same account and attempts -> one job and the
  claim and completion times of each (a view asks which day a post was and whether the run made it).

``expand`` turns a digest back into a job list for one instant and one run: the collapsed jobs come
back as one object repeated, with the latest times of the posts that fall on the same side of
"today" and of the run's start. Every view of ``orchestrator.views`` gives the same answer for it as
for the whole queue (tested); it is not for claims or edits. ``encode``/``decode``: the cache file
(marshal: plain values only, never code), keyed by the SHA-256 of the progress file's bytes and the
settings that decode it.
"""

from __future__ import annotations

import marshal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from jobqueue.daily import day_bounds
from jobqueue.model import Job, JobStatus
from jobqueue.policy import QueuePolicy

FORMAT = 1
_FIELDS = tuple(f.name for f in fields(Job))
_TIMES = frozenset({"claimed_at", "completed_at", "retry_at", "checkpoint_at", "not_before"})
_TIME_AT = tuple(i for i, name in enumerate(_FIELDS) if name in _TIMES)
_STATUS_AT = _FIELDS.index("status")

Fields = tuple[Any, ...]  # a job's field values in ``Job``'s order, times as ISO text, status as text
Times = tuple[str | None, str | None]  # claimed_at, completed_at of one posted job


@dataclass(frozen=True)
class QueueDigest:
    key: str  # what it was made from (see ``digest_key``)
    kept: tuple[Fields, ...]  # jobs kept whole, in file order
    pending: tuple[tuple[Fields, int], ...]  # a plain pending job and how many are like it
    posted: tuple[tuple[Fields, tuple[Times, ...]], ...]  # a plain posted job (no times) and each one's times

    @property
    def total(self) -> int:
        return len(self.kept) + sum(n for _, n in self.pending) + sum(len(t) for _, t in self.posted)


def digest_key(data_sha256: str, timezone: str | None, default_max_attempts: int) -> str:
    """The file's bytes and the settings that turn them into jobs."""
    return f"{FORMAT}|{data_sha256}|{timezone or ''}|{default_max_attempts}"


def _is_plain_pending(job: Job) -> bool:
    return (
        job.status is JobStatus.PENDING
        and not job.error
        and not job.error_type
        and job.worker_id is None
        and job.worker_pid is None
        and not job.claim_token
        and job.claimed_at is None
        and job.completed_at is None
        and job.retry_at is None
        and job.checkpoint_at is None
        and not job.external_id
        and not job.post_url
    )


def _is_plain_posted(job: Job) -> bool:
    return job.status is JobStatus.SUCCESS and not job.error and not job.error_type


def _fields(job: Job) -> Fields:
    values = [getattr(job, name) for name in _FIELDS]
    values[_STATUS_AT] = job.status.value
    for i in _TIME_AT:
        if values[i] is not None:
            values[i] = values[i].isoformat()
    return tuple(values)


def _job(values: Fields, **changes: Any) -> Job:
    named = dict(zip(_FIELDS, values, strict=True))
    named["status"] = JobStatus(named["status"])
    for name in _TIMES:
        if named[name] is not None:
            named[name] = datetime.fromisoformat(named[name])
    named.update(changes)
    return Job(**named)


def digest_of(jobs: Iterable[Job], key: str) -> QueueDigest:
    """The digest of a queue's jobs (see the module docstring)."""
    kept: list[Fields] = []
    pending: dict[tuple[Any, ...], list[Any]] = {}
    posted: dict[tuple[Any, ...], tuple[Job, list[Times]]] = {}
    for job in jobs:
        if _is_plain_pending(job):
            group = (
                job.account,
                job.attempts,
                job.max_attempts,
                job.infra_attempts,
                job.not_before,
                job.host,
            )
            if group in pending:
                pending[group][1] += 1
            else:
                pending[group] = [job, 1]
        elif _is_plain_posted(job):
            kind = (job.account, job.attempts, job.max_attempts, job.infra_attempts)
            times = (
                job.claimed_at.isoformat() if job.claimed_at else None,
                job.completed_at.isoformat() if job.completed_at else None,
            )
            if kind not in posted:
                posted[kind] = (job, [])
            posted[kind][1].append(times)
        else:
            kept.append(_fields(job))
    return QueueDigest(
        key,
        tuple(kept),
        tuple((_fields(job), n) for job, n in pending.values()),
        tuple((_fields(_bare_post(job)), tuple(times)) for job, times in posted.values()),
    )


def _bare_post(job: Job) -> Job:
    """What a view needs of a plain posted job besides its times."""
    return Job(
        job.job_id,
        job.account,
        job.video_path,
        job.caption,
        JobStatus.SUCCESS,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        infra_attempts=job.infra_attempts,
    )


def expand(
    digest: QueueDigest, now: datetime, started_at: datetime | None, policy: QueuePolicy
) -> tuple[Job, ...]:
    """The digest as a job list for views at ``now`` of the run that started at ``started_at``."""
    jobs = [_job(values) for values in digest.kept]
    for values, count in digest.pending:
        jobs.extend([_job(values)] * count)
    for values, times in digest.posted:
        jobs.extend(_posted(_job(values), times, now, started_at, policy))
    return tuple(jobs)


def _posted(
    bare: Job, times: Sequence[Times], now: datetime, started_at: datetime | None, policy: QueuePolicy
) -> list[Job]:
    """Posted jobs of one group, one per (today or not, in the run or not) with its latest times."""
    start, end = day_bounds(now, policy.rules_for(bare.account).timezone)
    sides: dict[tuple[bool, bool], tuple[int, datetime | None, datetime | None]] = {}
    for claimed_text, completed_text in times:
        claimed = datetime.fromisoformat(claimed_text) if claimed_text else None
        completed = datetime.fromisoformat(completed_text) if completed_text else None
        today = completed is not None and start <= completed < end
        in_run = started_at is not None and any(
            t is not None and t >= started_at for t in (claimed, completed)
        )
        side = (today, in_run)
        count, latest_claim, latest_post = sides.get(side, (0, None, None))
        sides[side] = (count + 1, _later(latest_claim, claimed), _later(latest_post, completed))
    out: list[Job] = []
    for count, claimed, completed in sides.values():
        job = Job(
            bare.job_id,
            bare.account,
            bare.video_path,
            bare.caption,
            JobStatus.SUCCESS,
            claimed_at=claimed,
            completed_at=completed,
            attempts=bare.attempts,
            max_attempts=bare.max_attempts,
            infra_attempts=bare.infra_attempts,
        )
        out.extend([job] * count)
    return out


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    return a if b is None or a >= b else b


def encode(digest: QueueDigest) -> bytes:
    return marshal.dumps((FORMAT, digest.key, digest.kept, digest.pending, digest.posted))


def decode(data: bytes) -> QueueDigest | None:
    """The digest in ``data``; None if it is not one this code wrote (another format, damaged)."""
    try:
        value = marshal.loads(data)
        version, key, kept, pending, posted = value
    except (EOFError, ValueError, TypeError):
        return None
    if version != FORMAT or not isinstance(key, str):
        return None
    return QueueDigest(key, kept, pending, posted)
