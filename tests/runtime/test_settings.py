from __future__ import annotations

from pathlib import Path

import pytest

from runtime.settings import (
    DEPRECATED,
    ConfigError,
    Settings,
    dump_settings,
    load_settings,
    read_settings,
    settings_to_dict,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "orchestrator.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_env_and_flags_override_in_that_order_and_sources_are_kept(tmp_path: Path) -> None:
    config = write(tmp_path, '[orchestrator]\nworkers = 5\n[accounts]\ntimezone = "Europe/Berlin"\n')
    loaded = load_settings(
        config,
        overrides={"orchestrator.workers": 8},
        env={"GEELARK_BASE_URL": "http://127.0.0.1:9"},
    )
    assert loaded.settings.orchestrator.workers == 8
    assert loaded.settings.accounts.timezone == "Europe/Berlin"
    assert loaded.settings.geelark.base_url == "http://127.0.0.1:9"
    assert loaded.sources == {
        "orchestrator.workers": "flag",
        "accounts.timezone": "file",
        "geelark.base_url": "env",
    }
    assert loaded.warnings == ()


def test_the_old_daily_limit_and_timezone_keys_move_to_accounts_with_a_warning(tmp_path: Path) -> None:
    config = write(tmp_path, '[queue]\ndaily_limit = 4\ntimezone = "Europe/Berlin"\n')
    loaded = load_settings(config)
    assert (loaded.settings.accounts.daily_limit, loaded.settings.accounts.timezone) == (4, "Europe/Berlin")
    assert loaded.sources["accounts.daily_limit"] == "file"
    assert loaded.warnings == (
        f"{config}: [queue] daily_limit is deprecated: its value 4 is now the default [accounts] daily_limit"
        " of every account (rename the key)",
        f"{config}: [queue] timezone is deprecated: its value 'Europe/Berlin' is now the default"
        " [accounts] timezone of every account (rename the key)",
    )


def test_old_and_new_keys_that_disagree_are_refused(tmp_path: Path) -> None:
    config = write(tmp_path, "[queue]\ndaily_limit = 4\n[accounts]\ndaily_limit = 2\n")
    with pytest.raises(
        ConfigError, match=r"\[queue\] daily_limit = 4 and \[accounts\] daily_limit = 2 disagree"
    ):
        load_settings(config)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[orchestrator]\nworkerz = 3\n", "unknown key 'workerz' in [orchestrator]"),
        ("[orchestrater]\nworkers = 3\n", "unknown section [orchestrater]"),
        ('[orchestrator]\nworkers = "three"\n', "[orchestrator] workers: expected int"),
        ('[queue]\ntimezone = "Mars/Base"\n', "not a known IANA time zone"),
        ('[worker]\nvideo_transfer = "ftp"\n', "not one of 'upload', 'adb_push'"),
        ("[orchestrator\n", "is not valid TOML"),
        ("workers = 3\n", "must be a [section]"),
    ],
)
def test_bad_config_is_a_clear_error_naming_file_and_key(tmp_path: Path, text: str, fragment: str) -> None:
    config = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    assert fragment in str(err.value)
    assert str(config) in str(err.value)


def test_missing_config_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_settings_hand_off_to_workers_round_trips(tmp_path: Path) -> None:
    config = write(tmp_path, '[worker]\nflow_file = "flows/app.json"\njob_timeout_s = 120\n')
    settings = load_settings(config).settings
    dump_settings(settings, tmp_path / "settings.json")
    assert read_settings(tmp_path / "settings.json") == settings


