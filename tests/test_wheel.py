"""An installed wheel works with no checkout: models, the sample clip and the default config are package data."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import wheelhouse
from tests.helpers.runs import run_edgeanon

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = json.loads((ROOT / "models" / "manifest.json").read_text())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (whl,) = out.glob("edgeanon-*.whl")
    return whl


def test_wheel_contains_models_clip_and_default_config(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "edgeanon/models/manifest.json",
        "edgeanon/models/nanodet-coco.onnx",
        "edgeanon/models/nanodet-coco-int8.onnx",
        "edgeanon/models/LICENSE.human-models-MIT.txt",
        "edgeanon/models/LICENSE.nanodet-Apache-2.0.txt",
        "edgeanon/models/blazeface-256.onnx",
        "edgeanon/models/age-ssrnet-64.onnx",
        "edgeanon/models/gender-64-gray.onnx",
        "edgeanon/models/LICENSE.mediapipe-Apache-2.0.txt",
        "edgeanon/models/LICENSE.face_classification-MIT.txt",
        "edgeanon/data/vtest-0-249.avi",
        "edgeanon/data/default.yaml",
        "edgeanon/cli.py",
    ):
        assert needed in names, needed
    assert not any(n.startswith("tests/") for n in names)


def test_installed_wheel_runs_the_default_with_no_checkout(wheel, tmp_path):
    """Into a venv with no system site packages and no index: the wheel's declared dependencies must resolve
    from a wheelhouse repacked from this environment (tests/helpers/wheelhouse.py), or the install fails."""
    house = tmp_path / "wheelhouse"
    wheelhouse.build("edgeanon", house, skip={"edgeanon"})
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    isolated = subprocess.run(
        [str(py), "-c", "import sys; print(sys.flags.no_site, [p for p in sys.path if 'site-packages' in p])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(venv) in isolated.stdout and sys.prefix not in isolated.stdout.replace(str(venv), "")
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(house), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-3000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    probe = subprocess.run(
        [str(py), "-c", "import edgeanon.resources as r; print(r.models_dir())"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "site-packages/edgeanon/models" in probe.stdout  # not the checkout
    installed = (str(venv / "bin" / "edgeanon"),)
    verify = run_edgeanon("models", "--verify", cwd=work, command=installed)
    shipped = len(MANIFEST["models"])
    assert verify.returncode == 0 and verify.stdout.count("sha256 ok") == shipped, verify.stdout + verify.stderr
    run = run_edgeanon("run", "--duration", "4", "--port", "0", cwd=work, command=installed)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "camera sample: up" in run.stderr and "current bucket flushed" in run.stderr
