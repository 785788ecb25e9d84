"""A real `edgeanon run` for the fault tests and other long runs: a small site config, the service started as a
subprocess with its stdout and stderr in files, and its /metrics and /healthz read back. Loopback only; every
wait is bounded.

Files, not pipes: a camera that keeps failing logs on every attempt (FFmpeg prints its own line per refused
connection), and a pipe nobody reads would fill and block the service under test.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.helpers.runs import scrape
from tests.helpers.waiting import wait_for

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
        "detector": {"model": "nanodet-coco-int8", "threads": 1},
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
        return scrape(self.port)

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


def wait_counting(svc: Service, cam: str, frames: float, timeout: float) -> None:
    ok = wait_for(lambda: svc.camera_up(cam) == 1.0 and svc.inferred(cam) >= frames, timeout, 0.2)
    assert ok, f"camera {cam} not counting within {timeout} s:\n{svc.log()[-2000:]}"
