"""What the dashboard refuses: listening beyond this computer without a token, actions without the
right token, and any file outside the run's `logs/` folder (however the path is spelled)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from secrets import compare_digest

from orchestrator.errors import PreflightFailed

# Files the dashboard serves from logs/, and as what (page sources as text: never rendered).
SERVED_TYPES = {
    ".log": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".jsonl": "text/plain; charset=utf-8",
    ".xml": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
}


def is_loopback(host: str) -> bool:
    """`localhost`, 127.0.0.0/8 or ::1: reachable from this computer only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str) -> None:
    """Refuse (PreflightFailed) to listen beyond this computer without a token."""
    if not is_loopback(host) and not token:
        raise PreflightFailed(
            f"the dashboard would listen on {host}, where other computers can reach it, without a token."
            " Set [dashboard] token in the config (a long random text; the browser sends it with each"
            " action), or listen on 127.0.0.1"
        )


def refusal(authorization: str | None, token: str) -> int | None:
    """The HTTP status an action is refused with (None: allowed). 403 when actions are off (no token
    configured) or the token is wrong, 401 when none was sent."""
    if not token:
        return 403
    if not authorization:
        return 401
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not compare_digest(given.strip().encode(), token.encode()):
        return 403
    return None


def log_file(logs_dir: Path, url_path: str) -> Path | None:
    """The file under `logs_dir` that the (already percent-decoded) URL path names, or None when it
    is outside the folder, not a file, or not a kind we serve. No `..`, no absolute or drive paths,
    no backslashes, no symlink out: the resolved file must lie inside the resolved folder."""
    if not url_path or "\\" in url_path or "\x00" in url_path:
        return None
    parts = url_path.split("/")
    if any(part in ("", ".", "..") or ":" in part for part in parts):
        return None
    root = logs_dir.resolve()
    target = root.joinpath(*parts).resolve()
    if not target.is_relative_to(root) or target.suffix.lower() not in SERVED_TYPES or not target.is_file():
        return None
    return target
