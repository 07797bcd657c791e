"""Fixtures: realistic operator folders built in tmp_path, and the CLI run in-process."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from scheduler.cli import app

MULTILINE_EMOJI = "Wait for it 😂🔥\nFollow for more\n#podcast #viral"


def write_video(path: Path, payload: bytes = b"\x00\x00\x00\x18ftypmp42") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path


def csv_bytes(rows: Sequence[Sequence[str]], *, bom: bool = False, crlf: bool = False) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if crlf else "\n").writerows(rows)
    data = out.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


BULK_HEADER = [
    "Text",
    "Pinterest Source Url",
    "LinkedIn Group Title",
    "CatalogId(optional)",
    "ProductIdsSeparatedByComma(optional)",
    "Source",
    "Image/Video link 1 (file path or URL(works only for images))",
]


def bulk_export_folder(
    root: Path, name: str = "chunk_01", shortcodes: Sequence[str] = ("SC1", "SC2", "SC3")
) -> Path:
    """The original's chunk layout: <folder>/<source>/<SC>-1.mp4 and a bulk-scheduler export CSV
    (BOM, CRLF, multi-line emoji captions, absolute Windows paths, extra columns)."""
    folder = root / name
    rows = [BULK_HEADER]
    for i, sc in enumerate(shortcodes):
        write_video(folder / f"source{i % 2}" / f"{sc}-1.mp4")
        windows_path = f"C:\\Users\\op\\Videos\\{name}\\source{i % 2}\\{sc}-1.mp4"
        rows.append([f"{MULTILINE_EMOJI} ({sc})", "", "", "", "", f"source{i % 2}", windows_path])
    (folder / f"{name}.csv").write_bytes(csv_bytes(rows, bom=True, crlf=True))
    return folder


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An operator's working folder (the current directory for the test)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


Invoke = Callable[..., Result]


@pytest.fixture
def invoke(work: Path) -> Invoke:
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args), catch_exceptions=False)

    return run
