"""Bad models through the real service: `edgeanon run` with EDGEANON_MODELS_DIR pointing at a damaged copy.

tests/pixels/detector/test_model_errors.py checks the loader and `edgeanon detect`; here the same damage must stop
`edgeanon run` before it serves or opens a camera: one `edgeanon: error:` line, exit code 2, no traceback.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from edgeanon.pixels.detector.manifest import load_manifest
from tests.helpers.onnx_graphs import constant_output_model, write_models_dir
from tests.helpers.service import base_config, clip_camera, write_config

FP32 = "nanodet-coco"


def _shipped_copy(tmp_path):
    manifest, root = load_manifest()
    d = tmp_path / "models"
    d.mkdir()
    shutil.copy(root / "manifest.json", d / "manifest.json")
    for entry in manifest.models.values():
        shutil.copy(root / entry.file, d / entry.file)
    return d, d / manifest.models[FP32].file


def missing(tmp_path):
    d, p = _shipped_copy(tmp_path)
    p.unlink()
    return d, FP32, "model file is missing"


def truncated(tmp_path):
    d, p = _shipped_copy(tmp_path)
    p.write_bytes(p.read_bytes()[: 1 << 20])
    return d, FP32, "truncated or replaced"


def sha_mismatch(tmp_path):
    d, p = _shipped_copy(tmp_path)
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    return d, FP32, "sha256 mismatch"


def random_bytes(tmp_path):
    d = write_models_dir(tmp_path / "models", "noise", np.random.default_rng(0).bytes(4096))
    return d, "noise", "not a loadable ONNX model"


def wrong_input_shape(tmp_path):
    data = constant_output_model([1, 3, 32, 32], {"output0": np.zeros((1, 6, 4), np.float32)})
    d = write_models_dir(tmp_path / "models", "small", data)  # the manifest says 64x64
    return d, "small", r"input shape is [1, 3, 32, 32], the manifest says [1, 3, 64, 64]"


@pytest.mark.parametrize("damage", [missing, truncated, sha_mismatch, random_bytes, wrong_input_shape])
def test_bad_model_stops_edgeanon_run_with_one_line_and_exit_2(tmp_path, damage):
    models, name, message = damage(tmp_path)
    cfg = base_config(tmp_path, [clip_camera()], detector={"model": name, "threads": 1})
    path = write_config(tmp_path, cfg)
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "edgeanon", "run", str(path), "--port", "0"],
        cwd=tmp_path,
        env={**os.environ, "EDGEANON_MODELS_DIR": str(models)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    took = time.monotonic() - t0
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("edgeanon: error: ")]
    assert len(errors) == 1, proc.stderr
    assert message in errors[0], errors[0]
    assert "Traceback" not in proc.stderr
    assert not re.search(r"\b(WARNING|ERROR|CRITICAL)\b", proc.stderr), proc.stderr  # nothing else alarming
    assert "serving" not in proc.stderr, "the service must not start serving with a bad model"
    assert took < 60, f"took {took:.1f} s to refuse a bad model"
