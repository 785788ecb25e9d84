"""Print parameter count and approximate GFLOPs of an ONNX model, for the model manifest.

Why: the manifest records model cost so a deployment can be sized without running it. Parameters are the
elements of all initializers (int8/fp32 alike, scales and zero points excluded) so the fp32 and QDQ int8
files report the same figure. FLOPs are 2 x MACs of Conv, Gemm and MatMul nodes only
(activations, pads, resizes etc. are negligible), taken from static shapes that ``onnx.shape_inference``
propagates; a node whose shapes stay unknown is reported and skipped.

Usage::

    python models/recipe/model_stats.py models/nanodet-416-coco.onnx [more.onnx ...]
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import TensorProto, shape_inference

# Initializers that are quantization metadata rather than learned parameters.
_QPARAM_SUFFIXES = ("_scale", "_zero_point")


@dataclass(frozen=True)
class ModelStats:
    """Summary of one model."""

    params: int
    macs: int
    skipped: tuple[str, ...]

    @property
    def gflops(self) -> float:
        return 2 * self.macs / 1e9


def _static_shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    """Map tensor name -> fully static shape, for every value shape inference could resolve."""
    inferred = shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    g = inferred.graph
    shapes: dict[str, list[int]] = {}
    for vi in [*g.input, *g.value_info, *g.output]:
        t = vi.type.tensor_type
        if not t.HasField("shape"):
            continue
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
        if dims and all(d > 0 for d in dims):
            shapes[vi.name] = dims
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def _weight_source(name: str, producers: dict[str, onnx.NodeProto]) -> str:
    """Follow a QDQ DequantizeLinear back to its int8 initializer, so quantized Conv weights are found too."""
    node = producers.get(name)
    if node is not None and node.op_type == "DequantizeLinear":
        return node.input[0]
    return name


def model_stats(path: Path) -> ModelStats:
    """Count parameters and Conv/Gemm/MatMul MACs of the model at ``path``."""
    model = onnx.load(str(path))
    g = model.graph
    params = sum(
        math.prod(init.dims)
        for init in g.initializer
        if init.data_type != TensorProto.INT64 and not init.name.endswith(_QPARAM_SUFFIXES)
    )
    shapes = _static_shapes(model)
    producers = {o: n for n in g.node for o in n.output}
    macs = 0
    skipped: list[str] = []
    for node in g.node:
        if node.op_type not in {"Conv", "Gemm", "MatMul"}:
            continue
        out = shapes.get(node.output[0])
        w = shapes.get(_weight_source(node.input[1], producers)) or shapes.get(node.input[1])
        a = shapes.get(node.input[0])
        if out is None or w is None or a is None:
            skipped.append(node.name or node.output[0])
            continue
        if node.op_type == "Conv":
            # each output element needs (C_in / group) * prod(kernel) MACs; weight is [C_out, C_in/group, k...]
            macs += math.prod(out) * math.prod(w[1:])
        elif node.op_type == "Gemm":
            trans_a = next((at.i for at in node.attribute if at.name == "transA"), 0)
            k = a[0] if trans_a else a[1]
            macs += math.prod(out) * k
        else:  # MatMul: out [..., M, N], reduction over a's last dim
            macs += math.prod(out) * a[-1]
    return ModelStats(params=params, macs=macs, skipped=tuple(skipped))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", type=Path, nargs="+")
    args = ap.parse_args()
    for path in args.models:
        s = model_stats(path)
        print(f"{path}: params={s.params} ({s.params / 1e6:.3f} M) MACs={s.macs / 1e9:.3f} G GFLOPs={s.gflops:.3f}")
        if s.skipped:
            print(f"  skipped (unknown shapes): {', '.join(s.skipped)}")


if __name__ == "__main__":
    main()
