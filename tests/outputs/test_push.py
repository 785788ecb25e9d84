"""PushSink against the real Pushgateway binary (Debian's prometheus-pushgateway) on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families

from edgeanon.outputs.prometheus import PrometheusSink
from edgeanon.outputs.push import PushSink
from tests.helpers.net import free_port

GATEWAY = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
GROUPING = {"store": "shibuya", "device": "box-01"}


def _get(url: str, auth: tuple[str, str] | None = None) -> str:
    req = urllib.request.Request(url)
    if auth is not None:
        import base64

        req.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    return urllib.request.urlopen(req, timeout=5).read().decode()


def start_gateway(tmp_path: Path, web_config: Path | None = None) -> tuple[subprocess.Popen, str]:
    if GATEWAY is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus-pushgateway is not installed, but CI must run this test (.ci/run installs it)")
        pytest.skip("prometheus-pushgateway binary not found (apt-get install prometheus-pushgateway)")
    port = free_port()
    args = [GATEWAY, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file=", "--log.level=warn"]
    if web_config is not None:
        args.append(f"--web.config.file={web_config}")
    log = (tmp_path / "pushgateway.log").open("w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, url
        except OSError:
            assert proc.poll() is None, (tmp_path / "pushgateway.log").read_text()
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("pushgateway did not start listening")


@pytest.fixture
def gateway(tmp_path) -> Iterator[str]:
    proc, url = start_gateway(tmp_path)
    yield url
    proc.terminate()
    proc.wait(10)


def gateway_samples(url: str, auth: tuple[str, str] | None = None) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(_get(f"{url}/metrics", auth))
        for s in fam.samples
    }


def _edgeanon_registry() -> PrometheusSink:
    """The real device registry: the same families, custom collectors and label layout as `edgeanon run`."""
    return PrometheusSink({"sample": (["road"], ["crossing"], [])}, "0" * 64, statuses=lambda: [])


def _key(name: str, **labels: str) -> tuple[str, tuple]:
    return name, tuple(sorted({"job": "edgeanon", "instance": "", **GROUPING, **labels}.items()))


def test_push_groups_by_store_and_device_and_pushes_on_close(gateway):
    prom = _edgeanon_registry()
    assert prom.crossings is not None and prom.zone_occupancy is not None
    prom.crossings.labels("sample", "crossing", "in").inc(3)
    prom.zone_occupancy.labels("sample", "road").set(4)
    sink = PushSink(gateway, interval_s=0.2, grouping=GROUPING, registry=prom.registry, timeout_s=2)
    sink.start()
    crossing_in = _key("edgeanon_line_crossings_total", camera="sample", line="crossing", direction="in")
    deadline = time.monotonic() + 10
    while (m := gateway_samples(gateway)).get(crossing_in) != 3.0:
        assert time.monotonic() < deadline, f"no grouped series at the gateway: {sorted(m)[:20]}"
        time.sleep(0.1)
    assert m[_key("edgeanon_zone_occupancy", camera="sample", zone="road")] == 4.0
    assert m[_key("edgeanon_push_failures_total")] == 0.0
    assert any(k[0] == "edgeanon_build_info" for k in m)
    # the gateway's own bookkeeping per group: what a head-office staleness alert uses
    assert m[_key("push_time_seconds")] > 0
    time.sleep(0.5)
    assert sink.pushes >= 2, "the interval timer should have pushed again"
    # the last bucket's numbers arrive with the final push on close, with no wait for the next interval
    prom.crossings.labels("sample", "crossing", "in").inc(2)
    sink.interval_s = 3600.0
    time.sleep(0.3)  # let the thread enter its (now hour-long) wait
    t0 = time.monotonic()
    sink.close()
    assert time.monotonic() - t0 < 2.0
    assert gateway_samples(gateway)[crossing_in] == 5.0
    assert sink.failures == 0 and sink.last_success is not None
    # one group per device, named by the config: nothing in the grouping key grows with traffic
    pushed = [dict(labels) for _, labels in m if "job" in dict(labels)]  # the gateway's own metrics have no job
    groups = {(d["job"], d.get("store"), d.get("device")) for d in pushed}
    assert groups == {("edgeanon", "shibuya", "box-01")}


def test_failures_are_counted_when_the_gateway_is_down(tmp_path):
    registry = CollectorRegistry()
    Counter("edgeanon_demo", "x", registry=registry).inc()
    sink = PushSink(f"http://127.0.0.1:{free_port()}", interval_s=0.1, grouping=GROUPING, registry=registry)
    sink.start()
    time.sleep(0.5)
    sink.close()
    assert sink.failures >= 3 and sink.pushes == 0
    assert "URLError" in sink.last_error or "Connection" in sink.last_error
    assert registry.get_sample_value("edgeanon_push_failures_total") == sink.failures
    # once a gateway is there, the next push gets through and carries the failure count along
    proc, url = start_gateway(tmp_path)
    try:
        sink.url = url
        assert sink.push_now()
        assert gateway_samples(url)[_key("edgeanon_push_failures_total")] == sink.failures
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_hanging_gateway_never_blocks_the_pipeline_or_shutdown():
    """A gateway that accepts and never answers: the push times out in its own thread; close stays bounded."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        registry = CollectorRegistry()
        sink = PushSink(
            f"http://127.0.0.1:{server.getsockname()[1]}",
            interval_s=0.1,
            grouping=GROUPING,
            registry=registry,
            timeout_s=0.5,
        )
        sink.start()
        t0 = time.monotonic()
        for _ in range(1000):  # what the pipeline calls on every frame and bucket
            sink.on_frame(None)
            sink.on_bucket(None)
        # never blocking: one push that waited on the dead server would take timeout_s = 0.5 s, and 1000 of
        # them minutes; 2 s for 2000 calls leaves room for a loaded 2-core machine
        assert time.monotonic() - t0 < 2.0
        time.sleep(0.3)
        t0 = time.monotonic()
        sink.close()
        assert time.monotonic() - t0 < sink.timeout_s + 0.7
    assert sink.pushes == 0 and sink.failures >= 1


