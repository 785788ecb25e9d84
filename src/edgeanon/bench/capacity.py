"""Capacity: how many realtime cameras one box carries.

N realtime copies of the clip play in one Runner with the real sinks; after a short warm-up the run counts
dropped frames, the frame rate each camera achieved and the delay from capture to aggregate. A camera
count "holds" when nothing is dropped, every camera keeps its frame rate and p99 delay stays low.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edgeanon.bench.machine import cpu_seconds, peak_rss_mb, reset_peak_rss
from edgeanon.bench.progress import Progress
from edgeanon.bench.throughput import build_runner, counters, diff
from edgeanon.bench.workload import bench_config, clip_info

P99_LIMIT_S = 0.200  # capacity: a camera "holds" when nothing is dropped and p99 delay stays under this


@dataclass
class _Start:
    """The runner's readings when measuring began (after the warm-up)."""

    counters: dict[str, dict[str, int]]
    stages: dict[str, float]
    t: float
    cpu: float
    frames: int


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def _config(task: dict[str, Any]):
    return bench_config(
        task["source"],
        model=task["model"],
        threads=task["threads"],
        spinning=task["spinning"],
        cameras=task["cameras"],
        realtime=True,
        loop=True,
        fps=task["fps"],
        sessions=task.get("sessions", 1),
        batch=task.get("batch", 1),
        attributes=task.get("attributes"),
    )


def _warm_then_measure(runner, warmup: float, seconds: float, progress: Progress) -> _Start:
    """Tick the runner as ``service.serve`` does through the warm-up and then ``seconds`` more."""
    t_start = time.monotonic()
    next_tick = t_start
    start: _Start | None = None
    while True:
        now = time.monotonic()
        if now >= next_tick:
            runner.tick()
            next_tick = now + 0.25
        if start is None and now - t_start >= warmup:  # start-up (first open, first frames) is not steady state
            with runner._stats_lock:
                runner.stats.delays.clear()
                frames0 = runner.stats.frames
            start = _Start(counters(runner), runner.stage_seconds(), now, cpu_seconds(), frames0)
        if start is not None and now - start.t >= seconds:
            return start
        progress.set(now - t_start)
        time.sleep(0.05)


def _per_camera(c0: dict[str, dict[str, int]], c1: dict[str, dict[str, int]], elapsed: float) -> list[dict[str, Any]]:
    per_camera = []
    for cam, after in c1.items():
        d = {k: after[k] - c0.get(cam, {}).get(k, 0) for k in after}
        per_camera.append({"camera": cam, **d, "achieved_fps": d["inferred"] / elapsed})
    return per_camera


def capacity(task: dict[str, Any]) -> dict[str, Any]:
    """N realtime copies of the clip in one Runner: drops, achieved fps per camera, capture->aggregate delay."""
    fps, seconds = task["fps"], task["seconds"]
    cfg = _config(task)
    native_fps, _ = clip_info(task["source"])
    expected = min(fps, native_fps) if native_fps else fps
    warmup = min(2.0, max(0.5, seconds / 5))
    reset_peak_rss()
    progress = Progress(warmup + seconds, task["label"], enabled=task.get("progress"))
    runner, cleanup = build_runner(cfg)
    gc.collect()
    gc.freeze()  # as `edgeanon run` does before it starts the runner
    runner.start()
    start = _warm_then_measure(runner, warmup, seconds, progress)
    with runner._stats_lock:
        delays = list(runner.stats.delays)
        frames = runner.stats.frames - start.frames
    c1, stages, t1, cpu1 = counters(runner), diff(start.stages, runner.stage_seconds()), time.monotonic(), cpu_seconds()
    runner.stop()
    cleanup()
    progress.close()
    elapsed = t1 - start.t
    per_camera = _per_camera(start.counters, c1, elapsed)
    dropped = sum(c["dropped"] for c in per_camera)
    p99 = _pct(delays, 0.99)
    min_fps = min(c["achieved_fps"] for c in per_camera)
    return {
        "model": task["model"],
        "threads": task["threads"],
        "spinning": task["spinning"],
        "sessions": task.get("sessions", 1),
        "batch": task.get("batch", 1),
        "cameras": task["cameras"],
        "fps_target": fps,
        "fps_offered": expected,
        "seconds": elapsed,
        "warmup_s": warmup,
        "frames": frames,
        "dropped": dropped,
        "per_camera": per_camera,
        "min_camera_fps": min_fps,
        "delay_ms": {
            "p50": 1e3 * _pct(delays, 0.50),
            "p99": 1e3 * p99,
            "max": 1e3 * max(delays) if delays else math.nan,
        },
        "stage_ms": {k: 1e3 * v / max(frames, 1) for k, v in stages.items()},
        "cpu_cores": (cpu1 - start.cpu) / max(elapsed, 1e-9),
        "peak_rss_mb": peak_rss_mb(),
        "holds": dropped == 0 and p99 < P99_LIMIT_S and min_fps >= 0.95 * expected,
    }
