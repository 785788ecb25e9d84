"""Privacy invariants, each proved on a real run of the pipeline over the bundled clip.

1. Raw frames are zeroed and no reference to them survives (buffer identity + refcounts). Every preprocessor
   buffer, the channel planes included, is zero after every inference. A frame is released before its results
   are queued to the analytics thread, and what is queued holds no pixel array. A frame whose inference raises
   is zeroed and counted too.
2. Nothing encodes or writes pixels (runtime tripwires; the subprocess strace test is in test_no_writes.py).
3. Frame accounting balances, and only the release path counts releases.
4. Every label value on the real /metrics of a real `edgeanon run` (attributes, a heatmap, k=5) comes from the
   config or a fixed list in the code.
"""

from __future__ import annotations

import ast
import re
import sys
import time
import urllib.request
import weakref
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edgeanon.counting.bins import DWELL_BUCKETS_S
from edgeanon.counting.results import DIRECTIONS, FATES
from edgeanon.pixels.capture import CameraReader
from edgeanon.pixels.detector.detector import PersonDetector
from edgeanon.pixels.frames import Fate, FramePool
from edgeanon.run.runner import Runner
from tests.helpers.pipeline import RecordingSink, clip_config, run_to_end

SRC = Path(__file__).resolve().parents[1] / "src" / "edgeanon"


@pytest.fixture(scope="module")
def traced_run():
    """One full run with every frame buffer watched by weakref, and write tripwires armed."""
    seen: list[weakref.ref] = []
    orig_adopt = FramePool.adopt

    def adopt(self, frame, replaced):
        orig_adopt(self, frame, replaced)
        seen.append(weakref.ref(frame))
        seen.extend(weakref.ref(b) for b in self._free)

    writes: list[str] = []

    def refuse(name):
        def _fail(*args, **kwargs):
            writes.append(name)
            raise AssertionError(f"{name} called: pixels must never be encoded or written")

        return _fail

    armed = {"on": False}

    def audit(event, args):
        if (
            armed["on"]
            and event == "open"
            and len(args) > 1
            and isinstance(args[1], str)
            and any(c in args[1] for c in "wax+")
        ):
            writes.append(f"open({args[0]!r}, {args[1]!r})")

    sys.addaudithook(audit)  # audit hooks cannot be removed; it only acts while armed

    # After every inference, every preprocessor buffer must be zero (checked in the worker, at once).
    orig_infer = PersonDetector.infer
    inferences = {"n": 0, "dirty": []}

    def infer(self, frame, size=None, before_run=None):
        try:
            return orig_infer(self, frame, size, before_run)
        finally:
            inferences["n"] += 1
            # every input size's buffers (issue 15: one preprocessor per size), not only the one just used
            inferences["dirty"] += [
                n for pre in self.preprocessors() for n, a in preprocessor_buffers(pre).items() if a.any()
            ]

    # The order of releases and hand-overs to the analytics thread, and what each hand-over carries.
    events: list[tuple[str, str, float]] = []
    pixels_queued: list[str] = []
    orig_release, orig_hand_on = CameraReader.release, Runner._hand_on

    def release(self, frame, fate=Fate.INFERRED):
        orig_release(self, frame, fate)
        events.append(("release", self.cam.id, frame.t))

    def hand_on(self, item, me, keep):
        events.append(("queue", item.camera, item.t))
        pixels_queued.extend(pixel_like_arrays(item))
        orig_hand_on(self, item, me, keep)

    mp = pytest.MonkeyPatch()
    mp.setattr(FramePool, "adopt", adopt)
    mp.setattr(PersonDetector, "infer", infer)
    mp.setattr(CameraReader, "release", release)
    mp.setattr(Runner, "_hand_on", hand_on)
    for name in ("imwrite", "imencode", "VideoWriter", "imwritemulti"):
        if hasattr(cv2, name):
            mp.setattr(cv2, name, refuse(f"cv2.{name}"))
    for name in ("save", "savez", "savez_compressed", "savetxt"):
        mp.setattr(np, name, refuse(f"np.{name}"))
    rec = RecordingSink()
    armed["on"] = True
    try:
        runner = run_to_end(clip_config(), [rec])
    finally:
        armed["on"] = False
        mp.undo()
    runner.traced = SimpleNamespace(inferences=inferences, events=events, pixels_queued=pixels_queued)
    return runner, rec, seen, writes


