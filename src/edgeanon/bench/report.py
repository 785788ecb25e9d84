"""The figures as text: one line per configuration as it finishes, Markdown tables at the end, JSON values.

benchmarks/write_results.py builds the committed results pages from the same tables.
"""

from __future__ import annotations

import math
from typing import Any, TextIO

STAGES_NOTE = (
    "* decode runs in the reader thread, in parallel with the detector; the other stages are per frame "
    "in the worker (detect = preprocess + inference + postprocess).\n"
)


def _fmt(v: float, nd: int = 1) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def json_default(o: object) -> object:
    if isinstance(o, float) and math.isnan(o):
        return None
    return str(o)


def print_machine(m: dict[str, Any], out: TextIO) -> None:
    isa = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in m["isa"].items())
    out.write(
        f"CPU: {m['cpu_model']} ({m['physical_cores']} physical cores, {m['usable_cpus']} usable CPUs, "
        f"{m['machine']})\n"
        f"ISA: {isa}  [{' '.join(m['isa_flags']) or 'none of interest'}]\n"
        f"versions: edgeanon {m['edgeanon']}, onnxruntime {m['onnxruntime']}, opencv {m['opencv']}, "
        f"numpy {m['numpy']}, python {m['python']}\n"
    )


def throughput_line(label: str, r: dict[str, Any]) -> str:
    line = (
        f"{label}: model {r['model_fps']:.1f} fps, pipeline {r['pipeline_fps']:.1f} fps, "
        f"efficiency {r['pipeline_efficiency']:.3f}, dropped {r['dropped']}"
    )
    if r.get("baseline"):
        b = r["baseline"]
        line += f", baseline {b['fps']:.1f} fps (ours/baseline {b['ours_over_baseline']:.2f})"
    return line


def capacity_line(r: dict[str, Any], out: TextIO) -> None:
    d = r["delay_ms"]
    out.write(
        f"{r['model']} t={r['threads']} cams={r['cameras']}: dropped {r['dropped']}, min camera fps "
        f"{r['min_camera_fps']:.2f}, delay p50 {_fmt(d['p50'])} ms p99 {_fmt(d['p99'])} ms, "
        f"CPU {r['cpu_cores']:.2f} cores, RSS {r['peak_rss_mb']:.0f} MB: {'holds' if r['holds'] else 'does NOT hold'}\n"
    )
    out.flush()


def throughput_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| model | threads | spin | model fps | pipeline fps | efficiency | dropped | decode* | preprocess | inference "
        "| postprocess | track | analytics | sinks | CPU cores | peak RSS MB |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        s = r["stage_ms"]
        lines.append(
            f"| {r['model']} | {r['threads']} | {'on' if r['spinning'] else 'off'} | {r['model_fps']:.1f} "
            f"| {r['pipeline_fps']:.1f} | **{r['pipeline_efficiency']:.3f}** | {r['dropped']} "
            f"| {_fmt(s.get('decode', 0), 2)} | {_fmt(s.get('preprocess', 0), 2)} | {_fmt(s.get('inference', 0), 2)} "
            f"| {_fmt(s.get('postprocess', 0), 2)} | {_fmt(s.get('track', 0), 2)} | {_fmt(s.get('analytics', 0), 2)} "
            f"| {_fmt(s.get('sinks', 0), 2)} | {r['cpu_cores_pipeline']:.2f} | {r['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def baseline_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| model | threads | model fps | ours fps | baseline fps | ours/baseline | ours eff. | baseline eff. "
        "| baseline preprocess ms | baseline postprocess ms | baseline track ms |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        b = r.get("baseline")
        if not b:
            continue
        s = b["stage_ms"]
        lines.append(
            f"| {r['model']} | {r['threads']} | {r['model_fps']:.1f} | {r['pipeline_fps']:.1f} | {b['fps']:.1f} "
            f"| **{b['ours_over_baseline']:.2f}** | {r['pipeline_efficiency']:.3f} | {b['efficiency']:.3f} "
            f"| {s.get('preprocess', 0):.2f} | {s.get('postprocess', 0):.2f} | {s.get('track', 0):.2f} |"
        )
    return "\n".join(lines)


def capacity_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| model | threads | sessions | batch | cameras | fps | dropped | min camera fps | p50 delay ms | p99 delay ms "
        "| CPU cores | peak RSS MB | holds |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        d = r["delay_ms"]
        lines.append(
            f"| {r['model']} | {r['threads']} | {r['sessions']} | {r.get('batch', 1)} | {r['cameras']} "
            f"| {r['fps_target']:g} "
            f"| {r['dropped']} | {r['min_camera_fps']:.2f} | {_fmt(d['p50'])} | {_fmt(d['p99'])} "
            f"| {r['cpu_cores']:.2f} | {r['peak_rss_mb']:.0f} | {'yes' if r['holds'] else 'NO'} |"
        )
    return "\n".join(lines)
