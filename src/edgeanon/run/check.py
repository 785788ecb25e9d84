"""`edgeanon check-config`: a config checked as `run` would meet it, without running: the schema and the policy,
the model name against the manifest, the input sizes against what the model accepts, and each file camera's
zones and lines against the frame size its video states (read from the container's metadata; no frame is
decoded)."""

from __future__ import annotations

import logging
from pathlib import Path

from edgeanon.config.cameras import Camera
from edgeanon.config.loader import load_config, located_errors
from edgeanon.config.placement import Problem, geometry_problems
from edgeanon.config.schema import Config
from edgeanon.config.sources import FileSource
from edgeanon.errors import EdgeanonError, ModelError
from edgeanon.pixels.detector.geometry import size_problem
from edgeanon.pixels.detector.manifest import InputSpec, resolve
from edgeanon.pixels.media import frame_size
from edgeanon.pixels.sources import resolve_file

log = logging.getLogger("edgeanon")


def check_config(path: Path, shown_as: str) -> int:
    """Validate the config at ``path`` (called ``shown_as`` in the verdict); the exit code."""
    cfg = load_config(path)
    problems: list[Problem] = []
    try:
        # the same lookup `run` makes, so an unknown name fails here, not later
        problems += input_problems(cfg, resolve(cfg.detector.model)[1].input)
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


def input_problems(cfg: Config, spec: InputSpec) -> list[Problem]:
    """``detector.input`` and each ``cameras[].input`` against the sizes the model runs at (known only once the
    model is resolved, so not a schema check)."""
    found = [(("detector", "input"), size_problem(cfg.detector.input, spec))]
    found += [(("cameras", i, "input"), size_problem(c.input, spec)) for i, c in enumerate(cfg.cameras) if c.input]
    return [(loc, msg) for loc, msg in found if msg is not None]


def check_inputs(path: Path, cfg: Config) -> None:
    """``input_problems`` as a located ConfigError (file, line, field) at start-up, before anything opens."""
    problems = input_problems(cfg, resolve(cfg.detector.model)[1].input)
    if problems:
        raise located_errors(path, problems)


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
