"""The worker supervision state machine (pure)."""

from __future__ import annotations

import pytest

from orchestrator.run import supervision as sv
from orchestrator.run.supervision import WorkerSlot, WorkerState

POLICY = sv.RestartPolicy(start_secs=3.0, max_crashes=3, backoff_base_s=2.0, backoff_cap_s=5.0, stable_s=60.0)


def started(now: float = 0.0) -> WorkerSlot:
    return sv.spawned(WorkerSlot(0), now)


def test_a_spawned_worker_is_starting_then_running_after_start_secs() -> None:
    slot = started()
    assert slot.state is WorkerState.STARTING
    assert sv.observed_alive(slot, 1.0, POLICY).state is WorkerState.STARTING
    assert sv.observed_alive(slot, 3.0, POLICY).state is WorkerState.RUNNING


def test_a_clean_exit_means_nothing_due_and_is_not_a_crash() -> None:
    slot = sv.exited(started(), 0, now=10.0, policy=POLICY)
    assert slot.state is WorkerState.EXITED
    assert slot.crashes == 0


def test_a_crash_backs_off_with_a_growing_capped_delay() -> None:
    slot = sv.exited(started(), 1, now=10.0, policy=POLICY)
    assert slot.state is WorkerState.BACKOFF
    assert slot.restart_at == 12.0
    assert not sv.restart_due(slot, 11.9)
    assert sv.restart_due(slot, 12.0)
    slot = sv.exited(sv.spawned(slot, 12.0), 1, now=13.0, policy=POLICY)
    assert slot.restart_at == 13.0 + 4.0
    assert POLICY.backoff_s(5) == 5.0


def test_a_worker_that_keeps_crashing_is_given_up() -> None:
    slot = started()
    for n in range(POLICY.max_crashes):
        slot = sv.exited(slot, 1, now=float(n), policy=POLICY)
        if slot.state is WorkerState.FATAL:
            break
        slot = sv.spawned(slot, float(n))
    assert slot.state is WorkerState.FATAL
    assert "gave up after 3 crashes" in slot.reason
    assert sv.all_given_up([slot])


def test_a_worker_killed_for_being_stuck_counts_as_a_crash_even_with_exit_0() -> None:
    slot = sv.exited(started(), 0, now=5.0, policy=POLICY, reason="job X stuck")
    assert slot.state is WorkerState.BACKOFF
    assert slot.reason == "job X stuck"


def test_a_stable_worker_forgets_earlier_crashes() -> None:
    slot = sv.spawned(sv.exited(started(), 1, now=1.0, policy=POLICY), 3.0)
    slot = sv.observed_alive(slot, 6.0, POLICY)
    assert slot.state is WorkerState.RUNNING and slot.crashes == 1
    assert sv.observed_alive(slot, 6.0 + 60.0, POLICY).crashes == 0


def test_a_stopping_worker_that_exits_is_stopped_not_crashed() -> None:
    slot = sv.stopping(started(), 1.0)
    assert slot.state is WorkerState.STOPPING
    slot = sv.exited(slot, 130, now=2.0, policy=POLICY)
    assert slot.state is WorkerState.STOPPED
    assert slot.crashes == 0


def test_stop_moves_a_backing_off_worker_to_stopped_and_leaves_fatal_alone() -> None:
    backoff = sv.exited(started(), 1, now=1.0, policy=POLICY)
    assert sv.stopping(backoff, 2.0).state is WorkerState.STOPPED
    fatal = WorkerSlot(0, WorkerState.FATAL)
    assert sv.stopping(fatal, 2.0) is fatal


@pytest.mark.parametrize(
    "state", [WorkerState.STARTING, WorkerState.RUNNING, WorkerState.STOPPING, WorkerState.FATAL]
)
def test_spawning_a_live_or_fatal_worker_is_illegal(state: WorkerState) -> None:
    with pytest.raises(sv.IllegalWorkerTransition):
        sv.spawned(WorkerSlot(0, state), 1.0)


def test_an_exit_of_a_worker_that_is_not_alive_is_illegal() -> None:
    with pytest.raises(sv.IllegalWorkerTransition):
        sv.exited(WorkerSlot(0, WorkerState.EXITED), 0, now=1.0, policy=POLICY)


def test_a_worker_exit_that_a_restart_cannot_fix_is_fatal_at_once() -> None:
    slot = sv.exited(started(), 2, now=1.0, policy=POLICY)
    assert slot.state is WorkerState.FATAL
    assert "bad arguments, settings or flow file" in slot.reason


def test_the_crash_reason_names_the_workers_exit_meaning() -> None:
    assert (
        sv.exited(started(), 3, now=1.0, policy=POLICY).reason == "exit code 3: a port of its plan is in use"
    )


def test_a_second_ctrl_c_forces_only_when_it_is_not_the_same_keypress_delivered_twice() -> None:
    from orchestrator.run.context import StopSignals

    now = [0.0]
    stop = StopSignals(clock=lambda: now[0])
    stop.on_signal()
    assert stop.count == 1
    now[0] = 0.3
    stop.on_signal()
    assert stop.count == 1  # a duplicate of the first
    now[0] = 2.0
    stop.on_signal()
    assert stop.count == 2


def test_spawns_follow_the_stagger_and_never_wait_for_the_next_tick() -> None:
    from orchestrator.run.runner import MAX_SPAWNS_PER_TICK, TICK_S, spawns_due

    assert spawns_due(0.1, 0.5) == 0
    assert spawns_due(0.5, 0.5) == 1
    assert spawns_due(1.0, TICK_S / 10) == 10
    assert spawns_due(0.0, 0.0) == MAX_SPAWNS_PER_TICK
