"""The HTTP layer without a pipeline: health logic, routing, basic auth, TLS, and the two pages' HTML."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import yaml

from edgeanon.config.errors import ConfigError
from edgeanon.config.loader import parse_config
from edgeanon.counting.results import Bucket, CameraBucket, LineBucket, LiveCounts, ZoneBucket
from edgeanon.errors import EdgeanonError
from edgeanon.outputs.live import CameraStatus
from edgeanon.outputs.store import AggregateStore
from edgeanon.run.service import config_secrets
from edgeanon.run.views import site_view
from edgeanon.web.page import NO_IMAGE_LINE
from edgeanon.web.server import App, BasicAuth, WebServer, hash_password, liveness, readiness, verify_password
from edgeanon.web.setup import SetupPage
from edgeanon.web.status import StatusPage
from edgeanon.web.status_sink import StatusSink
from tests.helpers.paths import DEFAULT_CONFIG
from tests.helpers.web import HASH, ITER, PASSWORD, basic, make_app, self_signed


def cam(name: str, *, up: bool = True, last_frame: float | None = 99.0, **kw: Any) -> CameraStatus:
    return CameraStatus(name, up=up, last_frame=last_frame, **kw)


# ---------------------------------------------------------------- health and readiness


@pytest.mark.parametrize(
    ("statuses", "ready", "stale"),
    [
        ([cam("a"), cam("b")], True, []),
        ([cam("a"), cam("b", up=False, last_frame=80.0)], False, ["b"]),  # 20 s without a frame
        ([cam("a"), cam("b", up=False, last_frame=None)], False, ["b"]),  # never delivered one
        ([cam("a"), cam("b", up=False, closed=True, last_frame=None)], True, []),  # outside opening hours
        ([cam("a", up=False, finished=True, last_frame=1.0)], True, []),  # a file that ended
        ([cam("a", last_frame=89.9), cam("b", last_frame=90.1)], False, ["a"]),  # the limit is exclusive
    ],
)
def test_readiness_names_the_stale_camera(statuses, ready, stale):
    ok, detail = readiness(statuses, 10.0, now=100.0)
    assert ok is ready and detail["stale"] == stale
    assert set(detail["cameras"]) == {s.camera for s in statuses}
    for name in stale:
        assert detail["cameras"][name]["state"] == "stale"


def test_liveness_follows_the_supervisor_not_the_cameras():
    unplugged = [cam("a"), cam("b", up=False, last_frame=None, last_error="cannot open")]
    ok, detail = liveness(heartbeat=95.0, statuses=unplugged, limit_s=10.0, now=100.0)
    assert ok and detail["supervisor_age_s"] == 5.0 and detail["cameras"]["b"]["up"] is False
    assert "cannot open" not in json.dumps(detail)  # open endpoint: states only, no error text
    ok, _ = liveness(heartbeat=85.0, statuses=unplugged, limit_s=10.0, now=100.0)
    assert not ok


# ---------------------------------------------------------------- routing and auth


def call(app: App, path: str, method: str = "GET", auth: str | None = None) -> tuple[int, dict, bytes]:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path}
    if auth is not None:
        environ["HTTP_AUTHORIZATION"] = auth
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        got["status"], got["headers"] = int(status.split(maxsplit=1)[0]), dict(headers)

    body = b"".join(app(environ, start_response))
    return got["status"], got["headers"], body


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        ("/metrics", "GET", 200),
        ("/metrics", "HEAD", 200),
        ("/metrics", "POST", 405),
        ("/", "DELETE", 405),
        ("/nope", "GET", 404),
        ("/metrics/", "GET", 404),
    ],
)
def test_routes(path, method, status):
    code, headers, body = call(make_app(), path, method)
    assert code == status
    if status == 405:
        assert headers["Allow"] == "GET, HEAD"
    if method == "HEAD":
        assert body == b"" and int(headers["Content-Length"]) > 0
    if path == "/metrics" and method == "GET":
        assert b"edgeanon_test 3.0" in body


@pytest.mark.parametrize(("healthy", "ready"), [(True, True), (True, False), (False, True)])
def test_health_endpoints_status_codes(healthy, ready):
    app = make_app(healthy=healthy, ready=ready)
    code, _, body = call(app, "/healthz")
    assert code == (200 if healthy else 503) and json.loads(body)["ok"] is healthy
    code, _, body = call(app, "/readyz")
    assert code == (200 if ready else 503) and json.loads(body)["ready"] is ready
    assert json.loads(body)["stale"] == ([] if ready else ["b"])


def test_html_pages_forbid_external_assets():
    _, headers, _ = call(make_app(), "/")
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "img-src 'none'" in csp
    assert headers["Cache-Control"] == "no-store" and headers["X-Content-Type-Options"] == "nosniff"


def test_password_hash_round_trip():
    assert HASH.startswith(f"pbkdf2_sha256${ITER}$")
    assert verify_password(PASSWORD, HASH) and not verify_password(PASSWORD + "x", HASH)
    assert hash_password(PASSWORD, ITER) != HASH  # salted
    with pytest.raises(ValueError, match="iterations"):
        hash_password(PASSWORD, 1000)


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),  # no credentials
        (basic("staff", "wrong password"), 401),
        (basic("nobody", PASSWORD), 401),
        (basic("staff", ""), 401),
        ("Bearer abc", 401),
        ("Basic not-base64!", 401),
        ("Basic " + base64.b64encode(b"no-colon").decode(), 401),
        (basic("staff", PASSWORD), 200),
    ],
)
def test_basic_auth(header, status):
    app = make_app(auth=BasicAuth({"staff": HASH}))
    for path in ("/metrics", "/"):
        code, headers, body = call(app, path, auth=header)
        assert code == status
        if status == 401:
            assert headers["WWW-Authenticate"].startswith('Basic realm="edgeanon"')
            assert b"edgeanon_test" not in body
    assert call(app, "/nope", auth=header)[0] == (404 if status == 200 else 401)  # no probing without credentials


def test_verified_credentials_are_cached_but_not_failures():
    auth = BasicAuth({"staff": HASH})
    good = basic("staff", PASSWORD)
    assert auth.check(good) == "staff" and auth.check(good) == "staff"
    assert len(auth._cache) == 1 and auth.check(basic("staff", "nope")) is None and len(auth._cache) == 1
    assert not any(PASSWORD.encode() in k for k in auth._cache)  # keyed by an HMAC, not the header


@pytest.mark.parametrize("protect", [False, True])
def test_healthz_open_or_protected(protect):
    open_paths = {"/notice"} | (set() if protect else {"/healthz", "/readyz"})
    app = make_app(auth=BasicAuth({"staff": HASH}), open_paths=open_paths)
    for path in ("/healthz", "/readyz"):
        assert call(app, path)[0] == (401 if protect else 200)
        assert call(app, path, auth=basic("staff", PASSWORD))[0] == 200
    assert call(app, "/notice")[0] == 200  # the public notice is always public


def test_auth_config_takes_hashes_only():
    base = yaml.safe_load(DEFAULT_CONFIG.read_text())

    def parse(auth: dict) -> Any:
        return parse_config(yaml.safe_dump({**base, "http": {"host": "0.0.0.0", "auth": auth}}), "site.yaml")

    cfg = parse({"users": [{"name": "staff", "password_hash": HASH}], "protect_healthz": True})
    assert cfg.http.auth.protect_healthz and cfg.http.auth.users[0].password_hash.get_secret_value() == HASH
    assert HASH not in repr(cfg) and HASH in config_secrets(cfg)
    with pytest.raises(ConfigError) as info:
        parse({"users": [{"name": "staff", "password_hash": "hunter2-plain"}]})
    assert "not a plain password" in str(info.value) and "hunter2" not in str(info.value)
    weak = hash_password(PASSWORD, ITER).replace(f"${ITER}$", "$1000$")
    with pytest.raises(ConfigError, match="at least 100000"):
        parse({"users": [{"name": "staff", "password_hash": weak}]})
    with pytest.raises(ConfigError, match="used twice"):
        parse({"users": [{"name": "staff", "password_hash": HASH}, {"name": "staff", "password_hash": HASH}]})


def test_hash_password_cli_reads_stdin():
    proc = subprocess.run(
        [sys.executable, "-m", "edgeanon", "hash-password", "--iterations", str(ITER)],
        input=PASSWORD + "\n",
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    encoded = proc.stdout.strip()
    assert verify_password(PASSWORD, encoded) and PASSWORD not in proc.stdout + proc.stderr


# ---------------------------------------------------------------- TLS


def test_tls_with_a_self_signed_certificate(tmp_path):
    cert, key = self_signed(tmp_path)
    server = WebServer(make_app(auth=BasicAuth({"staff": HASH})), "127.0.0.1", 0, tls=(str(cert), str(key)))
    server.start()
    try:
        assert server.url.startswith("https://127.0.0.1:")
        ctx = ssl.create_default_context(cafile=str(cert))
        req = urllib.request.Request(f"{server.url}/metrics", headers={"Authorization": basic("staff", PASSWORD)})
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            assert resp.status == 200 and b"edgeanon_test 3.0" in resp.read()
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{server.url}/metrics", context=ctx, timeout=10)
        assert info.value.code == 401
        with pytest.raises(urllib.error.URLError):  # a client that does not trust the cert refuses it
            urllib.request.urlopen(f"{server.url}/healthz", context=ssl.create_default_context(), timeout=10)
        try:  # plain http on the TLS port gets a reset or cheroot's plain-text error, never the metrics
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10) as resp:
                assert b"edgeanon_test" not in resp.read()
        except (OSError, http.client.HTTPException):
            pass
    finally:
        server.stop()


def test_tls_files_are_checked_at_start(tmp_path):
    cert, key = self_signed(tmp_path)
    with pytest.raises(EdgeanonError, match=r"http\.tls\.cert: .*missing\.pem: no such certificate file"):
        WebServer(make_app(), "127.0.0.1", 0, tls=(str(tmp_path / "missing.pem"), str(key)))
    with pytest.raises(EdgeanonError, match=r"http\.tls: cannot load"):
        WebServer(make_app(), "127.0.0.1", 0, tls=(str(cert), str(cert)))  # the cert is no key


# ---------------------------------------------------------------- pages


def demo_config():
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["cameras"][0]["exclude"] = [{"polygon": [[0.0, 0.0], [0.2, 0.0], [0.2, 0.1]], "normalized": True}]
    data["cameras"].append({"id": "door", "source": {"kind": "device", "index": 0}})
    return parse_config(yaml.safe_dump(data))


def frame(occupancy: int, road: int, site: int) -> LiveCounts:
    return LiveCounts("sample", occupancy, {"road": road}, {}, {}, site_occupancy=site)


def test_status_page_shows_counts_state_and_chart(tmp_path):
    cfg = demo_config()
    clock = SimpleNamespace(t=1_790_000_000.0)  # 2026-09-21 21:33 in Tokyo
    store = AggregateStore(tmp_path / "agg.db", retention_days=30, clock=lambda: clock.t)
    for i in range(120):  # two hours of 60 s buckets, ending 5 minutes ago
        start = int(clock.t // 60 * 60) - 300 - 60 * i
        zb = ZoneBucket(occupancy_sum=(i % 5) * 10, occupancy_frames=10)
        cb = CameraBucket(occupancy_sum=30, occupancy_frames=10, zones={"road": zb},
                          lines={"crossing": LineBucket(in_=1, out=2)})  # fmt: skip
        store.write_bucket(Bucket(start, 60, {"sample": cb}))
    live = StatusSink(site_view(cfg), clock=lambda: clock.t)
    live.seed(store.rows(live.midnight()))
    assert live.today("sample", "crossing") == (120, 240)  # 21:33: all two hours fall on today
    live.on_frame(frame(4, 3, site=7))
    live.on_frame(frame(5, 2, site=6))
    assert live.today("sample", "crossing") == (120, 240)  # crossings count by closed buckets, not per frame
    closed = CameraBucket(lines={"crossing": LineBucket(in_=1, out=1)})
    live.on_bucket(Bucket(int(clock.t // 60 * 60) - 60, 60, {"sample": closed}, site_occupancy=6))
    statuses = [
        cam("sample", frame_size=(768, 576)),
        cam("door", up=False, last_frame=None, last_error="no /dev/video0"),
    ]
    page = StatusPage(site_view(cfg), lambda: statuses, live, rows=store.rows, clock=lambda: clock.t).render()
    assert NO_IMAGE_LINE in page and "<img" not in page.lower() and "http" not in page.replace("http-equiv", "")
    assert re.search(r'data-zone="road">2<', page) and re.search(r'data-camera-occupancy="sample">5<', page)
    assert re.search(r'data-line="crossing" data-dir="in">121<', page)
    assert re.search(r'data-line="crossing" data-dir="out">241<', page)
    assert re.search(r'data-site="occupancy">6<', page)
    assert 'data-state="down"' in page and "no /dev/video0" in page  # the unplugged camera
    assert page.count('<svg class="chart"') == 1  # door has no rows: a line of text instead
    chart = page[page.index('<svg class="chart"') : page.index("</svg>")]
    assert chart.count("<polyline") == 2 and ">road<" in chart and ">in view<" in chart
    # the next local midnight starts a new day from zero
    clock.t += 3 * 3600
    assert live.today("sample", "crossing") == (0, 0)
    store.close()


def test_setup_page_draws_geometry_and_outlines_only():
    cfg = demo_config()
    statuses = [cam("sample", frame_size=(768, 576), region=(0, 0, 768, 507)), cam("door", up=False, last_frame=None)]
    xyxy = np.array([[100, 200, 140, 300], [300, 150, 330, 240], [5, 5, 5, 9]], np.float32)  # last one: no area
    page = SetupPage(site_view(cfg), lambda: statuses, lambda c: xyxy if c == "sample" else None).render()
    assert NO_IMAGE_LINE in page and "<img" not in page.lower() and "<image" not in page.lower()
    assert page.count('class="person"') == 2 and 'data-people="sample">2<' in page
    assert '<rect class="person" x="100" y="200" width="40" height="100" fill="none"' in page
    assert page.count('class="zone" data-zone="road"') == 1 and page.count('class="exclude"') == 1
    assert 'points="0.0,0.0 153.6,0.0 153.6,57.6"' in page  # normalised exclusion scaled by the frame size
    # default config: a=(470,150) -> b=(470,380), walking down the screen, "in" is the walker's left = screen right
    m = re.search(r'class="in-side" data-line="crossing" x="([0-9.]+)"', page)
    assert m and float(m.group(1)) > 470
    assert "Waiting for the first frame" in page  # door has no frame size yet
    assert 'viewBox="0 0 768 576"' in page
    assert page.count('<rect class="roi" x="0" y="0" width="768" height="507"') == 1  # the detector's region


def test_setup_page_draws_no_region_when_the_detector_sees_the_whole_frame():
    statuses = [cam("sample", frame_size=(768, 576), region=(0, 0, 768, 576))]
    page = SetupPage(site_view(demo_config()), lambda: statuses, lambda c: None).render()
    assert 'viewBox="0 0 768 576"' in page and 'class="roi"' not in page


def test_exposed_without_auth_warns_at_start_and_assess_sees_the_new_sections(caplog, tmp_path):
    from edgeanon.guidebook.assess.checklist import assess
    from edgeanon.run.service import _warn_exposure

    base = yaml.safe_load(DEFAULT_CONFIG.read_text())
    with pytest.raises(ConfigError, match=r"http\.host: '0\.0\.0\.0' is reachable .* http\.allow_unauthenticated"):
        parse_config(yaml.safe_dump({**base, "http": {"host": "0.0.0.0"}}))
    exposed = parse_config(yaml.safe_dump({**base, "http": {"host": "0.0.0.0", "allow_unauthenticated": True}}))
    with caplog.at_level(logging.WARNING, logger="edgeanon"):
        _warn_exposure(exposed, 41234)  # the bound port, which port 0 leaves to the kernel
    assert any(
        "http.auth is not configured" in r.getMessage() and "port 41234 " in r.getMessage() for r in caplog.records
    )
    caplog.clear()
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    http = {"host": "0.0.0.0", "auth": {"users": [{"name": "staff", "password_hash": HASH}]}}
    secured = parse_config(yaml.safe_dump({**base, "http": {**http, "tls": {"cert": str(cert), "key": str(key)}}}))
    with caplog.at_level(logging.WARNING, logger="edgeanon"):
        _warn_exposure(secured, 9108)
    assert not caplog.records
    status = {i.id: i.status for i in assess(secured)}
    assert status["management.endpoint-auth"] == "pass" and status["management.endpoint-tls"] == "pass"
    assert {i.id: i.status for i in assess(exposed)}["management.endpoint-auth"] == "fail"
