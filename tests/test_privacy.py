"""Privacy invariants, each proved on a real run of the pipeline over the bundled clip.

1. Raw frames are zeroed and no reference to them survives (buffer identity + refcounts).
2. Nothing encodes or writes pixels (runtime tripwires; the subprocess strace test is in test_no_writes.py).
3. Frame accounting balances, and only the release path counts releases.
4. Every exported label value comes from the config or a fixed list in the code.
"""

from __future__ import annotations

import ast
import sys
import weakref
from pathlib import Path

import cv2
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edgeanon.aggregate import DIRECTIONS, DWELL_BUCKETS_S, FATES
from edgeanon.capture import FramePool
from tests.pipeline_helpers import RecordingSink, clip_config, run_to_end

SRC = Path(__file__).resolve().parent.parent / "src" / "edgeanon"


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
    mp = pytest.MonkeyPatch()
    mp.setattr(FramePool, "adopt", adopt)
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
    return runner, rec, seen, writes


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


def test_model_input_buffers_are_zeroed(traced_run):
    runner, _, _, _ = traced_run
    for det in runner.detectors:
        assert not det.preprocess.input.any()
        assert not det.preprocess._resized.any()


def test_frame_accounting_balances(traced_run):
    runner, rec, _, _ = traced_run
    c = runner.statuses()[0].counters
    assert c.captured == 250 and c.inferred == 250
    assert c.captured == c.inferred + c.dropped + c.skipped == c.released
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
                        and sub.target.attr in {"released", "inferred", "dropped", "skipped"}
                    ):
                        writers.append((path.name, node.name, sub.target.attr))
    assert sorted({(f, fn) for f, fn, _ in writers}) == [("capture.py", "release")], writers


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


def test_exported_labels_come_from_config_or_fixed_lists(traced_run):
    from edgeanon.sinks.prometheus import PrometheusSink

    runner, rec, _, _ = traced_run
    cfg = runner.cfg
    layout = {c.id: ([z.name for z in c.zones], [ln.name for ln in c.lines], []) for c in cfg.cameras}
    sink = PrometheusSink(layout, runner.model_sha256, runner.statuses)
    for result in rec.frames:  # replay the run's aggregates through the exposition
        sink.on_frame(result, 0)
    from prometheus_client import generate_latest

    text = generate_latest(sink.registry).decode()
    allowed = (
        {c.id for c in cfg.cameras}
        | {z.name for c in cfg.cameras for z in c.zones}
        | {ln.name for c in cfg.cameras for ln in c.lines}
        | set(DIRECTIONS)
        | set(FATES)
        | {"+Inf" if b == float("inf") else repr(b) for b in DWELL_BUCKETS_S}
    )
    from edgeanon.attributes.bins import FACE_OUTCOMES, KINDS

    allowed |= set(KINDS) | {b for bins in KINDS.values() for b in bins}  # attribute kinds and bins: fixed lists
    allowed |= set(FACE_OUTCOMES)
    allowed |= {repr(b) for b in (0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28)}
    from edgeanon import __version__

    allowed |= {__version__, runner.model_sha256}
    values = {v for fam in text_string_to_metric_families(text) for s in fam.samples for v in s.labels.values()}
    assert values - allowed == set(), values - allowed
    assert "edgeanon_line_crossings_total" in text and 'direction="in"' in text
