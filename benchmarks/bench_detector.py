"""Detector benchmark: session.run alone vs the full detector call, same session, alternating runs.

``detector_overhead = time(full call) / time(session.run)`` is the cost that is ours (target <= 1.15).
Each configuration runs in its own subprocess so that its peak RSS is its own.

    python benchmarks/bench_detector.py                      # fp32+int8 x 1,2 threads, writes results/
    python benchmarks/bench_detector.py --rounds 5 --quick   # a short smoke run
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent

MODELS = ("nanodet-coco", "nanodet-coco-int8")
THREADS = (1, 2)


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def run_one(model: str, threads: int, rounds: int, per_round: int, spinning: bool) -> dict:
    from edgeanon.pixels.detector import SessionSettings, load_detector
    from edgeanon.pixels.media import iter_video
    from edgeanon.resources import sample_clip

    # Every 8th frame (32 frames, ~42 MB): real variety of people without inflating peak RSS.
    frames = [f.copy() for i, f in iter_video(sample_clip()) if i % 8 == 0]
    det = load_detector(model, SessionSettings(threads=threads, spinning=spinning))
    fixed = {det.input_name: det.preprocess(frames[0]).copy()}
    det.preprocess.scrub()
    run_ms: list[float] = []
    full_ms: list[float] = []
    stage = {"preprocess": 0.0, "inference": 0.0, "postprocess": 0.0}
    people = 0
    k = 0
    for _ in range(rounds):
        for _ in range(per_round):  # (a) session.run alone on a fixed input
            t = time.perf_counter()
            det.session.run(det.output_names, fixed)
            run_ms.append((time.perf_counter() - t) * 1e3)
        for _ in range(per_round):  # (b) the full detector call on real frames
            frame = frames[k % len(frames)]
            k += 1
            t0 = time.perf_counter()
            feed = {det.input_name: det.preprocess(frame)}
            t1 = time.perf_counter()
            outs = det.session.run(det.output_names, feed)
            det.preprocess.scrub()
            t2 = time.perf_counter()
            dets = det.postprocess(outs, frame.shape)
            t3 = time.perf_counter()
            full_ms.append((t3 - t0) * 1e3)
            stage["preprocess"] += t1 - t0
            stage["inference"] += t2 - t1
            stage["postprocess"] += t3 - t2
            people += len(dets)
    n = len(full_ms)
    return {
        "model": model,
        "threads": threads,
        "spinning": spinning,
        "session_run_ms_median": statistics.median(run_ms),
        "session_run_ms_p95": _pct(run_ms, 0.95),
        "session_run_fps": 1e3 / statistics.mean(run_ms),
        "detector_ms_median": statistics.median(full_ms),
        "detector_ms_p95": _pct(full_ms, 0.95),
        "detector_fps": 1e3 / statistics.mean(full_ms),
        "detector_overhead": statistics.mean(full_ms) / statistics.mean(run_ms),
        "detector_overhead_median": statistics.median(full_ms) / statistics.median(run_ms),
        "stage_ms_mean": {key: v * 1e3 / n for key, v in stage.items()},
        "people_per_frame": people / n,
        "samples_each": n,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def write_markdown(results: dict, path: Path) -> None:
    m = results["machine"]
    lines = [
        "# Detector benchmark",
        "",
        f"- date: {results['date']}",
        f"- command: `{results['command']}`",
        f"- CPU: {m['cpu_model']} ({m['physical_cores']} physical cores, {m['logical_cpus']} logical), "
        f"ISA: {', '.join(m['isa_flags'])}",
        f"- versions: python {m['python']}, onnxruntime {m['onnxruntime']}, opencv {m['opencv']}, "
        f"numpy {m['numpy']}, edgeanon {m['edgeanon']}",
        "- input: every 8th frame of the bundled clip (768x576), decoded before timing; (a) and (b) alternate in "
        f"rounds of {results['per_round']} calls, {results['rounds']} rounds, same session.",
        "",
        "| model | threads | session.run median ms | p95 | detector call median ms | p95 | detector fps "
        "| detector_overhead (mean) | preprocess ms | postprocess ms | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["configs"]:
        s = r["stage_ms_mean"]
        lines.append(
            f"| {r['model']} | {r['threads']} | {r['session_run_ms_median']:.2f} | {r['session_run_ms_p95']:.2f} "
            f"| {r['detector_ms_median']:.2f} | {r['detector_ms_p95']:.2f} | {r['detector_fps']:.1f} "
            f"| **{r['detector_overhead']:.3f}** | {s['preprocess']:.2f} | {s['postprocess']:.2f} "
            f"| {r['peak_rss_mb']:.0f} |"
        )
    lines += ["", "Target: detector_overhead <= 1.15. Shared 2-core machine: read ratios, not absolute figures.", ""]
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--threads", nargs="+", type=int, default=list(THREADS))
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--per-round", type=int, default=20)
    ap.add_argument("--spinning", action="store_true")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--one", nargs=2, metavar=("MODEL", "THREADS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.rounds, args.per_round, args.spinning)))
        return
    from edgeanon.bench.machine import describe_machine as describe

    configs = []
    for model in args.models:
        for threads in args.threads:
            cmd = [
                sys.executable,
                __file__,
                "--one",
                model,
                str(threads),
                "--rounds",
                str(args.rounds),
                "--per-round",
                str(args.per_round),
            ] + (["--spinning"] if args.spinning else [])
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(
                f"{model:24s} threads={threads} run={r['session_run_ms_median']:.2f}ms "
                f"detector={r['detector_ms_median']:.2f}ms overhead={r['detector_overhead']:.3f} "
                f"rss={r['peak_rss_mb']:.0f}MB",
                flush=True,
            )
            configs.append(r)
    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python " + " ".join(sys.argv),
        "rounds": args.rounds,
        "per_round": args.per_round,
        "machine": describe(),
        "configs": configs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "detector.json").write_text(json.dumps(results, indent=2) + "\n")
    write_markdown(results, args.out / "DETECTOR.md")
    print(f"wrote {args.out / 'detector.json'} and DETECTOR.md")


if __name__ == "__main__":
    main()
