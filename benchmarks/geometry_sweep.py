"""Person-count error per input geometry, fp32 and int8, on the hand-labelled frames (issue 15 item 1).

Geometries (the clip is 768x576, 4:3):

* ``stretch 416x416``: today's default, the frame squashed into a square;
* ``416x320``, ``384x288``, ``512x384``, ``448x352``: a plain resize to that size. 384x288 and 512x384 are
  exactly 4:3; 416x320 (1.30) and 448x352 (1.27) are the nearest multiples of 32, 2.5 % and 4.5 % narrower
  than 4:3, so they keep a slight stretch;
* ``letterbox 416x416``: aspect kept, 768x576 -> 416x312, padded top and bottom with 114 (the runtime's
  letterbox default) to 416x416.

Preprocessing, decoding, thresholds (score 0.5, NMS IoU 0.5, min box 8 px) are the runtime's own code, see
benchmarks/nanodet_runner.py. Sets:

* **test**: tests/data/labels/frame_counts.json, 14 frames of tests/data/vtest-0-249.avi;
* **stills**: tests/data/labels/still_counts.json, 4 images (2 of them not 4:3: messi5 548x342 and fruits
  512x480 are distorted by every fixed-size geometry except letterbox);
* **dev**: tests/data/labels/dev_counts.json, 14 frames of Debian's vtest.avi (270-790), if present. These
  are **among the int8 calibration frames** (250-790, every 5th), so int8 figures on dev are not a test.

Error = detected - labelled ``count``; ``in range`` = share of frames with ``min <= detected <= max``.

    python benchmarks/geometry_sweep.py --timing benchmarks/results/geometry-timing.json \
        --out benchmarks/results/geometry-sweep.json models/nanodet-coco.onnx models/nanodet-coco-int8.onnx
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))

GEOMETRIES = [  # (label, width, height, resize)
    ("stretch 416x416", 416, 416, "stretch"),
    ("416x320", 416, 320, "stretch"),
    ("384x288", 384, 288, "stretch"),
    ("512x384", 512, 384, "stretch"),
    ("448x352", 448, 352, "stretch"),
    ("letterbox 416x416", 416, 416, "letterbox"),
]
DEBIAN_VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def load_sets() -> dict[str, list[tuple[str, object, dict]]]:
    from nanodet_runner import CLIP, LABELS, STILLS, read_frames

    sets: dict[str, list] = {}
    labels = json.loads((LABELS / "frame_counts.json").read_text())["frames"]
    fr = read_frames(CLIP, {int(k) for k in labels})
    sets["test"] = [(k, fr[int(k)], v) for k, v in labels.items()]
    stills = json.loads((LABELS / "still_counts.json").read_text())["stills"]
    sets["stills"] = [(k, cv2.imread(str(STILLS / k)), v) for k, v in stills.items()]
    if DEBIAN_VTEST.is_file():
        dev = json.loads((LABELS / "dev_counts.json").read_text())["frames"]
        fr = read_frames(DEBIAN_VTEST, {int(k) for k in dev})
        sets["dev"] = [(k, fr[int(k)], v) for k, v in dev.items()]
    return sets


def metrics(rows: list[tuple[int, dict]]) -> dict:
    err = [d - lab["count"] for d, lab in rows]
    return {
        "n": len(err),
        "mae": sum(map(abs, err)) / len(err),
        "bias": sum(err) / len(err),
        "within1": sum(abs(e) <= 1 for e in err) / len(err),
        "in_range": sum(lab["min"] <= d <= lab["max"] for d, lab in rows) / len(rows),
        "max": max(map(abs, err)),
        "errors": err,
    }


def main() -> None:
    from nanodet_runner import Runner, machine

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path, help="free-input-dims NanoDet models")
    ap.add_argument("--timing", type=Path, help="geometry_timing.py JSON: adds ms (2 threads, spinning off)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    sets = load_sets()
    ms: dict[tuple[str, str], float] = {}
    if args.timing:
        for r in json.loads(args.timing.read_text())["rows"]:
            if r["threads"] == 2 and not r["spinning"]:
                ms[(r["model"], r["size"])] = r["median_ms"]
    results = []
    for path in args.models:
        for label, w, h, resize in GEOMETRIES:
            runner = Runner(path, w, h, resize, threads=2)
            row = {"model": path.name, "geometry": label, "ms": ms.get((path.name, f"{w}x{h}"))}
            for name, items in sets.items():
                counts = [(runner.count(img), lab) for _, img, lab in items]
                row[name] = metrics(counts) | {
                    "counts": {k: c for (k, _, _), (c, _) in zip(items, counts, strict=True)}
                }
            results.append(row)
    print(f"machine: {machine()}")
    for name in sets:
        print(f"\n### {name} ({results[0][name]['n']} images)\n")
        print("| model | geometry | MAE | bias | within 1 | in [min,max] | max abs | ms (2 thr) |")
        print("|---|---|---|---|---|---|---|---|")
        for r in results:
            m = r[name]
            t = f"{r['ms']:.1f}" if r["ms"] else "-"
            print(
                f"| {r['model']} | {r['geometry']} | {m['mae']:.2f} | {m['bias']:+.2f} | {m['within1']:.2f} | "
                f"{m['in_range']:.2f} | {m['max']} | {t} |"
            )
    if args.out:
        args.out.write_text(json.dumps({"machine": machine(), "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
