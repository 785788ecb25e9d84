"""Cost of the idle-skipping motion test (``edgeanon.pixels.motion``) per frame, on a 768x576 frame of the bundled
clip: a still frame (the idle path) and a moving one (the frame becomes the reference). Median of repeats, one
thread; on a shared machine the figures are noisy, so say so when quoting them.

    python benchmarks/motion_cost.py
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from edgeanon.pixels.motion import MotionTest

CLIP = Path(__file__).resolve().parents[1] / "tests" / "data" / "vtest-0-249.avi"


def per_call_us(fn, n: int = 2000, repeats: int = 7) -> float:
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(runs)


def main() -> None:
    import argparse

    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    cv2.setNumThreads(1)
    cap = cv2.VideoCapture(str(CLIP))
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (576, 768, 3), frame.shape
    moved = frame.copy()
    moved[200:300, 100:140] = 255 - moved[200:300, 100:140]
    test = MotionTest()
    test.must_infer(frame.copy())
    still = frame.copy()
    idle_us = per_call_us(lambda: test.must_infer(still))
    frames = [frame, moved]
    i = [0]

    def alternate() -> None:
        i[0] ^= 1
        test.must_infer(frames[i[0]])

    moving_us = per_call_us(alternate)
    resized = np.zeros((416, 416, 3), np.uint8)
    resize_us = per_call_us(lambda: cv2.resize(frame, (416, 416), dst=resized, interpolation=cv2.INTER_LINEAR))
    print(f"motion test, still frame (idle): {idle_us:.0f} us")
    print(f"motion test, moving frame (new reference): {moving_us:.0f} us")
    print(f"for scale, the detector's own cv2.resize to 416x416: {resize_us:.0f} us")


if __name__ == "__main__":
    main()
