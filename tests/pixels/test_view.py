"""The camera view check on real frames: the bundled clip, and the same clip darkened, blurred, turned or covered
by an ffmpeg filter into a temporary file. Then the whole pipeline on a clip whose view goes dark halfway."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from edgeanon.config.loader import parse_config
from edgeanon.outputs.live import CameraStatus
from edgeanon.outputs.prometheus import _CameraHealth
from edgeanon.pixels import view
from edgeanon.pixels.media import iter_video
from edgeanon.run.views import site_view
from edgeanon.web.status import StatusPage
from edgeanon.web.status_sink import StatusSink
from tests.helpers.paths import CLIP, DEFAULT_CONFIG
from tests.helpers.pipeline import run_to_end

FILTERS = {
    "dark": "lutyuv=y=val*0.2",  # lights dimmed to a fifth
    "blurred": "gblur=sigma=4",  # defocused or a smeared lens
    "moved": "crop=576:432:192:144,scale=768:576",  # turned and zoomed towards the bottom right
    "panned": "crop=668:576:100:0,scale=768:576",  # turned 100 px (13 % of the width) to the right
    "covered": "drawbox=x=0:y=0:w=iw:h=ih:color=black@0.95:t=fill",  # something in front of the lens
}
EXPECT = {"dark": "dark", "blurred": "blurred", "moved": "moved", "panned": "moved", "covered": "dark"}


def ffmpeg(src: Path, out: Path, vf: str) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (apt-get install ffmpeg; .ci/run installs it)")
    cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-vf", vf, "-c:v", "mjpeg", "-q:v", "3", str(out)]
    subprocess.run(cmd, check=True, timeout=300)
    return out


@pytest.fixture(scope="module")
def variants(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("views")
    return {name: ffmpeg(CLIP, d / f"{name}.avi", vf) for name, vf in FILTERS.items()}


def feed(check: view.ViewCheck, path: Path, every: int = 10) -> list[bool | None]:
    """One sample per second of the 10 fps clip by default (``every`` frames), as the capture thread does."""
    return [check.observe(frame) for i, frame in iter_video(path) if i % every == 0]


def learnt() -> view.ViewCheck:
    check = view.ViewCheck()
    verdicts = feed(check, CLIP, every=5)  # 50 samples: the first LEARN build the baseline
    assert verdicts[: view.LEARN - 1] == [None] * (view.LEARN - 1)
    assert all(v is True for v in verdicts[view.LEARN - 1 :]), verdicts  # people walking are not a change
    return check


def test_the_usual_view_stays_ok_with_margin():
    check = learnt()
    scores = []
    for _, frame in iter_video(CLIP):
        check.observe(frame)
        scores.append(check.scores)
    assert check.ok is True and check.problems == ()
    # every frame of the clip, people in every position, stays well inside each threshold
    assert min(s.layout for s in scores) > view.MOVED_BELOW + 0.15
    assert min(s.sharpness for s in scores) > 2 * view.BLURRED_BELOW
    assert all(view.DARKER_THAN + 0.4 < s.brightness < view.BRIGHTER_THAN / 2 for s in scores)


@pytest.mark.parametrize("name", list(FILTERS))
def test_a_changed_view_is_flagged_with_its_reason_and_recovers(variants, name):
    check = learnt()
    verdicts = feed(check, variants[name])
    assert verdicts[: view.STREAK - 1] == [True] * (view.STREAK - 1)  # a few odd samples do not flip it
    assert verdicts[-1] is False and EXPECT[name] in check.problems, (verdicts, check.problems, check.scores)
    assert set(check.problems) <= set(view.PROBLEMS)
    verdicts = feed(check, CLIP)  # the view comes back: the baseline did not drift towards the changed view
    assert verdicts[-1] is True and check.problems == ()


def test_the_grey_copy_is_zeroed_and_the_frame_not_kept():
    import gc
    import weakref

    check = view.ViewCheck()
    (frame,) = [f.copy() for _, f in iter_video(CLIP, 1)]
    ref = weakref.ref(frame)
    check.observe(frame)
    for buf in (check._small, check._grey, check._lap):
        assert buf.any() is np.False_  # zeroed before observe returned
    del frame
    gc.collect()
    assert ref() is None  # no reference to the frame survives the call
    exported = (check.ok, check.problems, check.scores)
    assert all(not isinstance(v, np.ndarray) for v in exported)


def test_pipeline_reports_view_ok_and_flags_a_view_that_goes_dark(tmp_path):
    """The real runner on the clip followed by the same clip darkened: the capture thread's view check turns
    edgeanon_camera_view_ok to 0 with the reason 'dark'. At 2 analysis frames/s (media time) it stays quick."""
    dark = ffmpeg(CLIP, tmp_path / "dark.avi", FILTERS["dark"])
    both = tmp_path / "then-dark.avi"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(CLIP), "-i", str(dark), "-filter_complex",
         "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-c:v", "mjpeg", "-q:v", "3", str(both)],
        check=True, timeout=300,
    )  # fmt: skip
    runs = {}
    for name, path in (("usual", CLIP), ("then-dark", both)):
        data = yaml.safe_load(DEFAULT_CONFIG.read_text())
        data["cameras"][0]["source"] = {"kind": "file", "path": str(path), "realtime": False, "loop": False}
        data["cameras"][0]["fps"] = 2
        runner = run_to_end(parse_config(yaml.safe_dump(data)))
        registry = CollectorRegistry()
        registry.register(_CameraHealth(runner.statuses))
        runs[name] = (runner.statuses()[0], generate_latest(registry).decode(), runner.readers[0].view)
    usual, text, _ = runs["usual"]
    assert usual.view_ok is True and 'edgeanon_camera_view_ok{camera="sample"} 1.0' in text
    dark_status, text, check = runs["then-dark"]
    assert dark_status.view_ok is False and dark_status.view_problems[0] == "dark"
    assert 'edgeanon_camera_view_ok{camera="sample"} 0.0' in text
    assert check.samples >= 45  # one per second of the 50 s of media time
    print(f"view check: {check.samples} samples, {1e3 * check.seconds / check.samples:.2f} ms each")


def test_status_page_shows_the_view_check_and_geometry_problems(tmp_path):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["cameras"].append({"id": "door", "source": {"kind": "device", "index": 0}})
    data["cameras"].append({"id": "back", "source": {"kind": "device", "index": 1}})
    cfg = parse_config(yaml.safe_dump(data))
    statuses = [
        CameraStatus("sample", up=True, view_ok=False, view_problems=("dark", "blurred")),
        CameraStatus("door", up=True, view_ok=None, geometry_errors=("line 'x': a [5000, 6000] lies outside",)),
        CameraStatus("back", up=True, view_ok=True),
    ]
    clock = SimpleNamespace(t=1_790_000_000.0)
    page = StatusPage(
        site_view(cfg), lambda: statuses, StatusSink(site_view(cfg), clock=lambda: clock.t), clock=lambda: clock.t
    ).render()
    sections = dict(re.findall(r'<section class="cam" data-camera="(\w+)">(.*?)</section>', page, re.S))
    assert 'data-view="changed">View check: not as usual (dark, blurred). Moved, covered' in sections["sample"]
    assert 'data-view="learning"' in sections["door"] and "lies outside" in sections["door"]
    assert 'data-view="ok"' in sections["back"] and "data-geometry" not in sections["back"]
