"""`edgeanon detect` as a user runs it: a real subprocess on real media."""

from __future__ import annotations

import json
import subprocess

from tests.helpers.paths import CLIP, STILLS
from tests.helpers.runs import run_edgeanon


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_edgeanon(*args, timeout=300)


def test_version_and_help():
    proc = _run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("edgeanon ")
    proc = _run("detect", "--help")
    assert proc.returncode == 0 and "Writes no image" in proc.stdout


def test_detect_json_on_clip(tmp_path):
    proc = _run("detect", str(CLIP), "--json", "--max-frames", "12", "--every", "4")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["frame"] for r in rows] == [0, 4, 8]
    for r in rows:
        assert r["count"] == len(r["boxes"]) and r["count"] >= 1
        assert r["t"] == r["frame"] / 10
        for x1, y1, x2, y2, score in r["boxes"]:
            assert 0 <= x1 < x2 <= 768 and 0 <= y1 < y2 <= 576 and score >= 0.5


def test_detect_counts_on_still_and_empty_still():
    proc = _run("detect", str(STILLS / "basketball1.png"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] in {"people=1", "people=2", "people=3"}  # labelled 2 (stills README)
    proc = _run("detect", str(STILLS / "fruits.jpg"))
    assert proc.stdout.split()[-1] == "people=0"


def test_detect_default_is_bundled_clip():
    proc = _run("detect", "--max-frames", "2")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 2
    assert "vtest-0-249.avi" in proc.stderr


def test_bad_inputs_exit_2_with_one_line(tmp_path):
    bad = tmp_path / "broken.avi"
    bad.write_bytes(b"\\x00garbage" * 100)
    for args in (
        ["detect", str(tmp_path / "missing.avi")],
        ["detect", str(bad)],
        ["detect", "--threads", "0"],
        ["detect", "--model", "nope"],
    ):
        proc = _run(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.strip().startswith("edgeanon: error:"), proc.stderr
        assert "Traceback" not in proc.stderr
