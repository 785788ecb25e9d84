"""The status and setup pages of a real `edgeanon run`, rendered by real headless Chromium.

Chromium runs with flags that stop it from reaching any outside host, and a throwaway profile. Screenshots are
saved under pytest's tmp_path (never in the repository) as artifacts for a human to look at.
"""

from __future__ import annotations

import math
import re
import signal
import subprocess
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from edgeanon.counting.results import Bucket, CameraBucket, LineBucket, ZoneBucket
from edgeanon.outputs.store import AggregateStore
from edgeanon.web.page import NO_IMAGE_LINE
from tests.helpers.browser import NEEDS_CHROMIUM, chromium
from tests.helpers.paths import DEFAULT_CONFIG
from tests.helpers.runs import scrape, start_run

pytestmark = [pytest.mark.slow, NEEDS_CHROMIUM]
ZONE = ("edgeanon_zone_occupancy", (("camera", "sample"), ("zone", "road")))
IN_VIEW = ("edgeanon_camera_occupancy", (("camera", "sample"),))
SITE = ("edgeanon_site_occupancy", ())


def crossings(direction: str) -> tuple[str, tuple]:
    return ("edgeanon_line_crossings_total", (("camera", "sample"), ("direction", direction), ("line", "crossing")))


BUCKET_S = 10


def seed_store(directory: Path, now: float, length: int = 60) -> tuple[int, int]:
    """180 closed buckets of ``length`` s from an earlier run; returns the (in, out) of those that fall on today."""
    midnight = datetime.fromtimestamp(now, ZoneInfo("Asia/Tokyo")).replace(hour=0, minute=0, second=0, microsecond=0)
    today_in = today_out = 0
    with AggregateStore(directory / "aggregates.db", retention_days=30) as store:
        last = int(now // length * length) - 5 * length
        for i in range(180):
            start = last - length * i
            road = 2.5 + 2 * math.sin(i / 15)
            n_in, n_out = int(i % 4 == 0), int(i % 6 == 0)
            zb = ZoneBucket(occupancy_sum=round(road * 100), occupancy_frames=100)
            cb = CameraBucket(
                occupancy_sum=round((road + 1.5) * 100),
                occupancy_frames=100,
                zones={"road": zb},
                lines={"crossing": LineBucket(in_=n_in, out=n_out)},
            )
            store.write_bucket(Bucket(start, length, {"sample": cb}))
            if start >= midnight.timestamp():
                today_in, today_out = today_in + n_in, today_out + n_out
    return today_in, today_out


def page_number(dom: str, attr: str) -> int:
    m = re.search(rf"{attr}>(\d+)<", dom)
    assert m, f"{attr} not on the page"
    return int(m.group(1))


def test_status_and_setup_pages_in_chromium(tmp_path):
    seeded_in, seeded_out = seed_store(tmp_path / "edgeanon-data", time.time(), BUCKET_S)
    config = tmp_path / "installer.yaml"  # /setup is on only in installer mode, for an hour here
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["aggregation"]["bucket_seconds"] = BUCKET_S  # crossings reach the page by closed buckets: no 60 s wait
    until = datetime.now(ZoneInfo(data["aggregation"]["timezone"])) + timedelta(hours=1)
    data["http"]["setup_until"] = until.replace(tzinfo=None).isoformat(timespec="seconds")
    config.write_text(yaml.safe_dump(data))
    proc, port = start_run(str(config), cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        # wait for people to cross, so the comparison is not 0 == 0; crossings count by closed buckets
        deadline = time.monotonic() + 80
        while time.monotonic() < deadline:
            m = scrape(port)
            if m.get(crossings("in"), 0) + m.get(crossings("out"), 0) >= 2:
                break
            time.sleep(0.5)

        # /metrics is sampled all the while Chromium loads the page: the page was rendered at one instant
        # between the first and the last sample, so each number on it lies within the samples' range.
        samples = [scrape(port)]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                samples.append(scrape(port))
                time.sleep(0.03)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            dom = chromium(tmp_path, "--dump-dom", f"{base}/")
        finally:
            done.set()
            sampler.join(5)
        samples.append(scrape(port))

        def within(value: float, key: tuple) -> None:
            seen = [s[key] for s in samples]
            assert min(seen) <= value <= max(seen), f"{key}: page shows {value}, /metrics went {min(seen)}..{max(seen)}"

        within(page_number(dom, 'data-zone="road"'), ZONE)
        within(page_number(dom, 'data-camera-occupancy="sample"'), IN_VIEW)
        within(page_number(dom, 'data-site="occupancy"'), SITE)
        # today's in/out = the earlier run's rows since local midnight + this run's counter
        within(page_number(dom, 'data-line="crossing" data-dir="in"') - seeded_in, crossings("in"))
        within(page_number(dom, 'data-line="crossing" data-dir="out"') - seeded_out, crossings("out"))
        assert 'data-state="up"' in dom and NO_IMAGE_LINE in dom
        assert "<img" not in dom.lower() and "<image" not in dom.lower()
        chart = re.search(r'<svg class="chart".*?</svg>', dom, re.S)
        assert chart and chart.group(0).count("<polyline") >= 2, "no occupancy chart from the seeded store rows"
        status_png = tmp_path / "status.png"
        chromium(tmp_path, f"--screenshot={status_png}", "--window-size=1280,900", f"{base}/")

        # /setup: live outlines on a blank canvas, with the configured zone and line. The virtual time budget
        # lets the page's script (allowed by its CSP hash) refresh the drawing in place at least once.
        deadline = time.monotonic() + 10
        while True:
            dom = chromium(tmp_path, "--virtual-time-budget=4500", "--dump-dom", f"{base}/setup")
            assert 'data-live="on"' in dom, "the setup script did not run (CSP hash mismatch?)"
            assert re.search(r'data-refreshed="[1-9]', dom), "the setup page did not refresh itself"
            boxes = len(re.findall(r'<rect class="person"', dom))
            if boxes or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert boxes > 0, "no person outline drawn on /setup within 10 s"
        assert 'viewBox="0 0 768 576"' in dom and 'class="zone" data-zone="road"' in dom
        assert 'class="line" data-line="crossing"' in dom and 'class="in-side" data-line="crossing"' in dom
        assert NO_IMAGE_LINE in dom and "<img" not in dom.lower() and "<image" not in dom.lower()
        setup_png = tmp_path / "setup.png"
        chromium(tmp_path, f"--screenshot={setup_png}", "--window-size=1280,900", f"{base}/setup")
        for png in (status_png, setup_png):
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        print(f"screenshots: {status_png} {setup_png}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
