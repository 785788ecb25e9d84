"""Developer recipe: the shipped NanoDet models, whose input is [batch, 3, height, width] with all three free
(issue 15), made from the fixed 1x3x416x416 conversions.

NanoDet is fully convolutional. Once the input dims are symbolic, any H and W that are multiples of 32 work:
the three levels get (H/s)*(W/s) anchors for s = 8, 16, 32. What was checked in the graph (printed by the
script on every run, and it refuses to write if something is wrong):

* **Reshape.** The six Reshapes that flatten the head maps take the shape ``[1, 80, -1]`` / ``[1, 44, -1]``.
  In the fp32 file (tf2onnx output) that shape is not an initializer but a small constant subgraph:
  ``Cast(Add(init [1,80,-1], ScatterND(Expand(0, [3]), indices (0,1), updates ())))``, i.e. the initializer
  plus zeros; in the int8 file onnxruntime's pre-processing has folded it into the initializer. Either way
  the spatial size is ``-1``, derived from the tensor, so nothing needs rewriting. The script folds every
  constant shape input and asserts this.
* **Resize.** The four FPN resizes use ``scales`` (2.0 up, 0.5 down), never ``sizes``: shape-independent.
  With H, W multiples of 32 every level has integer size, so the 0.5 down-scale and the stride-2 convs agree.
* **Pad / MaxPool / Split / Concat / Transpose.** Pads are per-side amounts (1 px), Split is on channels
  (80 + 44), Concat on channels, Transpose a fixed permutation: none depends on H or W.
* No integer initializer holds a 416-derived number (416, 208, 104, 52, 26, 13, 2704, 676, 169).
* ``value_info`` (intermediate shapes stored by quantization pre-processing, all 416-derived) is dropped, and
  the outputs get symbolic dims ``[1, anchors_s8|s16|s32, 80|44]``; onnx shape inference is run as a check.

* **Batch.** The flattening Reshapes' shape ``[1, C, -1]`` becomes ``[0, C, -1]`` (0 copies the input's batch
  dim; ``allowzero`` is unset), the only change to a node input. With ``1`` there a batch of two would silently
  fold into the anchor axis. The script checks that a batch of two frames gives exactly the outputs of two
  single runs.

The weights, nodes and their order are otherwise untouched, so at 416x416 the outputs equal the fixed models'
(the script measures the max abs difference on real frames). The doc string is updated (it named 1x3x416x416).

The shipped files, from the repository root (benchmarks/results/GEOMETRY.md says why this int8 recipe; the
fixed intermediates go to the git-ignored ``build/models/``)::

    python models/recipe/convert_nanodet.py package/models/nanodet.json build/models/nanodet-416-coco.onnx
    python models/recipe/quantize_int8.py --reduce-range      # -> build/models/nanodet-416-coco-int8.onnx
    python models/recipe/free_input_dims.py                   # -> models/nanodet-coco.onnx, nanodet-coco-int8.onnx
    python models/recipe/write_manifest.py

Needs onnx and onnxruntime (and sympy for quantize_int8's pre-processing). ``--verify-only`` re-checks
written files against the fixed ones.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
CLIP = ROOT / "tests" / "data" / "vtest-0-249.avi"
BUILD = ROOT / "build" / "models"  # the fixed 416 conversions: intermediates, not shipped
PAIRS = {  # fixed 416 -> free dims (shipped)
    "fp32": (BUILD / "nanodet-416-coco.onnx", MODELS / "nanodet-coco.onnx"),
    "int8": (BUILD / "nanodet-416-coco-int8.onnx", MODELS / "nanodet-coco-int8.onnx"),
}
SIZES = [(416, 416), (416, 320), (384, 288), (512, 384), (640, 480)]  # (width, height)
STRIDES = (8, 16, 32)
FIXED_NUMBERS = {416, 208, 104, 52, 26, 13, 2704, 676, 169}
SHAPE_INPUTS = {"Reshape": [1], "Expand": [1], "Tile": [1], "ConstantOfShape": [0], "Slice": [1, 2, 3, 4]}
WEIGHT_OPS = {"DequantizeLinear", "QuantizeLinear"}
DOC_OLD = "NCHW 1x3x416x416"
DOC_NEW = "NCHW 1x3xHxW (H, W any multiples of 32; input dims freed by models/recipe/free_input_dims.py)"


def constant_values(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Every tensor computable from initializers alone, evaluated with onnx's reference evaluator."""
    from onnx.reference import ReferenceEvaluator

    g = model.graph
    known = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            known[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    const_nodes = []
    ready = set(known)
    for n in g.node:  # nodes are topologically sorted
        if n.op_type in WEIGHT_OPS:  # int8 weights dequantized from initializers: not shapes
            continue
        if n.op_type != "Constant" and all((not i) or i in ready for i in n.input):
            const_nodes.append(n)
            ready.update(n.output)
    if const_nodes:
        outs = [o for n in const_nodes for o in n.output]
        sub = onnx.helper.make_model(
            onnx.helper.make_graph(
                const_nodes,
                "fold",
                [],
                [onnx.helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in outs],
                [i for i in g.initializer if any(i.name in n.input for n in const_nodes)],
            ),
            opset_imports=model.opset_import,
        )
        vals = ReferenceEvaluator(sub).run(None, {})
        known.update(dict(zip(outs, vals, strict=True)))
    return known


def audit(model: onnx.ModelProto, where: str) -> list[str]:
    """Lines describing every shape-bearing input; raises if one is hard-coded to the 416 geometry."""
    consts = constant_values(model)
    lines: list[str] = []
    problems: list[str] = []
    for n in model.graph.node:
        for k in SHAPE_INPUTS.get(n.op_type, []):
            if k >= len(n.input) or not n.input[k]:
                continue
            v = consts.get(n.input[k])
            if v is None:
                problems.append(f"{n.op_type} {n.name}: input {k} is computed at run time (not checked)")
                continue
            lines.append(f"{n.op_type} {n.name}: {v.tolist()}")
            if n.op_type == "Reshape" and (v.tolist()[-1] != -1 or FIXED_NUMBERS & set(v.tolist())):
                problems.append(f"Reshape {n.name}: shape {v.tolist()} is not spatially free")
        if n.op_type == "Resize":
            scales = consts.get(n.input[2]) if len(n.input) > 2 and n.input[2] else None
            sizes = consts.get(n.input[3]) if len(n.input) > 3 and n.input[3] else None
            if sizes is not None and sizes.size:
                problems.append(f"Resize {n.name}: uses fixed sizes {sizes.tolist()}")
            lines.append(f"Resize {n.name}: scales {None if scales is None else scales.tolist()}")
    for i in model.graph.initializer:
        if i.data_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32) and numpy_helper.to_array(i).size <= 16:
            hit = FIXED_NUMBERS & set(np.atleast_1d(numpy_helper.to_array(i)).tolist())
            if hit:
                problems.append(f"initializer {i.name} holds {sorted(hit)}")
    if problems:
        raise ValueError(f"{where}: not free of the 416 geometry:\n  " + "\n  ".join(problems))
    return lines


