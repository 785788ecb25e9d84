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
from edgeanon.run.settings import sessions_and_threads

P99_LIMIT_S = 0.200  # capacity: a camera "holds" when nothing is dropped and p99 delay stays under this
FPS_SHARE = 0.95  # ... and every camera achieves at least this share of its frame rate


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
    """The bundled demo camera copied N times, or (``site``) a config file's own cameras replicated to N."""
    if task.get("site"):
        from edgeanon.bench.site import site_config

        return site_config(**task["site"])
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


def _dropped_since(start: _Start, runner) -> bool:
    return any(c["dropped"] > start.counters.get(cam, {}).get("dropped", 0) for cam, c in counters(runner).items())


def _warm_then_measure(runner, warmup: float, seconds: float, progress: Progress, stop_on_drop: bool) -> _Start:
    """Tick the runner as ``service.serve`` does through the warm-up and then ``seconds`` more.

    With ``stop_on_drop`` a measurement ends at its first dropped frame: the count no longer holds whatever
    follows, and a search for the largest count that holds spends its time budget better elsewhere."""
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
        if stop_on_drop and start is not None and now - start.t >= 0.5 and _dropped_since(start, runner):
            return start
        progress.set(now - t_start)
        time.sleep(0.05)


def _per_camera(
    c0: dict[str, dict[str, int]], c1: dict[str, dict[str, int]], elapsed: float, expected: dict[str, float]
) -> list[dict[str, Any]]:
    """Each camera's frame fates over the measurement, the rate it achieved and the rate it should have had.

    An idle frame (no motion, no track: not inferred, on purpose) is analysed on time like an inferred one, so
    both count towards the rate a camera keeps; dropped and skipped frames do not."""
    per_camera = []
    for cam, after in c1.items():
        d = {k: after[k] - c0.get(cam, {}).get(k, 0) for k in after}
        fps = (d["inferred"] + d.get("idle", 0)) / elapsed
        per_camera.append({"camera": cam, **d, "achieved_fps": fps, "expected_fps": expected[cam]})
    return per_camera


def _expected(cfg, native_fps: float) -> dict[str, float]:
    """The rate each camera should keep: its own fps, or the clip's when that is lower."""
    return {c.id: min(c.fps, native_fps) if native_fps else c.fps for c in cfg.cameras}


def capacity(task: dict[str, Any]) -> dict[str, Any]:
    """N realtime cameras in one Runner: drops, achieved fps per camera, capture->aggregate delay.

    The cameras are N copies of the bundled demo camera at ``task["fps"]``, or (``task["site"]``) a config's own
    cameras, each at its own fps. A count holds when nothing is dropped, every camera keeps 95 % of its rate and
    the p99 delay stays under ``P99_LIMIT_S``.
    """
    seconds = task["seconds"]
    cfg = _config(task)
    native_fps, _ = clip_info(task["source"])
    expected = _expected(cfg, native_fps)
    warmup = task.get("warmup_s") or min(2.0, max(0.5, seconds / 5))
    reset_peak_rss()
    progress = Progress(warmup + seconds, task["label"], enabled=task.get("progress"))
    runner, cleanup = build_runner(cfg)
    gc.collect()
    gc.freeze()  # as `edgeanon run` does before it starts the runner
    runner.start()
    start = _warm_then_measure(runner, warmup, seconds, progress, bool(task.get("stop_on_drop")))
    with runner._stats_lock:
        delays = list(runner.stats.delays)
        frames = runner.stats.frames - start.frames
    c1, stages, t1, cpu1 = counters(runner), diff(start.stages, runner.stage_seconds()), time.monotonic(), cpu_seconds()
    runner.stop()
    cleanup()
    progress.close()
    return _result(task, cfg, expected, start, _Readings(delays, frames, c1, stages, t1, cpu1), warmup)


@dataclass
class _Readings:
    """The runner's readings when measuring ended."""

    delays: list[float]
    frames: int
    counters: dict[str, dict[str, int]]
    stages: dict[str, float]
    t: float
    cpu: float


def _result(task, cfg, expected: dict[str, float], start: _Start, end: _Readings, warmup: float) -> dict[str, Any]:
    seconds, delays, frames, stages = task["seconds"], end.delays, end.frames, end.stages
    elapsed = end.t - start.t
    per_camera = _per_camera(start.counters, end.counters, elapsed, expected)
    dropped = sum(c["dropped"] for c in per_camera)
    p99 = _pct(delays, 0.99)
    fps_share = min(c["achieved_fps"] / c["expected_fps"] for c in per_camera)
    sessions, threads = sessions_and_threads(cfg)
    return {
        "model": task["model"],
        "threads": threads,
        "spinning": task["spinning"],
        "sessions": sessions,
        "batch": cfg.detector.batch,
        "input": task.get("input"),
        "cameras": len(cfg.cameras),
        "fps_target": task.get("fps"),
        "fps_offered": min(expected.values()),
        "seconds": elapsed,
        "warmup_s": warmup,
        "stopped_at_first_drop": bool(task.get("stop_on_drop")) and elapsed < seconds - 0.25,
        "frames": frames,
        "dropped": dropped,
        "per_camera": per_camera,
        "min_camera_fps": min(c["achieved_fps"] for c in per_camera),
        "min_fps_share": fps_share,
        "delay_ms": {
            "p50": 1e3 * _pct(delays, 0.50),
            "p99": 1e3 * p99,
            "max": 1e3 * max(delays) if delays else math.nan,
        },
        "stage_ms": {k: 1e3 * v / max(frames, 1) for k, v in stages.items()},
        # share of the detector sessions' time spent on frames: what a larger count would need more of
        "worker_busy": (stages.get("preprocess", 0.0) + stages.get("inference", 0.0)) / max(elapsed * sessions, 1e-9),
        "cpu_cores": (end.cpu - start.cpu) / max(elapsed, 1e-9),
        "peak_rss_mb": peak_rss_mb(),
        "holds": dropped == 0 and p99 < P99_LIMIT_S and fps_share >= FPS_SHARE,
    }
