"""run.wiring builds a runner's sinks before the runner and hands them over whole, in flush order; /setup reads
the camera's counting object instead of a patched tracker."""

from __future__ import annotations

import re
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import yaml
from prometheus_client import generate_latest

from edgeanon.config.loader import parse_config
from edgeanon.counting.detections import Detections
from edgeanon.outputs.live import CameraStatus
from edgeanon.outputs.store import AggregateStore
from edgeanon.pixels.detector.manifest import InputSpec
from edgeanon.run.camera import CameraCounting
from edgeanon.run.runner import STAGES
from edgeanon.run.wiring import setup_boxes, wire
from edgeanon.web.live_boxes import BOX_MAX_AGE_S
from tests.helpers.paths import DEFAULT_CONFIG

ROOT = Path(__file__).resolve().parents[2]
SHA = "ab" * 32


def test_nothing_appends_to_a_runners_sinks_from_outside():
    pattern = re.compile(r"\.sinks\.append\(")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("src", "benchmarks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == [], "sinks are handed to the Runner when it is built (run.wiring): " + ", ".join(found)


def config(**extra: object):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data.update(extra)
    return parse_config(yaml.safe_dump(data, sort_keys=False))


def wired(tmp_path: Path, cfg, **kw):
    store = AggregateStore(tmp_path / "aggregates.db", retention_days=cfg.retention.aggregates_days)
    # never started: no detector is loaded (the runner checks the input sizes against the entry's input)
    spec = InputSpec(width=416, height=416, multiple=32, color="BGR")
    fake = SimpleNamespace(name="fake", entry=SimpleNamespace(sha256=SHA, input=spec))
    return wire(cfg, store, detectors=[fake], **kw)


def names(w) -> list[str]:
    return [type(s).__name__ for s in w.runner.aggregator.sinks]


def test_sinks_reach_the_runner_in_flush_order(tmp_path):
    w = wired(tmp_path, config())
    assert names(w) == ["StoreSink", "PrometheusSink", "StatusSink"]
    assert w.runner.aggregator.sinks == [w.store_sink, w.prometheus, w.live]
    w.store.close()


def test_console_mqtt_and_push_push_last(tmp_path):
    cfg = config(
        push={"url": "http://127.0.0.1:9", "store": "shop-1", "device": "box-1"},
        mqtt={"host": "127.0.0.1", "port": 9, "site": "shop-1"},
    )
    w = wired(tmp_path, cfg, quiet=False)
    assert names(w) == ["StoreSink", "ConsoleSink", "PrometheusSink", "StatusSink", "MqttSink", "PushSink"]
    text = generate_latest(w.prometheus.registry).decode()
    assert "edgeanon_mqtt_connected 0.0" in text  # its health is on the same registry
    w.store.close()


def test_sinks_built_before_the_runner_read_its_statuses(tmp_path):
    w = wired(tmp_path, config())
    text = generate_latest(w.prometheus.registry).decode()
    assert 'edgeanon_camera_up{camera="sample"} 0.0' in text
    assert f'model_sha256="{SHA}"' in text
    assert "edgeanon_store_backlog_buckets 0.0" in text
    w.store.close()


def test_last_boxes_are_the_confirmed_tracks_in_frame_pixels():
    cfg = config()
    a = CameraCounting(cfg.cameras[0], cfg)
    assert a.last_boxes.shape == (0, 4) and a.last_boxes.dtype == np.float32
    box = np.array([[100, 100, 160, 260]], np.float32)
    timings = dict.fromkeys(STAGES, 0.0)
    a.track(Detections(box, np.array([0.9], np.float32)), 0.0, (1280, 720), 0, timings)
    assert cfg.tracker.confirm_hits > 1 and a.last_boxes.shape == (0, 4)  # a new track is not confirmed yet
    for i in range(1, cfg.tracker.confirm_hits + 1):
        a.track(Detections(box + i, np.array([0.9], np.float32)), i * 0.1, (1280, 720), 0, timings)
    assert a.last_boxes.dtype == np.float32 and a.last_boxes.shape == (1, 4)
    np.testing.assert_allclose(a.last_boxes, box + cfg.tracker.confirm_hits, atol=1e-3)
    a.track(Detections.empty(), 1.0, (1280, 720), 0, timings)
    assert a.last_boxes.shape == (0, 4)  # nobody seen in this frame: nothing to outline


def test_setup_boxes_are_none_once_the_camera_delivers_nothing():
    boxes = np.array([[1, 2, 30, 80]], np.float32)
    status = CameraStatus("sample")
    runner = SimpleNamespace(analytics={"sample": SimpleNamespace(last_boxes=boxes)}, statuses=lambda: [status])
    read = setup_boxes(runner)
    assert read("sample") is None and read("other") is None  # no frame yet; no such camera
    status.last_frame = time.monotonic()
    assert read("sample") is boxes
    status.last_frame = time.monotonic() - BOX_MAX_AGE_S - 0.1
    assert read("sample") is None


def test_build_info_names_the_model_the_runner_loaded(tmp_path):
    cfg = config()
    store = AggregateStore(tmp_path / "aggregates.db", retention_days=cfg.retention.aggregates_days)
    w = wire(cfg, store)  # the runner loads its own detector, after the sinks are built
    text = generate_latest(w.prometheus.registry).decode()
    assert f'model_sha256="{w.runner.model_sha256}"' in text
    store.close()
