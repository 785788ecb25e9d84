"""Capacity ratio (issue 15): cameras held at 10 fps, the new defaults against the old settings, alternating.

For each scene (frozen copies of configs/default.yaml and configs/store-example.yaml in benchmarks/capacity/,
every source replaced by the busy bundled clip, cameras replicated round-robin), two searches for the largest
camera count that holds (0 dropped, every camera at >= 95 % of its fps, p99 capture-to-aggregate delay
< 200 ms) take turns, one run each:

- old: the model at 416x416 stretched, the whole frame (roi full), batch 1, no idle skipping;
- new: the defaults (detector.input, detector.resize, detector.batch, detector.skip_idle, roi as shipped).

Both use the manifest's default model and every physical core. The clip is busy, so idle skipping gains
nothing on it. Load drift on the machine lands on both sides alike, since they alternate; each side's count is
run again once it is found (a count that fails a re-run does not count). The measuring is `edgeanon bench`'s
own (``edgeanon.bench.capacity``, a real Runner with the real sinks, in a fresh child process per run).

    python benchmarks/capacity_ratio.py                     # about 20 min; on a quiet machine
    python benchmarks/capacity_ratio.py --budget 60 --seconds 2 --out-dir /tmp/ratio   # does it work?

Writes capacity-ratio.json (every run, the machine, the load) and CAPACITY-RATIO.md into --out-dir.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgeanon.bench.machine import describe_machine, load_average
from edgeanon.bench.report import capacity_line, json_default
from edgeanon.bench.search import Budget, Search
from edgeanon.bench.sweep import run_task

HERE = Path(__file__).resolve().parent
SCENES = {"default": HERE / "capacity" / "default.yaml", "store-example": HERE / "capacity" / "store-example.yaml"}
# The old side is the defaults before issue 15: 416x416 stretched, the whole frame, no batching, no idle skipping,
# and one detector session with every core (threads empty = the cores, as before). The new side is the defaults.
OLD = {
    "detector": {"input": "416x416", "resize": "stretch", "batch": 1, "skip_idle": False, "sessions": 1},
    "camera": {"roi": "full"},
}
NEW: dict[str, dict[str, Any]] = {"detector": {}, "camera": {}}
CONFIRMATIONS = 1  # extra runs at each side's count once found
TARGET = 1.8


def available(settings: dict[str, dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The settings this version of edgeanon has, and the names of those it lacks (reported, not silently lost)."""
    from edgeanon.config.cameras import Camera
    from edgeanon.config.stages import DetectorConfig

    fields = {"detector": DetectorConfig.model_fields, "camera": Camera.model_fields}
    kept = {part: {k: v for k, v in s.items() if k in fields[part]} for part, s in settings.items()}
    missing = [f"{part}.{k}" for part, s in settings.items() for k in s if k not in fields[part]]
    return kept, missing


class Side:
    """One side of the comparison on one scene: its settings, its search and its runs."""

    def __init__(self, name: str, settings: dict[str, dict[str, Any]], start: int) -> None:
        self.name, self.settings = name, settings
        self.search = Search(start=start)
        self.runs: list[dict[str, Any]] = []

    def next_count(self) -> int | None:
        n = self.search.next_count()
        if n is None and self.search.largest_held:
            lo = self.search.largest_held
            return lo if len(self.search.runs[lo]) <= CONFIRMATIONS else None
        return n


def _measure(args, scene: Path, side: Side, n: int, model: str, threads: int, budget: Budget) -> None:
    camera = dict(side.settings["camera"])
    if side.name == "old":
        camera["input"] = None  # no camera's own input size either: 416x416 everywhere
    task = {
        "kind": "capacity",
        "label": f"[{budget.elapsed():4.0f}/{budget.seconds:.0f} s] {scene.stem} {side.name} cams={n}",
        "source": {"kind": "file", "path": None},
        "site": {
            "path": str(scene),
            "cameras": n,
            "detector": {"model": model, **side.settings["detector"]},  # threads: each side's default
            "camera": camera,
        },
        "model": model,
        "threads": threads,
        "spinning": False,
        "input": side.name,
        "seconds": args.seconds,
        "warmup_s": min(3.0, max(1.5, args.seconds / 4)),
        "progress": args.progress,
        "stop_on_drop": True,
    }
    t0, started = time.monotonic(), budget.elapsed()
    r = run_task(task, isolate=True)
    budget.spent(time.monotonic() - t0)
    r["side"], r["started_s"] = side.name, started
    r["load_average"] = load_average()
    side.search.record(r, args.usable_cpus)
    side.runs.append(r)
    capacity_line(r, sys.stdout)


