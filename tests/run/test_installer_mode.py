"""/setup is an expiring installer mode: off (404) by default, on only until ``http.setup_until``.

While on, it needs auth unless bound to loopback, its boxes change at most once a second whoever polls, the
audit log records it turning on and off, `edgeanon assess` warns and the notice says so.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import yaml

from edgeanon.config.errors import ConfigError
from edgeanon.config.loader import parse_config
from edgeanon.guidebook.assess.checklist import assess
from edgeanon.guidebook.notice.render import render_notice
from edgeanon.run.views import site_view
from edgeanon.web.live_boxes import ThrottledBoxes
from edgeanon.web.setup import InstallerMode
from tests.helpers.paths import DEFAULT_CONFIG
from tests.helpers.runs import start_run

TZ = ZoneInfo("Asia/Tokyo")  # the demo config's aggregation.timezone
HASH = "pbkdf2_sha256$100000$c2FsdHNhbHRzYWx0c2FsdA==$" + "A" * 43 + "="
INSTALLER_EN = "An installer mode is active until"
INSTALLER_JA = "設置者モードが有効です"


def local_in(seconds: float) -> str:
    """A local wall-clock time (no offset), the way an installer writes it in the config."""
    return (datetime.now(TZ) + timedelta(seconds=seconds)).replace(tzinfo=None).isoformat(timespec="seconds")


def config_text(**http: object) -> str:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["http"] = {**data["http"], **http}
    return yaml.safe_dump(data, sort_keys=False)


# ---------------------------------------------------------------- the setting


def test_off_by_default_and_nothing_said():
    cfg = parse_config(config_text())
    assert cfg.http.setup_until is None and cfg.setup_until_ts() is None
    for lang in ("ja", "en"):
        out = render_notice(cfg, lang, "txt")
        assert INSTALLER_EN not in out and INSTALLER_JA not in out
    assert not [i for i in assess(cfg) if i.id == "management.installer-mode"]


def test_a_local_time_within_a_day_turns_it_on():
    cfg = parse_config(config_text(setup_until=local_in(3600)))
    assert cfg.setup_until_ts() == pytest.approx(time.time() + 3600, abs=5)  # local to Asia/Tokyo, not UTC
    assert INSTALLER_EN in render_notice(cfg, "en", "html")
    assert INSTALLER_JA in render_notice(cfg, "ja", "txt").replace("\n", "")
    (item,) = [i for i in assess(cfg) if i.id == "management.installer-mode"]
    assert item.status == "warn" and "live outlines" in item.reason


def test_more_than_a_day_ahead_is_refused_with_its_line():
    text = config_text(setup_until=local_in(25 * 3600))
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.strip().startswith("setup_until:"))
    with pytest.raises(ConfigError, match=rf"^site\.yaml:{line}: http\.setup_until: is more than 24 h ahead"):
        parse_config(text, "site.yaml")


def test_reachable_from_the_network_it_needs_auth():
    with pytest.raises(ConfigError, match=r"http\.setup_until: installer mode needs http\.auth"):
        # even where a trusted network may read the counts without auth, it may not see the outlines
        parse_config(config_text(host="0.0.0.0", allow_unauthenticated=True, setup_until=local_in(600)))
    auth = {"users": [{"name": "installer", "password_hash": HASH}]}
    assert parse_config(config_text(host="0.0.0.0", auth=auth, setup_until=local_in(600))).http.auth is not None


def test_past_time_is_off_and_assess_passes():
    cfg = parse_config(config_text(setup_until=local_in(-60)))
    assert INSTALLER_EN not in render_notice(cfg, "en", "txt")
    (item,) = [i for i in assess(cfg) if i.id == "management.installer-mode"]
    assert item.status == "pass"


def test_mode_turns_off_at_the_deadline_and_says_so_once():
    clock = SimpleNamespace(t=1000.0)
    mode = InstallerMode(1010.0, clock=lambda: clock.t)
    assert mode.active() and not mode.expired_now()
    clock.t = 1010.0
    assert not mode.active()
    assert mode.expired_now() and not mode.expired_now()
    assert not InstallerMode(None).active() and not InstallerMode(None).expired_now()
    assert not InstallerMode(5.0, clock=lambda: 10.0).expired_now()  # already past at start: nothing to announce


def test_boxes_are_sampled_at_most_once_a_second():
    clock = SimpleNamespace(t=0.0)
    calls = []

    def source(cam: str) -> np.ndarray:
        calls.append(clock.t)
        return np.array([[clock.t, 0, clock.t + 10, 10]], np.float32)

    boxes = ThrottledBoxes(source, clock=lambda: clock.t)
    seen = set()
    for _ in range(300):  # polled every 10 ms for 3 s
        seen.add(float(boxes("sample")[0, 0]))
        clock.t += 0.01
    assert len(seen) <= 4 and len(calls) == len(seen)
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(calls))


# ---------------------------------------------------------------- a real `edgeanon run`


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def audit_events(directory: Path) -> list[dict]:
    lines = (directory / "edgeanon-data" / "audit.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == "setup_mode"]


def stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 0


def test_setup_answers_404_with_the_default_config(tmp_path):
    proc, port = start_run(str(DEFAULT_CONFIG), cwd=tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        assert get(f"{base}/setup") == (404, "not found\n")
        assert get(f"{base}/setup?camera=sample")[0] == 404
        assert get(f"{base}/")[0] == 200  # the server itself answers
        assert INSTALLER_EN not in get(f"{base}/notice?lang=en")[1]
    finally:
        stop(proc)
    assert audit_events(tmp_path) == []


def test_enabled_then_expired_in_a_real_run(tmp_path):
    lifetime = 30.0  # long enough for a slow start-up, short enough to wait for
    cfg = tmp_path / "installer.yaml"
    cfg.write_text(config_text(setup_until=local_in(lifetime)))
    until = time.time() + lifetime - 1  # local_in drops sub-second digits
    proc, port = start_run(str(cfg), cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        assert time.time() < until - 10, "the service took too long to start for this test"
        status, page = get(f"{base}/setup")
        assert status == 200 and "installer mode until" in page
        assert INSTALLER_EN in get(f"{base}/notice?lang=en")[1]
        # Poll as fast as possible: the outlines may change at most once a second, whatever the frame rate.
        snapshots, polls, t0 = set(), 0, time.monotonic()
        while time.monotonic() - t0 < 4:
            status, page = get(f"{base}/setup")
            assert status == 200
            snapshots.add(tuple(re.findall(r'<rect class="person"[^>]*>', page)))
            polls += 1
        elapsed = time.monotonic() - t0
        assert len(snapshots) <= elapsed + 1, f"{len(snapshots)} different outline sets in {elapsed:.1f} s"
        assert polls > 2 * len(snapshots), "polled too slowly to see the limit"
        assert any(snapshots), "no person outline was drawn while the mode was on"
        while time.time() < until + 3:
            time.sleep(0.5)
        assert get(f"{base}/setup") == (404, "not found\n")
        assert INSTALLER_EN not in get(f"{base}/notice?lang=en")[1]
    finally:
        if proc.poll() is None:
            stop(proc)
    on, off = audit_events(tmp_path)
    assert on["state"] == "on" and off["state"] == "off" and off["reason"] == "expired"
    assert on["until"] == off["until"] and on["seq"] < off["seq"]
    assert datetime.fromisoformat(on["until"]).timestamp() == pytest.approx(until + 1, abs=2)


def test_status_page_links_setup_only_while_the_mode_is_on():
    from edgeanon.web.status import StatusPage
    from edgeanon.web.status_sink import StatusSink

    cfg = parse_config(config_text())
    clock = SimpleNamespace(t=1000.0)
    mode = InstallerMode(1010.0, clock=lambda: clock.t)
    page = StatusPage(site_view(cfg), list, StatusSink(site_view(cfg)), installer=mode)
    assert 'href="/setup"' in page.render()
    clock.t = 1010.0  # past the deadline /setup is a 404: no link to it
    assert 'href="/setup"' not in page.render()
    assert 'href="/setup"' not in StatusPage(site_view(cfg), list, StatusSink(site_view(cfg))).render()
