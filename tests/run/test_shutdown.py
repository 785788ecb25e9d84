"""A real `edgeanon run` subprocess: live /metrics, then SIGTERM/SIGINT flush the bucket and exit 0."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.helpers.paths import DEFAULT_CONFIG
from tests.helpers.runs import scrape, start_run


def inferred(metrics: dict) -> float:
    return metrics.get(("edgeanon_frames_total", (("camera", "sample"), ("fate", "inferred"))), 0.0)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_flushes_current_bucket_and_exits_zero(sig, tmp_path):
    proc, port = start_run(str(DEFAULT_CONFIG), cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while inferred(m := scrape(port)) < 30:
            assert time.monotonic() < deadline, "no frames inferred within 60 s"
            time.sleep(0.5)
        assert m[("edgeanon_camera_up", (("camera", "sample"),))] == 1.0
        assert ("edgeanon_line_crossings_total", (("camera", "sample"), ("direction", "in"), ("line", "crossing"))) in m
        assert ("edgeanon_zone_occupancy", (("camera", "sample"), ("zone", "road"))) in m
        assert any(k[0] == "edgeanon_build_info" for k in m)
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read())
        assert health["ok"] and health["cameras"]["sample"]["up"]
        notice = urllib.request.urlopen(f"http://127.0.0.1:{port}/notice?lang=en", timeout=5).read().decode()
        assert "edgeanon demo (no real operator)" in notice and "discarded" in notice
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
    # the same frames reached the SQLite store, and the audit log recorded start and stop
    exported = subprocess.run(
        [sys.executable, "-m", "edgeanon", "export", str(DEFAULT_CONFIG), "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    stored = sum(r["value"] for r in json.loads(exported) if r["metric"] == "frames_inferred")
    assert stored == sum(int(n) for n in re.findall(r"sample: frames (\d+) inferred", out))
    audit = [json.loads(line) for line in (tmp_path / "edgeanon-data" / "audit.jsonl").read_text().splitlines()]
    events = [a["event"] for a in audit]
    assert events.count("start") == 1 and events[-1] == "stop" and "purge" in events  # start-up retention purge
    start = audit[events.index("start")]
    assert start["config_sha256"] == hashlib.sha256(DEFAULT_CONFIG.read_bytes()).hexdigest()
    assert start["purposes"] == ["dwell", "flow", "occupancy"]


def test_stop_returns_and_flushes_when_a_sink_never_returns(monkeypatch, caplog):
    """A sink stuck in on_frame blocks the analytics thread, which fills the inferred queue; stop must still return
    (the stop that once hung under load waited on that queue with no timeout) and flush what was counted."""
    import threading

    from edgeanon.run import runner as runner_module
    from tests.helpers.pipeline import RecordingSink, clip_config

    class Stuck:
        name = "stuck"

        def __init__(self) -> None:
            self.release, self.blocked = threading.Event(), threading.Event()

        def on_frame(self, live) -> None:
            self.blocked.set()
            self.release.wait(120)

        def on_bucket(self, bucket) -> None: ...

        def close(self) -> None: ...

    monkeypatch.setattr(runner_module, "STOP_GRACE_S", 0.5)
    stuck, rec = Stuck(), RecordingSink()
    runner = runner_module.Runner(clip_config(), [rec, stuck])
    runner.start()
    try:
        assert stuck.blocked.wait(60), "no frame reached the sinks"
        time.sleep(1.0)  # the workers fill the inferred queue behind the stuck frame
        t0 = time.monotonic()
        runner.stop(timeout=1.0)
        took = time.monotonic() - t0
    finally:
        stuck.release.set()
        # let every thread end rather than linger in this process (a late hand-over would land in a later test)
        for w in runner._workers:
            w.join(10)
        runner._inferred.put(None, timeout=10)
        runner._analytics_thread.join(10)
        assert not any(t.is_alive() for t in [*runner._workers, runner._analytics_thread])
    assert took < 10, f"stop took {took:.1f} s"
    assert "took no frame" in caplog.text
    (partial,) = [b for b in rec.buckets if b.partial]
    assert partial.cameras["sample"].frames["inferred"] >= 1  # what was counted reached the other sink
