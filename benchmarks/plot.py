"""Draw the benchmark chart: frames/s by configuration, and capacity against the number of cameras.

    python benchmarks/plot.py                                   # results/bench.json + results/capacity.json
    python benchmarks/plot.py a.json b.json -o results/bench.png

Reads the JSON that ``edgeanon bench --json`` writes (throughput and/or capacity sections, several
files are merged). Needs matplotlib (``pip install 'edgeanon[bench]'``); never imported at run time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
P99_LIMIT_MS = 200.0


def load(paths: list[Path]) -> tuple[list[dict], list[dict]]:
    throughput: list[dict] = []
    capacity: list[dict] = []
    for p in paths:
        data = json.loads(p.read_text(encoding="utf-8"))
        throughput += data.get("throughput", [])
        capacity += (data.get("capacity") or {}).get("runs", [])
    return throughput, capacity


def _short(model: str) -> str:
    return "int8" if model.endswith("int8") else "fp32"


def draw(throughput: list[dict], capacity: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    panels = [bool(throughput), bool(capacity)]
    n = sum(panels) or 1
    fig, axes = plt.subplots(1, n, figsize=(6.5 * n, 4.6), squeeze=False)
    ax_iter = iter(axes[0])
    if throughput:
        ax = next(ax_iter)
        labels = [f"{_short(r['model'])}\n{r['threads']}t spin {'on' if r['spinning'] else 'off'}" for r in throughput]
        x = range(len(throughput))
        has_base = any(r.get("baseline") for r in throughput)
        width = 0.27 if has_base else 0.38
        ax.bar(
            [i - width for i in x] if has_base else [i - width / 2 for i in x],
            [r["model_fps"] for r in throughput],
            width,
            label="(a) session.run alone",
            color="#9db4d6",
        )
        bars = ax.bar(
            [i for i in x] if has_base else [i + width / 2 for i in x],
            [r["pipeline_fps"] for r in throughput],
            width,
            label="(b) edgeanon pipeline",
            color="#2b5d9e",
        )
        for b, r in zip(bars, throughput, strict=True):
            ax.annotate(
                f"{r['pipeline_efficiency']:.2f}",
                (b.get_x() + b.get_width() / 2, b.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        if has_base:
            ax.bar(
                [i + width for i in x],
                [(r.get("baseline") or {}).get("fps", 0) for r in throughput],
                width,
                label="typical pipeline (baseline)",
                color="#d9822b",
            )
        ax.set_xticks(list(x), labels, fontsize=8)
        ax.set_ylabel("frames/s")
        ax.set_title("Throughput on the bundled clip (label: pipeline_efficiency)", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    if capacity:
        ax = next(ax_iter)
        series: dict[tuple, list[dict]] = {}
        for r in capacity:
            series.setdefault((_short(r["model"]), r["threads"], r.get("sessions", 1)), []).append(r)
        for (model, threads, sessions), unsorted in sorted(series.items()):
            rows = sorted(unsorted, key=lambda r: r["cameras"])
            cams = [r["cameras"] for r in rows]
            p99 = [r["delay_ms"]["p99"] or 0 for r in rows]
            label = f"{model} {threads}t" + (f" {sessions} sessions" if sessions > 1 else "")
            (line,) = ax.plot(cams, p99, marker="o", label=f"{label}: p99 delay")
            bad = [(c, p) for c, p, r in zip(cams, p99, rows, strict=True) if not r["holds"]]
            if bad:
                ax.scatter(*zip(*bad, strict=True), marker="x", s=70, color=line.get_color(), zorder=3)
        ax.axhline(P99_LIMIT_MS, color="grey", linestyle="--", linewidth=1)
        ax.text(
            0.02,
            P99_LIMIT_MS,
            " 200 ms limit",
            va="bottom",
            fontsize=8,
            color="grey",
            transform=ax.get_yaxis_transform(),
        )
        ax.set_yscale("log")
        ax.set_xlabel(f"cameras at {capacity[0]['fps_target']:g} fps each")
        ax.set_ylabel("p99 capture -> aggregate delay, ms (log)")
        ax.set_title("Capacity: x = does not hold (drops or p99 >= 200 ms)", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", nargs="*", type=Path, help="edgeanon bench --json files (default: results/*.json)")
    ap.add_argument("-o", "--out", type=Path, default=RESULTS / "bench.png")
    args = ap.parse_args(argv)
    paths = args.json or [p for p in (RESULTS / "bench.json", RESULTS / "capacity.json") if p.is_file()]
    if not paths:
        print("no JSON given and none in benchmarks/results", file=sys.stderr)
        return 2
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("plot.py needs matplotlib: pip install 'edgeanon[bench]'", file=sys.stderr)
        return 2
    draw(*load(paths), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
