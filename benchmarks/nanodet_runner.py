"""A NanoDet model file run at any input geometry, with the runtime's own preprocessing and decoding.

Shared by benchmarks/geometry_sweep.py and benchmarks/int8_agreement.py (issue 15). The runtime's
``PersonDetector`` insists that the session's input shape equals the manifest's 416x416, so it cannot
load the free-dims models; this module builds the same pieces around a plain session instead:

* ``edgeanon.pixels.detector.preprocess.Preprocessor`` with an ``InputSpec`` of the wanted size and
  resize mode (stretch or letterbox; BGR, 0-255, normalisation in the graph, letterbox pad value 114
  as the ``InputSpec`` default, which is what the runtime would use for a letterbox entry);
* ``edgeanon.pixels.detector.nanodet.NanoDetDecoder`` built for that size (anchor counts follow);
* ``PersonDetector._postprocess`` itself (map back to frame pixels, clip, min box 8 px, OpenCV NMS),
  called on a detector object assembled without its constructor, so the thresholds and NMS are the
  runtime's code, not a copy.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from edgeanon.pixels.detector.decode import Thresholds
from edgeanon.pixels.detector.detector import PersonDetector
from edgeanon.pixels.detector.manifest import InputSpec
from edgeanon.pixels.detector.nanodet import NanoDetDecoder
from edgeanon.pixels.detector.preprocess import Preprocessor

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "tests" / "data" / "vtest-0-249.avi"
LABELS = ROOT / "tests" / "data" / "labels"
STILLS = ROOT / "tests" / "data" / "stills"


def session(path: Path | str, threads: int = 2, spinning: bool = False):
    """An onnxruntime CPU session built exactly as edgeanon builds its own (``build_session``)."""
    from edgeanon.pixels.detector.session import SessionSettings, build_session

    path = Path(path)
    return build_session(path.read_bytes(), path, SessionSettings(threads=threads, spinning=spinning))


def read_frames(video: Path | str, wanted: set[int]) -> dict[int, np.ndarray]:
    """Decode sequentially (no seeking) and keep the wanted frame indices."""
    cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    out: dict[int, np.ndarray] = {}
    i = 0
    while wanted - out.keys():
        ok, f = cap.read()
        if not ok:
            break
        if i in wanted:
            out[i] = f.copy()
        i += 1
    cap.release()
    if wanted - out.keys():
        raise ValueError(f"{video}: missing frames {sorted(wanted - out.keys())[:5]}")
    return out


class Runner:
    """One session at one geometry: ``outputs(frame)`` -> raw outputs, ``detect(outputs, shape)`` -> boxes."""

    def __init__(
        self,
        sess,
        width: int,
        height: int,
        resize: str = "stretch",
        thresholds: Thresholds = Thresholds(),
        num_classes: int = 80,
    ) -> None:
        self.sess = sess
        self.width, self.height = width, height
        self.input_name = sess.get_inputs()[0].name
        self.output_names = [o.name for o in sess.get_outputs()]
        spec = InputSpec(width=width, height=height, color="BGR", resize=resize)
        self.pre = Preprocessor(spec)
        probe = sess.run(self.output_names, {self.input_name: self.pre.input})  # also the warm-up run
        self.output_shapes = [o.shape for o in probe]
        self.decoder = NanoDetDecoder(self.output_shapes, width, height, num_classes, 0)
        det = PersonDetector.__new__(PersonDetector)  # no constructor: it would check the input is 416x416
        det.thresholds = thresholds
        det.decoder = self.decoder
        det.preprocess = self.pre
        det.postprocess_s = 0.0
        self._det = det

    def blob(self, frame: np.ndarray) -> np.ndarray:
        return self.pre(frame).copy()

    def outputs(self, frame: np.ndarray) -> list[np.ndarray]:
        return self.sess.run(self.output_names, {self.input_name: self.pre(frame)})

    def detect(self, outputs: list[np.ndarray], frame_shape: tuple[int, ...]):
        return self._det._postprocess(outputs, frame_shape)

    def count(self, frame: np.ndarray) -> int:
        return len(self.detect(self.outputs(frame), frame.shape).xyxy)


def machine() -> dict:
    """CPU model and the flags that matter for int8 kernels, onnxruntime version, load average."""
    import onnxruntime as ort

    info: dict = {"onnxruntime": ort.__version__, "loadavg": list(os.getloadavg())}
    try:
        text = Path("/proc/cpuinfo").read_text()
        for line in text.splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                info["flags"] = sorted(flags & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "amx_tile"})
                break
    except OSError:
        pass
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as feats

        info["numpy_cpu_features"] = sorted(k for k in ("AVX2", "AVX512F", "AVX512_SKX", "AVX512VNNI") if feats.get(k))
    except ImportError:
        pass
    return info
