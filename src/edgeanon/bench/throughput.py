"""Throughput: how much of the model's speed the whole pipeline keeps.

In one process and in rounds, this alternates (a) ``session.run`` alone on a fixed input, with the very
session the pipeline uses, and (b) the whole pipeline over a clip as fast as it goes (a file source that
is not realtime is read in blocking mode, so nothing is dropped), and optionally (c) the baseline.
``pipeline_efficiency = fps(b) / fps(a)``, the median of the per-round ratios (see ``compare``).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from edgeanon.bench import baseline as baseline_pipeline
from edgeanon.bench import compare
from edgeanon.bench.machine import cpu_seconds, peak_rss_mb, reset_peak_rss
from edgeanon.bench.progress import Progress
from edgeanon.bench.workload import bench_config, clip_info, video_path
from edgeanon.errors import EdgeanonError


def build_runner(cfg, detectors=None) -> tuple[Any, Callable[[], None]]:
    """A ``Runner`` wired as ``edgeanon run --quiet`` wires it (``run.wiring``), so the sinks' per-frame cost counts
    too. Its aggregate store is in a temporary directory, removed by the returned cleanup; no web server (an
    unscraped server costs nothing per frame). The one place bench wires sinks to a runner.
    """
    import tempfile
    from pathlib import Path

    from edgeanon.outputs.store import AggregateStore
    from edgeanon.run.wiring import wire

    tmp = tempfile.TemporaryDirectory(prefix="edgeanon-bench-")
    store = AggregateStore(Path(tmp.name) / "aggregates.db", retention_days=cfg.retention.aggregates_days)
    return wire(cfg, store, detectors=detectors).runner, tmp.cleanup


def counters(runner) -> dict[str, dict[str, int]]:
    """Each camera's frame counters, read now."""
    return {
        s.camera: {k: int(getattr(s.counters, k)) for k in ("captured", "inferred", "dropped", "skipped", "idle")}
        for s in runner.statuses()
    }


def diff(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: b[k] - a.get(k, 0.0) for k in b}


def _fixed_input(det) -> Any:
    """(a)'s input: a preprocessed frame of the bundled clip (people in view), never a frame of the user's source."""
    from edgeanon.pixels.media import read_frame
    from edgeanon.resources import sample_clip

    frame = read_frame(sample_clip(), 100)
    if frame is None:
        raise EdgeanonError("cannot read the bundled sample clip")
    blob = det.preprocess(frame).copy()
    det.preprocess.scrub()
    frame.fill(0)
    return blob


def _model_pass(det, blob, n: int, progress: Progress) -> dict[str, float]:
    """(a): ``session.run`` alone, the same session and output names as the pipeline's worker."""
    run, names, feed = det.session.run, det.output_names, {det.input_name: blob}
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for i in range(n):
        run(names, feed)
        if i % 16 == 15:
            progress.set(progress.value + 16 / max(n, 1) * 0.999, "model only")
    wall = time.perf_counter() - t0
    return {"frames": n, "seconds": wall, "cpu_seconds": cpu_seconds() - cpu0}


def _drive(
    runner, t0: float, *, max_frames: int | None, seconds: float | None, progress: Progress, unit: float
) -> None:
    """Tick the runner as ``service.serve`` does until the clip ends, ``max_frames`` are counted or ``seconds`` pass."""
    next_tick = t0
    start_value = progress.value
    while True:
        now = time.monotonic()
        if now >= next_tick:
            runner.tick()
            next_tick = now + 0.25
        frames = runner.stats.frames
        if runner.all_finished():
            break
        if max_frames is not None and frames >= max_frames:
            break
        if seconds is not None and now - t0 >= seconds:
            break
        if max_frames:
            progress.set(start_value + unit * min(1.0, frames / max_frames) * 0.999, "pipeline")
        time.sleep(0.01)


def _pipeline_pass(
    cfg, detectors, *, max_frames: int | None, seconds: float | None, progress: Progress, unit: float
) -> dict[str, Any]:
    """(b): a real Runner with the real sinks, driven like ``service.serve`` drives it, until the clip ends."""
    runner, cleanup = build_runner(cfg, detectors)
    stages0 = runner.stage_seconds()
    cpu0, t0 = cpu_seconds(), time.monotonic()
    runner.start()
    _drive(runner, t0, max_frames=max_frames, seconds=seconds, progress=progress, unit=unit)
    with runner._stats_lock:
        frames, first_at, last_at = runner.stats.frames, runner.stats.first_at, runner.stats.last_at
    counts = counters(runner)
    stages = diff(stages0, runner.stage_seconds())
    attribute_stage = {
        "face_runs": sum(st.runs for st in runner.stages),
        "faces": sum(st.faces for st in runner.stages),
        "seconds": sum(st.seconds for st in runner.stages),
    }
    cpu1, t1 = cpu_seconds(), time.monotonic()
    runner.stop()
    cleanup()
    # Steady state: from the first frame out to the last one (opening the source is not throughput).
    return {
        "frames": frames - 1,
        "seconds": max(last_at - first_at, 1e-9) if frames > 1 else 1e-9,
        "frames_total": frames,
        "cpu_seconds": cpu1 - cpu0,
        "cpu_wall": t1 - t0,
        "counters": counts,
        "stages": stages,
        "attribute_stage": attribute_stage,
    }


def _detector_with(cfg, graph_optimization: str):
    """Like Runner._make_detector but with another graph optimisation level (an experiment, not a config field)."""
    from edgeanon.pixels.detector import SessionSettings, Thresholds, load_detector

    d, t = cfg.detector, cfg.tracker
    return load_detector(
        d.model,
        SessionSettings(threads=d.threads, spinning=d.spinning, graph_optimization=graph_optimization),
        Thresholds(score=min(d.score, t.low_score), iou=d.iou, min_box=d.min_box, max_box=d.max_box),
    )


