"""The pages' view of the config (``web.site``): built here, where the config is known, so ``web/`` never
imports the config models."""

from __future__ import annotations

from edgeanon.config.cameras import Camera
from edgeanon.config.schema import Config
from edgeanon.guidebook import policy
from edgeanon.web.site import AreaView, CameraView, LineView, SiteView, ZoneView


def camera_view(cam: Camera) -> CameraView:
    return CameraView(
        id=cam.id,
        zones=tuple(ZoneView(z.name, tuple(z.polygon), z.normalized) for z in cam.zones),
        lines=tuple(LineView(ln.name, ln.a, ln.b, ln.normalized, ln.in_side) for ln in cam.lines),
        exclude=tuple(AreaView(tuple(ex.polygon), ex.normalized) for ex in cam.exclude),
    )


def site_view(cfg: Config) -> SiteView:
    return SiteView(
        operator=cfg.operator.name,
        timezone=cfg.aggregation.timezone,
        bucket_seconds=cfg.aggregation.bucket_seconds,
        outputs=policy.allowed_outputs(cfg.purpose_ids),
        cameras=tuple(camera_view(c) for c in cfg.cameras),
        entrances=tuple((e.camera, e.line) for e in cfg.entrances),
        setup_until=str(cfg.http.setup_until),
    )
