"""benchmarks/capacity_ratio.py with a tiny budget: it runs both sides in turn and writes the JSON and Markdown
it promises, with the CPU named.

The real measurement (about 20 minutes on a quiet machine) is not a unit test; no figure is asserted here, only
what holds at any length and load: the sides alternate, each count reported was measured to hold, the ratio is
the quotient of the two, and settings this version lacks are listed rather than silently dropped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_a_tiny_capacity_ratio_run_writes_its_report(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "capacity_ratio.py"),
            "--scenes",
            "store-example",
            "--budget",
            "14",  # a run takes about 4 s (child start, 1.5 s warm-up, 1 s measured): room for both sides
            "--seconds",
            "1",
            "--out-dir",
            str(tmp_path),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "capacity-ratio.json").read_text())
    assert report["machine"]["cpu_model"] and report["threads"] >= 1
    from edgeanon.config.cameras import Camera
    from edgeanon.config.stages import DetectorConfig

    old = {
        "detector": {"input": "416x416", "resize": "stretch", "batch": 1, "skip_idle": False, "sessions": 1},
        "camera": {"roi": "full"},
    }
    known = {"detector": DetectorConfig.model_fields, "camera": Camera.model_fields}
    assert report["old"] == {part: {k: v for k, v in s.items() if k in known[part]} for part, s in old.items()}
    assert report["missing_settings"] == [f"{p}.{k}" for p, s in old.items() for k in s if k not in known[p]]
    (scene,) = report["scenes"]
    assert scene["config"] == "benchmarks/capacity/store-example.yaml"
    runs = scene["runs"]
    assert len(runs) >= 2 and [r["side"] for r in runs[:2]] == ["old", "new"], "the sides take turns, old first"
    for side in ("old", "new"):
        mine = [r for r in runs if r["side"] == side]
        fails = [r["cameras"] for r in mine if not r["holds"]]
        held = {r["cameras"] for r in mine if r["holds"]} - {n for n in fails}
        expected = max((n for n in held if all(n < f for f in fails)), default=0)
        assert scene[f"{side}_cameras"] == expected
        for r in mine:  # the store example's two cameras, replicated round-robin
            names = [c["camera"] for c in r["per_camera"]]
            assert names[:2] == ["entrance", "checkout"][: len(names)]
    if scene["old_cameras"]:
        assert scene["ratio"] == scene["new_cameras"] / scene["old_cameras"]
    text = (tmp_path / "CAPACITY-RATIO.md").read_text()
    assert report["machine"]["cpu_model"] in text and "| scene | old: cameras held | new: cameras held |" in text