def stride_of_outputs(path: Path) -> dict[str, tuple[int, int]]:
    """Output name -> (stride, channels), from one run of the fixed 416x416 model."""
    import onnxruntime as ort

    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outs = s.run(None, {s.get_inputs()[0].name: np.zeros((1, 3, 416, 416), np.float32)})
    by_n = {(416 // st) ** 2: st for st in STRIDES}
    return {o.name: (by_n[v.shape[1]], v.shape[2]) for o, v in zip(s.get_outputs(), outs, strict=True)}


def free_dims(src: Path, dst: Path) -> None:
    model = onnx.load(str(src))
    strides = stride_of_outputs(src)
    for line in audit(model, str(src)):
        print("   ", line)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if [d.dim_value for d in dims] != [1, 3, 416, 416]:
        raise ValueError(f"{src}: input is {dims}, expected [1,3,416,416]")
    dims[0].Clear()
    dims[0].dim_param = "batch"
    dims[2].Clear()
    dims[2].dim_param = "height"
    dims[3].Clear()
    dims[3].dim_param = "width"
    del model.graph.value_info[:]
    free_batch(model, str(src))
    for o in model.graph.output:
        stride, channels = strides[o.name]
        shape = o.type.tensor_type.shape
        del shape.dim[:]
        shape.dim.add().dim_param = "batch"
        shape.dim.add().dim_param = f"anchors_s{stride}"
        shape.dim.add().dim_value = channels
    if DOC_OLD not in model.doc_string:
        raise ValueError(f"{src}: doc string does not name {DOC_OLD!r}: {model.doc_string!r}")
    model.doc_string = model.doc_string.replace(DOC_OLD, DOC_NEW)
    onnx.checker.check_model(model)
    onnx.shape_inference.infer_shapes(model, strict_mode=True)  # check only; the file keeps no value_info
    onnx.save(model, str(dst))


def free_batch(model: onnx.ModelProto, where: str) -> None:
    """Let the flattening Reshapes copy the batch dim: their shape constant [1, C, -1] becomes [0, C, -1]."""
    changed = 0
    for init in model.graph.initializer:
        if init.data_type != onnx.TensorProto.INT64 or len(init.dims) != 1 or init.dims[0] != 3:
            continue
        v = numpy_helper.to_array(init)
        if v[0] == 1 and v[1] in (80, 44) and v[2] == -1:
            init.CopyFrom(numpy_helper.from_array(np.array([0, v[1], -1], np.int64), init.name))
            changed += 1
    shapes = [v.tolist() for n, v in reshape_shapes(model)]
    if changed == 0 or any(s[0] != 0 for s in shapes):
        raise ValueError(f"{where}: could not free the batch dim of every Reshape: {shapes}")
    print(f"    batch freed: {changed} shape constant(s); Reshape shapes now {sorted(map(str, shapes))}")


def reshape_shapes(model: onnx.ModelProto) -> list[tuple[str, np.ndarray]]:
    consts = constant_values(model)
    return [(n.name, consts[n.input[1]]) for n in model.graph.node if n.op_type == "Reshape"]


# --- verification: independent NanoDet decoding (DESIGN.md section 4), not the runtime's code ---


def decode(outs: list[np.ndarray], w: int, h: int, score: float = 0.5, iou: float = 0.5) -> np.ndarray:
    """Person boxes (x1, y1, x2, y2) in model-input pixels after score threshold and NMS."""
    boxes, scores = [], []
    for s in STRIDES:
        gw, gh = w // s, h // s
        n = gw * gh
        cls = next(o for o in outs if o.shape == (1, n, 80))[0, :, 0]
        reg = next(o for o in outs if o.shape == (1, n, 44))[0]
        idx = np.flatnonzero(cls > score)
        if not idx.size:
            continue
        logits = reg[idx].reshape(-1, 4, 11)
        p = np.exp(logits - logits.max(axis=2, keepdims=True))
        p /= p.sum(axis=2, keepdims=True)
        d = (p * np.arange(11)).sum(axis=2) * s
        cx, cy = (idx % gw + 0.5) * s, (idx // gw + 0.5) * s
        boxes.append(np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]], axis=1))
        scores.append(cls[idx])
    if not boxes:
        return np.zeros((0, 4), np.float32)
    b, sc = np.concatenate(boxes), np.concatenate(scores)
    keep = cv2.dnn.NMSBoxes(np.c_[b[:, :2], b[:, 2:] - b[:, :2]].tolist(), sc.tolist(), score, iou)
    return b[np.asarray(keep, int).reshape(-1)]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def frames(indices: list[int]) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(CLIP))
    out, i = [], 0
    while len(out) < len(indices):
        ok, f = cap.read()
        if not ok:
            break
        if i in indices:
            out.append(f)
        i += 1
    cap.release()
    return out


