from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.logs import log_context, register_secret, setup_process_logging


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "w.log"
    setup_process_logging(path, "W3")
    yield path
    setup_process_logging(None, "test")


def test_each_event_is_one_flushed_line_with_tag_and_context(log_file: Path) -> None:
    with log_context(job="J9", account="acc1", step="claim"):
        logging.getLogger("worker.loop").info("claimed\nsecond line")
    text = log_file.read_text(encoding="utf-8")  # read without closing the handler: already flushed
    lines = text.splitlines()
    assert len(lines) == 1
    assert " W3 INFO worker.loop job=J9 account=acc1 step=claim: claimed\\nsecond line" in lines[0]


def test_registered_secrets_never_reach_the_file(log_file: Path) -> None:
    register_secret("s3cr3t-api-key")
    logging.getLogger("geelark").warning("calling with key=%s", "s3cr3t-api-key")
    try:
        raise RuntimeError("token s3cr3t-api-key rejected")
    except RuntimeError:
        logging.getLogger("geelark").exception("failed")
    text = log_file.read_text(encoding="utf-8")
    assert "s3cr3t-api-key" not in text
    assert text.count("***") >= 2