def test_basic_auth_against_a_gateway_that_requires_it(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        crypt = pytest.importorskip("crypt")  # stdlib in 3.11; bcrypt via libxcrypt
    hashed = crypt.crypt("s3cret-push", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    if not hashed or not hashed.startswith("$2"):
        pytest.skip("this libc's crypt() has no bcrypt")
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  edge: '{hashed}'\n")
    proc, url = start_gateway(tmp_path, web)
    try:
        registry = CollectorRegistry()
        Counter("edgeanon_demo", "x", registry=registry).inc(7)
        wrong = PushSink(url, 60, GROUPING, registry, username="edge", password="wrong", count_failures=False)
        assert not wrong.push_now() and "401" in wrong.last_error
        sink = PushSink(url, 60, GROUPING, registry, username="edge", password="s3cret-push")
        assert sink.push_now(), sink.last_error
        assert gateway_samples(url, ("edge", "s3cret-push"))[_key("edgeanon_demo_total")] == 7.0
        with pytest.raises(urllib.error.HTTPError):
            _get(f"{url}/metrics")
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "ftp://gw:9091"}, "http:// or https://"),
        ({"url": "http://user:pw@gw:9091"}, "credentials"),
        ({"grouping": {"store": "Shibuya Store/1"}}, "config name"),
        ({"grouping": {"job": "x"}}, "not an allowed label"),
        ({"grouping": {"__name__": "x"}}, "not an allowed label"),
        ({"interval_s": 0}, "positive"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    args = {"url": "http://127.0.0.1:9091", "interval_s": 30, "grouping": GROUPING, "registry": CollectorRegistry()}
    with pytest.raises(ValueError, match=message):
        PushSink(**{**args, **kwargs})
