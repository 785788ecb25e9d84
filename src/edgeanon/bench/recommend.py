"""``edgeanon bench --recommend CONFIG``: the model, input size and threads that carry the most cameras like
this config's on this box, and how many; all measured, nothing extrapolated.

Phase 1 tries every person model in the manifest (fp32 and int8) with every thread count at the config's own
input size, and searches each for the largest camera count that holds (``search``). The candidates take turns,
one run each, so a budget that ends early still leaves every one of them measured; a candidate that failed at
or below the best count held so far stops, since it cannot be recommended. The best is then run again at its
count, because one run at the edge can hold by luck; if it fails there, the search resumes below it. Phase 2
tries other input sizes with the best model and threads, so the table shows what a smaller or a larger input
would change.

The recommendation comes from phase 1: it keeps the config's input size. A smaller input carries more cameras
but sees small and distant people less well, and the bench has no labels for this scene to measure that, so an
input size that holds more is reported as a note to check, not recommended.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from edgeanon.bench import inputs, report
from edgeanon.bench.inputs import OWN
from edgeanon.bench.search import Budget, Search
from edgeanon.bench.site import SOURCE_NOTE, describe
from edgeanon.bench.sweep import run_task

PHASE1_SHARE = 0.8  # of the budget, to find the best; confirming it may use the rest, then other input sizes
DEFAULT_BUDGET_S = 300.0


@dataclass
class Candidate:
    """One setting to measure, and what its runs found."""

    model: str
    precision: str
    input: str  # a token of ``inputs``: config, auto, WxH or a scale such as x0.8
    threads: int
    phase: int
    search: Search
    sizes: dict[str, str] | None = None  # the input each of the config's cameras gets (None: as configured)
    area: float | None = None  # its input pixels over the config's own (None: the same, or not known)
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sessions(self) -> int:
        """As many sessions as fill the cores at this thread count: the cameras spread over them."""
        from edgeanon.pixels.detector import physical_cores

        return max(1, physical_cores() // self.threads)

    @property
    def label(self) -> str:
        return f"{self.model} input={self.input} t={self.threads} s={self.sessions}"

    def site(self, path: str, cameras: int) -> dict[str, Any]:
        """The ``site`` of a capacity task: the config at ``path`` with this candidate's settings."""
        per_camera = None if self.sizes is None else {cid: {"input": size} for cid, size in self.sizes.items()}
        return {
            "path": path,
            "cameras": cameras,
            "detector": {"model": self.model, "threads": self.threads, "sessions": self.sessions},
            "per_camera": per_camera,
        }

    def held_runs(self) -> list[dict[str, Any]]:
        n = self.search.largest_held
        return [r for r in self.results if r["cameras"] == n and r["holds"]]


@dataclass
class _Context:
    path: str
    budget: Budget
    seconds: float
    spinning: bool
    isolate: bool
    progress: bool | None
    usable_cpus: int
    out: TextIO
    rows: list[dict[str, Any]] = field(default_factory=list)
    cut: bool = False


def thread_choices(physical: int) -> list[int]:
    """1 to the physical cores (every count up to 4; beyond, the powers of two and the core count), most first."""
    if physical <= 4:
        return list(range(physical, 0, -1))
    return sorted({physical, *(2**k for k in range(physical.bit_length()) if 2**k < physical)}, reverse=True)


def person_models(first: str | None = None) -> list[str]:
    """Every person model in the manifest, ``first`` (the config's or the default) leading."""
    from edgeanon.pixels.detector.manifest import load_manifest

    manifest, _ = load_manifest()
    names = sorted(n for n, e in manifest.models.items() if e.task == "person")
    lead = first or manifest.default
    return [lead, *(n for n in names if n != lead)] if lead in names else names


def _measure(ctx: _Context, cand: Candidate, n: int) -> None:
    b = ctx.budget
    task = {
        "kind": "capacity",
        "label": f"[{b.elapsed():3.0f}/{b.seconds:.0f} s] {cand.label} cams={n}",
        "source": {"kind": "file", "path": None},
        "site": cand.site(ctx.path, n),
        "model": cand.model,
        "threads": cand.threads,
        "spinning": ctx.spinning,
        "input": cand.input,
        "seconds": ctx.seconds,
        "warmup_s": warmup_seconds(ctx.seconds),
        "progress": ctx.progress,
        "stop_on_drop": True,
    }
    t0 = time.monotonic()
    r = run_task(task, ctx.isolate)
    b.spent(time.monotonic() - t0)
    r["phase"] = cand.phase
    cand.search.record(r, ctx.usable_cpus)
    cand.results.append(r)
    ctx.rows.append(r)
    report.capacity_line(r, ctx.out)


