"""``edgeanon bench``: how fast this box runs the pipeline, and how many cameras it carries.

Integrators size hardware by asking how many cameras one box can carry, so the figures come from the
code path of ``edgeanon run`` itself (a real ``Runner`` with the real sinks), never from a separate
benchmark loop that could flatter it.

Throughput mode alternates, in one process and in rounds, (a) ``session.run`` alone on a fixed input,
with the very session the pipeline uses, and (b) the whole pipeline over a clip as fast as it goes (a
file source that is not realtime is read in blocking mode, so nothing is dropped). Noise on a shared
machine then hits both, and ``pipeline_efficiency = fps(b) / fps(a)`` is the share of the model's
speed that the pipeline keeps. Capacity mode plays N realtime copies of the clip and checks drops and
the capture-to-aggregate delay.

Every configuration runs in a fresh child process by default, so that its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import copy
import gc
import importlib.util
import json
import logging
import math
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from edgeanon.errors import EdgeanonError

log = logging.getLogger("edgeanon.bench")

DEFAULT_MODELS = ("nanodet-416-coco", "nanodet-416-coco-int8")
DEFAULT_THREADS = (1, 2)
CLIP_SIZE = (768, 576)  # the bundled clip: the default config's zone and line are drawn in its pixels
P99_LIMIT_S = 0.200  # capacity: a camera "holds" when nothing is dropped and p99 delay stays under this
BASELINE_HINT = (
    "edgeanon bench --baseline needs the bench extra: pip install 'edgeanon[bench]' && "
    "pip install --no-deps 'trackers>=2.6,<2.7' (see benchmarks/README.md)"
)
TARGET_EFFICIENCY = 0.90

# ISA features that decide the speed of the int8 and fp32 kernels (see benchmarks/README.md).
ISA_GROUPS = {
    "AVX2": ("avx2",),
    "AVX-512": ("avx512f",),
    "VNNI": ("avx512_vnni", "avx_vnni"),
    "AMX": ("amx_int8", "amx_tile"),
    "NEON": ("neon", "asimd"),
}
FLAGS_OF_INTEREST = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "amx_tile", "fma", "neon", "asimd")


# ---------------------------------------------------------------- machine


def cpu_model_and_flags() -> tuple[str, list[str]]:
    """CPU model name and the instruction-set flags that matter for onnxruntime's kernels (Linux /proc/cpuinfo)."""
    model, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in {"model name", "Model", "Hardware"} and model in {"unknown", "", platform.machine()}:
                model = value.strip()
            elif key in {"flags", "Features"} and not flags:
                flags = set(value.split())
    except OSError:
        pass
    if platform.machine() in {"aarch64", "arm64"}:
        flags.add("neon")  # Advanced SIMD is mandatory on AArch64; /proc/cpuinfo calls it asimd
    return model, [f for f in FLAGS_OF_INTEREST if f in flags]


def isa_summary(flags: Sequence[str]) -> dict[str, bool]:
    return {name: any(f in flags for f in group) for name, group in ISA_GROUPS.items()}


def describe_machine() -> dict[str, Any]:
    import cv2
    import numpy
    import onnxruntime

    from edgeanon import __version__
    from edgeanon.pixels.detector import physical_cores

    model, flags = cpu_model_and_flags()
    return {
        "cpu_model": model,
        "isa_flags": flags,
        "isa": isa_summary(flags),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "physical_cores": physical_cores(),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "edgeanon": __version__,
        "onnxruntime": onnxruntime.__version__,
        "opencv": cv2.__version__,
        "numpy": numpy.__version__,
    }


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - platforms without it
        return []


# ---------------------------------------------------------------- memory and CPU


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark (Linux >= 4.0), so a configuration's peak is its own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """VmHWM (resettable) where there is /proc, else ru_maxrss (the process's lifetime peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


# ---------------------------------------------------------------- progress


class Progress:
    """A one-line progress bar on stderr (tqdm stays out of the runtime); silent when stderr is not a terminal."""

    def __init__(self, total: float, label: str, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.total = max(total, 1e-9)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.value = 0.0
        self._last = 0.0

    def set(self, value: float, note: str = "") -> None:
        self.value = min(value, self.total)
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and self.value < self.total):
            return
        self._last = now
        width = 28
        done = round(width * self.value / self.total)
        pct = 100 * self.value / self.total
        self.stream.write(f"\r{self.label} [{'#' * done}{'.' * (width - done)}] {pct:3.0f}% {note:<28.28}")
        self.stream.flush()

    def advance(self, step: float = 1.0, note: str = "") -> None:
        self.set(self.value + step, note)

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * (len(self.label) + 70) + "\r")
            self.stream.flush()


