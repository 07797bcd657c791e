"""No credential, ADB password or start URL ever shows up in logs, reprs or error messages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from geelark import AuthError, GeeLarkClient, GeeLarkError
from geelark.simulator import SimulatorServer
from tests.geelark.conftest import API_KEY, TOKEN, FakeClock


@pytest.mark.parametrize("mode", ["token", "key"])
def test_a_full_flow_with_faults_leaks_no_secret(
    mode: str,
    make_sim: Callable[..., SimulatorServer],
    make_client: Callable[..., GeeLarkClient],
    clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    sim = make_sim(
        real_clock=clock, seed=5, faults={"api": {"http_502": 0.3, "server_error": 0.2, "after_effect": 0.0}}
    )
    client = make_client(sim, mode, clock=clock, max_attempts=10, breaker_threshold=100)
    phone_id = client.find_phone("phone-01").id
    started = client.start_phone(phone_id)
    client.wait_until_running(phone_id)
    client.set_adb([phone_id])
    adb = client.wait_for_adb(phone_id)
    video = tmp_path / "v.mp4"
    video.write_bytes(b"v")
    client.upload_video(phone_id, video)
    client.stop_phone(phone_id)
    errors: list[GeeLarkError] = []
    wrong = {"token": "wrong"} if mode == "token" else {"api_key": "wrong"}
    with pytest.raises(AuthError) as caught:
        make_client(sim, mode, max_attempts=10, **wrong).check_auth()
    errors.append(caught.value)

    secrets = [API_KEY, TOKEN, adb.pwd]
    if started.url:
        secrets.append(started.url.split("token=")[-1])
    texts = [
        caplog.text,
        repr(client.settings),
        repr(started),
        repr(adb),
        *(str(e) for e in errors),
        *(repr(e) for e in errors),
    ]
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert "geelark" in caplog.text  # the calls were logged, just without secrets
