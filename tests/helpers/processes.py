"""Background processes for the multi-process tests: each in its own process group, stopped (group and all) when
the test's ExitStack closes, failed test or not; and a wait for one to answer over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, whatever the env says


def stop_group(proc: subprocess.Popen, log: IO[Any], grace_s: float = 20.0) -> None:
    """SIGTERM the process group (the process and anything it started), then SIGKILL it if it lingers."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        except ProcessLookupError:
            pass
    log.close()


def spawn(stack: ExitStack, argv: list[str], cwd: Path, log_path: Path) -> subprocess.Popen:
    log = log_path.open("w")
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so the finalizer can end all of it
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    stack.callback(stop_group, proc, log)
    return proc


def wait_http(url: str, proc: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if OPENER.open(url, timeout=2).status == 200:
                return
        except OSError:
            pass
        assert proc.poll() is None, f"{proc.args[0]} exited: {log_path.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"{url} not ready in {timeout:.0f} s: {log_path.read_text()[-3000:]}"
        time.sleep(0.3)
