"""'In the store now' on the status page (issue 16 #9): its definition is on the page, with today's entrance in
and out, and a warning shows when out exceeds in by more than the documented threshold. The page is built from
a real StatusSink fed by today's store rows and by frames, and read by real headless Chromium."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml

from edgeanon.config.loader import parse_config
from edgeanon.counting.results import Bucket, CameraBucket, LineBucket, LiveCounts
from edgeanon.outputs.live import CameraStatus
from edgeanon.outputs.store import AggregateStore
from edgeanon.run.views import site_view
from edgeanon.web.status import DRIFT_MIN_PEOPLE, DRIFT_SHARE, StatusPage, drift
from edgeanon.web.status_sink import StatusSink
from tests.helpers.browser import NEEDS_CHROMIUM, chromium
from tests.helpers.paths import DEFAULT_CONFIG


@pytest.mark.parametrize(
    ("n_in", "n_out", "warned"),
    [(12, 21, True), (12, 17, False), (12, 18, True), (100, 110, False), (100, 111, True), (0, 5, False)],
)
def test_drift_threshold(n_in, n_out, warned):
    # more than 5 people AND more than 10 % of in
    assert (DRIFT_MIN_PEOPLE, DRIFT_SHARE) == (5, 0.10)
    assert drift(n_in, n_out) is warned


def page_for(tmp_path: Path, stored: tuple[int, int], live: tuple[int, int], site_now: int) -> str:
    cfg = parse_config(DEFAULT_CONFIG.read_text(), "default.yaml")
    sink = StatusSink(site_view(cfg))
    now = time.time()
    with AggregateStore(tmp_path / "agg.db", retention_days=30) as store:  # an earlier run today
        start = max(int(sink.midnight()), int(now // 60 * 60) - 120)
        cb = CameraBucket(lines={"crossing": LineBucket(*stored)})
        store.write_bucket(Bucket(start, 60, {"sample": cb}))
        sink.seed(store.rows(sink.midnight()))
    # this run's crossings reach the page with each closed bucket, never per frame (small-cell suppression)
    sink.on_bucket(
        Bucket(int(now // 60 * 60) - 60, 60, {"sample": CameraBucket(lines={"crossing": LineBucket(*live)})})
    )
    sink.on_frame(LiveCounts("sample", 1, {"road": 1}, {}, {}, site_occupancy=site_now))
    status = CameraStatus("sample", up=True)
    html = StatusPage(site_view(cfg), lambda: [status], sink).render()
    path = tmp_path / "status.html"
    path.write_text(html, encoding="utf-8")
    return chromium(tmp_path, "--dump-dom", path.as_uri())


@NEEDS_CHROMIUM
def test_store_now_definition_and_drift_warning_in_chromium(tmp_path):
    dom = page_for(tmp_path, stored=(10, 15), live=(2, 6), site_now=0)  # in 12, out 21 today
    assert re.search(r'data-site="occupancy">0<', dom)
    assert '<span data-site="in">12</span>' in dom and '<span data-site="out">21</span>' in dom
    definition = re.search(r'data-site="definition">(.*?)</p>', dom, re.S)
    assert definition and "minus out today" in definition.group(1) and "never below 0" in definition.group(1)
    assert "since local midnight" in definition.group(1)
    warning = re.search(r'data-site="drift">(.*?)</p>', dom, re.S)
    assert warning and "Out exceeds in by 9 today" in warning.group(1), dom[:3000]


@NEEDS_CHROMIUM
def test_no_drift_warning_within_the_threshold(tmp_path):
    dom = page_for(tmp_path, stored=(10, 12), live=(2, 2), site_now=0)  # in 12, out 14
    assert '<span data-site="in">12</span>' in dom and '<span data-site="out">14</span>' in dom
    assert 'data-site="definition"' in dom
    assert 'data-site="drift"' not in dom


def test_store_now_needs_entrances():
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["entrances"] = []
    cfg = parse_config(yaml.safe_dump(data), "no-entrances.yaml")
    html = StatusPage(site_view(cfg), lambda: [], StatusSink(site_view(cfg))).render()
    assert "In the store now" not in html and 'data-site="drift"' not in html
