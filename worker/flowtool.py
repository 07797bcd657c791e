"""`flow check` and `flow replay`: an operator's tools for when the app changes a screen.

    python -m worker.flowtool check FLOW --page-source FILE.xml [--json]
    python -m worker.flowtool replay FLOW RECORDING... [--json]

(`parallel-orchestrator flow check|replay` runs this.) FLOW is a flow file or a shipped flow's app
name (`instagram`, `tiktok`, `example`). `check` says which steps, handlers, outcome screens and
account problems of the flow match one screen (a page source saved by a failed attempt:
logs/jobs/<job>/attempt_<n>.page_source.xml). `replay` runs recorded sessions (files or folders;
this project's `attempt_<n>.session.jsonl` and the original tool's `flow_analysis` files, plain or
.gz) through the engine and ends with `replay: agreed A/S success sessions, false posted F, false
account problems P`. Exit codes: 0 done, 2 bad input (named on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from worker.errors import FlowFileError
from worker.flow import APP_FLOWS, Flow, flow_path_for, load_flow
from worker.replay import RecordingError, ReplaySummary, recording_files, replay_all
from worker.screen import Screen, parse_page_source

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def resolve_flow(name: str) -> Flow:
    """A flow file, or a shipped flow by app name. Raises FlowFileError."""
    if name.lower() in APP_FLOWS and not Path(name).exists():
        return load_flow(flow_path_for(name))
    return load_flow(Path(name))


def check(flow: Flow, screen: Screen) -> dict[str, Any]:
    """What of the flow matches this screen."""
    pkg = flow.app_package
    steps = []
    for step in flow.steps:
        if step.target is None:
            continue
        found = step.target.find(screen, pkg)
        steps.append(
            {"step": step.name, "matches": found is not None, "element": found.label() if found else None}
        )
    handlers = []
    for handler in flow.handlers:
        seen = handler.when.find(screen, pkg) if handler.when is not None else None
        blocked = handler.unless is not None and handler.unless.find(screen, pkg) is not None
        handlers.append(
            {
                "handler": handler.name,
                "matches": (seen is not None or handler.when is None) and not blocked,
                "element": seen.label() if seen else None,
                **({"only_when_stuck_s": handler.stuck_s} if handler.stuck_s else {}),
            }
        )
    problem = flow.account_problem(screen)
    return {
        "flow": flow.name,
        "elements": len(screen.elements),
        "class": flow.classify(screen),
        "account_problem": {"kind": problem[0], "text": problem[1]} if problem else None,
        "steps": steps,
        "handlers": handlers,
    }


def _print_check(result: dict[str, Any]) -> None:
    print(f"flow {result['flow']}: {result['elements']} elements on screen; screen class: {result['class']}")
    if result["account_problem"]:
        problem = result["account_problem"]
        print(f"ACCOUNT PROBLEM {problem['kind']}: {problem['text']!r}")
    for step in result["steps"]:
        mark = "yes" if step["matches"] else " - "
        print(f"  step    {mark}  {step['step']}" + (f"  ({step['element']})" if step["element"] else ""))
    for handler in result["handlers"]:
        mark = "yes" if handler["matches"] else " - "
        extra = (
            f"  (after {handler['only_when_stuck_s']:g} s stuck)" if "only_when_stuck_s" in handler else ""
        )
        label = f"  ({handler['element']})" if handler["element"] else ""
        print(f"  handler {mark}  {handler['handler']}{label}{extra}")


def summary_line(summary: ReplaySummary, false_posted: int) -> str:
    successes = summary.success_sessions
    return (
        f"replay: agreed {summary.agreed_successes}/{len(successes)} success sessions, "
        f"false posted {false_posted}, false account problems {summary.false_problems}"
    )


def _print_replay(summary: ReplaySummary, false_posted: int) -> None:
    for result in summary.results:
        verdict = "agreed" if result.agreed else f"DIVERGED at step {result.diverged_at}"
        name = Path(result.file).name
        print(f"{name}: recorded {result.recorded}, {verdict}, final {result.final}", end="")
        print(f" ({result.reason})" if not result.agreed and result.reason else "")
    for error in summary.errors:
        print(f"unreadable: {error}")
    print(summary_line(summary, false_posted))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flow", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_check = sub.add_parser("check", help="which parts of a flow match one screen")
    p_check.add_argument("flow")
    p_check.add_argument("--page-source", required=True, type=Path)
    p_check.add_argument("--json", action="store_true")
    p_replay = sub.add_parser("replay", help="replay recorded sessions through the flow")
    p_replay.add_argument("flow")
    p_replay.add_argument("recordings", nargs="+", type=Path)
    p_replay.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        flow = resolve_flow(args.flow)
    except FlowFileError as exc:
        print(f"flow {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.command == "check":
        try:
            xml = args.page_source.read_text(encoding="utf-8")
        except OSError as exc:
            print(f"flow check: {args.page_source} cannot be read: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        screen = parse_page_source(xml)
        if not screen.elements:
            print(f"flow check: {args.page_source} is not a page source (no elements in it)", file=sys.stderr)
            return EXIT_BAD_INPUT
        result = check(flow, screen)
        print(json.dumps(result, ensure_ascii=False, indent=1)) if args.json else _print_check(result)
        return EXIT_OK
    missing = [str(p) for p in args.recordings if not p.exists()]
    if missing:
        print(f"flow replay: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not any(True for _ in recording_files(args.recordings)):
        print("flow replay: no recordings (*.jsonl, *.jsonl.gz) found in what was given", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        summary, recordings = replay_all(flow, args.recordings)
    except RecordingError as exc:  # pragma: no cover - replay_all collects these
        print(f"flow replay: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    false_posted = summary.false_posted(recordings)
    if args.json:
        doc = {
            "sessions": len(summary.results),
            "results": [r.to_json() for r in summary.results],
            "unreadable": summary.errors,
            "summary": summary_line(summary, false_posted),
        }
        print(json.dumps(doc, ensure_ascii=False))
    else:
        _print_replay(summary, false_posted)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
