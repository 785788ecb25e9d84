"""A source that hangs: the connection stays open and nothing arrives. `read()` must not block for ever.

Two real hangs, both on 127.0.0.1:
- a server that accepts, answers ``HTTP/1.1 200 OK`` and then sends nothing (the open never completes);
- a streaming ffmpeg server frozen with SIGSTOP in the middle of the stream (a read blocks mid-stream).

``read_timeout_s`` and ``open_timeout_s`` are 2 s; the issue's limit for noticing the stall is 10 s.
"""

from __future__ import annotations

import time

import pytest

from tests.helpers.service import base_config, clip_camera, running, url_camera, wait_counting, write_config
from tests.helpers.streams import RECOVERY_LIMIT_S, SilentServer, StreamServer, require_ffmpeg
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.slow

STALL_LIMIT_S = 10.0


def test_server_that_accepts_and_sends_nothing_is_reopened_within_the_limit(tmp_path, record_property):
    with SilentServer() as silent:
        cfg = base_config(tmp_path, [url_camera("hung", silent.url), clip_camera()])
        with running(write_config(tmp_path, cfg), tmp_path) as svc:
            t0 = time.monotonic()
            assert wait_for(lambda: len(silent.accepted) >= 4, 30.0, 0.1), silent.accepted
            gaps = [round(b - a, 2) for a, b in zip(silent.accepted, silent.accepted[1:], strict=False)]
            print(f"\nsilent server: connections at +{[round(t - t0, 2) for t in silent.accepted]} s, gaps {gaps}")
            record_property("reopen_gaps_s", gaps)
            # each attempt gives up after open_timeout_s (2 s), then waits the back-off (<= 1 s)
            assert all(g <= STALL_LIMIT_S for g in gaps), gaps
            assert svc.reconnects("hung") >= 3
            assert svc.camera_up("hung") == 0.0
            status, health = svc.healthz()
            assert status == 200 and health["cameras"]["hung"]["up"] is False
            wait_counting(svc, "clip", 20, 20.0)  # the other camera is not held up by the hung one
            assert svc.alive()
            # every abandoned connection is closed by the client: no socket leak per attempt
            assert wait_for(lambda: silent.closed_by_client >= len(silent.accepted) - 1, 5.0, 0.2), (
                silent.closed_by_client,
                len(silent.accepted),
            )
            log = svc.log()
    assert "camera hung: down: cannot open url" in log
    assert "Traceback" not in log


def test_stream_that_freezes_mid_read_is_detected_and_reopened(tmp_path, record_property):
    require_ffmpeg()
    with StreamServer() as stream:
        stream.start()
        cfg = base_config(tmp_path, [url_camera("net", stream.url)])
        with running(write_config(tmp_path, cfg), tmp_path) as svc:
            wait_counting(svc, "net", 10, 30.0)
            attempts = svc.reconnects("net")
            t_freeze = time.monotonic()
            stream.freeze()  # the TCP connection stays open; no more bytes
            assert wait_for(lambda: svc.camera_up("net") == 0.0, STALL_LIMIT_S + 2, 0.05), svc.log()[-2000:]
            detected = time.monotonic() - t_freeze
            assert wait_for(lambda: svc.reconnects("net") > attempts, 10.0, 0.1), "source not reopened"
            status, _ = svc.healthz()
            assert status == 200 and svc.alive()
            # the server comes back (a new one: the frozen one is killed)
            stream.thaw()
            t_start = stream.start()
            assert wait_for(lambda: svc.camera_up("net") == 1.0, 15.0, 0.05)
            recovered = time.monotonic() - t_start
            print(
                f"\nfrozen stream: down after {detected:.2f} s (read_timeout_s 2), up {recovered:.2f} s after restart"
            )
            record_property("stall_detected_s", round(detected, 2))
            record_property("recovered_s", round(recovered, 2))
            assert detected <= STALL_LIMIT_S
            assert recovered <= RECOVERY_LIMIT_S
            log = svc.log()
    assert "camera net: down: read failed or timed out" in log


def test_join_does_not_wait_out_a_blocked_open():
    """The capture-level half of a prompt SIGTERM: a reader stuck in OpenCV's open (it cannot be interrupted)
    is not waited for beyond ``BACKEND_JOIN_S``; it ends by itself when its own open timeout passes."""
    from edgeanon.config.cameras import Camera
    from edgeanon.config.sources import UrlSource
    from edgeanon.pixels.capture import BACKEND_JOIN_S, CameraReader

    with SilentServer() as silent:
        cam = Camera(id="hung", source=UrlSource(kind="url", url=silent.url), open_timeout_s=4, read_timeout_s=4)
        reader = CameraReader(cam, lambda: None)
        reader.start()
        assert wait_for(lambda: len(silent.accepted) >= 1, 5.0, 0.02)
        time.sleep(0.2)
        t0 = time.monotonic()
        reader.stop()
        ended = reader.join(5.0)
        took = time.monotonic() - t0
        assert not ended and took <= BACKEND_JOIN_S + 0.5, took
        assert wait_for(lambda: reader.join(1.0), 6.0, 0.0), "the reader did not end after its own open timeout"
        assert not reader.status.up and reader.pool.counters.balanced()
