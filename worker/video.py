"""Getting the job's video onto the phone: GeeLark's upload chain (default) or `adb push`.

A video that is missing, empty or unreadable is a PERMANENT job error (VideoUnavailable); a
transfer that fails is infrastructure. Before the transfer the phone's download folder is emptied;
after it, the file that arrived is found and its size checked against the local file, before the
app is opened: Instagram's thumbnails carry no file name, the flow taps the newest, so it must be
ours. The media scanner is told about the file so the gallery shows it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from geelark.client import GeeLarkClient
from geelark.errors import UploadFailed, WaitTimeout
from geelark.status import UploadStatus
from jobqueue.roster import CAPTION_LIMITS
from worker.adb import Adb
from worker.errors import AdbError, CaptionTooLong, VideoUnavailable
from worker.phone import PhoneHandle

log = logging.getLogger(__name__)

DEVICE_DOWNLOADS = "/sdcard/Download"
UPLOAD_TYPES = frozenset({"mp4", "webm"})  # what GeeLark's /upload/getUrl takes for a video


def goes_by_upload(path: Path, video_transfer: str) -> bool:
    """GeeLark's upload takes mp4 and webm only; any other video goes by adb push."""
    return video_transfer == "upload" and path.suffix.lstrip(".").lower() in UPLOAD_TYPES


def clear_downloads(adb: Adb, phone: PhoneHandle) -> None:
    """Remove what earlier jobs left in the download folder: the flow taps the first (newest)
    gallery thumbnail, so the only video there must be this job's."""
    adb.shell(phone.serial, f"rm -f {DEVICE_DOWNLOADS}/*")


def arrived(adb: Adb, phone: PhoneHandle, local: Path) -> str:
    """The file that arrived in the download folder, checked against the local one by size.
    Raises UploadFailed (infrastructure: another try sends it again) if it is not there whole."""
    listing = adb.shell(phone.serial, f"ls -t {DEVICE_DOWNLOADS}").split()
    names = [n for n in listing if n and not n.startswith(("ls:", "total"))]
    if not names:
        raise UploadFailed(f"the video did not arrive: {DEVICE_DOWNLOADS} on the phone is empty")
    remote = f"{DEVICE_DOWNLOADS}/{names[0]}"
    answer = adb.shell(phone.serial, f"stat -c %s '{remote}'").strip()
    want = local.stat().st_size
    if not answer.isdigit():
        raise UploadFailed(f"the video on the phone cannot be measured ({answer[:80]!r})")
    if int(answer) != want:
        raise UploadFailed(f"the video arrived incomplete: {int(answer):,} of {want:,} bytes ({names[0]})")
    return remote


def check_video(path: Path) -> None:
    """Raise VideoUnavailable unless `path` is a non-empty file we can read."""
    if not path.is_file():
        raise VideoUnavailable(f"video missing: {path.name} is not a file", error_type="video_missing")
    try:
        with open(path, "rb") as fh:
            first = fh.read(1)
    except OSError as exc:
        raise VideoUnavailable(
            f"video unreadable: {path.name}: {exc.strerror or exc}", error_type="video_unreadable"
        ) from exc
    if not first:
        raise VideoUnavailable(f"video corrupted: {path.name} is empty", error_type="corrupted_video")


def check_caption(caption: str, app: str) -> None:
    """Raise CaptionTooLong if the app would refuse the caption (checked before a phone is started)."""
    limit = CAPTION_LIMITS.get(app)
    if limit is not None and len(caption) > limit:
        raise CaptionTooLong(
            f"caption has {len(caption):,} characters, {app} accepts {limit:,}: shorten it, then requeue",
            error_type="caption_too_long",
        )


def upload_via_geelark(
    client: GeeLarkClient,
    phone: PhoneHandle,
    path: Path,
    *,
    timeout_s: float,
    poll_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """GeeLark's chain: upload URL, PUT, /phone/uploadFile, poll the result. The file lands in
    Downloads under the resource's name (the simulator's behaviour; unconfirmed for the real cloud)."""
    target = client.get_upload_url(path.suffix.lstrip(".").lower() or "mp4")
    client.put_file(target.upload_url, path)
    task_id = client.upload_file_to_phone(phone.phone_id, target.resource_url)
    deadline = clock() + timeout_s
    while True:
        status = client.upload_result(task_id)
        if status is UploadStatus.SUCCESS:
            return f"{DEVICE_DOWNLOADS}/{target.resource_url.rsplit('/', 1)[-1]}"
        if status is UploadStatus.FAILED:
            raise UploadFailed(f"Upload to phone failed: task {task_id} ended {status.name}")
        # UPLOADING, or 0 ("could not retrieve": not known yet) - both wait until the deadline
        if clock() >= deadline:
            raise WaitTimeout(f"Upload timeout after {timeout_s:.0f}s (last status: {int(status)})")
        sleep(poll_s)


def push_via_adb(adb: Adb, phone: PhoneHandle, path: Path, timeout_s: float) -> str:
    """`adb push` into the download folder under the local file name."""
    remote = f"{DEVICE_DOWNLOADS}/{path.name}"
    adb.push(phone.serial, path, remote, timeout_s)
    return remote


def announce_to_gallery(adb: Adb, phone: PhoneHandle, remote: str) -> None:
    """Ask the media scanner to index the new file so the app's picker shows it."""
    adb.shell(
        phone.serial, f"am broadcast -a android.intent.action.MEDIA_SCANNER_SCAN_FILE -d file://{remote}"
    )


def remove_from_phone(adb: Adb, phone: PhoneHandle, remote: str) -> None:
    """Delete the job's video from the phone after the attempt (a failure is only logged: the
    outcome of the job does not depend on it)."""
    try:
        adb.shell(phone.serial, f"rm -f '{remote}'")
    except AdbError as exc:
        log.warning("could not remove %s from the phone: %s", remote, exc)
