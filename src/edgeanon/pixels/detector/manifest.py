"""The model manifest: what each shipped file is, where it came from, and its sha256."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgeanon.errors import ModelError
from edgeanon.resources import models_dir

MANIFEST_NAME = "manifest.json"

Task = Literal["person", "face", "age", "gender"]
# Which decoder families may serve which task: the person detector can never be handed a face or attribute model.
TASK_FAMILIES: dict[str, frozenset[str]] = {
    "person": frozenset({"nanodet", "yolo"}),
    "face": frozenset({"blazeface"}),
    "age": frozenset({"ssrnet"}),
    "gender": frozenset({"mini_xception"}),
}


class InputSpec(BaseModel):
    """How a frame becomes the model's input tensor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(gt=0, description="Input width in pixels (the default, if the model takes other sizes).")
    height: int = Field(gt=0, description="Input height in pixels (the default, if the model takes other sizes).")
    multiple: int | None = Field(
        None,
        gt=0,
        description="The model's height and width are free: any multiple of this runs (its largest stride). "
        "Empty: only width x height.",
    )
    layout: Literal["NCHW", "NHWC"] = Field("NCHW", description="Tensor layout.")
    dtype: Literal["float32", "uint8"] = Field("float32", description="Input tensor element type.")
    color: Literal["BGR", "RGB"] = Field(description="Channel order the model expects.")
    resize: Literal["stretch", "letterbox"] = Field(
        "stretch", description="stretch: plain resize; letterbox: keep aspect, pad with pad_value."
    )
    pad_value: float = Field(114.0, description="Fill for letterbox borders, in 0-255 pixel units.")
    scale: float = Field(1.0, gt=0, description="Multiply pixel values (0-255) by this, e.g. 1/255.")
    mean: tuple[float, float, float] | None = Field(
        None, description="Subtracted after scaling, in the model's channel order; None if folded into the graph."
    )
    std: tuple[float, float, float] | None = Field(
        None, description="Divided after the mean; None if folded into the graph."
    )
    normalisation_note: str = Field("", description="Human-readable note, e.g. that mean/std are in the graph.")


class Licence(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    spdx: str
    applies_to: str
    file: str | None = None


class ModelEntry(BaseModel):
    """One model file and everything needed to run and audit it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(description="File name relative to the models directory.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(gt=0)
    task: Task = Field("person", description="What the model is for; entries without it are person detectors.")
    family: Literal["nanodet", "yolo", "blazeface", "ssrnet", "mini_xception"] = Field(
        description="Decoder family for the outputs."
    )
    precision: Literal["fp32", "int8"] = "fp32"
    input: InputSpec
    classes: list[str] = Field(min_length=1)
    person_class: int = Field(0, ge=0)
    strides: list[int] | None = Field(None, description="nanodet: feature strides, smallest first.")
    reg_max: int | None = Field(None, description="nanodet: number of distribution bins per side minus one.")
    source: str = Field(description="Where the weights came from, package@version and path.")
    licences: list[Licence] = Field(default_factory=list)
    params: int | None = None
    gflops: float | None = None
    recipe: str | None = None
    training_data: str = Field("", description="The training data and its terms, where the origin states them.")
    notes: str = ""

    @model_validator(mode="after")
    def _family_fits_task(self) -> ModelEntry:
        if self.family not in TASK_FAMILIES[self.task]:
            raise ValueError(f"family {self.family!r} cannot serve task {self.task!r}")
        return self


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = 1
    default: str
    models: dict[str, ModelEntry]

    @model_validator(mode="after")
    def _default_is_a_person_detector(self) -> Manifest:
        entry = self.models.get(self.default)
        if entry is not None and entry.task != "person":
            raise ValueError(f"default model {self.default!r} is a {entry.task} model, not a person detector")
        return self


def load_manifest(directory: Path | None = None) -> tuple[Manifest, Path]:
    directory = directory or models_dir()
    path = directory / MANIFEST_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: model manifest not found (set EDGEANON_MODELS_DIR to a models directory)") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: cannot read model manifest: {exc}") from None
    try:
        return Manifest.model_validate(raw), directory
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ModelError(f"{path}: {loc}: {first['msg']}") from None


def resolve(name: str | None, directory: Path | None = None, task: Task = "person") -> tuple[str, ModelEntry, Path]:
    """Find a model for ``task`` by manifest name; returns (name, entry, file path).

    Without a name, persons get the manifest's default and other tasks their only entry. A name whose entry
    serves another task is refused, so a face or attribute model never reaches the person decoder.
    """
    manifest, root = load_manifest(directory)
    if name is None:
        if task == "person":
            name = manifest.default
        else:
            names = sorted(n for n, e in manifest.models.items() if e.task == task)
            if len(names) != 1:
                found = ", ".join(names) or "none"
                raise ModelError(f"{root / MANIFEST_NAME}: need exactly one {task} model, found: {found}")
            name = names[0]
    entry = manifest.models.get(name)
    if entry is None:
        known = ", ".join(sorted(n for n, e in manifest.models.items() if e.task == task))
        raise ModelError(f"unknown model {name!r}; the manifest in {root} lists: {known}")
    if entry.task != task:
        raise ModelError(f"model {name!r} is a {entry.task} model, not a {task} model")
    return name, entry, root / entry.file


def read_verified(path: Path, entry: ModelEntry) -> bytes:
    """Read the model once and check its sha256, so the bytes we run are the bytes we checked."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: model file is missing") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model file: {exc.strerror}") from None
    if len(data) != entry.bytes:
        raise ModelError(
            f"{path}: model file is {len(data)} bytes, manifest says {entry.bytes} (truncated or replaced?)"
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise ModelError(f"{path}: sha256 mismatch: file is {digest}, manifest says {entry.sha256} (corrupt?)")
    return data