# ---------------------------------------------------------------- configuration


def parse_source(text: str | None) -> dict[str, Any]:
    """A video path or a camera index (digits) as a config source mapping; None: the bundled clip."""
    if text is None:
        return {"kind": "file", "path": None}
    if text.isdigit():
        return {"kind": "device", "index": int(text)}
    path = Path(text).expanduser()
    if not path.is_file():
        raise EdgeanonError(f"--source {text}: no such video file (or pass a camera index such as 0)")
    return {"kind": "file", "path": str(path.resolve())}


def _normalised(points: Sequence[Sequence[float]]) -> list[list[float]]:
    w, h = CLIP_SIZE
    return [[min(1.0, x / w), min(1.0, y / h)] for x, y in points]


def bench_config(
    source: dict[str, Any],
    *,
    model: str,
    threads: int,
    spinning: bool,
    cameras: int = 1,
    realtime: bool = False,
    loop: bool = False,
    fps: float | None = None,
    sessions: int = 1,
    attributes: int | None = None,
):
    """The bundled default config, with the source, model and session knobs of this run.

    ``attributes`` (a minimum face size in pixels) declares the purpose "attributes" with age band and gender,
    to measure what the attribute stage costs on this video.

    The zone, line and entrance are the demo's, so analytics and sinks do real work. For another video
    they are rescaled (normalised to the clip's size), so they cover the same part of any frame.
    """
    import yaml

    from edgeanon.config.schema import parse_config
    from edgeanon.resources import default_config

    data = yaml.safe_load(default_config().read_text(encoding="utf-8"))
    template = data["cameras"][0]
    own_video = source.get("path") is not None or source["kind"] != "file"
    if own_video:
        for z in template.get("zones", []):
            z["polygon"], z["normalized"] = _normalised(z["polygon"]), True
        for ln in template.get("lines", []):
            (a, b), ln["normalized"] = _normalised([ln["a"], ln["b"]]), True
            ln["a"], ln["b"] = a, b
        for e in template.get("exclude", []):
            e["polygon"], e["normalized"] = _normalised(e["polygon"]), True
    src = dict(source)
    if src["kind"] == "file":
        src.update(realtime=realtime, loop=loop)
    cams = []
    for i in range(cameras):
        cam = copy.deepcopy(template)
        cam["source"] = src
        if cameras > 1:
            cam["id"] = f"{template['id']}{i + 1}"
        if fps is not None:
            cam["fps"] = fps
        cams.append(cam)
    lines = {ln["name"] for ln in template.get("lines", [])}
    entrances = [e for e in data.get("entrances", []) if e.get("line") in lines]
    data["cameras"] = cams
    data["entrances"] = [{"camera": c["id"], "line": e["line"]} for c in cams for e in entrances]
    if attributes is not None:
        data["purposes"].append(
            {"id": "attributes", "justification": "edgeanon bench: the cost of estimating age band and gender."}
        )
        data["attributes"] = {"estimate": ["age_band", "gender"], "min_face_px": attributes}
    det = dict(data.get("detector") or {})
    det.update(model=model, threads=threads, spinning=spinning, sessions=sessions)
    data["detector"] = det
    return parse_config(yaml.safe_dump(data, sort_keys=False), "<edgeanon bench>")


def attach_sinks(runner, cfg) -> Callable[[], None]:
    """Attach what ``edgeanon run --quiet`` attaches (service.serve), so their per-frame cost is measured too.

    That is the aggregate store (here in a temporary directory, removed by the returned cleanup), the
    Prometheus sink, the status page's sink and the /setup live-box tap; no console and no web server
    (an unscraped server costs nothing per frame).
    """
    import tempfile

    from edgeanon.outputs.prometheus import PrometheusSink
    from edgeanon.outputs.store import AggregateStore, StoreSink
    from edgeanon.run import service
    from edgeanon.run.views import site_view
    from edgeanon.web.status_sink import StatusSink

    tmp = tempfile.TemporaryDirectory(prefix="edgeanon-bench-")
    store = AggregateStore(Path(tmp.name) / "aggregates.db", retention_days=cfg.retention.aggregates_days)
    runner.aggregator.sinks.append(StoreSink(store))
    layout = {
        c.id: ([z.name for z in c.zones], [ln.name for ln in c.lines], [z.name for z in c.zones if z.queue])
        for c in cfg.cameras
    }
    heat = next(((c.heatmap.rows, c.heatmap.cols) for c in cfg.cameras if c.heatmap), None)
    prom = PrometheusSink(layout, runner.model_sha256, runner.statuses, heatmap_shape=heat, purposes=cfg.purpose_ids)
    runner.aggregator.sinks.append(prom)
    runner.aggregator.sinks.append(StatusSink(site_view(cfg)))
    live_boxes = getattr(service, "_live_boxes", None)
    if live_boxes is not None:
        live_boxes(runner)
    return tmp.cleanup


