"""The external tools a real run uses, found the same way by the workers and by `doctor`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from runtime.platform import exe_name


def sdk_adb(env: Mapping[str, str]) -> Path | None:
    """The adb of the Android SDK (`ANDROID_HOME` or `ANDROID_SDK_ROOT`): the one Appium uses."""
    home = env.get("ANDROID_HOME") or env.get("ANDROID_SDK_ROOT") or ""
    return Path(home) / "platform-tools" / exe_name("adb") if home else None


def resolve_adb(adb_path: str, env: Mapping[str, str], exists: Callable[[Path], bool] = Path.is_file) -> str:
    """The adb the workers run. Left at its default ("adb"), it is the SDK's when there is one, so
    workers and Appium share one adb server (two adb versions restart each other's server and drop
    every phone); a configured path is used as given."""
    if adb_path != "adb":
        return adb_path
    sdk = sdk_adb(env)
    return str(sdk) if sdk is not None and exists(sdk) else adb_path
