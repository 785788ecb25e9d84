"""Idle skipping on the real pipeline (issue 15, item 4): a clip made of a static, person-free stretch followed by
the bundled clip, run to the end (realtime off) with and without ``detector.skip_idle``.

The static stretch is FFmpeg's ``color`` source with temporal sensor-like noise (``noise``, strength 6, new every
frame), encoded as MJPEG like the rest, so it is still but not bit-identical from frame to frame. ``testsrc`` would
not do: it moves.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from edgeanon.config.loader import parse_config
from edgeanon.pixels.frames import Fate
from tests.helpers.paths import CLIP, DEFAULT_CONFIG
from tests.helpers.pipeline import RawObserver, RecordingSink, run_to_end

STATIC_S = 5  # seconds of static picture before the bundled clip
FPS = 10  # the bundled clip's rate
STATIC_FRAMES = STATIC_S * FPS


@pytest.fixture(scope="session")
def static_then_clip(tmp_path_factory) -> Path:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (apt-get install ffmpeg; .ci/run installs it)")
    out = tmp_path_factory.mktemp("idle") / "static-then-clip.avi"
    graph = "[0:v]noise=alls=6:allf=t,format=yuv420p[a];[1:v]format=yuv420p[b];[a][b]concat=n=2:v=1:a=0,setsar=1[v]"
    cmd = [
        "ffmpeg", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"color=c=0x6a7078:s=768x576:r={FPS}:d={STATIC_S}",
        "-i", str(CLIP), "-filter_complex", graph, "-map", "[v]", "-c:v", "mjpeg", "-q:v", "3", str(out),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, timeout=120)
    return out


class Watch(RawObserver):
    """RawObserver plus the fate of every frame, by media time (wraps the reader's release; changes nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.fates: dict[float, str] = {}

    def attach(self, runner):
        reader = runner.readers[0]
        release = reader.release

        def watched(frame, fate=Fate.INFERRED):
            self.fates[frame.t] = fate.value
            release(frame, fate)

        reader.release = watched
        return super().attach(runner)


def run(path: Path, skip_idle: bool):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["cameras"][0]["source"].update({"path": str(path), "realtime": False, "loop": False})
    data["detector"] = {"skip_idle": skip_idle}
    rec, watch = RecordingSink(), Watch()
    runner = run_to_end(parse_config(yaml.safe_dump(data), "idle-test"), [rec], raw=watch)
    return runner, rec, watch


@pytest.fixture(scope="module")
def runs(static_then_clip):
    return {skip: run(static_then_clip, skip) for skip in (True, False)}


def test_the_static_stretch_is_idle_and_nothing_counted_changes(runs):
    (runner, rec, watch), (runner0, rec0, watch0) = runs[True], runs[False]
    c, c0 = runner.readers[0].status.counters, runner0.readers[0].status.counters
    assert c.captured == c0.captured == STATIC_FRAMES + 250, (c, c0)
    assert c.balanced() and c0.balanced() and c0.idle == 0 and c.dropped == c.skipped == 0
    t0 = min(watch.fates)  # a file's frame times start at the clock time it was opened
    static = [fate for t, fate in sorted(watch.fates.items()) if t - t0 < STATIC_S - 1e-6]
    assert len(static) == STATIC_FRAMES
    assert static.count("idle") >= 0.95 * STATIC_FRAMES, static  # only the first frame needs inferring
    assert watch.fates[min(t for t in watch.fates if t - t0 >= STATIC_S - 1e-6)] == "inferred"  # people walk in

    # Every frame, idle ones included, reaches analytics: the same people, zones and crossings, frame by frame
    def per_frame(w: Watch) -> list:
        return [(r.occupancy, r.zone_occupancy, r.crossings) for r in w.results]

    assert len(watch.results) == c.captured and per_frame(watch) == per_frame(watch0)
    # the latency histogram observes inferred frames only: an idle night must not pull it down
    assert sum(r.inference_s is None for r in watch.results) == c.idle and not any(
        r.inference_s is None for r in watch0.results
    )

    # what leaves the process: line crossings per line, and occupancy means over every frame (idle at 0)
    def exported(r: RecordingSink) -> tuple[dict, int, int]:
        lines: dict[str, list[int]] = {}
        occ_sum = occ_frames = 0
        for b in r.buckets:
            cb = b.cameras["sample"]
            occ_sum, occ_frames = occ_sum + cb.occupancy_sum, occ_frames + cb.occupancy_frames
            for name, lb in cb.lines.items():
                lines.setdefault(name, [0, 0])
                lines[name][0] += lb.in_
                lines[name][1] += lb.out
        return lines, occ_sum, occ_frames

    lines, occ_sum, occ_frames = exported(rec)
    assert (lines, occ_sum, occ_frames) == exported(rec0)
    assert sum(lines["crossing"]) > 0 and occ_frames == c.captured, (lines, occ_frames)
    frames = {k: sum(b.cameras["sample"].frames[k] for b in rec.buckets) for k in ("captured", "inferred", "idle")}
    assert frames == {"captured": c.captured, "inferred": c.inferred, "idle": c.idle}, frames


def test_small_copies_are_zeroed_when_the_camera_stops(runs):
    for runner, _, _ in runs.values():
        assert not any(b.any() for b in runner.readers[0].motion.buffers())
