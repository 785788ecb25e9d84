"""A NanoDet model file run at any input geometry, with the runtime's own preprocessing and decoding.

Shared by benchmarks/geometry_sweep.py and benchmarks/int8_agreement.py (issue 15). Since the runtime
runs free-dims models at any multiple of 32, this is the runtime's own ``PersonDetector`` at a fixed
``detector.input`` and ``detector.resize``, around any NanoDet file (the shipped ones or a variant).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from edgeanon.pixels.detector.decode import Thresholds
from edgeanon.pixels.detector.detector import PersonDetector
from edgeanon.pixels.detector.geometry import InputGeometry
from edgeanon.pixels.detector.manifest import resolve
from edgeanon.pixels.detector.session import SessionSettings

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
    """One model file at one geometry: ``outputs(frame)`` -> raw outputs, ``detect(outputs, shape)`` -> boxes.

    A real ``PersonDetector`` (preprocessing, session, decoding, NMS: the runtime's code, not a copy), built
    around ``path`` with the manifest entry of the shipped free-dims NanoDet, so that a variant file (another
    quantisation) runs exactly as the runtime would run the shipped one.
    """

    def __init__(
        self,
        path: Path | str,
        width: int,
        height: int,
        resize: str = "stretch",
        thresholds: Thresholds = Thresholds(),
        threads: int = 2,
        spinning: bool = False,
    ) -> None:
        path = Path(path)
        _, entry, _ = resolve("nanodet-coco")
        geometry = InputGeometry(input=f"{width}x{height}", resize=resize)  # type: ignore[arg-type]
        settings = SessionSettings(threads=threads, spinning=spinning)
        self.width, self.height = width, height
        self.size = (width, height)
        self.det = PersonDetector(path.stem, entry, path, path.read_bytes(), settings, thresholds, geometry)
        self.pre = self.det.preprocessor(self.size)

    def blob(self, frame: np.ndarray) -> np.ndarray:
        return self.pre(frame).copy()

    def outputs(self, frame: np.ndarray) -> list[np.ndarray]:
        return self.det.infer(frame, self.size)

    def detect(self, outputs: list[np.ndarray], frame_shape: tuple[int, ...]):
        return self.det.postprocess(outputs, frame_shape, self.size)

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
