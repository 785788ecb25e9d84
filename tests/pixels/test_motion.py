"""The motion test of idle skipping (``pixels.motion``) on a real frame of the bundled clip: a still pair, sensor
noise, a pasted block that moves, a slow drift, a region, and the zeroing of its small grey copies."""

from __future__ import annotations

import numpy as np
import pytest

from edgeanon.pixels.motion import MotionTest
from tests.helpers.media import read_frames


@pytest.fixture(scope="module")
def still() -> np.ndarray:
    return read_frames({0})[0]  # 768x576 BGR


def first(test: MotionTest, frame: np.ndarray, **kw) -> None:
    assert test.must_infer(frame.copy(), **kw)  # no reference yet: always inferred, and it becomes the reference


def paste(frame: np.ndarray, x: int, y: int, w: int = 40, h: int = 100) -> np.ndarray:
    """A person-sized block cut from elsewhere in the same frame (real texture, real contrast)."""
    out = frame.copy()
    out[y : y + h, x : x + w] = frame[400 : 400 + h, 600 : 600 + w][::-1]
    return out


def test_still_pair_and_sensor_noise_are_not_motion(still):
    test = MotionTest()
    first(test, still)
    assert not test.must_infer(still.copy())
    rng = np.random.default_rng(3)
    for _ in range(20):  # sensor-like noise, sigma 3 grey levels, independent per pixel and frame
        noisy = np.clip(still.astype(np.float32) + rng.normal(0, 3, still.shape), 0, 255).astype(np.uint8)
        assert not test.must_infer(noisy)


def test_a_pasted_block_is_motion_and_the_inferred_frame_becomes_the_reference(still):
    test = MotionTest()
    first(test, still)
    moved = paste(still, 100, 200)
    assert test.must_infer(moved)
    assert not test.must_infer(moved.copy())  # it is the reference now
    assert test.must_infer(paste(still, 140, 200))  # moved by 40 px


def test_quiet_decides_only_still_frames(still):
    test = MotionTest()
    first(test, still)
    asked = []

    def busy() -> bool:
        asked.append(1)
        return False  # e.g. a track is open

    assert test.must_infer(still.copy(), quiet=busy) and asked == [1]
    assert test.must_infer(paste(still, 100, 200), quiet=busy) and asked == [1]  # moving: not even asked


def test_a_slow_drift_is_caught_against_the_last_inferred_frame(still):
    """Someone 40 grey levels brighter than the floor creeps in from the left edge, 2 px a frame: each frame
    differs from the previous one by 2/12 of a cell's width (about 7 grey levels, under CELL_DIFF), so a
    previous-frame difference would never fire. The reference is the last inferred frame, so the difference
    accumulates and the second frame already trips it."""
    test = MotionTest()
    first(test, still)
    caught = []
    for step in range(1, 6):
        f = still.copy()
        f[200:300, : 2 * step] = np.clip(still[200:300, : 2 * step].astype(np.int16) + 40, 0, 255)
        caught.append(test.must_infer(f))
    assert caught == [False, True, False, True, False], caught  # each catch becomes the new reference


def test_a_region_ignores_motion_outside_it(still):
    test = MotionTest()
    region = (300, 0, 768, 576)
    first(test, still, region=region)
    assert not test.must_infer(paste(still, 100, 200), region=region)  # left of the region
    assert test.must_infer(paste(still, 500, 200), region=region)


def test_a_new_generation_or_size_has_no_reference(still):
    test = MotionTest()
    first(test, still, generation=1)
    assert test.must_infer(still.copy(), generation=2)  # reconnected: the old reference is gone
    assert test.must_infer(still[::2, ::2].copy(), generation=2)  # another size


def test_small_copies_hold_at_most_the_reference_and_are_zeroed_on_clear(still):
    test = MotionTest()
    first(test, still)
    assert not test.must_infer(still.copy())  # idle: its small copy is zeroed at once
    nonzero = [b for b in test.buffers() if b.any()]
    assert len(nonzero) == 1 and nonzero[0].ndim == 2  # the reference only; the tested copy is zeroed
    test.clear()
    assert not any(b.any() for b in test.buffers())
    assert test.must_infer(still.copy())  # and it is forgotten


def test_motion_in_an_exclude_area_does_not_count(still):
    # the left third excluded (pixels), the top-right quarter excluded (fractions, as a config may write them)
    test = MotionTest(exclude=[([(0, 0), (256, 0), (256, 576), (0, 576)], False),
                               ([(0.75, 0.0), (1.0, 0.0), (1.0, 0.25), (0.75, 0.25)], True)])  # fmt: skip
    first(test, still)
    assert not test.must_infer(paste(still, 100, 200))  # a screen or a window in the excluded area
    assert not test.must_infer(paste(still, 640, 20))  # inside the normalised area
    assert test.must_infer(paste(still, 400, 200))  # the counted floor
    region = (200, 100, 768, 576)  # with a region the same areas stay excluded, in the region's cells
    first(test, still, region=region)
    assert not test.must_infer(paste(still, 210, 300), region=region)
    assert test.must_infer(paste(still, 400, 300), region=region)
    plain = MotionTest()
    first(plain, still)
    assert plain.must_infer(paste(still, 100, 200))  # without the exclude areas the same block is motion
