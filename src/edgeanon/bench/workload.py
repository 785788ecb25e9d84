"""What a benchmark run measures: the video source and the config ``edgeanon run`` would use for it.

The config is the bundled default one, so the zone, line and entrance are the demo's and analytics and
sinks do real work; only the source, the model and the session knobs change.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgeanon.errors import EdgeanonError, SourceError

CLIP_SIZE = (768, 576)  # the bundled clip: the default config's zone and line are drawn in its pixels


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


def _rescale(template: dict[str, Any]) -> None:
    """Normalise the demo's zones, lines and exclusions to the clip's size, so they cover the same part of any frame."""
    for z in template.get("zones", []):
        z["polygon"], z["normalized"] = _normalised(z["polygon"]), True
    for ln in template.get("lines", []):
        (a, b), ln["normalized"] = _normalised([ln["a"], ln["b"]]), True
        ln["a"], ln["b"] = a, b
    for e in template.get("exclude", []):
        e["polygon"], e["normalized"] = _normalised(e["polygon"]), True


def _copies(template: dict[str, Any], src: dict[str, Any], cameras: int, fps: float | None) -> list[dict[str, Any]]:
    """``cameras`` copies of the demo camera on one source (numbered ids when there is more than one)."""
    cams = []
    for i in range(cameras):
        cam = copy.deepcopy(template)
        cam["source"] = src
        if cameras > 1:
            cam["id"] = f"{template['id']}{i + 1}"
        if fps is not None:
            cam["fps"] = fps
        cams.append(cam)
    return cams


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
    batch: int = 1,
    attributes: int | None = None,
):
    """The bundled default config, with the source, model and session knobs of this run.

    ``attributes`` (a minimum face size in pixels) declares the purpose "attributes" with age band and gender,
    to measure what the attribute stage costs on this video.

    The zone, line and entrance are the demo's, so analytics and sinks do real work. For another video
    they are rescaled (normalised to the clip's size), so they cover the same part of any frame.
    """
    import yaml

    from edgeanon.config.loader import parse_config
    from edgeanon.resources import default_config

    data = yaml.safe_load(default_config().read_text(encoding="utf-8"))
    template = data["cameras"][0]
    if source.get("path") is not None or source["kind"] != "file":
        _rescale(template)
    src = dict(source)
    if src["kind"] == "file":
        src.update(realtime=realtime, loop=loop)
    cams = _copies(template, src, cameras, fps)
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
    det.update(model=model, threads=threads, spinning=spinning, sessions=sessions, batch=batch)
    data["detector"] = det
    return parse_config(yaml.safe_dump(data, sort_keys=False), "<edgeanon bench>")


def video_path(source: dict[str, Any]) -> Path:
    """The file a file source plays: the user's video, or the bundled clip."""
    from edgeanon.resources import sample_clip

    return Path(source.get("path") or sample_clip())


def clip_info(source: dict[str, Any]) -> tuple[float, int]:
    """Native fps and frame count of a file source (0, 0 for a camera)."""
    if source["kind"] != "file":
        return 0.0, 0
    from edgeanon.pixels.media import video_info

    path = video_path(source)
    try:
        return video_info(path)
    except SourceError:
        raise EdgeanonError(f"{path}: cannot open this video") from None
