"""Figures from passes measured in alternating rounds.

A shared machine's noise comes and goes; two kinds of pass that run next to each other in the same round
see the same noise, so the median of their per-round ratios is the least noisy comparison. A pass is a
mapping with at least ``frames`` and ``seconds``; pipeline and baseline passes also carry ``stages``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

Pass = dict[str, Any]


def fps(passes: Sequence[Pass]) -> float:
    """Frames per second over all passes together."""
    frames = sum(p["frames"] for p in passes)
    secs = sum(p["seconds"] for p in passes)
    return frames / secs if secs > 0 else 0.0


def per_round(numerator: Sequence[Pass], denominator: Sequence[Pass]) -> list[float]:
    """fps(numerator) / fps(denominator) within each round."""
    return [
        (n["frames"] / n["seconds"]) / (d["frames"] / d["seconds"]) for d, n in zip(denominator, numerator, strict=True)
    ]


def median(ratios: Sequence[float]) -> float:
    return statistics.median(ratios) if ratios else 0.0


def stage_totals(passes: Sequence[Pass]) -> dict[str, float]:
    """Seconds per stage, summed over the passes."""
    stages: dict[str, float] = {}
    for p in passes:
        for k, v in p["stages"].items():
            stages[k] = stages.get(k, 0.0) + v
    return stages