def _clip_info(source: dict[str, Any]) -> tuple[float, int]:
    """Native fps and frame count of a file source (0, 0 for a camera)."""
    if source["kind"] != "file":
        return 0.0, 0
    import cv2

    from edgeanon.resources import sample_clip

    path = source.get("path") or str(sample_clip())
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise EdgeanonError(f"{path}: cannot open this video")
        return float(cap.get(cv2.CAP_PROP_FPS) or 0.0), int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()


def _counters(runner) -> dict[str, dict[str, int]]:
    return {
        s.camera: {k: int(getattr(s.counters, k)) for k in ("captured", "inferred", "dropped", "skipped")}
        for s in runner.statuses()
    }


def _diff(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: b[k] - a.get(k, 0.0) for k in b}


# ---------------------------------------------------------------- throughput


def _fixed_input(det) -> Any:
    """(a)'s input: a preprocessed frame of the bundled clip (people in view), never a frame of the user's source."""
    import cv2

    from edgeanon.resources import sample_clip

    cap = cv2.VideoCapture(str(sample_clip()), cv2.CAP_FFMPEG)
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, 100)
        ok, frame = cap.read()
    finally:
        cap.release()
    if not ok:
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


def _pipeline_pass(
    cfg, detectors, *, max_frames: int | None, seconds: float | None, progress: Progress, unit: float
) -> dict[str, Any]:
    """(b): a real Runner with the real sinks, driven like ``service.serve`` drives it, until the clip ends."""
    from edgeanon.run.pipeline import Runner

    runner = Runner(cfg, [], detectors=detectors)
    cleanup = attach_sinks(runner, cfg)
    stages0 = runner.stage_seconds()
    cpu0, t0 = cpu_seconds(), time.monotonic()
    runner.start()
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
    with runner._stats_lock:
        frames, first_at, last_at = runner.stats.frames, runner.stats.first_at, runner.stats.last_at
    counters = _counters(runner)
    stages = _diff(stages0, runner.stage_seconds())
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
        "counters": counters,
        "stages": stages,
        "attribute_stage": attribute_stage,
    }


def _baseline_module(path: Path):
    spec = importlib.util.spec_from_file_location("edgeanon_bench_baseline", path)
    if spec is None or spec.loader is None:
        raise EdgeanonError(f"{path}: cannot load the baseline script")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _make_baseline(task: dict[str, Any], cfg):
    from edgeanon.pixels.detector.manifest import read_verified, resolve

    mod = _baseline_module(Path(task["baseline_script"]))
    _, entry, path = resolve(task["model"])
    cam = cfg.cameras[0]
    size = CLIP_SIZE
    zone = cam.zones[0] if cam.zones else None
    line = cam.lines[0] if cam.lines else None
    return mod.TypicalPipeline(
        read_verified(path, entry),
        threads=task["threads"],
        spinning=task["spinning"],
        score=cfg.detector.score,
        low_score=cfg.tracker.low_score,
        new_track_score=cfg.tracker.new_track_score,
        confirm_hits=cfg.tracker.confirm_hits,
        max_age_s=cfg.tracker.max_age,
        iou=cfg.detector.iou,
        zone=None if zone is None else (list(zone.polygon), zone.normalized),
        line=None if line is None else ((line.a, line.b), line.normalized),
        clip_size=size,
    )


def throughput(task: dict[str, Any]) -> dict[str, Any]:
    """One model x threads x spinning configuration: (a), (b) and optionally the baseline, alternating."""
    from edgeanon.resources import sample_clip
    from edgeanon.run.pipeline import Runner

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
    native_fps, clip_frames = _clip_info(source)
    max_frames = task.get("max_frames") or (None if camera else clip_frames or None)
    seconds = task.get("seconds") if camera else None
    rounds = task["rounds"]
    kinds = ["model", "pipeline"] + (["baseline"] if task.get("baseline_script") else [])
    reset_peak_rss()
    progress = Progress(1 + rounds * len(kinds), task["label"], enabled=task.get("progress"))
    # Warm-up: the first pass builds the detector exactly as `edgeanon run` does (Runner without detectors).
    warm_frames = min(20, max_frames or 20)
    runner = Runner(cfg, [])
    detectors = runner.detectors
    del runner
    if task.get("graph_optimization"):
        detectors = [_detector_with(cfg, task["graph_optimization"])]
    _pipeline_pass(cfg, detectors, max_frames=warm_frames, seconds=2.0, progress=progress, unit=0.5)
    det = detectors[0]
    blob = _fixed_input(det)
    _model_pass(det, blob, 10, progress)
    baseline = _make_baseline(task, cfg) if "baseline" in kinds else None
    video = source.get("path") or str(sample_clip())
    if baseline is not None:
        baseline.run(video, max_frames=warm_frames)
    progress.set(1, "warm")
    gc.collect()
    gc.freeze()  # as `edgeanon run` does before starting; the baseline (same process) gains the same
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    n_model = max_frames or 200
    for r in range(rounds):
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
    return _summarise_throughput(task, results, native_fps)