def _detectors(cfg, task: dict[str, Any]) -> list:
    """The detectors exactly as ``edgeanon run`` builds them (a Runner without detectors), or the experiment's."""
    from edgeanon.run.runner import Runner

    runner = Runner(cfg, [])
    detectors = runner.detectors
    del runner
    if task.get("graph_optimization"):
        detectors = [_detector_with(cfg, task["graph_optimization"])]
    return detectors


def throughput(task: dict[str, Any]) -> dict[str, Any]:
    """One model x threads x spinning configuration: (a), (b) and optionally the baseline, alternating."""
    source = task["source"]
    camera = source["kind"] != "file"
    cfg = bench_config(
        source,
        model=task["model"],
        threads=task["threads"],
        spinning=task["spinning"],
        fps=None if camera else 60,
        attributes=task.get("attributes"),
    )
    native_fps, clip_frames = clip_info(source)
    max_frames = task.get("max_frames") or (None if camera else clip_frames or None)
    seconds = task.get("seconds") if camera else None
    kinds = ["model", "pipeline"] + (["baseline"] if task.get("baseline_script") else [])
    reset_peak_rss()
    progress = Progress(1 + task["rounds"] * len(kinds), task["label"], enabled=task.get("progress"))
    # Warm-up: the first pass builds the detector exactly as `edgeanon run` does (Runner without detectors).
    warm_frames = min(20, max_frames or 20)
    detectors = _detectors(cfg, task)
    _pipeline_pass(cfg, detectors, max_frames=warm_frames, seconds=2.0, progress=progress, unit=0.5)
    det = detectors[0]
    blob = _fixed_input(det)
    _model_pass(det, blob, 10, progress)
    baseline = baseline_pipeline.make(task, cfg) if "baseline" in kinds else None
    video = str(video_path(source))
    if baseline is not None:
        baseline.run(video, max_frames=warm_frames)
    progress.set(1, "warm")
    gc.collect()
    gc.freeze()  # as `edgeanon run` does before starting; the baseline (same process) gains the same
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    n_model = max_frames or 200
    for r in range(task["rounds"]):
        order = kinds[r % len(kinds) :] + kinds[: r % len(kinds)]  # rotate so no kind always runs first
        for kind in order:
            start = progress.value
            if kind == "model":
                results[kind].append(_model_pass(det, blob, n_model, progress))
            elif kind == "pipeline":
                p = _pipeline_pass(cfg, detectors, max_frames=max_frames, seconds=seconds, progress=progress, unit=1)
                results[kind].append(p)
                if camera:
                    n_model = max(1, p["frames"])
            else:
                results[kind].append(baseline.run(video, max_frames=max_frames))
            progress.set(start + 1, kind)
    progress.close()
    blob.fill(0)
    return _summarise(task, results, native_fps)


def _attribute_stage(pipe: list[dict[str, Any]], frames: int) -> dict[str, Any]:
    """What the opt-in attribute stage cost over the pipeline passes."""
    a = {k: sum(p["attribute_stage"][k] for p in pipe) for k in ("face_runs", "faces", "seconds")}
    a["ms_per_frame"] = 1e3 * a["seconds"] / max(frames, 1)
    a["ms_per_face_run"] = 1e3 * a["seconds"] / a["face_runs"] if a["face_runs"] else None
    return a


def _summarise(task: dict[str, Any], results: dict[str, list[dict[str, Any]]], native_fps: float) -> dict:
    model, pipe = results["model"], results["pipeline"]
    model_fps, pipe_fps = compare.fps(model), compare.fps(pipe)
    frames = sum(p["frames_total"] for p in pipe)
    stages = compare.stage_totals(pipe)
    dropped = sum(c["dropped"] for p in pipe for c in p["counters"].values())
    inferred = sum(c["inferred"] for p in pipe for c in p["counters"].values())
    # Each round's (a) and (b) ran next to each other: their ratio is the least noisy estimate.
    per_round = compare.per_round(pipe, model)
    out: dict[str, Any] = {
        "model": task["model"],
        "threads": task["threads"],
        "spinning": task["spinning"],
        "graph_optimization": task.get("graph_optimization") or "all",
        "source": task["source"],
        "rounds": task["rounds"],
        "frames_per_round": pipe[0]["frames_total"] if pipe else 0,
        "model_fps": model_fps,
        "pipeline_fps": pipe_fps,
        "pipeline_efficiency": compare.median(per_round),
        "efficiency_of_totals": pipe_fps / model_fps if model_fps else 0.0,
        "efficiency_per_round": per_round,
        "model_ms": 1e3 / model_fps if model_fps else 0.0,
        "pipeline_ms": 1e3 / pipe_fps if pipe_fps else 0.0,
        "frames_inferred": inferred,
        "frames_counted": frames,
        "dropped": dropped,
        "stage_ms": {k: 1e3 * v / max(frames, 1) for k, v in stages.items()},
        "cpu_cores_model": sum(p["cpu_seconds"] for p in model) / max(sum(p["seconds"] for p in model), 1e-9),
        "cpu_cores_pipeline": sum(p["cpu_seconds"] for p in pipe) / max(sum(p["cpu_wall"] for p in pipe), 1e-9),
        "peak_rss_mb": peak_rss_mb(),
        "native_fps": native_fps,
        "attributes_min_face_px": task.get("attributes"),
    }
    if task.get("attributes") is not None:
        out["attribute_stage"] = _attribute_stage(pipe, frames)
    if "baseline" in results:
        out["baseline"] = baseline_pipeline.summarise(pipe, results["baseline"], model_fps)
    return out
