"""Network cameras that misbehave, on 127.0.0.1: ffmpeg streaming the bundled clip over HTTP (it can be killed,
restarted and frozen), and a server that answers and then never sends a byte."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from tests.helpers.ci import IN_CI
from tests.helpers.net import free_port
from tests.helpers.paths import CLIP

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
RECOVERY_LIMIT_S = 5.0  # the bound: up again within 5 s of the server returning


def require_ffmpeg() -> None:
    """ffmpeg is a test dependency (.ci/run installs it): missing, it fails in CI and skips elsewhere."""
    import pytest

    if shutil.which("ffmpeg"):
        return
    if IN_CI:
        pytest.fail("ffmpeg is not installed (apt-get install ffmpeg); .ci/run installs it")
    pytest.skip("ffmpeg is not installed (apt-get install ffmpeg)")


class StreamServer:
    """ffmpeg serving the bundled clip in real time over HTTP as MPEG-TS (MPEG-4 Part 2 video, 10 fps).

    ``-listen 1`` makes ffmpeg an HTTP server for exactly one client: it encodes from the first frame when a
    client connects and exits when that client goes. ``start`` therefore has to be called again after every
    disconnect; the port stays the same (ffmpeg sets SO_REUSEADDR). MPEG-4 Part 2 because MPEG-1/2 cannot
    carry the clip's 10 fps and OpenCV's FFmpeg backend opens it within about 0.25 s.
    """

    def __init__(self, port: int | None = None, clip: Path = CLIP) -> None:
        self.port = port or free_port()
        self.clip = clip
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/live.ts"

    def start(self) -> float:
        """Start (or restart) the server; returns time.monotonic() just before the process was started."""
        self.kill()
        t = time.monotonic()
        self.proc = subprocess.Popen(
            [
                FFMPEG,
                "-nostdin",
                "-hide_banner",
                "-loglevel",
                "fatal",
                "-re",
                "-stream_loop",
                "-1",
                "-i",
                str(self.clip),
                "-an",
                "-c:v",
                "mpeg4",
                "-q:v",
                "6",
                "-f",
                "mpegts",
                "-listen",
                "1",
                self.url,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.starts += 1
        return t

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: the TCP connection stays open and nothing more arrives, like a hung camera."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def __enter__(self) -> StreamServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.thaw()
        self.kill()


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
