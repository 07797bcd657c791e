"""Log lines of a simulated publishing task, shaped like the ones third parties published from
``/task/detail`` (``[YYYY-MM-DD HH:MM:SS mmm] text`` in UTC, a full-width colon after the
selector kind). The wording is the simulator's own; only the shape matters to a reader."""

from __future__ import annotations

from datetime import UTC, datetime

from geelark.status import TaskType

TIKTOK_STEPS = (
    "Open app: Package name: com.zhiliaoapp.musically",
    "Click element: Selector: text：Create",
    "Click element: Selector: text：Upload",
    "Click element: Selector: text：Next",
    "Input text: Selector: text：Describe your video",
    "Click element: Selector: text：Post",
)
REELS_STEPS = (
    "Open app: Package name: com.instagram.android",
    "Click element: Selector: desc：Create New",
    "Click element: Selector: desc：Create new reel",
    "Click element: Selector: id：gallery_grid_item_thumbnail",
    "Click element: Selector: desc：Next",
    "Input text: Selector: id：caption_input_text_view",
    "Click element: Selector: desc：Share",
)
CLICK_FAILED = "Click failed, please check whether the element exists:"
NO_ELEMENT = (
    "No element found. Check whether the element properties are filled in properly or whether "
    "the current page contains an element:"
)


def render(real_s: float, text: str) -> str:
    """One line as GeeLark prints it (time in zone 0, milliseconds after a space)."""
    stamp = datetime.fromtimestamp(real_s, UTC)
    return f"[{stamp:%Y-%m-%d %H:%M:%S} {stamp.microsecond // 1000:03d}] {text}"


def run_lines(
    task_type: TaskType, at: float, run: int, *, finish: str = "", weak_spot: str = ""
) -> list[tuple[float, str]]:
    """The lines of one run: its start (``finish`` empty), or its end for the outcome
    ``finish`` (ok | false_complete | fail). A false completion fails the step on ``weak_spot``
    (Next or Post/Share) and still reports success."""
    steps = TIKTOK_STEPS if task_type is TaskType.TIKTOK_VIDEO else REELS_STEPS
    if not finish:
        head = "Start executing task" if run == 1 else f"Start executing task (attempt {run})"
        return [(at, head)]
    lines: list[str] = []
    for step in steps if finish != "fail" else steps[:1]:
        lines.append(step)
        if finish == "false_complete" and _targets(step, weak_spot):
            lines.append(CLICK_FAILED if weak_spot != "Next" else NO_ELEMENT)
    if finish == "ok":
        lines.append("Wait for element to appear: Selector: text：Posted")
    if finish in ("ok", "false_complete"):
        lines += ["Close app", "Run successfully:"]
    return [(at, text) for text in lines]


def _targets(step: str, weak_spot: str) -> bool:
    if weak_spot == "Next":
        return step.endswith("：Next")
    return step.endswith(("：Post", "：Share"))
