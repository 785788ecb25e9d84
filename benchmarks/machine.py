"""Machine and library details recorded beside every benchmark figure."""

from __future__ import annotations

import os
import platform
from pathlib import Path

FLAGS_OF_INTEREST = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "amx_tile", "fma", "neon", "asimd")


def cpu_model_and_flags() -> tuple[str, list[str]]:
    model, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in {"model name", "Model", "Hardware"} and model in {"unknown", "", platform.machine()}:
                model = value.strip()
            elif key in {"flags", "Features"} and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return model, [f for f in FLAGS_OF_INTEREST if f in flags]


def describe() -> dict:
    import cv2
    import numpy
    import onnxruntime

    from edgeanon import __version__
    from edgeanon.detector import physical_cores

    model, flags = cpu_model_and_flags()
    return {
        "cpu_model": model,
        "isa_flags": flags,
        "logical_cpus": os.cpu_count(),
        "physical_cores": physical_cores(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "edgeanon": __version__,
        "onnxruntime": onnxruntime.__version__,
        "opencv": cv2.__version__,
        "numpy": numpy.__version__,
        "kernel": platform.release(),
    }