def preprocessor_buffers(pre) -> dict[str, np.ndarray]:
    """Every array the preprocessor holds that is big enough to hold pixels, by attribute name (lists indexed).

    Found by walking its attributes rather than by a list of names, so a buffer added later is checked too;
    the small arrays left out are the mapping back to frame pixels and the normalisation constants.
    """
    found: dict[str, np.ndarray] = {}
    for name, value in vars(pre).items():
        items = enumerate(value) if isinstance(value, (list, tuple)) else [(None, value)]
        for i, a in items:
            if isinstance(a, np.ndarray) and a.size >= 64:
                found[name if i is None else f"{name}[{i}]"] = a
    return found


def pixel_like_arrays(obj, path: str = "item", depth: int = 0) -> list[str]:
    """Paths of arrays in ``obj`` that are, or are views of, an HxWx3 uint8 image: none may reach analytics."""
    found: list[str] = []
    if depth > 6 or obj is None or isinstance(obj, (str, bytes, int, float, bool)):
        return found
    if isinstance(obj, np.ndarray):
        root = obj
        while isinstance(root.base, np.ndarray):
            root = root.base
        if any(a.dtype == np.uint8 and a.ndim == 3 and a.shape[-1] == 3 for a in (obj, root)):
            found.append(path)
        return found
    if isinstance(obj, dict):
        for k, v in obj.items():
            found += pixel_like_arrays(v, f"{path}[{k!r}]", depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            found += pixel_like_arrays(v, f"{path}[{i}]", depth + 1)
    elif isinstance(obj, (CameraReader, PersonDetector)):
        found.append(f"{path} ({type(obj).__name__}, which owns pixel buffers)")  # only numbers reach analytics
    elif hasattr(obj, "__dataclass_fields__") or hasattr(obj, "__slots__") or hasattr(obj, "__dict__"):
        names = getattr(obj, "__dataclass_fields__", None) or getattr(obj, "__slots__", None) or vars(obj)
        for name in names:
            found += pixel_like_arrays(getattr(obj, name, None), f"{path}.{name}", depth + 1)
    return found


def test_tripwires_never_fire(traced_run):
    _, rec, _, writes = traced_run
    assert writes == []
    assert len(rec.frames) == 250  # the run really went through the whole clip


def test_tripwires_can_fire():
    """The same audit mechanism sees numpy's tofile/save, so the test above would fail if they ran."""
    opened: list[str] = []

    def hook(event, args):
        if event == "open" and len(args) > 1 and isinstance(args[1], str) and "w" in args[1]:
            opened.append(str(args[0]))

    sys.addaudithook(hook)
    np.zeros(4, np.uint8).tofile("/dev/null")
    assert "/dev/null" in opened


def test_every_frame_buffer_is_zeroed_and_unreferenced(traced_run):
    runner, _, seen, _ = traced_run
    (reader,) = runner.readers
    pool_ids = {id(b) for b in reader.pool._free}
    assert len(pool_ids) <= 3
    alive = [r() for r in seen if r() is not None]
    assert alive, "the weakref watch saw no buffers"
    ctrl = np.zeros(1)
    pool_like, alive_like = [ctrl], [ctrl]  # referenced exactly like a pooled buffer is here
    del ctrl
    for c in alive_like:
        baseline = sys.getrefcount(c)
    del pool_like, alive_like, c
    for buf in alive:
        assert id(buf) in pool_ids, "a frame buffer outside the pool is still alive"
        assert not buf.any(), "a pooled frame buffer still holds pixels"
        assert sys.getrefcount(buf) == baseline, "something (a view?) still references a frame buffer"
    del alive


def test_every_preprocessor_buffer_is_zero_after_every_inference(traced_run):
    """The model input, the resized image and the three channel planes: zero after each of the 250 inferences,
    checked in the worker thread the moment ``infer`` returns, and still zero after the run."""
    runner, _, _, _ = traced_run
    inferences = runner.traced.inferences
    assert inferences["n"] == 250
    assert inferences["dirty"] == []
    for det in runner.detectors:
        assert len(det.preprocessors()) >= 2  # the manifest's size and the camera's (auto: 416x320)
        for pre in det.preprocessors():
            buffers = preprocessor_buffers(pre)
            assert {"input", "_resized", "_planes[0]", "_planes[1]", "_planes[2]"} <= set(buffers), set(buffers)
            assert [name for name, a in buffers.items() if a.any()] == []


def test_frames_are_released_before_their_results_are_queued(traced_run):
    """Each frame's pixels are zeroed (released) before its numbers are handed to the analytics thread, and
    nothing handed over is an image or a view of one."""
    runner, _, _, _ = traced_run
    events, queued = runner.traced.events, runner.traced.pixels_queued
    released: set[tuple[str, float]] = set()
    early = []
    for kind, cam, t in events:
        if kind == "release":
            released.add((cam, t))
        elif (cam, t) not in released:
            early.append((cam, t))
    assert sum(1 for e in events if e[0] == "queue") == 250
    assert early == [], f"results queued before their frame was released: {early[:5]}"
    assert queued == [], queued[:5]


def test_idle_skipping_copies_are_zero_after_the_run(traced_run):
    """The motion test's small grey copies (``pixels.motion``, on by default) are pixels: all zero once the camera
    has stopped, though they held the last inferred frame's copy during the run."""
    runner, _, _, _ = traced_run
    assert runner.cfg.detector.skip_idle
    for reader in runner.readers:
        buffers = reader.motion.buffers()
        assert all(b.shape[1] == 64 for b in buffers), [b.shape for b in buffers]  # it ran (64 cells across)
        assert not any(b.any() for b in buffers)


def test_frame_accounting_balances(traced_run):
    runner, rec, _, _ = traced_run
    c = runner.statuses()[0].counters
    assert c.captured == 250 and c.inferred == 250
    assert c.captured == c.inferred + c.dropped + c.skipped + c.idle == c.released
    frames = {k: sum(b.cameras["sample"].frames[k] for b in rec.buckets) for k in FATES}
    assert frames["captured"] == c.captured and frames["inferred"] == c.inferred


def test_only_the_release_path_counts_releases():
    """Static check: `released +=` and fate counters are written in FramePool.release only."""
    writers = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for sub in ast.walk(node):
                    if (
                        isinstance(sub, ast.AugAssign)
                        and isinstance(sub.target, ast.Attribute)
                        and sub.target.attr in {"released", "inferred", "dropped", "skipped", "idle"}
                    ):
                        writers.append((path.name, node.name, sub.target.attr))
    assert sorted({(f, fn) for f, fn, _ in writers}) == [("frames.py", "release")], writers


def test_source_never_calls_pixel_writers():
    """A bonus to the runtime tripwires: no pixel-writing call appears anywhere in src/."""
    banned = {"imwrite", "imencode", "VideoWriter", "imwritemulti", "tofile", "save", "savez", "savetxt"}
    hits = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in banned
                and not (
                    isinstance(node.value, ast.Name)
                    and node.value.id not in {"cv2", "np", "numpy"}
                    and node.attr not in {"tofile", "imwrite", "imencode", "VideoWriter"}
                )
            ):
                hits.append(f"{path.name}:{node.lineno}: {node.attr}")
    assert hits == []


