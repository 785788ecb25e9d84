"""Settings are built from the config models by one conversion (run.settings) that refuses fields it would
drop or miss."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import yaml

from edgeanon.config.cameras import MovementConfig
from edgeanon.config.loader import parse_config
from edgeanon.config.stages import AttributesConfig, TrackerConfig
from edgeanon.counting.analytics.movement import MovementSettings
from edgeanon.counting.tracking import TrackerSettings
from edgeanon.pixels.detector import SessionSettings, Thresholds
from edgeanon.run.settings import (
    attribute_settings,
    detector_thresholds,
    movement_settings,
    session_settings,
    settings_from,
    tracker_settings,
)
from tests.helpers.pipeline import DEFAULT_CONFIG


def config(**changes: object):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data.update(changes)
    return parse_config(yaml.safe_dump(data), "test-config")


def test_every_setting_comes_from_its_config_field():
    cfg = config(
        detector={"score": 0.4, "iou": 0.6, "min_box": 5.0, "max_box": 300.0, "threads": 2, "spinning": True},
        tracker={"low_score": 0.2, "new_track_score": 0.7, "confirm_hits": 4, "max_age": 2.0, "capacity": 64},
    )
    assert tracker_settings(cfg) == TrackerSettings(
        high_score=0.4, low_score=0.2, new_track_score=0.7, confirm_hits=4, max_age=2.0, capacity=64
    )
    assert session_settings(cfg) == SessionSettings(threads=2, spinning=True)
    assert detector_thresholds(cfg) == Thresholds(score=0.2, iou=0.6, min_box=5.0, max_box=300.0)
    cam = cfg.cameras[0]
    assert movement_settings(cam) == MovementSettings()
    mv = MovementConfig(px_per_metre=80.0, slow_below_mps=0.4, group_window_s=3.0)
    assert movement_settings(cam.model_copy(update={"movement": mv})) == MovementSettings(
        px_per_metre=80.0, slow_below_mps=0.4, group_window_s=3.0
    )


def test_attribute_settings_from_the_estimate_list():
    s = attribute_settings(AttributesConfig(estimate=["gender"], min_face_px=40, face_score=0.7, threads=2))
    assert (s.age, s.gender, s.min_face_px, s.face_score, s.threads) == (False, True, 40, 0.7, 2)


def test_a_config_field_without_a_setting_or_a_setting_without_a_value_is_refused():
    @dataclass(frozen=True)
    class Narrow:
        low_score: float = 0.1

    with pytest.raises(ValueError, match=r"Narrow has no field\(s\) \['capacity', 'confirm_hits'"):
        settings_from(TrackerConfig(), Narrow)

    @dataclass(frozen=True)
    class Needs:
        low_score: float
        new_track_score: float
        confirm_hits: int
        max_age: float
        capacity: int
        extra: int

    with pytest.raises(ValueError, match=r"Needs: nothing supplies \['extra'\]"):
        settings_from(TrackerConfig(), Needs)
    assert settings_from(TrackerConfig(), Needs, extra=1).extra == 1
    with pytest.raises(ValueError, match="no field"):
        settings_from(TrackerConfig(), TrackerSettings, nonsense=1)


@pytest.mark.parametrize(("cameras", "cores", "want"), [(1, 2, (1, 2)), (3, 2, (2, 1)), (3, 4, (3, 1)), (2, 4, (2, 2))])
def test_empty_sessions_and_threads_spread_the_cameras_over_the_cores(monkeypatch, cameras, cores, want):
    from edgeanon.run import settings

    monkeypatch.setattr(settings, "physical_cores", lambda: cores)
    cam = yaml.safe_load(DEFAULT_CONFIG.read_text())["cameras"][0]
    cams = [{**cam, "id": f"c{i}"} for i in range(cameras)]
    cfg = config(cameras=cams, entrances=[])
    assert settings.sessions_and_threads(cfg) == want
    assert session_settings(cfg).threads == want[1]
    pinned = config(cameras=cams, entrances=[], detector={"sessions": 1, "threads": 3})
    assert settings.sessions_and_threads(pinned) == (1, 3) and session_settings(pinned).threads == 3
