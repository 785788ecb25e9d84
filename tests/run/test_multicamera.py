"""Several cameras in one process share one detector session and keep separate state."""

from __future__ import annotations

import copy

import yaml

from edgeanon.config.loader import parse_config
from tests.helpers.paths import DEFAULT_CONFIG
from tests.helpers.pipeline import RawObserver, RecordingSink, run_to_end


def test_two_cameras_share_a_session_and_count_independently():
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    cam = data["cameras"][0]
    cam["source"].update({"realtime": False, "loop": False})
    second = copy.deepcopy(cam)
    second["id"] = "sample2"
    second["fps"] = 5  # pacing on the file's own timeline: every other frame
    second["input"] = "384x288"  # its own model input; the first camera's is auto over its roi (see below)
    data["cameras"].append(second)
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


def test_an_overloaded_box_shares_the_detector_fairly_between_cameras():
    """Five realtime copies of the clip at 10 frames/s on the fp32 model with one thread is more than this
    machine infers, so frames are dropped; every camera must still get a fair share. Their frames arrive at
    the same instants, the worst case: oldest-frame-first alone starved one camera to a few percent."""
    import time

    from edgeanon.run.runner import Runner

    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    cam = data["cameras"][0]
    cam["source"].update({"realtime": True, "loop": True})
    data["detector"] = {"model": "nanodet-coco", "threads": 1}
    data["cameras"] = []
    for i in range(5):
        c = copy.deepcopy(cam)
        c["id"] = f"cam{i}"
        data["cameras"].append(c)
    data["entrances"] = []
    cfg = parse_config(yaml.safe_dump(data), "five-cameras.yaml")
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
