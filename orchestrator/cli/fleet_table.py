"""The fleet as a console table (rich): a few header lines and one row per worker, 80 columns wide.

Text is cut here, with `...`, never by rich (whose ellipsis is not ASCII), so the table shows the same
on any Windows code page; boxes are ASCII unless the console speaks UTF-8.
"""

from __future__ import annotations

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from orchestrator.views.fleet_text import header_lines
from orchestrator.views.fleet_view import FleetView, WorkerActivity, WorkerRow
from orchestrator.views.progress import format_duration

WIDTH = 80
STYLES = {
    WorkerActivity.WORKING: "green",
    WorkerActivity.IDLE: "dim",
    WorkerActivity.WAITING: "yellow",
    WorkerActivity.RESTARTING: "yellow",
    WorkerActivity.GIVEN_UP: "bold red",
    WorkerActivity.GONE: "dim",
    WorkerActivity.DONE: "dim",
}
# (header, width); with a space and a divider between columns the row fits 80 with 13 for the error
COLUMNS = (("W", 3), ("state", 10), ("account", 12), ("phone", 7), ("step", 12), ("time", 6), ("try", 3))
LAST_ERROR = ("last error", 13)
GAP = 2
# rich's SIMPLE_HEAD in ASCII: no frame, a dashed rule under the header
ASCII_HEAD = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)


def clip(text: str, width: int) -> str:
    """`text` in at most `width` characters, cut with `...` (ASCII)."""
    return text if len(text) <= width else text[: max(0, width - 3)] + "..."


def clip_left(text: str, width: int) -> str:
    """The end of `text` (what tells phone ids apart) in at most `width` characters."""
    return text if len(text) <= width else ".." + text[-(width - 2) :]


def _cells(row: WorkerRow) -> list[str]:
    elapsed = format_duration(row.elapsed_s) if row.elapsed_s is not None else ""
    values = [f"W{row.worker_id}", row.activity.value, row.account, "", row.step, elapsed, row.attempt]
    cells = [clip(v, width) for v, (_, width) in zip(values, COLUMNS, strict=True)]
    cells[3] = clip_left(row.phone_id, COLUMNS[3][1])
    return cells


def fleet_table(view: FleetView, *, width: int = WIDTH, ascii_only: bool = True) -> Table:
    """One row per worker; the last column (last error) takes what is left of `width`."""
    table = Table(
        box=ASCII_HEAD if ascii_only else box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, GAP - 1, 0, 0),
        header_style="bold",
    )
    for name, col_width in COLUMNS:
        table.add_column(name, width=col_width, no_wrap=True, overflow="crop")
    fixed = sum(w for _, w in COLUMNS) + GAP * len(COLUMNS)
    error_width = max(LAST_ERROR[1], width - fixed)
    table.add_column(LAST_ERROR[0], width=error_width, no_wrap=True, overflow="crop")
    for row in view.rows:
        table.add_row(*_cells(row), clip(row.last_error, error_width), style=STYLES.get(row.activity, ""))
    if not view.rows:
        table.add_row("", "no worker", *[""] * (len(COLUMNS) - 1))
    return table


def fleet_renderable(view: FleetView, *, width: int = WIDTH, ascii_only: bool = True) -> RenderableType:
    """The header lines and the table, ready for `Console.print` or `Live.update`."""
    lines = [Text(clip(line, width), no_wrap=True, overflow="crop") for line in header_lines(view)]
    return Group(*lines, fleet_table(view, width=width, ascii_only=ascii_only))


def table_width(console: Console) -> int:
    """The console's width, at most what the table needs to show long errors (it fits 80)."""
    return max(60, min(console.width, 120))


def speaks_utf8(console: Console) -> bool:
    return console.encoding.lower().replace("-", "") in ("utf8", "utf_8")
