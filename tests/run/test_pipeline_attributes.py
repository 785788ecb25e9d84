"""The opt-in attribute stage inside the real pipeline: loaded only when declared, run on the frame before its
release, and counted only when a track crosses a line or leaves a zone."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from edgeanon.counting.bins import AGE_BANDS, FACE_OUTCOMES, GENDERS
from edgeanon.run.camera import CameraCounting, Tracked
from tests.helpers.face_stage import STAGE_MODULES, attribute_config
from tests.helpers.pipeline import RecordingSink, run_to_end
from tests.helpers.synthetic_tracks import line_path, stream, walk

LOADED = textwrap.dedent(
    """
    import sys
    from tests.helpers.pipeline import run_to_end, clip_config
    from tests.helpers.face_stage import STAGE_MODULES, attribute_config
    cfg = attribute_config() if sys.argv[1] == "on" else clip_config()
    runner = run_to_end(cfg)
    loaded = [m for m in STAGE_MODULES if m in sys.modules]
    print(len(runner.stages), ",".join(loaded))
    """
)


@pytest.mark.parametrize("declared", ["off", "on"])
def test_attribute_models_load_only_when_the_purpose_is_declared(declared):
    """Without the purpose nothing of the stage is even imported (so no model can be read); with it, it is."""
    out = subprocess.run(
        [sys.executable, "-c", LOADED, declared], capture_output=True, text=True, check=True, timeout=300
    ).stdout.split()
    if declared == "off":
        assert out == ["0"], out  # no stage, and none of its modules imported
    else:
        assert out[0] == "1" and out[1].split(",") == list(STAGE_MODULES)


def test_clip_reports_an_honest_skip_count_with_the_default_face_size():
    """vtest is filmed from high above: people are ~100 px tall, faces a few pixels. With the default
    min_face_px every confirmed track the stage looks at is counted as skipped, and nothing is estimated."""
    rec = RecordingSink()
    runner = run_to_end(attribute_config(), [rec])
    faces: dict[str, int] = {}
    for b in rec.buckets:
        for k, n in b.cameras["sample"].faces.items():
            faces[k] = faces.get(k, 0) + n
    assert set(faces) <= set(FACE_OUTCOMES)
    attempted = sum(faces.values())
    crossings = sum(lb.in_ + lb.out for b in rec.buckets for lb in b.cameras["sample"].lines.values())
    assert crossings >= 5  # the clip's people do cross; each crossing track is confirmed, so it was looked at
    assert attempted >= crossings
    assert faces.get("estimated", 0) == 0
    assert all(
        kind not in {"age_band", "gender"} for b in rec.buckets for (kind, _, _) in b.cameras["sample"].attributes
    )
    stage = runner.stages[0]
    assert all(not buf.any() for buf in stage.pixel_buffers)


def test_stage_sees_the_live_frame_and_its_buffers_are_zero_afterwards(monkeypatch, caplog):
    """The frame is held (not yet zeroed) while the stage runs on it, and only bins come back."""
    from edgeanon.pixels.faces.stage import AttributeStage

    original = AttributeStage.estimate

    def spy(self, frame, boxes):
        calls.append((id(self), (bool(frame.any()), len(boxes), frame.shape)))
        out = original(self, frame, boxes)
        assert all(not b.any() for b in self.pixel_buffers)  # zeroed before the frame is released
        assert [a.dtype for a in out] == [np.int8, np.int8, np.uint8]
        return out

    calls: list[tuple[int, tuple[bool, int, tuple[int, ...]]]] = []
    monkeypatch.setattr(AttributeStage, "estimate", spy)
    rec = RecordingSink()
    runner = run_to_end(attribute_config(min_face_px=12), [rec])
    # the patch is on the class, so only this runner's stages are counted
    ours = {id(st) for st in runner.stages}
    seen = [x for c, x in list(calls) if c in ours]
    assert seen, "the stage never ran"
    assert all(live for live, _, _ in seen)
    assert all(shape == (576, 768, 3) for _, _, shape in seen)  # the frame's own resolution, not the model's
    errors = [r.getMessage() + (r.exc_text or "") for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    faces: dict[str, int] = {}
    for b in rec.buckets:  # summed: a run that crosses a minute boundary has two buckets
        for k, n in b.cameras["sample"].faces.items():
            faces[k] = faces.get(k, 0) + n
    # every looked-at track is counted once (a failure inside the stage would log and lose its outcomes)
    assert sum(faces.values()) == sum(n for _, n, _ in seen), (faces, seen, errors, len(rec.buckets))
    assert not errors


# ---- counting: only at line crossings and zone exits, with the estimate of the track that did it


def _analytics(estimate=("age_band", "gender")) -> tuple[CameraCounting, tuple[int, int]]:
    cfg = attribute_config(estimate=estimate)
    cam = cfg.cameras[0]
    return CameraCounting(cam, cfg), (768, 576)


def _walker_across_the_line(t0: float = 0.0):
    # the default config's line is x = 470 from y 150 to 380; the road zone covers y ~ 200..400 around it
    return walk(line_path((400.0, 300.0), (560.0, 300.0), 17), t0=t0, confirm_at=2)


def test_estimates_are_counted_at_the_crossing_and_at_the_zone_exit_only():
    ca, size = _analytics()
    tus = stream({1: _walker_across_the_line()}, capacity=ca.capacity)
    timings = dict.fromkeys(("track", "analytics"), 0.0)
    per_frame = []
    for i, tu in enumerate(tus):
        estimates = None
        if tu.confirmed.any() and i == 2:  # the stage reports when the track is first confirmed
            estimates = (tu.slot[tu.confirmed], np.array([2], np.int8), np.array([0], np.int8))
        r = ca.analyse(Tracked(tu, 0, size), timings, estimates)
        per_frame.append({k: n for k, n in r.attributes.items() if k[0] in {"age_band", "gender"}})
    crossing = [f for f in per_frame if any(k[1] == "crossing" for k in f)]
    exits = [f for f in per_frame if any(k[1] == "road" for k in f)]
    assert crossing == [{("age_band", "crossing", AGE_BANDS[2]): 1, ("gender", "crossing", GENDERS[0]): 1}]
    assert exits == [{("age_band", "road", AGE_BANDS[2]): 1, ("gender", "road", GENDERS[0]): 1}]
    assert sum(bool(f) for f in per_frame) == 2  # nothing in any other frame


def test_a_reused_slot_inherits_nothing_and_only_the_declared_kind_is_counted():
    ca, size = _analytics(estimate=("gender",))
    first = _walker_across_the_line()
    # the second walker starts after the first ended and takes the freed slot (lowest free first); it is
    # confirmed and estimated on its very first frame, the same frame its slot is reset for it
    second = walk(line_path((400.0, 300.0), (560.0, 300.0), 17), t0=first[-1][0] + 0.5, confirm_at=0)
    third = walk(line_path((400.0, 300.0), (560.0, 300.0), 17), t0=second[-1][0] + 0.5, confirm_at=2)
    tus = stream({1: first, 2: second, 3: third}, capacity=ca.capacity)
    timings = dict.fromkeys(("track", "analytics"), 0.0)
    counted: dict[tuple[str, str, str], int] = {}
    for tu in tus:
        estimates = None
        if len(tu.dets) and tu.just_confirmed.any() and tu.t < third[0][0]:  # the third is never estimated
            male = tu.t < second[0][0]
            estimates = (tu.slot[tu.just_confirmed], np.array([4], np.int8), np.array([int(male)], np.int8))
        r = ca.analyse(Tracked(tu, 0, size), timings, estimates)
        for k, n in r.attributes.items():
            if k[0] in {"age_band", "gender"}:
                counted[k] = counted.get(k, 0) + n
    assert {s for tu in tus for s in tu.started.tolist()} == {0}  # all three used slot 0
    # no age (not declared), and the third walker, never estimated, inherits nothing from the second
    assert counted == {
        ("gender", "crossing", "male"): 1,
        ("gender", "road", "male"): 1,
        ("gender", "crossing", "female"): 1,
        ("gender", "road", "female"): 1,
    }


def test_a_failing_attribute_stage_releases_the_frame_and_counting_goes_on(monkeypatch, caplog):
    """A stage that raises (a broken model, a bad frame) loses only the estimates: the frame is released
    and counted like any other, and the run goes on."""
    from edgeanon.pixels.faces.stage import AttributeStage

    calls = []

    def broken(self, frame, boxes):
        calls.append(len(boxes))
        raise RuntimeError("attribute stage failed")

    monkeypatch.setattr(AttributeStage, "estimate", broken)
    rec = RecordingSink()
    runner = run_to_end(attribute_config(min_face_px=12), [rec])
    assert calls, "the stage never ran"
    (status,) = runner.statuses()
    assert status.counters.balanced() and status.counters.inferred == 250  # every frame released, once
    assert len(rec.frames) == 250  # every frame still reaches the analytics and the sinks
    assert sum(lb.in_ + lb.out for b in rec.buckets for lb in b.cameras["sample"].lines.values()) >= 5
    assert "attribute stage failed" in caplog.text