def test_the_shipped_example_config_states_exactly_the_defaults() -> None:
    example = Path(__file__).resolve().parents[2] / "orchestrator.example.toml"
    loaded = load_settings(example)
    assert loaded.settings == Settings()
    documented = set(loaded.sources)
    every_key = {
        f"{section}.{key}" for section, table in settings_to_dict(Settings()).items() for key in table
    }
    assert every_key - documented == {
        "queue.daily_limit",  # deprecated: [accounts] daily_limit
        "queue.timezone",  # deprecated: [accounts] timezone
        "queue.claim_lease_s",  # deprecated: [orchestrator] heartbeat_timeout_s
    }
    assert documented <= every_key


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[orchestrator]\nheartbeat_timeout_s = 0\n", "[orchestrator] heartbeat_timeout_s = 0.0 cannot work"),
        ("[accounts]\ndaily_limit = 0\n", "[accounts] daily_limit = 0 cannot work: it must be at least 1"),
        ("[simulate]\ntime_scale = 0\n", "[simulate] time_scale = 0.0 cannot work: it must be between"),
        ("[worker]\njob_timeout_s = 5\n", "[worker] job_timeout_s = 5.0 cannot work: it must be at least 30"),
        (
            "[orchestrator]\nworkers = 100\n",
            "[orchestrator] workers = 100 cannot work: it must be between 1 and 64",
        ),
        (
            "[orchestrator]\nheartbeat_timeout_s = 5\n[worker]\nheartbeat_interval_s = 2\n",
            "a live worker would be killed between two beats",
        ),
    ],
)
def test_settings_that_cannot_work_are_refused_when_read(tmp_path: Path, text: str, said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert said in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path))


def test_the_unused_claim_lease_is_read_as_the_heartbeat_timeout(tmp_path: Path) -> None:
    loaded = load_settings(write(tmp_path, "[queue]\nclaim_lease_s = 90\n"))
    assert loaded.settings.orchestrator.heartbeat_timeout_s == 90
    assert "claim_lease_s is deprecated" in loaded.warnings[0]


def test_the_example_config_names_the_file_that_is_loaded_by_itself() -> None:
    example = Path(__file__).resolve().parents[2] / "orchestrator.example.toml"
    assert "parallel-orchestrator.toml" in example.read_text(encoding="utf-8").splitlines()[0]


def test_every_section_of_the_settings_is_in_the_readme_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for section, table in settings_to_dict(Settings()).items():
        row = next((line for line in readme.splitlines() if line.startswith(f"| `[{section}]`")), "")
        assert row, f"README lacks a row for [{section}]"
        deprecated = {k.split(".", 1)[1] for k in DEPRECATED if k.startswith(f"{section}.")}
        assert {key for key in table if f"`{key}`" not in row} - deprecated == set(), section


@pytest.mark.parametrize(
    "line",
    ['adb_path = "C:\\Android\\adb.exe"', 'adb_path = "C:\\Users\\me\\adb.exe"'],
)
def test_a_windows_path_in_double_quotes_gets_the_single_quote_hint(tmp_path: Path, line: str) -> None:
    config = write(tmp_path, f"[worker]\n{line}\n")
    with pytest.raises(ConfigError, match="single quotes"):
        load_settings(config)


def test_a_backslash_escape_that_parses_is_caught_too(tmp_path: Path) -> None:
    config = write(tmp_path, '[paths]\nlogs_dir = "C:\\temp"\n')
    with pytest.raises(ConfigError, match=r"control character.*single quotes"):
        load_settings(config)


def test_a_windows_path_in_single_quotes_is_read_as_written(tmp_path: Path) -> None:
    config = write(tmp_path, "[worker]\nadb_path = 'C:\\Android\\adb.exe'\n")
    assert load_settings(config).settings.worker.adb_path == "C:\\Android\\adb.exe"


def test_the_dashboard_token_is_never_handed_to_workers(tmp_path: Path) -> None:
    config = write(tmp_path, '[dashboard]\ntoken = "s3cret-token"\n')
    settings = load_settings(config).settings
    assert settings.dashboard.token == "s3cret-token"
    dump_settings(settings, tmp_path / "settings.json")
    assert "s3cret-token" not in (tmp_path / "settings.json").read_text(encoding="utf-8")
