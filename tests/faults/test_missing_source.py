"""Sources that are not there or not video, next to one that works, in one real `edgeanon run`.

- ``dev63``: a camera index with no device behind it (/dev/video63);
- ``noise``: a "video" file of random bytes;
- ``headeronly``: the clip cut just after its AVI headers (a truncated file with no frames);
- ``clip``: the bundled clip in a real-time loop, which must keep counting all along.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.paths import CLIP
from tests.helpers.service import base_config, clip_camera, running, wait_counting, write_config
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.slow


def test_missing_device_and_broken_files_are_down_and_retried_while_the_clip_keeps_counting(tmp_path):
    if Path("/dev/video63").exists():
        pytest.fail("/dev/video63 exists on this machine: pick another index for the missing device")
    noise = tmp_path / "noise.avi"
    noise.write_bytes(np.random.default_rng(7).integers(0, 256, 300_000, dtype=np.uint8).tobytes())
    data = CLIP.read_bytes()
    header_only = tmp_path / "header-only.avi"
    header_only.write_bytes(data[: data.index(b"movi") + 4])
    broken = {
        "dev63": {"id": "dev63", "source": {"kind": "device", "index": 63}},
        "noise": {"id": "noise", "source": {"kind": "file", "path": str(noise), "realtime": True, "loop": True}},
        "headeronly": {"id": "headeronly", "source": {"kind": "file", "path": str(header_only), "loop": True}},
    }
    cams = [clip_camera(), *({**c, "reconnect_max_s": 2} for c in broken.values())]
    with running(write_config(tmp_path, base_config(tmp_path, cams)), tmp_path) as svc:
        wait_counting(svc, "clip", 10, 30.0)
        assert wait_for(lambda: all(svc.reconnects(c) >= 3 for c in broken), 15.0, 0.2), svc.log()[-3000:]
        # back-off: attempts slow down to one per reconnect_max_s (2 s), never a busy loop
        r0, f0, t0 = {c: svc.reconnects(c) for c in broken}, svc.inferred("clip"), time.monotonic()
        time.sleep(6.0)
        r1, f1, elapsed = {c: svc.reconnects(c) for c in broken}, svc.inferred("clip"), time.monotonic() - t0
        m = svc.metrics()
        status, health = svc.healthz()
        assert svc.alive()
        log = svc.log()
    for c in broken:
        assert 1 <= r1[c] - r0[c] <= elapsed / 2 + 2, (c, r0[c], r1[c], elapsed)
        assert m[("edgeanon_camera_up", (("camera", c),))] == 0.0
        assert health["cameras"][c]["up"] is False
    assert status == 200 and health["cameras"]["clip"]["up"] is True
    assert m[("edgeanon_camera_up", (("camera", "clip"),))] == 1.0
    assert f1 - f0 >= 0.5 * 5 * elapsed, f"the clip counted {f1 - f0} frames in {elapsed:.1f} s at fps 5"
    # one clear line per broken camera, logged once (not once per retry)
    assert re.findall(r"camera dev63: down: (.*)", log) == ["cannot open device 63"], log[-3000:]
    for cam, path in (("noise", noise), ("headeronly", header_only)):
        lines = re.findall(rf"camera {cam}: down: (.*)", log)
        assert len(lines) == 1, (cam, lines)
        assert str(path) in lines[0] and re.search(r"cannot open|no decodable frames", lines[0]), lines[0]
    assert "Traceback" not in log
    assert svc.proc.returncode == 0
