"""A full `edgeanon run` over the clip, under strace: no file opened for writing, no outbound connection.

This is the proof for invariant 1 at the system-call level, including native code (OpenCV, onnxruntime)
that Python-level tripwires cannot see. It found onnxruntime's telemetry database, which is why
edgeanon sets ORT_DISABLE_TELEMETRY before onnxruntime loads.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.pipeline_helpers import DEFAULT_CONFIG

STRACE = shutil.which("strace")
pytestmark = pytest.mark.skipif(
    STRACE is None and not os.environ.get("CI"), reason="strace is not installed (.ci/run installs it)"
)
WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND")
ALLOWED_WRITE = {"/dev/null", "/dev/tty"}


def test_full_run_writes_no_file_and_connects_nowhere(tmp_path):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    data["cameras"][0]["source"].update({"realtime": False, "loop": False})
    data["storage"] = {"directory": str(tmp_path / "data")}
    cfg = tmp_path / "clip.yaml"
    cfg.write_text(yaml.safe_dump(data))
    trace = tmp_path / "trace.txt"
    home = tmp_path / "home"  # a fresh HOME, so a library writing under ~ would show up
    home.mkdir()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(home)}
    env.pop("ORT_DISABLE_TELEMETRY", None)  # edgeanon must set it itself
    proc = subprocess.run(
        [
            STRACE or "strace",
            "-f",
            "-qq",
            "-e",
            "trace=openat,open,creat,rename,renameat,unlink,unlinkat,mkdir,mkdirat,connect",
            "-o",
            str(trace),
            sys.executable,
            "-m",
            "edgeanon",
            "run",
            str(cfg),
            "--port",
            "0",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "frame accounting balanced: True" in proc.stderr
    store, audit = tmp_path / "data" / "aggregates.db", tmp_path / "data" / "audit.jsonl"
    # the only files a run may write: the aggregate store (with SQLite's WAL, shm and journal) and the audit log
    allowed = ALLOWED_WRITE | {str(store), f"{store}-wal", f"{store}-shm", f"{store}-journal", str(audit)}
    offending = []
    for line in trace.read_text().splitlines():
        if " = -1 " in line:  # failed calls wrote nothing
            continue
        call = line.split(None, 1)[1] if " " in line else line
        if call.startswith(("openat(", "open(")) and WRITE_FLAGS.search(call):
            path = re.search(r'"([^"]*)"', call)
            if path and path.group(1) not in allowed:
                offending.append(call)
        elif call.startswith("mkdir") and f'"{tmp_path / "data"}"' in call:
            continue  # the storage directory the config names
        elif call.startswith("unlink") and (m := re.search(r'"([^"]*)"', call)) and m.group(1) in allowed:
            continue  # SQLite removing its own journal, WAL and shm files
        elif call.startswith(("creat(", "rename", "unlink", "mkdir")) or (
            call.startswith("connect(") and "AF_INET" in call and '"127.' not in call and '"::1"' not in call
        ):
            offending.append(call)
    # a full pass with nothing lost (a minute boundary may split it over two bucket summaries)
    counts = re.findall(r"frames (\d+) inferred / (\d+) captured", proc.stdout)
    assert [sum(int(c[i]) for c in counts) for i in (0, 1)] == [250, 250], proc.stdout[-2000:]
    assert offending == [], "\n".join(offending[:20])
    assert not any(home.iterdir()), f"files appeared under HOME: {list(home.rglob('*'))}"
    assert store.is_file() and audit.is_file()  # the run did write what it declares
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        ["clip.yaml", "trace.txt", "aggregates.db", "audit.jsonl"]
    )