class FailingSession:
    """A real onnxruntime session whose ``run`` raises once, on call ``fail_at``, after preprocessing has filled
    the model input with a real frame's pixels (checked at that moment)."""

    def __init__(self, session, preprocessors, fail_at: int) -> None:
        self._session, self._preprocessors, self.fail_at = session, preprocessors, fail_at
        self.calls = 0
        self.had_pixels = False

    def run(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.fail_at:
            self.had_pixels = any(pre.input.any() for pre in self._preprocessors())
            raise RuntimeError("injected inference failure")
        return self._session.run(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._session, name)


def test_a_frame_whose_inference_raises_is_zeroed_and_counted():
    """The real detector and session, with ``session.run`` raising for frame 100. That frame's buffer is zero
    right after its release, the preprocessor's buffers are zero right after the failed call, the frame is
    counted once (captured = inferred + dropped + skipped = released), and every other frame is counted on."""
    from edgeanon.pixels.detector.detector import load_detector
    from edgeanon.pixels.detector.session import SessionSettings

    cfg = clip_config()
    detector = load_detector(cfg.detector.model, SessionSettings(threads=cfg.detector.threads, spinning=False))
    failing = FailingSession(detector.session, detector.preprocessors, fail_at=100)
    detector.session = failing
    seen: dict[str, object] = {}
    orig_infer, orig_release = PersonDetector.infer, FramePool.release

    def infer(self, frame, size=None, before_run=None):
        try:
            return orig_infer(self, frame, size, before_run)
        except RuntimeError:
            # the runner hands the detector a view of the camera's roi: follow it to the frame buffer it shows
            seen["buffer_id"] = id(frame if frame.base is None else frame.base)
            seen["dirty_after_raise"] = [
                n for pre in self.preprocessors() for n, a in preprocessor_buffers(pre).items() if a.any()
            ]
            raise

    def release(self, buf, fate):
        orig_release(self, buf, fate)
        if id(buf) == seen.get("buffer_id") and "zero_after_release" not in seen:
            seen["zero_after_release"] = not buf.any()

    rec = RecordingSink()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PersonDetector, "infer", infer)
        mp.setattr(FramePool, "release", release)
        runner = Runner(cfg, [rec], detectors=[detector])
        runner.start()
        deadline = time.monotonic() + 240
        while not (finished := runner.all_finished()) and time.monotonic() < deadline:
            runner.tick()
            time.sleep(0.05)
        runner.stop()
    assert finished, "the pipeline did not finish the clip after the failure"
    assert failing.calls >= 250 and failing.had_pixels, "the failure must strike with pixels in the model input"
    assert seen["dirty_after_raise"] == []
    assert seen["zero_after_release"] is True
    c = runner.statuses()[0].counters
    assert c.captured == 250
    assert c.captured == c.inferred + c.dropped + c.skipped + c.idle == c.released
    assert c.inferred == 250  # read as fast as the detector goes, nothing is dropped: the failed frame is here
    assert len(rec.frames) == 249  # every frame but the failed one reached analytics and the sinks
    frames = {k: sum(b.cameras["sample"].frames[k] for b in rec.buckets) for k in FATES}
    assert frames["captured"] == 250 == sum(frames[k] for k in FATES if k != "captured")
    (reader,) = runner.readers
    assert all(not b.any() for b in reader.pool._free)