def _detector_with(cfg, graph_optimization: str):
    """Like Runner._make_detector but with another graph optimisation level (an experiment, not a config field)."""
    from edgeanon.pixels.detector import SessionSettings, Thresholds, load_detector

    d, t = cfg.detector, cfg.tracker
    return load_detector(
        d.model,
        SessionSettings(threads=d.threads, spinning=d.spinning, graph_optimization=graph_optimization),
        Thresholds(score=min(d.score, t.low_score), iou=d.iou, min_box=d.min_box, max_box=d.max_box),
    )


def _fps(passes: list[dict[str, Any]]) -> float:
    frames = sum(p["frames"] for p in passes)
    secs = sum(p["seconds"] for p in passes)
    return frames / secs if secs > 0 else 0.0


def _summarise_throughput(task: dict[str, Any], results: dict[str, list[dict[str, Any]]], native_fps: float) -> dict:
    model, pipe = results["model"], results["pipeline"]
    model_fps, pipe_fps = _fps(model), _fps(pipe)
    frames = sum(p["frames_total"] for p in pipe)
    stages: dict[str, float] = {}
    for p in pipe:
        for k, v in p["stages"].items():
            stages[k] = stages.get(k, 0.0) + v
    dropped = sum(c["dropped"] for p in pipe for c in p["counters"].values())
    inferred = sum(c["inferred"] for p in pipe for c in p["counters"].values())
    # Each round's (a) and (b) ran next to each other: their ratio is the least noisy estimate.
    per_round = [
        (pp["frames"] / pp["seconds"]) / (mp["frames"] / mp["seconds"]) for mp, pp in zip(model, pipe, strict=True)
    ]
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
        "pipeline_efficiency": statistics.median(per_round) if per_round else 0.0,
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
        a = {k: sum(p["attribute_stage"][k] for p in pipe) for k in ("face_runs", "faces", "seconds")}
        a["ms_per_frame"] = 1e3 * a["seconds"] / max(frames, 1)
        a["ms_per_face_run"] = 1e3 * a["seconds"] / a["face_runs"] if a["face_runs"] else None
        out["attribute_stage"] = a
    if "baseline" in results:
        base = results["baseline"]
        base_fps = _fps(base)
        bstages: dict[str, float] = {}
        for b in base:
            for k, v in b["stages"].items():
                bstages[k] = bstages.get(k, 0.0) + v
        bframes = sum(b["frames_total"] for b in base)
        ratios = [
            (pp["frames"] / pp["seconds"]) / (b["frames"] / b["seconds"]) for pp, b in zip(pipe, base, strict=True)
        ]
        out["baseline"] = {
            "fps": base_fps,
            "efficiency": base_fps / model_fps if model_fps else 0.0,
            "ours_over_baseline": statistics.median(ratios) if ratios else 0.0,
            "ours_over_baseline_per_round": ratios,
            "stage_ms": {k: 1e3 * v / max(bframes, 1) for k, v in bstages.items()},
            "line_in_out": base[-1].get("line_in_out"),
            "frames": bframes,
            "preprocessing": base[-1].get("preprocessing", ""),
        }
    return out


