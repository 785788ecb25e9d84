"""Several cameras in one process share one detector session and keep separate state."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest
import yaml

from edgeanon.config.loader import parse_config
from tests.helpers.paths import CLIP, DEFAULT_CONFIG
from tests.helpers.pipeline import RawObserver, RecordingSink, run_to_end
from tests.helpers.streams import FFMPEG, require_ffmpeg


def test_two_cameras_share_a_session_and_count_independently():
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    cam = data["cameras"][0]
    cam["source"].update({"realtime": False, "loop": False})
    second = copy.deepcopy(cam)
    second["id"] = "sample2"
    second["fps"] = 5  # pacing on the file's own timeline: every other frame
    second["input"] = "384x288"  # its own model input; the first camera's is auto over its roi (see below)
    data["cameras"].append(second)
    data["detector"] = {"sessions": 1}  # one session shared (empty: one per camera, up to the cores)
    cfg = parse_config(yaml.safe_dump(data), "two-cameras.yaml")
    rec = RecordingSink()
    raw = RawObserver()
    runner = run_to_end(cfg, [rec], raw=raw)
    assert len(runner.detectors) == 1
    sizes = {(p.spec.width, p.spec.height) for p in runner.detectors[0].preprocessors()}
    # the manifest's, made at load, and one per camera: roi auto is the top 768x507 of the 768x576 frame
    # (config/region.py), at the full frame's scale 416/768 that is 416x274.6, to the nearest multiple: 416x288
    assert sizes == {(416, 416), (416, 288), (384, 288)}
    status = {s.camera: s.counters for s in runner.statuses()}
    assert status["sample"].inferred == 250 and status["sample"].dropped == 0
    assert status["sample2"].inferred == 125 and status["sample2"].skipped == 125
    assert all(c.balanced() for c in status.values())
    by_cam = {c: [r for r in raw.results if r.camera == c] for c in status}  # crossings per frame: raw only
    assert len(by_cam["sample"]) == 250 and len(by_cam["sample2"]) == 125
    ins = {c: sum(r.crossings["crossing"][0] for r in rs) for c, rs in by_cam.items()}
    outs = {c: sum(r.crossings["crossing"][1] for r in rs) for c, rs in by_cam.items()}
    assert ins["sample"] + outs["sample"] >= 8  # the full-rate camera finds most of the 11 labelled events
    assert ins["sample2"] + outs["sample2"] >= 6  # at 5 fps tracking still holds most of them
    buckets = {c: sum(b.cameras[c].frames["inferred"] for b in rec.buckets) for c in status}
    assert buckets == {"sample": 250, "sample2": 125}


@pytest.mark.parametrize("batch", [1, 3])
def test_an_overloaded_box_shares_the_detector_fairly_between_cameras(batch):
    """Five realtime copies of the clip at 10 frames/s on the fp32 model with one thread is more than this
    machine infers, so frames are dropped; every camera must still get a fair share. Their frames arrive at
    the same instants, the worst case: oldest-frame-first alone starved one camera to a few percent. With
    batches of 3 over 5 cameras the groups are uneven (3 + 2): batch-mates are taken in the same order."""
    import time

    from edgeanon.pixels.detector import PersonDetector
    from edgeanon.run.runner import Runner

    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    cam = data["cameras"][0]
    cam["source"].update({"realtime": True, "loop": True})
    # one 1-thread fp32 session: more than it infers (empty sessions would give one per core, and no overload)
    data["detector"] = {"model": "nanodet-coco", "threads": 1, "sessions": 1, "batch": batch}
    data["cameras"] = []
    for i in range(5):
        c = copy.deepcopy(cam)
        c["id"] = f"cam{i}"
        data["cameras"].append(c)
    data["entrances"] = []
    cfg = parse_config(yaml.safe_dump(data), "five-cameras.yaml")
    sizes: list[int] = []
    orig = PersonDetector.infer_batch

    def infer_batch(self, images, size=None, before_run=None):
        sizes.append(len(images))
        return orig(self, images, size, before_run)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PersonDetector, "infer_batch", infer_batch)
        runner = Runner(cfg, [])
        runner.start()
        try:
            deadline = time.monotonic() + 6.0
            while time.monotonic() < deadline:
                runner.tick()
                time.sleep(0.1)
        finally:
            runner.stop()
    inferred = {s.camera: s.counters.inferred for s in runner.statuses()}
    dropped = sum(s.counters.dropped for s in runner.statuses())
    assert dropped > 0, f"not overloaded, the test proves nothing: {inferred}"
    assert min(inferred.values()) >= 0.6 * max(inferred.values()), inferred
    assert (max(sizes, default=1) > 1) == (batch > 1), sizes  # batches formed exactly when asked for


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    """The first 80 frames of the bundled clip (three labelled crossings, frames 13, 20, 68), copied as they are."""
    require_ffmpeg()
    out = tmp_path_factory.mktemp("clip") / "short.avi"
    cmd = [FFMPEG, "-v", "error", "-i", str(CLIP), "-frames:v", "80", "-c", "copy", str(out)]
    subprocess.run(cmd, check=True, timeout=60)
    return out


def _three_camera_run(clip: Path, batch: int) -> tuple[dict, dict, list[tuple[int, tuple]], list[str]]:
    """Three full-rate cameras on the same file, read as fast as the detector goes, the third at another model
    input size: counters and per-frame (occupancy, crossings) per camera, the frame count and input size of
    every batched run, and privacy faults: a result queued before its frame was released, or holding an image."""
    from edgeanon.pixels.capture import CameraReader
    from edgeanon.pixels.detector import PersonDetector
    from edgeanon.run.runner import Runner
    from tests.test_privacy import pixel_like_arrays

    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    cam = data["cameras"][0]
    cam["source"].update({"path": str(clip), "realtime": False, "loop": False})
    second = copy.deepcopy(cam)
    second["id"] = "sample2"
    third = copy.deepcopy(cam)
    third.update(id="sample3", input="384x288")  # the others: auto over their roi, 416x288
    data["cameras"] += [second, third]
    data["detector"].update(batch=batch, skip_idle=False)  # every frame inferred: counts compare frame by frame
    cfg = parse_config(yaml.safe_dump(data), f"batch-{batch}.yaml")
    sizes: list[tuple[int, tuple]] = []
    released: set[tuple[str, float]] = set()
    faults: list[str] = []
    infer_batch, release, hand_on = PersonDetector.infer_batch, CameraReader.release, Runner._hand_on

    def spy_infer_batch(self, images, size=None, before_run=None):
        sizes.append((len(images), size))
        return infer_batch(self, images, size, before_run)

    def spy_release(self, frame, fate):
        release(self, frame, fate)
        released.add((self.cam.id, frame.t))

    def spy_hand_on(self, item, me, keep):
        if (item.camera, item.t) not in released:
            faults.append(f"{item.camera} t={item.t} queued before its release")
        faults.extend(pixel_like_arrays(item))
        hand_on(self, item, me, keep)

    raw = RawObserver()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PersonDetector, "infer_batch", spy_infer_batch)
        mp.setattr(CameraReader, "release", spy_release)
        mp.setattr(Runner, "_hand_on", spy_hand_on)
        runner = run_to_end(cfg, [], raw=raw)
    counters = {s.camera: s.counters for s in runner.statuses()}
    frames = {c: [(r.occupancy, r.crossings) for r in raw.results if r.camera == c] for c in counters}
    return counters, frames, sizes, faults


def test_batched_runs_count_exactly_what_single_runs_count(short_clip):
    """batch 3 against batch 1: every frame inferred, and per camera the same per-frame occupancy and crossings;
    only the two cameras of one input size share runs; every frame of a batch is released (zeroed) before any
    of its results is queued, and no image is queued. Exact, because a batch gives each frame its single-run
    outputs (tests/pixels/detector/test_batch.py) and each camera's frames still reach its tracker one by one,
    in order."""
    one, frames_one, sizes_one, faults_one = _three_camera_run(short_clip, 1)
    three, frames_three, sizes_three, faults_three = _three_camera_run(short_clip, 3)
    assert sizes_one == [] and faults_one == [] and faults_three == []
    assert sizes_three, "no batched run happened: the test proves nothing"
    assert set(sizes_three) == {(2, (416, 288))}, "a batch mixed input sizes"
    for counters in (one, three):
        assert {c: (n.captured, n.inferred) for c, n in counters.items()} == dict.fromkeys(
            ("sample", "sample2", "sample3"), (80, 80)
        )
        assert all(n.balanced() for n in counters.values())
    assert sum(x + y for f in frames_one["sample"] for x, y in f[1].values()) >= 2  # crossings to compare
    assert frames_three == frames_one


def test_a_camera_input_the_model_cannot_run_is_refused_when_the_runner_is_built(fp32_detector):
    """``edgeanon run`` refuses it earlier, with file and line (tests/config/test_config_checks.py); a runner
    built in code still names the field."""
    import pytest

    from edgeanon.config.errors import ConfigError
    from edgeanon.run.runner import Runner

    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["cameras"][0]["input"] = "416x300"
    with pytest.raises(ConfigError, match=r"cameras\.0\.input: 416x300: both sides must be multiples of 32"):
        Runner(parse_config(yaml.safe_dump(data)), [], detectors=[fp32_detector])


def test_cameras_with_an_attribute_stage_are_never_batched(short_clip):
    """The attribute stage needs its frame's pixels after inference, so such a camera keeps the single-frame
    path whatever ``detector.batch`` says; every frame is still inferred."""
    from edgeanon.pixels.detector import PersonDetector
    from tests.helpers.face_stage import JUSTIFICATION

    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    cam = data["cameras"][0]
    cam["source"].update({"path": str(short_clip), "realtime": False, "loop": False})
    second = copy.deepcopy(cam)
    second["id"] = "sample2"
    data["cameras"].append(second)
    data["purposes"].append({"id": "attributes", "justification": JUSTIFICATION})
    data["attributes"] = {"estimate": ["age_band", "gender"]}
    data["detector"]["batch"] = 2
    cfg = parse_config(yaml.safe_dump(data), "attributes-batch.yaml")
    batched: list[int] = []
    infer_batch = PersonDetector.infer_batch

    def spy(self, images, size=None, before_run=None):
        batched.append(len(images))
        return infer_batch(self, images, size, before_run)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PersonDetector, "infer_batch", spy)
        runner = run_to_end(cfg, [])
    assert all(a.traits is not None for a in runner.analytics.values())
    assert batched == []
    assert {s.camera: s.counters.inferred for s in runner.statuses()} == {"sample": 80, "sample2": 80}
