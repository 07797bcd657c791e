"""The contract between the orchestrator and its workers (pure data; the only part of `worker/`
the orchestrator imports).

- **Exit codes** of `python -m worker` and what each means to a supervisor.
- **The port plan**: worker N owns the Appium port `4723 + 2N`, the UiAutomator2 systemPort range
  `8200 + 10N .. +9`, one MJPEG server port and one chromedriver port, each in its own band so no two
  workers and no two purposes collide (Appium's parallel-execution rules: unique systemPort,
  mjpegServerPort and chromedriverPort per session). Tests shift the whole plan with `offset`.
- **The queue policy** a worker builds from the run's settings and the operator's accounts list,
  the one the orchestrator judges the queue with.
- **Executors**: which one posts an account's jobs, and what the end of a GeeLark publishing task
  means for its job (``task_settlement``): the worker applies it to its claim, the orchestrator to a
  job left in review (a worker died while its task ran), so both settle a task the same way.

Nothing here touches a socket or a process; the one file read is the accounts list
(`load_accounts`); probing ports is `runtime.ports`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from types import MappingProxyType

from jobqueue import BackoffPolicy, Outcome, OutcomeKind, QueuePolicy, Settlement
from jobqueue.posting import rules_from_text
from jobqueue.roster import AccountDefaults, AccountEntry, Roster, load_roster
from jobqueue.states import ORPHANED_AFTER_CHECKPOINT, RELEASED_AFTER_CHECKPOINT
from runtime.settings import ConfigError, Settings


class WorkerExit(IntEnum):
    """How `python -m worker` ends."""

    DONE = 0  # nothing due, or stopped on request (signal, stop file, parent gone)
    CRASHED = 1  # an unexpected error (see logs/worker_N.log)
    CONFIG = 2  # bad arguments, settings or flow file
    PORT_IN_USE = 3  # a port of this worker's plan is taken by another process
    QUEUE_CORRUPT = 4  # the progress file cannot be read; nothing was written
    FORCED_STOP = 5  # a second stop signal: job abandoned at once (claim released, cleanup done)


EXIT_MEANINGS = MappingProxyType(
    {
        WorkerExit.CRASHED: "crashed",
        WorkerExit.CONFIG: "bad arguments, settings or flow file",
        WorkerExit.PORT_IN_USE: "a port of its plan is in use",
        WorkerExit.QUEUE_CORRUPT: "the progress file cannot be read",
        WorkerExit.FORCED_STOP: "stopped by force (second stop signal)",
    }
)
# Restarting cannot help these: the worker is given up at once and the run says why. A port in use
# is not among them: the port a worker's own previous server held may be free again a moment later,
# so it is retried with the crash backoff (and given up after as many tries as a crash).
FATAL_EXITS = frozenset({WorkerExit.CONFIG, WorkerExit.QUEUE_CORRUPT})


def exit_meaning(code: int | None) -> str | None:
    """What a worker's exit code means, None for an unknown code (e.g. killed by a signal)."""
    try:
        return EXIT_MEANINGS.get(WorkerExit(code)) if code is not None else None
    except ValueError:
        return None


APPIUM_BASE = 4723
APPIUM_STRIDE = 2
SYSTEM_PORT_BASE = 8200
SYSTEM_PORT_SPAN = 10
MJPEG_BASE = 7810
CHROMEDRIVER_BASE = 9515
MAX_WORKERS = 64
MAX_PORT = 65535


class PortPlanError(ValueError):
    """The plan is impossible: a negative worker id, a port out of range, or two workers colliding."""


@dataclass(frozen=True)
class PortBases:
    """Where each band starts (settings: worker.appium_port_base, worker.system_port_base)."""

    appium: int = APPIUM_BASE
    system: int = SYSTEM_PORT_BASE
    mjpeg: int = MJPEG_BASE
    chromedriver: int = CHROMEDRIVER_BASE