# ---------------------------------------------------------------- capacity


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def capacity(task: dict[str, Any]) -> dict[str, Any]:
    """N realtime copies of the clip in one Runner: drops, achieved fps per camera, capture->aggregate delay."""
    from edgeanon.run.pipeline import Runner

    source = task["source"]
    cameras, fps, seconds = task["cameras"], task["fps"], task["seconds"]
    cfg = bench_config(
        source,
        model=task["model"],
        threads=task["threads"],
        spinning=task["spinning"],
        cameras=cameras,
        realtime=True,
        loop=True,
        fps=fps,
        sessions=task.get("sessions", 1),
        attributes=task.get("attributes"),
    )
    native_fps, _ = _clip_info(source)
    expected = min(fps, native_fps) if native_fps else fps
    warmup = min(2.0, max(0.5, seconds / 5))
    reset_peak_rss()
    progress = Progress(warmup + seconds, task["label"], enabled=task.get("progress"))
    runner = Runner(cfg, [])
    cleanup = attach_sinks(runner, cfg)
    gc.collect()
    gc.freeze()  # as `edgeanon run` does before it starts the runner
    runner.start()
    t_start = time.monotonic()
    next_tick = t_start
    c0: dict[str, dict[str, int]] = {}
    t0 = cpu0 = 0.0
    stages0: dict[str, float] = {}
    frames0 = 0
    measuring = False
    while True:
        now = time.monotonic()
        if now >= next_tick:
            runner.tick()
            next_tick = now + 0.25
        if not measuring and now - t_start >= warmup:  # start-up (first open, first frames) is not steady state
            with runner._stats_lock:
                runner.stats.delays.clear()
                frames0 = runner.stats.frames
            c0, stages0, t0, cpu0, measuring = _counters(runner), runner.stage_seconds(), now, cpu_seconds(), True
        if measuring and now - t0 >= seconds:
            break
        progress.set(now - t_start)
        time.sleep(0.05)
    with runner._stats_lock:
        delays = list(runner.stats.delays)
        frames = runner.stats.frames - frames0
    c1, stages, t1, cpu1 = _counters(runner), _diff(stages0, runner.stage_seconds()), time.monotonic(), cpu_seconds()
    runner.stop()
    cleanup()
    progress.close()
    elapsed = t1 - t0
    per_camera = []
    for cam, after in c1.items():
        d = {k: after[k] - c0.get(cam, {}).get(k, 0) for k in after}
        per_camera.append({"camera": cam, **d, "achieved_fps": d["inferred"] / elapsed})
    dropped = sum(c["dropped"] for c in per_camera)
    p99 = _pct(delays, 0.99)
    min_fps = min(c["achieved_fps"] for c in per_camera)
    holds = dropped == 0 and p99 < P99_LIMIT_S and min_fps >= 0.95 * expected
    return {
        "model": task["model"],
        "threads": task["threads"],
        "spinning": task["spinning"],
        "sessions": task.get("sessions", 1),
        "cameras": cameras,
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
        "cpu_cores": (cpu1 - cpu0) / max(elapsed, 1e-9),
        "peak_rss_mb": peak_rss_mb(),
        "holds": holds,
    }


# ---------------------------------------------------------------- running tasks


def _execute(task: dict[str, Any]) -> dict[str, Any]:
    return throughput(task) if task["kind"] == "throughput" else capacity(task)


def run_task(task: dict[str, Any], isolate: bool) -> dict[str, Any]:
    """Run one configuration, in a fresh child process when ``isolate`` (its own peak RSS, no leftovers)."""
    if not isolate:
        return _execute(task)
    cmd = [sys.executable, "-m", "edgeanon.bench.command", "--task", json.dumps(task)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise EdgeanonError(f"benchmark child for {task['label']} failed (exit {proc.returncode})")
    return json.loads(lines[-1])


def _capacity_task(args: argparse.Namespace, source: dict[str, Any], model: str, threads: int, n: int) -> dict:
    return {
        "kind": "capacity",
        "label": f"{model} t={threads} cams={n}",
        "source": source,
        "model": model,
        "threads": threads,
        "spinning": args.spinning[0],
        "sessions": args.sessions,
        "cameras": n,
        "fps": args.fps,
        "seconds": args.seconds or 20.0,
        "progress": args.progress,
        "attributes": args.attributes,
    }


# ---------------------------------------------------------------- output


def _fmt(v: float, nd: int = 1) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def print_machine(m: dict[str, Any], out: TextIO) -> None:
    isa = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in m["isa"].items())
    out.write(
        f"CPU: {m['cpu_model']} ({m['physical_cores']} physical cores, {m['usable_cpus']} usable CPUs, "
        f"{m['machine']})\n"
        f"ISA: {isa}  [{' '.join(m['isa_flags']) or 'none of interest'}]\n"
        f"versions: edgeanon {m['edgeanon']}, onnxruntime {m['onnxruntime']}, opencv {m['opencv']}, "
        f"numpy {m['numpy']}, python {m['python']}\n"
    )


