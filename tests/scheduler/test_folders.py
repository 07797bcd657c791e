"""Folders in the layouts operators have, and every skipped file reported with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.errors import CaptionColumnMissing, FolderNotFound, NoVideos
from scheduler.folders import scan_folder

from .conftest import MULTILINE_EMOJI, bulk_export_folder, csv_bytes, write_video


def reasons(scan_result: object) -> dict[str, str]:
    return {s.item: s.reason for s in scan_result.skipped}  # type: ignore[attr-defined]


def test_bulk_export_with_windows_paths_bom_crlf_and_multiline_emoji_captions(tmp_path: Path) -> None:
    scan = scan_folder(bulk_export_folder(tmp_path))
    assert [v.video_id for v in scan.videos] == ["SC1-1", "SC3-1", "SC2-1"]
    assert scan.videos[0].caption == f"{MULTILINE_EMOJI} (SC1)"
    assert "\r" not in scan.videos[0].caption
    assert scan.videos[0].caption_source == "chunk_01.csv:2"
    assert scan.videos[1].caption_source == "chunk_01.csv:8"
    assert scan.caption_files == ("chunk_01.csv",)
    assert scan.skipped == ()


def test_shortcode_column_matches_numbered_parts(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    write_video(folder / "acc" / "SCX-1.mp4")
    write_video(folder / "acc" / "SCX-2.mp4")
    (folder / "cleaned.csv").write_bytes(
        csv_bytes([["Text", "Image/Video link 1 (shortcode)"], ["hi", "SCX"]])
    )
    scan = scan_folder(folder)
    assert [(v.video_id, v.caption) for v in scan.videos] == [("SCX-1", "hi"), ("SCX-2", "hi")]


def test_filename_caption_csv_with_videos_at_the_top(tmp_path: Path) -> None:
    folder = tmp_path / "podcast"
    write_video(folder / "a.mp4")
    write_video(folder / "b.MP4")
    rows = [["filename", "caption"], ["a.mp4", "first 🎙️\nline two"], ["b.mp4", "second"]]
    (folder / "captions.csv").write_bytes(csv_bytes(rows))
    scan = scan_folder(folder)
    assert [(v.video_id, v.caption) for v in scan.videos] == [("a", "first 🎙️\nline two"), ("b", "second")]


def test_post_caption_layout_uses_post_caption_not_onscreen_text(tmp_path: Path) -> None:
    folder = tmp_path / "viral"
    write_video(folder / "v1.mp4")
    (folder / "captions.csv").write_bytes(
        csv_bytes([["filename", "onscreen_text", "post_caption"], ["v1.mp4", "ON SCREEN", "the caption"]])
    )
    assert scan_folder(folder).videos[0].caption == "the caption"


def test_sidecar_txt_caption(tmp_path: Path) -> None:
    folder = tmp_path / "side"
    write_video(folder / "clip.mp4")
    (folder / "clip.txt").write_bytes("\ufeffsidecar caption ✨\r\nsecond line\r\n".encode())
    video = scan_folder(folder).videos[0]
    assert (video.caption, video.caption_source) == ("sidecar caption ✨\nsecond line", "clip.txt")


def test_windows_1252_sidecar_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "cp"
    write_video(folder / "clip.mp4")
    (folder / "clip.txt").write_bytes("café".encode("cp1252"))
    assert scan_folder(folder).videos[0].caption == "café"


def test_every_skipped_file_has_a_reason(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    write_video(folder / "ok.mp4")
    write_video(folder / "nocap.mp4")
    write_video(folder / "empty.mp4", b"")
    write_video(folder / "sub" / "ok.mp4")
    write_video(folder / "a" / "b" / "deep.mp4")
    (folder / "captions.csv").write_bytes(
        csv_bytes(
            [
                ["filename", "caption"],
                ["ok.mp4", "c"],
                ["empty.mp4", "c"],
                ["ghost.mp4", "c"],
                ["ok.mp4", "again"],
            ]
        )
    )
    (folder / "parallel_progress.csv").write_text("job_id\n", encoding="utf-8")
    scan = scan_folder(folder)
    assert [v.video_id for v in scan.videos] == ["ok"]
    why = reasons(scan)
    assert why["nocap.mp4"].startswith("no caption")
    assert why["empty.mp4"] == "empty file (0 bytes)"
    assert why["sub/ok.mp4"] == "duplicate: same name as ok.mp4"
    assert why["a/b/deep.mp4"] == "more than one folder down"
    assert why["captions.csv:4"] == "caption row for 'ghost.mp4' matches no video"
    assert why["captions.csv:5"].startswith("duplicate row for 'ok.mp4'")
    assert why["parallel_progress.csv"] == "a progress/results file, not captions"


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FolderNotFound, match="folder not found"):
        scan_folder(tmp_path / "nope")


def test_folder_without_videos_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(NoVideos, match=r"\.mp4"):
        scan_folder(tmp_path / "empty")


def test_captions_csv_without_a_video_column_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    write_video(folder / "a.mp4")
    (folder / "captions.csv").write_bytes(csv_bytes([["Text", "Source"], ["hi", "x"]]))
    with pytest.raises(CaptionColumnMissing, match="no video/shortcode column") as err:
        scan_folder(folder)
    assert "'Text', 'Source'" in str(err.value)


def test_a_captions_file_one_level_down_is_read_and_deeper_ones_are_listed(tmp_path: Path) -> None:
    folder = tmp_path / "chunk"
    write_video(folder / "sub" / "a.mp4")
    (folder / "sub" / "captions.csv").write_bytes(
        csv_bytes([["filename", "caption"], ["a.mp4", "from below"]])
    )
    (folder / "x" / "y").mkdir(parents=True)
    (folder / "x" / "y" / "captions.csv").write_bytes(csv_bytes([["filename", "caption"], ["a.mp4", "deep"]]))
    scan = scan_folder(folder)
    assert [(v.video_id, v.caption, v.caption_source) for v in scan.videos] == [
        ("a", "from below", "sub/captions.csv:2")
    ]
    assert scan.caption_files == ("sub/captions.csv",)
    assert reasons(scan)["x/y/captions.csv"].startswith("captions file more than one folder down")


def test_european_excel_semicolons_and_windows_1252_are_read_with_a_note(tmp_path: Path) -> None:
    folder = tmp_path / "eu"
    write_video(folder / "a.mp4")
    write_video(folder / "b.mp4")
    text = "filename;caption\r\na.mp4;Café, crème; brûlée\r\nb.mp4;second\r\n".replace("; brûlée", " brûlée")
    (folder / "captions.csv").write_bytes(text.encode("cp1252"))
    scan = scan_folder(folder)
    assert [(v.video_id, v.caption) for v in scan.videos] == [("a", "Café, crème brûlée"), ("b", "second")]
    assert scan.notes == (
        "captions.csv: semicolon-separated (European Excel): read as such",
        "captions.csv: saved as cp1252 (older Excel), not UTF-8: read as such",
    )
