"""A site's own config as a benchmark workload: its cameras, played from the bundled clip, replicated to N.

``edgeanon bench --recommend CONFIG`` and ``benchmarks/capacity_ratio.py`` ask how many cameras *like these*
one box carries. So each camera keeps what sets its cost (its zones, lines and exclude areas, fps, region and
input size) and only its source changes: real RTSP sources cannot be assumed reachable from where the bench
runs, and N copies of one stream would not be N cameras anyway. Every source becomes the bundled clip played
in real time, in a loop. Copies go round-robin (entrance, checkout, entrance-2, checkout-2, ...), with the
entrances they belong to.

Network outputs (push, MQTT), the schedule, storage and the web server are dropped: a benchmark sends nothing
anywhere, runs whatever the hour, and keeps its store in a temporary directory.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from edgeanon.bench.workload import CLIP_SIZE
from edgeanon.errors import EdgeanonError

CLIP_SOURCE = {"kind": "file", "realtime": True, "loop": True}  # empty path: the bundled clip
DROPPED = ("schedule", "push", "mqtt", "storage", "http")
SOURCE_NOTE = (
    "every camera's source is replaced by the bundled clip played in real time, in a loop (real RTSP sources "
    "cannot be assumed reachable from here); each camera keeps its geometry, fps, region and input size"
)


def check_site(path: str | Path) -> None:
    """Refuse a config ``edgeanon run`` would refuse (its own ``file:line: path: message`` lines), and geometry
    in pixels that does not fit the clip that replaces the sources (it would count nothing, and an ``auto``
    region would be wrong)."""
    from edgeanon.config.loader import load_config, located_errors
    from edgeanon.config.placement import geometry_problems

    cfg = load_config(path)
    problems = [
        (("cameras", i, *loc), msg)
        for i, cam in enumerate(cfg.cameras)
        for loc, msg in geometry_problems(cam, CLIP_SIZE)
    ]
    if problems:
        w, h = CLIP_SIZE
        raise EdgeanonError(
            f"the bench plays the bundled {w}x{h} clip in place of every camera, and this geometry does not fit it "
            "(drawn in pixels for another frame size?); give the coordinates as fractions with `normalized: true`, "
            "which survive a change of resolution:\n" + str(located_errors(path, problems))
        )


def _raw(path: str | Path) -> dict[str, Any]:
    import yaml

    from edgeanon.config.loader import load_config

    load_config(path)  # the loader's messages for anything wrong, before the raw data is trusted
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def _copy_id(camera_id: str, round_: int) -> str:
    """The first copy keeps the camera's id; later ones get ``-2``, ``-3``... (ids are at most 32 characters)."""
    if round_ == 1:
        return camera_id
    suffix = f"-{round_}"
    return camera_id[: 32 - len(suffix)] + suffix


def replicate(
    data: dict[str, Any],
    cameras: int,
    camera_overrides: dict[str, Any] | None = None,
    per_camera: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Replace ``data``'s cameras by ``cameras`` round-robin copies on the clip, with their entrances.

    ``camera_overrides`` are set on every copy, ``per_camera`` on the copies of the camera with that id."""
    template = data["cameras"]
    cams, ids = [], {}
    for i in range(cameras):
        src, round_ = template[i % len(template)], i // len(template) + 1
        cam = copy.deepcopy(src)
        cam["id"] = _copy_id(src["id"], round_)
        cam["source"] = dict(CLIP_SOURCE)
        for key, value in {**(camera_overrides or {}), **(per_camera or {}).get(src["id"], {})}.items():
            if value is None:
                cam.pop(key, None)
            else:
                cam[key] = value
        cams.append(cam)
        ids.setdefault(src["id"], []).append(cam["id"])
    data["entrances"] = [{**e, "camera": cid} for e in data.get("entrances") or [] for cid in ids.get(e["camera"], [])]
    data["cameras"] = cams


def site_config(
    path: str,
    *,
    cameras: int,
    detector: dict[str, Any] | None = None,
    camera: dict[str, Any] | None = None,
    per_camera: dict[str, dict[str, Any]] | None = None,
):
    """The config at ``path`` as a workload of ``cameras`` cameras on the clip.

    ``detector`` entries replace the config's ``detector`` settings; ``camera`` entries are set on every camera
    and ``per_camera`` ones on the copies of the camera with that id (a None value removes the key, so the
    camera falls back to the site-wide setting).
    """
    import yaml

    from edgeanon.config.loader import parse_config

    data = _raw(path)
    for key in DROPPED:
        data.pop(key, None)
    replicate(data, cameras, camera, per_camera)
    det = dict(data.get("detector") or {})
    det.update(detector or {})
    data["detector"] = det
    return parse_config(yaml.safe_dump(data, sort_keys=False), f"{path} (as benchmarked)")


def describe(path: str | Path) -> list[dict[str, Any]]:
    """The config's cameras as the bench plays them: id, fps, geometry, and their own region and input size."""
    from edgeanon.config.loader import load_config

    return [
        {
            "id": c.id,
            "fps": c.fps,
            "zones": len(c.zones),
            "lines": len(c.lines),
            "roi": _text(getattr(c, "roi", None)),
            "input": _text(getattr(c, "input", None)),
        }
        for c in load_config(path).cameras
    ]


def _text(value: object) -> Any:
    return value if value is None or isinstance(value, (str, int, float, list)) else str(value)
