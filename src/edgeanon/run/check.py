"""`edgeanon check-config`: a config checked as `run` would meet it, without running: the schema and the policy,
the model name against the manifest, and each file camera's zones and lines against the frame size its video
states (read from the container's metadata; no frame is decoded)."""

from __future__ import annotations

import logging
from pathlib import Path

from edgeanon.config.cameras import Camera
from edgeanon.config.loader import load_config, located_errors
from edgeanon.config.placement import Problem, geometry_problems
from edgeanon.config.sources import FileSource
from edgeanon.errors import EdgeanonError, ModelError
from edgeanon.pixels.detector.manifest import resolve
from edgeanon.pixels.media import frame_size
from edgeanon.pixels.sources import resolve_file

log = logging.getLogger("edgeanon")


def check_config(path: Path, shown_as: str) -> int:
    """Validate the config at ``path`` (called ``shown_as`` in the verdict); the exit code."""
    cfg = load_config(path)
    problems: list[Problem] = []
    try:
        resolve(cfg.detector.model)  # the same lookup `run` makes, so an unknown name fails here, not later
    except ModelError as exc:
        problems.append((("detector", "model"), str(exc)))
    for i, cam in enumerate(cfg.cameras):
        if isinstance(cam.source, FileSource) and (cam.zones or cam.lines or cam.exclude):
            problems += [((("cameras", i, *loc)), msg) for loc, msg in _file_geometry(cam)]
    if problems:
        raise located_errors(path, problems)
    cams = ", ".join(f"{c.id} ({len(c.zones)} zones, {len(c.lines)} lines)" for c in cfg.cameras)
    print(f"{shown_as}: ok: {len(cfg.cameras)} camera(s): {cams}")
    return 0


def _file_geometry(cam: Camera) -> list[Problem]:
    """A file camera's geometry against the frame size the container states (metadata only, no frame decoded)."""
    video = resolve_file(cam.source)
    try:
        size = frame_size(video)
    except EdgeanonError as exc:
        return [(("source", "path"), f"cannot read the frame size: {exc}")]
    if size is None:
        log.warning(
            "camera %s: %s does not state its frame size; geometry is checked on the first frame", cam.id, video
        )
        return []
    return geometry_problems(cam, size)
