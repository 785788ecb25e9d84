"""onnxruntime session built for a small shared CPU: explicit threads, optional spinning."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeanon.errors import ModelError


def physical_cores() -> int:
    """Physical cores this process may use; hyper-threads share one core's FPUs so they don't count."""
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, (os.cpu_count() or 2) // 2)
    cores: set[str] = set()
    for cpu in allowed:
        siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            cores.add(siblings.read_text().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """Knobs measured in benchmarks/: see benchmarks/results for the figures behind the defaults."""

    threads: int | None = None  # None: physical cores
    spinning: bool = False
    graph_optimization: str = "all"  # all | extended | basic | disable


_OPT_LEVELS = {
    "all": "ORT_ENABLE_ALL",
    "extended": "ORT_ENABLE_EXTENDED",
    "basic": "ORT_ENABLE_BASIC",
    "disable": "ORT_DISABLE_ALL",
}


def build_session(model_bytes: bytes, path: Path, settings: SessionSettings):  # -> ort.InferenceSession
    import onnxruntime as ort

    ort.disable_telemetry_events()  # belt and braces with ORT_DISABLE_TELEMETRY (see edgeanon/__init__.py)
    so = ort.SessionOptions()
    so.intra_op_num_threads = settings.threads or physical_cores()
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _OPT_LEVELS[settings.graph_optimization])
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if settings.spinning else "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    so.log_severity_level = 3  # warnings about unused initialisers are noise for operators
    try:
        return ort.InferenceSession(model_bytes, sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several private exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: not a loadable ONNX model: {first}") from None


def warm_up(session, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    """First run allocates arenas and picks kernels; keep it out of timings and watchdogs."""
    return session.run(None, feed)
