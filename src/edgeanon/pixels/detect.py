"""`edgeanon detect`: the person detector over an image or a video, one count (or one JSON line of boxes) per
frame on stdout. Frames are decoded and dropped here; only counts and boxes are printed, never an image."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from edgeanon.pixels.detector import PersonDetector
from edgeanon.pixels.media import is_image, iter_video, read_image, video_info

log = logging.getLogger("edgeanon")


def detect(
    path: Path, detector: PersonDetector, *, every: int = 1, max_frames: int | None = None, as_json: bool = False
) -> int:
    """Print the people in every ``every``-th frame of the image or video at ``path``; the exit code (0)."""
    if is_image(path):
        frames = iter([(0, read_image(path))])
        fps = 0.0
    else:
        fps, _ = video_info(path)
        frames = iter_video(path, max_frames)
    out = sys.stdout
    total = people = 0
    t0 = time.perf_counter()
    for index, frame in frames:
        if every > 1 and index % every:
            continue
        dets = detector(frame)
        total += 1
        people += len(dets)
        t = round(index / fps, 3) if fps > 0 else None
        if as_json:
            boxes = [
                [*map(lambda v: round(float(v), 1), b), round(float(s), 3)]
                for b, s in zip(dets.xyxy, dets.score, strict=True)
            ]
            out.write(json.dumps({"frame": index, "t": t, "count": len(dets), "boxes": boxes}) + "\n")
        else:
            out.write(f"frame {index:6d}  t={t if t is not None else '-':>8}  people={len(dets)}\n")
    dt = time.perf_counter() - t0
    log.info(
        "%s: %d frames, %.2f people/frame on average, %.1f frames/s with %s on %d threads",
        path.name,
        total,
        people / max(total, 1),
        total / dt if dt > 0 else 0.0,
        detector.name,
        detector.threads,
    )
    return 0
