"""The right video on the phone (emptied folder, arrival checked by size, mp4/webm by upload only)
and the Appium capabilities a shared host needs."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.common.exceptions import SessionNotCreatedException, WebDriverException

from geelark.errors import UploadFailed, WaitTimeout
from geelark.status import UploadStatus
from worker.classify import session_start_failed
from worker.contract import port_plan
from worker.errors import StopRequested
from worker.flow import flow_path_for, load_flow
from worker.phone import PhoneHandle
from worker.session import open_with_tries, session_options
from worker.video import arrived, clear_downloads, goes_by_upload, upload_via_geelark

PHONE = PhoneHandle("p1", "acc", "10.0.0.5:25219")


class ShellAdb:
    """A phone's download folder as a dict; answers like Android's toybox."""

    def __init__(self, files: dict[str, int]) -> None:
        self.files = dict(files)  # name -> size, newest last
        self.commands: list[str] = []

    def shell(self, serial: str, command: str, timeout_s: float = 20.0) -> str:
        self.commands.append(command)
        if command == "rm -f /sdcard/Download/*":
            self.files.clear()
            return ""
        if command == "ls -t /sdcard/Download":
            return "\n".join(reversed(list(self.files)))
        if command.startswith("stat -c %s "):
            name = command.split("/")[-1].strip("'")
            return str(self.files[name]) if name in self.files else f"stat: {name}: No such file or directory"
        return ""


def test_the_download_folder_is_emptied_and_the_arrival_checked_by_size(tmp_path: Path) -> None:
    local = tmp_path / "clip.mp4"
    local.write_bytes(b"x" * 1000)
    adb = ShellAdb({"old_from_last_job.mp4": 5})
    clear_downloads(adb, PHONE)  # type: ignore[arg-type]
    assert adb.files == {}
    adb.files["a1b2c3.mp4"] = 1000
    assert arrived(adb, PHONE, local) == "/sdcard/Download/a1b2c3.mp4"  # type: ignore[arg-type]
    adb.files["a1b2c3.mp4"] = 400
    with pytest.raises(UploadFailed, match="incomplete: 400 of 1,000 bytes"):
        arrived(adb, PHONE, local)  # type: ignore[arg-type]
    adb.files.clear()
    with pytest.raises(UploadFailed, match="did not arrive"):
        arrived(adb, PHONE, local)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "transfer", "upload"),
    [
        ("a.mp4", "upload", True),
        ("a.WEBM", "upload", True),
        ("a.mov", "upload", False),
        ("a.mp4", "adb_push", False),
    ],
)
def test_only_mp4_and_webm_go_by_geelark_upload(name: str, transfer: str, upload: bool) -> None:
    assert goes_by_upload(Path(name), transfer) is upload


class UploadClient:
    def __init__(self, statuses: list[UploadStatus]) -> None:
        self.statuses = statuses

    def get_upload_url(self, kind: str) -> object:
        from types import SimpleNamespace

        return SimpleNamespace(upload_url="https://up/x", resource_url="https://res/abc.mp4")

    def put_file(self, url: str, path: Path) -> None:
        return None

    def upload_file_to_phone(self, phone_id: str, url: str) -> str:
        return "task1"

    def upload_result(self, task_id: str) -> UploadStatus:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


def test_upload_status_0_is_waited_on_until_the_deadline_not_a_failure(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    clock = {"t": 0.0}

    def sleep(s: float) -> None:
        clock["t"] += s

    statuses = [UploadStatus.UNKNOWN, UploadStatus.UPLOADING, UploadStatus.SUCCESS]
    client = UploadClient(statuses)
    done = upload_via_geelark(
        client,  # type: ignore[arg-type]
        PHONE,
        video,
        timeout_s=300,
        poll_s=2,
        clock=lambda: clock["t"],
        sleep=sleep,
    )
    assert done.endswith("abc.mp4")
    with pytest.raises(WaitTimeout, match="last status: 0"):
        upload_via_geelark(
            UploadClient([UploadStatus.UNKNOWN]),  # type: ignore[arg-type]
            PHONE,
            video,
            timeout_s=300,
            poll_s=2,
            clock=lambda: clock["t"],
            sleep=sleep,
        )
    with pytest.raises(UploadFailed):
        upload_via_geelark(
            UploadClient([UploadStatus.FAILED]),  # type: ignore[arg-type]
            PHONE,
            video,
            timeout_s=300,
            poll_s=2,
            clock=lambda: clock["t"],
            sleep=sleep,
        )


def test_a_real_phone_session_keeps_adb_alive_and_starts_the_app_fresh() -> None:
    flow = load_flow(flow_path_for("instagram"))
    caps = session_options(
        port_plan(1), "10.0.0.5:25219", flow, extra_caps={"appium:extra": 1}
    ).to_capabilities()
    assert caps["appium:suppressKillServer"] is True
    assert caps["appium:forceAppLaunch"] is True and caps["appium:noReset"] is True
    assert caps["appium:appPackage"] == "com.instagram.android"
    assert caps["appium:appWaitActivity"] == "com.instagram.*"
    assert caps["appium:disableWindowAnimation"] is True
    assert caps["appium:uiautomator2ServerLaunchTimeout"] <= 30_000
    assert caps["appium:systemPort"] == port_plan(1).system_port and caps["appium:extra"] == 1


class _Opener:
    """Stands in for `open_session`: raises the given errors in turn, then returns a session."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "session"


UIA2_DOWN = WebDriverException("Message: The instrumentation process cannot be initialized")


def test_a_session_that_did_not_start_is_tried_again_in_place_up_to_the_tries() -> None:
    opener, stops = _Opener(UIA2_DOWN, SessionNotCreatedException("no session")), []
    session = open_with_tries(
        opener, 3, retry_in_place=session_start_failed, check_stop=lambda: stops.append(1)
    )
    assert (session, opener.calls, len(stops)) == ("session", 3, 2)
    opener = _Opener(UIA2_DOWN, UIA2_DOWN, UIA2_DOWN)
    with pytest.raises(WebDriverException, match="instrumentation"):
        open_with_tries(opener, 3, retry_in_place=session_start_failed, check_stop=lambda: None)
    assert opener.calls == 3  # the last try's error is the attempt's


def test_other_session_errors_and_stops_end_the_tries_at_once() -> None:
    opener = _Opener(WebDriverException("Message: An unknown server-side error: ENOSPC"))
    with pytest.raises(WebDriverException, match="ENOSPC"):
        open_with_tries(opener, 3, retry_in_place=session_start_failed, check_stop=lambda: None)
    assert opener.calls == 1

    def stop() -> None:
        raise StopRequested("stop asked")

    opener = _Opener(UIA2_DOWN)
    with pytest.raises(StopRequested):
        open_with_tries(opener, 3, retry_in_place=session_start_failed, check_stop=stop)
    assert opener.calls == 1  # no new session once a stop was asked