@dataclass(frozen=True)
class WorkerPorts:
    """The ports one worker owns."""

    worker_id: int
    appium: int
    system_port_first: int
    system_port_last: int
    mjpeg: int
    chromedriver: int

    @property
    def system_port(self) -> int:
        """The systemPort given to the UiAutomator2 session (first of the worker's range)."""
        return self.system_port_first

    def all_ports(self) -> list[int]:
        """Every port of this worker, the whole systemPort range included."""
        system = range(self.system_port_first, self.system_port_last + 1)
        return [self.appium, *system, self.mjpeg, self.chromedriver]

    def to_json(self) -> dict[str, int]:
        return {
            "appium": self.appium,
            "system_port_first": self.system_port_first,
            "system_port_last": self.system_port_last,
            "mjpeg": self.mjpeg,
            "chromedriver": self.chromedriver,
        }


def port_plan(worker_id: int, offset: int = 0, bases: PortBases = PortBases()) -> WorkerPorts:
    """The ports of worker `worker_id`, every base shifted by `offset`. Raises PortPlanError."""
    if worker_id < 0 or worker_id >= MAX_WORKERS:
        raise PortPlanError(f"worker id {worker_id} is outside 0..{MAX_WORKERS - 1}")
    system_first = bases.system + offset + SYSTEM_PORT_SPAN * worker_id
    ports = WorkerPorts(
        worker_id=worker_id,
        appium=bases.appium + offset + APPIUM_STRIDE * worker_id,
        system_port_first=system_first,
        system_port_last=system_first + SYSTEM_PORT_SPAN - 1,
        mjpeg=bases.mjpeg + offset + worker_id,
        chromedriver=bases.chromedriver + offset + worker_id,
    )
    bad = [p for p in ports.all_ports() if not 1 <= p <= MAX_PORT]
    if bad:
        raise PortPlanError(f"worker {worker_id} with offset {offset} gets ports out of range: {bad[:3]}")
    return ports


def fleet_plan(
    worker_ids: Iterable[int], offset: int = 0, bases: PortBases = PortBases()
) -> list[WorkerPorts]:
    """The plans of several workers, checked for collisions. Raises PortPlanError."""
    plans = [port_plan(w, offset, bases) for w in worker_ids]
    check_collisions(plans)
    return plans


def check_collisions(plans: Iterable[WorkerPorts]) -> None:
    """Raise PortPlanError naming the first port owned twice (by two workers or two purposes)."""
    owner: dict[int, int] = {}
    for plan in plans:
        for port in plan.all_ports():
            if port in owner:
                raise PortPlanError(f"port {port} is planned for worker {owner[port]} and {plan.worker_id}")
            owner[port] = plan.worker_id


def account_defaults(settings: Settings) -> AccountDefaults:
    """What an empty cell of the accounts list means (`[accounts]`). Raises ConfigError."""
    a = settings.accounts
    try:
        rules = rules_from_text(
            daily_limit=a.daily_limit, timezone=a.timezone, window=a.window, min_spacing=a.min_spacing
        )
    except ValueError as exc:
        raise ConfigError(f"[accounts]: {exc}") from None
    return AccountDefaults(app=a.app, executor=a.executor, rules=rules)


def accounts_path(settings: Settings) -> Path:
    """The accounts list: `[paths] accounts_file`, or the old `accounts.txt` beside it if only that
    one exists (the default name changed)."""
    path = settings.paths.accounts_file
    legacy = path.with_name("accounts.txt")
    return legacy if path.name == "accounts.csv" and not path.exists() and legacy.exists() else path


def load_accounts(settings: Settings) -> Roster:
    """The operator's accounts list (the one file read here). Raises RosterError or ConfigError."""
    return load_roster(accounts_path(settings), account_defaults(settings))


def queue_policy(settings: Settings, roster: Roster | None = None) -> QueuePolicy:
    """The queue rules from `[queue]`, `[accounts]` and the accounts list: the one policy workers and
    orchestrator share."""
    q = settings.queue
    defaults = account_defaults(settings).rules
    return QueuePolicy(
        daily_limit=defaults.daily_limit,
        timezone=defaults.timezone,
        window=defaults.window,
        min_spacing_s=defaults.min_spacing_s,
        accounts=roster.rules() if roster is not None else {},
        backoff=BackoffPolicy(
            base_s=q.backoff_base_s, factor=q.backoff_factor, cap_s=q.backoff_cap_s, jitter=q.backoff_jitter
        ),
        infra_budget=q.infra_budget,
        infra_failures_before_cooldown=q.infra_failures_before_cooldown,
        infra_cooldown_s=q.infra_cooldown_s,
        claim_lease_s=settings.orchestrator.heartbeat_timeout_s,
        default_max_attempts=q.max_attempts,
    )


