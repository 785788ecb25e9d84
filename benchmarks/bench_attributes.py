"""Attribute-stage benchmark: cost per confirmed track (one estimate() call with one person box).

The stage runs at most once per confirmed track, so its cost is per track, not per frame. Measured on the real
stills the tests use (messi5, basketball1 left player, astronaut), split into face detection (warp + BlazeFace +
box decode), age and gender; plus the cost of a box with no face (blank region), which is face detection alone.

    python benchmarks/bench_attributes.py              # 1 and 2 threads, writes results/ATTRIBUTES.md + .json
    python benchmarks/bench_attributes.py --calls 50   # a short smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
STILLS = HERE.parent / "tests" / "data" / "stills"


def _stills() -> list[tuple[str, np.ndarray, tuple[int, int, int, int]]]:
    import cv2

    out = []
    for name, file, box in (
        ("messi5", "messi5.jpg", (60, 65, 460, 335)),
        ("basketball1-left", "basketball1.png", (30, 75, 165, 480)),
    ):
        img = cv2.imread(str(STILLS / file), cv2.IMREAD_COLOR)
        if img is None:
            sys.exit(f"{STILLS / file} missing")
        out.append((name, img, box))
    out.append(("astronaut", cv2.imread(str(STILLS / "astronaut.png"), cv2.IMREAD_COLOR), (14, 14, 364, 508)))
    out.append(("blank (no face)", np.zeros((480, 640, 3), np.uint8), (100, 50, 300, 450)))
    return out


def run(threads: int, calls: int) -> list[dict]:
    from edgeanon.pixels.faces.stage import AttributeSettings, AttributeStage, Outcome

    stage = AttributeStage(AttributeSettings(age=True, gender=True, min_face_px=24, threads=threads))
    rows = []
    for name, img, box in _stills():
        boxes = np.asarray([box], np.float32)
        stage.estimate(img, boxes)  # warm-up
        stage.runs = stage.faces = 0
        stage.seconds = stage.face_seconds = stage.age_seconds = stage.gender_seconds = 0.0
        ms = []
        outcome = None
        for _ in range(calls):
            t = time.perf_counter()
            _, _, outcome = stage.estimate(img, boxes)
            ms.append((time.perf_counter() - t) * 1e3)
        assert outcome is not None
        rows.append(
            {
                "still": name,
                "threads": threads,
                "outcome": Outcome(int(outcome[0])).name,
                "call_ms_median": statistics.median(ms),
                "call_ms_p95": sorted(ms)[round(0.95 * (len(ms) - 1))],
                "face_ms_mean": stage.face_seconds * 1e3 / calls,
                "age_ms_mean": stage.age_seconds * 1e3 / calls,
                "gender_ms_mean": stage.gender_seconds * 1e3 / calls,
                "calls": calls,
            }
        )
    return rows


def write_markdown(results: dict, path: Path) -> None:
    m = results["machine"]
    lines = [
        "# Attribute stage benchmark (cost per track)",
        "",
        f"- date: {results['date']}",
        f"- command: `{results['command']}`",
        f"- CPU: {m['cpu_model']} ({m['physical_cores']} physical cores, {m['logical_cpus']} logical), "
        f"ISA: {', '.join(m['isa_flags'])}",
        f"- versions: python {m['python']}, onnxruntime {m['onnxruntime']}, opencv {m['opencv']}, "
        f"numpy {m['numpy']}, edgeanon {m['edgeanon']}",
        f"- one `estimate()` call with one person box = the cost of one confirmed track; {results['calls']} calls "
        "each after one warm-up; no spinning. face = head-region warp + BlazeFace 256 + box decode; "
        "the crop warp and zeroing are the remainder of the call.",
        "",
        "| still | threads | outcome | call median ms | p95 | face ms | age ms | gender ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {r['still']} | {r['threads']} | {r['outcome']} | **{r['call_ms_median']:.2f}** "
        f"| {r['call_ms_p95']:.2f} | {r['face_ms_mean']:.2f} | {r['age_ms_mean']:.2f} | {r['gender_ms_mean']:.2f} |"
        for r in results["rows"]
    )
    lines += ["", "Shared 2-core machine: read ratios, not absolute figures.", ""]
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args()
    from edgeanon.bench.machine import describe_machine

    rows = []
    for threads in args.threads:
        for r in run(threads, args.calls):
            print(f"{r['still']:18s} threads={threads} {r['outcome']:9s} call={r['call_ms_median']:.2f}ms", flush=True)
            rows.append(r)
    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python " + " ".join(sys.argv),
        "calls": args.calls,
        "machine": describe_machine(),
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "attributes.json").write_text(json.dumps(results, indent=2) + "\n")
    write_markdown(results, args.out / "ATTRIBUTES.md")
    print(f"wrote {args.out / 'attributes.json'} and ATTRIBUTES.md")


if __name__ == "__main__":
    main()
