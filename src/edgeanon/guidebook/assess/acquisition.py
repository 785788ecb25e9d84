"""取得時 (acquisition): no frame kept, cameras on only when needed, a proportionate frame rate, every camera used,
and faces large enough when age band or gender is estimated."""

from __future__ import annotations

from edgeanon.config.names import DAYS
from edgeanon.config.schema import Camera, Config
from edgeanon.guidebook import policy
from edgeanon.guidebook.assess.item import Item
from edgeanon.guidebook.notice.content import estimated_attributes

FPS_PROPORTIONATE = 15.0  # counting walking people needs no more (people move ~1.4 m/s; 10 fps is plenty for lines)
# The age and gender models take 64x64 crops and were trained on roughly frontal faces of about that size; below
# ~32 px a face is upscaled from too few pixels and the estimate is unreliable (BlazeFace itself finds faces down
# to about 16 px, 1/16 of its 256 input, at best).
MIN_FACE_PX = 32

_ESTIMATE_NAMES = {"age_band": "age band", "gender": "gender"}
# The outputs counted over a camera's zones (zone heading and speed ride along with them, see ``_camera_output``).
_ZONE_OUTPUTS = frozenset({"zone_occupancy", "zone_dwell", "queue_length"})


def check_acquisition(cfg: Config) -> list[Item]:
    items = [_raw_frames(cfg), _schedule(cfg)]
    items += [_frame_rate(cam.id, cam.fps) for cam in cfg.cameras]
    items += [_camera_output(cfg, cam) for cam in cfg.cameras]
    min_face = _min_face(cfg)
    if min_face is not None:
        items.append(min_face)
    return items


def _raw_frames(cfg: Config) -> Item:
    return Item(
        "acquisition",
        "acquisition.raw-frames",
        "Raw frames kept: 0",
        "pass",
        f"retention.raw_frames_seconds is {cfg.retention.raw_frames_seconds} (any other value is refused at load, "
        "rule R2-discard). Every frame buffer, including frames dropped or skipped by pacing, is zeroed in place "
        "right after inference; nothing encodes or writes pixels.",
    )


def _schedule(cfg: Config) -> Item:
    title = "Cameras run only when needed"
    if cfg.schedule is None:
        return Item(
            "acquisition",
            "acquisition.schedule",
            title,
            "warn",
            "no schedule: the cameras film all day, also when the store is closed and no count is needed. Add "
            "schedule.hours (outside them the cameras are not opened) to film only what the purpose needs.",
        )
    minutes = {d: 0 for d in DAYS}
    for h in cfg.schedule.hours:
        span = _minutes(h.close) - _minutes(h.open)
        for d in h.days:
            minutes[d] += span
    if all(m >= 24 * 60 for m in minutes.values()):
        return Item(
            "acquisition",
            "acquisition.schedule",
            title,
            "warn",
            "the schedule covers every hour of every day: that is filming all day. Limit it to opening hours.",
        )
    hours = "; ".join(f"{','.join(h.days)} {h.open}-{h.close}" for h in cfg.schedule.hours)
    return Item(
        "acquisition",
        "acquisition.schedule",
        title,
        "pass",
        f"cameras are opened only {hours} ({cfg.aggregation.timezone}).",
    )


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _frame_rate(camera: str, fps: float) -> Item:
    title = f"Frame rate of '{camera}' proportionate"
    if fps > FPS_PROPORTIONATE:
        return Item(
            "acquisition",
            f"acquisition.fps.{camera}",
            title,
            "warn",
            f"{fps:g} fps: counting people needs no more than {FPS_PROPORTIONATE:g} (people walk ~1.4 m/s; "
            "10 fps is plenty for lines, 5 for queues). A higher rate captures more images of each person for "
            "no gain.",
        )
    return Item(
        "acquisition", f"acquisition.fps.{camera}", title, "pass", f"{fps:g} fps (at most {FPS_PROPORTIONATE:g})."
    )


def _camera_output(cfg: Config, cam: Camera) -> Item:
    """What the camera feeds that a declared purpose allows; a camera that feeds nothing only films."""
    allowed = policy.allowed_outputs(cfg.purpose_ids)
    estimate = estimated_attributes(cfg)
    uses = []
    if "camera_occupancy" in allowed:
        uses.append("camera occupancy")
    if cam.zones and allowed & _ZONE_OUTPUTS:
        uses.append("zones" + (" (with heading and speed band)" if "zone_heading" in allowed else ""))
    if cam.lines and "line_crossings" in allowed:
        uses.append("lines (with group size)")
    if cam.heatmap is not None and "heatmap" in allowed:
        uses.append("heatmap")
    if estimate and (cam.zones or cam.lines):
        uses.append(f"{' and '.join(_ESTIMATE_NAMES[a] for a in estimate)} at its zones and lines")
    return Item(
        "acquisition",
        f"acquisition.output.{cam.id}",
        f"Camera '{cam.id}' serves a purpose",
        "pass" if uses else "warn",
        f"feeds {', '.join(uses)}."
        if uses
        else "films but produces no aggregate any declared purpose uses: remove the camera or give it zones/lines.",
    )


def _min_face(cfg: Config) -> Item | None:
    """With age band or gender estimated: is ``attributes.min_face_px`` large enough for a meaningful estimate?"""
    if not estimated_attributes(cfg) or cfg.attributes is None:
        return None
    px = cfg.attributes.min_face_px
    title = "Faces too small to estimate are skipped"
    if px < MIN_FACE_PX:
        return Item(
            "acquisition",
            "acquisition.min-face",
            title,
            "warn",
            f"attributes.min_face_px is {px}: below {MIN_FACE_PX} px the age and gender models get a face upscaled "
            "from too few pixels (they take 64x64 crops and were trained on roughly frontal faces of about that "
            "size), so the estimate is little better than a guess, yet it is counted like any other. Use "
            f"min_face_px >= {MIN_FACE_PX}: smaller faces are then skipped and counted as face_too_small or "
            "person_too_small in edgeanon_attribute_faces_total.",
        )
    return Item(
        "acquisition",
        "acquisition.min-face",
        title,
        "pass",
        f"attributes.min_face_px is {px} (at least {MIN_FACE_PX}, what the 64x64 age and gender models need): smaller "
        "faces, and person boxes whose head region is smaller, are skipped and counted in "
        "edgeanon_attribute_faces_total (face_too_small, person_too_small). On a high or ceiling camera expect "
        "mostly skips: check those counts before relying on the estimates.",
    )
