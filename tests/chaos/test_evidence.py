"""The chaos checks themselves are checked: on made-up logs they find what they must find."""

from __future__ import annotations

import pytest

from tests.chaos.evidence import check_publishes, holds, overlaps, parse_worker_log, replay_journal

pytestmark = pytest.mark.chaos


def log(worker: int, pid: int, lines: list[tuple[str, str, str, str]]) -> list[str]:
    """`(time, logger, job, message)` lines of one worker incarnation, as `runtime.logs` writes them."""
    out = [
        f"2026-11-23T10:00:00.000+0000 W{worker} INFO worker: worker {worker} started (pid {pid}, simulate)"
    ]
    for at, logger, job, message in lines:
        context = f" job={job} account=acct{job[-1]}" if job else ""
        out.append(f"2026-11-23T10:00:{at}+0000 W{worker} INFO {logger}{context}: {message}")
    return out


def attempt(start: str, end: str, job: str, checkpoint: bool = False) -> list[tuple[str, str, str, str]]:
    lines = [
        (start, "worker.loop", job, f"claimed job {job} for account acct{job[-1]}"),
        (start, "worker.job", job, f"attempt 1 of job {job}"),
    ]
    if checkpoint:
        lines.append((end, "worker.job", job, "checkpoint recorded: publishing now"))
    lines.append((end, "worker.job", job, "step confirm_publish"))
    lines.append((end, "worker.loop", job, f"job {job} -> success (success)"))
    return lines


def test_two_workers_on_one_account_at_once_are_found() -> None:
    w0 = list(parse_worker_log(log(0, 100, attempt("01.000", "05.000", "job1"))))
    w1 = list(parse_worker_log(log(1, 200, attempt("03.000", "04.000", "job1"))))
    found = overlaps(holds(w0 + w1), by="account")
    assert [(o.first.worker_id, o.second.worker_id) for o in found] == [(0, 1)]
    assert overlaps(holds(w0 + w1), by="job") != []


def test_one_worker_after_another_is_not_an_overlap() -> None:
    w0 = list(parse_worker_log(log(0, 100, attempt("01.000", "02.000", "job1"))))
    w1 = list(parse_worker_log(log(1, 200, attempt("02.000", "04.000", "job1"))))
    assert overlaps(holds(w0 + w1), by="account") == []


def test_a_restarted_worker_is_another_holder_and_its_lines_after_the_attempt_do_not_extend_it() -> None:
    first = log(0, 100, [("01.000", "worker.loop", "job1", "claimed job job1 for account acct1")])
    second = log(0, 101, attempt("03.000", "04.000", "job1"))
    found = holds(list(parse_worker_log(first + second)))
    assert [(h.pid, h.start.second, h.end.second) for h in found] == [(100, 1, 1), (101, 3, 4)]


def test_a_checkpointed_hold_is_marked() -> None:
    (hold,) = holds(list(parse_worker_log(log(0, 100, attempt("01.000", "02.000", "job1", True)))))
    assert hold.checkpointed


def test_publishes_twice_missing_or_for_an_open_job_are_reported() -> None:
    publishes = [{"jobTag": "a"}, {"jobTag": "a"}, {"jobTag": "c"}]
    check = check_publishes(publishes, {"a": "review", "b": "success", "c": "retrying"})
    assert check.posted_twice == {"a": 2}
    assert check.success_without_one_publish == {"b": 0}
    assert check.published_but_not_done == {"c": "retrying"}


def entry(
    op: str, job: str, status: str, worker: int = 0, pid: int = 100, **more: object
) -> dict[str, object]:
    account = f"acct{job[-1]}"
    return {"at": "t", "op": op, "job": job, "account": account, "status": status, "worker": worker,
            "worker_pid": pid, **more}  # fmt: skip


def test_the_journal_replay_finds_a_second_claim_on_a_held_account() -> None:
    entries = [
        entry("claim", "j1", "claimed", 0, 100),
        entry("claim", "k1", "claimed", 1, 200),  # same account acct1, j1 still claimed
        entry("record", "j1", "success", 0, 100),
    ]
    replay = replay_journal(entries, killed=set())
    assert replay.claims == 2 and len(replay.double_account) == 1 and replay.double_job == ()


def test_the_journal_replay_forgives_a_line_lost_with_a_killed_worker() -> None:
    entries = [entry("claim", "j1", "claimed", 0, 100), entry("claim", "k1", "claimed", 1, 200)]
    assert replay_journal(entries, killed={(0, 100)}).double_account == ()


def test_the_journal_replay_flags_a_job_claimed_again_after_its_checkpoint_unless_requeued() -> None:
    entries = [
        entry("claim", "j1", "claimed"),
        entry("checkpoint", "j1", "claimed", checkpoint=True),
        entry("recover_orphans", "j1", "review"),
        entry("claim", "j1", "claimed", 1, 200),
    ]
    assert len(replay_journal(entries, set()).claimed_after_checkpoint) == 1
    requeued = [*entries[:3], entry("requeue", "j1", "pending"), entries[3]]
    assert replay_journal(requeued, set()).claimed_after_checkpoint == ()
