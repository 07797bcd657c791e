from __future__ import annotations

from pathlib import Path

import pytest

from runtime.settings import (
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
    config = write(tmp_path, '[orchestrator]\nworkers = 5\n[queue]\ntimezone = "Europe/Berlin"\n')
    loaded = load_settings(
        config,
        overrides={"orchestrator.workers": 8},
        env={"GEELARK_BASE_URL": "http://127.0.0.1:9"},
    )
    assert loaded.settings.orchestrator.workers == 8
    assert loaded.settings.queue.timezone == "Europe/Berlin"
    assert loaded.settings.geelark.base_url == "http://127.0.0.1:9"
    assert loaded.sources == {
        "orchestrator.workers": "flag",
        "queue.timezone": "file",
        "geelark.base_url": "env",
    }


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
    assert every_key == documented


def test_the_example_config_names_the_file_that_is_loaded_by_itself() -> None:
    example = Path(__file__).resolve().parents[2] / "orchestrator.example.toml"
    assert "parallel-orchestrator.toml" in example.read_text(encoding="utf-8").splitlines()[0]


def test_every_section_of_the_settings_is_in_the_readme_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for section, table in settings_to_dict(Settings()).items():
        row = next((line for line in readme.splitlines() if line.startswith(f"| `[{section}]`")), "")
        assert row, f"README lacks a row for [{section}]"
        assert {key for key in table if f"`{key}`" not in row} == set(), section


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
