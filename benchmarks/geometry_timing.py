"""session.run median ms per model x input size x threads x spinning, alternating (issue 15).

All sessions are built first, in one process; then each round runs ``--per-round`` calls of every cell
(model, threads, spinning, size) in turn, the order of the cells rotating each round, so slow drifts in
the load of a shared machine spread over all cells instead of landing on one. The input is a real frame
of the bundled clip stretched to the size (the content barely matters for a CNN's speed). One warm-up run
per cell before timing. A model whose input dims are fixed (the shipped 416 files) only runs at its size.

    python benchmarks/geometry_timing.py --out benchmarks/results/geometry-timing.json \
        models/nanodet-coco.onnx models/nanodet-coco-int8.onnx

Prints a markdown table (median ms, and the spread as p25-p75) and the load average before and after.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

SIZES = ["416x416", "416x320", "384x288", "512x384", "640x480", "448x352"]


def main() -> None:
    from nanodet_runner import CLIP, machine, read_frames, session

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--sizes", default=",".join(SIZES), help="WxH list")
    ap.add_argument("--threads", default="2,1")
    ap.add_argument("--spinning", default="off,on")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--per-round", type=int, default=8)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    frame = read_frames(CLIP, {120})[120]
    before = os.getloadavg()
    cells = []
    for path, threads, spin in itertools.product(
        args.models, [int(t) for t in args.threads.split(",")], [s == "on" for s in args.spinning.split(",")]
    ):
        sess = session(path, threads, spin)
        name = sess.get_inputs()[0].name
        fixed = sess.get_inputs()[0].shape
        for w, h in sizes:
            if isinstance(fixed[3], int) and (fixed[3], fixed[2]) != (w, h):
                continue
            img = cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)
            feed = {name: np.ascontiguousarray(img.transpose(2, 0, 1)[None].astype(np.float32))}
            sess.run(None, feed)  # warm-up
            cells.append(
                {
                    "model": path.name,
                    "threads": threads,
                    "spinning": spin,
                    "size": f"{w}x{h}",
                    "sess": sess,
                    "feed": feed,
                    "ms": [],
                }
            )
    t_start = time.time()
    for r in range(args.rounds):
        k = r % len(cells)
        for c in cells[k:] + cells[:k]:
            for _ in range(args.per_round):
                t = time.perf_counter()
                c["sess"].run(None, c["feed"])
                c["ms"].append((time.perf_counter() - t) * 1e3)
    after = os.getloadavg()
    rows = []
    for c in cells:
        q = statistics.quantiles(c["ms"], n=4)
        rows.append(
            {k: c[k] for k in ("model", "threads", "spinning", "size")}
            | {
                "median_ms": round(statistics.median(c["ms"]), 2),
                "p25": round(q[0], 2),
                "p75": round(q[2], 2),
                "n": len(c["ms"]),
            }
        )
    info = machine() | {
        "loadavg_before": list(before),
        "loadavg_after": list(after),
        "seconds": round(time.time() - t_start),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "rounds": args.rounds,
        "per_round": args.per_round,
    }
    print(f"machine: {info}")
    print("| model | threads | spinning | size | median ms | p25-p75 |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['threads']} | {'on' if r['spinning'] else 'off'} | {r['size']} | "
            f"{r['median_ms']:.1f} | {r['p25']:.1f}-{r['p75']:.1f} |"
        )
    if args.out:
        args.out.write_text(json.dumps({"machine": info, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
