"""Where the config meets the code it configures: the settings of tracking, movement, detection and attributes.

The settings types belong to the code that uses them (``counting.tracking.TrackerSettings``,
``counting.analytics.movement.MovementSettings``, ``pixels.faces.stage.AttributeSettings``, the detector's
``SessionSettings`` and ``Thresholds``), so that code never imports the config. They are built from the config
models here and nowhere else, by one conversion, ``settings_from``, which matches fields by name and refuses a
config field it would silently drop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel

from edgeanon.config.cameras import Camera
from edgeanon.config.schema import Config
from edgeanon.config.stages import AttributesConfig
from edgeanon.counting.analytics.movement import MovementSettings
from edgeanon.counting.tracking import TrackerSettings
from edgeanon.pixels.detector import InputGeometry, SessionSettings, Thresholds, physical_cores

if TYPE_CHECKING:
    from edgeanon.pixels.faces.stage import AttributeSettings

S = TypeVar("S")


def settings_from(model: BaseModel, kind: type[S], *, skip: Iterable[str] = (), **given: object) -> S:
    """A ``kind`` dataclass from ``model``'s fields of the same names, with ``given`` added or overriding.

    Every field of ``model`` must be a field of ``kind`` or listed in ``skip`` (read elsewhere), and every field
    of ``kind`` without a default must be supplied: a config option that silently stopped reaching its code,
    or a setting nobody fills, is a ValueError here, not a quiet default at run time.
    """
    fields = {f.name: f for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    skipped = set(skip)
    values = {name: getattr(model, name) for name in type(model).model_fields if name not in skipped}
    unknown = sorted(set(values) - set(fields)) + sorted(set(given) - set(fields))
    if unknown:
        raise ValueError(f"{kind.__name__} has no field(s) {unknown} (from {type(model).__name__})")
    values.update(given)
    required = {
        name
        for name, f in fields.items()
        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    missing = sorted(required - set(values))
    if missing:
        raise ValueError(f"{kind.__name__}: nothing supplies {missing} (from {type(model).__name__})")
    return kind(**values)


def tracker_settings(cfg: Config) -> TrackerSettings:
    # a track's confirmed detections are the detector's own: its score threshold is the tracker's first stage
    return settings_from(cfg.tracker, TrackerSettings, high_score=cfg.detector.score)


def movement_settings(cam: Camera) -> MovementSettings:
    return settings_from(cam.movement, MovementSettings) if cam.movement is not None else MovementSettings()


GEOMETRY = ("input", "resize")  # detector fields read by ``input_geometry``


def input_geometry(cfg: Config) -> InputGeometry:
    return InputGeometry(input=cfg.detector.input, resize=cfg.detector.resize)


def sessions_and_threads(cfg: Config) -> tuple[int, int]:
    """Detector sessions and onnxruntime threads per session, the empty fields filled in.

    Cameras are independent work, so the default runs one session per camera up to the physical cores, and
    shares the cores out between the sessions: intra-op threads synchronise at every layer of a model this
    small, while sessions side by side never wait for each other. One camera keeps one session with every core.
    """
    cores = physical_cores()
    d = cfg.detector
    sessions = d.sessions or max(1, min(len(cfg.cameras), cores, 8))
    return sessions, d.threads or max(1, cores // sessions)


def session_settings(cfg: Config) -> SessionSettings:
    thresholds = ("score", "iou", "min_box", "max_box")  # sessions, batch and skip_idle: read by the runner
    skip = ("model", "sessions", "threads", "batch", "skip_idle", *thresholds, *GEOMETRY)
    return settings_from(cfg.detector, SessionSettings, skip=skip, threads=sessions_and_threads(cfg)[1])


def detector_thresholds(cfg: Config) -> Thresholds:
    d = cfg.detector
    return settings_from(
        d,
        Thresholds,
        skip=("model", "sessions", "batch", "threads", "spinning", "skip_idle", *GEOMETRY),
        score=min(d.score, cfg.tracker.low_score),  # the tracker's second stage needs the weak detections too
    )


def attribute_settings(a: AttributesConfig) -> AttributeSettings:
    from edgeanon.pixels.faces.stage import AttributeSettings  # loads the stage only when attributes are declared

    return settings_from(
        a, AttributeSettings, skip=("estimate",), age="age_band" in a.estimate, gender="gender" in a.estimate
    )