def _search_all(ctx: _Context, cands: list[Candidate], share: float, prune: bool = True) -> None:
    """One run per unfinished candidate in turn, until each has found its edge or ``share`` of the budget is spent.
    With ``prune`` (phase 1), a candidate that already failed below the best count held so far stops: it cannot
    be recommended, so the budget goes to those that can. Phase 2's sizes are each searched, for the table."""
    while True:
        active = [c for c in cands if c.search.next_count() is not None and (not prune or _can_win(c, cands))]
        if not active:
            return
        for c in active:
            if not ctx.budget.allows(share):
                ctx.cut = True
                return
            if not c.search.runs:  # start where the others have got to: the answer is near there
                c.search.start = max(c.search.start, *(o.search.largest_held for o in cands))
            n = c.search.next_count() if not prune or _can_win(c, cands) else None  # the best may have moved
            if n is not None:
                _measure(ctx, c, n)


def _can_win(c: Candidate, cands: list[Candidate]) -> bool:
    """Whether ``c`` could still hold as many cameras as the best count held so far."""
    return c.search.upper >= max(o.search.largest_held for o in cands)


def _cpu_at_count(c: Candidate) -> float:
    runs = c.held_runs()
    return sum(r["cpu_cores"] for r in runs) / len(runs) if runs else float("inf")


def best(cands: list[Candidate]) -> Candidate | None:
    """Most cameras held; then fp32 (the reference output: int8 counts can differ by CPU kind); then the least CPU."""
    held = [c for c in cands if c.search.largest_held > 0]
    if not held:
        return None
    return max(held, key=lambda c: (c.search.largest_held, c.precision == "fp32", -_cpu_at_count(c)))


def _settle(ctx: _Context, cands: list[Candidate], share: float) -> Candidate | None:
    """Search within ``share`` of the budget, then run the best again at its count, with the whole budget if need
    be: a recommendation measured twice matters more than the other input sizes. If that run fails, the count
    does not hold: the search resumes (that candidate bisects below it, the others may now beat it) and the new
    best is run again."""
    for _ in range(8):  # a few re-runs at most: each failure lowers the count, the budget ends the rest
        _search_all(ctx, cands, share)
        top = best(cands)
        if top is None or top.search.confirmed:
            return top
        if not ctx.budget.allows():
            ctx.cut = True
            return top
        _measure(ctx, top, top.search.largest_held)
    return best(cands)


def check_options(args) -> None:
    """--inputs and --budget, refused before anything is measured."""
    from edgeanon.errors import EdgeanonError

    for token in args.inputs or []:
        inputs.check(token)
    seconds = run_seconds(args)
    if args.budget < first_run_guess(seconds):
        raise EdgeanonError(
            f"--budget {args.budget:g} is shorter than one run (about {first_run_guess(seconds):.0f} s: "
            f"{seconds:g} s measured, the warm-up, and starting the pipeline)"
        )


def _own_input(cfg) -> str:
    """The config's input setting, as a reader of the table wants to see it."""
    own = getattr(cfg.detector, "input", None)
    text = "the model's size" if own is None else f"detector.input {own}"
    if any(getattr(c, "input", None) is not None for c in cfg.cameras):
        text += ", some cameras their own"
    return text


def _candidates(args, cfg, start: int) -> list[Candidate]:
    from edgeanon.pixels.detector import physical_cores
    from edgeanon.pixels.detector.manifest import resolve

    models = args.models or person_models(cfg.detector.model)
    threads = args.threads or thread_choices(physical_cores())
    first = (args.inputs or [OWN])[0]
    return [
        Candidate(m, resolve(m)[1].precision, first, t, 1, Search(start=start), inputs.camera_inputs(first, cfg, m))
        for m in models
        for t in threads
    ]


def _phase2(args, cfg, top: Candidate, out: TextIO) -> list[Candidate]:
    """Other input sizes with the best model and threads, starting at its count."""
    tokens = args.inputs[1:] if args.inputs else list(inputs.DEFAULT_ALTERNATIVES) if inputs.supported() else []
    start = top.search.largest_held
    cands = []
    for t in tokens:
        sizes = inputs.camera_inputs(t, cfg, top.model)
        cands.append(Candidate(top.model, top.precision, t, top.threads, 2, Search(start=start), sizes))
        cands[-1].area = inputs.area_ratio(sizes, cfg, top.model)
    if cands:
        sizes = "; ".join(inputs.describe(c.input, c.sizes, cfg, c.model) for c in [top, *cands])
        out.write(f"\nother input sizes with {top.model}, {top.threads} threads: {sizes}\n")
    return cands


