"""benchmarks/soak.py in a very short CI mode: it runs, samples, and writes the JSON and Markdown it promises.

The real soak (30 minutes) is not a unit test; its committed result is benchmarks/results/SOAK.md. In 20 s
nothing can be said about RSS growth, so this checks the structure and the checks that are exact at any
length (bounded tracker, constant state arrays, no thread or fd growth).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_soak_ci_mode_writes_its_report(tmp_path):
    out_json, out_md = tmp_path / "soak.json", tmp_path / "SOAK.md"
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}  # it must set it itself
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "soak.py"),
            "--ci",
            "--duration",
            "20",
            "--warmup",
            "6",
            "--interval",
            "2",
            "--json",
            str(out_json),
            "--markdown",
            str(out_md),
            "--quiet",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    result = json.loads(out_json.read_text())
    assert result["schema"] == 1 and result["ci_mode"] is True
    assert result["malloc_arena_max"] == "2"
    assert (result["duration_s"], result["warmup_s"], result["interval_s"]) == (20, 6, 2)
    samples = result["samples"]
    assert 8 <= len(samples) <= 11, len(samples)
    for s in samples:
        assert {"t", "rss_kib", "threads", "fds", "load1", "latency_ring", "store_backlog", "cameras"} <= set(s)
        cam = s["cameras"]["sample"]
        assert {"inferred", "tracker_active", "tracker_capacity", "lines_nbytes", "zones_nbytes"} <= set(cam)
    assert samples[-1]["cameras"]["sample"]["inferred"] > samples[0]["cameras"]["sample"]["inferred"] > 0
    ev = result["evaluation"]
    assert isinstance(ev["passed"], bool) and (proc.returncode == 0) == ev["passed"]
    fit = ev["rss_slope_mb_per_h"]
    assert fit["n"] >= 3 and fit["ci95_per_h"][0] <= fit["slope_per_h"] <= fit["ci95_per_h"][1]
    checks = ev["checks"]
    for exact in (
        "sample.tracker_bounded",
        "sample.tracker_nbytes_constant",
        "sample.lines_nbytes_constant",
        "sample.zones_nbytes_constant",
        "threads_no_growth",
        "fds_no_growth",
        "latency_ring_bounded",
    ):
        assert checks[exact]["ok"], (exact, checks[exact])
    assert {"rss_growth", "store_backlog_empty", "sample.counting_never_stalls"} <= set(checks)
    md = out_md.read_text()
    assert md.startswith("# Soak") and "least-squares slope" in md and "95 % CI" in md
    assert "PASS" in proc.stdout or "FAIL" in proc.stdout
    ring = ev["latency_ring"]
    assert ring["bound"] == 20000 and ring["entries_at_end"] >= ring["entries_at_warmup_end"]
    # --render re-evaluates a result from its own samples without running anything
    again = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "soak.py"),
            "--render",
            str(out_json),
            "--json",
            str(tmp_path / "r.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == proc.returncode, again.stderr[-2000:]
    rendered = json.loads((tmp_path / "r.json").read_text())
    assert rendered["samples"] == samples and rendered["evaluation"]["checks"] == checks
