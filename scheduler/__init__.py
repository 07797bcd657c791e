"""posting-scheduler: folders of videos, accounts, assignments (scheduler_state.json), and seeding.

The orchestrator's seam (see docs/design.md):

    state = scheduler.load_state(path)            # validated; StateFileCorrupt names file and key
    jobs = scheduler.jobs_to_seed(state)          # pure: the not-yet-seeded assignments as NewJobs
    report = scheduler.seed_progress(path, store) # idempotent: a second call adds nothing
"""

from scheduler.errors import (
    InputError,
    LegacyStateFile,
    SchedulerError,
    StateBusy,
    StateError,
    StateFileCorrupt,
    StateWriteError,
)
from scheduler.importer import ImportReport, import_legacy
from scheduler.model import SchedulerState, Settings
from scheduler.operations import ChangeReport, ChangeRequest, apply_changes
from scheduler.seeding import SeedReport, jobs_to_seed, seed_progress
from scheduler.state_io import load_state, save_state
from scheduler.status import StatusReport, build_status

__all__ = [
    "ChangeReport",
    "ChangeRequest",
    "ImportReport",
    "InputError",
    "LegacyStateFile",
    "SchedulerError",
    "SchedulerState",
    "SeedReport",
    "Settings",
    "StateBusy",
    "StateError",
    "StateFileCorrupt",
    "StateWriteError",
    "StatusReport",
    "apply_changes",
    "build_status",
    "import_legacy",
    "jobs_to_seed",
    "load_state",
    "save_state",
    "seed_progress",
]
