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
    size = f" input={r['input']}" if r.get("input") else ""
    out.write(
        f"{r['model']}{size} t={r['threads']} cams={r['cameras']}: dropped {r['dropped']}, min camera fps "
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


def recommend_header(
    path: str, cameras: list[dict[str, Any]], note: str, cands: list, own_input: str, budget: float, seconds: float,
    out: TextIO,
) -> None:  # fmt: skip
    """What ``--recommend`` is about to measure, before the first run."""
    cams = "; ".join(
        f"{c['id']} {c['fps']:g} fps, {c['zones']} zone(s), {c['lines']} line(s)"
        + (f", roi {c['roi']}" if c.get("roi") is not None else "")
        + (f", input {c['input']}" if c.get("input") is not None else "")
        for c in cameras
    )
    models = ", ".join(dict.fromkeys(c.model for c in cands))
    threads = ", ".join(str(t) for t in dict.fromkeys(c.threads for c in cands))
    out.write(
        f"recommend for {path}: {len(cameras)} camera(s) ({cams}), replicated round-robin to N\n"
        f"sources: {note}\n"
        f"trying: models {models}; threads {threads}; input {cands[0].input} ('config' = as the config sets it: "
        f"{own_input}); then other input sizes with the best of those\n"
        f"a count holds with 0 dropped, every camera at >= 95 % of its fps and p99 delay < 200 ms; "
        f"budget {budget:g} s, {seconds:g} s measured per run after a warm-up, a run stops at its first drop\n\n"
    )
    out.flush()


def site_capacity_table(rows: list[dict[str, Any]]) -> str:
    """Every run of ``--recommend``, in the order they ran."""
    head = (
        "| # | model | input | threads | cameras | dropped | min fps share | p99 delay ms | detector busy | CPU cores "
        "| holds |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for i, r in enumerate(rows, 1):
        cut = " (stopped at first drop)" if r.get("stopped_at_first_drop") else ""
        lines.append(
            f"| {i} | {r['model']} | {r['input']} | {r['threads']} | {r['cameras']} | {r['dropped']} "
            f"| {r['min_fps_share']:.2f} | {_fmt(r['delay_ms']['p99'])} | {r['worker_busy']:.2f} "
            f"| {r['cpu_cores']:.2f} | {'yes' if r['holds'] else 'NO' + cut} |"
        )
    return "\n".join(lines)


def candidates_table(cands: list) -> str:
    """Per setting: the largest count that held (every time it ran) and the smallest that failed."""
    head = "| model | input | threads | cameras that hold | smallest count that failed | runs |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for c in cands:
        s = c.search
        lines.append(
            f"| {c.model} | {c.input} | {c.threads} | **{s.bounds()}** | {s.first_fail or '-'} "
            f"| {sum(len(v) for v in s.runs.values())} |"
        )
    return "\n".join(lines)
