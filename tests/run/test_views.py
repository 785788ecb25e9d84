"""run.views: the pages' frozen view of the config, with the outputs the declared purposes allow."""

from __future__ import annotations

import dataclasses

import pytest

from edgeanon.config.loader import load_config
from edgeanon.guidebook import policy
from edgeanon.outputs.live import CameraStatus
from edgeanon.run.views import site_view
from edgeanon.web.site import CameraView, LineView, SiteView, ZoneView
from edgeanon.web.status import StatusPage
from edgeanon.web.status_sink import StatusSink
from tests.helpers.pipeline import DEFAULT_CONFIG


def test_site_view_carries_what_the_pages_show_and_is_frozen():
    cfg = load_config(DEFAULT_CONFIG)
    site = site_view(cfg)
    assert site.operator == cfg.operator.name and site.timezone == cfg.aggregation.timezone
    assert site.outputs == policy.allowed_outputs(cfg.purpose_ids)
    assert [c.id for c in site.cameras] == [c.id for c in cfg.cameras]
    line, cam_line = site.cameras[0].lines[0], cfg.cameras[0].lines[0]
    assert (line.name, line.a, line.b, line.in_side) == (cam_line.name, cam_line.a, cam_line.b, cam_line.in_side)
    assert site.entrances == tuple((e.camera, e.line) for e in cfg.entrances)
    with pytest.raises(dataclasses.FrozenInstanceError):
        site.operator = "someone else"  # type: ignore[misc]


def test_a_purpose_not_declared_hides_its_section():
    # the config refuses lines without "flow" at load time; the page checks the allowed outputs again
    site = dataclasses.replace(site_view(load_config(DEFAULT_CONFIG)), outputs=policy.allowed_outputs({"occupancy"}))
    assert site.cameras[0].lines and "line_crossings" not in site.outputs
    html = StatusPage(site, lambda: [], StatusSink(site)).render()
    assert "data-camera-occupancy=" in html and 'data-dir="in"' not in html


def test_pages_need_no_config_at_all():
    cam = CameraView("door", zones=(ZoneView("till", ((0, 0), (10, 0), (10, 10)), False),),
                     lines=(LineView("gate", (0, 5), (10, 5), False, "left"),))  # fmt: skip
    site = SiteView("shop", "UTC", 60, frozenset({"line_crossings"}), (cam,))
    html = StatusPage(site, lambda: [CameraStatus("door", up=True)], StatusSink(site), clock=lambda: 0.0).render()
    assert 'data-line="gate" data-dir="in">0<' in html and "data-zone=" not in html  # zones need zone_occupancy
