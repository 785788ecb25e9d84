"""The machine a benchmark ran on, and what this process used of it (CPU time, peak memory).

Figures mean little without the CPU, its instruction sets and the library versions beside them, and a
configuration's peak RSS must be its own: hence the resettable high-water mark.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# ISA features that decide the speed of the int8 and fp32 kernels (see benchmarks/README.md).
ISA_GROUPS = {
    "AVX2": ("avx2",),
    "AVX-512": ("avx512f",),
    "VNNI": ("avx512_vnni", "avx_vnni"),
    "AMX": ("amx_int8", "amx_tile"),
    "NEON": ("neon", "asimd"),
}
FLAGS_OF_INTEREST = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "amx_tile", "fma", "neon", "asimd")


def cpu_model_and_flags() -> tuple[str, list[str]]:
    """CPU model name and the instruction-set flags that matter for onnxruntime's kernels (Linux /proc/cpuinfo)."""
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
    if platform.machine() in {"aarch64", "arm64"}:
        flags.add("neon")  # Advanced SIMD is mandatory on AArch64; /proc/cpuinfo calls it asimd
    return model, [f for f in FLAGS_OF_INTEREST if f in flags]


def isa_summary(flags: Sequence[str]) -> dict[str, bool]:
    return {name: any(f in flags for f in group) for name, group in ISA_GROUPS.items()}


def describe_machine() -> dict[str, Any]:
    import numpy
    import onnxruntime

    from edgeanon import __version__
    from edgeanon.pixels.detector import physical_cores
    from edgeanon.pixels.media import opencv_version

    model, flags = cpu_model_and_flags()
    return {
        "cpu_model": model,
        "isa_flags": flags,
        "isa": isa_summary(flags),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "physical_cores": physical_cores(),
        "machine": platform.machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "edgeanon": __version__,
        "onnxruntime": onnxruntime.__version__,
        "opencv": opencv_version(),
        "numpy": numpy.__version__,
    }


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - platforms without it
        return []


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark (Linux >= 4.0), so a configuration's peak is its own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """VmHWM (resettable) where there is /proc, else ru_maxrss (the process's lifetime peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system
