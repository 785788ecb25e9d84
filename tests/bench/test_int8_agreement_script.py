"""benchmarks/int8_agreement.py and its nanodet_runner on a few frames: the scripts behind GEOMETRY.md's int8
figures still run against today's detector, and count what the runtime counts.

The runner once set an attribute the detector had made read-only, and the script crashed unnoticed for a
session; this runs it for real (two frames, both shipped models), so such rot fails here. No agreement figure
is asserted (that is the benchmark's job, on 50 frames): only that the script's counts are the runtime's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2

from edgeanon.pixels.detector.detector import load_detector
from edgeanon.pixels.detector.geometry import InputGeometry
from edgeanon.pixels.detector.session import SessionSettings

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "tests" / "data" / "vtest-0-249.avi"
MODELS = [ROOT / "models" / "nanodet-coco.onnx", ROOT / "models" / "nanodet-coco-int8.onnx"]


def _frames(indices: list[int]) -> dict[int, object]:
    cap = cv2.VideoCapture(str(CLIP), cv2.CAP_FFMPEG)
    out, i = {}, 0
    while len(out) < len(indices):
        ok, frame = cap.read()
        assert ok, f"{CLIP} ended before frame {max(indices)}"
        if i in indices:
            out[i] = frame
        i += 1
    cap.release()
    return out


def test_the_agreement_script_counts_what_the_runtime_counts(tmp_path):
    out = tmp_path / "agree.json"
    script = ROOT / "benchmarks" / "int8_agreement.py"
    args = [sys.executable, str(script), "--every", "125", "--size", "416x320", "--out", str(out)]
    proc = subprocess.run(
        [*args, *map(str, MODELS)], capture_output=True, text=True, timeout=180, check=False, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["frames"] == [0, 125] and data["size"] == "416x320"
    assert data["machine"].get("cpu"), "the JSON must name the CPU it ran on"
    frames = _frames([0, 125])
    for path in MODELS:
        det = load_detector(
            path.stem, SessionSettings(threads=1), geometry=InputGeometry(input="416x320", resize="stretch")
        )
        want = {str(i): len(det(f).xyxy) for i, f in frames.items()}
        assert data["counts"][path.name] == want, path.name
    assert sum(data["counts"][MODELS[0].name].values()) > 0, "the clip's frames 0 and 125 have people in them"
    assert "| nanodet-coco-int8.onnx |" in proc.stdout, "the summary table names the compared model"