def measure_scene(args, scene: Path, model: str, threads: int, old: dict, seconds: float) -> dict[str, Any]:
    """Both searches on one scene, one run each in turn (the first side alternating), within ``seconds``."""
    budget = Budget(seconds, args.seconds + 5.0)
    sides = [Side("old", old, 1), Side("new", NEW, 1)]
    turn, cut = 0, False
    while not cut:
        measured = False
        for side in sides if turn % 2 == 0 else sides[::-1]:
            other = sides[1] if side is sides[0] else sides[0]
            if not side.search.runs:  # start near where the other side got to
                side.search.start = max(1, other.search.largest_held)
            n = side.next_count()
            if n is None:
                continue
            if not budget.allows():
                cut = True
                break
            _measure(args, scene, side, n, model, threads, budget)
            measured = True
        if not measured:
            break
        turn += 1
    o, n = sides[0].search, sides[1].search
    return {
        "scene": scene.stem,
        "config": str(scene.relative_to(HERE.parent)),
        "old_cameras": o.largest_held,
        "new_cameras": n.largest_held,
        "old_bounds": o.bounds(),
        "new_bounds": n.bounds(),
        "ratio": n.largest_held / o.largest_held if o.largest_held else None,
        "complete": sides[0].next_count() is None and sides[1].next_count() is None,  # found and confirmed
        "elapsed_s": budget.elapsed(),
        "runs": sorted(sides[0].runs + sides[1].runs, key=lambda r: r["started_s"]),
    }


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    isa = ", ".join(k for k, v in m["isa"].items() if v) or "none of interest"
    lines = [
        "# Capacity ratio: new defaults against the old settings (issue 15)",
        "",
        f"Written by `{report['command']}` on {report['date']}.",
        "",
        f"- CPU: `{m['cpu_model']}`, {m['physical_cores']} physical cores, {m['usable_cpus']} usable CPUs; ISA: {isa}.",
        f"- onnxruntime {m['onnxruntime']}, OpenCV {m['opencv']}, numpy {m['numpy']}, edgeanon {m['edgeanon']}.",
        f"- Load average before {report['load_average_before']}, after {report['load_average_after']}.",
        f"- Model `{report['model']}` on both sides, on {report['threads']} physical cores: the old side runs one "
        "session with every core, the new side its defaults (one single-thread session per camera up to the cores); "
        f"{report['seconds']:g} s measured per run after a warm-up; a run stops at its first dropped frame.",
        f"- old: {json.dumps(report['old'])}; new: the defaults. Settings this version lacks (not applied): "
        f"{', '.join(report['missing_settings']) or 'none'}.",
        "- A count holds with 0 dropped, every camera at >= 95 % of 10 fps and p99 delay < 200 ms; a count that "
        "failed any run does not hold. Sources: the bundled clip in real time, cameras replicated round-robin.",
        "",
        f"| scene | old: cameras held | new: cameras held | ratio | target >= {TARGET} | runs | complete |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in report["scenes"]:
        ratio = "-" if s["ratio"] is None else f"**{s['ratio']:.2f}**"
        ok = "-" if s["ratio"] is None else ("yes" if s["ratio"] >= TARGET else "NO")
        lines.append(
            f"| {s['config']} | {s['old_bounds']} | {s['new_bounds']} | {ratio} | {ok} | {len(s['runs'])} "
            f"| {'yes' if s['complete'] else 'no: budget ended'} |"
        )
    lines += ["", "Every run, in order:", "", "| scene | side | cameras | dropped | min fps share | p99 ms | holds |"]
    lines.append("|---|---|---|---|---|---|---|")
    for s in report["scenes"]:
        for r in s["runs"]:
            lines.append(
                f"| {s['scene']} | {r['side']} | {r['cameras']} | {r['dropped']} | {r['min_fps_share']:.2f} "
                f"| {r['delay_ms']['p99']:.0f} | {'yes' if r['holds'] else 'no'} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenes", nargs="+", choices=sorted(SCENES), default=list(SCENES))
    p.add_argument("--budget", type=float, default=1200.0, help="seconds for all scenes (default 1200)")
    p.add_argument("--seconds", type=float, default=20.0, help="measured seconds per run (default 20)")
    p.add_argument("--out-dir", type=Path, default=HERE / "results")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    args = p.parse_args(argv)
    from edgeanon.pixels.detector import physical_cores
    from edgeanon.pixels.detector.manifest import load_manifest

    machine = describe_machine()
    args.usable_cpus = machine["usable_cpus"] or 1
    model, threads = load_manifest()[0].default, physical_cores()
    old, missing = available(OLD)
    report: dict[str, Any] = {
        "tool": "benchmarks/capacity_ratio.py",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/capacity_ratio.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine,
        "load_average_before": load_average(),
        "model": model,
        "threads": threads,
        "seconds": args.seconds,
        "old": old,
        "missing_settings": missing,
    }
    print(f"CPU {machine['cpu_model']}; model {model}, {threads} threads; not in this version: {missing or 'none'}")
    per_scene = args.budget / len(args.scenes)
    report["scenes"] = [measure_scene(args, SCENES[s], model, threads, old, per_scene) for s in args.scenes]
    report["load_average_after"] = load_average()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "capacity-ratio.json").write_text(json.dumps(report, indent=2, default=json_default) + "\n")
    text = markdown(report)
    (args.out_dir / "CAPACITY-RATIO.md").write_text(text)
    print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
