"""Missing, truncated, corrupt, unverified and wrong-shaped models: one clear line, exit code 2."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from edgeanon.errors import ModelError
from edgeanon.pixels.detector import load_detector
from edgeanon.pixels.detector.manifest import load_manifest
from tests.helpers.onnx_graphs import constant_output_model, write_models_dir


@pytest.fixture
def shipped_copy(tmp_path):
    """A copy of the real manifest and models; the test may damage the default one."""
    manifest, root = load_manifest()
    entry = manifest.models[manifest.default]
    d = tmp_path / "models"
    d.mkdir()
    shutil.copy(root / "manifest.json", d / "manifest.json")
    for other in manifest.models.values():
        shutil.copy(root / other.file, d / other.file)
    return d, d / entry.file


def _run_cli(models_dir, *args):
    env = {**os.environ, "EDGEANON_MODELS_DIR": str(models_dir)}
    return subprocess.run(
        [sys.executable, "-m", "edgeanon", *args], check=False, env=env, capture_output=True, text=True, timeout=120
    )


def _damage_missing(p):
    p.unlink()


def _damage_truncate(p):
    p.write_bytes(p.read_bytes()[: 1 << 20])


def _damage_flip(p):
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_damage_missing, "model file is missing"),
        (_damage_truncate, "truncated or replaced"),
        (_damage_flip, "sha256 mismatch"),
    ],
)
def test_damaged_shipped_model(shipped_copy, damage, message):
    d, path = shipped_copy
    damage(path)
    with pytest.raises(ModelError, match=message) as info:
        load_detector(models_directory=d)
    assert str(path) in str(info.value)
    proc = _run_cli(d, "detect", "--max-frames", "1")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [lines[-1]] and lines[0].startswith("edgeanon: error: ") and message in lines[0]
    assert "Traceback" not in proc.stderr


def test_random_bytes_with_matching_hash_is_not_a_model(tmp_path):
    d = write_models_dir(tmp_path / "m", "noise", np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        load_detector(models_directory=d)
    proc = _run_cli(d, "detect", "--max-frames", "1")
    assert proc.returncode == 2 and "not a loadable ONNX model" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_wrong_input_shape_is_refused(tmp_path):
    data = constant_output_model([1, 3, 32, 32], {"output0": np.zeros((1, 6, 4), np.float32)})
    d = write_models_dir(tmp_path / "m", "small", data)  # manifest says 64x64
    with pytest.raises(ModelError, match=r"input shape is \[1, 3, 32, 32\], the manifest says \[1, 3, 64, 64\]"):
        load_detector(models_directory=d)


def test_unknown_model_name_lists_known_ones():
    with pytest.raises(ModelError, match=r"unknown model 'nope'.*nanodet-coco"):
        load_detector("nope")


def test_missing_manifest(tmp_path):
    proc = _run_cli(tmp_path, "models")
    assert proc.returncode == 2 and "model manifest not found" in proc.stderr


def test_models_verify_reports_each_file(shipped_copy):
    d, path = shipped_copy
    assert _run_cli(d, "models", "--verify").returncode == 0
    _damage_flip(path)
    proc = _run_cli(d, "models", "--verify")
    assert proc.returncode == 2 and "FAILED" in proc.stdout and "sha256 mismatch" in proc.stdout
