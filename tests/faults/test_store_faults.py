"""Store faults through the real service (`edgeanon run`), on real small file systems.

Covered elsewhere, not repeated here:
- a restart in the middle of a bucket adds to the stored row and is never written twice, through the CLI:
  ``tests/test_cli_policy.py::test_run_export_restart_merges_and_audit`` (and at the store level
  ``tests/outputs/test_store.py::test_restart_mid_bucket_adds_to_the_same_rows``);
- ``kill -9`` during bucket writes and a disk full at the sink level: ``tests/outputs/test_store.py``.

Here: the disk fills while `edgeanon run` counts (a 256 KiB tmpfs holding the store and the audit log), and a
store directory on a read-only mount at start-up.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from tests.helpers.mounts import Mounts, fill
from tests.helpers.service import base_config, clip_camera, running, wait_counting, write_config
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.slow

BUCKET_S = 10  # the smallest bucket the config allows


@pytest.fixture
def mounts():
    m = Mounts()
    yield m
    m.close()


def export(config, cwd) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "edgeanon", "export", str(config), "--format", "json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return json.loads(out)


def printed_inferred(stdout: str, cam: str) -> int:
    """Frames inferred per bucket as the console sink printed them (every bucket, the flushed one included)."""
    return sum(int(n) for n in re.findall(rf"^  {cam}: frames (\d+) inferred", stdout, re.M))


def test_full_disk_keeps_counting_and_serving_then_writes_the_backlog(tmp_path, mounts, record_property):
    store_dir = mounts.mount(tmp_path / "small", "size=256k")
    cfg = base_config(tmp_path, [clip_camera()], storage={"directory": str(store_dir)})
    path = write_config(tmp_path, cfg)
    with running(path, tmp_path) as svc:
        wait_counting(svc, "clip", 5, 30.0)
        db = store_dir / "aggregates.db"
        assert wait_for(lambda: "bucket" in svc.out() and db.exists(), BUCKET_S + 10, 0.2), svc.out()
        filler = fill(store_dir)
        t_full = time.monotonic()
        # at least two bucket writes fail while the disk is full
        failed = wait_for(lambda: svc.log().count("aggregate store write failed") >= 2, 3 * BUCKET_S + 10, 0.5)
        assert failed, svc.log()[-3000:]
        before = svc.inferred("clip")
        time.sleep(1.0)
        m = svc.metrics()  # /metrics still served, frames still counted
        assert m[("edgeanon_frames_total", (("camera", "clip"), ("fate", "inferred")))] > before
        status, _ = svc.healthz()
        assert status == 200 and svc.alive()
        assert m[("edgeanon_store_errors_total", ())] >= 2, m  # store errors are a metric
        assert m[("edgeanon_store_backlog_buckets", ())] >= 1, m  # and so is what waits in memory
        full_for = time.monotonic() - t_full
        filler.unlink()
        t_free = time.monotonic()
        recovered = wait_for(lambda: "aggregate store recovered" in svc.log(), BUCKET_S + 10, 0.2)
        written_after = time.monotonic() - t_free
        assert recovered, svc.log()[-3000:]
        m = svc.metrics()
        assert m[("edgeanon_store_backlog_buckets", ())] == 0 and m[("edgeanon_store_dropped_buckets_total", ())] == 0
        print(f"\ndisk full for {full_for:.1f} s; backlog written {written_after:.1f} s after space returned")
        record_property("backlog_written_after_s", round(written_after, 1))
    assert svc.proc.returncode == 0, svc.log()[-3000:]
    stdout, log = svc.out(), svc.log()
    assert "Traceback" not in log
    wrote = re.search(r"wrote (\d+) bucket\(s\) from the backlog", log)
    assert wrote and int(wrote.group(1)) >= 2, log
    rows = export(path, tmp_path)
    inferred = [r for r in rows if r["camera"] == "clip" and r["metric"] == "frames_inferred"]
    starts = sorted({r["period_start"] for r in inferred})
    # every bucket from the first to the last is there: nothing counted was lost while the disk was full
    assert sum(r["value"] for r in inferred) == printed_inferred(stdout, "clip") > 0
    assert len(starts) >= 4, starts
    audit = [json.loads(line) for line in (store_dir / "audit.jsonl").read_text().splitlines()]
    stop = audit[-1]
    assert stop["event"] == "stop" and stop["buckets_lost"] == 0 and stop["store_errors"] >= 2, stop


def test_store_metrics_start_at_zero(tmp_path):
    path = write_config(tmp_path, base_config(tmp_path, [clip_camera()]))
    with running(path, tmp_path) as svc:
        m = svc.metrics()
    assert m[("edgeanon_store_errors_total", ())] == 0
    assert m[("edgeanon_store_backlog_buckets", ())] == 0
    assert m[("edgeanon_store_dropped_buckets_total", ())] == 0


def test_sigterm_while_the_disk_is_full_exits_cleanly(tmp_path, mounts):
    """What cannot be written at shutdown is lost, but it is said so, and the exit is still clean and prompt."""
    store_dir = mounts.mount(tmp_path / "small", "size=256k")
    cfg = base_config(tmp_path, [clip_camera()], storage={"directory": str(store_dir)})
    path = write_config(tmp_path, cfg)
    with running(path, tmp_path) as svc:
        wait_counting(svc, "clip", 5, 30.0)
        fill(store_dir)
        t0 = time.monotonic()
        code = svc.stop()
        took = time.monotonic() - t0
    log = svc.log()
    assert code == 0, log[-3000:]
    assert took < 5.0, took
    assert "Traceback" not in log, log[-3000:]


def test_read_only_store_at_start_up_is_one_clear_line_and_exit_2(tmp_path, mounts):
    ro = mounts.mount(tmp_path / "ro", "size=1m,ro")
    for directory in (ro, ro / "data"):
        path = write_config(tmp_path, base_config(tmp_path, [clip_camera()], storage={"directory": str(directory)}))
        proc = subprocess.run(
            [sys.executable, "-m", "edgeanon", "run", str(path), "--port", "0"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.startswith("edgeanon: error: ")]
        assert len(errors) == 1 and "Read-only file system" in errors[0] and str(ro) in errors[0], proc.stderr
        assert "Traceback" not in proc.stderr and "serving" not in proc.stderr