def throughput_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| model | threads | spin | model fps | pipeline fps | efficiency | dropped | decode* | preprocess | inference "
        "| postprocess | track | analytics | sinks | CPU cores | peak RSS MB |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        s = r["stage_ms"]
        lines.append(
            f"| {r['model']} | {r['threads']} | {'on' if r['spinning'] else 'off'} | {r['model_fps']:.1f} "
            f"| {r['pipeline_fps']:.1f} | **{r['pipeline_efficiency']:.3f}** | {r['dropped']} "
            f"| {_fmt(s.get('decode', 0), 2)} | {_fmt(s.get('preprocess', 0), 2)} | {_fmt(s.get('inference', 0), 2)} "
            f"| {_fmt(s.get('postprocess', 0), 2)} | {_fmt(s.get('track', 0), 2)} | {_fmt(s.get('analytics', 0), 2)} "
            f"| {_fmt(s.get('sinks', 0), 2)} | {r['cpu_cores_pipeline']:.2f} | {r['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def baseline_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| model | threads | model fps | ours fps | baseline fps | ours/baseline | ours eff. | baseline eff. "
        "| baseline preprocess ms | baseline postprocess ms | baseline track ms |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        b = r.get("baseline")
        if not b:
            continue
        s = b["stage_ms"]
        lines.append(
            f"| {r['model']} | {r['threads']} | {r['model_fps']:.1f} | {r['pipeline_fps']:.1f} | {b['fps']:.1f} "
            f"| **{b['ours_over_baseline']:.2f}** | {r['pipeline_efficiency']:.3f} | {b['efficiency']:.3f} "
            f"| {s.get('preprocess', 0):.2f} | {s.get('postprocess', 0):.2f} | {s.get('track', 0):.2f} |"
        )
    return "\n".join(lines)


def capacity_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| model | threads | sessions | cameras | fps | dropped | min camera fps | p50 delay ms | p99 delay ms "
        "| CPU cores | peak RSS MB | holds |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        d = r["delay_ms"]
        lines.append(
            f"| {r['model']} | {r['threads']} | {r['sessions']} | {r['cameras']} | {r['fps_target']:g} "
            f"| {r['dropped']} | {r['min_camera_fps']:.2f} | {_fmt(d['p50'])} | {_fmt(d['p99'])} "
            f"| {r['cpu_cores']:.2f} | {r['peak_rss_mb']:.0f} | {'yes' if r['holds'] else 'NO'} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- command line


def _camera_counts(text: str) -> list[int]:
    """'4', '1-6' or '1,2,4'."""
    out: list[int] = []
    try:
        for part in text.split(","):
            lo, dash, hi = part.partition("-")
            out.extend(range(int(lo), int(hi) + 1) if dash else [int(lo)])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected N, A-B or A,B,C") from None
    if not out or min(out) < 1 or max(out) > 64:
        raise argparse.ArgumentTypeError(f"{text!r}: camera counts are 1 to 64")
    return out


def _spin(text: str) -> bool:
    if text not in {"on", "off"}:
        raise argparse.ArgumentTypeError("expected on or off")
    return text == "on"


DESCRIPTION = """\
Measure this machine on the real `edgeanon run` code path (a Runner with the real sinks) and print a table.

Throughput (default): for each model and thread count, alternate in rounds within one process
  (a) session.run alone on a fixed input, with the very session the pipeline uses, and
  (b) the whole pipeline (decode, preprocess, inference, decoding+NMS, tracking, analytics, sinks) over the
      clip as fast as possible; a file that is not realtime is read in blocking mode, so 0 frames drop.
  pipeline_efficiency = fps(b) / fps(a): the share of the model's speed the pipeline keeps (target >= 0.90).
  Also: the per-stage time, CPU cores used and peak RSS.

Capacity (--cameras N --fps F): N realtime copies of the clip in one Runner. Reports dropped frames, the
  frame rate each camera achieved, and the p50/p99 delay from capture to aggregate. A count "holds" with 0
  dropped and p99 < 200 ms. --find-max raises N until it no longer holds.

Each configuration runs in a fresh child process (--no-isolate: in this one), so peak RSS is its own.
The machine is probably shared: look at the load average printed with the figures, and compare ratios."""

EPILOG = """\
examples:
  edgeanon bench                                   # fp32 and int8, 1 and 2 threads, bundled clip
  edgeanon bench --models nanodet-416-coco-int8 --threads 2 --rounds 5 --json bench.json
  edgeanon bench --source my.mp4 --spinning off on   # your own video; compare spinning on the whole pipeline
  edgeanon bench --source 0 --seconds 10             # a camera: (b) is capped by the camera's frame rate
  edgeanon bench --cameras 4 --fps 10 --models nanodet-416-coco-int8 --threads 2
  edgeanon bench --cameras 1-6 --fps 10 --threads 1 2     # scaling sweep
  edgeanon bench --cameras 1 --fps 10 --find-max
  edgeanon bench --baseline   # compare with a typical hand-written pipeline (needs: pip install 'edgeanon[bench]')
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("what to measure")
    g.add_argument(
        "--models",
        nargs="+",
        metavar="NAME",
        default=list(DEFAULT_MODELS),
        help="model names from the manifest (default: %(default)s)",
    )
    g.add_argument(
        "--threads",
        nargs="+",
        type=int,
        metavar="N",
        default=list(DEFAULT_THREADS),
        help="onnxruntime intra-op thread counts to measure (default: 1 2)",
    )
    g.add_argument(
        "--spinning",
        nargs="+",
        type=_spin,
        metavar="on|off",
        default=None,
        help="thread spinning values to measure (default: the config default, detector.spinning)",
    )
    g.add_argument(
        "--attributes",
        type=int,
        metavar="MIN_FACE_PX",
        help="also run the opt-in attribute stage (age band and gender) with this minimum face size in pixels, "
        "to measure its cost; compare with a run without it",
    )
    g.add_argument(
        "--source",
        metavar="PATH|INDEX",
        help="video file, or a camera index such as 0 (default: the bundled sample clip)",
    )
    g.add_argument(
        "--rounds",
        type=int,
        default=3,
        metavar="N",
        help="alternating rounds of (a), (b) [and the baseline] per configuration (default 3)",
    )
    g.add_argument(
        "--max-frames",
        type=int,
        metavar="N",
        help="stop each pipeline pass after N inferred frames (default: the whole clip)",
    )
    g.add_argument(
        "--baseline",
        action="store_true",
        help="also run benchmarks/baselines/typical.py (cv2 + numpy + supervision + trackers ByteTrack) in the "
        "same rounds and report ours/baseline; needs the bench extra",
    )
    g.add_argument("--baseline-script", metavar="PATH", help=argparse.SUPPRESS)
    g.add_argument("--graph-optimization", choices=("all", "extended", "basic", "disable"), help=argparse.SUPPRESS)
    c = p.add_argument_group("capacity mode")
    c.add_argument(
        "--cameras",
        type=_camera_counts,
        metavar="N|A-B",
        help="run N realtime copies of the clip (a range such as 1-6 sweeps) instead of the throughput test",
    )
    c.add_argument("--fps", type=float, default=10.0, metavar="F", help="analysis frame rate per camera (default 10)")
    c.add_argument(
        "--seconds",
        type=float,
        metavar="S",
        help="capacity: measured seconds per camera count (default 20, after a short warm-up); "
        "throughput with a camera source: seconds per pass (default 10)",
    )
    c.add_argument(
        "--find-max",
        action="store_true",
        help="raise the camera count from --cameras (default 1) until it no longer holds; report the largest",
    )
    c.add_argument(
        "--sessions",
        type=int,
        default=1,
        metavar="N",
        help="detector sessions (worker threads) shared by the cameras, as detector.sessions (default 1)",
    )
    o = p.add_argument_group("output")
    o.add_argument("--json", metavar="FILE", help="write every figure, the machine and the command as JSON")
    o.add_argument(
        "--no-isolate",
        dest="isolate",
        action="store_false",
        help="run every configuration in this process (faster to start; peak RSS then accumulates)",
    )
    o.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    p.add_argument("--task", help=argparse.SUPPRESS)


def add_parser(subparsers, common_parent: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Register ``edgeanon bench`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "bench",
        parents=[common_parent],
        help="measure frames/s, pipeline efficiency and camera capacity on this machine",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=cmd_bench)
    return p


def _find_baseline_script(given: str | None) -> Path:
    if given:
        path = Path(given).expanduser()
    else:
        from edgeanon.resources import PACKAGE_DIR

        path = PACKAGE_DIR.parent.parent / "benchmarks" / "baselines" / "typical.py"
    if not path.is_file():
        raise EdgeanonError(
            f"{path}: the baseline ships with the source checkout (benchmarks/baselines/typical.py); "
            "run from a clone or pass --baseline-script PATH"
        )
    return path.resolve()


def cmd_bench(args: argparse.Namespace) -> int:
    if args.task:  # a child process of an isolated run
        print(json.dumps(_execute(json.loads(args.task))), flush=True)
        return 0
    out = sys.stdout
    if args.baseline:
        missing = [m for m in ("supervision", "trackers") if importlib.util.find_spec(m) is None]
        if missing:
            print(f"edgeanon: error: {BASELINE_HINT}", file=sys.stderr)
            return 2
        baseline_script = str(_find_baseline_script(args.baseline_script))
    else:
        baseline_script = None
    if min(args.threads) < 1 or args.rounds < 1 or args.sessions < 1:
        raise EdgeanonError("--threads, --rounds and --sessions must be at least 1")
    if not 0 < args.fps <= 60:
        raise EdgeanonError("--fps must be above 0 and at most 60")
    from edgeanon.config.schema import DetectorConfig
    from edgeanon.pixels.detector.manifest import resolve

    for m in args.models:
        resolve(m)  # an unknown name fails now, with the list of known ones
    source = parse_source(args.source)
    if args.spinning is None:
        args.spinning = [DetectorConfig().spinning]
    machine = describe_machine()
    print_machine(machine, out)
    load_before = load_average()
    out.write(f"load average before: {' '.join(map(str, load_before))}\n\n")
    out.flush()
    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "tool": "edgeanon bench",
        "date": started.isoformat(timespec="seconds"),
        "command": "edgeanon bench " + shlex.join(args.argv) if hasattr(args, "argv") else shlex.join(sys.argv),
        "machine": machine,
        "load_average_before": load_before,
        "isolated": args.isolate,
    }
    if args.cameras is not None or args.find_max:
        if source["kind"] != "file":
            raise EdgeanonError("capacity mode plays copies of a video file in real time: pass a file, not a camera")
        report["capacity"] = _run_capacity(args, source, out)
    else:
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
            line = (
                f"{label}: model {r['model_fps']:.1f} fps, pipeline {r['pipeline_fps']:.1f} fps, "
                f"efficiency {r['pipeline_efficiency']:.3f}, dropped {r['dropped']}"
            )
            if r.get("baseline"):
                b = r["baseline"]
                line += f", baseline {b['fps']:.1f} fps (ours/baseline {b['ours_over_baseline']:.2f})"
            out.write(line + "\n")
            out.flush()
        report["throughput"] = rows
        out.write("\n" + throughput_table(rows) + "\n")
        out.write(
            "* decode runs in the reader thread, in parallel with the detector; the other stages are per frame "
            "in the worker (detect = preprocess + inference + postprocess).\n"
        )
        if baseline_script:
            out.write("\n" + baseline_table(rows) + "\n")
    report["load_average_after"] = load_average()
    out.write(f"\nload average after: {' '.join(map(str, report['load_average_after']))}\n")
    if args.json:
        path = Path(args.json)
        path.write_text(json.dumps(report, indent=2, default=_json_default) + "\n", encoding="utf-8")
        out.write(f"wrote {path}\n")
    return 0


def _json_default(o: object) -> object:
    if isinstance(o, float) and math.isnan(o):
        return None
    return str(o)


def _run_capacity(args: argparse.Namespace, source: dict[str, Any], out: TextIO) -> dict[str, Any]:
    counts = args.cameras or [1]
    rows: list[dict[str, Any]] = []
    best: dict[str, int] = {}
    for model in args.models:
        for threads in args.threads:
            key = f"{model} threads={threads}"
            if args.find_max:
                # Walk up from the given count while it holds, or down from it while it does not.
                n, largest, step = counts[0], 0, 0
                while 1 <= n <= 64:
                    r = run_task(_capacity_task(args, source, model, threads, n), args.isolate)
                    rows.append(r)
                    _capacity_line(r, out)
                    step = step or (1 if r["holds"] else -1)
                    if r["holds"]:
                        largest = max(largest, n)
                    if r["holds"] != (step > 0):
                        break
                    n += step
                best[key] = largest
            else:
                for n in counts:
                    r = run_task(_capacity_task(args, source, model, threads, n), args.isolate)
                    rows.append(r)
                    _capacity_line(r, out)
                held = [r["cameras"] for r in rows if r["model"] == model and r["threads"] == threads and r["holds"]]
                best[key] = max(held, default=0)
    out.write("\n" + capacity_table(rows) + "\n")
    for key, n in best.items():
        out.write(f"largest camera count that holds {args.fps:g} fps ({key}): {n}\n")
    return {"fps": args.fps, "find_max": args.find_max, "runs": rows, "largest_holding": best}


def _capacity_line(r: dict[str, Any], out: TextIO) -> None:
    d = r["delay_ms"]
    out.write(
        f"{r['model']} t={r['threads']} cams={r['cameras']}: dropped {r['dropped']}, min camera fps "
        f"{r['min_camera_fps']:.2f}, delay p50 {_fmt(d['p50'])} ms p99 {_fmt(d['p99'])} ms, "
        f"CPU {r['cpu_cores']:.2f} cores, RSS {r['peak_rss_mb']:.0f} MB: {'holds' if r['holds'] else 'does NOT hold'}\n"
    )
    out.flush()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="edgeanon bench",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    add_arguments(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point (``python -m edgeanon.bench.command``), also used for isolated child processes."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = [a for a in argv if not a.startswith("--task")]
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return cmd_bench(args)
    except EdgeanonError as exc:
        print(f"edgeanon: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
