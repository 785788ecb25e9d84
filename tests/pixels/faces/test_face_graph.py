"""The shipped BlazeFace graph cannot compute facial keypoints (feature data): they are cut out of it.

MediaPipe's graph regresses 16 values per anchor: a box and 6 keypoints (eyes, ears, nose, mouth).
``models/recipe/cut_keypoints.py`` keeps only the box rows of the two regressor convolutions. These tests read
the shipped file itself, so a model regenerated without that step fails them.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from edgeanon.pixels.detector.manifest import load_manifest
from edgeanon.pixels.detector.session import SessionSettings, build_session
from edgeanon.pixels.faces.detector import ANCHOR_LAYOUT, N_BOX, SIZE, FaceDetector

PER_ANCHOR_UNCUT = 16  # box (4) + 6 keypoints (x, y)


@pytest.fixture(scope="module")
def shipped() -> onnx.ModelProto:
    manifest, root = load_manifest()
    return onnx.load(str(root / manifest.models["blazeface-256"].file))


def _shape(v: onnx.ValueInfoProto) -> tuple[int, ...]:
    return tuple(d.dim_value for d in v.type.tensor_type.shape.dim)


def _head_convs(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    """Output name -> the Conv that computes it, through the layout-only Transpose and Reshape after it."""
    producer = {o: n for n in model.graph.node for o in n.output}
    heads = {}
    for out in model.graph.output:
        node = producer[out.name]
        while node.op_type in {"Reshape", "Transpose", "Identity"}:
            node = producer[node.input[0]]
        assert node.op_type == "Conv", f"{out.name} comes from {node.op_type}"
        heads[out.name] = node
    return heads


def test_outputs_are_scores_and_boxes_only(shipped):
    anchors = [per_cell * (SIZE // stride) ** 2 for stride, per_cell in ANCHOR_LAYOUT]
    shapes = sorted(_shape(o) for o in shipped.graph.output)
    assert shapes == sorted([(1, n, w) for n in anchors for w in (1, N_BOX)])


def test_no_node_computes_keypoint_channels(shipped):
    """Each head convolution computes exactly ``per_cell x 4`` (regressors) or ``per_cell x 1`` (scores)
    channels, and no node's output is left unused, so nothing in the graph computes the 12 keypoint values."""
    inits = {i.name: numpy_helper.to_array(i) for i in shipped.graph.initializer}
    per_cell = {per_cell * (SIZE // stride) ** 2: per_cell for stride, per_cell in ANCHOR_LAYOUT}
    outputs = {o.name: _shape(o) for o in shipped.graph.output}
    for name, conv in _head_convs(shipped).items():
        _, n, width = outputs[name]
        channels = inits[conv.input[1]].shape[0]
        assert channels == per_cell[n] * width, f"{conv.name} computes {channels} channels for {per_cell[n]} anchors"
        assert inits[conv.input[2]].shape == (channels,)
        assert channels % PER_ANCHOR_UNCUT or width == 1  # 8 and 24, never the uncut 32 and 96
    used = {i for n in shipped.graph.node for i in n.input} | set(outputs)
    dangling = [o for n in shipped.graph.node for o in n.output if o not in used]
    assert not dangling, f"nodes whose outputs nobody reads: {dangling}"


def test_a_graph_with_keypoint_outputs_is_refused(shipped, tmp_path):
    """Widen the regressor heads back to 16 columns (zero keypoint weights): the face detector refuses it."""
    model = onnx.ModelProto()
    model.CopyFrom(shipped)
    inits = {i.name: i for i in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    for out in model.graph.output:
        dims = out.type.tensor_type.shape.dim
        if dims[2].dim_value != N_BOX:
            continue
        reshape = producer[out.name]
        conv = producer[producer[reshape.input[0]].input[0]]
        for name in conv.input[1:3]:
            a = numpy_helper.to_array(inits[name])
            wide = np.zeros((a.shape[0] // N_BOX * PER_ANCHOR_UNCUT, *a.shape[1:]), a.dtype)
            wide.reshape(-1, PER_ANCHOR_UNCUT, *a.shape[1:])[:, :N_BOX] = a.reshape(-1, N_BOX, *a.shape[1:])
            inits[name].CopyFrom(numpy_helper.from_array(wide, name))
        shape = numpy_helper.to_array(inits[reshape.input[1]]).copy()
        shape[-1] = PER_ANCHOR_UNCUT
        inits[reshape.input[1]].CopyFrom(numpy_helper.from_array(shape, reshape.input[1]))
        dims[2].dim_value = PER_ANCHOR_UNCUT
    del model.graph.value_info[:]
    onnx.checker.check_model(model)
    path = tmp_path / "wide.onnx"
    onnx.save(model, str(path))
    session = build_session(path.read_bytes(), path, SessionSettings(threads=1, spinning=False))
    assert sorted(_shape(o) for o in model.graph.output if _shape(o)[2] > 1)[0][2] == PER_ANCHOR_UNCUT
    with pytest.raises(ValueError, match=r"no output of shape \[1, 512, 4\]"):
        FaceDetector(session)
