"""The web dashboard over real HTTP (uvicorn on a free loopback port) on a working folder: the status
document, the page, metrics, the logs folder and nothing else, and actions only with the token."""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from harness.processes import wait_for
from jobqueue import JobStatus
from orchestrator.cli.dashboard import make_server
from orchestrator.config import load_config
from orchestrator.errors import PreflightFailed
from orchestrator.views.web.security import check_exposure, is_loopback
from orchestrator.views.web.server import DashboardServer
from runtime.platform import ProcessRef
from runtime.settings import Settings
from runtime.state import RunInfo
from tests.orchestrator.conftest import Workdir
from tests.orchestrator.test_messages import failed_job
from worker.evidence import AttemptLog

TOKEN = "dashboard-token-0123456789"
API_KEY = "geelark-key-must-never-show"


@dataclasses.dataclass
class Site:
    url: str
    workdir: Workdir
    failed_job: str

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path.lstrip("/"), timeout=10)

    def post(self, path: str, body: object, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return requests.post(self.url + path.lstrip("/"), json=body, headers=headers, timeout=30)

    def raw_status(self, path: str) -> int:
        """The status of a GET of `path` sent exactly as written (no client-side normalising)."""
        host, port = self.url.removeprefix("http://").rstrip("/").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            conn.request("GET", path)
            return conn.getresponse().status
        finally:
            conn.close()


def settings_of(workdir: Workdir, token: str) -> Settings:
    settings = load_config(None, {}, env={}, cwd=workdir.path).settings
    return dataclasses.replace(settings, dashboard=dataclasses.replace(settings.dashboard, token=token))


def a_failed_job_with_evidence(workdir: Workdir) -> str:
    job_id = failed_job(workdir)
    with AttemptLog(workdir.path / "logs", job_id, attempt=1, tag="W0") as attempt:
        (attempt.folder / "attempt_1.screenshot.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
        (attempt.folder / "attempt_1.page_source.xml").write_text("<hierarchy/>", encoding="utf-8")
    report = {
        "ended_by": "completed",
        "counts": {"success": 3, "failed": 1, "review": 0},
        "total": 4,
        "workers": 2,
    }
    (workdir.path / "logs" / "batch_report_20261123_110000.json").write_text(
        json.dumps(report), encoding="utf-8"
    )
    (workdir.path / "logs" / "batch_summary_20261123_110000.txt").write_text(
        "BATCH SUMMARY\n", encoding="utf-8"
    )
    return job_id


def serve(workdir: Workdir, token: str) -> Iterator[Site]:
    failed = a_failed_job_with_evidence(workdir)
    with make_server(settings_of(workdir, token), host="127.0.0.1", port=0) as server:
        yield Site(server.url, workdir, failed)


@pytest.fixture
def site(workdir: Workdir, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.chdir(workdir.path)
    monkeypatch.setenv("GEELARK_API_KEY", API_KEY)
    workdir.seed(jobs=4, accounts=2)
    yield from serve(workdir, TOKEN)


@pytest.fixture
def read_only(workdir: Workdir, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.chdir(workdir.path)
    workdir.seed(jobs=2, accounts=1)
    yield from serve(workdir, "")


def test_the_status_api_serves_the_status_document_of_the_folder(site: Site) -> None:
    status = site.get("/api/status").json()
    jobs = site.workdir.snapshot().jobs
    assert status["total"] == len(jobs) == 4
    assert status["counts"]["failed"] == 1 and status["counts"]["pending"] == 3
    assert {a["account"] for a in status["accounts"]} == {"acct1", "acct2"}
    assert status["failures"][0]["recent"][0]["job_id"] == site.failed_job
    assert status["fleet"]["totals"]["failed"] == 1
    assert {"waiting_for", "next_allowed_at"} <= set(status["accounts"][0])


def test_the_page_shows_accounts_failures_with_their_evidence_and_the_batch_reports(site: Site) -> None:
    page = site.get("/").text
    assert "acct1" in page and site.failed_job in page and "video_missing" in page
    assert "20261123_110000" in page and "completed: 3 ok, 1 failed" in page
    assert site.get("/live").text.count('id="fleet"') == 1
    links = [part.split('"', 1)[0] for part in page.split('href="')[1:] if part.startswith("/logs/")]
    assert any(link.endswith("attempt_1.log") for link in links)
    shot = next(link for link in links if link.endswith(".screenshot.png"))
    served = site.get(shot)
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    source = site.get(next(link for link in links if link.endswith(".page_source.xml")))
    assert source.headers["content-type"].startswith("text/plain")  # shown, never rendered
    assert site.get(next(link for link in links if "batch_summary" in link)).text == "BATCH SUMMARY\n"


def test_metrics_are_prometheus_text_from_the_same_document(site: Site) -> None:
    site.get("/api/status")
    families = {f.name: f for f in text_string_to_metric_families(site.get("/metrics").text)}
    jobs = {s.labels["status"]: s.value for s in families["parallel_orchestrator_jobs"].samples}
    assert jobs["pending"] == 3 and jobs["failed"] == 1
    failures = families["parallel_orchestrator_failures"].samples
    assert [(s.labels["error_type"], s.value) for s in failures] == [("video_missing", 1)]
    posts = {s.labels["account"] for s in families["parallel_orchestrator_account_posts_today"].samples}
    assert posts == {"acct1", "acct2"}
    reads = families["parallel_orchestrator_queue_read_seconds"].samples
    assert next(s.value for s in reads if s.name.endswith("_count")) >= 1
    for name in ("job_attempts", "phones_running", "workers", "geelark_requests_last_minute"):
        assert f"parallel_orchestrator_{name}" in families


@pytest.mark.parametrize(
    "path",
    [
        "/logs/../outside.txt",
        "/logs/%2e%2e/outside.txt",
        "/logs/%2E%2E%2Foutside.txt",
        "/logs/..%2foutside.txt",
        "/logs/..%5coutside.txt",
        "/logs/%252e%252e/outside.txt",
        "/logs//etc/passwd",
        "/logs/%2fetc%2fpasswd",
        "/logs/C:%5cWindows%5cwin.ini",
        "/logs/jobs/../../outside.txt",
        "/logs/./orchestrator.lock",
        "/logs/jobs",
        "/logs/",
    ],
)
def test_nothing_outside_the_logs_folder_is_served(site: Site, path: str) -> None:
    (site.workdir.path / "outside.txt").write_text("not for the web", encoding="utf-8")  # a type /logs serves
    assert site.raw_status(path) == 404


def test_a_link_out_of_the_logs_folder_is_not_followed(site: Site) -> None:
    secret = site.workdir.path / "outside.txt"
    secret.write_text("not for the web", encoding="utf-8")
    link = site.workdir.path / "logs" / "outside.txt"
    try:
        link.symlink_to(secret)
    except OSError:  # Windows without the symlink privilege: a hard link has no "outside" to escape to
        pytest.skip("cannot create a symlink here")
    assert site.raw_status("/logs/outside.txt") == 404


def test_actions_need_the_configured_token(site: Site) -> None:
    body = {"job_ids": [site.failed_job], "failed": True}
    assert site.post("/api/requeue", body).status_code == 401
    assert site.post("/api/requeue", body, token="wrong").status_code == 403
    assert site.workdir.snapshot().job(site.failed_job).status is JobStatus.FAILED  # type: ignore[union-attr]
    done = site.post("/api/requeue", body, token=TOKEN)
    assert done.status_code == 200, done.text
    assert done.json()["result"]["requeued"] == [site.failed_job]
    assert site.workdir.snapshot().job(site.failed_job).status is JobStatus.PENDING  # type: ignore[union-attr]


def test_an_action_that_cannot_be_done_says_why(site: Site) -> None:
    unknown = site.post("/api/unblock", {"account": "nobody"}, token=TOKEN)
    assert unknown.status_code == 400 and "unknown account" in unknown.json()["error"]
    pending = site.workdir.snapshot().jobs[-1].job_id
    wrong = site.post("/api/requeue", {"job_ids": [pending]}, token=TOKEN)
    assert wrong.status_code == 400 and "is pending" in wrong.json()["error"]


def test_without_a_configured_token_the_dashboard_is_read_only(read_only: Site) -> None:
    assert "read-only" in read_only.get("/").text
    refused = read_only.post("/api/stop-all", {}, token="")
    assert refused.status_code in (401, 403)
    assert read_only.post("/api/stop-all", {}, token="anything").status_code == 403
    assert not (read_only.workdir.path / ".orchestrator" / "stop").exists()


def test_stop_all_asks_a_live_run_to_stop(site: Site) -> None:
    stand_in = site.workdir.start("--status", "--watch", "--plain")  # a live process recorded as the run's
    ref = wait_for(lambda: ProcessRef.of(stand_in.pid), 10, "the stand-in process")
    run_dir = site.workdir.run_dir
    run_dir.ensure()
    run_dir.write_run(RunInfo(process=ref, started_at=datetime.now(UTC), workers=1))
    answer = site.post("/api/stop-all", {}, token=TOKEN)
    assert answer.status_code == 200 and answer.json()["result"]["stop"] == "requested"
    assert run_dir.stop_all_file.exists()


def test_no_secret_is_ever_served(site: Site) -> None:
    for path in ("/", "/live", "/api/status", "/metrics", "/static/dashboard.js"):
        text = site.get(path).text
        assert API_KEY not in text and TOKEN not in text, path


def test_listening_beyond_this_computer_needs_a_token() -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert is_loopback(host)
        check_exposure(host, "")
    for host in ("0.0.0.0", "::", "192.168.1.20", "my-pc.local"):
        assert not is_loopback(host)
        with pytest.raises(PreflightFailed, match="token"):
            check_exposure(host, "")
        check_exposure(host, TOKEN)


def test_a_taken_port_is_refused_naming_it(workdir: Workdir, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir.path)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(PreflightFailed, match=f"127.0.0.1:{port}"):
            make_server(settings_of(workdir, ""), host="127.0.0.1", port=port)


def test_the_server_stops_and_frees_its_port(workdir: Workdir, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir.path)
    server: DashboardServer = make_server(settings_of(workdir, ""), host="127.0.0.1", port=0)
    with server:
        assert requests.get(server.url + "api/status", timeout=10).status_code == 200
    port = int(server.url.rstrip("/").rsplit(":", 1)[1])
    with socket.create_server(("127.0.0.1", port)):
        pass
    assert not Path(workdir.path / ".orchestrator").exists()
