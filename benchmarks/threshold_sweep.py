"""Person-count error of the detector over score and NMS IoU thresholds, on the labelled frames.

The dev set (tests/data/labels/dev_counts.json, vtest.avi frames 270-790 from Debian's opencv-doc)
is for choosing defaults; the test set (frame_counts.json, the bundled cut) is reported beside it
so that the choice can be checked, never tuned on. Needs the opencv-doc package for the dev set.

    python benchmarks/threshold_sweep.py [--model NAME] [--input auto|WxH] > benchmarks/results/THRESHOLDS.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from edgeanon.pixels.detector import InputGeometry, SessionSettings, Thresholds, load_detector
from edgeanon.resources import sample_clip

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "tests" / "data" / "labels"
DEBIAN_VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def frames(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    out, i = {}, 0
    while wanted - out.keys():
        ok, f = cap.read()
        if not ok:
            break
        if i in wanted:
            out[i] = f.copy()
        i += 1
    cap.release()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="nanodet-coco")
    ap.add_argument("--input", default="auto", help="model input size, as detector.input (default auto)")
    args = ap.parse_args()
    geometry = InputGeometry(input=args.input)
    det = load_detector(args.model, SessionSettings(threads=2), Thresholds(score=0.2, min_box=8), geometry=geometry)
    sets = {}
    for name, file, video in (("dev", "dev_counts.json", DEBIAN_VTEST), ("test", "frame_counts.json", sample_clip())):
        labels = json.loads((LABELS / file).read_text())["frames"]
        fr = frames(video, {int(k) for k in labels})
        outs = {k: (det.infer(f), f.shape) for k, f in fr.items()}
        sets[name] = (labels, outs)
    print(f"# Threshold sweep ({args.model}, input {args.input})\n")
    print(
        "Count error = detected - labelled, per labelled frame. MAE = mean |error|; within1 = share of frames "
        "with |error| <= 1. Choose on **dev**; **test** is shown only to check.\n"
    )
    print("| score | iou | dev MAE | dev bias | dev within1 | test MAE | test bias | test within1 | test max |")
    print("|---|---|---|---|---|---|---|---|---|")
    for iou in (0.5, 0.6, 0.7):
        for score in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55):
            det.thresholds = Thresholds(score=score, iou=iou, min_box=8)
            det._decoders.clear()  # decoders are kept per image and size, with the thresholds they were made with
            row = []
            for name in ("dev", "test"):
                labels, outs = sets[name]
                err = np.array([len(det.postprocess(*outs[int(k)])) - v["count"] for k, v in labels.items()])
                row.append((np.abs(err).mean(), err.mean(), (np.abs(err) <= 1).mean(), np.abs(err).max()))
            (dm, db, dw, _), (tm, tb, tw, tx) = row
            print(f"| {score} | {iou} | {dm:.2f} | {db:+.2f} | {dw:.2f} | {tm:.2f} | {tb:+.2f} | {tw:.2f} | {tx} |")


if __name__ == "__main__":
    main()