def run_seconds(args) -> float:
    """Measured seconds per run: --seconds, or a 25th of the budget (2 to 12 s)."""
    return args.seconds or min(12.0, max(2.0, args.budget / 25))


def first_run_guess(seconds: float) -> float:
    """What a run costs before one has been timed: measuring, warming up, starting a child and loading a model."""
    return seconds + warmup_seconds(seconds) + 2.0


def warmup_seconds(seconds: float) -> float:
    """Before a run measures: N cameras opening at once, and the first frames, are not steady state."""
    return min(3.0, max(1.5, seconds / 4))


def recommend(args, machine: dict[str, Any], out: TextIO) -> dict[str, Any]:
    """Measure, print the tables and the recommendation; the figures for the JSON report."""
    from edgeanon.config.loader import load_config

    path = str(args.recommend)
    cfg = load_config(path)
    cameras = describe(path)
    seconds = run_seconds(args)
    budget = Budget(args.budget, first_run_guess(seconds))
    ctx = _Context(
        path, budget, seconds, cfg.detector.spinning, args.isolate, args.progress, machine["usable_cpus"] or 1, out
    )
    phase1 = _candidates(args, cfg, len(cameras))
    report.recommend_header(path, cameras, SOURCE_NOTE, phase1, _own_input(cfg), args.budget, seconds, out)
    top = _settle(ctx, phase1, PHASE1_SHARE)
    phase2 = [] if top is None else _phase2(args, cfg, top, out)
    _search_all(ctx, phase2, 1.0, prune=False)
    top = best(phase1)
    cands = phase1 + phase2
    out.write("\n" + report.site_capacity_table(ctx.rows) + "\n\n" + report.candidates_table(cands) + "\n\n")
    lines = advice(top, phase2, ctx.cut)
    out.write("\n".join(lines) + "\n")
    return {
        "config": path,
        "cameras": cameras,
        "sources": SOURCE_NOTE,
        "own_input": _own_input(cfg),
        "budget_s": args.budget,
        "seconds_per_run": seconds,
        "elapsed_s": ctx.budget.elapsed(),
        "budget_cut": ctx.cut,
        "candidates": [summary(c) for c in cands],
        "runs": ctx.rows,
        "recommendation": None if top is None else summary(top),
        "advice": lines,
    }


def summary(c: Candidate) -> dict[str, Any]:
    runs = c.held_runs()
    return {
        "model": c.model,
        "precision": c.precision,
        "input": c.input,
        "threads": c.threads,
        "camera_inputs": inputs.as_json(c.sizes),
        "input_pixels_vs_config": c.area,
        "phase": c.phase,
        "cameras": c.search.largest_held,
        "first_failing": c.search.first_fail,
        "complete": c.search.done,
        "runs_by_count": {str(n): held for n, held in sorted(c.search.runs.items())},
        "p99_ms": max((r["delay_ms"]["p99"] for r in runs), default=None),
        "cpu_cores": _cpu_at_count(c) if runs else None,
    }


def advice(top: Candidate | None, phase2: list[Candidate], cut: bool) -> list[str]:
    """The recommendation line, and what the reader should know beside it."""
    lines = []
    if top is None:
        lines.append("recommendation: none: no setting tried held even 1 camera like this config's on this box")
    else:
        n, runs = top.search.largest_held, top.held_runs()
        p99 = max(r["delay_ms"]["p99"] for r in runs)
        setting = f"detector.model {top.model}, detector.threads {top.threads}, detector.sessions {top.sessions}"
        if top.sizes is not None:
            setting += ", cameras[].input " + ", ".join(f"{cid} {size}" for cid, size in top.sizes.items())
        lines.append(
            f"recommendation: {setting}: {n} camera{'s' if n != 1 else ''} like this config's "
            f"hold{'s' if n == 1 else ''} on this box "
            f"(measured {len(runs)}x at {n}: 0 dropped, every camera at its fps, p99 delay {p99:.0f} ms < 200 ms)"
        )
        lines += [
            f"note: input {c.input} held {c.search.largest_held} cameras, more than the config's input size: "
            + _why_more(c.area)
            for c in phase2
            if c.search.largest_held > n
        ]
    if cut:
        lines.append(
            "note: the budget ended before every search found its edge: a figure with '>=' or untested counts "
            "may be low; a larger --budget finds it"
        )
    return lines


def _why_more(area: float | None) -> str:
    if area is not None and area >= 1:
        return (
            "a larger input costs more per frame, so the machine's load changed between runs; repeat it, with a "
            "larger --budget"
        )
    what = "a smaller input sees small and distant people less well: " if area is not None else ""
    return what + "check its counts on your scene (edgeanon detect) before you set it"
