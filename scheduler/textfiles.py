"""Reading operators' text files: UTF-8 (with or without BOM), falling back to Windows-1252."""

from __future__ import annotations

from pathlib import Path


def read_operator_text(path: Path) -> tuple[str, str]:
    """``(text, encoding)`` of ``path``; Excel's "CSV" and Notepad files are often Windows-1252.

    Raises OSError when the file cannot be read.
    """
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), "cp1252"


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")
