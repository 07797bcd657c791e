"""Replaying recorded real Instagram sessions (reduced fixtures from the shared corpus) through the
Instagram flow: the engine follows what the recording did, screens are classed right, and no
text in a feed post or a typed caption is taken for an account problem."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from worker.flow import flow_path_for, load_flow
from worker.flow_engine import FlowClock, FlowHooks, FlowRun
from worker.recording import SessionRecorder
from worker.replay import read_recording, recording_files, replay, replay_all
from worker.screen import Element, Screen

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "instagram"
FLOW = load_flow(flow_path_for("instagram"))
REPO = Path(__file__).resolve().parents[2]

# file stem -> (agreed, final); what each kept session shows is in its name's comment
EXPECTED = {
    "AgedWalnutThrones_20251223_164751": (True, "unknown"),  # the usual path, then uploading
    "HollowedBoneVessels_20251222_200820": (True, "unknown"),  # back from the editor three times
    "castbitecore_20251226_115730": (True, "uploading"),  # the Play Store opened: relaunched
    "lupethelooper_20251222_201828": (True, "unknown"),  # editor, back, gallery again
    "markatetwobananas_20251222_201655": (True, "posted"),  # "Dismiss" cards, then "Posted!"
    "tjmexicosfinest_20251223_134216": (True, "unknown"),  # a gallery tap by coordinates
    "podblinkclips_20251222_144919": (False, "unknown"),  # went by the Create tab, not the profile
    "sovereignclaw_20251222_194856": (False, "unknown"),  # said "done" at once: nothing to follow
    "ClosedCircuitMute_20251223_135510": (True, "uploading"),  # failure: still uploading at the end
    "DarkLichenCoded_20251222_220503": (True, "unknown"),  # failure: never shared
    "aiyanaaafarmerinspired_20251222_115616": (True, "account_problem"),  # "We disabled your account"
    "castreelworks_20251222_202317": (True, "posted"),  # counted a failure, but "Posted!" shows
    "dreaminspiredynamo_20251226_121236": (True, "account_problem"),  # "We suspended your account"
}


def fixture(stem: str) -> Path:
    return next(FIXTURES.rglob(f"{stem}.jsonl.gz"))


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_each_recorded_session_replays_as_expected(stem: str) -> None:
    result = replay(FLOW, read_recording(fixture(stem), FLOW.app_package))
    assert (result.agreed, result.final) == EXPECTED[stem], result.reason
    if result.recorded == "success" and result.agreed:
        assert result.publish_tapped and result.diverged_at is None


def test_every_screen_is_classed_and_only_proven_posts_are_posted() -> None:
    summary, recordings = replay_all(FLOW, [FIXTURES])
    assert len(summary.results) == len(EXPECTED)
    seen = set()
    for result in summary.results:
        for step, screen in zip(recordings[result.file].steps, result.screens, strict=True):
            texts = " ".join(step.screen.texts())
            posted = "Posted!" in texts or "Done posting" in texts
            if posted:
                assert screen["class"] == "posted"
            elif "Sharing to Reels" in texts:
                assert screen["class"] == "uploading"
            else:
                assert screen["class"] != "posted"
            if result.recorded == "success":
                assert screen["class"] != "account_problem"
            seen.add(screen["class"])
    assert {"posted", "uploading", "account_problem", "none"} <= seen
    assert summary.false_posted(recordings) == 0 and summary.false_problems == 0


def _feed_screen() -> Screen:
    recording = read_recording(fixture("AgedWalnutThrones_20251223_164751"), FLOW.app_package)
    return recording.steps[0].screen  # the home feed, someone's posts on it


@pytest.mark.parametrize(
    "words",
    [
        "We suspended your account",
        "Action Blocked - try again later",
        "Verify your identity",
        "Confirm it's you",
        "We disabled your account",
        "You've been logged out",
    ],
)
def test_account_problem_words_in_a_feed_post_or_a_typed_caption_block_nothing(words: str) -> None:
    feed = _feed_screen()
    posts = [e for e in feed.elements if e.desc and not e.short_id]
    assert posts, "the recorded feed has posts without ids"
    changed = tuple(
        dataclasses.replace(e, desc=words, text=words) if e in posts[:3] else e for e in feed.elements
    )
    assert FLOW.account_problem(Screen(changed)) is None
    caption = Element(f"{FLOW.app_package}:id/caption_input_text_view", words, cls="android.widget.EditText")
    assert FLOW.account_problem(Screen((caption,))) is None
    # the same words as the app's own notice (a screen with no app ids) do count
    notice = Screen((Element("", "We suspended your account, Scott"), Element("", "Appeal")))
    assert FLOW.account_problem(notice) == ("suspended", "We suspended your account, Scott")


def test_this_projects_own_recordings_replay_through_the_same_reader(tmp_path: Path) -> None:
    from tests.worker.test_flow_engine import FakeClock, ScriptedDevice

    path = tmp_path / "attempt_1.session.jsonl"
    recorder = SessionRecorder(path, account="acc", job_id="j1", flow="default")
    recorder.note_video("v.mp4")
    clock = FakeClock()
    flow = load_flow()
    variables = {"caption": "hello #fun", "video_name": "v.mp4", "account": "acc", "job_id": "j1"}
    hooks = FlowHooks(record=recorder.record)
    FlowRun(ScriptedDevice(), flow, variables, 1e9, hooks, FlowClock(clock.now, clock.sleep)).run()
    recorder.finish("success")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert (
        lines[0]["event"] == "session_start"
        and lines[1]["event"] == "video"
        and lines[-1]["event"] == "success"
    )
    recording = read_recording(path, flow.app_package)
    assert recording.verdict == "success" and len(recording.steps) >= 5
    assert list(recording_files([tmp_path])) == [path]
    result = replay(dataclasses.replace(flow), recording)
    assert result.final == "posted" and result.publish_tapped


def test_an_unreadable_recording_is_named_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"event": "step"\n', encoding="utf-8")
    summary, _ = replay_all(FLOW, [tmp_path])
    assert summary.results == [] and "bad.jsonl: line 1" in summary.errors[0]


def flowtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", "flow", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=REPO,
        timeout=120,
        check=False,
    )


def test_flow_replay_prints_the_agreed_line_and_the_json_shape() -> None:
    text = flowtool("replay", "instagram", str(FIXTURES / "success"))
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[-1] == (
        "replay: agreed 6/8 success sessions, false posted 0, false account problems 0"
    )
    out = flowtool("replay", str(REPO / "worker" / "flows" / "instagram_reels.json"), str(FIXTURES), "--json")
    doc = json.loads(out.stdout)
    assert doc["sessions"] == len(EXPECTED)
    first = doc["results"][0]
    assert set(first) == {"file", "recorded", "agreed", "diverged_at", "publish_tapped", "final", "screens"}
    assert set(first["screens"][0]) == {"step", "class", "account_problem"}


def test_flow_check_names_what_matches_a_saved_page_source(tmp_path: Path) -> None:
    from worker.simdevice.instagram import InstagramApp
    from worker.simdevice.screen import page_source

    app = InstagramApp("ok", ["/sdcard/Download/a.mp4"], 0.0)
    app.screen = "gallery"
    xml = tmp_path / "attempt_1.page_source.xml"
    xml.write_text(page_source(app.nodes()), encoding="utf-8")
    out = flowtool("check", "instagram", "--page-source", str(xml), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    matching = {s["step"] for s in doc["steps"] if s["matches"]}
    assert matching == {"pick_video"}
    assert doc["class"] == "none" and doc["account_problem"] is None
    text = flowtool("check", "instagram", "--page-source", str(xml))
    assert "step    yes  pick_video" in text.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("check", "instagram", "--page-source", "nope.xml"), "cannot be read"),
        (("replay", "instagram", "nowhere"), "no such file or folder"),
        (("replay", "no_such_flow.json", "."), "cannot be read"),
    ],
)
def test_flow_commands_refuse_bad_input_with_exit_2(args: tuple[str, ...], message: str) -> None:
    out = flowtool(*args)
    assert out.returncode == 2 and message in out.stderr
