"""A real `edgeanon run` subprocess: live /metrics, then SIGTERM/SIGINT flush the bucket and exit 0."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.pipeline_helpers import DEFAULT_CONFIG


def start_run(*args: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeanon", "run", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 60
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        m = re.search(r"serving http://127\.0\.0\.1:(\d+)/metrics", line)
        if m:
            return proc, int(m.group(1))
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"edgeanon run did not start: {proc.stderr.read()}")


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def inferred(metrics: dict) -> float:
    return metrics.get(("edgeanon_frames_total", (("camera", "sample"), ("fate", "inferred"))), 0.0)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_flushes_current_bucket_and_exits_zero(sig):
    proc, port = start_run(str(DEFAULT_CONFIG))
    try:
        deadline = time.monotonic() + 60
        while inferred(m := scrape(port)) < 30:
            assert time.monotonic() < deadline, "no frames inferred within 60 s"
            time.sleep(0.5)
        assert m[("edgeanon_camera_up", (("camera", "sample"),))] == 1.0
        assert ("edgeanon_line_crossings_total", (("camera", "sample"), ("direction", "in"), ("line", "crossing"))) in m
        assert ("edgeanon_zone_occupancy", (("camera", "sample"), ("zone", "road"))) in m
        assert any(k[0] == "edgeanon_build_info" for k in m)
        t0 = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        assert time.monotonic() - t0 < 5, "shutdown took longer than 5 s"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert re.search(r"partial bucket \(flushed at shutdown\).*\n  sample: frames \d+ inferred", out), out[-2000:]
    # every counted frame reached the sinks (a minute boundary may have closed one bucket on the way)
    assert sum(int(n) for n in re.findall(r"sample: frames (\d+) inferred", out)) >= 30
    assert "frame accounting balanced: True" in err
