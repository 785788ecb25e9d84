"""The input sizes ``edgeanon bench --recommend`` tries: the config's own, and the same scaled down and up.

With ``detector.input: auto`` each camera's input follows its region (``roi``), so one fixed ``WxH`` for
every camera would not be "a bit smaller than now" for any of them. A scale token (``x0.8``) instead takes
each camera's own input size on the clip, as the config sets it, and scales both sides, rounded to the
model's multiple; the result is set as that camera's ``input``. ``auto`` and ``WxH`` tokens set every camera
alike.
"""

from __future__ import annotations

import math
import re
from typing import Any

from edgeanon.bench.workload import CLIP_SIZE
from edgeanon.errors import EdgeanonError

OWN = "config"  # the input sizes as the config sets them: nothing changed
DEFAULT_ALTERNATIVES = ("x0.8", "x1.25")
_SIZE = re.compile(r"^[1-9][0-9]{1,3}x[1-9][0-9]{1,3}$")
_SCALE = re.compile(r"^x([0-9]+(?:\.[0-9]+)?)$")


def supported() -> bool:
    """Whether this version has input size settings (``detector.input``) to change."""
    from edgeanon.config.stages import DetectorConfig

    return "input" in DetectorConfig.model_fields


def check(token: str) -> None:
    """Refuse a token that is none of ``config``, ``auto``, ``WxH`` or ``xS`` (0.25 <= S <= 4)."""
    scale = _SCALE.match(token)
    if not (token in {OWN, "auto"} or _SIZE.match(token) or (scale and 0.25 <= float(scale[1]) <= 4)):
        raise EdgeanonError(f"--inputs {token}: expected config, auto, WxH such as 416x320, or a scale such as x0.8")
    if token != OWN and not supported():
        raise EdgeanonError("--inputs: this version has no detector.input setting; only 'config' can be measured")
    if _SIZE.match(token):
        w, h = map(int, token.split("x"))
        m = max(_multiple(name) for name in _person_models())
        if w % m or h % m:
            raise EdgeanonError(f"--inputs {token}: both sides must be multiples of {m} for the person models")


def _person_models() -> list[str]:
    from edgeanon.pixels.detector.manifest import load_manifest

    manifest, _ = load_manifest()
    return [n for n, e in manifest.models.items() if e.task == "person"]


def own_sizes(cfg, model: str) -> dict[str, tuple[int, int]]:
    """Each camera's model input (W, H) on the clip, as the config sets it: its region and its input setting."""
    from edgeanon.config.region import region_of
    from edgeanon.pixels.detector.geometry import input_size
    from edgeanon.pixels.detector.manifest import resolve

    spec = resolve(model)[1].input
    out = {}
    for cam in cfg.cameras:
        x0, y0, x1, y1 = region_of(cam, CLIP_SIZE, cfg.tracker.confirm_hits)
        setting = getattr(cam, "input", None) or cfg.detector.input
        out[cam.id] = input_size(x1 - x0, y1 - y0, setting, spec, frame=CLIP_SIZE)
    return out


def _multiple(model: str) -> int:
    from edgeanon.pixels.detector.manifest import resolve

    return resolve(model)[1].input.multiple or 32


def camera_inputs(token: str, cfg, model: str) -> dict[str, str] | None:
    """The ``input`` each of the config's cameras gets for ``token`` (by camera id); None for ``config``."""
    if token == OWN:
        return None
    scale = _SCALE.match(token)
    if not scale:
        return {c.id: token for c in cfg.cameras}
    s, m = float(scale[1]), _multiple(model)
    return {cid: f"{_nearest(w * s, m)}x{_nearest(h * s, m)}" for cid, (w, h) in own_sizes(cfg, model).items()}


def _nearest(x: float, multiple: int) -> int:
    return max(1, math.floor(x / multiple + 0.5)) * multiple


def describe(token: str, sizes: dict[str, str] | None, cfg, model: str) -> str:
    """What a token means for these cameras, e.g. ``x0.8 (sample 320x192)``."""
    if sizes is None:
        if not supported():
            return OWN
        own = own_sizes(cfg, model)
        return f"{OWN} ({', '.join(f'{cid} {w}x{h}' for cid, (w, h) in own.items())})"
    if len(set(sizes.values())) == 1 and not _SCALE.match(token):
        return token
    return f"{token} ({', '.join(f'{cid} {size}' for cid, size in sizes.items())})"


def area_ratio(sizes: dict[str, str] | None, cfg, model: str) -> float | None:
    """Total input pixels of ``sizes`` over the config's own; None when not known (``config``, ``auto``)."""
    if sizes is None or not all(_SIZE.match(s) for s in sizes.values()):
        return None
    own = own_sizes(cfg, model)
    pixels = sum(int(w) * int(h) for w, h in (s.split("x") for s in sizes.values()))
    return pixels / max(1, sum(w * h for w, h in own.values()))


def as_json(sizes: dict[str, str] | None) -> Any:
    return None if sizes is None else dict(sizes)
