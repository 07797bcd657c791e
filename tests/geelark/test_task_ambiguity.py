"""Task creation is not idempotent: an ambiguous create followed by a look-up by name never
yields two tasks for one job, whether the lost create took effect or not."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from geelark import (
    CreateAmbiguous,
    DuplicateTasks,
    GeeLarkClient,
    Interrupted,
    OutcomeUnknown,
    RequestTimeout,
    TikTokPost,
    stoppable_sleep,
)
from geelark.simulator import SimulatorServer
from tests.geelark.conftest import FakeClock, client_settings, stored_video_url

MakeClient = Callable[..., GeeLarkClient]
MakeSim = Callable[..., SimulatorServer]
CREATE = "/open/v1/task/add"


def names(sim: SimulatorServer) -> Counter[str]:
    return Counter(t["planName"] for t in sim.state()["tasks"])


def stored_post(gl: GeeLarkClient, tmp_path: Path, job_id: str, phone_id: str) -> TikTokPost:
    return TikTokPost(job_id, phone_id, stored_video_url(gl, tmp_path))


def test_a_slow_create_that_times_out_is_ambiguous_and_found_by_name(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock, tmp_path: Path
) -> None:
    # The simulator makes the task, then answers 3 s late; the client gives up after 0.5 s.
    sim = make_sim(real_clock=clock, faults={"phone": {"task_slow_create": 1.0}, "api": {"slow_s": 3.0}})
    gl = make_client(sim, clock=clock, read_timeout_s=0.5)
    phone_id = sim.phone_id("phone-01")
    task_post = stored_post(gl, tmp_path, "job-slow", phone_id)
    with pytest.raises(CreateAmbiguous) as caught:
        gl.create_task(task_post)
    ambiguous = caught.value
    assert isinstance(ambiguous, OutcomeUnknown) and isinstance(ambiguous.cause, RequestTimeout)
    assert (ambiguous.task_name, ambiguous.job_id, ambiguous.phone_id) == (
        "po:job-slow",
        "job-slow",
        phone_id,
    )
    assert sim.state()["calls"][CREATE] == 1  # never repeated by the transport
    ref = gl.create_or_find_task(task_post)
    assert ref.found_by_lookup and names(sim) == {"po:job-slow": 1}


def test_create_or_find_resolves_its_own_slow_create(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock, tmp_path: Path
) -> None:
    sim = make_sim(real_clock=clock, faults={"phone": {"task_slow_create": 1.0}, "api": {"slow_s": 3.0}})
    gl = make_client(sim, clock=clock, read_timeout_s=0.5)
    ref = gl.create_or_find_task(stored_post(gl, tmp_path, "job-s2", sim.phone_id("phone-01")), settle_s=20)
    assert ref.found_by_lookup and names(sim) == {"po:job-s2": 1}
    assert 20 in clock.sleeps  # it waited for the slow create to land before looking


@pytest.mark.parametrize("kind", ["http_502", "http_524", "drop", "server_error"])
@pytest.mark.parametrize("after_effect", [0.0, 1.0])
def test_a_lost_create_is_looked_up_and_made_at_most_once(
    make_sim: MakeSim,
    make_client: MakeClient,
    clock: FakeClock,
    tmp_path: Path,
    kind: str,
    after_effect: float,
) -> None:
    faults = {"api": {kind: 1.0, "after_effect": after_effect, "paths": [CREATE]}}
    sim = make_sim(real_clock=clock, faults=faults)
    gl = make_client(sim, clock=clock, breaker_threshold=100)
    task_post = stored_post(gl, tmp_path, "job-lost", sim.phone_id("phone-01"))
    try:
        ref = gl.create_or_find_task(task_post)
    except CreateAmbiguous:
        ref = None
    made = names(sim)["po:job-lost"]
    # 50000 is answered before the handler runs; transport faults strike after it with after_effect
    assert made == (1 if after_effect and kind != "server_error" else 0)
    assert sim.state()["calls"][CREATE] == 1
    assert (ref is not None and ref.found_by_lookup) == (made == 1)  # found exactly when it was made
    sim.set_faults({})  # GeeLark recovers; the executor tries again
    again = gl.create_or_find_task(task_post)
    assert names(sim) == {"po:job-lost": 1} and again.found_by_lookup == (made == 1)


def test_faults_at_every_rate_never_make_two_tasks_for_a_job(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock, tmp_path: Path
) -> None:
    faults = {
        "api": {"http_502": 0.2, "drop": 0.2, "server_error": 0.1, "after_effect": 0.5, "paths": [CREATE]}
    }
    sim = make_sim(real_clock=clock, seed=7, faults=faults, task_credits=10_000)
    gl = make_client(sim, clock=clock, breaker_threshold=1000)
    phone_id = sim.phone_id("phone-01")
    url = stored_video_url(gl, tmp_path)
    ambiguous = 0
    for n in range(40):
        task_post = TikTokPost(f"job-{n}", phone_id, url, schedule_at=int(clock()) + 86400)
        for _ in range(30):
            try:
                gl.create_or_find_task(task_post)
                break
            except CreateAmbiguous:
                ambiguous += 1
        else:
            pytest.fail(f"job-{n} never got its task")
    assert names(sim) == {f"po:job-{n}": 1 for n in range(40)}
    assert ambiguous > 5  # the faults did strike


def test_a_restarted_process_finds_the_task_instead_of_creating_another(
    make_sim: MakeSim, clock: FakeClock, tmp_path: Path
) -> None:
    sim = make_sim(real_clock=clock)
    first = GeeLarkClient(client_settings(sim.url), clock=clock, sleep=clock.sleep)
    task_post = stored_post(first, tmp_path, "job-re", sim.phone_id("phone-01"))
    created = first.create_or_find_task(task_post)
    first.close()
    with GeeLarkClient(client_settings(sim.url), clock=clock, sleep=clock.sleep) as second:
        again = second.create_or_find_task(task_post)
    assert (again.id, again.found_by_lookup, created.found_by_lookup) == (created.id, True, False)
    assert names(sim) == {"po:job-re": 1}


def test_two_tasks_with_one_name_are_reported_not_hidden(
    make_sim: MakeSim, make_client: MakeClient, clock: FakeClock, tmp_path: Path
) -> None:
    sim = make_sim(real_clock=clock)
    gl = make_client(sim, clock=clock)
    task_post = stored_post(gl, tmp_path, "job-dup", sim.phone_id("phone-01"))
    ids = {gl.create_task(task_post), gl.create_task(task_post)}  # what the client never does itself
    with pytest.raises(DuplicateTasks) as caught:
        gl.create_or_find_task(task_post)
    assert set(caught.value.task_ids) == ids and names(sim) == {"po:job-dup": 2}


def test_a_stop_during_the_settle_wait_is_an_interruption_not_a_second_create(
    make_sim: MakeSim, clock: FakeClock, tmp_path: Path
) -> None:
    sim = make_sim(real_clock=clock, faults={"api": {"drop": 1.0, "after_effect": 1.0, "paths": [CREATE]}})
    stopping = stoppable_sleep(lambda: True, clock=clock, sleep=clock.sleep)
    with GeeLarkClient(client_settings(sim.url), clock=clock, sleep=stopping) as gl:
        task_post = stored_post(gl, tmp_path, "job-int", sim.phone_id("phone-01"))
        with pytest.raises(Interrupted) as caught:
            gl.create_or_find_task(task_post, look_first=False)
    assert isinstance(caught.value.__context__, CreateAmbiguous)
    assert names(sim) == {"po:job-int": 1} and sim.state()["calls"][CREATE] == 1
