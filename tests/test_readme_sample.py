"""The README's sample output comes from the default config (issue 16 #10): the demo runs, and every kind of line,
and every kind of part in a line, that the README's sample shows appears in its output. The sample is parsed
from README.md here, so the two cannot drift apart. Also: no store rows for an output whose purpose is not
declared."""

from __future__ import annotations

import re

import numpy as np
import yaml

from edgeanon.counting.aggregate import Aggregator
from edgeanon.counting.analytics.zones import DwellHistogram
from edgeanon.counting.bins import DWELL_BUCKETS_S
from edgeanon.counting.results import FrameResult
from edgeanon.outputs.store import AggregateStore, StoreSink
from tests.helpers.paths import DEFAULT_CONFIG, ROOT
from tests.helpers.runs import run_edgeanon

ATTRIBUTE_LIST = re.compile(
    r"((?:heading|speed|group_size|age_band|gender) [\w-]+|bins below k not shown|suppressed): .*"
)


DATA_DEPENDENT = re.compile(r"^(?:heading|speed|group_size|age_band|gender) [\w-]+: …$")


def readme_sample() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text[text.index("## Quick start") : text.index("## Commands")]
    block = re.search(r"```text\n(.*?)```", quick, re.S)
    assert block, "no ```text sample in the README's quick start"
    return [line for line in block.group(1).splitlines() if line.strip()]


def kinds(line: str) -> set[str]:
    """The parts of an output line with every number replaced: what kind of thing it says, not the values."""
    line = re.sub(r" +", " ", line.removeprefix("live: "))  # "up  9.8 fps" is "up 10.0 fps" with padding
    # the live line's note on suppressed bins is a part of its own: it appears once a bucket has closed
    line = line.replace(" (last bucket: ", "; (last bucket: ")
    parts = [p for chunk in line.split(" | ") for p in chunk.split("; ")]
    out = set()
    for part in parts:
        shape = re.sub(r"\d+(?:\.\d+)?", "N", part.strip())
        out.add(ATTRIBUTE_LIST.sub(r"\1: …", shape))
    return out


def test_the_sample_is_what_the_readme_promises():
    sample = readme_sample()
    assert any(line.startswith("live: ") for line in sample)
    assert any(line.startswith("bucket ") for line in sample)
    assert any(line.startswith("  sample: frames ") for line in sample)
    assert "dwell n=" in "\n".join(sample)  # dwell is shown, so the demo must declare it
    purposes = {p["id"] for p in yaml.safe_load(DEFAULT_CONFIG.read_text())["purposes"]}
    assert "dwell" in purposes


def test_the_demo_prints_every_kind_of_line_in_the_readme_sample(tmp_path):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())  # the demo, with only its bucket shortened
    data["aggregation"]["bucket_seconds"] = 10
    data["storage"]["directory"] = str(tmp_path / "data")
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump(data))
    run = run_edgeanon("run", str(config), "--port", "0", "--duration", "32", cwd=tmp_path, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = set().union(*(kinds(line) for line in run.stdout.splitlines()))
    for line in readme_sample():
        # a bin list (heading road: w 9) shows only once a bin reaches k, which depends on who walked by;
        # every other part must be printed, "bins below k not shown" included
        missing = {k for k in kinds(line) if not DATA_DEPENDENT.match(k)} - seen
        assert not missing, f"README sample line {line!r}: never printed like this: {missing}\n{run.stdout[-3000:]}"
    # the run wrote no rows for outputs the demo does not declare (heatmap, queue)
    with AggregateStore(tmp_path / "data" / "aggregates.db", retention_days=30) as store:
        metrics = {r["metric"] for r in store.rows()}
    assert "dwell_count_le_5" in metrics and not {m for m in metrics if m.startswith(("cell_", "queue_"))}


def test_no_store_rows_for_undeclared_outputs(tmp_path):
    """The same zone with and without the purpose 'dwell': without it, not a single dwell row (not even 0)."""
    for purposes, want_dwell in ((frozenset({"occupancy"}), False), (frozenset({"occupancy", "dwell"}), True)):
        with AggregateStore(tmp_path / f"{want_dwell}.db", retention_days=30) as store:
            agg = Aggregator({"cam": (("road",), ())}, 60, [StoreSink(store)], purposes=purposes)
            counts = np.zeros(len(DWELL_BUCKETS_S), np.int64)
            counts[1] = 1  # one visit of 5-15 s
            dwell = {"road": DwellHistogram(DWELL_BUCKETS_S, counts, 9.0)} if want_dwell else {}
            agg.record(FrameResult("cam", 2, {"road": 1}, {}, dwell, {}, {}))
            agg.flush()
            metrics = {(r["scope"], r["metric"]) for r in store.rows()}
        assert ("zone", "occupancy_sum") in metrics
        assert any(m.startswith("dwell_") for _, m in metrics) is want_dwell, metrics
    only_dwell = tmp_path / "dwell.db"
    with AggregateStore(only_dwell, retention_days=30) as store:
        agg = Aggregator({"cam": (("road",), ())}, 60, [StoreSink(store)], purposes=frozenset({"dwell"}))
        agg.flush()
        metrics = {(r["scope"], r["metric"]) for r in store.rows()}
    assert ("zone", "dwell_sum_s") in metrics
    assert not {m for m in metrics if m[1].startswith("occupancy")}  # no occupancy purpose: no occupancy rows
