"""A running `edgeanon run`, seen from outside: no core file can be written and its memory is not readable.

OpenCV's decoder keeps a copy of the latest frame in native memory, so a core dump (or a same-user process
reading /proc/PID/mem) would leak pixels. The process sets RLIMIT_CORE=0 and PR_SET_DUMPABLE=0 itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.helpers.runs import start_demo, stop_run

NOBODY = 65534


def core_limits(pid: int) -> tuple[str, str]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            soft, hard = line.split()[4:6]
            return soft, hard
    raise AssertionError("no core-file line in /proc/PID/limits")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and prctl are Linux-only")
def test_running_service_has_core_file_limit_zero(tmp_path):
    # Control: children started through this shell get the hard limit as their soft one, so the 0 seen in the
    # service is its own doing.
    allow_cores = ("sh", "-c", 'ulimit -c "$(ulimit -Hc)" && exec "$@"', "sh")
    proc = start_demo(tmp_path, allow_cores)
    try:
        ctrl = subprocess.Popen([*allow_cores, "sleep", "60"])
        deadline = time.monotonic() + 30
        while Path(f"/proc/{ctrl.pid}/comm").read_text().strip() != "sleep":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        try:
            assert core_limits(ctrl.pid)[0] != "0", "the control child should inherit a non-zero core limit"
        finally:
            ctrl.kill()
            ctrl.wait()
        assert core_limits(proc.pid) == ("0", "0")
    finally:
        stop_run(proc)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and prctl are Linux-only")
def test_running_service_is_not_dumpable(request):
    """Run as `nobody`: the kernel makes a non-dumpable process's /proc/PID entries root-owned, so that another
    process of the same user can read neither its environment nor its memory."""
    if os.geteuid() != 0:
        pytest.skip("needs root to start the service as another user (CI runs as root)")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    work = Path(tempfile.mkdtemp(prefix="edgeanon-nobody-"))
    request.addfinalizer(lambda: shutil.rmtree(work, ignore_errors=True))
    os.chown(work, NOBODY, NOBODY)
    work.chmod(0o700)
    # nobody, with only the right to read and search any file (the interpreter may live under /root, as pyenv's
    # does); writing still needs ownership, so the data dir is nobody's own.
    as_nobody = (
        "setpriv",
        f"--reuid={NOBODY}",
        f"--regid={NOBODY}",
        "--clear-groups",
        "--inh-caps=+dac_read_search",
        "--ambient-caps=+dac_read_search",
    )
    ctrl = subprocess.Popen([*as_nobody, "sleep", "60"])
    try:
        deadline = time.monotonic() + 30
        while Path(f"/proc/{ctrl.pid}/comm").read_text().strip() != "sleep":  # setpriv has exec'd it
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert os.stat(f"/proc/{ctrl.pid}/environ").st_uid == NOBODY, "control: a plain nobody process owns its /proc"
    finally:
        ctrl.kill()
        ctrl.wait()
    proc = start_demo(work, as_nobody)
    try:
        status = Path(f"/proc/{proc.pid}/status").read_text()
        assert re.search(rf"^Uid:\s+{NOBODY}\s", status, re.M), "the service should run as nobody"
        for entry in ("environ", "mem", "maps"):
            assert os.stat(f"/proc/{proc.pid}/{entry}").st_uid == 0, f"/proc/PID/{entry} is not root-owned"
        assert (work / "edgeanon-data" / "audit.jsonl").is_file(), "the service as nobody writes its data dir"
    finally:
        stop_run(proc)
    assert proc.returncode == 0
