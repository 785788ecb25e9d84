"""The heatmap in the real pipeline on the bundled clip: stored cells are people (distinct confirmed tracks per cell
per bucket), never more than the bucket's distinct confirmed tracks, and every stored non-zero cell is at least k.

The clip is read as fast as the detector goes, under a wall clock that advances 1.5 s per analysed frame, so the
run spans several 60 s buckets (the 250 frames about six) whatever the machine's speed, and the bucket boundary
(the per-slot masks' reset) is crossed with people in view. (A clock 20 times faster than real time gave a single
bucket once the detector got faster.)
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import yaml

from edgeanon.counting.results import LiveCounts
from edgeanon.outputs.store import AggregateStore, StoreSink
from edgeanon.run.runner import Runner
from tests.helpers.paths import DEFAULT_CONFIG
from tests.helpers.pipeline import RawObserver, RecordingSink, clip_config
from tests.helpers.store import T0

ROWS = COLS = 8
SECONDS_PER_FRAME = 1.5


@pytest.fixture(scope="module")
def heat_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "agg.db"
    data = yaml.safe_load(DEFAULT_CONFIG.read_text())
    cam = data["cameras"][0]
    cam["heatmap"] = {"rows": ROWS, "cols": COLS}
    cam["source"].update({"realtime": False, "loop": False})  # the clip once, as fast as it goes
    purposes = [*data["purposes"], {"id": "heatmap", "justification": "Where people stand, coarse grid."}]
    cfg = clip_config(purposes=purposes, cameras=[cam])
    rec = RecordingSink()
    store = AggregateStore(path, retention_days=30, clock=lambda: T0 + 1.0)
    made: list[Runner] = []
    runner = Runner(
        cfg, [rec, StoreSink(store)], wall_clock=lambda: T0 + SECONDS_PER_FRAME * (made[0].stats.frames if made else 0)
    )
    made.append(runner)
    raw = RawObserver().attach(runner)
    runner.start()
    deadline = time.monotonic() + 300
    while not runner.all_finished():
        assert time.monotonic() < deadline, "pipeline did not finish the clip"
        runner.tick()
        time.sleep(0.05)
    runner.stop()
    with AggregateStore(path, retention_days=30, clock=lambda: T0 + 1.0) as reopened:
        rows = reopened.rows()
    stored: dict[int, np.ndarray] = {}
    for r in rows:
        if r["metric"].startswith("cell_"):
            _, i, j = r["metric"].split("_")
            stored.setdefault(r["bucket_start"], np.zeros((ROWS, COLS)))[int(i), int(j)] = r["value"]
    return cfg, raw, rec, stored, runner


def test_stored_cells_are_people_and_at_least_k(heat_run):
    cfg, raw, rec, stored, runner = heat_run
    k = cfg.privacy.k
    assert len(stored) >= 2, "the run should span several buckets"
    assert all(isinstance(f, LiveCounts) and not hasattr(f, "heat") for f in rec.frames)  # no per-frame heat
    unsuppressed: dict[int, np.ndarray] = {}
    for f in raw.results:
        if f.heat is not None:
            unsuppressed[f.heat_bucket] = unsuppressed.get(f.heat_bucket, np.zeros((ROWS, COLS))) + f.heat
    for start, cells in stored.items():
        people = len(raw.confirmed.get(start, ()))
        assert cells.max() <= people, (start, cells.max(), people)
        assert np.all((cells == 0) | (cells >= k)), cells
    for start, cells in unsuppressed.items():
        assert cells.max() <= len(raw.confirmed.get(start, ())), (start, cells.max())
        want = np.where(cells >= k, cells, 0)  # what suppression leaves of the analytics' own counts
        if runner.aggregator.heat_dropped == 0:
            np.testing.assert_array_equal(stored.get(start, np.zeros_like(cells)), want)
        else:  # a frame's heat that raced a bucket's close is dropped, never added elsewhere
            assert np.all(stored.get(start, np.zeros_like(cells)) <= cells)
    assert any(c.max() > 0 for c in unsuppressed.values())
    assert any(c.max() >= k for c in stored.values()), "some cell should hold k people on this clip"