FLOWS_DIR = Path(__file__).resolve().parent / "flows"
# Which shipped flow an app name of the accounts list means (worker.flow loads them).
APP_FLOWS = {"instagram": "instagram_reels.json", "tiktok": "tiktok.json", "example": "default.json"}


def flow_files(settings: Settings) -> dict[str, Path]:
    """Each app's flow file for this configuration: `[worker] flow_file` for all when set."""
    override = settings.worker.flow_file
    return {app: override or FLOWS_DIR / name for app, name in APP_FLOWS.items() if app != "example"}


# -- executors -------------------------------------------------------------------------------

APPIUM = "appium"
GEELARK_TASK = "geelark_task"
# A review job with an external id and one of these error types waits for its task's final word:
# the orchestrator settles it from GeeLark (the others are verdicts a person must look at).
TASK_CREATE_AMBIGUOUS = "task_create_ambiguous"  # the create may have reached GeeLark: look it up
TASK_UNSETTLED = "task_unsettled"  # the task had not ended when the worker had to let go of it
TASK_NOT_FOUND = "task_not_found"  # looked up by name and never found: a person decides
AWAITING_TASK = frozenset(
    {ORPHANED_AFTER_CHECKPOINT, RELEASED_AFTER_CHECKPOINT, TASK_CREATE_AMBIGUOUS, TASK_UNSETTLED}
)
# geelark.verdict.TaskOutcome values -> (outcome kind, may the post exist?). RETRYABLE with a post
# that may exist ends in review (the checkpoint stays); RETRYABLE is chosen so that an unsure task
# counts neither as an account problem nor towards an infrastructure cooldown.
_TASK_OUTCOMES = {
    "success": (OutcomeKind.SUCCESS, True),
    "account": (OutcomeKind.ACCOUNT, False),
    "infrastructure": (OutcomeKind.INFRASTRUCTURE, False),
    "invalid_job": (OutcomeKind.PERMANENT, False),
    "review": (OutcomeKind.RETRYABLE, True),
}


def account_entry(settings: Settings, roster: Roster, account: str) -> AccountEntry:
    """The account's row of the accounts list, or the `[accounts]` defaults for an account not in it."""
    found = roster.get(account)
    if found is not None:
        return found
    defaults = account_defaults(settings)
    return AccountEntry(account, defaults.app, defaults.executor, defaults.rules)


def task_settlement(
    verdict: str, *, code: int | None, reason: str, ran: bool, post_url: str = "", error_type: str = ""
) -> Settlement:
    """What the end of a job's GeeLark task means for the job. `verdict` is a
    `geelark.verdict.TaskOutcome` value; `ran`: the task ran before it ended (a cancelled task that
    ran may have posted). `run_stopping` gives the job back without an attempt (the caller stops the
    run's claiming); `pending` is no end and raises ValueError."""
    kind = error_type or (f"task_{code}" if code else f"task_{verdict}")
    if verdict == "run_stopping":
        return Settlement(None, posted=False, reason=reason)
    if verdict == "cancelled":
        return Settlement(Outcome(OutcomeKind.RETRYABLE, "task_cancelled", reason), posted=ran)
    if verdict not in _TASK_OUTCOMES:
        raise ValueError(f"a task that is {verdict!r} has not ended")
    outcome_kind, posted = _TASK_OUTCOMES[verdict]
    if outcome_kind is OutcomeKind.SUCCESS:
        return Settlement(Outcome(OutcomeKind.SUCCESS, post_url=post_url), posted=True)
    if verdict == "review" and not code and not error_type:
        kind = "task_unverified"  # "completed" with a failed publishing step in its log, or no log
    return Settlement(Outcome(outcome_kind, kind, reason), posted=posted)
