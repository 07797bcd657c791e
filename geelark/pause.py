"""Waits a caller can cut short: the client sleeps (retry backoff, the 40007 rate window, polls)
through a `sleep` function; `stoppable_sleep` makes one that raises `Interrupted` soon after
`should_stop()` turns true, so a Ctrl+C is not kept waiting for the next rate window.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from geelark.errors import Interrupted

STEP_S = 0.1


def stoppable_sleep(
    should_stop: Callable[[], bool],
    *,
    step_s: float = STEP_S,
    on_long_wait: Callable[[float], None] | None = None,
    long_wait_s: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Callable[[float], None]:
    """A `sleep(seconds)` that checks `should_stop()` every `step_s` and raises `Interrupted`.

    `on_long_wait(seconds)` is told of every wait of at least `long_wait_s` before it starts (so a
    console can say why nothing seems to happen).
    """

    def pause(seconds: float) -> None:
        if on_long_wait is not None and seconds >= long_wait_s:
            on_long_wait(seconds)
        deadline = clock() + seconds
        while True:
            if should_stop():
                raise Interrupted(f"stopped during a {seconds:.1f}s wait before retrying GeeLark")
            left = deadline - clock()
            if left <= 0:
                return
            sleep(min(step_s, left))

    return pause
