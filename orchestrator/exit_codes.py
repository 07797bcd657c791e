"""Exit codes of `parallel-orchestrator`, named in one place (documented in `--help` and the README)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What the process exit code means; scripts may rely on these values."""

    OK = 0  # the command did what was asked; for --run: every job of the run ended in success
    JOBS_FAILED = 1  # the run ended, but some jobs failed or need review (see the batch summary)
    USAGE = 2  # bad command line or configuration; nothing was started
    ALREADY_RUNNING = 3  # another orchestrator holds the lock for this working folder
    WORKERS_FATAL = 4  # every worker kept crashing and was given up; jobs are left for the next run
    STOP_INCOMPLETE = 5  # --stop-all could not confirm that every process and phone stopped
    QUEUE_ERROR = 6  # the progress file or scheduler state is corrupt, busy (open in Excel?) or locked
    START_FAILED = 7  # the run could not start (e.g. the GeeLark simulator did not come up)
    DISK_FULL = 8  # the disk ran (nearly) full: the run stopped everything it started; free space, run again
    GEELARK_REFUSED = 9  # GeeLark refused new work (balance 29997, task credits 41000): top up, run again
    INTERNAL_ERROR = 70  # a bug: the traceback is printed and logged (please report it)
    INTERRUPTED = 130  # stopped by Ctrl+C / --stop-all before the work was done (128 + SIGINT)


EXIT_CODE_HELP = "\n".join(
    [
        "Exit codes:",
        "  0   ok (a run: every job succeeded)",
        "  1   the run ended with failed or review jobs",
        "  2   usage or configuration error; nothing was started",
        "  3   another orchestrator is running in this folder",
        "  4   every worker kept crashing and was given up",
        "  5   --stop-all could not confirm that everything stopped",
        "  6   the progress file or scheduler state is corrupt, busy or locked",
        "  7   the run could not start (e.g. the simulator did not come up)",
        "  8   the disk is (nearly) full: everything was stopped; free space and run again",
        "  9   GeeLark refused new work (balance or task credits ran out): top up and run again",
        "  70  internal error (a bug; the traceback is printed)",
        "  130 interrupted (Ctrl+C or --stop-all)",
    ]
)
