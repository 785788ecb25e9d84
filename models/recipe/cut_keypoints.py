"""Recipe step: cut BlazeFace's 6 keypoints out of the graph, so they are never computed.

BlazeFace's two regressor heads are 1x1 convolutions whose output channels are, per anchor, 16 values: the box
(cx, cy, w, h) and then 6 keypoints (x, y), the relative positions of eyes, ears, nose and mouth, i.e. feature
data (特徴量データ) in the guidebook's sense. This step keeps only the 4 box rows of each head's weight and bias
(per anchor), so the convolution itself computes 4 channels per anchor instead of 16, and reshapes each head to
``(1, n, 4)``. The box values are computed by exactly the same weights as before. The keypoint weights are
removed from the file, so the shipped model cannot compute keypoints at all.

Usage (after ``convert_attributes.py``, which calls it too; idempotent refusal on an already cut graph)::

    python models/recipe/cut_keypoints.py models/blazeface-256.onnx
    python models/recipe/write_manifest.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

PER_ANCHOR = 16  # box (4) + 6 keypoints (x, y)
N_BOX = 4


def cut_keypoints(path: Path) -> None:
    """Narrow both regressor heads of the BlazeFace graph at ``path`` to the box columns, in place."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    inits = {i.name: i for i in g.initializer}
    consumers: dict[str, int] = {}
    for n in g.node:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    cut = 0
    for out in g.output:
        dims = out.type.tensor_type.shape.dim
        if len(dims) != 3 or dims[2].dim_value not in (PER_ANCHOR, N_BOX):
            continue  # the score heads: (1, n, 1)
        if dims[2].dim_value == N_BOX:
            raise SystemExit(f"{path}: output {out.name} has {N_BOX} columns already: keypoints were cut")
        reshape = producer[out.name]
        transpose = producer[reshape.input[0]]
        conv = producer[transpose.input[0]]
        assert (reshape.op_type, transpose.op_type, conv.op_type) == ("Reshape", "Transpose", "Conv"), out.name
        perm = {a.name: list(a.ints) for a in transpose.attribute}.get("perm")
        assert perm == [0, 2, 3, 1], "expected NCHW -> NHWC before the reshape"
        w_name, b_name = conv.input[1], conv.input[2]
        assert consumers[w_name] == 1 and consumers[b_name] == 1, "regressor weights are shared"
        w, b = numpy_helper.to_array(inits[w_name]), numpy_helper.to_array(inits[b_name])
        anchors, rest = divmod(w.shape[0], PER_ANCHOR)
        assert rest == 0 and w.shape[2:] == (1, 1), w.shape
        keep = np.asarray([a * PER_ANCHOR + c for a in range(anchors) for c in range(N_BOX)])
        inits[w_name].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(w[keep]), w_name))
        inits[b_name].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(b[keep]), b_name))
        shape = numpy_helper.to_array(inits[reshape.input[1]]).copy()
        assert shape[-1] == PER_ANCHOR and consumers[reshape.input[1]] == 1, shape
        shape[-1] = N_BOX
        inits[reshape.input[1]].CopyFrom(numpy_helper.from_array(shape, reshape.input[1]))
        dims[2].dim_value = N_BOX
        cut += 1
    if cut != 2:
        raise SystemExit(f"{path}: found {cut} regressor heads, expected 2")
    model.doc_string = model.doc_string.replace(
        "(score logit | box, 6 keypoints).",
        "(score logit | box); the 6 keypoints are cut from the graph (cut_keypoints.py).",
    )
    del g.value_info[:]
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path, help="blazeface-256.onnx, rewritten in place")
    cut_keypoints(ap.parse_args().model)


if __name__ == "__main__":
    main()
