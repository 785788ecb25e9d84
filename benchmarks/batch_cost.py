"""What a batched run costs per frame: ``PersonDetector.infer_batch`` (preprocess into the batch input, one
``session.run``, scrub) on real whole frames of the bundled clip at the auto input size, batch 1, 2 and 4
alternating in rounds.

Prints CPU ms per frame (``time.process_time``: the work, less sensitive to other processes than the clock)
and wall ms per frame. Figures and conditions: benchmarks/results/BATCH.md.

    python benchmarks/batch_cost.py [--model nanodet-coco-int8] [--threads 2] [--rounds 6]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import cv2

from edgeanon.pixels.detector import SessionSettings, load_detector

CLIP = Path(__file__).resolve().parents[1] / "tests" / "data" / "vtest-0-249.avi"
FRAMES = (10, 60, 120, 240)
SIZES = (1, 2, 4)


def clip_frames() -> list:
    cap = cv2.VideoCapture(str(CLIP))
    out, i = [], 0
    while len(out) < len(FRAMES):
        ok, frame = cap.read()
        if not ok:
            raise SystemExit(f"{CLIP}: ended before frame {max(FRAMES)}")
        if i in FRAMES:
            out.append(frame)
        i += 1
    cap.release()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="nanodet-coco-int8")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--frames", type=int, default=48, help="frames per batch size per round")
    args = p.parse_args()
    det = load_detector(args.model, SessionSettings(threads=args.threads))
    images = clip_frames()
    h, w = images[0].shape[:2]
    size = det.input_size_for(None, w, h)  # detector.input (auto by default) for the whole frame
    for n in SIZES:  # first runs at each batch size allocate and pick kernels
        det.infer_batch(images[:n], size)
    cpu: dict[int, list[float]] = {n: [] for n in SIZES}
    wall: dict[int, list[float]] = {n: [] for n in SIZES}
    load_before = os.getloadavg()
    for r in range(args.rounds):
        for n in SIZES if r % 2 == 0 else SIZES[::-1]:
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(args.frames // n):
                det.infer_batch(images[:n], size)
            cpu[n].append((time.process_time() - c0) / args.frames * 1000)
            wall[n].append((time.perf_counter() - w0) / args.frames * 1000)
    result = {
        "model": args.model,
        "threads": args.threads,
        "input": "{}x{}".format(*size),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "cpu_ms_per_frame": cpu,
        "wall_ms_per_frame": wall,
    }
    for n in SIZES:
        print(
            f"batch {n}: cpu ms/frame median {statistics.median(cpu[n]):.2f} "
            f"| wall ms/frame median {statistics.median(wall[n]):.2f}"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
