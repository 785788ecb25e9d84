"""Tiny ONNX graphs built with onnx.helper, whose outputs the tests know exactly."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def constant_output_model(input_shape: list[int], outputs: dict[str, np.ndarray]) -> bytes:
    """Each output is a fixed tensor plus 0 x sum(input), so the input is really consumed."""
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, input_shape)
    nodes = [
        helper.make_node("ReduceSum", ["images"], ["total"], keepdims=0),
        helper.make_node("Mul", ["total", "zero"], ["nothing"]),
    ]
    inits = [numpy_helper.from_array(np.array(0, np.float32), "zero")]
    outs = []
    for name, value in outputs.items():
        inits.append(numpy_helper.from_array(value.astype(np.float32), f"{name}_value"))
        nodes.append(helper.make_node("Add", [f"{name}_value", "nothing"], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    graph = helper.make_graph(nodes, "known_outputs", [x], outs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def write_models_dir(directory: Path, name: str, data: bytes, **entry: object) -> Path:
    """A models directory holding one file and a manifest entry that matches its bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.onnx").write_bytes(data)
    base = {
        "file": f"{name}.onnx",
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "family": "yolo",
        "input": {"width": 64, "height": 64, "color": "RGB", "resize": "letterbox", "scale": 1 / 255},
        "classes": ["person", "car"],
        "source": "built by the test",
    }
    base.update(entry)
    manifest = {"schema_version": 1, "default": name, "models": {name: base}}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory
