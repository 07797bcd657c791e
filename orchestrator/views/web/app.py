"""The dashboard as an ASGI app (starlette): every page and number comes from the status document
(`current_status`, the same as `--status --json`), so it shows any store the status reads.

Routes: `/` (the page; it refreshes its live part from `/live`), `/api/status`, `/metrics`,
`/logs/<path>` (files of the run's logs folder only), and the actions `POST /api/requeue`,
`/api/unblock`, `/api/stop-all`, which need `Authorization: Bearer <token>` (401 without, 403 wrong
or when no token is configured). Nothing here knows a secret except the token it compares.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from jobqueue.errors import QueueError
from orchestrator.errors import OrchestratorError
from orchestrator.jsonable import to_jsonable
from orchestrator.views.status_report import StatusReport
from orchestrator.views.web.metrics import metrics_registry
from orchestrator.views.web.page import page
from orchestrator.views.web.security import SERVED_TYPES, log_file, refusal

HERE = Path(__file__).resolve().parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
    " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATUS_MAX_AGE_S = 1.0


class DashboardActions(Protocol):
    """What the dashboard may change (the CLI supplies them). Each returns JSON-able data or raises
    OrchestratorError / QueueError with a message for the operator."""

    def requeue(self, job_ids: list[str], *, failed: bool, review: bool) -> object: ...

    def unblock(self, account: str) -> object: ...

    def stop_all(self) -> object: ...


class CachedStatus:
    """The status document, rebuilt at most every `max_age_s` however many browsers ask (thread-safe)."""

    def __init__(
        self,
        build: Callable[[], StatusReport],
        *,
        on_read: Callable[[float], None],
        max_age_s: float = STATUS_MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.build = build
        self.on_read = on_read  # told how long each fresh read of the queue took
        self.max_age_s = max_age_s
        self.clock = clock
        self._lock = threading.Lock()
        self._report: StatusReport | None = None
        self._built_at = 0.0

    def __call__(self) -> StatusReport:
        with self._lock:
            if self._report is None or self.clock() - self._built_at >= self.max_age_s:
                self._report = self.build()
                self._built_at = self.clock()
                if self._report.queue_read_s is not None:
                    self.on_read(self._report.queue_read_s)
            return self._report


def _secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def _error(status: int, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return _secure(JSONResponse({"error": message}, status_code=status, headers=headers))


REFUSALS = {
    401: "this action needs the dashboard token: send Authorization: Bearer <token>",
    403: "refused: wrong token, or actions are off (no [dashboard] token in the config)",
}


def dashboard_app(
    build_status: Callable[[], StatusReport],
    *,
    logs_dir: Path,
    token: str,
    actions: DashboardActions | None,
    refresh_s: float = 2.0,
) -> Starlette:
    """The app. `build_status()` makes a fresh status document; `token` guards the actions (empty:
    read-only); `actions` None: read-only too."""
    registry, reads = metrics_registry(lambda: status())
    status = CachedStatus(build_status, on_read=reads.observe)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    can_act = bool(token) and actions is not None

    def render(request: Request, template: str) -> Response:
        model = page(status(), logs_dir=logs_dir, actions=can_act, refresh_s=refresh_s)
        return _secure(templates.TemplateResponse(request, template, {"page": model}))

    def index(request: Request) -> Response:
        return render(request, "dashboard.html")

    def live(request: Request) -> Response:
        return render(request, "_live.html")

    def api_status(request: Request) -> Response:
        return _secure(JSONResponse(to_jsonable(status())))

    def metrics(request: Request) -> Response:
        return _secure(Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST))

    def logs(request: Request) -> Response:
        path = log_file(logs_dir, request.path_params["path"])
        if path is None:
            return _error(404, "no such file in the run's logs folder")
        response = FileResponse(path, media_type=SERVED_TYPES[path.suffix.lower()])
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    async def act(request: Request) -> Response:
        refused = refusal(request.headers.get("authorization"), token if can_act else "")
        if refused is not None:
            return _error(refused, REFUSALS[refused])
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return _error(400, "the body must be JSON")
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object")
        name = request.url.path.rsplit("/", 1)[-1]
        try:
            result = await run_in_threadpool(_perform, actions, name, body)
        except (OrchestratorError, QueueError, ValueError) as exc:
            return _error(400, str(exc))
        return _secure(JSONResponse({"ok": True, "result": to_jsonable(result)}))

    routes = [
        Route("/", index),
        Route("/live", live),
        Route("/api/status", api_status),
        Route("/metrics", metrics),
        Route("/logs/{path:path}", logs),
        Route("/api/requeue", act, methods=["POST"]),
        Route("/api/unblock", act, methods=["POST"]),
        Route("/api/stop-all", act, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    return Starlette(routes=routes)


def _perform(actions: DashboardActions | None, name: str, body: dict[str, Any]) -> object:
    """One action with the request's body; ValueError for a body that does not say what to do."""
    if actions is None:
        raise ValueError("no actions here")
    if name == "requeue":
        job_ids = body.get("job_ids") or []
        if not isinstance(job_ids, list) or not all(isinstance(j, str) for j in job_ids):
            raise ValueError("job_ids must be a list of job ids")
        failed, review = bool(body.get("failed")), bool(body.get("review"))
        if not job_ids and not (failed or review):
            raise ValueError("say what to requeue: job_ids, failed and/or review")
        return actions.requeue(job_ids, failed=failed, review=review)
    if name == "unblock":
        account = body.get("account")
        if not isinstance(account, str) or not account:
            raise ValueError("account must be the account's name")
        return actions.unblock(account)
    return actions.stop_all()