LABEL_RUN_PURPOSES = ("occupancy", "flow", "dwell", "queue", "heatmap", "attributes")


def test_exported_labels_on_the_real_metrics_come_from_config_or_fixed_lists(tmp_path):
    """A real `edgeanon run` with every purpose, attributes, an 8x8 heatmap and k=5, scraped over HTTP after
    two buckets closed: every label value is a config name or in one of the code's fixed lists."""
    from edgeanon import __version__
    from edgeanon.counting.bins import FACE_OUTCOMES, KINDS
    from edgeanon.outputs.prometheus import INFERENCE_BUCKETS
    from edgeanon.pixels.detector.manifest import load_manifest
    from tests.helpers.service import base_config, clip_camera, running, write_config
    from tests.helpers.waiting import wait_for

    camera = clip_camera(
        "sample",
        zones=[
            {"name": "road", "polygon": [[0, 195], [640, 150], [768, 420], [0, 235]]},
            {"name": "kerb", "polygon": [[300, 150], [768, 150], [768, 300], [300, 300]], "queue": True},
        ],
        heatmap={"rows": 8, "cols": 8},
    )
    data = base_config(tmp_path, [camera], privacy={"k": 5})
    data["purposes"] = [
        {"id": p, "justification": f"Test that {p} exports only aggregates."} for p in LABEL_RUN_PURPOSES
    ]
    data["attributes"] = {"estimate": ["age_band", "gender"]}
    cfg = write_config(tmp_path, data)
    with running(cfg, tmp_path, "--quiet") as svc:
        text = ""

        def two_buckets() -> bool:
            nonlocal text
            text = urllib.request.urlopen(svc.url("/metrics"), timeout=10).read().decode()
            return "edgeanon_buckets_total 2.0" in text or re.search(r"edgeanon_buckets_total [3-9]", text) is not None

        assert wait_for(two_buckets, timeout=120, interval=1.0), svc.log()[-2000:]
    manifest, _ = load_manifest()
    allowed = (
        {"sample", "road", "kerb", "crossing"}
        | set(DIRECTIONS)
        | set(FATES)
        | {"+Inf" if b == float("inf") else repr(float(b)) for b in DWELL_BUCKETS_S}
        | {repr(b) for b in INFERENCE_BUCKETS}
        | set(KINDS)
        | {b for bins in KINDS.values() for b in bins}
        | set(FACE_OUTCOMES)
        | {str(i) for i in range(8)}  # heatmap rows and columns
        | {__version__, manifest.models["nanodet-coco-int8"].sha256}
    )
    families = {fam.name: fam for fam in text_string_to_metric_families(text)}
    values = {v for fam in families.values() for smp in fam.samples for v in smp.labels.values()}
    assert values - allowed == set(), values - allowed
    for name in ("edgeanon_heatmap_presence", "edgeanon_attribute_faces", "edgeanon_line_crossings",
                 "edgeanon_zone_dwell_seconds", "edgeanon_queue_length", "edgeanon_frames"):  # fmt: skip
        assert families.get(name) and families[name].samples, f"{name} missing from the scrape"
    rows = {smp.labels["row"] for smp in families["edgeanon_heatmap_presence"].samples}
    assert rows == {str(i) for i in range(8)}
