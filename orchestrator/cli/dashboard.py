"""The web dashboard from the console: `parallel-orchestrator dashboard`, and `[dashboard] enabled`
to serve it during `--run`. The app lives in `orchestrator/views/web/`; this module gives it the
folder's status and the actions it may take (requeue, unblock, stop-all)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from jobqueue import JobStore
from orchestrator.adapters.geelark_api import simulator_meter
from orchestrator.adapters.queue_commands import RequeueResult, UnblockResult, requeue, unblock
from orchestrator.adapters.queue_store import open_store
from orchestrator.cli import console
from orchestrator.errors import OperatorMistake
from orchestrator.views.status_probe import current_status
from orchestrator.views.status_report import StatusReport
from orchestrator.views.web.app import dashboard_app
from orchestrator.views.web.server import DashboardServer
from runtime.logs import register_secret
from runtime.settings import Settings
from runtime.state import RunDir


def now_local() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True)
class FolderActions:
    """The dashboard's actions on this working folder: the same as the console's commands."""

    settings: Settings

    def requeue(self, job_ids: list[str], *, failed: bool, review: bool) -> RequeueResult:
        return requeue(self.settings, job_ids, failed=failed, review=review)

    def unblock(self, account: str) -> UnblockResult:
        result = unblock(self.settings, account)
        if not result.known:
            raise OperatorMistake(f"unknown account {account!r}: the queue has no job of it")
        return result

    def stop_all(self) -> dict[str, object]:
        """A live run is asked to stop (it stops its workers and phones itself, as on Ctrl+C);
        without one, what earlier runs left is stopped here (as `--stop-all`)."""
        run_dir = RunDir(self.settings.paths.runtime_dir)
        run = run_dir.live_run()
        if run is not None:
            run_dir.request_stop()
            return {"stop": "requested", "orchestrator_pid": run.process.pid}
        from orchestrator.run.stop_all import stop_all  # GeeLark and psutil: only when asked

        result = stop_all(self.settings, os.environ, all_phones=False, now=now_local)
        return {"stop": "done", "complete": result.complete, "lines": console.stop_all_lines(result)}


def folder_status(settings: Settings, store: JobStore | None = None) -> StatusReport:
    """The status document the dashboard shows (GeeLark itself is not asked: a page refreshing
    every two seconds would eat the workers' request budget; a simulated run's meter is read).
    `store`: kept between refreshes, it re-reads only the rows that changed since the last one."""
    return current_status(settings, now_local(), meter=simulator_meter, store=store)


def make_server(settings: Settings, *, host: str, port: int) -> DashboardServer:
    """The dashboard of this folder on host:port, not started. PreflightFailed: refused to listen
    beyond this computer without a token, or the port is taken."""
    token = settings.dashboard.token
    register_secret(token)
    app = dashboard_app(
        partial(folder_status, settings, open_store(settings)),
        logs_dir=settings.paths.logs_dir,
        token=token,
        actions=FolderActions(settings),
        refresh_s=max(1.0, settings.orchestrator.progress_interval_s),
    )
    return DashboardServer(app, host=host, port=port, token=token)


@contextmanager
def dashboard_during_run(settings: Settings, *, quiet: bool) -> Iterator[str | None]:
    """Serve the dashboard while the block runs when `[dashboard] enabled`; yields its URL (or None)."""
    d = settings.dashboard
    if not d.enabled:
        yield None
        return
    with make_server(settings, host=d.host, port=d.port) as server:
        if not quiet:
            console.echo(f"Dashboard: {server.url}")
        yield server.url
