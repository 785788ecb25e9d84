"""A real Prometheus on loopback, started from a config dict, and its HTTP query API.

The tests that use it need the prometheus binary: ``NEEDS_PROMETHEUS`` skips them where it is missing, except under
CI, where .ci/run installs it and the test then fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml

from tests.helpers.net import free_port
from tests.helpers.paths import ROOT
from tests.helpers.processes import OPENER, spawn, wait_http

PROMETHEUS = shutil.which("prometheus")
PROM = ROOT / "deploy" / "prometheus"  # the shipped Prometheus configs and rules
NEEDS_PROMETHEUS = pytest.mark.skipif(
    PROMETHEUS is None and not os.environ.get("CI"),
    reason="the prometheus binary is not installed (apt-get install prometheus; .ci/run installs it)",
)


class Prometheus:
    """The HTTP API of a running Prometheus: a raw GET, an instant vector, a single value."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: str) -> dict:
        q = f"?{urllib.parse.urlencode(params)}" if params else ""
        body = json.loads(OPENER.open(f"{self.url}{path}{q}", timeout=10).read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        data = self.get("/api/v1/query", query=expr)
        assert data["resultType"] == "vector", data
        return data["result"]

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None


def start_prometheus(
    stack: ExitStack, workdir: Path, config: dict, name: str, *flags: str, port: int | None = None
) -> tuple[Prometheus, subprocess.Popen]:
    """A Prometheus on loopback; given the same workdir and port again, it restarts on its own data."""
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / name
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    port = port or free_port()
    agent = any("agent" in f for f in flags)
    storage = f"--storage.agent.path={workdir / 'wal'}" if agent else f"--storage.tsdb.path={workdir / 'tsdb'}"
    argv = [PROMETHEUS, f"--config.file={cfg}", storage, f"--web.listen-address=127.0.0.1:{port}", *flags]
    log_path = workdir / "prometheus.log"
    proc = spawn(stack, [*argv, "--log.level=warn"], workdir, log_path)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/-/ready", proc, log_path, 60)
    return Prometheus(url), proc
