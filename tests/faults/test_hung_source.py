"""A source that hangs: the connection stays open and nothing arrives. `read()` must not block for ever.

Two real hangs, both on 127.0.0.1:
- a server that accepts, answers ``HTTP/1.1 200 OK`` and then sends nothing (the open never completes);
- a streaming ffmpeg server frozen with SIGSTOP in the middle of the stream (a read blocks mid-stream).

``read_timeout_s`` and ``open_timeout_s`` are 2 s; the issue's limit for noticing the stall is 10 s.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.faults.helpers import (
    StreamServer,
    base_config,
    clip_camera,
    require_ffmpeg,
    running,
    url_camera,
    wait_for,
    write_config,
)
from tests.faults.test_network import RECOVERY_LIMIT_S, wait_counting

pytestmark = pytest.mark.slow

STALL_LIMIT_S = 10.0


class SilentServer:
    """Accepts every connection, reads the request, answers with a 200 header and then never sends a byte.

    Connections are held open until the client closes them; ``accepted`` and ``closed_by_client`` count them
    (a client that leaked its sockets would leave ``closed_by_client`` behind).
    """

    def __init__(self, header: bytes = b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n\r\n") -> None:
        self.header = header
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[float] = []
        self.closed_by_client = 0
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="silent-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/live.ts"

    def _run(self) -> None:
        deadline = time.monotonic() + 300  # bounded even if a test forgets to stop it
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                self._reap()
                continue
            self.accepted.append(time.monotonic())
            conn.settimeout(2.0)
            try:
                conn.recv(4096)  # the request
                conn.sendall(self.header)
            except OSError:
                pass
            conn.setblocking(False)
            self._conns.append(conn)
            self._reap()

    def _reap(self) -> None:
        for c in list(self._conns):
            try:
                if c.recv(4096) == b"":  # the client closed its end
                    self.closed_by_client += 1
                    self._conns.remove(c)
                    c.close()
            except BlockingIOError:
                pass
            except OSError:
                self._conns.remove(c)
                c.close()

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        for c in self._conns:
            c.close()
        self.sock.close()


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
