"""The live fleet table in the console: `--run` in a terminal, and `--status --watch`.

The table redraws in place (rich `Live`); events (warnings, account blocks, workers started or
given up) print as lines above it. Where the console cannot redraw (output piped to a file, a dumb
terminal) or on `--plain`, the run prints its plain progress lines instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType

from rich.console import Console, RenderableType
from rich.live import Live

from orchestrator.cli.fleet_table import fleet_renderable, speaks_utf8, table_width
from orchestrator.views.fleet_view import FleetView, RunTick
from orchestrator.views.status_probe import run_fleet
from runtime.settings import Settings

REDRAW_EVERY_S = 1.0
METER_EVERY_S = 5.0  # how often the simulator's billing meter is asked
NAP_S = 0.1


def can_redraw(console: Console, environ: Mapping[str, str] = os.environ) -> bool:
    """A terminal that understands cursor movement: not a pipe or a file, not TERM=dumb. Rich's own
    switch `TTY_COMPATIBLE=1` / `=0` decides for a console that cannot tell (`FORCE_COLOR` does not:
    colours in a log file are fine, redrawing in one is not)."""
    forced = environ.get("TTY_COMPATIBLE", "")
    if forced == "0" or environ.get("TERM", "").lower() in ("dumb", "unknown"):
        return False
    isatty = getattr(console.file, "isatty", None)
    return forced == "1" or (isatty is not None and bool(isatty()))


def screen() -> Console:
    """The console on stdout, a terminal for rich exactly when `can_redraw` says so."""
    return Console(force_terminal=can_redraw(Console()))


def draw(console: Console, view: FleetView) -> RenderableType:
    """The renderable for this console (ASCII boxes unless it speaks UTF-8)."""
    return fleet_renderable(view, width=table_width(console), ascii_only=not speaks_utf8(console))


class LiveObserver:
    """A run's observer that keeps the fleet table on screen; use it as a context manager."""

    def __init__(
        self,
        settings: Settings,
        console: Console,
        *,
        meter: Callable[[str | None], float | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.console = console
        self.meter = meter  # billed minutes from the simulator at that URL (None: not known)
        self.clock = clock
        # transient: at the end the table gives way to the summary (a last frame would show the
        # workers as they were before the shutdown)
        self.live = Live(console=console, auto_refresh=False, transient=True)
        self._drawn_at = -1e9
        self._metered_at = -1e9
        self._billed: float | None = None

    def __enter__(self) -> LiveObserver:
        self.live.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.live.stop()

    def event(self, message: str) -> None:
        self.live.console.print(f"{datetime.now():%H:%M:%S} {message}", markup=False, highlight=False)

    def progress(self, line: str) -> None:
        """The table shows what the line says; the line still goes to the log (the run logs it)."""

    def tick(self, state: RunTick) -> None:
        now = self.clock()
        if now - self._drawn_at < REDRAW_EVERY_S:
            return
        if state.simulator_url and now - self._metered_at >= METER_EVERY_S:
            self._billed, self._metered_at = self.meter(state.simulator_url), now
        view = run_fleet(self.settings, state, self._billed)
        self.live.update(draw(self.console, view), refresh=True)
        self._drawn_at = now


@contextmanager
def _shown_in_place(console: Console) -> Iterator[Callable[[FleetView], None]]:
    with Live(console=console, auto_refresh=False, transient=False) as live:
        yield lambda view: live.update(draw(console, view), refresh=True)


@contextmanager
def _shown_as_lines(console: Console) -> Iterator[Callable[[FleetView], None]]:
    def show(view: FleetView) -> None:
        console.print(f"{view.generated_at.astimezone():%H:%M:%S} {view.progress_line}", markup=False)

    yield show


def watch(
    fetch: Callable[[], FleetView],
    console: Console,
    *,
    keep_going: Callable[[], bool],
    interval_s: float,
    plain: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """`--status --watch`: show the fleet every `interval_s` until `keep_going()` is False (Ctrl+C);
    redrawn in place in a terminal, else one progress line each time."""
    shown = _shown_as_lines if plain or not console.is_terminal else _shown_in_place
    with shown(console) as show:
        naps = max(1, round(interval_s / NAP_S))  # short naps: Ctrl+C ends the watch at once
        while keep_going():
            show(fetch())
            for _ in range(naps):
                if not keep_going():
                    break
                sleep(NAP_S)
