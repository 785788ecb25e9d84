"""The configurations one ``edgeanon bench`` measures, each run as a task, here or in a fresh child process.

A task is a JSON-able mapping, so that an isolated child (``python -m edgeanon.bench.command --task ...``)
gets exactly what an in-process run would: its peak RSS is then its own and nothing is left over from the
configuration before it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any, TextIO

from edgeanon.bench import report
from edgeanon.bench.capacity import capacity
from edgeanon.bench.throughput import throughput
from edgeanon.errors import EdgeanonError


def execute(task: dict[str, Any]) -> dict[str, Any]:
    """Run one task in this process."""
    return throughput(task) if task["kind"] == "throughput" else capacity(task)


def run_task(task: dict[str, Any], isolate: bool) -> dict[str, Any]:
    """Run one configuration, in a fresh child process when ``isolate`` (its own peak RSS, no leftovers)."""
    if not isolate:
        return execute(task)
    cmd = [sys.executable, "-m", "edgeanon.bench.command", "--task", json.dumps(task)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise EdgeanonError(f"benchmark child for {task['label']} failed (exit {proc.returncode})")
    return json.loads(lines[-1])


def throughput_sweep(
    args: argparse.Namespace, source: dict[str, Any], baseline_script: str | None, out: TextIO
) -> list[dict[str, Any]]:
    """Every model x threads x spinning configuration, a line each as it finishes, then the tables."""
    rows = []
    configs = [(m, t, s) for m in args.models for t in args.threads for s in args.spinning]
    for i, (model, threads, spinning) in enumerate(configs, 1):
        label = f"[{i}/{len(configs)}] {model} t={threads} spin={'on' if spinning else 'off'}"
        task = {
            "kind": "throughput",
            "label": label,
            "source": source,
            "model": model,
            "threads": threads,
            "spinning": spinning,
            "rounds": args.rounds,
            "max_frames": args.max_frames,
            "seconds": args.seconds or 10.0,
            "baseline_script": baseline_script,
            "graph_optimization": args.graph_optimization,
            "progress": args.progress,
            "attributes": args.attributes,
        }
        r = run_task(task, args.isolate)
        rows.append(r)
        out.write(report.throughput_line(label, r) + "\n")
        out.flush()
    out.write("\n" + report.throughput_table(rows) + "\n")
    out.write(report.STAGES_NOTE)
    if baseline_script:
        out.write("\n" + report.baseline_table(rows) + "\n")
    return rows


def _capacity_task(args: argparse.Namespace, source: dict[str, Any], model: str, threads: int, n: int) -> dict:
    return {
        "kind": "capacity",
        "label": f"{model} t={threads} cams={n}" + (f" batch={args.batch}" if args.batch > 1 else ""),
        "source": source,
        "model": model,
        "threads": threads,
        "spinning": args.spinning[0],
        "sessions": args.sessions,
        "batch": args.batch,
        "cameras": n,
        "fps": args.fps,
        "seconds": args.seconds or 20.0,
        "progress": args.progress,
        "attributes": args.attributes,
    }


def _capacity_run(args, source, model: str, threads: int, n: int, rows: list[dict[str, Any]], out: TextIO) -> dict:
    r = run_task(_capacity_task(args, source, model, threads, n), args.isolate)
    rows.append(r)
    report.capacity_line(r, out)
    return r


def _find_max(args, source, model: str, threads: int, rows: list[dict[str, Any]], out: TextIO) -> int:
    """Walk up from the given count while it holds, or down from it while it does not; the largest that holds."""
    n, largest, step = (args.cameras or [1])[0], 0, 0
    while 1 <= n <= 64:
        r = _capacity_run(args, source, model, threads, n, rows, out)
        step = step or (1 if r["holds"] else -1)
        if r["holds"]:
            largest = max(largest, n)
        if r["holds"] != (step > 0):
            break
        n += step
    return largest


def capacity_sweep(args: argparse.Namespace, source: dict[str, Any], out: TextIO) -> dict[str, Any]:
    """Each model x threads at each camera count (or up to the largest that holds), then the table."""
    rows: list[dict[str, Any]] = []
    best: dict[str, int] = {}
    for model in args.models:
        for threads in args.threads:
            key = f"{model} threads={threads}"
            if args.find_max:
                best[key] = _find_max(args, source, model, threads, rows, out)
            else:
                for n in args.cameras or [1]:
                    _capacity_run(args, source, model, threads, n, rows, out)
                held = [r["cameras"] for r in rows if r["model"] == model and r["threads"] == threads and r["holds"]]
                best[key] = max(held, default=0)
    out.write("\n" + report.capacity_table(rows) + "\n")
    for key, n in best.items():
        out.write(f"largest camera count that holds {args.fps:g} fps ({key}): {n}\n")
    return {"fps": args.fps, "find_max": args.find_max, "runs": rows, "largest_holding": best}