def blob(frame: np.ndarray, w: int, h: int) -> np.ndarray:
    img = cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None].astype(np.float32))


def verify(fixed: Path, free: Path, sample: list[np.ndarray]) -> None:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    a = ort.InferenceSession(str(fixed), so, providers=["CPUExecutionProvider"])
    b = ort.InferenceSession(str(free), so, providers=["CPUExecutionProvider"])
    name = a.get_inputs()[0].name
    print(f"  input {b.get_inputs()[0].shape}, outputs {[o.shape for o in b.get_outputs()]}")
    worst, identical = 0.0, True
    ref_boxes = []
    for f in sample:
        x = blob(f, 416, 416)
        oa, ob = a.run(None, {name: x}), b.run(None, {name: x})
        for u, v in zip(oa, ob, strict=True):
            identical &= u.shape == v.shape and np.array_equal(u, v)
            worst = max(worst, float(np.abs(u - v).max()))
        sy, sx = f.shape[0] / 416, f.shape[1] / 416
        ref_boxes.append(decode(ob, 416, 416) * [sx, sy, sx, sy])
    print(f"  416x416 vs {fixed.name} on {len(sample)} frames: bit-identical {identical}, max abs diff {worst:g}")
    pair = np.concatenate([blob(sample[0], 416, 320), blob(sample[1], 416, 320)])
    both = b.run(None, {name: pair})
    for k in range(2):
        one = b.run(None, {name: pair[k : k + 1]})
        for u, v in zip(both, one, strict=True):
            if u.shape[0] != 2 or not np.allclose(u[k : k + 1], v, rtol=0, atol=1e-5):
                raise AssertionError(f"{free.name}: a batch of 2 differs from two single runs (slot {k})")
    print("  batch of 2 at 416x320 equals two single runs")
    for w, h in SIZES:
        matched = total = ref_total = 0
        for k, f in enumerate(sample):
            outs = b.run(None, {name: blob(f, w, h)})
            got = sorted(o.shape[1] for o in outs)
            want = sorted([(w // s) * (h // s) for s in STRIDES] * 2)
            if got != want:
                raise AssertionError(f"{free.name} at {w}x{h}: anchor counts {got}, expected {want}")
            sx, sy = f.shape[1] / w, f.shape[0] / h
            boxes = decode(outs, w, h) * [sx, sy, sx, sy]
            total += len(boxes)
            ref_total += len(ref_boxes[k])
            if len(boxes) and len(ref_boxes[k]):
                matched += int((iou_matrix(boxes, ref_boxes[k]).max(axis=1) >= 0.5).sum())
        per = ", ".join(f"s{s}: {(w // s) * (h // s)}" for s in STRIDES)
        print(
            f"  {w}x{h}: anchors {per} (as expected); {total} person boxes, {matched} of them overlap "
            f"(IoU >= 0.5) a 416x416 box of the same frame ({ref_total} boxes at 416x416)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fp32", type=Path, default=PAIRS["fp32"][0], help="fixed-416 fp32 model")
    ap.add_argument("--int8", type=Path, default=PAIRS["int8"][0], help="fixed-416 int8 model")
    ap.add_argument("--fp32-out", type=Path, default=PAIRS["fp32"][1])
    ap.add_argument("--int8-out", type=Path, default=PAIRS["int8"][1])
    ap.add_argument("--verify-only", action="store_true", help="only check existing outputs against the inputs")
    args = ap.parse_args()
    sample = frames([0, 60, 120, 180, 220, 249])  # labelled frames of the test cut, 3-9 people each
    for kind, src, dst in (("fp32", args.fp32, args.fp32_out), ("int8", args.int8, args.int8_out)):
        print(f"{kind}: {src} -> {dst}")
        if not args.verify_only:
            free_dims(src, dst)
        verify(src, dst, sample)
        digest = hashlib.sha256(dst.read_bytes()).hexdigest()
        print(f"  wrote {dst} ({dst.stat().st_size} bytes, sha256 {digest})")


if __name__ == "__main__":
    main()
