"""`edgeanon` as a subprocess, the way a user runs it: to its end (`run_edgeanon`), or started in the background
until it serves /metrics (`start_run`, `start_demo`) and stopped again (`stop_run`); and its /metrics read back.

Output goes to pipes here; tests/helpers/service.py has the variant that logs to files, for services that write
more than anyone reads.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.paths import DEFAULT_CONFIG

EDGEANON = (sys.executable, "-m", "edgeanon")
SERVING = re.compile(r"serving http://127\.0\.0\.1:(\d+)/metrics")


def run_edgeanon(
    *args: str,
    cwd: os.PathLike | str | None = None,
    timeout: float = 120,
    command: Sequence[str] = EDGEANON,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`edgeanon ARGS` run to its end with its output captured as text; a non-zero exit is the caller's to judge."""
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _wait_serving(proc: subprocess.Popen[str], timeout: float, tail: int | None = None) -> int:
    """Read stderr until the "serving" line; its port. A process that exits or stays silent fails the test."""
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        m = SERVING.search(line)
        if m:
            return int(m.group(1))
        if not line and proc.poll() is not None:
            break
    proc.kill()
    rest = proc.stderr.read()
    raise AssertionError(f"edgeanon run did not start: {rest if tail is None else rest[-tail:]}")


def start_run(*args: str, cwd: os.PathLike | None = None) -> tuple[subprocess.Popen[str], int]:
    """`edgeanon run ARGS --port 0`, once it serves; the process (stdout and stderr piped) and its port."""
    proc = subprocess.Popen(
        [*EDGEANON, "run", *args, "--port", "0"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return proc, _wait_serving(proc, 60)


def start_demo(cwd: Path, prefix: tuple[str, ...] = (), **popen: object) -> subprocess.Popen[str]:
    """The default config, copied into ``cwd``, run quietly for up to 300 s behind ``prefix`` (a wrapper command,
    such as a umask or another user), with HOME in ``cwd``; returned once it serves."""
    cfg = cwd / "config.yaml"
    shutil.copy(DEFAULT_CONFIG, cfg)
    proc = subprocess.Popen(
        [*prefix, *EDGEANON, "run", str(cfg), "--port", "0", "--quiet", "--duration", "300"],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "HOME": str(cwd)},
        **popen,  # type: ignore[arg-type]
    )
    _wait_serving(proc, 120, tail=3000)
    return proc


def stop_run(proc: subprocess.Popen[str]) -> None:
    """SIGTERM, 30 s to finish, then SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """/metrics on loopback as (name, sorted labels) -> value."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }
