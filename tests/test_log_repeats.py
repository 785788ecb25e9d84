"""FFmpeg's connection error, printed on every reconnect attempt, is logged once, again when it changes, and
again after ``REPEAT_INTERVAL_S`` with a count (issue 16 #12). A real `edgeanon run` against a closed port."""

from __future__ import annotations

import json
import time

import pytest

from edgeanon.logrepeat import REPEAT_INTERVAL_S, RepeatGate, repeat_key
from tests.helpers.net import free_port
from tests.helpers.service import base_config, clip_camera, running, url_camera, write_config

REFUSED = "[tcp @ 0x7fe794004440] Connection to tcp://127.0.0.1:9?timeout=0 failed: Connection refused"


def test_gate_once_then_on_change_then_after_the_interval():
    now = [100.0]
    gate = RepeatGate(clock=lambda: now[0])
    assert gate.admit(REFUSED) == REFUSED
    for _ in range(5):  # the same failure, from a new FFmpeg context each time (another address)
        now[0] += 4
        assert gate.admit(REFUSED.replace("0x7fe794004440", "0x7fe794002740")) is None
    changed = REFUSED.replace("Connection refused", "No route to host")
    assert gate.admit(changed) == changed  # a different failure is said at once
    now[0] = 100.0 + REPEAT_INTERVAL_S
    again = gate.admit(REFUSED)
    assert again is not None and again.startswith(REFUSED) and "repeated 5 more times" in again
    assert gate.admit("Traceback (most recent call last):") == "Traceback (most recent call last):"
    assert gate.admit("Traceback (most recent call last):") is not None  # only native library lines are held


@pytest.mark.parametrize(
    ("line", "native"),
    [
        (REFUSED, True),
        ("[ERROR:0@12.345] global cap_ffmpeg_impl.hpp (1234) open failed", True),
        ("2026-11-26 22:08:00.123+09:00 WARNING edgeanon.capture: camera door: down", False),
        ("[not ffmpeg] something", False),
    ],
)
def test_only_native_library_lines_are_candidates(line, native):
    assert (repeat_key(line) is not None) is native
    assert repeat_key("[ERROR:0@1.0] x") == repeat_key("[ERROR:0@99.5] x")  # OpenCV's timestamp is not the news


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_a_real_unreachable_camera_logs_the_ffmpeg_error_once(tmp_path, fmt):
    closed = free_port()  # nothing listens here: every attempt is refused
    cameras = [clip_camera("clip", fps=2), url_camera("door", f"rtsp://127.0.0.1:{closed}/live")]
    config = write_config(tmp_path, base_config(tmp_path, cameras))
    with running(config, tmp_path, "--quiet", "--log-format", fmt) as svc:
        deadline = time.monotonic() + 60
        while svc.reconnects("door") < 6 and time.monotonic() < deadline:  # back-off capped at 1 s
            time.sleep(0.5)
        attempts = svc.reconnects("door")
        assert svc.stop() == 0
        log = svc.log()
    assert attempts >= 6, log[-2000:]
    lines = log.splitlines()
    # in JSON mode still one JSON object per line
    messages = [json.loads(line)["message"] for line in lines] if fmt == "json" else lines
    refused = [m for m in messages if "Connection refused" in m]
    assert len(refused) == 1, "\n".join(refused)  # FFmpeg said it on every attempt; it is written once
    assert f"127.0.0.1:{closed}" in refused[0]
    assert sum("camera door: down" in m for m in messages) == 1  # our own line: once per change already
