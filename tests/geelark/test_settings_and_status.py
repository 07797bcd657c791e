"""Settings from the environment, masked secrets, and the one home of the status codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from geelark import ConfigError, GeeLarkSettings, PhoneStatus, UploadStatus


def test_from_env_reads_the_documented_variables(tmp_path: Path) -> None:
    env = {
        "GEELARK_BASE_URL": "http://127.0.0.1:9",
        "GEELARK_APP_ID": "app",
        "GEELARK_API_KEY": "key",
        "GEELARK_TOKEN": "",
        "GEELARK_RATE_LIMIT_DIR": str(tmp_path),
    }
    settings = GeeLarkSettings.from_env(env)
    assert (settings.base_url, settings.app_id, settings.api_key) == ("http://127.0.0.1:9", "app", "key")
    assert settings.auth_mode == "key"
    assert settings.rate_limit_dir == tmp_path
    assert settings.rate_limit_per_minute == 200


def test_token_wins_over_key_and_missing_credentials_are_a_config_error() -> None:
    assert GeeLarkSettings(token="t", app_id="a", api_key="k").auth_mode == "token"
    with pytest.raises(ConfigError) as caught:
        _ = GeeLarkSettings(app_id="a").auth_mode
    assert caught.value.account_or_config


def test_secrets_are_masked_in_repr() -> None:
    settings = GeeLarkSettings(app_id="app", api_key="SUPERSECRETKEY", token="SUPERSECRETTOKEN")
    assert "SUPERSECRET" not in repr(settings)
    assert "SUPERSECRET" not in str(settings)
    assert "app_id='app'" in repr(settings)


def test_per_endpoint_limits_default_to_the_documented_ones() -> None:
    settings = GeeLarkSettings(token="t")
    assert settings.limit_for("/phone/status") == 200
    assert settings.limit_for("/pay/wallet") == 10
    assert GeeLarkSettings(token="t", rate_limit_per_minute=5).limit_for("/pay/wallet") == 5


def test_zero_means_running() -> None:
    assert PhoneStatus(0) is PhoneStatus.RUNNING
    assert PhoneStatus(1) is PhoneStatus.STARTING
    assert PhoneStatus(2) is PhoneStatus.STOPPED
    assert PhoneStatus(3) is PhoneStatus.EXPIRED
    assert PhoneStatus.RUNNING.is_up and PhoneStatus.STARTING.is_up and not PhoneStatus.STOPPED.is_up
    assert UploadStatus(2) is UploadStatus.SUCCESS
