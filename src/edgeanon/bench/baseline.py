"""``edgeanon bench --baseline``: a typical hand-written pipeline, measured in the same rounds as ours.

The baseline (benchmarks/baselines/typical.py: cv2 + numpy + supervision + trackers ByteTrack) ships with
the source checkout, not the package, and needs the bench extra; it gets the same model, thresholds,
zone and line, so ours/baseline compares pipelines, not settings.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgeanon.bench import compare
from edgeanon.bench.workload import CLIP_SIZE
from edgeanon.errors import EdgeanonError

HINT = (
    "edgeanon bench --baseline needs the bench extra: pip install 'edgeanon[bench]' && "
    "pip install --no-deps 'trackers>=2.6,<2.7' (see benchmarks/README.md)"
)


def extra_missing() -> bool:
    """True when the bench extra (supervision, trackers) is not installed."""
    return any(importlib.util.find_spec(m) is None for m in ("supervision", "trackers"))


def find_script(given: str | None) -> Path:
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


def _module(path: Path):
    spec = importlib.util.spec_from_file_location("edgeanon_bench_baseline", path)
    if spec is None or spec.loader is None:
        raise EdgeanonError(f"{path}: cannot load the baseline script")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make(task: dict[str, Any], cfg):
    """The baseline pipeline with this task's model, threads and spinning and the config's thresholds and geometry."""
    from edgeanon.pixels.detector.manifest import read_verified, resolve

    mod = _module(Path(task["baseline_script"]))
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


def summarise(pipe: Sequence[dict[str, Any]], base: Sequence[dict[str, Any]], model_fps: float) -> dict[str, Any]:
    """The baseline's figures beside ours: its fps, its efficiency and ours/baseline round by round."""
    base_fps = compare.fps(base)
    bstages = compare.stage_totals(base)
    bframes = sum(b["frames_total"] for b in base)
    ratios = compare.per_round(pipe, base)
    return {
        "fps": base_fps,
        "efficiency": base_fps / model_fps if model_fps else 0.0,
        "ours_over_baseline": compare.median(ratios),
        "ours_over_baseline_per_round": ratios,
        "stage_ms": {k: 1e3 * v / max(bframes, 1) for k, v in bstages.items()},
        "line_in_out": base[-1].get("line_in_out"),
        "frames": bframes,
        "preprocessing": base[-1].get("preprocessing", ""),
    }
