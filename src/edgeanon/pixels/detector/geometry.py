"""Which input size the model runs at for one camera: ``auto`` or a fixed ``WxH`` (config ``detector.input``,
``cameras[].input``), checked against what the model accepts.

``auto`` keeps the model's trained detail instead of stretching every frame into the manifest's square: the
whole frame's long side maps to the manifest's long side, and the region (today the whole frame) keeps that
scale, each side rounded to the nearest multiple the model accepts. A 768x576 camera runs at 416x320, which
counted best per millisecond on the labelled frames (benchmarks/results/GEOMETRY.md); a smaller region runs
at a proportionally smaller input, so cropping never upscales.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from edgeanon.pixels.detector.manifest import InputSpec

AUTO = "auto"
_SIZE = re.compile(r"^\s*([0-9]+)\s*[xX]\s*([0-9]+)\s*$")


@dataclass(frozen=True, slots=True)
class InputGeometry:
    """The site-wide default input size and the resize mode (config ``detector.input``, ``detector.resize``)."""

    input: str = AUTO  # "auto" or "WxH"
    resize: Literal["stretch", "letterbox"] | None = None  # None: the model manifest's (stretch for NanoDet)


def parse_size(setting: str) -> tuple[int, int] | None:
    """(W, H) of a ``"WxH"`` setting, None for ``"auto"``; ValueError for anything else."""
    if setting.strip().lower() == AUTO:
        return None
    m = _SIZE.match(setting)
    if m is None or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise ValueError(f"{setting!r} is neither 'auto' nor a size like '416x320'")
    return int(m.group(1)), int(m.group(2))


def size_problem(setting: str, spec: InputSpec) -> str | None:
    """Why the model cannot run at ``setting`` (None if it can); known only once the model is chosen."""
    size = parse_size(setting)
    if size is None:
        return None
    w, h = size
    if spec.multiple is None:
        if (w, h) != (spec.width, spec.height):
            return f"{w}x{h}: this model runs only at {spec.width}x{spec.height} (use auto or that size)"
        return None
    if w % spec.multiple or h % spec.multiple:
        return f"{w}x{h}: both sides must be multiples of {spec.multiple} for this model (e.g. auto)"
    return None


def input_size(
    region_w: int, region_h: int, setting: str, spec: InputSpec, frame: tuple[int, int] | None = None
) -> tuple[int, int]:
    """The model input (W, H) for a region of ``region_w`` x ``region_h`` pixels of a ``frame`` (w, h; default:
    the region is the frame). A fixed-size model always gets its one size; ``"WxH"`` is used as given."""
    if spec.multiple is None:
        return spec.width, spec.height
    size = parse_size(setting)
    if size is not None:
        return size
    fw, fh = frame if frame is not None else (region_w, region_h)
    scale = max(spec.width, spec.height) / max(fw, fh, 1)
    return _nearest(region_w * scale, spec.multiple), _nearest(region_h * scale, spec.multiple)


def _nearest(x: float, multiple: int) -> int:
    """The multiple nearest ``x`` (halves round up), at least one multiple."""
    return max(1, math.floor(x / multiple + 0.5)) * multiple
