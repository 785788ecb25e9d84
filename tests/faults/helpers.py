"""Real processes for the fault tests: an `edgeanon run` subprocess, an ffmpeg HTTP streaming server and
scrapes of /metrics and /healthz. Loopback only; every wait is bounded.

The `edgeanon run` subprocess writes stdout and stderr to files (not pipes): a camera that keeps failing
logs on every attempt (FFmpeg prints its own line per refused connection), and a pipe nobody reads would
fill and block the service under test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "tests" / "data" / "vtest-0-249.avi"
FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
IN_CI = bool(os.environ.get("CI"))


def require_ffmpeg() -> None:
    """ffmpeg is a test dependency (.ci/run installs it): missing, it fails in CI and skips elsewhere."""
    import pytest

    if shutil.which("ffmpeg"):
        return
    if IN_CI:
        pytest.fail("ffmpeg is not installed (apt-get install ffmpeg); .ci/run installs it")
    pytest.skip("ffmpeg is not installed (apt-get install ffmpeg)")


def wait_for(pred: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    """Poll ``pred`` until it returns something truthy or ``timeout`` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- configs


def base_config(tmp_path: Path, cameras: list[dict], **sections: Any) -> dict:
    """A minimal valid site config with the int8 model on one thread (the fault suite shares 2 cores)."""
    cfg: dict[str, Any] = {
        "operator": {"name": "fault tests", "accountable": "tests", "contact": "faults@example.com"},
        "purposes": [
            {"id": "occupancy", "justification": "Count people in view to test recovery."},
            {"id": "flow", "justification": "Count line crossings to test recovery."},
        ],
        "storage": {"directory": str(tmp_path / "data")},
        "cameras": cameras,
        "detector": {"model": "nanodet-416-coco-int8", "threads": 1},
        "aggregation": {"bucket_seconds": 10, "timezone": "Asia/Tokyo"},
    }
    cfg.update(sections)
    return cfg


def url_camera(cam_id: str, url: str, **kw: Any) -> dict:
    return {
        "id": cam_id,
        "source": {"kind": "url", "url": url},
        "fps": 5,
        "open_timeout_s": 2,
        "read_timeout_s": 2,
        "reconnect_max_s": 1,
        **kw,
    }


def clip_camera(cam_id: str = "clip", path: str | None = None, **kw: Any) -> dict:
    src: dict[str, Any] = {"kind": "file", "realtime": True, "loop": True}
    if path is not None:
        src["path"] = path
    return {
        "id": cam_id,
        "source": src,
        "fps": 5,
        "zones": [{"name": "road", "polygon": [[0, 195], [640, 150], [768, 420], [0, 235]]}],
        "lines": [{"name": "crossing", "a": [470, 150], "b": [470, 380]}],
        **kw,
    }


def write_config(tmp_path: Path, cfg: dict, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------- the service under test


@dataclass
class Service:
    """A running `edgeanon run`; ``log()`` is everything it wrote to stderr so far."""

    proc: subprocess.Popen[bytes]
    port: int
    stderr_path: Path
    stdout_path: Path
    _files: list[Any] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def out(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def metrics(self) -> dict[tuple[str, tuple], float]:
        text = urllib.request.urlopen(self.url("/metrics"), timeout=5).read().decode()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text)
            for s in fam.samples
        }

    def healthz(self) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url("/healthz"), timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def camera_up(self, cam: str) -> float:
        return self.metrics().get(("edgeanon_camera_up", (("camera", cam),)), -1.0)

    def inferred(self, cam: str) -> float:
        return self.metrics().get(("edgeanon_frames_total", (("camera", cam), ("fate", "inferred"))), 0.0)

    def reconnects(self, cam: str) -> float:
        return self.metrics().get(("edgeanon_camera_reconnects_total", (("camera", cam),)), 0.0)

    def counts(self) -> tuple[int, int]:
        """(threads, open file descriptors) of the service process, from /proc."""
        return len(os.listdir(f"/proc/{self.pid}/task")), len(os.listdir(f"/proc/{self.pid}/fd"))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for f in self._files:
            f.close()
        return int(self.proc.returncode)


def start_service(
    config: Path, cwd: Path, *extra: str, env: dict[str, str] | None = None, timeout: float = 60.0
) -> Service:
    """Start `edgeanon run CONFIG --port 0` and wait for its "serving" line."""
    out_path, err_path = cwd / f"run-{time.monotonic_ns()}.out", cwd / f"run-{time.monotonic_ns()}.err"
    out, err = out_path.open("wb"), err_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeanon", "run", str(config), "--port", "0", *extra],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=err,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    svc = Service(proc, 0, err_path, out_path, [out, err])

    def serving() -> int | None:
        m = re.search(r"serving http://127\.0\.0\.1:(\d+)/metrics", svc.log())
        return int(m.group(1)) if m else None

    port = wait_for(lambda: serving() or proc.poll() is not None, timeout)
    if not isinstance(port, int) or isinstance(port, bool):
        svc.stop(signal.SIGKILL)
        raise AssertionError(f"edgeanon run did not start (exit {proc.returncode}):\n{svc.log()[-3000:]}")
    svc.port = port
    return svc


@contextmanager
def running(config: Path, cwd: Path, *extra: str, **kw: Any) -> Iterator[Service]:
    svc = start_service(config, cwd, *extra, **kw)
    try:
        yield svc
    finally:
        svc.stop()


# ---------------------------------------------------------------- a real streaming server


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


# ---------------------------------------------------------------- small file systems


class Mounts:
    """Small tmpfs mounts (root needed): ``mount(dir, "size=256k")``; all unmounted by ``close``."""

    def __init__(self) -> None:
        self.mounted: list[Path] = []

    def mount(self, d: Path, options: str) -> Path:
        import pytest

        d.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(d)], check=False, capture_output=True, text=True
        )
        if r.returncode:
            why = f"cannot mount a tmpfs (needs root / CAP_SYS_ADMIN): {r.stderr.strip()}"
            pytest.fail(why) if IN_CI else pytest.skip(why)
        self.mounted.append(d)
        return d

    def close(self) -> None:
        for d in reversed(self.mounted):
            if subprocess.run(["umount", str(d)], check=False, capture_output=True).returncode:
                subprocess.run(["umount", "-l", str(d)], check=False, capture_output=True)
        self.mounted.clear()


def fill(directory: Path) -> Path:
    """Write zeros into ``directory/filler`` until the file system is full (ENOSPC)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(1 << 20):  # bounded: 4 GiB at most
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == 28, exc  # ENOSPC
    finally:
        os.close(fd)
    return filler
